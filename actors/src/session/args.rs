//! The session's configuration ([`SessionArgs`], [`NudgeOptions`]) with its defaults in one place,
//! and the typed, serde-serializable replies ([`SessionSnapshot`], [`Attachment`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::pty::ExitInfo;
pub use gastown_town::runtimes::dialogs::Dialog;

/// Default PTY height.
pub const DEFAULT_ROWS: u16 = 40;
/// Default PTY width.
pub const DEFAULT_COLS: u16 = 120;
/// Largest PTY height a session accepts; larger requests are clamped to it.
///
/// The screen model keeps a cell per row and column, and a client chooses the size (an attach,
/// a resize): without a bound, 65535×65535 would ask for billions of cells.
pub const MAX_ROWS: u16 = 500;
/// Largest PTY width a session accepts; larger requests are clamped to it.
pub const MAX_COLS: u16 = 1000;

/// A terminal size within `1..=MAX_ROWS` × `1..=MAX_COLS`: every size that reaches a session
/// (its arguments, a resize) goes through this.
pub fn clamp_size(rows: u16, cols: u16) -> (u16, u16) {
    (rows.clamp(1, MAX_ROWS), cols.clamp(1, MAX_COLS))
}

/// Raw input (attach keystrokes) a session accepts ahead of the agent reading it; more is
/// refused with `WriteError::Backlog` until the agent catches up.
pub const MAX_PENDING_INPUT: usize = 1 << 20;

/// Default quiet period after which a session without new output counts as idle.
pub const DEFAULT_QUIET_PERIOD: Duration = Duration::from_millis(500);
/// Default time a stop waits after SIGTERM before SIGKILL.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Default size of the raw output ring.
pub const DEFAULT_RING_BYTES: usize = 256 * 1024;
/// Default time the startup prompt waits for the session to become ready.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything needed to start one session. Build with [`SessionArgs::new`] and set fields.
#[derive(Clone, Debug)]
pub struct SessionArgs {
    /// Program to run (looked up in `PATH` like a shell would).
    pub program: String,
    /// Its arguments (a runtime that takes the startup prompt as an argument puts it here).
    pub args: Vec<String>,
    /// Extra environment on top of the supervisor's (`GASTOWN_*`, the hook). `TERM` defaults to
    /// `xterm-256color` when neither this nor the supervisor sets it.
    pub env: Vec<(String, String)>,
    /// Working directory; must exist (spawning fails instead of silently using `$HOME`).
    pub cwd: PathBuf,
    /// PTY height in rows.
    pub rows: u16,
    /// PTY width in columns.
    pub cols: u16,
    /// Text that, when visible on the screen, means the agent is at its prompt. `None`: quiet
    /// output alone means idle.
    pub ready_marker: Option<String>,
    /// How long without output counts as idle.
    pub quiet_period: Duration,
    /// Text typed once the session is first idle (the GUPP prompt for runtimes that take it typed).
    pub startup_input: Option<String>,
    /// How long the startup input may wait for readiness before the session fails.
    pub startup_timeout: Duration,
    /// How long a stop waits after SIGTERM before SIGKILL.
    pub stop_timeout: Duration,
    /// Bytes of raw output kept in the ring.
    pub ring_bytes: usize,
    /// Timeouts used by nudges that do not bring their own.
    pub nudge: NudgeOptions,
    /// Told once how the session ended, whatever ended it (the agent's exit, a stop from the
    /// supervisor, a kill of the actor). `None`: nobody asked.
    pub on_end: Option<EndNotice>,
    /// Told the agent's pid right after it is spawned, before anything else of the session
    /// runs (the supervisor's session registry: a process inside the session is its agent).
    /// `None`: nobody asked.
    pub on_start: Option<StartNotice>,
    /// The runtime's blocking screens: while one shows, the session is not idle (nothing is
    /// typed into it), its snapshot says `blocked`, and one with a safe answer is answered.
    pub dialogs: Vec<Dialog>,
    /// Held: the session is started but waits, shown blocked by this usage limit (a line such
    /// as `claude limited until …`) until it is started again; nothing is typed into it and it
    /// is never idle. For a session whose runtime is at its usage limit when it starts (it is
    /// given no startup prompt either, so it spends nothing against the limit).
    pub held: Option<String>,
    /// Told once, with the dialog (`login: …`), when one nobody may answer has stayed on the
    /// screen for a while: someone must. `None`: nobody asked.
    pub on_blocked: Option<BlockedNotice>,
}

/// How a session ended, for [`SessionArgs::on_end`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionEnd {
    /// The agent's pid (its process group).
    pub pid: u32,
    /// The agent's exit status, when it was reaped.
    pub exit: Option<ExitInfo>,
    /// The session was stopped from outside (a `Terminate`, or its supervisor stopping it: a
    /// restart, a shutdown) before the agent ended on its own.
    pub stopped: bool,
}

