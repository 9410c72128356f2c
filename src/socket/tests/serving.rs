//! Happy paths and lifecycle: round trips, identities, shutdown, binding rules, path fallback.

use super::*;
use crate::socket::bind::BindError;
use crate::socket::bind::{SOCKET_PATH_FILE_NAME, socket_path_for};
use crate::socket::{ErrorCode, Identity, locate_socket};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_ping_whoami_and_stats_as_the_overseer() {
    let server = TestServer::start(config()).await;
    let path = server.path.clone();
    let (identity, replies) = tokio::task::spawn_blocking(move || {
        let mut client = Client::connect(&path, None, "test").expect("connects");
        let replies = [RequestBody::Ping, RequestBody::Whoami, RequestBody::Stats]
            .map(|body| client.call(body).expect("answered"));
        (client.identity().clone(), replies)
    })
    .await
    .expect("client thread");
    assert_eq!(identity, Identity::Overseer);
    assert_eq!(replies[0], ReplyBody::Pong);
    assert_eq!(replies[1], ReplyBody::Identity(Identity::Overseer));
    let ReplyBody::Stats(stats) = &replies[2] else {
        panic!("stats reply, got {:?}", replies[2])
    };
    assert_eq!((stats.accepted, stats.active, stats.requests), (1, 1, 3));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_binds_the_connection_to_its_agent_identity() {
    let server = TestServer::start(config()).await;
    let agent = Identity::Agent {
        address: "myrig/polecats/nux".to_string(),
        role: "polecat".to_string(),
        rig: Some("myrig".to_string()),
    };
    let token = server
        .tokens
        .issue(agent.clone())
        .expect("urandom readable");
    let path = server.path.clone();
    let secret = token.expose().to_string();
    let (identity, whoami) = tokio::task::spawn_blocking(move || {
        let mut client = Client::connect(&path, Some(&secret), "agent").expect("connects");
        (
            client.identity().clone(),
            client.call(RequestBody::Whoami).expect("answered"),
        )
    })
    .await
    .expect("client thread");
    assert_eq!(identity, agent);
    assert_eq!(whoami, ReplyBody::Identity(agent));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_waiting_clients_and_removes_the_socket() {
    let server = TestServer::start(config()).await;
    let path = server.path.clone();
    let path_file = server.runtime_dir.join(SOCKET_PATH_FILE_NAME);
    let (client_tx, client_rx) = std::sync::mpsc::channel();
    let (stopped_tx, stopped_rx) = std::sync::mpsc::channel::<()>();
    let client_thread = tokio::task::spawn_blocking({
        let path = path.clone();
        move || {
            let mut client = Client::connect(&path, None, "test").expect("connects");
            client_tx.send(()).expect("test waits");
            stopped_rx.recv().expect("test signals the stop");
            client.call(RequestBody::Ping)
        }
    });
    tokio::task::spawn_blocking(move || client_rx.recv())
        .await
        .expect("join")
        .expect("connected");
    assert!(path_file.exists(), "socket.path is written while serving");
    server.stop().await;
    stopped_tx.send(()).expect("client thread waits");
    let after = client_thread.await.expect("client thread");
    let code = after
        .as_ref()
        .err()
        .and_then(ClientError::wire_error)
        .map(|error| error.code);
    assert_eq!(code, Some(ErrorCode::Unavailable), "{after:?}");
    assert!(!path.exists(), "the socket file is removed");
    assert!(!path_file.exists(), "socket.path is removed");
    let error = blocking_ping(&path, None)
        .await
        .expect_err("nothing listens");
    assert!(error.is_no_supervisor(), "{error:?}");
    assert!(error.to_string().contains("gastown run"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_removes_a_stale_socket_but_never_a_live_one_or_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime_dir = dir.path().join("runtime");
    std::fs::create_dir_all(&runtime_dir).expect("mkdir");
    let path = socket_path_for(&runtime_dir);
    drop(std::os::unix::net::UnixListener::bind(&path).expect("stale socket"));
    assert!(path.exists(), "a dropped listener leaves its file behind");
    let live = bind(&runtime_dir, FileModes::PRIVATE).expect("a stale socket is replaced");
    let again = bind(&runtime_dir, FileModes::PRIVATE).expect_err("a live socket is kept");
    assert!(
        matches!(again, BindError::AlreadyServing { .. }),
        "{again:?}"
    );
    drop(live);
    std::fs::write(&path, b"not a socket").expect("write");
    let refused = bind(&runtime_dir, FileModes::PRIVATE).expect_err("a file is kept");
    assert!(
        matches!(refused, BindError::NotASocket { .. }),
        "{refused:?}"
    );
    assert_eq!(std::fs::read(&path).expect("still there"), b"not a socket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_dir_and_socket_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start(config()).await;
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&server.runtime_dir), 0o700);
    assert_eq!(mode(&server.path), 0o600);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_dir_too_deep_for_sun_path_falls_back_and_clients_find_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime_dir = dir.path().join("d".repeat(100)).join(".runtime");
    let bound = bind(&runtime_dir, FileModes::PRIVATE).expect("bind falls back");
    let path = bound.socket_path().to_path_buf();
    assert!(!path.starts_with(&runtime_dir), "{path:?}");
    assert_eq!(
        locate_socket(&runtime_dir),
        path,
        "socket.path points at the fallback"
    );
    let server = Server::new(bound, Arc::new(SocketOnly), TokenRegistry::new(), config());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    assert_eq!(
        blocking_ping(&locate_socket(&runtime_dir), None)
            .await
            .expect("served"),
        ReplyBody::Pong
    );
    let _ = stop.send(());
    serving.await.expect("server task");
    assert!(!path.exists(), "the fallback socket is removed");
    if let Some(fallback_dir) = path.parent() {
        let _ = std::fs::remove_dir(fallback_dir);
    }
}

#[test]
fn the_round_trip_benchmark_runs() {
    let figures = crate::socket::bench::bench_round_trip(50).expect("benchmark runs");
    assert_eq!(figures.iterations, 50);
    assert!(
        figures.min <= figures.median && figures.median <= figures.p99,
        "{figures:?}"
    );
}

#[test]
fn a_silent_server_makes_the_client_time_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("silent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let mut options = crate::socket::client::ClientOptions::new("test");
    options.call_timeout = Duration::from_millis(100);
    let error = Client::connect_with(&path, options).expect_err("no welcome ever comes");
    assert!(matches!(error, ClientError::Timeout(_)), "{error:?}");
}
