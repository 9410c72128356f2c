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

/// Why a bead waits in a rig's dispatch queue (kept on it as `dispatch_reason`).
pub const DISPATCH_REASON: &str = "dispatch_reason";
/// The reason of a bead queued because a budget of its scope is spent (`crate::budget`).
pub const REASON_BUDGET: &str = "budget";
/// The reason of a bead queued because the rig runs all the polecats it may.
pub const REASON_POLECAT_LIMIT: &str = "polecat limit";
/// The reason of a bead queued because its runtime is at its usage limit (`crate::limits`).
pub const REASON_LIMITED: &str = "limited";

/// Why a bead waits in the dispatch queue.
pub(super) enum Waits {
    /// The rig is at its polecat limit.
    PolecatLimit,
    /// A budget of the bead's scope is spent (why, in words).
    Budget(String),
    /// The runtime the rig's polecat would run is at its usage limit (`limited until …`).
    Limited(String),
}

/// Put the bead in the rig's dispatch queue; a `--runtime` goes with it (checked now, used when
/// it is dispatched). `why`: what holds it.
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
    let reason = match &why {
        Waits::PolecatLimit => REASON_POLECAT_LIMIT,
        Waits::Budget(_) => REASON_BUDGET,
        Waits::Limited(_) => REASON_LIMITED,
    };
    gastown_beads::ExtraPatch::default()
        .set(DISPATCH_REASON, reason)
        .write(ledger, &bead.id, who)?;
    out.say(match why {
        Waits::PolecatLimit => format!(
            "rig {rig} is at its polecat limit: {} waits in its dispatch queue and goes out when a polecat frees up",
            bead.id
        ),
        Waits::Budget(why) => format!(
            "rig {rig} is paused by budget ({why}): {} waits in its dispatch queue (reason: budget) and goes out by itself when the budget allows (raised, or a new UTC day)",
            bead.id
        ),
        Waits::Limited(limit) => format!(
            "{} waits in rig {rig}'s dispatch queue (reason: limited): its runtime is {limit}; it goes out after the reset",
            bead.id
        ),
    });
    Ok(())
}

/// Sling the oldest bead waiting in `rig`'s dispatch queue that no spent budget holds (else the
/// oldest), if there is one: it goes to a free polecat, or stays queued when none is or a budget
/// holds it (the outcome says so, with no effect).
pub fn dispatch_queue<L: LedgerSteps>(
    ledger: &mut L,
    town: &Town,
    rig: &str,
    who: &str,
) -> Result<Option<Outcome>> {
    let (name, t) = (rig.to_string(), town.clone());
    let Some(next) = ledger.step("dispatch: next", move |l| next_to_dispatch(l, &t, &name))??
    else {
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

/// The bead the queue hands out next: the first no budget holds (a bead of a convoy that spent
/// its budget does not block the rest of the rig's queue), else the head (its sling says why it
/// still waits).
fn next_to_dispatch(ledger: &Ledger, town: &Town, rig: &str) -> Result<Option<String>> {
    let queued = queued(ledger, rig)?;
    if queued.len() <= 1 {
        return Ok(queued.into_iter().next());
    }
    let held = crate::budget::held(ledger, town, rig, &queued, &crate::costs::record::today())?;
    Ok(queued
        .iter()
        .find(|id| !held.contains(id))
        .or(queued.first())
        .cloned())
}

/// The oldest open work bead in `rig`'s dispatch queue (by priority, then age).
pub fn next_queued(ledger: &Ledger, rig: &str) -> Result<Option<String>> {
    Ok(queued(ledger, rig)?.into_iter().next())
}

/// Every open work bead waiting in `rig`'s dispatch queue, in the order they go out (priority,
/// then age).
pub fn queued(ledger: &Ledger, rig: &str) -> Result<Vec<String>> {
    Ok(queued_beads(ledger, rig)?
        .into_iter()
        .map(|b| b.id)
        .collect())
}

/// [`queued`], the beads themselves (their `dispatch_reason` says why each waits).
pub fn queued_beads(ledger: &Ledger, rig: &str) -> Result<Vec<Bead>> {
    let mut queued = ledger.list(&ListFilter {
        label: Some(queue_label(rig)),
        ..ListFilter::default()
    })?;
    // Only work goes out: a record labelled into the queue by hand is never handed to a polecat.
    queued.retain(|b| b.status == Status::Open && slingable::is_work(b));
    queued.sort_by(|a, b| (a.priority, &a.created_at).cmp(&(b.priority, &b.created_at)));
    Ok(queued)
}
