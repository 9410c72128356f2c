//! The work commands: `sling`, `hook` (attach, detach, clear), `prime`, `done`, `handoff`.
//!
//! Each runs against the ledger as the [`Caller`] and returns its stdout text plus [`Effect`]s
//! on the live tree, which the supervisor carries out (a session to start or restart). Without a
//! supervisor the effects wait: `gastown run` starts every hooked identity's session when it
//! comes up (GUPP).
//!
//! [`apply`] takes [`LedgerSteps`]: the opened ledger (the CLI without a supervisor), or the
//! ledger actor from a blocking thread (`gastown run`). `sling` and `done` run git between
//! their ledger steps (a worktree or clone to make; what is left to commit), outside the ledger's
//! owner; the other commands are one ledger step each.

mod dispatch;
mod done;
pub mod hook;
mod prime;
mod sling;
mod slingable;
mod target;
#[cfg(test)]
mod tests;

use crate::caller::Caller;
use crate::identity::{AgentIdentity, Role};
use crate::steps::LedgerSteps;
use crate::town::Town;
use anyhow::Result;
use serde::{Deserialize, Serialize};

pub use dispatch::{
    DISPATCH_REASON, REASON_BUDGET, dispatch_queue, next_queued, queue_label, queued, queued_beads,
};
pub use hook::{HookAction, hooked};
pub use sling::{SlingRequest, sling_in_ledger};

/// One work command, as it travels to the supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WorkCommand {
    Sling {
        bead: String,
        target: String,
        force: bool,
        runtime: Option<String>,
        formula: Option<String>,
        no_formula: bool,
        /// Do not add the bead to a convoy (by default one is auto-created).
        #[serde(default)]
        no_convoy: bool,
    },
    Hook {
        action: HookAction,
        agent: Option<String>,
        bead: Option<String>,
        force: bool,
    },
    Prime,
    Done {
        status: DoneStatus,
        message: Option<String>,
    },
    Handoff {
        message: Option<String>,
    },
}

/// How a polecat finishes (`gastown done --status`; the CLI's `DoneStatusArg` carries each
/// status's `--help` line: keep both exactly what `done` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DoneStatus {
    /// The work is done: what is left in the worktree is committed, there must be commits ahead
    /// of the rig's default branch, the merge request is created (or refreshed), the refinery
    /// (MERGE_READY) and the witness (POLECAT_DONE) are told, the hook is cleared; the sandbox
    /// stays until the merge is confirmed (a dog's bead is closed instead: it has no worktree)
    Completed,
    /// Stuck: HELP (with the bead and --message) goes to the rig's witness and to the mayor; the
    /// bead is labelled `escalated`, taken off the hook and left open, still assigned to the
    /// polecat; nothing is committed
    Escalated,
    /// Put back: the bead is taken off the hook, unassigned and open again (back in the ready
    /// pool); nothing is committed and no one is told
    Deferred,
}

/// Something the live tree must do after a work command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Effect {
    /// The identity must have a session working on its hook, of the runtime recorded for it:
    /// start its role if it is not running; restart its session so it is told its new hook; a
    /// role running another runtime is stopped and started again with the recorded one.
    EnsureSession { address: String },
    /// A fresh session for the identity (handoff).
    RestartSession { address: String },
    /// End the identity's session and role (a polecat whose merge is confirmed), waiting until
    /// its processes are gone, so its worktree can be removed; left alone if it has new work on
    /// its hook. Without a supervisor there is no session: nothing to do.
    StopSession { address: String },
    /// Push a polecat's branch to the rig's origin (`gastown done`); network work, so it runs
    /// outside the ledger's owner — in the supervisor, or right after the command without one.
    PushBranch {
        rig: String,
        branch: String,
        commit: String,
    },
    /// Run an escalation's outside channels (bell, notify, webhook), recorded and mailed in
    /// the ledger already; never in the ledger's owner (see `crate::escalation::routing`).
    Escalate {
        escalation: Box<crate::escalation::Escalation>,
        outside: Vec<crate::escalation::routing::Outside>,
    },
}

