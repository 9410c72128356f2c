//! The three-way merge of one bead: what two towns that both changed it since their common
//! ledger commit (the base) agree it is now. Field by field, deterministic, and symmetric — the
//! result is the same whichever town is "ours" — so towns that merge each other's ledgers
//! converge on the same beads (`docs/ledger.md`, "Merging two towns' ledgers"):
//!
//! - a field changed on one side only takes that side's value;
//! - both sides changed it differently: `labels`, `dependencies` and `comments` merge as sets
//!   (an element added on either side is kept, one removed on either side is gone); `status`
//!   (with `closed_at` and `close_reason`): `closed` wins over an open state, unless the base was
//!   closed and the other side reopened it later (by `updated_at`); `updated_at` takes the later
//!   time; any other field takes the side with the later `updated_at`, and on a tie the greater
//!   value (compared as JSON text) — a rule both towns apply alike;
//! - deleted on one side and edited on the other: the edit is kept (nothing is lost);
//! - created on both sides under one id (no base) with different `created_at`: a collision — one
//!   of them (the greater line) is re-keyed by the caller ([`rekeyed_id`]).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// What the merge of one bead decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merged {
    /// The bead is this JSON line.
    Line(String),
    /// The bead is gone (deleted on one side, unchanged on the other, or on both).
    Deleted,
    /// Both sides created a bead under this id and they are different beads: keep `keep` under
    /// the id, and `rekey` under [`rekeyed_id`] of it. `rekey_is_ours` says which side's it is.
    Collision {
        keep: String,
        rekey: String,
        rekey_is_ours: bool,
    },
}

/// A line that is not a JSON object: it cannot be merged field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnObject {
    pub which: &'static str,
    pub reason: String,
}

/// Merges bead lines: `base` as at the merge base, `ours` and `theirs` as on each side (`None`:
/// absent there).
pub fn merge_line(
    base: Option<&str>,
    ours: Option<&str>,
    theirs: Option<&str>,
) -> Result<Merged, NotAnObject> {
    if ours == theirs {
        return Ok(present(ours));
    }
    if ours == base {
        return Ok(present(theirs));
    }
    if theirs == base {
        return Ok(present(ours));
    }
    let (ours, theirs) = match (ours, theirs) {
        // Deleted on one side, edited on the other: the edit is kept.
        (None, Some(line)) | (Some(line), None) => return Ok(Merged::Line(line.to_string())),
        (Some(o), Some(t)) => (o, t),
        (None, None) => return Ok(Merged::Deleted),
    };
    let o = object(ours, "ours")?;
    let t = object(theirs, "theirs")?;
    let b = match base {
        Some(line) => Some(object(line, "base")?),
        None => None,
    };
    if b.is_none() && o.get("created_at") != t.get("created_at") {
        // Two different beads under one id: the greater line is re-keyed (both towns pick the
        // same one).
        let rekey_is_ours = ours > theirs;
        let (keep, rekey) = if rekey_is_ours {
            (theirs, ours)
        } else {
            (ours, theirs)
        };
        return Ok(Merged::Collision {
            keep: keep.to_string(),
            rekey: rekey.to_string(),
            rekey_is_ours,
        });
    }
    let empty = Map::new();
    let merged = merge_objects(b.as_ref().unwrap_or(&empty), &o, &t);
    Ok(Merged::Line(
        serde_json::to_string(&Value::Object(merged)).expect("a JSON object always serializes"),
    ))
}

/// The id a colliding bead is re-keyed to: its id and the first six hex digits of SHA-256 of
/// its line, so both towns derive the same one.
pub fn rekeyed_id(id: &str, line: &str) -> String {
    let digest = Sha256::digest(line.as_bytes());
    format!("{id}-{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2])
}

fn present(line: Option<&str>) -> Merged {
    match line {
        Some(line) => Merged::Line(line.to_string()),
        None => Merged::Deleted,
    }
}

fn object(line: &str, which: &'static str) -> Result<Map<String, Value>, NotAnObject> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(NotAnObject {
            which,
            reason: "not a JSON object".to_string(),
        }),
        Err(e) => Err(NotAnObject {
            which,
            reason: e.to_string(),
        }),
    }
}

/// The fields that follow `status` when it is decided by the status rule.
const STATUS_GROUP: [&str; 3] = ["status", "closed_at", "close_reason"];

