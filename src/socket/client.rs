//! The one blocking client every CLI command uses to talk to `gastown run`.
//!
//! No tokio: a CLI call is connect, handshake, one or a few requests, exit. [`Client::connect`]
//! returns [`ClientError::NoSupervisor`] when nothing listens, which is the CLI's cue to open the
//! ledger directly (ledger-only commands) or to say that `gastown run` is needed.
//!
//! The client rides out the server's bounds: it retries a connection refused at a connection cap
//! for a few seconds with backoff, reconnects once when the server closed it for idleness (the
//! request was never read, so it is sent again), and reassembles replies that arrive in parts,
//! up to `ClientOptions::max_reply`.
//!
//! ```text
//! let path = locate_socket(&town.runtime_dir());
//! let token = std::env::var("GASTOWN_TOKEN").ok();
//! match Client::connect(&path, token.as_deref(), "gastown mail inbox") {
//!     Ok(mut client) => client.call(RequestBody::Ping)?,
//!     Err(error) if error.is_no_supervisor() => { /* open the ledger directly */ }
//!     Err(error) => return Err(error.into()),
//! }
//! ```

use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::frame::{
    DEFAULT_MAX_FRAME, DEFAULT_MAX_REPLY, FrameError, clamp_max_reply, decode_reply_payload,
    read_frame, write_frame,
};
use super::wire::{
    ErrorCode, Hello, Identity, PROTOCOL_VERSION, ReplyBody, Request, RequestBody, Response,
    ResponsePart, ServerFrame, WireError,
};

/// The first pause before retrying a connection refused with `TooManyConnections`; it doubles
/// up to [`BUSY_RETRY_MAX_PAUSE`].
const BUSY_RETRY_FIRST_PAUSE: Duration = Duration::from_millis(50);

/// The longest pause between two such retries.
const BUSY_RETRY_MAX_PAUSE: Duration = Duration::from_millis(800);

/// Client settings; [`ClientOptions::new`] gives the defaults. `Debug` redacts the token.
#[derive(Clone)]
pub struct ClientOptions {
    /// The session token (`GASTOWN_TOKEN`); `None` connects as the overseer.
    pub token: Option<String>,
    /// Describes the caller in the supervisor's logs, e.g. `gastown mail send`.
    pub client_name: String,
    /// How long to wait for the supervisor to accept the connection.
    pub connect_timeout: Duration,
    /// How long to wait for the handshake reply and for each response.
    pub call_timeout: Duration,
    /// Largest frame accepted from the server.
    pub max_frame: usize,
    /// Largest reply accepted, reassembled from its parts (clamped to 1 GiB).
    pub max_reply: usize,
    /// How long to keep retrying, with backoff, a connection the supervisor refuses with
    /// `TooManyConnections` (it is at a connection cap) before giving up.
    pub busy_retry: Duration,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("client_name", &self.client_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("call_timeout", &self.call_timeout)
            .field("max_frame", &self.max_frame)
            .field("max_reply", &self.max_reply)
            .field("busy_retry", &self.busy_retry)
            .finish()
    }
}

impl ClientOptions {
    /// Defaults: no token, 2 s to connect, 30 s per call, 1 MiB frames, 256 MiB replies, 4 s
    /// of retries when the supervisor is at its connection cap.
    pub fn new(client_name: impl Into<String>) -> ClientOptions {
        ClientOptions {
            token: None,
            client_name: client_name.into(),
            connect_timeout: Duration::from_secs(2),
            call_timeout: Duration::from_secs(30),
            max_frame: DEFAULT_MAX_FRAME,
            max_reply: DEFAULT_MAX_REPLY,
            busy_retry: Duration::from_secs(4),
        }
    }
}

