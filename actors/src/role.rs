//! Role actors: the live incarnation of a durable identity, and the supervisor around it.
//!
//! A role is a small `rest_for_one` supervisor:
//!
//! ```text
//! <role> (rest_for_one)
//! ├── agent     RoleActor: the identity's state (heartbeats; its mailbox, once mail lands)
//! ├── session   Session: the agent CLI in a PTY (only when a runtime is configured)
//! └── …         role-specific children (the deacon's boot and dogs)
//! ```
//!
//! The session's factory runs on every (re)start: it reads the identity's hook from the ledger,
//! mints a fresh session token, and starts the runtime with the GUPP prompt — so a restarted
//! session is always told its hook again, with nobody typing anything.

use crate::identity::AgentIdentity;
use crate::ledger::LedgerHandle;
use crate::runtime::{HookSupport, PromptMode, Runtime};
use crate::session::{Session, SessionArgs};
use gastown_beads::{Bead, ListFilter, Status};
use gastown_supervision::{
    Backoff, ChildContext, ChildSpec, Intensity, StartedChild, Strategy, SupervisorSpec,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Mints the per-session secret that binds a socket connection to an identity. The binary owns
/// the token registry (and the wire format); actors only ask for a token.
pub type MintToken = Arc<dyn Fn(&AgentIdentity) -> Result<String, String> + Send + Sync>;

/// Prepares an agent's home for its runtime before each session: role instructions, and the
/// hook settings of runtimes with hooks (through which they get their mail). The binary owns
/// what goes in them.
pub type PrepareHome =
    Arc<dyn Fn(&std::path::Path, &AgentIdentity, &Runtime) -> Result<(), String> + Send + Sync>;

/// What every role in a town shares.
#[derive(Clone)]
pub struct TownContext {
    /// The town's root directory.
    pub town_root: PathBuf,
    /// The supervisor's socket, for the session's `GASTOWN_SOCKET`.
    pub socket_path: PathBuf,
    /// The ledger actor.
    pub ledger: LedgerHandle,
    /// Token minting for new sessions.
    pub mint_token: MintToken,
    /// Run before every session start (after any checkout of the home).
    pub prepare_home: Option<PrepareHome>,
}

/// How to run one role.
#[derive(Clone)]
pub struct RoleSpec {
    pub identity: AgentIdentity,
    /// The agent CLI to run, or `None` for a role that runs as an actor only.
    pub runtime: Option<Runtime>,
    /// The session's working directory (created if missing).
    pub home: PathBuf,
    pub town: TownContext,
    /// Restart intensity of the role's supervisor (how often its session may die before the
    /// role gives up and fails to its parent).
    pub intensity: Intensity,
    /// Backoff between session restarts.
    pub backoff: Backoff,
    /// Extra children after the session (the deacon's boot and dogs).
    pub extra_children: Vec<ChildSpec>,
    /// How long a stopping session gets after SIGTERM.
    pub stop_timeout: Duration,
}

/// The supervisor spec of one role.
pub fn role_supervisor(spec: RoleSpec) -> SupervisorSpec {
    let args = RoleArgs {
        identity: spec.identity.clone(),
        runtime: spec.runtime.as_ref().map(|r| r.name.clone()),
        hooks: spec
            .runtime
            .as_ref()
            .map(|r| r.hooks)
            .unwrap_or(HookSupport::None),
    };
    let mut sup = SupervisorSpec::new(Strategy::RestForOne)
        .with_intensity(spec.intensity)
        .with_backoff(spec.backoff)
        .child(ChildSpec::actor("agent", RoleActor, move || args.clone()));
    if spec.runtime.is_some() {
        let shared = Arc::new(spec.clone());
        sup = sup.child(ChildSpec::worker("session", move |ctx| {
            start_session(Arc::clone(&shared), ctx)
        }));
    }
    for child in spec.extra_children {
        sup = sup.child(child);
    }
    sup
}

async fn start_session(spec: Arc<RoleSpec>, ctx: ChildContext) -> Result<StartedChild, SpawnErr> {
    let failed = |what: String| SpawnErr::StartupFailed(what.into());
    let identity = spec.identity.clone();
    let runtime_name = spec
        .runtime
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_default();
    let session_id = format!("{}-{}", std::process::id(), now_ms());
    let hook = spec
        .town
        .ledger
        .try_call(move |ledger| {
            // The identity's history gets this session before it starts (`gastown seance`).
            crate::agents::session_started(ledger, &identity, &session_id, &runtime_name)?;
            ledger.list(&ListFilter {
                status: Some(Status::Hooked),
                assignee: Some(identity.address.clone()),
                ..ListFilter::default()
            })
        })
        .await
        .map_err(|e| failed(format!("cannot read the hook of {}: {e}", spec.identity)))?;
    let token = (spec.town.mint_token)(&spec.identity)
        .map_err(|e| failed(format!("cannot mint a session token: {e}")))?;
    std::fs::create_dir_all(&spec.home)
        .map_err(|e| failed(format!("cannot create {}: {e}", spec.home.display())))?;
    if let (Some(prepare), Some(runtime)) = (&spec.town.prepare_home, &spec.runtime) {
        // A home left unprepared still runs; the agent just lacks its instructions or hooks.
        if let Err(e) = prepare(&spec.home, &spec.identity, runtime) {
            tracing::warn!(agent = %spec.identity, "cannot prepare the agent's home: {e}");
        }
    }
    let args = session_args(&spec, hook.first(), &token)
        .ok_or_else(|| failed(format!("{} has no runtime", spec.identity)))?;
    ctx.spawn(Session, args).await
}

/// The GUPP startup prompt: who you are, your hook, what to run first.
pub fn startup_prompt(identity: &AgentIdentity, hook: Option<&Bead>) -> String {
    let hook_line = match hook {
        Some(bead) => format!(
            "Your hook: {} \"{}\". GUPP: there is work on your hook, so you must run it.",
            bead.id, bead.title
        ),
        None => "Your hook is empty.".to_string(),
    };
    format!(
        "You are {} ({}). {hook_line} Run `gastown prime` for your full context.",
        identity.address, identity.role
    )
}

fn session_args(spec: &RoleSpec, hook: Option<&Bead>, token: &str) -> Option<SessionArgs> {
    let runtime = spec.runtime.as_ref()?;
    let identity = &spec.identity;
    let mut args = SessionArgs::new(runtime.program.clone(), spec.home.clone());
    args.args = runtime.args.clone();
    args.ready_marker = runtime.ready_marker.clone();
    args.quiet_period = runtime.quiet_period;
    args.stop_timeout = spec.stop_timeout;
    let prompt = startup_prompt(identity, hook);
    match runtime.prompt {
        PromptMode::Argument => args.args.push(prompt),
        PromptMode::Typed => args.startup_input = Some(prompt),
    }
    let town = spec.town.town_root.to_string_lossy().into_owned();
    let socket = spec.town.socket_path.to_string_lossy().into_owned();
    args.env = vec![
        ("GASTOWN_TOWN".into(), town),
        ("GASTOWN_SOCKET".into(), socket),
        ("GASTOWN_AGENT".into(), identity.address.clone()),
        ("GASTOWN_ROLE".into(), identity.role.to_string()),
        (
            "GASTOWN_RIG".into(),
            identity.rig.clone().unwrap_or_default(),
        ),
        ("GASTOWN_TOKEN".into(), token.to_string()),
        (
            "GASTOWN_HOOK".into(),
            hook.map(|b| b.id.clone()).unwrap_or_default(),
        ),
    ];
    args.env.extend(runtime.env.iter().cloned());
    Some(args)
}

/// The role actor: holds the identity's live state.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoleActor;

/// Messages of [`RoleActor`].
pub enum RoleMsg {
    /// The identity's session spoke to the supervisor (every socket request counts).
    Heartbeat,
    /// The identity's live state.
    Info(RpcReplyPort<RoleInfo>),
}

/// Arguments of [`RoleActor`]: who it is and what its session runs.
#[derive(Debug, Clone)]
pub struct RoleArgs {
    pub identity: AgentIdentity,
    /// The runtime's name (`sim`, `claude`, …); `None` for a role without a session.
    pub runtime: Option<String>,
    /// Which lifecycle hooks that runtime runs (the router holds mail for hook runtimes).
    pub hooks: HookSupport,
}

/// State of [`RoleActor`].
pub struct RoleState {
    identity: AgentIdentity,
    runtime: Option<String>,
    hooks: HookSupport,
    /// Milliseconds since the epoch of the last heartbeat.
    last_heartbeat_ms: Option<u64>,
    heartbeats: u64,
}

/// What a role actor reports about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleInfo {
    pub identity: AgentIdentity,
    pub runtime: Option<String>,
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
            runtime: args.runtime,
            hooks: args.hooks,
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
                let _ = reply.send(RoleInfo {
                    identity: state.identity.clone(),
                    runtime: state.runtime.clone(),
                    hooks: state.hooks,
                    last_heartbeat_ms: state.last_heartbeat_ms,
                    heartbeats: state.heartbeats,
                });
            }
        }
        Ok(())
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
