//! Crash safety: finish the bookkeeping of MRs that landed but were not recorded.
//!
//! `land` moves the target first and `record` writes the ledger after; a crash in between
//! leaves an open MR whose trailer is already on the target. On start the refinery scans the
//! target's recent history for trailers of MRs still open and records them as merged — it
//! never merges them again (`land` also checks the trailers before merging).

use super::queue::{MergeRequest, queue_of};
use super::{HISTORY_DEPTH, LandOutcome, MrOutcome, MrResult, gitops, record};
use crate::git_cli;
use crate::rig::Rig;
use crate::town::Town;
use anyhow::Result;
use gastown_beads::Ledger;
use std::collections::BTreeMap;
use std::time::Duration;

/// Record as merged every open MR of `rig` whose trailer is on its target; returns how many.
pub fn recover(ledger: &mut Ledger, town: &Town, rig: &Rig, who: &str) -> Result<usize> {
    let repo = rig.bare_repo();
    let mut by_target: BTreeMap<String, Vec<MergeRequest>> = BTreeMap::new();
    for mr in queue_of(ledger, Some(rig.name()))? {
        let target = if mr.target.is_empty() {
            rig.config.default_branch.clone()
        } else {
            mr.target.clone()
        };
        by_target.entry(target).or_default().push(mr);
    }
    let mut finished = 0;
    for (target, mrs) in by_target {
        let Ok(tip) = git_cli::rev_parse(&repo, &format!("refs/heads/{target}")) else {
            continue;
        };
        let landed = gitops::trailers(&repo, &tip, HISTORY_DEPTH)?;
        let outcomes: Vec<MrOutcome> = mrs
            .into_iter()
            .filter_map(|mr| {
                let commit = landed.get(&mr.id)?.clone();
                Some(MrOutcome {
                    mr,
                    result: MrResult::AlreadyMerged { commit },
                })
            })
            .collect();
        if outcomes.is_empty() {
            continue;
        }
        finished += outcomes.len();
        let outcome = LandOutcome {
            rig: rig.name().to_string(),
            target,
            old_tip: tip.clone(),
            new_tip: tip,
            outcomes,
            gate_runs: 0,
            cas_retries: 0,
            elapsed: Duration::ZERO,
        };
        record(ledger, town, &outcome, who)?;
    }
    Ok(finished)
}
