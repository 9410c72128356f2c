//! The one validation of a bead record, applied to every local write: create, update, close,
//! labels, comments, `extra` fields, import, and whatever the socket's requests run, since all
//! of them reach the index through [`crate::Ledger`]'s single write path. Beads read from git
//! (another town's commits, a hand edit) are indexed as they are: refusing them would leave the
//! index behind its git ref; the first local change to such a bead must make it valid.
//!
//! [`check_bead`] looks at one record on its own (fields, formats and maximum sizes);
//! [`check_links`] at records against the ledger (dependencies that name no bead, and cycles of
//! blocking or parent-child edges), for imports, which bring many records and their edges at
//! once (the other write paths check each new edge where they add it).
//!
//! The maximum sizes keep one record from breaking the town for everyone (a 10 MB title makes
//! every `bead list` reply 10 MB): they are far above what people and agents write, and the
//! classic `bd` corpus fits them with room to spare. See `docs/ledger.md`.

use crate::graph::{EdgeKind, Graph};
use crate::model::{Bead, Status};
use std::collections::HashMap;

/// A title: one line saying what the bead is about.
pub const MAX_TITLE_CHARS: usize = 500;
/// Each long text field (description, design, acceptance criteria, notes, close reason, each
/// comment), in bytes.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// Short names: assignee, owner, created_by, sender, deleted_by, each label, …
pub const MAX_NAME_CHARS: usize = 200;
/// Labels on one bead.
pub const MAX_LABELS: usize = 100;
/// Dependencies of one bead.
pub const MAX_DEPENDENCIES: usize = 1000;
/// The whole record (its texts, comments and further fields together), in bytes.
pub const MAX_RECORD_BYTES: usize = 4 * 1024 * 1024;

/// What is wrong with one record: the field and the problem, said so that the fix is clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The JSON field (`status`, `labels`, `dependencies`, …).
    pub field: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn problem(field: &'static str, message: String) -> Problem {
    Problem { field, message }
}

