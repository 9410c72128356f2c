//! Issue 14's bounds at the socket layer: replies of any size stream in parts and arrive whole
//! (within the reply maxima), one process cannot take every connection, a frame dripped byte by
//! byte is dropped, a connection that attached keeps the long idle timeout, and the client
//! retries at a connection cap and reconnects after an idle close.

use super::*;
use crate::protocol::{TownReply, TownRequest};
use crate::socket::client::ClientOptions;
use crate::socket::wire::ResponsePart;
use crate::socket::{ErrorCode, Handler, HandlerFuture, Identity, WireError};

/// A timeout short enough to wait out in a test.
const SHORT: Duration = Duration::from_millis(150);

/// Answers `AttachOutput { id: n }` with `n` bytes of output (the request picks the reply's
/// size), and every other request with `Done`.
struct Sized;

impl Handler for Sized {
    fn handle<'a>(&'a self, _identity: &'a Identity, body: RequestBody) -> HandlerFuture<'a> {
        Box::pin(async move {
            let reply = match body {
                RequestBody::Town(request) => match *request {
                    TownRequest::AttachOutput { id } => TownReply::Output {
                        bytes: (0..id).map(|n| (n % 251) as u8).collect(),
                        ended: false,
                    },
                    _ => TownReply::Done,
                },
                _ => TownReply::Done,
            };
            Ok(ReplyBody::Town(Box::new(reply)))
        })
    }
}

/// A server answering with [`Sized`].
async fn sized_server(config: ServerConfig) -> TestServer {
    TestServer::start_serving(config, FileModes::PRIVATE, Arc::new(Sized)).await
}

/// A request for a reply of `size` output bytes.
fn sized(size: u64) -> RequestBody {
    RequestBody::Town(Box::new(TownRequest::AttachOutput { id: size }))
}

/// Runs `calls` on a blocking client connected with `options`.
async fn with_client<T: Send + 'static>(
    path: &Path,
    options: ClientOptions,
    calls: impl FnOnce(&mut Client) -> T + Send + 'static,
) -> Result<T, ClientError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut client = Client::connect_with(&path, options)?;
        Ok(calls(&mut client))
    })
    .await
    .expect("client thread does not panic")
}

