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
//! The role's supervisor (made by [`role_child`]), its role actor and its session register by
//! the identity's address, so they are found without walking the tree (see [`crate::registry`]).
//!
//! The session's factory runs on every (re)start: it checks that the runtime is the one recorded
//! for the identity, records the session's start (its end is recorded on it by id, however it
//! ends), reads the identity's hook from the ledger, checks that the working directory is the
//! identity's own workspace, mints a fresh session token, and starts the runtime with the GUPP
//! prompt (its agent's pid told to the town's [`SessionTracker`] as soon as it is spawned) — so a restarted session is always told its hook again, with nobody typing anything.

mod actor;

use crate::ledger::LedgerHandle;
use crate::session::{BlockedNotice, EndNotice, Session, SessionArgs, SessionEnd, StartNotice};
pub use actor::{RoleActor, RoleArgs, RoleInfo, RoleMsg, RoleState};
use gastown_beads::{Bead, ListFilter, Status};
use gastown_supervision::{
    Backoff, ChildContext, ChildKind, ChildSpec, Intensity, StartedChild, Strategy, Supervisor,
    SupervisorSpec,
};
use gastown_town::defaults::{HEALTHY_AFTER, STARTUP_FAILURE_STREAK};
use gastown_town::identity::{AgentIdentity, Role};
use gastown_town::names::{self, Registered};
use gastown_town::runtimes::spec::{PromptMode, Runtime};
use ractor::SpawnErr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Mints the per-session secret that binds a socket connection to an identity. The binary owns
/// the token registry (and the wire format); actors only ask for a token.
pub type MintToken = Arc<dyn Fn(&AgentIdentity) -> Result<String, String> + Send + Sync>;

/// Prepares an agent's home for its runtime before each session: role instructions, and the
/// hook settings of runtimes with hooks (through which they get their mail). The binary owns
/// what goes in them.
pub type PrepareHome =
    Arc<dyn Fn(&std::path::Path, &AgentIdentity, &Runtime) -> Result<(), String> + Send + Sync>;

/// Checks, before each session of a polecat or crew member, that its home is its own workspace
/// (the rig's worktree on its branch, or its clone), remaking what can be remade from git;
/// `Err` says why no session may start there; `Ok(Some(note))` is a line for the session's
/// startup prompt (its uncommitted work was restored from a checkpoint). Given the hooked bead's
/// id. The binary owns rigs and git; it runs on a blocking thread.
pub type CheckWorkspace =
    Arc<dyn Fn(&AgentIdentity, Option<&str>) -> Result<Option<String>, String> + Send + Sync>;

/// Told which process runs each session of an identity, and when it is gone: the binary's
/// session registry, through which a socket peer inside a session is known to be its agent.
pub trait SessionTracker: Send + Sync {
    /// The session's agent was spawned as `pid` (before it can have run anything).
    fn started(&self, identity: &AgentIdentity, pid: u32);
    /// The session whose agent was `pid` ended.
    fn ended(&self, identity: &AgentIdentity, pid: u32);
}

/// Tells the mayor and the overseer that an identity's sessions keep failing at startup: given
/// the identity, how many failed in a row, and how the last one ended. Called once per streak
/// (see [`gastown_town::defaults::STARTUP_FAILURE_STREAK`]). The binary owns mail.
pub type Escalate = Arc<dyn Fn(&AgentIdentity, u32, &str) + Send + Sync>;

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
    /// Told each session's agent pid when it starts and ends; `None`: nobody tracks them.
    pub sessions: Option<Arc<dyn SessionTracker>>,
    /// Run before every session start (after any checkout of the home).
    pub prepare_home: Option<PrepareHome>,
    /// Run before every session start of a polecat or crew member; without it their homes must
    /// already exist.
    pub check_workspace: Option<CheckWorkspace>,
    /// Told once per streak of sessions failing at startup; `None`: nobody is told.
    pub escalate: Option<Escalate>,
    /// Told when an identity's session stays behind a dialog nobody may answer for it
    /// (`blocked: login: …`); `None`: nobody is told.
    pub blocked: Option<Blocked>,
    /// Picks the account a session of a runtime with accounts runs under, on every start;
    /// `None`: such sessions run under the runtime's own environment.
    pub choose_account: Option<ChooseAccount>,
    /// Whether a session's runtime (or its account) is at its usage limit as it starts: the
    /// line it is held behind (`SessionArgs::held`); `None`: nobody tracks limits.
    pub limited: Option<LimitedNow>,
}

