//! The live tree on the wire: `gastown actors` (every node) and `gastown actor` (one node and
//! its recent supervision events). `run::introspect` builds the nodes from the supervision
//! snapshot; the CLI renders them.

use gastown_supervision::SupervisorEvent;
use serde::{Deserialize, Serialize};

/// One node of the tree, as `gastown actors --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorNode {
    /// Its path in the tree, e.g. `town/mayor/session`.
    pub path: String,
    /// mayor, deacon, crew, polecat, session, agent, ledger, socket, …
    pub role: String,
    /// `supervisor` or `worker`.
    pub kind: String,
    /// `running`, `backing_off`, … (the supervision library's child states).
    pub state: String,
    /// The session's agent process (its process group), or null.
    pub pid: Option<u32>,
    /// Since its last start.
    pub uptime_ms: Option<u64>,
    /// Restarts since the tree started.
    pub restarts_total: u64,
    /// Restarts inside its supervisor's intensity window.
    pub restarts_recent: usize,
    /// The last failure's reason and time.
    pub last_failure: Option<String>,
    /// Messages waiting (for a role: its unread mail in the ledger too).
    pub mailbox_depth: Option<usize>,
    /// Strategy, for supervisors.
    pub strategy: Option<String>,
    pub children: Vec<ActorNode>,
    /// What the actor reports of its own work, when it has something to say (the witness: the
    /// steps it took on each polecat). Always present on the wire (bincode has no optional
    /// fields); `null` in JSON when there is nothing to say.
    #[serde(default)]
    pub note: Option<String>,
}

/// `gastown actor`: one node and the supervision events about it and below it, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorDetail {
    pub actor: ActorNode,
    pub events: Vec<ActorEvent>,
}

/// One supervision event, with the same fields and words as the supervision library's
/// [`SupervisorEvent`] prints as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorEvent {
    /// Path of the supervisor that reports.
    pub supervisor: String,
    /// Id of the child concerned.
    pub child: String,
    /// `started`, `exited`, `start_failed`, `restarted`, `backing_off`, `shutdown_killed`,
    /// `gave_up`.
    pub kind: String,
    /// The OTP report context: `progress`, `start_error`, `child_terminated`, …
    pub context: String,
    /// How the child exited (`normal`, `shutdown`, `abnormal`), for `exited`.
    pub exit: Option<String>,
    /// Why, in words.
    pub reason: String,
    /// Wait before the restart, for `backing_off`.
    pub delay_ms: Option<u64>,
    /// Wall-clock time, RFC 3339 with milliseconds.
    pub at: String,
}

impl From<&SupervisorEvent> for ActorEvent {
    fn from(e: &SupervisorEvent) -> ActorEvent {
        ActorEvent {
            supervisor: e.supervisor.clone(),
            child: e.child.clone(),
            kind: word(&e.kind),
            context: word(&e.context),
            exit: e.exit.as_ref().map(word),
            reason: e.reason.clone(),
            delay_ms: e.delay_ms,
            at: e.at.clone(),
        }
    }
}

/// The JSON word of a unit enum variant (`EventKind::GaveUp` → `gave_up`).
fn word<T: Serialize + std::fmt::Debug>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{value:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gastown_supervision::{Context, EventKind, ExitKind};

    #[test]
    fn an_event_prints_the_same_json_as_the_supervision_library() {
        let mut event = SupervisorEvent {
            supervisor: "town/rigs".into(),
            child: "alpha".into(),
            kind: EventKind::GaveUp,
            context: Context::ReachedMaxRestartIntensity,
            exit: Some(ExitKind::Abnormal),
            reason: "too many restarts".into(),
            delay_ms: Some(250),
            at: "2026-01-02T03:04:05.678Z".into(),
        };
        let json = |e: &SupervisorEvent| serde_json::to_value(e).expect("json");
        let ours = |e: &SupervisorEvent| serde_json::to_value(ActorEvent::from(e)).expect("json");
        assert_eq!(ours(&event), json(&event));
        event.exit = None;
        event.delay_ms = None;
        event.kind = EventKind::BackingOff;
        event.context = Context::Progress;
        assert_eq!(ours(&event), json(&event));
    }
}
