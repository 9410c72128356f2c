//! `gastown mq …`: the merge queues of the town's rigs (see docs/refinery.md).
//!
//! `list` and `show` read the queue; `retry` puts an MR back in it (its try count kept, so an
//! MR that keeps failing is escalated again); `reject` drops it (closed, its source bead back in
//! the ready pool, the polecat told); `accept-origin` takes origin's rewritten history after a
//! force-push (git only: it runs in the calling process, never in the supervisor). The hidden
//! `process` works a rig's queue to the end in the calling process (what the benchmark and
//! tests drive; the live refinery actor runs the same phases).

use anyhow::{Result, bail};
use clap::Subcommand;
use gastown_beads::{BeadPatch, Ledger, Status};
use gastown_town::mail::store::{ProtocolKind, send_protocol};
use gastown_town::refinery::{self, LandOptions, MergeRequest, ProcessOptions, QueueState};
use gastown_town::rig::Rig;
use gastown_town::steps::LedgerSteps;
use gastown_town::town::Town;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
pub enum MqCommand {
    /// The merge queue of a rig (all rigs without one), in landing order.
    List {
        rig: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One merge request: branch, target, source bead, worker, tries, state.
    Show {
        mr: String,
        #[arg(long)]
        json: bool,
    },
    /// Put a merge request back in the queue (escalated or waiting for rework); its tries are
    /// kept, so one that fails again is escalated again.
    Retry { mr: String },
    /// Drop a merge request: closed, its source bead back in the ready pool, the polecat told.
    Reject {
        mr: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Land a rig's queue now, in this process (benchmarks and tests).
    #[command(hide = true)]
    Process {
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
        #[arg(long)]
        json: bool,
    },
    /// Take origin's rewritten target branch (after a force-push) as the rig's own; the rig's
    /// old one is saved to refs/gastown/backup/<branch>/<time> first.
    AcceptOrigin { rig: String },
}

/// Run one mq command against the ledger as `who`.
pub fn apply(ledger: &mut Ledger, town: &Town, cmd: MqCommand, who: &str) -> Result<String> {
    match cmd {
        MqCommand::List { rig, json } => list(ledger, town, rig.as_deref(), json),
        MqCommand::Show { mr, json } => show(ledger, town, &mr, json),
        MqCommand::Retry { mr } => retry(ledger, &mr, who),
        MqCommand::Reject { mr, reason } => reject(ledger, &mr, reason.as_deref(), who),
        MqCommand::AcceptOrigin { rig } => accept_origin(town, &rig, who),
        MqCommand::Process {
            rig,
            all,
            worktree_merge,
            land_only,
            json,
        } => process(
            ledger,
            town,
            &ProcessRequest {
                rig,
                all,
                worktree_merge,
                land_only,
                json,
            },
        ),
    }
}

/// What `mq process` was asked (its flags, see [`MqCommand::Process`]).
#[derive(Debug, Clone)]
pub struct ProcessRequest {
    pub rig: String,
    pub all: bool,
    pub worktree_merge: bool,
    pub land_only: bool,
    pub json: bool,
}

impl ProcessRequest {
    /// The request of an `mq process` command; any other command comes back as it was.
    pub fn of(cmd: MqCommand) -> Result<ProcessRequest, MqCommand> {
        match cmd {
            MqCommand::Process {
                rig,
                all,
                worktree_merge,
                land_only,
                json,
            } => Ok(ProcessRequest {
                rig,
                all,
                worktree_merge,
                land_only,
                json,
            }),
            other => Err(other),
        }
    }
}

/// `mq process`: land a rig's queue. In steps (`gastown_town::steps`): with `gastown run` up the
/// supervisor runs it on a blocking thread, so its gates never hold the ledger actor.
pub fn process<L: LedgerSteps>(
    ledger: &mut L,
    town: &Town,
    req: &ProcessRequest,
) -> Result<String> {
    let rig = Rig::load(town, &req.rig)?;
    let opts = ProcessOptions {
        max_batches: if req.all { None } else { Some(1) },
        land: LandOptions {
            worktree_merge: req.worktree_merge,
            ..LandOptions::default()
        },
        skip_record: req.land_only,
    };
    let refinery = format!("{}/refinery", rig.name());
    let summary = refinery::process_rig(ledger, town, &rig, &opts, &refinery)?;
    if req.json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&summary)?));
    }
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

/// `mq accept-origin`: the overseer's (or the mayor's) decision to take origin's rewritten
/// history; git only, so the CLI runs it in its own process.
pub fn accept_origin(town: &Town, rig: &str, who: &str) -> Result<String> {
    if who != gastown_town::mail::OVERSEER && who != "mayor" {
        bail!(
            "{who} cannot accept origin's history for rig {rig}: that is the overseer's or the \
             mayor's decision (it replaces the rig's target branch)"
        );
    }
    refinery::accept_origin(&Rig::load(town, rig)?)
}

