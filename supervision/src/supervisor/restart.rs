//! Restart rules: what happens when a child exits or fails to start — restart type, strategy,
//! intensity (a sliding window of restart timestamps), and per-child backoff, with delayed retries
//! sent through the supervisor's own mailbox so it keeps answering calls meanwhile.

use std::time::Duration;

use ractor::{ActorCell, ActorRef, ActorStatus, SpawnErr};
use tokio::time::Instant;

use super::{PendingRetry, Request, SupervisorMsg, SupervisorState};
use crate::child::ChildContext;
use crate::error::GaveUp;
use crate::event::{EventKind, ExitKind, SupervisorEvent, now_rfc3339};
use crate::snapshot::{ChildState, Failure};
use crate::spec::{Restart, Strategy};

/// Whether a child of restart type `restart` that exited as `exit` is restarted.
pub(crate) fn needs_restart(restart: Restart, exit: ExitKind) -> bool {
    match restart {
        Restart::Permanent => true,
        Restart::Transient => exit == ExitKind::Abnormal,
        Restart::Temporary => false,
    }
}

impl SupervisorState {
    /// Starts the children in order at supervisor start. A child that fails to start is handled
    /// like one that crashed: it is retried (with backoff) and counts against the intensity. With
    /// one_for_all and rest_for_one the children after it wait until it has started.
    pub(crate) async fn start_initial(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
    ) -> Result<(), GaveUp> {
        for index in 0..self.children.len() {
            if self.start_at(myself, index, EventKind::Started).await {
                continue;
            }
            let id = self.children[index].spec.id.clone();
            let group = self.restarts_groups();
            if group {
                for later in &mut self.children[index + 1..] {
                    later.state = ChildState::Restarting;
                }
            }
            self.restart_loop(myself, id).await?;
            if group {
                break;
            }
        }
        Ok(())
    }

    /// Handles the exit of the child at `index`, as reported by ractor.
    pub(crate) async fn on_exit(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        index: usize,
        exit: ExitKind,
        reason: String,
    ) -> Result<(), GaveUp> {
        let now = Instant::now();
        let backoff = self.backoff;
        let child = &mut self.children[index];
        if let Some(cell) = child.cell.take() {
            // The exit is reported just before the actor is marked stopped; wait for that so its
            // registry name is free before a new incarnation takes it.
            let _ = cell.wait(None).await;
        }
        child.probe = None;
        child
            .backoff
            .note_exit(&backoff, child.started_at.take(), now);
        child.last_reason.clone_from(&reason);
        if exit == ExitKind::Abnormal {
            child.last_failure = Some(Failure {
                reason: reason.clone(),
                at: now_rfc3339(),
            });
        }
        let id = child.spec.id.clone();
        let restart = child.spec.restart;
        SupervisorEvent::new(&self.path, &id, EventKind::Exited, reason)
            .with_exit(exit)
            .emit(&self.events);
        if !needs_restart(restart, exit) {
            self.leave_stopped(index);
            return Ok(());
        }
        self.children[index].state = ChildState::Restarting;
        self.stop_group_of(index).await;
        self.restart_loop(myself, id).await
    }

    /// A child that will not be restarted: temporary and dynamic children are forgotten, others
    /// stay listed as stopped (and can be restarted with `restart_child`).
    pub(crate) fn leave_stopped(&mut self, index: usize) {
        if self.children[index].spec.restart == Restart::Temporary
            || self.strategy == Strategy::Dynamic
        {
            self.remove(index);
        } else {
            self.children[index].state = ChildState::Stopped;
        }
    }

    /// Stops the siblings that restart together with the child at `index` (all others for
    /// one_for_all, the later ones for rest_for_one), in reverse start order. Temporary siblings
    /// are stopped and forgotten, never restarted.
    async fn stop_group_of(&mut self, index: usize) {
        let group: Vec<usize> = match self.strategy {
            Strategy::OneForAll => (0..self.children.len()).filter(|&i| i != index).collect(),
            Strategy::RestForOne => (index + 1..self.children.len()).collect(),
            Strategy::OneForOne | Strategy::Dynamic => return,
        };
        for &sibling in group.iter().rev() {
            let child = &mut self.children[sibling];
            child.cancel_retry();
            if let Some(cell) = child.cell.take() {
                child.state = ChildState::Stopping;
                let shutdown = child.spec.shutdown;
                let (id, started) = (child.spec.id.clone(), child.started_at.take());
                self.stop_one(&id, &cell, shutdown).await;
                let child = &mut self.children[sibling];
                child
                    .backoff
                    .note_exit(&self.backoff, started, Instant::now());
                child.probe = None;
                child.state = ChildState::Restarting;
            } else if child.is_pending() {
                child.state = ChildState::Restarting;
            }
        }
        for &sibling in group.iter().rev() {
            if self.children[sibling].spec.restart == Restart::Temporary {
                self.remove(sibling);
            }
        }
    }

    /// Counts a restart of child `id` against the intensity, then restarts it (and its pending
    /// group) at once or after its backoff delay. A start failure counts as one more restart.
    pub(crate) async fn restart_loop(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        mut id: String,
    ) -> Result<(), GaveUp> {
        loop {
            let Some(index) = self.index_of(&id) else {
                return Ok(());
            };
            let now = Instant::now();
            let period = self.intensity.period;
            let in_window = self.window.record(now, period);
            let backoff = self.backoff;
            let child = &mut self.children[index];
            child.window.record(now, period);
            child.restarts_total += 1;
            if in_window > self.intensity.max_restarts as usize {
                return Err(self.give_up(index, in_window).await);
            }
            let delay = child.backoff.next_delay(&backoff);
            if !delay.is_zero() {
                self.schedule_retry(myself, index, delay);
                return Ok(());
            }
            match self.start_pending(myself, index).await {
                Ok(()) => return Ok(()),
                Err(failed) => id = failed,
            }
        }
    }

