//! Working a rig's queue to the end in one call: `next_batch`, `land`, `record`, again, until
//! nothing is left that could land. Used by `gastown mq process` (and the benchmark); the live
//! refinery actor runs the same three phases. In steps ([`crate::steps`]): `next_batch` and
//! `record` are ledger steps, `land` (git and gates) and the sandbox removal run outside the
//! ledger's owner — so `mq process` sent to a running supervisor never runs a gate in its
//! ledger actor.

use super::land::{LandOptions, land_with};
use super::watch::LandStep;
use super::{MrResult, next_batch, record, recover, remove_sandbox, sync_origin};
use crate::rig::Rig;
use crate::steps::LedgerSteps;
use crate::town::Town;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// What a run over the queue did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessSummary {
    pub rig: String,
    pub recovered: usize,
    pub batches: usize,
    pub merged: usize,
    pub sent_back: usize,
    pub failed: usize,
    pub held: usize,
    /// MRs that stayed queued because origin could not take them.
    pub waiting_for_origin: usize,
    pub gate_runs: usize,
    /// Times the target moved during a landing and the batch started again from its new tip.
    pub cas_retries: usize,
    /// Time in `land` (git and gates) and in `next_batch` + `record` (the ledger).
    pub land_ms: u64,
    pub ledger_ms: u64,
    pub elapsed_ms: u64,
    /// One line per MR result, in order.
    pub notes: Vec<String>,
}

/// How [`process_rig`] runs.
#[derive(Debug, Clone, Default)]
pub struct ProcessOptions {
    /// Batches to land (`None`: until no batch makes progress).
    pub max_batches: Option<usize>,
    pub land: LandOptions,
    /// Land without recording: what a crash between the merge and the bookkeeping leaves
    /// behind (for tests of [`recover`]). Implies one batch.
    pub skip_record: bool,
}

/// Land `rig`'s queue as `who` (normally `<rig>/refinery`).
pub fn process_rig<L: LedgerSteps>(
    ledger: &mut L,
    town: &Town,
    rig: &Rig,
    popts: &ProcessOptions,
    who: &str,
) -> Result<ProcessSummary> {
    let opts = &popts.land;
    let max_batches = if popts.skip_record {
        Some(1)
    } else {
        popts.max_batches
    };
    let start = Instant::now();
    let mut summary = ProcessSummary {
        rig: rig.name().to_string(),
        ..ProcessSummary::default()
    };
    if !popts.skip_record {
        if let Some(problem) = sync_origin(rig)? {
            summary
                .notes
                .push(format!("before recovery: {}", problem.summary()));
        }
        summary.recovered = recover(ledger, town, rig, who)?;
    }
    let size = rig.config.batch.max(1);
    while max_batches.is_none_or(|m| summary.batches < m) {
        let name = rig.name().to_string();
        let batch = ledger.step("refinery: next batch", move |l| next_batch(l, &name, size))??;
        if batch.is_empty() {
            break;
        }
        opts.watcher.see(LandStep::Batch(&batch));
        let landing = Instant::now();
        let outcome = land_with(town, rig, &batch, opts)?;
        for o in &outcome.outcomes {
            opts.watcher.see(LandStep::Done {
                mr: &o.mr,
                result: &o.result,
            });
        }
        summary.land_ms += millis(landing.elapsed());
        summary.batches += 1;
        summary.gate_runs += outcome.gate_runs;
        summary.cas_retries += outcome.cas_retries;
        let mut progress = false;
        for o in &outcome.outcomes {
            match &o.result {
                MrResult::Merged { .. } | MrResult::AlreadyMerged { .. } => summary.merged += 1,
                MrResult::Conflict { .. }
                | MrResult::GateFailed { .. }
                | MrResult::TimedOut { .. }
                | MrResult::OnDroppedHistory { .. } => summary.sent_back += 1,
                MrResult::BranchMissing { .. } => summary.failed += 1,
                MrResult::GateFailedOnTarget { .. } | MrResult::Held { .. } => {
                    summary.held += 1;
                    continue;
                }
                MrResult::RemoteHeld { .. } => {
                    summary.waiting_for_origin += 1;
                    continue;
                }
            }
            progress = true;
        }
        if popts.skip_record {
            summary.notes.push(format!(
                "landed {} MR(s) on {} at {} and stopped before the bookkeeping",
                outcome.merged(),
                outcome.target,
                outcome.new_tip
            ));
            break;
        }
        let (t, w) = (town.clone(), who.to_string());
        let recorded = ledger.step("refinery: record", move |l| record(l, &t, &outcome, &w))??;
        summary.notes.extend(recorded.notes);
        // No sessions here (this is `gastown mq process`): sandboxes go at once.
        for sandbox in &recorded.sandboxes {
            let note = remove_sandbox(town, sandbox);
            if !note.is_empty() {
                summary.notes.push(format!("{}: {note}", sandbox.branch));
            }
            let (s, w) = (sandbox.clone(), who.to_string());
            ledger.step("refinery: recycled", move |l| {
                super::sandbox::recycled(l, &s, &w)
            })??;
        }
        if !progress {
            break;
        }
    }
    summary.elapsed_ms = millis(start.elapsed());
    summary.ledger_ms = summary.elapsed_ms.saturating_sub(summary.land_ms);
    Ok(summary)
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
