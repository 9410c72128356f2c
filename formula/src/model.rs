//! The formula file schema: what a `*.formula.toml` may contain, as serde records.
//!
//! One struct for all four formula types (workflow, expansion, aspect, convoy): the
//! type-specific tables are empty for the other types. Field names follow the files written
//! by the original Gas Town (`needs`, `[[legs]]`, `[compose] aspects`, `[[step-overrides]]`),
//! so those files parse unchanged. Unknown fields are rejected (with line and column), so a
//! typo such as `need = [...]` is an error instead of a silently ignored line.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod compose;
mod convoy;

pub use compose::{
    Advice, AdviceStep, Around, Compose, ExpandRule, MapRule, Overlay, OverrideMode, Pointcut,
    StepOverride,
};
pub use convoy::{Leg, Output, Preset, Synthesis};

/// What a formula is for; decides which tables cooking reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormulaKind {
    /// Steps with `needs` forming a DAG: the usual molecule.
    Workflow,
    /// A `[[template]]` of steps that replaces one step of another formula (`[compose] expand`).
    Expansion,
    /// `[[advice]]` steps inserted before/after matching steps of another formula.
    Aspect,
    /// Parallel `[[legs]]` joined by a `[synthesis]` step.
    Convoy,
}

impl FormulaKind {
    /// The word used in files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workflow => "workflow",
            Self::Expansion => "expansion",
            Self::Aspect => "aspect",
            Self::Convoy => "convoy",
        }
    }
}

impl std::fmt::Display for FormulaKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed formula file, before extends and composition are resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Formula {
    /// Where the text came from (a path or `builtin:<file>`); set by [`Formula::parse`],
    /// named by every error about this formula.
    #[serde(skip)]
    pub source: String,
    /// The formula's name: how `extends`, `compose` and the CLI refer to it.
    pub formula: String,
    /// What the formula does; becomes the molecule bead's description.
    #[serde(default)]
    pub description: String,
    /// The formula type; inferred from the content when absent (see [`Formula::kind`]).
    #[serde(default, rename = "type")]
    pub declared_kind: Option<FormulaKind>,
    /// Schema/content version chosen by the author.
    #[serde(default)]
    pub version: Option<i64>,
    /// Parent formulas whose vars and steps this one inherits, in order.
    #[serde(default)]
    pub extends: Vec<String>,
    /// Template variables, each a table or a bare string (its default).
    #[serde(default)]
    pub vars: BTreeMap<String, VarDef>,
    /// Convoy inputs: variables under another name, with `required_unless`.
    #[serde(default)]
    pub inputs: BTreeMap<String, VarDef>,
    /// Workflow steps.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Expansion template steps, with `{target}` placeholders.
    #[serde(default)]
    pub template: Vec<Step>,
    /// Convoy legs: parallel steps.
    #[serde(default)]
    pub legs: Vec<Leg>,
    /// Convoy synthesis: the step that joins the legs.
    #[serde(default)]
    pub synthesis: Option<Synthesis>,
    /// Composition: expansions and aspects applied to the resolved steps.
    #[serde(default)]
    pub compose: Compose,
    /// Aspect advice: steps inserted around matching steps.
    #[serde(default)]
    pub advice: Vec<Advice>,
    /// Aspect pointcuts: which steps the advice may touch (all when empty).
    #[serde(default)]
    pub pointcuts: Vec<Pointcut>,
    /// Step overlays applied last: replace, append to, or skip a step.
    #[serde(default, rename = "step-overrides", alias = "step_overrides")]
    pub step_overrides: Vec<StepOverride>,
    /// Pour the steps as persistent beads (true) rather than inline; kept for the runner.
    #[serde(default)]
    pub pour: Option<bool>,
    /// Recommended phase, `liquid` (pour) or `vapor` (wisp); kept for the runner.
    #[serde(default)]
    pub phase: Option<String>,
    /// Analysis only: no code commits expected from the work.
    #[serde(default)]
    pub review_only: Option<bool>,
    /// Default agent for the work (convoy legs may override).
    #[serde(default)]
    pub agent: Option<String>,
    /// How a finished molecule is squashed into a digest; kept for the runner.
    #[serde(default)]
    pub squash: Option<Squash>,
    /// Convoy prompt templates (Go text/template syntax, not substituted here).
    #[serde(default)]
    pub prompts: BTreeMap<String, String>,
    /// Convoy output locations.
    #[serde(default)]
    pub output: Option<Output>,
    /// Convoy presets: named subsets of legs.
    #[serde(default)]
    pub presets: BTreeMap<String, Preset>,
}

