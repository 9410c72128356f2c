//! One connection: peer check, handshake, then requests until the peer leaves, goes quiet,
//! misbehaves, or the server shuts down.
//!
//! Every wait selects between the peer and shutdown, under a timeout. A misbehaving peer ends in
//! one [`Refusal`]: it is counted once, logged once (warn, in the connection's span), sent a
//! typed error frame when the stream still allows it, and closed. Nothing a peer sends can affect
//! another connection.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::CancellationToken;

use super::frame::{
    FrameCodec, FrameError, LENGTH_PREFIX_BYTES, clamp_max_frame, clamp_max_reply, decode_leading,
    decode_payload, encode_frame, encode_payload,
};
use super::handler::dispatch;
use super::peers::PeerSlot;
use super::server::Shared;
use super::sessions::PeerOrigin;
use super::stats::Counter;
use super::tokens::TokenLookup;
use super::wire::{
    ErrorCode, Hello, Identity, PROTOCOL_VERSION, Request, Response, ResponsePart, ServerFrame,
    Welcome, WireError,
};

/// Bytes of a [`ResponsePart`] frame that are not the piece itself (variant, id, total, length
/// varints), with room to spare: a piece is at most the frame maximum minus this.
const PART_OVERHEAD: usize = 32;

/// The bincode encoding of `ServerFrame::Response`'s variant index (1, a one-byte varint); the
/// test `a_response_frame_is_its_variant_byte_then_the_response` pins it.
const RESPONSE_VARIANT: u8 = 1;

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
    /// A streaming request's stream ended (an attachment detached, the event bus closed): the
    /// connection closes, which is the client's end of the stream.
    StreamEnded,
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

/// How long [`Connection::next_frame`] waits.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// The whole frame must arrive within this (the hello).
    Whole(Duration),
    /// The first byte may take this long (between requests); the rest of the frame then has
    /// the configured `frame_timeout`.
    Idle(Duration),
}

/// A connection after the peer check.
struct Connection {
    /// The stream.
    stream: UnixStream,
    /// Splits the read buffer into frames (length prefix, maximum size) and prefixes writes.
    codec: FrameCodec,
    /// Bytes read and not yet decoded into a frame.
    read_buffer: BytesMut,
    /// Handler, tokens, stats and config.
    shared: Arc<Shared>,
    /// The slot under the per-identity cap, once the handshake named an agent.
    _identity_slot: Option<PeerSlot>,
    /// The peer's pid (SO_PEERCRED), to place its process among the sessions.
    peer_pid: Option<u32>,
}

/// Serves one connection to its end; `_slots` holds its place under the global connection cap
/// and under its process's cap.
pub(super) async fn serve_connection(
    stream: UnixStream,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    _slots: (OwnedSemaphorePermit, Option<PeerSlot>),
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
        Ok(Ending::PeerClosed | Ending::Internal | Ending::StreamEnded) => {
            tracing::debug!("connection closed")
        }
        Ok(Ending::Shutdown) => {
            let message = "the supervisor is shutting down: retry once `gastown run` is back, or run ledger-only commands without it";
            let error = WireError::new(ErrorCode::Unavailable, message);
            connection.send_error(error).await;
        }
        Err(refusal) => connection.refuse(refusal).await,
    }
}

