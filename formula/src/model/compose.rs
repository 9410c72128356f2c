//! Composition tables: `[compose]` (expand, map, aspects), aspect `[[advice]]` and
//! `[[pointcuts]]`, `[[step-overrides]]`, and standalone overlay files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[compose]`: how other formulas are folded into this one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compose {
    /// Aspect formulas applied to the resolved steps, in order.
    #[serde(default)]
    pub aspects: Vec<String>,
    /// Expansions applied to one target step each.
    #[serde(default)]
    pub expand: Vec<ExpandRule>,
    /// Expansions applied to every step whose id matches a glob.
    #[serde(default)]
    pub map: Vec<MapRule>,
}

/// `[[compose.expand]]`: replace step `target` by the template of expansion `with`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpandRule {
    /// Id of the step to replace.
    pub target: String,
    /// Name of the expansion formula.
    pub with: String,
    /// Values for `{name}` placeholders in the template.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

/// `[[compose.map]]`: expand every step whose id matches `select`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapRule {
    /// Glob over step ids (`*` any run of characters, `?` one character).
    pub select: String,
    /// Name of the expansion formula.
    pub with: String,
    /// Values for `{name}` placeholders in the template.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

/// `[[advice]]` of an aspect: steps inserted around steps matching `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advice {
    /// Glob over step ids.
    pub target: String,
    /// One step to run before the target.
    #[serde(default)]
    pub before: Option<AdviceStep>,
    /// One step to run after the target.
    #[serde(default)]
    pub after: Option<AdviceStep>,
    /// Several steps before and after the target.
    #[serde(default)]
    pub around: Option<Around>,
}

/// `[advice.around]`: before and after lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Around {
    /// Steps run before the target, in order.
    #[serde(default)]
    pub before: Vec<AdviceStep>,
    /// Steps run after the target, in order.
    #[serde(default)]
    pub after: Vec<AdviceStep>,
}

/// A step inserted by advice; `{step.id}` and `{step.title}` name the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdviceStep {
    /// Step id, usually derived from `{step.id}`.
    pub id: String,
    /// Title; the id when absent.
    #[serde(default)]
    pub title: Option<String>,
    /// What to do.
    #[serde(default)]
    pub description: String,
    /// When the step counts as done.
    #[serde(default)]
    pub acceptance: Option<String>,
    /// Step type for the bead.
    #[serde(default, rename = "type")]
    pub step_type: Option<String>,
}

/// `[[pointcuts]]` of an aspect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pointcut {
    /// Glob over step ids.
    pub glob: String,
}

/// How a step overlay changes its step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverrideMode {
    /// The given fields replace the step's.
    Replace,
    /// The given text is added after the step's, on a new line.
    Append,
    /// The step is removed; steps that needed it inherit its needs.
    Skip,
}

/// `[[step-overrides]]`: change one step of the resolved formula.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepOverride {
    /// The step to change.
    pub step_id: String,
    /// What to do with it.
    pub mode: OverrideMode,
    /// New (replace) or extra (append) description.
    #[serde(default)]
    pub description: Option<String>,
    /// New (replace) or extra (append) title.
    #[serde(default)]
    pub title: Option<String>,
    /// New (replace) or extra (append) acceptance text.
    #[serde(default)]
    pub acceptance: Option<String>,
}

/// A standalone overlay file (`formula-overlays/<name>.toml`): step overrides only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    /// Where the text came from; named by errors and warnings.
    #[serde(skip)]
    pub source: String,
    /// The overrides, applied in order after the formula's own.
    #[serde(default, rename = "step-overrides", alias = "step_overrides")]
    pub step_overrides: Vec<StepOverride>,
}
