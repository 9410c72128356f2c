//! Gas Town's domain: everything the town *is*, with no CLI, no socket and no actors.
//!
//! - [`town`]: finding a town, its config (`town.toml`), `gastown install`;
//! - [`rig`]: rigs (layout, `rig.toml`, worktrees, gates, reconciliation, orphans);
//! - [`git_cli`]: the only code that runs the git CLI (and talks to remotes);
//! - [`identity`]: agent addresses; [`names`]: every other name of an agent (tree path, home,
//!   bead id, registry name), derived from its address; [`agents`]: identities as agent beads;
//!   [`caller`]: who runs a command (the overseer or an agent), as the domain checks it;
//!   [`authz`]: who may do what (the one place with the rules);
//! - [`command`]: the ledger commands (`bead`, `mail`, `mol`, `mq`, `convoy`, hook and seance
//!   views): a request, a typed outcome and `apply` per family, run alike by the CLI and the
//!   supervisor;
//! - [`runtimes`]: agent runtimes (presets, custom agents, the durable choice per identity),
//!   role homes;
//! - [`work`]: sling, hook, prime, done, handoff, seance;
//! - [`mail`]: message beads, addresses, groups, queues, channels, do-not-disturb;
//! - [`molecule`] and [`formulas`]: pouring formulas into the ledger, the formula search path;
//! - [`refinery`]: the merge queue, landing on the source remote;
//! - [`convoy`]: convoys, landing, notification;
//! - [`record`]: the typed record views (agent, merge request, mail, molecule) and who owns each.
//! - [`steps`]: commands that run git or gates between ledger writes, in steps;
//! - [`text`]: text that reaches a terminal is inert (typed into sessions, printed by the CLI);
//! - [`groups`]: the process groups this process starts (sessions, gates), recorded, tied to
//!   its life by the group leader shim, and their leftovers ended at the next start.
//!
//! Everything here is synchronous and runs against a [`gastown_beads::Ledger`] it is handed:
//! the CLI opens the ledger directly, `gastown run` lends its ledger actor's. A command with
//! slow work (`sling`, `done`, the refinery's recovery, `mq process`) takes a
//! [`steps::LedgerSteps`] instead, so that under `gastown run` its git and gates run outside the
//! ledger actor. Effects on the live tree (sessions to start or stop, pushes) are returned as
//! [`work::Effect`]s for the caller to carry out.

pub mod agents;
pub mod authz;
pub mod budget;
pub mod caller;
pub mod checkpoint;
pub mod command;
pub mod convoy;
pub mod costs;
pub mod defaults;
pub mod doctor;
pub mod dog_sessions;
pub mod dogs;
pub mod duration;
pub mod escalation;
pub mod formulas;
pub mod git_cli;
pub mod groups;
pub mod identity;
pub mod limits;
pub mod mail;
pub mod molecule;
pub mod names;
pub mod record;
pub mod refinery;
pub mod rig;
pub mod runtimes;
pub mod status;
pub mod steps;
pub mod sync;
#[cfg(test)]
mod testing;
pub mod text;
pub mod town;
pub mod witness;
pub mod work;

pub use caller::Caller;
pub use town::Town;
