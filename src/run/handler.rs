//! The supervisor's answers to town requests arriving on the socket.
//!
//! Every request runs as the connection's identity (stamped by the socket layer at handshake),
//! turned here into the domain's [`Caller`] and handed to every handler; a session's request
//! also counts as its heartbeat. The ledger commands run the domain's `apply`
//! (`gastown_town::command`, `gastown_town::work`) in the ledger actor and answer its typed
//! outcome; the live tree's requests are answered in `live.rs`.

use super::attach::Attachments;
use super::authorize::command_error;
use super::topology::{self, TreeConfig};
use crate::protocol::{TownReply, TownRequest};
use crate::socket::{
    ErrorCode, Handler, HandlerFuture, Identity, ReplyBody, RequestBody, WireError,
};
use gastown_actors::ledger::LedgerHandle;
use gastown_actors::registry;
use gastown_actors::role::RoleMsg;
use gastown_beads::Ledger;
use gastown_supervision::{SupervisorEvent, SupervisorRef};
use gastown_town::Caller;
use gastown_town::command::escalation::EscalateOutcome;
use gastown_town::command::{agent, bead, convoy, escalation, mail, mol};
use gastown_town::identity::AgentIdentity;
use gastown_town::town::Town;
use gastown_town::work::{self, Effect, WorkCommand};
use ractor::ActorRef;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

pub(super) use gastown_town::defaults::EVENT_HISTORY;

/// Answers town requests.
pub struct TownHandler {
    /// The town supervisor, set once the tree is up (the socket starts inside it).
    pub root: Arc<OnceLock<SupervisorRef>>,
    pub ledger: LedgerHandle,
    pub tree: TreeConfig,
    /// Recent supervision events, newest last.
    pub events: Arc<Mutex<VecDeque<SupervisorEvent>>>,
    pub attachments: Attachments,
    /// When each identity was last started and how often in a row: the GUPP patrol retries an
    /// identity that cannot start with an exponential backoff (`super::patrol`).
    pub attempts: super::patrol::Attempts,
}

impl Handler for TownHandler {
    fn handle<'a>(&'a self, identity: &'a Identity, body: RequestBody) -> HandlerFuture<'a> {
        Box::pin(async move {
            let RequestBody::Town(request) = body else {
                return Err(WireError::new(
                    ErrorCode::InvalidArgument,
                    "this request is not a town request",
                ));
            };
            let caller = caller_of(identity)?;
            self.heartbeat(&caller).await;
            if let Err(refusal) = super::authorize::authorize(&caller, &request) {
                tracing::warn!(%caller, reason = %refusal.reason, "request refused");
                return Err(super::authorize::forbidden(refusal));
            }
            self.answer(&caller, *request)
                .await
                .map(|reply| ReplyBody::Town(Box::new(reply)))
        })
    }

    /// The streaming requests: `Subscribe`, the event stream, filtered (every caller may read
    /// it: an agent sees what `gastown status` shows it); `AttachOutput`, an attached session's
    /// output (its starter's only).
    fn stream<'a>(
        &'a self,
        identity: &'a Identity,
        body: &RequestBody,
    ) -> Option<crate::socket::handler::StreamFuture<'a>> {
        let RequestBody::Town(request) = body else {
            return None;
        };
        match &**request {
            TownRequest::Subscribe(filter) => {
                let filter = filter.clone();
                Some(Box::pin(async move { self.subscribe(identity, filter) }))
            }
            TownRequest::AttachOutput { id } => {
                let id = *id;
                Some(Box::pin(
                    async move { self.attach_output(identity, id).await },
                ))
            }
            _ => None,
        }
    }
}

impl TownHandler {
    fn subscribe(
        &self,
        identity: &Identity,
        filter: crate::protocol::EventFilter,
    ) -> Result<crate::socket::handler::ReplyStream, WireError> {
        caller_of(identity)?;
        if let Some(kind) = filter.unknown_kind() {
            return Err(err(
                ErrorCode::InvalidArgument,
                format!(
                    "no event kind {kind:?}: the kinds are {} (or their families, e.g. `mq`)",
                    crate::protocol::events::KINDS.join(", ")
                ),
            ));
        }
        use futures::StreamExt;
        let replies = super::events::stream(&self.tree.bus, filter)
            .map(|events| Ok(ReplyBody::Town(Box::new(TownReply::Events(events)))));
        Ok(replies.boxed())
    }

