//! Every default of the crate, in one place, each with the reason it was chosen.
//!
//! The vocabulary is OTP's; where a default differs from `supervisor.erl` the comment says why.

use std::time::Duration;

use crate::spec::{Restart, Strategy};

/// OTP and Elixir both default to `one_for_one`: children are independent unless told otherwise.
pub const STRATEGY: Strategy = Strategy::OneForOne;

/// Restarts allowed within [`PERIOD`] before the supervisor gives up.
///
/// OTP's default is 1 restart in 5 s, which escalates on the second crash of anything; Elixir raised
/// it to 3 in 5 s, and so do we: a flaky child gets a few chances before its whole subtree is
/// restarted, while a child that crashes in a loop still escalates within seconds.
pub const MAX_RESTARTS: u32 = 3;

/// The sliding window over which [`MAX_RESTARTS`] is counted (OTP and Elixir: 5 s).
pub const PERIOD: Duration = Duration::from_secs(5);

/// OTP's default restart type: a child is always restarted.
pub const RESTART: Restart = Restart::Permanent;

/// How long a worker may take to stop before it is killed (OTP: 5000 ms for workers).
pub const WORKER_SHUTDOWN: Duration = Duration::from_secs(5);

/// After a kill, how long to wait for the actor to be gone before reporting a `shutdown_error` and
/// moving on. A kill only takes effect at an `.await`, so an actor stuck in a blocking loop would
/// otherwise hang its parent forever; OTP needs no such bound because its kill is unconditional.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// First backoff delay. The first restart after a quiet spell is immediate (as in OTP); the second
/// consecutive one waits this long, and each further one twice as long as the one before.
/// 100 ms is invisible to a person and keeps a child that dies at once from spinning a core.
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(100);

/// Upper bound of the backoff delay: a broken child is retried at least twice a minute.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A child that stayed up this long is considered healthy again: its backoff starts over.
/// One minute is longer than the default intensity period, so a child cannot dodge backoff by
/// crashing just after the intensity window forgets it.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(60);

/// Fraction of random spread applied to each backoff delay (±20 %), so that siblings that failed
/// together do not retry in lock step.
pub const BACKOFF_JITTER: f64 = 0.2;

/// Capacity of the supervision event channel; a subscriber that falls further behind than this
/// sees `RecvError::Lagged` instead of slowing the supervisors down.
pub const EVENT_CAPACITY: usize = 1024;

/// How long a [`crate::SupervisorRef`] query (snapshot, which_children) waits for an answer.
/// Mutating calls (start, terminate, restart) wait without a bound, because a child's shutdown may
/// legitimately take its whole shutdown timeout; they still return at once if the supervisor dies.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