/// Polls `check` on the server's counters until it holds (or the test's patience runs out).
async fn until(server: &TestServer, what: &str, check: impl Fn(&StatsSnapshot) -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check(&server.snapshot()) {
        assert!(tokio::time::Instant::now() < deadline, "waited for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_larger_than_a_frame_streams_in_parts_and_arrives_whole() {
    let max_frame = 64 * 1024;
    let server = sized_server(ServerConfig {
        max_frame,
        ..config()
    })
    .await;
    let size = 3_000_000;
    let replies = with_client(&server.path, ClientOptions::new("test"), move |client| {
        (client.call(sized(size)), client.call(RequestBody::Ping))
    })
    .await
    .expect("connects");
    match replies.0.expect("the large reply arrives") {
        ReplyBody::Town(reply) => match *reply {
            TownReply::Output { bytes, .. } => {
                assert_eq!(bytes.len() as u64, size);
                assert!(bytes.iter().enumerate().all(|(n, b)| *b == (n % 251) as u8));
            }
            other => panic!("an output reply, got {other:?}"),
        },
        other => panic!("a town reply, got {other:?}"),
    }
    assert_eq!(replies.1.expect("the connection goes on"), ReplyBody::Pong);

    // On the wire: several parts, none over the frame maximum, adding up to the total.
    let mut stream = handshaken(&server.path).await;
    stream
        .write_all(&request_frame(9, sized(size)))
        .await
        .expect("request sent");
    let mut received = 0u64;
    let mut parts = 0;
    loop {
        let length = stream.read_u32().await.expect("a frame") as usize;
        assert!(length <= max_frame, "a part of {length} bytes");
        let mut payload = vec![0u8; length];
        stream.read_exact(&mut payload).await.expect("payload");
        let frame: ServerFrame = super::super::frame::decode_payload(&payload).expect("decodes");
        let ServerFrame::ResponsePart(ResponsePart { id, total, bytes }) = frame else {
            panic!("a response part, got {frame:?}");
        };
        assert_eq!(id, 9);
        received += bytes.len() as u64;
        parts += 1;
        if received == total {
            break;
        }
    }
    assert!(parts > 40, "{parts} parts of at most 64 KiB for 3 MB");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_over_a_reply_maximum_is_refused_and_the_connection_goes_on() {
    let server = sized_server(ServerConfig {
        max_frame: 64 * 1024,
        max_reply: 1 << 20,
        ..config()
    })
    .await;
    let (refused, after) = with_client(&server.path, ClientOptions::new("test"), |client| {
        (
            client.call(sized(2_000_000)),
            client.call(RequestBody::Ping),
        )
    })
    .await
    .expect("connects");
    let error = refused.expect_err("over the server's reply maximum");
    let wire = error.wire_error().expect("a typed error");
    assert_eq!(wire.code, ErrorCode::FrameTooLarge);
    assert!(wire.message.contains("ask for less"), "{}", wire.message);
    assert_eq!(after.expect("still usable"), ReplyBody::Pong);

    // A client with a smaller maximum refuses before reserving anything.
    let mut options = ClientOptions::new("test");
    options.max_reply = 100_000;
    let refused = with_client(&server.path, options, |client| client.call(sized(500_000)))
        .await
        .expect("connects");
    let error = refused.expect_err("over the client's reply maximum");
    assert!(
        matches!(error, ClientError::ReplyTooLarge { max: 100_000, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("ask for less"), "{error}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_gets_at_most_its_share_of_connections() {
    let server = TestServer::start(ServerConfig {
        max_connections: 8,
        max_connections_per_peer: 3,
        ..config()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(handshaken(&server.path).await);
    }
    let hello = hello_frame(PROTOCOL_VERSION, None);
    let frames = raw_exchange(&server.path, &hello, false).await;
    match frames.as_slice() {
        [ServerFrame::Error(WireError { code, message })] => {
            assert_eq!(*code, ErrorCode::TooManyConnections);
            assert!(message.contains("per-process maximum"), "{message}");
        }
        other => panic!("one refusal, got {other:?}"),
    }
    let stats = server.snapshot();
    assert_eq!((stats.over_peer_cap, stats.over_capacity), (1, 0));
    // A freed slot is this process's again.
    drop(held.pop());
    until(&server, "the freed slot", |s| s.active == 2).await;
    let mut again = handshaken(&server.path).await;
    assert!(matches!(
        async_ping(&mut again, 1).await,
        ServerFrame::Response(_)
    ));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_dripped_slowly_is_dropped_at_the_frame_timeout() {
    let server = TestServer::start(ServerConfig {
        frame_timeout: SHORT,
        ..config()
    })
    .await;
    let mut stream = handshaken(&server.path).await;
    let request = request_frame(1, RequestBody::Ping);
    // The first bytes of a request, and then nothing: the idle timeout (10 s) is not what ends it.
    stream
        .write_all(&request[..3])
        .await
        .expect("a partial frame");
    let started = std::time::Instant::now();
    let frames = read_until_closed(&mut stream).await;
    match frames.as_slice() {
        [ServerFrame::Error(WireError { code, message })] => {
            assert_eq!(*code, ErrorCode::IdleTimeout);
            assert!(message.contains("of its first byte"), "{message}");
        }
        other => panic!("one refusal, got {other:?}"),
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= SHORT && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert_eq!(server.snapshot().slow_frame, 1);
    assert_eq!(server.snapshot().idle_closed, 0);
    assert_served(&server.path).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attached_connection_keeps_the_long_idle_timeout() {
    let attached_idle = SHORT * 4;
    let server = sized_server(ServerConfig {
        idle_timeout: SHORT,
        attached_idle_timeout: attached_idle,
        ..config()
    })
    .await;
    let mut attached = handshaken(&server.path).await;
    let mut plain = handshaken(&server.path).await;
    attached
        .write_all(&request_frame(1, sized(3)))
        .await
        .expect("an attachment request");
    assert!(matches!(
        read_one(&mut attached).await,
        ServerFrame::Response(_)
    ));
    let started = std::time::Instant::now();
    assert!(matches!(
        async_ping(&mut plain, 1).await,
        ServerFrame::Response(_)
    ));
    let frames = read_until_closed(&mut plain).await;
    assert!(
        matches!(frames.as_slice(), [ServerFrame::Error(e)] if e.code == ErrorCode::IdleTimeout),
        "{frames:?}"
    );
    assert!(
        started.elapsed() < attached_idle,
        "the plain one closed first"
    );
    // The attached one is still served, and closes only at the long timeout. The server's
    // idle clock starts when the ping arrives, after this instant: measured from here, never
    // from the reply (which comes later and made the bound flaky by a millisecond).
    let quiet_from = std::time::Instant::now();
    assert!(matches!(
        async_ping(&mut attached, 2).await,
        ServerFrame::Response(_)
    ));
    let frames = read_until_closed(&mut attached).await;
    assert!(
        matches!(frames.as_slice(), [ServerFrame::Error(e)] if e.code == ErrorCode::IdleTimeout),
        "{frames:?}"
    );
    assert!(
        quiet_from.elapsed() >= attached_idle,
        "{:?}",
        quiet_from.elapsed()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_retries_at_the_connection_cap_then_says_why() {
    let server = TestServer::start(ServerConfig {
        max_connections: 1,
        ..config()
    })
    .await;
    let held = handshaken(&server.path).await;
    // Never freed within the retry period: a clear error after retrying.
    let mut options = ClientOptions::new("test");
    options.busy_retry = Duration::from_millis(300);
    let error = with_client(&server.path, options, |_| ())
        .await
        .expect_err("the cap never frees");
    assert!(matches!(error, ClientError::Busy { .. }), "{error:?}");
    assert!(error.to_string().contains("kept refusing"), "{error}");
    let refusals = server.snapshot().over_capacity;
    assert!(refusals >= 2, "retried: {refusals} refusals");

    // Freed while the client retries: it gets in.
    let mut options = ClientOptions::new("test");
    options.busy_retry = PATIENCE;
    let path = server.path.clone();
    let client = tokio::task::spawn_blocking(move || {
        Client::connect_with(&path, options).and_then(|mut client| client.call(RequestBody::Ping))
    });
    until(&server, "a refusal of the retrying client", |s| {
        s.over_capacity > refusals
    })
    .await;
    drop(held);
    let reply = client.await.expect("client thread");
    assert_eq!(reply.expect("served once the slot frees"), ReplyBody::Pong);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_after_an_idle_close_and_sends_its_request() {
    let server = TestServer::start(ServerConfig {
        idle_timeout: SHORT,
        ..config()
    })
    .await;
    let path = server.path.clone();
    let stats = Arc::clone(&server.stats);
    let replies = tokio::task::spawn_blocking(move || {
        let mut client = Client::connect(&path, None, "test").expect("connects");
        let first = client.call(RequestBody::Ping);
        let deadline = std::time::Instant::now() + PATIENCE;
        while stats.snapshot().idle_closed == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the server idles it out"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        (first, client.call(RequestBody::Whoami))
    })
    .await
    .expect("client thread");
    assert_eq!(replies.0.expect("served"), ReplyBody::Pong);
    assert_eq!(
        replies.1.expect("served on a fresh connection"),
        ReplyBody::Identity(Identity::Overseer)
    );
    assert_eq!(server.snapshot().accepted, 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_agent_gets_at_most_its_share_of_connections_and_the_overseer_is_not_capped() {
    let server = TestServer::start(ServerConfig {
        max_connections: 8,
        max_connections_per_identity: 2,
        ..config()
    })
    .await;
    let agent = Identity::Agent {
        address: "alpha/polecats/nux".to_string(),
        role: "polecat".to_string(),
        rig: Some("alpha".to_string()),
    };
    let token = server.tokens.issue(agent).expect("urandom readable");
    let secret = token.expose().to_string();
    let hello = hello_frame(PROTOCOL_VERSION, Some(&secret));
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = UnixStream::connect(&server.path).await.expect("listens");
        stream.write_all(&hello).await.expect("hello sent");
        assert!(matches!(
            read_one(&mut stream).await,
            ServerFrame::Welcome(_)
        ));
        held.push(stream);
    }
    let frames = raw_exchange(&server.path, &hello, false).await;
    match frames.as_slice() {
        [ServerFrame::Error(WireError { code, message })] => {
            assert_eq!(*code, ErrorCode::TooManyConnections);
            assert!(message.contains("per-agent maximum"), "{message}");
        }
        other => panic!("one refusal, got {other:?}"),
    }
    assert_eq!(server.snapshot().over_peer_cap, 1);
    // The overseer is not held to the agent's count.
    for id in 1..=3 {
        let mut overseer = handshaken(&server.path).await;
        assert!(matches!(
            async_ping(&mut overseer, id).await,
            ServerFrame::Response(_)
        ));
    }
    server.stop().await;
}
