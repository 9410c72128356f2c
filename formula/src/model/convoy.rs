//! Convoy tables: parallel `[[legs]]`, the `[synthesis]` that joins them, and the `[output]`
//! and `[presets]` kept for the runner.

use serde::{Deserialize, Serialize};

/// A convoy leg: one parallel piece of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leg {
    /// Step id of the leg.
    pub id: String,
    /// Title of the leg's step.
    #[serde(default)]
    pub title: Option<String>,
    /// One sentence: what this leg looks at.
    #[serde(default)]
    pub focus: Option<String>,
    /// What to do.
    #[serde(default)]
    pub description: String,
    /// Agent override for this leg.
    #[serde(default)]
    pub agent: Option<String>,
    /// Analysis-only override for this leg.
    #[serde(default)]
    pub review_only: Option<bool>,
}

/// The convoy step that combines the legs' results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Synthesis {
    /// Step id; `synthesis` when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Title of the synthesis step.
    #[serde(default)]
    pub title: Option<String>,
    /// What to do.
    #[serde(default)]
    pub description: String,
    /// Legs it waits for; all legs when empty.
    #[serde(default, alias = "needs")]
    pub depends_on: Vec<String>,
}

/// `[output]` of a convoy: where leg and synthesis results go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Directory for all results.
    #[serde(default)]
    pub directory: Option<String>,
    /// File name pattern for each leg's result.
    #[serde(default)]
    pub leg_pattern: Option<String>,
    /// File name of the synthesis.
    #[serde(default)]
    pub synthesis: Option<String>,
}

/// `[presets.name]` of a convoy: a named subset of legs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// What the preset is for.
    #[serde(default)]
    pub description: String,
    /// Leg ids in the preset.
    #[serde(default)]
    pub legs: Vec<String>,
}
