//! Dog sessions under `gastown run` (`docs/dogs.md`): judgement work slung to
//! `deacon/dogs/<name>` runs in a session of `[roles] dog`'s runtime, a temporary child of the
//! deacon's `dogs` supervisor (beside the chores, at `town/deacon/dogs/<name>`), started on demand
//! by the sling's effect, by the GUPP patrol (a dog with a hooked bead gets its session back after
//! a crash or a restart of `gastown run`), and stopped by the patrol's idle sweep once it has had
//! nothing on its hook for `[run] dog_idle_after`.
//!
//! Dogs are found by their registered names (`gastown_town::names`), never by walking the tree;
//! only starting and stopping one walks down to its `dogs` supervisor, as for polecats.

use super::handler::TownHandler;
use super::topology;
use gastown_actors::registry;
use gastown_actors::role::role_child;
use gastown_supervision::{Restart, SupervisorRef};
use gastown_town::dog_sessions;
use gastown_town::dogs::DogReport;
use gastown_town::identity::{AgentIdentity, Role};
use gastown_town::names::{self, Registered};
use gastown_town::runtimes;
use gastown_town::town::Town;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Instant;

/// Since when each running dog session has had nothing on its hook (the idle sweep's memory).
#[derive(Default)]
pub struct IdleDogs(Mutex<HashMap<String, Instant>>);

impl TownHandler {
    /// Make sure dog `identity` has a session of `[roles] dog`'s runtime (see
    /// `TownHandler::ensure_session`, whose dog branch this is). With `restart_running` (a
    /// sling) a running one is restarted so it is told its new hook; without (the patrol) it is
    /// left alone, and one that is not running is started when its backoff is due. A dog whose
    /// runtime cannot start is stuck, its hook kept.
    pub(super) async fn ensure_dog_session(
        &self,
        root: &SupervisorRef,
        identity: &AgentIdentity,
        restart_running: bool,
    ) -> Result<String, String> {
        let address = &identity.address;
        let _starting = self.attempts.lock(address).await;
        self.attempts.forget_idle_dog(address);
        if let Ok(role) = topology::find_role(root, address).await {
            if !restart_running {
                return Ok(String::new());
            }
            role.restart_child("session")
                .await
                .map_err(|e| e.to_string())?;
            return Ok(format!("restarted {address}'s session on its new hook\n"));
        }
        if !restart_running && !self.attempts.due(address) {
            return Ok(String::new());
        }
        self.attempts.note(address);
        if gastown_town::dogs::names().contains(&identity.name.as_str()) {
            // Hooked by hand (`hook attach`): a chore's place in the tree is taken.
            let why = format!(
                "{} is the name of one of the deacon's chores, not a dog session: move its hook to another dog (`gastown hook attach <bead> --agent deacon/dogs/<name> --force`)",
                identity.name
            );
            return Err(self.cannot_start(identity, None, &why).await);
        }
        // town.toml afresh: `[roles] dog` set since `gastown run` started counts at once.
        let town = Town::load(&self.tree.town.root).unwrap_or_else(|_| self.tree.town.clone());
        let Some(name) = town.config.roles.dog.clone() else {
            let why = format!(
                "dogs have no runtime: set `[roles] dog` in {}",
                town.root.join(gastown_town::town::CONFIG_FILE).display()
            );
            return Err(self.cannot_start(identity, None, &why).await);
        };
        let runtime = match topology::resolve_runtime(&name, &self.tree, &[]) {
            Ok(runtime) => runtime,
            Err(why) => return Err(self.cannot_start(identity, Some(&name), &why).await),
        };
        if let Err(e) = runtimes::check_program(&runtime) {
            let why = e.to_string();
            return Err(self.cannot_start(identity, Some(&name), &why).await);
        }
        let place = names::tree_place(identity);
        let dogs = supervisor_at(root, &place.parents)
            .await
            .ok_or_else(|| format!("the deacon's dogs are not running: cannot start {address}"))?;
        let spec = topology::role_spec(&self.tree, identity.clone(), Some(runtime));
        dogs.start_child(role_child(spec).with_restart(Restart::Temporary))
            .await
            .map_err(|e| format!("cannot start {address}: {e}"))?;
        Ok(format!("started {address} ({name}) at {}\n", place.path()))
    }

