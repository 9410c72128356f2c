//! The shape of a town's supervision tree, and finding or adding roles in it.
//!
//! ```text
//! town (one_for_one)
//! ├── ledger        single writer of the ledger, group commit
//! ├── router        mail delivery into sessions
//! ├── socket        the Unix socket server
//! ├── mayor         role (rest_for_one): agent, session?
//! ├── deacon        role: agent, session?, patrol, boot, dogs (one actor per chore; dog
//! │                 sessions started on demand, see `dog_sessions.rs`)
//! └── rigs (dynamic; each rig temporary: one that gave up is restarted by the deacon)
//!     └── <rig> (one_for_one)
//!         ├── crew (dynamic)      └── <name>  role: agent, session
//!         ├── polecats (dynamic)  └── <name>  role: agent, session
//!         ├── refinery            the merge queue (rigs on disk)
//!         └── witness             role: agent, session? (the witness agent), patrol (nudge,
//!                                 restart, escalate; rigs on disk)
//! ```
//!
//! Paths are plain: a role's path is its address below `town/` (below `town/rigs/` for the
//! agents of a rig), and every path is built or read through `gastown_town::names`. Roles
//! register by address, so finding one ([`find_role`]) reads ractor's registry instead of
//! walking the tree.

use gastown_actors::deacon::{Boot, BootArgs, PATROL_NAME, Patrol, PatrolArgs};
use gastown_actors::ledger::{LEDGER_NAME, LedgerActor, LedgerArgs};
use gastown_actors::registry;
use gastown_actors::role::{RoleSpec, TownContext, role_child};
use gastown_beads::LedgerConfig;
use gastown_supervision::{
    Backoff, ChildSpec, Intensity, Restart, Strategy, SupervisorRef, SupervisorSpec,
};
use gastown_town::identity::{AgentIdentity, Role};
use gastown_town::names;
use gastown_town::runtimes::spec::Runtime;
use gastown_town::town::Town;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// What building the tree needs.
#[derive(Clone)]
pub struct TreeConfig {
    pub town: Town,
    /// This binary, for the `sim` runtime.
    pub exe: PathBuf,
    pub ledger: LedgerConfig,
    pub context: TownContext,
    /// How long a stopping session gets after SIGTERM.
    pub stop_timeout: Duration,
    /// The deacon's patrol interval.
    pub patrol_interval: Duration,
    /// The socket's request handler, once built (refineries carry out effects through it).
    pub handler: Arc<OnceLock<Arc<super::handler::TownHandler>>>,
    /// The town's event stream (`super::events`).
    pub bus: Arc<super::events::EventBus>,
    /// The account each session runs under, for runtimes with accounts (`super::limits`).
    pub accounts: Arc<super::limits::Accounts>,
}

/// The town supervisor's spec; `socket` is the socket server's child spec.
pub fn town_spec(
    cfg: &TreeConfig,
    socket: ChildSpec,
    router: ChildSpec,
) -> Result<SupervisorSpec, String> {
    let ledger = cfg.ledger.clone();
    let changes = super::events::ledger_sink(Arc::clone(&cfg.bus));
    let ledger_child = ChildSpec::actor("ledger", LedgerActor, move || LedgerArgs {
        config: ledger.clone(),
        changes: Some(Arc::clone(&changes)),
    })
    .with_name(LEDGER_NAME);
    let mayor = role_spec(
        cfg,
        identity("mayor")?,
        configured_runtime(cfg, Role::Mayor)?,
    );
    let mut deacon = role_spec(
        cfg,
        identity("deacon")?,
        configured_runtime(cfg, Role::Deacon)?,
    );
    deacon.extra_children = deacon_children(cfg);
    Ok(SupervisorSpec::new(Strategy::OneForOne)
        .with_intensity(Intensity::new(10, Duration::from_secs(60)))
        .child(ledger_child)
        .child(router)
        .child(socket)
        .child(role_child(mayor))
        .child(role_child(deacon))
        .child(ChildSpec::supervisor(
            names::RIGS,
            SupervisorSpec::new(Strategy::Dynamic),
        )))
}