impl Effect {
    /// Carry out the effects that need no supervisor (the branch push) here and now; returns
    /// what to print and the effects left for `gastown run`.
    pub fn carry_out_without_supervisor(
        town: &Town,
        effects: Vec<Effect>,
    ) -> (String, Vec<Effect>) {
        let mut text = String::new();
        let mut left = Vec::new();
        for effect in effects {
            match effect {
                Effect::PushBranch {
                    rig,
                    branch,
                    commit,
                } => text.push_str(&push_branch(town, &rig, &branch, &commit)),
                Effect::StopSession { .. } => {}
                other => left.push(other),
            }
        }
        (text, left)
    }
}

/// [`Effect::PushBranch`]: push and return the line for the polecat.
pub fn push_branch(town: &Town, rig: &str, branch: &str, commit: &str) -> String {
    match crate::rig::Rig::load(town, rig) {
        Ok(rig) => crate::refinery::push_polecat_branch(&rig, branch, commit),
        Err(e) => format!("warning: {branch} is not on origin: {e}\n"),
    }
}

/// What a work command produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub text: String,
    pub effects: Vec<Effect>,
}

impl Outcome {
    fn say(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }
}

/// Run one work command as `caller`.
pub fn apply<L: LedgerSteps>(
    ledger: &mut L,
    town: &Town,
    cmd: WorkCommand,
    caller: &Caller,
) -> Result<Outcome> {
    authorize(&cmd, caller)?;
    let who = caller.name();
    match cmd {
        WorkCommand::Sling {
            bead,
            target,
            force,
            runtime,
            formula,
            no_formula,
            no_convoy,
        } => sling::sling(
            ledger,
            town,
            &SlingRequest {
                bead,
                target,
                force,
                runtime,
                formula: if no_formula { None } else { Some(formula) },
                no_convoy,
            },
            who,
        ),
        WorkCommand::Done { status, message } => done::done(
            ledger,
            town,
            status,
            message.as_deref(),
            caller.require_agent("done")?.clone(),
        ),
        WorkCommand::Hook {
            action,
            agent,
            bead,
            force,
        } => {
            let caller = caller.clone();
            ledger.step("hook", move |l| {
                hook::hook(l, action, agent.as_deref(), bead.as_deref(), force, &caller)
            })?
        }
        WorkCommand::Prime => {
            let (town, identity) = (town.clone(), caller.require_agent("prime")?.clone());
            ledger.step("prime", move |l| prime::prime(l, &town, identity))?
        }
        WorkCommand::Handoff { message } => {
            let identity = caller.require_agent("handoff")?.clone();
            ledger.step("handoff", move |l| {
                done::handoff(l, message.as_deref(), identity)
            })?
        }
    }
}

/// Refuses a work command that acts on another agent's hook unless the caller may (see
/// [`crate::authz`]): slinging onto an agent's hook, or to a rig's polecats, changing another
/// agent's hook, and taking a bead off someone's hook (`--force`).
fn authorize(cmd: &WorkCommand, caller: &Caller) -> Result<(), crate::authz::Forbidden> {
    use crate::authz;
    match cmd {
        WorkCommand::Sling { target, force, .. } => {
            let rig =
                crate::identity::is_simple_name(target) && target != "mayor" && target != "deacon";
            if rig {
                authz::act_on_rig(caller, target, "sling work to the polecats of")?;
            } else {
                authz::act_on(caller, target, "sling work onto the hook of")?;
            }
            if *force {
                authz::force_hook(caller)?;
            }
        }
        WorkCommand::Hook { agent, force, .. } => {
            if let Some(agent) = agent {
                authz::act_on(caller, agent, "change the hook of")?;
            }
            if *force {
                authz::force_hook(caller)?;
            }
        }
        WorkCommand::Prime | WorkCommand::Done { .. } | WorkCommand::Handoff { .. } => {}
    }
    Ok(())
}

/// Is `identity` a polecat?
fn is_polecat(identity: &AgentIdentity) -> bool {
    identity.role == Role::Polecat
}