    /// `gastown dog list`'s entries for the dog sessions the ledger knows.
    pub(super) async fn dog_session_reports(&self) -> Vec<DogReport> {
        let known = self
            .ledger
            .call("dog list: sessions", |l| dog_sessions::known(l))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| format!("{e:#}")));
        let records = match known {
            Ok(records) => records,
            Err(e) => {
                tracing::warn!("cannot list the dog sessions: {e}");
                return Vec::new();
            }
        };
        records
            .iter()
            .map(|record| {
                let running = AgentIdentity::parse(&record.address)
                    .is_ok_and(|identity| registry::role_actor(&identity).is_some());
                dog_sessions::report(record, running)
            })
            .collect()
    }

    /// The idle sweep: every running dog session with nothing on its hook (`hooked`: the
    /// addresses with hooked work, as the patrol just read them) for `[run] dog_idle_after` is
    /// stopped. Its identity stays; the next sling to it starts a session again.
    pub(super) async fn stop_idle_dogs(&self, hooked: &HashSet<String>) {
        let idle_after = self.tree.town.config.run.dog_idle_after();
        for identity in running_dogs() {
            let address = &identity.address;
            if hooked.contains(address) {
                self.attempts.forget_idle_dog(address);
                continue;
            }
            if !self.attempts.idle_dog_for(address, idle_after) {
                continue;
            }
            let Ok(root) = self.root().await else {
                return;
            };
            let _stopping = self.attempts.lock(address).await;
            if !self.attempts.still_idle_dog(address) {
                continue; // Started on new work meanwhile (which forgets its idle time).
            }
            let place = names::tree_place(&identity);
            let Some(dogs) = supervisor_at(root, &place.parents).await else {
                return;
            };
            match dogs.terminate_child(&place.id).await {
                Ok(()) => tracing::info!(
                    agent = %address,
                    idle_for = %humantime::format_duration(idle_after),
                    "dog session stopped: nothing on its hook"
                ),
                Err(e) => tracing::warn!(agent = %address, "cannot stop the idle dog session: {e}"),
            }
            self.attempts.forget_idle_dog(address);
        }
    }
}

impl super::patrol::Attempts {
    /// Has `address` (a running dog) had nothing on its hook for `idle_after`? Counted from the
    /// first sweep that saw it idle.
    fn idle_dog_for(&self, address: &str, idle_after: std::time::Duration) -> bool {
        let Ok(mut idle) = self.idle_dogs.0.lock() else {
            return false;
        };
        idle.entry(address.to_string())
            .or_insert_with(Instant::now)
            .elapsed()
            >= idle_after
    }

    /// Is `address` still counted idle (no start of it since the sweep looked)?
    fn still_idle_dog(&self, address: &str) -> bool {
        self.idle_dogs
            .0
            .lock()
            .is_ok_and(|idle| idle.contains_key(address))
    }

    /// `address` has work, or was just started or stopped: its idle time starts over.
    fn forget_idle_dog(&self, address: &str) {
        if let Ok(mut idle) = self.idle_dogs.0.lock() {
            idle.remove(address);
        }
    }
}

/// The dogs whose role runs, read from ractor's registry (the chores register under names of
/// their own, so only dog sessions are found).
fn running_dogs() -> Vec<AgentIdentity> {
    ractor::registry::registered()
        .into_iter()
        .filter_map(|name| match names::identity_of_registered(&name)? {
            (Registered::Role, identity) if identity.role == Role::Dog => Some(identity),
            _ => None,
        })
        .collect()
}

/// The supervisor at `segments` below `root`, if every one of them runs.
async fn supervisor_at(root: &SupervisorRef, segments: &[String]) -> Option<SupervisorRef> {
    let mut node = root.clone();
    for segment in segments {
        node = node.child_supervisor(segment).await.ok()??;
    }
    Some(node)
}
