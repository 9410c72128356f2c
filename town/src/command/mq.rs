//! `gastown mq …`: the merge queues of the town's rigs (see docs/refinery.md).
//!
//! `list` and `show` read the queue; `retry` puts an MR back in it (its try count kept, so an
//! MR that keeps failing is escalated again); `reject` drops it (closed, its source bead back in
//! the ready pool, the polecat told); [`accept_origin`] takes origin's rewritten history after a
//! force-push (git only, and it waits on the network: never a [`MqRequest`], so it never runs in
//! the supervisor). `process` works a rig's queue to the end in the process that runs it (what
//! the benchmark and tests drive; the live refinery actor runs the same phases).

use super::as_json;
use crate::caller::Caller;
use crate::mail::store::{ProtocolKind, send_protocol};
use crate::refinery::{
    self, LandOptions, MergeRequest, ProcessOptions, ProcessSummary, QueueState, Watcher,
};
use crate::rig::Rig;
use crate::steps::LedgerSteps;
use crate::town::Town;
use anyhow::{Result, bail};
use gastown_beads::{BeadPatch, Ledger, Status};
use serde::{Deserialize, Serialize};

/// One mq command that runs against the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MqRequest {
    /// The merge queue of a rig (all rigs without one), in landing order.
    List { rig: Option<String> },
    /// One merge request.
    Show { mr: String },
    /// Put a merge request back in the queue.
    Retry { mr: String },
    /// Drop a merge request.
    Reject { mr: String, reason: Option<String> },
    /// Land a rig's queue now, in the process that runs this.
    Process {
        rig: String,
        /// Until nothing more can land (default: one batch).
        all: bool,
        /// Merge with `git merge` in the refinery's worktree instead of in memory.
        worktree_merge: bool,
        /// Land one batch and stop before the bookkeeping (what a crash leaves behind).
        land_only: bool,
    },
}

/// What an mq command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MqOutcome {
    /// `list`: the queue of `rig` (every rig's when `None`), in landing order.
    Queue {
        rig: Option<String>,
        #[serde(with = "as_json")]
        merge_requests: Vec<MergeRequest>,
    },
    /// `show`.
    Shown {
        #[serde(with = "as_json")]
        merge_request: Box<MergeRequest>,
        /// Whether its branch is on origin; `None` when its rig cannot be loaded.
        on_origin: Option<OnOrigin>,
        /// Why it was closed, if it was.
        closed: Option<String>,
    },
    /// `retry`: back in the queue of `rig`, with its tries so far.
    Retried { id: String, rig: String, tries: u64 },
    /// `reject`: closed; its source bead is back in the ready pool.
    Rejected {
        id: String,
        source_bead: String,
        worker: String,
        branch: String,
    },
    /// `process`.
    Processed(#[serde(with = "as_json")] ProcessSummary),
}

/// Where a merge request's branch stands on origin (pushed by `gastown done`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnOrigin {
    /// Pushed at the MR's commit.
    AtThisCommit,
    /// Pushed at an earlier commit.
    AtEarlier(String),
    /// Not pushed.
    No,
}

/// Run one mq command as `caller`. In steps ([`crate::steps`]): `process` lands a queue (git
/// and gates) and `show` reads where the branch is on origin (git), both outside the ledger's
/// owner; the rest are one ledger operation each.
pub fn apply<L: LedgerSteps>(
    ledger: &mut L,
    town: &Town,
    request: MqRequest,
    caller: &Caller,
) -> Result<MqOutcome> {
    apply_watched(ledger, town, request, caller, Watcher::default())
}

/// [`apply`], with `watcher` told each step of an `mq process` landing (the CLI's progress on a
/// terminal); the other commands have no steps to watch.
pub fn apply_watched<L: LedgerSteps>(
    ledger: &mut L,
    town: &Town,
    request: MqRequest,
    caller: &Caller,
    watcher: Watcher,
) -> Result<MqOutcome> {
    match request {
        MqRequest::Show { mr } => show(ledger, town, &mr),
        MqRequest::Process {
            rig,
            all,
            worktree_merge,
            land_only,
        } => {
            crate::authz::act_on_rig(caller, &rig, "land the merge queue of")?;
            process(ledger, town, &rig, all, worktree_merge, land_only, watcher)
        }
        other => {
            let (town, caller) = (town.clone(), caller.clone());
            ledger.step("mq command", move |l| in_ledger(l, &town, other, &caller))?
        }
    }
}

/// The mq commands that are ledger work only.
fn in_ledger(
    ledger: &mut Ledger,
    town: &Town,
    request: MqRequest,
    caller: &Caller,
) -> Result<MqOutcome> {
    let who = caller.name();
    match request {
        MqRequest::List { rig } => {
            if let Some(r) = &rig {
                Rig::load(town, r)?;
            }
            let merge_requests = refinery::queue_of(ledger, rig.as_deref())?;
            Ok(MqOutcome::Queue {
                rig,
                merge_requests,
            })
        }
        MqRequest::Retry { mr } => {
            let rig = open_mr(ledger, &mr)?.rig;
            crate::authz::act_on_rig(caller, &rig, "retry the merge requests of")?;
            retry(ledger, &mr, who)
        }
        MqRequest::Reject { mr, reason } => {
            let rig = open_mr(ledger, &mr)?.rig;
            crate::authz::act_on_rig(caller, &rig, "reject the merge requests of")?;
            reject(ledger, &mr, reason.as_deref(), who)
        }
        MqRequest::Show { .. } | MqRequest::Process { .. } => {
            bail!("`mq show` and `mq process` run in steps: call `command::mq::apply`")
        }
    }
}