    async fn attach_output(
        &self,
        identity: &Identity,
        id: u64,
    ) -> Result<crate::socket::handler::ReplyStream, WireError> {
        let caller = caller_of(identity)?;
        self.attachments.check_owner(id, caller.name())?;
        let output = self.attachments.output(id).await?;
        let attachments = self.attachments.clone();
        use futures::StreamExt;
        let replies = output.map(move |reply| {
            if matches!(reply, TownReply::Output { ended: true, .. }) {
                attachments.forget_owner(id);
            }
            Ok(ReplyBody::Town(Box::new(reply)))
        });
        Ok(replies.boxed())
    }
}

pub(super) fn err(code: ErrorCode, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

/// The domain's caller for a connection's identity.
fn caller_of(identity: &Identity) -> Result<Caller, WireError> {
    match identity {
        Identity::Overseer => Ok(Caller::Overseer),
        Identity::Agent { address, .. } => AgentIdentity::parse(address)
            .map(Caller::Agent)
            .map_err(|e| {
                err(
                    ErrorCode::Internal,
                    format!("this connection's token names {address:?}, not an agent: {e}"),
                )
            }),
    }
}

impl TownHandler {
    /// The town supervisor; a request that arrives while the tree is still starting waits
    /// for it (the socket starts inside the tree, before the tree is complete).
    pub(super) async fn root(&self) -> Result<&SupervisorRef, WireError> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(root) = self.root.get() {
                return Ok(root);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(err(
                    ErrorCode::Unavailable,
                    "the town is still starting: try again",
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    async fn heartbeat(&self, caller: &Caller) {
        let Some(agent) = caller.agent() else {
            return;
        };
        if let Some(agent) = registry::role_actor(agent) {
            let _ = agent.send_message(RoleMsg::Heartbeat);
        }
    }

    async fn answer(&self, caller: &Caller, request: TownRequest) -> Result<TownReply, WireError> {
        match request {
            TownRequest::Bead(request) => {
                self.in_ledger(caller, "bead command", move |l, town, caller| {
                    bead::apply(l, town, request, caller).map(TownReply::Bead)
                })
                .await
            }
            TownRequest::Mail(request) => {
                let reply = self
                    .in_ledger(caller, "mail command", move |l, _, caller| {
                        mail::apply(l, request, caller).map(TownReply::Mail)
                    })
                    .await;
                // New mail may be waiting for a live session: let the router look now.
                if let Some(router) = ractor::registry::where_is(super::router::ROUTER_NAME) {
                    let router: ActorRef<super::router::RouterMsg> = router.into();
                    let _ = router.send_message(super::router::RouterMsg::Deliver);
                }
                reply
            }
            TownRequest::Mol(request) => {
                self.in_ledger(caller, "mol command", move |l, town, caller| {
                    mol::apply(l, town, request, caller).map(TownReply::Mol)
                })
                .await
            }
            // `mq process` lands a queue and `mq show` reads origin (git, gates): in steps.
            TownRequest::Mq(request) => self.mq_in_steps(caller, request).await,
            TownRequest::Convoy(request) => {
                self.in_ledger(caller, "convoy command", move |l, town, caller| {
                    convoy::apply(l, town, request, caller).map(TownReply::Convoy)
                })
                .await
            }
            TownRequest::Escalate(request) => {
                let reply = self
                    .in_ledger(caller, "escalate command", move |l, town, caller| {
                        escalation::apply(l, town, request, caller).map(TownReply::Escalation)
                    })
                    .await;
                self.escalation_delivered(reply)
            }
            TownRequest::Work(request) => self.work(caller, request).await,
            TownRequest::Hook { agent } => {
                self.in_ledger(caller, "hook show", move |l, _, caller| {
                    agent::hook(l, caller, agent.as_deref()).map(TownReply::Hook)
                })
                .await
            }
            TownRequest::Seance { agent } => {
                self.in_ledger(caller, "seance", move |l, _, _| {
                    agent::seance(l, &agent).map(TownReply::Seance)
                })
                .await
            }
            TownRequest::RuntimeSession { id, transcript } => {
                self.in_ledger(caller, "runtime session", move |l, _, caller| {
                    agent::runtime_session(l, caller, &id, transcript.as_deref())
                        .map(|()| TownReply::Done)
                })
                .await
            }
            TownRequest::Sync(opts) => self.sync(opts).await,
            TownRequest::RigClaims => {
                self.in_ledger(caller, "rig claims", |l, _, _| {
                    gastown_town::rig::orphans::Claims::read(l).map(TownReply::Claims)
                })
                .await
            }
            TownRequest::Costs { since } => {
                self.in_ledger(caller, "costs", move |l, _, _| {
                    gastown_town::costs::record::view(l, since.as_deref())
                        .map(|v| TownReply::Costs(Box::new(v)))
                })
                .await
            }
            TownRequest::Doctor { fix } => {
                super::dogs::ledger_findings(self.tree.town.clone(), &self.ledger, fix)
                    .await
                    .map(TownReply::Doctor)
                    .map_err(|e| err(ErrorCode::Unavailable, e))
            }
            other => self.answer_live(caller, other).await,
        }
    }

    /// Run `f` in the ledger actor as `caller`, as the operation `name` (its timing is logged under
    /// it): an error of the command is the caller's
    /// (`InvalidArgument`, its message says what to do), a ledger actor that cannot be
    /// reached is `Unavailable`.
    /// After the ledger recorded (and mailed) an escalation: the router types the urgent mail
    /// into live sessions, and a task of its own runs the outside channels (never this request,
    /// the ledger or a patrol waits for them).
    fn escalation_delivered(
        &self,
        reply: Result<TownReply, WireError>,
    ) -> Result<TownReply, WireError> {
        let mut reply = reply?;
        if let TownReply::Escalation(
            EscalateOutcome::Raised {
                escalation,
                outside,
                routed,
                ..
            }
            | EscalateOutcome::Forwarded {
                escalation,
                outside,
                routed,
            },
        ) = &mut reply
        {
            if !routed.is_empty()
                && let Some(router) = ractor::registry::where_is(super::router::ROUTER_NAME)
            {
                let router: ActorRef<super::router::RouterMsg> = router.into();
                let _ = router.send_message(super::router::RouterMsg::Deliver);
            }
            let outside = std::mem::take(outside);
            if !outside.is_empty() {
                let town = &self.tree.town;
                tokio::spawn(super::escalation::deliver(
                    town.root.clone(),
                    town.config.escalation.timeout.0,
                    escalation.clone(),
                    outside,
                ));
            }
        }
        Ok(reply)
    }

    async fn in_ledger<F>(
        &self,
        caller: &Caller,
        name: &'static str,
        f: F,
    ) -> Result<TownReply, WireError>
    where
        F: FnOnce(&mut Ledger, &Town, &Caller) -> anyhow::Result<TownReply> + Send + 'static,
    {
        let caller = caller.clone();
        let town = self.tree.town.clone();
        self.ledger
            .call(name, move |ledger| {
                f(ledger, &town, &caller).map_err(|e| command_error(&e))
            })
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?
    }

    /// A work command as `caller`, from inside the supervisor (the deacon's patrol slings
    /// stranded beads through it, exactly as `gastown sling` would).
    pub(super) async fn work_as(
        &self,
        caller: &Caller,
        request: WorkCommand,
    ) -> Result<TownReply, WireError> {
        self.work(caller, request).await
    }

    async fn work(&self, caller: &Caller, request: WorkCommand) -> Result<TownReply, WireError> {
        // Until its effects are carried out, the patrol leaves the roles they start to them.
        let _working = self.attempts.working();
        let caller = caller.clone();
        let town = self.tree.town.clone();
        // Sling and done run git between their ledger steps: on a blocking thread.
        let outcome = self
            .ledger
            .in_steps(move |steps| {
                work::apply(steps, &town, request, &caller).map_err(|e| command_error(&e))
            })
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))??;
        let mut text = outcome.text;
        for effect in outcome.effects {
            match self.carry_out(effect).await {
                Ok(note) => text.push_str(&note),
                Err(e) => text.push_str(&format!("warning: {e}\n")),
            }
        }
        Ok(TownReply::Work { text })
    }

    /// Carry out one effect of a work command on the live tree.
    pub async fn carry_out(&self, effect: Effect) -> Result<String, String> {
        self.carry_out_with(effect, true).await
    }

    /// Like [`TownHandler::carry_out`]; with `restart_running` false an identity whose role
    /// already runs is left alone (the patrol's "make sure", not a new hook's "tell it").
    pub async fn carry_out_with(
        &self,
        effect: Effect,
        restart_running: bool,
    ) -> Result<String, String> {
        match effect {
            Effect::EnsureSession { address } => {
                self.ensure_session(&address, restart_running).await
            }
            Effect::RestartSession { address } => {
                let root = self.root().await.map_err(|e| e.message)?;
                let role = topology::find_role(root, &address).await?;
                role.restart_child("session")
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(format!("restarted {address}'s session\n"))
            }
            Effect::StopSession { address } => {
                let root = self.root().await.map_err(|e| e.message)?;
                self.stop_session(root, &address).await
            }
            Effect::PushBranch {
                rig,
                branch,
                commit,
            } => {
                let town = self.tree.town.clone();
                let what = branch.clone();
                tokio::task::spawn_blocking(move || {
                    work::push_branch(&town, &rig, &branch, &commit)
                })
                .await
                .map_err(|e| format!("the push of {what} did not finish: {e}"))
            }
            Effect::Escalate {
                escalation,
                outside,
            } => {
                let town = &self.tree.town;
                tokio::spawn(super::escalation::deliver(
                    town.root.clone(),
                    town.config.escalation.timeout.0,
                    *escalation,
                    outside,
                ));
                Ok(String::new())
            }
        }
    }

    /// [`Effect::StopSession`]: stop the identity's role (session included) and wait until its
    /// processes are gone — unless new work is on its hook meanwhile (a reused polecat).
    async fn stop_session(&self, root: &SupervisorRef, address: &str) -> Result<String, String> {
        let identity = AgentIdentity::parse(address).map_err(|e| e.to_string())?;
        let who = address.to_string();
        let hooked = self
            .ledger
            .call("stop: hooked", move |l| {
                work::hooked(l, &who).map_err(|e| format!("{e:#}"))
            })
            .await
            .map_err(|e| e.to_string())??;
        if !hooked.is_empty() {
            return Ok(format!(
                "{address} kept running: it has new work on its hook\n"
            ));
        }
        finish_turn(&identity).await;
        match topology::stop_agent(root, &identity).await? {
            true => Ok(format!("stopped {address}'s session\n")),
            false => Ok(String::new()),
        }
    }

    /// `gastown sync`: the ledger's commit, and with a remote its pull and push — the network
    /// on a blocking thread, the ledger's steps in the ledger actor.
    async fn sync(&self, opts: gastown_town::sync::SyncOptions) -> Result<TownReply, WireError> {
        let town = self.tree.town.clone();
        let report = self
            .ledger
            .in_steps(move |steps| gastown_town::sync::sync(steps, &town, &opts))
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?
            .map_err(|e| err(ErrorCode::InvalidArgument, format!("{e:#}")))?;
        Ok(TownReply::Synced(Box::new(report)))
    }
}

/// How long a session being stopped after its merge may take to finish the turn it is in.
const FINISH_TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(20);
/// How often [`finish_turn`] looks at the session.
const FINISH_TURN_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Lets `identity`'s session finish the turn it is in — the agent answering its `gastown done`
/// — before it is stopped, bounded by [`FINISH_TURN_WAIT`]: a reply cut off in flight is spent
/// with the provider but never reaches the CLI's transcript, so costs and `seance` would miss
/// it. Returns at once when no session runs, it is idle, blocked or gone.
async fn finish_turn(identity: &AgentIdentity) {
    let Some(session) = registry::session(identity) else {
        return;
    };
    let deadline = tokio::time::Instant::now() + FINISH_TURN_WAIT;
    loop {
        match gastown_actors::session::client::snapshot(&session).await {
            Ok(s) if !s.idle && s.blocked.is_none() && s.exit.is_none() => {}
            _ => return,
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::info!(%identity, "stopping a session still busy after {FINISH_TURN_WAIT:?}");
            return;
        }
        tokio::time::sleep(FINISH_TURN_POLL).await;
    }
}
