//! Landing a batch: pick the base (origin's tip, after a fetch — see [`super::origin`] — or the
//! rig's own target when the rig does not push), check what is already merged or gone, build and
//! gate candidates ([`super::batch`]), then publish: push with an exact lease and move the rig's
//! target with a compare-and-swap, starting again from the new tip when someone else moved
//! either meanwhile. No ledger access here: this is the slow phase, run outside the ledger's
//! owner.

use super::batch::Attempt;
use super::origin::{self, Base, Published};
use super::problem::{self, RemoteProblem};
use super::queue::MergeRequest;
use super::watch::{LandStep, Watcher};
use super::{HISTORY_DEPTH, LandOutcome, MrOutcome, MrResult, gitops};
use crate::git_cli;
use crate::rig::{Gate, Rig, ensure_refinery_worktree};
use crate::town::Town;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

/// How to land.
#[derive(Debug, Clone)]
pub struct LandOptions {
    /// Merge with `git merge` in the refinery's worktree instead of in memory (merge strategy
    /// only; kept to measure against).
    pub worktree_merge: bool,
    /// Times to start again when the target moved under us (locally, or on origin).
    pub max_cas_retries: usize,
    /// Who watches the landing step by step (`gastown mq process` on a terminal).
    pub watcher: Watcher,
}

impl Default for LandOptions {
    fn default() -> Self {
        LandOptions {
            worktree_merge: false,
            max_cas_retries: 8,
            watcher: Watcher::default(),
        }
    }
}

/// What one landing accumulates across its attempts.
struct Landing<'a> {
    rig: &'a Rig,
    batch: &'a [MergeRequest],
    target: String,
    worktree: Option<PathBuf>,
    start: Instant,
    gate_runs: usize,
    cas_retries: usize,
}

/// Land `batch` on its target. Every MR of the batch gets exactly one result.
pub fn land_with(
    _town: &Town,
    rig: &Rig,
    batch: &[MergeRequest],
    opts: &LandOptions,
) -> Result<LandOutcome> {
    let target = batch
        .first()
        .map(|mr| mr.target.clone())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| rig.config.default_branch.clone());
    let has_gates = Gate::ALL
        .iter()
        .any(|g| rig.config.gates.command(*g).is_some());
    let worktree = if has_gates || opts.worktree_merge {
        Some(ensure_refinery_worktree(rig)?)
    } else {
        None
    };
    let mut landing = Landing {
        rig,
        batch,
        target,
        worktree,
        start: Instant::now(),
        gate_runs: 0,
        cas_retries: 0,
    };
    loop {
        if let Some(outcome) = landing.attempt(opts)? {
            return Ok(outcome);
        }
    }
}

/// The rig's own target, for an outcome that never got a base.
fn base_tip(rig: &Rig, target: &str) -> String {
    git_cli::rev_parse(&rig.bare_repo(), &format!("refs/heads/{target}")).unwrap_or_default()
}

