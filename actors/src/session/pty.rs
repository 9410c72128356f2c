//! The operating-system side of a session: spawning the agent in a PTY, the blocking reader and
//! waiter threads, and signals to the child's process group.
//!
//! **Architecture Invariant:** the child is a session leader (portable-pty calls `setsid` before
//! `exec`), so its pid is its process-group id and every process it starts without leaving the
//! group dies with [`terminate_group`] / [`kill_group`]. Under `gastown run` that leader is the
//! group leader shim of [`gastown_town::groups`], which starts the agent as its child and kills
//! the whole session if the supervisor dies; the group is recorded in the runtime dir until the
//! session's state is dropped.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Duration;

use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};
use ractor::ActorRef;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{SessionArgs, SessionMsg, SpawnError};
use gastown_town::groups;

/// Size of one read from the PTY master.
pub(crate) const READ_CHUNK: usize = 64 * 1024;
/// Chunks the reader may have in flight to the actor before it waits (bounds mailbox memory).
pub(crate) const READ_CREDITS: usize = 8;
/// Longest pause between checks whether the rest of a process group is gone.
const GROUP_POLL: Duration = Duration::from_millis(10);
/// How long to wait for the group to vanish after SIGKILL before reporting a leak.
const AFTER_KILL_WAIT: Duration = Duration::from_secs(2);

/// How the agent process ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// Exit code when the process exited by itself.
    pub code: Option<i32>,
    /// Signal number when the process was killed by a signal.
    pub signal: Option<i32>,
}

impl ExitInfo {
    /// Exit status 0: the agent finished on purpose. Anything else is a crash.
    pub fn success(&self) -> bool {
        self.code == Some(0) && self.signal.is_none()
    }

    fn from_wait_status(status: libc::c_int) -> Self {
        if libc::WIFEXITED(status) {
            Self {
                code: Some(libc::WEXITSTATUS(status)),
                signal: None,
            }
        } else if libc::WIFSIGNALED(status) {
            Self {
                code: None,
                signal: Some(libc::WTERMSIG(status)),
            }
        } else {
            Self {
                code: None,
                signal: None,
            }
        }
    }
}

impl std::fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (_, Some(signal)) => write!(f, "killed by signal {signal}"),
            (Some(code), None) => write!(f, "exit code {code}"),
            (None, None) => write!(f, "unknown exit status (the child was reaped elsewhere)"),
        }
    }
}

/// A spawned child: the PTY master (kept for resize), its pid/pgid and the writer half.
pub(crate) struct Spawned {
    pub(crate) master: Box<dyn MasterPty + Send>,
    pub(crate) pid: u32,
    /// The group's registration (and record); dropped once the group is gone.
    pub(crate) group: groups::Started,
    pub(crate) writer: Box<dyn std::io::Write + Send>,
    pub(crate) reader: Box<dyn Read + Send>,
}

