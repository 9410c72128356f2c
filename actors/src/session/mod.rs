//! The session actor: owns one agent process in one PTY.
//!
//! **Architecture Invariant:** each PTY is owned by exactly one session actor. Its reader, writer,
//! child process group, output ring, screen model and timestamps live in [`SessionState`] and
//! nowhere else; everyone else talks to it through [`SessionMsg`] (or the helpers in [`client`]).
//!
//! Exit semantics (see `docs/sessions.md`): the agent exiting with status 0 stops the actor
//! normally (reason `agent exited: exit code 0`); a non-zero exit or a signal makes the actor fail
//! with [`SessionCrashed`], so its supervisor treats it as abnormal and restarts it. A stop from
//! outside (`Terminate`, or the supervisor stopping the actor) terminates the whole process group:
//! SIGTERM, up to `stop_timeout`, then SIGKILL.
//!
//! ```no_run
//! # async fn demo(supervisor: ractor::ActorCell) -> Result<(), Box<dyn std::error::Error>> {
//! use gastown_actors::session::{client, Session, SessionArgs};
//! let mut args = SessionArgs::new("sh", "/tmp");
//! args.args = vec!["-c".into(), "echo READY; while read l; do echo got:$l; done".into()];
//! args.ready_marker = Some("READY".into());
//! let (session, _handle) =
//!     ractor::Actor::spawn_linked(Some("myrig/crew/max/session".into()), Session, args, supervisor).await?;
//! client::nudge(&session, "hello", Default::default()).await?;
//! println!("{}", client::peek(&session, Some(5)).await?);
//! # Ok(()) }
//! ```

mod args;
pub mod client;
mod error;
mod input;
mod lifecycle;
mod pty;
mod screen;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant, SystemTime};

use portable_pty::{MasterPty, PtySize};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::{broadcast, mpsc, watch};

pub use args::{
    Attachment, BlockedNotice, DEFAULT_COLS, DEFAULT_QUIET_PERIOD, DEFAULT_RING_BYTES,
    DEFAULT_ROWS, DEFAULT_STARTUP_TIMEOUT, DEFAULT_STOP_TIMEOUT, EndNotice, MAX_COLS,
    MAX_PENDING_INPUT, MAX_ROWS, NudgeOptions, SUBMIT_ATTEMPTS, SessionArgs, SessionEnd,
    SessionSnapshot, StartNotice, clamp_size,
};
pub use error::{
    CallError, NudgeError, ResizeError, SessionCrashed, SpawnError, StartupInputFailed, WriteError,
};
pub use pty::{ExitInfo, group_alive};

use input::{InputCounters, InputJob, NudgeReply, OutputStatus};
use pty::GroupGuard;
use screen::OutputModel;

/// Output chunks an attached client may fall behind by before it gets `Lagged`.
const ATTACH_BACKLOG: usize = 256;
/// How long, after the agent exited, to wait for the reader to drain the last output.
const READER_GRACE: Duration = Duration::from_millis(500);
/// How often a session with known dialogs looks for one on its screen.
const DIALOG_CHECK: Duration = Duration::from_millis(250);
/// How long an answered dialog may stay on the screen before it is answered again (the CLI may
/// take a moment to redraw).
const DIALOG_REANSWER: Duration = Duration::from_secs(3);
/// How long a dialog nobody may answer stays on the screen before the session tells
/// `on_blocked` (a CLI may flash one while it starts).
pub const DIALOG_ESCALATE_AFTER: Duration = Duration::from_secs(5);

/// The session actor (unit struct; all state is in [`SessionState`]).
pub struct Session;

