//! The messages that travel in frames: the handshake, requests, replies and typed errors.
//!
//! A conversation is: the client sends one [`Hello`]; the server answers [`ServerFrame::Welcome`]
//! or [`ServerFrame::Error`] (and closes). Then the client sends [`Request`]s, one at a time, and
//! the server answers each with a [`ServerFrame::Response`] carrying the same id. A
//! [`ServerFrame::Error`] can arrive at any point; it is about the connection (idle timeout, bad
//! frame, shutdown) and the server closes the connection after sending it.
//!
//! Compatibility: bincode encodes enum variants by index and fields in order, and [`Hello`]'s
//! first field stays the protocol version so any server can read it. Bump [`PROTOCOL_VERSION`]
//! whenever any message changes shape (a new variant included, and the town's messages in
//! `crate::protocol`): the golden-bytes test (`golden.rs`) fails until it moves. New variants
//! still go at the end, so the socket layer's own refusal (`ServerFrame::Error`) stays readable
//! by every version.

use serde::{Deserialize, Serialize};

use super::stats::StatsSnapshot;

/// The protocol this build speaks; a client and server must agree exactly. 2: `Spawn`'s
/// runtime became optional (the runtime recorded for the identity is the default). 3: the
/// town's requests and replies became plain typed messages of their own (`crate::protocol`),
/// no longer the CLI's clap structs and rendered text. 4: replies larger than a frame stream as
/// [`ServerFrame::ResponsePart`]s; the socket counters gained `slow_frame`, `over_peer_cap`,
/// `forbidden`, `token_mismatch` and `unidentified`; the town gained `Escalate` requests and
/// `Escalation` replies, and the live tree's nodes a `note` (the witness's steps). 5:
/// escalations gained `Forward` (a rig's witness agent judges the rig's escalations first) and
/// their record the judge's fields; the town gained the deacon's dogs (`Dogs`, `DogRun`) and
/// `RuntimeSession` (a session's runtime session id, for `gastown seance`), session records
/// their `runtime_session`. 6: the town gained `Status` (`gastown status`) and the event stream (`Subscribe`, answered
/// by `Events` replies until the client disconnects). 7: attach moved onto a stream: `AttachPoll`
/// became `AttachOutput`, a streaming request answered by `Output` replies as the session writes;
/// `Sync` carries what to do with a remote and `Synced` its report; a status hook its step. 8: a
/// status rig counts its `stalled` polecats (the witness's judgement), and the event stream
/// gained the kinds `session.stalled`, `mq.gating` and `supervision.crashed`; the town gained
/// `Doctor` (`gastown doctor`'s ledger checks, run by the supervisor that holds the ledger).
///
/// Bump it whenever anything reachable from [`Hello`], [`ServerFrame`] or [`Request`] changes
/// shape: the golden-bytes test (`golden.rs`) fails until it moves.
pub const PROTOCOL_VERSION: u32 = 8;

/// The first frame a client sends.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The client's protocol version. MUST stay the first field: the server reads it before
    /// decoding the rest, so a mismatch is reported as such rather than as garbage.
    pub protocol: u32,
    /// The session token from `GASTOWN_TOKEN`, a cross-check: a peer inside a session is its
    /// agent whatever it shows; outside every session `None` is the overseer.
    pub token: Option<String>,
    /// A free-form client description for logs (e.g. `gastown mail send`).
    pub client: String,
}

impl std::fmt::Debug for Hello {
    /// Redacts the token: hellos appear in logs and test failures, secrets must not.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hello")
            .field("protocol", &self.protocol)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("client", &self.client)
            .finish()
    }
}

/// Who is on the other end of a connection, as established by the server at handshake.
///
/// Handlers receive this from the connection, never from a request payload: an agent cannot
/// claim to be another agent (its process places it, see `super::sessions`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Identity {
    /// The human: a same-uid caller outside every agent session, without a token.
    Overseer,
    /// An agent: a process inside its session, or one outside every session showing its token.
    Agent {
        /// The agent's address, e.g. `myrig/polecats/nux`.
        address: String,
        /// Its role, e.g. `polecat`.
        role: String,
        /// Its rig, or `None` for town-level roles (mayor, deacon).
        rig: Option<String>,
    },
}

/// The server's answer to a good [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The server's protocol version (equal to the client's, or it would have refused).
    pub protocol: u32,
    /// The identity the server bound this connection to.
    pub identity: Identity,
}

/// One request; the client picks the id and the response echoes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Chosen by the client, echoed in the [`Response`], so a stale reply cannot be mistaken.
    pub id: u64,
    /// What is asked.
    pub body: RequestBody,
}

/// What a client can ask. New variants go at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RequestBody {
    /// Is the socket up? Answered by the socket layer.
    Ping,
    /// Who does the server think I am? Answered by the socket layer.
    Whoami,
    /// The socket's counters. Answered by the socket layer.
    Stats,
    /// A town request (ledger, tree, sessions), answered by `gastown run`.
    Town(Box<crate::protocol::TownRequest>),
}

