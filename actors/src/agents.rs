//! Identities as beads: one bead of type `agent` per address, durable across sessions and
//! restarts of `gastown run`.
//!
//! The bead's id is derived from the address (`<prefix>-agent-<hash>`), so finding an identity
//! is a lookup, not a scan. Its `extra` fields: `address`, `role`, `rig`, `agent_state` (idle,
//! working, done, stuck, escalated), `hook` (the hooked bead's id or ""), and `sessions`: the
//! history of its sessions (`id`, `runtime`, `started_at`, `ended_at`, `exit`, `runtime_session`).

use crate::identity::AgentIdentity;
use gastown_beads::{Bead, IssueType, Ledger, LedgerError, NewBead, Status};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// How many past sessions an identity keeps in its history.
const SESSION_HISTORY: usize = 50;

/// The agent bead id of `address` in a ledger with `prefix`.
pub fn agent_bead_id(prefix: &str, address: &str) -> String {
    let digest = Sha256::digest(address.as_bytes());
    let mut n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes of a 32-byte digest"));
    let mut hash = String::new();
    for _ in 0..8 {
        let d = (n % 36) as u32;
        hash.push(char::from_digit(d, 36).expect("a base-36 digit"));
        n /= 36;
    }
    format!("{prefix}-agent-{hash}")
}

/// The agent bead of `identity`, created (idle, no hook) when it has none yet.
pub fn ensure(ledger: &mut Ledger, identity: &AgentIdentity) -> Result<Bead, LedgerError> {
    let id = agent_bead_id(&ledger.config().prefix, &identity.address);
    if let Some(bead) = ledger.get(&id)? {
        return Ok(bead);
    }
    let mut extra = Map::new();
    extra.insert("address".into(), json!(identity.address));
    extra.insert("role".into(), json!(identity.role.as_str()));
    extra.insert(
        "rig".into(),
        json!(identity.rig.clone().unwrap_or_default()),
    );
    extra.insert("agent_state".into(), json!("idle"));
    extra.insert("hook".into(), json!(""));
    extra.insert("sessions".into(), json!([]));
    let new = NewBead {
        title: identity.address.clone(),
        issue_type: IssueType::Agent,
        priority: 2,
        extra,
        ..NewBead::default()
    };
    ledger.create_with_id(&id, new, "gastown")
}

/// Find the agent bead of `address` without creating it.
pub fn find(ledger: &Ledger, address: &str) -> Result<Option<Bead>, LedgerError> {
    let id = agent_bead_id(&ledger.config().prefix, address);
    ledger.get(&id)
}

/// Set the identity's state and hook.
pub fn set_state(
    ledger: &mut Ledger,
    identity: &AgentIdentity,
    state: &str,
    hook: Option<&str>,
) -> Result<Bead, LedgerError> {
    let bead = ensure(ledger, identity)?;
    let mut extra = Map::new();
    extra.insert("agent_state".into(), json!(state));
    if let Some(hook) = hook {
        extra.insert("hook".into(), json!(hook));
    }
    ledger.set_extra(&bead.id, extra, "gastown")
}

/// The identity's state (`idle` when unknown).
pub fn state_of(bead: &Bead) -> &str {
    bead.extra
        .get("agent_state")
        .and_then(Value::as_str)
        .unwrap_or("idle")
}

/// Record a session's start in the identity's history.
pub fn session_started(
    ledger: &mut Ledger,
    identity: &AgentIdentity,
    session_id: &str,
    runtime: &str,
) -> Result<(), LedgerError> {
    let bead = ensure(ledger, identity)?;
    let mut sessions = sessions_of(&bead);
    sessions.push(json!({
        "id": session_id,
        "runtime": runtime,
        "started_at": gastown_beads::time::now_rfc3339(),
    }));
    let keep = sessions.len().saturating_sub(SESSION_HISTORY);
    let mut extra = Map::new();
    extra.insert("sessions".into(), Value::Array(sessions.split_off(keep)));
    ledger.set_extra(&bead.id, extra, "gastown")?;
    Ok(())
}

/// Record how the identity's latest open session ended.
pub fn session_ended(ledger: &mut Ledger, address: &str, exit: &str) -> Result<(), LedgerError> {
    let Some(bead) = find(ledger, address)? else {
        return Ok(());
    };
    let mut sessions = sessions_of(&bead);
    let Some(last) = sessions
        .iter_mut()
        .rev()
        .find(|s| s.get("ended_at").is_none())
    else {
        return Ok(());
    };
    last["ended_at"] = json!(gastown_beads::time::now_rfc3339());
    last["exit"] = json!(exit);
    let mut extra = Map::new();
    extra.insert("sessions".into(), Value::Array(sessions));
    ledger.set_extra(&bead.id, extra, "gastown")?;
    Ok(())
}

/// The session history of an agent bead, oldest first.
pub fn sessions_of(bead: &Bead) -> Vec<Value> {
    bead.extra
        .get("sessions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Is the bead an open agent bead?
pub fn is_live(bead: &Bead) -> bool {
    bead.issue_type == IssueType::Agent && bead.status != Status::Closed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_valid_and_distinct() {
        let a = agent_bead_id("gt", "alpha/polecats/nux");
        assert_eq!(a, agent_bead_id("gt", "alpha/polecats/nux"));
        assert_ne!(a, agent_bead_id("gt", "alpha/polecats/slit"));
        gastown_beads::id::validate_id(&a).expect("a valid bead id");
    }
}
