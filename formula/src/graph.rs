//! The step graph: duplicate ids, `needs` naming no step, cycles (named step by step), and a
//! topological order that keeps definition order wherever the needs allow.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::error::FormulaError;
use crate::resolve::DraftStep;

/// Validates the graph of `steps` and returns their indices in topological order (every step
/// after all of its needs; among ready steps, the one defined first).
pub(crate) fn order(steps: &[DraftStep]) -> Result<Vec<usize>, FormulaError> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        if index.insert(step.id.as_str(), i).is_some() {
            return Err(FormulaError::DuplicateStep {
                file: step.source.to_string(),
                step: step.id.clone(),
            });
        }
    }
    let mut needs: Vec<Vec<usize>> = Vec::with_capacity(steps.len());
    for step in steps {
        let mut resolved = Vec::with_capacity(step.needs.len());
        for need in &step.needs {
            let Some(&at) = index.get(need.as_str()) else {
                return Err(FormulaError::UnknownNeed {
                    file: step.source.to_string(),
                    step: step.id.clone(),
                    need: need.clone(),
                });
            };
            if !resolved.contains(&at) {
                resolved.push(at);
            }
        }
        needs.push(resolved);
    }
    kahn(steps, &needs)
}

/// Kahn's algorithm with a min-heap on definition index, so the order is deterministic.
fn kahn(steps: &[DraftStep], needs: &[Vec<usize>]) -> Result<Vec<usize>, FormulaError> {
    let mut waiting: Vec<usize> = needs.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, ns) in needs.iter().enumerate() {
        for &n in ns {
            dependents[n].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = waiting
        .iter()
        .enumerate()
        .filter(|(_, w)| **w == 0)
        .map(|(i, _)| Reverse(i))
        .collect();
    let mut out = Vec::with_capacity(steps.len());
    while let Some(Reverse(i)) = ready.pop() {
        out.push(i);
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    if out.len() == steps.len() {
        return Ok(out);
    }
    Err(cycle_error(steps, needs, &waiting))
}

/// Names one cycle among the steps Kahn could not order. Every such step still waits on
/// another such step, so following the first unfinished need from any of them must loop.
fn cycle_error(steps: &[DraftStep], needs: &[Vec<usize>], waiting: &[usize]) -> FormulaError {
    let stuck = |i: usize| waiting[i] > 0;
    let start = (0..steps.len()).find(|&i| stuck(i)).unwrap_or(0);
    let mut path: Vec<usize> = Vec::new();
    let mut current = start;
    let mut seen_at: HashMap<usize, usize> = HashMap::new();
    while !seen_at.contains_key(&current) {
        seen_at.insert(current, path.len());
        path.push(current);
        let next = needs[current].iter().copied().find(|&n| stuck(n));
        match next {
            Some(n) => current = n,
            None => break,
        }
    }
    let from = seen_at.get(&current).copied().unwrap_or(0);
    let mut cycle: Vec<String> = path[from..].iter().map(|&i| steps[i].id.clone()).collect();
    cycle.push(steps[current].id.clone());
    FormulaError::Cycle {
        file: steps[path[from]].source.to_string(),
        cycle,
    }
}
