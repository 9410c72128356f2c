//! Adding a rig to a town (clone, config, refinery worktree, commit to the town repository) and
//! removing one. Adding is all or nothing: on any failure the rig's directory and anything staged
//! in the town repository are gone again.

use super::config::{RIG_CONFIG_FILE, RigConfig, default_prefix};
use super::error::{Result, RigError};
use super::names::validate_rig_name;
use super::worktree::{ensure_refinery_worktree, polecat_status};
use super::{BARE_REPO_DIR, Rig};
use crate::git_cli;
use crate::town::Town;
use std::fs;
use std::path::{Path, PathBuf};

/// What `gastown rig add` was asked for.
#[derive(Debug, Clone)]
pub struct AddOptions {
    pub name: String,
    /// A URL git can clone, or a local path (made absolute).
    pub source: String,
    /// The default branch (default: the source's HEAD).
    pub branch: Option<String>,
    /// The agent runtime of the rig's roles.
    pub runtime: Option<String>,
    /// The bead id prefix (default: derived from the name).
    pub prefix: Option<String>,
    /// Keep landed work in the town (`[refinery] push = false`): nothing is pushed to the source.
    pub no_push: bool,
}

/// The rig's own `.gitignore`: everything but its config stays out of the town repository.
const RIG_GITIGNORE: &str = "# gastown: the rig's clone and working copies are not part of the town repository\n\
/.repo.git/\n/refinery/\n/polecats/\n/crew/\n";

/// Add a rig: a bare clone of the source, `rig.toml`, the refinery's worktree, and a commit of
/// the config in the town repository. Nothing is left on disk or staged when it fails.
///
/// The clone (the slow part, and the one most likely to be interrupted) is made in a staging
/// directory under the town's git-ignored runtime dir and moved into place once it is complete,
/// so even a killed `rig add` leaves no half-made rig in the town; stale staging directories of
/// dead processes are removed by the next `rig add`.
pub fn add_rig(town: &Town, opts: &AddOptions) -> Result<Rig> {
    add_rig_watched(town, opts, &mut |_| {})
}