/// Why a call to the supervisor failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket (no file, or a stale one).
    #[error(
        "no supervisor is running (nothing listens on {path}): start one with `gastown run`; ledger-only commands work without it"
    )]
    NoSupervisor {
        /// The socket path tried.
        path: PathBuf,
    },
    /// Connecting failed for another reason (permissions, a full backlog).
    #[error("could not connect to the supervisor at {path}: {source}")]
    Connect {
        /// The socket path tried.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The supervisor did not answer in time.
    #[error(
        "the supervisor did not answer within {0:?}: it may be overloaded or hung; check `gastown run`'s log"
    )]
    Timeout(Duration),
    /// The server refused or closed the connection with a typed error.
    #[error("the supervisor closed the connection: {0}")]
    Connection(WireError),
    /// The server kept refusing the connection at a connection cap for the whole retry period.
    #[error(
        "the supervisor is at a connection cap and kept refusing this connection for {waited:?}: {error}; `gastown actors` shows the socket's counters, and some process may hold too many connections"
    )]
    Busy {
        /// How long the client retried.
        waited: Duration,
        /// The server's last refusal.
        error: WireError,
    },
    /// The server announced a reply larger than this client accepts.
    #[error(
        "the supervisor's reply ({size} bytes) exceeds this client's {max}-byte reply maximum: ask for less (filter the list)"
    )]
    ReplyTooLarge {
        /// The announced size.
        size: u64,
        /// The maximum in force.
        max: usize,
    },
    /// The server answered this request with a typed error; the connection is still usable.
    #[error("{0}")]
    Request(WireError),
    /// The server closed the connection without saying why.
    #[error("the supervisor closed the connection unexpectedly: check `gastown run`'s log")]
    Closed,
    /// A frame could not be read or written.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The server sent something out of order (a bug on one side).
    #[error("protocol violation: {0}: are the CLI and `gastown run` the same build?")]
    Protocol(String),
    /// The server speaks another protocol version: this CLI and `gastown run` are different
    /// builds (the binary was rebuilt or upgraded while `gastown run` kept running).
    #[error(
        "this gastown speaks protocol {PROTOCOL_VERSION} and the running `gastown run` does not \
         ({detail}): they are different builds; restart `gastown run` (Ctrl-C it, start it \
         again) so it runs this gastown"
    )]
    VersionMismatch {
        /// What the server said, or why its answer could not be read.
        detail: String,
    },
}

impl ClientError {
    /// True when nothing listens: the CLI may fall back to opening the ledger directly.
    pub fn is_no_supervisor(&self) -> bool {
        matches!(self, ClientError::NoSupervisor { .. })
    }

