//! Pour: a protomolecule becomes a molecule bead and one child bead per step, each blocked
//! by the beads of the steps it needs.

use super::record::{PouredFrom, StepFields};
use super::{MolError, StepRef};
use gastown_beads::ledger::{Ledger, NewBead};
use gastown_beads::{Bead, DepKind, Dependency, IssueType, LedgerError, id, time};
use gastown_formula::{ProtoStep, Protomolecule};
use serde::{Deserialize, Serialize};
use serde_json::Map;
use std::path::Path;

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
    /// Id prefix of the molecule (the rig's it is poured for; `None`: the town's). Its steps
    /// are its children `<mol>.N`, so they carry it too.
    pub prefix: Option<String>,
}

impl Default for PourOptions {
    fn default() -> PourOptions {
        PourOptions {
            ephemeral: false,
            assignee: String::new(),
            attach: None,
            priority: 2,
            prefix: None,
        }
    }
}

/// A poured molecule: its bead and one bead per step, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Poured {
    pub molecule: String,
    pub title: String,
    pub formula: String,
    pub ephemeral: bool,
    pub steps: Vec<StepRef>,
}

/// Create the molecule bead, then all step beads in one durable transaction (see
/// [`write_steps`]), in topological order, each a child of the molecule and blocked by the
/// beads of its needs. If the steps cannot be written the molecule is withdrawn (a wisp
/// burnt, a persistent one closed as failed) and the error returned.
pub fn pour(
    ledger: &mut Ledger,
    proto: &Protomolecule,
    opts: &PourOptions,
    who: &str,
) -> Result<Poured, MolError> {
    let mol = ledger.create(molecule_bead(proto, opts), who)?;
    let steps = match write_steps(ledger, proto, &mol.id, opts, who) {
        Ok(steps) => steps,
        Err(err) => {
            let withdrawn = if opts.ephemeral {
                ledger.burn_wisp(&mol.id)
            } else {
                ledger
                    .close(&mol.id, &format!("pour failed: {err}"), who)
                    .map(|_| ())
            };
            if let Err(e) = withdrawn {
                tracing::warn!(molecule = %mol.id, error = %e, "cannot withdraw a failed pour");
            }
            return Err(err);
        }
    };
    Ok(Poured {
        molecule: mol.id,
        title: mol.title,
        formula: proto.formula.clone(),
        ephemeral: opts.ephemeral,
        steps,
    })
}

/// Write the step beads `<mol>.1 ..= <mol>.N` (the ids `create` with `parent` gives the
/// children of a fresh molecule) in one durable transaction.
///
/// The ledger has no batch create yet, so this goes through its all-or-nothing import of a
/// JSONL file written next to the index and removed afterwards: 1,000 steps take ~25 ms this
/// way against ~4.5 s as 1,000 single creates, each its own fsync
/// (docs/benchmarks-molecules.md). Swap for a batch create once the ledger has one.
fn write_steps(
    ledger: &mut Ledger,
    proto: &Protomolecule,
    mol: &str,
    opts: &PourOptions,
    who: &str,
) -> Result<Vec<StepRef>, MolError> {
    let ids: Vec<String> = (1..=proto.steps.len())
        .map(|n| id::child_id(mol, n as u32))
        .collect();
    for id in &ids {
        if ledger.get(id)?.is_some() {
            return Err(LedgerError::Invalid(format!(
                "{id} exists already, so the steps of {mol} cannot be numbered from 1; pour again"
            ))
            .into());
        }
    }
    let base = time::now_unix_nanos();
    let mut text = String::new();
    let mut steps = Vec::with_capacity(ids.len());
    for record in proto.pour_records() {
        // Distinct creation times keep `bead ready` in pour order among equal priorities.
        let at = time::format_unix_nanos(base + record.index as i128);
        let blocked_by = record.blocked_by.iter().map(|&i| ids[i].as_str());
        let bead = step_bead(
            record.step,
            &ids[record.index],
            mol,
            blocked_by,
            opts,
            who,
            &at,
        );
        text.push_str(&bead.to_json_line());
        text.push('\n');
        steps.push(StepRef {
            step: record.step.id.clone(),
            bead: bead.id,
            title: bead.title,
        });
    }
    let dir = ledger
        .config()
        .index_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = dir.join(format!("pour-{mol}.jsonl"));
    std::fs::write(&path, text).map_err(|source| MolError::Io {
        path: path.clone(),
        source,
    })?;
    let imported = ledger.import_file(&path, who);
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove a pour file");
    }
    imported?;
    Ok(steps)
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
        extra: PouredFrom::field(proto).into_extra(),
        prefix: opts.prefix.clone(),
        ..NewBead::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn step_bead<'a>(
    step: &ProtoStep,
    id: &str,
    mol: &str,
    blocked_by: impl Iterator<Item = &'a str>,
    opts: &PourOptions,
    who: &str,
    at: &str,
) -> Bead {
    let dependency = |target: &str, kind: DepKind| Dependency {
        issue_id: id.to_string(),
        depends_on_id: target.to_string(),
        kind,
        created_at: at.to_string(),
        created_by: who.to_string(),
        extra: Map::new(),
    };
    let mut bead = Bead::new(id, step.title.clone());
    bead.created_at = at.to_string();
    bead.updated_at = at.to_string();
    bead.created_by = who.to_string();
    bead.description = step.description.clone();
    bead.acceptance_criteria = step.acceptance.clone().unwrap_or_default();
    bead.issue_type = IssueType::Task;
    bead.priority = step.priority.unwrap_or(opts.priority).min(4);
    bead.assignee = step
        .assignee
        .clone()
        .unwrap_or_else(|| opts.assignee.clone());
    for label in &step.labels {
        if !bead.labels.contains(label) {
            bead.labels.push(label.clone());
        }
    }
    bead.dependencies
        .push(dependency(mol, DepKind::ParentChild));
    for target in blocked_by {
        bead.dependencies.push(dependency(target, DepKind::Blocks));
    }
    bead.ephemeral = opts.ephemeral;
    bead.extra = StepFields::of_proto(step).into_extra();
    bead
}
