//! One landing attempt on a fixed base: merge a group of MRs into one candidate in memory, gate
//! it once, and on a gate failure bisect (land the first half, then the second half on top of
//! what landed) until the MR(s) that broke it are found. Nothing here moves a ref.

use super::gitops;
use super::known_good::KnownGood;
use super::queue::MergeRequest;
use super::watch::{LandStep, Watcher};
use super::{MrResult, trailer_line};
use crate::git_cli;
use crate::rig::{Gate, MergeStrategy, Rig, run_gate};
use anyhow::Result;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::defaults::GATE_OUTPUT_TAIL as OUTPUT_TAIL;

/// A failed gate round.
#[derive(Debug, Clone)]
pub(super) struct GateFail {
    gate: Gate,
    output: String,
    timed_out: bool,
}

/// State of one landing attempt.
pub(super) struct Attempt<'a> {
    pub rig: &'a Rig,
    pub repo: PathBuf,
    /// The refinery's worktree (only made when gates run or for work-tree merges).
    pub worktree: Option<PathBuf>,
    pub strategy: MergeStrategy,
    /// Merge with `git merge` in the worktree instead of in memory (for comparison).
    pub worktree_merge: bool,
    /// Branch tips, by MR id (read once per attempt).
    pub branch_tips: HashMap<String, String>,
    pub gate_runs: usize,
    gated: HashMap<String, Option<GateFail>>,
    /// Commits that passed in this attempt.
    known_good: HashSet<String>,
    /// Target tips that passed these gates in earlier landings (the rig's file).
    passed: KnownGood,
    watcher: Watcher,
}

impl<'a> Attempt<'a> {
    pub fn new(
        rig: &'a Rig,
        worktree: Option<PathBuf>,
        worktree_merge: bool,
        watcher: Watcher,
    ) -> Self {
        Attempt {
            rig,
            repo: rig.bare_repo(),
            worktree,
            strategy: rig.config.merge_strategy,
            worktree_merge,
            branch_tips: HashMap::new(),
            gate_runs: 0,
            gated: HashMap::new(),
            known_good: HashSet::new(),
            passed: KnownGood::of(rig),
            watcher,
        }
    }

    /// Land `group` on `base`: every MR gets a result in `results` (by MR id); returns the new
    /// base (the last candidate that passed, or `base` when nothing landed).
    pub fn land_group(
        &mut self,
        base: &str,
        group: &[&MergeRequest],
        results: &mut HashMap<String, MrResult>,
    ) -> Result<String> {
        let mut candidate = base.to_string();
        let mut merged: Vec<(&MergeRequest, String)> = Vec::new();
        for mr in group {
            self.watcher.see(LandStep::Merging(mr));
            match self.merge_one(&candidate, mr)? {
                Ok(commit) => {
                    candidate.clone_from(&commit);
                    merged.push((mr, commit));
                }
                Err(files) => {
                    results.insert(mr.id.clone(), MrResult::Conflict { files });
                }
            }
        }
        if merged.is_empty() {
            return Ok(base.to_string());
        }
        let ids: Vec<String> = merged.iter().map(|(mr, _)| mr.id.clone()).collect();
        let Some(fail) = self.gate(&candidate, &ids, false)? else {
            self.known_good.insert(candidate.clone());
            for (mr, commit) in merged {
                let branch_tip = self
                    .branch_tips
                    .get(&mr.id)
                    .cloned()
                    .unwrap_or_else(|| mr.commit.clone());
                results.insert(mr.id.clone(), MrResult::Merged { commit, branch_tip });
            }
            return Ok(candidate);
        };
        if let Some(broken) = self.target_failure(base, &ids)? {
            for (mr, _) in merged {
                results.insert(
                    mr.id.clone(),
                    MrResult::GateFailedOnTarget {
                        gate: broken.gate.to_string(),
                        output: broken.output.clone(),
                        target_tip: base.to_string(),
                    },
                );
            }
            return Ok(base.to_string());
        }
        if merged.len() == 1 {
            let (mr, _) = &merged[0];
            let result = if fail.timed_out {
                MrResult::TimedOut {
                    gate: fail.gate.to_string(),
                    output: fail.output,
                }
            } else {
                MrResult::GateFailed {
                    gate: fail.gate.to_string(),
                    output: fail.output,
                }
            };
            results.insert(mr.id.clone(), result);
            return Ok(base.to_string());
        }
        // Bisect: the first half on `base`, the second half on whatever of the first landed.
        let mrs: Vec<&MergeRequest> = merged.iter().map(|(mr, _)| *mr).collect();
        let (left, right) = mrs.split_at(mrs.len() / 2);
        let mid = self.land_group(base, left, results)?;
        self.land_group(&mid, right, results)
    }

    /// `Some` when `base` alone fails its gates (a base that already passed is not re-run).
    fn target_failure(&mut self, base: &str, waiting: &[String]) -> Result<Option<GateFail>> {
        if self.known_good.contains(base) || self.passed.contains(base) {
            return Ok(None);
        }
        let fail = self.gate(base, waiting, true)?;
        if fail.is_none() {
            self.known_good.insert(base.to_string());
        }
        Ok(fail)
    }

    /// Remember that `commit` (the target's new tip) passed every gate, for later landings.
    pub fn remember_passed(&self, commit: &str) {
        self.passed.remember(commit);
    }

