//! SIGHUP: town.toml is re-read; the log filter and `[budget]` are reloaded, and every role session whose
//! runtime changed is restarted with its new one — or started, or stopped — through the role's
//! supervisor, so the tree's usual start path runs (the factory reads the hook again and GUPP
//! resumes the work). Sessions whose runtime did not change are not touched.
//!
//! What a role runs, read from the fresh config:
//!
//! - the mayor and the deacon: `[roles] mayor` / `[roles] deacon` of town.toml;
//! - a rig's witness: `[roles] witness` of its rig.toml, else of town.toml;
//! - dogs: `[roles] dog`;
//! - crew members and polecats: the runtime recorded for the identity (a durable choice, which a
//!   config change never switches: `docs/runtimes.md`) — so only its definition can change
//!   (`[agents.<name>]`: program, args, env, …).
//!
//! A name resolves to a whole runtime (program, args, env, prompt mode, …) and the comparison is
//! of the whole runtime, so an edited `[agents.<name>]` counts as a change of every session
//! running it. The environment a session was spawned with on top of its runtime (`agent spawn
//! --env`) is kept across the restart. A new runtime whose program cannot be found, or a name
//! that does not resolve, is logged and the running session kept.

use super::logging::Logging;
use super::topology::{self, TreeConfig};
use gastown_actors::registry;
use gastown_actors::role::{LiveRuntime, session_child};
use gastown_town::identity::{AgentIdentity, Role};
use gastown_town::runtimes::{self, spec::Runtime};
use gastown_town::town::Town;

/// Re-read town.toml after a SIGHUP. `running` is the configuration the town runs with; it is
/// replaced by the fresh one when the fresh one loads. A file that no longer loads is logged
/// and nothing changes.
pub async fn on_sighup(tree: &TreeConfig, running: &mut Town, logging: &Logging) {
    let fresh = match Town::load(&tree.town.root) {
        Ok(fresh) => fresh,
        Err(e) => {
            tracing::error!("SIGHUP: {e:#}; keeping the running configuration");
            return;
        }
    };
    // The budgets in effect everywhere from now on: work queued for budget goes out at the
    // dispatch queue's next drain if the new budget allows it.
    gastown_town::budget::reloaded(&fresh);
    match logging.reload(&fresh.config.run.log) {
        Ok(()) => tracing::info!("SIGHUP: town.toml re-read, log filter reloaded"),
        Err(e) => tracing::error!("SIGHUP: {e:#}; keeping the previous log filter"),
    }
    let mut changed = 0;
    for (identity, wanted) in wanted_runtimes(&fresh) {
        if apply(tree, running, &fresh, &identity, &wanted).await {
            changed += 1;
        }
    }
    tracing::info!(
        changed,
        "SIGHUP: role sessions checked against the new configuration"
    );
    *running = fresh;
}

/// What a role should run now.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wanted {
    /// The runtime the configuration names (`None`: no session).
    Configured(Option<String>),
    /// The runtime it runs now, by name: its definition may have changed (crew, polecats).
    Recorded,
}

/// Every role whose runtime the configuration chooses, with what it should run now (roles that
/// do not run are skipped later).
fn wanted_runtimes(fresh: &Town) -> Vec<(AgentIdentity, Wanted)> {
    let mut wanted = Vec::new();
    let roles = &fresh.config.roles;
    for (address, name) in [("mayor", &roles.mayor), ("deacon", &roles.deacon)] {
        if let Ok(identity) = AgentIdentity::parse(address) {
            wanted.push((identity, Wanted::Configured(configured(name.as_deref()))));
        }
    }
    for (rig, loaded) in gastown_town::rig::Rig::list_each(fresh).unwrap_or_default() {
        let Ok(identity) = AgentIdentity::parse(&format!("{rig}/witness")) else {
            continue;
        };
        match loaded {
            Ok(loaded) => wanted.push((
                identity,
                Wanted::Configured(gastown_town::witness::agent_runtime(fresh, &loaded.config)),
            )),
            Err(e) => tracing::error!(
                %rig,
                "SIGHUP: cannot read the rig's config, its witness is left as it runs: {e:#}"
            ),
        }
    }
    for (identity, _) in registry::running_sessions() {
        match identity.role {
            Role::Dog => {
                let name = configured(roles.dog.as_deref());
                wanted.push((identity, Wanted::Configured(name)));
            }
            Role::Crew | Role::Polecat => wanted.push((identity, Wanted::Recorded)),
            _ => {}
        }
    }
    wanted
}

/// A `[roles]` value: unset, empty or `none` is no runtime.
fn configured(name: Option<&str>) -> Option<String> {
    name.map(str::trim)
        .filter(|n| !n.is_empty() && *n != "none")
        .map(str::to_string)
}