/// Messages of the session actor. Requests carry a reply port and are meant to be called with a
/// timeout (see [`client`]); the `#[doc(hidden)]` ones come from the session's own threads.
pub enum SessionMsg {
    /// The screen (`lines: None`) or its last `n` lines (more lines than the screen has are
    /// rendered from the output ring).
    Peek {
        lines: Option<usize>,
        reply: RpcReplyPort<String>,
    },
    /// Pid, timestamps, exit status, byte counts.
    Snapshot(RpcReplyPort<SessionSnapshot>),
    /// Raw bytes for the PTY (attach keystrokes), through the input queue.
    Write {
        bytes: Vec<u8>,
        reply: RpcReplyPort<Result<(), WriteError>>,
    },
    /// New window size for the PTY and the screen model.
    Resize {
        rows: u16,
        cols: u16,
        reply: RpcReplyPort<Result<(), ResizeError>>,
    },
    /// Wait for idle, type `text`, check it landed, press Enter. `None` uses the session's defaults.
    Nudge {
        text: String,
        options: Option<NudgeOptions>,
        reply: RpcReplyPort<Result<(), NudgeError>>,
    },
    /// The current screen plus every later output chunk (for attach).
    Subscribe(RpcReplyPort<Attachment>),
    /// Stop: SIGTERM to the group, SIGKILL after `stop_timeout`; replies with the exit status once
    /// the group is gone, then the actor stops with reason `shutdown: terminated`.
    Terminate(RpcReplyPort<Option<ExitInfo>>),
    /// SIGKILL to the group now; the actor then fails as crashed (for `gastown kill`).
    Kill(RpcReplyPort<()>),
    #[doc(hidden)]
    Output(Vec<u8>),
    #[doc(hidden)]
    ReaderClosed,
    #[doc(hidden)]
    ChildExited(ExitInfo),
    #[doc(hidden)]
    FinishDeadline,
    #[doc(hidden)]
    IdleCheck(RpcReplyPort<bool>),
    #[doc(hidden)]
    DialogCheck,
    #[doc(hidden)]
    ScreenCount {
        needle: String,
        reply: RpcReplyPort<usize>,
    },
    #[doc(hidden)]
    EchoCheck {
        needle: String,
        since: u64,
        baseline: usize,
        reply: RpcReplyPort<bool>,
    },
    #[doc(hidden)]
    StartupFailed(NudgeError),
    /// Whether the input line (the logical line holding the cursor) still ends with `tail`.
    #[doc(hidden)]
    InputLineHolds {
        tail: String,
        reply: RpcReplyPort<bool>,
    },
    /// Whether a blocking dialog is on the screen (urgent input, which does not wait for idle,
    /// must still never be typed into one).
    #[doc(hidden)]
    DialogShown(RpcReplyPort<bool>),
}

/// Everything one session owns. Built in `pre_start`; dropping it SIGKILLs any group member
/// still alive (the guard), so even a killed actor leaves no process behind.
pub struct SessionState {
    /// The arguments it was started with (program, quiet period, timeouts).
    args: SessionArgs,
    /// Agent pid = its process-group id.
    pid: u32,
    /// PTY master, kept for resize; the reader and writer hold clones of its fd.
    master: Box<dyn MasterPty + Send>,
    /// Ring buffer + screen model + readiness.
    model: OutputModel,
    /// Monotonic start, for uptime.
    started_at: Instant,
    /// Wall-clock start, for display.
    started_wall: SystemTime,
    /// Wall-clock time of the last output, for display.
    last_output_wall: Option<SystemTime>,
    /// Idle-detection feed for the input worker.
    status: watch::Sender<OutputStatus>,
    /// The input queue (drained by the input worker task).
    input: mpsc::UnboundedSender<InputJob>,
    /// Bytes in / last input time, written by the writer.
    counters: Arc<InputCounters>,
    /// Output fan-out for attached clients.
    output: broadcast::Sender<Arc<[u8]>>,
    /// Returns a read credit to the reader thread after each chunk.
    credits: SyncSender<()>,
    /// The exit status once the waiter thread reaped the agent.
    exit: watch::Receiver<Option<ExitInfo>>,
    /// The reader saw EOF/EIO: no more output will come.
    reader_closed: bool,
    /// The agent exited and its group is gone; the actor stops once the reader is drained.
    finishing: bool,
    /// Stopped from outside before the agent ended on its own (for [`SessionEnd::stopped`]).
    stopped: bool,
    /// The dialog last seen on the screen, so each is reported once, answered at most every
    /// [`DIALOG_REANSWER`], and told to `on_blocked` once.
    dialog_seen: Option<DialogSeen>,
    /// Kills the group if the state is dropped without a clean stop.
    _guard: GroupGuard,
}

impl Drop for SessionState {
    /// Every end of the session, however it came, is told once to `on_end`.
    fn drop(&mut self) {
        if let Some(notice) = self.args.on_end.take() {
            (notice.0)(SessionEnd {
                pid: self.pid,
                exit: self.exit.borrow().clone(),
                stopped: self.stopped,
            });
        }
    }
}

