//! Starting polecats and crew: every start of an identity — a sling, `agent spawn`, the GUPP
//! patrol, a restart of `gastown run` — goes through [`TownHandler::ensure_session`], which
//!
//! 1. takes the runtime recorded for the identity (deciding and recording it, through the same
//!    rules as `sling`, only when none is recorded yet) — never another;
//! 2. leaves a role that already runs that runtime alone (or restarts its session so it is told
//!    a new hook), and stops a role that runs another runtime before starting it again;
//! 3. checks that the runtime's program exists and that the identity's workspace is its own
//!    (`crate::rig::reconcile`);
//! 4. starts the role.
//!
//! When step 1 or 3 fails the identity is stuck (`super::stuck`): nothing is started, its hook
//! is kept, the mayor and the overseer are told. The patrol retries stuck and given-up
//! identities with a per-identity exponential backoff ([`retry_delay`]); a session that has run
//! for [`HEALTHY_AFTER`] ends the streak.

use super::handler::TownHandler;
use super::{stuck, topology};
use crate::rig::{Rig, reconcile};
use crate::runtimes;
use gastown_actors::agents;
use gastown_actors::identity::{AgentIdentity, Role};
use gastown_actors::role::RoleMsg;
use gastown_actors::session::{SessionMsg, client};
use gastown_supervision::SupervisorRef;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The patrol's first retry of an identity waits this long after its last start.
pub const RETRY_FIRST: Duration = Duration::from_secs(30);
/// ... and each further one twice as long, up to this.
pub const RETRY_MAX: Duration = Duration::from_secs(15 * 60);
/// A session up this long runs: its identity is no longer stuck, its backoff starts over.
pub const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// How long the patrol waits after the `attempts`-th start of an identity before the next one.
pub fn retry_delay(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    RETRY_FIRST.saturating_mul(1 << doublings).min(RETRY_MAX)
}

/// When each identity was last started and how often in a row, for the patrol's backoff; and
/// one lock per identity, so a sling and the patrol never start the same identity at once.
#[derive(Default)]
pub struct Attempts {
    starts: Mutex<HashMap<String, (Instant, u32)>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Attempts {
    /// Hold while starting or stopping `address`'s role.
    async fn lock(&self, address: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = match self.locks.lock() {
            Ok(mut locks) => Arc::clone(locks.entry(address.to_string()).or_default()),
            // A poisoned map: go on without the lock rather than never start anything.
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        };
        lock.lock_owned().await
    }

    fn note(&self, address: &str) {
        if let Ok(mut map) = self.starts.lock() {
            let entry = map
                .entry(address.to_string())
                .or_insert((Instant::now(), 0));
            *entry = (Instant::now(), entry.1.saturating_add(1));
        }
    }

    fn due(&self, address: &str) -> bool {
        self.starts.lock().is_ok_and(|map| {
            map.get(address)
                .is_none_or(|(last, n)| last.elapsed() >= retry_delay(*n))
        })
    }

    fn reset(&self, address: &str) {
        if let Ok(mut map) = self.starts.lock() {
            map.remove(address);
        }
    }
}

/// What the ledger says a start of an identity needs.
struct Plan {
    /// The recorded runtime.
    runtime: String,
    /// The hooked bead, if any.
    hook: Option<String>,
}

impl TownHandler {
    /// Make sure `address` has a session of its recorded runtime. With `restart_running` (a
    /// sling, a hook attach) a running one is restarted so it is told its (new) hook; without
    /// (the patrol) it is left alone, and a role that is not running is started only when its
    /// backoff is due.
    pub async fn ensure_session(
        &self,
        address: &str,
        restart_running: bool,
    ) -> Result<String, String> {
        let identity = AgentIdentity::parse(address).map_err(|e| e.to_string())?;
        let root = self.root().await.map_err(|e| e.message)?.clone();
        if !matches!(identity.role, Role::Polecat | Role::Crew) {
            return town_role_session(&root, address, restart_running).await;
        }
        let _starting = self.attempts.lock(address).await;
        let running_role = topology::find_role(&root, address).await.ok();
        if running_role.is_none() && !restart_running && !self.attempts.due(address) {
            // The patrol, right behind another start of this identity (a sling): not yet due.
            return Ok(String::new());
        }
        let plan = self.plan(&identity).await?;
        let mut note = String::new();
        if let Some(role) = running_role {
            let running = running_runtime(&role).await;
            if running.as_deref() == Some(plan.runtime.as_str()) {
                if !restart_running {
                    return Ok(String::new());
                }
                role.restart_child("session")
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok(format!("restarted {address}'s session on its new hook\n"));
            }
            topology::stop_agent(&root, &identity).await?;
            note = format!(
                "stopped {address}'s {} session: it runs {} now\n",
                running.as_deref().unwrap_or("(no)"),
                plan.runtime
            );
        }
        let started = self.start(&identity, &plan, &[]).await?;
        Ok(note + &started)
    }

