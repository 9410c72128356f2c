//! Process groups this process starts — agent sessions and gates — and how none of them
//! outlives it (`docs/sessions.md`, "No orphans").
//!
//! Three defences, each covering what the one before cannot:
//!
//! 1. **The group leader shim.** When [`use_shim`] names this executable, every group starts as
//!    `gastown __group-leader <supervisor pid> <program> <args…>` ([`shim`]): the shim is the
//!    group's (and a PTY session's) leader, starts the real program as its child, watches the
//!    supervisor *process* through a pidfd (not its spawning thread, which is what
//!    `PR_SET_PDEATHSIG` would watch) and, the moment the supervisor is gone however it ended
//!    (`kill -9` included), SIGKILLs every process of its group and terminal session before
//!    dying itself. Programs that ignore SIGHUP die with it.
//! 2. **Records.** With [`record_in`], each started group is written to the runtime dir as one
//!    file: the leader's pid, its start time (`/proc/<pid>/stat` field 22) and a token that every
//!    process of the group carries in its environment (`GASTOWN_GROUP`). The file goes when the
//!    group is done ([`Started`] dropped).
//! 3. **Leftovers at the next start.** [`end_leftovers`] kills what those records prove is ours:
//!    a leader whose pid *and* start time match (never a reused pid), and any process whose
//!    environment carries a recorded token (also those that left the group).
//!
//! The in-memory registry of live groups lets `gastown run` stop every gate at its shutdown
//! deadline ([`stop_gates`]) and kill everything at once on a second signal ([`kill_all`]); a gate
//! stopped that way reports [`aborted`] so its merge request stays queued.

pub mod shim;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The environment variable every process of a recorded group carries: its group's token.
pub const TOKEN_ENV: &str = "GASTOWN_GROUP";

/// What a group is, for records and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An agent session in a PTY.
    Session,
    /// A rig's gate (`sh -c …`).
    Gate,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Session => "session",
            Kind::Gate => "gate",
        }
    }
}

#[derive(Default)]
struct Config {
    shim: Option<PathBuf>,
    records: Option<PathBuf>,
}

struct Live {
    kind: Kind,
    aborted: bool,
}

fn config() -> MutexGuard<'static, Config> {
    static CONFIG: OnceLock<Mutex<Config>> = OnceLock::new();
    CONFIG
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn live() -> MutexGuard<'static, HashMap<u32, Live>> {
    static LIVE: OnceLock<Mutex<HashMap<u32, Live>>> = OnceLock::new();
    LIVE.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

static GATES_REFUSED: AtomicBool = AtomicBool::new(false);
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Start every later group through the shim in `exe` (this executable, which must handle
/// [`shim::ARG`] as its first argument).
pub fn use_shim(exe: PathBuf) {
    config().shim = Some(exe);
}

/// Record every later group as a file in `dir` (created if missing).
pub fn record_in(dir: PathBuf) -> std::io::Result<()> {
    std::fs::create_dir_all(&dir)?;
    config().records = Some(dir);
    Ok(())
}

/// How to start a program as a new group: the command to run (the shim, or the program itself)
/// and the token to put in its environment.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// `(TOKEN_ENV, token)`: set it in the child's environment.
    pub token: (String, String),
    /// Whether `program` is the shim (the real program is then resolved by it).
    pub shimmed: bool,
}

/// The command that starts `program args` as a group of this process.
pub fn launch(program: &str, args: &[String]) -> Launch {
    let me = std::process::id();
    let token = format!(
        "{me}.{}.{}",
        start_time(me).unwrap_or(0),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let shim = config().shim.clone();
    match shim {
        Some(exe) => {
            let mut all: Vec<OsString> = vec![shim::ARG.into(), me.to_string().into()];
            all.push(program.into());
            all.extend(args.iter().map(OsString::from));
            Launch {
                program: exe.into_os_string(),
                args: all,
                token: (TOKEN_ENV.to_string(), token),
                shimmed: true,
            }
        }
        None => Launch {
            program: program.into(),
            args: args.iter().map(OsString::from).collect(),
            token: (TOKEN_ENV.to_string(), token),
            shimmed: false,
        },
    }
}

/// A started group, registered (and recorded, with [`record_in`]) until dropped: drop it once
/// the group is gone.
#[derive(Debug)]
pub struct Started {
    pgid: u32,
    record: Option<PathBuf>,
}

impl Started {
    /// The group's id (its leader's pid).
    pub fn pgid(&self) -> u32 {
        self.pgid
    }
}

/// Register the group led by `pgid`, started with `launch`; `label` says what it is in logs.
/// A record that cannot be written is logged, never fatal: the shim still ties the group to us.
pub fn started(launch: &Launch, pgid: u32, kind: Kind, label: &str) -> Started {
    live().insert(
        pgid,
        Live {
            kind,
            aborted: false,
        },
    );
    let dir = config().records.clone();
    let record = dir.and_then(|dir| {
        let start = start_time(pgid)?;
        let path = dir.join(format!("{pgid}-{start}"));
        let text = format!(
            "kind={}\ntoken={}\nlabel={}\n",
            kind.as_str(),
            launch.token.1,
            label.replace('\n', " ")
        );
        match std::fs::write(&path, text) {
            Ok(()) => Some(path),
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot record a process group: {e}");
                None
            }
        }
    });
    Started { pgid, record }
}

