//! Error kinds of the crate, one enum per concern, with messages that say what to do.

use ractor::SpawnErr;

/// A specification could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A humantime period did not parse.
    #[error("intensity period {text:?} is not a duration; write it like \"5s\" or \"1m 30s\"")]
    Period {
        /// The text given.
        text: String,
        /// Why humantime rejected it.
        source: humantime::DurationError,
    },
}

/// A call to a supervisor failed.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// The supervisor actor could not be spawned (for example a child failed to start and the
    /// supervisor gave up while starting).
    #[error("supervisor {path} failed to start: {source}")]
    Spawn {
        /// Path of the supervisor.
        path: String,
        /// ractor's reason.
        source: SpawnErr,
    },
    /// The supervisor is not running.
    #[error("supervisor {path} is not running; it was shut down or gave up (see its events)")]
    NotRunning {
        /// Path of the supervisor.
        path: String,
    },
    /// The supervisor did not answer a query in time.
    #[error(
        "supervisor {path} did not answer within {timeout_ms} ms; it may be busy stopping children, try again"
    )]
    Timeout {
        /// Path of the supervisor.
        path: String,
        /// How long the caller waited.
        timeout_ms: u64,
    },
    /// No child has this id.
    #[error("supervisor {path} has no child {id:?}; list them with which_children")]
    UnknownChild {
        /// Path of the supervisor.
        path: String,
        /// The id asked for.
        id: String,
    },
    /// The id is taken.
    #[error("supervisor {path} already has a child {id:?}; child ids must be unique, pick another")]
    DuplicateId {
        /// Path of the supervisor.
        path: String,
        /// The id given.
        id: String,
    },
    /// `max_children` reached.
    #[error(
        "supervisor {path} already has {max} children (max_children); terminate one or raise the bound"
    )]
    MaxChildren {
        /// Path of the supervisor.
        path: String,
        /// The bound.
        max: usize,
    },
    /// A child added with `start_child` or restarted with `restart_child` did not start.
    #[error("child {id:?} of supervisor {path} failed to start: {reason}")]
    StartFailed {
        /// Path of the supervisor.
        path: String,
        /// The child.
        id: String,
        /// Why.
        reason: String,
    },
    /// `delete_child` on a child that still runs.
    #[error("child {id:?} of supervisor {path} is still running; terminate_child it first")]
    StillRunning {
        /// Path of the supervisor.
        path: String,
        /// The child.
        id: String,
    },
}

/// The reason a supervisor fails with when it gives up; its parent sees it as the exit reason.
#[derive(Debug, thiserror::Error)]
#[error(
    "supervisor {path} reached_max_restart_intensity ({restarts} restarts within {period}); \
     last offending child {child:?}: {reason}"
)]
pub struct GaveUp {
    /// Path of the supervisor.
    pub path: String,
    /// Restarts in the window when it gave up.
    pub restarts: usize,
    /// The period, humantime-formatted.
    pub period: String,
    /// The child whose restart was one too many.
    pub child: String,
    /// That child's last exit reason.
    pub reason: String,
}
