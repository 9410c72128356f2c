//! Working a rig's queue to the end in one call: `next_batch`, `land`, `record`, again, until
//! nothing is left that could land. Used by `gastown mq process` (and the benchmark); the live
//! refinery actor runs the same three phases, with `land` outside the ledger's owner.

use super::land::{LandOptions, land_with};
use super::{MrResult, next_batch, record, recover};
use crate::rig::Rig;
use crate::town::Town;
use anyhow::Result;
use gastown_beads::Ledger;
use serde::Serialize;
use std::time::Instant;

/// What a run over the queue did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessSummary {
    pub rig: String,
    pub recovered: usize,
    pub batches: usize,
    pub merged: usize,
    pub sent_back: usize,
    pub failed: usize,
    pub held: usize,
    pub gate_runs: usize,
    pub elapsed_ms: u64,
    /// One line per MR result, in order.
    pub notes: Vec<String>,
}

/// Land `rig`'s queue: `max_batches` batches (`None`: until no batch makes progress).
pub fn process_rig(
    ledger: &mut Ledger,
    town: &Town,
    rig: &Rig,
    max_batches: Option<usize>,
    opts: &LandOptions,
    who: &str,
) -> Result<ProcessSummary> {
    let start = Instant::now();
    let mut summary = ProcessSummary {
        rig: rig.name().to_string(),
        recovered: recover(ledger, town, rig, who)?,
        ..ProcessSummary::default()
    };
    let size = rig.config.batch.max(1);
    while max_batches.is_none_or(|m| summary.batches < m) {
        let batch = next_batch(ledger, rig.name(), size)?;
        if batch.is_empty() {
            break;
        }
        let outcome = land_with(town, rig, &batch, opts)?;
        summary.batches += 1;
        summary.gate_runs += outcome.gate_runs;
        let mut progress = false;
        for o in &outcome.outcomes {
            match &o.result {
                MrResult::Merged { .. } | MrResult::AlreadyMerged { .. } => summary.merged += 1,
                MrResult::Conflict { .. }
                | MrResult::GateFailed { .. }
                | MrResult::TimedOut { .. } => summary.sent_back += 1,
                MrResult::BranchMissing { .. } => summary.failed += 1,
                MrResult::GateFailedOnTarget { .. } | MrResult::Held { .. } => {
                    summary.held += 1;
                    continue;
                }
            }
            progress = true;
        }
        summary
            .notes
            .extend(record(ledger, town, &outcome, who)?.notes);
        if !progress {
            break;
        }
    }
    summary.elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(summary)
}
