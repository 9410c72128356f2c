//! The supervisor's answers about the live tree: the actors, one actor and its events, a
//! session's screen, nudges, restarts, kills, spawns and attachments. No ledger command here
//! (those are in `handler.rs`), only the unread-mail counts the tree shows.

use super::handler::{TownHandler, err};
use super::introspect;
use super::topology;
use crate::protocol::{ActorDetail, ActorEvent, ActorNode, TownReply, TownRequest};
use crate::socket::{ErrorCode, WireError};
use gastown_actors::registry;
use gastown_actors::session::{NudgeOptions, SessionMsg, client};
use gastown_town::Caller;
use gastown_town::identity::AgentIdentity;
use gastown_town::limits::signals;
use gastown_town::names;
use ractor::ActorRef;
use std::collections::HashMap;

/// The longest `gastown dog run` waits for a chore.
const DOG_RUN_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// How many supervision events `gastown actor` shows.
const EVENTS_SHOWN: usize = 50;

impl TownHandler {
    /// Answer a request about the live tree.
    pub(super) async fn answer_live(
        &self,
        caller: &Caller,
        request: TownRequest,
    ) -> Result<TownReply, WireError> {
        match request {
            TownRequest::Actors => self.actors().await,
            TownRequest::Status => self.status(caller).await,
            TownRequest::Actor { target } => self.actor(&target).await,
            TownRequest::Peek { agent, lines } => self.peek(agent, lines).await,
            TownRequest::Nudge { agent, text } => self.nudge(agent, &text).await,
            TownRequest::Restart { agent } => self.restart(agent).await,
            TownRequest::Kill { agent } => self.kill(agent).await,
            TownRequest::Spawn {
                address,
                runtime,
                env,
            } => self.spawn(&address, runtime.as_deref(), &env).await,
            TownRequest::Heartbeat => Ok(TownReply::Done),
            TownRequest::Dogs => {
                let mut reports = super::dogs::reports(&self.tree.town).await;
                reports.extend(self.dog_session_reports().await);
                Ok(TownReply::Dogs(reports))
            }
            TownRequest::DogRun { name } => super::dogs::run_now(&name, DOG_RUN_WAIT)
                .await
                .map(TownReply::DogRan)
                .map_err(|e| err(ErrorCode::InvalidArgument, e)),
            TownRequest::AttachStart { agent, rows, cols } => {
                let session = self.session(&agent).await?;
                let reply = self.attachments.start(agent, session, rows, cols).await?;
                if let TownReply::Attached { id, .. } = &reply {
                    self.attachments.claim(*id, caller.name());
                }
                Ok(reply)
            }
            // An attachment is its starter's: another caller's output stream, keys and resizes
            // are refused.
            TownRequest::AttachInput { id, bytes } => {
                self.attachments.check_owner(id, caller.name())?;
                self.attachments.input(id, bytes).await
            }
            TownRequest::AttachResize { id, rows, cols } => {
                self.attachments.check_owner(id, caller.name())?;
                self.attachments.resize(id, rows, cols).await
            }
            TownRequest::AttachEnd { id } => {
                self.attachments.check_owner(id, caller.name())?;
                self.attachments.forget_owner(id);
                self.attachments.end(id).await
            }
            TownRequest::Bead(_)
            | TownRequest::Mail(_)
            | TownRequest::Mol(_)
            | TownRequest::Mq(_)
            | TownRequest::Convoy(_)
            | TownRequest::Escalate(_)
            | TownRequest::Work(_)
            | TownRequest::Hook { .. }
            | TownRequest::Seance { .. }
            | TownRequest::Sync(_)
            | TownRequest::RigClaims
            | TownRequest::Costs { .. }
            | TownRequest::Doctor { .. }
            | TownRequest::RuntimeSession { .. } => Err(err(
                ErrorCode::Internal,
                "a ledger request reached the live tree's handler: this is a bug",
            )),
            TownRequest::Subscribe(_) | TownRequest::AttachOutput { .. } => Err(err(
                ErrorCode::Internal,
                "a subscription reached the one-reply handler: this is a bug (it is streamed)",
            )),
        }
    }

    async fn tree(&self) -> Result<ActorNode, WireError> {
        introspect::tree(self.root().await?)
            .await
            .map_err(|e| err(ErrorCode::Internal, e))
    }

    async fn actors(&self) -> Result<TownReply, WireError> {
        let mut tree = self.tree().await?;
        self.fill_unread_mail(&mut tree).await;
        Ok(TownReply::Tree(tree))
    }

