//! Fixture: a town with `gastown run` up in a child process, stopped with SIGTERM on drop.

use crate::util::TestTown;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A town whose supervisor runs for the life of the value.
pub struct RunningTown {
    pub town: TestTown,
    pub child: Option<Child>,
}

/// Poll `check` until it returns `Some` or `limit` passes.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

impl RunningTown {
    /// Install a town with the rig `alpha` (agents are spawned only into rigs that exist) and
    /// start `gastown run` in it; returns once the socket answers.
    pub fn start() -> RunningTown {
        RunningTown::start_in(crate::util::town_with_rig())
    }

    pub fn start_in(town: TestTown) -> RunningTown {
        RunningTown::start_with_env(town, &[])
    }

    /// Start with extra environment for the supervisor (inherited by every session).
    pub fn start_with_env(town: TestTown, env: &[(&str, &str)]) -> RunningTown {
        let log =
            std::fs::File::create(town.root.join(".runtime").join("run.stderr")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_gastown"))
            .current_dir(&town.root)
            .env_remove("GASTOWN_TOWN")
            .env("GASTOWN_LOG", "info")
            .envs(env.iter().copied())
            .arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("gastown run starts");
        let running = RunningTown {
            town,
            child: Some(child),
        };
        wait_for("the supervisor's socket", Duration::from_secs(20), || {
            running
                .town
                .run(&["actors", "--json"])
                .status
                .success()
                .then_some(())
        });
        running
    }

    /// The tree as JSON.
    pub fn tree(&self) -> serde_json::Value {
        serde_json::from_str(&self.town.ok(&["actors", "--json"])).expect("actors --json is JSON")
    }

    /// The node at `path`, if it exists.
    pub fn node(&self, path: &str) -> Option<serde_json::Value> {
        find(&self.tree(), path)
    }

    /// The session pid of `role_path` (the role's supervisor path) once one runs.
    pub fn session_pid(&self, role_path: &str) -> Option<u32> {
        let node = self.node(&format!("{role_path}/session"))?;
        node["pid"].as_u64().map(|p| p as u32)
    }

    /// Send SIGTERM and wait for the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("still running");
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().expect("gastown run exits")
    }

    /// The supervisor's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.town.root.join(".runtime").join("run.stderr"))
            .unwrap_or_default()
    }
}

impl Drop for RunningTown {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child process.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn find(node: &serde_json::Value, path: &str) -> Option<serde_json::Value> {
    if node["path"] == path {
        return Some(node.clone());
    }
    node["children"]
        .as_array()?
        .iter()
        .find_map(|c| find(c, path))
}

/// Is any process of group `pgid` alive? A zombie is not: it runs no code, and an orphan's
/// zombie waits for PID 1, which in some containers never reaps it (the session's own leader is
/// the group leader shim, so a killed shim leaves the agent an orphan).
pub fn group_alive(pgid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence.
    if unsafe { libc::kill(-(pgid as i32), 0) } != 0 {
        return false;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .any(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
                return false;
            };
            let mut fields = rest.split(' ');
            let state = fields.next().unwrap_or("Z");
            let pgrp = fields.nth(1).and_then(|p| p.parse::<u32>().ok());
            pgrp == Some(pgid) && state != "Z" && state != "X"
        })
}