/// Given the runtime a session starts under (its account chosen), the usage limit holding for
/// it now, as the line the session is held behind (`claude/work limited until …`), if any.
pub type LimitedNow = Arc<dyn Fn(&Runtime) -> Option<String> + Send + Sync>;

/// Given the identity and its role's runtime (which has accounts), the runtime under the
/// account its next session runs (`Runtime::under_account`), or why none can take it. The
/// binary owns the usage limits this reads.
pub type ChooseAccount =
    Arc<dyn Fn(&AgentIdentity, &Runtime) -> Result<Runtime, String> + Send + Sync>;

/// Tells the mayor and the overseer that an identity's session waits behind a dialog (given
/// the identity, the runtime's limits key — its name, or `<name>/<account>` — and the dialog as
/// the session shows it), or, for a usage limit, marks the runtime (or the account) limited.
/// The binary owns escalations and limits.
pub type Blocked = Arc<dyn Fn(&AgentIdentity, &str, &str) + Send + Sync>;

/// How to run one role.
#[derive(Clone)]
pub struct RoleSpec {
    pub identity: AgentIdentity,
    /// The agent CLI to run, or `None` for a role that runs as an actor only.
    pub runtime: Option<Runtime>,
    /// The session's working directory: created if missing for town-level roles; for polecats
    /// and crew it must be their workspace (see [`CheckWorkspace`]).
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

/// The runtime a role's sessions run, shared by its role actor (which reports it) and its
/// session factory (which reads it on every start). `gastown run` changes it when a SIGHUP finds
/// town.toml changed the role's runtime, then restarts (or starts, or stops) the session through
/// the role's supervisor, so the usual restart path runs.
#[derive(Clone, Default)]
pub struct LiveRuntime(Arc<Mutex<Option<Runtime>>>);

impl LiveRuntime {
    /// A cell holding `runtime`.
    pub fn new(runtime: Option<Runtime>) -> LiveRuntime {
        LiveRuntime(Arc::new(Mutex::new(runtime)))
    }

    /// What the next session runs.
    pub fn get(&self) -> Option<Runtime> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Make the next session run `runtime` (`None`: the role runs no session).
    pub fn set(&self, runtime: Option<Runtime>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = runtime;
    }
}

impl std::fmt::Debug for LiveRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.get().map(|r| r.name);
        f.debug_tuple("LiveRuntime").field(&name).finish()
    }
}

/// The child spec of one role, for its place in the tree (`names::tree_place`): a supervisor
/// running [`role_supervisor`], registered by the identity's address. Its spec is built again
/// on every start of the role's supervisor from the role's [`LiveRuntime`], so a role restarted
/// after a SIGHUP gave it a runtime (or took it away) has a session (or none) as it should.
pub fn role_child(spec: RoleSpec) -> ChildSpec {
    let id = names::tree_place(&spec.identity).id;
    let name = names::registered_name(Registered::Role, &spec.identity);
    let live = LiveRuntime::new(spec.runtime.clone());
    // One streak per role, kept across its sessions' (and its own) restarts.
    let streak = Arc::new(StartupStreak::default());
    ChildSpec::with_kind(id, ChildKind::Supervisor, move |ctx| {
        let sup = role_supervisor_with(spec.clone(), live.clone(), Arc::clone(&streak));
        async move { Supervisor::spawn_child(&ctx, sup).await }
    })
    .with_name(name)
}

/// The supervisor spec of one role; its role actor and session register by the identity's
/// address.
pub fn role_supervisor(spec: RoleSpec) -> SupervisorSpec {
    let live = LiveRuntime::new(spec.runtime.clone());
    role_supervisor_with(spec, live, Arc::new(StartupStreak::default()))
}

