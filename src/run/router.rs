//! The router: mail delivery into live sessions.
//!
//! A mail is a bead; sending it commits it to the ledger first. The router then tells the
//! recipient's session, as its runtime suits: typed into the PTY once the session is idle
//! ("you have mail"), or — for runtimes with hooks — held for `gastown mail check --inject`, which
//! their UserPromptSubmit hook runs at the next prompt; a hook runtime that sits idle with held
//! mail for `[run] mail_announce_after` gets a short nudge ("you have mail: run `gastown mail
//! check`"), whose prompt runs the hook. Urgent mail does not wait for idle; do-not-disturb holds
//! everything. Every notice is typed through the session's one verified path (text, echo, a
//! separate Enter, the turn taken): a mail is labelled `delivered` only once its notice was taken
//! as a turn, so a restart of anything never tells it twice, and one that could not be told yet
//! (busy session, actor down) is simply told on a later pass: the ledger is the queue, nothing is
//! lost.
//!
//! It wakes after a send through the socket and on a timer, and sweeps every running session
//! (mail sent while the supervisor was down, or to an actor that was restarting). Sessions
//! register by their agent's address (`gastown_actors::registry`), so a pass reads ractor's
//! registry rather than a snapshot of the tree. Wake-ups that
//! arrive while a pass is already queued are folded into it, so a burst of thousands of sends
//! costs a handful of passes, not one each. The same timer runs the GUPP patrol: any identity with
//! hooked work whose role is not running (its supervisor gave up) gets a new one.

use gastown_actors::ledger::LedgerHandle;
use gastown_actors::registry;
use gastown_actors::role::RoleInfo;
use gastown_actors::session::{NudgeOptions, SessionMsg, client};
use gastown_beads::Bead;
use gastown_town::identity::AgentIdentity;
use gastown_town::mail::store::{self, mark_delivered, undelivered_for};
use gastown_town::runtimes::spec::HookSupport;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The router's registry name.
pub const ROUTER_NAME: &str = "gastown-router";

use gastown_town::defaults::MAIL_SWEEP as SWEEP_EVERY;

/// How long after a "you have mail" announcement the same session is not announced to again
/// (its hook normally delivers the mail at that prompt; this bounds the nagging if it does not).
const ANNOUNCE_AGAIN: Duration = Duration::from_secs(60);

/// The announcement typed into an idle hook runtime with held mail.
pub const MAIL_ANNOUNCEMENT: &str = "you have mail: run `gastown mail check`";

#[derive(Clone)]
pub struct Router;

pub enum RouterMsg {
    /// New mail may wait for live sessions (cast after a send through the socket): queue a
    /// delivery pass unless one is queued already.
    Deliver,
    /// The queued delivery pass (sent by the router to itself).
    Pass,
    /// The timer: deliver, then run the GUPP patrol.
    Sweep,
}

/// State of [`Router`].
pub struct RouterState {
    args: RouterArgs,
    /// A `Pass` is in the mailbox: further `Deliver`s fold into it.
    pass_queued: bool,
    /// When each hook runtime (by address) was last told "you have mail".
    announced: HashMap<String, Instant>,
}

#[derive(Clone)]
pub struct RouterArgs {
    pub ledger: LedgerHandle,
    /// For the GUPP patrol: identities with hooked work and no running role get one.
    pub handler: Arc<OnceLock<Arc<super::handler::TownHandler>>>,
    /// `[run] mail_announce_after`: how long held mail waits before an idle hook runtime is told.
    pub announce_after: Duration,
}

impl Actor for Router {
    type Msg = RouterMsg;
    type State = RouterState;
    type Arguments = RouterArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<RouterMsg>,
        args: RouterArgs,
    ) -> Result<RouterState, ActorProcessingErr> {
        myself.send_interval(SWEEP_EVERY, || RouterMsg::Sweep);
        Ok(RouterState {
            args,
            pass_queued: false,
            announced: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<RouterMsg>,
        msg: RouterMsg,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RouterMsg::Deliver => {
                if !state.pass_queued {
                    state.pass_queued = true;
                    myself.send_message(RouterMsg::Pass)?;
                }
            }
            RouterMsg::Pass => {
                state.pass_queued = false;
                deliver_all(state).await;
            }
            RouterMsg::Sweep => {
                deliver_all(state).await;
                if let Some(handler) = state.args.handler.get() {
                    super::patrol::resume_hooked(handler).await;
                }
            }
        }
        Ok(())
    }
}

/// One delivery pass over every running session, found in ractor's registry (no walk of the
/// tree). Its cost is logged at debug level (`docs/benchmarks.md` measures it).
async fn deliver_all(state: &mut RouterState) {
    let started = std::time::Instant::now();
    let sessions = registry::running_sessions();
    let lookup_us = micros(started.elapsed());
    let count = sessions.len();
    for (identity, session) in sessions {
        deliver(state, &identity, &session).await;
    }
    let pass_us = micros(started.elapsed());
    tracing::debug!(sessions = count, lookup_us, pass_us, "delivery pass");
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
}

