//! Tests over a real socket in a temp dir: a real server, real clients (the blocking [`Client`]
//! and raw tokio streams for bad input), real peer credentials.
//!
//! Helpers live here; `serving` covers the happy paths and lifecycle, `bad_input` the issue's
//! "Bad input" list (each case also checks the counter moved and a good client is still served).

mod bad_input;
mod identity;
mod limits;
mod logging;
mod other_uid;
mod serving;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::frame::{DEFAULT_MAX_FRAME, encode_frame, read_frame};
use super::handler::SocketOnly;
use super::stats::{SocketStats, StatsSnapshot};
use super::wire::{Hello, PROTOCOL_VERSION, Request, ServerFrame};
use super::{
    Client, ClientError, FileModes, ReplyBody, RequestBody, Server, ServerConfig, TokenRegistry,
    bind,
};

/// Upper bound for anything a test waits on; reached only when a test is failing.
const PATIENCE: Duration = Duration::from_secs(20);

/// A running server in its own temp dir.
struct TestServer {
    /// Keeps the temp dir alive for the test's duration.
    _dir: tempfile::TempDir,
    /// The runtime dir handed to `bind`.
    runtime_dir: PathBuf,
    /// The socket path.
    path: PathBuf,
    /// The server's counters.
    stats: Arc<SocketStats>,
    /// The server's tokens, to issue and revoke in tests.
    tokens: TokenRegistry,
    /// Completing this stops the server.
    stop: tokio::sync::oneshot::Sender<()>,
    /// The server task.
    serving: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// A server with production file modes.
    async fn start(config: ServerConfig) -> TestServer {
        TestServer::start_with(config, FileModes::PRIVATE).await
    }

    /// A server with the given file modes.
    async fn start_with(config: ServerConfig, modes: FileModes) -> TestServer {
        TestServer::start_serving(config, modes, Arc::new(SocketOnly)).await
    }

    /// A server whose handler is `handler`.
    async fn start_serving(
        config: ServerConfig,
        modes: FileModes,
        handler: Arc<dyn super::Handler>,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime_dir = dir.path().join("runtime");
        let bound = bind(&runtime_dir, modes).expect("bind in a fresh temp dir");
        let tokens = TokenRegistry::new();
        let server = Server::new(bound, handler, tokens.clone(), config);
        let path = server.socket_path().to_path_buf();
        let stats = server.stats();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestServer {
            _dir: dir,
            runtime_dir,
            path,
            stats,
            tokens,
            stop,
            serving,
        }
    }

    /// The counters now.
    fn snapshot(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Stops the server and waits for it.
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(PATIENCE, self.serving)
            .await
            .expect("server stops within the grace period")
            .expect("server task does not panic");
    }
}

/// A config with test-sized limits; timeouts stay long unless a test shortens them.
fn config() -> ServerConfig {
    ServerConfig {
        max_connections: 8,
        ..ServerConfig::default()
    }
}

/// Pings with the blocking client on a blocking thread.
async fn blocking_ping(path: &Path, token: Option<String>) -> Result<ReplyBody, ClientError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut client = Client::connect(&path, token.as_deref(), "test")?;
        client.call(RequestBody::Ping)
    })
    .await
    .expect("client thread does not panic")
}

/// Asserts a well-behaved client is served (blocking client).
async fn assert_served(path: &Path) {
    let reply = blocking_ping(path, None).await;
    assert_eq!(reply.expect("a good client is served"), ReplyBody::Pong);
}

/// The bytes of a hello frame.
fn hello_frame(protocol: u32, token: Option<&str>) -> Vec<u8> {
    let hello = Hello {
        protocol,
        token: token.map(str::to_string),
        client: "raw test".to_string(),
    };
    encode_frame(&hello, DEFAULT_MAX_FRAME).expect("encodable hello")
}

/// The bytes of a request frame.
fn request_frame(id: u64, body: RequestBody) -> Vec<u8> {
    encode_frame(&Request { id, body }, DEFAULT_MAX_FRAME).expect("encodable request")
}

/// Decodes every complete server frame in `bytes`.
fn parse_frames(bytes: &[u8]) -> Vec<ServerFrame> {
    let mut rest = bytes;
    let mut frames = Vec::new();
    while let Ok(Some(frame)) = read_frame::<ServerFrame>(&mut rest, DEFAULT_MAX_FRAME) {
        frames.push(frame);
    }
    frames
}

/// Reads until the server closes; returns the frames it sent.
async fn read_until_closed(stream: &mut UnixStream) -> Vec<ServerFrame> {
    let mut bytes = Vec::new();
    // An error (ECONNRESET) after the data is fine: `bytes` keeps what was read.
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut bytes)).await;
    assert!(read.is_ok(), "the server closes the connection");
    parse_frames(&bytes)
}

/// Sends raw bytes (optionally half-closing), then returns what the server sent before closing.
async fn raw_exchange(path: &Path, bytes: &[u8], half_close: bool) -> Vec<ServerFrame> {
    let mut stream = UnixStream::connect(path).await.expect("server listens");
    // The server may close before reading everything; what it sent is still readable.
    let _ = stream.write_all(bytes).await;
    if half_close {
        let _ = stream.shutdown().await;
    }
    read_until_closed(&mut stream).await
}

/// Reads exactly one server frame from an open stream.
async fn read_one(stream: &mut UnixStream) -> ServerFrame {
    let read = async {
        let length = stream.read_u32().await.expect("frame length");
        let mut payload = vec![0u8; length as usize];
        stream
            .read_exact(&mut payload)
            .await
            .expect("frame payload");
        super::frame::decode_payload::<ServerFrame>(&payload).expect("a server frame")
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the server answers")
}

/// An async raw client: connects and completes the handshake as the overseer.
async fn handshaken(path: &Path) -> UnixStream {
    let mut stream = UnixStream::connect(path).await.expect("server listens");
    stream
        .write_all(&hello_frame(PROTOCOL_VERSION, None))
        .await
        .expect("hello sent");
    match read_one(&mut stream).await {
        ServerFrame::Welcome(_) => stream,
        other => panic!("expected a welcome, got {other:?}"),
    }
}

/// Pings over an async raw client (usable on paused time, unlike a blocking thread).
async fn async_ping(stream: &mut UnixStream, id: u64) -> ServerFrame {
    stream
        .write_all(&request_frame(id, RequestBody::Ping))
        .await
        .expect("request sent");
    read_one(stream).await
}
