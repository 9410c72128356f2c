//! `gastown rig …` (being built).

use crate::town::Town;
use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Clone, Subcommand)]
pub enum RigCommand {
    /// List rigs.
    List,
}

pub fn run(_town: &Town, _cmd: RigCommand) -> Result<()> {
    anyhow::bail!("gastown rig is being built")
}
