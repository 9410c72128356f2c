//! Gas Town's domain: everything the town *is*, with no CLI, no socket and no actors.
//!
//! - [`town`]: finding a town, its config (`town.toml`), `gastown install`;
//! - [`rig`]: rigs (layout, `rig.toml`, worktrees, gates, reconciliation, orphans);
//! - [`git_cli`]: the only code that runs the git CLI (and talks to remotes);
//! - [`identity`]: agent addresses; [`agents`]: identities as agent beads;
//! - [`runtimes`]: agent runtimes (presets, custom agents, the durable choice per identity),
//!   role homes;
//! - [`work`]: sling, hook, prime, done, handoff, seance;
//! - [`mail`]: message beads, addresses, groups, queues, channels, do-not-disturb;
//! - [`molecule`] and [`formulas`]: pouring formulas into the ledger, the formula search path;
//! - [`refinery`]: the merge queue, landing on the source remote;
//! - [`convoy`]: convoys, landing, notification;
//! - [`steps`]: commands that run git or gates between ledger writes, in steps.
//!
//! Everything here is synchronous and runs against a [`gastown_beads::Ledger`] it is handed:
//! the CLI opens the ledger directly, `gastown run` lends its ledger actor's. A command with
//! slow work (`sling`, `done`, the refinery's recovery, `mq process`) takes a
//! [`steps::LedgerSteps`] instead, so that under `gastown run` its git and gates run outside the
//! ledger actor. Effects on the live tree (sessions to start or stop, pushes) are returned as
//! [`work::Effect`]s for the caller to carry out.

pub mod agents;
pub mod convoy;
pub mod formulas;
pub mod git_cli;
pub mod identity;
pub mod mail;
pub mod molecule;
pub mod refinery;
pub mod rig;
pub mod runtimes;
pub mod steps;
pub mod town;
pub mod work;

pub use town::Town;
