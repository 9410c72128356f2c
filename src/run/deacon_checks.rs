//! The deacon's patrol checks (`docs/deacon.md`), run by the deacon's patrol actor each tick
//! (`[run] patrol_interval`), one round at a time:
//!
//! - **stranded convoys**: a ready bead tracked by an open convoy that nobody holds is slung
//!   into the rig it belongs to (`gastown_town::convoy::feed_plan`), as the deacon, through the
//!   same path as `gastown sling` (its polecat pool, or its dispatch queue when full); a bead no
//!   rig fits is told to the mayor as an escalation (a repeat folds into it);
//! - **stale hooks**: a bead hooked to an identity that cannot exist any more (its rig is gone,
//!   or it has neither an agent bead nor a directory in its rig) is released back to ready, with
//!   an audit event; so is one whose identity has been stuck (it cannot start) for longer than
//!   `[run] stuck_release_after`, its notes saying where the work so far is.
//!
//! The checks on the rigs themselves (supervisors that gave up, witnesses that stopped
//! patrolling, dispatch queues that stopped moving) follow in `super::deacon_rigs`.
//!
//! A bead whose sling fails is tried again after 1, 2, 4 … patrols (at most 64), and at its third
//! failure in a row the mayor is told (an escalation; repeats fold into it).

use super::handler::TownHandler;
use gastown_actors::deacon::Checks;
use gastown_actors::ledger::LedgerHandle;
use gastown_town::Caller;
use gastown_town::convoy::{self, Feed};
use gastown_town::escalation::Severity;
use gastown_town::identity::AgentIdentity;
use gastown_town::town::Town;
use gastown_town::work::WorkCommand;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Per stranded bead whose sling failed: failures in a row, and patrols to skip before the next
/// try.
type Backoff = Arc<Mutex<HashMap<String, (u32, u32)>>>;

/// Who the checks act as.
const DEACON: &str = "deacon";

/// The checks for the deacon's patrol; they wait for the socket's handler (built after the tree).
pub fn checks(town: Town, handler: Arc<OnceLock<Arc<TownHandler>>>) -> Checks {
    let backoff = Backoff::default();
    let watch = Arc::new(super::deacon_rigs::Watch::default());
    // Rounds that ran their checks, counted across restarts of the patrol: the log names the
    // round that acted, so how many patrols a fault took to be fixed is seen, not timed.
    let rounds = Arc::new(AtomicU64::new(0));
    Arc::new(move || {
        let (town, handler, backoff) = (town.clone(), Arc::clone(&handler), Arc::clone(&backoff));
        let (watch, rounds) = (Arc::clone(&watch), Arc::clone(&rounds));
        Box::pin(async move {
            let Some(handler) = handler.get().cloned() else {
                return;
            };
            let n = rounds.fetch_add(1, Ordering::SeqCst) + 1;
            tracing::debug!(round = n, "deacon patrol round");
            // Each part on its own: one that fails never keeps the others from running.
            round(&town, &handler, &backoff, n).await;
            super::deacon_rigs::round(&town, &handler, &watch).await;
        })
    })
}

/// Whether `bead` is due a try this patrol (counting down its skips).
fn due(backoff: &Backoff, bead: &str) -> bool {
    let mut map = backoff.lock().unwrap_or_else(|e| e.into_inner());
    match map.get_mut(bead) {
        Some((_, skip)) if *skip > 0 => {
            *skip -= 1;
            false
        }
        _ => true,
    }
}

/// Record a failed sling of `bead`; returns the failures in a row.
fn failed(backoff: &Backoff, bead: &str) -> u32 {
    let mut map = backoff.lock().unwrap_or_else(|e| e.into_inner());
    let entry = map.entry(bead.to_string()).or_insert((0, 0));
    entry.0 += 1;
    entry.1 = (1u32 << entry.0.min(6)).min(64) - 1;
    entry.0
}