/// What one session has waiting: mail to type in, and (hook runtimes) the age of the oldest mail
/// held for its hook.
#[derive(Default)]
struct Waiting {
    to_type: Vec<Bead>,
    held_for: Option<Duration>,
}

/// Tell `identity`'s session about its undelivered mail.
async fn deliver(
    state: &mut RouterState,
    identity: &AgentIdentity,
    session: &ActorRef<SessionMsg>,
) {
    let address = identity.address.as_str();
    // A runtime with hooks runs `gastown mail check --inject` before each prompt: its mail is
    // held for that, and only urgent mail is typed in.
    let hooked = matches!(
        registry::role_info(identity).await,
        Some(Some(RoleInfo {
            hooks: HookSupport::ClaudeSettings,
            ..
        }))
    );
    let who = address.to_string();
    let waiting = state
        .args
        .ledger
        .call("router: mail to deliver", move |l| {
            if gastown_town::mail::is_dnd(l, &who) {
                let held = undelivered_for(l, &who).map(|m| m.len()).unwrap_or(0);
                if held > 0 {
                    tracing::info!(agent = %who, held, "mail held: do not disturb");
                }
                return Waiting::default();
            }
            let (to_type, held): (Vec<Bead>, Vec<Bead>) = undelivered_for(l, &who)
                .unwrap_or_default()
                .into_iter()
                .filter(|b| store::protocol_kind(b).is_none())
                .partition(|b| !hooked || is_urgent(b));
            Waiting {
                to_type,
                held_for: held.iter().filter_map(age).max(),
            }
        })
        .await
        .unwrap_or_default();
    for mail in waiting.to_type {
        if tell(session, &mail).await {
            let id = mail.id.clone();
            let who = address.to_string();
            let _ = state
                .args
                .ledger
                .call("router: mark delivered", move |l| {
                    mark_delivered(l, &id, &who).map(|_| ())
                })
                .await;
        } else {
            return; // Busy: the next pass tries again, in order.
        }
    }
    if let Some(waited) = waiting.held_for {
        announce(state, address, session, waited).await;
    }
}

/// Held mail has waited `waited` for a hook runtime's next prompt: once it waited
/// `announce_after`, an idle session is told "you have mail" (its prompt runs the hook, which
/// delivers the mail); a busy one gets it from the hook at its next turn. A sweep comes every
/// [`SWEEP_EVERY`], so the announcement is at most that late.
async fn announce(
    state: &mut RouterState,
    address: &str,
    session: &ActorRef<SessionMsg>,
    waited: Duration,
) {
    if waited < state.args.announce_after {
        return;
    }
    if state
        .announced
        .get(address)
        .is_some_and(|at| at.elapsed() < ANNOUNCE_AGAIN)
    {
        return;
    }
    let options = NudgeOptions {
        idle_timeout: Duration::from_secs(1),
        echo_timeout: Duration::from_secs(5),
        ..NudgeOptions::default()
    };
    match client::nudge(session, MAIL_ANNOUNCEMENT, options).await {
        Ok(()) => {
            tracing::info!(agent = %address, "told an idle hook runtime it has mail");
            state.announced.insert(address.to_string(), Instant::now());
        }
        Err(e) => tracing::debug!(agent = %address, "mail announcement not taken yet: {e}"),
    }
}

/// How long ago a mail was sent (`None`: its time is unreadable).
fn age(mail: &Bead) -> Option<Duration> {
    let sent = gastown_beads::time::parse_rfc3339(&mail.created_at)?;
    let now = gastown_beads::time::now_unix_nanos();
    u64::try_from(now.saturating_sub(sent))
        .ok()
        .map(Duration::from_nanos)
}

/// Type one mail notice into the session through its verified path: at once when urgent (a busy
/// runtime queues it as its next turn), else once it is idle. `true` once the runtime took it as a
/// turn.
async fn tell(session: &ActorRef<SessionMsg>, mail: &Bead) -> bool {
    let urgent = is_urgent(mail);
    // One inert line whatever the subject holds (a CR would submit the rest as a command).
    let text = gastown_town::text::for_typing(&format!(
        "{}mail from {}: {} — run `gastown mail read {}`",
        if urgent { "URGENT " } else { "" },
        store::sender_of(mail),
        mail.title,
        mail.id
    ))
    .into_owned();
    let options = NudgeOptions {
        idle_timeout: Duration::from_secs(1),
        echo_timeout: Duration::from_secs(5),
        wait_idle: !urgent,
        ..NudgeOptions::default()
    };
    match client::nudge(session, &text, options).await {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(mail = %mail.id, "mail notice not taken yet: {e}");
            false
        }
    }
}

fn is_urgent(mail: &Bead) -> bool {
    mail.labels.iter().any(|l| l == gastown_town::mail::URGENT)
}
