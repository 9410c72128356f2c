//! Identity from the peer's process over a real socket: a peer inside a registered session is
//! that session's agent whatever token it shows (a mismatch is counted, never an upgrade); one
//! outside every session is the overseer without a token and its token's agent with one.

use super::*;
use crate::socket::sessions::SessionRegistry;
use crate::socket::{ErrorCode, Identity};

fn agent(address: &str) -> Identity {
    Identity::Agent {
        address: address.to_string(),
        role: "polecat".to_string(),
        rig: Some("r".to_string()),
    }
}

/// A server whose session registry is `sessions`; its socket path, tokens and counters.
async fn serve(sessions: SessionRegistry) -> (TestServer, TokenRegistry) {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime_dir = dir.path().join("runtime");
    let bound = bind(&runtime_dir, FileModes::PRIVATE).expect("bind in a fresh temp dir");
    let tokens = TokenRegistry::new();
    let server =
        Server::new(bound, Arc::new(SocketOnly), tokens.clone(), config()).with_sessions(sessions);
    let path = server.socket_path().to_path_buf();
    let stats = server.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let server = TestServer {
        _dir: dir,
        runtime_dir,
        path,
        stats,
        tokens: tokens.clone(),
        stop,
        serving,
    };
    (server, tokens)
}

/// Who the server says a client showing `token` is (or why it refused).
async fn whoami(path: &Path, token: Option<String>) -> Result<Identity, ClientError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut client = Client::connect(&path, token.as_deref(), "test")?;
        match client.call(RequestBody::Whoami)? {
            ReplyBody::Identity(identity) => Ok(identity),
            other => panic!("whoami answered {other:?}"),
        }
    })
    .await
    .expect("client thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_inside_a_session_is_its_agent_whatever_token_it_shows() {
    let sessions = SessionRegistry::new();
    // This test process plays a session's agent: it is the peer of its own connections.
    assert!(sessions.register(std::process::id(), agent("r/polecats/a")));
    let (server, tokens) = serve(sessions).await;
    let b = tokens
        .issue(agent("r/polecats/b"))
        .expect("urandom readable");
    let a = tokens
        .issue(agent("r/polecats/a"))
        .expect("urandom readable");

    let no_token = whoami(&server.path, None).await.expect("served");
    assert_eq!(
        no_token,
        agent("r/polecats/a"),
        "no token is not the overseer"
    );
    let own = whoami(&server.path, Some(a.expose().to_string())).await;
    assert_eq!(own.expect("served"), agent("r/polecats/a"));
    assert_eq!(server.snapshot().token_mismatch, 0);

    let stolen = whoami(&server.path, Some(b.expose().to_string())).await;
    assert_eq!(
        stolen.expect("served"),
        agent("r/polecats/a"),
        "b's token is no upgrade"
    );
    let unknown = whoami(&server.path, Some("0".repeat(64))).await;
    assert_eq!(unknown.expect("served"), agent("r/polecats/a"));
    let stats = server.snapshot();
    assert_eq!(stats.token_mismatch, 2);
    assert_eq!(
        stats.unknown_token, 0,
        "inside a session a bad token is no refusal"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_outside_every_session_is_the_overseer_or_its_tokens_agent() {
    let mut sleeper = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("sleep runs");
    let sessions = SessionRegistry::new();
    assert!(sessions.register(sleeper.id(), agent("r/polecats/a")));
    let (server, tokens) = serve(sessions).await;
    let b = tokens
        .issue(agent("r/polecats/b"))
        .expect("urandom readable");

    let overseer = whoami(&server.path, None).await.expect("served");
    assert_eq!(overseer, Identity::Overseer);
    let with_token = whoami(&server.path, Some(b.expose().to_string())).await;
    assert_eq!(with_token.expect("served"), agent("r/polecats/b"));
    let refused = whoami(&server.path, Some("0".repeat(64))).await;
    match refused {
        Err(ClientError::Connection(error)) => {
            assert_eq!(error.code, ErrorCode::UnknownToken);
            assert!(!error.message.contains("unset"), "{}", error.message);
        }
        other => panic!("an unknown token outside sessions is refused, got {other:?}"),
    }
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    server.stop().await;
}
