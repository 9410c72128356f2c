//! `gastown install <dir>`: create a town, and say which agent runtime it runs by default.

use crate::output;
use anyhow::Result;
use clap::Args;
use gastown_town::town::{self, DefaultAgent, InstallOptions};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Where to create the town: a new or empty directory, outside any town.
    pub dir: PathBuf,
    /// Prefix of the town's bead ids.
    #[arg(long, default_value = "gt")]
    pub prefix: String,
    /// A name for the town (default: the directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// The town's default agent runtime: `sim` (the built-in scripted agent) or a preset
    /// (claude, codex, …). Default: the first preset whose CLI is on PATH, else none.
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// Join an existing town instead: clone its repository from this git URL (or path), take
    /// its ledger and build the local index; `gastown sync` then shares the ledger through it.
    #[arg(long, value_name = "URL", conflicts_with_all = ["prefix", "name", "agent"])]
    pub from: Option<String>,
}

pub fn run(args: InstallArgs) -> Result<()> {
    if let Some(url) = &args.from {
        let town = town::install_from(url, &args.dir)?;
        let ledger = town.open_ledger()?;
        let beads = ledger
            .list(&Default::default())
            .map(|b| b.len())
            .unwrap_or(0);
        ledger.close_ledger()?;
        output::line(format!(
            "Joined town {:?} at {}\n  from:   {} (the remote `origin`)\n  ledger: {beads} open bead(s), git ref {}\n  next:   cd {} && gastown sync   # merges and pushes the ledger through origin",
            town.config.name,
            town.root.display(),
            gastown_town::git_cli::redact(url),
            town.config.ledger.git_ref,
            town.root.display()
        ))?;
        return Ok(());
    }
    let agent = match &args.agent {
        Some(name) => DefaultAgent::Named(name.clone()),
        None => DefaultAgent::FirstOnPath(std::env::var_os("PATH").unwrap_or_default()),
    };
    let opts = InstallOptions {
        prefix: args.prefix,
        name: args.name,
        agent,
    };
    let town = town::install(&args.dir, &opts)?;
    let agent = match (&town.config.default_agent, &args.agent) {
        (Some(name), Some(_)) => format!("{name} (given with --agent)"),
        (Some(name), None) => format!(
            "{name} (its CLI was the first preset found on PATH; change it with `gastown config default-agent <name>`)"
        ),
        (None, _) => "none (no agent CLI found on PATH): choose one with `gastown config default-agent <name>`, or pass --runtime to `gastown sling`".to_string(),
    };
    output::line(format!(
        "Created town {:?} at {}\n  ledger: git ref {} (bead ids {}-…)\n  agent:  {agent}\n  next:   cd {} && gastown bead create \"My first bead\"",
        town.config.name,
        town.root.display(),
        town.config.ledger.git_ref,
        town.config.prefix,
        town.root.display()
    ))?;
    Ok(())
}