    /// `gastown status`: the ledger's picture ([`gastown_town::status::gather`]), with each
    /// rig's supervisor and each agent's session as the live tree has them. Only the overseer
    /// sees the subjects of its own mail.
    async fn status(&self, caller: &Caller) -> Result<TownReply, WireError> {
        let town = self.tree.town.clone();
        let mut status = self
            .ledger
            .call("status", move |l| {
                gastown_town::status::gather(l, &town).map_err(|e| format!("{e:#}"))
            })
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?
            .map_err(|e| err(ErrorCode::Internal, e))?;
        let tree = self.tree().await?;
        status.live = true;
        for rig in &mut status.rigs {
            let path = names::rig_place(&rig.name).path();
            rig.running =
                Some(introspect::find(&tree, &path).is_some_and(|n| n.state == "running"));
        }
        let mut roles = HashMap::new();
        introspect::visit(&tree, &mut |n| {
            if let Some(identity) = introspect::role_identity(n) {
                let session = n.children.iter().find(|c| c.path.ends_with("/session"));
                roles.insert(
                    identity.address,
                    (n.state.clone(), session.map(|s| s.state.clone())),
                );
            }
        });
        for agent in &mut status.agents {
            agent.session = Some(match roles.get(&agent.address) {
                None => "not running".to_string(),
                Some((role, _)) if role != "running" => role.clone(),
                Some((_, None)) => "no session".to_string(),
                Some((_, Some(state))) if state != "running" => state.clone(),
                Some(_) => self.session_activity(&agent.address).await,
            });
        }
        for rig in &mut status.rigs {
            let prefix = format!("{}/polecats/", rig.name);
            rig.stalled = status
                .agents
                .iter()
                .filter(|a| a.address.starts_with(&prefix) && a.hook.is_some())
                .filter(|a| {
                    a.session
                        .as_deref()
                        .is_some_and(|s| s.starts_with("stalled"))
                })
                .count();
            rig.working = rig.working.saturating_sub(rig.stalled);
        }
        if !matches!(caller, Caller::Overseer) {
            status.mail.latest.clear();
        }
        status.find_attention();
        Ok(TownReply::Status(Box::new(status)))
    }

    /// A running session's activity: `idle` (quiet at its prompt), `working`, `blocked: …`, or
    /// `stalled` / `stalled (hung)` as the rig's witness last judged it.
    async fn session_activity(&self, address: &str) -> String {
        let Ok(identity) = AgentIdentity::parse(address) else {
            return "unknown".to_string();
        };
        let Some(session) = registry::session(&identity) else {
            return "restarting".to_string();
        };
        match client::snapshot(&session).await {
            Ok(snapshot) => match (snapshot.blocked, self.tree.bus.stalled(address)) {
                (Some(dialog), _) => format!("blocked: {dialog}"),
                (None, Some(word)) if word == "stalled" => word,
                (None, Some(word)) => format!("stalled ({word})"),
                (None, None) if snapshot.idle => "idle".to_string(),
                (None, None) => "working".to_string(),
            },
            Err(_) => "restarting".to_string(),
        }
    }

    async fn actor(&self, target: &str) -> Result<TownReply, WireError> {
        let tree = self.tree().await?;
        let Some(node) = find_target(&tree, target) else {
            return Err(err(
                ErrorCode::NotFound,
                format!(
                    "no actor {target:?}: name an agent by its address (e.g. alpha/crew/max), \
                     or an actor by a path `gastown actors` lists"
                ),
            ));
        };
        let path = node.path.as_str();
        let events: Vec<ActorEvent> = self
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
            .take(EVENTS_SHOWN)
            .map(ActorEvent::from)
            .collect();
        Ok(TownReply::Actor(ActorDetail {
            actor: node.clone(),
            events,
        }))
    }

