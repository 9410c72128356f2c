//! The supervisor's local socket: how `gastown` CLI calls and agent sessions talk to
//! `gastown run`.
//!
//! Layers, one file each (read in this order):
//! - [`frame`]: 4-byte big-endian length + bincode 2 payload, with a maximum frame size;
//! - [`wire`]: the messages (hello/welcome handshake, requests, replies, typed errors, identity);
//! - [`tokens`]: session tokens that bind a connection to an agent identity;
//! - [`sessions`]: the live sessions' processes, so a peer inside one is that agent whatever
//!   token it shows (the token is a cross-check, never an upgrade);
//! - [`bind`]: the private runtime dir, the socket path (with its short-path fallback), binding;
//! - [`server`] and `connection`: the listener (connection cap, shutdown) and one task per
//!   connection (peer uid check, handshake, requests, timeouts, refusals, replies streamed in
//!   parts); `peers`: the per-process and per-identity connection caps;
//! - [`handler`]: the trait the supervisor implements to answer requests;
//! - [`client`]: the blocking client every CLI command uses;
//! - [`stats`]: counters for introspection; [`bench`]: the round-trip benchmark;
//! - `golden` (tests): the wire of this `PROTOCOL_VERSION`, pinned byte for byte.
//!
//! The town's own requests and replies (`RequestBody::Town`) are `crate::protocol`'s: this layer
//! depends on it, never the other way.
//!
//! **Architecture invariant:** a request handler learns who is calling only from the
//! connection's identity, established at handshake from the peer's process (and its token);
//! never from a payload.
//! Protocol details for humans: `docs/socket.md`.

pub mod bench;
pub mod bind;
pub mod client;
mod connection;
pub mod frame;
pub mod handler;
mod peers;
pub mod server;
pub mod sessions;
pub mod stats;
pub mod tokens;
pub mod wire;

#[cfg(test)]
mod golden;
#[cfg(test)]
mod tests;

pub use bind::{FileModes, bind, locate_socket};
pub use client::{Client, ClientError, Subscription};
pub use handler::{Handler, HandlerFuture};
pub use server::{Server, ServerConfig};
pub use sessions::SessionRegistry;
pub use tokens::TokenRegistry;
pub use wire::{ErrorCode, Identity, ReplyBody, RequestBody, WireError};
