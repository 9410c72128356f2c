//! The supervisor's answers to town requests arriving on the socket.
//!
//! Every request runs as the connection's identity (stamped by the socket layer at handshake);
//! a session's request also counts as its heartbeat.

use super::attach::Attachments;
use super::introspect;
use super::protocol::{TownReply, TownRequest};
use super::topology::{self, TreeConfig};
use crate::cli::{bead, mail};
use crate::socket::{
    ErrorCode, Handler, HandlerFuture, Identity, ReplyBody, RequestBody, WireError,
};
use gastown_actors::ledger::LedgerHandle;
use gastown_actors::role::RoleMsg;
use gastown_actors::session::{NudgeOptions, SessionMsg, client};
use gastown_beads::{ListFilter, Status};
use gastown_supervision::{SupervisorEvent, SupervisorRef};
use gastown_town::identity::AgentIdentity;
use gastown_town::work::{self, Effect, WorkCommand};
use ractor::ActorRef;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

/// How many supervision events `gastown actor` can show.
pub(super) const EVENT_HISTORY: usize = 2000;

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
            self.heartbeat(identity).await;
            self.answer(identity, *request).await.map(ReplyBody::Town)
        })
    }
}

fn err(code: ErrorCode, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

fn actor_name(identity: &Identity) -> String {
    match identity {
        Identity::Overseer => "overseer".to_string(),
        Identity::Agent { address, .. } => address.clone(),
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

    async fn heartbeat(&self, identity: &Identity) {
        let Identity::Agent { address, .. } = identity else {
            return;
        };
        let Ok(root) = self.root().await else { return };
        if let Ok(role) = topology::find_role(root, address).await
            && let Ok(Some(agent)) = role.child_actor::<RoleMsg>("agent").await
        {
            let _ = agent.send_message(RoleMsg::Heartbeat);
        }
    }

    async fn answer(
        &self,
        identity: &Identity,
        request: TownRequest,
    ) -> Result<TownReply, WireError> {
        match request {
            TownRequest::Bead(cmd) => self.bead(identity, cmd).await,
            TownRequest::Sync => self.sync().await,
            TownRequest::Actors => self.actors().await,
            TownRequest::Actor { path } => self.actor(&path).await,
            TownRequest::Peek { agent, lines } => self.peek(&agent, lines).await,
            TownRequest::Nudge { agent, text } => self.nudge(&agent, &text).await,
            TownRequest::Restart { agent } => self.restart(&agent).await,
            TownRequest::Kill { agent } => self.kill(&agent).await,
            TownRequest::Spawn {
                address,
                runtime,
                env,
            } => self.spawn(&address, runtime.as_deref(), &env).await,
            TownRequest::Heartbeat => Ok(TownReply::Done),
            TownRequest::Hook => self.hook(identity).await,
            TownRequest::AttachStart { agent, rows, cols } => {
                let session = self.session(&agent).await?;
                self.attachments.start(session, rows, cols).await
            }
            TownRequest::AttachPoll { id, wait_ms } => self.attachments.poll(id, wait_ms).await,
            TownRequest::AttachInput { id, bytes } => self.attachments.input(id, bytes).await,
            TownRequest::AttachResize { id, rows, cols } => {
                self.attachments.resize(id, rows, cols).await
            }
            TownRequest::AttachEnd { id } => self.attachments.end(id).await,
            TownRequest::Mail(cmd) => {
                let reply = self.mail(identity, cmd).await;
                // New mail may be waiting for a live session: let the router look now.
                if let Some(router) = ractor::registry::where_is(super::router::ROUTER_NAME) {
                    let router: ActorRef<super::router::RouterMsg> = router.into();
                    let _ = router.send_message(super::router::RouterMsg::Deliver);
                }
                reply
            }
            TownRequest::Work(cmd) => self.work(identity, cmd).await,
            TownRequest::Mol(cmd) => self.mol(identity, cmd).await,
            TownRequest::Dnd { on, agent } => {
                self.ledger_text(identity, "dnd", move |l, _town, who| {
                    crate::cli::dnd_for(l, who, agent.as_deref(), on)
                })
                .await
            }
            // `mq process` lands a queue (git and gates): in steps, never in the ledger actor.
            TownRequest::Mq(cmd) => match crate::cli::mq::ProcessRequest::of(cmd) {
                Ok(process) => self.mq_process(process).await,
                Err(cmd) => {
                    self.ledger_text(identity, "mq command", move |l, town, who| {
                        crate::cli::mq::apply(l, town, cmd, who)
                    })
                    .await
                }
            },
            TownRequest::Convoy(cmd) => {
                self.ledger_text(identity, "convoy command", move |l, town, who| {
                    crate::cli::convoy::apply(l, town, cmd, who)
                })
                .await
            }
            TownRequest::RigClaims => self.rig_claims().await,
        }
    }

    async fn bead(
        &self,
        identity: &Identity,
        cmd: bead::BeadCommand,
    ) -> Result<TownReply, WireError> {
        let who = actor_name(identity);
        let town = self.tree.town.clone();
        let result = self
            .ledger
            .call("bead command", move |ledger| {
                let out = bead::apply(ledger, &town, cmd, &who).map_err(|e| format!("{e:#}"));
                // A bead command may change a mail bead by hand: the inbox index must re-read.
                gastown_town::mail::index::invalidate(ledger);
                out
            })
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?;
        result
            .map(TownReply::Text)
            .map_err(|e| err(ErrorCode::InvalidArgument, e))
    }

    async fn mail(
        &self,
        identity: &Identity,
        cmd: mail::MailCommand,
    ) -> Result<TownReply, WireError> {
        let who = actor_name(identity);
        let result = self
            .ledger
            .call("mail command", move |ledger| {
                mail::apply(ledger, cmd, &who).map_err(|e| format!("{e:#}"))
            })
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?;
        result
            .map(TownReply::Text)
            .map_err(|e| err(ErrorCode::InvalidArgument, e))
    }

    async fn work(&self, identity: &Identity, cmd: WorkCommand) -> Result<TownReply, WireError> {
        let who = actor_name(identity);
        let town = self.tree.town.clone();
        // Sling and done run git between their ledger steps: on a blocking thread.
        let outcome = self
            .ledger
            .in_steps(move |steps| {
                work::apply(steps, &town, cmd, &who).map_err(|e| format!("{e:#}"))
            })
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?
            .map_err(|e| err(ErrorCode::InvalidArgument, e))?;
        let mut text = outcome.text;
        for effect in outcome.effects {
            match self.carry_out(effect).await {
                Ok(note) => text.push_str(&note),
                Err(e) => text.push_str(&format!("warning: {e}\n")),
            }
        }
        Ok(TownReply::Text(text))
    }

    async fn mol(
        &self,
        identity: &Identity,
        cmd: crate::cli::mol::MolCommand,
    ) -> Result<TownReply, WireError> {
        let who = actor_name(identity);
        let town = self.tree.town.clone();
        let result = self
            .ledger
            .call("mol command", move |ledger| {
                crate::cli::mol::apply(ledger, &town, cmd, &who).map_err(|e| format!("{e:#}"))
            })
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?;
        result
            .map(TownReply::Text)
            .map_err(|e| err(ErrorCode::InvalidArgument, e))
    }

    /// Run a ledger command family's `apply` in the ledger actor as the caller.
    async fn ledger_text<F>(
        &self,
        identity: &Identity,
        name: &'static str,
        f: F,
    ) -> Result<TownReply, WireError>
    where
        F: FnOnce(
                &mut gastown_beads::Ledger,
                &gastown_town::town::Town,
                &str,
            ) -> anyhow::Result<String>
            + Send
            + 'static,
    {
        let who = actor_name(identity);
        let town = self.tree.town.clone();
        let result = self
            .ledger
            .call(name, move |ledger| {
                f(ledger, &town, &who).map_err(|e| format!("{e:#}"))
            })
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?;
        result
            .map(TownReply::Text)
            .map_err(|e| err(ErrorCode::InvalidArgument, e))
    }

    /// Each role's mailbox depth: its unread mail in the ledger (the actor's mailbox mirrors it).
    async fn fill_unread_mail(&self, tree: &mut introspect::ActorNode) {
        let mut addresses = Vec::new();
        introspect::visit(tree, &mut |n| {
            if let Some(a) = topology::address_of_role_path(&n.path) {
                addresses.push(a);
            }
        });
        let counts = self
            .ledger
            .call("actors: unread mail", move |l| {
                addresses
                    .into_iter()
                    .map(|a| {
                        let n = gastown_town::mail::store::unread_for(l, &a)
                            .map(|m| m.len())
                            .unwrap_or(0);
                        (a, n)
                    })
                    .collect::<std::collections::HashMap<String, usize>>()
            })
            .await
            .unwrap_or_default();
        introspect::visit_mut(tree, &mut |n| {
            if let Some(a) = topology::address_of_role_path(&n.path)
                && let Some(count) = counts.get(&a)
            {
                n.mailbox_depth = Some(n.mailbox_depth.unwrap_or(0) + count);
            }
        });
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
        match topology::stop_agent(root, &identity).await? {
            true => Ok(format!("stopped {address}'s session\n")),
            false => Ok(String::new()),
        }
    }

    async fn sync(&self) -> Result<TownReply, WireError> {
        let outcome = self
            .ledger
            .sync()
            .await
            .map_err(|e| err(ErrorCode::Internal, e.to_string()))?;
        Ok(TownReply::Text(match outcome {
            Some(c) => format!("committed {} bead(s) in {}\n", c.beads, c.commit),
            None => "nothing to commit: the ledger is in git\n".to_string(),
        }))
    }

    async fn actors(&self) -> Result<TownReply, WireError> {
        let mut tree = introspect::tree(self.root().await?)
            .await
            .map_err(|e| err(ErrorCode::Internal, e))?;
        self.fill_unread_mail(&mut tree).await;
        let json =
            serde_json::to_string(&tree).map_err(|e| err(ErrorCode::Internal, e.to_string()))?;
        Ok(TownReply::Json(json))
    }

    async fn actor(&self, path: &str) -> Result<TownReply, WireError> {
        let tree = introspect::tree(self.root().await?)
            .await
            .map_err(|e| err(ErrorCode::Internal, e))?;
        let Some(node) = introspect::find(&tree, path) else {
            return Err(err(
                ErrorCode::NotFound,
                format!("no actor at path {path:?}: `gastown actors` lists the paths"),
            ));
        };
        let events: Vec<SupervisorEvent> = self
            .events
            .lock()
            .map_err(|_| err(ErrorCode::Internal, "event history poisoned"))?
            .iter()
            .filter(|e| {
                let child_path = format!("{}/{}", e.supervisor, e.child);
                child_path == path
                    || child_path.starts_with(&format!("{path}/"))
                    || e.supervisor == path
            })
            .rev()
            .take(50)
            .cloned()
            .collect();
        let json = serde_json::json!({ "actor": node, "events": events });
        Ok(TownReply::Json(json.to_string()))
    }

    async fn session(&self, agent: &str) -> Result<ActorRef<SessionMsg>, WireError> {
        let role = topology::find_role(self.root().await?, agent)
            .await
            .map_err(|e| err(ErrorCode::NotFound, e))?;
        role.child_actor::<SessionMsg>("session")
            .await
            .ok()
            .flatten()
            .ok_or_else(|| {
                err(
                    ErrorCode::NotFound,
                    format!("{agent} has no running session (no runtime, or it is restarting): see `gastown actors`"),
                )
            })
    }

    async fn peek(&self, agent: &str, lines: Option<usize>) -> Result<TownReply, WireError> {
        let session = self.session(agent).await?;
        let text = client::peek(&session, lines)
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?;
        Ok(TownReply::Text(text))
    }

    async fn nudge(&self, agent: &str, text: &str) -> Result<TownReply, WireError> {
        let session = self.session(agent).await?;
        client::nudge(&session, text, NudgeOptions::default())
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?;
        Ok(TownReply::Text(format!("nudged {agent}\n")))
    }

    async fn restart(&self, agent: &str) -> Result<TownReply, WireError> {
        let role = topology::find_role(self.root().await?, agent)
            .await
            .map_err(|e| err(ErrorCode::NotFound, e))?;
        role.restart_child("session").await.map_err(|e| {
            err(
                ErrorCode::Unavailable,
                format!("cannot restart {agent}'s session: {e}"),
            )
        })?;
        Ok(TownReply::Text(format!("restarted {agent}'s session\n")))
    }

    async fn kill(&self, agent: &str) -> Result<TownReply, WireError> {
        let session = self.session(agent).await?;
        let pid = client::snapshot(&session).await.map(|s| s.pid).ok();
        client::kill(&session)
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?;
        let pid = pid
            .map(|p| format!(" (process group {p})"))
            .unwrap_or_default();
        Ok(TownReply::Text(format!(
            "killed {agent}'s session{pid}; its supervisor restarts it\n"
        )))
    }

    async fn spawn(
        &self,
        address: &str,
        runtime: Option<&str>,
        env: &[(String, String)],
    ) -> Result<TownReply, WireError> {
        let identity = AgentIdentity::parse(address)
            .map_err(|e| err(ErrorCode::InvalidArgument, e.to_string()))?;
        let started = self
            .spawn_identity(&identity, runtime, env)
            .await
            .map_err(|e| err(ErrorCode::InvalidArgument, e))?;
        Ok(TownReply::Text(started.replace("started ", "spawned ")))
    }

    /// What the ledger says belongs to whom, for `gastown rig show`'s orphans.
    async fn rig_claims(&self) -> Result<TownReply, WireError> {
        let claims = self
            .ledger
            .call("rig claims", |l| {
                gastown_town::rig::orphans::Claims::read(l).map_err(|e| format!("{e:#}"))
            })
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?
            .map_err(|e| err(ErrorCode::Internal, e))?;
        let json =
            serde_json::to_string(&claims).map_err(|e| err(ErrorCode::Internal, e.to_string()))?;
        Ok(TownReply::Json(json))
    }

    async fn hook(&self, identity: &Identity) -> Result<TownReply, WireError> {
        let Identity::Agent { address, .. } = identity else {
            return Err(err(
                ErrorCode::InvalidArgument,
                "the overseer has no hook: run this from an agent session",
            ));
        };
        let address = address.clone();
        let beads = self
            .ledger
            .try_call("hook show", move |ledger| {
                ledger.list(&ListFilter {
                    status: Some(Status::Hooked),
                    assignee: Some(address),
                    ..ListFilter::default()
                })
            })
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?;
        let lines: Vec<String> = beads.iter().map(|b| b.to_json_line()).collect();
        Ok(TownReply::Json(format!("[{}]", lines.join(","))))
    }
}