/// A round of the deacon's checks that has not finished for this long hangs, whatever the
/// patrol's interval: a round may restart a rig or sling a stranded convoy's beads (git work).
const ROUND_STALE_MIN: std::time::Duration = std::time::Duration::from_secs(300);

fn deacon_children(cfg: &TreeConfig) -> Vec<ChildSpec> {
    let interval = cfg.patrol_interval;
    let checks = super::deacon_checks::checks(cfg.town.clone(), Arc::clone(&cfg.handler));
    let mut dogs = SupervisorSpec::new(Strategy::OneForOne);
    for dog in super::dogs::children(&cfg.town) {
        dogs = dogs.child(dog);
    }
    vec![
        ChildSpec::actor("patrol", Patrol, move || PatrolArgs {
            interval,
            checks: Some(checks.clone()),
        })
        .with_name(PATROL_NAME),
        ChildSpec::actor("boot", Boot, move || BootArgs {
            patrol: PATROL_NAME,
            every: interval,
            stale_after: interval * 3,
            round_stale_after: (interval * 10).max(ROUND_STALE_MIN),
        }),
        ChildSpec::supervisor(names::DOGS, dogs),
    ]
}

fn identity(address: &str) -> Result<AgentIdentity, String> {
    AgentIdentity::parse(address).map_err(|e| e.to_string())
}

/// The runtime `town.toml` configures for a town-level role, if any.
fn configured_runtime(cfg: &TreeConfig, role: Role) -> Result<Option<Runtime>, String> {
    let name = match role {
        Role::Mayor => cfg.town.config.roles.mayor.as_deref(),
        Role::Deacon => cfg.town.config.roles.deacon.as_deref(),
        _ => None,
    };
    name.map(|n| resolve_runtime(n, cfg, &[])).transpose()
}

/// A runtime by name: `sim`, a custom agent of town.toml, or a preset (see `gastown_town::runtimes`),
/// with `env` added to its environment. town.toml is read afresh so `gastown config agent set`
/// counts at once; if it has become unreadable the config `gastown run` started with is used.
pub fn resolve_runtime(
    name: &str,
    cfg: &TreeConfig,
    env: &[(String, String)],
) -> Result<Runtime, String> {
    let fresh = Town::load(&cfg.town.root);
    let town = match &fresh {
        Ok(town) => town,
        Err(e) => {
            tracing::warn!(error = %e, "town.toml unreadable; using the config gastown run started with");
            &cfg.town
        }
    };
    let mut rt =
        gastown_town::runtimes::by_name(town, name, &cfg.exe).map_err(|e| e.to_string())?;
    rt.env.extend(env.iter().cloned());
    Ok(rt)
}

/// The role spec of one identity. Town-level roles never give up (their sessions back off,
/// doubling, to one attempt every 5 minutes, and the mayor and the overseer are told of the
/// crash loop); rig-level agents give up after 3 crashes in 5 s, so a broken agent stops costing
/// anything and the rest of the town keeps running. A session only counts as healthy again (its
/// backoff starting over) after 3 minutes up, longer than any startup.
pub fn role_spec(cfg: &TreeConfig, identity: AgentIdentity, runtime: Option<Runtime>) -> RoleSpec {
    let intensity = match identity.role {
        Role::Mayor | Role::Deacon => Intensity::new(u32::MAX, Duration::from_secs(3600)),
        _ => Intensity::default(),
    };
    RoleSpec {
        home: names::home(&cfg.town.root, &identity),
        identity,
        runtime,
        town: cfg.context.clone(),
        intensity,
        backoff: Backoff {
            max: gastown_town::defaults::ROLE_BACKOFF_MAX,
            reset_after: gastown_town::defaults::ROLE_BACKOFF_RESET_AFTER,
            ..Backoff::default()
        },
        extra_children: Vec::new(),
        stop_timeout: cfg.stop_timeout,
    }
}