    /// Run every configured gate on `commit` in the refinery's worktree (cached per commit);
    /// the watcher is told each gate as it starts, for the merge requests `mrs` (whose candidate
    /// it is, or which wait on the target alone: `on_target`).
    fn gate(&mut self, commit: &str, mrs: &[String], on_target: bool) -> Result<Option<GateFail>> {
        if let Some(known) = self.gated.get(commit) {
            return Ok(known.clone());
        }
        let gates: Vec<Gate> = Gate::ALL
            .into_iter()
            .filter(|g| self.rig.config.gates.command(*g).is_some())
            .collect();
        let Some(worktree) = self.worktree.clone().filter(|_| !gates.is_empty()) else {
            return Ok(None);
        };
        self.gate_runs += 1;
        git_cli::git(
            &worktree,
            &["checkout", "--quiet", "--force", "--detach", commit],
        )?;
        git_cli::git(&worktree, &["clean", "-fdq"])?;
        let mut result = None;
        for gate in gates {
            self.watcher.see(LandStep::Gate {
                gate,
                mrs,
                on_target,
            });
            let out = run_gate(self.rig, gate, &worktree)?;
            if !out.ok {
                result = Some(GateFail {
                    gate,
                    output: tail(&out.output),
                    timed_out: out.timed_out,
                });
                break;
            }
        }
        self.gated.insert(commit.to_string(), result.clone());
        Ok(result)
    }

    /// Merge `mr` onto `onto`: `Ok(commit)` carrying its trailer, or `Err(conflicting files)`.
    fn merge_one(&mut self, onto: &str, mr: &MergeRequest) -> Result<Result<String, Vec<String>>> {
        let tip = self
            .branch_tips
            .get(&mr.id)
            .cloned()
            .unwrap_or_else(|| mr.commit.clone());
        if self.worktree_merge {
            return self.merge_in_worktree(onto, &tip, mr);
        }
        let message = message(mr);
        match self.strategy {
            MergeStrategy::Merge | MergeStrategy::Squash => {
                let merged = git_cli::merge_tree(&self.repo, onto, &tip)?;
                if !merged.is_clean() {
                    return Ok(Err(merged.conflicts));
                }
                let parents: Vec<&str> = if self.strategy == MergeStrategy::Merge {
                    vec![onto, &tip]
                } else {
                    vec![onto]
                };
                let commit =
                    gitops::commit_tree_as(&self.repo, &merged.tree, &parents, &message, None)?;
                Ok(Ok(commit))
            }
            MergeStrategy::Rebase => self.replay(onto, &tip, mr),
        }
    }

    /// Rebase strategy: cherry-pick each commit of the branch onto `onto` in memory; the last
    /// replayed commit carries the trailer.
    fn replay(
        &self,
        onto: &str,
        tip: &str,
        mr: &MergeRequest,
    ) -> Result<Result<String, Vec<String>>> {
        let commits = gitops::commits_to_replay(&self.repo, onto, tip)?;
        let mut current = onto.to_string();
        let last = commits.len().saturating_sub(1);
        for (i, commit) in commits.iter().enumerate() {
            let parent = format!("{commit}^");
            let merged = gitops::merge_tree_with_base(&self.repo, &parent, &current, commit)?;
            if !merged.is_clean() {
                return Ok(Err(merged.conflicts));
            }
            let info = gitops::commit_info(&self.repo, commit)?;
            let mut text = info.message;
            if i == last {
                text = format!("{text}\n\n{}", trailer_line(&mr.id));
            }
            current = gitops::commit_tree_as(
                &self.repo,
                &merged.tree,
                &[&current],
                &text,
                Some(&info.author),
            )?;
        }
        if commits.is_empty() {
            // Nothing new on the branch: an empty commit still records that the MR landed.
            let tree = git_cli::rev_parse(&self.repo, &format!("{onto}^{{tree}}"))?;
            current = gitops::commit_tree_as(&self.repo, &tree, &[onto], &message(mr), None)?;
        }
        Ok(Ok(current))
    }

    /// `git merge --no-ff` in the refinery's worktree: the work-tree way, kept to measure the
    /// in-memory merge against.
    fn merge_in_worktree(
        &self,
        onto: &str,
        tip: &str,
        mr: &MergeRequest,
    ) -> Result<Result<String, Vec<String>>> {
        let Some(wt) = &self.worktree else {
            anyhow::bail!("a work-tree merge needs the refinery's worktree");
        };
        git_cli::git(wt, &["checkout", "--quiet", "--force", "--detach", onto])?;
        let msg = message(mr);
        if git_cli::git(wt, &["merge", "--quiet", "--no-ff", "-m", &msg, tip]).is_err() {
            let files = git_cli::git(wt, &["diff", "--name-only", "--diff-filter=U"])?;
            let _ = git_cli::git(wt, &["merge", "--abort"]);
            return Ok(Err(files.lines().map(str::to_string).collect()));
        }
        Ok(Ok(git_cli::rev_parse(wt, "HEAD")?))
    }
}

/// The message of an MR's merge (or squash) commit, ending in its trailers.
fn message(mr: &MergeRequest) -> String {
    format!(
        "{}\n\nMerged by the gastown refinery from {} ({}).\n\nGastown-Bead: {}\n{}",
        mr.title,
        mr.branch,
        mr.worker,
        mr.source_bead,
        trailer_line(&mr.id)
    )
}

fn tail(output: &str) -> String {
    if output.len() <= OUTPUT_TAIL {
        return output.to_string();
    }
    let mut start = output.len() - OUTPUT_TAIL;
    while !output.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &output[start..])
}
