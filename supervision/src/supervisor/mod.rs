//! The supervisor actor: its messages, its state, and the ractor callbacks that route them.
//!
//! ractor's own supervision stops a parent when any child exits; this actor overrides
//! `handle_supervisor_evt` to apply OTP restart rules instead (see `restart.rs`), stops its
//! children itself in reverse order with their shutdown timeouts (`shutdown.rs`), and answers
//! management calls (`calls.rs`).

mod calls;
mod restart;
mod shutdown;

use std::collections::HashSet;

use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr,
    SupervisionEvent,
};
use tokio::sync::broadcast;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::backoff::{Backoff, BackoffState};
use crate::child::{ChildContext, ChildSpec, MailboxProbe, StartedChild};
use crate::defaults;
use crate::error::SupervisorError;
use crate::event::{ExitKind, SupervisorEvent};
use crate::handle::SupervisorRef;
use crate::snapshot::{ChildInfo, ChildState, Failure, SupervisorSnapshot};
use crate::spec::{Intensity, Strategy, SupervisorSpec};
use crate::window::RestartWindow;

/// The supervisor actor. Spawn it with [`Supervisor::spawn`] (a root) or
/// [`ChildSpec::supervisor`] (nested).
#[derive(Clone, Copy, Debug, Default)]
pub struct Supervisor;

/// A message to a supervisor. Opaque: use [`SupervisorRef`]'s methods.
pub struct SupervisorMsg(pub(crate) Request);

/// A supervisor's local answer to a snapshot request: its own snapshot, and the nested
/// supervisors (by child index) the caller should ask next.
pub(crate) type LocalSnapshot = (SupervisorSnapshot, Vec<(usize, ActorRef<SupervisorMsg>)>);

/// The requests a supervisor serves.
pub(crate) enum Request {
    /// Snapshot of this supervisor (nested ones are filled in by the caller).
    Snapshot(RpcReplyPort<LocalSnapshot>),
    /// Short listing of the children.
    WhichChildren(RpcReplyPort<Vec<ChildInfo>>),
    /// The running actor of a child.
    Child(String, RpcReplyPort<Option<ActorCell>>),
    /// Path and event sender, to build a [`SupervisorRef`] from an actor ref.
    Identity(RpcReplyPort<(String, broadcast::Sender<SupervisorEvent>)>),
    /// Add and start a child.
    StartChild(ChildSpec, RpcReplyPort<Result<ActorCell, SupervisorError>>),
    /// Stop a child (and forget it if temporary or dynamic).
    TerminateChild(String, RpcReplyPort<Result<(), SupervisorError>>),
    /// Stop a child if running, then start it.
    RestartChild(String, RpcReplyPort<Result<ActorCell, SupervisorError>>),
    /// Forget a stopped child.
    DeleteChild(String, RpcReplyPort<Result<(), SupervisorError>>),
    /// A backoff delay has passed: try to start the child again (OTP's `try_again_restart`).
    Retry {
        /// The child.
        id: String,
        /// Which scheduled retry this is; stale ones are ignored.
        token: u64,
    },
}

/// What a supervisor is started with.
pub struct SupervisorArgs {
    /// Path of the supervisor in its tree.
    pub(crate) path: String,
    /// Its specification.
    pub(crate) spec: SupervisorSpec,
    /// The tree's event stream.
    pub(crate) events: broadcast::Sender<SupervisorEvent>,
}

/// A supervisor's state: its configuration and its children in start order.
pub struct SupervisorState {
    /// Path of this supervisor, prefix of its children's paths.
    pub(crate) path: String,
    /// Restart strategy.
    pub(crate) strategy: Strategy,
    /// Restart intensity.
    pub(crate) intensity: Intensity,
    /// Backoff between consecutive restarts of a child.
    pub(crate) backoff: Backoff,
    /// Bound on the number of children.
    pub(crate) max_children: Option<usize>,
    /// Children in start order.
    pub(crate) children: Vec<Child>,
    /// Ids in use, for O(1) uniqueness checks with many dynamic children.
    pub(crate) ids: HashSet<String>,
    /// Restart timestamps of all children, for the intensity.
    pub(crate) window: RestartWindow,
    /// The tree's event stream.
    pub(crate) events: broadcast::Sender<SupervisorEvent>,
    /// When the supervisor started, for its uptime.
    pub(crate) started_at: Instant,
    /// Source of retry tokens.
    pub(crate) next_token: u64,
}

