//! `gastown config …` (being built).

use crate::town::Town;
use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Clone, Subcommand)]
pub enum ConfigCommand {
    /// Show the town's configuration.
    Show,
}

pub fn run(_town: &Town, _cmd: ConfigCommand) -> Result<()> {
    anyhow::bail!("gastown config is being built")
}