/// The running role of `address`, found by its registered name (no walk of the tree); it must
/// be in `root`'s tree.
pub async fn find_role(root: &SupervisorRef, address: &str) -> Result<SupervisorRef, String> {
    let identity = identity(address)?;
    let not_running = || {
        format!("no agent {address} is running under this supervisor: `gastown actors` lists them")
    };
    let role = registry::role(&identity).await.ok_or_else(not_running)?;
    let in_tree = role
        .path()
        .strip_prefix(root.path())
        .is_some_and(|rest| rest.starts_with('/'));
    if !in_tree {
        return Err(not_running());
    }
    Ok(role)
}

/// The supervisor at `segments` below `root`, if every one of them runs.
async fn supervisor_at(root: &SupervisorRef, segments: &[String]) -> Option<SupervisorRef> {
    let mut node = root.clone();
    for segment in segments {
        node = node.child_supervisor(segment).await.ok()??;
    }
    Some(node)
}

/// Refuse every identity but a crew member or polecat: only they are spawned and stopped.
fn check_rig_level(identity: &AgentIdentity) -> Result<&str, String> {
    match (identity.role, identity.rig.as_deref()) {
        (Role::Crew | Role::Polecat, Some(rig)) => Ok(rig),
        _ => Err(format!(
            "{identity} is not a crew member or polecat: only <rig>/crew/<name> and <rig>/polecats/<name> can be spawned"
        )),
    }
}

/// Can `identity` be put under supervision? A crew member or polecat of a rig that exists (a
/// rig's directory holds its rig.toml; `town`, `mayor`, `deacon` … are never rigs). Checked
/// before anything is made.
pub fn check_spawnable(cfg: &TreeConfig, identity: &AgentIdentity) -> Result<(), String> {
    let rig = check_rig_level(identity)?;
    gastown_town::rig::Rig::load(&cfg.town, rig)
        .map(drop)
        .map_err(|e| format!("cannot spawn {identity}: {e}"))
}

/// Stop a running crew member or polecat (its whole role: actor and session) and wait until it
/// is gone, its session's process group included: to start it again with another runtime, or
/// before its worktree is removed. `Ok(false)` when it was not running.
pub async fn stop_agent(root: &SupervisorRef, identity: &AgentIdentity) -> Result<bool, String> {
    check_rig_level(identity)?;
    let place = names::tree_place(identity);
    let Some(group) = supervisor_at(root, &place.parents).await else {
        return Ok(false);
    };
    match group.terminate_child(&place.id).await {
        Ok(()) => Ok(true),
        Err(gastown_supervision::SupervisorError::UnknownChild { .. }) => Ok(false),
        Err(e) => Err(format!("cannot stop {identity}: {e}")),
    }
}

/// Put a rig-level agent under supervision (crew or polecat), creating its rig's node on demand.
/// Its workspace must be ready (see `super::starting`); the runtime must be the one recorded
/// for it (the session factory refuses any other). Returns its tree path.
pub async fn spawn_agent(
    root: &SupervisorRef,
    cfg: &TreeConfig,
    identity: AgentIdentity,
    runtime: Runtime,
) -> Result<String, String> {
    check_spawnable(cfg, &identity)?;
    let rig = check_rig_level(&identity)?;
    ensure_rig(root, cfg, rig).await?;
    let place = names::tree_place(&identity);
    let group = supervisor_at(root, &place.parents).await.ok_or_else(|| {
        let group = place.parents.last().map(String::as_str).unwrap_or_default();
        format!("rig {rig} has no {group} supervisor")
    })?;
    if group
        .child_supervisor(&place.id)
        .await
        .ok()
        .flatten()
        .is_some()
    {
        return Err(format!(
            "{identity} is already running: `gastown restart {identity}` restarts its session"
        ));
    }
    // The session factory prepares the home (instructions, hook settings) before each start.
    let spec = role_spec(cfg, identity.clone(), Some(runtime));
    group
        .start_child(role_child(spec).with_restart(Restart::Temporary))
        .await
        .map_err(|e| e.to_string())?;
    Ok(place.path())
}

