//! Per-child jittered exponential backoff between consecutive restarts.
//!
//! The first restart after a quiet spell is immediate, as in OTP. Each further consecutive restart
//! waits `initial · 2^(n-2)` (capped at `max`), spread by ±`jitter`. A child that stayed up for
//! `reset_after` starts over. Pure code: the supervisor feeds it instants and asks for delays.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::defaults;
use crate::spec::duration_ms;

/// Backoff configuration of a supervisor, applied to each of its children separately.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Backoff {
    /// Delay before the second consecutive restart.
    #[serde(with = "duration_ms", rename = "initial_ms")]
    pub initial: Duration,
    /// Largest delay.
    #[serde(with = "duration_ms", rename = "max_ms")]
    pub max: Duration,
    /// Uptime after which a child's consecutive-restart count is forgotten.
    #[serde(with = "duration_ms", rename = "reset_after_ms")]
    pub reset_after: Duration,
    /// Random spread as a fraction of the delay (0.2 = ±20 %); clamped to 0..=1.
    pub jitter: f64,
}

impl Backoff {
    /// No backoff at all: every restart is immediate, as in OTP.
    pub fn none() -> Self {
        Backoff {
            initial: Duration::ZERO,
            max: Duration::ZERO,
            ..Backoff::default()
        }
    }

    /// The same backoff without random spread (useful in tests and reproducible setups).
    pub fn without_jitter(mut self) -> Self {
        self.jitter = 0.0;
        self
    }

    /// Delay before the `consecutive`-th consecutive restart (1-based), with `unit` in `0..1` the
    /// random draw for the jitter.
    pub fn delay(&self, consecutive: u32, unit: f64) -> Duration {
        if consecutive <= 1 || self.initial.is_zero() {
            return Duration::ZERO;
        }
        let doublings = (consecutive - 2).min(32);
        let raw = self.initial.saturating_mul(1u32 << doublings.min(31));
        let capped = raw.min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + jitter * (2.0 * unit - 1.0);
        capped.mul_f64(factor.max(0.0))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: defaults::BACKOFF_INITIAL,
            max: defaults::BACKOFF_MAX,
            reset_after: defaults::BACKOFF_RESET_AFTER,
            jitter: defaults::BACKOFF_JITTER,
        }
    }
}

/// The backoff memory of one child, owned by its supervisor.
#[derive(Debug, Default)]
pub(crate) struct BackoffState {
    /// Consecutive restarts since the child last stayed up for `reset_after`.
    consecutive: u32,
}

impl BackoffState {
    /// Forgets past restarts if the child, started at `started`, stayed up long enough by `now`.
    pub(crate) fn note_exit(&mut self, config: &Backoff, started: Option<Instant>, now: Instant) {
        if started.is_some_and(|started| now.duration_since(started) >= config.reset_after) {
            self.consecutive = 0;
        }
    }

    /// Counts one more restart and returns how long to wait before it.
    pub(crate) fn next_delay(&mut self, config: &Backoff) -> Duration {
        self.consecutive = self.consecutive.saturating_add(1);
        config.delay(self.consecutive, fastrand::f64())
    }

    /// Consecutive restarts counted so far.
    pub(crate) fn consecutive(&self) -> u32 {
        self.consecutive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(consecutive: u32, unit: f64, expected_ms: u64) {
        let config = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            reset_after: Duration::from_secs(60),
            jitter: 0.2,
        };
        assert_eq!(
            config.delay(consecutive, unit),
            Duration::from_millis(expected_ms),
            "consecutive {consecutive}, unit {unit}"
        );
    }

    #[test]
    fn delays_grow_exponentially_cap_and_spread() {
        check(1, 0.0, 0);
        check(2, 0.5, 100);
        check(3, 0.5, 200);
        check(4, 0.5, 400);
        check(5, 0.5, 800);
        check(6, 0.5, 1000);
        check(60, 0.5, 1000);
        check(2, 0.0, 80);
        check(2, 1.0, 120);
        check(6, 0.0, 800);
    }

    #[test]
    fn none_is_always_immediate() {
        for consecutive in 0..10 {
            assert_eq!(Backoff::none().delay(consecutive, 0.7), Duration::ZERO);
        }
    }

    #[test]
    fn a_long_uptime_resets_the_count() {
        let config = Backoff::default().without_jitter();
        let mut state = BackoffState::default();
        let start = Instant::now();
        assert_eq!(state.next_delay(&config), Duration::ZERO);
        assert_eq!(state.next_delay(&config), config.initial);
        state.note_exit(&config, Some(start), start + config.reset_after / 2);
        assert_eq!(state.consecutive(), 2);
        state.note_exit(&config, Some(start), start + config.reset_after);
        assert_eq!(state.consecutive(), 0);
        assert_eq!(state.next_delay(&config), Duration::ZERO);
    }
}
