//! Gas Town's actors: the live incarnations of durable identities.
//!
//! - [`ledger`]: the single writer of the town's ledger while `gastown run` is up;
//! - [`session`]: one agent CLI process in a PTY, owned by exactly one session actor.
//!
//! Actors know the ledger, never the socket's wire format (that is the binary's).

pub mod ledger;
pub mod session;
