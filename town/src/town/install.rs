//! `gastown install`: where a town may be made (a new or empty directory outside any town),
//! which agent it runs by default, and what it starts with (git repository, `town.toml`, role
//! homes, runtime dir, empty ledger).

use super::{
    CONFIG_FILE, ConvoySection, LedgerSection, RUNTIME_DIR, RolesSection, RunSection, Town,
    TownConfig, ensure_private_dir,
};
use crate::git_cli::git;
use anyhow::{Context, Result, bail};
use std::fs;
use std::path::Path;

/// Options of `gastown install`.
pub struct InstallOptions {
    pub prefix: String,
    pub name: Option<String>,
    /// The town's default agent runtime.
    pub agent: DefaultAgent,
}

/// How `gastown install` chooses the town's default agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultAgent {
    /// `--agent NAME`: `sim` or a preset.
    Named(String),
    /// The first preset whose CLI is on this `PATH`; none found: no default (slings then need
    /// `--runtime` until `gastown config default-agent` sets one).
    FirstOnPath(std::ffi::OsString),
}

/// Create a town at `dir`: git repository, `town.toml`, role homes, runtime dir, empty ledger.
/// Refused, with nothing created: a directory that is already a town, one inside a town (a rig's
/// worktree included), and one that is not empty.
pub fn install(dir: &Path, opts: &InstallOptions) -> Result<Town> {
    gastown_beads::id::validate_prefix(&opts.prefix).context("bad --prefix")?;
    check_install_dir(dir)?;
    let default_agent = match &opts.agent {
        DefaultAgent::Named(name) => Some(check_agent_name(name)?),
        DefaultAgent::FirstOnPath(path) => crate::runtimes::first_preset_on_path(path),
    };
    // The town holds every bead and mail body (its git repository included): only its owner
    // may read it.
    ensure_private_dir(dir)?;
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => dir
            .canonicalize()?
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "town".to_string()),
    };
    let config = TownConfig {
        name,
        prefix: opts.prefix.clone(),
        ledger: LedgerSection::default(),
        roles: RolesSection::default(),
        run: RunSection::default(),
        default_agent,
        agents: Default::default(),
        convoy: ConvoySection::default(),
        escalation: Default::default(),
        dogs: Default::default(),
        prices: Default::default(),
        budget: Default::default(),
    };
    let text = toml::to_string_pretty(&config).context("cannot render town.toml")?;
    fs::write(dir.join(CONFIG_FILE), format!("# Gas Town config\n{text}"))?;
    append_gitignore(dir)?;
    write_role_homes(dir)?;
    ensure_private_dir(&dir.join(RUNTIME_DIR))?;
    git_init_and_commit(dir)?;
    let town = Town::load(dir)?;
    let ledger = town.open_ledger()?;
    ledger
        .close_ledger()
        .context("cannot close the new ledger")?;
    Ok(town)
}

/// A warning when the town directory at `root` lets its group or others in (read, write or
/// search): its git repository holds every bead and mail body. `None` for a private town (or
/// one whose mode cannot be read: the command that follows reports that better).
pub fn exposure_warning(root: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(root).ok()?.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return None;
    }
    Some(format!(
        "warning: the town at {root} has mode {mode:04o}, so other users can read its ledger (every \
         bead and mail body, through its git repository){writable}; make it private with \
         `chmod 700 {root}`",
        root = root.display(),
        writable = if mode & 0o022 != 0 {
            " and change it"
        } else {
            ""
        },
    ))
}

/// `gastown install --from <url> <dir>`: join this machine to an existing town. Clones the town
/// repository (its config, role homes and rigs' records) from `url`, takes the ledger ref it
/// holds, and builds the local index from it; `url` becomes the remote `origin`, through which
/// `gastown sync` shares the ledger from then on. On failure nothing is left behind in `dir`.
pub fn install_from(url: &str, dir: &Path) -> Result<Town> {
    check_install_dir(dir)?;
    let existed = dir.exists();
    let result = (|| {
        let parent = std::path::absolute(dir)?
            .parent()
            .map(Path::to_path_buf)
            .context("the town directory has no parent")?;
        fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let target = dir
            .to_str()
            .context("the town directory's path is not UTF-8")?;
        git(&parent, &["clone", "--quiet", "--", url, target]).with_context(|| {
            format!("cannot clone the town from {}", crate::git_cli::redact(url))
        })?;
        if !dir.join(CONFIG_FILE).is_file() {
            // A bare remote's HEAD may name a branch it does not have (`master` where the town
            // pushed `main`): check out the town's branch by name.
            checkout_town_branch(dir)?;
        }
        if !dir.join(CONFIG_FILE).is_file() {
            bail!(
                "{} holds no {CONFIG_FILE} on its default branch: it is not a town repository (on the town's first machine, push the town's branch with `git -C <town> push origin HEAD`)",
                crate::git_cli::redact(url)
            );
        }
        ensure_private_dir(dir)?;
        ensure_private_dir(&dir.join(RUNTIME_DIR))?;
        let town = Town::load(dir)?;
        let git_ref = town.config.ledger.git_ref.clone();
        let branch = git_ref
            .strip_prefix("refs/heads/")
            .with_context(|| format!("the ledger ref {git_ref} is not a branch"))?
            .to_string();
        let remote_ref = format!("refs/remotes/origin/{branch}");
        match crate::git_cli::rev_parse(dir, &remote_ref) {
            Ok(tip) => {
                git(dir, &["update-ref", &git_ref, &tip])?;
                git(
                    dir,
                    &["update-ref", &crate::sync::tracking_ref("origin"), &tip],
                )?;
            }
            Err(_) => tracing::info!(
                "{} has no ledger yet: this town starts an empty one",
                crate::git_cli::redact(url)
            ),
        }
        let ledger = town.open_ledger()?;
        ledger
            .close_ledger()
            .context("cannot close the ledger after building its index")?;
        Ok(town)
    })();
    if result.is_err() {
        // Leave nothing half-made: the directory as it was (absent, or empty).
        if existed {
            if let Ok(entries) = fs::read_dir(dir) {
                for entry in entries.flatten() {
                    let _ =
                        fs::remove_dir_all(entry.path()).or_else(|_| fs::remove_file(entry.path()));
                }
            }
        } else {
            let _ = fs::remove_dir_all(dir);
        }
    }
    result
}

