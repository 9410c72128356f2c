//! Child specifications: what a supervisor knows about each child — its id, how to start it
//! (a factory it can call again on every restart), when to restart it, how to stop it, its kind.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ractor::{Actor, ActorCell, ActorRef, SpawnErr};
use tokio::sync::broadcast;

use crate::event::SupervisorEvent;
use crate::spec::{ChildKind, Restart, Shutdown, SupervisorSpec};
use crate::supervisor::Supervisor;

/// The future a factory returns: the started child, or why it could not start.
pub type StartFuture = Pin<Box<dyn Future<Output = Result<StartedChild, SpawnErr>> + Send>>;

/// A restartable start function. Called once per (re)start with a fresh [`ChildContext`]; it must
/// spawn the actor linked to [`ChildContext::supervisor`] (use [`ChildContext::spawn`]).
pub type StartFn = Arc<dyn Fn(ChildContext) -> StartFuture + Send + Sync>;

/// Reports how many messages wait in a child's mailbox. ractor does not expose queue lengths, so
/// an actor that wants its depth in snapshots counts for itself and hands a probe to its factory.
pub type MailboxProbe = Arc<dyn Fn() -> usize + Send + Sync>;

/// The specification of one child of a supervisor.
#[derive(Clone)]
pub struct ChildSpec {
    /// Unique within the supervisor; also the last segment of the child's path.
    pub id: String,
    /// Starts the child; called again on every restart.
    pub start: StartFn,
    /// When the child is restarted.
    pub restart: Restart,
    /// How the child is stopped.
    pub shutdown: Shutdown,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Name to register the actor under in ractor's registry, if any. A restart waits until the
    /// previous incarnation is fully stopped, so the name is free again when the factory runs.
    pub name: Option<String>,
}

impl ChildSpec {
    /// A worker started by `start`, permanent, with the worker shutdown timeout.
    pub fn worker<F, Fut>(id: impl Into<String>, start: F) -> Self
    where
        F: Fn(ChildContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<StartedChild, SpawnErr>> + Send + 'static,
    {
        ChildSpec::with_kind(id, ChildKind::Worker, start)
    }

    /// A worker that is a fresh clone of `actor`, started with `args()` each time.
    pub fn actor<A, Args>(id: impl Into<String>, actor: A, args: Args) -> Self
    where
        A: Actor + Clone,
        Args: Fn() -> A::Arguments + Send + Sync + 'static,
    {
        ChildSpec::worker(id, move |ctx: ChildContext| {
            let actor = actor.clone();
            let args = args();
            async move { ctx.spawn(actor, args).await }
        })
    }

    /// A nested [`Supervisor`] running `spec`; its events flow into this tree's event stream.
    pub fn supervisor(id: impl Into<String>, spec: SupervisorSpec) -> Self {
        ChildSpec::with_kind(id, ChildKind::Supervisor, move |ctx: ChildContext| {
            let spec = spec.clone();
            async move { Supervisor::spawn_child(&ctx, spec).await }
        })
    }

    /// A child of the given kind started by `start`, with the kind's default shutdown.
    pub fn with_kind<F, Fut>(id: impl Into<String>, kind: ChildKind, start: F) -> Self
    where
        F: Fn(ChildContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<StartedChild, SpawnErr>> + Send + 'static,
    {
        ChildSpec {
            id: id.into(),
            start: Arc::new(move |ctx| Box::pin(start(ctx))),
            restart: Restart::default(),
            shutdown: kind.default_shutdown(),
            kind,
            name: None,
        }
    }

    /// Replaces the restart type.
    pub fn with_restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Replaces the shutdown.
    pub fn with_shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Registers the actor under `name` in ractor's registry.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What a factory gets to start one incarnation of a child.
#[derive(Clone)]
pub struct ChildContext {
    /// The supervisor the child must be linked to.
    pub(crate) supervisor: ActorCell,
    /// Path of the child (`supervisor path/child id`).
    pub(crate) path: String,
    /// Registry name from the spec.
    pub(crate) name: Option<String>,
    /// The tree's event stream, inherited by nested supervisors.
    pub(crate) events: broadcast::Sender<SupervisorEvent>,
}

impl ChildContext {
    /// The supervisor to link to.
    pub fn supervisor(&self) -> &ActorCell {
        &self.supervisor
    }

    /// The child's path in the tree, e.g. `town/rigs/alpha`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The registry name from the spec, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The tree's event sender (for factories that start a nested [`Supervisor`] by hand).
    pub fn events(&self) -> &broadcast::Sender<SupervisorEvent> {
        &self.events
    }

    /// Spawns `actor` linked to the supervisor under the spec's name.
    pub async fn spawn<A: Actor>(
        &self,
        actor: A,
        args: A::Arguments,
    ) -> Result<StartedChild, SpawnErr> {
        let (actor_ref, _join) =
            Actor::spawn_linked(self.name.clone(), actor, args, self.supervisor.clone()).await?;
        Ok(StartedChild::from(actor_ref))
    }
}

/// A started child as a factory returns it: its actor and, optionally, a mailbox probe.
pub struct StartedChild {
    /// The running actor, linked to the supervisor.
    pub cell: ActorCell,
    /// Reports the mailbox depth for snapshots, if the actor counts it.
    pub mailbox_probe: Option<MailboxProbe>,
}

impl StartedChild {
    /// Attaches a mailbox probe.
    pub fn with_mailbox_probe(mut self, probe: MailboxProbe) -> Self {
        self.mailbox_probe = Some(probe);
        self
    }
}

impl From<ActorCell> for StartedChild {
    fn from(cell: ActorCell) -> Self {
        StartedChild {
            cell,
            mailbox_probe: None,
        }
    }
}

impl<M> From<ActorRef<M>> for StartedChild {
    fn from(actor: ActorRef<M>) -> Self {
        StartedChild::from(actor.get_cell())
    }
}
