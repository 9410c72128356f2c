//! The session's one input queue. Every byte that goes into the PTY — attach keystrokes, nudges,
//! the startup prompt — passes through [`InputWorker`], a task that runs one job at a time, so
//! two nudges can never interleave.
//!
//! A nudge (every typed input: the startup prompt, nudges, mail notices) waits until the session is
//! idle (unless it is urgent), types its text, waits until the text shows up (in the output since
//! the write, or once more on the screen), then presses Enter in a separate write — Claude Code
//! and Codex take text and Enter in one write as a paste and do not submit it — and checks that
//! the runtime took the turn: its input line no longer ends with the text. An Enter that was not
//! taken is pressed again, a bounded number of times ([`SUBMIT_ATTEMPTS`]); only then is the nudge
//! answered `Ok`, so a caller records "delivered" only after the turn; a nudge that did not land
//! erases its text again, so nothing is glued onto it. While a nudge waits for
//! idle, plain writes (an attached human's keystrokes) still go through, so a busy agent can be
//! interrupted; the type-verify-Enter part runs with nothing else in between.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use ractor::{ActorRef, RpcReplyPort};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::{NudgeError, NudgeOptions, SUBMIT_ATTEMPTS, SessionMsg, WriteError, unix_ms};

/// How long a single write may wait for the agent to drain its input.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the worker waits for the actor to answer an echo check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest prefix of the first line used to recognise the echo (long lines wrap or scroll).
const NEEDLE_CHARS: usize = 32;
/// Longest end of the last line used to see whether the text still sits on the input line.
const TAIL_CHARS: usize = 24;

/// What the actor publishes after every output chunk, for idle detection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutputStatus {
    /// When the last output arrived.
    pub(crate) last_output_at: std::time::Instant,
    /// Total output bytes so far (an absolute offset into the ring).
    pub(crate) bytes_out: u64,
    /// Whether the application asked for bracketed paste.
    pub(crate) bracketed_paste: bool,
    /// Whether the agent has exited.
    pub(crate) exited: bool,
}

/// Input-side counters, shared with the actor for snapshots.
#[derive(Debug, Default)]
pub(crate) struct InputCounters {
    pub(crate) bytes_in: AtomicU64,
    /// Unix milliseconds of the last write; 0 = never.
    pub(crate) last_input_at_ms: AtomicU64,
    /// Raw input bytes (attach keystrokes) accepted and not yet written to the PTY: bounded by
    /// `MAX_PENDING_INPUT`, so a client cannot queue memory behind an agent that reads nothing.
    pub(crate) pending_raw: AtomicUsize,
}

/// Who is waiting for a nudge's outcome.
pub(crate) enum NudgeReply {
    /// A caller with a reply port.
    Port(RpcReplyPort<Result<(), NudgeError>>),
    /// The startup input: a failure is sent to the actor, which then fails.
    Startup,
}

/// One entry of the input queue.
pub(crate) enum InputJob {
    /// Raw bytes (attach keystrokes).
    Write {
        bytes: Vec<u8>,
        reply: RpcReplyPort<Result<(), WriteError>>,
    },
    /// Wait for idle, type, verify, Enter.
    Nudge {
        text: String,
        options: NudgeOptions,
        reply: NudgeReply,
    },
}

/// Bytes to write, who waits for the result, and how many of them count in `pending_raw`.
type WriteRequest = (Vec<u8>, oneshot::Sender<std::io::Result<()>>, usize);

/// Owns the blocking PTY writer on its own thread (a write blocks while the agent's input buffer
/// is full).
pub(crate) struct PtyWriter {
    tx: std::sync::mpsc::Sender<WriteRequest>,
    counters: Arc<InputCounters>,
}

impl PtyWriter {
    pub(crate) fn start(
        mut writer: Box<dyn Write + Send>,
        counters: Arc<InputCounters>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel::<WriteRequest>();
        let pending = Arc::clone(&counters);
        super::pty::io_thread("session-writer").spawn(move || {
            while let Ok((bytes, done, accounted)) = rx.recv() {
                let result = writer.write_all(&bytes).and_then(|()| writer.flush());
                drop(bytes);
                pending.pending_raw.fetch_sub(accounted, Ordering::Relaxed);
                let _ = done.send(result);
            }
        })?;
        Ok(Self { tx, counters })
    }

    /// Writes bytes typed by the session itself (nudges, the startup prompt).
    async fn write(&self, bytes: Vec<u8>) -> Result<(), WriteError> {
        self.write_accounted(bytes, 0).await
    }

