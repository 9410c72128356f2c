//! `gastown mq …`: the merge queues of the town's rigs (see docs/refinery.md).
//!
//! The ledger commands run in the domain (`gastown_town::command::mq`); `accept-origin` is git
//! only and waits on the network, so it runs here, in the calling process, never in the
//! supervisor. This file turns the arguments into requests and renders the outcomes.

use super::routed::{self, caller_from_env, unexpected};
use crate::output;
use crate::protocol::{TownReply, TownRequest};
use anyhow::Result;
use clap::Subcommand;
use gastown_town::command::mq::{self as domain, MqOutcome, MqRequest, OnOrigin, state_word};
use gastown_town::refinery::{MergeRequest, ProcessSummary};
use gastown_town::town::Town;
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum MqCommand {
    /// The merge queue of a rig (all rigs without one), in landing order.
    List {
        /// The rig (default: every rig).
        rig: Option<String>,
        /// Print a JSON array of the merge requests.
        #[arg(long)]
        json: bool,
    },
    /// One merge request: branch, target, source bead, worker, tries, state.
    Show {
        /// The merge request's id.
        mr: String,
        /// Print the merge request as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Put a merge request back in the queue (escalated or waiting for rework); its tries are
    /// kept, so one that fails again is escalated again.
    Retry {
        /// The merge request's id.
        mr: String,
    },
    /// Drop a merge request: closed, its source bead back in the ready pool, the polecat told.
    Reject {
        /// The merge request's id.
        mr: String,
        /// Why (told to the polecat).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Land a rig's queue now, in this process (benchmarks and tests).
    #[command(hide = true)]
    Process {
        /// The rig.
        rig: String,
        /// Until nothing more can land (default: one batch).
        #[arg(long)]
        all: bool,
        /// Merge with `git merge` in the refinery's worktree instead of in memory.
        #[arg(long)]
        worktree_merge: bool,
        /// Land one batch and stop before the bookkeeping (what a crash leaves behind).
        #[arg(long)]
        land_only: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take origin's rewritten target branch (after a force-push) as the rig's own; the rig's
    /// old one is saved to refs/gastown/backup/<branch>/<time> first.
    AcceptOrigin {
        /// The rig.
        rig: String,
    },
}

/// `gastown mq …`.
pub fn run(town: &Town, cmd: MqCommand) -> Result<()> {
    let (request, json) = match cmd {
        MqCommand::AcceptOrigin { rig } => {
            // Git only, and it waits on the network: never in the supervisor's ledger actor.
            let text = domain::accept_origin(town, &rig, &caller_from_env()?)?;
            output::text(&text)?;
            return Ok(());
        }
        MqCommand::List { rig, json } => (MqRequest::List { rig }, json),
        MqCommand::Show { mr, json } => (MqRequest::Show { mr }, json),
        MqCommand::Retry { mr } => (MqRequest::Retry { mr }, false),
        MqCommand::Reject { mr, reason } => (MqRequest::Reject { mr, reason }, false),
        MqCommand::Process {
            rig,
            all,
            worktree_merge,
            land_only,
            json,
        } => (
            MqRequest::Process {
                rig,
                all,
                worktree_merge,
                land_only,
            },
            json,
        ),
    };
    let reply = routed::run(town, TownRequest::Mq(request.clone()), |ledger, caller| {
        domain::apply(ledger, town, request, caller).map(TownReply::Mq)
    })?;
    let TownReply::Mq(outcome) = reply else {
        return Err(unexpected(&reply));
    };
    output::text(&render(&outcome, json)?)?;
    Ok(())
}

fn pretty<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}

/// What an mq command prints on stdout.
fn render(outcome: &MqOutcome, json: bool) -> Result<String> {
    Ok(match outcome {
        MqOutcome::Queue { merge_requests, .. } if json => pretty(merge_requests)?,
        MqOutcome::Queue {
            rig,
            merge_requests,
        } => queue_text(rig.as_deref(), merge_requests)?,
        MqOutcome::Shown { merge_request, .. } if json => pretty(merge_request)?,
        MqOutcome::Shown {
            merge_request,
            on_origin,
            closed,
        } => show_text(merge_request, on_origin.as_ref(), closed.as_deref())?,
        MqOutcome::Retried { id, rig, tries } => format!(
            "{id} is back in the merge queue of {rig} ({tries} tr{} so far; the mayor is told again if it fails)\n",
            if *tries == 1 { "y" } else { "ies" }
        ),
        MqOutcome::Rejected {
            id,
            source_bead,
            worker,
            branch,
        } => format!(
            "{id} rejected; {source_bead} is back in the ready pool; {worker} keeps its branch {branch}\n"
        ),
        MqOutcome::Processed(summary) if json => pretty(summary)?,
        MqOutcome::Processed(summary) => processed_text(summary)?,
    })
}

/// `mq list`: one line per merge request, in landing order.
fn queue_text(rig: Option<&str>, merge_requests: &[MergeRequest]) -> Result<String> {
    if merge_requests.is_empty() {
        return Ok(match rig {
            Some(r) => format!("the merge queue of {r} is empty\n"),
            None => "every merge queue is empty\n".to_string(),
        });
    }
    let mut out = String::new();
    for (i, mr) in merge_requests.iter().enumerate() {
        writeln!(
            out,
            "{:>3}. {}  P{}  {:<9}  {}  {} → {}  tries {}  {}",
            i + 1,
            mr.id,
            mr.priority,
            state_word(mr),
            mr.source_bead,
            mr.branch,
            mr.target,
            mr.retry_count,
            mr.worker
        )?;
    }
    Ok(out)
}

/// `mq show`: one merge request, field by field.
fn show_text(
    mr: &MergeRequest,
    on_origin: Option<&OnOrigin>,
    closed: Option<&str>,
) -> Result<String> {
    let mut out = String::new();
    writeln!(out, "{}  {}", mr.id, mr.title)?;
    writeln!(out, "  state:    {}", state_word(mr))?;
    writeln!(out, "  rig:      {}", mr.rig)?;
    writeln!(out, "  branch:   {} → {}", mr.branch, mr.target)?;
    writeln!(out, "  commit:   {}", mr.commit)?;
    writeln!(out, "  source:   {}", mr.source_bead)?;
    writeln!(out, "  worker:   {}", mr.worker)?;
    writeln!(out, "  priority: P{}", mr.priority)?;
    writeln!(out, "  tries:    {}", mr.retry_count)?;
    if let Some(on_origin) = on_origin {
        let said = match on_origin {
            OnOrigin::AtThisCommit => "yes, at this commit".to_string(),
            OnOrigin::AtEarlier(commit) => format!("yes, at {commit} (an earlier one)"),
            OnOrigin::No => "no".to_string(),
        };
        writeln!(out, "  on origin: {said}")?;
    }
    if let Some(reason) = closed {
        writeln!(out, "  closed:   {reason}")?;
    }
    Ok(out)
}

/// `mq process`: each merge request's result, then the totals.
fn processed_text(summary: &ProcessSummary) -> Result<String> {
    let mut out = String::new();
    for note in &summary.notes {
        writeln!(out, "{note}")?;
    }
    writeln!(
        out,
        "rig {}: {} merged, {} sent back, {} failed, {} held, {} waiting for origin ({} recovered) in {} batch(es), {} gate run(s), {} ms",
        summary.rig,
        summary.merged,
        summary.sent_back,
        summary.failed,
        summary.held,
        summary.waiting_for_origin,
        summary.recovered,
        summary.batches,
        summary.gate_runs,
        summary.elapsed_ms
    )?;
    Ok(out)
}
