//! Running a rig's gates: one shell command (`sh -c`) in a worktree, in its own process group,
//! with stdout and stderr captured together and the configured timeout. A gate that runs too
//! long has its whole process group killed, so nothing it started outlives it. Every gate is a
//! recorded group of [`crate::groups`] (it dies with the process that started it); one stopped by
//! `gastown run`'s shutdown is [`RigError::GateStopped`], never a failing gate.

use super::Rig;
use super::config::Gate;
use super::error::{Result, RigError};
use serde::Serialize;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::defaults::{GATE_LINGER as LINGER, GATE_OUTPUT_CAP as OUTPUT_CAP};
use crate::groups;

/// How a gate run went.
#[derive(Debug, Clone, Serialize)]
pub struct GateOutcome {
    pub gate: Gate,
    /// The command that ran (`None`: the rig has no such gate, which counts as passing).
    pub command: Option<String>,
    /// It exited 0 in time (or there was nothing to run).
    pub ok: bool,
    /// stdout and stderr interleaved as written, at most the last 256 KiB.
    pub output: String,
    /// It ran past the timeout and its process group was killed.
    pub timed_out: bool,
    /// The shell's exit code (`None` when killed by a signal, timed out or skipped).
    pub exit_code: Option<i32>,
    /// How long it ran.
    #[serde(with = "millis")]
    pub elapsed: Duration,
}

mod millis {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// Run `gate` of `rig` in `worktree` with the rig's gate timeout. A gate the rig does not define
/// passes without running anything. `Err` only when the shell cannot be started.
pub fn run_gate(rig: &Rig, gate: Gate, worktree: &Path) -> Result<GateOutcome> {
    let Some(command) = rig.config.gates.command(gate) else {
        return Ok(GateOutcome {
            gate,
            command: None,
            ok: true,
            output: String::new(),
            timed_out: false,
            exit_code: None,
            elapsed: Duration::ZERO,
        });
    };
    let started = Instant::now();
    let env = [
        ("GASTOWN_RIG", rig.name()),
        ("GASTOWN_GATE", &gate.to_string()),
    ];
    let label = format!("{} gate of rig {}: {command}", gate, rig.name());
    let run = run_shell(command, worktree, rig.config.gates.timeout.0, &env, &label)?;
    Ok(GateOutcome {
        gate,
        command: Some(command.to_string()),
        ok: !run.timed_out && run.status.is_some_and(|s| s.success()),
        output: run.output,
        timed_out: run.timed_out,
        exit_code: run.status.and_then(|s| s.code()),
        elapsed: started.elapsed(),
    })
}

struct ShellRun {
    /// `None` when it timed out.
    status: Option<ExitStatus>,
    output: String,
    timed_out: bool,
}

fn run_shell(
    command: &str,
    dir: &Path,
    timeout: Duration,
    env: &[(&str, &str)],
    label: &str,
) -> Result<ShellRun> {
    let stopped = || RigError::GateStopped {
        command: command.to_string(),
    };
    if groups::gates_refused() {
        return Err(stopped());
    }
    let spawn_err = |error| RigError::GateSpawn {
        command: command.to_string(),
        dir: dir.to_path_buf(),
        error,
    };
    let (reader, writer) = std::io::pipe().map_err(spawn_err)?;
    let child = {
        // The Command holds copies of the pipe's write end: it must be dropped right after the
        // spawn so the pipe closes when the gate's processes are done with it.
        let launch = groups::launch("sh", &["-c".to_string(), command.to_string()]);
        let mut cmd = Command::new(&launch.program);
        cmd.args(&launch.args)
            .current_dir(dir)
            .envs(env.iter().copied())
            .env(&launch.token.0, &launch.token.1)
            .stdin(Stdio::null())
            .stdout(writer.try_clone().map_err(spawn_err)?)
            .stderr(writer)
            .process_group(0);
        let child = cmd.spawn().map_err(spawn_err)?;
        (child, launch)
    };
    let (child, launch) = child;
    let group = groups::started(&launch, child.id(), groups::Kind::Gate, label);
    let pgid = i32::try_from(child.id()).expect("pids fit in i32");
    let (out_tx, out_rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = out_tx.send(read_tail(reader));
    });
    let (exit_tx, exit_rx) = mpsc::channel();
    let mut child = child;
    thread::spawn(move || {
        let _ = exit_tx.send(child.wait());
    });
    let (status, timed_out) = match exit_rx.recv_timeout(timeout) {
        Ok(status) => (Some(status.map_err(spawn_err)?), false),
        Err(_) => {
            // The shell is alive or an unreaped zombie, so its pid still names its group.
            kill_group(pgid);
            let _ = exit_rx.recv();
            (None, true)
        }
    };
    let output = match out_rx.recv_timeout(LINGER) {
        Ok(text) => text,
        Err(_) => {
            // Something the gate started in the background still holds the pipe; it is in the
            // gate's group (keeping the group id alive), so kill the group and take what came.
            kill_group(pgid);
            out_rx.recv_timeout(LINGER).unwrap_or_default()
        }
    };
    if groups::aborted(group.pgid()) {
        return Err(stopped());
    }
    drop(group);
    Ok(ShellRun {
        status,
        output,
        timed_out,
    })
}

fn kill_group(pgid: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Read until EOF, keeping the last [`OUTPUT_CAP`] bytes.
fn read_tail(mut reader: impl Read) -> String {
    let mut kept = Vec::new();
    let mut cut = false;
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => kept.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
        if kept.len() > 2 * OUTPUT_CAP {
            kept.drain(..kept.len() - OUTPUT_CAP);
            cut = true;
        }
    }
    if kept.len() > OUTPUT_CAP {
        kept.drain(..kept.len() - OUTPUT_CAP);
        cut = true;
    }
    let text = String::from_utf8_lossy(&kept).into_owned();
    if cut {
        format!("[… earlier output cut …]\n{text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_the_tail() {
        let big = vec![b'a'; 3 * OUTPUT_CAP];
        let mut input = big.clone();
        input.extend_from_slice(b"END");
        let text = read_tail(&input[..]);
        assert!(text.starts_with("[… earlier output cut …]\n"));
        assert!(text.ends_with("END"));
        assert!(text.len() < OUTPUT_CAP + 100);
    }
}
