//! Gas Town's actors: the live incarnations of durable identities.
//!
//! - [`ledger`]: the single writer of the town's ledger while `gastown run` is up;
//! - [`deacon`]: the deacon's patrol timer and Boot, its watchdog;
//! - [`role`]: a role's supervisor, its role actor, and the session factory (GUPP prompt);
//! - [`registry`]: finding a running role, role actor or session by its agent's address;
//! - [`session`]: one agent CLI process in a PTY, owned by exactly one session actor.
//!
//! Identities, agent beads and runtimes are the domain's (`gastown-town`); actors know the
//! ledger and the domain, never the socket's wire format (that is the binary's).

pub mod deacon;
pub mod ledger;
pub mod registry;
pub mod role;
pub mod session;
