//! `gastown checkpoint list|show|save|restore`: polecats' uncommitted work saved on
//! `refs/gastown/checkpoints/<agent>` (see `gastown_town::checkpoint`, `docs/checkpoints.md`).
//!
//! These commands work on git alone (the rig's bare repository and the polecat's worktree), the
//! same with and without `gastown run`; the checkpoint dog takes them on its timer.

use super::routed;
use crate::output;
use anyhow::Result;
use clap::Subcommand;
use gastown_town::checkpoint::{self, Checkpoint, Saved};
use gastown_town::identity::AgentIdentity;
use gastown_town::town::Town;
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum CheckpointCommand {
    /// Every polecat's latest checkpoint.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// One polecat's latest checkpoint and the files it holds.
    Show {
        /// The polecat's address, e.g. alpha/polecats/nux.
        agent: String,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take a checkpoint of a polecat's uncommitted work now.
    Save {
        /// The polecat's address.
        agent: String,
    },
    /// Put a polecat's latest checkpoint back into its worktree as uncommitted changes (refused
    /// over uncommitted changes of the worktree's own).
    Restore {
        /// The polecat's address.
        agent: String,
    },
}

fn agent(address: &str) -> Result<AgentIdentity> {
    AgentIdentity::parse(address).map_err(|e| {
        anyhow::anyhow!("{address:?} is not an agent's address ({e}): use <rig>/polecats/<name>")
    })
}

/// `gastown checkpoint …`.
pub fn run(town: &Town, cmd: CheckpointCommand) -> Result<()> {
    let text = match cmd {
        CheckpointCommand::List { json } => {
            let (found, broken) = checkpoint::list(town)?;
            for b in &broken {
                eprintln!("warning: unreadable checkpoint {b}");
            }
            if json {
                format!("{}\n", serde_json::to_string_pretty(&found)?)
            } else if found.is_empty() {
                "no checkpoints\n".to_string()
            } else {
                found.iter().map(line).collect()
            }
        }
        CheckpointCommand::Show { agent: a, json } => {
            let who = agent(&a)?;
            match checkpoint::latest(town, &who)? {
                Some(c) if json => format!("{}\n", serde_json::to_string_pretty(&c)?),
                Some(c) => detail(&c)?,
                None => anyhow::bail!(
                    "{who} has no checkpoint (`gastown checkpoint list` shows the ones there are)"
                ),
            }
        }
        CheckpointCommand::Save { agent: a } => {
            let who = agent(&a)?;
            gastown_town::authz::checkpoint(&routed::caller(town)?, &who, "save")?;
            match checkpoint::save(town, &who)? {
                Saved::Clean => format!("{who}: nothing uncommitted, no checkpoint needed\n"),
                Saved::Unchanged(c) => format!(
                    "{who}: unchanged since checkpoint {} ({})\n",
                    short(&c.commit),
                    c.at
                ),
                Saved::Saved(c) => format!(
                    "{who}: checkpoint {} of {} file(s)\n",
                    short(&c.commit),
                    c.files.len()
                ),
                Saved::Restarted {
                    checkpoint: c,
                    broken,
                } => format!(
                    "{who}: checkpoint {} of {} file(s), starting a new chain: the previous \
                     checkpoint {} could not be read ({}); it is kept at {} (delete it with \
                     `git update-ref -d` once nothing in it is needed)\n",
                    short(&c.commit),
                    c.files.len(),
                    short(&broken.commit),
                    broken.why,
                    broken.kept_at
                ),
            }
        }
        CheckpointCommand::Restore { agent: a } => {
            let who = agent(&a)?;
            gastown_town::authz::checkpoint(&routed::caller(town)?, &who, "restore")?;
            let restored = checkpoint::restore(town, &who)?;
            let mut out = format!(
                "{who}: restored checkpoint {} ({}) as uncommitted changes: {} file(s)\n",
                short(&restored.checkpoint.commit),
                restored.checkpoint.at,
                restored.checkpoint.files.len()
            );
            if !restored.conflicts.is_empty() {
                writeln!(
                    out,
                    "conflicts to resolve by hand (the branch moved on since): {}",
                    restored.conflicts.join(", ")
                )?;
            }
            out
        }
    };
    output::text(&text)?;
    Ok(())
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn line(c: &Checkpoint) -> String {
    format!(
        "{}  {}  {}  {} file(s)\n",
        c.agent,
        short(&c.commit),
        c.at,
        c.files.len()
    )
}

fn detail(c: &Checkpoint) -> Result<String> {
    let mut out = String::new();
    writeln!(out, "{} checkpoint {}", c.agent, c.commit)?;
    writeln!(out, "taken:  {}", c.at)?;
    writeln!(out, "base:   {}", c.base)?;
    writeln!(out, "files:")?;
    for f in &c.files {
        writeln!(out, "  {f}")?;
    }
    Ok(out)
}
