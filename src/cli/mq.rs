//! `gastown mq …`: the merge queues of the town's rigs (see docs/refinery.md).
//!
//! The ledger commands run in the domain (`gastown_town::command::mq`); `accept-origin` is git
//! only and waits on the network, so it runs here, in the calling process, never in the
//! supervisor. This file turns the arguments into requests and renders the outcomes.

use super::routed::{self, caller_from_env, unexpected};
use crate::output;
use crate::progress::{self, Mode, ProgressArgs, Style};
use crate::protocol::{TownReply, TownRequest};
use anyhow::Result;
use clap::Subcommand;
use gastown_town::command::mq::{self as domain, MqOutcome, MqRequest, OnOrigin, state_word};
use gastown_town::refinery::{LandStep, MergeRequest, ProcessSummary, Watcher, result_words};
use gastown_town::town::Town;
use indicatif::{MultiProgress, ProgressBar};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum MqCommand {
    /// The merge queue of a rig (all rigs without one), in landing order.
    List {
        /// The rig (default: every rig).
        rig: Option<String>,
        /// Print a JSON array of the merge requests.
        #[arg(long)]
        json: bool,
    },
    /// One merge request: branch, target, source bead, worker, tries, state.
    Show {
        /// The merge request's id.
        mr: String,
        /// Print the merge request as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Put a merge request back in the queue (escalated or waiting for rework); its tries are
    /// kept, so one that fails again is escalated again.
    Retry {
        /// The merge request's id.
        mr: String,
    },
    /// Drop a merge request: closed, its source bead back in the ready pool, the polecat told.
    Reject {
        /// The merge request's id.
        mr: String,
        /// Why (told to the polecat).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Land a rig's queue now, in this process (benchmarks and tests).
    #[command(hide = true)]
    Process {
        /// The rig.
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
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        progress: ProgressArgs,
    },
    /// Take origin's rewritten target branch (after a force-push) as the rig's own; the rig's
    /// old one is saved to refs/gastown/backup/<branch>/<time> first.
    AcceptOrigin {
        /// The rig.
        rig: String,
    },
}

/// `gastown mq …`.
pub fn run(town: &Town, cmd: MqCommand) -> Result<()> {
    let (request, json) = match cmd {
        MqCommand::AcceptOrigin { rig } => {
            // Git only, and it waits on the network: never in the supervisor's ledger actor.
            let text = domain::accept_origin(town, &rig, &caller_from_env()?)?;
            output::text(&text)?;
            return Ok(());
        }
        MqCommand::List { rig, json } => (MqRequest::List { rig }, json),
        MqCommand::Show { mr, json } => (MqRequest::Show { mr }, json),
        MqCommand::Retry { mr } => (MqRequest::Retry { mr }, false),
        MqCommand::Reject { mr, reason } => (MqRequest::Reject { mr, reason }, false),
        MqCommand::Process {
            rig,
            all,
            worktree_merge,
            land_only,
            json,
            progress,
        } => {
            let request = MqRequest::Process {
                rig: rig.clone(),
                all,
                worktree_merge,
                land_only,
            };
            let bars = MqBars::new(progress.mode(), &rig);
            let reply = routed::run(town, TownRequest::Mq(request.clone()), |ledger, caller| {
                let watcher = bars.watcher();
                domain::apply_watched(ledger, town, request, caller, watcher).map(TownReply::Mq)
            });
            bars.done();
            return print(&reply?, json);
        }
    };
    let reply = routed::run(town, TownRequest::Mq(request.clone()), |ledger, caller| {
        domain::apply(ledger, town, request, caller).map(TownReply::Mq)
    })?;
    print(&reply, json)
}

/// Render an mq reply on stdout.
fn print(reply: &TownReply, json: bool) -> Result<()> {
    let TownReply::Mq(outcome) = reply else {
        return Err(unexpected(reply));
    };
    output::text(&render(outcome, json)?)?;
    Ok(())
}

/// `mq process` on a terminal: a spinner for the run, then one line per merge request of each
/// batch saying what the landing does with it — fetching, merging, which gate runs, pushing —
/// and, once judged, what became of it (those lines stay). Hidden in pipes. With `gastown run`
/// up the supervisor lands the queue and only the run's spinner shows.
struct MqBars {
    multi: MultiProgress,
    run: ProgressBar,
    mrs: Arc<Mutex<Vec<(String, ProgressBar)>>>,
}

impl MqBars {
    fn new(mode: Mode, rig: &str) -> MqBars {
        let multi = progress::multi(mode);
        let run = progress::add(&multi, Style::Spinner, "mq process");
        run.set_message(format!("landing the merge queue of {rig}"));
        MqBars {
            multi,
            run,
            mrs: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The landing's watcher: it moves these bars.
    fn watcher(&self) -> Watcher {
        let (multi, mrs) = (self.multi.clone(), Arc::clone(&self.mrs));
        Watcher::new(move |step| {
            let mut mrs = mrs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            see(&multi, &mut mrs, step);
        })
    }

    fn done(self) {
        self.run.finish_and_clear();
        if let Ok(mrs) = self.mrs.lock() {
            for (_, bar) in mrs.iter().filter(|(_, bar)| !bar.is_finished()) {
                bar.abandon();
            }
        }
    }
}

/// One step of the landing on the merge requests' lines.
fn see(multi: &MultiProgress, mrs: &mut Vec<(String, ProgressBar)>, step: &LandStep<'_>) {
    let waiting = |mrs: &[(String, ProgressBar)], words: &str| {
        for (_, bar) in mrs.iter().filter(|(_, bar)| !bar.is_finished()) {
            bar.set_message(words.to_string());
        }
    };
    let bar_of = |mrs: &[(String, ProgressBar)], id: &str| {
        mrs.iter()
            .find(|(mr, _)| mr == id)
            .map(|(_, bar)| bar.clone())
    };
    match step {
        LandStep::Batch(batch) => {
            for mr in batch.iter() {
                let bar = progress::add(multi, Style::Spinner, &format!("{} {}", mr.id, mr.branch));
                bar.set_message("queued");
                mrs.push((mr.id.clone(), bar));
            }
        }
        LandStep::Fetching { target } => waiting(mrs, &format!("fetching origin's {target}")),
        LandStep::Merging(mr) => {
            if let Some(bar) = bar_of(mrs, &mr.id) {
                bar.set_message(format!("merging onto {}", mr.target));
            }
        }
        LandStep::Gate {
            gate,
            mrs: ids,
            on_target,
        } => {
            for id in ids.iter() {
                if let Some(bar) = bar_of(mrs, id) {
                    bar.set_message(gate_words(&gate.to_string(), *on_target));
                }
            }
        }
        LandStep::Pushing { target, to_origin } => {
            let words = if *to_origin {
                format!("pushing {target} to origin")
            } else {
                format!("moving {target}")
            };
            waiting(mrs, &words);
        }
        LandStep::Done { mr, result } => {
            if let Some(bar) = bar_of(mrs, &mr.id) {
                bar.finish_with_message(result_words(result));
            }
        }
    }
}

/// What a merge request's line says while a gate runs.
fn gate_words(gate: &str, on_target: bool) -> String {
    if on_target {
        format!("gate {gate} running on the target alone")
    } else {
        format!("gate {gate} running")
    }
}

fn pretty<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}

/// What an mq command prints on stdout.
fn render(outcome: &MqOutcome, json: bool) -> Result<String> {
    Ok(match outcome {
        MqOutcome::Queue { merge_requests, .. } if json => pretty(merge_requests)?,
        MqOutcome::Queue {
            rig,
            merge_requests,
        } => queue_text(rig.as_deref(), merge_requests)?,
        MqOutcome::Shown { merge_request, .. } if json => pretty(merge_request)?,
        MqOutcome::Shown {
            merge_request,
            on_origin,
            closed,
        } => show_text(merge_request, on_origin.as_ref(), closed.as_deref())?,
        MqOutcome::Retried { id, rig, tries } => format!(
            "{id} is back in the merge queue of {rig} ({tries} tr{} so far; the mayor is told again if it fails)\n",
            if *tries == 1 { "y" } else { "ies" }
        ),
        MqOutcome::Rejected {
            id,
            source_bead,
            worker,
            branch,
        } => format!(
            "{id} rejected; {source_bead} is back in the ready pool; {worker} keeps its branch {branch}\n"
        ),
        MqOutcome::Processed(summary) if json => pretty(summary)?,
        MqOutcome::Processed(summary) => processed_text(summary)?,
    })
}

/// `mq list`: one line per merge request, in landing order.
fn queue_text(rig: Option<&str>, merge_requests: &[MergeRequest]) -> Result<String> {
    if merge_requests.is_empty() {
        return Ok(match rig {
            Some(r) => format!("the merge queue of {r} is empty\n"),
            None => "every merge queue is empty\n".to_string(),
        });
    }
    let mut out = String::new();
    for (i, mr) in merge_requests.iter().enumerate() {
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

/// `mq show`: one merge request, field by field.
fn show_text(
    mr: &MergeRequest,
    on_origin: Option<&OnOrigin>,
    closed: Option<&str>,
) -> Result<String> {
    let mut out = String::new();
    writeln!(out, "{}  {}", mr.id, mr.title)?;
    writeln!(out, "  state:    {}", state_word(mr))?;
    writeln!(out, "  rig:      {}", mr.rig)?;
    writeln!(out, "  branch:   {} → {}", mr.branch, mr.target)?;
    writeln!(out, "  commit:   {}", mr.commit)?;
    writeln!(out, "  source:   {}", mr.source_bead)?;
    writeln!(out, "  worker:   {}", mr.worker)?;
    writeln!(out, "  priority: P{}", mr.priority)?;
    writeln!(out, "  tries:    {}", mr.retry_count)?;
    if let Some(on_origin) = on_origin {
        let said = match on_origin {
            OnOrigin::AtThisCommit => "yes, at this commit".to_string(),
            OnOrigin::AtEarlier(commit) => format!("yes, at {commit} (an earlier one)"),
            OnOrigin::No => "no".to_string(),
        };
        writeln!(out, "  on origin: {said}")?;
    }
    if let Some(reason) = closed {
        writeln!(out, "  closed:   {reason}")?;
    }
    Ok(out)
}

/// `mq process`: each merge request's result, then the totals.
fn processed_text(summary: &ProcessSummary) -> Result<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_line_names_the_gate_and_whether_it_runs_on_the_target_alone() {
        assert_eq!(gate_words("test", false), "gate test running");
        assert_eq!(
            gate_words("lint", true),
            "gate lint running on the target alone"
        );
    }

    #[test]
    fn each_merge_request_gets_a_line_that_ends_with_its_result() {
        let multi = progress::multi(Mode::Plain);
        let mut mrs = Vec::new();
        let mr = MergeRequest {
            id: "gt-mr1".to_string(),
            title: "Add item 1".to_string(),
            rig: "alpha".to_string(),
            branch: "polecat/nux".to_string(),
            target: "main".to_string(),
            source_bead: "gt-1".to_string(),
            worker: "alpha/polecats/nux".to_string(),
            commit: "abc".to_string(),
            retry_count: 0,
            priority: 2,
            created_at: String::new(),
            rework_from: None,
            target_broken_at: None,
            last_failure: None,
            merge_commit: None,
            state: gastown_town::refinery::QueueState::Queued,
        };
        let batch = [mr.clone()];
        see(&multi, &mut mrs, &LandStep::Batch(&batch));
        assert_eq!(mrs.len(), 1);
        assert_eq!(mrs[0].1.message(), "queued");
        let ids = vec!["gt-mr1".to_string()];
        let gate = gastown_town::rig::Gate::Test;
        see(
            &multi,
            &mut mrs,
            &LandStep::Gate {
                gate,
                mrs: &ids,
                on_target: false,
            },
        );
        assert_eq!(mrs[0].1.message(), "gate test running");
        let merged = gastown_town::refinery::MrResult::Merged {
            commit: "c".to_string(),
            branch_tip: "b".to_string(),
        };
        see(
            &multi,
            &mut mrs,
            &LandStep::Done {
                mr: &mr,
                result: &merged,
            },
        );
        assert!(mrs[0].1.is_finished());
        assert_eq!(mrs[0].1.message(), "merged");
    }
}
