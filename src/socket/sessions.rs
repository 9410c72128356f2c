//! The session registry: which processes are which agent, so a socket peer's identity comes from
//! its process, not only from the token it shows.
//!
//! The supervisor registers every session's child when the session actor has spawned it: its pid,
//! its start time (field 22 of `/proc/<pid>/stat`, so a reused pid never matches) and its PTY
//! (the child's controlling terminal, field 7), bound to the agent's identity; the entry goes when
//! the session ends. At handshake, [`SessionRegistry::resolve`] places the peer (its pid from
//! `SO_PEERCRED`):
//!
//! 1. walking the peer's ancestry (`ppid`, field 4) up to pid 1: an ancestor (or the peer itself)
//!    that is a registered session child makes the peer that agent;
//! 2. else a peer whose controlling terminal is a registered session's PTY is that agent (a
//!    process that left the session's tree but kept its terminal);
//! 3. else a descendant of the supervisor that is no session (a gate, a hook script, a process
//!    orphaned onto the supervisor as subreaper) has no provable identity;
//! 4. else the peer is outside every session: the overseer's side.
//!
//! A peer gone before its `/proc` entry is read cannot be placed at all. The walk runs even with
//! no session registered: a gate started by the supervisor is never the overseer. The map sits
//! behind a std mutex: every critical section is a map operation. A handshake costs one read of
//! `/proc/<pid>/stat` per ancestor (an in-process client, the supervisor itself, one).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::wire::Identity;

/// How far up the process tree the walk goes before it gives up (a loop would be a kernel bug).
const MAX_ANCESTRY: usize = 4096;

/// The fields of `/proc/<pid>/stat` the registry uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The process id the entry was read for.
    pub pid: u32,
    /// Field 4: the parent's pid (0 for pid 1 and kernel threads).
    pub ppid: u32,
    /// Field 7: the controlling terminal's device number, 0 without one.
    pub tty_nr: u64,
    /// Field 22: the start time in clock ticks after boot; a reused pid has another one.
    pub start_time: u64,
}

impl ProcStat {
    /// Reads `/proc/<pid>/stat`; `None` when the process is gone (or unreadable).
    pub fn read(pid: u32) -> Option<ProcStat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        ProcStat::parse(pid, &text)
    }

    /// Parses one `stat` line. The command name (field 2) is in parentheses and may itself hold
    /// spaces and parentheses, so the fields are counted after its last `)`.
    pub fn parse(pid: u32, text: &str) -> Option<ProcStat> {
        let (_, rest) = text.rsplit_once(')')?;
        // rest: " <state> <ppid> <pgrp> <session> <tty_nr> ..."; field 3 is at index 0.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).copied();
        Some(ProcStat {
            pid,
            ppid: field(4)?.parse().ok()?,
            tty_nr: field(7)?.parse::<i64>().ok()?.try_into().ok()?,
            start_time: field(22)?.parse().ok()?,
        })
    }
}

/// Where a socket peer's process stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerOrigin {
    /// Inside an agent's session: the peer is that agent, whatever token it shows.
    Session {
        /// The session's agent.
        identity: Identity,
        /// How it was found: `"ancestry"` or `"terminal"` (for the log).
        by: &'static str,
    },
    /// Started by the supervisor but in no session (a gate, a hook): it has no identity.
    SupervisorChild,
    /// Outside every session and not the supervisor's: the overseer's side.
    Outside,
    /// The peer exited before its process could be read: who it was cannot be proven.
    Gone,
}

/// One registered session child.
#[derive(Debug, Clone)]
struct Entry {
    /// The child's start time (`/proc/<pid>/stat` field 22).
    start_time: u64,
    /// The session PTY's device number, 0 when the child had no controlling terminal.
    tty_nr: u64,
    /// The agent the session runs.
    identity: Identity,
}

/// The live sessions' processes; cheap to clone (all clones share one table).
#[derive(Debug, Clone, Default)]
pub struct SessionRegistry {
    /// Child pid → entry.
    entries: Arc<Mutex<HashMap<u32, Entry>>>,
}

impl SessionRegistry {
    /// An empty registry.
    pub fn new() -> SessionRegistry {
        SessionRegistry::default()
    }

    /// Registers the child `pid` of a session of `identity`, reading its start time and
    /// terminal now. `false` when the child is already gone (nothing to register).
    pub fn register(&self, pid: u32, identity: Identity) -> bool {
        let Some(stat) = ProcStat::read(pid) else {
            return false;
        };
        let entry = Entry {
            start_time: stat.start_time,
            tty_nr: stat.tty_nr,
            identity,
        };
        self.lock().insert(pid, entry);
        true
    }

    /// Removes the session child `pid` of `identity` (its session ended). An entry since taken
    /// over by another session with a reused pid is left alone.
    pub fn unregister(&self, pid: u32, identity: &Identity) {
        let mut entries = self.lock();
        if entries.get(&pid).is_some_and(|e| &e.identity == identity) {
            entries.remove(&pid);
        }
    }

