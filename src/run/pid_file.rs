//! `.runtime/run.pid`: which process is the town's supervisor, for `gastown down` (and `up`).
//!
//! `gastown run` writes it once it holds the run lock — its pid and its start time (field 22 of
//! `/proc/<pid>/stat`) — and removes it when it exits, however `run` returns. A process that
//! died (`kill -9`) leaves it behind: [`find`] then tells it stale, by the pid being gone, a
//! zombie, a process started at another time (the pid was reused), or a program that is not a
//! `gastown run`; whoever reads it never signals a stranger.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The file's name in the runtime dir.
pub const FILE_NAME: &str = "run.pid";

/// The pid file of the running supervisor; removed when dropped.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Record this process as the supervisor of the town whose runtime dir is `runtime_dir`.
    /// The caller holds the run lock, so no other live supervisor's file is replaced.
    pub fn write(runtime_dir: &Path) -> Result<PidFile> {
        let path = runtime_dir.join(FILE_NAME);
        let pid = std::process::id();
        let start = gastown_town::groups::start_time(pid).unwrap_or(0);
        let temp = runtime_dir.join(format!(".{FILE_NAME}.{pid}"));
        std::fs::write(&temp, format!("{pid} {start}\n"))
            .and_then(|()| std::fs::rename(&temp, &path))
            .with_context(|| format!("cannot write the pid file {}", path.display()))?;
        Ok(PidFile { path })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Only our own: a file naming another pid belongs to someone else.
        let ours = read(&self.path).is_some_and(|(pid, _)| pid == std::process::id());
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What the pid file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No pid file: no supervisor (or one too old to write it).
    Nothing,
    /// The supervisor runs as `pid`.
    Running { pid: u32 },
    /// The file names a process that is not this town's supervisor: `why`.
    Stale { pid: u32, why: String },
    /// The file cannot be read as a pid file.
    Unreadable { why: String },
}

/// Read the pid file of the town whose runtime dir is `runtime_dir` and check the process it
/// names.
pub fn find(runtime_dir: &Path) -> Found {
    let path = runtime_dir.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Found::Nothing,
        Err(e) => {
            return Found::Unreadable {
                why: format!("cannot read {}: {e}", path.display()),
            };
        }
    };
    let Some((pid, start)) = parse(&text) else {
        return Found::Unreadable {
            why: format!("{} holds {:?}, not a pid", path.display(), text.trim()),
        };
    };
    match stale_because(pid, start) {
        Some(why) => Found::Stale { pid, why },
        None => Found::Running { pid },
    }
}

/// Remove a stale pid file (one [`find`] said is [`Found::Stale`] or [`Found::Unreadable`]).
pub fn remove(runtime_dir: &Path) -> Result<()> {
    let path = runtime_dir.join(FILE_NAME);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

fn read(path: &Path) -> Option<(u32, Option<u64>)> {
    parse(&std::fs::read_to_string(path).ok()?)
}

/// `<pid> [<start time>]`.
fn parse(text: &str) -> Option<(u32, Option<u64>)> {
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok().filter(|pid| *pid > 0)?;
    let start = match words.next() {
        Some(word) => Some(word.parse().ok()?).filter(|start| *start > 0),
        None => None,
    };
    Some((pid, start))
}

/// Why `pid` (recorded as started at `start`) is not a running `gastown run`, or `None` if it is.
pub fn stale_because(pid: u32, start: Option<u64>) -> Option<String> {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Some(format!("process {pid} is gone"));
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat.get(i + 2..))
        .and_then(|rest| rest.chars().next());
    if matches!(state, Some('Z' | 'X')) {
        return Some(format!("process {pid} has exited"));
    }
    if let Some(start) = start
        && gastown_town::groups::start_time(pid) != Some(start)
    {
        return Some(format!(
            "process {pid} started at another time: the pid was reused"
        ));
    }
    if !is_gastown_run(pid) {
        let what = command_line(pid);
        return Some(format!(
            "process {pid} is not a gastown run ({})",
            if what.is_empty() { "unknown" } else { &what }
        ));
    }
    None
}

/// Whether `pid` runs `gastown run`: its program is this very binary or one called `gastown`
/// (also once replaced on disk: `gastown (deleted)`), with a `run` argument.
fn is_gastown_run(pid: u32) -> bool {
    let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) else {
        return false;
    };
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let gastown = name == "gastown"
        || name == "gastown (deleted)"
        || std::env::current_exe().is_ok_and(|own| own == exe);
    gastown && command_line(pid).split(' ').skip(1).any(|arg| arg == "run")
}

/// `pid`'s command line, its arguments joined by spaces.
pub fn command_line(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .unwrap_or_default()
}

/// Whether `pid` still runs (not gone, not a zombie waiting to be reaped).
pub fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat.get(i + 2..))
        .and_then(|rest| rest.chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_is_a_pid_and_maybe_a_start_time() {
        assert_eq!(parse("42 1234\n"), Some((42, Some(1234))));
        assert_eq!(parse("42\n"), Some((42, None)));
        assert_eq!(parse("0 1"), None);
        assert_eq!(parse("x"), None);
        assert_eq!(parse("42 y"), None);
    }

    #[test]
    fn a_stranger_a_reused_pid_and_a_dead_pid_are_stale() {
        let mut sleep = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("sleep runs");
        let stranger = sleep.id();
        let why = stale_because(stranger, gastown_town::groups::start_time(stranger));
        let _ = sleep.kill();
        let _ = sleep.wait();
        let why = why.expect("stale");
        assert!(why.contains("not a gastown run"), "{why}");
        let own = std::process::id();
        let why = stale_because(own, Some(1)).expect("stale");
        assert!(why.contains("reused"), "{why}");
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("true runs");
        let pid = child.id();
        child.wait().expect("true exits");
        let why = stale_because(pid, None).expect("stale");
        assert!(why.contains("is gone"), "{why}");
    }

    #[test]
    fn the_file_is_written_and_removed_with_its_guard() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = PidFile::write(dir.path()).expect("written");
        let (pid, start) = read(&dir.path().join(FILE_NAME)).expect("readable");
        assert_eq!(pid, std::process::id());
        assert_eq!(start, gastown_town::groups::start_time(pid));
        drop(file);
        assert_eq!(find(dir.path()), Found::Nothing);
    }
}
