//! The deacon's patrol checks on the rigs (`docs/deacon.md`), run after the ledger checks of
//! `super::deacon_checks` on each tick:
//!
//! - **rigs that gave up**: a rig on disk whose supervisor is not running (it gave up, or never
//!   started: a broken rig.toml) is started again, with a backoff of 1, 2, 4 … patrols (at most
//!   [`MAX_SKIP`]); at its [`ESCALATE_AFTER`]th restart in a row the mayor is told (an
//!   escalation, high). A rig that stays up for [`HEALTHY_AFTER`] ends its streak.
//! - **witnesses that stopped patrolling**: each running rig's witness patrol is asked how long
//!   ago it last patrolled; one that has not patrolled (or answered) for three of its own
//!   `patrol_every`, and at least [`WITNESS_STALE_MIN`], is killed so its role restarts it.
//! - **dispatch queues that stopped moving**: the rig's refinery drains the queue each round; a
//!   queue whose head bead has waited through two patrols (the refinery is stuck in a long gate,
//!   or down) is drained by the deacon itself, through the same code; a drain that fails three
//!   times in a row is told to the mayor.

use super::handler::TownHandler;
use super::witness_actor::WitnessMsg;
use super::{refinery_actor, topology};
use gastown_actors::registry;
use gastown_town::escalation::Severity;
use gastown_town::identity::AgentIdentity;
use gastown_town::rig::Rig;
use gastown_town::town::Town;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use gastown_town::defaults::HEALTHY_AFTER;

/// A rig restarted this many times in a row (each time it gave up again before it was healthy)
/// is told to the mayor.
pub const ESCALATE_AFTER: u32 = 3;

/// The most patrols skipped between two restarts of a rig.
pub const MAX_SKIP: u32 = 20;

/// A witness is stale only after at least this long without a patrol (a patrol may wait for a
/// nudge's echo).
pub const WITNESS_STALE_MIN: Duration = Duration::from_secs(120);

/// How long the deacon waits for a witness's answer.
const WITNESS_ASK_MS: u64 = 2_000;

/// Who the checks act as.
const DEACON: &str = "deacon";

/// What the checks remember between patrols.
#[derive(Default)]
pub struct Watch {
    inner: Mutex<State>,
}

#[derive(Default)]
struct State {
    rigs: HashMap<String, Restarts>,
    /// Per rig: since when its witness has not answered.
    unanswered: HashMap<String, Instant>,
    /// Per rig: the head of its dispatch queue, the patrols it has been seen there, and the
    /// deacon's failed drains in a row.
    queues: HashMap<String, (String, u32, u32)>,
}

/// A rig's streak of restarts.
#[derive(Debug, Clone, Copy)]
struct Restarts {
    in_a_row: u32,
    /// Patrols to skip before the next restart.
    skip: u32,
    last: Instant,
}

