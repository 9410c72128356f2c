//! The rig's dispatch queue: where work slung to a rig at its polecat limit waits (label
//! `dispatch:<rig>`), and how it drains — the oldest open work bead is slung to the rig again
//! when a polecat frees up (after a `done`, and on each round of the rig's refinery).

use super::Outcome;
use super::sling::{SlingRequest, request_runtime, sling};
use super::slingable;
use crate::runtimes;
use crate::steps::LedgerSteps;
use crate::town::Town;
use anyhow::{Context, Result};
use gastown_beads::{Bead, Ledger, ListFilter, Status};

/// The label that puts a bead in a rig's dispatch queue.
pub fn queue_label(rig: &str) -> String {
    format!("dispatch:{rig}")
}

/// Why a bead waits in the dispatch queue.
pub(super) enum Waits {
    /// The rig is at its polecat limit.
    PolecatLimit,
    /// The runtime the rig's polecat would run is at its usage limit (`limited until …`).
    Limited(String),
}

/// Put the bead in the rig's dispatch queue; a `--runtime` goes with it (checked now, used when
/// it is dispatched).
pub(super) fn queue(
    ledger: &mut Ledger,
    town: &Town,
    bead: &Bead,
    rig: &str,
    req: &SlingRequest,
    (who, why): (&str, Waits),
    out: &mut Outcome,
) -> Result<()> {
    if let Some(runtime) = &req.runtime {
        runtimes::by_name(town, runtime, std::path::Path::new("gastown"))
            .with_context(|| format!("--runtime {runtime} for {}", bead.id))?;
        request_runtime(ledger, &bead.id, runtime, who)?;
    }
    if !bead.labels.contains(&queue_label(rig)) {
        ledger.add_label(&bead.id, &queue_label(rig), who)?;
    }
    out.say(match why {
        Waits::PolecatLimit => format!(
            "rig {rig} is at its polecat limit: {} waits in its dispatch queue and goes out when a polecat frees up",
            bead.id
        ),
        Waits::Limited(limit) => format!(
            "{} waits in rig {rig}'s dispatch queue (reason: limited): its runtime is {limit}; it goes out after the reset",
            bead.id
        ),
    });
    Ok(())
}

/// Sling the oldest bead waiting in `rig`'s dispatch queue, if there is one: it goes to a free
/// polecat, or stays queued when none is (the outcome says so, with no effect).
pub fn dispatch_queue<L: LedgerSteps>(
    ledger: &mut L,
    town: &Town,
    rig: &str,
    who: &str,
) -> Result<Option<Outcome>> {
    let name = rig.to_string();
    let Some(next) = ledger.step("dispatch: next", move |l| next_queued(l, &name))?? else {
        return Ok(None);
    };
    let request = SlingRequest {
        bead: next,
        target: rig.to_string(),
        force: false,
        runtime: None,
        formula: Some(None),
        no_convoy: false,
    };
    sling(ledger, town, &request, who).map(Some)
}

/// The oldest open work bead in `rig`'s dispatch queue (by priority, then age).
pub fn next_queued(ledger: &Ledger, rig: &str) -> Result<Option<String>> {
    Ok(queued(ledger, rig)?.into_iter().next())
}

/// Every open work bead waiting in `rig`'s dispatch queue, in the order they go out (priority,
/// then age).
pub fn queued(ledger: &Ledger, rig: &str) -> Result<Vec<String>> {
    let mut queued = ledger.list(&ListFilter {
        label: Some(queue_label(rig)),
        ..ListFilter::default()
    })?;
    // Only work goes out: a record labelled into the queue by hand is never handed to a polecat.
    queued.retain(|b| b.status == Status::Open && slingable::is_work(b));
    queued.sort_by(|a, b| (a.priority, &a.created_at).cmp(&(b.priority, &b.created_at)));
    Ok(queued.into_iter().map(|b| b.id).collect())
}