/// A template variable: `[vars.name]` table, or `name = "default"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VarDef {
    /// What the variable means; shown by `formula show` and in errors.
    pub description: String,
    /// Cooking fails when the variable has no value.
    pub required: bool,
    /// The value used when none is given.
    pub default: Option<String>,
    /// Required unless one of these other variables is given (convoy inputs).
    pub required_unless: Vec<String>,
    /// Allowed values, when not empty.
    #[serde(rename = "enum")]
    pub allowed: Vec<String>,
    /// Declared value type (`string`, `number`, ...); informational.
    #[serde(rename = "type")]
    pub value_type: Option<String>,
}

/// The table spelling of a variable.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VarTable {
    #[serde(default)]
    description: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    required_unless: Vec<String>,
    #[serde(default, rename = "enum")]
    allowed: Vec<String>,
    #[serde(default, rename = "type")]
    value_type: Option<String>,
}

/// Accepts `name = "default"` or a `[vars.name]` table, keeping the table's own error
/// messages (unknown field, wrong type) instead of a generic "did not match".
impl<'de> Deserialize<'de> for VarDef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Spelling;

        impl<'de> serde::de::Visitor<'de> for Spelling {
            type Value = VarDef;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a string (the default value) or a table with description, required, default",
                )
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<VarDef, E> {
                Ok(VarDef {
                    default: Some(value.to_string()),
                    ..VarDef::default()
                })
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<VarDef, A::Error> {
                let t = VarTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(VarDef {
                    description: t.description,
                    required: t.required,
                    default: t.default,
                    required_unless: t.required_unless,
                    allowed: t.allowed,
                    value_type: t.value_type,
                })
            }
        }

        deserializer.deserialize_any(Spelling)
    }
}

/// A workflow step (also the shape of an expansion template step).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Unique within the cooked molecule; what `needs` refers to.
    pub id: String,
    /// One line for the step bead's title; the id when absent.
    #[serde(default)]
    pub title: Option<String>,
    /// What to do; `{{var}}` substituted.
    #[serde(default)]
    pub description: String,
    /// When the step counts as done.
    #[serde(default)]
    pub acceptance: Option<String>,
    /// Steps that must be done first.
    #[serde(default, alias = "depends_on")]
    pub needs: Vec<String>,
    /// May run alongside its siblings that share the same needs.
    #[serde(default)]
    pub parallel: bool,
    /// Step type (`task`, `parallel` for a container whose children run concurrently, ...).
    #[serde(default, rename = "type")]
    pub step_type: Option<String>,
    /// Nested steps: the parent step is done when its children are.
    #[serde(default)]
    pub children: Vec<Step>,
    /// An asynchronous wait before the step may start; kept for the runner.
    #[serde(default)]
    pub gate: Option<Gate>,
    /// Bead priority (0 highest) for the step bead.
    #[serde(default)]
    pub priority: Option<u8>,
    /// Labels for the step bead.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Default assignee for the step bead; `{{var}}` substituted.
    #[serde(default)]
    pub assignee: Option<String>,
}

/// A wait condition attached to a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// Condition kind: `conditional`, `human`, `timer`, `gh:run`, ...
    #[serde(rename = "type")]
    pub gate_type: String,
    /// Identifier of the awaited thing (workflow name, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Condition expression for `conditional` gates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// How long to wait before escalating (`1h`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// `[squash]`: how the runner condenses a finished molecule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Squash {
    /// When to squash (`on_complete`, ...).
    #[serde(default)]
    pub trigger: Option<String>,
    /// Digest template kind.
    #[serde(default)]
    pub template_type: Option<String>,
    /// Whether the digest carries metrics.
    #[serde(default)]
    pub include_metrics: Option<bool>,
}
