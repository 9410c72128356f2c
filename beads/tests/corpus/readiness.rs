//! An independent reading of SPEC.md's readiness rules, computed straight from the raw JSON of
//! an export (no `Bead`, no graph): the oracle the ledger's incremental ready/blocked sets are
//! checked against.
//!
//! SPEC.md, Ledger: "Ready: open, not pinned, not ephemeral, not of a coordination type
//! (message, molecule, gate, agent, merge-request, convoy, event), no open `blocks`/
//! `conditional-blocks` target, no blocked parent, no `waits-for` with open children, not
//! deferred into the future." Read here as:
//! - an "open" target or child is one that exists and is not `closed` or `tombstone` (a deleted
//!   or unknown bead holds nothing back);
//! - a bead is blocked when it is not closed/tombstone and has an open blocking target, a
//!   `waits-for` target with an open child, or a blocked parent (so parents block transitively);
//! - a bead is ready when its status is exactly `open` and none of the rest applies.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

const COORDINATION: &[&str] = &[
    "message",
    "molecule",
    "gate",
    "agent",
    "merge-request",
    "convoy",
    "event",
];

/// The ready and blocked ids of `beads` (raw JSON objects) at `now` (Unix nanoseconds).
pub fn ready_and_blocked(beads: &[Value], now: i128) -> (BTreeSet<String>, BTreeSet<String>) {
    let by_id: HashMap<&str, &Value> = beads.iter().map(|b| (text(b, "id"), b)).collect();
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for b in beads {
        for (kind, target) in deps(b) {
            if kind == "parent-child" {
                children.entry(target).or_default().push(text(b, "id"));
            }
        }
    }
    let open = |id: &str| {
        by_id
            .get(id)
            .is_some_and(|b| !matches!(text(b, "status"), "closed" | "tombstone"))
    };
    let mut memo: HashMap<String, bool> = HashMap::new();
    let mut blocked = BTreeSet::new();
    let mut ready = BTreeSet::new();
    for b in beads {
        let id = text(b, "id");
        if is_blocked(id, &by_id, &children, &open, &mut memo, 0) {
            blocked.insert(id.to_string());
            continue;
        }
        let deferred = b
            .get("defer_until")
            .and_then(Value::as_str)
            .and_then(gastown_beads::time::parse_rfc3339)
            .is_some_and(|t| t > now);
        if text(b, "status") == "open"
            && !flag(b, "pinned")
            && !flag(b, "ephemeral")
            && !COORDINATION.contains(&text(b, "issue_type"))
            && !deferred
        {
            ready.insert(id.to_string());
        }
    }
    (ready, blocked)
}

fn is_blocked<'a>(
    id: &str,
    by_id: &HashMap<&'a str, &'a Value>,
    children: &HashMap<&str, Vec<&str>>,
    open: &dyn Fn(&str) -> bool,
    memo: &mut HashMap<String, bool>,
    depth: usize,
) -> bool {
    if let Some(&known) = memo.get(id) {
        return known;
    }
    let Some(b) = by_id.get(id) else { return false };
    if !open(id) || depth > 10_000 {
        return false;
    }
    let mut result = false;
    for (kind, target) in deps(b) {
        result = match kind {
            "blocks" | "conditional-blocks" => open(target),
            "waits-for" => children
                .get(target)
                .is_some_and(|kids| kids.iter().any(|k| open(k))),
            "parent-child" => is_blocked(target, by_id, children, open, memo, depth + 1),
            _ => false,
        };
        if result {
            break;
        }
    }
    memo.insert(id.to_string(), result);
    result
}

fn deps(b: &Value) -> impl Iterator<Item = (&str, &str)> {
    b.get("dependencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| (text(d, "type"), text(d, "depends_on_id")))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}