    /// Is no session registered?
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Places the peer `pid` (see the module doc); `supervisor` is this process's pid.
    pub fn resolve(&self, pid: u32, supervisor: u32) -> PeerOrigin {
        let Some(peer) = ProcStat::read(pid) else {
            return PeerOrigin::Gone;
        };
        let (session, under_supervisor) = match self.walk(peer, supervisor) {
            Some(walked) => walked,
            // An ancestor exited while we walked (its children were re-parented): once more.
            None => match ProcStat::read(pid) {
                Some(again) => self.walk(again, supervisor).unwrap_or((None, false)),
                None => return PeerOrigin::Gone,
            },
        };
        if let Some(identity) = session {
            return PeerOrigin::Session {
                identity,
                by: "ancestry",
            };
        }
        if let Some(identity) = self.by_terminal(peer.tty_nr) {
            return PeerOrigin::Session {
                identity,
                by: "terminal",
            };
        }
        if under_supervisor {
            PeerOrigin::SupervisorChild
        } else {
            PeerOrigin::Outside
        }
    }

    /// Walks from `peer` up to pid 1: the first registered session child met, and whether the
    /// supervisor is a strict ancestor. `None` when an ancestor vanished mid-walk.
    fn walk(&self, peer: ProcStat, supervisor: u32) -> Option<(Option<Identity>, bool)> {
        let mut current = peer;
        for _ in 0..MAX_ANCESTRY {
            if let Some(identity) = self.session_of(&current) {
                return Some((Some(identity), false));
            }
            if current.pid == supervisor {
                return Some((None, current.pid != peer.pid));
            }
            if current.ppid <= 1 {
                return Some((None, false));
            }
            current = ProcStat::read(current.ppid)?;
        }
        Some((None, false))
    }

    /// The identity of a registered session child, if `stat` is one (pid and start time match).
    fn session_of(&self, stat: &ProcStat) -> Option<Identity> {
        let entries = self.lock();
        let entry = entries.get(&stat.pid)?;
        (entry.start_time == stat.start_time).then(|| entry.identity.clone())
    }

    /// The identity of the session whose PTY is the terminal `tty_nr`.
    fn by_terminal(&self, tty_nr: u64) -> Option<Identity> {
        if tty_nr == 0 {
            return None;
        }
        let entries = self.lock();
        let entry = entries.values().find(|e| e.tty_nr == tty_nr)?;
        Some(entry.identity.clone())
    }

    /// Locks the table; a poisoned lock is still a consistent map (no operation panics midway).
    fn lock(&self) -> MutexGuard<'_, HashMap<u32, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};

    fn agent(address: &str) -> Identity {
        Identity::Agent {
            address: address.to_string(),
            role: "polecat".to_string(),
            rig: Some("r".to_string()),
        }
    }

    /// A real `sh` that starts a `sleep` grandchild and prints its pid; killed on drop.
    struct Family {
        child: Child,
        grandchild: u32,
    }

    impl Family {
        fn start() -> Family {
            Family::spawn(Command::new("sh"))
        }

