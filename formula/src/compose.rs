//! Composition on draft steps: expansions (`[[compose.expand]]`, `[[compose.map]]`), aspects
//! (`[compose] aspects`) and step overrides (`[[step-overrides]]`, overlay files).
//!
//! Rewiring rules, so the DAG stays connected:
//! - an expansion replaces its target; template steps without `needs` take the target's
//!   needs, and steps that needed the target need the expansion's last steps (those no other
//!   template step needs);
//! - advice `before` steps run in a chain after the target's needs and the target after them;
//!   `after` steps run in a chain after the target, and steps that needed the target need the
//!   last `after` step;
//! - a skipped step's dependents inherit its needs.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::FormulaError;
use crate::library::Library;
use crate::model::{AdviceStep, Formula, FormulaKind, OverrideMode, StepOverride};
use crate::resolve::{Draft, DraftStep, DraftVar};
use crate::template::{glob_match, placeholders};

/// Applies `formula`'s `[compose]` rules to `draft`: expand, then map, then aspects.
pub(crate) fn apply_compose(
    library: &Library,
    formula: &Formula,
    draft: &mut Draft,
) -> Result<(), FormulaError> {
    for rule in &formula.compose.expand {
        let what = format!("[[compose.expand]] with = \"{}\"", rule.with);
        let expansion = lookup(library, formula, &what, &rule.with, FormulaKind::Expansion)?;
        let Some(index) = draft.steps.iter().position(|s| s.id == rule.target) else {
            return Err(FormulaError::TargetNotFound {
                file: formula.source.clone(),
                rule: what,
                step: rule.target.clone(),
            });
        };
        adopt_vars(draft, &expansion);
        expand_step(draft, index, &expansion, &rule.vars);
    }
    for rule in &formula.compose.map {
        let what = format!("[[compose.map]] with = \"{}\"", rule.with);
        let expansion = lookup(library, formula, &what, &rule.with, FormulaKind::Expansion)?;
        adopt_vars(draft, &expansion);
        let targets: Vec<String> = draft
            .steps
            .iter()
            .filter(|s| glob_match(&rule.select, &s.id))
            .map(|s| s.id.clone())
            .collect();
        for target in targets {
            if let Some(index) = draft.steps.iter().position(|s| s.id == target) {
                expand_step(draft, index, &expansion, &rule.vars);
            }
        }
    }
    for name in &formula.compose.aspects {
        let what = "[compose] aspects".to_string();
        let aspect = lookup(library, formula, &what, name, FormulaKind::Aspect)?;
        adopt_vars(draft, &aspect);
        apply_aspect(draft, &aspect);
    }
    Ok(())
}

/// Variables a composed formula declares for its own steps, unless the host declares them.
fn adopt_vars(draft: &mut Draft, composed: &Formula) {
    let source: Arc<str> = Arc::from(composed.source.as_str());
    for (name, def) in composed.inputs.iter().chain(&composed.vars) {
        draft.vars.entry(name.clone()).or_insert_with(|| DraftVar {
            def: def.clone(),
            source: Arc::clone(&source),
        });
    }
}

/// The formula a compose rule names, checked to be of the expected type.
fn lookup(
    library: &Library,
    formula: &Formula,
    rule: &str,
    name: &str,
    expected: FormulaKind,
) -> Result<Arc<Formula>, FormulaError> {
    let found = library.get(name).map_err(|e| match e {
        FormulaError::NotFound { .. } => FormulaError::ComposeNotFound {
            file: formula.source.clone(),
            rule: rule.to_string(),
            name: name.to_string(),
        },
        other => other,
    })?;
    if found.kind() != expected {
        return Err(FormulaError::WrongKind {
            file: formula.source.clone(),
            rule: rule.to_string(),
            name: name.to_string(),
            expected,
            found: found.kind(),
        });
    }
    Ok(Arc::clone(found))
}

