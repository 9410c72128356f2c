//! `gastown doctor`: what is wrong with a town, and what can be fixed without losing work
//! (`docs/doctor.md`). Each check has a name, a status, what it found and the fix; `--fix` does
//! only fixes that cannot lose work (a damaged index is moved aside, never deleted; a stale
//! socket or lock of a dead process is removed; a hook whose identity is gone is released with
//! its bead kept) and leaves the rest reported.
//!
//! The doctor works on a town whose `town.toml` does not even parse (it finds the root by the
//! file, then reports the parse error); checks that need what failed are skipped, saying why.

mod ledger;
mod tidy;
mod worktrees;

use crate::rig::{Rig, RigConfig};
use crate::town::{CONFIG_FILE, RUNTIME_DIR, Town};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Error,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable name (`town-config`, `ledger`, …).
    pub name: String,
    pub status: Status,
    /// What was found.
    pub found: String,
    /// What to do about it (none when ok).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// `--fix` repaired it (the status is then what it was before).
    #[serde(default)]
    pub fixed: bool,
}

impl Check {
    fn ok(name: &str, found: impl Into<String>) -> Check {
        Check {
            name: name.to_string(),
            status: Status::Ok,
            found: found.into(),
            fix: None,
            fixed: false,
        }
    }

    fn bad(name: &str, status: Status, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.to_string(),
            status,
            found: found.into(),
            fix: Some(fix.into()),
            fixed: false,
        }
    }
}

/// What the doctor needs to know from outside the town's files.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Do the fixes that cannot lose work.
    pub fix: bool,
    /// A supervisor answers on the town's socket (it holds the ledger).
    pub supervisor_running: bool,
    /// How long a remote may take to answer.
    pub remote_timeout: Option<Duration>,
}

/// Where the town's socket is, and what its pid file says (the binary knows how both are
/// placed and read).
#[derive(Debug, Clone, Default)]
pub struct Places {
    pub socket: Option<PathBuf>,
    /// Why `.runtime/run.pid` names no running supervisor (a crash, `kill -9`); `None` when there
    /// is no such file or it names one that runs.
    pub stale_pid_file: Option<String>,
}

/// The exit code of a report: 0 all ok, 1 warnings only, 2 an error (after fixes, a fixed
/// finding no longer counts).
pub fn exit_code(checks: &[Check]) -> i32 {
    match checks.iter().filter(|c| !c.fixed).map(|c| c.status).max() {
        Some(Status::Error) => 2,
        Some(Status::Warn) => 1,
        _ => 0,
    }
}

/// Run every check on the town at `root`.
pub fn examine(root: &Path, opts: Options, places: &Places) -> Vec<Check> {
    let mut checks = vec![git_version(), disk_space(root)];
    let town = match Town::load(root) {
        Ok(town) => {
            checks.push(Check::ok("town-config", format!("{CONFIG_FILE} is valid")));
            Some(town)
        }
        Err(e) => {
            checks.push(Check::bad(
                "town-config",
                Status::Error,
                format!("{e:#}"),
                format!(
                    "fix {} by hand (the message names the key); everything else waits for it",
                    root.join(CONFIG_FILE).display()
                ),
            ));
            None
        }
    };
    checks.extend(rig_configs(root));
    checks.extend(runtime_files(opts, places));
    checks.extend(stale_runtime(root, opts, places));
    let Some(town) = town else {
        return checks;
    };
    // With a supervisor up the ledger is its own (`gastown run`'s doctor dog runs the ledger's
    // checks in its ledger actor, `ledger_checks`).
    let ledger_usable = if opts.supervisor_running {
        checks.push(Check::ok("ledger", "held by the running supervisor"));
        false
    } else {
        let (check, usable) = ledger::check(&town, opts.fix);
        checks.push(check);
        if !usable {
            checks.push(Check::bad(
                "ledger-checks",
                Status::Warn,
                "stale-hooks, duplicate-agents, orphans and worktrees were not checked: the ledger could not be read as it is (see `ledger`)",
                "fix the `ledger` finding (`gastown doctor --fix`), then run `gastown doctor` again",
            ));
        }
        usable
    };
    checks.extend(runtimes(&town));
    checks.extend(origins(&town, opts));
    checks.push(checkpoints(&town));
    if ledger_usable && let Ok(mut ledger) = town.open_ledger() {
        let (found, claims) = ledger_checks(&town, &mut ledger, opts.fix);
        checks.extend(found);
        checks.push(orphans(&town, &claims, opts.fix));
        checks.push(worktrees(&town, &claims, opts.fix));
        if let Err(e) = ledger.close_ledger() {
            checks.push(Check::bad(
                "ledger",
                Status::Error,
                format!("cannot flush the ledger to git: {e}"),
                "free disk space, then run `gastown doctor` again",
            ));
        }
    }
    checks
}

