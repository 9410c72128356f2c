//! The town's commands as the CLI and the supervisor run them: one file per family (`bead`,
//! `mail` with `dnd`, `mol`, `mq`, `convoy`, and the agent views `hook` / `seance`).
//!
//! Each family has a request type (what is asked, in plain types: the CLI converts its clap
//! arguments into it and the socket carries it to `gastown run`), an outcome type (what
//! happened, typed: the CLI renders it as text or JSON, the same whichever process ran it) and
//! an `apply` that runs the request against an open ledger as a [`Caller`] — in the CLI when no
//! supervisor runs, in the supervisor's ledger actor otherwise — so the two behave alike.
//!
//! Outcome fields whose type's serde form is designed for JSON elsewhere (beads with their
//! unknown fields, audit events, merge requests, convoy progress, …) are marked
//! `#[serde(with = "as_json")]`: they cross the socket as their JSON text (see [`as_json`]).
//!
//! [`Caller`]: crate::caller::Caller

pub mod agent;
pub mod as_json;
pub mod bead;
pub mod convoy;
pub mod escalation;
pub mod mail;
pub mod mol;
pub mod mq;