    /// `gastown agent spawn`: put a crew member or polecat under supervision, with `flag` as its
    /// runtime (recorded) or the one recorded for it.
    pub async fn spawn_identity(
        &self,
        identity: &AgentIdentity,
        flag: Option<&str>,
        env: &[(String, String)],
    ) -> Result<String, String> {
        let root = self.root().await.map_err(|e| e.message)?.clone();
        topology::check_spawnable(&self.tree, identity)?;
        let _starting = self.attempts.lock(&identity.address).await;
        if topology::find_role(&root, &identity.address).await.is_ok() {
            return Err(format!(
                "{identity} is already running: `gastown restart {identity}` restarts its session, \
                 `gastown sling <bead> {identity} --runtime <name>` gives it work with another runtime"
            ));
        }
        let plan = self
            .decide_plan(identity, flag)
            .await
            .map_err(|e| format!("cannot spawn {identity}: {e}"))?;
        // Asked for by hand: a workspace that is not ready is the caller's to fix, said plainly
        // (a polecat with nothing hooked has no worktree to start in).
        self.check_workspace(identity, plan.hook.clone())
            .await
            .map_err(|e| format!("cannot spawn {identity}: {e}"))?;
        self.start(identity, &plan, env).await
    }

    /// The runtime recorded for the identity, and its hook; an identity with none recorded gets
    /// one decided and recorded as `sling` would. None at all makes it stuck.
    async fn plan(&self, identity: &AgentIdentity) -> Result<Plan, String> {
        match self.decide_plan(identity, None).await {
            Ok(plan) => Ok(plan),
            Err(e) => Err(self.cannot_start(identity, None, &e).await),
        }
    }

