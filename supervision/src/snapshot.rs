//! Introspection types: a snapshot of a supervisor's subtree and the short per-child listing of
//! `which_children`. All serializable, for tools that print or ship them as JSON.

use serde::Serialize;

use crate::backoff::Backoff;
use crate::spec::{ChildKind, Intensity, Restart, Strategy};

/// The life-cycle state of a child as its supervisor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildState {
    /// Its factory is running.
    Starting,
    /// Its actor is alive.
    Running,
    /// It waits for its backoff delay before the next start attempt.
    BackingOff,
    /// It was stopped as part of a group restart (or its retry is due) and waits to be started.
    Restarting,
    /// Its supervisor is stopping it.
    Stopping,
    /// Not running and not to be restarted (a transient child that ended, or a terminated child).
    Stopped,
}

/// The last failure of a child.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Failure {
    /// Why it failed (the error, the panic message, or `killed`).
    pub reason: String,
    /// Wall-clock time of the failure, RFC 3339.
    pub at: String,
}

/// A snapshot of one supervisor and, recursively, of the supervisors below it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SupervisorSnapshot {
    /// Path of the supervisor, e.g. `town/rigs`.
    pub path: String,
    /// Restart strategy.
    pub strategy: Strategy,
    /// Restart intensity.
    pub intensity: Intensity,
    /// Backoff configuration.
    pub backoff: Backoff,
    /// Bound on the number of children, if any.
    pub max_children: Option<usize>,
    /// Restarts counted against the intensity right now.
    pub restarts_in_window: usize,
    /// Time since the supervisor started, in milliseconds.
    pub uptime_ms: u64,
    /// Children in start order.
    pub children: Vec<ChildSnapshot>,
}

/// A snapshot of one child.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChildSnapshot {
    /// Path of the child (`supervisor path/child id`).
    pub path: String,
    /// Id within its supervisor.
    pub id: String,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Restart type.
    pub restart: Restart,
    /// Life-cycle state.
    pub state: ChildState,
    /// ractor id of the running actor.
    pub actor_id: Option<String>,
    /// Registry name, if any.
    pub name: Option<String>,
    /// Restarts of this child within the supervisor's intensity period.
    pub restarts_in_window: usize,
    /// Restarts of this child since its supervisor started.
    pub restarts_total: u64,
    /// Consecutive restarts counted by the backoff.
    pub consecutive_restarts: u32,
    /// Milliseconds until the next start attempt, while `backing_off`.
    pub retry_in_ms: Option<u64>,
    /// The most recent failure.
    pub last_failure: Option<Failure>,
    /// Time since this incarnation started, in milliseconds, while running.
    pub uptime_ms: Option<u64>,
    /// Messages waiting in its mailbox, when its factory gave a probe (ractor has no queue length).
    pub mailbox_depth: Option<usize>,
    /// The nested supervisor's own snapshot, for running children that are supervisors of this
    /// crate.
    pub supervisor: Option<Box<SupervisorSnapshot>>,
}

/// One line of `which_children`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChildInfo {
    /// Id within its supervisor.
    pub id: String,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Restart type.
    pub restart: Restart,
    /// Life-cycle state.
    pub state: ChildState,
    /// ractor id of the running actor.
    pub actor_id: Option<String>,
}
