//! [`SupervisorRef`]: the handle through which callers talk to a supervisor — introspection,
//! run-time changes, the event stream and shutdown.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{ActorCell, ActorRef, ActorStatus, Message, RpcReplyPort};
use tokio::sync::broadcast;

use crate::child::ChildSpec;
use crate::defaults;
use crate::error::SupervisorError;
use crate::event::SupervisorEvent;
use crate::snapshot::{ChildInfo, SupervisorSnapshot};
use crate::supervisor::{Request, SupervisorMsg};

/// A handle to a running supervisor. Cheap to clone.
#[derive(Clone)]
pub struct SupervisorRef {
    /// The supervisor actor.
    actor: ActorRef<SupervisorMsg>,
    /// Its path, for error messages.
    path: String,
    /// The tree's event stream.
    events: broadcast::Sender<SupervisorEvent>,
}

impl std::fmt::Debug for SupervisorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorRef")
            .field("path", &self.path)
            .field("actor", &self.actor.get_id())
            .finish()
    }
}

impl SupervisorRef {
    /// A handle from its parts.
    pub(crate) fn new(
        actor: ActorRef<SupervisorMsg>,
        path: String,
        events: broadcast::Sender<SupervisorEvent>,
    ) -> Self {
        SupervisorRef {
            actor,
            path,
            events,
        }
    }

    /// A handle to a supervisor known only by its actor (for example a child cell whose
    /// `is_message_type_of::<SupervisorMsg>()` is true).
    pub async fn from_actor(actor: ActorRef<SupervisorMsg>) -> Result<Self, SupervisorError> {
        let path = format!("<actor {}>", actor.get_id());
        let (path, events) = call(
            &actor,
            &path,
            Request::Identity,
            Some(defaults::QUERY_TIMEOUT),
        )
        .await?;
        Ok(SupervisorRef {
            actor,
            path,
            events,
        })
    }

    /// The supervisor's path, e.g. `town/rigs`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The supervisor actor.
    pub fn actor(&self) -> &ActorRef<SupervisorMsg> {
        &self.actor
    }

    /// The supervisor actor's cell.
    pub fn cell(&self) -> ActorCell {
        self.actor.get_cell()
    }

    /// Whether the supervisor still runs.
    pub fn is_running(&self) -> bool {
        self.actor.get_status() <= ActorStatus::Running
    }

    /// Follows the events of this supervisor's whole tree (nested supervisors share the stream).
    pub fn subscribe(&self) -> broadcast::Receiver<SupervisorEvent> {
        self.events.subscribe()
    }

    /// A snapshot of the subtree; nested supervisors are asked by the caller, one after another,
    /// so that no supervisor ever waits on another.
    pub async fn snapshot(&self) -> Result<SupervisorSnapshot, SupervisorError> {
        snapshot_of(&self.actor, &self.path).await
    }

