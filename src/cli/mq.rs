//! `gastown mq …` (being built).

use crate::town::Town;
use anyhow::Result;
use clap::Subcommand;
use gastown_beads::Ledger;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
pub enum MqCommand {
    /// The merge queue of a rig.
    List,
}

/// Run one mq command against the ledger as `who`.
pub fn apply(_ledger: &mut Ledger, _town: &Town, _cmd: MqCommand, _who: &str) -> Result<String> {
    anyhow::bail!("gastown mq is being built")
}
