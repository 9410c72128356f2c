//! Text to [`Formula`]: TOML decoding with file, line and column in errors, type inference,
//! and the checks that need only the one file (ids present, no duplicate ids, the tables the
//! type needs are there). Checks that need the whole search path happen when cooking.

use std::collections::HashSet;

use crate::error::FormulaError;
use crate::model::{Formula, FormulaKind, Overlay, Step};

impl Formula {
    /// Parses one formula file. `source_name` is what errors call the file (its path, or
    /// `builtin:<file>`).
    ///
    /// ```
    /// let f = gastown_formula::Formula::parse("x.formula.toml", "formula = \"x\"\n[[steps]]\nid = \"a\"\n")
    ///     .expect("valid formula");
    /// assert_eq!(f.steps[0].id, "a");
    /// ```
    pub fn parse(source_name: &str, text: &str) -> Result<Formula, FormulaError> {
        let mut formula: Formula =
            toml::from_str(text).map_err(|e| toml_error(source_name, text, &e))?;
        formula.source = source_name.to_string();
        formula.check_shape()?;
        Ok(formula)
    }

    /// The formula's type: the declared `type`, or inferred from the content (`[[legs]]` →
    /// convoy, `[[template]]` → expansion, `[[advice]]` → aspect, otherwise workflow).
    pub fn kind(&self) -> FormulaKind {
        if let Some(kind) = self.declared_kind {
            return kind;
        }
        if !self.legs.is_empty() {
            FormulaKind::Convoy
        } else if !self.template.is_empty() {
            FormulaKind::Expansion
        } else if !self.advice.is_empty() {
            FormulaKind::Aspect
        } else {
            FormulaKind::Workflow
        }
    }

    /// Checks what can be checked from this file alone.
    fn check_shape(&self) -> Result<(), FormulaError> {
        let invalid = |message: String| FormulaError::Invalid {
            file: self.source.clone(),
            message,
        };
        if self.formula.trim().is_empty() {
            return Err(invalid(
                "`formula` (the name) is empty; set formula = \"<name>\"".into(),
            ));
        }
        match self.kind() {
            FormulaKind::Workflow => {
                let composed = !self.extends.is_empty();
                if self.steps.is_empty() && !composed {
                    return Err(invalid(
                        "a workflow needs [[steps]] or `extends`; add at least one step".into(),
                    ));
                }
                check_ids(&self.source, "steps", &self.steps)?;
            }
            FormulaKind::Expansion => {
                if self.template.is_empty() {
                    return Err(invalid(
                        "an expansion needs [[template]] steps; add at least one".into(),
                    ));
                }
                check_ids(&self.source, "template", &self.template)?;
            }
            FormulaKind::Aspect => {
                if self.advice.is_empty() {
                    return Err(invalid(
                        "an aspect needs [[advice]]; add at least one".into(),
                    ));
                }
            }
            FormulaKind::Convoy => self.check_convoy()?,
        }
        self.check_foreign_tables()
    }

    /// Tables another type uses would be silently ignored by this one: an error instead.
    fn check_foreign_tables(&self) -> Result<(), FormulaError> {
        let kind = self.kind();
        let present = [
            ("[[steps]]", !self.steps.is_empty(), FormulaKind::Workflow),
            (
                "[[template]]",
                !self.template.is_empty(),
                FormulaKind::Expansion,
            ),
            ("[[advice]]", !self.advice.is_empty(), FormulaKind::Aspect),
            (
                "[[pointcuts]]",
                !self.pointcuts.is_empty(),
                FormulaKind::Aspect,
            ),
            ("[[legs]]", !self.legs.is_empty(), FormulaKind::Convoy),
            ("[synthesis]", self.synthesis.is_some(), FormulaKind::Convoy),
        ];
        match present
            .iter()
            .find(|(_, there, owner)| *there && *owner != kind)
        {
            Some((table, _, owner)) => Err(FormulaError::Invalid {
                file: self.source.clone(),
                message: format!(
                    "{table} belongs to {owner} formulas but this one has type {kind}; remove it or change `type`"
                ),
            }),
            None => Ok(()),
        }
    }

    /// A convoy needs legs with distinct ids, and its synthesis may only wait for legs.
    fn check_convoy(&self) -> Result<(), FormulaError> {
        if self.legs.is_empty() {
            return Err(FormulaError::Invalid {
                file: self.source.clone(),
                message: "a convoy needs [[legs]]; add at least one".into(),
            });
        }
        let mut seen = HashSet::new();
        for (i, leg) in self.legs.iter().enumerate() {
            if leg.id.trim().is_empty() {
                return Err(FormulaError::Invalid {
                    file: self.source.clone(),
                    message: format!("leg #{} has an empty id; give it an id", i + 1),
                });
            }
            if !seen.insert(leg.id.as_str()) {
                return Err(FormulaError::DuplicateStep {
                    file: self.source.clone(),
                    step: leg.id.clone(),
                });
            }
        }
        if let Some(synthesis) = &self.synthesis {
            let id = synthesis.id.as_deref().unwrap_or("synthesis");
            if let Some(need) = synthesis
                .depends_on
                .iter()
                .find(|d| !seen.contains(d.as_str()))
            {
                return Err(FormulaError::UnknownNeed {
                    file: self.source.clone(),
                    step: id.to_string(),
                    need: need.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Ids present and distinct among `steps` and their children.
fn check_ids(file: &str, table: &str, steps: &[Step]) -> Result<(), FormulaError> {
    let mut seen = HashSet::new();
    let mut stack: Vec<&Step> = steps.iter().rev().collect();
    let mut position = 0;
    while let Some(step) = stack.pop() {
        position += 1;
        if step.id.trim().is_empty() {
            return Err(FormulaError::Invalid {
                file: file.to_string(),
                message: format!("{table} entry #{position} has an empty id; give it an id"),
            });
        }
        if !seen.insert(step.id.as_str()) {
            return Err(FormulaError::DuplicateStep {
                file: file.to_string(),
                step: step.id.clone(),
            });
        }
        stack.extend(step.children.iter().rev());
    }
    Ok(())
}

impl Overlay {
    /// Parses a standalone overlay file (only `[[step-overrides]]`).
    pub fn parse(source_name: &str, text: &str) -> Result<Overlay, FormulaError> {
        let mut overlay: Overlay =
            toml::from_str(text).map_err(|e| toml_error(source_name, text, &e))?;
        overlay.source = source_name.to_string();
        Ok(overlay)
    }
}

/// Converts a TOML error into one naming the file, line and column.
fn toml_error(file: &str, text: &str, error: &toml::de::Error) -> FormulaError {
    let (line, column) = match error.span() {
        Some(span) => line_column(text, span.start),
        None => (1, 1),
    };
    let message = error.message().trim().replace('\n', " ");
    FormulaError::Toml {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
pub(crate) fn line_column(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
