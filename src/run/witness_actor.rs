//! The witness of one rig as a supervised actor (`town/rigs/<rig>/witness`): mechanical, zero
//! tokens. Every `[witness] patrol_every` it looks at each polecat of the rig with hooked work —
//! its session's snapshot (start, pid, last output, ready prompt), its role actor's last
//! heartbeat (every socket request of the identity), its hook and molecule step — classifies it
//! (`gastown_town::witness::classify`) and climbs its ladder: a GUPP nudge, after `nudges`
//! unanswered nudges a restart of the session, after `restarts` restarts an escalation. Before
//! acting it checks the session is still the one it judged (identity AND session id); a polecat
//! whose session someone else restarted is judged afresh. Each patrol also reads the witness's
//! protocol mail (each HELP is closed into an escalation).
//!
//! Each patrol marks on the event bus which polecats need help (stalled, hung,
//! starting-stalled) and which no longer do: the stream tells `session.stalled`, and `gastown
//! status` and the dashboard show them stalled.
//!
//! Each step is logged (`tracing` info with identity, session id, reason and the step's count)
//! and the ladders that took a step are shown on the witness's node in `gastown actors`
//! ([`WitnessMsg::Report`]).

use gastown_actors::ledger::LedgerHandle;
use gastown_actors::registry;
use gastown_actors::role::startup_prompt;
use gastown_actors::session::{NudgeOptions, client};
use gastown_beads::Bead;
use gastown_town::identity::{AgentIdentity, Role};
use gastown_town::rig::Rig;
use gastown_town::town::Town;
use gastown_town::witness::inbox::ReworkWatch;
use gastown_town::witness::{Action, Health, Ladder, Observation, SessionId, WitnessConfig};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;

#[derive(Clone)]
pub struct WitnessActor;

pub enum WitnessMsg {
    /// Patrol the rig's polecats (the timer).
    Patrol,
    /// What the witness did to the polecats it still watches, for `gastown actors`.
    Report(ractor::RpcReplyPort<Option<String>>),
    /// How long ago its last patrol ended (or it started, before its first), and its
    /// `patrol_every`: the deacon's check that every witness still patrols. A witness stuck in
    /// a patrol answers nothing.
    LastPatrol(ractor::RpcReplyPort<(std::time::Duration, std::time::Duration)>),
}

#[derive(Clone)]
pub struct WitnessArgs {
    pub town: Town,
    pub rig: String,
    pub ledger: LedgerHandle,
    /// The request handler, for its per-identity start lock: a restart by the witness never
    /// overlaps a sling's or the GUPP patrol's start of the same polecat. `None` only in a tree
    /// built without one.
    pub handler: Option<Arc<super::handler::TownHandler>>,
    /// The town's event stream: each patrol marks which polecats it judged in trouble, so the
    /// stream (`session.stalled`), `gastown status` and the dashboard show them stalled.
    pub bus: Arc<super::events::EventBus>,
}

/// Whether a patrol of this process already hung for `GASTOWN_WITNESS_FAULT=hang-patrol`.
static HUNG_ONCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub struct WitnessState {
    args: WitnessArgs,
    config: WitnessConfig,
    ladder: Ladder,
    /// When the last patrol ended: timer ticks queued behind a slow patrol (a nudge waits for
    /// its echo) are skipped, so a step always gets about `patrol_every` to be answered.
    last_patrol: Option<std::time::Instant>,
    /// When this incarnation started.
    started: std::time::Instant,
    /// Unread MERGE_FAILED / REWORK wisps of the rig's polecats.
    rework: ReworkWatch,
}

