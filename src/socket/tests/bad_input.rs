//! The issue's "Bad input" list: each case gets an error reply or a closed connection, moves its
//! counter, and leaves the server serving a well-behaved client.

use super::*;
use crate::socket::{ErrorCode, WireError};

/// A timeout short enough to wait out in a test.
const SHORT: Duration = Duration::from_millis(150);

/// Which counter a case must move.
type CounterOf = fn(&StatsSnapshot) -> u64;

/// Sends `input` on a fresh connection; expects exactly one error frame with `code` and the
/// counter to move by one; then checks a good client is still served.
async fn check(
    server: &TestServer,
    input: &[u8],
    half_close: bool,
    code: ErrorCode,
    counter: CounterOf,
) {
    let before = counter(&server.snapshot());
    let frames = raw_exchange(&server.path, input, half_close).await;
    match frames.as_slice() {
        [ServerFrame::Error(WireError { code: got, message })] => {
            assert_eq!(*got, code, "{message}");
            assert!(
                message.contains(':'),
                "the message says what to do: {message}"
            );
        }
        other => panic!("expected one {code:?} error frame, got {other:?}"),
    }
    assert_eq!(
        counter(&server.snapshot()),
        before + 1,
        "the {code:?} counter moved"
    );
    assert_served(&server.path).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bytes_are_refused_as_a_bad_frame() {
    let server = TestServer::start(config()).await;
    // A well-formed length, then the right version (one varint byte) and an invalid Option tag.
    let version = u8::try_from(PROTOCOL_VERSION).expect("a version below 251 is one byte");
    check(
        &server,
        &[0, 0, 0, 4, version, 9, 9, 9],
        false,
        ErrorCode::BadFrame,
        |s| s.bad_frame,
    )
    .await;
    // A request where the hello should be: its first field is not a version we speak.
    let request = request_frame(PROTOCOL_VERSION.into(), RequestBody::Ping);
    check(&server, &request, false, ErrorCode::BadFrame, |s| {
        s.bad_frame
    })
    .await;
    // Garbage after a good handshake.
    let mut after_hello = hello_frame(PROTOCOL_VERSION, None);
    after_hello.extend_from_slice(&[0, 0, 0, 3, 0xff, 0xff, 0xff]);
    let frames = raw_exchange(&server.path, &after_hello, false).await;
    assert!(
        matches!(frames.as_slice(), [ServerFrame::Welcome(_), ServerFrame::Error(error)] if error.code == ErrorCode::BadFrame),
        "{frames:?}"
    );
    assert_eq!(server.snapshot().bad_frame, 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_garbage_reads_as_an_oversized_length() {
    let server = TestServer::start(config()).await;
    // "GET " as a big-endian length is about 1.2 GB: refused before anything is allocated.
    check(
        &server,
        b"GET / HTTP/1.1\r\n\r\n",
        false,
        ErrorCode::FrameTooLarge,
        |s| s.oversized,
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_frame_is_refused_as_a_bad_frame() {
    let server = TestServer::start(config()).await;
    let mut hello = hello_frame(PROTOCOL_VERSION, None);
    hello.truncate(hello.len() - 2);
    check(&server, &hello, true, ErrorCode::BadFrame, |s| s.bad_frame).await;
    // A length prefix cut short.
    check(&server, &[0, 0], true, ErrorCode::BadFrame, |s| s.bad_frame).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_length_is_refused_before_allocating() {
    let server = TestServer::start(ServerConfig {
        max_frame: 4096,
        ..config()
    })
    .await;
    check(
        &server,
        &[0x7f, 0xff, 0xff, 0xff, 1, 2, 3],
        false,
        ErrorCode::FrameTooLarge,
        |s| s.oversized,
    )
    .await;
    // One byte over the configured maximum.
    check(
        &server,
        &4097u32.to_be_bytes(),
        false,
        ErrorCode::FrameTooLarge,
        |s| s.oversized,
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_protocol_version_is_refused() {
    let server = TestServer::start(config()).await;
    let future_hello = hello_frame(PROTOCOL_VERSION + 1, None);
    check(
        &server,
        &future_hello,
        false,
        ErrorCode::VersionMismatch,
        |s| s.version_mismatch,
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_revoked_tokens_are_refused() {
    let server = TestServer::start(config()).await;
    let unknown = hello_frame(PROTOCOL_VERSION, Some("0123456789abcdef"));
    check(&server, &unknown, false, ErrorCode::UnknownToken, |s| {
        s.unknown_token
    })
    .await;

    let agent = crate::socket::Identity::Agent {
        address: "r/polecats/p".to_string(),
        role: "polecat".to_string(),
        rig: Some("r".to_string()),
    };
    let token = server.tokens.issue(agent).expect("urandom readable");
    assert!(server.tokens.revoke(&token));
    let revoked = hello_frame(PROTOCOL_VERSION, Some(token.expose()));
    check(&server, &revoked, false, ErrorCode::RevokedToken, |s| {
        s.revoked_token
    })
    .await;

    // The blocking client surfaces the same refusal as a connection error.
    let error = blocking_ping(&server.path, Some(token.expose().to_string()))
        .await
        .expect_err("refused");
    assert_eq!(
        error.wire_error().map(|e| e.code),
        Some(ErrorCode::RevokedToken),
        "{error}"
    );
    server.stop().await;
}

// Real time with a short configured timeout: paused time would need tokio's `test-util`
// feature, which the binary's dev-dependencies do not enable. Nothing sleeps: the test waits
// for the server to close the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_speaks_is_closed_at_the_handshake_timeout() {
    let config = ServerConfig {
        handshake_timeout: SHORT,
        ..config()
    };
    let server = TestServer::start(config).await;
    let started = std::time::Instant::now();
    let frames = raw_exchange(&server.path, &[], false).await;
    assert!(
        matches!(frames.as_slice(), [ServerFrame::Error(e)] if e.code == ErrorCode::IdleTimeout),
        "{frames:?}"
    );
    assert!(started.elapsed() >= SHORT, "closed only after the timeout");
    assert_eq!(server.snapshot().idle_closed, 1);
    let mut good = handshaken(&server.path).await;
    assert!(matches!(
        async_ping(&mut good, 1).await,
        ServerFrame::Response(_)
    ));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshaken_client_that_goes_quiet_is_closed_at_the_idle_timeout() {
    let config = ServerConfig {
        idle_timeout: SHORT,
        ..config()
    };
    let server = TestServer::start(config).await;
    let mut quiet = handshaken(&server.path).await;
    assert!(matches!(
        async_ping(&mut quiet, 1).await,
        ServerFrame::Response(_)
    ));
    let started = std::time::Instant::now();
    let frames = read_until_closed(&mut quiet).await;
    assert!(
        matches!(frames.as_slice(), [ServerFrame::Error(e)] if e.code == ErrorCode::IdleTimeout),
        "{frames:?}"
    );
    assert!(started.elapsed() >= SHORT, "closed only after the timeout");
    assert_eq!(server.snapshot().idle_closed, 1);
    let mut good = handshaken(&server.path).await;
    assert!(matches!(
        async_ping(&mut good, 1).await,
        ServerFrame::Response(_)
    ));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_beyond_the_cap_is_refused_while_earlier_clients_are_served() {
    let server = TestServer::start(ServerConfig {
        max_connections: 4,
        ..config()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(handshaken(&server.path).await);
    }
    let hello = hello_frame(PROTOCOL_VERSION, None);
    let flood: Vec<_> = (0..20)
        .map(|_| raw_exchange(&server.path, &hello, false))
        .collect();
    for frames in futures::future::join_all(flood).await {
        assert!(
            matches!(frames.as_slice(), [ServerFrame::Error(e)] if e.code == ErrorCode::TooManyConnections),
            "{frames:?}"
        );
    }
    assert_eq!(server.snapshot().over_capacity, 20);
    for (id, stream) in (1..).zip(held.iter_mut()) {
        assert!(matches!(async_ping(stream, id).await, ServerFrame::Response(r) if r.id == id));
    }
    // Freeing a slot lets a new client in (the server notices the close asynchronously).
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while blocking_ping(&server.path, None).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a freed slot is reused"
        );
        tokio::task::yield_now().await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_replies_is_closed_at_the_write_timeout() {
    let server = TestServer::start(ServerConfig {
        write_timeout: SHORT,
        ..config()
    })
    .await;
    let mut stream = UnixStream::connect(&server.path)
        .await
        .expect("server listens");
    // Far more replies than the socket buffers hold, so the server's writes block.
    let mut requests = hello_frame(PROTOCOL_VERSION, None);
    for id in 0..100_000 {
        requests.extend_from_slice(&request_frame(id, RequestBody::Ping));
    }
    let written = tokio::time::timeout(PATIENCE, stream.write_all(&requests)).await;
    let written = written.expect("the server closes the connection instead of blocking forever");
    assert!(
        written.is_err(),
        "the server closed before reading everything"
    );
    assert_eq!(server.snapshot().write_stalled, 1);
    assert_served(&server.path).await;
    server.stop().await;
}
