//! Identities as beads: one bead of type `agent` per address, durable across sessions and
//! restarts of `gastown run`.
//!
//! The bead's id is derived from the address (`<prefix>-agent-<hash>`), so finding an identity
//! is a lookup, not a scan, and there is one per address ([`merge_duplicates`] folds older
//! ledgers that have more). Its `extra` fields:
//!
//! | field | meaning |
//! |---|---|
//! | `address`, `role`, `rig` | who it is |
//! | `agent_state` | `idle`, `working`, `stuck`, `escalated` |
//! | `hook` | the hooked bead's id, or "" |
//! | `runtime` | the runtime every start of the identity uses (see [`record_runtime`]) |
//! | `stuck_reason`, `stuck_since` | why and since when it cannot start, while `stuck` |
//! | `sessions` | history: `id`, `runtime`, `started_at`, `ended_at`, `exit` (the last 50) |

mod duplicates;

pub use duplicates::merge_duplicates;

use crate::identity::AgentIdentity;
use gastown_beads::{Bead, IssueType, Ledger, LedgerError, NewBead, Status};
use serde_json::{Map, Value, json};

/// How many past sessions an identity keeps in its history.
const SESSION_HISTORY: usize = 50;

/// The state of an identity that cannot start (see [`mark_stuck`]).
pub const STUCK: &str = "stuck";

/// The agent bead id of `address` in a ledger with `prefix` (see [`crate::names::bead_id`]).
pub fn agent_bead_id(prefix: &str, address: &str) -> String {
    crate::names::bead_id_of_address(prefix, address)
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

/// The address an agent bead stands for: its `address` field, else (beads made by hand or by
/// older versions) its title.
pub fn address_of(bead: &Bead) -> &str {
    bead.extra
        .get("address")
        .and_then(Value::as_str)
        .unwrap_or(&bead.title)
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
    if state != STUCK {
        extra.insert("stuck_reason".into(), Value::Null);
        extra.insert("stuck_since".into(), Value::Null);
    }
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

/// The runtime recorded for the identity, if any.
pub fn runtime_of(bead: &Bead) -> Option<&str> {
    bead.extra
        .get("runtime")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
}

/// Record the runtime every later start of the identity uses (a restart of its session, the
/// GUPP patrol, a restart of `gastown run`, a handoff). Only an explicit choice changes it:
/// `sling --runtime`, `agent spawn --runtime`, or the first decision for a new identity.
pub fn record_runtime(
    ledger: &mut Ledger,
    identity: &AgentIdentity,
    runtime: &str,
) -> Result<Bead, LedgerError> {
    let bead = ensure(ledger, identity)?;
    let mut extra = Map::new();
    extra.insert("runtime".into(), json!(runtime));
    ledger.set_extra(&bead.id, extra, "gastown")
}

/// Why the identity cannot start, while it is stuck.
pub fn stuck_reason(bead: &Bead) -> Option<&str> {
    (state_of(bead) == STUCK).then(|| {
        bead.extra
            .get("stuck_reason")
            .and_then(Value::as_str)
            .unwrap_or("")
    })
}

/// Mark the identity stuck: it cannot start (`reason` says why). Its hook is left as it is.
/// Returns true when this starts a stuck streak (the identity was not stuck), so whoever must
/// be told is told once per streak, not once per retry.
pub fn mark_stuck(
    ledger: &mut Ledger,
    identity: &AgentIdentity,
    reason: &str,
) -> Result<bool, LedgerError> {
    let bead = ensure(ledger, identity)?;
    let new_streak = state_of(&bead) != STUCK;
    let mut extra = Map::new();
    extra.insert("agent_state".into(), json!(STUCK));
    extra.insert("stuck_reason".into(), json!(reason));
    if new_streak {
        extra.insert(
            "stuck_since".into(),
            json!(gastown_beads::time::now_rfc3339()),
        );
    }
    ledger.set_extra(&bead.id, extra, "gastown")?;
    Ok(new_streak)
}

/// End a stuck streak: a session of the identity runs. Back to `working` with a hook, else
/// `idle`. Returns whether it was stuck.
pub fn clear_stuck(ledger: &mut Ledger, identity: &AgentIdentity) -> Result<bool, LedgerError> {
    let Some(bead) = find(ledger, &identity.address)? else {
        return Ok(false);
    };
    if state_of(&bead) != STUCK {
        return Ok(false);
    }
    let hooked = bead
        .extra
        .get("hook")
        .and_then(Value::as_str)
        .is_some_and(|h| !h.is_empty());
    set_state(
        ledger,
        identity,
        if hooked { "working" } else { "idle" },
        None,
    )?;
    Ok(true)
}

/// Record a session's start in the identity's history. `session_id` names it, so its end is
/// recorded on it and on no other (see [`session_ended`]); sessions of earlier runs of the
/// supervisor (ids not starting with `run_prefix`) that were never closed are closed now: their
/// end was lost with that run.
pub fn session_started(
    ledger: &mut Ledger,
    identity: &AgentIdentity,
    session_id: &str,
    runtime: &str,
    run_prefix: &str,
) -> Result<(), LedgerError> {
    let bead = ensure(ledger, identity)?;
    let mut sessions = sessions_of(&bead);
    let now = gastown_beads::time::now_rfc3339();
    for stale in sessions.iter_mut().filter(|s| {
        s.get("ended_at").is_none()
            && !s
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.starts_with(run_prefix))
    }) {
        stale["ended_at"] = json!(now);
        stale["exit"] = json!("unknown: the supervisor that ran it stopped first");
    }
    sessions.push(json!({
        "id": session_id,
        "runtime": runtime,
        "started_at": now,
    }));
    let keep = sessions.len().saturating_sub(SESSION_HISTORY);
    let mut extra = Map::new();
    extra.insert("sessions".into(), Value::Array(sessions.split_off(keep)));
    ledger.set_extra(&bead.id, extra, "gastown")?;
    Ok(())
}

/// Record how session `session_id` of `address` ended. A session already closed, or no longer
/// in the history, is left alone.
pub fn session_ended(
    ledger: &mut Ledger,
    address: &str,
    session_id: &str,
    exit: &str,
) -> Result<(), LedgerError> {
    let Some(bead) = find(ledger, address)? else {
        return Ok(());
    };
    let mut sessions = sessions_of(&bead);
    let Some(session) = sessions.iter_mut().find(|s| {
        s.get("id").and_then(Value::as_str) == Some(session_id) && s.get("ended_at").is_none()
    }) else {
        return Ok(());
    };
    session["ended_at"] = json!(gastown_beads::time::now_rfc3339());
    session["exit"] = json!(exit);
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
mod tests;
