//! The Refinery: one merge queue per rig, landing merge-request beads on the rig's target
//! branch exactly once.
//!
//! The work is split in three phases so that the slow part never holds the ledger:
//!
//! 1. [`next_batch`] (ledger, read only): the open MRs of a rig, by priority then age, skipping
//!    ones waiting for rework, escalated or held because the target itself is broken.
//! 2. [`land_with`] (git and gates only, NO ledger): fetch origin's target and merge on its tip
//!    ([`origin`]); merge each MR onto it without a work tree (`git merge-tree --write-tree`,
//!    `git commit-tree`), every MR's commit carrying the trailer `Gastown-MR: <mr-id>`; run the
//!    rig's gates once per batch in the refinery's worktree (bisecting on failure); push to
//!    origin with an exact lease, then advance `refs/heads/<target>` with a compare-and-swap.
//! 3. [`record`] (ledger): close MRs and source beads, mail the polecat, witness and mayor,
//!    send work back for rework, escalate after [`MAX_RETRIES`], tell the mayor and overseer
//!    what keeps origin from taking work; return the merged sandboxes, which the caller removes
//!    ([`remove_sandbox`]) once the polecat's session has ended.
//!
//! A crash between 2 and 3 is healed by [`recover`] (and by `land` itself): a trailer already
//! in the target's history — on origin too, fetched first — means "merged", so the
//! bookkeeping is finished, never the merge repeated. See docs/refinery.md.

// The refinery actor (the lead's) calls `next_batch`, `land` and `record`; `mq process` uses
// the rest today.
mod batch;
mod branches;
mod gitops;
mod known_good;
mod land;
mod origin;
#[cfg(test)]
mod origin_tests;
mod problem;
mod process;
mod queue;
mod record;
mod recover;
mod sandbox;
#[cfg(test)]
mod tests;
mod watch;

pub use branches::push_polecat_branch;
pub use land::{LandOptions, land_with};
pub use origin::{accept_origin, pushed_ref};
pub use problem::RemoteProblem;
pub use process::{ProcessOptions, ProcessSummary, process_rig};
pub use queue::{
    MergeRequest, NewMergeRequest, QueueState, next_batch, open_merge_requests, queue_of,
};
pub use record::{Recorded, record, reopen_source};
pub use recover::{recover, sync_origin};
pub use sandbox::{recycled, remove_sandbox};
pub use watch::{LandStep, Watcher, result_words};

use serde::Serialize;
use std::time::Duration;

/// The trailer key that records which MR a commit on the target landed.
pub const TRAILER: &str = "Gastown-MR";

pub use crate::defaults::{HISTORY_DEPTH, MAX_RETRIES};

/// What happened to one MR in a landing attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum MrResult {
    /// Landed now; `commit` carries its trailer; `branch_tip` is the branch commit that landed.
    Merged { commit: String, branch_tip: String },
    /// Its trailer was already on the target (a crash before the bookkeeping): only the
    /// bookkeeping is left.
    AlreadyMerged { commit: String },
    /// The branch does not merge cleanly onto the target.
    Conflict { files: Vec<String> },
    /// A gate failed because of this MR.
    GateFailed { gate: String, output: String },
    /// The same gate also fails on the target alone: not the MR's fault; it stays queued.
    GateFailedOnTarget {
        gate: String,
        output: String,
        target_tip: String,
    },
    /// A gate ran past the rig's timeout and was killed.
    TimedOut { gate: String, output: String },
    /// The MR's branch is gone from the rig's repository.
    BranchMissing { branch: String },
    /// The branch was started on history that origin dropped (a force-push the overseer
    /// accepted with `mq accept-origin`): merging it would push the dropped commits back.
    OnDroppedHistory { dropped: usize },
    /// Not attempted: the target is still at a tip whose gates already failed without it.
    Held { target_tip: String },
    /// Not landed: origin could not take it (see [`LandOutcome::remote`]); it stays queued.
    RemoteHeld { reason: String },
}

impl MrResult {
    /// True when the MR is on the target (now or before).
    pub fn is_merged(&self) -> bool {
        matches!(
            self,
            MrResult::Merged { .. } | MrResult::AlreadyMerged { .. }
        )
    }
}

/// One MR and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MrOutcome {
    pub mr: MergeRequest,
    #[serde(flatten)]
    pub result: MrResult,
}

/// What [`land`] did with a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LandOutcome {
    pub rig: String,
    pub target: String,
    /// The target's tip before and after (equal when nothing landed).
    pub old_tip: String,
    pub new_tip: String,
    /// One entry per MR of the batch, in batch order.
    pub outcomes: Vec<MrOutcome>,
    /// Gate rounds run (a round is every configured gate on one candidate).
    pub gate_runs: usize,
    /// Compare-and-swap attempts that found the target moved and started again.
    pub cas_retries: usize,
    /// The new tip was pushed to origin.
    pub pushed: bool,
    /// What kept origin from taking the batch (every MR not judged before merging is then
    /// [`MrResult::RemoteHeld`]).
    pub remote: Option<RemoteProblem>,
    #[serde(with = "millis")]
    pub elapsed: Duration,
}

impl LandOutcome {
    /// MRs now on the target.
    pub fn merged(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.result.is_merged())
            .count()
    }
}

mod millis {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// `Gastown-MR: <id>`, the line every landed MR's commit ends with.
pub fn trailer_line(mr_id: &str) -> String {
    format!("{TRAILER}: {mr_id}")
}
