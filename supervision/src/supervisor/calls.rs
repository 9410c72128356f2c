//! Management calls a supervisor answers: introspection (snapshot, which_children, child) and
//! run-time changes (start, terminate, restart and delete a child).

use std::time::Duration;

use ractor::{ActorCell, ActorRef};
use tokio::time::Instant;

use super::{Child, LocalSnapshot, SupervisorMsg, SupervisorState};
use crate::child::ChildSpec;
use crate::error::SupervisorError;
use crate::event::EventKind;
use crate::snapshot::{ChildInfo, ChildSnapshot, ChildState, SupervisorSnapshot};
use crate::spec::{Restart, Strategy};

/// A duration in whole milliseconds, saturating.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl SupervisorState {
    /// This supervisor's snapshot, with the running nested supervisors to ask next.
    pub(crate) fn local_snapshot(&mut self) -> LocalSnapshot {
        let now = Instant::now();
        let period = self.intensity.period;
        let mut nested = Vec::new();
        let mut children = Vec::with_capacity(self.children.len());
        for (index, child) in self.children.iter_mut().enumerate() {
            if let Some(cell) = &child.cell
                && cell.is_message_type_of::<SupervisorMsg>() == Some(true)
            {
                nested.push((index, ActorRef::<SupervisorMsg>::from(cell.clone())));
            }
            children.push(child_snapshot(child, now, period));
        }
        let snapshot = SupervisorSnapshot {
            path: self.path.clone(),
            strategy: self.strategy,
            intensity: self.intensity,
            backoff: self.backoff,
            max_children: self.max_children,
            restarts_in_window: self.window.count(now, period),
            uptime_ms: millis(now.duration_since(self.started_at)),
            children,
        };
        (snapshot, nested)
    }

    /// The short listing of the children.
    pub(crate) fn which_children(&self) -> Vec<ChildInfo> {
        self.children
            .iter()
            .map(|child| ChildInfo {
                id: child.spec.id.clone(),
                kind: child.spec.kind,
                restart: child.spec.restart,
                state: child.state,
                actor_id: child.cell.as_ref().map(|cell| cell.get_id().to_string()),
            })
            .collect()
    }

    /// The running actor of child `id`.
    pub(crate) fn child_cell(&self, id: &str) -> Option<ActorCell> {
        self.index_of(id)
            .and_then(|index| self.children[index].cell.clone())
    }

    /// Adds a child at the end and starts it; a child that fails to start is not kept (as OTP).
    pub(crate) async fn start_child(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        spec: ChildSpec,
    ) -> Result<ActorCell, SupervisorError> {
        if self.ids.contains(&spec.id) {
            return Err(SupervisorError::DuplicateId {
                path: self.path.clone(),
                id: spec.id,
            });
        }
        if let Some(max) = self.max_children
            && self.children.len() >= max
        {
            return Err(SupervisorError::MaxChildren {
                path: self.path.clone(),
                max,
            });
        }
        self.ids.insert(spec.id.clone());
        self.children.push(Child::new(spec, &self.path));
        let index = self.children.len() - 1;
        if self.start_at(myself, index, EventKind::Started).await {
            return Ok(self.children[index]
                .cell
                .clone()
                .expect("a started child has a cell"));
        }
        let reason = self.children[index].last_reason.clone();
        let id = self.children[index].spec.id.clone();
        self.remove(index);
        Err(SupervisorError::StartFailed {
            path: self.path.clone(),
            id,
            reason,
        })
    }

    /// Stops child `id` with its shutdown; temporary and dynamic children are then forgotten,
    /// others stay listed as stopped.
    pub(crate) async fn terminate_child(&mut self, id: &str) -> Result<(), SupervisorError> {
        let index = self.known(id)?;
        self.stop_at(index).await;
        let child = &self.children[index];
        if child.spec.restart == Restart::Temporary || self.strategy == Strategy::Dynamic {
            self.remove(index);
        }
        Ok(())
    }

    /// Stops child `id` if it runs, then starts it again (not counted against the intensity).
    pub(crate) async fn restart_child(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        id: &str,
    ) -> Result<ActorCell, SupervisorError> {
        let index = self.known(id)?;
        self.stop_at(index).await;
        if self.start_at(myself, index, EventKind::Restarted).await {
            return Ok(self.children[index]
                .cell
                .clone()
                .expect("a started child has a cell"));
        }
        let child = &mut self.children[index];
        child.state = ChildState::Stopped;
        Err(SupervisorError::StartFailed {
            path: self.path.clone(),
            id: id.to_string(),
            reason: child.last_reason.clone(),
        })
    }

    /// Forgets stopped child `id`.
    pub(crate) fn delete_child(&mut self, id: &str) -> Result<(), SupervisorError> {
        let index = self.known(id)?;
        if self.children[index].cell.is_some() {
            return Err(SupervisorError::StillRunning {
                path: self.path.clone(),
                id: id.to_string(),
            });
        }
        self.remove(index);
        Ok(())
    }

    /// Index of child `id`, or the error that says it is unknown.
    fn known(&self, id: &str) -> Result<usize, SupervisorError> {
        self.index_of(id)
            .ok_or_else(|| SupervisorError::UnknownChild {
                path: self.path.clone(),
                id: id.to_string(),
            })
    }

    /// Stops the child at `index` (if running) with its shutdown and marks it stopped.
    async fn stop_at(&mut self, index: usize) {
        let child = &mut self.children[index];
        child.cancel_retry();
        if let Some(cell) = child.cell.take() {
            child.state = ChildState::Stopping;
            let (id, shutdown) = (child.spec.id.clone(), child.spec.shutdown);
            self.stop_one(&id, &cell, shutdown).await;
        }
        let child = &mut self.children[index];
        child.state = ChildState::Stopped;
        child.started_at = None;
        child.probe = None;
    }
}

/// One child's snapshot (without its nested supervisor, which the caller fills in).
fn child_snapshot(child: &mut Child, now: Instant, period: Duration) -> ChildSnapshot {
    ChildSnapshot {
        path: child.path.clone(),
        id: child.spec.id.clone(),
        kind: child.spec.kind,
        restart: child.spec.restart,
        state: child.state,
        actor_id: child.actor_id(),
        name: child.spec.name.clone(),
        restarts_in_window: child.window.count(now, period),
        restarts_total: child.restarts_total,
        consecutive_restarts: child.backoff.consecutive(),
        retry_in_ms: child
            .retry
            .as_ref()
            .map(|retry| millis(retry.due.saturating_duration_since(now))),
        last_failure: child.last_failure.clone(),
        uptime_ms: child
            .started_at
            .map(|started| millis(now.duration_since(started))),
        mailbox_depth: child.probe.as_ref().map(|probe| probe()),
        supervisor: None,
    }
}
