//! `gastown mol pour|wisp|status|current|step done|squash|burn`: molecules in the ledger.
//!
//! The command runs in the domain (`gastown_town::command::mol`); this file turns the arguments
//! into its request (paths made absolute, so a supervisor elsewhere reads the same files) and
//! renders its outcome (`render.rs`). Without a molecule argument, `status` and `current` use
//! the molecule hooked or assigned to the acting agent (`GASTOWN_AGENT`); `status` then falls
//! back to every open molecule.

mod render;

use super::formula::{self as formula_cli, SearchArgs};
use super::routed::{self, unexpected};
use crate::output;
use crate::protocol::{TownReply, TownRequest};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gastown_town::command::mol::{self as domain, MolOutcome, MolRequest, PourRequest};
use gastown_town::town::Town;

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum MolCommand {
    /// Pour a formula into the ledger as a persistent molecule: a molecule bead with one
    /// step bead per step, linked by the steps' needs.
    Pour(PourArgs),
    /// Pour a formula as a wisp: the same beads, ephemeral (local index only, never in git).
    Wisp(PourArgs),
    /// Progress of a molecule: each step done, ready or blocked.
    Status {
        /// The molecule (default: the acting agent's, else every open molecule).
        mol: Option<String>,
        /// Print a JSON array of the molecules' progress.
        #[arg(long)]
        json: bool,
    },
    /// The step to work now: the first open step whose needs are done.
    Current {
        /// The molecule (default: the one hooked or assigned to GASTOWN_AGENT).
        mol: Option<String>,
        /// Print the step as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Steps of a molecule.
    #[command(subcommand)]
    Step(StepCommand),
    /// Condense a molecule into a closed digest bead recording what happened.
    Squash {
        /// The molecule.
        mol: String,
        /// Keep the step beads (closed) instead of removing them.
        #[arg(long)]
        keep_children: bool,
        /// Squash even though steps are not done.
        #[arg(long)]
        force: bool,
        /// Print what the squash did as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Discard a wisp molecule and its steps without a record.
    Burn {
        /// The wisp molecule.
        mol: String,
        /// Print what the burn did as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum StepCommand {
    /// Close a step; refused while a step it needs is open, a no-op on a closed step.
    Done {
        /// A step bead id (`gt-abc.2`), or a step id (`implement`) of --mol / your molecule.
        step: String,
        /// The molecule a step id belongs to (default: the acting agent's).
        #[arg(long)]
        mol: Option<String>,
        /// Why it is done (the close reason).
        #[arg(long, short = 'r', default_value = "done")]
        reason: String,
        /// Print what happened as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct PourArgs {
    /// A formula name, or a path to a `.formula.toml`.
    pub formula: String,
    /// A variable value, `name=value` (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = formula_cli::parse_var)]
    pub vars: Vec<(String, String)>,
    /// Assign the molecule (and its steps) to this agent address.
    #[arg(long, short = 'a', default_value = "")]
    pub assignee: String,
    /// The work bead this molecule is for (a `tracks` link from the molecule).
    #[arg(long, value_name = "BEAD")]
    pub attach: Option<String>,
    #[command(flatten)]
    pub search: SearchArgs,
    /// Print the poured molecule as JSON.
    #[arg(long)]
    pub json: bool,
}

impl PourArgs {
    /// The request, with the formula path and the rig layer made absolute.
    fn into_request(self) -> Result<PourRequest> {
        let rig_dir = match self.search.rig_dir {
            Some(dir) => {
                let cwd = std::env::current_dir().context("cannot read the working directory")?;
                Some(cwd.join(dir))
            }
            None => None,
        };
        Ok(PourRequest {
            formula: gastown_town::formulas::absolute_if_path(&self.formula)?,
            vars: self.vars,
            assignee: self.assignee,
            attach: self.attach,
            rig_dir,
        })
    }
}

impl MolCommand {
    /// The request and whether to print JSON.
    fn into_request(self) -> Result<(MolRequest, bool)> {
        Ok(match self {
            MolCommand::Pour(args) => {
                let json = args.json;
                (MolRequest::Pour(args.into_request()?), json)
            }
            MolCommand::Wisp(args) => {
                let json = args.json;
                (MolRequest::Wisp(args.into_request()?), json)
            }
            MolCommand::Status { mol, json } => (MolRequest::Status { mol }, json),
            MolCommand::Current { mol, json } => (MolRequest::Current { mol }, json),
            MolCommand::Step(StepCommand::Done {
                step,
                mol,
                reason,
                json,
            }) => (MolRequest::StepDone { step, mol, reason }, json),
            MolCommand::Squash {
                mol,
                keep_children,
                force,
                json,
            } => (
                MolRequest::Squash {
                    mol,
                    keep_children,
                    force,
                },
                json,
            ),
            MolCommand::Burn { mol, json } => (MolRequest::Burn { mol }, json),
        })
    }
}

pub fn run(town: &Town, cmd: MolCommand) -> Result<()> {
    let (request, json) = cmd.into_request()?;
    let reply = routed::run(town, TownRequest::Mol(request.clone()), |ledger, caller| {
        domain::apply(ledger, town, request, caller).map(TownReply::Mol)
    })?;
    let TownReply::Mol(outcome) = reply else {
        return Err(unexpected(&reply));
    };
    if let MolOutcome::Poured { warnings, .. } = &outcome {
        for warning in warnings {
            eprintln!("{warning}");
        }
    }
    output::text(&render::render(&outcome, json)?)?;
    Ok(())
}
