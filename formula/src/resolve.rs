//! From a formula to a flat list of draft steps: `extends` resolved (parents first, a child's
//! step replacing the parent's step of the same id), the type's own tables lowered to steps
//! (workflow steps with their children, convoy legs and synthesis, previews of an expansion or
//! aspect cooked on its own), then the formula's `[compose]` rules and step overrides.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::compose;
use crate::error::FormulaError;
use crate::library::Library;
use crate::model::{Formula, FormulaKind, Gate, Step, VarDef};

/// A step while cooking: text not yet substituted, `source` naming its file.
#[derive(Debug, Clone)]
pub(crate) struct DraftStep {
    pub id: String,
    pub title: String,
    pub description: String,
    pub acceptance: Option<String>,
    pub needs: Vec<String>,
    pub parallel: bool,
    pub step_type: Option<String>,
    pub parent: Option<String>,
    pub gate: Option<Gate>,
    pub priority: Option<u8>,
    pub labels: Vec<String>,
    pub assignee: Option<String>,
    /// The file that defined the step; errors about it name this file.
    pub source: Arc<str>,
}

/// A variable declaration and the file that made it.
#[derive(Debug, Clone)]
pub(crate) struct DraftVar {
    pub def: VarDef,
    pub source: Arc<str>,
}

/// Everything cooking knows after resolution: variables and steps in definition order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Draft {
    pub vars: BTreeMap<String, DraftVar>,
    pub steps: Vec<DraftStep>,
}

impl Draft {
    /// Adds `other` on top: its variables override, its steps replace same-id steps in place
    /// and are otherwise appended.
    fn merge(&mut self, other: Draft) {
        self.vars.extend(other.vars);
        if self.steps.is_empty() {
            self.steps = other.steps;
            return;
        }
        let mut position: HashMap<String, usize> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        for step in other.steps {
            match position.get(&step.id) {
                Some(&i) => self.steps[i] = step,
                None => {
                    position.insert(step.id.clone(), self.steps.len());
                    self.steps.push(step);
                }
            }
        }
    }
}

/// How deep `extends` may nest: a formula, its parent, the parent's parent, … Real formulas
/// use two or three levels; a chain this long is a mistake (or an attack on the ledger actor,
/// which cooks formulas), refused with [`FormulaError::ExtendsTooDeep`].
pub const MAX_EXTENDS_DEPTH: usize = 64;

/// Resolves `formula` against `library`: extends, lowering, composition, own overrides.
///
/// Each formula reached through `extends` is resolved once and its draft reused (a diamond —
/// two parents extending one grandparent — would otherwise resolve the grandparent once per
/// path, 2^depth times in a deep diamond).
pub(crate) fn resolve(library: &Library, formula: &Formula) -> Result<Draft, FormulaError> {
    let mut chain = Vec::new();
    let mut memo = HashMap::new();
    resolve_in(library, formula, &mut chain, &mut memo)
}

fn resolve_in(
    library: &Library,
    formula: &Formula,
    chain: &mut Vec<String>,
    memo: &mut HashMap<String, Draft>,
) -> Result<Draft, FormulaError> {
    chain.push(formula.formula.clone());
    if chain.len() > MAX_EXTENDS_DEPTH {
        return Err(FormulaError::ExtendsTooDeep {
            file: formula.source.clone(),
            max: MAX_EXTENDS_DEPTH,
            chain: chain.clone(),
        });
    }
    let mut draft = Draft::default();
    for parent_name in &formula.extends {
        if chain.contains(parent_name) {
            let mut looped = chain.clone();
            looped.push(parent_name.clone());
            return Err(FormulaError::ExtendsLoop {
                file: formula.source.clone(),
                chain: looped,
            });
        }
        if let Some(done) = memo.get(parent_name) {
            draft.merge(done.clone());
            continue;
        }
        let parent = library.get(parent_name).map_err(|e| match e {
            FormulaError::NotFound { .. } => FormulaError::ExtendsNotFound {
                file: formula.source.clone(),
                parent: parent_name.clone(),
            },
            other => other,
        })?;
        let parent = Arc::clone(parent);
        let resolved = resolve_in(library, &parent, chain, memo)?;
        memo.insert(parent_name.clone(), resolved.clone());
        draft.merge(resolved);
    }
    draft.merge(lower(formula)?);
    compose::apply_compose(library, formula, &mut draft)?;
    compose::apply_overrides(&mut draft, &formula.source, &formula.step_overrides, true)?;
    chain.pop();
    Ok(draft)
}

