//! Molecules in the ledger: pour a protomolecule as beads, read a molecule's progress, close its
//! steps in order. Pure of CLI concerns: every function takes a `&mut Ledger` (or `&Ledger`) and
//! the acting identity, so the CLI and the supervisor's ledger actor run the same code.
//!
//! Shape of a poured molecule:
//! - one bead of type `molecule` (never "ready" work itself), labelled `formula:<name>`, whose
//!   extra field `formula` records `{name, version, source, vars, steps}`;
//! - one bead per step, a child `<molecule>.N` (parent-child dependency on the molecule) in the
//!   protomolecule's topological order, with extra field `step_id`, the step's acceptance in
//!   `acceptance_criteria`, and a `blocks` dependency on the bead of every step it needs. So
//!   `bead ready` and `bead blocked` follow the molecule with no special casing.
//! - A container step's children are *not* linked to the container by parent-child (the
//!   container needs its children, and a blocked parent would hold them back forever); the
//!   container's step id is kept in extra `step_parent`.
//!
//! A wisp is the same with every bead ephemeral: in the redb index only, never in git.
//! Squash and burn live in [`squash`]; a molecule closing by itself when its last step or its
//! work closes, in [`finish`]; the compactor dog's squashing of long-closed molecules (their
//! step beads leaving the live ledger for the digest), in [`compact`].

mod compact;
mod finish;
mod pour;
pub mod record;
mod squash;
mod steps;
#[cfg(test)]
mod tests;

pub use compact::{Compacted, compact};
pub use finish::on_closed;
pub use pour::{PourOptions, Poured, pour};
pub use record::{FORMULA_FIELD, PouredFrom, STEP_FIELD, StepFields, step_id};
pub use squash::{Burned, SquashOptions, Squashed, burn, squash};
pub use steps::{StepDone, for_agent, open_molecules, resolve_step, step_done};

use gastown_beads::ledger::{Ledger, ListFilter};
use gastown_beads::{Bead, DepKind, EventKind, FieldError, IssueType, LedgerError, Status};
use serde::{Deserialize, Serialize};

/// What a molecule operation can refuse or fail with; messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum MolError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("cannot write {}: {source}; check the town's .runtime directory", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("no bead {0:?} in this town; `gastown bead list --type molecule` lists the molecules")]
    UnknownBead(String),
    #[error(
        "{id} is a {kind}, not a molecule; pass a molecule id (`gastown bead list --type molecule`)"
    )]
    NotAMolecule { id: String, kind: String },
    #[error("molecule {mol} has no step {step:?}; its steps are: {}", known.join(", "))]
    UnknownStep {
        mol: String,
        step: String,
        known: Vec<String>,
    },
    #[error(
        "step `{step}` ({bead}) cannot be done yet: it needs {} still open; finish those first",
        open.join(", ")
    )]
    NeedsOpen {
        step: String,
        bead: String,
        /// Each open need as "`step` (bead)".
        open: Vec<String>,
    },
    #[error(
        "{bead} is not a molecule step; pass a step bead id, or a step id with --mol <molecule>"
    )]
    NotAStep { bead: String },
    #[error(
        "{0} is a persistent molecule (it is in git); burn only discards wisps, condense this one with `gastown mol squash {0}`"
    )]
    NotAWisp(String),
    #[error(
        "molecule {mol} has steps not done: {}; finish them (`gastown mol current {mol}`) or pass --force to squash anyway",
        open.join(", ")
    )]
    Unfinished { mol: String, open: Vec<String> },
    #[error(
        "molecule {mol} was compacted: it is closed and its steps are kept in its digest {digest}; read them with `gastown bead show {digest}`"
    )]
    Compacted { mol: String, digest: String },
    #[error(
        "no open molecule is hooked or assigned to {agent}; pass a molecule id (`gastown mol status` lists them)"
    )]
    NoMoleculeFor { agent: String },
    #[error("{agent} has several open molecules ({}); pass one of them", candidates.join(", "))]
    Ambiguous {
        agent: String,
        candidates: Vec<String>,
    },
}

/// A step and its bead.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepRef {
    pub step: String,
    pub bead: String,
    pub title: String,
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    /// Its bead is closed.
    Done,
    /// Not done, and everything it needs is done: may be worked now.
    Ready,
    /// Waiting for a need.
    Blocked,
}

/// One step of a loaded molecule.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: String,
    pub bead: Bead,
    /// Bead ids of the steps (or other beads) it needs.
    pub needs: Vec<String>,
    pub state: StepState,
}

/// A molecule bead with its steps in pour (topological) order.
#[derive(Debug, Clone)]
pub struct Molecule {
    pub bead: Bead,
    /// What it was poured from (`None`: a molecule made elsewhere).
    pub poured_from: Option<PouredFrom>,
    pub steps: Vec<Step>,
    /// Step beads the molecule says it has but the ledger does not (an interrupted pour).
    pub missing: Vec<String>,
    /// Compacted: its steps left the live ledger for this digest (`compact`); `steps` and
    /// `missing` are then empty.
    pub compacted_into: Option<String>,
}

