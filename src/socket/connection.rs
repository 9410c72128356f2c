//! One connection: peer check, handshake, then requests until the peer leaves, goes quiet,
//! misbehaves, or the server shuts down.
//!
//! Every wait selects between the peer and shutdown, under a timeout. A misbehaving peer ends in
//! one [`Refusal`]: it is counted once, logged once (warn, in the connection's span), sent a
//! typed error frame when the stream still allows it, and closed. Nothing a peer sends can affect
//! another connection.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use super::frame::{
    FrameCodec, FrameError, decode_leading, decode_payload, encode_frame, encode_payload,
};
use super::handler::dispatch;
use super::server::Shared;
use super::sessions::PeerOrigin;
use super::stats::Counter;
use super::tokens::TokenLookup;
use super::wire::{
    ErrorCode, Hello, Identity, PROTOCOL_VERSION, Request, Response, ServerFrame, Welcome,
    WireError,
};

/// How long an over-capacity refusal may take to write before the connection is just dropped.
const REFUSAL_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// How a connection ended without the peer being at fault.
#[derive(Debug)]
enum Ending {
    /// The peer closed (or reset) the connection.
    PeerClosed,
    /// The server is shutting down.
    Shutdown,
    /// The server failed (a reply could not be encoded); already logged.
    Internal,
}

/// How a connection ends when the peer is at fault: the counter to bump, the error to send.
#[derive(Debug)]
struct Refusal {
    /// Which "why" counter this refusal bumps.
    counter: Counter,
    /// The error frame sent to the peer (best effort) and logged.
    error: WireError,
}

impl Refusal {
    /// A refusal with a code and a message that says what to do.
    fn new(counter: Counter, code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            counter,
            error: WireError::new(code, message),
        }
    }
}

/// A connection after the peer check.
struct Connection {
    /// The stream, framed by length prefix.
    framed: Framed<UnixStream, FrameCodec>,
    /// Handler, tokens, stats and config.
    shared: Arc<Shared>,
    /// The peer's pid (SO_PEERCRED), to place its process among the sessions.
    peer_pid: Option<u32>,
}

/// Serves one connection to its end; `_permit` holds a slot under the connection cap.
pub(super) async fn serve_connection(
    stream: UnixStream,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let stats = Arc::clone(&shared.stats);
    let _active = stats.track_active();
    let peer = check_peer(&stream, &shared);
    let peer_pid = peer.as_ref().ok().copied().flatten();
    let mut connection = Connection::new(stream, shared, peer_pid);
    let outcome = match peer {
        Ok(_) => connection.run(&shutdown).await,
        Err(refusal) => Err(refusal),
    };
    match outcome {
        Ok(Ending::PeerClosed | Ending::Internal) => tracing::debug!("connection closed"),
        Ok(Ending::Shutdown) => {
            let message = "the supervisor is shutting down: retry once `gastown run` is back, or run ledger-only commands without it";
            let error = WireError::new(ErrorCode::Unavailable, message);
            connection.send_error(error).await;
        }
        Err(refusal) => connection.refuse(refusal).await,
    }
}

/// Refuses a connection accepted over the cap: one error frame, then close.
pub(super) async fn refuse_over_capacity(stream: UnixStream, shared: Arc<Shared>) {
    shared.stats.bump(Counter::OverCapacity);
    let max = shared.config.max_connections;
    tracing::warn!(max, "refused a socket connection: at the connection cap");
    let message =
        format!("the supervisor is serving its maximum of {max} connections: retry shortly");
    let error = WireError::new(ErrorCode::TooManyConnections, message);
    let frame = encode_frame(&ServerFrame::Error(error), shared.config.max_frame);
    if let Ok(frame) = frame {
        let write = async {
            use tokio::io::AsyncWriteExt;
            let mut stream = stream;
            stream.write_all(&frame).await?;
            stream.shutdown().await
        };
        let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, write).await;
    }
}

/// Admits only peers with the server's uid (SO_PEERCRED) and records pid and uid in the span;
/// returns the peer's pid when the kernel gave one.
fn check_peer(stream: &UnixStream, shared: &Shared) -> Result<Option<u32>, Refusal> {
    let allowed = shared.config.allowed_uid;
    let credentials = stream.peer_cred().map_err(|error| {
        let message =
            format!("could not read the peer's credentials ({error}): connection refused");
        Refusal::new(Counter::RejectedUid, ErrorCode::Unauthorized, message)
    })?;
    let span = tracing::Span::current();
    span.record("uid", credentials.uid());
    if let Some(pid) = credentials.pid() {
        span.record("pid", pid);
    }
    if credentials.uid() != allowed {
        let message = format!(
            "this supervisor serves only uid {allowed}, not uid {}: run gastown as the town's owner",
            credentials.uid()
        );
        return Err(Refusal::new(
            Counter::RejectedUid,
            ErrorCode::Unauthorized,
            message,
        ));
    }
    Ok(credentials.pid().and_then(|pid| u32::try_from(pid).ok()))
}

