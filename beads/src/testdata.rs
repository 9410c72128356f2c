//! Synthetic ledgers for benchmarks and scale tests (not part of the product's API).
//!
//! [`synthetic_beads`] makes `n` deterministic beads shaped like a real ledger: hash ids of the
//! adaptive length [`crate::id::id_length_for`] gives, a spread of statuses, types and
//! priorities, a few hundred bytes of text, labels, small epics with `parent-child` children,
//! and a fraction of the beads in `blocks` chains. The same arguments always give the same beads.
//!
//! Layout, for bead number `i` (0-based, creation order):
//! - the first `round(n * chain_fraction)` beads are in chains of [`CHAIN_LEN`]; each but the
//!   first of a chain `blocks`-depends on the one before it, and chain `c` has its first `c % 4`
//!   members closed, so some chains are partly done (their next member is ready);
//! - every other bead: `i % 25 == 0` is an epic, `i % 25` in 1..=4 a child of that epic
//!   (`parent-child`); statuses cycle closed, closed, closed, in_progress, then open ×6.
//!
//! Blocking edges only point to earlier beads, so there is never a cycle.

use crate::id;
use crate::jsonl;
use crate::model::{Bead, DepKind, Dependency, IssueType, Status};
use serde_json::Map;
use std::collections::HashSet;

/// Length of the blocking chains.
pub const CHAIN_LEN: usize = 10;
/// Prefix of synthetic ids.
pub const PREFIX: &str = "bn";
/// 2026-01-01T00:00:00Z in Unix seconds; bead `i` is created `i` seconds later.
const EPOCH_SECS: i128 = 1_767_225_600;

/// `n` synthetic beads (see the module documentation), in creation order.
pub fn synthetic_beads(n: usize, chain_fraction: f64) -> Vec<Bead> {
    let chained = ((n as f64) * chain_fraction.clamp(0.0, 1.0)).round() as usize;
    let mut taken: HashSet<String> = HashSet::with_capacity(n);
    let mut beads: Vec<Bead> = Vec::with_capacity(n);
    for i in 0..n {
        let seed = format!("synthetic bead {i}");
        let bead_id = id::generate_id(PREFIX, &seed, i, |c| taken.contains(c));
        taken.insert(bead_id.clone());
        let mut b = base_bead(bead_id, i);
        if i < chained {
            shape_chain_member(&mut b, i, &beads);
        } else {
            shape_free_bead(&mut b, i, &beads);
        }
        if b.status == Status::Closed {
            b.closed_at = Some(b.updated_at.clone());
            b.close_reason = "done".to_string();
        }
        beads.push(b);
    }
    beads
}

/// [`synthetic_beads`] as one `issues.jsonl` text (sorted by id, as [`jsonl::write_export`]
/// writes it).
pub fn synthetic_export(n: usize, chain_fraction: f64) -> String {
    let mut out = Vec::with_capacity(n * 700);
    jsonl::write_export(&mut out, synthetic_beads(n, chain_fraction).into_iter())
        .expect("writing into memory cannot fail");
    String::from_utf8(out).expect("the export is UTF-8")
}

fn base_bead(bead_id: String, i: usize) -> Bead {
    let created = crate::time::format_unix_nanos((EPOCH_SECS + i as i128) * 1_000_000_000);
    let updated = crate::time::format_unix_nanos((EPOCH_SECS + i as i128 + 3600) * 1_000_000_000);
    let mut b = Bead::new(
        bead_id,
        format!("Synthetic work item {i}: tune the widget <{}>", i % 97),
    );
    b.description = format!(
        "Bead {i} of a synthetic ledger.\n\n## Context\nThe widget pipeline needs step {} \
         reworked so that the frobnicator stops dropping frames under load & recovers.\n\n\
         ## Acceptance\n- tests pass\n- benchmark within 5% of baseline\n- docs updated",
        i % 13
    );
    b.priority = (i % 5) as u8;
    b.created_at = created;
    b.updated_at = updated;
    b.created_by = "bench".to_string();
    b.owner = "bench@example.invalid".to_string();
    if i.is_multiple_of(7) {
        b.labels = vec!["synthetic".to_string(), format!("area-{}", i % 5)];
    }
    b.extra = Map::new();
    b
}

fn dep(b: &Bead, on: &str, kind: DepKind) -> Dependency {
    Dependency {
        issue_id: b.id.clone(),
        depends_on_id: on.to_string(),
        kind,
        created_at: b.created_at.clone(),
        created_by: "bench".to_string(),
        extra: Map::new(),
    }
}

fn shape_chain_member(b: &mut Bead, i: usize, earlier: &[Bead]) {
    let chain = i / CHAIN_LEN;
    let pos = i % CHAIN_LEN;
    b.issue_type = IssueType::Task;
    b.status = if pos < chain % 4 {
        Status::Closed
    } else {
        Status::Open
    };
    if pos > 0 {
        let d = dep(b, &earlier[i - 1].id, DepKind::Blocks);
        b.dependencies.push(d);
    }
}

fn shape_free_bead(b: &mut Bead, i: usize, earlier: &[Bead]) {
    b.status = match i % 10 {
        0..=2 => Status::Closed,
        3 => Status::InProgress,
        _ => Status::Open,
    };
    b.issue_type = match i % 25 {
        0 => IssueType::Epic,
        _ if i.is_multiple_of(9) => IssueType::Bug,
        _ if i.is_multiple_of(11) => IssueType::Feature,
        _ => IssueType::Task,
    };
    let offset = i % 25;
    if (1..=4).contains(&offset) && i >= offset {
        let epic = &earlier[i - offset];
        if epic.issue_type == IssueType::Epic {
            let d = dep(b, &epic.id, DepKind::ParentChild);
            b.dependencies.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn synthetic_ledger_has_the_asked_shape() {
        let beads = synthetic_beads(2000, 0.3);
        assert_eq!(beads.len(), 2000);
        let ids: HashSet<&str> = beads.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids.len(), 2000, "ids are unique");
        assert!(beads.iter().all(|b| id::validate_id(&b.id).is_ok()));
        let in_chains = beads
            .iter()
            .enumerate()
            .filter(|(i, b)| {
                b.dependencies.iter().any(|d| d.kind == DepKind::Blocks)
                    || beads.get(i + 1).is_some_and(|n| {
                        n.dependencies
                            .iter()
                            .any(|d| d.kind == DepKind::Blocks && d.depends_on_id == b.id)
                    })
            })
            .count();
        assert_eq!(in_chains, 600, "30% of the beads are in blocking chains");
        assert!(beads.iter().any(|b| {
            b.dependencies
                .iter()
                .any(|d| d.kind == DepKind::ParentChild)
        }));
        assert!(beads.iter().all(|b| b.is_closed() == b.closed_at.is_some()));
        assert_eq!(beads, synthetic_beads(2000, 0.3), "deterministic");
    }

    #[test]
    fn synthetic_export_reads_back() {
        let text = synthetic_export(500, 0.3);
        let recs = jsonl::parse_export(Path::new("synthetic"), &text).expect("reads back");
        assert_eq!(recs.len(), 500);
        let ids: Vec<&str> = recs.iter().map(|r| r.bead.id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted, "sorted by id");
    }
}