/// [`role_supervisor`] with the role's runtime cell and startup streak: a session child when the
/// cell holds a runtime.
fn role_supervisor_with(
    spec: RoleSpec,
    live: LiveRuntime,
    streak: Arc<StartupStreak>,
) -> SupervisorSpec {
    let args = RoleArgs {
        identity: spec.identity.clone(),
        live: live.clone(),
    };
    let mut sup = SupervisorSpec::new(Strategy::RestForOne)
        .with_intensity(spec.intensity)
        .with_backoff(spec.backoff)
        .child(
            ChildSpec::actor("agent", RoleActor, move || args.clone())
                .with_name(names::registered_name(Registered::Agent, &spec.identity)),
        );
    if live.get().is_some() {
        sup = sup.child(session_child_with(spec.clone(), live, streak));
    }
    for child in spec.extra_children {
        sup = sup.child(child);
    }
    sup
}

/// The `session` child of a role: started with the role when it has a runtime, or added to a
/// running role (after its extra children) when `live` gets one. Each start runs what `live`
/// holds then.
pub fn session_child(spec: RoleSpec, live: LiveRuntime) -> ChildSpec {
    session_child_with(spec, live, Arc::new(StartupStreak::default()))
}

fn session_child_with(spec: RoleSpec, live: LiveRuntime, streak: Arc<StartupStreak>) -> ChildSpec {
    let name = names::registered_name(Registered::Session, &spec.identity);
    let shared = Arc::new(spec);
    ChildSpec::worker("session", move |ctx| {
        start_session(Arc::clone(&shared), live.clone(), Arc::clone(&streak), ctx)
    })
    .with_name(name)
}

/// A session start the factory refused, or could not make.
fn failed(what: String) -> SpawnErr {
    SpawnErr::StartupFailed(what.into())
}

/// Sessions of one role that failed at startup in a row, and whether this streak was told.
#[derive(Default)]
struct StartupStreak(Mutex<(u32, bool)>);

impl StartupStreak {
    /// One more failed start: the [`STARTUP_FAILURE_STREAK`]-th in a row tells the mayor and the
    /// overseer (through the town's `escalate`), once per streak.
    fn failed(&self, spec: &RoleSpec, why: &str) {
        let tell = {
            let mut streak = self.0.lock().unwrap_or_else(|p| p.into_inner());
            streak.0 += 1;
            let tell = streak.0 >= STARTUP_FAILURE_STREAK && !streak.1;
            streak.1 |= tell;
            tell.then_some(streak.0)
        };
        tracing::debug!(agent = %spec.identity, "session failed at startup: {why}");
        if let (Some(n), Some(escalate)) = (tell, &spec.town.escalate) {
            tracing::warn!(agent = %spec.identity, failures = n, "sessions keep failing at startup; telling the mayor and the overseer");
            escalate(&spec.identity, n, why);
        }
    }

    /// A session ran past its startup: the streak is over.
    fn healthy(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = (0, false);
    }
}

async fn start_session(
    spec: Arc<RoleSpec>,
    live: LiveRuntime,
    streak: Arc<StartupStreak>,
    ctx: ChildContext,
) -> Result<StartedChild, SpawnErr> {
    let started = start_session_counted(&spec, live.get(), &streak, ctx).await;
    if let Err(e) = &started {
        streak.failed(&spec, &format!("not started: {e}"));
    }
    started
}