/// Refuses a connection accepted over a cap (the global one, or its process's): one
/// `TooManyConnections` error frame, then close.
pub(super) async fn refuse_at_accept(
    stream: UnixStream,
    shared: Arc<Shared>,
    counter: Counter,
    message: String,
) {
    shared.stats.bump(counter);
    tracing::warn!(reason = %message, "refused a socket connection at a connection cap");
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
        let codec = FrameCodec::new(shared.config.max_frame);
        Connection {
            stream,
            codec,
            read_buffer: BytesMut::new(),
            shared,
            _identity_slot: None,
            peer_pid,
        }
    }

    /// Handshake, then requests until the connection ends.
    async fn run(&mut self, shutdown: &CancellationToken) -> Result<Ending, Refusal> {
        let wait = Wait::Whole(self.shared.config.handshake_timeout);
        let payload = match self.next_frame(shutdown, wait, "the hello").await? {
            Ok(payload) => payload,
            Err(ending) => return Ok(ending),
        };
        let identity = self.handshake(&payload)?;
        tracing::Span::current().record("identity", tracing::field::debug(&identity));
        let per_identity = self.shared.config.max_connections_per_identity;
        match self.shared.peers.take_identity(&identity, per_identity) {
            Some(slot) => self._identity_slot = slot,
            None => {
                let message = format!(
                    "{identity:?} already holds {per_identity} connections to the supervisor (the per-agent maximum): close some, or reuse one connection for several requests"
                );
                return Err(Refusal::new(
                    Counter::OverPeerCap,
                    ErrorCode::TooManyConnections,
                    message,
                ));
            }
        }
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
    ///
    /// While a request is answered nothing is read, so nothing times out: only the wait for the
    /// next request is timed, with the short idle timeout, or the long one once the connection
    /// has attached to a session.
    async fn serve_requests(
        &mut self,
        identity: &Identity,
        shutdown: &CancellationToken,
    ) -> Result<Ending, Refusal> {
        let mut attached = false;
        loop {
            let idle = if attached {
                self.shared.config.attached_idle_timeout
            } else {
                self.shared.config.idle_timeout
            };
            let wait = Wait::Idle(idle);
            let payload = match self.next_frame(shutdown, wait, "a request").await? {
                Ok(payload) => payload,
                Err(ending) => return Ok(ending),
            };
            let request: Request = decode_payload(&payload).map_err(bad_frame)?;
            drop(payload);
            self.shared.stats.bump(Counter::Requests);
            let attaching = request.body.is_attachment();
            let shared = Arc::clone(&self.shared);
            if let Some(opening) = shared.handler.stream(identity, &request.body) {
                match opening.await {
                    Ok(stream) => return self.serve_stream(request.id, stream, shutdown).await,
                    Err(error) => {
                        let refused = Response {
                            id: request.id,
                            body: Err(error),
                        };
                        if let Some(ending) = self.send_response(refused).await? {
                            return Ok(ending);
                        }
                        continue;
                    }
                }
            }
            let body = dispatch(
                shared.handler.as_ref(),
                &shared.stats,
                identity,
                request.body,
            )
            .await;
            attached |= attaching && body.is_ok();
            let response = Response {
                id: request.id,
                body,
            };
            if let Some(ending) = self.send_response(response).await? {
                return Ok(ending);
            }
        }
    }

    /// Sends a streaming request's replies as they come, each under its id, until the peer
    /// disconnects, the stream ends or the server shuts down. Nothing times out while the
    /// stream is quiet; a peer that reads too slowly is cut off by the write timeout (the
    /// stream's source never waits for it). A peer that sends anything is refused: a
    /// subscribed connection only receives.
    async fn serve_stream(
        &mut self,
        id: u64,
        mut stream: super::handler::ReplyStream,
        shutdown: &CancellationToken,
    ) -> Result<Ending, Refusal> {
        use futures::StreamExt;
        enum Next {
            Shutdown,
            Readable,
            Item(Option<Result<super::wire::ReplyBody, WireError>>),
        }
        loop {
            // The select owns nothing after it returns, so the branches below may use `self`.
            let next = tokio::select! {
                () = shutdown.cancelled() => Next::Shutdown,
                _ = self.stream.readable() => Next::Readable,
                item = stream.next() => Next::Item(item),
            };
            match next {
                Next::Shutdown => return Ok(Ending::Shutdown),
                Next::Readable => {
                    let mut probe = [0u8; 64];
                    match self.stream.try_read(&mut probe) {
                        Ok(0) => return Ok(Ending::PeerClosed),
                        Ok(_) => {
                            return Err(Refusal::new(
                                Counter::BadFrame,
                                ErrorCode::BadFrame,
                                "a subscribed connection only receives: disconnect to end the stream, and send requests on another connection",
                            ));
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return Ok(Ending::PeerClosed),
                    }
                }
                Next::Item(None) => return Ok(Ending::StreamEnded),
                Next::Item(Some(body)) => {
                    if let Some(ending) = self.send_response(Response { id, body }).await? {
                        return Ok(ending);
                    }
                }
            }
        }
    }

    /// Waits for the next frame, for shutdown, or for the timeout.
    ///
    /// The outer `Result` is a refusal; the inner one is either a frame or a blameless ending.
    /// Once a frame's first byte has arrived, the rest must follow within `frame_timeout` (and,
    /// for [`Wait::Whole`], within the whole wait): a peer dripping bytes is refused.
    async fn next_frame(
        &mut self,
        shutdown: &CancellationToken,
        wait: Wait,
        waiting_for: &str,
    ) -> Result<Result<BytesMut, Ending>, Refusal> {
        let frame_timeout = self.shared.config.frame_timeout;
        let started = Instant::now();
        let (idle, mut deadline) = match wait {
            Wait::Whole(limit) => (limit, Some(started + limit)),
            Wait::Idle(limit) => (limit, None),
        };
        let mut first_byte_at = None;
        loop {
            // The codec is handed only whole frames: given just a length prefix it would reserve
            // the whole announced frame at once, and a peer announcing 1 MiB and sending nothing
            // more would hold that memory. So a frame's buffer grows only with what arrived.
            if self.whole_frame_buffered()? {
                match self.codec.decode(&mut self.read_buffer) {
                    Ok(Some(frame)) => return Ok(Ok(frame)),
                    Ok(None) => {}
                    Err(error) => return Err(frame_refusal(error)),
                }
            }
            if !self.read_buffer.is_empty() && first_byte_at.is_none() {
                let now = Instant::now();
                first_byte_at = Some(now);
                let by = now + frame_timeout;
                deadline = Some(deadline.map_or(by, |whole| whole.min(by)));
            }
            let until = deadline.unwrap_or(started + idle);
            let read = tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(Err(Ending::Shutdown)),
                read = tokio::time::timeout_at(until, self.stream.read_buf(&mut self.read_buffer)) => read,
            };
            match read {
                Ok(Ok(0)) if self.read_buffer.is_empty() => return Ok(Err(Ending::PeerClosed)),
                Ok(Ok(0)) => {
                    let buffered = self.read_buffer.len();
                    return Err(bad_frame(FrameError::Truncated { buffered }));
                }
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    tracing::debug!(%error, "socket read failed");
                    return Ok(Err(Ending::PeerClosed));
                }
                Err(_elapsed) => {
                    return Err(self.timed_out(first_byte_at, wait, frame_timeout, waiting_for));
                }
            }
        }
    }

    /// Whether the read buffer holds a whole frame (prefix and payload); an announced length
    /// over the maximum is refused here, before anything is reserved for it.
    fn whole_frame_buffered(&self) -> Result<bool, Refusal> {
        let Some(prefix) = self.read_buffer.get(..LENGTH_PREFIX_BYTES) else {
            return Ok(false);
        };
        let prefix: [u8; LENGTH_PREFIX_BYTES] = prefix.try_into().unwrap_or_default();
        let announced = u32::from_be_bytes(prefix) as usize;
        let max = clamp_max_frame(self.shared.config.max_frame);
        if announced > max {
            return Err(frame_refusal(FrameError::Oversized { max }));
        }
        Ok(self.read_buffer.len() >= LENGTH_PREFIX_BYTES + announced)
    }

    /// The refusal for a wait that ran out: silence, or a frame that did not complete in time.
    fn timed_out(
        &self,
        first_byte_at: Option<Instant>,
        wait: Wait,
        frame_timeout: Duration,
        waiting_for: &str,
    ) -> Refusal {
        let buffered = self.read_buffer.len();
        match (first_byte_at, wait) {
            (None, Wait::Idle(limit) | Wait::Whole(limit)) => Refusal::new(
                Counter::IdleClosed,
                ErrorCode::IdleTimeout,
                format!(
                    "nothing received within {limit:?} while waiting for {waiting_for}: connection closed; reconnect when there is something to send"
                ),
            ),
            (Some(_), Wait::Whole(limit)) if limit <= frame_timeout => Refusal::new(
                Counter::IdleClosed,
                ErrorCode::IdleTimeout,
                format!(
                    "{waiting_for} did not arrive whole within {limit:?} ({buffered} bytes of it did): connection closed; send each frame at once"
                ),
            ),
            (Some(_), _) => Refusal::new(
                Counter::SlowFrame,
                ErrorCode::IdleTimeout,
                format!(
                    "a frame must arrive within {frame_timeout:?} of its first byte; {waiting_for} had only {buffered} bytes by then: connection closed; send each frame at once"
                ),
            ),
        }
    }

    /// Sends a response: in one frame when it fits, else streamed in [`ResponsePart`]s; a
    /// response larger than the reply maximum is replaced by a `FrameTooLarge` error for it.
    async fn send_response(&mut self, response: Response) -> Result<Option<Ending>, Refusal> {
        let max_frame = self.shared.config.max_frame;
        // Encoded once: a `ServerFrame::Response` is its variant index (one varint byte) followed
        // by the response, so the whole frame and the parts share these bytes.
        let whole = match encode_payload(&response) {
            Ok(whole) => whole,
            Err(error) => {
                tracing::error!(%error, "could not encode a reply (a bug); closing the connection");
                return Ok(Some(Ending::Internal));
            }
        };
        if whole.len() < max_frame {
            let mut payload = Vec::with_capacity(1 + whole.len());
            payload.push(RESPONSE_VARIANT);
            payload.extend_from_slice(&whole);
            return self.send_payload(payload).await;
        }
        let max_reply = clamp_max_reply(self.shared.config.max_reply);
        let piece = max_frame.saturating_sub(PART_OVERHEAD);
        if whole.len() > max_reply || piece == 0 {
            let message = format!(
                "the reply ({} bytes) exceeds the supervisor's {max_reply}-byte reply maximum: ask for less (filter the list, or page through it)",
                whole.len()
            );
            let error = WireError::new(ErrorCode::FrameTooLarge, message);
            let refused = ServerFrame::Response(Response {
                id: response.id,
                body: Err(error),
            });
            return self.send(&refused).await;
        }
        let total = whole.len() as u64;
        tracing::debug!(
            total,
            parts = whole.len().div_ceil(piece),
            "streaming a large reply"
        );
        for bytes in whole.chunks(piece) {
            let part = ServerFrame::ResponsePart(ResponsePart {
                id: response.id,
                total,
                bytes: bytes.to_vec(),
            });
            if let Some(ending) = self.send(&part).await? {
                return Ok(Some(ending));
            }
        }
        Ok(None)
    }

    /// Sends one frame under the write timeout; `Some(ending)` if the peer is gone.
    ///
    /// A frame too large (only a response can be, and [`Connection::send_response`] splits
    /// those) is replaced by a `FrameTooLarge` error.
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
        self.send_payload(payload).await
    }

    /// Writes one encoded frame payload (with its length prefix) under the write timeout.
    async fn send_payload(&mut self, payload: Vec<u8>) -> Result<Option<Ending>, Refusal> {
        let mut out = BytesMut::with_capacity(LENGTH_PREFIX_BYTES + payload.len());
        if let Err(error) = self.codec.encode(Bytes::from(payload), &mut out) {
            tracing::error!(%error, "could not frame a reply (a bug); closing the connection");
            return Ok(Some(Ending::Internal));
        }
        let timeout = self.shared.config.write_timeout;
        match tokio::time::timeout(timeout, self.stream.write_all(&out)).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::wire::ReplyBody;

    #[test]
    fn a_response_frame_is_its_variant_byte_then_the_response() {
        let response = Response {
            id: 300,
            body: Ok(ReplyBody::Pong),
        };
        let whole = encode_payload(&response).expect("encodes");
        let frame = encode_payload(&ServerFrame::Response(response)).expect("encodes");
        assert_eq!(frame, [vec![RESPONSE_VARIANT], whole].concat());
    }

    #[test]
    fn response_part_bytes_encode_like_a_byte_vector() {
        let bytes: Vec<u8> = (0..=255).collect();
        let part = ResponsePart {
            id: 1,
            total: 256,
            bytes: bytes.clone(),
        };
        let plain = encode_payload(&(1u64, 256u64, bytes)).expect("encodes");
        let encoded = encode_payload(&part).expect("encodes");
        assert_eq!(encoded, plain);
        let back: ResponsePart = decode_payload(&encoded).expect("decodes");
        assert_eq!(back, part);
    }
}
