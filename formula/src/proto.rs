//! The cooked result: a [`Protomolecule`] (frozen template, variables substituted, steps in
//! topological order), its text rendering, and the records a pour turns into beads.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{FormulaKind, Gate, Squash};

/// A cooked formula: what `formula cook` prints and what `mol pour` instantiates. Serializes
/// to the JSON `formula cook --json` prints, and reads back (e.g. when kept on a molecule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Protomolecule {
    /// The formula's name.
    pub formula: String,
    /// The file it was cooked from.
    pub source: String,
    /// The formula's description (known variables substituted); the molecule bead's text.
    pub description: String,
    /// The formula's type.
    #[serde(rename = "type")]
    pub kind: FormulaKind,
    /// The formula's version, when declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Every variable with a value (given, or its default), by name.
    pub vars: BTreeMap<String, String>,
    /// `pour` from the file: persistent step beads wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pour: Option<bool>,
    /// `phase` from the file: `liquid` (pour) or `vapor` (wisp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// `review_only` from the file: no code commits expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_only: Option<bool>,
    /// `[squash]` from the file: how the finished molecule is condensed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub squash: Option<Squash>,
    /// The steps, each after all of its needs.
    pub steps: Vec<ProtoStep>,
    /// Non-fatal problems (an overlay override naming no step), for the operator.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One step of a protomolecule: becomes one step bead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtoStep {
    /// Unique within the molecule.
    pub id: String,
    /// Title of the step bead.
    pub title: String,
    /// What to do.
    pub description: String,
    /// When the step counts as done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptance: Option<String>,
    /// Steps that must be done first (all earlier in the list).
    pub needs: Vec<String>,
    /// May run alongside siblings with the same needs.
    pub parallel: bool,
    /// Step type from the file (`parallel` container, convoy `leg`/`synthesis`, ...).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub step_type: Option<String>,
    /// The container step this one is a child of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// A wait before the step may start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    /// Bead priority for the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Labels for the step bead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Default assignee for the step bead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// The file that defined the step (a parent's, an expansion's or an aspect's file when
    /// it came from one).
    pub source: String,
}

/// A step ready to pour: the step plus its edges as indices into the same list.
///
/// Records come in topological order, so every index in `blocked_by` is smaller than the
/// record's own: a pour can create the beads in order and add each `blocks` edge as soon as
/// the bead exists. `parent` is the exception: a container step is done after its children,
/// so it comes later; add parent edges once all beads exist.
#[derive(Debug, Clone, PartialEq)]
pub struct PourRecord<'a> {
    /// The step.
    pub step: &'a ProtoStep,
    /// Position of this record in the list.
    pub index: usize,
    /// Records this step's bead is blocked by (its needs): `blocks` edges.
    pub blocked_by: Vec<usize>,
    /// The container step's record, when the step is a child (a later record: the container
    /// needs its children). The ledger may link the child to it instead of to the molecule.
    pub parent: Option<usize>,
}

impl Protomolecule {
    /// The steps as records ready to pour (see [`PourRecord`]).
    pub fn pour_records(&self) -> Vec<PourRecord<'_>> {
        let position: std::collections::HashMap<&str, usize> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        self.steps
            .iter()
            .enumerate()
            .map(|(index, step)| PourRecord {
                step,
                index,
                blocked_by: step
                    .needs
                    .iter()
                    .filter_map(|n| position.get(n.as_str()).copied())
                    .collect(),
                parent: step
                    .parent
                    .as_deref()
                    .and_then(|p| position.get(p).copied()),
            })
            .collect()
    }

    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&ProtoStep> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Steps not yet done whose needs are all done, in order: what an agent may work on next
    /// (after a crash, the first of them is where the new session resumes).
    pub fn ready_steps<'a>(&'a self, done: &HashSet<&str>) -> Vec<&'a ProtoStep> {
        self.steps
            .iter()
            .filter(|s| !done.contains(s.id.as_str()))
            .filter(|s| s.needs.iter().all(|n| done.contains(n.as_str())))
            .collect()
    }
}

impl ProtoStep {
    /// The text for the step bead: the description, then the acceptance criteria.
    pub fn bead_description(&self) -> String {
        match &self.acceptance {
            Some(acceptance) if !acceptance.is_empty() => {
                format!(
                    "{}\n\nAcceptance: {acceptance}",
                    self.description.trim_end()
                )
            }
            _ => self.description.clone(),
        }
    }
}

/// Text for `formula cook` without `--json`: a header, the variables, one line per step
/// (`{:#}` adds each step's description and acceptance, indented).
impl fmt::Display for Protomolecule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.formula, self.kind)?;
        if let Some(version) = self.version {
            write!(f, ", v{version}")?;
        }
        writeln!(f, ") from {}", self.source)?;
        if let Some(first) = self.description.lines().find(|l| !l.trim().is_empty()) {
            writeln!(f, "  {}", first.trim())?;
        }
        if !self.vars.is_empty() {
            writeln!(f, "vars:")?;
            for (name, value) in &self.vars {
                writeln!(f, "  {name} = {value:?}")?;
            }
        }
        writeln!(f, "steps ({}):", self.steps.len())?;
        for (i, step) in self.steps.iter().enumerate() {
            write!(f, "  {:>3}. {} — {}", i + 1, step.id, step.title)?;
            if !step.needs.is_empty() {
                write!(f, "  [needs {}]", step.needs.join(", "))?;
            }
            writeln!(f)?;
            if f.alternate() {
                for line in step.description.lines() {
                    writeln!(f, "         {line}")?;
                }
                if let Some(acceptance) = &step.acceptance {
                    writeln!(f, "         acceptance: {acceptance}")?;
                }
            }
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}
