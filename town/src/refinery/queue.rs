//! The queue: a rig's open merge-request beads, ordered by priority (0 first), then age.
//!
//! An MR is skipped while it waits for rework (`rework_from` equals its commit: the polecat has
//! not submitted a new one yet), while it is escalated (status `blocked`), and while the
//! target is known to fail its gates without it (`land` reports those as held).

use crate::record::RecordError;
use anyhow::{Result, bail};
use gastown_beads::{Bead, ExtraPatch, Fields, IssueType, Ledger, ListFilter, Status};
use serde::{Deserialize, Serialize};

/// A merge-request bead, as the refinery reads it: the one owner of an MR's fields (their
/// names in the bead's `extra` are below; [`NewMergeRequest`] writes them first, the typed
/// setters on [`MergeRequest`] change them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRequest {
    pub id: String,
    pub title: String,
    /// `rig`.
    pub rig: String,
    /// `branch`: the polecat's branch.
    pub branch: String,
    /// `target`: the branch it lands on.
    pub target: String,
    /// `source_bead`: the work bead it merges.
    pub source_bead: String,
    /// `worker`: the polecat's address (`<rig>/polecats/<name>`).
    pub worker: String,
    /// `commit`: the branch tip the polecat submitted.
    pub commit: String,
    /// `retry_count`: rework rounds so far (never reset).
    pub retry_count: u64,
    pub priority: u8,
    pub created_at: String,
    /// `rework_from`: the commit the MR was sent back for rework at, until the polecat
    /// resubmits (present, even empty, from then until `mq retry`).
    pub rework_from: Option<String>,
    /// `target_broken_at`: a target tip whose gates failed without this MR.
    pub target_broken_at: Option<String>,
    /// `last_failure`: why it was last sent back (`conflict`, `gate`, …), until `mq retry`.
    #[serde(skip)]
    pub last_failure: Option<String>,
    /// `merge_commit`: the commit it landed as.
    #[serde(skip)]
    pub merge_commit: Option<String>,
    pub state: QueueState,
}

/// Where an MR stands in its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// Waiting its turn.
    Queued,
    /// Sent back to its polecat; waits for a new submission.
    Rework,
    /// Escalated to the mayor after too many tries (`gastown mq retry` requeues it).
    Escalated,
    /// Closed (merged, rejected or failed).
    Closed,
}

/// What `gastown done` records on a new merge request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMergeRequest<'a> {
    pub rig: &'a str,
    pub branch: &'a str,
    pub target: &'a str,
    pub source_bead: &'a str,
    pub worker: &'a str,
    pub commit: &'a str,
}

impl NewMergeRequest<'_> {
    /// The fields of the new bead (no tries yet).
    pub fn fields(&self) -> ExtraPatch {
        ExtraPatch::default()
            .set("rig", self.rig)
            .set("branch", self.branch)
            .set("target", self.target)
            .set("source_bead", self.source_bead)
            .set("worker", self.worker)
            .set("commit", self.commit)
            .set("retry_count", 0)
    }
}

impl MergeRequest {
    /// Read an MR bead; a bead of another type, or a field of the wrong type, is an error that
    /// names it.
    pub fn from_bead(bead: &Bead) -> Result<MergeRequest, RecordError> {
        if bead.issue_type != IssueType::MergeRequest {
            return Err(RecordError::WrongKind {
                bead: bead.id.clone(),
                actual: bead.issue_type.to_string(),
                expected: "a merge request",
                hint: "`gastown mq list` shows the merge requests",
            });
        }
        let f = Fields::of(bead);
        let text = |field| Ok::<_, RecordError>(f.text(field)?.unwrap_or("").to_string());
        let commit = text("commit")?;
        let rework_from = f.text("rework_from")?.map(str::to_string);
        let state = if bead.is_closed() {
            QueueState::Closed
        } else if bead.status == Status::Blocked {
            QueueState::Escalated
        } else if rework_from.as_deref() == Some(commit.as_str()) {
            QueueState::Rework
        } else {
            QueueState::Queued
        };
        Ok(MergeRequest {
            id: bead.id.clone(),
            title: bead.title.clone(),
            rig: text("rig")?,
            branch: text("branch")?,
            target: text("target")?,
            source_bead: text("source_bead")?,
            worker: text("worker")?,
            commit,
            retry_count: f.count("retry_count")?.unwrap_or(0),
            priority: bead.priority,
            created_at: bead.created_at.clone(),
            rework_from,
            target_broken_at: f.non_empty("target_broken_at")?.map(str::to_string),
            last_failure: f.non_empty("last_failure")?.map(str::to_string),
            merge_commit: f.non_empty("merge_commit")?.map(str::to_string),
            state,
        })
    }