/// The rig's supervisor, started (with its refinery) if it is not running yet.
pub async fn ensure_rig(
    root: &SupervisorRef,
    cfg: &TreeConfig,
    rig: &str,
) -> Result<SupervisorRef, String> {
    let place = names::rig_place(rig);
    let rigs = supervisor_at(root, &place.parents)
        .await
        .ok_or("the town has no rigs supervisor")?;
    if let Some(existing) = rigs
        .child_supervisor(&place.id)
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok(existing);
    }
    let mut spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(ChildSpec::supervisor(
            names::CREW,
            SupervisorSpec::new(Strategy::Dynamic),
        ))
        .child(ChildSpec::supervisor(
            names::POLECATS,
            SupervisorSpec::new(Strategy::Dynamic),
        ));
    let on_disk = gastown_town::rig::Rig::load(&cfg.town, rig).is_ok();
    if let (true, Some(handler)) = (on_disk, cfg.handler.get()) {
        let args = super::refinery_actor::RefineryArgs {
            town: cfg.town.clone(),
            rig: rig.to_string(),
            ledger: gastown_actors::ledger::LedgerHandle::default(),
            handler: Arc::clone(handler),
        };
        // At the refinery's own tree path, `town/rigs/<rig>/refinery`.
        spec = spec.child(ChildSpec::actor(
            Role::Refinery.as_str(),
            super::refinery_actor::RefineryActor,
            move || args.clone(),
        ));
    }
    if on_disk {
        spec = spec.child(witness_child(cfg, rig)?);
    }
    // Temporary: a rig whose supervisor gave up stays down instead of being restarted at once,
    // forever, by `rigs`; the deacon's patrol restarts it with a backoff and escalates a rig that
    // keeps giving up (`super::deacon_rigs`).
    rigs.start_child(
        ChildSpec::supervisor(place.id.clone(), spec).with_restart(Restart::Temporary),
    )
    .await
    .map_err(|e| e.to_string())?;
    rigs.child_supervisor(&place.id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("rig {rig} did not start"))
}

/// Whether `rig`'s supervisor runs under `root` (it is missing before its first start, and after
/// it gave up).
pub async fn rig_running(root: &SupervisorRef, rig: &str) -> bool {
    let place = names::rig_place(rig);
    let mut segments = place.parents;
    segments.push(place.id);
    supervisor_at(root, &segments).await.is_some()
}

/// The rig's witness: a role `<rig>/witness` (rest_for_one: agent, session?, patrol) whose
/// `patrol` child is the mechanical witness (`super::witness_actor`), and whose session runs
/// the rig's witness agent when `[roles] witness` names one (it judges the rig's escalations
/// first, see `gastown_town::escalation::routing`). A runtime that does not resolve is an error
/// that names the key.
fn witness_child(cfg: &TreeConfig, rig: &str) -> Result<ChildSpec, String> {
    let config = gastown_town::rig::Rig::load(&cfg.town, rig)
        .map_err(|e| e.to_string())?
        .config;
    let runtime = gastown_town::witness::agent_runtime(&cfg.town, &config)
        .map(|name| {
            resolve_runtime(&name, cfg, &[]).map_err(|e| {
                format!(
                    "the witness agent of rig {rig} (`[roles] witness` in its rig.toml or town.toml) cannot run: {e}"
                )
            })
        })
        .transpose()?;
    let args = super::witness_actor::WitnessArgs {
        town: cfg.town.clone(),
        rig: rig.to_string(),
        ledger: gastown_actors::ledger::LedgerHandle::default(),
        handler: cfg.handler.get().cloned(),
        bus: Arc::clone(&cfg.bus),
    };
    let mut spec = role_spec(cfg, identity(&format!("{rig}/witness"))?, runtime);
    // At `town/rigs/<rig>/witness/patrol`.
    spec.extra_children = vec![ChildSpec::actor(
        "patrol",
        super::witness_actor::WitnessActor,
        move || args.clone(),
    )];
    Ok(role_child(spec))
}

#[cfg(test)]
mod tests {
    use gastown_actors::deacon::PATROL_NAME;
    use gastown_actors::ledger::LEDGER_NAME;
    use gastown_town::names;

    #[test]
    fn the_towns_own_registered_names_are_no_agents() {
        for name in [LEDGER_NAME, PATROL_NAME, super::super::router::ROUTER_NAME] {
            assert_eq!(names::identity_of_registered(name), None, "{name}");
        }
    }
}