    /// Starts the pending children a restart of the child at `index` concerns: that child alone
    /// for one_for_one and dynamic, every pending child in start order otherwise. Returns the id
    /// of the first child that failed to start.
    async fn start_pending(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        index: usize,
    ) -> Result<(), String> {
        let indices: Vec<usize> = if self.restarts_groups() {
            (0..self.children.len())
                .filter(|&i| self.children[i].is_pending())
                .collect()
        } else {
            vec![index]
        };
        for index in indices {
            if !self.start_at(myself, index, EventKind::Restarted).await {
                return Err(self.children[index].spec.id.clone());
            }
        }
        Ok(())
    }

    /// Runs the factory of the child at `index`; emits `kind` on success, `start_failed` on
    /// failure (and leaves the child `restarting`). Returns whether it started.
    pub(crate) async fn start_at(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        index: usize,
        kind: EventKind,
    ) -> bool {
        let supervisor: ActorCell = myself.get_cell();
        let child = &mut self.children[index];
        child.cancel_retry();
        child.state = ChildState::Starting;
        let ctx = ChildContext {
            supervisor: supervisor.clone(),
            path: child.path.clone(),
            name: child.spec.name.clone(),
            events: self.events.clone(),
        };
        let result = (child.spec.start)(ctx)
            .await
            .map_err(|error| start_reason(&error));
        let result =
            result.and_then(|started| ensure_linked(&started.cell, &supervisor).map(|()| started));
        let child = &mut self.children[index];
        match result {
            Ok(started) => {
                child.cell = Some(started.cell);
                child.probe = started.mailbox_probe;
                child.started_at = Some(Instant::now());
                child.state = ChildState::Running;
                SupervisorEvent::new(&self.path, &child.spec.id, kind, "started")
                    .emit(&self.events);
                true
            }
            Err(reason) => {
                child.state = ChildState::Restarting;
                child.last_failure = Some(Failure {
                    reason: reason.clone(),
                    at: now_rfc3339(),
                });
                child.last_reason.clone_from(&reason);
                SupervisorEvent::new(&self.path, &child.spec.id, EventKind::StartFailed, reason)
                    .emit(&self.events);
                false
            }
        }
    }

    /// Puts the child at `index` into `backing_off` and sends this supervisor a `Retry` after
    /// `delay`.
    fn schedule_retry(&mut self, myself: &ActorRef<SupervisorMsg>, index: usize, delay: Duration) {
        self.next_token += 1;
        let token = self.next_token;
        let child = &mut self.children[index];
        let (id, target) = (child.spec.id.clone(), myself.clone());
        let message_id = id.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // A supervisor that is gone has no use for the retry.
            let _ = target.cast(SupervisorMsg(Request::Retry {
                id: message_id,
                token,
            }));
        })
        .abort_handle();
        child.cancel_retry();
        child.retry = Some(PendingRetry {
            token,
            due: Instant::now() + delay,
            timer,
        });
        child.state = ChildState::BackingOff;
        let reason = format!(
            "restart {} after {}",
            child.backoff.consecutive(),
            humantime::format_duration(delay)
        );
        SupervisorEvent::new(&self.path, &id, EventKind::BackingOff, reason)
            .with_delay(delay)
            .emit(&self.events);
    }

    /// A backoff delay has passed: start the child (and, for group strategies, every pending child).
    pub(crate) async fn retry(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        id: &str,
        token: u64,
    ) -> Result<(), GaveUp> {
        let Some(index) = self.index_of(id) else {
            return Ok(());
        };
        let child = &mut self.children[index];
        if child
            .retry
            .as_ref()
            .is_none_or(|retry| retry.token != token)
        {
            return Ok(());
        }
        child.retry = None;
        child.state = ChildState::Restarting;
        match self.start_pending(myself, index).await {
            Ok(()) => Ok(()),
            Err(failed) => self.restart_loop(myself, failed).await,
        }
    }

    /// Gives up: reports, stops every child in reverse order, and returns the reason to fail with.
    async fn give_up(&mut self, index: usize, restarts: usize) -> GaveUp {
        let child = &self.children[index];
        let gave_up = GaveUp {
            path: self.path.clone(),
            restarts,
            period: humantime::format_duration(self.intensity.period).to_string(),
            child: child.spec.id.clone(),
            reason: child.last_reason.clone(),
        };
        SupervisorEvent::new(
            &self.path,
            &gave_up.child,
            EventKind::GaveUp,
            gave_up.to_string(),
        )
        .emit(&self.events);
        self.shutdown_children().await;
        gave_up
    }
}

/// Makes sure a started actor is linked to its supervisor (a hand-written factory may have used
/// a plain spawn) and still alive once it is.
fn ensure_linked(cell: &ActorCell, supervisor: &ActorCell) -> Result<(), String> {
    let linked = cell
        .try_get_supervisor()
        .is_some_and(|parent| parent.get_id() == supervisor.get_id());
    if !linked {
        cell.link(supervisor.clone());
    }
    if cell.get_status() >= ActorStatus::Draining {
        return Err("the actor exited before its supervisor could link to it".to_string());
    }
    Ok(())
}

/// The reason of a failed start: the actor's own error for a failed `pre_start` (ractor words
/// every such failure as a panic), ractor's message otherwise.
fn start_reason(error: &SpawnErr) -> String {
    match error {
        SpawnErr::StartupFailed(inner) => inner.to_string(),
        other => other.to_string(),
    }
}