    /// Each role's mailbox depth: its unread mail in the ledger (the actor's mailbox mirrors it).
    async fn fill_unread_mail(&self, tree: &mut ActorNode) {
        let mut addresses = Vec::new();
        introspect::visit(tree, &mut |n| {
            if let Some(identity) = introspect::role_identity(n) {
                addresses.push(identity.address);
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
                    .collect::<HashMap<String, usize>>()
            })
            .await
            .unwrap_or_default();
        introspect::visit_mut(tree, &mut |n| {
            if let Some(identity) = introspect::role_identity(n)
                && let Some(count) = counts.get(&identity.address)
            {
                n.mailbox_depth = Some(n.mailbox_depth.unwrap_or(0) + count);
            }
        });
    }

    /// The running session of `agent`, found by its registered name.
    pub(super) async fn session(&self, agent: &str) -> Result<ActorRef<SessionMsg>, WireError> {
        let identity =
            AgentIdentity::parse(agent).map_err(|e| err(ErrorCode::NotFound, e.to_string()))?;
        if registry::role_actor(&identity).is_none() {
            return Err(err(
                ErrorCode::NotFound,
                format!(
                    "no agent {agent} is running under this supervisor: `gastown actors` lists them"
                ),
            ));
        }
        registry::session(&identity).ok_or_else(|| {
            err(
                ErrorCode::NotFound,
                format!("{agent} has no running session (no runtime, or it is restarting): see `gastown actors`"),
            )
        })
    }

    async fn peek(&self, agent: String, lines: Option<usize>) -> Result<TownReply, WireError> {
        let session = self.session(&agent).await?;
        let text = client::peek(&session, lines)
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?;
        Ok(TownReply::Screen { agent, text })
    }

    async fn nudge(&self, agent: String, text: &str) -> Result<TownReply, WireError> {
        let session = self.session(&agent).await?;
        // A session showing its runtime's usage limit is typed nothing until the reset, when it
        // is started afresh: waiting for it to be idle would time out saying "busy", or end
        // with the restart. Say why at once.
        if let Ok(snapshot) = client::snapshot(&session).await
            && let Some(blocked) = snapshot.blocked.filter(|b| signals::is_limit(b))
        {
            return Err(err(
                ErrorCode::Unavailable,
                format!(
                    "{agent} shows its runtime's {blocked}; nothing is typed into it until the \
                     limit resets and it starts afresh (`gastown status` says when)"
                ),
            ));
        }
        client::nudge(&session, text, NudgeOptions::default())
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?;
        Ok(TownReply::Nudged { agent })
    }

    async fn restart(&self, agent: String) -> Result<TownReply, WireError> {
        let role = topology::find_role(self.root().await?, &agent)
            .await
            .map_err(|e| err(ErrorCode::NotFound, e))?;
        role.restart_child("session").await.map_err(|e| {
            err(
                ErrorCode::Unavailable,
                format!("cannot restart {agent}'s session: {e}"),
            )
        })?;
        Ok(TownReply::Restarted { agent })
    }

    async fn kill(&self, agent: String) -> Result<TownReply, WireError> {
        let session = self.session(&agent).await?;
        let pid = client::snapshot(&session).await.map(|s| s.pid).ok();
        client::kill(&session)
            .await
            .map_err(|e| err(ErrorCode::Unavailable, e.to_string()))?;
        Ok(TownReply::Killed { agent, pid })
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
        Ok(TownReply::Spawned {
            text: started.replace("started ", "spawned "),
        })
    }
}

/// The node `gastown actor <target>` means: a tree path as `gastown actors` shows it, an
/// agent's address (its role), or an address and a child of its role
/// (`alpha/crew/max/session`).
fn find_target<'a>(tree: &'a ActorNode, target: &str) -> Option<&'a ActorNode> {
    if let Some(node) = introspect::find(tree, target) {
        return Some(node);
    }
    let role_of = |address: &str| -> Option<&'a ActorNode> {
        let identity = AgentIdentity::parse(address).ok()?;
        introspect::find(tree, &names::tree_path(&identity))
    };
    if let Some(role) = role_of(target) {
        return Some(role);
    }
    let (address, child) = target.rsplit_once('/')?;
    let role = role_of(address)?;
    introspect::find(role, &format!("{}/{child}", role.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str, children: Vec<ActorNode>) -> ActorNode {
        ActorNode {
            path: path.to_string(),
            role: String::new(),
            kind: String::new(),
            state: "running".to_string(),
            pid: None,
            uptime_ms: None,
            restarts_total: 0,
            restarts_recent: 0,
            last_failure: None,
            mailbox_depth: None,
            strategy: None,
            children,
            note: None,
        }
    }

    #[test]
    fn an_actor_is_named_by_address_address_and_child_or_path() {
        let max = "town/rigs/alpha/crew/max";
        let tree = node(
            "town",
            vec![
                node("town/mayor", vec![node("town/mayor/session", vec![])]),
                node("town/ledger", vec![]),
                node(
                    "town/rigs/alpha/crew",
                    vec![node(max, vec![node(&format!("{max}/session"), vec![])])],
                ),
            ],
        );
        let found = |target: &str| find_target(&tree, target).map(|n| n.path.clone());
        assert_eq!(found("alpha/crew/max").as_deref(), Some(max));
        assert_eq!(
            found("alpha/crew/max/session"),
            Some(format!("{max}/session"))
        );
        assert_eq!(found("mayor").as_deref(), Some("town/mayor"));
        assert_eq!(
            found("mayor/session").as_deref(),
            Some("town/mayor/session")
        );
        assert_eq!(found("town/ledger").as_deref(), Some("town/ledger"));
        assert_eq!(found(max).as_deref(), Some(max));
        assert_eq!(found("alpha/crew/sam"), None);
        assert_eq!(found("alpha/crew/max/agent"), None);
        assert_eq!(found("nonsense"), None);
    }
}
