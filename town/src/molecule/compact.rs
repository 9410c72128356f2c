//! Compaction (the `compactor` dog, `docs/dogs.md`; `docs/molecules.md`, "Compaction"): a
//! persistent molecule closed longer than a threshold ago is squashed into its digest, and its
//! step beads leave the live ledger.
//!
//! The digest is the one `mol squash` writes (made now when the molecule was never squashed):
//! its `steps` rows keep, for every step, who closed it, when and why, and the step bead's whole
//! record (title, status, close reason, description, notes, acceptance, labels, comments,
//! fields). The step beads are then removed in one write ([`Ledger::remove_beads`]; git's
//! earlier commits still hold them). The molecule bead itself stays, closed, labelled
//! `squashed` and `compacted`, with its `digest` field naming the digest: work beads, convoys
//! and the digest keep pointing at it. A run stopped in between (a crash) is finished by the
//! next: the digest is found by its `squashed_from`.
//!
//! What is never touched: an open molecule, a molecule with a step not closed, wisps (the
//! reaper's), and a molecule one of whose steps an open bead outside it still depends on (it
//! waits until that bead closes). A closed bead's dependency on a removed step stays as it was:
//! the step id `<mol>.N` names its molecule, whose `digest` field leads to the step's record.
//! Running it again changes nothing: a compacted molecule is not looked at again.

use super::record::{compacted_field, compacted_into, digest_steps, squashed_from};
use super::squash::step_row;
use super::{MolError, SquashOptions, StepState, load, squash};
use gastown_beads::ledger::{Ledger, ListFilter};
use gastown_beads::{Bead, IssueType, Status};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The label of a compacted molecule.
pub const COMPACTED_LABEL: &str = "compacted";

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compacted {
    /// `(molecule, digest)` for each molecule compacted now.
    pub squashed: Vec<(String, String)>,
    /// Molecules left alone this time, with why.
    pub skipped: Vec<(String, String)>,
    /// Molecules whose compaction failed, with the error (the others went on).
    pub failed: Vec<(String, String)>,
}

impl Compacted {
    /// One line for `gastown dog list`.
    pub fn summary(&self) -> String {
        let mut out = format!("{} molecule(s) squashed into digests", self.squashed.len());
        if !self.skipped.is_empty() {
            let why: Vec<String> = self
                .skipped
                .iter()
                .map(|(mol, why)| format!("{mol}: {why}"))
                .collect();
            out.push_str(&format!(
                ", {} left for later ({})",
                self.skipped.len(),
                why.join("; ")
            ));
        }
        if !self.failed.is_empty() {
            let why: Vec<String> = self
                .failed
                .iter()
                .map(|(mol, e)| format!("{mol}: {e}"))
                .collect();
            out.push_str(&format!(
                ", {} failed ({})",
                self.failed.len(),
                why.join("; ")
            ));
        }
        out
    }
}

/// Compact every persistent molecule closed at least `older_than` before `now_nanos`. One
/// molecule's failure does not stop the others (it is in [`Compacted::failed`]).
pub fn compact(
    ledger: &mut Ledger,
    now_nanos: i128,
    older_than: Duration,
    who: &str,
) -> Result<Compacted, MolError> {
    let older_than = i128::try_from(older_than.as_nanos()).unwrap_or(i128::MAX);
    let due: Vec<Bead> = ledger
        .list(&ListFilter {
            status: Some(Status::Closed),
            issue_type: Some(IssueType::Molecule),
            all: true,
            ..ListFilter::default()
        })?
        .into_iter()
        .filter(|b| !b.ephemeral)
        // Compacted already: nothing left to do, and not looked at again.
        .filter(|b| !matches!(compacted_into(b), Ok(Some(_))))
        .filter(|b| {
            b.closed_at
                .as_deref()
                .and_then(gastown_beads::time::parse_rfc3339)
                .is_some_and(|at| now_nanos.saturating_sub(at) >= older_than)
        })
        .collect();
    let mut out = Compacted::default();
    if due.is_empty() {
        return Ok(out);
    }
    // One pass over the ledger: who depends on what (and whether it is still open), and the
    // digests there are.
    let mut open_referrers: HashMap<String, Vec<String>> = HashMap::new();
    let mut digests: HashMap<String, String> = HashMap::new();
    for bead in ledger.list(&ListFilter {
        all: true,
        ..ListFilter::default()
    })? {
        if let Ok(Some(mol)) = squashed_from(&bead)
            && bead.labels.iter().any(|l| l == "digest")
        {
            digests.insert(mol.to_string(), bead.id.clone());
        }
        if super::is_done(&bead) {
            continue;
        }
        for dep in &bead.dependencies {
            open_referrers
                .entry(dep.depends_on_id.clone())
                .or_default()
                .push(bead.id.clone());
        }
    }
    for mol in due {
        let digest = digests.get(&mol.id).map(String::as_str);
        match compact_one(ledger, &mol.id, digest, &open_referrers, who) {
            Ok(One::Compacted(digest)) => {
                tracing::info!(molecule = %mol.id, %digest, "molecule compacted into its digest");
                out.squashed.push((mol.id, digest));
            }
            Ok(One::Nothing) => {}
            Ok(One::Skipped(why)) => out.skipped.push((mol.id, why)),
            Err(e) => out.failed.push((mol.id, e.to_string())),
        }
    }
    Ok(out)
}

