//! What the agents cost (issue 20): the tokens each runtime records for its sessions
//! ([`usage`]: Claude Code transcripts, Codex rollouts, read incrementally and never counted
//! twice) and what they cost ([`prices`]: a price table per model, defaults overridable in
//! `town.toml`), and recording them in the ledger ([`record`]: the collector the `costs` dog
//! and `gastown done` run, and the grouping `gastown costs` prints).

pub mod prices;
pub mod record;
pub mod usage;

pub use record::{collect, collect_agent};