/// The checks that read the ledger (stale hooks, duplicate agent beads), and what it says
/// belongs to some identity, for [`orphans`]. Under `gastown run` the doctor dog calls this in
/// the supervisor's ledger actor (one short operation; the orphans' git work stays outside it),
/// so the periodic doctor sees what the CLI's does.
pub fn ledger_checks(
    town: &Town,
    ledger: &mut gastown_beads::Ledger,
    fix: bool,
) -> (Vec<Check>, Result<crate::rig::orphans::Claims, String>) {
    let checks = vec![
        stale_hooks(town, ledger, fix),
        duplicate_agents(ledger, fix),
    ];
    let claims = crate::rig::orphans::Claims::read(ledger).map_err(|e| format!("{e:#}"));
    (checks, claims)
}

fn git_version() -> Check {
    let out = std::process::Command::new("git").arg("--version").output();
    let text = match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        _ => {
            return Check::bad(
                "git",
                Status::Error,
                "git is not installed or not on PATH",
                "install git 2.38 or later (e.g. `apt-get install git`)",
            );
        }
    };
    let version: Vec<u32> = text
        .split_whitespace()
        .nth(2)
        .unwrap_or("")
        .split('.')
        .filter_map(|p| p.parse().ok())
        .collect();
    // `git merge-tree --write-tree`, which the refinery uses, came with 2.38.
    if version.as_slice() < [2, 38].as_slice() {
        return Check::bad(
            "git",
            Status::Error,
            format!("{text}: older than 2.38"),
            "install git 2.38 or later (the refinery merges with `git merge-tree --write-tree`)",
        );
    }
    Check::ok("git", text)
}

/// Free space below these is a warning / an error.
const DISK_WARN: u64 = 1 << 30;
const DISK_ERROR: u64 = 100 << 20;

fn disk_space(root: &Path) -> Check {
    let Some(free) = free_bytes(root) else {
        return Check::bad(
            "disk",
            Status::Warn,
            format!("cannot read the free space of {}", root.display()),
            "check it with `df -h`",
        );
    };
    let shown = format!("{:.1} GiB free", free as f64 / f64::from(1u32 << 30));
    if free < DISK_ERROR {
        Check::bad(
            "disk",
            Status::Error,
            shown,
            "free disk space: the ledger refuses changes it cannot make durable",
        )
    } else if free < DISK_WARN {
        Check::bad("disk", Status::Warn, shown, "free disk space soon")
    } else {
        Check::ok("disk", shown)
    }
}

fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; `c` is a valid C string.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statvfs(c.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Every directory of the town holding a rig.toml, checked.
fn rig_configs(root: &Path) -> Vec<Check> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(crate::rig::RIG_CONFIG_FILE).is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let check = format!("rig-config {name}");
        match Rig::from_dir(&dir) {
            Ok(_) => out.push(Check::ok(&check, "rig.toml is valid")),
            Err(e) => out.push(Check::bad(
                &check,
                Status::Error,
                e.to_string(),
                format!(
                    "fix {} by hand (the message names the key)",
                    dir.join(crate::rig::RIG_CONFIG_FILE).display()
                ),
            )),
        }
    }
    out
}