impl Actor for Session {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        // openpty + fork/exec block for a moment (longer in a big process): not on a runtime thread.
        // The start notice runs on the same thread right after the spawn: the agent's pid is
        // known to the supervisor before the agent can have started anything.
        let (spawned, args) = tokio::task::spawn_blocking(move || {
            let spawned = pty::spawn(&args);
            if let (Ok(spawned), Some(notice)) = (&spawned, &args.on_start) {
                (notice.0)(spawned.pid);
            }
            (spawned, args)
        })
        .await
        .map_err(|error| SpawnError::Thread {
            reason: error.to_string(),
        })?;
        Ok(lifecycle::start(myself, args, spawned?)?)
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        message: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SessionMsg::Peek { lines, reply } => ignore_gone(reply.send(state.model.peek(lines))),
            SessionMsg::Snapshot(reply) => ignore_gone(reply.send(state.snapshot())),
            SessionMsg::Write { bytes, reply } => state.enqueue_write(bytes, reply),
            SessionMsg::Resize { rows, cols, reply } => {
                ignore_gone(reply.send(state.resize(rows, cols)))
            }
            SessionMsg::Nudge {
                text,
                options,
                reply,
            } => state.enqueue_nudge(text, options, reply),
            SessionMsg::Subscribe(reply) => ignore_gone(reply.send(state.attachment())),
            SessionMsg::Terminate(reply) => state.terminate(&myself, reply).await,
            SessionMsg::Kill(reply) => {
                tracing::info!(pid = state.pid, "killing session process group (SIGKILL)");
                pty::kill_group(state.pid);
                ignore_gone(reply.send(()));
            }
            SessionMsg::Output(chunk) => state.on_output(&chunk),
            SessionMsg::ReaderClosed => {
                state.reader_closed = true;
                if state.finishing {
                    return state.finish(&myself);
                }
            }
            SessionMsg::ChildExited(exit) => return state.on_child_exited(&myself, exit).await,
            SessionMsg::FinishDeadline => return state.finish(&myself),
            SessionMsg::IdleCheck(reply) => ignore_gone(
                reply.send(state.model.is_idle(Instant::now(), state.args.quiet_period)),
            ),
            SessionMsg::DialogCheck => state.check_dialog(),
            SessionMsg::ScreenCount { needle, reply } => {
                ignore_gone(reply.send(state.model.screen_count(&needle)))
            }
            SessionMsg::EchoCheck {
                needle,
                since,
                baseline,
                reply,
            } => {
                ignore_gone(reply.send(state.model.echoed(&needle, since, baseline)));
            }
            SessionMsg::InputLineHolds { tail, reply } => {
                ignore_gone(reply.send(state.model.input_line_holds(&tail)));
            }
            SessionMsg::DialogShown(reply) => {
                ignore_gone(reply.send(state.model.blocking().is_some()));
            }
            // An agent that exits before its prompt is typed is judged by its exit, not by this.
            SessionMsg::StartupFailed(error) if state.exit.borrow().is_none() => {
                return Err(Box::new(StartupInputFailed(error)));
            }
            SessionMsg::StartupFailed(_) => {}
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SessionMsg>,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        state.publish_status(true);
        if state.exit.borrow().is_none() {
            state.stopped = true;
        }
        let outcome =
            pty::terminate_group(state.pid, &mut state.exit, state.args.stop_timeout).await;
        tracing::debug!(pid = state.pid, ?outcome, "session stopped");
        Ok(())
    }
}

/// A blocking dialog as the session saw it.
struct DialogSeen {
    /// `name: line`, as the snapshot shows it.
    shown: String,
    /// When it appeared.
    since: Instant,
    /// When it was last answered, if it has a safe answer.
    answered: Option<Instant>,
    /// Whether `on_blocked` was told.
    told: bool,
}

/// A reply port whose caller gave up (timed out) is not an error of the session.
fn ignore_gone<E>(_result: Result<(), E>) {}

impl SessionState {
    fn on_output(&mut self, chunk: &[u8]) {
        let now = Instant::now();
        self.model.push(chunk, now);
        self.last_output_wall = Some(SystemTime::now());
        let _ = self.output.send(Arc::from(chunk));
        self.publish_status(self.exit.borrow().is_some());
        let _ = self.credits.try_send(());
    }

    /// A blocking dialog on the screen is reported once and, when it has a safe answer,
    /// answered (through the input queue, like an attached human's keys).
    fn check_dialog(&mut self) {
        let Some(blocking) = self.model.blocking() else {
            self.dialog_seen = None;
            return;
        };
        let shown = blocking.to_string();
        if self
            .dialog_seen
            .as_ref()
            .is_none_or(|seen| seen.shown != shown)
        {
            match blocking.dialog.answer {
                Some(_) => tracing::info!(pid = self.pid, dialog = %shown, "answering a dialog"),
                None if blocking.dialog.name == gastown_town::limits::signals::USAGE_LIMIT => {
                    tracing::info!(pid = self.pid, dialog = %shown, "session waits out a usage limit")
                }
                None => tracing::warn!(
                    pid = self.pid,
                    dialog = %shown,
                    "session blocked by a dialog a human must answer (gastown attach)"
                ),
            }
            self.dialog_seen = Some(DialogSeen {
                shown: shown.clone(),
                since: Instant::now(),
                answered: None,
                told: false,
            });
        }
        let Some(seen) = self.dialog_seen.as_mut() else {
            return;
        };
        // A CLI at its usage limit waits at its prompt, printing nothing; one still printing
        // (a spinner, a tool's output) is working, whatever its screen says.
        let quiet = blocking.dialog.name != gastown_town::limits::signals::USAGE_LIMIT
            || self.model.last_output_at.elapsed() >= DIALOG_ESCALATE_AFTER;
        let Some(keys) = blocking.dialog.answer else {
            if !seen.told && quiet && seen.since.elapsed() >= DIALOG_ESCALATE_AFTER {
                seen.told = true;
                if let Some(notice) = &self.args.on_blocked {
                    (notice.0)(shown);
                }
            }
            return;
        };
        if seen
            .answered
            .is_some_and(|at| at.elapsed() < DIALOG_REANSWER)
        {
            return;
        }
        seen.answered = Some(Instant::now());
        let (reply, _outcome) = ractor::concurrency::oneshot();
        self.enqueue_write(keys.as_bytes().to_vec(), reply.into());
    }

