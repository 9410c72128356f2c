//! The changes a merge of another town's ledger commit makes on top of ours
//! ([`super::GitStore::merge`]): bead by bead, with [`crate::merge::merge_line`], plus the
//! re-keying of colliding beads and the rewriting of the references to them.

use super::layout;
use super::{Change, GitError, GitStore};
use crate::merge::{Merged, merge_line, rekeyed_id};
use gix::ObjectId;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// What the merge writes and what it reports.
#[derive(Debug, Default)]
pub(super) struct Plan {
    pub changes: Vec<Change>,
    pub taken: Vec<String>,
    pub merged: Vec<String>,
    pub kept_edits: Vec<String>,
    pub rekeyed: Vec<(String, String)>,
}

impl Plan {
    /// The merge commit's message: what came in and what was decided.
    pub fn message(&self, theirs: ObjectId) -> String {
        let mut message = format!(
            "ledger: merge {} ({} bead(s) taken, {} merged field by field)\n",
            theirs.to_hex_with_len(12),
            self.taken.len(),
            self.merged.len()
        );
        for id in &self.kept_edits {
            message.push_str(&format!(
                "\nkept {id}: deleted on one side, edited on the other"
            ));
        }
        for (id, new) in &self.rekeyed {
            message.push_str(&format!(
                "\nre-keyed {new}: another bead was created as {id}"
            ));
        }
        message
    }
}

/// Each side's changes since the base, by id (`None`: deleted).
fn by_id(changes: &[Change]) -> BTreeMap<&str, Option<&str>> {
    changes
        .iter()
        .map(|c| match c {
            Change::Put { id, line } => (id.as_str(), Some(line.as_str())),
            Change::Delete { id } => (id.as_str(), None),
        })
        .collect()
}

pub(super) fn plan(
    store: &GitStore,
    base: Option<ObjectId>,
    theirs: ObjectId,
    our_changes: &[Change],
    their_changes: &[Change],
) -> Result<Plan, GitError> {
    let ours = by_id(our_changes);
    let their = by_id(their_changes);
    let mut plan = Plan::default();
    // What each id is after the merge, where the merge changes it (None: deleted).
    let mut result: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut renamed_ours: HashMap<String, String> = HashMap::new();
    let mut renamed_theirs: HashMap<String, String> = HashMap::new();
    for (&id, &t) in &their {
        let Some(&o) = ours.get(id) else {
            result.insert(id.to_string(), t.map(str::to_string));
            plan.taken.push(id.to_string());
            continue;
        };
        if o == t {
            continue;
        }
        let b = match base {
            Some(base) => store.read_bead(base, id)?,
            None => None,
        };
        let merged = merge_line(b.as_deref(), o, t).map_err(|e| GitError::Malformed {
            commit: theirs,
            path: layout::bead_path(id),
            reason: format!("cannot merge the {} side: {}", e.which, e.reason),
        })?;
        match merged {
            Merged::Line(line) => {
                if o.is_none() || t.is_none() {
                    plan.kept_edits.push(id.to_string());
                } else {
                    plan.merged.push(id.to_string());
                }
                if Some(line.as_str()) != o {
                    result.insert(id.to_string(), Some(line));
                }
            }
            Merged::Deleted => {
                plan.merged.push(id.to_string());
                if o.is_some() {
                    result.insert(id.to_string(), None);
                }
            }
            Merged::Collision {
                keep,
                rekey,
                rekey_is_ours,
            } => {
                let new_id = rekeyed_id(id, &rekey);
                if Some(keep.as_str()) != o {
                    result.insert(id.to_string(), Some(keep));
                }
                result.insert(new_id.clone(), Some(rekeyed_line(&rekey, id, &new_id)));
                plan.rekeyed.push((id.to_string(), new_id.clone()));
                if rekey_is_ours {
                    renamed_ours.insert(id.to_string(), new_id);
                } else {
                    renamed_theirs.insert(id.to_string(), new_id);
                }
            }
        }
    }
    // References to a re-keyed bead, in beads changed only on its side, follow it.
    for (renames, side, other) in [
        (&renamed_ours, &ours, &their),
        (&renamed_theirs, &their, &ours),
    ] {
        if renames.is_empty() {
            continue;
        }
        for (&id, &line) in side.iter() {
            if other.contains_key(id) {
                continue;
            }
            let current = result
                .get(id)
                .cloned()
                .unwrap_or_else(|| line.map(str::to_string));
            let Some(current) = current else { continue };
            if let Some(rewritten) = rewrite_references(&current, renames) {
                result.insert(id.to_string(), Some(rewritten));
            }
        }
    }
    plan.changes = result
        .into_iter()
        .map(|(id, line)| match line {
            Some(line) => Change::Put { id, line },
            None => Change::Delete { id },
        })
        .collect();
    Ok(plan)
}

/// `line` as the bead `new_id`: its id and its own dependencies' `issue_id` moved.
fn rekeyed_line(line: &str, old_id: &str, new_id: &str) -> String {
    let Ok(Value::Object(mut bead)) = serde_json::from_str::<Value>(line) else {
        return line.to_string();
    };
    bead.insert("id".to_string(), Value::String(new_id.to_string()));
    if let Some(Value::Array(deps)) = bead.get_mut("dependencies") {
        for dep in deps {
            if dep.get("issue_id").and_then(Value::as_str) == Some(old_id) {
                dep["issue_id"] = Value::String(new_id.to_string());
            }
        }
    }
    Value::Object(bead).to_string()
}

/// `line` with its dependencies on renamed beads pointing at their new ids; `None` when it has
/// none.
fn rewrite_references(line: &str, renames: &HashMap<String, String>) -> Option<String> {
    let Ok(Value::Object(mut bead)) = serde_json::from_str::<Value>(line) else {
        return None;
    };
    let mut changed = false;
    if let Some(Value::Array(deps)) = bead.get_mut("dependencies") {
        for dep in deps {
            let target = dep.get("depends_on_id").and_then(Value::as_str);
            if let Some(new) = target.and_then(|t| renames.get(t)) {
                dep["depends_on_id"] = Value::String(new.clone());
                changed = true;
            }
        }
    }
    changed.then(|| Value::Object(bead).to_string())
}
