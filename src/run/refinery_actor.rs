//! The refinery of one rig as a supervised actor: it works the rig's merge queue on a short
//! timer, in three phases so that slow work never holds the ledger: pick the next batch (in the
//! ledger actor), land it (fetch from origin, merge, gates, push, compare-and-swap — on a
//! blocking thread, no ledger), and record the outcome (in the ledger actor; no git). Merged
//! polecats' sessions are ended before their worktrees are removed (on a blocking thread). The
//! recovery's trailer scan and the dispatch queue's slings run git too: in steps
//! (`gastown_town::steps`) on a blocking thread.
//!
//! On start it first brings origin's target in and finishes the bookkeeping of any MR whose
//! merge reached the target (or origin) before a crash (the `Gastown-MR:` trailer), so nothing
//! merges twice. Failures never crash the actor: a round that fails, or an origin that cannot
//! take work (unreachable, refusing, rewritten), makes it back off — doubling from
//! [`BACKOFF_START`] to [`BACKOFF_MAX`] — instead of re-running gates every [`POLL`]. Convoys
//! that land are announced on `gastown run`'s terminal; each gate run on a merge request is
//! told on the event stream (`mq.gating`).

use super::handler::TownHandler;
use gastown_actors::ledger::LedgerHandle;
use gastown_town::refinery::{self, LandOptions, Recorded};
use gastown_town::rig::Rig;
use gastown_town::town::Town;
use gastown_town::work::Effect;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gastown_town::defaults::{
    REFINERY_BACKOFF_MAX as BACKOFF_MAX, REFINERY_BACKOFF_START as BACKOFF_START,
    REFINERY_POLL as POLL,
};

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
    /// Carries out effects (re-slung work needs sessions; merged polecats' sessions end).
    pub handler: Arc<TownHandler>,
}

pub struct RefineryState {
    args: RefineryArgs,
    /// Whether the start-of-life recovery ran.
    recovered: bool,
    /// No round before this instant (after a failure), and the pause that led to it.
    backoff: Option<(Instant, Duration)>,
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
            backoff: None,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<RefineryMsg>,
        _msg: RefineryMsg,
        state: &mut RefineryState,
    ) -> Result<(), ActorProcessingErr> {
        if state
            .backoff
            .is_some_and(|(until, _)| Instant::now() < until)
        {
            return Ok(());
        }
        let rig = state.args.rig.clone();
        let healthy = match work(state).await {
            Ok(healthy) => healthy,
            Err(e) => {
                tracing::warn!(%rig, "refinery round failed, backing off: {e}");
                false
            }
        };
        state.backoff = if healthy {
            None
        } else {
            let pause = state
                .backoff
                .map_or(BACKOFF_START, |(_, p)| (p * 2).min(BACKOFF_MAX));
            tracing::info!(%rig, ?pause, "refinery backs off");
            Some((Instant::now() + pause, pause))
        };
        Ok(())
    }
}

/// Who tells the event stream each gate run on the batch: `mq.gating` for each merge request
/// on the candidate (their work beads named).
fn gate_teller(args: &RefineryArgs, batch: &[refinery::MergeRequest]) -> refinery::Watcher {
    let bus = Arc::clone(&args.handler.tree.bus);
    let rig = args.rig.clone();
    let beads: std::collections::HashMap<String, String> = batch
        .iter()
        .map(|mr| (mr.id.clone(), mr.source_bead.clone()))
        .collect();
    refinery::Watcher::new(move |step| {
        if let refinery::LandStep::Gate {
            gate,
            mrs,
            on_target,
        } = step
        {
            for mr in *mrs {
                let bead = beads.get(mr).map_or("", String::as_str);
                let gate = gate.to_string();
                bus.publish(super::events::gating_draft(
                    &rig, mr, bead, &gate, *on_target,
                ));
            }
        }
    })
}

