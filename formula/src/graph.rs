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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::order;
    use crate::error::FormulaError;
    use crate::resolve::{DraftStep, preview_step};

    /// A tiny deterministic generator (64-bit LCG), enough to vary graph shapes.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n.max(1)
        }
    }

    /// `n` steps whose needs point only at lower-numbered steps, defined in shuffled order.
    fn random_dag(rng: &mut Lcg, n: usize) -> Vec<DraftStep> {
        let source: Arc<str> = Arc::from("g.formula.toml");
        let mut steps: Vec<DraftStep> = (0..n)
            .map(|i| {
                let mut step = preview_step(&format!("s{i}"), "", &source);
                for _ in 0..rng.below(4) {
                    if i > 0 {
                        step.needs.push(format!("s{}", rng.below(i)));
                    }
                }
                step
            })
            .collect();
        for i in (1..steps.len()).rev() {
            let j = rng.below(i + 1);
            steps.swap(i, j);
        }
        steps
    }

    #[test]
    fn random_dags_come_out_with_every_step_after_its_needs() {
        let mut rng = Lcg(7);
        for round in 0..200 {
            let n = 1 + rng.below(60);
            let steps = random_dag(&mut rng, n);
            let out = order(&steps).unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(out.len(), steps.len());
            let mut place = vec![usize::MAX; steps.len()];
            for (at, &i) in out.iter().enumerate() {
                place[i] = at;
            }
            for (i, step) in steps.iter().enumerate() {
                for need in &step.needs {
                    let j = steps
                        .iter()
                        .position(|s| &s.id == need)
                        .expect("need exists");
                    assert!(
                        place[j] < place[i],
                        "round {round}: {} before {need}",
                        step.id
                    );
                }
            }
        }
    }

    #[test]
    fn a_back_edge_makes_a_named_cycle_of_real_edges() {
        let mut rng = Lcg(11);
        for round in 0..200 {
            let n = 2 + rng.below(40);
            let mut steps = random_dag(&mut rng, n);
            // Close a loop between two steps: each now needs the other.
            let a = rng.below(n - 1);
            let b = a + 1 + rng.below(n - a - 1);
            let pos = |steps: &[DraftStep], id: &str| steps.iter().position(|s| s.id == id);
            let ib = pos(&steps, &format!("s{b}")).expect("b");
            steps[ib].needs.push(format!("s{a}"));
            let ia = pos(&steps, &format!("s{a}")).expect("a");
            steps[ia].needs.push(format!("s{b}"));
            let Err(FormulaError::Cycle { cycle, file }) = order(&steps) else {
                panic!("round {round}: no cycle found");
            };
            assert_eq!(file, "g.formula.toml");
            assert_eq!(cycle.first(), cycle.last(), "round {round}: {cycle:?}");
            for pair in cycle.windows(2) {
                let from = &steps[pos(&steps, &pair[0]).expect("from")];
                assert!(
                    from.needs.contains(&pair[1]),
                    "round {round}: {cycle:?} is not real"
                );
            }
        }
    }
}
