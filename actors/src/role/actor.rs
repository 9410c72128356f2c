//! The role actor, child `agent` of every role: the identity's live state (its runtime, its
//! heartbeats). Its runtime is the role's [`LiveRuntime`], which the role's session factory
//! reads on every start, so what it reports is what the next session runs. It registers by the
//! identity's address (see `crate::registry`), so heartbeats and the patrol reach it without
//! asking any supervisor.

use super::{LiveRuntime, now_ms};
use gastown_town::identity::AgentIdentity;
use gastown_town::runtimes::spec::HookSupport;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};

/// The role actor: holds the identity's live state.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoleActor;

/// Messages of [`RoleActor`].
pub enum RoleMsg {
    /// The identity's session spoke to the supervisor (every socket request counts).
    Heartbeat,
    /// The identity's live state.
    Info(RpcReplyPort<RoleInfo>),
    /// The role's runtime cell (to change what its next session runs).
    Live(RpcReplyPort<LiveRuntime>),
}

/// Arguments of [`RoleActor`]: who it is and what its session runs.
#[derive(Debug, Clone)]
pub struct RoleArgs {
    pub identity: AgentIdentity,
    /// The runtime its sessions run (`None`: a role without a session), shared with its session
    /// factory.
    pub live: LiveRuntime,
}

/// State of [`RoleActor`].
pub struct RoleState {
    identity: AgentIdentity,
    live: LiveRuntime,
    /// Milliseconds since the epoch of the last heartbeat.
    last_heartbeat_ms: Option<u64>,
    heartbeats: u64,
}

/// What a role actor reports about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleInfo {
    pub identity: AgentIdentity,
    /// The runtime's name (`sim`, `claude`, …); `None` for a role without a session.
    pub runtime: Option<String>,
    /// Which lifecycle hooks that runtime runs (the router holds mail for hook runtimes).
    pub hooks: HookSupport,
    pub last_heartbeat_ms: Option<u64>,
    pub heartbeats: u64,
}

impl Actor for RoleActor {
    type Msg = RoleMsg;
    type State = RoleState;
    type Arguments = RoleArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<RoleMsg>,
        args: RoleArgs,
    ) -> Result<RoleState, ActorProcessingErr> {
        Ok(RoleState {
            identity: args.identity,
            live: args.live,
            last_heartbeat_ms: None,
            heartbeats: 0,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<RoleMsg>,
        msg: RoleMsg,
        state: &mut RoleState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RoleMsg::Heartbeat => {
                state.heartbeats += 1;
                state.last_heartbeat_ms = Some(now_ms());
            }
            RoleMsg::Info(reply) => {
                let runtime = state.live.get();
                let _ = reply.send(RoleInfo {
                    identity: state.identity.clone(),
                    runtime: runtime.as_ref().map(|r| r.name.clone()),
                    hooks: runtime.map(|r| r.hooks).unwrap_or(HookSupport::None),
                    last_heartbeat_ms: state.last_heartbeat_ms,
                    heartbeats: state.heartbeats,
                });
            }
            RoleMsg::Live(reply) => {
                let _ = reply.send(state.live.clone());
            }
        }
        Ok(())
    }
}
