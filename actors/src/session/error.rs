//! Error types of the session actor: one per operation, each saying what went wrong and what to do.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::pty::ExitInfo;

/// Why a session could not start (returned from `pre_start`, so `spawn` fails with it).
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The working directory does not exist.
    #[error("session working directory {} is not a directory; create it or fix the agent's home", cwd.display())]
    Cwd {
        /// The directory asked for.
        cwd: PathBuf,
    },
    /// No PTY could be opened.
    #[error("could not open a pseudo-terminal: {reason}; check /dev/ptmx and the open-file limit")]
    OpenPty {
        /// What the OS said.
        reason: String,
    },
    /// The program could not be started.
    #[error("could not start `{program}` in a PTY: {reason}; check the runtime command and PATH")]
    Spawn {
        /// The program asked for.
        program: String,
        /// What the OS said.
        reason: String,
    },
    /// The child has no pid (cannot happen on Unix).
    #[error("the spawned agent has no process id; this is a bug in the PTY layer")]
    NoPid,
    /// The reader or waiter thread could not be started.
    #[error("could not start a session I/O thread: {reason}; the process may be out of threads")]
    Thread {
        /// What the OS said.
        reason: String,
    },
}

/// The failure a session actor stops with when its agent crashed: a non-zero exit or a signal.
/// A supervisor sees it in `SupervisionEvent::ActorFailed` and may downcast to read `exit`.
#[derive(Debug, thiserror::Error)]
#[error("agent process {pid} ended abnormally ({exit}); its supervisor should restart the session")]
pub struct SessionCrashed {
    /// Pid of the agent process.
    pub pid: u32,
    /// How it ended.
    pub exit: ExitInfo,
}

/// The startup input could not be delivered, so the session is useless; the actor fails with this.
#[derive(Debug, thiserror::Error)]
#[error("startup input was not delivered: {0}")]
pub struct StartupInputFailed(pub NudgeError);

/// Why a request to a session got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum CallError {
    /// The session did not answer in time.
    #[error("session did not answer within {waited:?}; it may be overloaded, try again")]
    Timeout {
        /// How long the caller waited.
        waited: Duration,
    },
    /// The session actor is not running (it exited or is being restarted).
    #[error("session is not running; it may be restarting, try again in a moment")]
    Stopped,
}

/// Why a write to the PTY failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum WriteError {
    /// The agent did not read its input for too long (its input buffer is full).
    #[error("the agent has not read its input for {waited:?}; it may be hung")]
    Blocked {
        /// How long the write waited.
        waited: Duration,
    },
    /// The terminal is gone (the agent exited).
    #[error("the session's terminal is closed; the agent has exited")]
    Closed,
    /// The OS refused the write.
    #[error("writing to the session's terminal failed: {reason}")]
    Io {
        /// What the OS said.
        reason: String,
    },
    /// The request never reached the session or its answer never came back.
    #[error(transparent)]
    Call(#[from] CallError),
    /// Too much raw input is already waiting for the agent to read it.
    #[error(
        "the session already has {pending} bytes of input the agent has not read (the maximum is {max}): wait for it to take them, or send less at once"
    )]
    Backlog {
        /// Bytes accepted and not yet written.
        pending: usize,
        /// `MAX_PENDING_INPUT`.
        max: usize,
    },
}

/// Why a nudge was not delivered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum NudgeError {
    /// The session kept printing (or its prompt marker never showed) for the whole idle timeout.
    #[error(
        "session was not idle within {waited:?}; it is busy, try again later or raise the idle timeout"
    )]
    NotIdle {
        /// How long the nudge waited.
        waited: Duration,
    },
    /// The text was typed but never showed up on the screen; it may still sit in the input line.
    #[error("typed text did not appear within {waited:?}; the agent may be ignoring input")]
    NotEchoed {
        /// How long the nudge waited for the echo.
        waited: Duration,
    },
    /// The agent exited before the nudge was delivered.
    #[error("session exited before the nudge was delivered; its supervisor will restart it")]
    Exited,
    /// Writing to the terminal failed.
    #[error("nudge could not be typed: {0}")]
    Write(WriteError),
    /// The request never reached the session or its answer never came back.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The text was typed and Enter pressed, but the runtime never took the turn: the text still
    /// ends its input line (a dialog, or a runtime that took the Enter as part of a paste).
    #[error(
        "the agent did not take the typed text as a turn after {attempts} Enters ({waited:?} each); it may show a dialog: look with `gastown peek`"
    )]
    NotTaken {
        /// How many times Enter was pressed.
        attempts: u32,
        /// How long each Enter waited for the turn.
        waited: Duration,
    },
}

/// Why a resize failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ResizeError {
    /// The OS refused the new window size.
    #[error("could not resize the session's terminal to {rows}x{cols}: {reason}")]
    Pty {
        /// Requested rows.
        rows: u16,
        /// Requested columns.
        cols: u16,
        /// What the OS said.
        reason: String,
    },
    /// The request never reached the session or its answer never came back.
    #[error(transparent)]
    Call(#[from] CallError),
}