/// The rigs whose rig.toml reads: a broken one is reported by its `rig-config` check and never
/// keeps the others from being checked.
fn good_rigs(town: &Town) -> Vec<Rig> {
    Rig::list_each(town)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(_, rig)| rig.ok())
        .collect()
}

/// A socket left by a supervisor that is gone.
/// The pid locks (`run.lock`, `ledger.lock`) are flocks the kernel drops when their owner dies:
/// a file left behind never blocks anyone, so it is no finding.
fn runtime_files(opts: Options, places: &Places) -> Vec<Check> {
    let mut out = Vec::new();
    let Some(socket) = places.socket.clone() else {
        return out;
    };
    if socket.exists() && !opts.supervisor_running {
        let mut c = Check::bad(
            "stale-socket",
            Status::Warn,
            format!(
                "{} exists but no supervisor answers on it",
                socket.display()
            ),
            "remove it (`gastown doctor --fix`); `gastown run` makes a new one",
        );
        if opts.fix && std::fs::remove_file(&socket).is_ok() {
            c.fixed = true;
        }
        out.push(c);
    }
    out
}

/// What a supervisor that died without its orderly exit (a crash, `kill -9`) leaves in the
/// runtime: its pid file, the `socket.path` naming its socket, the fallback dir its socket was
/// in when the runtime dir's path was too long for one, and the records of the process groups
/// it started (`crate::groups`). Reported only when no supervisor
/// answers; `--fix` removes them (the fallback dir only when empty: what else is in it is left).
fn stale_runtime(root: &Path, opts: Options, places: &Places) -> Vec<Check> {
    if opts.supervisor_running {
        return Vec::new();
    }
    let runtime = root.join(RUNTIME_DIR);
    let mut found = Vec::new();
    let mut files = Vec::new();
    if let Some(why) = &places.stale_pid_file {
        let path = runtime.join("run.pid");
        found.push(format!("{} ({why})", path.display()));
        files.push(path);
    }
    let recorded = runtime.join("socket.path");
    if recorded.is_file() {
        found.push(format!(
            "{} (names a socket no supervisor listens on)",
            recorded.display()
        ));
        files.push(recorded);
    }
    let fallback = places
        .socket
        .as_deref()
        .and_then(Path::parent)
        .filter(|dir| *dir != runtime && dir.is_dir())
        .map(Path::to_path_buf);
    if let Some(dir) = &fallback {
        found.push(format!("the socket's fallback dir {}", dir.display()));
    }
    let groups = runtime.join("groups");
    let records = std::fs::read_dir(&groups)
        .map(|entries| entries.filter_map(Result::ok).count())
        .unwrap_or(0);
    if records > 0 {
        found.push(format!(
            "{records} process-group record(s) in {} (processes it started; any still running are ended by the next `gastown run`, or by --fix)",
            groups.display()
        ));
    }
    if found.is_empty() {
        return Vec::new();
    }
    let mut c = Check::bad(
        "stale-runtime",
        Status::Warn,
        format!("left by a supervisor that is gone: {}", found.join("; ")),
        "remove them (`gastown doctor --fix`); `gastown run` makes new ones",
    );
    if opts.fix {
        let mut left = Vec::new();
        for file in &files {
            match std::fs::remove_file(file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => left.push(format!("{}: {e}", file.display())),
            }
        }
        if records > 0 {
            // What `gastown run` does when it starts: kill only what a record proves is its
            // own (the recorded leader with its start time, its group and session, carriers of
            // its token), then remove the records. The agents' files stay where they are.
            let ended = crate::groups::end_leftovers(&groups);
            if !ended.is_empty() {
                let listed: Vec<String> = ended
                    .iter()
                    .map(|e| format!("{} {} ({})", e.kind, e.label, e.pid))
                    .collect();
                c.found.push_str(&format!(
                    "; ended left-behind processes: {}",
                    listed.join(", ")
                ));
            }
        }
        if let Some(dir) = &fallback {
            // Never the contents: only an empty dir goes (the stale socket went just before).
            if let Err(e) = std::fs::remove_dir(dir) {
                left.push(format!(
                    "{} is not empty or cannot be removed ({e}): look inside",
                    dir.display()
                ));
            }
        }
        if left.is_empty() {
            c.fixed = true;
        } else {
            c.found.push_str(&format!("; left: {}", left.join("; ")));
        }
    }
    vec![c]
}