/// One round; `Ok(false)` when origin could not take the batch (back off).
async fn work(state: &mut RefineryState) -> Result<bool, String> {
    let args = state.args.clone();
    let rig = Rig::load(&args.town, &args.rig).map_err(|e| e.to_string())?;
    let who = format!("{}/refinery", args.rig);
    if !state.recovered {
        recover(&args, &rig, &who).await?;
        state.recovered = true;
    }
    dispatch(&args, &who).await;
    let (name, size) = (args.rig.clone(), rig.config.batch.max(1));
    let batch = args
        .ledger
        .call("refinery: next batch", move |l| {
            refinery::next_batch(l, &name, size).map_err(|e| format!("{e:#}"))
        })
        .await
        .map_err(|e| e.to_string())??;
    if batch.is_empty() {
        return Ok(true);
    }
    let opts = LandOptions {
        watcher: gate_teller(&args, &batch),
        ..LandOptions::default()
    };
    let (town, r) = (args.town.clone(), rig.clone());
    let outcome =
        tokio::task::spawn_blocking(move || refinery::land_with(&town, &r, &batch, &opts))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("{e:#}"))?;
    // Fault point for the crash test: die like `kill -9` after the merge landed on the target
    // and before its bookkeeping; the restarted refinery must finish it without merging again.
    if outcome.merged() > 0 {
        gastown_beads::fault::point("GASTOWN_REFINERY_FAULT", "after-land");
    }
    let healthy = outcome.remote.is_none();
    let (town, w) = (args.town.clone(), who.clone());
    let recorded = args
        .ledger
        .call("refinery: record", move |l| {
            refinery::record(l, &town, &outcome, &w).map_err(|e| format!("{e:#}"))
        })
        .await
        .map_err(|e| e.to_string())??;
    after_record(&args, recorded).await;
    announce_convoys(&args).await;
    Ok(healthy)
}

