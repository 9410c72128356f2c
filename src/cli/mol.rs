//! `gastown mol …` (being built).

use crate::town::Town;
use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Clone, Subcommand)]
pub enum MolCommand {
    /// Pour a formula into the ledger as a molecule.
    Pour,
}

pub fn run(_town: &Town, _cmd: MolCommand) -> Result<()> {
    anyhow::bail!("gastown mol is being built")
}