async fn start_session_counted(
    spec: &Arc<RoleSpec>,
    runtime: Option<Runtime>,
    streak: &Arc<StartupStreak>,
    ctx: ChildContext,
) -> Result<StartedChild, SpawnErr> {
    let spec = Arc::clone(spec);
    let mut runtime = runtime.ok_or_else(|| failed(format!("{} has no runtime", spec.identity)))?;
    if !runtime.accounts.is_empty()
        && let Some(choose) = &spec.town.choose_account
    {
        runtime = choose(&spec.identity, &runtime).map_err(|e| {
            failed(format!(
                "no account of runtime {} can take a session: {e}",
                runtime.name
            ))
        })?;
    }
    // Started at its limit (a restart before the reset, no free account): held, prompt-less,
    // until the reset starts it again; a prompt now would only meet the limit.
    let held = spec.town.limited.as_ref().and_then(|f| f(&runtime));
    let session_id = new_session_id();
    let hook = begin_session(&spec, &runtime, &session_id).await?;
    let token = (spec.town.mint_token)(&spec.identity)
        .map_err(|e| failed(format!("cannot mint a session token: {e}")))?;
    let note = match ready_home(&spec, hook.first()).await {
        Ok(note) => note,
        Err(e) => {
            end_session(&spec, &session_id, format!("not started: {e}"));
            return Err(failed(e));
        }
    };
    if let Some(prepare) = &spec.town.prepare_home {
        // A home left unprepared still runs; the agent just lacks its instructions or hooks.
        if let Err(e) = prepare(&spec.home, &spec.identity, &runtime) {
            tracing::warn!(agent = %spec.identity, "cannot prepare the agent's home: {e}");
        }
    }
    if let Some(line) = &held {
        tracing::info!(agent = %spec.identity, "session started held, without its prompt: {line}");
    }
    let mut args = session_args(&spec, &runtime, hook.first(), &token, held, note.as_deref());
    // Codex tells nobody its session id: at the end it is read from its session files.
    let codex = is_codex(&runtime).then(|| (args.env.clone(), SystemTime::now()));
    let (notice_spec, notice_id) = (Arc::clone(&spec), session_id.clone());
    let (notice_streak, started_at) = (Arc::clone(streak), Instant::now());
    // Past its startup timeout plus a while, a session is up: whatever ends it then is no
    // startup failure.
    let startup_window = args.startup_timeout + HEALTHY_AFTER;
    args.on_end = Some(EndNotice(Arc::new(move |end: SessionEnd| {
        let how = end.to_string();
        if let Some(tracker) = &notice_spec.town.sessions {
            tracker.ended(&notice_spec.identity, end.pid);
        }
        if started_at.elapsed() >= startup_window {
            notice_streak.healthy();
        } else if !end.stopped && !end.exit.as_ref().is_some_and(|e| e.success()) {
            notice_streak.failed(&notice_spec, &how);
        }
        if let Some((env, started)) = &codex {
            record_codex_session(&notice_spec, &notice_id, env, *started);
        }
        end_session(&notice_spec, &notice_id, how);
    })));
    if let Some(tracker) = spec.town.sessions.clone() {
        let identity = spec.identity.clone();
        args.on_start = Some(StartNotice(Arc::new(move |pid| {
            tracker.started(&identity, pid);
        })));
    }
    match ctx.spawn(Session, args).await {
        Ok(started) => Ok(started),
        Err(e) => {
            end_session(&spec, &session_id, format!("not started: {e}"));
            Err(e)
        }
    }
}

/// In one ledger call: check that the runtime is the one recorded for the identity (no code
/// path may start an identity under another runtime), record the session's start, and read the
/// hook.
async fn begin_session(
    spec: &RoleSpec,
    runtime: &Runtime,
    session_id: &str,
) -> Result<Vec<Bead>, SpawnErr> {
    let identity = spec.identity.clone();
    let (runtime, account, session_id) = (
        runtime.name.clone(),
        runtime.account.clone(),
        session_id.to_string(),
    );
    let checked = spec
        .town
        .ledger
        .try_call("session: begin", move |ledger| {
            let agent = gastown_town::agents::ensure(ledger, &identity)?;
            // A polecat or crew member runs only its recorded runtime; the mayor, the deacon, a
            // rig's witness and the dogs run what town.toml's (or rig.toml's) `[roles]` says,
            // which is recorded as it changes.
            match agent.runtime.as_deref() {
                Some(recorded) if recorded == runtime => {}
                Some(recorded) if matches!(identity.role, Role::Crew | Role::Polecat) => {
                    return Ok(Err(format!(
                        "{identity} is recorded to run runtime {recorded}, not {runtime}: \
                         its role must be started again (`gastown sling` with `--runtime` does that)"
                    )));
                }
                _ => {
                    gastown_town::agents::record_runtime(ledger, &identity, &runtime)?;
                }
            }
            // The identity's history gets this session before it starts (`gastown seance`).
            let prefix = run_prefix();
            gastown_town::agents::session_started(
                ledger,
                &identity,
                &session_id,
                (&runtime, account.as_deref()),
                prefix,
            )?;
            Ok(Ok(ledger.list(&ListFilter {
                status: Some(Status::Hooked),
                assignee: Some(identity.address.clone()),
                ..ListFilter::default()
            })?))
        })
        .await
        .map_err(|e| failed(format!("cannot read the hook of {}: {e}", spec.identity)))?;
    checked.map_err(failed)
}