/// After a clone whose remote HEAD named no branch: check out `main`, else `master`, else the
/// only branch the remote has besides the ledger's.
fn checkout_town_branch(dir: &Path) -> Result<()> {
    let listed = git(
        dir,
        &[
            "for-each-ref",
            "--format=%(refname:strip=3)",
            "refs/remotes/origin/",
        ],
    )?;
    let branches: Vec<&str> = listed
        .lines()
        .filter(|b| *b != "HEAD" && *b != "beads")
        .collect();
    let pick = ["main", "master"]
        .into_iter()
        .find(|b| branches.contains(b))
        .or(match branches.as_slice() {
            [only] => Some(*only),
            _ => None,
        });
    if let Some(branch) = pick {
        let remote = format!("origin/{branch}");
        git(
            dir,
            &["checkout", "--quiet", "-B", branch, "--track", &remote],
        )?;
    }
    Ok(())
}

/// Where a town may not be made: an existing town, inside a town, a directory with files.
fn check_install_dir(dir: &Path) -> Result<()> {
    if dir.join(CONFIG_FILE).exists() {
        bail!("{} is already a town ({CONFIG_FILE} exists)", dir.display());
    }
    let absolute =
        std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    // The nearest directory that exists, resolved: a town above it holds the new one.
    let existing = absolute
        .ancestors()
        .find(|a| a.exists())
        .and_then(|a| a.canonicalize().ok());
    if let Some(town) = existing
        .iter()
        .flat_map(|e| e.ancestors())
        .find(|a| a.join(CONFIG_FILE).is_file())
    {
        bail!(
            "{} is inside the town at {}: a town cannot hold another (nor can its rigs' worktrees); \
             install somewhere outside it",
            dir.display(),
            town.display()
        );
    }
    if dir.exists() {
        let mut names: Vec<String> = fs::read_dir(dir)
            .with_context(|| format!("cannot read {}: install needs a directory", dir.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        if let Some(first) = names.first() {
            let more = match names.len() - 1 {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            bail!(
                "{} is not empty (it holds {first:?}{more}): install into a new or empty directory",
                dir.display()
            );
        }
    }
    Ok(())
}

/// `--agent NAME`: `sim` or a preset (custom agents are defined after install).
fn check_agent_name(name: &str) -> Result<String> {
    let known =
        crate::runtimes::spec::SIM_NAME == name || crate::runtimes::spec::preset(name).is_some();
    if !known {
        bail!(
            "unknown --agent {name:?}: use sim or a preset ({}); custom agents are added after \
             install with `gastown config agent set <name> <command…>`",
            crate::runtimes::spec::PRESET_NAMES.join(", ")
        );
    }
    Ok(name.to_string())
}

fn append_gitignore(dir: &Path) -> Result<()> {
    let path = dir.join(".gitignore");
    let existing = fs::read_to_string(&path).unwrap_or_default();
    if existing
        .lines()
        .any(|l| l.trim() == "/.runtime/" || l.trim() == ".runtime/")
    {
        return Ok(());
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# local state of gastown: ledger index, socket, logs\n/.runtime/\n");
    fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn write_role_homes(dir: &Path) -> Result<()> {
    for (role, text) in [("mayor", MAYOR_AGENTS_MD), ("deacon", DEACON_AGENTS_MD)] {
        let home = dir.join(role);
        fs::create_dir_all(&home)?;
        let path = home.join("AGENTS.md");
        if !path.exists() {
            fs::write(&path, text)?;
        }
    }
    Ok(())
}

const MAYOR_AGENTS_MD: &str = "# Mayor\n\nYou are the Mayor of this Gas Town: the overseer's \
chief of staff. Turn what the overseer wants into beads, group them in convoys, and sling them to \
polecats and crew. Start every session with `gastown prime`. If there is work on your hook, you \
must run it.\n";

const DEACON_AGENTS_MD: &str = "# Deacon\n\nYou are the Deacon: the town's patrol. Mechanical \
checks run in the supervisor; you are summoned for judgement. Start every session with \
`gastown prime`. If there is work on your hook, you must run it.\n";

fn git_init_and_commit(dir: &Path) -> Result<()> {
    if !dir.join(".git").exists() {
        git(dir, &["init", "--quiet", "--initial-branch=main"])?;
    }
    git(
        dir,
        &["add", "--", CONFIG_FILE, ".gitignore", "mayor", "deacon"],
    )?;
    git(
        dir,
        &[
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            "gastown install: town config and role homes",
        ],
    )?;
    Ok(())
}
