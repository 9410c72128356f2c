//! Request dispatch: the socket layer answers its own requests (`Ping`, `Whoami`, `Stats`) and
//! hands every other request to the supervisor's [`Handler`], with the connection's identity.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::stats::{Counter, SocketStats};
use super::wire::{ErrorCode, Identity, ReplyBody, RequestBody, WireError};

/// What the supervisor plugs into the socket server.
///
/// `identity` is the one the server established at handshake (from the token), never one taken
/// from the request. A boxed future keeps the trait object-safe without `async-trait`:
///
/// ```text
/// impl Handler for Supervisor {
///     fn handle<'a>(&'a self, identity: &'a Identity, body: RequestBody) -> HandlerFuture<'a> {
///         Box::pin(async move { self.answer(identity, body).await })
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Answers one request; expected failures are `Err(WireError)` replies, not panics.
    fn handle<'a>(&'a self, identity: &'a Identity, body: RequestBody) -> HandlerFuture<'a>;

    /// For a streaming request (a subscription), the stream of its replies: the connection then
    /// sends each reply as it comes, under the request's id, until the peer disconnects, the
    /// stream ends or the server shuts down, and serves nothing else. `None`: an ordinary
    /// request, for [`Handler::handle`].
    fn stream<'a>(
        &'a self,
        _identity: &'a Identity,
        _body: &RequestBody,
    ) -> Option<StreamFuture<'a>> {
        None
    }
}

/// The future a [`Handler`] returns.
pub type HandlerFuture<'a> = BoxFuture<'a, Result<ReplyBody, WireError>>;

/// The replies of a streaming request, as they come.
pub type ReplyStream = futures::stream::BoxStream<'static, Result<ReplyBody, WireError>>;

/// What opening a streaming request gives: its stream, or the error that refuses it.
pub type StreamFuture<'a> = BoxFuture<'a, Result<ReplyStream, WireError>>;

/// A handler for a server that only answers the socket layer's own requests (tests, benches,
/// and a supervisor that has not wired its commands yet).
#[derive(Debug, Clone, Copy, Default)]
pub struct SocketOnly;

impl Handler for SocketOnly {
    fn handle<'a>(&'a self, _identity: &'a Identity, body: RequestBody) -> HandlerFuture<'a> {
        Box::pin(async move {
            Err(WireError::new(
                ErrorCode::Unavailable,
                format!(
                    "this supervisor does not serve {body:?} yet: run the command without `gastown run`"
                ),
            ))
        })
    }
}

/// Answers one request: socket-layer requests here, the rest through the handler. A
/// `Forbidden` reply (the caller may not do this) is counted.
pub(super) async fn dispatch(
    handler: &dyn Handler,
    stats: &SocketStats,
    identity: &Identity,
    body: RequestBody,
) -> Result<ReplyBody, WireError> {
    match body {
        RequestBody::Ping => Ok(ReplyBody::Pong),
        RequestBody::Whoami => Ok(ReplyBody::Identity(identity.clone())),
        RequestBody::Stats => Ok(ReplyBody::Stats(stats.snapshot())),
        // Every command the supervisor adds lands here.
        other => {
            let reply = call_handler(handler, identity, other).await;
            if matches!(&reply, Err(error) if error.code == ErrorCode::Forbidden) {
                stats.bump(Counter::Forbidden);
            }
            reply
        }
    }
}

/// Calls the handler, turning a panic into an `Internal` reply so one bad request cannot take
/// the connection (or, through it, anyone else) down.
pub(super) async fn call_handler(
    handler: &dyn Handler,
    identity: &Identity,
    body: RequestBody,
) -> Result<ReplyBody, WireError> {
    match AssertUnwindSafe(handler.handle(identity, body))
        .catch_unwind()
        .await
    {
        Ok(reply) => reply,
        Err(_panic) => {
            tracing::error!("request handler panicked");
            Err(WireError::new(
                ErrorCode::Internal,
                "the supervisor failed on this request (a bug): see `gastown run`'s log",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers `Pong` for the overseer and panics for anyone else.
    struct PanicsForAgents;

    impl Handler for PanicsForAgents {
        fn handle<'a>(&'a self, identity: &'a Identity, _body: RequestBody) -> HandlerFuture<'a> {
            Box::pin(async move {
                match identity {
                    Identity::Overseer => Ok(ReplyBody::Pong),
                    Identity::Agent { .. } => panic!("deliberate test panic"),
                }
            })
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_becomes_an_internal_error() {
        let agent = Identity::Agent {
            address: "r/polecats/p".to_string(),
            role: "polecat".to_string(),
            rig: Some("r".to_string()),
        };
        let ok = call_handler(&PanicsForAgents, &Identity::Overseer, RequestBody::Ping).await;
        assert_eq!(ok, Ok(ReplyBody::Pong));
        let failed = call_handler(&PanicsForAgents, &agent, RequestBody::Ping).await;
        assert_eq!(failed.map_err(|error| error.code), Err(ErrorCode::Internal));
    }

    #[tokio::test]
    async fn socket_requests_are_answered_without_the_handler() {
        let stats = SocketStats::default();
        let agent = Identity::Agent {
            address: "r/polecats/p".to_string(),
            role: "polecat".to_string(),
            rig: None,
        };
        let whoami = dispatch(&PanicsForAgents, &stats, &agent, RequestBody::Whoami).await;
        assert_eq!(whoami, Ok(ReplyBody::Identity(agent.clone())));
        let ping = dispatch(&PanicsForAgents, &stats, &agent, RequestBody::Ping).await;
        assert_eq!(
            ping,
            Ok(ReplyBody::Pong),
            "ping never reaches the panicking handler"
        );
    }

    #[tokio::test]
    async fn socket_only_handler_says_what_to_do() {
        let reply = SocketOnly
            .handle(&Identity::Overseer, RequestBody::Ping)
            .await;
        let error = reply.expect_err("socket-only handler serves nothing");
        assert_eq!(error.code, ErrorCode::Unavailable);
        assert!(
            error.message.contains("without `gastown run`"),
            "{}",
            error.message
        );
    }
}
