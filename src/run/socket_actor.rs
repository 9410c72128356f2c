//! The socket server as a supervised actor: each incarnation binds the socket afresh and serves
//! until it is stopped; its stop drains connections and removes the socket file.

use crate::socket::{
    FileModes, Handler, Server, ServerConfig, SessionRegistry, TokenRegistry, bind,
};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The socket actor.
#[derive(Clone)]
pub struct SocketActor;

/// What a socket incarnation needs.
#[derive(Clone)]
pub struct SocketArgs {
    pub runtime_dir: PathBuf,
    pub handler: Arc<dyn Handler>,
    pub tokens: TokenRegistry,
    /// The live sessions' processes, registered by the session factory.
    pub sessions: SessionRegistry,
    pub config: ServerConfig,
}

pub struct SocketState {
    /// Tells the server to stop.
    stop: Arc<Notify>,
    /// The serving task.
    task: Option<JoinHandle<()>>,
}

/// The socket actor has no messages of its own; the server runs beside it.
pub enum SocketMsg {}

impl Actor for SocketActor {
    type Msg = SocketMsg;
    type State = SocketState;
    type Arguments = SocketArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SocketMsg>,
        args: SocketArgs,
    ) -> Result<SocketState, ActorProcessingErr> {
        let bound = bind(&args.runtime_dir, FileModes::PRIVATE)?;
        let server =
            Server::new(bound, args.handler, args.tokens, args.config).with_sessions(args.sessions);
        tracing::info!(socket = %server.socket_path().display(), "listening");
        let stop = Arc::new(Notify::new());
        let stopped = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            server.run(async move { stopped.notified().await }).await;
            // A server that ends on its own is a failure its supervisor should see.
            myself.stop(Some("socket server ended".to_string()));
        });
        Ok(SocketState {
            stop,
            task: Some(task),
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SocketMsg>,
        state: &mut SocketState,
    ) -> Result<(), ActorProcessingErr> {
        state.stop.notify_one();
        if let Some(task) = state.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        Ok(())
    }
}