/// Every runtime the town names resolves, and its program is on PATH.
fn runtimes(town: &Town) -> Vec<Check> {
    let mut names: Vec<String> = Vec::new();
    names.extend(town.config.default_agent.clone());
    names.extend(town.config.roles.mayor.clone());
    names.extend(town.config.roles.deacon.clone());
    names.extend(town.config.roles.witness.clone());
    names.extend(town.config.roles.dog.clone());
    for rig in good_rigs(town) {
        names.extend(rig.config.runtime.clone());
        names.extend(crate::witness::agent_runtime(town, &rig.config));
    }
    names.sort();
    names.dedup();
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("gastown"));
    let mut checks: Vec<Check> = names
        .iter()
        .filter_map(|name| crate::runtimes::by_name(town, name, &exe).ok())
        .filter(|rt| !rt.accounts.is_empty())
        .map(|rt| accounts(town, &rt))
        .collect();
    let named = names
        .into_iter()
        .map(|name| {
            let check = format!("runtime {name}");
            match crate::runtimes::by_name(town, &name, &exe) {
                Err(e) => Check::bad(
                    &check,
                    Status::Error,
                    e.to_string(),
                    "name a preset or a custom agent (`gastown config agent list`)",
                ),
                Ok(rt) => match on_path(&rt.program) {
                    Some(path) => Check::ok(&check, format!("{} ({})", rt.program, path.display())),
                    None => Check::bad(
                        &check,
                        Status::Error,
                        format!("its program {:?} is not on PATH", rt.program),
                        format!("install it, or point the runtime at it: `gastown config agent set {name} --program /path/to/it`"),
                    ),
                },
            }
        });
    checks.splice(0..0, named);
    checks
}

/// The accounts of `rt`: each can take a session (its key variable is set here — `gastown run`
/// needs it in its own environment too — and its config dir exists), and which are limited.
fn accounts(town: &Town, rt: &crate::runtimes::spec::Runtime) -> Check {
    let check = format!("accounts {}", rt.name);
    let var = |name: &str| std::env::var(name).ok();
    let limits = crate::limits::Limits::load(&town.runtime_dir()).unwrap_or_default();
    let now = std::time::SystemTime::now();
    let (mut problems, mut notes) = (Vec::new(), Vec::new());
    for account in &rt.accounts {
        if let Some(why) = crate::runtimes::accounts::unusable(account, &var) {
            problems.push(why);
        }
        for (key, dir) in &account.env {
            if matches!(key.as_str(), "CLAUDE_CONFIG_DIR" | "CODEX_HOME")
                && !Path::new(dir).is_dir()
            {
                problems.push(format!(
                    "account {}'s config dir {dir} does not exist (its CLI would start there \
                     logged out)",
                    account.name
                ));
            }
        }
        let key = crate::runtimes::accounts::account_key(&rt.name, &account.name);
        if let Some(limit) = limits.holding(&key, now) {
            notes.push(format!(
                "{} {}",
                account.name,
                crate::limits::describe(limit)
            ));
        }
    }
    let names: Vec<&str> = rt.accounts.iter().map(|a| a.name.as_str()).collect();
    let mut found = format!("{} account(s): {}", names.len(), names.join(", "));
    if !notes.is_empty() {
        found.push_str(&format!(" ({})", notes.join("; ")));
    }
    if problems.is_empty() {
        return Check::ok(&check, found);
    }
    Check::bad(
        &check,
        Status::Warn,
        format!("{found}; {}", problems.join("; ")),
        "export each account's key variable before `gastown run`, log each config dir in once \
         (e.g. `CLAUDE_CONFIG_DIR=<dir> claude`), or fix `[[agents.<name>.accounts]]` in town.toml",
    )
}