/// Every problem of one record on its own (empty: valid). Statuses must be known (tombstones
/// included), priorities 0–4, timestamps RFC 3339, titles non-empty, ids well formed, and every
/// field within its maximum size.
pub fn check_bead(bead: &Bead) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Err(e) = crate::id::validate_id(&bead.id) {
        out.push(problem("id", e.to_string()));
    }
    if bead.title.trim().is_empty() {
        out.push(problem(
            "title",
            "is empty: say in a few words what the bead is about".to_string(),
        ));
    }
    let title_chars = bead.title.chars().count();
    if title_chars > MAX_TITLE_CHARS {
        out.push(problem(
            "title",
            format!(
                "is {title_chars} characters long, more than the {MAX_TITLE_CHARS} allowed: keep \
                 the title short and put the rest in the description"
            ),
        ));
    }
    if let Status::Other(s) = &bead.status {
        out.push(problem(
            "status",
            format!(
                "{s:?} is not a status; use one of {}, or tombstone",
                Status::KNOWN.join(", ")
            ),
        ));
    }
    if bead.priority > 4 {
        out.push(problem(
            "priority",
            format!(
                "{} is not a priority: priorities go from 0 (critical) to 4 (backlog)",
                bead.priority
            ),
        ));
    }
    let times: [(&'static str, Option<&str>); 5] = [
        ("created_at", Some(bead.created_at.as_str())),
        (
            "updated_at",
            Some(bead.updated_at.as_str()).filter(|s| !s.is_empty()),
        ),
        ("closed_at", bead.closed_at.as_deref()),
        ("defer_until", bead.defer_until.as_deref()),
        (
            "deleted_at",
            Some(bead.deleted_at.as_str()).filter(|s| !s.is_empty()),
        ),
    ];
    for (field, value) in times {
        if let Some(v) = value
            && crate::time::parse_rfc3339(v).is_none()
        {
            out.push(problem(
                field,
                format!(
                    "{:?} is not an RFC 3339 time; write it like 2026-01-12T02:16:51Z",
                    shorten(v)
                ),
            ));
        }
    }
    let texts: [(&'static str, &str); 5] = [
        ("description", &bead.description),
        ("design", &bead.design),
        ("acceptance_criteria", &bead.acceptance_criteria),
        ("notes", &bead.notes),
        ("close_reason", &bead.close_reason),
    ];
    for (field, text) in texts {
        if text.len() > MAX_TEXT_BYTES {
            out.push(too_big(field, text.len(), MAX_TEXT_BYTES));
        }
    }
    for comment in &bead.comments {
        if comment.text.len() > MAX_TEXT_BYTES {
            out.push(too_big("comments", comment.text.len(), MAX_TEXT_BYTES));
            break;
        }
    }
    let names: [(&'static str, &str); 7] = [
        ("assignee", &bead.assignee),
        ("owner", &bead.owner),
        ("created_by", &bead.created_by),
        ("sender", &bead.sender),
        ("deleted_by", &bead.deleted_by),
        ("await_type", &bead.await_type),
        ("await_id", &bead.await_id),
    ];
    for (field, name) in names {
        let n = name.chars().count();
        if n > MAX_NAME_CHARS {
            out.push(problem(
                field,
                format!("is {n} characters long, more than the {MAX_NAME_CHARS} allowed"),
            ));
        }
    }
    if bead.labels.len() > MAX_LABELS {
        out.push(problem(
            "labels",
            format!(
                "{} labels, more than the {MAX_LABELS} allowed on one bead",
                bead.labels.len()
            ),
        ));
    }
    if let Some(label) = bead
        .labels
        .iter()
        .find(|l| l.trim().is_empty() || l.chars().count() > MAX_NAME_CHARS)
    {
        out.push(problem(
            "labels",
            format!(
                "label {:?} is empty or longer than the {MAX_NAME_CHARS} characters allowed",
                shorten(label)
            ),
        ));
    }
    if bead.dependencies.len() > MAX_DEPENDENCIES {
        out.push(problem(
            "dependencies",
            format!(
                "{} dependencies, more than the {MAX_DEPENDENCIES} allowed on one bead",
                bead.dependencies.len()
            ),
        ));
    }
    for dep in &bead.dependencies {
        if let Err(e) = crate::id::validate_id(&dep.depends_on_id) {
            out.push(problem(
                "dependencies",
                format!("depends on a malformed id: {e}"),
            ));
            break;
        }
        if dep.depends_on_id == bead.id && EdgeKind::of(&dep.kind).is_some() {
            out.push(problem(
                "dependencies",
                format!(
                    "{} depends on itself ({}); remove that dependency",
                    bead.id, dep.kind
                ),
            ));
            break;
        }
    }
    let size = record_size(bead);
    if size > MAX_RECORD_BYTES {
        out.push(too_big("(record)", size, MAX_RECORD_BYTES));
    }
    out
}

/// About how many bytes the record takes as a JSON line (its texts, comments and `extra`).
fn record_size(bead: &Bead) -> usize {
    let texts = bead.title.len()
        + bead.description.len()
        + bead.design.len()
        + bead.acceptance_criteria.len()
        + bead.notes.len()
        + bead.close_reason.len();
    let comments: usize = bead.comments.iter().map(|c| c.text.len() + 128).sum();
    let deps = bead.dependencies.len() * 128;
    let labels: usize = bead.labels.iter().map(|l| l.len() + 3).sum();
    let extra = if bead.extra.is_empty() {
        0
    } else {
        serde_json::to_vec(&bead.extra).map_or(0, |v| v.len())
    };
    texts + comments + deps + labels + extra
}

fn too_big(field: &'static str, size: usize, max: usize) -> Problem {
    problem(
        field,
        format!(
            "is {} long, more than the {} allowed; keep large content in a file or a \
             repository and link to it",
            human_bytes(size),
            human_bytes(max)
        ),
    )
}

/// `1.5 MiB`, `900 B`.
fn human_bytes(n: usize) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    } else if n >= 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

/// The first 60 characters of `s`, for a message.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_string()
    } else {
        let head: String = s.chars().take(60).collect();
        format!("{head}…")
    }
}

/// Problems of `beads` (new or replacing records of the same ids) against the ledger's
/// `graph`: a dependency on an id that is neither in the ledger nor among `beads`, and a cycle of
/// blocking or parent-child edges (each kind on its own, as [`Graph::cycle_path`] sees them).
/// Returned as `(index into beads, problem)`.
pub fn check_links(graph: &Graph, beads: &[&Bead]) -> Vec<(usize, Problem)> {
    let mut out = Vec::new();
    let incoming: HashMap<&str, usize> = beads
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id.as_str(), i))
        .collect();
    for (i, bead) in beads.iter().enumerate() {
        if let Some(dep) = bead.dependencies.iter().find(|d| {
            !incoming.contains_key(d.depends_on_id.as_str()) && !graph.contains(&d.depends_on_id)
        }) {
            out.push((
                i,
                problem(
                    "dependencies",
                    format!(
                        "depends on {}, which is neither in the ledger nor in this import; \
                         import that bead too, or remove the dependency",
                        dep.depends_on_id
                    ),
                ),
            ));
        }
    }
    for kind in [EdgeKind::Blocks, EdgeKind::Parent] {
        // Edges of the incoming beads replace the ledger's edges of the same ids.
        let edges = |id: &str| -> Vec<String> {
            match incoming.get(id) {
                Some(&i) => beads[i]
                    .dependencies
                    .iter()
                    .filter(|d| EdgeKind::of(&d.kind) == Some(kind))
                    .map(|d| d.depends_on_id.clone())
                    .collect(),
                None => graph.edges_of(id, kind),
            }
        };
        if let Some(cycle) = find_cycle(beads.iter().map(|b| b.id.as_str()), edges) {
            let first = cycle
                .iter()
                .find_map(|id| incoming.get(id.as_str()).copied())
                .unwrap_or(0);
            let what = match kind {
                EdgeKind::Parent => "parent-child",
                _ => "blocking",
            };
            out.push((
                first,
                problem(
                    "dependencies",
                    format!(
                        "{what} dependencies form a cycle: {}; remove one of them",
                        cycle.join(" -> ")
                    ),
                ),
            ));
        }
    }
    out
}