fn merge_objects(
    base: &Map<String, Value>,
    ours: &Map<String, Value>,
    theirs: &Map<String, Value>,
) -> Map<String, Value> {
    let later = later_side(ours, theirs);
    // `status`, `closed_at` and `close_reason` go together: when both sides changed any of
    // them, all three come from the side the status rule picks.
    let group = |bead: &Map<String, Value>| STATUS_GROUP.map(|k| bead.get(k).cloned());
    let (gb, go, gt) = (group(base), group(ours), group(theirs));
    let status_side = if go == gt || go == gb {
        Side::Theirs
    } else if gt == gb {
        Side::Ours
    } else {
        match status_winner(base, ours, theirs, later) {
            // A tie: the greater group as a whole, never a mix of the two.
            Side::Greater if format!("{go:?}") < format!("{gt:?}") => Side::Theirs,
            Side::Greater => Side::Ours,
            side => side,
        }
    };
    let mut keys: Vec<&String> = base
        .keys()
        .chain(ours.keys())
        .chain(theirs.keys())
        .collect();
    keys.sort();
    keys.dedup();
    let mut out = Map::new();
    for key in keys {
        let (b, o, t) = (base.get(key), ours.get(key), theirs.get(key));
        let value = if STATUS_GROUP.contains(&key.as_str()) {
            pick(status_side, o, t)
        } else if o == t {
            o.cloned()
        } else if o == b {
            t.cloned()
        } else if t == b {
            o.cloned()
        } else {
            match key.as_str() {
                "labels" => Some(merge_set(b, o, t, |v| v.as_str().map(str::to_string))),
                "dependencies" => Some(merge_set(b, o, t, dependency_key)),
                "comments" => Some(merge_set(b, o, t, comment_key)),
                "updated_at" => max_value(o, t),
                _ => pick(later, o, t),
            }
        };
        if let Some(value) = value {
            out.insert(key.clone(), value);
        }
    }
    out
}

/// Which side an undecidable field goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Ours,
    Theirs,
    /// Neither is later: the greater value wins (the same choice in both towns).
    Greater,
}

fn pick(side: Side, ours: Option<&Value>, theirs: Option<&Value>) -> Option<Value> {
    match side {
        Side::Ours => ours.cloned(),
        Side::Theirs => theirs.cloned(),
        Side::Greater => max_value(ours, theirs),
    }
}

/// The greater of two values by their JSON text (absent is least).
fn max_value(a: Option<&Value>, b: Option<&Value>) -> Option<Value> {
    let text = |v: Option<&Value>| v.map(Value::to_string);
    match text(a).cmp(&text(b)) {
        Ordering::Less => b.cloned(),
        _ => a.cloned(),
    }
}

fn updated_at(bead: &Map<String, Value>) -> &str {
    bead.get("updated_at").and_then(Value::as_str).unwrap_or("")
}

fn later_side(ours: &Map<String, Value>, theirs: &Map<String, Value>) -> Side {
    match updated_at(ours).cmp(updated_at(theirs)) {
        Ordering::Greater => Side::Ours,
        Ordering::Less => Side::Theirs,
        Ordering::Equal => Side::Greater,
    }
}

fn is_closed(bead: &Map<String, Value>) -> bool {
    bead.get("status").and_then(Value::as_str) == Some("closed")
}

/// Whose `status` (and close fields) win when both sides changed it.
fn status_winner(
    base: &Map<String, Value>,
    ours: &Map<String, Value>,
    theirs: &Map<String, Value>,
    later: Side,
) -> Side {
    match (is_closed(ours), is_closed(theirs)) {
        (true, false) | (false, true) => {
            let (closed, open) = if is_closed(ours) {
                (Side::Ours, Side::Theirs)
            } else {
                (Side::Theirs, Side::Ours)
            };
            // The open side reopened a bead closed at the base, after the other side's change.
            if is_closed(base) && later == open {
                open
            } else {
                closed
            }
        }
        _ => later,
    }
}

fn dependency_key(dep: &Value) -> Option<String> {
    let field = |name: &str| dep.get(name).and_then(Value::as_str).unwrap_or("");
    Some(format!(
        "{}\u{0}{}\u{0}{}",
        field("issue_id"),
        field("depends_on_id"),
        field("type")
    ))
}

fn comment_key(comment: &Value) -> Option<String> {
    match comment.get("id") {
        Some(id) if !id.is_null() => Some(format!("id:{id}")),
        _ => Some(format!("value:{comment}")),
    }
}