        /// Like [`Family::start`], with the child a session leader whose controlling terminal
        /// is a fresh PTY (as a session's agent is); returns the PTY's master fd too.
        fn start_on_terminal() -> (Family, std::os::fd::OwnedFd) {
            use std::os::fd::{FromRawFd, OwnedFd};
            use std::os::unix::process::CommandExt;
            let (mut master, mut slave) = (0, 0);
            // SAFETY: openpty writes two fds into the given ints; the other pointers may be null.
            let opened = unsafe {
                libc::openpty(
                    &mut master,
                    &mut slave,
                    std::ptr::null_mut(),
                    std::ptr::null(),
                    std::ptr::null(),
                )
            };
            assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
            // SAFETY: openpty just returned these fds; each is owned once.
            let (master, slave) =
                unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
            let mut command = Command::new("sh");
            command.stdin(Stdio::from(slave));
            // SAFETY: setsid and ioctl are async-signal-safe; nothing else runs before exec.
            unsafe {
                command.pre_exec(|| {
                    if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            (Family::spawn(command), master)
        }

        fn spawn(mut command: Command) -> Family {
            let mut child = command
                .args(["-c", "sleep 30 & echo $!; wait"])
                .stdout(Stdio::piped())
                .spawn()
                .expect("sh runs");
            let stdout = child.stdout.take().expect("piped stdout");
            let mut line = String::new();
            BufReader::new(stdout)
                .read_line(&mut line)
                .expect("sh prints the grandchild's pid");
            let grandchild = line.trim().parse().expect("a pid");
            Family { child, grandchild }
        }
    }

    impl Drop for Family {
        fn drop(&mut self) {
            // SAFETY: kill has no memory preconditions; the pids are our own children.
            unsafe { libc::kill(self.grandchild as i32, libc::SIGKILL) };
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[test]
    fn stat_lines_parse_with_awkward_command_names() {
        let line = "42 (a) b (c)) S 7 42 42 34817 42 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0";
        let stat = ProcStat::parse(42, line).expect("parses");
        assert_eq!(stat.ppid, 7);
        assert_eq!(stat.tty_nr, 34817);
        assert_eq!(stat.start_time, 12345);
        assert_eq!(ProcStat::parse(1, "garbage"), None);
        let own = ProcStat::read(std::process::id()).expect("our own stat");
        assert_eq!(own.pid, std::process::id());
        // SAFETY: getppid has no preconditions.
        assert_eq!(own.ppid, unsafe { libc::getppid() } as u32);
    }

    #[test]
    fn a_descendant_of_a_registered_child_is_that_agent() {
        let family = Family::start();
        let registry = SessionRegistry::new();
        let supervisor = std::process::id();
        assert_eq!(
            registry.resolve(family.grandchild, u32::MAX),
            PeerOrigin::Outside,
            "nothing registered, and not the supervisor's"
        );
        assert_eq!(
            registry.resolve(family.grandchild, supervisor),
            PeerOrigin::SupervisorChild,
            "nothing registered, yet a supervisor's child is not the overseer"
        );
        assert!(registry.register(family.child.id(), agent("r/polecats/a")));
        let expected = PeerOrigin::Session {
            identity: agent("r/polecats/a"),
            by: "ancestry",
        };
        assert_eq!(registry.resolve(family.grandchild, supervisor), expected);
        assert_eq!(registry.resolve(family.child.id(), supervisor), expected);
        // This test process is outside every session (its children are not its ancestors).
        assert_eq!(
            registry.resolve(std::process::id(), supervisor),
            PeerOrigin::Outside
        );
        registry.unregister(family.child.id(), &agent("r/polecats/b"));
        assert!(
            !registry.is_empty(),
            "another identity's unregister is a no-op"
        );
        registry.unregister(family.child.id(), &agent("r/polecats/a"));
        assert!(registry.is_empty());
    }

    #[test]
    fn a_reused_pid_does_not_match() {
        let family = Family::start();
        let registry = SessionRegistry::new();
        let stat = ProcStat::read(family.child.id()).expect("alive");
        // The entry of an earlier process that had the same pid: another start time.
        registry.lock().insert(
            family.child.id(),
            Entry {
                start_time: stat.start_time + 1,
                tty_nr: 0,
                identity: agent("r/polecats/old"),
            },
        );
        let origin = registry.resolve(family.grandchild, u32::MAX);
        assert_eq!(origin, PeerOrigin::Outside);
    }

    #[test]
    fn a_child_of_the_supervisor_outside_sessions_is_not_the_overseer() {
        let family = Family::start();
        let other = Family::start();
        let registry = SessionRegistry::new();
        assert!(registry.register(other.child.id(), agent("r/polecats/a")));
        // Seen from this process as the supervisor: its `sh` children are in no session.
        let supervisor = std::process::id();
        assert_eq!(
            registry.resolve(family.grandchild, supervisor),
            PeerOrigin::SupervisorChild
        );
        assert_eq!(
            registry.resolve(supervisor, supervisor),
            PeerOrigin::Outside,
            "the supervisor itself (an in-process client) is not its own child"
        );
    }

    #[test]
    fn a_peer_that_is_gone_cannot_be_placed() {
        let mut child = Command::new("true").spawn().expect("true runs");
        let pid = child.id();
        child.wait().expect("reaped");
        let registry = SessionRegistry::new();
        assert_eq!(registry.resolve(pid, std::process::id()), PeerOrigin::Gone);
    }

    #[test]
    fn a_peer_on_a_sessions_terminal_is_that_agent() {
        let (session, _master) = Family::start_on_terminal();
        let registry = SessionRegistry::new();
        assert!(registry.register(session.child.id(), agent("r/polecats/t")));
        let tty = ProcStat::read(session.grandchild).expect("alive").tty_nr;
        assert_ne!(tty, 0, "the grandchild kept the session's terminal");
        // The grandchild is re-parented away (its registered ancestor forgotten, as after a
        // double fork): only its terminal ties it to the session.
        let stat = ProcStat::read(session.child.id()).expect("alive");
        registry.lock().insert(
            session.child.id(),
            Entry {
                start_time: stat.start_time + 1,
                tty_nr: tty,
                identity: agent("r/polecats/t"),
            },
        );
        let origin = registry.resolve(session.grandchild, u32::MAX);
        let expected = PeerOrigin::Session {
            identity: agent("r/polecats/t"),
            by: "terminal",
        };
        assert_eq!(origin, expected);
        let outsider = Family::start();
        assert_eq!(
            registry.resolve(outsider.grandchild, u32::MAX),
            PeerOrigin::Outside,
            "another terminal (or none) is not the session's"
        );
    }
}
