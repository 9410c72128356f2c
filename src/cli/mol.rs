//! `gastown mol pour|wisp|status|current|step done|squash|burn`: molecules in the ledger.
//!
//! The ledger work is in [`gastown_town::molecule`]; this file parses, resolves which molecule is
//! meant, and renders. Without a molecule argument, `status` and `current` use the molecule
//! hooked or assigned to the acting agent (`GASTOWN_AGENT`); `status` then falls back to
//! every open molecule.

mod render;

use super::formula::{self as formula_cli, SearchArgs};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gastown_beads::ledger::Ledger;
use gastown_town::molecule::{self, MolError, PourOptions, SquashOptions, StepDone};
use gastown_town::town::Town;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
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
        #[arg(long)]
        json: bool,
    },
    /// The step to work now: the first open step whose needs are done.
    Current {
        /// The molecule (default: the one hooked or assigned to GASTOWN_AGENT).
        mol: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Steps of a molecule.
    #[command(subcommand)]
    Step(StepCommand),
    /// Condense a molecule into a closed digest bead recording what happened.
    Squash {
        mol: String,
        /// Keep the step beads (closed) instead of removing them.
        #[arg(long)]
        keep_children: bool,
        /// Squash even though steps are not done.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Discard a wisp molecule and its steps without a record.
    Burn {
        mol: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
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
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Args, Serialize, Deserialize)]
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
    #[arg(long)]
    pub json: bool,
}

impl MolCommand {
    /// Resolve what depends on the working directory (a formula path, the rig layer), so the
    /// command means the same when a supervisor elsewhere runs it.
    pub fn with_absolute_paths(self) -> Result<MolCommand> {
        let fix = |mut args: PourArgs| -> Result<PourArgs> {
            args.formula = gastown_town::formulas::absolute_if_path(&args.formula)?;
            if let Some(dir) = args.search.rig_dir.take() {
                let cwd = std::env::current_dir().context("cannot read the working directory")?;
                args.search.rig_dir = Some(cwd.join(dir));
            }
            Ok(args)
        };
        Ok(match self {
            MolCommand::Pour(args) => MolCommand::Pour(fix(args)?),
            MolCommand::Wisp(args) => MolCommand::Wisp(fix(args)?),
            other => other,
        })
    }
}

pub fn run(town: &Town, cmd: MolCommand) -> Result<()> {
    let cmd = cmd.with_absolute_paths()?;
    let request = crate::run::protocol::TownRequest::Mol(cmd.clone());
    crate::cli::routed::run(town, request, |ledger, who| apply(ledger, town, cmd, who))
}

/// Run one mol command against an open ledger as `who`; returns what goes to stdout.
pub fn apply(ledger: &mut Ledger, town: &Town, cmd: MolCommand, who: &str) -> Result<String> {
    match cmd {
        MolCommand::Pour(args) => pour(ledger, town, args, false, who),
        MolCommand::Wisp(args) => pour(ledger, town, args, true, who),
        MolCommand::Status { mol, json } => status(ledger, mol, json, who),
        MolCommand::Current { mol, json } => {
            let mol = which(ledger, mol, who)?;
            render::current(&molecule::load(ledger, &mol)?, json)
        }
        MolCommand::Step(StepCommand::Done {
            step,
            mol,
            reason,
            json,
        }) => step_done(ledger, &step, mol, &reason, json, who),
        MolCommand::Squash {
            mol,
            keep_children,
            force,
            json,
        } => {
            let opts = SquashOptions {
                keep_children,
                force,
            };
            let done = molecule::squash(ledger, &mol, opts, who)?;
            if json {
                return to_json(&done);
            }
            let mut out = format!("Squashed {} into digest {}", done.molecule, done.digest);
            if !done.burned.is_empty() {
                let _ = write!(out, "; burned {} wisp bead(s)", done.burned.len());
            }
            if !done.closed.is_empty() {
                let _ = write!(out, "; closed {} unfinished step(s)", done.closed.len());
            }
            Ok(out + "\n")
        }
        MolCommand::Burn { mol, json } => {
            let burned = molecule::burn(ledger, &mol)?;
            if json {
                return to_json(&burned);
            }
            Ok(format!(
                "Burned wisp {} and its {} step(s)\n",
                burned.molecule,
                burned.steps.len()
            ))
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}

/// The molecule meant: the one given, else the acting agent's.
fn which(ledger: &Ledger, mol: Option<String>, who: &str) -> Result<String> {
    match mol {
        Some(mol) => Ok(mol),
        None => Ok(molecule::for_agent(ledger, who)?),
    }
}

fn pour(ledger: &mut Ledger, town: &Town, args: PourArgs, wisp: bool, who: &str) -> Result<String> {
    let library = gastown_town::formulas::library(
        Some(town),
        args.search.rig_dir.as_deref(),
        Some(&args.formula),
    )?;
    let proto = gastown_town::formulas::cook(&library, &args.formula, &args.vars)?;
    // Poured for an agent of a rig (or by one): the rig's molecule, with its prefix.
    let prefix = gastown_town::rig::caller_prefix(town, &args.assignee)
        .or_else(|| gastown_town::rig::caller_prefix(town, who));
    let opts = PourOptions {
        ephemeral: wisp,
        assignee: args.assignee,
        attach: args.attach,
        prefix,
        ..PourOptions::default()
    };
    let poured = molecule::pour(ledger, &proto, &opts, who)
        .with_context(|| format!("cannot pour formula {}", proto.formula))?;
    for warning in &proto.warnings {
        eprintln!("warning: {warning}");
    }
    if !wisp && proto.phase.as_deref() == Some("vapor") {
        eprintln!(
            "note: formula {} is meant to run as a wisp (phase = \"vapor\"); `gastown mol wisp` keeps it out of git",
            proto.formula
        );
    }
    if args.json {
        return to_json(&poured);
    }
    let kind = if wisp { "wisp" } else { "molecule" };
    let mut out = format!(
        "Poured {kind} {}: {} ({} steps)\n",
        poured.molecule,
        poured.title,
        poured.steps.len()
    );
    let width = poured.steps.iter().map(|s| s.step.len()).max().unwrap_or(0);
    for (i, s) in poured.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>3}. {:width$}  {}  {}",
            i + 1,
            s.step,
            s.bead,
            s.title
        );
    }
    let _ = writeln!(
        out,
        "Next: `gastown mol current {}`, then `gastown mol step done <step>` as each is finished",
        poured.molecule
    );
    Ok(out)
}