/// The ledger checks of round `n`.
async fn round(town: &Town, handler: &TownHandler, backoff: &Backoff, n: u64) {
    let ledger = LedgerHandle::default();
    let for_ledger = town.clone();
    let planned = ledger
        .call("deacon: patrol", move |l| {
            let released = gastown_town::work::hook::release_stale(l, &for_ledger, DEACON)?;
            let after = for_ledger.config.run.stuck_release_after();
            let now = gastown_beads::time::now_unix_nanos();
            let unstuck = gastown_town::work::hook::release_stuck(l, after, now, DEACON)?;
            let plan = convoy::feed_plan(l, &for_ledger)?;
            anyhow::Ok((released, unstuck, plan))
        })
        .await;
    let (released, unstuck, plan) = match planned {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            tracing::warn!("deacon patrol: {e:#}");
            return;
        }
        Err(e) => {
            tracing::warn!("deacon patrol: {e}");
            return;
        }
    };
    for (bead, holder) in released {
        tracing::info!(%bead, %holder, "deacon released a stale hook");
    }
    for hook in unstuck {
        tracing::warn!(
            bead = %hook.bead,
            holder = %hook.holder,
            "deacon released {}'s hook back to ready: {} has been stuck for {} ({})",
            hook.bead,
            hook.holder,
            humantime::format_duration(std::time::Duration::from_secs(hook.stuck_for.as_secs())),
            hook.reason
        );
    }
    let deacon = match AgentIdentity::parse(DEACON) {
        Ok(identity) => Caller::Agent(identity),
        Err(e) => {
            tracing::warn!("deacon patrol: {e}");
            return;
        }
    };
    // Beads no longer stranded start afresh.
    backoff
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|bead, _| {
            plan.iter()
                .any(|f| matches!(f, Feed::Sling { bead: b, .. } if b == bead))
        });
    for feed in plan {
        match feed {
            Feed::Sling { bead, .. } if !due(backoff, &bead) => {}
            Feed::Sling { convoy, bead, rig } => {
                let command = WorkCommand::Sling {
                    bead: bead.clone(),
                    target: rig.clone(),
                    force: false,
                    runtime: None,
                    formula: None,
                    no_formula: false,
                    no_convoy: true,
                };
                match handler.work_as(&deacon, command).await {
                    Ok(_) => {
                        tracing::info!(%convoy, %bead, %rig, round = n, "deacon fed a stranded convoy")
                    }
                    Err(e) => {
                        let n = failed(backoff, &bead);
                        tracing::warn!(%convoy, %bead, %rig, failures = n, "deacon cannot sling a stranded bead: {e}");
                        if n == 3 {
                            let why = format!(
                                "convoy {convoy} is stranded: the deacon cannot sling {bead} into rig {rig}: {e}. Sling it by hand (`gastown sling {bead} <target>`) once that is fixed."
                            );
                            tell_mayor(town, &ledger, &bead, why).await;
                        }
                    }
                }
            }
            Feed::NoRig { convoy, bead } => no_rig(town, &ledger, &convoy, &bead).await,
        }
    }
}

/// A stranded bead no rig fits: one escalation for the mayor (repeats fold into it).
async fn no_rig(town: &Town, ledger: &LedgerHandle, convoy: &str, bead: &str) {
    let message = format!(
        "convoy {convoy} is stranded: {bead} is ready and nobody holds it, and no rig fits it (its id has no rig's prefix and the town has several rigs). Sling it: `gastown sling {bead} <rig>`."
    );
    tell_mayor(town, ledger, bead, message).await;
}

/// An escalation from the deacon about `bead` (a repeat folds into the open one).
async fn tell_mayor(town: &Town, ledger: &LedgerHandle, bead: &str, message: String) {
    super::escalation::raise_from_supervisor(
        ledger,
        town,
        Severity::Medium,
        DEACON,
        super::escalation::About::Bead(bead.to_string()),
        message,
    )
    .await;
}