impl Watch {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Patrols skipped after the `n`th restart in a row: 0, 1, 3, 7 … up to [`MAX_SKIP`].
pub fn skip_after(n: u32) -> u32 {
    ((1u32 << n.saturating_sub(1).min(16)) - 1).min(MAX_SKIP)
}

/// Whether a witness is stale, and for how long it has not patrolled: `answer` is its own
/// (time since its last patrol, its `patrol_every`) or `None` when it did not answer, in which
/// case `unanswered_for` counts and `every` is its configured interval; never before `floor`
/// ([`WITNESS_STALE_MIN`]).
pub fn witness_stale(
    answer: Option<(Duration, Duration)>,
    unanswered_for: Duration,
    every: Duration,
    floor: Duration,
) -> Option<Duration> {
    let (since, every) = answer.unwrap_or((unanswered_for, every));
    let bound = every.saturating_mul(3).max(floor);
    (since > bound).then_some(since)
}

/// The floor of [`witness_stale`]: [`WITNESS_STALE_MIN`], except in the crash test that hangs a
/// witness's patrol on purpose (`GASTOWN_WITNESS_FAULT=hang-patrol`), whose witness waits on no
/// nudge's echo and so is stale after three of its own patrols.
fn witness_floor() -> Duration {
    if gastown_beads::fault::active("GASTOWN_WITNESS_FAULT", "hang-patrol") {
        Duration::ZERO
    } else {
        WITNESS_STALE_MIN
    }
}

/// One round of the rig checks.
pub async fn round(town: &Town, handler: &TownHandler, watch: &Watch) {
    let Some(root) = handler.root.get().cloned() else {
        return;
    };
    let rigs = match Rig::list_each(town) {
        Ok(rigs) => rigs,
        Err(e) => {
            tracing::warn!("deacon patrol: cannot list the rigs: {e:#}");
            return;
        }
    };
    let mut running = Vec::new();
    for (name, rig) in rigs {
        if topology::rig_running(&root, &name).await {
            let mut state = watch.state();
            if state
                .rigs
                .get(&name)
                .is_some_and(|r| r.last.elapsed() >= HEALTHY_AFTER)
            {
                state.rigs.remove(&name);
            }
            drop(state);
            running.push((name, rig.ok()));
        } else {
            let broken = rig.err().map(|e| e.to_string());
            restart_rig(town, handler, &root, watch, &name, broken).await;
        }
    }
    for (name, rig) in &running {
        check_witness(watch, name, rig.as_ref()).await;
        check_queue(town, handler, watch, name).await;
    }
}

/// A rig on disk whose supervisor is not running: start it, if its backoff is due.
async fn restart_rig(
    town: &Town,
    handler: &TownHandler,
    root: &gastown_supervision::SupervisorRef,
    watch: &Watch,
    rig: &str,
    broken: Option<String>,
) {
    let n = {
        let mut state = watch.state();
        let entry = state.rigs.entry(rig.to_string()).or_insert(Restarts {
            in_a_row: 0,
            skip: 0,
            last: Instant::now(),
        });
        if entry.skip > 0 {
            entry.skip -= 1;
            return;
        }
        entry.in_a_row += 1;
        entry.skip = skip_after(entry.in_a_row);
        entry.last = Instant::now();
        entry.in_a_row
    };
    let why = last_give_up(handler, rig).unwrap_or_else(|| "it was not running".to_string());
    let started = match broken {
        Some(e) => Err(e),
        None => topology::ensure_rig(root, &handler.tree, rig)
            .await
            .map(drop),
    };
    match &started {
        Ok(()) => tracing::warn!(%rig, restarts = n, "deacon restarted rig {rig}: {why}"),
        Err(e) => {
            // Someone else (a sling) may have started it meanwhile: not a failure then.
            if !topology::rig_running(root, rig).await {
                tracing::warn!(%rig, restarts = n, "deacon cannot restart rig {rig}: {e}");
            }
        }
    }
    if n == ESCALATE_AFTER {
        let cause = match &started {
            Ok(()) => format!("its supervisor keeps giving up (last: {why})"),
            Err(e) => format!("it cannot start: {e}"),
        };
        let message = format!(
            "rig {rig} keeps stopping: {cause}. The deacon restarted it {n} times in a row and keeps trying, less and less often; its refinery and witness do not run meanwhile. Look at `gastown actors` and `gastown doctor`, fix the cause, and the next restart sticks."
        );
        super::escalation::raise_from_supervisor(
            &handler.ledger,
            town,
            Severity::High,
            DEACON,
            super::escalation::About::Nothing,
            message,
        )
        .await;
    }
}

/// Why the rig's supervisor last gave up, from the recent supervision events.
fn last_give_up(handler: &TownHandler, rig: &str) -> Option<String> {
    let place = gastown_town::names::rig_place(rig).path();
    let events = handler.events.lock().unwrap_or_else(|e| e.into_inner());
    events
        .iter()
        .rev()
        .find(|e| e.supervisor == place && e.kind == gastown_supervision::EventKind::GaveUp)
        .map(|e| format!("its supervisor gave up: {}", e.reason))
}

/// Ask the rig's witness patrol when it last patrolled; kill it when it is stale.
async fn check_witness(watch: &Watch, rig: &str, config: Option<&Rig>) {
    let Ok(identity) = AgentIdentity::parse(&format!("{rig}/witness")) else {
        return;
    };
    // Not running: its rig's supervisor is restarting it (or the rig check will).
    let Some(role) = registry::role(&identity).await else {
        watch.state().unanswered.remove(rig);
        return;
    };
    let Ok(Some(patrol)) = role.child_actor::<WitnessMsg>("patrol").await else {
        watch.state().unanswered.remove(rig);
        return;
    };
    let answer = ractor::call_t!(patrol, WitnessMsg::LastPatrol, WITNESS_ASK_MS).ok();
    let unanswered_for = {
        let mut state = watch.state();
        if answer.is_some() {
            state.unanswered.remove(rig);
            Duration::ZERO
        } else {
            state
                .unanswered
                .entry(rig.to_string())
                .or_insert_with(Instant::now)
                .elapsed()
        }
    };
    let every = config.map_or_else(
        || {
            gastown_town::witness::WitnessConfig::default()
                .patrol_every
                .0
        },
        |r| r.config.witness.patrol_every.0,
    );
    if let Some(since) = witness_stale(answer, unanswered_for, every, witness_floor()) {
        tracing::warn!(
            %rig,
            "deacon restarts rig {rig}'s witness patrol: it has not patrolled for {}",
            humantime::format_duration(Duration::from_secs(since.as_secs()))
        );
        watch.state().unanswered.remove(rig);
        patrol.get_cell().kill();
    }
}

/// Drain the rig's dispatch queue when its head has not moved for two patrols.
async fn check_queue(town: &Town, handler: &TownHandler, watch: &Watch, rig: &str) {
    let name = rig.to_string();
    let head = handler
        .ledger
        .call("deacon: dispatch queue", move |l| {
            gastown_town::work::next_queued(l, &name).map_err(|e| format!("{e:#}"))
        })
        .await;
    let head = match head.map_err(|e| e.to_string()).and_then(|h| h) {
        Ok(head) => head,
        Err(e) => {
            tracing::warn!(%rig, "deacon cannot read the dispatch queue: {e}");
            return;
        }
    };
    let Some(head) = head else {
        watch.state().queues.remove(rig);
        return;
    };
    {
        let mut state = watch.state();
        let entry = state
            .queues
            .entry(rig.to_string())
            .or_insert((head.clone(), 0, 0));
        if entry.0 != head {
            *entry = (head.clone(), 0, 0);
        }
        entry.1 += 1;
        if entry.1 <= 2 {
            return; // The refinery drains it each round: give it two patrols.
        }
    }
    match refinery_actor::drain_queue(&handler.ledger, handler, town, rig, DEACON).await {
        Ok(0) => {} // No polecat is free: the queue waits, as it should.
        Ok(n) => {
            tracing::warn!(%rig, "deacon moved rig {rig}'s stalled dispatch queue: {n} bead(s) slung, {head} first");
            watch.state().queues.remove(rig);
        }
        Err(e) => {
            let failures = {
                let mut state = watch.state();
                let entry = state
                    .queues
                    .entry(rig.to_string())
                    .or_insert((head.clone(), 0, 0));
                entry.2 += 1;
                entry.2
            };
            tracing::warn!(%rig, failures, "deacon cannot drain rig {rig}'s dispatch queue: {e}");
            if failures == 3 {
                let message = format!(
                    "rig {rig}'s dispatch queue stopped moving: {head} and the beads behind it wait, and the deacon cannot sling them: {e}. Fix that, or sling them by hand (`gastown sling {head} <target>`)."
                );
                super::escalation::raise_from_supervisor(
                    &handler.ledger,
                    town,
                    Severity::Medium,
                    DEACON,
                    super::escalation::About::Bead(head),
                    message,
                )
                .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_back_off_doubling_up_to_a_cap() {
        assert_eq!(skip_after(1), 0);
        assert_eq!(skip_after(2), 1);
        assert_eq!(skip_after(3), 3);
        assert_eq!(skip_after(5), 15);
        assert_eq!(skip_after(6), MAX_SKIP);
        assert_eq!(skip_after(u32::MAX), MAX_SKIP);
    }

    #[test]
    fn a_witness_is_stale_after_three_of_its_patrols_and_never_before_the_floor() {
        let every = Duration::from_secs(60);
        let floor = WITNESS_STALE_MIN;
        let answered = |since| witness_stale(Some((since, every)), Duration::ZERO, every, floor);
        assert_eq!(answered(Duration::from_secs(150)), None);
        assert_eq!(
            answered(Duration::from_secs(181)),
            Some(Duration::from_secs(181))
        );
        // A fast witness still gets the floor: a patrol may wait for a nudge's echo.
        let fast = Duration::from_secs(1);
        assert_eq!(
            witness_stale(
                Some((Duration::from_secs(100), fast)),
                Duration::ZERO,
                fast,
                floor
            ),
            None
        );
        assert!(
            witness_stale(
                Some((Duration::from_secs(121), fast)),
                Duration::ZERO,
                fast,
                floor
            )
            .is_some()
        );
        // No answer: how long it has not answered counts, against its configured interval.
        assert_eq!(
            witness_stale(None, Duration::from_secs(30), every, floor),
            None
        );
        assert!(witness_stale(None, Duration::from_secs(200), every, floor).is_some());
    }
}
