//! The listener: accepts connections, enforces the connection cap, spawns one task per
//! connection, and shuts everything down when the shutdown future completes.
//!
//! Shape borrowed from mini-redis: a semaphore holds the cap (a connection over it gets a
//! `TooManyConnections` error frame and is closed), accept errors back off instead of spinning,
//! shutdown is passed in as a future and fanned out to connections through a cancellation token,
//! and the listener waits (up to a grace period) for connections to finish.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::bind::BoundSocket;
use super::connection::{refuse_at_accept, serve_connection};
use super::frame::{DEFAULT_MAX_FRAME, DEFAULT_MAX_REPLY};
use super::handler::Handler;
use super::peers::PeerCounts;
use super::sessions::SessionRegistry;
use super::stats::{Counter, SocketStats};
use super::tokens::TokenRegistry;

/// Limits and timeouts; [`ServerConfig::default`] gives production values.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Connections served at once; one more gets `TooManyConnections`.
    pub max_connections: usize,
    /// Largest frame payload accepted or sent (clamped to 16 MiB).
    pub max_frame: usize,
    /// How long a new connection may take to send its hello.
    pub handshake_timeout: Duration,
    /// How long a handshaken connection may stay silent between requests (while a request is
    /// being answered nothing is timed: a slow request never closes its connection).
    pub idle_timeout: Duration,
    /// The same for a connection that has attached to a session (`Attach*` requests): a human
    /// at a terminal may type nothing for minutes.
    pub attached_idle_timeout: Duration,
    /// How long a frame may take to arrive once its first byte has: a peer dripping a request
    /// byte by byte is closed after this, whatever the idle timeout.
    pub frame_timeout: Duration,
    /// Connections one process (SO_PEERCRED pid) may hold at once; one more gets
    /// `TooManyConnections`. Keep it below `max_connections`.
    pub max_connections_per_peer: usize,
    /// Connections one agent identity may hold at once, whatever processes it runs in; one more
    /// gets `TooManyConnections`. The overseer has no such cap (see `peers`).
    pub max_connections_per_identity: usize,
    /// Largest reply sent, in parts of at most `max_frame` (clamped to 1 GiB); a larger one
    /// becomes a `FrameTooLarge` error reply.
    pub max_reply: usize,
    /// How long a reply may wait for a peer that does not read.
    pub write_timeout: Duration,
    /// After shutdown, how long connections get to finish before they are aborted.
    pub shutdown_grace: Duration,
    /// The only uid allowed to connect (SO_PEERCRED); the supervisor's effective uid.
    pub allowed_uid: u32,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            max_connections: 256,
            max_frame: DEFAULT_MAX_FRAME,
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(10),
            attached_idle_timeout: Duration::from_secs(300),
            frame_timeout: Duration::from_secs(5),
            max_connections_per_peer: 32,
            max_connections_per_identity: 32,
            max_reply: DEFAULT_MAX_REPLY,
            write_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(2),
            // SAFETY: geteuid has no preconditions and cannot fail.
            allowed_uid: unsafe { libc::geteuid() },
        }
    }
}

/// What every connection task shares.
pub(super) struct Shared {
    /// Answers requests the socket layer does not answer itself.
    pub(super) handler: Arc<dyn Handler>,
    /// Resolves hello tokens to identities.
    pub(super) tokens: TokenRegistry,
    /// The live sessions' processes: a peer inside one is its agent, whatever token it shows.
    pub(super) sessions: SessionRegistry,
    /// Counters, also handed out through [`Server::stats`].
    pub(super) stats: Arc<SocketStats>,
    /// Limits and timeouts.
    pub(super) config: ServerConfig,
    /// Connections held per process and per agent identity.
    pub(super) peers: Arc<PeerCounts>,
}

/// A bound, not yet running socket server.
pub struct Server {
    /// The listener and the files it owns (removed when the server is dropped).
    bound: BoundSocket,
    /// State shared with connection tasks.
    shared: Arc<Shared>,
}

impl Server {
    /// A server on a bound socket.
    pub fn new(
        bound: BoundSocket,
        handler: Arc<dyn Handler>,
        tokens: TokenRegistry,
        config: ServerConfig,
    ) -> Server {
        let stats = Arc::new(SocketStats::default());
        let shared = Shared {
            handler,
            tokens,
            sessions: SessionRegistry::new(),
            stats,
            config,
            peers: Arc::default(),
        };
        Server {
            bound,
            shared: Arc::new(shared),
        }
    }

