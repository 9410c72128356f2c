//! The router: mail delivery into live sessions.
//!
//! A mail is a bead; sending it commits it to the ledger first. The router then tells the
//! recipient's session, as its runtime suits: typed into the PTY once the session is idle
//! ("you have mail"), or — for runtimes with hooks — held for `gastown mail check --inject`.
//! Urgent mail does not wait for idle; do-not-disturb holds everything. A mail the session was
//! told about is labelled `delivered`, so a restart of anything never tells it twice, and one that
//! could not be told yet (busy session, actor down) is simply told on a later pass: the ledger is
//! the queue, nothing is lost.
//!
//! It wakes after a send through the socket and on a timer, and sweeps every running identity
//! (mail sent while the supervisor was down, or to an actor that was restarting). Wake-ups that
//! arrive while a pass is already queued are folded into it, so a burst of thousands of sends
//! costs a handful of passes, not one each. The same timer runs the GUPP patrol: any identity with
//! hooked work whose role is not running (its supervisor gave up) gets a new one.

use super::topology;
use gastown_actors::ledger::LedgerHandle;
use gastown_actors::role::{RoleInfo, RoleMsg};
use gastown_actors::session::{NudgeOptions, SessionMsg, client};
use gastown_beads::Bead;
use gastown_supervision::SupervisorRef;
use gastown_town::mail::store::{self, mark_delivered, undelivered_for};
use gastown_town::runtimes::spec::HookSupport;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The router's registry name.
pub const ROUTER_NAME: &str = "gastown-router";

/// How often the router sweeps every identity for undelivered mail.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

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
}

#[derive(Clone)]
pub struct RouterArgs {
    pub root: Arc<OnceLock<SupervisorRef>>,
    pub ledger: LedgerHandle,
    /// For the GUPP patrol: identities with hooked work and no running role get one.
    pub handler: Arc<OnceLock<Arc<super::handler::TownHandler>>>,
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
                deliver_all(&state.args).await;
            }
            RouterMsg::Sweep => {
                deliver_all(&state.args).await;
                if let Some(handler) = state.args.handler.get() {
                    super::patrol::resume_hooked(handler).await;
                }
            }
        }
        Ok(())
    }
}

/// One delivery pass over every running identity.
async fn deliver_all(state: &RouterArgs) {
    for address in running_addresses(state).await {
        deliver(state, &address).await;
    }
}

/// Addresses of the identities whose roles run now.
async fn running_addresses(state: &RouterArgs) -> Vec<String> {
    let Some(root) = state.root.get() else {
        return Vec::new();
    };
    let Ok(tree) = super::introspect::tree(root).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    collect(&tree, &mut out);
    out
}

fn collect(node: &super::introspect::ActorNode, out: &mut Vec<String>) {
    if let Some(address) = topology::address_of_role_path(&node.path)
        && node.children.iter().any(|c| c.role == "session")
    {
        out.push(address);
    }
    for c in &node.children {
        collect(c, out);
    }
}

/// Tell `address`'s session about its undelivered mail.
async fn deliver(state: &RouterArgs, address: &str) {
    let Some(root) = state.root.get() else { return };
    let Ok(role) = topology::find_role(root, address).await else {
        return; // Not running: the mail waits in the ledger.
    };
    let Ok(Some(session)) = role.child_actor::<SessionMsg>("session").await else {
        return;
    };
    // A runtime with hooks runs `gastown mail check --inject` before each prompt: its mail is
    // held for that, and only urgent mail is typed in.
    let hooked = match role.child_actor::<RoleMsg>("agent").await {
        Ok(Some(agent)) => matches!(
            ractor::call!(agent, RoleMsg::Info),
            Ok(RoleInfo {
                hooks: HookSupport::ClaudeSettings,
                ..
            })
        ),
        _ => false,
    };
    let who = address.to_string();
    let pending = state
        .ledger
        .call("router: mail to deliver", move |l| {
            if gastown_town::mail::is_dnd(l, &who) {
                let held = undelivered_for(l, &who).map(|m| m.len()).unwrap_or(0);
                if held > 0 {
                    tracing::info!(agent = %who, held, "mail held: do not disturb");
                }
                return Vec::new();
            }
            undelivered_for(l, &who)
                .unwrap_or_default()
                .into_iter()
                .filter(|b| store::protocol_kind(b).is_none())
                .filter(|b| !hooked || is_urgent(b))
                .collect::<Vec<Bead>>()
        })
        .await
        .unwrap_or_default();
    for mail in pending {
        if tell(&session, &mail).await {
            let id = mail.id.clone();
            let who = address.to_string();
            let _ = state
                .ledger
                .call("router: mark delivered", move |l| {
                    mark_delivered(l, &id, &who).map(|_| ())
                })
                .await;
        } else {
            break; // Busy: the next pass tries again, in order.
        }
    }
}

/// Type one mail notice into the session: at once when urgent, else once it is idle.
async fn tell(session: &ActorRef<SessionMsg>, mail: &Bead) -> bool {
    let urgent = is_urgent(mail);
    let text = format!(
        "{}mail from {}: {} — run `gastown mail read {}`",
        if urgent { "URGENT " } else { "" },
        store::sender_of(mail),
        mail.title,
        mail.id
    );
    if urgent {
        return client::write(session, format!("{text}\r").into_bytes())
            .await
            .is_ok();
    }
    let options = NudgeOptions {
        idle_timeout: Duration::from_secs(1),
        echo_timeout: Duration::from_secs(5),
    };
    client::nudge(session, &text, options).await.is_ok()
}

fn is_urgent(mail: &Bead) -> bool {
    mail.labels.iter().any(|l| l == gastown_town::mail::URGENT)
}