impl Landing<'_> {
    /// One attempt on the current base; `None` when the target moved meanwhile (nothing was
    /// published) and the batch must start again from its new tip.
    fn attempt(&mut self, opts: &LandOptions) -> Result<Option<LandOutcome>> {
        let rig = self.rig;
        let base = match self.base(&opts.watcher)? {
            Ok(base) => base,
            Err(problem) => {
                let tip = base_tip(rig, &self.target);
                return Ok(Some(self.held(HashMap::new(), &tip, problem)));
            }
        };
        let mut attempt = Attempt::new(
            rig,
            self.worktree.clone(),
            opts.worktree_merge,
            opts.watcher.clone(),
        );
        let mut results = precheck(&mut attempt, self.batch, &base.tip)?;
        let known = results.clone();
        let pending: Vec<&MergeRequest> = self
            .batch
            .iter()
            .filter(|mr| !results.contains_key(&mr.id))
            .collect();
        let new_tip = if pending.is_empty() {
            base.tip.clone()
        } else {
            attempt.land_group(&base.tip, &pending, &mut results)?
        };
        self.gate_runs += attempt.gate_runs;
        let timeout = rig.config.refinery.remote_timeout.0;
        if new_tip != base.tip || base.origin.as_deref().is_some_and(|o| o != new_tip) {
            opts.watcher.see(LandStep::Pushing {
                target: &self.target,
                to_origin: base.origin.is_some(),
            });
        }
        let published = origin::publish(rig, &self.target, &base, &new_tip, timeout)?;
        let problem = match published {
            Published::Done => None,
            Published::Moved if self.cas_retries < opts.max_cas_retries => {
                self.cas_retries += 1;
                return Ok(None);
            }
            Published::Moved if base.origin.is_none() => anyhow::bail!(
                "rig {}: {} kept moving during {} landing tries; nothing landed, try again",
                rig.name(),
                self.target,
                self.cas_retries + 1
            ),
            Published::Moved => Some(RemoteProblem::KeepsMoving {
                remote: git_cli::origin_url(&rig.bare_repo()),
                target: self.target.clone(),
                tries: self.cas_retries + 1,
            }),
            Published::Problem(problem) => Some(problem),
        };
        if let Some(problem) = problem {
            return Ok(Some(self.held(known, &base.tip, problem)));
        }
        if new_tip != base.tip {
            attempt.remember_passed(&new_tip);
        }
        if base.origin.is_some() {
            problem::end_streak(rig);
        }
        let pushed = base.origin.is_some() && base.origin.as_deref() != Some(new_tip.as_str());
        Ok(Some(self.outcome(
            &base.local,
            &new_tip,
            results,
            pushed,
            None,
        )))
    }

    /// The base of the next attempt: after a fetch from origin with `push`, else the rig's
    /// own target.
    fn base(&self, watcher: &Watcher) -> Result<Result<Base, RemoteProblem>> {
        let rig = self.rig;
        if !rig.config.refinery.push {
            let tip = git_cli::rev_parse(&rig.bare_repo(), &format!("refs/heads/{}", self.target))
                .with_context(|| {
                    format!(
                        "rig {}: target branch {} is missing",
                        rig.name(),
                        self.target
                    )
                })?;
            return Ok(Ok(Base {
                local: tip.clone(),
                tip,
                origin: None,
            }));
        }
        let timeout = rig.config.refinery.remote_timeout.0;
        watcher.see(LandStep::Fetching {
            target: &self.target,
        });
        match origin::sync(rig, &self.target, timeout)? {
            Ok(synced) => origin::base(rig, &self.target, synced),
            Err(problem) => Ok(Err(problem)),
        }
    }

    /// Nothing published: the MRs judged before merging (already merged, branch gone, held)
    /// keep their results, every other waits in the queue for origin.
    fn held(
        &self,
        mut known: HashMap<String, MrResult>,
        tip: &str,
        problem: RemoteProblem,
    ) -> LandOutcome {
        for mr in self.batch {
            known
                .entry(mr.id.clone())
                .or_insert_with(|| MrResult::RemoteHeld {
                    reason: problem.summary(),
                });
        }
        self.outcome(tip, tip, known, false, Some(problem))
    }

    fn outcome(
        &self,
        old_tip: &str,
        new_tip: &str,
        mut results: HashMap<String, MrResult>,
        pushed: bool,
        remote: Option<RemoteProblem>,
    ) -> LandOutcome {
        let outcomes = self
            .batch
            .iter()
            .map(|mr| MrOutcome {
                mr: mr.clone(),
                result: results
                    .remove(&mr.id)
                    .expect("every MR of the batch gets a result"),
            })
            .collect();
        LandOutcome {
            rig: self.rig.name().to_string(),
            target: self.target.clone(),
            old_tip: old_tip.to_string(),
            new_tip: new_tip.to_string(),
            outcomes,
            gate_runs: self.gate_runs,
            cas_retries: self.cas_retries,
            pushed,
            remote,
            elapsed: self.start.elapsed(),
        }
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
    let dropped = gitops::dropped_history(&attempt.repo, tip)?;
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
                    match gitops::carries_dropped(&attempt.repo, &dropped, &commit, tip)? {
                        0 => {
                            attempt.branch_tips.insert(mr.id.clone(), commit);
                        }
                        n => {
                            results
                                .insert(mr.id.clone(), MrResult::OnDroppedHistory { dropped: n });
                        }
                    }
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