impl RequestBody {
    /// Whether this request makes its connection an attachment's (`Attach*`): such a
    /// connection, a human's terminal, may stay quiet for the long idle timeout.
    pub fn is_attachment(&self) -> bool {
        use crate::protocol::TownRequest;
        match self {
            RequestBody::Town(request) => matches!(
                **request,
                TownRequest::AttachStart { .. }
                    | TownRequest::AttachOutput { .. }
                    | TownRequest::AttachInput { .. }
                    | TownRequest::AttachResize { .. }
            ),
            RequestBody::Ping | RequestBody::Whoami | RequestBody::Stats => false,
        }
    }
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The id of the request this answers.
    pub id: u64,
    /// The reply, or a typed error that concerns only this request (the connection stays open).
    pub body: Result<ReplyBody, WireError>,
}

/// Successful replies. New variants go at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReplyBody {
    /// Answer to [`RequestBody::Ping`].
    Pong,
    /// Answer to [`RequestBody::Whoami`].
    Identity(Identity),
    /// Answer to [`RequestBody::Stats`].
    Stats(StatsSnapshot),
    /// Answer to [`RequestBody::Town`].
    Town(Box<crate::protocol::TownReply>),
}

/// Everything the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerFrame {
    /// The handshake succeeded.
    Welcome(Welcome),
    /// The answer to a request.
    Response(Response),
    /// A connection-level error; the server closes the connection right after sending it.
    Error(WireError),
    /// One piece of a response too large for one frame (see the module docs).
    ResponsePart(ResponsePart),
}

/// One piece of a streamed [`Response`]; the pieces of one response arrive in order, with
/// nothing in between, and their `bytes` concatenated are the bincode encoding of the response.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsePart {
    /// The id of the request this answers (the same in every piece).
    pub id: u64,
    /// The length of the whole encoded response (the same in every piece).
    pub total: u64,
    /// This piece of it. Encoded as a length and the raw bytes (exactly what bincode writes for
    /// a `Vec<u8>`), but in one copy rather than one serde call per byte.
    #[serde(with = "raw_bytes")]
    pub bytes: Vec<u8>,
}

/// Serde for a `Vec<u8>` through `serialize_bytes` / `deserialize_byte_buf`: the same bincode
/// bytes as a sequence of `u8`, written and read in one piece.
mod raw_bytes {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_byte_buf(BytesVisitor)
    }

    /// Accepts bytes in every form a deserializer may offer them.
    struct BytesVisitor;

    impl<'de> Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
            Ok(bytes.to_vec())
        }

        fn visit_byte_buf<E: Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(bytes)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
            while let Some(byte) = seq.next_element()? {
                bytes.push(byte);
            }
            Ok(bytes)
        }
    }
}

impl std::fmt::Debug for ResponsePart {
    /// Shows the length, not the bytes: a piece is up to a frame long.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponsePart")
            .field("id", &self.id)
            .field("total", &self.total)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// A typed error: a machine-readable code and a message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} ({code:?})")]
pub struct WireError {
    /// What kind of failure, for programs.
    pub code: ErrorCode,
    /// What happened and what to do, for people; no trailing period.
    pub message: String,
}

impl WireError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> WireError {
        WireError {
            code,
            message: message.into(),
        }
    }
}

/// Error kinds. New variants go at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// A frame could not be decoded (garbage, truncated, trailing bytes).
    BadFrame,
    /// A frame announced more bytes than the maximum.
    FrameTooLarge,
    /// Client and server speak different protocol versions.
    VersionMismatch,
    /// The peer is not allowed on this socket (another uid).
    Unauthorized,
    /// The token is not one the supervisor issued.
    UnknownToken,
    /// The token was issued but has been revoked (its session ended).
    RevokedToken,
    /// The server is at its connection cap.
    TooManyConnections,
    /// The peer was silent for too long (before or after the handshake).
    IdleTimeout,
    /// The thing asked about does not exist.
    NotFound,
    /// The request's arguments are invalid.
    InvalidArgument,
    /// The server failed; a bug or an internal fault.
    Internal,
    /// The server cannot serve now (shutting down, a part is restarting).
    Unavailable,
    /// The caller's identity may not do this (e.g. an agent acting for another agent).
    Forbidden,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::frame::{decode_payload, encode_payload};

    #[test]
    fn hello_debug_redacts_the_token() {
        let hello = Hello {
            protocol: PROTOCOL_VERSION,
            token: Some("s3cret".to_string()),
            client: "test".to_string(),
        };
        let shown = format!("{hello:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn server_frames_round_trip() {
        let frames = [
            ServerFrame::Welcome(Welcome {
                protocol: PROTOCOL_VERSION,
                identity: Identity::Agent {
                    address: "myrig/polecats/nux".to_string(),
                    role: "polecat".to_string(),
                    rig: Some("myrig".to_string()),
                },
            }),
            ServerFrame::Response(Response {
                id: 9,
                body: Err(WireError::new(ErrorCode::NotFound, "no such bead")),
            }),
            ServerFrame::Error(WireError::new(ErrorCode::IdleTimeout, "idle")),
        ];
        for frame in frames {
            let payload = encode_payload(&frame).expect("encodable");
            let back: ServerFrame = decode_payload(&payload).expect("decodable");
            assert_eq!(back, frame);
        }
    }

    #[test]
    fn the_protocol_version_is_the_first_varint_of_a_hello() {
        let hello = Hello {
            protocol: 77,
            token: None,
            client: "x".to_string(),
        };
        let payload = encode_payload(&hello).expect("encodable");
        assert_eq!(
            payload[0], 77,
            "standard config encodes small u32s as one byte"
        );
    }
}