/// Make sure the session's working directory is the identity's own before anything runs there.
/// A dog's is its own scratch git repository (`gastown_town::dog_sessions::ready_home`).
/// Polecats and crew work in their rig's worktree or clone: the town's `check_workspace` checks
/// it (and remakes a missing worktree from its branch); their homes are never made as plain
/// directories, where `git` would find the town's repository instead of the rig's.
/// `Ok(Some(note))`: a line the startup prompt tells the agent (see [`CheckWorkspace`]).
async fn ready_home(spec: &RoleSpec, hook: Option<&Bead>) -> Result<Option<String>, String> {
    if spec.identity.role == Role::Dog {
        // A scratch repository of its own (git runs: a blocking thread).
        let home = spec.home.clone();
        return tokio::task::spawn_blocking(move || {
            gastown_town::dog_sessions::ready_home(&home).map_err(|e| format!("{e:#}"))
        })
        .await
        .map_err(|e| format!("the home check of {} failed: {e}", spec.identity))?
        .map(|()| None);
    }
    if !matches!(spec.identity.role, Role::Polecat | Role::Crew) {
        return std::fs::create_dir_all(&spec.home)
            .map(|()| None)
            .map_err(|e| format!("cannot create {}: {e}", spec.home.display()));
    }
    let Some(check) = spec.town.check_workspace.clone() else {
        return if spec.home.is_dir() {
            Ok(None)
        } else {
            Err(format!(
                "{} has no workspace at {}",
                spec.identity,
                spec.home.display()
            ))
        };
    };
    let identity = spec.identity.clone();
    let hook = hook.map(|b| b.id.clone());
    tokio::task::spawn_blocking(move || check(&identity, hook.as_deref()))
        .await
        .map_err(|e| format!("the workspace check of {} failed: {e}", spec.identity))?
}

/// Record, without waiting, how session `session_id` of the role ended.
fn end_session(spec: &RoleSpec, session_id: &str, exit: String) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return; // The runtime is going away: the next run closes the session as unknown.
    };
    let ledger = spec.town.ledger.clone();
    let (address, id) = (spec.identity.address.clone(), session_id.to_string());
    runtime.spawn(async move {
        let recorded = ledger
            .try_call("session: end", move |l| {
                gastown_town::agents::session_ended(l, &address, &id, &exit)
            })
            .await;
        if let Err(e) = recorded {
            tracing::debug!("session end not recorded: {e}");
        }
    });
}

/// Whether the runtime is Codex (by preset name or program), whose session id is in its files.
fn is_codex(runtime: &Runtime) -> bool {
    runtime.name == "codex"
        || std::path::Path::new(&runtime.program)
            .file_name()
            .is_some_and(|name| name == "codex")
}