impl Drop for Started {
    fn drop(&mut self) {
        live().remove(&self.pgid);
        if let Some(path) = &self.record {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// From now on no gate starts ([`gates_refused`]): `gastown run` is shutting down.
pub fn refuse_gates() {
    GATES_REFUSED.store(true, Ordering::SeqCst);
}

/// Whether gates are refused (shutdown began).
pub fn gates_refused() -> bool {
    GATES_REFUSED.load(Ordering::SeqCst)
}

/// Whether group `pgid` was ended by [`stop_gates`] or [`kill_all`] rather than on its own.
pub fn aborted(pgid: u32) -> bool {
    live().get(&pgid).is_some_and(|l| l.aborted)
}

/// Stop every running gate: SIGTERM to its group, then SIGKILL to what is left after `grace`.
/// Blocks for at most `grace` (plus a poll). Returns how many gates were stopped.
pub fn stop_gates(grace: Duration) -> usize {
    let gates: Vec<u32> = {
        let mut live = live();
        live.iter_mut()
            .filter(|(_, l)| l.kind == Kind::Gate)
            .map(|(pgid, l)| {
                l.aborted = true;
                *pgid
            })
            .collect()
    };
    for pgid in &gates {
        signal_group(*pgid, libc::SIGTERM);
        signal_group(*pgid, libc::SIGCONT);
    }
    let deadline = Instant::now() + grace;
    while gates.iter().any(|g| group_alive(*g)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for pgid in &gates {
        signal_group(*pgid, libc::SIGKILL);
    }
    gates.len()
}

/// SIGKILL every live group at once (sessions and gates); returns how many there were.
pub fn kill_all() -> usize {
    let groups: Vec<u32> = {
        let mut live = live();
        live.values_mut().for_each(|l| l.aborted = true);
        live.keys().copied().collect()
    };
    for pgid in &groups {
        signal_group(*pgid, libc::SIGKILL);
    }
    groups.len()
}

/// A process a leftover record proved ours and that was killed.
#[derive(Debug, Clone)]
pub struct Ended {
    pub pid: u32,
    /// "session" or "gate".
    pub kind: String,
    /// What the group was (the record's label).
    pub label: String,
    /// Its command line, for the log.
    pub command: String,
}

/// Kill the leftovers of earlier runs recorded in `dir` and remove their records. A process is
/// ours when it is the recorded leader with the recorded start time, a member of that leader's
/// group or terminal session, or carries a recorded token in its environment; nothing else is
/// touched. Call it before starting any group.
pub fn end_leftovers(dir: &Path) -> Vec<Ended> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut records = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let record = parse_record(&path);
        let _ = std::fs::remove_file(&path);
        match record {
            Some(record) => records.push(record),
            None => {
                tracing::warn!(path = %path.display(), "removed an unreadable process-group record")
            }
        }
    }
    if records.is_empty() {
        return Vec::new();
    }
    // Leaders still running with their recorded start time: theirs are the group and session.
    let mut by_leader = HashMap::new();
    let mut by_token = HashMap::new();
    for (i, record) in records.iter().enumerate() {
        if start_time(record.pid) == Some(record.start) {
            // Kill by the leader's group first, which also stops it forking.
            signal_group(record.pid, libc::SIGKILL);
            by_leader.insert(record.pid, i);
        }
        if !record.token.is_empty() {
            by_token.insert(record.token.as_str(), i);
        }
    }
    let me = std::process::id();
    let mut ended = Vec::new();
    // One pass over every process: a member of a proven group or session, or a carrier of a
    // recorded token.
    for pid in all_pids().into_iter().filter(|p| *p != me) {
        let stat = proc_stat(pid);
        let member = stat.as_ref().and_then(|s| {
            by_leader
                .get(&pid)
                .or_else(|| by_leader.get(&s.pgrp))
                .or_else(|| by_leader.get(&s.session))
        });
        let owner = member
            .copied()
            .or_else(|| token_of(pid).and_then(|token| by_token.get(token.as_str()).copied()));
        let Some(i) = owner else {
            continue;
        };
        let command = cmdline(pid);
        // SAFETY: kill(2) only reads its arguments.
        if unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) } == 0 {
            ended.push(Ended {
                pid,
                kind: records[i].kind.clone(),
                label: records[i].label.clone(),
                command,
            });
        }
    }
    ended
}