    /// The server's typed error, if the failure was one.
    #[cfg(test)]
    pub fn wire_error(&self) -> Option<&WireError> {
        match self {
            ClientError::Connection(error)
            | ClientError::Request(error)
            | ClientError::Busy { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A handshaken connection to the supervisor.
#[derive(Debug)]
pub struct Client {
    /// The socket's path, to reconnect after the server closed an idle connection.
    path: PathBuf,
    /// The socket, with read and write timeouts set to the call timeout.
    stream: UnixStream,
    /// Who the server says we are (tests check it; the CLI learns its identity from errors).
    #[cfg_attr(not(test), allow(dead_code))]
    identity: Identity,
    /// The id the next request gets.
    next_id: u64,
    /// Options in force (timeouts, frame size).
    options: ClientOptions,
    /// Set after a connection-level failure; further calls fail fast.
    broken: bool,
}

impl Client {
    /// Connects with default options, a token (or `None` for the overseer) and a client name.
    pub fn connect(
        path: &Path,
        token: Option<&str>,
        client_name: &str,
    ) -> Result<Client, ClientError> {
        let mut options = ClientOptions::new(client_name);
        options.token = token.map(str::to_string);
        Client::connect_with(path, options)
    }

    /// Connects and performs the handshake; a refusal at a connection cap
    /// (`TooManyConnections`) is retried with backoff for up to `options.busy_retry`.
    pub fn connect_with(path: &Path, options: ClientOptions) -> Result<Client, ClientError> {
        let started = Instant::now();
        let mut pause = BUSY_RETRY_FIRST_PAUSE;
        loop {
            match Client::connect_once(path, options.clone()) {
                Err(ClientError::Connection(error))
                    if error.code == ErrorCode::TooManyConnections =>
                {
                    let waited = started.elapsed();
                    if waited + pause > options.busy_retry {
                        return Err(ClientError::Busy { waited, error });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(BUSY_RETRY_MAX_PAUSE);
                }
                other => return other,
            }
        }
    }

    /// One connection attempt with its handshake.
    fn connect_once(path: &Path, options: ClientOptions) -> Result<Client, ClientError> {
        let mut stream = connect_stream(path, options.connect_timeout).map_err(|source| {
            match source.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                    ClientError::NoSupervisor {
                        path: path.to_path_buf(),
                    }
                }
                _ => ClientError::Connect {
                    path: path.to_path_buf(),
                    source,
                },
            }
        })?;
        let timeouts = Some(options.call_timeout);
        stream
            .set_read_timeout(timeouts)
            .and_then(|()| stream.set_write_timeout(timeouts))
            .map_err(|source| ClientError::Connect {
                path: path.to_path_buf(),
                source,
            })?;
        let hello = Hello {
            protocol: PROTOCOL_VERSION,
            token: options.token.clone(),
            client: options.client_name.clone(),
        };
        // A refusing server (over capacity) may close before reading the hello; read its reason.
        sent_or_unsendable(write_frame(&mut stream, &hello, options.max_frame))?;
        let welcome = match read_server_frame(&mut stream, &options) {
            Ok(ServerFrame::Welcome(welcome)) if welcome.protocol == PROTOCOL_VERSION => welcome,
            Ok(ServerFrame::Welcome(welcome)) => {
                return Err(ClientError::VersionMismatch {
                    detail: format!("it welcomed us with protocol {}", welcome.protocol),
                });
            }
            Ok(ServerFrame::Error(error)) if error.code == ErrorCode::VersionMismatch => {
                return Err(ClientError::VersionMismatch {
                    detail: error.message,
                });
            }
            Ok(ServerFrame::Error(error)) => return Err(ClientError::Connection(error)),
            Ok(ServerFrame::Response(_) | ServerFrame::ResponsePart(_)) => {
                return Err(ClientError::Protocol(
                    "a response before the welcome".to_string(),
                ));
            }
            // An answer to the hello this build cannot decode comes from another build.
            Err(ClientError::Frame(FrameError::Decode { reason })) => {
                return Err(ClientError::VersionMismatch {
                    detail: format!(
                        "its answer to our hello is not a message we can read: {reason}"
                    ),
                });
            }
            Err(other) => return Err(other),
        };
        Ok(Client {
            path: path.to_path_buf(),
            stream,
            identity: welcome.identity,
            next_id: 1,
            options,
            broken: false,
        })
    }

    /// The identity the server bound this connection to.
    #[cfg(test)]
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Sends one request and waits for its response.
    ///
    /// When the server had closed the connection for idleness (a caller that worked a while
    /// between two requests), it never read the request: the client reconnects, with the same
    /// options, and sends it again, once.
    pub fn call(&mut self, body: RequestBody) -> Result<ReplyBody, ClientError> {
        if self.broken {
            return Err(ClientError::Closed);
        }
        let mut result = self.exchange(body.clone());
        if let Err(ClientError::Connection(error)) = &result
            && error.code == ErrorCode::IdleTimeout
        {
            tracing::debug!(reason = %error.message, "the supervisor closed an idle connection; reconnecting");
            match Client::connect_with(&self.path, self.options.clone()) {
                Ok(fresh) => {
                    let next_id = self.next_id;
                    *self = fresh;
                    self.next_id = next_id;
                    result = self.exchange(body);
                }
                Err(error) => result = Err(error),
            }
        }
        if matches!(&result, Err(error) if !matches!(error, ClientError::Request(_))) {
            self.broken = true;
        }
        result
    }

    /// One request/response exchange; any error but `Request` leaves the connection unusable.
    fn exchange(&mut self, body: RequestBody) -> Result<ReplyBody, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        // If the server closed (shutdown, idle timeout) the write may fail, but the error frame
        // it sent first is still readable and says why.
        let request = Request { id, body };
        sent_or_unsendable(write_frame(
            &mut self.stream,
            &request,
            self.options.max_frame,
        ))?;
        let response = match read_server_frame(&mut self.stream, &self.options)? {
            ServerFrame::Response(response) => response,
            ServerFrame::ResponsePart(first) => self.reassemble(first)?,
            ServerFrame::Error(error) => return Err(ClientError::Connection(error)),
            ServerFrame::Welcome(_) => {
                return Err(ClientError::Protocol("a second welcome".to_string()));
            }
        };
        if response.id != id {
            return Err(ClientError::Protocol(format!(
                "response to request {} while waiting for {id}",
                response.id
            )));
        }
        response.body.map_err(ClientError::Request)
    }

    /// Opens a streaming request (a subscription): the connection is the stream's from now on,
    /// its replies read with [`Subscription::next`] until either side closes. Nothing times
    /// out while the stream is quiet.
    pub fn subscribe(mut self, body: RequestBody) -> Result<Subscription, ClientError> {
        if self.broken {
            return Err(ClientError::Closed);
        }
        let id = self.next_id;
        let request = Request { id, body };
        sent_or_unsendable(write_frame(
            &mut self.stream,
            &request,
            self.options.max_frame,
        ))?;
        self.stream
            .set_read_timeout(None)
            .map_err(|e| ClientError::Frame(FrameError::Io(e)))?;
        Ok(Subscription { client: self, id })
    }

    /// Reads the rest of a response streamed in parts, starting from its first part, and
    /// decodes it. The announced total is checked against `max_reply` before anything is
    /// reserved, and every part against the total.
    fn reassemble(&mut self, first: ResponsePart) -> Result<Response, ClientError> {
        let max = clamp_max_reply(self.options.max_reply);
        let (id, total) = (first.id, first.total);
        let size = usize::try_from(total)
            .ok()
            .filter(|size| *size <= max)
            .ok_or(ClientError::ReplyTooLarge { size: total, max })?;
        // Reserve at most what the first parts justify; the rest grows as parts arrive.
        let mut whole = Vec::with_capacity(size.min(first.bytes.len().saturating_mul(16)));
        let mut part = first;
        loop {
            if part.id != id || part.total != total {
                return Err(ClientError::Protocol(format!(
                    "a part of reply {} (total {}) inside reply {id} (total {total})",
                    part.id, part.total
                )));
            }
            if part.bytes.is_empty() || whole.len() + part.bytes.len() > size {
                return Err(ClientError::Protocol(format!(
                    "reply {id}'s parts do not add up to its announced {total} bytes"
                )));
            }
            whole.extend_from_slice(&part.bytes);
            if whole.len() == size {
                return decode_reply_payload(&whole).map_err(ClientError::Frame);
            }
            part = match read_server_frame(&mut self.stream, &self.options)? {
                ServerFrame::ResponsePart(next) => next,
                ServerFrame::Error(error) => return Err(ClientError::Connection(error)),
                other => {
                    return Err(ClientError::Protocol(format!(
                        "{} in the middle of reply {id}'s parts",
                        frame_kind(&other)
                    )));
                }
            };
        }
    }
}

/// An open subscription: the replies of one streaming request.
#[derive(Debug)]
pub struct Subscription {
    client: Client,
    id: u64,
}

impl Subscription {
    /// The next reply, waiting as long as it takes; `Ok(None)` once the server closed the
    /// stream (it stopped). A refusal of the request is `Err(ClientError::Request)`.
    pub fn next(&mut self) -> Result<Option<ReplyBody>, ClientError> {
        let frame = match read_server_frame(&mut self.client.stream, &self.client.options) {
            Ok(frame) => frame,
            Err(ClientError::Closed) => return Ok(None),
            Err(e) => return Err(e),
        };
        let response = match frame {
            ServerFrame::Response(response) => response,
            ServerFrame::ResponsePart(first) => self.client.reassemble(first)?,
            ServerFrame::Error(error) if error.code == ErrorCode::Unavailable => return Ok(None),
            ServerFrame::Error(error) => return Err(ClientError::Connection(error)),
            ServerFrame::Welcome(_) => {
                return Err(ClientError::Protocol("a second welcome".to_string()));
            }
        };
        if response.id != self.id {
            return Err(ClientError::Protocol(format!(
                "reply to request {} in the stream of {}",
                response.id, self.id
            )));
        }
        response.body.map(Some).map_err(ClientError::Request)
    }
}

/// A frame's kind, for protocol-violation messages.
fn frame_kind(frame: &ServerFrame) -> &'static str {
    match frame {
        ServerFrame::Welcome(_) => "a welcome",
        ServerFrame::Response(_) => "a whole response",
        ServerFrame::Error(_) => "an error",
        ServerFrame::ResponsePart(_) => "a response part",
    }
}

/// Passes a write that failed on the stream (the server may have closed after sending an error
/// frame, which is still readable and says why); fails on a message that could not be sent at all.
fn sent_or_unsendable(written: Result<(), FrameError>) -> Result<(), ClientError> {
    match written {
        Ok(()) | Err(FrameError::Io(_)) => Ok(()),
        Err(error) => Err(ClientError::Frame(error)),
    }
}

/// Reads one server frame, mapping timeouts and a closed stream to their own errors.
fn read_server_frame(
    stream: &mut UnixStream,
    options: &ClientOptions,
) -> Result<ServerFrame, ClientError> {
    match read_frame(stream, options.max_frame) {
        Ok(Some(frame)) => Ok(frame),
        Ok(None) => Err(ClientError::Closed),
        Err(FrameError::Io(error))
            if matches!(
                error.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(ClientError::Timeout(options.call_timeout))
        }
        Err(FrameError::Io(error)) if error.kind() == io::ErrorKind::ConnectionReset => {
            Err(ClientError::Closed)
        }
        Err(error) => Err(ClientError::Frame(error)),
    }
}

/// Connects a blocking Unix stream, giving up after `timeout` if the listener's backlog is full.
///
/// std's `UnixStream::connect` has no timeout; on Linux a blocking `connect` to a Unix socket
/// waits for backlog space for up to `SO_SNDTIMEO`, so set that first. Errors keep their OS
/// kinds: `NotFound` (no socket file), `ConnectionRefused` (stale file), `TimedOut`.
pub fn connect_stream(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    let (address, length) = socket_address(path)?;
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh socket we own; the UnixStream closes it on every path from here.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    stream.set_write_timeout(Some(timeout.max(Duration::from_millis(1))))?;
    // SAFETY: address is a valid sockaddr_un and length is within it.
    let rc = unsafe {
        libc::connect(
            stream.as_raw_fd(),
            (&raw const address).cast::<libc::sockaddr>(),
            length,
        )
    };
    if rc != 0 {
        let error = io::Error::last_os_error();
        return Err(match error.kind() {
            io::ErrorKind::WouldBlock => io::Error::new(io::ErrorKind::TimedOut, error),
            _ => error,
        });
    }
    stream.set_write_timeout(None)?;
    Ok(stream)
}

/// Builds a `sockaddr_un` for a path, refusing one that does not fit.
pub(super) fn socket_address(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_encoded_bytes();
    if bytes.len() >= address.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("socket path {} is too long or contains NUL", path.display()),
        ));
    }
    for (slot, byte) in address.sun_path.iter_mut().zip(bytes) {
        *slot = *byte as libc::c_char;
    }
    let header = std::mem::offset_of!(libc::sockaddr_un, sun_path);
    let length = libc::socklen_t::try_from(header + bytes.len() + 1)
        .expect("a sockaddr_un length fits in socklen_t");
    Ok((address, length))
}
