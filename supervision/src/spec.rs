//! The supervision vocabulary: strategy, intensity, restart type, shutdown and child kind, and the
//! [`SupervisorSpec`] that combines them. Names follow Erlang/OTP's `supervisor` module.

use std::time::Duration;

use serde::Serialize;

use crate::backoff::Backoff;
use crate::child::ChildSpec;
use crate::defaults;
use crate::error::SpecError;

/// Which children are restarted when one of them must be restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Only the child that exited is restarted.
    OneForOne,
    /// All children are stopped (in reverse start order) and started again (in start order).
    OneForAll,
    /// The child that exited and every child started after it are stopped and started again.
    RestForOne,
    /// OTP's `simple_one_for_one` / Elixir's `DynamicSupervisor`: children are added and removed at
    /// run time with [`crate::SupervisorRef::start_child`], each restarted on its own, and stopped
    /// concurrently on shutdown.
    Dynamic,
}

impl Default for Strategy {
    fn default() -> Self {
        defaults::STRATEGY
    }
}

/// When an exited child is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// Always restarted.
    Permanent,
    /// Restarted only after an abnormal exit (an `Err`, a panic, a kill).
    Transient,
    /// Never restarted, and forgotten once it exits.
    Temporary,
}

impl Default for Restart {
    fn default() -> Self {
        defaults::RESTART
    }
}

/// How a child is stopped by its supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shutdown {
    /// Killed at once: its `post_stop` does not run.
    BrutalKill,
    /// Asked to stop; killed if it has not stopped within the duration.
    Timeout(#[serde(with = "duration_ms")] Duration),
    /// Asked to stop and waited for without bound: the right choice for supervisors, whose own
    /// shutdown is bounded by their children's timeouts.
    Infinity,
}

/// Whether a child is a worker or a supervisor; decides its default shutdown and tells
/// introspection where to recurse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildKind {
    /// A leaf actor.
    Worker,
    /// A supervisor (of this crate or another): shut down with [`Shutdown::Infinity`] by default.
    Supervisor,
}

impl ChildKind {
    /// OTP's default shutdown for the kind: 5 s for workers, infinity for supervisors.
    pub fn default_shutdown(self) -> Shutdown {
        match self {
            ChildKind::Worker => Shutdown::Timeout(defaults::WORKER_SHUTDOWN),
            ChildKind::Supervisor => Shutdown::Infinity,
        }
    }
}

/// Restart intensity: more than `max_restarts` restarts within `period` and the supervisor gives
/// up — it stops its children in reverse order and fails to its own parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Intensity {
    /// Restarts tolerated within the window; `0` means the first restart already gives up.
    pub max_restarts: u32,
    /// Length of the sliding window.
    #[serde(with = "duration_ms", rename = "period_ms")]
    pub period: Duration,
}

impl Intensity {
    /// An intensity of `max_restarts` within `period`.
    pub fn new(max_restarts: u32, period: Duration) -> Self {
        Intensity {
            max_restarts,
            period,
        }
    }

    /// An intensity whose period is a humantime duration such as `"5s"` or `"1m 30s"`.
    pub fn parse(max_restarts: u32, period: &str) -> Result<Self, SpecError> {
        let period = humantime::parse_duration(period).map_err(|source| SpecError::Period {
            text: period.to_string(),
            source,
        })?;
        Ok(Intensity::new(max_restarts, period))
    }
}

impl Default for Intensity {
    fn default() -> Self {
        Intensity::new(defaults::MAX_RESTARTS, defaults::PERIOD)
    }
}

/// Everything a supervisor needs to run: how it restarts, how often it may, and its children in
/// start order. Cloneable so that a parent can start it again after it gave up.
#[derive(Clone, Debug, Default)]
pub struct SupervisorSpec {
    /// Restart strategy.
    pub strategy: Strategy,
    /// Restart intensity.
    pub intensity: Intensity,
    /// Backoff applied per child between consecutive restarts.
    pub backoff: Backoff,
    /// Upper bound on the number of children ([`crate::SupervisorRef::start_child`] fails beyond
    /// it); `None` is unbounded. OTP has it for dynamic supervisors only; here it bounds any kind.
    pub max_children: Option<usize>,
    /// Children, started in this order and stopped in the reverse order.
    pub children: Vec<ChildSpec>,
}

impl SupervisorSpec {
    /// A spec with the given strategy, default intensity and backoff, and no children.
    pub fn new(strategy: Strategy) -> Self {
        SupervisorSpec {
            strategy,
            ..SupervisorSpec::default()
        }
    }

    /// Replaces the intensity.
    pub fn with_intensity(mut self, intensity: Intensity) -> Self {
        self.intensity = intensity;
        self
    }

    /// Replaces the backoff.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Bounds the number of children.
    pub fn with_max_children(mut self, max_children: usize) -> Self {
        self.max_children = Some(max_children);
        self
    }

    /// Appends a child (started after those already listed).
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }
}

/// Serializes a [`Duration`] as whole milliseconds, which every JSON reader understands.
pub(crate) mod duration_ms {
    use std::time::Duration;

    use serde::Serializer;

    /// Writes `duration` as a `u64` number of milliseconds (saturating).
    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
    }
}