    /// Writes raw input whose `accounted` bytes were counted in `pending_raw` when it was
    /// accepted; the writer thread gives them back once they are written (or failed).
    async fn write_accounted(&self, bytes: Vec<u8>, accounted: usize) -> Result<(), WriteError> {
        let len = bytes.len() as u64;
        let (done, result) = oneshot::channel();
        if self.tx.send((bytes, done, accounted)).is_err() {
            self.counters
                .pending_raw
                .fetch_sub(accounted, Ordering::Relaxed);
            return Err(WriteError::Closed);
        }
        match tokio::time::timeout(WRITE_TIMEOUT, result).await {
            Err(_) => Err(WriteError::Blocked {
                waited: WRITE_TIMEOUT,
            }),
            Ok(Err(_)) => Err(WriteError::Closed),
            Ok(Ok(Err(error))) if error.raw_os_error() == Some(libc::EIO) => {
                Err(WriteError::Closed)
            }
            Ok(Ok(Err(error))) => Err(WriteError::Io {
                reason: error.to_string(),
            }),
            Ok(Ok(Ok(()))) => {
                self.counters.bytes_in.fetch_add(len, Ordering::Relaxed);
                self.counters
                    .last_input_at_ms
                    .store(unix_ms(SystemTime::now()), Ordering::Relaxed);
                Ok(())
            }
        }
    }
}

/// The task that drains the input queue.
pub(crate) struct InputWorker {
    pub(crate) jobs: mpsc::UnboundedReceiver<InputJob>,
    pub(crate) writer: PtyWriter,
    pub(crate) status: watch::Receiver<OutputStatus>,
    pub(crate) session: ActorRef<SessionMsg>,
    pub(crate) quiet_period: Duration,
}

struct PendingNudge {
    text: String,
    options: NudgeOptions,
    reply: NudgeReply,
}

impl InputWorker {
    pub(crate) async fn run(mut self) {
        let mut pending: VecDeque<PendingNudge> = VecDeque::new();
        loop {
            let job = match pending.pop_front() {
                Some(nudge) => InputJob::Nudge {
                    text: nudge.text,
                    options: nudge.options,
                    reply: nudge.reply,
                },
                None => match self.jobs.recv().await {
                    Some(job) => job,
                    None => return,
                },
            };
            match job {
                InputJob::Write { bytes, reply } => {
                    let accounted = bytes.len();
                    let _ = reply.send(self.writer.write_accounted(bytes, accounted).await);
                }
                InputJob::Nudge {
                    text,
                    options,
                    reply,
                } => {
                    let result = self.nudge(&text, options, &mut pending).await;
                    self.answer(reply, result);
                }
            }
        }
    }

    fn answer(&self, reply: NudgeReply, result: Result<(), NudgeError>) {
        match (reply, result) {
            (NudgeReply::Port(port), result) => {
                let _ = port.send(result);
            }
            (NudgeReply::Startup, Ok(())) => tracing::debug!("startup input delivered"),
            (NudgeReply::Startup, Err(error)) => {
                let _ = self.session.cast(SessionMsg::StartupFailed(error));
            }
        }
    }

    async fn nudge(
        &mut self,
        text: &str,
        options: NudgeOptions,
        pending: &mut VecDeque<PendingNudge>,
    ) -> Result<(), NudgeError> {
        if options.wait_idle {
            self.wait_idle(options.idle_timeout, pending).await?;
        } else if self.dialog_shown().await? {
            // Urgent input skips the wait for idle, never the dialog check: typed into a dialog
            // it would answer it. It fails now (the router tries again on its next pass).
            return Err(NudgeError::NotIdle {
                waited: Duration::ZERO,
            });
        }
        let needle = needle(text);
        let bytes_out = self.status.borrow().bytes_out;
        let baseline = self.screen_count(&needle).await?;
        let bracketed = self.status.borrow().bracketed_paste && text.contains('\n');
        self.writer
            .write(typed_bytes(text, bracketed))
            .await
            .map_err(NudgeError::Write)?;
        if !needle.is_empty()
            && let Err(error) = self
                .wait_echo(&needle, bytes_out, baseline, options.echo_timeout)
                .await
        {
            self.erase(text).await;
            return Err(error);
        }
        let tail = tail(text);
        for attempt in 1..=SUBMIT_ATTEMPTS {
            self.writer
                .write(b"\r".to_vec())
                .await
                .map_err(NudgeError::Write)?;
            if self.wait_turn(&tail, options.turn_timeout).await? {
                return Ok(());
            }
            tracing::debug!(attempt, "Enter not taken as a turn yet");
        }
        self.erase(text).await;
        Err(NudgeError::NotTaken {
            attempts: SUBMIT_ATTEMPTS,
            waited: options.turn_timeout,
        })
    }

    /// After a nudge that did not land, erases its text from the input line (one backspace per
    /// character; best effort), so the next input is not glued onto it.
    async fn erase(&self, text: &str) {
        let backspaces = vec![0x7f; text.chars().count()];
        if let Err(error) = self.writer.write(backspaces).await {
            tracing::debug!("cannot erase an undelivered nudge: {error}");
        }
    }

