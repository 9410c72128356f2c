//! The shape of a town's supervision tree, and finding or adding roles in it.
//!
//! ```text
//! town (one_for_one)
//! ├── ledger        single writer of the ledger, group commit
//! ├── router        mail delivery into sessions
//! ├── socket        the Unix socket server
//! ├── mayor         role (rest_for_one): agent, session?
//! ├── deacon        role: agent, session?, patrol, boot, dogs (dynamic)
//! └── rigs (dynamic)
//!     └── rig:<name> (one_for_one)
//!         ├── refinery             the merge queue (rigs on disk)
//!         ├── crew (dynamic)      └── crew:<name>     role: agent, session
//!         └── polecats (dynamic)  └── polecat:<name>  role: agent, session
//! ```

use gastown_actors::deacon::{Boot, BootArgs, PATROL_NAME, Patrol};
use gastown_actors::ledger::{LEDGER_NAME, LedgerActor, LedgerArgs};
use gastown_actors::role::{RoleSpec, TownContext, role_supervisor};
use gastown_beads::LedgerConfig;
use gastown_supervision::{
    Backoff, ChildSpec, Intensity, Restart, Strategy, SupervisorRef, SupervisorSpec,
};
use gastown_town::identity::{AgentIdentity, Role};
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
}

/// The town supervisor's spec; `socket` is the socket server's child spec.
pub fn town_spec(
    cfg: &TreeConfig,
    socket: ChildSpec,
    router: ChildSpec,
) -> Result<SupervisorSpec, String> {
    let ledger = cfg.ledger.clone();
    let ledger_child = ChildSpec::actor("ledger", LedgerActor, move || LedgerArgs {
        config: ledger.clone(),
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
    deacon.extra_children = deacon_children(cfg.patrol_interval);
    Ok(SupervisorSpec::new(Strategy::OneForOne)
        .with_intensity(Intensity::new(10, Duration::from_secs(60)))
        .child(ledger_child)
        .child(router)
        .child(socket)
        .child(ChildSpec::supervisor("mayor", role_supervisor(mayor)))
        .child(ChildSpec::supervisor("deacon", role_supervisor(deacon)))
        .child(ChildSpec::supervisor(
            "rigs",
            SupervisorSpec::new(Strategy::Dynamic),
        )))
}

fn deacon_children(interval: Duration) -> Vec<ChildSpec> {
    vec![
        ChildSpec::actor("patrol", Patrol, move || interval).with_name(PATROL_NAME),
        ChildSpec::actor("boot", Boot, move || BootArgs {
            every: interval,
            stale_after: interval * 3,
        }),
        ChildSpec::supervisor("dogs", SupervisorSpec::new(Strategy::Dynamic)),
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

/// The role spec of one identity. Town-level roles never give up (their sessions back off to
/// one attempt every 30 s); rig-level agents give up after 3 crashes in 5 s, so a broken agent
/// stops costing anything and the rest of the town keeps running.
pub fn role_spec(cfg: &TreeConfig, identity: AgentIdentity, runtime: Option<Runtime>) -> RoleSpec {
    let intensity = match identity.role {
        Role::Mayor | Role::Deacon => Intensity::new(u32::MAX, Duration::from_secs(3600)),
        _ => Intensity::default(),
    };
    RoleSpec {
        home: home_of(&cfg.town, &identity),
        identity,
        runtime,
        town: cfg.context.clone(),
        intensity,
        backoff: Backoff::default(),
        extra_children: Vec::new(),
        stop_timeout: cfg.stop_timeout,
    }
}

/// Where a role's sessions run.
pub fn home_of(town: &Town, identity: &AgentIdentity) -> PathBuf {
    let root = &town.root;
    match (identity.role, identity.rig.as_deref()) {
        (Role::Mayor, _) => root.join("mayor"),
        (Role::Deacon, _) => root.join("deacon"),
        (Role::Dog, _) => root.join("deacon").join("dogs").join(&identity.name),
        // Polecats and crew work in their rig's worktree / clone (made by `sling`).
        (Role::Crew, Some(rig)) => root.join(rig).join("crew").join(&identity.name).join("rig"),
        (Role::Polecat, Some(rig)) => root
            .join(rig)
            .join("polecats")
            .join(&identity.name)
            .join("rig"),
        (_, Some(rig)) => root.join(rig).join(identity.role.as_str()),
        (_, None) => root.join(identity.role.as_str()),
    }
}

/// The tree path segments of a role, below the town.
fn segments(identity: &AgentIdentity) -> Vec<String> {
    match (identity.role, identity.rig.as_deref()) {
        (Role::Mayor, _) => vec!["mayor".into()],
        (Role::Deacon, _) => vec!["deacon".into()],
        (Role::Dog, _) => vec![
            "deacon".into(),
            "dogs".into(),
            format!("dog:{}", identity.name),
        ],
        (Role::Crew, Some(rig)) => rig_path(rig, "crew", format!("crew:{}", identity.name)),
        (Role::Polecat, Some(rig)) => {
            rig_path(rig, "polecats", format!("polecat:{}", identity.name))
        }
        (role, Some(rig)) => vec!["rigs".into(), format!("rig:{rig}"), role.as_str().into()],
        (role, None) => vec![role.as_str().into()],
    }
}

fn rig_path(rig: &str, group: &str, leaf: String) -> Vec<String> {
    vec!["rigs".into(), format!("rig:{rig}"), group.into(), leaf]
}

/// The supervisor of a running role.
pub async fn find_role(root: &SupervisorRef, address: &str) -> Result<SupervisorRef, String> {
    let identity = identity(address)?;
    let mut node = root.clone();
    for seg in segments(&identity) {
        node = match node.child_supervisor(&seg).await {
            Ok(Some(next)) => next,
            _ => {
                return Err(format!(
                    "no agent {address} is running under this supervisor: `gastown actors` lists them"
                ));
            }
        };
    }
    Ok(node)
}

/// The group supervisor id and leaf id of a crew member or polecat.
fn leaf_of(identity: &AgentIdentity) -> Result<(&'static str, String), String> {
    match identity.role {
        Role::Crew => Ok(("crew", format!("crew:{}", identity.name))),
        Role::Polecat => Ok(("polecats", format!("polecat:{}", identity.name))),
        _ => Err(format!(
            "{identity} is not a crew member or polecat: only <rig>/crew/<name> and <rig>/polecats/<name> can be spawned"
        )),
    }
}

/// Can `identity` be put under supervision? A crew member or polecat of a rig that exists (a
/// rig's directory holds its rig.toml; `town`, `mayor`, `deacon` … are never rigs). Checked
/// before anything is made.
pub fn check_spawnable(cfg: &TreeConfig, identity: &AgentIdentity) -> Result<(), String> {
    leaf_of(identity)?;
    let rig = identity
        .rig
        .as_deref()
        .ok_or("a rig-level agent has a rig")?;
    gastown_town::rig::Rig::load(&cfg.town, rig)
        .map(drop)
        .map_err(|e| format!("cannot spawn {identity}: {e}"))
}

/// Stop a running crew member or polecat (its whole role: actor and session) and wait until it
/// is gone, its session's process group included: to start it again with another runtime, or
/// before its worktree is removed. `Ok(false)` when it was not running.
pub async fn stop_agent(root: &SupervisorRef, identity: &AgentIdentity) -> Result<bool, String> {
    let (group, leaf) = leaf_of(identity)?;
    let rig = identity
        .rig
        .as_deref()
        .ok_or("a rig-level agent has a rig")?;
    let Ok(Some(rigs)) = root.child_supervisor("rigs").await else {
        return Ok(false);
    };
    let Ok(Some(rig_sup)) = rigs.child_supervisor(&format!("rig:{rig}")).await else {
        return Ok(false);
    };
    let Ok(Some(group_sup)) = rig_sup.child_supervisor(group).await else {
        return Ok(false);
    };
    match group_sup.terminate_child(&leaf).await {
        Ok(()) => Ok(true),
        Err(gastown_supervision::SupervisorError::UnknownChild { .. }) => Ok(false),
        Err(e) => Err(format!("cannot stop {identity}: {e}")),
    }
}

/// Put a rig-level agent under supervision (crew or polecat), creating its rig's node on demand.
/// Its workspace must be ready (see `super::starting`); the runtime must be the one recorded
/// for it (the session factory refuses any other).
pub async fn spawn_agent(
    root: &SupervisorRef,
    cfg: &TreeConfig,
    identity: AgentIdentity,
    runtime: Runtime,
) -> Result<String, String> {
    check_spawnable(cfg, &identity)?;
    let (group, leaf) = leaf_of(&identity)?;
    let rig = identity.rig.clone().ok_or("a rig-level agent has a rig")?;
    let rig_sup = ensure_rig(root, cfg, &rig).await?;
    let group_sup = rig_sup
        .child_supervisor(group)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("rig {rig} has no {group} supervisor"))?;
    if group_sup
        .child_supervisor(&leaf)
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
    let path = format!("{}/{leaf}", group_sup.path());
    group_sup
        .start_child(
            ChildSpec::supervisor(leaf, role_supervisor(spec)).with_restart(Restart::Temporary),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(path)
}

/// The rig's supervisor, started (with its refinery) if it is not running yet.
pub async fn ensure_rig(
    root: &SupervisorRef,
    cfg: &TreeConfig,
    rig: &str,
) -> Result<SupervisorRef, String> {
    let rigs = root
        .child_supervisor("rigs")
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the town has no rigs supervisor")?;
    let id = format!("rig:{rig}");
    if let Some(existing) = rigs
        .child_supervisor(&id)
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok(existing);
    }
    let mut spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(ChildSpec::supervisor(
            "crew",
            SupervisorSpec::new(Strategy::Dynamic),
        ))
        .child(ChildSpec::supervisor(
            "polecats",
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
        spec = spec.child(ChildSpec::actor(
            "refinery",
            super::refinery_actor::RefineryActor,
            move || args.clone(),
        ));
    }
    rigs.start_child(ChildSpec::supervisor(id.clone(), spec))
        .await
        .map_err(|e| e.to_string())?;
    rigs.child_supervisor(&id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("rig {rig} did not start"))
}

/// The address of the role whose supervisor path is `path`
/// (`town/rigs/rig:alpha/crew/crew:max` → `alpha/crew/max`).
pub fn address_of_role_path(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["town", "mayor"] => Some("mayor".into()),
        ["town", "deacon"] => Some("deacon".into()),
        ["town", "rigs", rig, group, leaf] => {
            let rig = rig.strip_prefix("rig:")?;
            let name = leaf.split_once(':')?.1;
            Some(format!("{rig}/{group}/{name}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::address_of_role_path;

    #[test]
    fn role_paths_map_to_addresses() {
        let check = |path: &str, want: Option<&str>| {
            assert_eq!(address_of_role_path(path).as_deref(), want, "{path}");
        };
        check("town/mayor", Some("mayor"));
        check("town/rigs/rig:alpha/crew/crew:max", Some("alpha/crew/max"));
        check(
            "town/rigs/rig:alpha/polecats/polecat:nux",
            Some("alpha/polecats/nux"),
        );
        check("town/rigs/rig:alpha/crew", None);
        check("town/ledger", None);
    }
}