/// One child as its supervisor tracks it.
pub(crate) struct Child {
    /// Its specification.
    pub(crate) spec: ChildSpec,
    /// Its path in the tree.
    pub(crate) path: String,
    /// The running incarnation, if any.
    pub(crate) cell: Option<ActorCell>,
    /// Mailbox probe of the running incarnation.
    pub(crate) probe: Option<MailboxProbe>,
    /// Life-cycle state.
    pub(crate) state: ChildState,
    /// When the running incarnation started.
    pub(crate) started_at: Option<Instant>,
    /// This child's restarts within the intensity period.
    pub(crate) window: RestartWindow,
    /// This child's restarts since the supervisor started.
    pub(crate) restarts_total: u64,
    /// The latest failure.
    pub(crate) last_failure: Option<Failure>,
    /// The latest exit or start-failure reason (failures and normal exits alike).
    pub(crate) last_reason: String,
    /// Backoff memory.
    pub(crate) backoff: BackoffState,
    /// The scheduled retry while backing off.
    pub(crate) retry: Option<PendingRetry>,
    /// The printed id of the latest incarnation, so that snapshots of many children do not
    /// format ids again and again.
    pub(crate) actor_label: Option<(ActorId, String)>,
}

/// A retry scheduled through the supervisor's own mailbox.
pub(crate) struct PendingRetry {
    /// Matches the token in the `Retry` message.
    pub(crate) token: u64,
    /// When it fires.
    pub(crate) due: Instant,
    /// Cancels the timer task.
    pub(crate) timer: AbortHandle,
}

impl Child {
    /// A child not yet started.
    fn new(spec: ChildSpec, supervisor_path: &str) -> Self {
        Child {
            path: format!("{supervisor_path}/{}", spec.id),
            spec,
            cell: None,
            probe: None,
            state: ChildState::Starting,
            started_at: None,
            window: RestartWindow::default(),
            restarts_total: 0,
            last_failure: None,
            last_reason: String::new(),
            backoff: BackoffState::default(),
            retry: None,
            actor_label: None,
        }
    }

    /// The printed ractor id of the running incarnation.
    pub(crate) fn actor_id(&mut self) -> Option<String> {
        let id = self.cell.as_ref()?.get_id();
        match &self.actor_label {
            Some((labelled, label)) if *labelled == id => Some(label.clone()),
            _ => {
                let label = id.to_string();
                self.actor_label = Some((id, label.clone()));
                Some(label)
            }
        }
    }

    /// Whether the child waits to be (re)started.
    pub(crate) fn is_pending(&self) -> bool {
        self.cell.is_none()
            && matches!(
                self.state,
                ChildState::Starting | ChildState::Restarting | ChildState::BackingOff
            )
    }

    /// Cancels a scheduled retry, if any.
    pub(crate) fn cancel_retry(&mut self) {
        if let Some(retry) = self.retry.take() {
            retry.timer.abort();
        }
    }
}

impl Supervisor {
    /// Spawns a root supervisor named `name` (the root of the paths) with its own event stream.
    pub async fn spawn(
        name: impl Into<String>,
        spec: SupervisorSpec,
    ) -> Result<SupervisorRef, SupervisorError> {
        let (events, _) = broadcast::channel(defaults::EVENT_CAPACITY);
        Supervisor::spawn_with_events(name, spec, events).await
    }

    /// Spawns a root supervisor that reports to `events`; subscribe before spawning to see the
    /// events of the initial start.
    pub async fn spawn_with_events(
        name: impl Into<String>,
        spec: SupervisorSpec,
        events: broadcast::Sender<SupervisorEvent>,
    ) -> Result<SupervisorRef, SupervisorError> {
        let path = name.into();
        let args = SupervisorArgs {
            path: path.clone(),
            spec,
            events: events.clone(),
        };
        match Actor::spawn(None, Supervisor, args).await {
            Ok((actor, _join)) => Ok(SupervisorRef::new(actor, path, events)),
            Err(source) => Err(SupervisorError::Spawn { path, source }),
        }
    }