    /// Waits until the input line no longer ends with `tail` (the runtime took the turn); `false`
    /// when it still does after `timeout`.
    async fn wait_turn(&mut self, tail: &str, timeout: Duration) -> Result<bool, NudgeError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.status.borrow_and_update();
            if !self.input_line_holds(tail).await? {
                return Ok(true);
            }
            if self.status.borrow().exited {
                return Err(NudgeError::Exited);
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {
                    return Ok(!self.input_line_holds(tail).await?);
                }
                changed = self.status.changed() => changed.map_err(|_| NudgeError::Exited)?,
            }
        }
    }

    async fn dialog_shown(&self) -> Result<bool, NudgeError> {
        let call = self
            .session
            .call(SessionMsg::DialogShown, Some(CHECK_TIMEOUT));
        answer(call.await)
    }

    async fn input_line_holds(&self, tail: &str) -> Result<bool, NudgeError> {
        let tail = tail.to_string();
        let call = self.session.call(
            |reply| SessionMsg::InputLineHolds { tail, reply },
            Some(CHECK_TIMEOUT),
        );
        answer(call.await)
    }

    /// Waits until quiet (and marker visible); plain writes that arrive meanwhile are executed,
    /// nudges that arrive are queued behind this one.
    async fn wait_idle(
        &mut self,
        timeout: Duration,
        pending: &mut VecDeque<PendingNudge>,
    ) -> Result<(), NudgeError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut jobs_open = true;
        loop {
            let status = *self.status.borrow_and_update();
            if status.exited {
                return Err(NudgeError::Exited);
            }
            let quiet_until = status.last_output_at + self.quiet_period;
            let mut wake = deadline;
            if std::time::Instant::now() >= quiet_until {
                // Quiet long enough: let the actor check the marker on the current screen.
                if self.idle_check().await? {
                    return Ok(());
                }
            } else {
                wake = Instant::from_std(quiet_until).min(deadline);
            }
            if Instant::now() >= deadline {
                return Err(NudgeError::NotIdle {
                    waited: started.elapsed(),
                });
            }
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                changed = self.status.changed() => changed.map_err(|_| NudgeError::Exited)?,
                job = self.jobs.recv(), if jobs_open => match job {
                    Some(InputJob::Write { bytes, reply }) => {
                        let accounted = bytes.len();
                        let _ = reply.send(self.writer.write_accounted(bytes, accounted).await);
                    }
                    Some(InputJob::Nudge { text, options, reply }) => {
                        pending.push_back(PendingNudge { text, options, reply });
                    }
                    None => jobs_open = false,
                },
            }
        }
    }

    async fn wait_echo(
        &mut self,
        needle: &str,
        since: u64,
        baseline: usize,
        timeout: Duration,
    ) -> Result<(), NudgeError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.status.borrow_and_update();
            if self.echoed(needle, since, baseline).await? {
                return Ok(());
            }
            if self.status.borrow().exited {
                return Err(NudgeError::Exited);
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {
                    return match self.echoed(needle, since, baseline).await? {
                        true => Ok(()),
                        false => Err(NudgeError::NotEchoed { waited: timeout }),
                    };
                }
                changed = self.status.changed() => changed.map_err(|_| NudgeError::Exited)?,
            }
        }
    }

    async fn idle_check(&self) -> Result<bool, NudgeError> {
        answer(
            self.session
                .call(SessionMsg::IdleCheck, Some(CHECK_TIMEOUT))
                .await,
        )
    }

    async fn screen_count(&self, needle: &str) -> Result<usize, NudgeError> {
        let needle = needle.to_string();
        let call = self.session.call(
            |reply| SessionMsg::ScreenCount { needle, reply },
            Some(CHECK_TIMEOUT),
        );
        answer(call.await)
    }

    async fn echoed(&self, needle: &str, since: u64, baseline: usize) -> Result<bool, NudgeError> {
        let needle = needle.to_string();
        let check = |reply| SessionMsg::EchoCheck {
            needle,
            since,
            baseline,
            reply,
        };
        answer(self.session.call(check, Some(CHECK_TIMEOUT)).await)
    }
}

fn answer<T, E>(result: Result<ractor::rpc::CallResult<T>, E>) -> Result<T, NudgeError> {
    match result {
        Ok(ractor::rpc::CallResult::Success(value)) => Ok(value),
        _ => Err(NudgeError::Exited),
    }
}

/// The text that proves the nudge landed: the first non-blank line, trimmed, at most
/// [`NEEDLE_CHARS`] characters.
pub(crate) fn needle(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    line.chars().take(NEEDLE_CHARS).collect()
}

/// The text whose presence on the input line means the turn was not taken: the last non-blank
/// line's end, trimmed, at most [`TAIL_CHARS`] characters.
pub(crate) fn tail(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .unwrap_or("");
    let skip = line.chars().count().saturating_sub(TAIL_CHARS);
    line.chars().skip(skip).collect()
}

/// The bytes typed for `text`: as is, or wrapped in bracketed-paste markers when the application
/// enabled them and the text has several lines (so inner newlines do not submit early).
pub(crate) fn typed_bytes(text: &str, bracketed: bool) -> Vec<u8> {
    if bracketed {
        [b"\x1b[200~".as_slice(), text.as_bytes(), b"\x1b[201~"].concat()
    } else {
        text.as_bytes().to_vec()
    }
}
