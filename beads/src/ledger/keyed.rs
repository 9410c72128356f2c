//! Beads whose id the caller chooses, and machine fields in `extra`.
//!
//! Identities (agent beads) have ids derived from their address so that finding one is a lookup;
//! their state lives in `extra` fields that the classic schema does not have, which a round trip
//! keeps like any unknown field.

use super::{Ledger, NewBead, event};
use crate::error::LedgerError;
use crate::id;
use crate::model::{Bead, EventKind};
use serde_json::{Map, Value};

impl Ledger {
    /// Create a bead with the given id; refuses an id that is taken (never overwrites).
    pub fn create_with_id(
        &mut self,
        id: &str,
        new: NewBead,
        actor: &str,
    ) -> Result<Bead, LedgerError> {
        id::validate_id(id).map_err(|e| LedgerError::InvalidId(e.to_string()))?;
        if new.priority > 4 {
            return Err(LedgerError::InvalidPriority(new.priority));
        }
        if self.get(id)?.is_some() {
            return Err(LedgerError::Invalid(format!(
                "bead {id} already exists; pick another id"
            )));
        }
        for (_, target) in &new.deps {
            self.require(target)?;
        }
        let now = crate::time::now_rfc3339();
        let bead = super::mutate::new_bead(id.to_string(), new, actor, &now);
        let created = event(
            &bead.id,
            EventKind::Created,
            actor,
            &now,
            None,
            Some(bead.title.clone()),
        );
        self.write_bead(bead, vec![created], Vec::new())
    }

    /// Set (or, with `Value::Null`, remove) fields of a bead's `extra` map.
    pub fn set_extra(
        &mut self,
        id: &str,
        fields: Map<String, Value>,
        actor: &str,
    ) -> Result<Bead, LedgerError> {
        let mut bead = self.load(id)?;
        let mut changed = Vec::new();
        for (key, value) in fields {
            if value.is_null() {
                if bead.extra.remove(&key).is_some() {
                    changed.push(key);
                }
            } else if bead.extra.get(&key) != Some(&value) {
                bead.extra.insert(key.clone(), value);
                changed.push(key);
            }
        }
        if changed.is_empty() {
            return Ok(bead);
        }
        let now = crate::time::now_rfc3339();
        bead.updated_at = now.clone();
        let updated = event(
            id,
            EventKind::Updated,
            actor,
            &now,
            None,
            Some(changed.join(",")),
        );
        self.write_bead(bead, vec![updated], Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use crate::ledger::{Ledger, LedgerConfig, NewBead};
    use serde_json::{Map, json};
    use std::time::Duration;

    fn ledger(dir: &std::path::Path) -> Ledger {
        let status = std::process::Command::new("git")
            .args(["init", "--quiet"])
            .arg(dir)
            .status()
            .expect("git runs");
        assert!(status.success());
        Ledger::open(LedgerConfig {
            repo_path: dir.to_path_buf(),
            index_path: dir.join("ledger.redb"),
            lock_path: dir.join("ledger.lock"),
            prefix: "gt".into(),
            git_ref: "refs/heads/beads".into(),
            commit_delay: Duration::from_secs(1),
            author_name: "t".into(),
            author_email: "t@t".into(),
        })
        .expect("opens")
    }

    #[test]
    fn chosen_ids_never_overwrite_and_extra_fields_change_and_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut l = ledger(dir.path());
        let new = || NewBead {
            title: "alpha/crew/max".into(),
            priority: 2,
            ..NewBead::default()
        };
        let made = l
            .create_with_id("gt-agent-abc", new(), "t")
            .expect("created");
        assert_eq!(made.id, "gt-agent-abc");
        assert!(
            l.create_with_id("gt-agent-abc", new(), "t").is_err(),
            "never overwrites"
        );
        assert!(
            l.create_with_id("../x", new(), "t").is_err(),
            "ids are validated"
        );

        let mut set = Map::new();
        set.insert("agent_state".into(), json!("working"));
        let b = l.set_extra("gt-agent-abc", set, "t").expect("set");
        assert_eq!(b.extra["agent_state"], "working");
        let mut unset = Map::new();
        unset.insert("agent_state".into(), serde_json::Value::Null);
        let b = l.set_extra("gt-agent-abc", unset, "t").expect("unset");
        assert!(!b.extra.contains_key("agent_state"));
        assert_eq!(
            l.get("gt-agent-abc").expect("get").expect("exists").title,
            "alpha/crew/max"
        );
    }
}