fn status(ledger: &Ledger, mol: Option<String>, json: bool, who: &str) -> Result<String> {
    let molecules = match mol {
        Some(mol) => vec![molecule::load(ledger, &mol)?],
        None => match molecule::for_agent(ledger, who) {
            Ok(mol) => vec![molecule::load(ledger, &mol)?],
            Err(MolError::NoMoleculeFor { .. }) => molecule::open_molecules(ledger)?,
            Err(e) => return Err(e.into()),
        },
    };
    if json {
        let all: Vec<_> = molecules.iter().map(render::status_json).collect();
        return to_json(&all);
    }
    if molecules.is_empty() {
        return Ok("No open molecules\n".to_string());
    }
    let mut out = String::new();
    for m in &molecules {
        out.push_str(&render::status_text(m));
    }
    Ok(out)
}

fn step_done(
    ledger: &mut Ledger,
    step: &str,
    mol: Option<String>,
    reason: &str,
    json: bool,
    who: &str,
) -> Result<String> {
    let mol = match mol {
        Some(mol) => Some(mol),
        None if ledger.get(step)?.is_none() => Some(molecule::for_agent(ledger, who).with_context(
            || format!("{step:?} is not a bead id, so it is read as a step id, which needs a molecule: pass --mol <molecule>"),
        )?),
        None => None,
    };
    let (mol, step) = molecule::resolve_step(ledger, step, mol.as_deref())?;
    let done = molecule::step_done(ledger, &mol, &step, reason, who)?;
    if json {
        return to_json(&done);
    }
    Ok(match done {
        StepDone::Closed {
            molecule,
            step,
            next,
            done,
            total,
            molecule_closed,
        } => {
            let mut out = format!(
                "Closed step {} ({}) of {molecule}: {done}/{total} done\n",
                step.step, step.bead
            );
            match next {
                Some(n) => {
                    let _ = writeln!(out, "Next: {} — {} ({})", n.step, n.title, n.bead);
                }
                None if molecule_closed => {
                    let _ = writeln!(
                        out,
                        "All steps done: molecule {molecule} is closed; condense it with `gastown mol squash {molecule}`"
                    );
                }
                None if done == total => {
                    let _ = writeln!(
                        out,
                        "All steps done; condense it with `gastown mol squash {molecule}`"
                    );
                }
                None => {}
            }
            out
        }
        StepDone::AlreadyClosed {
            molecule,
            step,
            closed_at,
            closed_by,
        } => format!(
            "Step {} ({}) of {molecule} was already closed{}{}; nothing to do\n",
            step.step,
            step.bead,
            closed_at.map(|t| format!(" at {t}")).unwrap_or_default(),
            closed_by.map(|b| format!(" by {b}")).unwrap_or_default(),
        ),
    })
}