/// `mq process`: land a rig's queue (one batch, or `all`). In steps ([`crate::steps`]): under
/// `gastown run` the supervisor runs it on a blocking thread, so its gates never hold the
/// ledger actor.
pub fn process<L: LedgerSteps>(
    ledger: &mut L,
    town: &Town,
    rig: &str,
    all: bool,
    worktree_merge: bool,
    land_only: bool,
    watcher: Watcher,
) -> Result<MqOutcome> {
    let rig = Rig::load(town, rig)?;
    let opts = ProcessOptions {
        max_batches: if all { None } else { Some(1) },
        land: LandOptions {
            worktree_merge,
            watcher,
            ..LandOptions::default()
        },
        skip_record: land_only,
    };
    let refinery = format!("{}/refinery", rig.name());
    let summary = refinery::process_rig(ledger, town, &rig, &opts, &refinery)?;
    Ok(MqOutcome::Processed(summary))
}

/// `mq accept-origin`: the overseer's (or the mayor's) decision to take origin's rewritten
/// history; git only, so the CLI runs it in its own process. Returns what to print.
pub fn accept_origin(town: &Town, rig: &str, caller: &Caller) -> Result<String> {
    let allowed = match caller {
        Caller::Overseer => true,
        Caller::Agent(identity) => identity.role == crate::identity::Role::Mayor,
    };
    if !allowed {
        bail!(
            "{caller} cannot accept origin's history for rig {rig}: that is the overseer's or the \
             mayor's decision (it replaces the rig's target branch)"
        );
    }
    refinery::accept_origin(&Rig::load(town, rig)?)
}

/// The word for where an MR stands: `held` (queued behind a broken target), `queued`, …
pub fn state_word(mr: &MergeRequest) -> &'static str {
    match mr.state {
        QueueState::Queued if mr.target_broken_at.is_some() => "held",
        QueueState::Queued => "queued",
        QueueState::Rework => "rework",
        QueueState::Escalated => "escalated",
        QueueState::Closed => "closed",
    }
}

/// `mq show`: the MR from the ledger, then (git, outside the ledger's owner) whether its branch
/// is on origin.
fn show<L: LedgerSteps>(ledger: &mut L, town: &Town, id: &str) -> Result<MqOutcome> {
    let id = id.to_string();
    let (merge_request, closed) = ledger.step("mq show", move |l| -> Result<_> {
        let merge_request = MergeRequest::load(l, &id)?;
        let closed = l
            .get(&id)?
            .map(|b| b.close_reason)
            .filter(|r| !r.is_empty());
        Ok((merge_request, closed))
    })??;
    let on_origin = Rig::load(town, &merge_request.rig).ok().map(|rig| {
        let pushed = crate::git_cli::rev_parse(
            &rig.bare_repo(),
            &refinery::pushed_ref(&merge_request.branch),
        );
        match pushed {
            Ok(commit) if commit == merge_request.commit => OnOrigin::AtThisCommit,
            Ok(commit) => OnOrigin::AtEarlier(commit),
            Err(_) => OnOrigin::No,
        }
    });
    Ok(MqOutcome::Shown {
        merge_request: Box::new(merge_request),
        on_origin,
        closed,
    })
}

fn open_mr(ledger: &Ledger, id: &str) -> Result<MergeRequest> {
    let mr = MergeRequest::load(ledger, id)?;
    if mr.state == QueueState::Closed {
        bail!("{id} is closed: only an open merge request can be retried or rejected");
    }
    Ok(mr)
}

fn retry(ledger: &mut Ledger, id: &str, who: &str) -> Result<MqOutcome> {
    let mr = open_mr(ledger, id)?;
    // The try count is never reset: an MR that fails again after a retry is escalated again.
    MergeRequest::requeued().write(ledger, id, who)?;
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
    Ok(MqOutcome::Retried {
        id: id.to_string(),
        rig: mr.rig,
        tries: mr.retry_count,
    })
}

fn reject(ledger: &mut Ledger, id: &str, reason: Option<&str>, who: &str) -> Result<MqOutcome> {
    let mr = open_mr(ledger, id)?;
    let why = format!("rejected by {who}: {}", reason.unwrap_or("no reason given"));
    ledger.close(id, &why, who)?;
    if !mr.worker.is_empty() {
        let body = format!("{id} ({} on {}) was {why}", mr.source_bead, mr.branch);
        send_protocol(ledger, ProtocolKind::MergeFailed, &mr.worker, who, &body)?;
    }
    refinery::reopen_source(ledger, &mr, &why, who)?;
    Ok(MqOutcome::Rejected {
        id: id.to_string(),
        source_bead: mr.source_bead,
        worker: mr.worker,
        branch: mr.branch,
    })
}
