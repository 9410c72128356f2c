//! Walking a molecule: close a step in order (never redoing a closed one), and find the
//! molecule an agent's session works on.

use super::{MolError, Molecule, StepRef, StepState, closer, load, needs_open, step_id, step_ref};
use gastown_beads::ledger::{Ledger, ListFilter};
use gastown_beads::{Bead, DepKind, IssueType, Status};
use serde::{Deserialize, Serialize};

/// What `step done` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepDone {
    /// The step was closed now.
    Closed {
        molecule: String,
        step: StepRef,
        /// The next step to work, if one is ready.
        next: Option<StepRef>,
        done: usize,
        total: usize,
        /// That was the last step: the molecule closed with it.
        #[serde(default)]
        molecule_closed: bool,
    },
    /// The step was already closed; nothing changed.
    AlreadyClosed {
        molecule: String,
        step: StepRef,
        closed_at: Option<String>,
        closed_by: Option<String>,
    },
}

/// Resolve `target` (a step bead id, or a step id of `mol`) to its molecule and step id.
pub fn resolve_step(
    ledger: &Ledger,
    target: &str,
    mol: Option<&str>,
) -> Result<(String, String), MolError> {
    if let Some(bead) = ledger.get(target)? {
        let Some(step) = step_id(&bead) else {
            return Err(MolError::NotAStep { bead: bead.id });
        };
        let parent = bead
            .dependencies
            .iter()
            .find(|d| d.kind == DepKind::ParentChild)
            .map(|d| d.depends_on_id.clone())
            .ok_or_else(|| MolError::NotAStep {
                bead: bead.id.clone(),
            })?;
        return Ok((parent, step.to_string()));
    }
    match mol {
        Some(mol) => Ok((mol.to_string(), target.to_string())),
        None => Err(MolError::UnknownBead(target.to_string())),
    }
}

/// Close step `step` (step id or bead id) of molecule `mol_id`, refusing while a need is
/// open; a step already closed is left alone (never redone).
pub fn step_done(
    ledger: &mut Ledger,
    mol_id: &str,
    step: &str,
    reason: &str,
    who: &str,
) -> Result<StepDone, MolError> {
    let mut mol = super::load_live(ledger, mol_id)?;
    let index = mol
        .steps
        .iter()
        .position(|s| s.step == step || s.bead.id == step)
        .ok_or_else(|| MolError::UnknownStep {
            mol: mol.bead.id.clone(),
            step: step.to_string(),
            known: mol.steps.iter().map(|s| s.step.clone()).collect(),
        })?;
    let found = &mol.steps[index];
    let reference = step_ref(found);
    if found.state == StepState::Done {
        let (closed_by, _) = closer(ledger, &found.bead.id)?;
        return Ok(StepDone::AlreadyClosed {
            molecule: mol.bead.id.clone(),
            step: reference,
            closed_at: found.bead.closed_at.clone(),
            closed_by,
        });
    }
    let open = needs_open(ledger, &mol.steps, &found.needs)?;
    if !open.is_empty() {
        return Err(MolError::NeedsOpen {
            step: found.step.clone(),
            bead: found.bead.id.clone(),
            open: open.iter().map(|b| mol.describe(b)).collect(),
        });
    }
    let closed = ledger.close(&found.bead.id, reason, who)?;
    mol.steps[index].bead = closed;
    mol.steps[index].state = StepState::Done;
    refresh_states(ledger, &mut mol)?;
    let molecule_closed = super::finish::finish(ledger, &mol, who)?.is_some();
    Ok(StepDone::Closed {
        molecule: mol.bead.id.clone(),
        step: reference,
        next: mol.current().map(step_ref),
        done: mol.done(),
        total: mol.steps.len(),
        molecule_closed,
    })
}

/// Recompute the not-done steps' states after a change.
fn refresh_states(ledger: &Ledger, mol: &mut Molecule) -> Result<(), MolError> {
    for i in 0..mol.steps.len() {
        if mol.steps[i].state == StepState::Done {
            continue;
        }
        let open = needs_open(ledger, &mol.steps[..i], &mol.steps[i].needs)?;
        mol.steps[i].state = if open.is_empty() {
            StepState::Ready
        } else {
            StepState::Blocked
        };
    }
    Ok(())
}

/// The molecule an agent's session works. First the hook: an open molecule attached to a bead
/// hooked to the agent (named by the bead's extra field `molecule`, as sling records it, or
/// `tracks`-linked from the molecule). Else an open molecule assigned to the agent: status
/// `hooked` first, then `in_progress`, then `open`. Several equally good candidates are an
/// error naming them.
pub fn for_agent(ledger: &Ledger, agent: &str) -> Result<String, MolError> {
    let open_molecules = ledger.list(&ListFilter {
        issue_type: Some(IssueType::Molecule),
        ..ListFilter::default()
    })?;
    let hooked = ledger.list(&ListFilter {
        status: Some(Status::Hooked),
        assignee: Some(agent.to_string()),
        ..ListFilter::default()
    })?;
    let on_hook = |m: &&Bead| {
        hooked.iter().any(|h| {
            super::record::attached_molecule(h).ok().flatten() == Some(m.id.as_str())
                || m.dependencies
                    .iter()
                    .any(|d| d.kind == DepKind::Tracks && d.depends_on_id == h.id)
        })
    };
    let mut candidates: Vec<&Bead> = open_molecules.iter().filter(on_hook).collect();
    if candidates.is_empty() {
        let rank = |b: &Bead| match b.status {
            Status::Hooked => 0,
            Status::InProgress => 1,
            _ => 2,
        };
        let assigned: Vec<&Bead> = open_molecules
            .iter()
            .filter(|m| m.assignee == agent)
            .collect();
        if let Some(best) = assigned.iter().map(|m| rank(m)).min() {
            candidates = assigned.into_iter().filter(|m| rank(m) == best).collect();
        }
    }
    match candidates.as_slice() {
        [] => Err(MolError::NoMoleculeFor {
            agent: agent.to_string(),
        }),
        [one] => Ok(one.id.clone()),
        many => Err(MolError::Ambiguous {
            agent: agent.to_string(),
            candidates: many.iter().map(|m| m.id.clone()).collect(),
        }),
    }
}

/// Every molecule not closed, for `mol status` without an argument.
pub fn open_molecules(ledger: &Ledger) -> Result<Vec<Molecule>, MolError> {
    let beads = ledger.list(&ListFilter {
        issue_type: Some(IssueType::Molecule),
        ..ListFilter::default()
    })?;
    beads.iter().map(|b| load(ledger, &b.id)).collect()
}
