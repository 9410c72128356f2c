//! The end of a molecule's life without a squash: it closes when its work is over.
//!
//! - **Its last step closes** (through `mol step done` or `bead close`): the molecule closes,
//!   reason `all N steps done`, and says so.
//! - **The work it is attached to closes** (merged by the refinery, or closed by hand): its
//!   steps still open are closed with a reason naming the work, then the molecule closes. The
//!   steps of merged work would otherwise stay open forever and show in `bead blocked` and
//!   `bead ready`.
//! - **The molecule itself is closed by hand**: its open steps follow it, since a closed parent
//!   holds nothing back and they would turn up as ready work.
//!
//! [`on_closed`] is the one entry: every path that closes a bead calls it after the close. It is
//! idempotent (it only closes what is still open), so a caller retrying its bookkeeping after a
//! crash may call it again.

use super::{MolError, Molecule, StepState, is_done, load, step_id};
use gastown_beads::ledger::{Ledger, ListFilter};
use gastown_beads::{Bead, DepKind, IssueType};

/// `id` was just closed: finish what its closing finishes. Returns one line per molecule
/// closed, for the caller's output.
pub fn on_closed(ledger: &mut Ledger, id: &str, who: &str) -> Result<Vec<String>, MolError> {
    let Some(bead) = ledger.get(id)? else {
        return Ok(Vec::new());
    };
    if !is_done(&bead) {
        return Ok(Vec::new());
    }
    if bead.issue_type == IssueType::Molecule {
        let mol = load(ledger, &bead.id)?;
        let reason = format!("its molecule {} was closed", bead.id);
        close_open_steps(ledger, &mol, &reason, who)?;
        return Ok(Vec::new());
    }
    if step_id(&bead).is_some() {
        let Some(mol) = molecule_of_step(ledger, &bead)? else {
            return Ok(Vec::new());
        };
        return Ok(close_if_finished(ledger, &mol, who)?.into_iter().collect());
    }
    if bead.issue_type.is_coordination() {
        return Ok(Vec::new());
    }
    let mut notes = Vec::new();
    for mol_id in attached_molecules(ledger, &bead)? {
        let mol = load(ledger, &mol_id)?;
        if mol.bead.is_closed() {
            continue;
        }
        let why = match bead.close_reason.as_str() {
            "" => format!("its work {} closed", bead.id),
            reason => format!("its work {} closed ({reason})", bead.id),
        };
        let closed = close_open_steps(ledger, &mol, &why, who)?;
        ledger.close(&mol.bead.id, &why, who)?;
        notes.push(format!(
            "closed molecule {}: {why}; {closed} open step(s) closed with it",
            mol.bead.id
        ));
    }
    Ok(notes)
}

/// Close `mol` if every step is done (and none is missing); the line saying so, if it closed.
fn close_if_finished(
    ledger: &mut Ledger,
    mol_id: &str,
    who: &str,
) -> Result<Option<String>, MolError> {
    let mol = load(ledger, mol_id)?;
    finish(ledger, &mol, who)
}

/// [`close_if_finished`] for a molecule already loaded with its steps' states current.
pub(super) fn finish(
    ledger: &mut Ledger,
    mol: &Molecule,
    who: &str,
) -> Result<Option<String>, MolError> {
    let finished = !mol.steps.is_empty()
        && mol.missing.is_empty()
        && mol.steps.iter().all(|s| s.state == StepState::Done);
    if !finished || mol.bead.is_closed() {
        return Ok(None);
    }
    let reason = format!("all {} steps done", mol.steps.len());
    ledger.close(&mol.bead.id, &reason, who)?;
    Ok(Some(format!("closed molecule {}: {reason}", mol.bead.id)))
}

/// Close every step of `mol` not done yet with `reason`; returns how many.
fn close_open_steps(
    ledger: &mut Ledger,
    mol: &Molecule,
    reason: &str,
    who: &str,
) -> Result<usize, MolError> {
    let mut closed = 0;
    for step in mol.steps.iter().filter(|s| s.state != StepState::Done) {
        ledger.close(&step.bead.id, reason, who)?;
        closed += 1;
    }
    Ok(closed)
}

/// The molecule a step bead belongs to: its parent, when that is a molecule.
fn molecule_of_step(ledger: &Ledger, step: &Bead) -> Result<Option<String>, MolError> {
    let Some(parent) = step
        .dependencies
        .iter()
        .find(|d| d.kind == DepKind::ParentChild)
        .map(|d| d.depends_on_id.clone())
    else {
        return Ok(None);
    };
    let is_molecule = ledger
        .get(&parent)?
        .is_some_and(|m| m.issue_type == IssueType::Molecule);
    Ok(is_molecule.then_some(parent))
}

/// Open molecules attached to `work`: the one sling recorded in its `molecule` field and any
/// `tracks`-linked to it (`mol pour --attach`).
fn attached_molecules(ledger: &Ledger, work: &Bead) -> Result<Vec<String>, MolError> {
    let mut found: Vec<String> = Vec::new();
    if let Some(mol) = super::record::attached_molecule(work)?
        && ledger
            .get(mol)?
            .is_some_and(|m| m.issue_type == IssueType::Molecule)
    {
        found.push(mol.to_string());
    }
    let open_molecules = ledger.list(&ListFilter {
        issue_type: Some(IssueType::Molecule),
        ..ListFilter::default()
    })?;
    for mol in open_molecules {
        let tracks_work = mol
            .dependencies
            .iter()
            .any(|d| d.kind == DepKind::Tracks && d.depends_on_id == work.id);
        if tracks_work && !found.contains(&mol.id) {
            found.push(mol.id);
        }
    }
    Ok(found)
}
