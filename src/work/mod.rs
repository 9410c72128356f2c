//! The work commands: `sling`, `hook`, `prime`, `done`, `handoff`, `seance`.
//!
//! Each runs against the ledger (directly, or inside the supervisor's ledger actor) as `who` and
//! returns its stdout text plus [`Effect`]s on the live tree, which the supervisor carries out
//! (a session to start or restart). Without a supervisor the effects wait: `gastown run` starts
//! every hooked identity's session when it comes up (GUPP).

mod done;
mod hook;
mod prime;
mod sling;

use crate::town::Town;
use anyhow::{Result, bail};
use gastown_actors::identity::{AgentIdentity, Role};
use gastown_beads::Ledger;
use serde::{Deserialize, Serialize};

pub use hook::{HookAction, hooked};
pub use sling::dispatch_queue;

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
    Seance {
        agent: String,
    },
}

/// How a polecat finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum DoneStatus {
    /// The work is done: commit, merge request, hook cleared.
    Completed,
    /// Stuck: the witness and mayor are asked for help; the bead stays open.
    Escalated,
    /// Put back: the bead returns to the ready pool.
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

/// Run one work command as `who`.
pub fn apply(ledger: &mut Ledger, town: &Town, cmd: WorkCommand, who: &str) -> Result<Outcome> {
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
            &sling::SlingRequest {
                bead,
                target,
                force,
                runtime,
                formula: if no_formula { None } else { Some(formula) },
                no_convoy,
            },
            who,
        ),
        WorkCommand::Hook {
            action,
            agent,
            bead,
            force,
        } => hook::hook(
            ledger,
            action,
            agent.as_deref(),
            bead.as_deref(),
            force,
            who,
        ),
        WorkCommand::Prime => prime::prime(ledger, town, who),
        WorkCommand::Done { status, message } => {
            done::done(ledger, town, status, message.as_deref(), who)
        }
        WorkCommand::Handoff { message } => done::handoff(ledger, message.as_deref(), who),
        WorkCommand::Seance { agent } => prime::seance(ledger, &agent),
    }
}

/// The caller as an agent identity, or a clear error for the overseer.
fn caller(who: &str, command: &str) -> Result<AgentIdentity> {
    if who == "overseer" {
        bail!(
            "`gastown {command}` is run by an agent from its session (GASTOWN_AGENT), not by the overseer"
        );
    }
    Ok(AgentIdentity::parse(who)?)
}

/// Is `identity` a polecat?
fn is_polecat(identity: &AgentIdentity) -> bool {
    identity.role == Role::Polecat
}