/// Replaces the step at `index` by `expansion`'s template, rewiring needs (see module docs).
pub(crate) fn expand_step(
    draft: &mut Draft,
    index: usize,
    expansion: &Formula,
    vars: &BTreeMap<String, String>,
) {
    let target = draft.steps[index].clone();
    let mut values: Vec<(&str, &str)> = vec![
        ("target", &target.id),
        ("target.id", &target.id),
        ("target.title", &target.title),
        ("target.description", &target.description),
    ];
    values.extend(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let source: Arc<str> = Arc::from(expansion.source.as_str());
    let mut new_steps: Vec<DraftStep> = expansion
        .template
        .iter()
        .map(|t| {
            let id = placeholders(&t.id, &values);
            let needs: Vec<String> = if t.needs.is_empty() {
                target.needs.clone()
            } else {
                t.needs.iter().map(|n| placeholders(n, &values)).collect()
            };
            DraftStep {
                title: placeholders(t.title.as_deref().unwrap_or(&t.id), &values),
                description: placeholders(&t.description, &values),
                acceptance: t.acceptance.as_deref().map(|a| placeholders(a, &values)),
                needs,
                parallel: t.parallel || target.parallel,
                step_type: t.step_type.clone(),
                parent: target.parent.clone(),
                gate: t.gate.clone(),
                priority: t.priority.or(target.priority),
                labels: t.labels.clone(),
                assignee: t.assignee.clone().or_else(|| target.assignee.clone()),
                source: Arc::clone(&source),
                id,
            }
        })
        .collect();
    let sinks: Vec<String> = new_steps
        .iter()
        .filter(|s| !new_steps.iter().any(|o| o.needs.contains(&s.id)))
        .map(|s| s.id.clone())
        .collect();
    for step in &mut draft.steps {
        replace_need(&mut step.needs, &target.id, &sinks);
        if step.parent.as_deref() == Some(target.id.as_str()) {
            step.parent = target.parent.clone();
        }
    }
    // A template step may name the target itself (e.g. `needs = ["{target}"]`): that is the
    // position the expansion took over, so it means the target's own needs.
    for step in &mut new_steps {
        replace_need(&mut step.needs, &target.id, &target.needs);
    }
    draft.steps.splice(index..=index, new_steps);
}

/// Replaces `old` in `needs` by `new` (keeping order, without duplicates).
fn replace_need(needs: &mut Vec<String>, old: &str, new: &[String]) {
    let Some(at) = needs.iter().position(|n| n == old) else {
        return;
    };
    needs.remove(at);
    let mut insert_at = at;
    for n in new {
        if !needs.contains(n) {
            needs.insert(insert_at, n.clone());
            insert_at += 1;
        }
    }
}

/// Inserts the aspect's advice around every matching step that existed before (steps the
/// aspect inserts are never advised themselves).
pub(crate) fn apply_aspect(draft: &mut Draft, aspect: &Formula) {
    let source: Arc<str> = Arc::from(aspect.source.as_str());
    let original: Vec<String> = draft.steps.iter().map(|s| s.id.clone()).collect();
    for id in original {
        let in_pointcut = aspect.pointcuts.is_empty()
            || aspect.pointcuts.iter().any(|p| glob_match(&p.glob, &id));
        if !in_pointcut {
            continue;
        }
        let Some(index) = draft.steps.iter().position(|s| s.id == id) else {
            continue;
        };
        let (before, after) = advice_for(aspect, &draft.steps[index], &source);
        if before.is_empty() && after.is_empty() {
            continue;
        }
        insert_around(draft, index, before, after);
    }
}

/// The before and after steps every matching advice rule contributes for `target`.
fn advice_for(
    aspect: &Formula,
    target: &DraftStep,
    source: &Arc<str>,
) -> (Vec<DraftStep>, Vec<DraftStep>) {
    let values = [
        ("step.id", target.id.as_str()),
        ("step.title", target.title.as_str()),
    ];
    let make = |a: &AdviceStep| {
        let id = placeholders(&a.id, &values);
        DraftStep {
            title: a
                .title
                .as_deref()
                .map_or_else(|| id.clone(), |t| placeholders(t, &values)),
            description: placeholders(&a.description, &values),
            acceptance: a.acceptance.as_deref().map(|t| placeholders(t, &values)),
            needs: Vec::new(),
            parallel: false,
            step_type: a.step_type.clone(),
            parent: target.parent.clone(),
            gate: None,
            priority: target.priority,
            labels: Vec::new(),
            assignee: target.assignee.clone(),
            source: Arc::clone(source),
            id,
        }
    };
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for rule in aspect
        .advice
        .iter()
        .filter(|r| glob_match(&r.target, &target.id))
    {
        before.extend(rule.before.iter().map(make));
        after.extend(rule.after.iter().map(make));
        if let Some(around) = &rule.around {
            before.extend(around.before.iter().map(make));
            after.extend(around.after.iter().map(make));
        }
    }
    (before, after)
}

/// Chains `before` → target → `after` and moves the target's dependents after `after`.
fn insert_around(
    draft: &mut Draft,
    index: usize,
    mut before: Vec<DraftStep>,
    mut after: Vec<DraftStep>,
) {
    let target_id = draft.steps[index].id.clone();
    if let Some(last_after) = after.last().map(|s| s.id.clone()) {
        for step in &mut draft.steps {
            replace_need(
                &mut step.needs,
                &target_id,
                std::slice::from_ref(&last_after),
            );
        }
    }
    let mut previous: Option<String> = None;
    for step in &mut before {
        step.needs = match previous.take() {
            Some(p) => vec![p],
            None => draft.steps[index].needs.clone(),
        };
        previous = Some(step.id.clone());
    }
    if let Some(last_before) = previous {
        draft.steps[index].needs = vec![last_before];
    }
    let mut previous = target_id;
    for step in &mut after {
        step.needs = vec![previous.clone()];
        previous = step.id.clone();
    }
    draft.steps.splice(index + 1..index + 1, after);
    draft.steps.splice(index..index, before);
}

/// Applies step overrides in order. With `strict`, an override naming no step is an error
/// (the formula's own overrides); otherwise it becomes a warning (overlay files, which may be
/// older than the formula they patch).
pub(crate) fn apply_overrides(
    draft: &mut Draft,
    file: &str,
    overrides: &[StepOverride],
    strict: bool,
) -> Result<Vec<String>, FormulaError> {
    let mut warnings = Vec::new();
    for o in overrides {
        let rule = format!("[[step-overrides]] mode = \"{}\"", mode_name(o.mode));
        let Some(index) = draft.steps.iter().position(|s| s.id == o.step_id) else {
            if strict {
                return Err(FormulaError::TargetNotFound {
                    file: file.to_string(),
                    rule,
                    step: o.step_id.clone(),
                });
            }
            warnings.push(format!(
                "{file}: {rule} targets step `{}`, which does not exist; the override was ignored",
                o.step_id
            ));
            continue;
        };
        match o.mode {
            OverrideMode::Replace => replace_fields(&mut draft.steps[index], o),
            OverrideMode::Append => append_fields(&mut draft.steps[index], o),
            OverrideMode::Skip => skip_step(draft, index),
        }
    }
    Ok(warnings)
}

fn mode_name(mode: OverrideMode) -> &'static str {
    match mode {
        OverrideMode::Replace => "replace",
        OverrideMode::Append => "append",
        OverrideMode::Skip => "skip",
    }
}