impl Actor for WitnessActor {
    type Msg = WitnessMsg;
    type State = WitnessState;
    type Arguments = WitnessArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<WitnessMsg>,
        args: WitnessArgs,
    ) -> Result<WitnessState, ActorProcessingErr> {
        // The rig was loaded (and its rig.toml checked) before its subtree started; should it
        // not load now, the witness runs with the defaults rather than fail (and, failing again
        // at each restart, take its rig's subtree down with it).
        let config = match Rig::load(&args.town, &args.rig) {
            Ok(rig) => rig.config.witness,
            Err(e) => {
                tracing::warn!(rig = %args.rig, "witness uses the default [witness] knobs: {e}");
                WitnessConfig::default()
            }
        };
        myself.send_interval(config.patrol_every.0, || WitnessMsg::Patrol);
        Ok(WitnessState {
            args,
            config,
            ladder: Ladder::default(),
            last_patrol: None,
            started: std::time::Instant::now(),
            rework: ReworkWatch::default(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<WitnessMsg>,
        msg: WitnessMsg,
        state: &mut WitnessState,
    ) -> Result<(), ActorProcessingErr> {
        let reply = match msg {
            WitnessMsg::Patrol => None,
            WitnessMsg::Report(reply) => Some(reply),
            WitnessMsg::LastPatrol(reply) => {
                let since = state.last_patrol.unwrap_or(state.started).elapsed();
                let _ = reply.send((since, state.config.patrol_every.0));
                return Ok(());
            }
        };
        if let Some(reply) = reply {
            // The asker may have given up waiting: nothing to do then.
            let _ = reply.send(state.ladder.summary());
            return Ok(());
        }
        let half = state.config.patrol_every.0 / 2;
        if state.last_patrol.is_some_and(|t| t.elapsed() < half) {
            return Ok(());
        }
        // Crash tests only: the first patrol of this process hangs, as a witness stuck in a
        // patrol would (the deacon's check kills it; `tests/integration/deacon.rs`).
        if gastown_beads::fault::active("GASTOWN_WITNESS_FAULT", "hang-patrol")
            && !HUNG_ONCE.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            std::future::pending::<()>().await;
        }
        patrol(state).await;
        state.last_patrol = Some(std::time::Instant::now());
        Ok(())
    }
}

/// A polecat of the rig with work on its hook, as the ledger shows it.
struct Watched {
    identity: AgentIdentity,
    hook: Bead,
    /// `bead` or `bead#step`: the ladder starts afresh when it changes.
    work: String,
}

async fn hooked_polecats(args: &WitnessArgs) -> Option<Vec<Watched>> {
    let rig = args.rig.clone();
    let view = args
        .ledger
        .try_call("witness: hooked polecats", move |ledger| {
            let hooked = ledger.list(&gastown_beads::ListFilter {
                status: Some(gastown_beads::Status::Hooked),
                ..gastown_beads::ListFilter::default()
            })?;
            let mut out: Vec<Watched> = Vec::new();
            for bead in hooked {
                let Ok(identity) = AgentIdentity::parse(&bead.assignee) else {
                    continue;
                };
                let ours = identity.role == Role::Polecat && identity.rig.as_deref() == Some(&rig);
                if !ours || out.iter().any(|w| w.identity == identity) {
                    continue;
                }
                // The molecule sling attached to the hooked bead, and its current step.
                let step = gastown_town::molecule::record::attached_molecule(&bead)
                    .ok()
                    .flatten()
                    .and_then(|mol| gastown_town::molecule::load(ledger, mol).ok())
                    .and_then(|m| m.current().map(|s| s.step.clone()));
                let work = match step {
                    Some(step) => format!("{}#{step}", bead.id),
                    None => bead.id.clone(),
                };
                out.push(Watched {
                    identity,
                    hook: bead,
                    work,
                });
            }
            Ok(out)
        })
        .await;
    match view {
        Ok(view) => Some(view),
        Err(e) => {
            tracing::warn!(rig = %args.rig, "witness cannot read hooked work ({e}); it tries again");
            None
        }
    }
}

/// What the witness sees of `identity`'s running session now, if one runs.
async fn observe(identity: &AgentIdentity, work: &str) -> Option<Observation> {
    let session = registry::session(identity)?;
    let snap = client::snapshot(&session).await.ok()?;
    if snap.exit.is_some() {
        return None; // Ended: its supervisor restarts it; nothing to judge.
    }
    let heartbeat = registry::role_info(identity)
        .await
        .flatten()
        .and_then(|info| info.last_heartbeat_ms);
    Some(Observation {
        session: SessionId {
            pid: snap.pid,
            started_at_ms: snap.started_at_ms,
        },
        now_ms: gastown_actors::role::now_ms(),
        last_output_ms: snap.last_output_at_ms,
        last_heartbeat_ms: heartbeat,
        at_prompt: snap.ready && snap.idle,
        limited: snap
            .blocked
            .as_deref()
            .is_some_and(gastown_town::limits::signals::is_limit),
        work: Some(work.to_string()),
    })
}

/// Is `session` still `identity`'s running session?
async fn still(identity: &AgentIdentity, session: SessionId) -> bool {
    let Some(actor) = registry::session(identity) else {
        return false;
    };
    client::snapshot(&actor).await.is_ok_and(|s| {
        s.exit.is_none() && s.pid == session.pid && s.started_at_ms == session.started_at_ms
    })
}

async fn patrol(state: &mut WitnessState) {
    read_inbox(&state.args).await;
    check_rework(state).await;
    let Some(watched) = hooked_polecats(&state.args).await else {
        return;
    };
    let present: Vec<&str> = watched
        .iter()
        .map(|w| w.identity.address.as_str())
        .collect();
    state.ladder.retain(&present);
    state.args.bus.keep_health(&state.args.rig, &present);
    for w in &watched {
        let address = &w.identity.address;
        let Some(obs) = observe(&w.identity, &w.work).await else {
            state.args.bus.mark_health(address, None);
            continue;
        };
        let (health, action) = state.ladder.decide(address, &obs, &state.config);
        let trouble = health.needs_help().then(|| health.to_string());
        state.args.bus.mark_health(address, trouble.as_deref());
        if action == Action::None {
            continue;
        }
        act(&state.args, w, health, action).await;
    }
}

async fn act(args: &WitnessArgs, w: &Watched, health: Health, action: Action) {
    let identity = &w.identity;
    let address = &identity.address;
    let session = match &action {
        Action::None => return,
        Action::Nudge { session, .. }
        | Action::Restart { session, .. }
        | Action::Escalate { session } => *session,
    };
    // A restart holds the identity's start lock, taken before the last look: a sling or the
    // GUPP patrol starting this polecat finishes first, and its new session is judged afresh.
    let _starting = match (&action, &args.handler) {
        (Action::Restart { .. }, Some(handler)) => Some(handler.attempts.lock(address).await),
        _ => None,
    };
    if !still(identity, session).await {
        tracing::info!(agent = %address, %session, "witness: the session it judged is gone; judged afresh next patrol");
        return;
    }
    match action {
        Action::None => {}
        Action::Nudge { n, .. } => {
            tracing::info!(agent = %address, %session, reason = %health, n, "witness nudges");
            let text = format!(
                "{} Witness: you look {health}; work your hook (step {}).",
                startup_prompt(identity, Some(&w.hook)),
                w.work
            );
            let Some(actor) = registry::session(identity) else {
                return;
            };
            // On its own task: a nudge waits for the session to be idle (a hung one never is),
            // and the witness's other polecats do not wait for it.
            let address = address.clone();
            tokio::spawn(async move {
                if let Err(e) = client::nudge(&actor, &text, NudgeOptions::default()).await {
                    tracing::warn!(agent = %address, %session, "witness cannot nudge: {e}");
                }
            });
        }
        Action::Restart { n, .. } => {
            tracing::info!(agent = %address, %session, reason = %health, n, "witness restarts the session");
            let restarted = match registry::role(identity).await {
                Some(role) => role
                    .restart_child("session")
                    .await
                    .map_err(|e| e.to_string()),
                None => Err("its role is not running".to_string()),
            };
            if let Err(e) = restarted {
                tracing::warn!(agent = %address, %session, "witness cannot restart: {e}");
            }
        }
        Action::Escalate { .. } => {
            tracing::info!(agent = %address, %session, reason = %health, "witness escalates");
            escalate(args, w, session, health).await;
        }
    }
}

/// The witness's protocol mail: each HELP is closed into an escalation (`gastown_town::witness::inbox`).
async fn read_inbox(args: &WitnessArgs) {
    let (rig, town) = (args.rig.clone(), args.town.clone());
    let handled = args
        .ledger
        .call("witness: inbox", move |l| {
            gastown_town::witness::inbox::handle_help(l, &town, &rig)
        })
        .await;
    match handled {
        Ok(Ok(handled)) => {
            for help in handled {
                tracing::info!(rig = %args.rig, agent = %help.from, escalation = %help.escalation, "witness closes a HELP into its escalation");
                if let Some((escalation, outside)) = help.outside {
                    deliver(&args.town, escalation, outside);
                }
            }
        }
        Ok(Err(e)) => tracing::warn!(rig = %args.rig, "witness cannot read its inbox: {e:#}"),
        Err(e) => tracing::warn!(rig = %args.rig, "witness cannot read its inbox: {e}"),
    }
}

/// The rig's polecats with a running session that leave a MERGE_FAILED or REWORK unread for
/// `stall_after` (after the witness first saw it) get one nudge about it.
async fn check_rework(state: &mut WitnessState) {
    let rig = state.args.rig.clone();
    let polecats: Vec<(AgentIdentity, _)> = registry::running_sessions()
        .into_iter()
        .filter(|(i, _)| i.role == Role::Polecat && i.rig.as_deref() == Some(rig.as_str()))
        .collect();
    if polecats.is_empty() {
        state.rework = ReworkWatch::default();
        return;
    }
    let addresses: Vec<String> = polecats.iter().map(|(i, _)| i.address.clone()).collect();
    let unread = state
        .args
        .ledger
        .call("witness: unread rework", move |l| {
            let mut out = Vec::new();
            for address in addresses {
                for (id, body) in gastown_town::witness::inbox::unread_rework(l, &address)? {
                    out.push((address.clone(), id, body));
                }
            }
            anyhow::Ok(out)
        })
        .await;
    let unread = match unread {
        Ok(Ok(unread)) => unread,
        Ok(Err(e)) => {
            tracing::warn!(%rig, "witness cannot read the polecats' rework mail: {e:#}");
            return;
        }
        Err(e) => {
            tracing::warn!(%rig, "witness cannot read the polecats' rework mail: {e}");
            return;
        }
    };
    let ids: Vec<&str> = unread.iter().map(|(_, id, _)| id.as_str()).collect();
    let now = gastown_actors::role::now_ms();
    let due = state.rework.due(&ids, now, state.config.stall_after.0);
    for (address, id, body) in unread.iter().filter(|(_, id, _)| due.contains(id)) {
        let Some((_, session)) = polecats.iter().find(|(i, _)| &i.address == address) else {
            continue;
        };
        tracing::info!(agent = %address, mail = %id, "witness nudges about unread rework mail");
        let text = format!(
            "Witness: you have not read {id}: {body}. Run `gastown mail read {id}` and act on it."
        );
        let (session, address) = (session.clone(), address.clone());
        tokio::spawn(async move {
            if let Err(e) = client::nudge(&session, &text, NudgeOptions::default()).await {
                tracing::warn!(agent = %address, "witness cannot nudge: {e}");
            }
        });
    }
}

/// Tell the mayor and the overseer (the path `super::stuck` uses).
async fn escalate(args: &WitnessArgs, w: &Watched, session: SessionId, health: Health) {
    use gastown_town::escalation::Severity;
    let from = format!("{}/witness", args.rig);
    let address = w.identity.address.clone();
    let message = format!(
        "{address} is {health}: nudges and restarts did not help. The witness of {rig} found it \
         {health} on {work} (session {session}), nudged it and restarted its session as \
         configured (rig.toml [witness]), and it is still {health}.\n\nWhat to do: look at its \
         screen with `gastown peek {address}` and its sessions with `gastown seance {address}`; \
         re-sling the work with `gastown sling {hook} {address} --runtime <another>`, or stop it.",
        rig = args.rig,
        work = w.work,
        hook = w.hook.id,
    );
    super::escalation::raise_from_supervisor(
        &args.ledger,
        &args.town,
        Severity::High,
        &from,
        super::escalation::About::Bead(w.hook.id.clone()),
        message,
    )
    .await;
}

/// Runs an escalation's outside channels (bell, notify, webhook) off the witness's patrol.
fn deliver(
    town: &Town,
    escalation: gastown_town::escalation::Escalation,
    outside: Vec<gastown_town::escalation::routing::Outside>,
) {
    if outside.is_empty() {
        return;
    }
    tokio::spawn(super::escalation::deliver(
        town.root.clone(),
        town.config.escalation.timeout.0,
        escalation,
        outside,
    ));
}