/// Opens a PTY of the requested size, spawns the command in it and drops the slave side.
pub(crate) fn spawn(args: &SessionArgs) -> Result<Spawned, SpawnError> {
    if !args.cwd.is_dir() {
        return Err(SpawnError::Cwd {
            cwd: args.cwd.clone(),
        });
    }
    let (rows, cols) = super::args::clamp_size(args.rows, args.cols);
    let size = PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    };
    let pair = native_pty_system()
        .openpty(size)
        .map_err(|error| SpawnError::OpenPty {
            reason: format!("{error:#}"),
        })?;
    let launch = groups::launch(&args.program, &args.args);
    if launch.shimmed {
        // The shim reports a program it cannot start only as an exit; say it here, as a spawn
        // error, like a direct spawn would.
        resolve(args).map_err(|reason| SpawnError::Spawn {
            program: args.program.clone(),
            reason,
        })?;
    }
    let mut command = CommandBuilder::new(&launch.program);
    command.args(&launch.args);
    command.cwd(&args.cwd);
    if command.get_env("TERM").is_none() {
        command.env("TERM", "xterm-256color");
    }
    for (key, value) in &args.env {
        command.env(key, value);
    }
    command.env(&launch.token.0, &launch.token.1);
    let child = pair
        .slave
        .spawn_command(command)
        .map_err(|error| SpawnError::Spawn {
            program: args.program.clone(),
            reason: format!("{error:#}"),
        })?;
    // The slave must go now: as long as we hold it the reader never sees EOF/EIO.
    drop(pair.slave);
    let pid = child.process_id().ok_or(SpawnError::NoPid)?;
    // We reap with waitpid ourselves (to keep the signal number); the std child is never waited on.
    drop(child);
    let group = groups::started(
        &launch,
        pid,
        groups::Kind::Session,
        &format!("session: {} {}", args.program, args.args.join(" ")),
    );
    let reader = (pair.master.try_clone_reader()).map_err(|error| SpawnError::OpenPty {
        reason: format!("{error:#}"),
    })?;
    let writer = (pair.master.take_writer()).map_err(|error| SpawnError::OpenPty {
        reason: format!("{error:#}"),
    })?;
    Ok(Spawned {
        master: pair.master,
        pid,
        group,
        writer,
        reader,
    })
}

/// Whether the session's program can be started: a path must be an executable file (relative
/// to the session's directory), a bare name must be one on the session's `PATH`.
fn resolve(args: &SessionArgs) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &std::path::Path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if args.program.contains('/') {
        return if executable(&args.cwd.join(&args.program)) {
            Ok(())
        } else {
            Err("no such executable file".to_string())
        };
    }
    let path = args
        .env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| std::ffi::OsString::from(v))
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| executable(&dir.join(&args.program))) {
        Ok(())
    } else {
        Err(format!(
            "not found on PATH ({})",
            std::path::Path::new(&path).display()
        ))
    }
}

/// Reads the PTY master on its own thread and casts each chunk to the session actor. It takes a
/// credit before every read, so at most `READ_CREDITS` chunks wait in the actor's mailbox.
pub(crate) fn start_reader(
    mut reader: Box<dyn Read + Send>,
    credits: Receiver<()>,
    session: ActorRef<SessionMsg>,
) -> std::io::Result<()> {
    let thread = io_thread("session-reader");
    thread.spawn(move || {
        let mut buf = vec![0u8; READ_CHUNK];
        while credits.recv().is_ok() {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if session.cast(SessionMsg::Output(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = session.cast(SessionMsg::ReaderClosed);
    })?;
    Ok(())
}

/// Stack size of the session's I/O threads: they hold no big frames (the read buffer is on the
/// heap), and three threads per session times hundreds of sessions adds up.
const IO_THREAD_STACK: usize = 128 * 1024;

/// A builder for one of the session's blocking I/O threads.
pub(crate) fn io_thread(name: &str) -> std::thread::Builder {
    std::thread::Builder::new()
        .name(name.to_string())
        .stack_size(IO_THREAD_STACK)
}

/// Fills the reader's credit channel.
pub(crate) fn credit_channel() -> (SyncSender<()>, Receiver<()>) {
    let (tx, rx) = std::sync::mpsc::sync_channel(READ_CREDITS);
    for _ in 0..READ_CREDITS {
        tx.try_send(())
            .expect("the channel has room for every initial credit");
    }
    (tx, rx)
}

/// Waits for the child on its own thread, publishes its exit status and tells the actor.
pub(crate) fn start_waiter(
    pid: u32,
    exit: watch::Sender<Option<ExitInfo>>,
    session: ActorRef<SessionMsg>,
) -> std::io::Result<()> {
    let thread = io_thread("session-waiter");
    thread.spawn(move || {
        let info = wait_pid(pid);
        exit.send_replace(Some(info.clone()));
        let _ = session.cast(SessionMsg::ChildExited(info));
    })?;
    Ok(())
}

fn wait_pid(pid: u32) -> ExitInfo {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waitpid on our own child with a valid out-pointer.
        let rc = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        if rc == pid as libc::pid_t {
            return ExitInfo::from_wait_status(status);
        }
        if rc == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return ExitInfo {
            code: None,
            signal: None,
        };
    }
}

/// Sends `signal` to every process in group `pgid`; false when the group no longer exists.
pub(crate) fn signal_group(pgid: u32, signal: libc::c_int) -> bool {
    // SAFETY: killpg only reads its arguments.
    unsafe { libc::killpg(pgid as libc::pid_t, signal) == 0 }
}

/// Whether group `pgid` still has a live (non-zombie) member. Zombies count as gone: an orphaned
/// grandchild whose init never reaps it can run no code.
pub fn group_alive(pgid: u32) -> bool {
    if !signal_group(pgid, 0) {
        return false;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        proc_stat(pid).is_some_and(|(state, pgrp)| pgrp == pgid && state != 'Z' && state != 'X')
    })
}

/// (state, process group) of `/proc/<pid>/stat`.
fn proc_stat(pid: &str) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let mut fields = after_name.split(' ');
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// How a stop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopOutcome {
    /// Nothing was running any more.
    AlreadyGone,
    /// The group left after SIGTERM within the timeout.
    Terminated,
    /// SIGTERM was not enough; the group was SIGKILLed.
    Killed,
    /// Even after SIGKILL a member was still there (it is in uninterruptible sleep, or escaped).
    Leaked,
}

