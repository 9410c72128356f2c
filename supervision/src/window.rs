//! The restart-intensity window: timestamps of recent restarts, forgotten once older than the
//! period (OTP's `add_restart`). Pure code, fed with instants by the supervisor.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Timestamps of the restarts within the last `period`, oldest first.
#[derive(Debug, Default)]
pub(crate) struct RestartWindow {
    /// Restart instants not older than the period, in the order they happened.
    stamps: VecDeque<Instant>,
}

impl RestartWindow {
    /// Records a restart at `now` and returns how many restarts the window then holds.
    pub(crate) fn record(&mut self, now: Instant, period: Duration) -> usize {
        self.stamps.push_back(now);
        self.forget_before(now, period);
        self.stamps.len()
    }

    /// Restarts within `period` of `now`.
    pub(crate) fn count(&mut self, now: Instant, period: Duration) -> usize {
        self.forget_before(now, period);
        self.stamps.len()
    }

    /// Drops timestamps older than `period` before `now`.
    fn forget_before(&mut self, now: Instant, period: Duration) {
        while let Some(oldest) = self.stamps.front() {
            if now.duration_since(*oldest) > period {
                self.stamps.pop_front();
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_restarts_slide_out_of_the_window() {
        let period = Duration::from_secs(5);
        let start = Instant::now();
        let mut window = RestartWindow::default();
        assert_eq!(window.record(start, period), 1);
        assert_eq!(window.record(start + Duration::from_secs(2), period), 2);
        assert_eq!(window.record(start + Duration::from_secs(5), period), 3);
        assert_eq!(window.record(start + Duration::from_secs(6), period), 3);
        assert_eq!(window.count(start + Duration::from_secs(11), period), 1);
        assert_eq!(window.count(start + Duration::from_secs(12), period), 0);
    }
}
