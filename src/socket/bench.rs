//! The socket round-trip benchmark: an in-process blocking client pinging a real server over a
//! real socket. Callable from `gastown bench socket` and from `benches/`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::bind::{BindError, FileModes, bind};
use super::client::{Client, ClientError};
use super::handler::SocketOnly;
use super::server::{Server, ServerConfig};
use super::tokens::TokenRegistry;
use super::wire::{ReplyBody, RequestBody};

/// Round trips run before measuring, to warm caches and the runtime.
const WARM_UP: usize = 200;

/// Fresh connections timed for [`RoundTrip::connect_ping_median`].
const FRESH_CONNECTIONS: usize = 200;

/// Measured round-trip latencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundTrip {
    /// Measured round trips.
    pub iterations: usize,
    /// Median latency.
    pub median: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Fastest round trip.
    pub min: Duration,
    /// Median of a whole fresh connection: connect, handshake, one ping, close (what one CLI
    /// call costs on top of process start).
    pub connect_ping_median: Duration,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The runtime or temp dir could not be set up.
    #[error("could not set up the benchmark: {0}")]
    Setup(#[from] std::io::Error),
    /// The socket could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// A round trip failed.
    #[error("a benchmark round trip failed: {0}")]
    Client(#[from] ClientError),
}

/// Pings a fresh server `iterations` times (at least 1) from a blocking client and reports
/// latencies. The server runs on a one-worker tokio runtime in a temp runtime dir.
pub fn bench_round_trip(iterations: usize) -> Result<RoundTrip, BenchError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("gastown-bench-{}-{nanos}", std::process::id()));
    let result = run_in(&dir, iterations.max(1));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The benchmark proper, with its runtime dir chosen by the caller (and removed by it).
fn run_in(dir: &std::path::Path, iterations: usize) -> Result<RoundTrip, BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let bound = {
        let _context = runtime.enter();
        bind(dir, FileModes::PRIVATE)?
    };
    let server = Server::new(
        bound,
        Arc::new(SocketOnly),
        TokenRegistry::new(),
        ServerConfig::default(),
    );
    let path = server.socket_path().to_path_buf();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = runtime.spawn(server.run(async {
        let _ = stopped.await;
    }));
    let measured = measure(&path, iterations);
    let _ = stop.send(());
    let _ = runtime.block_on(serving);
    measured
}

/// Connects and times `iterations` pings after a warm-up.
fn measure(path: &std::path::Path, iterations: usize) -> Result<RoundTrip, BenchError> {
    let mut client = Client::connect(path, None, "gastown bench socket")?;
    for _ in 0..WARM_UP {
        client.call(RequestBody::Ping)?;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        let reply = client.call(RequestBody::Ping)?;
        samples.push(start.elapsed());
        debug_assert_eq!(reply, ReplyBody::Pong);
    }
    drop(client);
    let mut fresh = Vec::with_capacity(FRESH_CONNECTIONS);
    for _ in 0..FRESH_CONNECTIONS {
        let start = Instant::now();
        let mut client = Client::connect(path, None, "gastown bench socket")?;
        client.call(RequestBody::Ping)?;
        drop(client);
        fresh.push(start.elapsed());
    }
    fresh.sort();
    samples.sort();
    let at = |quantile: f64| samples[((samples.len() - 1) as f64 * quantile) as usize];
    Ok(RoundTrip {
        iterations,
        median: at(0.5),
        p99: at(0.99),
        min: samples[0],
        connect_ping_median: fresh[fresh.len() / 2],
    })
}
