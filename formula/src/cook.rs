//! Cooking: formula → protomolecule. Resolve (extends, composition, overrides), apply an
//! overlay, validate the step graph, give every variable its value, substitute `{{var}}` in
//! each step, and emit the steps in topological order.

use std::collections::BTreeMap;

use crate::compose;
use crate::error::FormulaError;
use crate::graph;
use crate::library::Library;
use crate::model::{Formula, Overlay};
use crate::proto::{ProtoStep, Protomolecule};
use crate::resolve::{self, Draft, DraftStep, DraftVar};
use crate::template;

/// Variable values given on the command line (`--var k=v`), by name.
pub type Vars = BTreeMap<String, String>;

/// Everything a cook takes besides the formula.
#[derive(Debug, Clone, Copy, Default)]
pub struct CookOptions<'a> {
    /// Values for the formula's variables.
    pub vars: Option<&'a Vars>,
    /// A rig or town overlay, applied after the formula's own overrides.
    pub overlay: Option<&'a Overlay>,
}

/// Cooks the formula named `name` from `library` with `vars`.
///
/// ```
/// use gastown_formula::{cook, Library, Vars};
/// let library = Library::builtin();
/// let vars = Vars::from([("feature".to_string(), "auth".to_string())]);
/// let proto = cook(&library, "shiny", &vars).expect("shiny cooks");
/// assert_eq!(proto.steps[0].title, "Design auth");
/// ```
pub fn cook(library: &Library, name: &str, vars: &Vars) -> Result<Protomolecule, FormulaError> {
    let formula = library.get(name)?;
    let options = CookOptions {
        vars: Some(vars),
        overlay: None,
    };
    cook_formula(library, formula, &options)
}

/// Cooks `formula` (which need not be in `library`, e.g. a file named on the command line);
/// `library` supplies what it extends and composes.
pub fn cook_formula(
    library: &Library,
    formula: &Formula,
    options: &CookOptions<'_>,
) -> Result<Protomolecule, FormulaError> {
    let empty = Vars::new();
    let given = options.vars.unwrap_or(&empty);
    let mut draft = resolve::resolve(library, formula)?;
    let mut warnings = Vec::new();
    if let Some(overlay) = options.overlay {
        warnings =
            compose::apply_overrides(&mut draft, &overlay.source, &overlay.step_overrides, false)?;
    }
    let order = graph::order(&draft.steps)?;
    let values = resolve_vars(&draft, given)?;
    for name in given.keys().filter(|name| !draft.vars.contains_key(*name)) {
        warnings.push(format!(
            "{}: --var {name} is not a variable of this formula and was ignored",
            formula.source
        ));
    }
    let lookup = |name: &str| values.get(name).map(String::as_str);
    let mut steps = Vec::with_capacity(order.len());
    let mut slots: Vec<Option<DraftStep>> = draft.steps.into_iter().map(Some).collect();
    for &i in &order {
        let step = slots[i]
            .take()
            .expect("topological order lists each step once");
        steps.push(substitute_step(step, &lookup)?);
    }
    Ok(Protomolecule {
        formula: formula.formula.clone(),
        source: formula.source.clone(),
        description: template::substitute_lenient(&formula.description, lookup),
        kind: formula.kind(),
        version: formula.version,
        vars: values.clone(),
        pour: formula.pour,
        phase: formula.phase.clone(),
        review_only: formula.review_only,
        squash: formula.squash.clone(),
        steps,
        warnings,
    })
}

/// The value of every declared variable: given, else its default, else empty when optional.
/// Errors on a required variable without a value, and on a value outside a variable's `enum`.
/// Values given for undeclared names are left out (the caller warns about them).
fn resolve_vars(draft: &Draft, given: &Vars) -> Result<Vars, FormulaError> {
    let mut values = Vars::new();
    for (name, DraftVar { def, source }) in &draft.vars {
        if let Some(value) = given.get(name) {
            values.insert(name.clone(), value.clone());
            if !def.allowed.is_empty() && !def.allowed.contains(value) {
                return Err(FormulaError::VariableNotAllowed {
                    file: source.to_string(),
                    var: name.clone(),
                    value: value.clone(),
                    allowed: def.allowed.clone(),
                });
            }
            continue;
        }
        if let Some(default) = &def.default {
            values.insert(name.clone(), default.clone());
            continue;
        }
        let excused = def
            .required_unless
            .iter()
            .any(|other| given.contains_key(other));
        let required = def.required || !def.required_unless.is_empty();
        if !required || excused {
            // Optional and not given: the author meant "may be empty" (e.g. an optional focus).
            values.insert(name.clone(), String::new());
            continue;
        }
        let mut description = def.description.clone();
        if !def.required_unless.is_empty() {
            let others = def.required_unless.join(", ");
            description = if description.is_empty() {
                format!("or give one of: {others}")
            } else {
                format!("{description}; or give one of: {others}")
            };
        }
        return Err(FormulaError::MissingVariable {
            file: source.to_string(),
            var: name.clone(),
            description,
            step: first_user(draft, name),
        });
    }
    Ok(values)
}

/// Substitutes variables in the step's texts; a name that is neither declared nor given is
/// an error naming the step and the file that defined it.
fn substitute_step<'v>(
    step: DraftStep,
    lookup: &impl Fn(&str) -> Option<&'v str>,
) -> Result<ProtoStep, FormulaError> {
    let DraftStep {
        id,
        title,
        description,
        acceptance,
        needs,
        parallel,
        step_type,
        parent,
        gate,
        priority,
        labels,
        assignee,
        source,
    } = step;
    let text = |field: &'static str, value: String| {
        template::substitute_owned(value, lookup).map_err(|var| FormulaError::UnknownVariable {
            file: source.to_string(),
            step: id.clone(),
            field,
            var,
        })
    };
    let title = text("title", title)?;
    let description = text("description", description)?;
    let acceptance = acceptance.map(|a| text("acceptance", a)).transpose()?;
    let assignee = assignee.map(|a| text("assignee", a)).transpose()?;
    Ok(ProtoStep {
        needs: unique(needs),
        source: source.to_string(),
        id,
        title,
        description,
        acceptance,
        parallel,
        step_type,
        parent,
        gate,
        priority,
        labels,
        assignee,
    })
}

/// The variables a formula declares after `extends` is resolved (its own and inherited, plus
/// those of composed aspects and expansions' targets), for `formula show` and for filling
/// placeholders.
pub fn declared_vars(
    library: &Library,
    formula: &Formula,
) -> Result<BTreeMap<String, crate::model::VarDef>, FormulaError> {
    let draft = resolve::resolve(library, formula)?;
    Ok(draft
        .vars
        .into_iter()
        .map(|(name, var)| (name, var.def))
        .collect())
}

/// The first step (in definition order) whose text uses variable `name`.
fn first_user(draft: &Draft, name: &str) -> Option<String> {
    let uses = |text: &str| {
        template::pieces(text)
            .iter()
            .any(|p| matches!(p, template::Piece::Var(v) if *v == name))
    };
    draft
        .steps
        .iter()
        .find(|s| {
            uses(&s.title)
                || uses(&s.description)
                || s.acceptance.as_deref().is_some_and(uses)
                || s.assignee.as_deref().is_some_and(uses)
        })
        .map(|s| s.id.clone())
}

/// `needs` without repeats, in order.
fn unique(mut needs: Vec<String>) -> Vec<String> {
    let mut seen = 0;
    while seen < needs.len() {
        if needs[..seen].contains(&needs[seen]) {
            needs.remove(seen);
        } else {
            seen += 1;
        }
    }
    needs
}