impl std::fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.exit, self.stopped) {
            (_, true) => f.write_str("stopped by the supervisor"),
            (Some(exit), false) => write!(f, "{exit}"),
            (None, false) => f.write_str("ended (exit status unknown)"),
        }
    }
}

/// A callback told how a session ended (see [`SessionArgs::on_end`]).
#[derive(Clone)]
pub struct EndNotice(pub Arc<dyn Fn(SessionEnd) + Send + Sync>);

impl std::fmt::Debug for EndNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndNotice")
    }
}

/// A callback told of a dialog that blocks the session (see [`SessionArgs::on_blocked`]).
#[derive(Clone)]
pub struct BlockedNotice(pub Arc<dyn Fn(String) + Send + Sync>);

impl std::fmt::Debug for BlockedNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlockedNotice")
    }
}

/// A callback told the pid of a session's agent once it is spawned (see
/// [`SessionArgs::on_start`]).
#[derive(Clone)]
pub struct StartNotice(pub Arc<dyn Fn(u32) + Send + Sync>);

impl std::fmt::Debug for StartNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StartNotice")
    }
}

impl SessionArgs {
    /// Arguments for `program` in `cwd` with every other field at its default.
    pub fn new(program: impl Into<String>, cwd: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: cwd.into(),
            rows: DEFAULT_ROWS,
            cols: DEFAULT_COLS,
            ready_marker: None,
            quiet_period: DEFAULT_QUIET_PERIOD,
            startup_input: None,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            ring_bytes: DEFAULT_RING_BYTES,
            nudge: NudgeOptions::default(),
            on_end: None,
            on_start: None,
            dialogs: Vec::new(),
            held: None,
            on_blocked: None,
        }
    }
}

/// Timeouts of one nudge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NudgeOptions {
    /// How long to wait for the session to become idle before giving up with `NotIdle`.
    pub idle_timeout: Duration,
    /// How long to wait for the typed text to show up before giving up with `NotEchoed`.
    pub echo_timeout: Duration,
    /// Whether to wait for the session to be idle before typing (`false` for urgent input: a busy
    /// runtime queues a submitted prompt, as Claude Code and Codex do).
    pub wait_idle: bool,
    /// How long, after each Enter, to wait for the runtime to take the turn (its input line no
    /// longer ends with the text) before pressing Enter again; after [`SUBMIT_ATTEMPTS`] Enters
    /// the nudge fails with `NotTaken`.
    pub turn_timeout: Duration,
}

/// How many times a nudge presses Enter before it gives up with `NotTaken`.
pub const SUBMIT_ATTEMPTS: u32 = 3;

impl Default for NudgeOptions {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30),
            echo_timeout: Duration::from_secs(5),
            wait_idle: true,
            turn_timeout: Duration::from_secs(3),
        }
    }
}

impl NudgeOptions {
    /// The longest a nudge can take; a caller's call timeout must be at least this.
    pub fn worst_case(&self) -> Duration {
        let idle = if self.wait_idle {
            self.idle_timeout
        } else {
            Duration::ZERO
        };
        idle + self.echo_timeout + self.turn_timeout * SUBMIT_ATTEMPTS + Duration::from_secs(1)
    }
}

/// A point-in-time view of a session, for `gastown actors` and `gastown actor`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionSnapshot {
    /// Pid of the agent process, which is also its process-group id.
    pub pid: u32,
    /// The program that was started.
    pub program: String,
    /// Wall-clock start, milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    /// Milliseconds since the start.
    pub uptime_ms: u64,
    /// Wall-clock time of the last output byte, if any.
    pub last_output_at_ms: Option<u64>,
    /// Wall-clock time of the last input write, if any.
    pub last_input_at_ms: Option<u64>,
    /// Whether the session is idle right now (quiet and, if configured, the marker is visible).
    pub idle: bool,
    /// Whether the readiness marker is visible (true when there is none).
    pub ready: bool,
    /// How the agent exited, once it has.
    pub exit: Option<ExitInfo>,
    /// Output bytes read from the PTY.
    pub bytes_out: u64,
    /// Input bytes written to the PTY.
    pub bytes_in: u64,
    /// Output bytes held in the ring right now (never more than `ring_bytes`).
    pub retained_bytes: usize,
    /// Current PTY height.
    pub rows: u16,
    /// Current PTY width.
    pub cols: u16,
    /// The blocking dialog on the screen, if one shows: its name and the screen line that
    /// matched (`trust: Is this a project you created or one you trust?`).
    pub blocked: Option<String>,
}

/// What `attach` needs: the current screen (to paint first) and every later output chunk.
#[derive(Debug)]
pub struct Attachment {
    /// The screen as escape sequences that redraw it on a terminal of the same size.
    pub screen: Vec<u8>,
    /// Output chunks after `screen`, gap-free. A receiver that falls behind gets `Lagged` and
    /// should repaint from a fresh `Subscribe`.
    pub output: broadcast::Receiver<Arc<[u8]>>,
    /// PTY height at the time of the snapshot.
    pub rows: u16,
    /// PTY width at the time of the snapshot.
    pub cols: u16,
}