/// Start of life: bring origin's target in (blocking thread), then finish the bookkeeping of
/// merges that landed before a crash (ledger actor).
async fn recover(args: &RefineryArgs, rig: &Rig, who: &str) -> Result<(), String> {
    let r = rig.clone();
    let synced = tokio::task::spawn_blocking(move || refinery::sync_origin(&r))
        .await
        .map_err(|e| e.to_string())?;
    match synced {
        Ok(Some(problem)) => {
            tracing::warn!(rig = %args.rig, "recovery without origin: {}", problem.summary());
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(rig = %args.rig, "recovery without origin: {e:#}"),
    }
    // Its trailer scan is git: in steps, on a blocking thread.
    let (town, r, w) = (args.town.clone(), rig.clone(), who.to_string());
    let n = args
        .ledger
        .in_steps(move |steps| {
            refinery::recover(steps, &town, &r, &w).map_err(|e| format!("{e:#}"))
        })
        .await
        .map_err(|e| e.to_string())??;
    if n > 0 {
        tracing::info!(rig = %args.rig, recovered = n, "finished the bookkeeping of merges that landed before a restart");
    }
    Ok(())
}

/// Notes, convoys, effects, and the merged sandboxes: each polecat's session ends first, then
/// its worktree and branch go (a blocking thread: git work).
async fn after_record(args: &RefineryArgs, recorded: Recorded) {
    for note in &recorded.notes {
        tracing::info!(rig = %args.rig, "{note}");
    }
    // Convoys the merges landed (closed and the overseer mailed inside `record`): ring and notify.
    if !recorded.landed_convoys.is_empty() {
        for l in &recorded.landed_convoys {
            tracing::info!(convoy = %l.id, name = %l.name, "convoy landed");
        }
        gastown_town::convoy::announce(&args.town, &recorded.landed_convoys);
    }
    for effect in recorded.effects {
        if let Err(e) = args.handler.carry_out(effect).await {
            tracing::warn!(rig = %args.rig, "after the merge: {e}");
        }
    }
    for sandbox in recorded.sandboxes {
        if !sandbox.worker.is_empty() {
            let stop = Effect::StopSession {
                address: sandbox.worker.clone(),
            };
            if let Err(e) = args.handler.carry_out(stop).await {
                // A session may still run there: keep the sandbox rather than pull the floor.
                tracing::warn!(rig = %args.rig, worker = %sandbox.worker, "sandbox kept, the session did not stop: {e}");
                continue;
            }
        }
        let town = args.town.clone();
        let removing = sandbox.clone();
        let note = tokio::task::spawn_blocking(move || {
            let note = refinery::remove_sandbox(&town, &removing);
            format!("{}: {note}", removing.branch)
        })
        .await;
        match note {
            Ok(note) => tracing::info!(rig = %args.rig, "{note}"),
            Err(e) => tracing::warn!(rig = %args.rig, "sandbox removal failed: {e}"),
        }
        // The polecat is recycled: the wisps about its MR that this answers are handled.
        let who = format!("{}/refinery", args.rig);
        let closed = args
            .ledger
            .call("refinery: recycled", move |l| {
                refinery::recycled(l, &sandbox, &who).map_err(|e| format!("{e:#}"))
            })
            .await;
        if let Ok(Err(e)) | Err(e) = closed.map_err(|e| e.to_string()) {
            tracing::warn!(rig = %args.rig, "cannot close the handled protocol wisps: {e}");
        }
    }
}

/// Hand queued beads to polecats while the rig has room: a merge frees a polecat (and its name)
/// after its `done` already looked at the queue, so the queue is drained here too.
async fn dispatch(args: &RefineryArgs, who: &str) {
    if let Err(e) = drain_queue(&args.ledger, &args.handler, &args.town, &args.rig, who).await {
        tracing::warn!(rig = %args.rig, "dispatch: {e}");
    }
}

/// Sling the beads waiting in `rig`'s dispatch queue to free polecats, one at a time, until the
/// rig is full or the queue empty (as `who`: the rig's refinery each round, or the deacon when
/// a queue stopped moving); returns how many went out. Each sling makes a worktree (git): in
/// steps, on a blocking thread; their effects (sessions) are carried out after.
pub(super) async fn drain_queue(
    ledger: &LedgerHandle,
    handler: &TownHandler,
    town: &Town,
    rig: &str,
    who: &str,
) -> Result<usize, String> {
    let (town, rig_name, who) = (town.clone(), rig.to_string(), who.to_string());
    let (effects, slung, error) = ledger
        .in_steps(move |steps| {
            let (mut effects, mut slung, mut error) = (Vec::new(), 0, None);
            // Each round slings one bead; a bead that goes back to the queue ends the rounds.
            for _ in 0..64 {
                match gastown_town::work::dispatch_queue(steps, &town, &rig_name, &who) {
                    Ok(Some(out)) if !out.effects.is_empty() => {
                        slung += 1;
                        effects.extend(out.effects);
                    }
                    Ok(_) => break,
                    Err(e) => {
                        error = Some(format!("{e:#}"));
                        break;
                    }
                }
            }
            (effects, slung, error)
        })
        .await
        .map_err(|e| e.to_string())?;
    for effect in effects {
        if let Err(e) = handler.carry_out(effect).await {
            tracing::warn!(%rig, "dispatch: {e}");
        }
    }
    match error {
        Some(e) if slung == 0 => Err(e),
        Some(e) => {
            tracing::warn!(%rig, "dispatch: {e}");
            Ok(slung)
        }
        None => Ok(slung),
    }
}

/// Convoys whose beads were closed some other way (by hand): closed, the overseer mailed and
/// (with --notify) rung.
pub async fn announce_convoys(args: &RefineryArgs) {
    let town = args.town.clone();
    let landed = args
        .ledger
        .call("convoy: sweep", move |l| {
            gastown_town::convoy::sweep(l, &town, "deacon").unwrap_or_default()
        })
        .await
        .unwrap_or_default();
    if !landed.is_empty() {
        for l in &landed {
            tracing::info!(convoy = %l.id, name = %l.name, "convoy landed");
        }
        gastown_town::convoy::announce(&args.town, &landed);
    }
}
