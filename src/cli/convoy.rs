//! `gastown convoy …` (being built).

use crate::town::Town;
use anyhow::Result;
use clap::Subcommand;
use gastown_beads::Ledger;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
pub enum ConvoyCommand {
    /// List convoys.
    List,
}

/// Run one convoy command against the ledger as `who`.
pub fn apply(
    _ledger: &mut Ledger,
    _town: &Town,
    _cmd: ConvoyCommand,
    _who: &str,
) -> Result<String> {
    anyhow::bail!("gastown convoy is being built")
}