fn state_word(mr: &MergeRequest) -> &'static str {
    match mr.state {
        QueueState::Queued if mr.target_broken_at.is_some() => "held",
        QueueState::Queued => "queued",
        QueueState::Rework => "rework",
        QueueState::Escalated => "escalated",
        QueueState::Closed => "closed",
    }
}

fn list(ledger: &Ledger, town: &Town, rig: Option<&str>, json: bool) -> Result<String> {
    if let Some(r) = rig {
        Rig::load(town, r)?;
    }
    let mrs = refinery::queue_of(ledger, rig)?;
    if json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&mrs)?));
    }
    if mrs.is_empty() {
        return Ok(match rig {
            Some(r) => format!("the merge queue of {r} is empty\n"),
            None => "every merge queue is empty\n".to_string(),
        });
    }
    let mut out = String::new();
    for (i, mr) in mrs.iter().enumerate() {
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

fn show(ledger: &Ledger, town: &Town, id: &str, json: bool) -> Result<String> {
    let mr = MergeRequest::load(ledger, id)?;
    let bead = ledger.get(id)?;
    if json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&mr)?));
    }
    let mut out = String::new();
    writeln!(out, "{}  {}", mr.id, mr.title)?;
    writeln!(out, "  state:    {}", state_word(&mr))?;
    writeln!(out, "  rig:      {}", mr.rig)?;
    writeln!(out, "  branch:   {} → {}", mr.branch, mr.target)?;
    writeln!(out, "  commit:   {}", mr.commit)?;
    writeln!(out, "  source:   {}", mr.source_bead)?;
    writeln!(out, "  worker:   {}", mr.worker)?;
    writeln!(out, "  priority: P{}", mr.priority)?;
    writeln!(out, "  tries:    {}", mr.retry_count)?;
    if let Ok(rig) = Rig::load(town, &mr.rig) {
        let pushed =
            gastown_town::git_cli::rev_parse(&rig.bare_repo(), &refinery::pushed_ref(&mr.branch));
        let on_origin = match pushed {
            Ok(commit) if commit == mr.commit => "yes, at this commit".to_string(),
            Ok(commit) => format!("yes, at {commit} (an earlier one)"),
            Err(_) => "no".to_string(),
        };
        writeln!(out, "  on origin: {on_origin}")?;
    }
    if let Some(reason) = bead.map(|b| b.close_reason).filter(|r| !r.is_empty()) {
        writeln!(out, "  closed:   {reason}")?;
    }
    Ok(out)
}

fn open_mr(ledger: &Ledger, id: &str) -> Result<MergeRequest> {
    let mr = MergeRequest::load(ledger, id)?;
    if mr.state == QueueState::Closed {
        bail!("{id} is closed: only an open merge request can be retried or rejected");
    }
    Ok(mr)
}

fn retry(ledger: &mut Ledger, id: &str, who: &str) -> Result<String> {
    let mr = open_mr(ledger, id)?;
    // The try count is never reset: an MR that fails again after a retry is escalated again.
    let mut fields = Map::new();
    for key in ["rework_from", "target_broken_at", "last_failure"] {
        fields.insert(key.into(), Value::Null);
    }
    ledger.set_extra(id, fields, who)?;
    if mr.state == QueueState::Escalated {
        ledger.update(
            id,
            BeadPatch {
                status: Some(Status::Open),
                ..BeadPatch::default()
            },
            who,
        )?;
    }
    if ledger
        .get(id)?
        .is_some_and(|b| b.labels.iter().any(|l| l == "escalated"))
    {
        ledger.remove_label(id, "escalated", who)?;
    }
    Ok(format!(
        "{id} is back in the merge queue of {} ({} tr{} so far; the mayor is told again if it fails)\n",
        mr.rig,
        mr.retry_count,
        if mr.retry_count == 1 { "y" } else { "ies" }
    ))
}

fn reject(ledger: &mut Ledger, id: &str, reason: Option<&str>, who: &str) -> Result<String> {
    let mr = open_mr(ledger, id)?;
    let why = format!("rejected by {who}: {}", reason.unwrap_or("no reason given"));
    ledger.close(id, &why, who)?;
    if !mr.worker.is_empty() {
        let body = format!("{id} ({} on {}) was {why}", mr.source_bead, mr.branch);
        send_protocol(ledger, ProtocolKind::MergeFailed, &mr.worker, who, &body)?;
    }
    refinery::reopen_source(ledger, &mr, &why, who)?;
    Ok(format!(
        "{id} rejected; {} is back in the ready pool; {} keeps its branch {}\n",
        mr.source_bead, mr.worker, mr.branch
    ))
}
