//! `gastown run`: the foreground supervisor of one town.
//!
//! It takes the town's run lock, installs logging, ends the leftovers of an earlier run that died
//! (process groups recorded in `.runtime/groups`, see [`gastown_town::groups`]), binds the socket,
//! starts the supervision tree (see [`topology`]) and waits for a signal: SIGINT/SIGTERM stop the
//! tree in reverse start order within `[run] shutdown_timeout` and exit 0 — gates still running
//! near that deadline are killed and their merge requests stay queued; a second SIGINT/SIGTERM
//! kills every session and gate at once and exits 1. SIGHUP re-reads town.toml, reloads the log
//! filter and restarts, starts or stops the role sessions whose runtime changed (see [`reload`]).
//! While it runs, `.runtime/run.pid` names it (see [`pid_file`]), for `gastown down`.

mod attach;
mod authorize;
mod blocked;
mod deacon_checks;
mod deacon_rigs;
mod dog_sessions;
pub mod dogs;
pub mod escalation;
mod events;
mod handler;
mod in_steps;
pub mod introspect;
mod limits;
mod live;
mod logging;
mod patrol;
pub mod pid_file;
mod refinery_actor;
mod reload;
mod router;
mod socket_actor;
mod starting;
mod stuck;
pub mod topology;
mod witness_actor;

use crate::socket::{
    Identity, ServerConfig, SessionRegistry, TokenRegistry, bind::socket_path_for,
};
use anyhow::{Context, Result, bail};
use gastown_actors::ledger::LedgerHandle;
use gastown_actors::role::{MintToken, SessionTracker, TownContext};
use gastown_beads::LedgerError;
use gastown_beads::lock::PidLock;
use gastown_supervision::{ChildSpec, Supervisor, SupervisorEvent};
use gastown_town::identity::AgentIdentity;
use gastown_town::town::Town;
pub use logging::LogFormat;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::broadcast;

/// Options of `gastown run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Log format on stderr (the log file in .runtime/logs is always JSON).
    #[arg(long, value_enum, default_value = "human")]
    pub log_format: LogFormat,
}