/// Where `program` is: itself when it has a slash, else the first match on PATH.
fn on_path(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// Each rig's origin answers and has its target branch.
fn origins(town: &Town, opts: Options) -> Vec<Check> {
    let timeout = opts.remote_timeout.unwrap_or(Duration::from_secs(10));
    good_rigs(town)
        .into_iter()
        .map(|rig| origin(&rig.config, &rig, timeout))
        .collect()
}

fn origin(config: &RigConfig, rig: &Rig, timeout: Duration) -> Check {
    let check = format!("origin {}", rig.name());
    let bare = rig.bare_repo();
    if !bare.is_dir() {
        return Check::bad(
            &check,
            Status::Error,
            format!("the rig's repository {} is missing", bare.display()),
            format!(
                "remove the rig and add it again (`gastown rig remove {0}`, `gastown rig add {0} <url>`)",
                rig.name()
            ),
        );
    }
    match crate::git_cli::remote_branch_tip(&bare, &config.default_branch, timeout) {
        Ok(Some(_)) => Check::ok(
            &check,
            format!(
                "{} has {}",
                crate::git_cli::redact(&config.url),
                config.default_branch
            ),
        ),
        Ok(None) => Check::bad(
            &check,
            Status::Error,
            format!("origin has no branch {}", config.default_branch),
            "push the branch to origin, or set `default_branch` in the rig's rig.toml",
        ),
        Err(e) => Check::bad(
            &check,
            Status::Warn,
            e.to_string(),
            "check the network and the URL (`git -C <rig>/.repo.git remote -v`); landings wait until it answers",
        ),
    }
}

fn checkpoints(town: &Town) -> Check {
    match crate::checkpoint::list(town) {
        Ok((found, broken)) if broken.is_empty() => {
            Check::ok("checkpoints", format!("{} readable", found.len()))
        }
        Ok((_, broken)) => Check::bad(
            "checkpoints",
            Status::Warn,
            format!("unreadable: {}", broken.join("; ")),
            "inspect the ref with `git -C <rig's bare repo> log <ref>`; delete it with `git update-ref -d <ref>` once nothing in it is needed",
        ),
        Err(e) => Check::bad(
            "checkpoints",
            Status::Warn,
            format!("{e:#}"),
            "see the message",
        ),
    }
}

/// Hooked beads whose identity cannot exist any more (not an address, or a rig that is gone):
/// released back to ready with `--fix` (the bead and its history kept).
fn stale_hooks(town: &Town, ledger: &mut gastown_beads::Ledger, fix: bool) -> Check {
    let stale = match crate::work::hook::stale(ledger, town) {
        Ok(s) => s,
        Err(e) => {
            return Check::bad(
                "stale-hooks",
                Status::Warn,
                format!("{e:#}"),
                "see the message",
            );
        }
    };
    if stale.is_empty() {
        return Check::ok("stale-hooks", "every hooked bead's identity exists");
    }
    let listed: Vec<String> = stale
        .iter()
        .map(|(bead, holder)| format!("{bead} on {holder:?}"))
        .collect();
    let mut c = Check::bad(
        "stale-hooks",
        Status::Warn,
        format!(
            "hooked to identities that cannot exist: {}",
            listed.join(", ")
        ),
        "`gastown doctor --fix` releases them back to ready (kept, with an audit event); the deacon's patrol does too",
    );
    if fix {
        c.fixed = crate::work::hook::release_stale(ledger, town, "doctor").is_ok();
    }
    c
}

/// Identities with more than one open agent bead (or one not under the id derived from its
/// address), as older ledgers made them: folded with `--fix` (`agents::merge_duplicates`: the
/// bead with the derived id is kept and takes the others' labels and fields; they are closed as
/// its duplicates, nothing deleted).
fn duplicate_agents(ledger: &mut gastown_beads::Ledger, fix: bool) -> Check {
    const NAME: &str = "duplicate-agents";
    let found = match crate::agents::find_duplicates(ledger) {
        Ok(found) => found,
        Err(e) => return Check::bad(NAME, Status::Warn, format!("{e:#}"), "see the message"),
    };
    if found.is_empty() {
        return Check::ok(NAME, "one open agent bead per identity");
    }
    let listed: Vec<String> = found
        .iter()
        .map(|d| {
            let kept = if d.canonical_exists {
                d.canonical.clone()
            } else {
                format!("none yet under {}", d.canonical)
            };
            format!("{} has {} (kept: {kept})", d.address, d.strays.join(", "))
        })
        .collect();
    let mut c = Check::bad(
        NAME,
        Status::Warn,
        format!("agent beads to fold: {}", listed.join("; ")),
        "`gastown doctor --fix` folds each into the bead with the id derived from its address (labels and fields copied over, the others closed as its duplicates); `gastown run` does too when it starts",
    );
    if fix {
        c.fixed = crate::agents::merge_duplicates(ledger).is_ok();
    }
    c
}

/// Known polecats' worktrees that are no worktrees any more (`worktrees.rs`); `--fix` moves
/// each aside, kept.
pub fn worktrees(
    town: &Town,
    claims: &Result<crate::rig::orphans::Claims, String>,
    fix: bool,
) -> Check {
    worktrees::check(town, claims, fix)
}

/// Worktrees, branches and homes of no identity (by `claims`, read from the ledger by
/// [`ledger_checks`]). `fix`: only what cannot lose work (`tidy.rs`: uncommitted work is
/// checkpointed and kept, unmerged commits are never deleted, a clean merged worktree or branch
/// is removed, homes are kept).
pub fn orphans(
    town: &Town,
    claims: &Result<crate::rig::orphans::Claims, String>,
    fix: bool,
) -> Check {
    let claims = match claims {
        Ok(c) => c,
        Err(e) => return Check::bad("orphans", Status::Warn, e.clone(), "see the message"),
    };
    let mut lines = Vec::new();
    let (mut done, mut kept) = (Vec::new(), Vec::new());
    for rig in good_rigs(town) {
        let Ok(found) = crate::rig::orphans::find(&rig, claims) else {
            continue;
        };
        lines.extend(
            found
                .lines()
                .into_iter()
                .map(|l| format!("{}: {l}", rig.name())),
        );
        if fix && !found.is_empty() {
            let tidied = tidy::tidy(town, &rig, &found);
            done.extend(
                tidied
                    .done
                    .into_iter()
                    .map(|l| format!("{}: {l}", rig.name())),
            );
            kept.extend(
                tidied
                    .kept
                    .into_iter()
                    .map(|l| format!("{}: {l}", rig.name())),
            );
        }
    }
    if lines.is_empty() {
        return Check::ok(
            "orphans",
            "every worktree, branch and home belongs to an identity",
        );
    }
    let mut c = Check::bad(
        "orphans",
        Status::Warn,
        lines.join("; "),
        "`gastown doctor --fix` removes clean, merged worktrees and merged branches, checkpoints a polecat worktree's uncommitted work, and never deletes unmerged commits or homes; `gastown rig show <rig>` says which hold unmerged work",
    );
    if fix {
        if !done.is_empty() {
            c.found.push_str(&format!("; --fix: {}", done.join("; ")));
        }
        if kept.is_empty() {
            c.fixed = true;
        } else {
            c.found
                .push_str(&format!("; left as they are: {}", kept.join("; ")));
        }
    }
    c
}
