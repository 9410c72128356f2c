//! Crash safety: finish the bookkeeping of MRs that landed but were not recorded.
//!
//! `land` moves the target first (origin, then the rig's own) and `record` writes the ledger
//! after; a crash in between leaves an open MR whose trailer is already on the target — maybe
//! only on origin, when the crash came right after the push. On start the refinery first
//! brings origin's target in ([`sync_origin`], outside the ledger's owner: it waits on the
//! network), then scans the target's recent history for trailers of MRs still open and records
//! them as merged — it never merges them again (`land` also checks the trailers before
//! merging, after its own fetch).
//!
//! [`recover`] runs in steps ([`crate::steps`]): the open MRs (ledger), the trailers on each
//! target (`git log`, outside the ledger's owner), the bookkeeping (ledger; [`record`] leaves an
//! MR closed meanwhile alone, so an MR is never recorded twice).

use super::problem::RemoteProblem;
use super::queue::{MergeRequest, queue_of};
use super::{HISTORY_DEPTH, LandOutcome, MrOutcome, MrResult, gitops, origin, record};
use crate::git_cli;
use crate::rig::Rig;
use crate::steps::LedgerSteps;
use crate::town::Town;
use anyhow::Result;
use std::collections::BTreeMap;
use std::time::Duration;

/// Fetch origin's default branch and bring the rig's to it (when the rig pushes), so that
/// [`recover`] sees trailers that reached origin before a crash. A problem with origin is
/// returned, not an error: recovery then works from what the rig has, and `land` fetches again.
pub fn sync_origin(rig: &Rig) -> Result<Option<RemoteProblem>> {
    if !rig.config.refinery.push {
        return Ok(None);
    }
    let target = &rig.config.default_branch;
    let timeout = rig.config.refinery.remote_timeout.0;
    Ok(origin::sync(rig, target, timeout)?.err())
}

/// Record as merged every open MR of `rig` whose trailer is on its target; returns how many.
pub fn recover<L: LedgerSteps>(ledger: &mut L, town: &Town, rig: &Rig, who: &str) -> Result<usize> {
    let name = rig.name().to_string();
    let open = ledger.step("refinery: open merge requests", move |l| {
        queue_of(l, Some(&name))
    })??;
    let outcomes = landed(rig, open)?;
    let finished = outcomes.iter().map(|o| o.outcomes.len()).sum();
    if finished == 0 {
        return Ok(0);
    }
    let (town, w) = (town.clone(), who.to_string());
    ledger.step("refinery: record recovered merges", move |l| {
        outcomes
            .iter()
            .try_for_each(|outcome| record(l, &town, outcome, &w).map(|_| ()))
    })??;
    Ok(finished)
}

/// The open MRs whose trailer is on their target already (git only), one outcome per target.
fn landed(rig: &Rig, open: Vec<MergeRequest>) -> Result<Vec<LandOutcome>> {
    let repo = rig.bare_repo();
    let mut by_target: BTreeMap<String, Vec<MergeRequest>> = BTreeMap::new();
    for mr in open {
        let target = if mr.target.is_empty() {
            rig.config.default_branch.clone()
        } else {
            mr.target.clone()
        };
        by_target.entry(target).or_default().push(mr);
    }
    let mut found = Vec::new();
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
        found.push(LandOutcome {
            rig: rig.name().to_string(),
            target,
            old_tip: tip.clone(),
            new_tip: tip,
            outcomes,
            gate_runs: 0,
            cas_retries: 0,
            pushed: false,
            remote: None,
            elapsed: Duration::ZERO,
        });
    }
    Ok(found)
}