    /// Places peers by their process with `sessions` (see [`SessionRegistry::resolve`]); without
    /// it no peer is inside a session and only tokens name agents.
    pub fn with_sessions(mut self, sessions: SessionRegistry) -> Server {
        Arc::get_mut(&mut self.shared)
            .expect("the server is not running yet: nothing else holds its shared state")
            .sessions = sessions;
        self
    }

    /// The live counters (for introspection); valid before, during and after [`Server::run`].
    #[cfg(test)]
    pub fn stats(&self) -> Arc<SocketStats> {
        Arc::clone(&self.shared.stats)
    }

    /// The socket's path.
    pub fn socket_path(&self) -> &Path {
        self.bound.socket_path()
    }

    /// Serves until `shutdown` completes, then closes every connection (each gets an
    /// `Unavailable` error frame if it is waiting for a request) and removes the socket file.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let cancel = CancellationToken::new();
        let mut tasks = JoinSet::new();
        self.accept_until(shutdown, &cancel, &mut tasks).await;
        cancel.cancel();
        let grace = self.shared.config.shutdown_grace;
        let drained = tokio::time::timeout(grace, async {
            while let Some(joined) = tasks.join_next().await {
                report_join(joined);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                remaining = tasks.len(),
                ?grace,
                "aborting socket connections still busy after the shutdown grace period"
            );
            tasks.shutdown().await;
        }
        tracing::debug!(path = %self.bound.socket_path().display(), "socket server stopped");
    }

    /// The accept loop; returns when `shutdown` completes.
    async fn accept_until(
        &self,
        shutdown: impl Future<Output = ()>,
        cancel: &CancellationToken,
        tasks: &mut JoinSet<()>,
    ) {
        tokio::pin!(shutdown);
        let capacity = Arc::new(Semaphore::new(self.shared.config.max_connections));
        let mut backoff = Duration::from_millis(1);
        let mut next_id: u64 = 0;
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => return,
                Some(joined) = tasks.join_next() => report_join(joined),
                accepted = self.bound.listener.accept() => match accepted {
                    Ok((stream, _address)) => {
                        backoff = Duration::from_millis(1);
                        next_id += 1;
                        self.spawn_connection(stream, next_id, &capacity, cancel, tasks);
                    }
                    Err(error) => {
                        // e.g. EMFILE: wait for connections to close instead of spinning.
                        tracing::warn!(%error, ?backoff, "accept on the socket failed; backing off");
                        tokio::select! {
                            () = &mut shutdown => return,
                            () = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                },
            }
        }
    }

    /// Starts the task for one accepted connection, or its refusal when over the cap.
    fn spawn_connection(
        &self,
        stream: UnixStream,
        id: u64,
        capacity: &Arc<Semaphore>,
        cancel: &CancellationToken,
        tasks: &mut JoinSet<()>,
    ) {
        self.shared.stats.bump(Counter::Accepted);
        let span = tracing::info_span!(
            "socket_conn",
            conn = id,
            pid = tracing::field::Empty,
            uid = tracing::field::Empty,
            identity = tracing::field::Empty,
        );
        let shared = Arc::clone(&self.shared);
        // The pid is read here, before anything else, so the per-process cap applies before a
        // slot under the global cap is taken. A peer without a pid (not on Linux) is not capped.
        let pid = stream
            .peer_cred()
            .ok()
            .and_then(|credentials| credentials.pid());
        let per_peer = self.shared.config.max_connections_per_peer;
        let pid_slot = match pid.and_then(|pid| u32::try_from(pid).ok()) {
            Some(pid) => match self.shared.peers.take_pid(pid, per_peer) {
                Some(slot) => Some(slot),
                None => {
                    span.record("pid", pid);
                    let message = format!(
                        "process {pid} already holds {per_peer} connections to the supervisor (the per-process maximum): close some, or reuse one connection for several requests"
                    );
                    let refusal = refuse_at_accept(stream, shared, Counter::OverPeerCap, message);
                    tasks.spawn(refusal.instrument(span));
                    return;
                }
            },
            None => None,
        };
        match Arc::clone(capacity).try_acquire_owned() {
            Ok(permit) => {
                let cancel = cancel.clone();
                let task = serve_connection(stream, shared, cancel, (permit, pid_slot));
                tasks.spawn(task.instrument(span));
            }
            Err(_full) => {
                let max = self.shared.config.max_connections;
                let message = format!(
                    "the supervisor is serving its maximum of {max} connections: retry shortly"
                );
                let refusal = refuse_at_accept(stream, shared, Counter::OverCapacity, message);
                tasks.spawn(refusal.instrument(span));
            }
        }
    }
}

/// Logs a connection task that panicked or was aborted; a normal end needs no report.
fn report_join(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        tracing::error!(%error, "a socket connection task panicked");
    }
}