/// SIGTERM to the whole group, wait up to `timeout` for the leader's exit and the group's end,
/// then SIGKILL. Waits by polling on the tokio timer: it never blocks a runtime thread.
pub(crate) async fn terminate_group(
    pgid: u32,
    exit: &mut watch::Receiver<Option<ExitInfo>>,
    timeout: Duration,
) -> StopOutcome {
    if exit.borrow().is_some() && !group_alive(pgid) {
        return StopOutcome::AlreadyGone;
    }
    signal_group(pgid, libc::SIGTERM);
    signal_group(pgid, libc::SIGCONT);
    if wait_gone(pgid, exit, timeout).await {
        return StopOutcome::Terminated;
    }
    tracing::warn!(
        pgid,
        ?timeout,
        "session process group ignored SIGTERM; sending SIGKILL"
    );
    kill_group(pgid);
    if wait_gone(pgid, exit, AFTER_KILL_WAIT).await {
        StopOutcome::Killed
    } else {
        tracing::error!(pgid, "session process group survived SIGKILL");
        StopOutcome::Leaked
    }
}

/// SIGKILL to the whole group, at once.
pub(crate) fn kill_group(pgid: u32) {
    signal_group(pgid, libc::SIGKILL);
}

/// Waits until the leader has been reaped (event-driven, through the waiter's channel) and no
/// member of the group is alive (polled, 1 ms doubling up to [`GROUP_POLL`]), or `timeout`.
async fn wait_gone(
    pgid: u32,
    exit: &mut watch::Receiver<Option<ExitInfo>>,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    let reaped = tokio::time::timeout_at(deadline, exit.wait_for(Option::is_some))
        .await
        .is_ok_and(|waited| waited.is_ok());
    if !reaped {
        return false;
    }
    let mut pause = Duration::from_millis(1);
    loop {
        if !group_alive(pgid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(pause.min(deadline - Instant::now())).await;
        pause = (pause * 2).min(GROUP_POLL);
    }
}

/// Last resort when the actor's state is dropped without a clean stop (a kill of the actor, a
/// panic): SIGKILL the group unless it is known to be gone. Never blocks.
pub(crate) struct GroupGuard {
    pub(crate) pgid: u32,
    pub(crate) exit: watch::Receiver<Option<ExitInfo>>,
    /// Dropped after the kill: the group's record goes with it.
    pub(crate) _group: groups::Started,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.exit.borrow().is_none() || group_alive(self.pgid) {
            kill_group(self.pgid);
        }
    }
}