/// Bring `identity`'s running role to `wanted`. Returns whether its session was restarted,
/// started or stopped.
async fn apply(
    tree: &TreeConfig,
    running: &Town,
    fresh: &Town,
    identity: &AgentIdentity,
    wanted: &Wanted,
) -> bool {
    let Some(live) = registry::live_runtime(identity).await else {
        return false; // Not running (a rig that gave up, a dog that was stopped meanwhile).
    };
    let current = live.get();
    let name = match (wanted, &current) {
        (Wanted::Recorded, Some(current)) => Some(current.name.as_str()),
        (Wanted::Recorded, None) => return false,
        (Wanted::Configured(name), _) => name.as_deref(),
    };
    let desired = match name {
        None => None,
        Some(name) => match runtimes::by_name(fresh, name, &tree.exe) {
            Ok(runtime) => Some(with_spawn_env(runtime, current.as_ref(), running, tree)),
            Err(e) => {
                tracing::error!(agent = %identity, "SIGHUP: its session is left as it runs: {e}");
                return false;
            }
        },
    };
    if desired == current {
        return false;
    }
    if let Some(runtime) = &desired
        && let Err(e) = runtimes::check_program(runtime)
    {
        tracing::error!(agent = %identity, "SIGHUP: its session is left as it runs: {e}");
        return false;
    }
    let Some(role) = registry::role(identity).await else {
        return false;
    };
    let reason = reason(current.as_ref(), desired.as_ref());
    match (current.is_some(), desired) {
        (true, Some(runtime)) => {
            live.set(Some(runtime));
            match role.restart_child("session").await {
                Ok(_) => tracing::info!(agent = %identity, "SIGHUP: session restarted: {reason}"),
                Err(e) => {
                    tracing::error!(agent = %identity, "SIGHUP: session not restarted ({reason}): {e}")
                }
            }
        }
        (false, Some(runtime)) => {
            let spec = topology::role_spec(tree, identity.clone(), Some(runtime.clone()));
            live.set(Some(runtime));
            match role.start_child(session_child(spec, live.clone())).await {
                Ok(_) => tracing::info!(agent = %identity, "SIGHUP: session started: {reason}"),
                Err(e) => {
                    live.set(None);
                    tracing::error!(agent = %identity, "SIGHUP: session not started ({reason}): {e}")
                }
            }
        }
        (_, None) => stop_session(&role, &live, identity, &reason).await,
    }
    true
}

/// Stop the role's session and forget its child: the role runs on as an actor only.
async fn stop_session(
    role: &gastown_supervision::SupervisorRef,
    live: &LiveRuntime,
    identity: &AgentIdentity,
    reason: &str,
) {
    live.set(None);
    let stopped = match role.terminate_child("session").await {
        Ok(()) => role.delete_child("session").await,
        Err(e) => Err(e),
    };
    match stopped {
        Ok(()) => tracing::info!(agent = %identity, "SIGHUP: session stopped: {reason}"),
        Err(e) => tracing::error!(agent = %identity, "SIGHUP: session not stopped ({reason}): {e}"),
    }
}

/// `runtime` with the environment the running session was given on top of its runtime (`agent
/// spawn --env`): the entries of `current` that neither the runtime's old nor its new
/// definition holds. Only for the same runtime name.
fn with_spawn_env(
    mut runtime: Runtime,
    current: Option<&Runtime>,
    running: &Town,
    tree: &TreeConfig,
) -> Runtime {
    let Some(current) = current.filter(|c| c.name == runtime.name) else {
        return runtime;
    };
    let old = runtimes::by_name(running, &current.name, &tree.exe)
        .map(|r| r.env)
        .unwrap_or_default();
    let extra: Vec<(String, String)> = current
        .env
        .iter()
        .filter(|entry| !old.contains(entry) && !runtime.env.contains(entry))
        .cloned()
        .collect();
    runtime.env.extend(extra);
    runtime
}

/// Why a session changes, for the log.
fn reason(current: Option<&Runtime>, desired: Option<&Runtime>) -> String {
    match (current, desired) {
        (None, Some(new)) => format!("town.toml now gives it runtime {}", new.name),
        (Some(old), None) => format!("town.toml no longer gives it a runtime (was {})", old.name),
        (Some(old), Some(new)) if old.name != new.name => {
            format!("its runtime changed from {} to {}", old.name, new.name)
        }
        (Some(old), Some(new)) => {
            let mut what = Vec::new();
            if old.program != new.program {
                what.push("program");
            }
            if old.args != new.args {
                what.push("args");
            }
            if old.env != new.env {
                what.push("env");
            }
            if what.is_empty() {
                what.push("settings");
            }
            format!("runtime {}'s {} changed", new.name, what.join(", "))
        }
        (None, None) => "no change".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime(name: &str, args: &[&str], env: &[(&str, &str)]) -> Runtime {
        let mut rt = gastown_town::runtimes::spec::plain(name, "agent", Vec::new());
        rt.args = args.iter().map(|a| a.to_string()).collect();
        rt.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        rt
    }

    #[test]
    fn the_reason_names_what_changed() {
        let a = runtime("a", &["x"], &[("K", "1")]);
        let b = runtime("b", &["x"], &[("K", "1")]);
        let a2 = runtime("a", &["y"], &[("K", "2")]);
        assert_eq!(
            reason(Some(&a), Some(&b)),
            "its runtime changed from a to b"
        );
        assert_eq!(reason(Some(&a), Some(&a2)), "runtime a's args, env changed");
        assert_eq!(reason(None, Some(&a)), "town.toml now gives it runtime a");
        assert_eq!(
            reason(Some(&a), None),
            "town.toml no longer gives it a runtime (was a)"
        );
    }

    #[test]
    fn roles_set_to_none_or_empty_have_no_runtime() {
        assert_eq!(configured(Some("none")), None);
        assert_eq!(configured(Some("  ")), None);
        assert_eq!(configured(None), None);
        assert_eq!(configured(Some(" sim ")), Some("sim".to_string()));
    }
}
