//! Supervision events: a stream every subscriber can follow, each event also logged through
//! `tracing` with the supervisor, the OTP context, the reason and the offending child.

use std::time::{Duration, SystemTime};

use ractor::SupervisionEvent;
use serde::Serialize;
use tokio::sync::broadcast;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A child started for the first time (or was added).
    Started,
    /// A child exited; `exit` says how.
    Exited,
    /// A child's factory or `pre_start` failed; counts as a failure and as a restart.
    StartFailed,
    /// A child was started by the restart machinery: after its exit or failed start, or as a
    /// member of a group (one_for_all, rest_for_one) that waited for such a child.
    Restarted,
    /// A child's restart waits for `delay_ms` (the child is `backing_off`).
    BackingOff,
    /// A child did not stop within its shutdown timeout and was killed.
    ShutdownKilled,
    /// The supervisor reached its restart intensity, stopped its children and failed.
    GaveUp,
}

/// The OTP report context an event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Context {
    /// Normal progress (OTP's progress report): started, restarted, backing off.
    Progress,
    /// A child could not be started.
    StartError,
    /// A child exited.
    ChildTerminated,
    /// A child did not stop in time and had to be killed.
    ShutdownError,
    /// The supervisor gave up.
    ReachedMaxRestartIntensity,
}

/// How a child exited, in OTP's three classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitKind {
    /// The actor stopped itself (`myself.stop(None)` or any reason that is not `shutdown…`).
    Normal,
    /// The actor stopped with reason `shutdown` or `shutdown: …`.
    Shutdown,
    /// An `Err` from a handler, a panic, a failed `post_start`, or a kill.
    Abnormal,
}

impl ExitKind {
    /// Classifies a ractor supervision event into (exit kind, reason); `None` for events that are
    /// not exits.
    pub(crate) fn classify(event: &SupervisionEvent) -> Option<(ExitKind, String)> {
        match event {
            SupervisionEvent::ActorTerminated(_, _, reason) => Some(match reason.as_deref() {
                None => (ExitKind::Normal, "normal".to_string()),
                Some(reason @ ("killed" | "actor_task_cancelled")) => {
                    (ExitKind::Abnormal, reason.to_string())
                }
                Some(reason) if reason == "shutdown" || reason.starts_with("shutdown:") => {
                    (ExitKind::Shutdown, reason.to_string())
                }
                Some(reason) => (ExitKind::Normal, reason.to_string()),
            }),
            SupervisionEvent::ActorFailed(_, error) => {
                Some((ExitKind::Abnormal, error.to_string()))
            }
            _ => None,
        }
    }
}

/// One supervision event. Flat, so that it reads well as JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SupervisorEvent {
    /// Path of the supervisor that reports.
    pub supervisor: String,
    /// Id of the child concerned (for `gave_up`, the child whose restart was one too many).
    pub child: String,
    /// What happened.
    pub kind: EventKind,
    /// OTP report context.
    pub context: Context,
    /// How the child exited, for `exited`.
    pub exit: Option<ExitKind>,
    /// Why, in words.
    pub reason: String,
    /// Wait before the restart, for `backing_off`.
    pub delay_ms: Option<u64>,
    /// Wall-clock time of the event, RFC 3339 with milliseconds.
    pub at: String,
}

impl SupervisorEvent {
    /// An event stamped now.
    pub(crate) fn new(
        supervisor: &str,
        child: &str,
        kind: EventKind,
        reason: impl Into<String>,
    ) -> Self {
        let context = match kind {
            EventKind::Started | EventKind::Restarted | EventKind::BackingOff => Context::Progress,
            EventKind::StartFailed => Context::StartError,
            EventKind::Exited => Context::ChildTerminated,
            EventKind::ShutdownKilled => Context::ShutdownError,
            EventKind::GaveUp => Context::ReachedMaxRestartIntensity,
        };
        SupervisorEvent {
            supervisor: supervisor.to_string(),
            child: child.to_string(),
            kind,
            context,
            exit: None,
            reason: reason.into(),
            delay_ms: None,
            at: now_rfc3339(),
        }
    }

    /// Sets the exit kind.
    pub(crate) fn with_exit(mut self, exit: ExitKind) -> Self {
        self.exit = Some(exit);
        self
    }

    /// Sets the backoff delay.
    pub(crate) fn with_delay(mut self, delay: Duration) -> Self {
        self.delay_ms = Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Logs the event through `tracing` and sends it to the subscribers (if any).
    pub(crate) fn emit(self, events: &broadcast::Sender<SupervisorEvent>) {
        self.trace();
        // No subscriber is not an error: the stream is for whoever wants to watch.
        let _ = events.send(self);
    }

    /// Logs at a level that matches OTP's reports: progress at debug, errors at warn/error.
    fn trace(&self) {
        let (supervisor, child, reason) = (&self.supervisor, &self.child, &self.reason);
        let (kind, context, exit) = (self.kind, self.context, self.exit);
        match (self.context, self.exit) {
            (Context::Progress, _) => {
                tracing::debug!(
                    supervisor,
                    child,
                    ?kind,
                    ?context,
                    reason,
                    delay_ms = self.delay_ms,
                    "supervision"
                )
            }
            (Context::ChildTerminated, Some(ExitKind::Normal | ExitKind::Shutdown)) => {
                tracing::info!(
                    supervisor,
                    child,
                    ?kind,
                    ?context,
                    ?exit,
                    reason,
                    "supervision"
                )
            }
            (Context::ReachedMaxRestartIntensity, _) => {
                tracing::error!(supervisor, child, ?kind, ?context, reason, "supervision")
            }
            _ => tracing::warn!(
                supervisor,
                child,
                ?kind,
                ?context,
                ?exit,
                reason,
                "supervision"
            ),
        }
    }
}

/// The current wall-clock time in RFC 3339 with milliseconds.
pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
