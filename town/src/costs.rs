//! What the agents cost (issue 20): the tokens each runtime records for its sessions
//! ([`usage`]: Claude Code transcripts, Codex rollouts, read incrementally and never counted
//! twice) and what they cost ([`prices`]: a price table per model, defaults overridable in
//! `town.toml`).

pub mod prices;
pub mod usage;
