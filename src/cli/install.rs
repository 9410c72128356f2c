//! `gastown install <dir>`: create a town.

use crate::output;
use crate::town::{self, InstallOptions};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Where to create the town (created if missing).
    pub dir: PathBuf,
    /// Prefix of the town's bead ids.
    #[arg(long, default_value = "gt")]
    pub prefix: String,
    /// A name for the town (default: the directory's name).
    #[arg(long)]
    pub name: Option<String>,
}

pub fn run(args: InstallArgs) -> Result<()> {
    let opts = InstallOptions {
        prefix: args.prefix,
        name: args.name,
    };
    let town = town::install(&args.dir, &opts)?;
    output::line(format!(
        "Created town {:?} at {}\n  ledger: git ref {} (bead ids {}-…)\n  next:   cd {} && gastown bead create \"My first bead\"",
        town.config.name,
        town.root.display(),
        town.config.ledger.git_ref,
        town.config.prefix,
        town.root.display()
    ))?;
    Ok(())
}
