//! Pour: a protomolecule becomes a molecule bead and one child bead per step, each blocked
//! by the beads of the steps it needs.

use super::{FORMULA_FIELD, MolError, STEP_FIELD, StepRef};
use gastown_beads::ledger::{Ledger, NewBead};
use gastown_beads::{DepKind, IssueType};
use gastown_formula::{ProtoStep, Protomolecule};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// How to pour.
#[derive(Debug, Clone)]
pub struct PourOptions {
    /// A wisp: every bead ephemeral (redb only).
    pub ephemeral: bool,
    /// Assignee of the molecule and of steps that name none.
    pub assignee: String,
    /// The work bead this molecule is attached to (a `tracks` link from the molecule).
    pub attach: Option<String>,
    /// Priority of the molecule and of steps that set none.
    pub priority: u8,
}

impl Default for PourOptions {
    fn default() -> PourOptions {
        PourOptions {
            ephemeral: false,
            assignee: String::new(),
            attach: None,
            priority: 2,
        }
    }
}

/// A poured molecule: its bead and one bead per step, in order.
#[derive(Debug, Clone, Serialize)]
pub struct Poured {
    pub molecule: String,
    pub title: String,
    pub formula: String,
    pub ephemeral: bool,
    pub steps: Vec<StepRef>,
}

/// Create the molecule bead, then the step beads in topological order, each blocked by the
/// beads of its needs. Not one transaction: a crash part-way leaves a molecule with fewer step
/// beads than its `formula.steps` says, which [`load`] reports as missing steps.
pub fn pour(
    ledger: &mut Ledger,
    proto: &Protomolecule,
    opts: &PourOptions,
    who: &str,
) -> Result<Poured, MolError> {
    let mol = ledger.create(molecule_bead(proto, opts), who)?;
    let mut steps: Vec<StepRef> = Vec::with_capacity(proto.steps.len());
    for record in proto.pour_records() {
        let deps = record
            .blocked_by
            .iter()
            .map(|&i| (DepKind::Blocks, steps[i].bead.clone()))
            .collect();
        let bead = ledger.create(step_bead(record.step, &mol.id, deps, opts), who)?;
        steps.push(StepRef {
            step: record.step.id.clone(),
            bead: bead.id,
            title: bead.title,
        });
    }
    Ok(Poured {
        molecule: mol.id,
        title: mol.title,
        formula: proto.formula.clone(),
        ephemeral: opts.ephemeral,
        steps,
    })
}

/// The molecule's title: the formula's name and the first line of its description.
fn molecule_title(proto: &Protomolecule) -> String {
    match proto
        .description
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
    {
        Some(line) => format!("{}: {line}", proto.formula),
        None => proto.formula.clone(),
    }
}

fn molecule_bead(proto: &Protomolecule, opts: &PourOptions) -> NewBead {
    let mut extra = Map::new();
    extra.insert(
        FORMULA_FIELD.to_string(),
        json!({
            "name": proto.formula,
            "version": proto.version,
            "source": proto.source,
            "vars": proto.vars,
            "steps": proto.steps.len(),
        }),
    );
    NewBead {
        title: molecule_title(proto),
        description: proto.description.clone(),
        issue_type: IssueType::Molecule,
        priority: opts.priority,
        assignee: opts.assignee.clone(),
        labels: vec![format!("formula:{}", proto.formula)],
        deps: opts
            .attach
            .iter()
            .map(|work| (DepKind::Tracks, work.clone()))
            .collect(),
        ephemeral: opts.ephemeral,
        extra,
        ..NewBead::default()
    }
}

fn step_bead(
    step: &ProtoStep,
    mol: &str,
    deps: Vec<(DepKind, String)>,
    opts: &PourOptions,
) -> NewBead {
    let mut extra = Map::new();
    extra.insert(STEP_FIELD.to_string(), Value::from(step.id.clone()));
    if let Some(parent) = &step.parent {
        extra.insert("step_parent".to_string(), Value::from(parent.clone()));
    }
    if let Some(kind) = &step.step_type {
        extra.insert("step_type".to_string(), Value::from(kind.clone()));
    }
    if step.parallel {
        extra.insert("parallel".to_string(), Value::from(true));
    }
    if let Some(gate) = &step.gate {
        extra.insert("gate".to_string(), json!(gate));
    }
    NewBead {
        title: step.title.clone(),
        description: step.description.clone(),
        acceptance_criteria: step.acceptance.clone().unwrap_or_default(),
        issue_type: IssueType::Task,
        priority: step.priority.unwrap_or(opts.priority),
        assignee: step
            .assignee
            .clone()
            .unwrap_or_else(|| opts.assignee.clone()),
        labels: step.labels.clone(),
        deps,
        parent: Some(mol.to_string()),
        ephemeral: opts.ephemeral,
        extra,
        ..NewBead::default()
    }
}