    fn publish_status(&self, exited: bool) {
        self.status.send_replace(OutputStatus {
            last_output_at: self.model.last_output_at,
            bytes_out: self.model.ring.total(),
            bracketed_paste: self.model.parser.screen().bracketed_paste(),
            exited,
        });
    }

    /// Queues raw input, unless `MAX_PENDING_INPUT` bytes already wait for the agent.
    fn enqueue_write(&self, bytes: Vec<u8>, reply: RpcReplyPort<Result<(), WriteError>>) {
        let len = bytes.len();
        let pending = &self.counters.pending_raw;
        let admitted = pending.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
            held.checked_add(len)
                .filter(|total| *total <= MAX_PENDING_INPUT)
        });
        if let Err(held) = admitted {
            let max = MAX_PENDING_INPUT;
            ignore_gone(reply.send(Err(WriteError::Backlog { pending: held, max })));
            return;
        }
        if let Err(mpsc::error::SendError(InputJob::Write { reply, .. })) =
            self.input.send(InputJob::Write { bytes, reply })
        {
            pending.fetch_sub(len, Ordering::Relaxed);
            ignore_gone(reply.send(Err(WriteError::Closed)));
        }
    }

    fn enqueue_nudge(
        &self,
        text: String,
        options: Option<NudgeOptions>,
        reply: RpcReplyPort<Result<(), NudgeError>>,
    ) {
        let options = options.unwrap_or(self.args.nudge);
        // Whoever asks, a nudge types one line of inert text: a CR or ESC in it (a mail
        // subject, a bead title) must not submit or control anything.
        let text = gastown_town::text::for_typing(&text).into_owned();
        let job = InputJob::Nudge {
            text,
            options,
            reply: NudgeReply::Port(reply),
        };
        if let Err(mpsc::error::SendError(InputJob::Nudge {
            reply: NudgeReply::Port(reply),
            ..
        })) = self.input.send(job)
        {
            ignore_gone(reply.send(Err(NudgeError::Exited)));
        }
    }

    fn resize(&mut self, rows: u16, cols: u16) -> Result<(), ResizeError> {
        let (rows, cols) = clamp_size(rows, cols);
        let size = PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        };
        (self.master.resize(size)).map_err(|error| ResizeError::Pty {
            rows,
            cols,
            reason: format!("{error:#}"),
        })?;
        self.model.resize((rows, cols));
        Ok(())
    }

    fn attachment(&self) -> Attachment {
        let screen = self.model.parser.screen();
        let (rows, cols) = screen.size();
        Attachment {
            screen: screen.contents_formatted().into_bytes(),
            output: self.output.subscribe(),
            rows: rows.get(),
            cols: cols.get(),
        }
    }

    fn snapshot(&self) -> SessionSnapshot {
        let now = Instant::now();
        let last_input = self.counters.last_input_at_ms.load(Ordering::Relaxed);
        let (rows, cols) = self.model.parser.screen().size();
        SessionSnapshot {
            pid: self.pid,
            program: self.args.program.clone(),
            started_at_ms: unix_ms(self.started_wall),
            uptime_ms: millis(now.duration_since(self.started_at)),
            last_output_at_ms: self.last_output_wall.map(unix_ms),
            last_input_at_ms: (last_input != 0).then_some(last_input),
            idle: self.model.is_idle(now, self.args.quiet_period),
            ready: self.model.marker_visible(),
            exit: self.exit.borrow().clone(),
            bytes_out: self.model.ring.total(),
            bytes_in: self.counters.bytes_in.load(Ordering::Relaxed),
            retained_bytes: self.model.ring.len(),
            rows: rows.get(),
            cols: cols.get(),
            blocked: self.model.blocking().map(|b| b.to_string()),
        }
    }
}

/// Milliseconds since the Unix epoch (0 for times before it).
pub(crate) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(millis)
        .unwrap_or(0)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
