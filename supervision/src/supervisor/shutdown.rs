//! Stopping children: each with its shutdown (brutal kill, a timeout then a kill, or infinity),
//! in reverse start order (dynamic supervisors: all at once, as OTP), waiting for each to be gone
//! so that its `post_stop` has run and its name is free, and never hanging on one that ignores
//! the stop.

use ractor::ActorCell;
use tokio::task::JoinSet;

use super::SupervisorState;
use crate::defaults;
use crate::event::{EventKind, SupervisorEvent};
use crate::snapshot::ChildState;
use crate::spec::{Shutdown, Strategy};

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopOutcome {
    /// The child stopped (or was brutally killed, as its spec asks).
    Stopped,
    /// The child ignored the stop past its timeout and was killed.
    Killed,
    /// Even the kill did not end it within [`defaults::KILL_GRACE`] (it blocks a thread).
    Stuck,
}

/// Stops `cell` according to `shutdown` and waits until it is gone.
pub(crate) async fn stop_child(cell: &ActorCell, shutdown: Shutdown) -> StopOutcome {
    let graceful = match shutdown {
        Shutdown::BrutalKill => None,
        Shutdown::Timeout(timeout) => Some(Some(timeout)),
        Shutdown::Infinity => Some(None),
    };
    if let Some(timeout) = graceful {
        cell.stop(Some("shutdown".to_string()));
        if cell.wait(timeout).await.is_ok() {
            return StopOutcome::Stopped;
        }
    }
    cell.kill();
    match cell.wait(Some(defaults::KILL_GRACE)).await {
        Ok(()) if graceful.is_none() => StopOutcome::Stopped,
        Ok(()) => StopOutcome::Killed,
        Err(_) => StopOutcome::Stuck,
    }
}

impl SupervisorState {
    /// Stops one child and reports a kill or a stuck child as a `shutdown_error`.
    pub(crate) async fn stop_one(&self, id: &str, cell: &ActorCell, shutdown: Shutdown) {
        let outcome = stop_child(cell, shutdown).await;
        self.report_stop(id, shutdown, outcome);
    }

    /// Emits a `shutdown_killed` event for a stop that did not go as asked.
    fn report_stop(&self, id: &str, shutdown: Shutdown, outcome: StopOutcome) {
        let reason = match (outcome, shutdown) {
            (StopOutcome::Stopped, _) => return,
            (StopOutcome::Killed, Shutdown::Timeout(timeout)) => {
                format!(
                    "did not stop within {}; killed",
                    humantime::format_duration(timeout)
                )
            }
            (StopOutcome::Killed, _) => "did not stop; killed".to_string(),
            (StopOutcome::Stuck, _) => format!(
                "still running {} after being killed (blocking a thread?); abandoned",
                humantime::format_duration(defaults::KILL_GRACE)
            ),
        };
        SupervisorEvent::new(&self.path, id, EventKind::ShutdownKilled, reason).emit(&self.events);
    }

    /// Stops every child: in reverse start order, or concurrently for a dynamic supervisor.
    pub(crate) async fn shutdown_children(&mut self) {
        for child in &mut self.children {
            child.cancel_retry();
        }
        if self.strategy == Strategy::Dynamic {
            self.shutdown_concurrently().await;
            return;
        }
        for index in (0..self.children.len()).rev() {
            let child = &mut self.children[index];
            let Some(cell) = child.cell.take() else {
                child.state = ChildState::Stopped;
                continue;
            };
            child.state = ChildState::Stopping;
            let (id, shutdown) = (child.spec.id.clone(), child.spec.shutdown);
            self.stop_one(&id, &cell, shutdown).await;
            let child = &mut self.children[index];
            child.state = ChildState::Stopped;
            child.started_at = None;
        }
    }

    /// Stops all children at once and waits for each.
    async fn shutdown_concurrently(&mut self) {
        let mut stops = JoinSet::new();
        for child in &mut self.children {
            child.state = ChildState::Stopped;
            child.started_at = None;
            if let Some(cell) = child.cell.take() {
                let (id, shutdown) = (child.spec.id.clone(), child.spec.shutdown);
                stops.spawn(async move { (id, shutdown, stop_child(&cell, shutdown).await) });
            }
        }
        while let Some(joined) = stops.join_next().await {
            if let Ok((id, shutdown, outcome)) = joined {
                self.report_stop(&id, shutdown, outcome);
            }
        }
    }
}
