//! Gas Town's actors: the live incarnations of durable identities.
//!
//! - [`ledger`]: the single writer of the town's ledger while `gastown run` is up;
//! - [`agents`]: identities as agent beads (state, hook, session history);
//! - [`deacon`]: the deacon's patrol timer and Boot, its watchdog;
//! - [`identity`]: agent addresses;
//! - [`role`]: a role's supervisor, its role actor, and the session factory (GUPP prompt);
//! - [`runtime`]: how agent CLIs are started;
//! - [`session`]: one agent CLI process in a PTY, owned by exactly one session actor.
//!
//! Actors know the ledger, never the socket's wire format (that is the binary's).

pub mod agents;
pub mod deacon;
pub mod identity;
pub mod ledger;
pub mod role;
pub mod runtime;
pub mod session;
