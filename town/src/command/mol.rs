//! `gastown mol pour|wisp|status|current|step done|squash|burn`: molecules in the ledger.
//!
//! The ledger work is in [`crate::molecule`]; this file resolves which molecule is meant and
//! says what happened. Without a molecule argument, `status` and `current` use the molecule
//! hooked or assigned to the caller; `status` then falls back to every open molecule.

use super::as_json;
use crate::caller::Caller;
use crate::molecule::{
    self, Burned, MolError, Molecule, PourOptions, Poured, SquashOptions, Squashed, StepDone,
    StepState,
};
use crate::town::Town;
use anyhow::{Context, Result};
use gastown_beads::ledger::Ledger;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One mol command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MolRequest {
    /// Pour a formula as a persistent molecule.
    Pour(PourRequest),
    /// Pour a formula as a wisp (ephemeral: never in git).
    Wisp(PourRequest),
    /// Progress of a molecule (default: the caller's, else every open one).
    Status { mol: Option<String> },
    /// The step to work now (default molecule: the caller's).
    Current { mol: Option<String> },
    /// Close a step (a step bead id, or a step id of `mol` / the caller's molecule).
    StepDone {
        step: String,
        mol: Option<String>,
        reason: String,
    },
    /// Condense a molecule into a digest bead.
    Squash {
        mol: String,
        keep_children: bool,
        force: bool,
    },
    /// Discard a wisp molecule and its steps.
    Burn { mol: String },
}

/// `mol pour` / `mol wisp`. Paths are absolute: the supervisor's working directory is not the
/// caller's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PourRequest {
    /// A formula name, or an absolute path to a `.formula.toml`.
    pub formula: String,
    /// `--var` values, in order.
    pub vars: Vec<(String, String)>,
    /// Assignee of the molecule and its steps (empty: none).
    pub assignee: String,
    /// The work bead the molecule is for.
    pub attach: Option<String>,
    /// The rig layer of the formula search path.
    pub rig_dir: Option<PathBuf>,
}

/// What a mol command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MolOutcome {
    /// `pour` (`wisp` true for `mol wisp`) and the warnings of cooking (for stderr).
    Poured {
        wisp: bool,
        #[serde(with = "as_json")]
        poured: Poured,
        warnings: Vec<String>,
    },
    /// `status`: each molecule's progress.
    Status(Vec<MoleculeStatus>),
    /// `current`: the step to work now, if one can be.
    Current(CurrentStep),
    /// `step done`.
    StepDone(#[serde(with = "as_json")] StepDone),
    /// `squash`.
    Squashed(#[serde(with = "as_json")] Squashed),
    /// `burn`.
    Burned(#[serde(with = "as_json")] Burned),
}

/// A molecule's progress, as `mol status --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoleculeStatus {
    pub molecule: String,
    pub title: String,
    pub status: String,
    /// The formula it was poured from.
    pub formula: Option<String>,
    /// A wisp.
    pub ephemeral: bool,
    pub assignee: String,
    /// Steps done.
    pub done: usize,
    /// Steps in all.
    pub total: usize,
    /// The step id of the first ready step: where a session resumes.
    pub current: Option<String>,
    /// Step beads the molecule names but the ledger lacks (an interrupted pour).
    pub missing: Vec<String>,
    pub steps: Vec<StepStatus>,
}

/// One step of a [`MoleculeStatus`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepStatus {
    pub step: String,
    pub bead: String,
    pub title: String,
    pub state: StepState,
    /// The step bead's status.
    pub status: String,
    /// Bead ids it needs.
    pub needs: Vec<String>,
}

/// `mol current`: where a molecule stands and its step to work now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentStep {
    pub molecule: String,
    pub done: usize,
    pub total: usize,
    /// The first ready step; `None` when every step is done or the rest wait on beads outside.
    pub step: Option<StepDetail>,
}

/// The step to work, with what its bead says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDetail {
    pub step: String,
    pub bead: String,
    pub title: String,
    pub description: String,
    pub acceptance: String,
}

impl MoleculeStatus {
    fn of(m: &Molecule) -> MoleculeStatus {
        MoleculeStatus {
            molecule: m.bead.id.clone(),
            title: m.bead.title.clone(),
            status: m.bead.status.as_str().to_string(),
            formula: m.formula().map(str::to_string),
            ephemeral: m.bead.ephemeral,
            assignee: m.bead.assignee.clone(),
            done: m.done(),
            total: m.steps.len(),
            current: m.current().map(|s| s.step.clone()),
            missing: m.missing.clone(),
            steps: m
                .steps
                .iter()
                .map(|s| StepStatus {
                    step: s.step.clone(),
                    bead: s.bead.id.clone(),
                    title: s.bead.title.clone(),
                    state: s.state,
                    status: s.bead.status.as_str().to_string(),
                    needs: s.needs.clone(),
                })
                .collect(),
        }
    }
}

impl CurrentStep {
    fn of(m: &Molecule) -> CurrentStep {
        CurrentStep {
            molecule: m.bead.id.clone(),
            done: m.done(),
            total: m.steps.len(),
            step: m.current().map(|s| StepDetail {
                step: s.step.clone(),
                bead: s.bead.id.clone(),
                title: s.bead.title.clone(),
                description: s.bead.description.clone(),
                acceptance: s.bead.acceptance_criteria.clone(),
            }),
        }
    }
}

