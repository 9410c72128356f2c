//! Starting polecats and crew: every start of an identity — a sling, `agent spawn`, the GUPP
//! patrol, a restart of `gastown run` — goes through [`TownHandler::ensure_session`] (dogs take
//! its branch in `super::dog_sessions`: `[roles] dog`'s runtime, no workspace of a rig), which
//!
//! 1. takes the runtime recorded for the identity (deciding and recording it, through the same
//!    rules as `sling`, only when none is recorded yet) — never another;
//! 2. leaves a role that already runs that runtime alone (or restarts its session so it is told
//!    a new hook), and stops a role that runs another runtime before starting it again;
//! 3. checks that the runtime's program exists and that the identity's workspace is its own
//!    (`gastown_town::rig::reconcile`);
//! 4. starts the role.
//!
//! When step 1 or 3 fails the identity is stuck (`super::stuck`): nothing is started, its hook
//! is kept, the mayor and the overseer are told. The patrol (`super::patrol`) retries stuck and
//! given-up identities with a per-identity backoff. One start at a time per identity.

use super::handler::TownHandler;
use super::{stuck, topology};
use gastown_actors::role::RoleMsg;
use gastown_supervision::SupervisorRef;
use gastown_town::agents;
use gastown_town::identity::{AgentIdentity, Role};
use gastown_town::rig::{Rig, reconcile};
use gastown_town::runtimes;

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
        if identity.role == Role::Dog {
            return self
                .ensure_dog_session(&root, &identity, restart_running)
                .await;
        }
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
            .call("start: plan", move |ledger| {
                let hooked = gastown_town::work::hooked(ledger, &who.address)?;
                let hook = hooked.first().map(|b| b.id.clone());
                let recorded = agents::find(ledger, &who.address)?.and_then(|agent| agent.runtime);
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

    /// Reconcile the identity's workspace on a blocking thread (it runs git). A note for the
    /// prompt stays for the session's own check (the role's session factory) to take.
    async fn check_workspace(
        &self,
        identity: &AgentIdentity,
        hook: Option<String>,
    ) -> Result<(), String> {
        let (town, who) = (self.tree.town.clone(), identity.clone());
        tokio::task::spawn_blocking(move || check_workspace(&town, &who, hook.as_deref(), false))
            .await
            .map_err(|e| format!("the workspace check of {identity} failed: {e}"))?
            .map(drop)
    }

    /// Mark the identity stuck (telling the mayor and the overseer once) and say so.
    pub(super) async fn cannot_start(
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
            .call("start: mark stuck", move |l| {
                stuck::mark_and_tell(l, &who, runtime_owned.as_deref(), &why)
            })
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
}

/// The workspace check the session factory and [`TownHandler::ensure_session`] run. A polecat
/// starting on a hooked bead whose worktree was lost (made again now) or reset (clean, its
/// `HEAD` at or behind the base of a checkpoint taken on its branch) gets its latest checkpoint
/// restored ([`offer_checkpoint`]). With `take_note` (the session's own check, right before its
/// prompt) the line telling the agent so is returned for the prompt.
pub fn check_workspace(
    town: &gastown_town::town::Town,
    identity: &AgentIdentity,
    hook: Option<&str>,
    take_note: bool,
) -> Result<Option<String>, String> {
    let rig_name = identity
        .rig
        .as_deref()
        .ok_or("a rig-level agent has a rig")?;
    let rig = Rig::load(town, rig_name).map_err(|e| e.to_string())?;
    // A sling or a sandbox removal may be at the same workspace: one change at a time.
    let checked = match identity.role {
        Role::Polecat => rig.lock_polecat(&identity.name).and_then(|_lock| {
            let checked = reconcile::check_polecat(&rig, &identity.name, hook)?;
            if hook.is_some() {
                let remade = matches!(checked, reconcile::Checked::Remade(_));
                offer_checkpoint(town, &rig, identity, remade);
            }
            Ok(checked)
        }),
        Role::Crew => rig
            .lock_crew(&identity.name)
            .and_then(|_lock| reconcile::check_crew(&rig, &identity.name)),
        _ => return Ok(None),
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
    if !take_note || identity.role != Role::Polecat {
        return Ok(None);
    }
    Ok(gastown_town::checkpoint::take_note(
        &rig.polecat_worktree(&identity.name),
    ))
}

/// Put polecat `identity`'s latest checkpoint back into its worktree when the worktree was lost
/// (`remade`) or reset ([`checkpoint::offer`]), and leave the line that says so for its next
/// session's prompt. Failures are logged: the session starts anyway, the checkpoint still there
/// for `gastown checkpoint restore`.
fn offer_checkpoint(
    town: &gastown_town::town::Town,
    rig: &Rig,
    identity: &AgentIdentity,
    remade: bool,
) {
    use gastown_town::checkpoint;
    let worktree = rig.polecat_worktree(&identity.name);
    let offered = match checkpoint::offer(town, &worktree, identity, remade) {
        Ok(Some(offered)) => offered,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(agent = %identity, "cannot restore the checkpoint: {e:#}");
            return;
        }
    };
    let restored = &offered.restored;
    tracing::info!(
        agent = %identity,
        checkpoint = %restored.checkpoint.commit,
        files = restored.checkpoint.files.len(),
        conflicts = restored.conflicts.len(),
        worktree = offered.how,
        "uncommitted work restored from the checkpoint"
    );
    if let Err(e) = checkpoint::leave_note(&worktree, &offered.note()) {
        tracing::warn!(agent = %identity, "cannot leave the restore note for the prompt: {e:#}");
    }
}

/// The runtime a running role's session runs (its role actor knows).
pub(super) async fn running_runtime(role: &SupervisorRef) -> Option<String> {
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