/// Where [`add_rig_watched`] is, for a person waiting on a large clone.
#[derive(Debug, Clone, Copy)]
pub enum AddStep<'a> {
    /// Cloning the source; git reported this.
    Clone(&'a git_cli::CloneProgress),
    /// The clone is made; now this (`"fetching origin"`, `"making the refinery's worktree"`…).
    Setting(&'static str),
}

/// [`add_rig`], telling `watch` how the clone goes and what comes after it.
pub fn add_rig_watched(
    town: &Town,
    opts: &AddOptions,
    watch: &mut dyn FnMut(AddStep<'_>),
) -> Result<Rig> {
    validate_rig_name(&opts.name)?;
    let prefix = opts
        .prefix
        .clone()
        .unwrap_or_else(|| default_prefix(&opts.name));
    gastown_beads::id::validate_prefix(&prefix).map_err(|error| RigError::Prefix {
        rig: opts.name.clone(),
        error,
    })?;
    let dir = town.root.join(&opts.name);
    if dir.exists() {
        return Err(RigError::Exists { path: dir });
    }
    check_prefix_free(town, &prefix)?;
    let url = resolve_source(&opts.source);
    let staging = Staging::new(town, &opts.name)?;
    let branch = clone_source(&staging.bare(), &url, opts.branch.as_deref(), watch)?;
    if !opts.no_push {
        check_accepts_pushes(&url, &branch)?;
    }
    fs::create_dir(&dir).map_err(|e| RigError::io("create", &dir, e))?;
    let mut undo = Undo {
        town: &town.root,
        dir: &dir,
        name: &opts.name,
        armed: true,
    };
    let bare = dir.join(BARE_REPO_DIR);
    fs::rename(staging.bare(), &bare).map_err(|e| RigError::io("move the clone to", &bare, e))?;
    let mut config = RigConfig::new(&opts.name, &url, &branch, &prefix);
    config.runtime = opts.runtime.clone();
    config.refinery.push = !opts.no_push;
    let rig = write_rig_files(&dir, &config)?;
    watch(AddStep::Setting("making the refinery's worktree"));
    ensure_refinery_worktree(&rig)?;
    watch(AddStep::Setting("committing the rig to the town"));
    let message = format!("gastown rig add {}", opts.name);
    commit_rig_files(&town.root, &opts.name, &message)?;
    undo.armed = false;
    Ok(rig)
}

/// Clone `url` bare into `bare` and settle the default branch: `wanted`, else the source's HEAD.
fn clone_source(
    bare: &Path,
    url: &str,
    wanted: Option<&str>,
    watch: &mut dyn FnMut(AddStep<'_>),
) -> Result<String> {
    git_cli::clone_bare_watched(url, bare, &mut |p| watch(AddStep::Clone(p))).map_err(|error| {
        RigError::Clone {
            url: url.to_string(),
            error,
        }
    })?;
    watch(AddStep::Setting("settling the default branch"));
    let branch = default_branch(bare, url, wanted)?;
    keep_only_branch(bare, &branch)?;
    Ok(branch)
}

/// The refinery pushes landed work to the source's default branch. A local non-bare repository
/// with that branch checked out refuses such pushes (git's `receive.denyCurrentBranch`, default
/// `refuse`); say so now, with the fix, rather than at the first landing. The user's repository
/// config is never changed for them.
fn check_accepts_pushes(url: &str, branch: &str) -> Result<()> {
    let path = Path::new(url);
    if url.contains("://") || !path.is_dir() {
        return Ok(());
    }
    if git_cli::git(path, &["rev-parse", "--is-bare-repository"])? != "false" {
        return Ok(());
    }
    if git_cli::current_branch(path)?.as_deref() != Some(branch) {
        return Ok(());
    }
    let deny = git_cli::git(path, &["config", "--get", "receive.denyCurrentBranch"]).ok();
    let refuses = match deny.as_deref().map(str::to_ascii_lowercase) {
        None => true,
        Some(v) => matches!(v.as_str(), "refuse" | "true" | "yes" | "on" | "1"),
    };
    if refuses {
        return Err(RigError::SourceRefusesPushes {
            path: path.to_path_buf(),
            branch: branch.to_string(),
        });
    }
    Ok(())
}

/// What to do about a non-bare origin with the target checked out (for the refinery's message
/// too): the exact command, or landing in the town only.
pub fn checked_out_fix(url: &str) -> String {
    let allow = if url.contains("://") || !Path::new(url).is_absolute() {
        "run `git config receive.denyCurrentBranch updateInstead` in that repository".to_string()
    } else {
        format!("run `git -C {url} config receive.denyCurrentBranch updateInstead`")
    };
    format!(
        "{allow} (each push then updates its work tree, which must be clean), or set \
         `[refinery] push = false` in the rig's rig.toml to keep landed work in the town"
    )
}

/// Check and write `rig.toml` and the rig's `.gitignore`, and read the rig back.
fn write_rig_files(dir: &Path, config: &RigConfig) -> Result<Rig> {
    let path = dir.join(RIG_CONFIG_FILE);
    config.check().map_err(|message| RigError::Config {
        path: path.clone(),
        message,
    })?;
    config.write(&path)?;
    let ignore = dir.join(".gitignore");
    fs::write(&ignore, RIG_GITIGNORE).map_err(|e| RigError::io("write", &ignore, e))?;
    Rig::from_dir(dir)
}

/// `<town>/.runtime/rig-add-<name>-<pid>`: where the clone is made; removed when dropped.
struct Staging {
    dir: PathBuf,
}

impl Staging {
    const PREFIX: &str = "rig-add-";

    fn new(town: &Town, name: &str) -> Result<Staging> {
        let runtime = town.runtime_dir();
        fs::create_dir_all(&runtime).map_err(|e| RigError::io("create", &runtime, e))?;
        remove_stale_staging(&runtime);
        let dir = runtime.join(format!("{}{name}-{}", Staging::PREFIX, std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| RigError::io("remove", &dir, e))?;
        }
        fs::create_dir(&dir).map_err(|e| RigError::io("create", &dir, e))?;
        Ok(Staging { dir })
    }

    fn bare(&self) -> PathBuf {
        self.dir.join(BARE_REPO_DIR)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Remove staging directories left by `rig add`s that were killed (their pid is gone).
fn remove_stale_staging(runtime: &Path) {
    let Ok(entries) = fs::read_dir(runtime) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(Staging::PREFIX) else {
            continue;
        };
        let pid = rest.rsplit('-').next().and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|pid| !process_alive(pid)) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Bead ids must say where they belong: a rig's prefix is neither the town's nor another rig's.
/// (A rig whose config does not load cannot be checked; `rig list` reports it.)
fn check_prefix_free(town: &Town, prefix: &str) -> Result<()> {
    let taken = |by: String| {
        Err(RigError::PrefixTaken {
            prefix: prefix.to_string(),
            by,
        })
    };
    if town.config.prefix == prefix {
        return taken("the town".to_string());
    }
    let entries = fs::read_dir(&town.root).map_err(|e| RigError::io("list", &town.root, e))?;
    for entry in entries.flatten() {
        if let Ok(rig) = Rig::from_dir(&entry.path())
            && rig.config.prefix == prefix
        {
            return taken(format!("rig {:?}", rig.name()));
        }
    }
    Ok(())
}

/// A local path that exists becomes absolute (worktrees and crew clones outlive the working
/// directory); anything else is passed to git as a URL.
fn resolve_source(source: &str) -> String {
    match Path::new(source).canonicalize() {
        Ok(path) if !source.contains("://") => path.to_string_lossy().into_owned(),
        _ => source.to_string(),
    }
}

/// `--branch` if it exists in the clone, else the branch the source's HEAD names; either must
/// have a commit.
fn default_branch(bare: &Path, url: &str, wanted: Option<&str>) -> Result<String> {
    let branch = match wanted {
        Some(b) => b.to_string(),
        None => git_cli::head_branch(bare)?.ok_or_else(|| RigError::EmptySource {
            url: url.to_string(),
        })?,
    };
    if git_cli::branch_exists(bare, &branch)? {
        return Ok(branch);
    }
    match wanted {
        Some(_) => Err(RigError::NoSuchBranch {
            url: url.to_string(),
            branch,
        }),
        None => Err(RigError::EmptySource {
            url: url.to_string(),
        }),
    }
}

/// The source's other branches stay reachable as `origin/*`; the rig's own branches are the
/// default branch and the polecats' branches. HEAD names the default branch.
fn keep_only_branch(bare: &Path, branch: &str) -> Result<()> {
    git_cli::git(
        bare,
        &["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")],
    )?;
    for (other, _) in git_cli::branch_tips(bare)? {
        if other != branch {
            git_cli::delete_branch(bare, &other, true)?;
        }
    }
    Ok(())
}

/// Stage and commit `<rig>/rig.toml` and `<rig>/.gitignore` (only those) in the town repository.
fn commit_rig_files(town: &Path, name: &str, message: &str) -> Result<()> {
    let config = format!("{name}/{RIG_CONFIG_FILE}");
    let ignore = format!("{name}/.gitignore");
    git_cli::git(town, &["add", "--", &config, &ignore])?;
    git_cli::git(
        town,
        &["commit", "--quiet", "-m", message, "--", &config, &ignore],
    )?;
    Ok(())
}

/// Undoes a half-made `rig add` when dropped armed: unstages the rig's files, removes its dir.
struct Undo<'a> {
    town: &'a Path,
    dir: &'a Path,
    name: &'a str,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let _ = git_cli::git(self.town, &["reset", "--quiet", "--", self.name]);
        if let Err(e) = fs::remove_dir_all(self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot remove a half-made rig");
        }
    }
}

/// Remove a rig: its worktrees (through git), its directory, and its files from the town
/// repository (committed). Without `force`, refuses while any work would be lost: uncommitted
/// changes or unmerged commits in polecat worktrees, unmerged polecat branches, crew clones with
/// changes or unpushed commits, default-branch commits not pushed to the source.
pub fn remove_rig(town: &Town, name: &str, force: bool) -> Result<()> {
    let rig = Rig::load(town, name)?;
    if !force {
        let details = unsaved_work(&rig)?;
        if !details.is_empty() {
            return Err(RigError::UnsavedWork {
                what: format!("rig {name:?}"),
                details,
            });
        }
    }
    let bare = rig.bare_repo();
    if bare.is_dir() {
        for wt in git_cli::worktree_list(&bare)?.iter().filter(|w| !w.bare) {
            git_cli::worktree_remove(&bare, &wt.path, true)?;
        }
    }
    fs::remove_dir_all(rig.dir()).map_err(|e| RigError::io("remove", rig.dir(), e))?;
    git_cli::git(
        &town.root,
        &[
            "rm",
            "-r",
            "--quiet",
            "--cached",
            "--ignore-unmatch",
            "--",
            name,
        ],
    )?;
    let staged = git_cli::git(&town.root, &["diff", "--cached", "--name-only", "--", name])?;
    if !staged.is_empty() {
        let message = format!("gastown rig remove {name}");
        git_cli::git(
            &town.root,
            &["commit", "--quiet", "-m", &message, "--", name],
        )?;
    }
    Ok(())
}

/// Every piece of work that removing the rig would lose, described for the user.
pub fn unsaved_work(rig: &Rig) -> Result<Vec<String>> {
    let mut details = Vec::new();
    let mut checked_out = Vec::new();
    for polecat in rig.polecats_present()? {
        let status = polecat_status(rig, &polecat)?;
        checked_out.extend(status.branch.clone());
        details.extend(status.unsaved());
    }
    for crew in rig.crew_present()? {
        details.extend(crew_unsaved(&rig.crew_clone(&crew), &crew)?);
    }
    let bare = rig.bare_repo();
    let default = rig.default_ref();
    for (branch, _) in git_cli::branch_tips(&bare)? {
        if !branch.starts_with("polecat/") || checked_out.contains(&branch) {
            continue;
        }
        let range = format!("{default}..refs/heads/{branch}");
        let ahead = git_cli::git(&bare, &["rev-list", "--count", &range])?;
        if ahead.trim() != "0" {
            details.push(format!("branch {branch}: {ahead} commit(s) not merged"));
        }
    }
    let upstream = format!("refs/remotes/origin/{}", rig.config.default_branch);
    if git_cli::rev_parse(&bare, &upstream).is_ok() {
        let range = format!("{upstream}..{default}");
        let ahead = git_cli::git(&bare, &["rev-list", "--count", &range])?;
        if ahead.trim() != "0" {
            details.push(format!(
                "{}: {ahead} commit(s) not pushed to {}",
                rig.config.default_branch, rig.config.url
            ));
        }
    }
    Ok(details)
}

fn crew_unsaved(clone: &Path, crew: &str) -> Result<Vec<String>> {
    let mut details = Vec::new();
    if !clone.join(".git").exists() {
        return Ok(details);
    }
    if git_cli::is_dirty(clone)? {
        details.push(format!("crew {crew}: uncommitted changes"));
    }
    let unpushed = git_cli::commits_unpushed(clone)?;
    if unpushed > 0 {
        details.push(format!("crew {crew}: {unpushed} commit(s) not pushed"));
    }
    Ok(details)
}
