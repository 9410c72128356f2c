//! The fields of molecule records: the one owner of their names and shapes.
//!
//! | bead | field | meaning |
//! |---|---|---|
//! | molecule | `formula` | what it was poured from: `{name, version, source, vars, steps}` ([`PouredFrom`]) |
//! | step | `step_id` | the step's id in the formula ([`STEP_FIELD`]) |
//! | step | `step_parent`, `step_type`, `parallel`, `gate` | a container's step id, the step's type, whether it runs beside its siblings, its gate ([`StepFields`]) |
//! | molecule | `digest` | once compacted: the digest holding its steps, which left the live ledger ([`compacted_into`]) |
//! | digest (an `event` bead) | `squashed_from`, `formula`, `steps` | the molecule it condenses, its `formula` as it was, one row per step (with the step bead's whole record under `record`) |
//! | work bead | `molecule` | the molecule `sling` poured for it ([`attached_molecule`]) |

use gastown_beads::{Bead, ExtraPatch, FieldError, Fields};
use gastown_formula::{ProtoStep, Protomolecule};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Extra field of a molecule bead: what it was poured from.
pub const FORMULA_FIELD: &str = "formula";
/// Extra field of a step bead: the step's id in the formula.
pub const STEP_FIELD: &str = "step_id";
/// Extra field of a work bead: the molecule poured for it.
const MOLECULE_FIELD: &str = "molecule";
/// Extra field of a compacted molecule: its digest.
const DIGEST_FIELD: &str = "digest";
/// Extra field of a digest: the molecule it condenses.
const SQUASHED_FROM_FIELD: &str = "squashed_from";

/// What a molecule bead records of the formula it was poured from (`formula`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PouredFrom {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub source: String,
    /// The variables it was cooked with.
    #[serde(default)]
    pub vars: Map<String, Value>,
    /// How many step beads the pour made (`<molecule>.1 ..= .N`); `None` for a molecule from
    /// elsewhere, whose steps are found by their parent.
    #[serde(default)]
    pub steps: Option<u64>,
}

impl PouredFrom {
    /// Read a molecule bead's `formula` (`None`: a molecule that was not poured here).
    pub fn of(molecule: &Bead) -> Result<Option<PouredFrom>, FieldError> {
        Fields::of(molecule).parsed(FORMULA_FIELD, "a formula record {name, version, …}")
    }

    /// The field of a molecule poured from `proto`.
    pub fn field(proto: &Protomolecule) -> ExtraPatch {
        let vars = proto
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        let record = PouredFrom {
            name: proto.formula.clone(),
            version: proto.version,
            source: proto.source.clone(),
            vars,
            steps: Some(proto.steps.len() as u64),
        };
        let value = serde_json::to_value(record).expect("a formula record always serializes");
        ExtraPatch::default().set(FORMULA_FIELD, value)
    }
}

/// A step bead's fields beside its id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepFields {
    /// `step_id`.
    pub step_id: String,
    /// `step_parent`: the container step it belongs to.
    pub parent: Option<String>,
    /// `step_type`.
    pub step_type: Option<String>,
    /// `parallel`.
    pub parallel: bool,
    /// `gate`, as the formula gave it.
    pub gate: Option<Value>,
}

impl StepFields {
    /// Read a step bead (`None`: the bead is not a step).
    pub fn of(bead: &Bead) -> Result<Option<StepFields>, FieldError> {
        let f = Fields::of(bead);
        let Some(step_id) = f.text(STEP_FIELD)? else {
            return Ok(None);
        };
        Ok(Some(StepFields {
            step_id: step_id.to_string(),
            parent: f.text("step_parent")?.map(str::to_string),
            step_type: f.text("step_type")?.map(str::to_string),
            parallel: f.flag("parallel")?.unwrap_or(false),
            gate: f.value("gate").cloned(),
        }))
    }

    /// The fields of the bead poured for `step`.
    pub fn of_proto(step: &ProtoStep) -> ExtraPatch {
        let mut patch = ExtraPatch::default().set(STEP_FIELD, step.id.as_str());
        if let Some(parent) = &step.parent {
            patch = patch.set("step_parent", parent.as_str());
        }
        if let Some(kind) = &step.step_type {
            patch = patch.set("step_type", kind.as_str());
        }
        if step.parallel {
            patch = patch.set("parallel", true);
        }
        if let Some(gate) = &step.gate {
            let gate = serde_json::to_value(gate).expect("a gate always serializes");
            patch = patch.set("gate", gate);
        }
        patch
    }
}