impl Molecule {
    /// Steps done.
    pub fn done(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.state == StepState::Done)
            .count()
    }

    /// The first step that may be worked now: where a (re)started session resumes.
    pub fn current(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.state == StepState::Ready)
    }

    /// The formula's name, from the molecule's `formula` field.
    pub fn formula(&self) -> Option<&str> {
        self.poured_from
            .as_ref()
            .map(|p| p.name.as_str())
            .filter(|n| !n.is_empty())
    }

    /// Display label of a step bead id: "`step` (bead)".
    fn describe(&self, bead: &str) -> String {
        match self.steps.iter().find(|s| s.bead.id == bead) {
            Some(s) => format!("`{}` ({bead})", s.step),
            None => bead.to_string(),
        }
    }
}

/// Load a molecule and compute each step's state.
pub fn load(ledger: &Ledger, mol_id: &str) -> Result<Molecule, MolError> {
    let bead = ledger
        .get(mol_id)?
        .ok_or_else(|| MolError::UnknownBead(mol_id.to_string()))?;
    if bead.issue_type != IssueType::Molecule {
        return Err(MolError::NotAMolecule {
            id: bead.id,
            kind: bead.issue_type.to_string(),
        });
    }
    let poured_from = PouredFrom::of(&bead)?;
    let compacted_into = record::compacted_into(&bead)?.map(str::to_string);
    let count = poured_from.as_ref().and_then(|p| p.steps);
    let (children, mut missing) = step_beads(ledger, &bead, count)?;
    if compacted_into.is_some() {
        // Not an interrupted pour: the steps are in the digest.
        missing.clear();
    }
    let mut steps: Vec<Step> = Vec::with_capacity(children.len());
    for child in children {
        let needs: Vec<String> = child
            .dependencies
            .iter()
            .filter(|d| d.kind.is_blocking())
            .map(|d| d.depends_on_id.clone())
            .collect();
        let state = if is_done(&child) {
            StepState::Done
        } else if needs_open(ledger, &steps, &needs)?.is_empty() {
            StepState::Ready
        } else {
            StepState::Blocked
        };
        let step = step_id(&child).unwrap_or_default().to_string();
        steps.push(Step {
            step,
            bead: child,
            needs,
            state,
        });
    }
    Ok(Molecule {
        bead,
        poured_from,
        steps,
        missing,
        compacted_into,
    })
}

/// [`load`] a molecule to walk, show or squash: a compacted one is refused, naming its digest
/// (its steps are no longer in the live ledger).
pub fn load_live(ledger: &Ledger, mol_id: &str) -> Result<Molecule, MolError> {
    let mol = load(ledger, mol_id)?;
    match &mol.compacted_into {
        Some(digest) if mol.steps.is_empty() => Err(MolError::Compacted {
            mol: mol.bead.id,
            digest: digest.clone(),
        }),
        _ => Ok(mol),
    }
}

pub(crate) fn is_done(bead: &Bead) -> bool {
    matches!(bead.status, Status::Closed | Status::Tombstone)
}

/// The needs (bead ids) not done yet; earlier steps are looked up in `steps`, others in the
/// ledger (a need on a bead that no longer exists holds nothing back).
pub(crate) fn needs_open(
    ledger: &Ledger,
    steps: &[Step],
    needs: &[String],
) -> Result<Vec<String>, MolError> {
    let mut open = Vec::new();
    for need in needs {
        let done = match steps.iter().find(|s| &s.bead.id == need) {
            Some(s) => s.state == StepState::Done,
            None => ledger.get(need)?.is_none_or(|b| is_done(&b)),
        };
        if !done {
            open.push(need.clone());
        }
    }
    Ok(open)
}

/// The step beads of a molecule, in pour order. A pour makes them `<mol>.1 ..= <mol>.N` with
/// N (`count`) in the molecule's `formula.steps`; a molecule from elsewhere is searched by
/// parent.
fn step_beads(
    ledger: &Ledger,
    mol: &Bead,
    count: Option<u64>,
) -> Result<(Vec<Bead>, Vec<String>), MolError> {
    let is_step_of = |b: &Bead| {
        step_id(b).is_some()
            && b.dependencies
                .iter()
                .any(|d| d.kind == DepKind::ParentChild && d.depends_on_id == mol.id)
    };
    let Some(count) = count else {
        let all = ListFilter {
            all: true,
            ..ListFilter::default()
        };
        let mut found: Vec<Bead> = ledger.list(&all)?.into_iter().filter(is_step_of).collect();
        found.sort_by_key(|b| child_number(&b.id));
        return Ok((found, Vec::new()));
    };
    let mut found = Vec::with_capacity(count as usize);
    let mut missing = Vec::new();
    for n in 1..=count {
        let id = format!("{}.{n}", mol.id);
        match ledger.get(&id)? {
            Some(b) if is_step_of(&b) => found.push(b),
            _ => missing.push(id),
        }
    }
    Ok((found, missing))
}

fn child_number(id: &str) -> u64 {
    id.rsplit('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// A step as a reference.
pub fn step_ref(step: &Step) -> StepRef {
    StepRef {
        step: step.step.clone(),
        bead: step.bead.id.clone(),
        title: step.bead.title.clone(),
    }
}

/// Who closed a bead and when, from its audit trail (the last close).
pub fn closer(ledger: &Ledger, id: &str) -> Result<(Option<String>, Option<String>), LedgerError> {
    let events = ledger.events(id)?;
    Ok(events
        .iter()
        .rev()
        .find(|e| e.kind == EventKind::Closed)
        .map(|e| (Some(e.actor.clone()), Some(e.at.clone())))
        .unwrap_or((None, None)))
}