/// Run the supervisor in the foreground until a signal stops it.
pub fn run(town: Town, args: RunArgs) -> Result<()> {
    let runtime_dir = town.runtime_dir();
    gastown_town::town::ensure_private_dir(&runtime_dir)?;
    let _lock = match PidLock::acquire(&runtime_dir.join("run.lock")) {
        Ok(lock) => lock,
        Err(LedgerError::Locked { pid, .. }) => bail!(
            "gastown run is already running for {} (pid {pid}): stop it with Ctrl-C in its terminal or `kill {pid}`",
            town.root.display()
        ),
        Err(e) => return Err(e).context("cannot take the run lock"),
    };
    // Removed when `run` returns, however it returns; a killed run's file is told stale.
    let _pid_file = pid_file::PidFile::write(&runtime_dir)?;
    let logging = logging::init(&runtime_dir, args.log_format, &town.config.run.log)?;
    end_leftovers(&runtime_dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gastown-run")
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(supervise(town, logging));
    // A blocking thread may still be in a gate or git call that the shutdown abandoned: do not
    // wait for it (dropping the runtime would); its group is already killed.
    rt.shutdown_timeout(RUNTIME_EXIT_WAIT);
    result
}

/// How long the exit waits for the runtime's blocking threads after the tree stopped.
const RUNTIME_EXIT_WAIT: Duration = Duration::from_secs(1);
/// How long before the shutdown deadline running gates are stopped (SIGTERM, then SIGKILL after
/// [`GATE_STOP_GRACE`]), so that the refinery's round ends and the tree stops within the bound.
const GATE_STOP_MARGIN: Duration = Duration::from_secs(5);
/// How long a gate gets between SIGTERM and SIGKILL when the shutdown stops it.
const GATE_STOP_GRACE: Duration = Duration::from_secs(2);

/// Before anything starts: kill the process groups an earlier run recorded and left behind (it
/// died without stopping them), proven ours by pid and start time or by their token; log each.
/// From here on every group this process starts is recorded there.
fn end_leftovers(runtime_dir: &std::path::Path) -> Result<()> {
    let dir = runtime_dir.join("groups");
    for ended in gastown_town::groups::end_leftovers(&dir) {
        tracing::warn!(
            pid = ended.pid,
            kind = %ended.kind,
            what = %ended.label,
            command = %ended.command,
            "ended a process left behind by an earlier gastown run"
        );
    }
    gastown_town::groups::record_in(dir.clone())
        .with_context(|| format!("cannot create {}", dir.display()))
}

async fn supervise(town: Town, logging: logging::Logging) -> Result<()> {
    let runtime_dir = town.runtime_dir();
    let tokens = TokenRegistry::new();
    let sessions = SessionRegistry::new();
    let tree = tree_config(&town, &tokens, &sessions)?;
    let root_cell = Arc::new(OnceLock::new());
    let events = Arc::new(Mutex::new(VecDeque::new()));
    let town_handler = Arc::new(handler::TownHandler {
        root: Arc::clone(&root_cell),
        ledger: LedgerHandle::default(),
        tree: tree.clone(),
        events: Arc::clone(&events),
        attachments: attach::Attachments::default(),
        attempts: patrol::Attempts::default(),
    });
    let resume = Arc::clone(&town_handler);
    let _ = tree.handler.set(Arc::clone(&town_handler));
    let handler: Arc<dyn crate::socket::Handler> = town_handler;
    let socket_args = socket_actor::SocketArgs {
        runtime_dir: runtime_dir.clone(),
        handler,
        tokens,
        sessions,
        config: socket_config()?,
    };
    let socket = ChildSpec::actor("socket", socket_actor::SocketActor, move || {
        socket_args.clone()
    });
    let router_args = router::RouterArgs {
        ledger: LedgerHandle::default(),
        handler: Arc::clone(&tree.handler),
        announce_after: town.config.run.mail_announce_after(),
    };
    let router = ChildSpec::actor("router", router::Router, move || router_args.clone())
        .with_name(router::ROUTER_NAME);
    let mut running_config = town.clone();
    let spec = topology::town_spec(&tree, socket, router).map_err(anyhow::Error::msg)?;
    let (sender, receiver) = broadcast::channel(4096);
    tokio::spawn(events::forward_supervision(
        sender.subscribe(),
        Arc::clone(&tree.bus),
    ));
    tokio::spawn(events::watch_sessions(Arc::clone(&tree.bus)));
    tokio::spawn(record_events(
        receiver,
        Arc::clone(&events),
        LedgerHandle::default(),
    ));
    let root = Supervisor::spawn_with_events("town", spec, sender)
        .await
        .context("the town's supervision tree did not start")?;
    let _ = root_cell.set(root.clone());
    merge_duplicate_identities(&LedgerHandle::default()).await;
    // One by one: a rig whose rig.toml is broken is reported (and retried by the deacon), and
    // never keeps the others from starting.
    for (name, rig) in gastown_town::rig::Rig::list_each(&town).unwrap_or_default() {
        let started = match rig {
            Ok(rig) => topology::ensure_rig(&root, &tree, rig.name())
                .await
                .map(drop),
            Err(e) => Err(format!("{e:#}")),
        };
        if let Err(e) = started {
            tracing::warn!(rig = %name, "cannot start the rig: {e}");
        }
    }
    log_orphans(&town, &LedgerHandle::default()).await;
    // Reconciliation and GUPP: every hooked identity's workspace is checked and its session
    // started with its recorded runtime, before the patrol takes over.
    patrol::resume_hooked(&resume).await;
    tracing::info!(town = %town.root.display(), pid = std::process::id(), "gastown run is up; Ctrl-C stops it");
    let stale_escalations = tokio::spawn(escalation::stale_timer(
        town.clone(),
        LedgerHandle::default(),
    ));

    let shutdown_timeout = town.config.run.shutdown_timeout.0;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut sigterm = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut sighup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    loop {
        tokio::select! {
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = sighup.recv() => reload::on_sighup(&tree, &mut running_config, &logging).await,
            _ = root.wait() => bail!("the town supervisor gave up; see the log in {}", runtime_dir.join("logs").display()),
        }
    }
    tracing::info!(timeout = ?shutdown_timeout, "shutting down (a second Ctrl-C stops everything at once)");
    stale_escalations.abort();
    match shut_down(&root, shutdown_timeout, &mut sigint, &mut sigterm).await {
        Shutdown::Done => tracing::info!("stopped"),
        Shutdown::Late => {
            tracing::error!("shutdown took longer than {shutdown_timeout:?}; exiting anyway");
            stop_gates().await;
            let killed = gastown_town::groups::kill_all();
            tracing::error!(killed, "killed the process groups still running");
        }
        Shutdown::Forced => {
            let killed = gastown_town::groups::kill_all();
            tracing::warn!(
                killed,
                "second signal: killed every session and gate; acknowledged ledger writes are \
                 durable, pending git commits are finished by the next start"
            );
            bail!(
                "stopped at once by a second signal: every session and gate was killed; \
                 queued merge requests stay queued for the next `gastown run`"
            );
        }
    }
    Ok(())
}

/// How the orderly shutdown ended.
enum Shutdown {
    /// The tree stopped within the bound.
    Done,
    /// The bound passed first.
    Late,
    /// A second SIGINT/SIGTERM came first.
    Forced,
}

/// Stop the tree within `bound`: no gate starts from now on; gates still running
/// [`GATE_STOP_MARGIN`] before the deadline are stopped (their MRs stay queued), so the
/// refinery's round ends in time; a second signal cuts it short.
async fn shut_down(
    root: &gastown_supervision::SupervisorRef,
    bound: Duration,
    sigint: &mut tokio::signal::unix::Signal,
    sigterm: &mut tokio::signal::unix::Signal,
) -> Shutdown {
    gastown_town::groups::refuse_gates();
    let deadline = tokio::time::Instant::now() + bound;
    let gates_at = deadline - GATE_STOP_MARGIN.min(bound / 2);
    let stop = root.shutdown();
    tokio::pin!(stop);
    let mut gates_stopped = false;
    loop {
        tokio::select! {
            _ = &mut stop => {
                // The refinery is gone; a gate its abandoned round started may still run.
                stop_gates().await;
                return Shutdown::Done;
            }
            _ = sigint.recv() => return Shutdown::Forced,
            _ = sigterm.recv() => return Shutdown::Forced,
            _ = tokio::time::sleep_until(gates_at), if !gates_stopped => {
                gates_stopped = true;
                let stopped = stop_gates().await;
                if stopped > 0 {
                    tracing::warn!(stopped, "gates stopped at the shutdown deadline; their merge requests stay queued");
                }
            }
            _ = tokio::time::sleep_until(deadline) => return Shutdown::Late,
        }
    }
}

/// [`gastown_town::groups::stop_gates`] off the runtime's threads.
async fn stop_gates() -> usize {
    tokio::task::spawn_blocking(|| gastown_town::groups::stop_gates(GATE_STOP_GRACE))
        .await
        .unwrap_or(0)
}

async fn record_events(
    mut receiver: broadcast::Receiver<SupervisorEvent>,
    events: Arc<Mutex<VecDeque<SupervisorEvent>>>,
    ledger: LedgerHandle,
) {
    loop {
        match receiver.recv().await {
            Ok(event) => {
                note_gave_up(&ledger, &event);
                if let Ok(mut history) = events.lock() {
                    if history.len() >= handler::EVENT_HISTORY {
                        history.pop_front();
                    }
                    history.push_back(event);
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// A role whose sessions die at once until its supervisor gives up makes its identity stuck.
/// (Session ends are recorded by the session factory's end notice, on the session they belong
/// to; see `gastown_actors::role`.)
fn note_gave_up(ledger: &LedgerHandle, event: &SupervisorEvent) {
    if event.kind != gastown_supervision::EventKind::GaveUp {
        return;
    }
    if let Some(identity) = gastown_town::names::identity_of_tree_path(&event.supervisor) {
        patrol::role_gave_up(ledger.clone(), identity, event.reason.clone());
    }
}

/// One agent bead per identity: fold the duplicates an older ledger may hold.
async fn merge_duplicate_identities(ledger: &LedgerHandle) {
    match ledger
        .try_call(
            "run: merge duplicate identities",
            gastown_town::agents::merge_duplicates,
        )
        .await
    {
        Ok(merged) if merged.is_empty() => {}
        Ok(merged) => tracing::info!(
            identities = %merged.join(", "),
            "folded duplicate agent beads into one per identity"
        ),
        Err(e) => tracing::warn!("cannot fold duplicate agent beads: {e}"),
    }
}

/// Worktrees, branches and homes of no identity are logged (never removed): `gastown rig show`
/// lists them too.
async fn log_orphans(town: &Town, ledger: &LedgerHandle) {
    let claims = ledger
        .call("run: read claims", |l| {
            gastown_town::rig::orphans::Claims::read(l).map_err(|e| format!("{e:#}"))
        })
        .await;
    let Ok(Ok(claims)) = claims else {
        tracing::warn!("cannot read the ledger's claims: orphans are not listed");
        return;
    };
    let town = town.clone();
    let found = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for rig in gastown_town::rig::Rig::list(&town).unwrap_or_default() {
            match gastown_town::rig::orphans::find(&rig, &claims) {
                Ok(orphans) => lines.extend(
                    orphans
                        .lines()
                        .into_iter()
                        .map(|l| (rig.name().to_string(), l)),
                ),
                Err(e) => tracing::warn!(rig = rig.name(), "cannot list orphans: {e}"),
            }
        }
        lines
    })
    .await
    .unwrap_or_default();
    for (rig, line) in found {
        tracing::warn!(%rig, "belongs to no identity: {line} (`gastown rig show {rig}`)");
    }
}

/// The socket's limits: the defaults, with `GASTOWN_SOCKET_PER_PEER` (connections one process or
/// agent may hold) when set, for load tests that open many connections from one process.
fn socket_config() -> Result<ServerConfig> {
    let mut config = ServerConfig::default();
    if let Some(raw) = std::env::var_os("GASTOWN_SOCKET_PER_PEER") {
        let max = config.max_connections;
        let parsed = raw
            .to_str()
            .and_then(|text| text.trim().parse::<usize>().ok())
            .filter(|n| (1..=max).contains(n));
        let Some(per_peer) = parsed else {
            bail!(
                "GASTOWN_SOCKET_PER_PEER={raw:?} is not a number of connections from 1 to {max}: set one, or unset it for the default {}",
                config.max_connections_per_peer
            );
        };
        config.max_connections_per_peer = per_peer;
        config.max_connections_per_identity = per_peer;
    }
    Ok(config)
}

/// The wire's identity of an agent.
fn wire_identity(identity: &AgentIdentity) -> Identity {
    Identity::Agent {
        address: identity.address.clone(),
        role: identity.role.to_string(),
        rig: identity.rig.clone(),
    }
}

/// The sessions' agents go into the socket's session registry as they are spawned, and out as
/// their sessions end: a process inside a session is its agent, whatever token it shows.
struct TrackInRegistry(SessionRegistry);

impl SessionTracker for TrackInRegistry {
    fn started(&self, identity: &AgentIdentity, pid: u32) {
        if !self.0.register(pid, wire_identity(identity)) {
            tracing::warn!(agent = %identity, pid, "a session's agent exited before it could be registered");
        }
    }

    fn ended(&self, identity: &AgentIdentity, pid: u32) {
        self.0.unregister(pid, &wire_identity(identity));
    }
}

fn tree_config(
    town: &Town,
    tokens: &TokenRegistry,
    sessions: &SessionRegistry,
) -> Result<topology::TreeConfig> {
    let tokens = tokens.clone();
    let mint_token: MintToken = Arc::new(move |identity: &AgentIdentity| {
        let wire_identity = wire_identity(identity);
        // A new session's token replaces the old one's: the dead session cannot act any more.
        tokens.revoke_address(&identity.address);
        tokens
            .issue(wire_identity)
            .map(|t| t.expose().to_string())
            .map_err(|e| e.to_string())
    });
    let exe = std::env::current_exe().context("cannot find this executable for the sessions")?;
    let accounts = Arc::new(limits::Accounts::default());
    let handler: Arc<OnceLock<Arc<handler::TownHandler>>> = Arc::new(OnceLock::new());
    let context = TownContext {
        town_root: town.root.clone(),
        socket_path: socket_path_for(&town.runtime_dir()),
        ledger: LedgerHandle::default(),
        mint_token,
        sessions: Some(Arc::new(TrackInRegistry(sessions.clone()))),
        // The built-in sim reads no instructions file: its sessions start without the git calls.
        prepare_home: Some(Arc::new(move |home, identity, runtime| {
            if runtime.name == gastown_town::runtimes::spec::SIM_NAME {
                return Ok(());
            }
            let setup = gastown_town::runtimes::SessionSetup::current(exe.clone());
            gastown_town::runtimes::prepare_home(home, identity, runtime, &setup)
                .map_err(|e| format!("{e:#}"))
        })),
        check_workspace: Some(Arc::new({
            let town = town.clone();
            move |identity, hook| starting::check_workspace(&town, identity, hook, true)
        })),
        escalate: Some(Arc::new({
            let town = town.clone();
            move |identity, failures, last| {
                stuck::failing_starts(
                    town.clone(),
                    LedgerHandle::default(),
                    identity.clone(),
                    failures,
                    last,
                );
            }
        })),
        blocked: Some(Arc::new({
            let town = town.clone();
            let handler = Arc::clone(&handler);
            move |identity, key, dialog| {
                if gastown_town::limits::signals::is_limit(dialog) {
                    limits::session_limited(&town, identity, key, dialog);
                    // Another account may take the session now, not at the next patrol.
                    if let (Some(handler), Ok(runtime)) = (
                        handler.get().cloned(),
                        tokio::runtime::Handle::try_current(),
                    ) {
                        runtime.spawn(async move { limits::resume_due(&handler).await });
                    }
                } else {
                    blocked::dialog_blocks(town.clone(), LedgerHandle::default(), identity, dialog);
                }
            }
        })),
        choose_account: Some(Arc::new({
            let (town, accounts) = (town.clone(), Arc::clone(&accounts));
            move |identity, runtime| accounts.choose(&town, identity, runtime)
        })),
        limited: Some(Arc::new({
            let town = town.clone();
            move |runtime| limits::held(&town, runtime)
        })),
    };
    Ok(topology::TreeConfig {
        town: town.clone(),
        exe: std::env::current_exe().context("cannot find this executable for the sim runtime")?,
        ledger: town.ledger_config()?,
        context,
        stop_timeout: town.config.run.stop_timeout.0,
        patrol_interval: town.config.run.patrol_interval.0,
        handler,
        bus: Arc::new(events::EventBus::default()),
        accounts,
    })
}