/// The step id of a step bead; `None` for any other bead (or a `step_id` that is not text).
pub fn step_id(bead: &Bead) -> Option<&str> {
    Fields::of(bead).text(STEP_FIELD).ok().flatten()
}

/// The fields of the digest of molecule `mol`: the molecule it condenses, its `formula` as it
/// was (kept whole), and one row per step.
pub fn digest_fields(mol: &Bead, rows: Vec<Value>) -> ExtraPatch {
    let patch = ExtraPatch::default().set(SQUASHED_FROM_FIELD, mol.id.as_str());
    let patch = match Fields::of(mol).value(FORMULA_FIELD) {
        Some(formula) => patch.set(FORMULA_FIELD, formula.clone()),
        None => patch,
    };
    patch.set("steps", Value::Array(rows))
}

/// The `steps` rows of a digest alone (the compactor rewrites them with each step's record).
pub fn digest_steps(rows: Vec<Value>) -> ExtraPatch {
    ExtraPatch::default().set("steps", Value::Array(rows))
}

/// The molecule a digest condenses (`None`: not a digest).
pub fn squashed_from(digest: &Bead) -> Result<Option<&str>, FieldError> {
    Fields::of(digest).non_empty(SQUASHED_FROM_FIELD)
}

/// The digest a compacted molecule's steps went into (`None`: not compacted).
pub fn compacted_into(molecule: &Bead) -> Result<Option<&str>, FieldError> {
    Fields::of(molecule).non_empty(DIGEST_FIELD)
}

/// The field that marks a molecule compacted into `digest`.
pub fn compacted_field(digest: &str) -> ExtraPatch {
    ExtraPatch::default().set(DIGEST_FIELD, digest)
}

/// The molecule `sling` poured for a work bead.
pub fn attached_molecule(work: &Bead) -> Result<Option<&str>, FieldError> {
    Fields::of(work).non_empty(MOLECULE_FIELD)
}

/// The field that attaches molecule `mol` to a work bead.
pub fn attach_field(mol: &str) -> ExtraPatch {
    ExtraPatch::default().set(MOLECULE_FIELD, mol)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_formula_record_is_written_as_ledgers_hold_it_and_read_back() {
        let proto: Protomolecule = serde_json::from_value(json!({
            "formula": "mol-x", "source": "formulas/mol-x.toml", "description": "",
            "type": "workflow", "version": 2, "vars": {"issue": "gt-1"}, "steps": []
        }))
        .expect("a protomolecule");
        let patch = PouredFrom::field(&proto);
        assert_eq!(
            Value::Object(patch.fields().clone()).to_string(),
            r#"{"formula":{"name":"mol-x","version":2,"source":"formulas/mol-x.toml","vars":{"issue":"gt-1"},"steps":0}}"#
        );
        let mut mol = Bead::new("gt-m", "m");
        mol.extra = patch.into_extra();
        let read = PouredFrom::of(&mol).expect("reads").expect("present");
        assert_eq!((read.name.as_str(), read.steps), ("mol-x", Some(0)));
        mol.extra.insert(FORMULA_FIELD.to_string(), json!("mol-x"));
        let err = PouredFrom::of(&mol).expect_err("text, not a record");
        assert!(err.to_string().contains("field `formula` of gt-m"), "{err}");
    }

    #[test]
    fn step_fields_and_the_molecule_of_a_work_bead() {
        let mut step = Bead::new("gt-m.1", "s");
        assert_eq!(StepFields::of(&step), Ok(None), "not a step");
        step.extra.insert(STEP_FIELD.to_string(), json!("design"));
        step.extra.insert("parallel".to_string(), json!("yes"));
        assert_eq!(step_id(&step), Some("design"));
        let err = StepFields::of(&step).expect_err("a flag that is text");
        assert!(
            err.to_string().contains("field `parallel` of gt-m.1"),
            "{err}"
        );
        let mut work = Bead::new("gt-w", "w");
        assert_eq!(attached_molecule(&work), Ok(None));
        work.extra = attach_field("gt-m").into_extra();
        assert_eq!(attached_molecule(&work), Ok(Some("gt-m")));
    }
}