struct Record {
    pid: u32,
    start: u64,
    kind: String,
    label: String,
    token: String,
}

fn parse_record(path: &Path) -> Option<Record> {
    let name = path.file_name()?.to_str()?;
    let (pid, start) = name.split_once('-')?;
    let text = std::fs::read_to_string(path).ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_default()
            .to_string()
    };
    Some(Record {
        pid: pid.parse().ok()?,
        start: start.parse().ok()?,
        kind: field("kind"),
        label: field("label"),
        token: field("token"),
    })
}

/// `/proc/<pid>/stat` fields this module reads.
pub(crate) struct Stat {
    pub(crate) state: char,
    pub(crate) pgrp: u32,
    pub(crate) session: u32,
    pub(crate) start: u64,
}

pub(crate) fn proc_stat(pid: u32) -> Option<Stat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces and parentheses) start at field 3.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        // Field 22, starttime (clock ticks after boot).
        start: fields.get(19)?.parse().ok()?,
    })
}

/// The start time of `pid` (`/proc/<pid>/stat` field 22), if it exists.
pub fn start_time(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|s| s.start)
}

pub(crate) fn all_pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The group token in `pid`'s environment, if it has one.
fn token_of(pid: u32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let key = format!("{TOKEN_ENV}=");
    env.split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(key.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .unwrap_or_default()
}

fn signal_group(pgid: u32, signal: libc::c_int) -> bool {
    // SAFETY: killpg only reads its arguments.
    unsafe { libc::killpg(pgid as libc::pid_t, signal) == 0 }
}

/// Whether group `pgid` has a live (non-zombie) member.
pub fn group_alive(pgid: u32) -> bool {
    signal_group(pgid, 0)
        && all_pids().into_iter().any(|pid| {
            proc_stat(pid).is_some_and(|s| s.pgrp == pgid && s.state != 'Z' && s.state != 'X')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_stat_parses_with_a_start_time() {
        let me = std::process::id();
        let stat = proc_stat(me).expect("our own stat");
        assert!(stat.start > 0);
        assert_eq!(start_time(me), Some(stat.start));
    }

    #[test]
    fn a_record_with_a_reused_pid_kills_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .expect("sleep");
        let pid = child.id();
        let start = start_time(pid).expect("running");
        // Same pid, another start time: a reused pid, not ours.
        std::fs::write(
            dir.path().join(format!("{pid}-{}", start + 1)),
            "kind=gate\ntoken=\nlabel=x\n",
        )
        .expect("record");
        assert!(end_leftovers(dir.path()).is_empty());
        assert!(child.try_wait().expect("wait").is_none(), "still running");
        // The right start time: ours, killed, and the record is gone.
        std::fs::write(
            dir.path().join(format!("{pid}-{start}")),
            "kind=gate\ntoken=\nlabel=x\n",
        )
        .expect("record");
        let ended = end_leftovers(dir.path());
        assert_eq!(ended.len(), 1, "{ended:?}");
        assert_eq!(ended[0].pid, pid);
        assert!(child.wait().expect("reaped").code().is_none(), "killed");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn a_process_that_left_its_group_is_ended_by_its_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = format!("test.{}.left", std::process::id());
        let mut escaped = std::process::Command::new("sleep")
            .arg("30")
            .env(TOKEN_ENV, &token)
            .process_group(0)
            .spawn()
            .expect("sleep");
        let mut stranger = std::process::Command::new("sleep")
            .arg("30")
            .env(TOKEN_ENV, format!("{token}-other"))
            .spawn()
            .expect("sleep");
        // The recorded leader is long gone (no such start time): only the token proves it.
        std::fs::write(
            dir.path().join(format!("{}-1", escaped.id() + 1)),
            format!("kind=session\ntoken={token}\nlabel=x\n"),
        )
        .expect("record");
        let ended = end_leftovers(dir.path());
        assert_eq!(
            ended.iter().map(|e| e.pid).collect::<Vec<_>>(),
            [escaped.id()]
        );
        assert!(escaped.wait().expect("reaped").code().is_none(), "killed");
        assert!(
            stranger.try_wait().expect("wait").is_none(),
            "another token: untouched"
        );
        let _ = stranger.kill();
        let _ = stranger.wait();
    }

    use std::os::unix::process::CommandExt;
}