/// Record, without waiting, the Codex session id of session `session_id` (a session with
/// environment `env`, started at `started`), read from its rollout files, for `gastown seance`.
fn record_codex_session(
    spec: &Arc<RoleSpec>,
    session_id: &str,
    env: &[(String, String)],
    started: SystemTime,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let Some(codex_home) = gastown_town::runtimes::session_files::codex_home(env) else {
        return;
    };
    let (ledger, home) = (spec.town.ledger.clone(), spec.home.clone());
    let (address, id) = (spec.identity.address.clone(), session_id.to_string());
    runtime.spawn(async move {
        let found = tokio::task::spawn_blocking(move || {
            gastown_town::runtimes::session_files::codex_session(&codex_home, &home, started)
        })
        .await;
        let Ok(Some((codex_id, rollout))) = found else {
            tracing::debug!(agent = %address, "no Codex session file found for session {id}");
            return;
        };
        let recorded = ledger
            .try_call("session: runtime id", move |l| {
                let rollout = rollout.to_string_lossy();
                gastown_town::agents::runtime_session_seen(
                    l,
                    &address,
                    Some(&id),
                    &codex_id,
                    Some(&rollout),
                )
            })
            .await;
        if let Err(e) = recorded {
            tracing::debug!("Codex session id not recorded: {e}");
        }
    });
}

/// The prefix of this process's session ids: sessions of earlier runs of the supervisor have
/// other prefixes, so their ends (lost with that run) can be told apart.
pub fn run_prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| format!("{}.{}-", std::process::id(), now_ms()))
}

/// A new session id, unique in this town: `<pid>.<run start ms>-<n>`.
fn new_session_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{}{}", run_prefix(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The GUPP startup prompt: who you are, your hook, what to run first.
pub fn startup_prompt(identity: &AgentIdentity, hook: Option<&Bead>) -> String {
    let hook_line = match hook {
        Some(bead) => format!(
            "Your hook: {} \"{}\". GUPP: there is work on your hook, so you must run it.",
            bead.id,
            gastown_town::text::for_typing(&bead.title)
        ),
        None => "Your hook is empty.".to_string(),
    };
    format!(
        "You are {} ({}). {hook_line} Run `gastown prime` for your full context.",
        identity.address, identity.role
    )
}

/// The session of `spec` under `runtime`; `held` (the usage limit it waits behind) starts it
/// without its startup prompt; `note` is added to the prompt (its workspace check's news).
fn session_args(
    spec: &RoleSpec,
    runtime: &Runtime,
    hook: Option<&Bead>,
    token: &str,
    held: Option<String>,
    note: Option<&str>,
) -> SessionArgs {
    let identity = &spec.identity;
    let mut args = SessionArgs::new(runtime.program.clone(), spec.home.clone());
    args.args = runtime.args.clone();
    args.ready_marker = runtime.ready_marker.clone();
    args.quiet_period = runtime.quiet_period;
    args.dialogs = gastown_town::runtimes::dialogs::dialogs(runtime).to_vec();
    if let Some(blocked) = spec.town.blocked.clone() {
        let identity = identity.clone();
        let key = runtime.limit_key();
        args.on_blocked = Some(BlockedNotice(Arc::new(move |dialog: String| {
            blocked(&identity, &key, &dialog)
        })));
    }
    args.stop_timeout = spec.stop_timeout;
    if held.is_none() {
        let mut prompt = startup_prompt(identity, hook);
        if let Some(note) = note {
            prompt.push(' ');
            prompt.push_str(&gastown_town::text::for_typing(note));
        }
        match runtime.prompt {
            PromptMode::Argument => args.args.push(prompt),
            PromptMode::Typed => args.startup_input = Some(prompt),
        }
    }
    args.held = held;
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
    // What the CLI needs to start with nobody at the keyboard (Claude Code as root:
    // IS_SANDBOX=1, or it refuses its bypass flag).
    args.env
        .extend(gastown_town::runtimes::clean_start::session_env(
            runtime,
            &|key| std::env::var(key).ok(),
            gastown_town::runtimes::clean_start::running_as_root(),
        ));
    let path = session_path(&args.env);
    args.env.retain(|(k, _)| k != "PATH");
    args.env.push(("PATH".into(), path));
    args
}

