//! The refinery of one rig as a supervised actor: it works the rig's merge queue on a short
//! timer, in three phases so that slow work never holds the ledger: pick the next batch (in the
//! ledger actor), land it (merge, gates, compare-and-swap — on a blocking thread, no ledger), and
//! record the outcome (in the ledger actor). On start it first finishes the bookkeeping of any MR
//! whose merge reached the target before a crash (the `Gastown-MR:` trailer), so nothing merges
//! twice. Convoys that land are announced on `gastown run`'s terminal.

use super::handler::TownHandler;
use crate::refinery::{self, LandOptions};
use crate::rig::Rig;
use crate::town::Town;
use gastown_actors::ledger::LedgerHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::Duration;

/// How often an idle refinery looks at its queue.
const POLL: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct RefineryActor;

pub enum RefineryMsg {
    /// Work the queue (timer, or a MERGE_READY).
    Work,
}

#[derive(Clone)]
pub struct RefineryArgs {
    pub town: Town,
    pub rig: String,
    pub ledger: LedgerHandle,
    /// Carries out effects (re-slung work needs sessions).
    pub handler: Arc<TownHandler>,
}

pub struct RefineryState {
    args: RefineryArgs,
    /// Whether the start-of-life recovery ran.
    recovered: bool,
}

impl Actor for RefineryActor {
    type Msg = RefineryMsg;
    type State = RefineryState;
    type Arguments = RefineryArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<RefineryMsg>,
        args: RefineryArgs,
    ) -> Result<RefineryState, ActorProcessingErr> {
        myself.send_interval(POLL, || RefineryMsg::Work);
        Ok(RefineryState {
            args,
            recovered: false,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<RefineryMsg>,
        _msg: RefineryMsg,
        state: &mut RefineryState,
    ) -> Result<(), ActorProcessingErr> {
        work(state).await
    }
}

async fn work(state: &mut RefineryState) -> Result<(), ActorProcessingErr> {
    let args = state.args.clone();
    let rig = Rig::load(&args.town, &args.rig)?;
    let who = format!("{}/refinery", args.rig);
    if !state.recovered {
        let (town, r, w) = (args.town.clone(), rig.clone(), who.clone());
        let n = args
            .ledger
            .call(move |l| refinery::recover(l, &town, &r, &w).map_err(|e| format!("{e:#}")))
            .await??;
        if n > 0 {
            tracing::info!(rig = %args.rig, recovered = n, "finished the bookkeeping of merges that landed before a restart");
        }
        state.recovered = true;
    }
    dispatch(&args, &who).await;
    let (name, size) = (args.rig.clone(), rig.config.batch.max(1));
    let batch = args
        .ledger
        .call(move |l| refinery::next_batch(l, &name, size).map_err(|e| format!("{e:#}")))
        .await??;
    if batch.is_empty() {
        return Ok(());
    }
    let (town, r) = (args.town.clone(), rig.clone());
    let outcome = tokio::task::spawn_blocking(move || {
        refinery::land_with(&town, &r, &batch, &LandOptions::default())
    })
    .await??;
    // Fault point for the crash test: die like `kill -9` after the merge landed on the target
    // and before its bookkeeping; the restarted refinery must finish it without merging again.
    if std::env::var("GASTOWN_REFINERY_FAULT").is_ok_and(|f| f == "after-land")
        && outcome.merged() > 0
    {
        // SAFETY: signalling our own process.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
    let (town, w) = (args.town.clone(), who.clone());
    let recorded = args
        .ledger
        .call(move |l| refinery::record(l, &town, &outcome, &w).map_err(|e| format!("{e:#}")))
        .await??;
    for note in &recorded.notes {
        tracing::info!(rig = %args.rig, "{note}");
    }
    // Convoys the merges landed (closed and the overseer mailed inside `record`): ring and notify.
    if !recorded.landed_convoys.is_empty() {
        for l in &recorded.landed_convoys {
            tracing::info!(convoy = %l.id, name = %l.name, "convoy landed");
        }
        crate::convoy::announce(&args.town, &recorded.landed_convoys);
    }
    for effect in recorded.effects {
        if let Err(e) = args.handler.carry_out(effect).await {
            tracing::warn!(rig = %args.rig, "after the merge: {e}");
        }
    }
    announce_convoys(&args).await;
    Ok(())
}

/// Hand queued beads to polecats while the rig has room: a merge frees a polecat (and its name)
/// after its `done` already looked at the queue, so the queue is drained here too.
async fn dispatch(args: &RefineryArgs, who: &str) {
    let (town, rig, who) = (args.town.clone(), args.rig.clone(), who.to_string());
    let effects = args
        .ledger
        .call(move |l| {
            let mut effects = Vec::new();
            // Each round slings one bead; a bead that goes back to the queue ends the rounds.
            for _ in 0..64 {
                match crate::work::dispatch_queue(l, &town, &rig, &who) {
                    Ok(Some(out)) if !out.effects.is_empty() => effects.extend(out.effects),
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(rig = %rig, "dispatch: {e:#}");
                        break;
                    }
                }
            }
            effects
        })
        .await
        .unwrap_or_default();
    for effect in effects {
        if let Err(e) = args.handler.carry_out(effect).await {
            tracing::warn!(rig = %args.rig, "dispatch: {e}");
        }
    }
}

/// Convoys whose beads were closed some other way (by hand): closed, the overseer mailed and
/// (with --notify) rung.
pub async fn announce_convoys(args: &RefineryArgs) {
    let town = args.town.clone();
    let landed = args
        .ledger
        .call(move |l| crate::convoy::sweep(l, &town, "deacon").unwrap_or_default())
        .await
        .unwrap_or_default();
    if !landed.is_empty() {
        for l in &landed {
            tracing::info!(convoy = %l.id, name = %l.name, "convoy landed");
        }
        crate::convoy::announce(&args.town, &landed);
    }
}
