//! Everything that can be wrong with a formula, each naming the file and, where there is one,
//! the step, and saying what to do about it.

use crate::model::FormulaKind;

/// An error from parsing, loading, resolving or cooking a formula.
///
/// `file` is the formula's source name (a path, or `builtin:<file>` for the formulas built
/// into the binary): the file where the offending text lives, which for an inherited step is
/// the parent's file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormulaError {
    /// The text is not valid TOML, or a field has the wrong name or type.
    #[error("{file}:{line}:{column}: {message}")]
    Toml {
        file: String,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column (in characters) of the offending text.
        column: usize,
        /// The parser's explanation, one line.
        message: String,
    },
    /// The file parsed but its shape is wrong for its type (no steps, a leg without id, ...).
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    /// Two steps have the same id after composition.
    #[error("{file}: step `{step}` is defined twice; give each step its own id")]
    DuplicateStep { file: String, step: String },
    /// A step needs a step that does not exist.
    #[error(
        "{file}: step `{step}` needs `{need}`, which is not a step of this formula; fix the name or add the step"
    )]
    UnknownNeed {
        file: String,
        step: String,
        need: String,
    },
    /// The `needs` edges form a cycle; `cycle` starts and ends with the same step.
    #[error("{file}: steps form a cycle {} (each needs the next); remove one of these needs", cycle.join(" -> "))]
    Cycle { file: String, cycle: Vec<String> },
    /// A required variable has no value and no default.
    #[error(
        "{file}: required variable `{var}` has no value{}{}; pass --var {var}=<value>",
        parenthesized(description),
        used_by(step.as_deref())
    )]
    MissingVariable {
        file: String,
        var: String,
        /// The variable's description and hints (may be empty).
        description: String,
        /// The first step that uses the variable, if any does.
        step: Option<String>,
    },
    /// A step's text uses `{{var}}` for a variable that is neither declared nor given.
    #[error(
        "{file}: step `{step}` uses `{{{{{var}}}}}` in its {field}, but no variable `{var}` is declared; declare it under [vars] (default = \"\" for values filled in at run time) or fix the name"
    )]
    UnknownVariable {
        file: String,
        step: String,
        /// Which text of the step: title, description, acceptance or assignee.
        field: &'static str,
        var: String,
    },
    /// A variable was given a value outside its `enum`.
    #[error("{file}: variable `{var}` is `{value}`, but it must be one of: {}", allowed.join(", "))]
    VariableNotAllowed {
        file: String,
        var: String,
        value: String,
        allowed: Vec<String>,
    },
    /// `extends` names a formula that is not on the search path.
    #[error(
        "{file}: extends `{parent}`, but no formula of that name is on the search path; fix the name or add {parent}.formula.toml to .beads/formulas/"
    )]
    ExtendsNotFound { file: String, parent: String },
    /// `extends` leads back to a formula already being resolved.
    #[error("{file}: extends loops {}; break the loop", chain.join(" -> "))]
    ExtendsLoop { file: String, chain: Vec<String> },
    /// `extends` nests deeper than [`crate::MAX_EXTENDS_DEPTH`] levels.
    #[error(
        "{file}: extends nests {} levels deep ({}), more than the {max} allowed; flatten the \
         chain (a formula can extend several parents at once)",
        chain.len(),
        chain.join(" -> ")
    )]
    ExtendsTooDeep {
        file: String,
        max: usize,
        chain: Vec<String>,
    },
    /// A `[compose]` rule names a formula that is not on the search path.
    #[error(
        "{file}: {rule} names formula `{name}`, which is not on the search path; fix the name or add {name}.formula.toml to .beads/formulas/"
    )]
    ComposeNotFound {
        file: String,
        /// The rule, e.g. `[compose] aspects` or `[[compose.expand]] target = "implement"`.
        rule: String,
        name: String,
    },
    /// A `[compose]` rule names a formula of the wrong type.
    #[error("{file}: {rule} names `{name}`, which has type {found}; it must have type {expected}")]
    WrongKind {
        file: String,
        rule: String,
        name: String,
        expected: FormulaKind,
        found: FormulaKind,
    },
    /// A composition rule or step override targets a step that does not exist.
    #[error("{file}: {rule} targets step `{step}`, which does not exist; fix the step id")]
    TargetNotFound {
        file: String,
        rule: String,
        step: String,
    },
    /// No formula of this name is on the search path.
    #[error(
        "formula `{name}` is not on the search path ({searched}); check `formula list` or add {name}.formula.toml to .beads/formulas/"
    )]
    NotFound {
        name: String,
        /// The places looked in, for the message.
        searched: String,
    },
    /// A formula file could not be read.
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
}

impl FormulaError {
    /// The file the error is about, when there is one.
    pub fn file(&self) -> Option<&str> {
        match self {
            Self::Toml { file, .. }
            | Self::Invalid { file, .. }
            | Self::DuplicateStep { file, .. }
            | Self::UnknownNeed { file, .. }
            | Self::Cycle { file, .. }
            | Self::MissingVariable { file, .. }
            | Self::UnknownVariable { file, .. }
            | Self::VariableNotAllowed { file, .. }
            | Self::ExtendsNotFound { file, .. }
            | Self::ExtendsLoop { file, .. }
            | Self::ExtendsTooDeep { file, .. }
            | Self::ComposeNotFound { file, .. }
            | Self::WrongKind { file, .. }
            | Self::TargetNotFound { file, .. }
            | Self::Io { file, .. } => Some(file),
            Self::NotFound { .. } => None,
        }
    }

    /// The step the error is about, when there is one.
    pub fn step(&self) -> Option<&str> {
        match self {
            Self::DuplicateStep { step, .. }
            | Self::UnknownNeed { step, .. }
            | Self::UnknownVariable { step, .. }
            | Self::TargetNotFound { step, .. } => Some(step),
            Self::Cycle { cycle, .. } => cycle.first().map(String::as_str),
            Self::MissingVariable { step, .. } => step.as_deref(),
            _ => None,
        }
    }
}

/// ` (text)`, or nothing for empty text.
fn parenthesized(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(" ({text})")
    }
}

/// `, used by step `x``, or nothing.
fn used_by(step: Option<&str>) -> String {
    step.map(|s| format!(", used by step `{s}`"))
        .unwrap_or_default()
}