/// A dependency of an incoming record: (readiness kind, target id, the target's record).
pub(crate) type ResolvedDep<'a> = (Option<EdgeKind>, &'a str, Option<usize>);

/// [`check_links`] for records going into an EMPTY ledger, on indices instead of ids (the
/// streaming import checks a million records with it): `ids` in record order, `deps[i]` record
/// `i`'s dependencies as (readiness kind, target, the target's record or `None`). The same
/// problems in the same words and order: with no ledger graph, a target that is not a record
/// has no edges, so it can close no cycle and the depth-first search may skip it.
pub(crate) fn fresh_link_problems(
    ids: &[&str],
    deps: &[Vec<ResolvedDep<'_>>],
) -> Vec<(usize, Problem)> {
    let mut out = Vec::new();
    for (i, d) in deps.iter().enumerate() {
        if let Some((_, target, _)) = d.iter().find(|(_, _, at)| at.is_none()) {
            out.push((
                i,
                problem(
                    "dependencies",
                    format!(
                        "depends on {target}, which is neither in the ledger nor in this import; \
                         import that bead too, or remove the dependency"
                    ),
                ),
            ));
        }
    }
    for kind in [EdgeKind::Blocks, EdgeKind::Parent] {
        let edges = |i: usize| {
            deps[i]
                .iter()
                .filter(move |(k, _, _)| *k == Some(kind))
                .filter_map(|(_, _, at)| *at)
        };
        if let Some(cycle) = find_cycle_indexed(ids.len(), edges) {
            let what = match kind {
                EdgeKind::Parent => "parent-child",
                _ => "blocking",
            };
            let path: Vec<&str> = cycle.iter().map(|&i| ids[i]).collect();
            out.push((
                cycle[0],
                problem(
                    "dependencies",
                    format!(
                        "{what} dependencies form a cycle: {}; remove one of them",
                        path.join(" -> ")
                    ),
                ),
            ));
        }
    }
    out
}

/// [`find_cycle`] over nodes `0..n` (started in that order) and their `edges`, in the same
/// visiting order, so it finds the same cycle.
fn find_cycle_indexed<I: Iterator<Item = usize>>(
    n: usize,
    edges: impl Fn(usize) -> I,
) -> Option<Vec<usize>> {
    // 0: not seen; 1: on the current path; 2: done (no cycle through it).
    let mut color = vec![0u8; n];
    for start in 0..n {
        if color[start] != 0 {
            continue;
        }
        let mut path: Vec<usize> = vec![start];
        let mut stack: Vec<I> = vec![edges(start)];
        color[start] = 1;
        while let Some(next) = stack.last_mut().map(Iterator::next) {
            match next {
                Some(to) => match color[to] {
                    1 => {
                        let at = path.iter().position(|p| *p == to).unwrap_or(0);
                        let mut cycle = path[at..].to_vec();
                        cycle.push(to);
                        return Some(cycle);
                    }
                    2 => {}
                    _ => {
                        color[to] = 1;
                        stack.push(edges(to));
                        path.push(to);
                    }
                },
                None => {
                    stack.pop();
                    if let Some(done) = path.pop() {
                        color[done] = 2;
                    }
                }
            }
        }
    }
    None
}

/// A cycle reachable from `starts` along `edges`, as a path that starts and ends with the same
/// id; iterative depth-first search (a long chain must not overflow the stack).
fn find_cycle<'a>(
    starts: impl Iterator<Item = &'a str>,
    edges: impl Fn(&str) -> Vec<String>,
) -> Option<Vec<String>> {
    // 1: on the current path; 2: done (no cycle through it).
    let mut color: HashMap<String, u8> = HashMap::new();
    for start in starts {
        if color.contains_key(start) {
            continue;
        }
        let mut path: Vec<String> = vec![start.to_string()];
        let mut stack: Vec<std::vec::IntoIter<String>> = vec![edges(start).into_iter()];
        color.insert(start.to_string(), 1);
        while let Some(next) = stack.last_mut().map(Iterator::next) {
            match next {
                Some(to) => match color.get(&to) {
                    Some(1) => {
                        let at = path.iter().position(|p| *p == to).unwrap_or(0);
                        let mut cycle = path[at..].to_vec();
                        cycle.push(to);
                        return Some(cycle);
                    }
                    Some(_) => {}
                    None => {
                        color.insert(to.clone(), 1);
                        stack.push(edges(&to).into_iter());
                        path.push(to);
                    }
                },
                None => {
                    stack.pop();
                    if let Some(done) = path.pop() {
                        color.insert(done, 2);
                    }
                }
            }
        }
    }
    None
}