    /// Read the MR `id`, or say why it is not one.
    pub fn load(ledger: &Ledger, id: &str) -> Result<MergeRequest> {
        let Some(bead) = ledger.get(id)? else {
            bail!("no bead {id:?} in this town: `gastown mq list` shows the merge requests");
        };
        Ok(MergeRequest::from_bead(&bead)?)
    }

    /// `gastown done` again on the same branch: the new tip to merge.
    pub fn resubmitted(commit: &str) -> ExtraPatch {
        ExtraPatch::default().set("commit", commit)
    }

    /// Sent back to its polecat at `commit` for `why` (`conflict`, `gate`, …), `retry_count`
    /// tries in all.
    pub fn sent_back(retry_count: u64, commit: &str, why: &str) -> ExtraPatch {
        ExtraPatch::default()
            .set("retry_count", retry_count)
            .set("rework_from", commit)
            .set("last_failure", why)
    }

    /// The target at `tip` fails its gates without this MR.
    pub fn target_broken_at(tip: &str) -> ExtraPatch {
        ExtraPatch::default().set("target_broken_at", tip)
    }

    /// Landed as `commit`.
    pub fn merged_as(commit: &str) -> ExtraPatch {
        ExtraPatch::default().set("merge_commit", commit)
    }

    /// `gastown mq retry`: back in the queue, its rework, broken-target and failure notes
    /// dropped (the try count stays, so a failure after a retry escalates again).
    pub fn requeued() -> ExtraPatch {
        ExtraPatch::default()
            .unset("rework_from")
            .unset("target_broken_at")
            .unset("last_failure")
    }
}

/// Every open merge request (all rigs, any state but closed), in queue order. One whose fields
/// do not read is left out with a warning naming it (it is not the queue's to stop for).
pub fn open_merge_requests(ledger: &Ledger) -> Result<Vec<MergeRequest>> {
    queue_of(ledger, None)
}

/// Every not-closed MR of `rig` (all rigs with `None`), in queue order, whatever its state.
pub fn queue_of(ledger: &Ledger, rig: Option<&str>) -> Result<Vec<MergeRequest>> {
    let beads = ledger.list(&ListFilter {
        issue_type: Some(IssueType::MergeRequest),
        ..ListFilter::default()
    })?;
    let mut mrs: Vec<MergeRequest> = beads
        .iter()
        .filter_map(|bead| match MergeRequest::from_bead(bead) {
            Ok(mr) => Some(mr),
            Err(e) => {
                tracing::warn!(error = %e, "a merge request that does not read is left out of the queue");
                None
            }
        })
        .filter(|mr| mr.state != QueueState::Closed)
        .filter(|mr| rig.is_none_or(|r| mr.rig == r))
        .collect();
    mrs.sort_by(|a, b| (a.priority, &a.created_at, &a.id).cmp(&(b.priority, &b.created_at, &b.id)));
    Ok(mrs)
}

/// Up to `max` MRs of `rig` ready to land, in queue order, all for the same target branch.
pub fn next_batch(ledger: &Ledger, rig: &str, max: usize) -> Result<Vec<MergeRequest>> {
    let mut mrs = queue_of(ledger, Some(rig))?;
    mrs.retain(|mr| mr.state == QueueState::Queued);
    // A batch lands on one target: the first MR's; others wait for a later batch.
    if let Some(target) = mrs.first().map(|mr| mr.target.clone()) {
        mrs.retain(|mr| mr.target == target);
    }
    mrs.truncate(max.max(1));
    Ok(mrs)
}
