//! The group leader shim: `gastown __group-leader <supervisor pid> <program> <args…>`.
//!
//! It leads the group (and, in a PTY, the terminal session), starts the program as its child,
//! and then does two things at once: waits for the child and exits as it did (same code, same
//! signal), and watches the supervisor process through a pidfd (`getppid` polling where pidfds
//! are missing). When the supervisor ends first — however it ends — it SIGKILLs every process
//! of its group and session, itself last. A pidfd watches the *process*: the thread that
//! forked the shim may come and go (the pitfall of `PR_SET_PDEATHSIG`).
//!
//! The shim ignores SIGHUP, SIGINT, SIGQUIT and SIGTERM (after starting the child, which keeps
//! the default dispositions), so a stop that signals the whole group reaches the program and
//! the shim reports how the program ended; SIGKILL still ends it.

use std::ffi::OsString;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The first argument that selects the shim.
pub const ARG: &str = "__group-leader";

/// Set by the watcher once the supervisor is gone and it is killing the group.
static DYING: AtomicBool = AtomicBool::new(false);

/// How often the fallback (no pidfd) checks whether the supervisor is still the parent.
const PARENT_POLL: Duration = Duration::from_millis(200);

/// Run the shim with the arguments after [`ARG`]; returns the exit code (or does not return
/// when it re-raises the program's fatal signal).
pub fn main(args: Vec<OsString>) -> i32 {
    let mut args = args.into_iter();
    let parent: Option<libc::pid_t> = args.next().and_then(|p| p.to_str()?.parse().ok());
    let (Some(parent), Some(program)) = (parent, args.next()) else {
        eprintln!("gastown {ARG}: usage: gastown {ARG} <parent pid> <program> [args…]");
        return 2;
    };
    // SAFETY: plain syscalls on this process.
    unsafe {
        if libc::getpgrp() != libc::getpid() {
            libc::setpgid(0, 0);
        }
    }
    // Open the pidfd first, then check the parent: the pidfd then names the real supervisor,
    // never a process that reused its pid.
    let pidfd = pidfd_open(parent);
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } != parent {
        // The supervisor is already gone.
        return 1;
    }
    let mut child = match Command::new(&program).args(args).spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("gastown: cannot start {}: {e}", program.to_string_lossy());
            return 127;
        }
    };
    for signal in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM] {
        // SAFETY: setting a signal to SIG_IGN in this process.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
    let watcher = std::thread::Builder::new()
        .name("parent-watch".to_string())
        .stack_size(64 * 1024)
        .spawn(move || {
            wait_for_parent_death(pidfd, parent);
            DYING.store(true, Ordering::SeqCst);
            kill_everything();
        });
    if watcher.is_err() {
        // Without a watcher the group could outlive the supervisor: do not run it.
        let _ = child.kill();
        return 1;
    }
    let status = loop {
        match child.wait() {
            Ok(status) => break status,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return 1,
        }
    };
    // The watcher killed the child on its way through the group: returning now would end the
    // watcher before it reached the rest. It ends this process itself when done.
    while DYING.load(Ordering::SeqCst) {
        std::thread::sleep(PARENT_POLL);
    }
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return code;
    }
    if let Some(signal) = status.signal() {
        // SAFETY: restoring the default action and raising the program's signal on ourselves.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::kill(libc::getpid(), signal);
        }
        return 128 + signal;
    }
    1
}

fn pidfd_open(pid: libc::pid_t) -> Option<libc::c_int> {
    // SAFETY: pidfd_open takes a pid and flags; the fd it returns is ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    (fd >= 0).then_some(fd as libc::c_int)
}

fn wait_for_parent_death(pidfd: Option<libc::c_int>, parent: libc::pid_t) {
    if let Some(fd) = pidfd {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: one valid pollfd, no timeout.
            let rc = unsafe { libc::poll(&mut poll, 1, -1) };
            if rc > 0 {
                return;
            }
            if rc < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
    }
    // SAFETY: getppid has no preconditions.
    while unsafe { libc::getppid() } == parent {
        std::thread::sleep(PARENT_POLL);
    }
}

/// SIGKILL every process of this terminal session outside this group, then the whole group at
/// once (this process included, last: nothing here returns).
fn kill_everything() {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() } as u32;
    // Twice: a process forked during the first sweep is caught by the second.
    for _ in 0..2 {
        for pid in super::all_pids().into_iter().filter(|p| *p != me) {
            if super::proc_stat(pid).is_some_and(|s| s.session == me && s.pgrp != me) {
                // SAFETY: kill(2) only reads its arguments.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        }
    }
    // SAFETY: as above. One signal to the group reaches every member, the shim included.
    unsafe { libc::killpg(me as libc::pid_t, libc::SIGKILL) };
}