    /// [`TownHandler::plan`] without the consequences: with `flag` (`agent spawn --runtime`)
    /// that runtime is decided and recorded.
    async fn decide_plan(
        &self,
        identity: &AgentIdentity,
        flag: Option<&str>,
    ) -> Result<Plan, String> {
        let town = self.tree.town.clone();
        let (who, flag) = (identity.clone(), flag.map(str::to_string));
        self.ledger
            .call(move |ledger| {
                let hooked = crate::work::hooked(ledger, &who.address)?;
                let hook = hooked.first().map(|b| b.id.clone());
                let recorded = agents::find(ledger, &who.address)?
                    .and_then(|b| agents::runtime_of(&b).map(str::to_string));
                if let (None, Some(runtime)) = (&flag, recorded) {
                    return Ok(Plan { runtime, hook });
                }
                let ask = runtimes::Ask {
                    flag: flag.as_deref(),
                    bead: hooked.first(),
                    use_recorded: true,
                };
                let decision = runtimes::decide_and_record(ledger, &town, &who, ask)?;
                Ok::<_, anyhow::Error>(Plan {
                    runtime: decision.name,
                    hook,
                })
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("{e:#}"))
    }

    /// Check the program and the workspace, then start the role.
    async fn start(
        &self,
        identity: &AgentIdentity,
        plan: &Plan,
        env: &[(String, String)],
    ) -> Result<String, String> {
        let address = &identity.address;
        self.attempts.note(address);
        let runtime = match topology::resolve_runtime(&plan.runtime, &self.tree, env) {
            Ok(runtime) => runtime,
            Err(why) => return Err(self.cannot_start(identity, Some(&plan.runtime), &why).await),
        };
        if let Err(e) = runtimes::check_program(&runtime) {
            let why = e.to_string();
            return Err(self.cannot_start(identity, Some(&plan.runtime), &why).await);
        }
        if let Err(why) = self.check_workspace(identity, plan.hook.clone()).await {
            return Err(self.cannot_start(identity, Some(&plan.runtime), &why).await);
        }
        let root = self.root().await.map_err(|e| e.message)?;
        let path = topology::spawn_agent(root, &self.tree, identity.clone(), runtime).await?;
        Ok(format!("started {address} ({}) at {path}\n", plan.runtime))
    }

    /// Reconcile the identity's workspace on a blocking thread (it runs git).
    async fn check_workspace(
        &self,
        identity: &AgentIdentity,
        hook: Option<String>,
    ) -> Result<(), String> {
        let (town, who) = (self.tree.town.clone(), identity.clone());
        tokio::task::spawn_blocking(move || check_workspace(&town, &who, hook.as_deref()))
            .await
            .map_err(|e| format!("the workspace check of {identity} failed: {e}"))?
    }

    /// Mark the identity stuck (telling the mayor and the overseer once) and say so.
    async fn cannot_start(
        &self,
        identity: &AgentIdentity,
        runtime: Option<&str>,
        reason: &str,
    ) -> String {
        let (who, runtime_owned, why) = (
            identity.clone(),
            runtime.map(str::to_string),
            reason.to_string(),
        );
        let told = self
            .ledger
            .call(move |l| stuck::mark_and_tell(l, &who, runtime_owned.as_deref(), &why))
            .await;
        let told = match told {
            Ok(Ok(true)) => "; the mayor and the overseer were told",
            Ok(Ok(false)) => "",
            Ok(Err(e)) => {
                tracing::warn!(agent = %identity, "cannot mark the identity stuck: {e:#}");
                ""
            }
            Err(e) => {
                tracing::warn!(agent = %identity, "cannot mark the identity stuck: {e}");
                ""
            }
        };
        tracing::warn!(agent = %identity, "cannot start: {reason}");
        format!("cannot start {identity}: {reason} ({identity} is stuck and keeps its hook{told})")
    }

    /// The patrol's look at one hooked identity whose role runs: a session up for
    /// [`HEALTHY_AFTER`] ends a stuck streak and the backoff.
    async fn note_health(&self, address: &str, role: &SupervisorRef, stuck: bool) {
        let Ok(Some(session)) = role.child_actor::<SessionMsg>("session").await else {
            return;
        };
        let up = client::snapshot(&session).await.map(|s| s.uptime_ms);
        if !up.is_ok_and(|ms| Duration::from_millis(ms) >= HEALTHY_AFTER) {
            return;
        }
        self.attempts.reset(address);
        if stuck && let Ok(identity) = AgentIdentity::parse(address) {
            let cleared = self
                .ledger
                .try_call(move |l| agents::clear_stuck(l, &identity))
                .await;
            if let Ok(true) = cleared {
                tracing::info!(agent = %address, "runs again: no longer stuck");
            }
        }
    }
}

/// The workspace check the session factory and [`TownHandler::ensure_session`] run.
pub fn check_workspace(
    town: &crate::town::Town,
    identity: &AgentIdentity,
    hook: Option<&str>,
) -> Result<(), String> {
    let rig_name = identity
        .rig
        .as_deref()
        .ok_or("a rig-level agent has a rig")?;
    let rig = Rig::load(town, rig_name).map_err(|e| e.to_string())?;
    let checked = match identity.role {
        Role::Polecat => reconcile::check_polecat(&rig, &identity.name, hook),
        Role::Crew => reconcile::check_crew(&rig, &identity.name),
        _ => return Ok(()),
    }
    .map_err(|e| e.to_string())?;
    match checked {
        reconcile::Checked::Ready => {}
        reconcile::Checked::Remade(path) => {
            tracing::info!(agent = %identity, path = %path.display(), "workspace was missing: made again from git");
        }
        reconcile::Checked::Switched { from, to } => {
            tracing::info!(agent = %identity, from = ?from, %to, "worktree switched to its branch");
        }
    }
    Ok(())
}

/// The runtime a running role's session runs (its role actor knows).
async fn running_runtime(role: &SupervisorRef) -> Option<String> {
    let agent = role.child_actor::<RoleMsg>("agent").await.ok().flatten()?;
    ractor::call!(agent, RoleMsg::Info).ok()?.runtime
}

/// The mayor and the deacon run what town.toml's `[roles]` says, always up.
async fn town_role_session(
    root: &SupervisorRef,
    address: &str,
    restart_running: bool,
) -> Result<String, String> {
    let role = topology::find_role(root, address).await?;
    if !restart_running {
        return Ok(String::new());
    }
    if role.child("session").await.ok().flatten().is_some() {
        role.restart_child("session")
            .await
            .map_err(|e| e.to_string())?;
        return Ok(format!("restarted {address}'s session on its new hook\n"));
    }
    Ok(format!(
        "{address} runs without a session (no runtime configured)\n"
    ))
}

/// One hooked identity, as the patrol sees it in the ledger.
struct Hooked {
    address: String,
    /// Its agent bead says `stuck`.
    stuck: bool,
    /// The runtime recorded for it.
    runtime: Option<String>,
}

/// The polecats and crew members with hooked work.
async fn hooked_identities(handler: &TownHandler) -> Option<Vec<Hooked>> {
    let view = handler
        .ledger
        .try_call(|ledger| {
            let hooked = ledger.list(&gastown_beads::ListFilter {
                status: Some(gastown_beads::Status::Hooked),
                ..gastown_beads::ListFilter::default()
            })?;
            let mut out: Vec<Hooked> = Vec::new();
            for address in hooked.into_iter().map(|b| b.assignee) {
                let rig_level = AgentIdentity::parse(&address)
                    .is_ok_and(|i| matches!(i.role, Role::Polecat | Role::Crew));
                if !rig_level || out.iter().any(|h| h.address == address) {
                    continue;
                }
                let bead = agents::find(ledger, &address)?;
                out.push(Hooked {
                    stuck: bead
                        .as_ref()
                        .is_some_and(|b| agents::state_of(b) == agents::STUCK),
                    runtime: bead
                        .as_ref()
                        .and_then(|b| agents::runtime_of(b).map(str::to_string)),
                    address,
                });
            }
            Ok(out)
        })
        .await;
    match view {
        Ok(view) => Some(view),
        Err(e) => {
            tracing::warn!("cannot read hooked work ({e}); the patrol tries again");
            None
        }
    }
}

/// GUPP across restarts, and the patrol that keeps it: every polecat and crew member with a hook
/// has a session of its recorded runtime working on it. Roles that gave up and identities that
/// are stuck are retried with a per-identity backoff; a session that runs ends their streak; a
/// role found running another runtime than the recorded one is started again with it.
pub async fn resume_hooked(handler: &TownHandler) {
    let Some(view) = hooked_identities(handler).await else {
        return;
    };
    let Ok(root) = handler.root().await else {
        return;
    };
    for hooked in view {
        let address = &hooked.address;
        if let Ok(role) = topology::find_role(root, address).await {
            if hooked.runtime.is_none() || running_runtime(&role).await == hooked.runtime {
                handler.note_health(address, &role, hooked.stuck).await;
                continue;
            }
        } else if !handler.attempts.due(address) {
            continue;
        }
        match handler.ensure_session(address, false).await {
            Ok(note) if note.is_empty() => {}
            Ok(note) => tracing::info!(agent = %address, "{}", note.trim()),
            Err(e) => tracing::warn!(agent = %address, "cannot resume hooked work: {e}"),
        }
    }
}

/// A role's supervisor gave up (its sessions died at once until the restart intensity was
/// reached): its identity is stuck until a session runs again. Runs on its own task.
pub fn role_gave_up(ledger: gastown_actors::ledger::LedgerHandle, address: String, reason: String) {
    let Ok(identity) = AgentIdentity::parse(&address) else {
        return;
    };
    tokio::spawn(async move {
        let why = format!("its sessions die at once, and its supervisor gave up: {reason}");
        let marked = ledger
            .call(move |l| stuck::mark_and_tell(l, &identity, None, &why))
            .await;
        match marked {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(agent = %address, "cannot mark it stuck: {e:#}"),
            Err(e) => tracing::warn!(agent = %address, "cannot mark it stuck: {e}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patrol_backs_off_exponentially_up_to_a_cap() {
        assert_eq!(retry_delay(1), RETRY_FIRST);
        assert_eq!(retry_delay(2), RETRY_FIRST * 2);
        assert_eq!(retry_delay(3), RETRY_FIRST * 4);
        assert_eq!(retry_delay(5), RETRY_FIRST * 16);
        assert_eq!(retry_delay(6), RETRY_MAX);
        assert_eq!(retry_delay(u32::MAX), RETRY_MAX);
        let attempts = Attempts::default();
        assert!(attempts.due("a/crew/x"), "never started: due");
        attempts.note("a/crew/x");
        assert!(!attempts.due("a/crew/x"), "just started: not due");
        attempts.reset("a/crew/x");
        assert!(attempts.due("a/crew/x"));
    }
}