enum One {
    Compacted(String),
    /// Nothing to do: no step beads (compacted already, or a molecule without steps).
    Nothing,
    Skipped(String),
}

fn compact_one(
    ledger: &mut Ledger,
    mol_id: &str,
    digest: Option<&str>,
    open_referrers: &HashMap<String, Vec<String>>,
    who: &str,
) -> Result<One, MolError> {
    let mol = load(ledger, mol_id)?;
    if mol.steps.is_empty() {
        // A run that stopped between removing the steps and marking the molecule: mark it.
        if let Some(digest) = digest {
            mark(ledger, mol_id, digest, who)?;
        }
        return Ok(One::Nothing);
    }
    if let Some(step) = mol.steps.iter().find(|s| s.state != StepState::Done) {
        return Ok(One::Skipped(format!(
            "step `{}` ({}) is not closed",
            step.step, step.bead.id
        )));
    }
    if let Some(step) = mol.steps.iter().find(|s| s.bead.ephemeral) {
        return Ok(One::Skipped(format!(
            "step `{}` ({}) is a wisp, the reaper's",
            step.step, step.bead.id
        )));
    }
    let ids: Vec<String> = mol.steps.iter().map(|s| s.bead.id.clone()).collect();
    let own: HashSet<&str> = ids.iter().map(String::as_str).collect();
    for step in &mol.steps {
        let outside = open_referrers
            .get(&step.bead.id)
            .into_iter()
            .flatten()
            .find(|r| !own.contains(r.as_str()));
        if let Some(referrer) = outside {
            return Ok(One::Skipped(format!(
                "open bead {referrer} depends on its step {}",
                step.bead.id
            )));
        }
    }
    // The digest first, holding every step's record; only then do the steps go.
    let existing = match digest {
        Some(d) if ledger.get(d)?.is_some() => Some(d.to_string()),
        _ => None,
    };
    let digest = match existing {
        Some(digest) => {
            let mut rows = Vec::with_capacity(mol.steps.len());
            for step in &mol.steps {
                rows.push(step_row(ledger, step)?.1);
            }
            ledger.set_extra(&digest, digest_steps(rows).into_extra(), who)?;
            digest
        }
        None => {
            let opts = SquashOptions {
                keep_children: true,
                force: false,
            };
            squash(ledger, mol_id, opts, who)?.digest
        }
    };
    ledger.remove_beads(&ids, who)?;
    mark(ledger, mol_id, &digest, who)?;
    Ok(One::Compacted(digest))
}

/// Mark molecule `mol_id` compacted into `digest` (its field `digest`, the label `compacted`).
fn mark(ledger: &mut Ledger, mol_id: &str, digest: &str, who: &str) -> Result<(), MolError> {
    ledger.set_extra(mol_id, compacted_field(digest).into_extra(), who)?;
    ledger.add_label(mol_id, COMPACTED_LABEL, who)?;
    Ok(())
}