impl Connection {
    /// Frames a stream with the configured maximum frame size.
    fn new(stream: UnixStream, shared: Arc<Shared>, peer_pid: Option<u32>) -> Connection {
        let framed = Framed::new(stream, FrameCodec::new(shared.config.max_frame));
        Connection {
            framed,
            shared,
            peer_pid,
        }
    }

    /// Handshake, then requests until the connection ends.
    async fn run(&mut self, shutdown: &CancellationToken) -> Result<Ending, Refusal> {
        let timeout = self.shared.config.handshake_timeout;
        let payload = match self.next_frame(shutdown, timeout, "the hello").await? {
            Ok(payload) => payload,
            Err(ending) => return Ok(ending),
        };
        let identity = self.handshake(&payload)?;
        tracing::Span::current().record("identity", tracing::field::debug(&identity));
        let welcome = Welcome {
            protocol: PROTOCOL_VERSION,
            identity: identity.clone(),
        };
        if let Some(ending) = self.send(&ServerFrame::Welcome(welcome)).await? {
            return Ok(ending);
        }
        self.serve_requests(&identity, shutdown).await
    }

    /// Checks the hello's version, then resolves its token to an identity.
    fn handshake(&self, payload: &[u8]) -> Result<Identity, Refusal> {
        let protocol: u32 = decode_leading(payload).map_err(bad_frame)?;
        if protocol != PROTOCOL_VERSION {
            let message = format!(
                "this `gastown run` speaks protocol {PROTOCOL_VERSION}, the client protocol {protocol}: they are different builds; restart `gastown run` (Ctrl-C it, start it again) with the gastown you run now"
            );
            return Err(Refusal::new(
                Counter::VersionMismatch,
                ErrorCode::VersionMismatch,
                message,
            ));
        }
        let hello: Hello = decode_payload(payload).map_err(bad_frame)?;
        tracing::debug!(client = %hello.client, "hello");
        let token = hello
            .token
            .as_deref()
            .map(|secret| self.shared.tokens.lookup(secret));
        self.identify(token)
    }

    /// The peer's identity: its process first (inside a session it *is* that agent), its token
    /// only as a cross-check there; outside every session the token's agent, or the overseer
    /// when it shows none.
    fn identify(&self, token: Option<TokenLookup>) -> Result<Identity, Refusal> {
        let origin = match self.peer_pid {
            Some(pid) => self.shared.sessions.resolve(pid, std::process::id()),
            // Linux always reports the pid; without one only an empty registry can vouch.
            None if self.shared.sessions.is_empty() => PeerOrigin::Outside,
            None => PeerOrigin::Gone,
        };
        match origin {
            PeerOrigin::Session { identity, by } => {
                let shown = match &token {
                    None => None,
                    Some(TokenLookup::Valid(shown)) if shown == &identity => None,
                    Some(TokenLookup::Valid(shown)) => Some(format!("{shown:?}")),
                    Some(TokenLookup::Revoked) => Some("a revoked token".to_string()),
                    Some(TokenLookup::Unknown) => Some("an unknown token".to_string()),
                };
                if let Some(shown) = shown {
                    self.shared.stats.bump(Counter::TokenMismatch);
                    tracing::warn!(?identity, shown = %shown, by, "a process inside a session showed a token that is not its session's: it is served as its session's agent");
                }
                Ok(identity)
            }
            PeerOrigin::Gone => Err(Refusal::new(
                Counter::Unidentified,
                ErrorCode::Unauthorized,
                "the connecting process exited before the supervisor could see which session it belongs to: who it is cannot be proven; connect from a process that stays until the reply",
            )),
            PeerOrigin::SupervisorChild => Err(Refusal::new(
                Counter::Unidentified,
                ErrorCode::Unauthorized,
                "the connecting process was started by `gastown run` but belongs to no agent session (a gate or a hook): it has no identity on this socket",
            )),
            PeerOrigin::Outside => match token {
                None => Ok(Identity::Overseer),
                Some(TokenLookup::Valid(identity)) => Ok(identity),
                Some(TokenLookup::Revoked) => Err(Refusal::new(
                    Counter::RevokedToken,
                    ErrorCode::RevokedToken,
                    "GASTOWN_TOKEN is the token of a session that has ended: agents must not outlive their session; a new session gets a new token",
                )),
                Some(TokenLookup::Unknown) => Err(Refusal::new(
                    Counter::UnknownToken,
                    ErrorCode::UnknownToken,
                    "GASTOWN_TOKEN is not a token this supervisor issued: it may belong to an earlier `gastown run`; a session started by this one gets a valid token",
                )),
            },
        }
    }