/// Run one mol command against an open ledger as `caller`.
pub fn apply(
    ledger: &mut Ledger,
    town: &Town,
    request: MolRequest,
    caller: &Caller,
) -> Result<MolOutcome> {
    authorize(ledger, &request, caller)?;
    let who = caller.name();
    Ok(match request {
        MolRequest::Pour(args) => pour(ledger, town, args, false, who)?,
        MolRequest::Wisp(args) => pour(ledger, town, args, true, who)?,
        MolRequest::Status { mol } => MolOutcome::Status(status(ledger, mol, who)?),
        MolRequest::Current { mol } => {
            let mol = which(ledger, mol, who)?;
            MolOutcome::Current(CurrentStep::of(&molecule::load_live(ledger, &mol)?))
        }
        MolRequest::StepDone { step, mol, reason } => {
            MolOutcome::StepDone(step_done(ledger, &step, mol, &reason, caller)?)
        }
        MolRequest::Squash {
            mol,
            keep_children,
            force,
        } => {
            let opts = SquashOptions {
                keep_children,
                force,
            };
            MolOutcome::Squashed(molecule::squash(ledger, &mol, opts, who)?)
        }
        MolRequest::Burn { mol } => MolOutcome::Burned(molecule::burn(ledger, &mol)?),
    })
}

/// Refuses a mol command on another agent's molecule (see [`crate::authz::change_molecule`]),
/// and pouring one for another agent unless the caller may act on it. A step finished by id is
/// checked in [`step_done`], once its molecule is known.
fn authorize(ledger: &Ledger, request: &MolRequest, caller: &Caller) -> Result<()> {
    match request {
        MolRequest::Pour(args) | MolRequest::Wisp(args) if !args.assignee.is_empty() => {
            crate::authz::act_on(caller, &args.assignee, "pour a molecule for")?;
        }
        MolRequest::Squash { mol, .. } | MolRequest::Burn { mol } => {
            if let Some(bead) = ledger.get(mol)? {
                let burn = matches!(request, MolRequest::Burn { .. });
                crate::authz::change_molecule(caller, &bead, burn)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The molecule meant: the one given, else the caller's.
fn which(ledger: &Ledger, mol: Option<String>, who: &str) -> Result<String> {
    match mol {
        Some(mol) => Ok(mol),
        None => Ok(molecule::for_agent(ledger, who)?),
    }
}

fn pour(
    ledger: &mut Ledger,
    town: &Town,
    args: PourRequest,
    wisp: bool,
    who: &str,
) -> Result<MolOutcome> {
    let library =
        crate::formulas::library(Some(town), args.rig_dir.as_deref(), Some(&args.formula))?;
    let proto = crate::formulas::cook(&library, &args.formula, &args.vars)?;
    // Poured for an agent of a rig (or by one): the rig's molecule, with its prefix.
    let prefix = crate::rig::caller_prefix(town, &args.assignee)
        .or_else(|| crate::rig::caller_prefix(town, who));
    let opts = PourOptions {
        ephemeral: wisp,
        assignee: args.assignee,
        attach: args.attach,
        prefix,
        ..PourOptions::default()
    };
    let poured = molecule::pour(ledger, &proto, &opts, who)
        .with_context(|| format!("cannot pour formula {}", proto.formula))?;
    let mut warnings: Vec<String> = proto
        .warnings
        .iter()
        .map(|w| format!("warning: {w}"))
        .collect();
    if !wisp && proto.phase.as_deref() == Some("vapor") {
        warnings.push(format!(
            "note: formula {} is meant to run as a wisp (phase = \"vapor\"); `gastown mol wisp` keeps it out of git",
            proto.formula
        ));
    }
    Ok(MolOutcome::Poured {
        wisp,
        poured,
        warnings,
    })
}

fn status(ledger: &Ledger, mol: Option<String>, who: &str) -> Result<Vec<MoleculeStatus>> {
    let molecules = match mol {
        Some(mol) => vec![molecule::load_live(ledger, &mol)?],
        None => match molecule::for_agent(ledger, who) {
            Ok(mol) => vec![molecule::load_live(ledger, &mol)?],
            Err(MolError::NoMoleculeFor { .. }) => molecule::open_molecules(ledger)?,
            Err(e) => return Err(e.into()),
        },
    };
    Ok(molecules.iter().map(MoleculeStatus::of).collect())
}

fn step_done(
    ledger: &mut Ledger,
    step: &str,
    mol: Option<String>,
    reason: &str,
    caller: &Caller,
) -> Result<StepDone> {
    let who = caller.name();
    let mol = match mol {
        Some(mol) => Some(mol),
        None if ledger.get(step)?.is_none() => Some(molecule::for_agent(ledger, who).with_context(
            || format!("{step:?} is not a bead id, so it is read as a step id, which needs a molecule: pass --mol <molecule>"),
        )?),
        None => None,
    };
    let (mol, step) = molecule::resolve_step(ledger, step, mol.as_deref())?;
    if let Some(bead) = ledger.get(&mol)? {
        crate::authz::change_molecule(caller, &bead, false)?;
    }
    Ok(molecule::step_done(ledger, &mol, &step, reason, who)?)
}
