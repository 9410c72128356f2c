//! `gastown sync` and `gastown remote`: the ledger's git commit now and, with a remote, one
//! ledger for towns on several machines (`docs/ledger.md`, "Towns on several machines"). With
//! `gastown run` up the supervisor does it (its ledger is open there); without, this process.

use crate::client;
use crate::output;
use crate::protocol::{TownReply, TownRequest};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gastown_town::sync::{self, SyncOptions, SyncReport};
use gastown_town::town::Town;

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SyncArgs {
    /// Only fetch and merge the remote's ledger.
    #[arg(long, conflicts_with = "push")]
    pub pull: bool,
    /// Only push the ledger (a push the remote rejects because another town pushed first
    /// still fetches, merges and pushes again).
    #[arg(long)]
    pub push: bool,
    /// The remote (default: the town repository's only remote, else `origin`).
    #[arg(long)]
    pub remote: Option<String>,
    /// Print what happened as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum RemoteCommand {
    /// Add a remote to the town repository: `gastown sync` then merges and pushes the ledger
    /// through it.
    Add {
        /// Its name, e.g. `origin`.
        name: String,
        /// A git URL or the path of a bare repository.
        url: String,
    },
    /// The town repository's remotes.
    List,
    /// Remove a remote (and what was fetched from it).
    Remove {
        /// Its name, as `gastown remote list` shows it.
        name: String,
    },
}

/// `gastown sync`.
pub fn run(town: &Town, args: SyncArgs) -> Result<()> {
    let opts = SyncOptions {
        pull: args.pull,
        push: args.push,
        remote: args.remote,
    };
    let report = match client::connect(town)? {
        Some(mut supervisor) => match client::call(&mut supervisor, TownRequest::Sync(opts))? {
            TownReply::Synced(report) => *report,
            other => return Err(super::routed::unexpected(&other)),
        },
        None => {
            let mut ledger = town.open_ledger()?;
            let report = sync::sync(&mut ledger, town, &opts)?;
            ledger
                .close_ledger()
                .context("cannot close the ledger after the sync")?;
            report
        }
    };
    if args.json {
        output::text(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
        return Ok(());
    }
    output::text(&render(&report))?;
    Ok(())
}

/// What a sync did, in a few lines.
pub fn render(report: &SyncReport) -> String {
    let mut out = String::new();
    if report.committed > 0 {
        out.push_str(&format!("committed {} bead(s)\n", report.committed));
    }
    let Some(remote) = &report.remote else {
        if report.committed == 0 {
            out.push_str("nothing to commit: the ledger is in git\n");
        }
        out.push_str(
            "no remote: add one with `gastown remote add origin <url>` to share the ledger\n",
        );
        return out;
    };
    if report.remote_empty {
        out.push_str(&format!("{remote} had no ledger yet\n"));
    } else if report.fast_forward {
        out.push_str(&format!(
            "took {} bead(s) from {remote} (fast-forward)\n",
            report.taken
        ));
    } else if report.taken + report.merged > 0 || !report.rekeyed.is_empty() {
        out.push_str(&format!(
            "merged {remote}: {} bead(s) taken, {} merged field by field\n",
            report.taken, report.merged
        ));
    } else {
        out.push_str(&format!("nothing new from {remote}\n"));
    }
    for id in &report.kept_edits {
        out.push_str(&format!(
            "  kept {id}: deleted on one side, edited on the other\n"
        ));
    }
    for (id, new) in &report.rekeyed {
        out.push_str(&format!(
            "  re-keyed {new}: two different beads were created as {id}\n"
        ));
    }
    if report.retries > 0 {
        out.push_str(&format!(
            "another town pushed first {} time(s): merged again\n",
            report.retries
        ));
    }
    match &report.pushed {
        Some(commit) => out.push_str(&format!("pushed {commit} to {remote}\n")),
        None => out.push_str(&format!("{remote} is up to date\n")),
    }
    if let Some(branch) = &report.town_branch {
        out.push_str(&format!(
            "pushed the town's branch {branch} too: another machine joins with `gastown install --from <url> <dir>`\n"
        ));
    }
    out
}

/// `gastown remote …`.
pub fn remote(town: &Town, command: RemoteCommand) -> Result<()> {
    match command {
        RemoteCommand::Add { name, url } => {
            sync::add_remote(town, &name, &url)?;
            output::line(format!(
                "added {name}: `gastown sync` merges and pushes the ledger through it"
            ))?;
        }
        RemoteCommand::List => {
            let names = sync::remotes(town)?;
            if names.is_empty() {
                output::line("no remotes: add one with `gastown remote add origin <url>`")?;
                return Ok(());
            }
            let mut text = String::new();
            for name in names {
                let url = gastown_town::git_cli::remote_url(&town.root, &name);
                text.push_str(&format!("{name}\t{url}\n"));
            }
            output::text(&text)?;
        }
        RemoteCommand::Remove { name } => {
            sync::remove_remote(town, &name)?;
            output::line(format!("removed {name}"))?;
        }
    }
    Ok(())
}