    /// Spawns a nested supervisor from a factory, linked to the context's supervisor and
    /// reporting to the same event stream. [`ChildSpec::supervisor`] does this for you.
    pub async fn spawn_child(
        ctx: &ChildContext,
        spec: SupervisorSpec,
    ) -> Result<StartedChild, SpawnErr> {
        let args = SupervisorArgs {
            path: ctx.path.clone(),
            spec,
            events: ctx.events.clone(),
        };
        ctx.spawn(Supervisor, args).await
    }
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SupervisorMsg>,
        args: SupervisorArgs,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        let SupervisorArgs { path, spec, events } = args;
        let mut state = SupervisorState {
            ids: HashSet::new(),
            children: Vec::with_capacity(spec.children.len()),
            strategy: spec.strategy,
            intensity: spec.intensity,
            backoff: spec.backoff,
            max_children: spec.max_children,
            window: RestartWindow::default(),
            started_at: Instant::now(),
            next_token: 0,
            events,
            path,
        };
        for child in spec.children {
            if !state.ids.insert(child.id.clone()) {
                return Err(Box::new(SupervisorError::DuplicateId {
                    path: state.path,
                    id: child.id,
                }));
            }
            let child = Child::new(child, &state.path);
            state.children.push(child);
        }
        state.start_initial(&myself).await?;
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SupervisorMsg>,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        state.shutdown_children().await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SupervisorMsg>,
        message: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match message.0 {
            Request::Snapshot(reply) => reply_to(reply, state.local_snapshot()),
            Request::WhichChildren(reply) => reply_to(reply, state.which_children()),
            Request::Child(id, reply) => reply_to(reply, state.child_cell(&id)),
            Request::Identity(reply) => reply_to(reply, (state.path.clone(), state.events.clone())),
            Request::StartChild(spec, reply) => {
                let result = state.start_child(&myself, spec).await;
                reply_to(reply, result)
            }
            Request::TerminateChild(id, reply) => {
                let result = state.terminate_child(&id).await;
                reply_to(reply, result)
            }
            Request::RestartChild(id, reply) => {
                let result = state.restart_child(&myself, &id).await;
                reply_to(reply, result)
            }
            Request::DeleteChild(id, reply) => {
                let result = state.delete_child(&id);
                reply_to(reply, result)
            }
            Request::Retry { id, token } => state.retry(&myself, &id, token).await?,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SupervisorMsg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let Some((exit, reason)) = ExitKind::classify(&event) else {
            return Ok(());
        };
        let Some(cell) = event.actor_cell() else {
            return Ok(());
        };
        // Exits of incarnations this supervisor already stopped or replaced are stale.
        let Some(index) = state.index_of_actor(cell) else {
            return Ok(());
        };
        state.on_exit(&myself, index, exit, reason).await?;
        Ok(())
    }
}

/// Sends a reply; a caller that stopped waiting is not the supervisor's problem.
fn reply_to<T>(port: RpcReplyPort<T>, value: T) {
    let _ = port.send(value);
}

impl SupervisorState {
    /// Index of the child whose running incarnation is `cell`.
    fn index_of_actor(&self, cell: &ActorCell) -> Option<usize> {
        let id = cell.get_id();
        self.children
            .iter()
            .position(|child| child.cell.as_ref().is_some_and(|c| c.get_id() == id))
    }

    /// Index of the child with this id.
    pub(crate) fn index_of(&self, id: &str) -> Option<usize> {
        if !self.ids.contains(id) {
            return None;
        }
        self.children.iter().position(|child| child.spec.id == id)
    }

    /// Forgets the child at `index`.
    pub(crate) fn remove(&mut self, index: usize) {
        let mut child = self.children.remove(index);
        child.cancel_retry();
        self.ids.remove(&child.spec.id);
    }

    /// Whether restarts concern a group of children rather than one.
    pub(crate) fn restarts_groups(&self) -> bool {
        matches!(self.strategy, Strategy::OneForAll | Strategy::RestForOne)
    }
}