fn replace_fields(step: &mut DraftStep, o: &StepOverride) {
    if let Some(description) = &o.description {
        step.description = description.clone();
    }
    if let Some(title) = &o.title {
        step.title = title.clone();
    }
    if let Some(acceptance) = &o.acceptance {
        step.acceptance = Some(acceptance.clone());
    }
}

fn append_fields(step: &mut DraftStep, o: &StepOverride) {
    let join = |base: &str, extra: &str, sep: &str| {
        if base.is_empty() {
            extra.to_string()
        } else {
            format!("{base}{sep}{extra}")
        }
    };
    if let Some(description) = &o.description {
        step.description = join(&step.description, description, "\n");
    }
    if let Some(title) = &o.title {
        step.title = join(&step.title, title, " ");
    }
    if let Some(acceptance) = &o.acceptance {
        let base = step.acceptance.as_deref().unwrap_or("");
        step.acceptance = Some(join(base, acceptance, "\n"));
    }
}

/// Removes the step at `index`; its dependents inherit its needs and its children its parent.
fn skip_step(draft: &mut Draft, index: usize) {
    let removed = draft.steps.remove(index);
    for step in &mut draft.steps {
        replace_need(&mut step.needs, &removed.id, &removed.needs);
        if step.parent.as_deref() == Some(removed.id.as_str()) {
            step.parent = removed.parent.clone();
        }
    }
}
