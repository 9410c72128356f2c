//! Landing a batch: check what is already merged or gone, build and gate candidates
//! ([`super::batch`]), then move `refs/heads/<target>` with a compare-and-swap, starting again
//! from the new tip when someone else moved it meanwhile. No ledger access here: this is the
//! slow phase, run outside the ledger's owner.

use super::batch::Attempt;
use super::queue::MergeRequest;
use super::{HISTORY_DEPTH, LandOutcome, MrOutcome, MrResult, gitops};
use crate::git_cli;
use crate::rig::{Gate, Rig, ensure_refinery_worktree};
use crate::town::Town;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::time::Instant;

/// How to land.
#[derive(Debug, Clone)]
pub struct LandOptions {
    /// Merge with `git merge` in the refinery's worktree instead of in memory (merge strategy
    /// only; kept to measure against).
    pub worktree_merge: bool,
    /// Times to start again when the target moved under us.
    pub max_cas_retries: usize,
}

impl Default for LandOptions {
    fn default() -> Self {
        LandOptions {
            worktree_merge: false,
            max_cas_retries: 8,
        }
    }
}

/// Land `batch` on its target. Every MR of the batch gets exactly one result.
pub fn land_with(
    _town: &Town,
    rig: &Rig,
    batch: &[MergeRequest],
    opts: &LandOptions,
) -> Result<LandOutcome> {
    let start = Instant::now();
    let target = batch
        .first()
        .map(|mr| mr.target.clone())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| rig.config.default_branch.clone());
    let refname = format!("refs/heads/{target}");
    let repo = rig.bare_repo();
    let has_gates = Gate::ALL
        .iter()
        .any(|g| rig.config.gates.command(*g).is_some());
    let worktree = if has_gates || opts.worktree_merge {
        Some(ensure_refinery_worktree(rig)?)
    } else {
        None
    };
    let mut cas_retries = 0;
    loop {
        let old_tip = git_cli::rev_parse(&repo, &refname)
            .with_context(|| format!("rig {}: target branch {target} is missing", rig.name()))?;
        let mut attempt = Attempt::new(rig, worktree.clone(), opts.worktree_merge);
        let mut results = precheck(&mut attempt, batch, &old_tip)?;
        let pending: Vec<&MergeRequest> = batch
            .iter()
            .filter(|mr| !results.contains_key(&mr.id))
            .collect();
        let new_tip = if pending.is_empty() {
            old_tip.clone()
        } else {
            attempt.land_group(&old_tip, &pending, &mut results)?
        };
        if new_tip != old_tip {
            let reason = format!("gastown refinery: land {} MR(s)", pending.len());
            match git_cli::update_ref(&repo, &refname, &new_tip, Some(&old_tip), &reason) {
                Ok(()) => {}
                Err(e) if gitops::is_cas_miss(&e) && cas_retries < opts.max_cas_retries => {
                    cas_retries += 1;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            attempt.remember_passed(&new_tip);
        }
        let outcomes = batch
            .iter()
            .map(|mr| MrOutcome {
                mr: mr.clone(),
                result: results
                    .remove(&mr.id)
                    .expect("every MR of the batch gets a result"),
            })
            .collect();
        return Ok(LandOutcome {
            rig: rig.name().to_string(),
            target,
            old_tip,
            new_tip,
            outcomes,
            gate_runs: attempt.gate_runs,
            cas_retries,
            elapsed: start.elapsed(),
        });
    }
}

/// Results known before merging: already on the target (trailer found), branch gone, or held
/// because the target still fails its gates without the MR. Records the branch tips of the rest.
fn precheck(
    attempt: &mut Attempt<'_>,
    batch: &[MergeRequest],
    tip: &str,
) -> Result<HashMap<String, MrResult>> {
    let landed = gitops::trailers(&attempt.repo, tip, HISTORY_DEPTH)?;
    let mut results = HashMap::new();
    for mr in batch {
        if let Some(commit) = landed.get(&mr.id) {
            results.insert(
                mr.id.clone(),
                MrResult::AlreadyMerged {
                    commit: commit.clone(),
                },
            );
        } else if mr.target_broken_at.as_deref() == Some(tip) {
            results.insert(
                mr.id.clone(),
                MrResult::Held {
                    target_tip: tip.to_string(),
                },
            );
        } else {
            match gitops::branch_tip(&attempt.repo, &mr.branch)? {
                Some(commit) => {
                    attempt.branch_tips.insert(mr.id.clone(), commit);
                }
                None => {
                    results.insert(
                        mr.id.clone(),
                        MrResult::BranchMissing {
                            branch: mr.branch.clone(),
                        },
                    );
                }
            }
        }
    }
    Ok(results)
}