    /// Id, kind, restart type, state and actor id of each child, in start order.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.query(Request::WhichChildren).await
    }

    /// The running actor of child `id` (`None` if the child is not running or unknown).
    pub async fn child(&self, id: &str) -> Result<Option<ActorCell>, SupervisorError> {
        let id = id.to_string();
        self.query(move |reply| Request::Child(id, reply)).await
    }

    /// The running actor of child `id` as a typed ref, if it runs and takes messages of type `M`.
    pub async fn child_actor<M: Message>(
        &self,
        id: &str,
    ) -> Result<Option<ActorRef<M>>, SupervisorError> {
        let cell = self.child(id).await?;
        Ok(cell
            .filter(|cell| cell.is_message_type_of::<M>() == Some(true))
            .map(ActorRef::from))
    }

    /// A handle to child `id` if it is a running supervisor of this crate.
    pub async fn child_supervisor(
        &self,
        id: &str,
    ) -> Result<Option<SupervisorRef>, SupervisorError> {
        let Some(cell) = self.child(id).await? else {
            return Ok(None);
        };
        if cell.is_message_type_of::<SupervisorMsg>() != Some(true) {
            return Ok(None);
        }
        let path = format!("{}/{id}", self.path);
        Ok(Some(SupervisorRef::new(
            ActorRef::from(cell),
            path,
            self.events.clone(),
        )))
    }

    /// Adds a child after the others and starts it. Fails if the id is taken, `max_children` is
    /// reached, or the child does not start (it is then not kept).
    pub async fn start_child(&self, spec: ChildSpec) -> Result<ActorCell, SupervisorError> {
        self.command(move |reply| Request::StartChild(spec, reply))
            .await?
    }

    /// Stops child `id` with its shutdown. Temporary children and the children of a dynamic
    /// supervisor are then forgotten; others stay listed as stopped.
    pub async fn terminate_child(&self, id: &str) -> Result<(), SupervisorError> {
        let id = id.to_string();
        self.command(move |reply| Request::TerminateChild(id, reply))
            .await?
    }

    /// Stops child `id` if it runs, then starts it again; returns the new actor.
    pub async fn restart_child(&self, id: &str) -> Result<ActorCell, SupervisorError> {
        let id = id.to_string();
        self.command(move |reply| Request::RestartChild(id, reply))
            .await?
    }

    /// Forgets a stopped child.
    pub async fn delete_child(&self, id: &str) -> Result<(), SupervisorError> {
        let id = id.to_string();
        self.command(move |reply| Request::DeleteChild(id, reply))
            .await?
    }

    /// Stops the supervisor: its children stop in reverse start order, each with its shutdown.
    /// Returns once the supervisor is gone.
    pub async fn shutdown(&self) {
        self.actor.stop(Some("shutdown".to_string()));
        let _ = self.actor.wait(None).await;
    }

    /// Waits until the supervisor is gone (shut down or gave up).
    pub async fn wait(&self) {
        let _ = self.actor.wait(None).await;
    }

    /// A query, bounded by [`defaults::QUERY_TIMEOUT`].
    async fn query<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<T>) -> Request,
    ) -> Result<T, SupervisorError> {
        call(
            &self.actor,
            &self.path,
            build,
            Some(defaults::QUERY_TIMEOUT),
        )
        .await
    }

    /// A command, unbounded: it may wait for children's shutdown timeouts.
    async fn command<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<T>) -> Request,
    ) -> Result<T, SupervisorError> {
        call(&self.actor, &self.path, build, None).await
    }
}

/// Sends a request and waits for the reply.
async fn call<T: Send + 'static>(
    actor: &ActorRef<SupervisorMsg>,
    path: &str,
    build: impl FnOnce(RpcReplyPort<T>) -> Request,
    timeout: Option<Duration>,
) -> Result<T, SupervisorError> {
    let not_running = || SupervisorError::NotRunning {
        path: path.to_string(),
    };
    match actor
        .call(|reply| SupervisorMsg(build(reply)), timeout)
        .await
    {
        Ok(CallResult::Success(value)) => Ok(value),
        Ok(CallResult::Timeout) => Err(SupervisorError::Timeout {
            path: path.to_string(),
            timeout_ms: timeout.map_or(0, |timeout| {
                u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)
            }),
        }),
        Ok(CallResult::SenderError) | Err(_) => Err(not_running()),
    }
}

/// The snapshot of the supervisor `actor` with its nested supervisors filled in.
fn snapshot_of<'a>(
    actor: &'a ActorRef<SupervisorMsg>,
    path: &'a str,
) -> Pin<Box<dyn Future<Output = Result<SupervisorSnapshot, SupervisorError>> + Send + 'a>> {
    Box::pin(async move {
        let (mut snapshot, nested) = call(
            actor,
            path,
            Request::Snapshot,
            Some(defaults::QUERY_TIMEOUT),
        )
        .await?;
        for (index, child) in nested {
            let child_path = snapshot.children[index].path.clone();
            // A nested supervisor that is gone or busy is shown without its subtree.
            if let Ok(child_snapshot) = snapshot_of(&child, &child_path).await {
                snapshot.children[index].supervisor = Some(Box::new(child_snapshot));
            }
        }
        Ok(snapshot)
    })
}