/// A session's `PATH`: the directory of the running `gastown` binary first, so the agent (and
/// any hook or script it runs) calls this very gastown, then the runtime's `PATH` if it sets
/// one, else the supervisor's.
fn session_path(env: &[(String, String)]) -> String {
    let base = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| std::ffi::OsString::from(v))
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default();
    let mut dirs: Vec<std::path::PathBuf> = std::env::split_paths(&base).collect();
    if let Some(own) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(std::path::Path::to_path_buf))
    {
        dirs.retain(|d| d != &own);
        dirs.insert(0, own);
    }
    std::env::join_paths(dirs)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| base.to_string_lossy().into_owned())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::DEFAULT_STARTUP_TIMEOUT;
    use gastown_town::defaults::{ROLE_BACKOFF_MAX, ROLE_BACKOFF_RESET_AFTER};

    /// Issue 16: a session's hooks and scripts call `gastown`; without the running binary's
    /// directory on PATH every hook failed with `gastown: not found`.
    #[test]
    fn a_sessions_path_starts_with_the_running_gastown_and_keeps_the_runtimes() {
        let own = std::env::current_exe()
            .expect("exe")
            .parent()
            .expect("dir")
            .to_string_lossy()
            .into_owned();
        let env = vec![("PATH".to_string(), format!("/opt/agent/bin:{own}:/usr/bin"))];
        assert_eq!(
            session_path(&env),
            format!("{own}:/opt/agent/bin:/usr/bin"),
            "first, once"
        );
        let inherited = session_path(&[]);
        assert!(inherited.starts_with(&format!("{own}:")), "{inherited}");
    }

    /// An agent killed at its startup deadline every time must never look healthy to the role's
    /// backoff, or it is restarted every minute forever (issue 14).
    #[test]
    fn a_session_killed_at_its_startup_deadline_is_never_healthy_to_the_backoff() {
        assert!(ROLE_BACKOFF_RESET_AFTER > DEFAULT_STARTUP_TIMEOUT + HEALTHY_AFTER);
        let backoff = gastown_supervision::Backoff {
            max: ROLE_BACKOFF_MAX,
            reset_after: ROLE_BACKOFF_RESET_AFTER,
            ..gastown_supervision::Backoff::default()
        }
        .without_jitter();
        let delays: Vec<Duration> = (1..=14).map(|n| backoff.delay(n, 0.5)).collect();
        assert!(
            delays.windows(2).skip(1).all(|w| w[1] >= w[0]),
            "{delays:?}"
        );
        assert_eq!(delays[13], ROLE_BACKOFF_MAX, "capped: {delays:?}");
    }

    #[test]
    fn a_startup_streak_is_told_once_and_starts_over_when_healthy() {
        let told = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&told);
        let town = TownContext {
            town_root: PathBuf::from("/nonexistent"),
            socket_path: PathBuf::from("/nonexistent/sock"),
            ledger: LedgerHandle::default(),
            mint_token: Arc::new(|_| Ok(String::new())),
            prepare_home: None,
            check_workspace: None,
            sessions: None,
            escalate: Some(Arc::new(move |identity, n, last| {
                sink.lock()
                    .expect("not poisoned")
                    .push(format!("{identity} {n} {last}"));
            })),
            blocked: None,
            choose_account: None,
            limited: None,
        };
        let spec = RoleSpec {
            identity: AgentIdentity::parse("mayor").expect("an address"),
            runtime: None,
            home: PathBuf::from("/nonexistent"),
            town,
            intensity: Intensity::default(),
            backoff: gastown_supervision::Backoff::default(),
            extra_children: Vec::new(),
            stop_timeout: Duration::from_secs(1),
        };
        let streak = StartupStreak::default();
        for _ in 0..STARTUP_FAILURE_STREAK + 3 {
            streak.failed(&spec, "exit code 3");
        }
        assert_eq!(
            told.lock().expect("not poisoned").len(),
            1,
            "once per streak"
        );
        streak.healthy();
        for _ in 0..STARTUP_FAILURE_STREAK - 1 {
            streak.failed(&spec, "exit code 3");
        }
        assert_eq!(
            told.lock().expect("not poisoned").len(),
            1,
            "a new streak, not yet long"
        );
        streak.failed(&spec, "exit code 3");
        assert_eq!(
            told.lock().expect("not poisoned").len(),
            2,
            "the new streak is told"
        );
    }
}
