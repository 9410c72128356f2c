//! `gastown formula list|show|cook` (being built).

use anyhow::Result;
use clap::Subcommand;
use std::path::Path;

#[derive(Debug, Clone, Subcommand)]
pub enum FormulaCommand {
    /// List formulas on the search path.
    List,
}

pub fn run(_town: Option<&Path>, _cmd: FormulaCommand) -> Result<()> {
    anyhow::bail!("gastown formula is being built")
}
