//! The queue: a rig's open merge-request beads, ordered by priority (0 first), then age.
//!
//! An MR is skipped while it waits for rework (`rework_from` equals its commit: the polecat has
//! not submitted a new one yet), while it is escalated (status `blocked`), and while the
//! target is known to fail its gates without it (`land` reports those as held).

use anyhow::{Result, bail};
use gastown_beads::{Bead, IssueType, Ledger, ListFilter, Status};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A merge-request bead, as the refinery reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRequest {
    pub id: String,
    pub title: String,
    pub rig: String,
    pub branch: String,
    pub target: String,
    pub source_bead: String,
    /// The polecat's address (`<rig>/polecats/<name>`).
    pub worker: String,
    /// The branch tip the polecat submitted.
    pub commit: String,
    pub retry_count: u64,
    pub priority: u8,
    pub created_at: String,
    /// The commit the MR was sent back for rework at, until the polecat resubmits.
    pub rework_from: Option<String>,
    /// A target tip whose gates failed without this MR.
    pub target_broken_at: Option<String>,
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

fn text(bead: &Bead, key: &str) -> String {
    bead.extra
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn opt_text(bead: &Bead, key: &str) -> Option<String> {
    Some(text(bead, key)).filter(|s| !s.is_empty())
}

impl MergeRequest {
    /// Read an MR bead; `None` for a bead of another type.
    pub fn from_bead(bead: &Bead) -> Option<MergeRequest> {
        if bead.issue_type != IssueType::MergeRequest {
            return None;
        }
        let commit = text(bead, "commit");
        // Present (even empty) from the moment the MR was sent back until `mq retry`.
        let rework_from = bead
            .extra
            .get("rework_from")
            .and_then(Value::as_str)
            .map(str::to_string);
        let state = if bead.is_closed() {
            QueueState::Closed
        } else if bead.status == Status::Blocked {
            QueueState::Escalated
        } else if rework_from.as_deref() == Some(commit.as_str()) {
            QueueState::Rework
        } else {
            QueueState::Queued
        };
        Some(MergeRequest {
            id: bead.id.clone(),
            title: bead.title.clone(),
            rig: text(bead, "rig"),
            branch: text(bead, "branch"),
            target: text(bead, "target"),
            source_bead: text(bead, "source_bead"),
            worker: text(bead, "worker"),
            commit,
            retry_count: bead
                .extra
                .get("retry_count")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            priority: bead.priority,
            created_at: bead.created_at.clone(),
            rework_from,
            target_broken_at: opt_text(bead, "target_broken_at"),
            state,
        })
    }

    /// Read the MR `id`, or say why it is not one.
    pub fn load(ledger: &Ledger, id: &str) -> Result<MergeRequest> {
        let Some(bead) = ledger.get(id)? else {
            bail!("no bead {id:?} in this town: `gastown mq list` shows the merge requests");
        };
        match MergeRequest::from_bead(&bead) {
            Some(mr) => Ok(mr),
            None => bail!(
                "{id} is a {} bead, not a merge request: `gastown mq list` shows the merge requests",
                bead.issue_type
            ),
        }
    }
}

/// Every not-closed MR of `rig` (all rigs with `None`), in queue order, whatever its state.
pub fn queue_of(ledger: &Ledger, rig: Option<&str>) -> Result<Vec<MergeRequest>> {
    let beads = ledger.list(&ListFilter {
        issue_type: Some(IssueType::MergeRequest),
        ..ListFilter::default()
    })?;
    let mut mrs: Vec<MergeRequest> = beads
        .iter()
        .filter_map(MergeRequest::from_bead)
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