    /// Answers requests one at a time until the connection ends.
    async fn serve_requests(
        &mut self,
        identity: &Identity,
        shutdown: &CancellationToken,
    ) -> Result<Ending, Refusal> {
        let idle = self.shared.config.idle_timeout;
        loop {
            let payload = match self.next_frame(shutdown, idle, "a request").await? {
                Ok(payload) => payload,
                Err(ending) => return Ok(ending),
            };
            let request: Request = decode_payload(&payload).map_err(bad_frame)?;
            self.shared.stats.bump(Counter::Requests);
            let shared = Arc::clone(&self.shared);
            let body = dispatch(
                shared.handler.as_ref(),
                &shared.stats,
                identity,
                request.body,
            )
            .await;
            let response = ServerFrame::Response(Response {
                id: request.id,
                body,
            });
            if let Some(ending) = self.send(&response).await? {
                return Ok(ending);
            }
        }
    }

    /// Waits for the next frame, for shutdown, or for the timeout.
    ///
    /// The outer `Result` is a refusal; the inner one is either a frame or a blameless ending.
    async fn next_frame(
        &mut self,
        shutdown: &CancellationToken,
        timeout: std::time::Duration,
        waiting_for: &str,
    ) -> Result<Result<BytesMut, Ending>, Refusal> {
        let next = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(Err(Ending::Shutdown)),
            next = tokio::time::timeout(timeout, self.framed.next()) => next,
        };
        match next {
            Err(_elapsed) => Err(Refusal::new(
                Counter::IdleClosed,
                ErrorCode::IdleTimeout,
                format!(
                    "nothing received within {timeout:?} while waiting for {waiting_for}: connection closed; reconnect when there is something to send"
                ),
            )),
            Ok(None) => Ok(Err(Ending::PeerClosed)),
            Ok(Some(Ok(payload))) => Ok(Ok(payload)),
            Ok(Some(Err(FrameError::Io(error)))) => {
                tracing::debug!(%error, "socket read failed");
                Ok(Err(Ending::PeerClosed))
            }
            Ok(Some(Err(error))) => Err(frame_refusal(error)),
        }
    }

    /// Sends one frame under the write timeout; `Some(ending)` if the peer is gone.
    ///
    /// A reply too large for a frame is replaced by a `FrameTooLarge` error for that request.
    async fn send(&mut self, frame: &ServerFrame) -> Result<Option<Ending>, Refusal> {
        let max_frame = self.shared.config.max_frame;
        let payload = match encode_payload(frame) {
            Ok(payload) if payload.len() <= max_frame => payload,
            Ok(payload) => oversized_reply(frame, payload.len(), max_frame),
            Err(error) => {
                tracing::error!(%error, "could not encode a reply (a bug); closing the connection");
                return Ok(Some(Ending::Internal));
            }
        };
        let timeout = self.shared.config.write_timeout;
        match tokio::time::timeout(timeout, self.framed.send(Bytes::from(payload))).await {
            Ok(Ok(())) => Ok(None),
            Ok(Err(error)) => {
                tracing::debug!(%error, "socket write failed");
                Ok(Some(Ending::PeerClosed))
            }
            Err(_elapsed) => Err(Refusal::new(
                Counter::WriteStalled,
                ErrorCode::IdleTimeout,
                format!("the peer read nothing for {timeout:?}: connection closed"),
            )),
        }
    }

    /// Ends the connection for a peer at fault: count, log once, tell it why (best effort).
    async fn refuse(&mut self, refusal: Refusal) {
        self.shared.stats.bump(refusal.counter);
        tracing::warn!(code = ?refusal.error.code, reason = %refusal.error.message, "closing socket connection");
        if refusal.counter != Counter::WriteStalled {
            self.send_error(refusal.error).await;
        }
    }

    /// Sends a connection-level error frame, ignoring failures: the connection closes anyway.
    async fn send_error(&mut self, error: WireError) {
        let _ = self.send(&ServerFrame::Error(error)).await;
    }
}

/// The replacement for a reply that does not fit in a frame.
fn oversized_reply(frame: &ServerFrame, size: usize, max_frame: usize) -> Vec<u8> {
    let message = format!(
        "the reply ({size} bytes) exceeds the {max_frame}-byte frame maximum: ask for less"
    );
    let error = WireError::new(ErrorCode::FrameTooLarge, message);
    let replacement = match frame {
        ServerFrame::Response(response) => ServerFrame::Response(Response {
            id: response.id,
            body: Err(error),
        }),
        _ => ServerFrame::Error(error),
    };
    encode_payload(&replacement).expect("a short error reply always encodes")
}

/// The refusal for a frame-layer failure (oversized, truncated, undecodable).
fn frame_refusal(error: FrameError) -> Refusal {
    match error {
        FrameError::Oversized { max } => Refusal::new(
            Counter::Oversized,
            ErrorCode::FrameTooLarge,
            format!("a frame announced more than the {max}-byte maximum: send smaller messages"),
        ),
        other => bad_frame(other),
    }
}

/// The refusal for garbage, a truncated frame, or an undecodable payload.
fn bad_frame(error: FrameError) -> Refusal {
    let message =
        format!("{error}: connection closed; speak the gastown protocol (length-prefixed bincode)");
    Refusal::new(Counter::BadFrame, ErrorCode::BadFrame, message)
}