/// The formula's own variables and steps, by type.
fn lower(formula: &Formula) -> Result<Draft, FormulaError> {
    let source: Arc<str> = Arc::from(formula.source.as_str());
    let mut draft = Draft::default();
    for (name, def) in formula.inputs.iter().chain(&formula.vars) {
        let var = DraftVar {
            def: def.clone(),
            source: Arc::clone(&source),
        };
        draft.vars.insert(name.clone(), var);
    }
    match formula.kind() {
        FormulaKind::Workflow => {
            for step in &formula.steps {
                flatten(step, None, &[], false, &source, &mut draft.steps);
            }
        }
        FormulaKind::Convoy => lower_convoy(formula, &source, &mut draft.steps),
        FormulaKind::Expansion => {
            let target = preview_step(&formula.formula, &formula.description, &source);
            draft.steps.push(target);
            compose::expand_step(&mut draft, 0, formula, &BTreeMap::new());
        }
        FormulaKind::Aspect => {
            for target in advice_targets(formula) {
                let mut step = preview_step(&target, "", &source);
                if let Some(previous) = draft.steps.last() {
                    step.needs.push(previous.id.clone());
                }
                draft.steps.push(step);
            }
            compose::apply_aspect(&mut draft, formula);
        }
    }
    Ok(draft)
}

/// Pushes `step` and its children. Children run one after the other, the first starting when
/// the step could (its needs), and the step is done after the last; with `type = "parallel"`
/// on the step they all start together and the step waits for all of them.
fn flatten(
    step: &Step,
    parent: Option<&str>,
    inherited: &[String],
    parallel: bool,
    source: &Arc<str>,
    out: &mut Vec<DraftStep>,
) {
    let mut needs = step.needs.clone();
    for need in inherited {
        if !needs.contains(need) {
            needs.push(need.clone());
        }
    }
    let index = out.len();
    out.push(DraftStep {
        id: step.id.clone(),
        title: step.title.clone().unwrap_or_else(|| step.id.clone()),
        description: step.description.clone(),
        acceptance: step.acceptance.clone(),
        needs: needs.clone(),
        parallel: step.parallel || parallel,
        step_type: step.step_type.clone(),
        parent: parent.map(str::to_string),
        gate: step.gate.clone(),
        priority: step.priority,
        labels: step.labels.clone(),
        assignee: step.assignee.clone(),
        source: Arc::clone(source),
    });
    let concurrent = step.step_type.as_deref() == Some("parallel");
    let mut previous: Option<&str> = None;
    for child in &step.children {
        let child_inherited = match previous {
            Some(prev) if !concurrent => vec![prev.to_string()],
            _ => needs.clone(),
        };
        flatten(
            child,
            Some(&step.id),
            &child_inherited,
            concurrent,
            source,
            out,
        );
        previous = Some(&child.id);
    }
    let waits: Vec<String> = if concurrent {
        step.children.iter().map(|c| c.id.clone()).collect()
    } else {
        previous.map(str::to_string).into_iter().collect()
    };
    out[index].needs.extend(waits);
}

/// Legs become parallel steps; the synthesis waits for its legs (all legs when none listed).
fn lower_convoy(formula: &Formula, source: &Arc<str>, out: &mut Vec<DraftStep>) {
    for leg in &formula.legs {
        let mut step = preview_step(&leg.id, &leg.description, source);
        if let Some(title) = &leg.title {
            step.title = title.clone();
        }
        if let Some(focus) = &leg.focus {
            step.description = format!("Focus: {focus}\n\n{}", leg.description);
        }
        step.parallel = true;
        step.step_type = Some("leg".into());
        out.push(step);
    }
    if let Some(synthesis) = &formula.synthesis {
        let id = synthesis.id.clone().unwrap_or_else(|| "synthesis".into());
        let mut step = preview_step(&id, &synthesis.description, source);
        if let Some(title) = &synthesis.title {
            step.title = title.clone();
        }
        step.needs = if synthesis.depends_on.is_empty() {
            formula.legs.iter().map(|l| l.id.clone()).collect()
        } else {
            synthesis.depends_on.clone()
        };
        step.step_type = Some("synthesis".into());
        out.push(step);
    }
}

/// The distinct advice targets of an aspect, in order: the steps a standalone preview shows.
fn advice_targets(formula: &Formula) -> Vec<String> {
    let mut targets: Vec<String> = Vec::new();
    for advice in &formula.advice {
        if !targets.contains(&advice.target) {
            targets.push(advice.target.clone());
        }
    }
    targets
}

/// A plain step with an id, used for previews, legs and synthesis.
pub(crate) fn preview_step(id: &str, description: &str, source: &Arc<str>) -> DraftStep {
    DraftStep {
        id: id.to_string(),
        title: id.to_string(),
        description: description.to_string(),
        acceptance: None,
        needs: Vec::new(),
        parallel: false,
        step_type: None,
        parent: None,
        gate: None,
        priority: None,
        labels: Vec::new(),
        assignee: None,
        source: Arc::clone(source),
    }
}
