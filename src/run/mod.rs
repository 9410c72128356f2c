//! `gastown run`: the foreground supervisor of one town.
//!
//! It takes the town's run lock, installs logging, binds the socket, starts the supervision tree
//! (see [`topology`]) and waits for a signal: SIGINT/SIGTERM stop the tree in reverse start order
//! within `[run] shutdown_timeout` and exit 0; SIGHUP re-reads town.toml and reloads the log filter.

mod attach;
mod handler;
mod in_steps;
pub mod introspect;
mod live;
mod logging;
mod patrol;
mod refinery_actor;
mod router;
mod socket_actor;
mod starting;
mod stuck;
pub mod topology;

use crate::socket::{Identity, ServerConfig, TokenRegistry, bind::socket_path_for};
use anyhow::{Context, Result, bail};
use gastown_actors::ledger::LedgerHandle;
use gastown_actors::role::{MintToken, TownContext};
use gastown_beads::LedgerError;
use gastown_beads::lock::PidLock;
use gastown_supervision::{ChildSpec, Supervisor, SupervisorEvent};
use gastown_town::identity::AgentIdentity;
use gastown_town::town::Town;
pub use logging::LogFormat;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
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
    let logging = logging::init(&runtime_dir, args.log_format, &town.config.run.log)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gastown-run")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(supervise(town, logging))
}

async fn supervise(town: Town, logging: logging::Logging) -> Result<()> {
    let runtime_dir = town.runtime_dir();
    let tokens = TokenRegistry::new();
    let tree = tree_config(&town, &tokens)?;
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
        config: socket_config()?,
    };
    let socket = ChildSpec::actor("socket", socket_actor::SocketActor, move || {
        socket_args.clone()
    });
    let router_args = router::RouterArgs {
        ledger: LedgerHandle::default(),
        handler: Arc::clone(&tree.handler),
    };
    let router = ChildSpec::actor("router", router::Router, move || router_args.clone())
        .with_name(router::ROUTER_NAME);
    let spec = topology::town_spec(&tree, socket, router).map_err(anyhow::Error::msg)?;
    let (sender, receiver) = broadcast::channel(4096);
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
    for rig in gastown_town::rig::Rig::list(&town).unwrap_or_default() {
        if let Err(e) = topology::ensure_rig(&root, &tree, rig.name()).await {
            tracing::warn!(rig = rig.name(), "cannot start the rig: {e}");
        }
    }
    log_orphans(&town, &LedgerHandle::default()).await;
    // Reconciliation and GUPP: every hooked identity's workspace is checked and its session
    // started with its recorded runtime, before the patrol takes over.
    patrol::resume_hooked(&resume).await;
    tracing::info!(town = %town.root.display(), pid = std::process::id(), "gastown run is up; Ctrl-C stops it");

    let shutdown_timeout = town.config.run.shutdown_timeout.0;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut sigterm = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut sighup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    loop {
        tokio::select! {
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = sighup.recv() => reload(&town, &logging),
            _ = root.wait() => bail!("the town supervisor gave up; see the log in {}", runtime_dir.join("logs").display()),
        }
    }
    tracing::info!(timeout = ?shutdown_timeout, "shutting down");
    if tokio::time::timeout(shutdown_timeout, root.shutdown())
        .await
        .is_err()
    {
        tracing::error!("shutdown took longer than {shutdown_timeout:?}; exiting anyway");
    }
    tracing::info!("stopped");
    Ok(())
}

fn reload(town: &Town, logging: &logging::Logging) {
    match Town::load(&town.root) {
        Ok(fresh) => match logging.reload(&fresh.config.run.log) {
            Ok(()) => tracing::info!("SIGHUP: town.toml re-read, log filter reloaded"),
            Err(e) => tracing::error!("SIGHUP: {e:#}; keeping the previous log filter"),
        },
        Err(e) => tracing::error!("SIGHUP: {e:#}; keeping the running configuration"),
    }
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

fn tree_config(town: &Town, tokens: &TokenRegistry) -> Result<topology::TreeConfig> {
    let tokens = tokens.clone();
    let mint_token: MintToken = Arc::new(move |identity: &AgentIdentity| {
        let wire_identity = Identity::Agent {
            address: identity.address.clone(),
            role: identity.role.to_string(),
            rig: identity.rig.clone(),
        };
        // A new session's token replaces the old one's: the dead session cannot act any more.
        tokens.revoke_address(&identity.address);
        tokens
            .issue(wire_identity)
            .map(|t| t.expose().to_string())
            .map_err(|e| e.to_string())
    });
    let context = TownContext {
        town_root: town.root.clone(),
        socket_path: socket_path_for(&town.runtime_dir()),
        ledger: LedgerHandle::default(),
        mint_token,
        // The built-in sim reads no instructions file: its sessions start without the git calls.
        prepare_home: Some(Arc::new(|home, identity, runtime| {
            if runtime.name == gastown_town::runtimes::spec::SIM_NAME {
                return Ok(());
            }
            gastown_town::runtimes::prepare_home(home, identity, runtime)
                .map_err(|e| format!("{e:#}"))
        })),
        check_workspace: Some(Arc::new({
            let town = town.clone();
            move |identity, hook| starting::check_workspace(&town, identity, hook)
        })),
    };
    Ok(topology::TreeConfig {
        town: town.clone(),
        exe: std::env::current_exe().context("cannot find this executable for the sim runtime")?,
        ledger: town.ledger_config()?,
        context,
        stop_timeout: town.config.run.stop_timeout.0,
        patrol_interval: town.config.run.patrol_interval.0,
        handler: Arc::new(OnceLock::new()),
    })
}