/// A set merge of arrays: an element (by `key`) kept on both sides or added on either is in the
/// result, one removed on either side is not; sorted by key so both towns write it alike. An
/// element both sides hold with different values takes the greater value.
fn merge_set(
    base: Option<&Value>,
    ours: Option<&Value>,
    theirs: Option<&Value>,
    key: fn(&Value) -> Option<String>,
) -> Value {
    let index = |v: Option<&Value>| -> BTreeMap<String, Value> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|item| key(item).map(|k| (k, item.clone())))
            .collect()
    };
    let (b, o, t) = (index(base), index(ours), index(theirs));
    let mut keys: Vec<&String> = b.keys().chain(o.keys()).chain(t.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let keep = if b.contains_key(k) {
            o.contains_key(k) && t.contains_key(k)
        } else {
            o.contains_key(k) || t.contains_key(k)
        };
        if !keep {
            continue;
        }
        let (ov, tv) = (o.get(k), t.get(k));
        let value = match (ov, tv, b.get(k)) {
            (Some(x), Some(y), base) if x != y => {
                if Some(x) == base {
                    y.clone()
                } else if Some(y) == base {
                    x.clone()
                } else {
                    max_value(Some(x), Some(y)).expect("both present")
                }
            }
            (Some(x), _, _) | (None, Some(x), _) => x.clone(),
            (None, None, _) => continue,
        };
        out.push(value);
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(v: Value) -> String {
        v.to_string()
    }

    fn merged(base: Option<Value>, ours: Option<Value>, theirs: Option<Value>) -> Merged {
        let (b, o, t) = (base.map(line), ours.map(line), theirs.map(line));
        let forward = merge_line(b.as_deref(), o.as_deref(), t.as_deref()).expect("objects");
        let backward = merge_line(b.as_deref(), t.as_deref(), o.as_deref()).expect("objects");
        // Symmetric: the same result whichever town merges.
        match (&forward, &backward) {
            (
                Merged::Collision {
                    keep: k1,
                    rekey: r1,
                    ..
                },
                Merged::Collision {
                    keep: k2,
                    rekey: r2,
                    ..
                },
            ) => assert_eq!((k1, r1), (k2, r2)),
            _ => assert_eq!(forward, backward, "merge is symmetric"),
        }
        forward
    }

    fn fields(m: &Merged) -> Value {
        match m {
            Merged::Line(l) => serde_json::from_str(l).expect("json"),
            other => panic!("not a line: {other:?}"),
        }
    }

    #[test]
    fn one_sided_changes_take_that_side() {
        let base = json!({"id":"gt-1","title":"a","priority":2,"updated_at":"t1"});
        let ours = json!({"id":"gt-1","title":"b","priority":2,"updated_at":"t2"});
        let theirs = json!({"id":"gt-1","title":"a","priority":0,"updated_at":"t3"});
        let m = fields(&merged(Some(base), Some(ours), Some(theirs)));
        assert_eq!(m["title"], "b");
        assert_eq!(m["priority"], 0);
        assert_eq!(m["updated_at"], "t3");
    }

    #[test]
    fn both_changed_the_later_update_wins_and_ties_are_decided_alike() {
        let base = json!({"id":"gt-1","title":"a","updated_at":"t1"});
        let ours = json!({"id":"gt-1","title":"ours","updated_at":"t2"});
        let theirs = json!({"id":"gt-1","title":"theirs","updated_at":"t3"});
        let m = fields(&merged(Some(base.clone()), Some(ours), Some(theirs)));
        assert_eq!(m["title"], "theirs");
        let ours = json!({"id":"gt-1","title":"x","updated_at":"t2"});
        let theirs = json!({"id":"gt-1","title":"y","updated_at":"t2"});
        let m = fields(&merged(Some(base), Some(ours), Some(theirs)));
        assert_eq!(m["title"], "y", "a tie: the greater value, in both towns");
    }

    #[test]
    fn closed_wins_unless_reopened_later() {
        let open = json!({"id":"gt-1","status":"open","updated_at":"t1"});
        let closed = json!({"id":"gt-1","status":"closed","closed_at":"t5","close_reason":"done","updated_at":"t5"});
        let working = json!({"id":"gt-1","status":"in_progress","assignee":"x","updated_at":"t9"});
        let m = fields(&merged(Some(open), Some(closed.clone()), Some(working)));
        assert_eq!(m["status"], "closed", "closed wins over a later open state");
        assert_eq!(m["closed_at"], "t5");
        assert_eq!(m["assignee"], "x", "the other fields still merge");

        let reopened = json!({"id":"gt-1","status":"open","updated_at":"t9"});
        let closed_again = json!({"id":"gt-1","status":"closed","closed_at":"t5","close_reason":"dup","updated_at":"t6"});
        let m = fields(&merged(
            Some(closed.clone()),
            Some(closed_again.clone()),
            Some(reopened),
        ));
        assert_eq!(
            m["status"], "open",
            "reopened after the other side's change"
        );
        assert!(m.get("closed_at").is_none());
        let early = json!({"id":"gt-1","status":"open","updated_at":"t5a"});
        let late_close = json!({"id":"gt-1","status":"closed","closed_at":"t5","close_reason":"dup","updated_at":"t7"});
        let m = fields(&merged(Some(closed), Some(late_close), Some(early)));
        assert_eq!(m["status"], "closed", "a reopen older than the close loses");
    }

    #[test]
    fn labels_dependencies_and_comments_merge_as_sets_honouring_deletions() {
        let base = json!({"id":"gt-1","labels":["a","b"],"dependencies":[
            {"issue_id":"gt-1","depends_on_id":"gt-2","type":"blocks"}],
            "comments":[{"id":1,"text":"one"}],"updated_at":"t1"});
        let ours = json!({"id":"gt-1","labels":["a","c"],"dependencies":[
            {"issue_id":"gt-1","depends_on_id":"gt-2","type":"blocks"},
            {"issue_id":"gt-1","depends_on_id":"gt-3","type":"related"}],
            "comments":[{"id":1,"text":"one"},{"id":2,"text":"two"}],"updated_at":"t2"});
        let theirs = json!({"id":"gt-1","labels":["b","d"],"dependencies":[],
            "comments":[{"id":1,"text":"one"},{"id":3,"text":"three"}],"updated_at":"t3"});
        let m = fields(&merged(Some(base), Some(ours), Some(theirs)));
        assert_eq!(m["labels"], json!(["c", "d"]));
        assert_eq!(
            m["dependencies"],
            json!([{"issue_id":"gt-1","depends_on_id":"gt-3","type":"related"}])
        );
        let texts: Vec<&str> = m["comments"]
            .as_array()
            .expect("comments")
            .iter()
            .map(|c| c["text"].as_str().expect("text"))
            .collect();
        assert_eq!(texts, ["one", "two", "three"]);
    }

    #[test]
    fn a_delete_against_an_edit_keeps_the_edit() {
        let base = json!({"id":"gt-1","title":"a","updated_at":"t1"});
        let edited = json!({"id":"gt-1","title":"b","updated_at":"t2"});
        let m = fields(&merged(Some(base.clone()), None, Some(edited)));
        assert_eq!(m["title"], "b");
        assert_eq!(
            merged(Some(base.clone()), None, Some(base)),
            Merged::Deleted,
            "deleted on one side, untouched on the other"
        );
    }

    #[test]
    fn two_beads_created_under_one_id_collide_and_the_same_bead_twice_does_not() {
        let a = json!({"id":"gt-1","title":"a","created_at":"t1","updated_at":"t1"});
        let b = json!({"id":"gt-1","title":"b","created_at":"t2","updated_at":"t2"});
        match merged(None, Some(a.clone()), Some(b.clone())) {
            Merged::Collision { keep, rekey, .. } => {
                let (keep, rekey) = (keep, rekey);
                assert_ne!(keep, rekey);
                assert!(rekeyed_id("gt-1", &rekey).starts_with("gt-1-"));
            }
            other => panic!("a collision: {other:?}"),
        }
        let a2 =
            json!({"id":"gt-1","title":"a","labels":["x"],"created_at":"t1","updated_at":"t3"});
        let m = fields(&merged(None, Some(a), Some(a2)));
        assert_eq!(
            m["labels"],
            json!(["x"]),
            "the same bead: merged, not re-keyed"
        );
    }

    #[test]
    fn a_line_that_is_not_an_object_is_refused() {
        let base = json!({"id":"gt-1","title":"a"}).to_string();
        let ours = json!({"id":"gt-1","title":"b"}).to_string();
        let err = merge_line(Some(&base), Some(&ours), Some("[1,2]")).expect_err("refused");
        assert_eq!(err.which, "theirs");
    }
}
