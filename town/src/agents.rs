//! Identities as beads: one bead of type `agent` per address, durable across sessions and
//! restarts of `gastown run`.
//!
//! The bead's id is derived from the address (`<prefix>-agent-<hash>`), so finding an identity
//! is a lookup, not a scan, and there is one per address ([`merge_duplicates`] folds older
//! ledgers that have more). Its fields are read and written through [`AgentRecord`] (see
//! [`record`] for the list); the functions here are the ledger operations on them.

mod duplicates;
pub mod record;

pub use duplicates::{Duplicates, find_duplicates, merge_duplicates};
pub use record::{AgentRecord, AgentState, DND, Session, address_of};

use crate::identity::AgentIdentity;
use gastown_beads::{Bead, IssueType, Ledger, LedgerError, NewBead, Status};

use crate::defaults::SESSION_HISTORY;

/// The agent bead id of `address` in a ledger with `prefix` (see [`crate::names::bead_id`]).
pub fn agent_bead_id(prefix: &str, address: &str) -> String {
    crate::names::bead_id_of_address(prefix, address)
}

/// The agent bead of `identity`, created (idle, no hook) when it has none yet.
pub fn ensure(ledger: &mut Ledger, identity: &AgentIdentity) -> Result<AgentRecord, LedgerError> {
    let id = agent_bead_id(&ledger.config().prefix, &identity.address);
    if let Some(bead) = ledger.get(&id)? {
        return Ok(AgentRecord::from_bead(&bead)?);
    }
    let new = NewBead {
        title: identity.address.clone(),
        issue_type: IssueType::Agent,
        priority: 2,
        extra: AgentRecord::new_fields(identity).into_extra(),
        ..NewBead::default()
    };
    let bead = ledger.create_with_id(&id, new, "gastown")?;
    Ok(AgentRecord::from_bead(&bead)?)
}

/// The agent bead of `address`, read, without creating it.
pub fn find(ledger: &Ledger, address: &str) -> Result<Option<AgentRecord>, LedgerError> {
    let id = agent_bead_id(&ledger.config().prefix, address);
    match ledger.get(&id)? {
        Some(bead) => Ok(Some(AgentRecord::from_bead(&bead)?)),
        None => Ok(None),
    }
}

/// Set the identity's state and hook.
pub fn set_state(
    ledger: &mut Ledger,
    identity: &AgentIdentity,
    state: AgentState,
    hook: Option<&str>,
) -> Result<(), LedgerError> {
    let agent = ensure(ledger, identity)?;
    AgentRecord::state_fields(&state, hook).write(ledger, &agent.id, "gastown")?;
    Ok(())
}

/// Record the runtime every later start of the identity uses (a restart of its session, the
/// GUPP patrol, a restart of `gastown run`, a handoff). Only an explicit choice changes it:
/// `sling --runtime`, `agent spawn --runtime`, or the first decision for a new identity.
pub fn record_runtime(
    ledger: &mut Ledger,
    identity: &AgentIdentity,
    runtime: &str,
) -> Result<(), LedgerError> {
    let agent = ensure(ledger, identity)?;
    AgentRecord::runtime_field(runtime).write(ledger, &agent.id, "gastown")?;
    Ok(())
}

/// Mark the identity stuck: it cannot start (`reason` says why). Its hook is left as it is.
/// Returns true when this starts a stuck streak (the identity was not stuck), so whoever must
/// be told is told once per streak, not once per retry.
pub fn mark_stuck(
    ledger: &mut Ledger,
    identity: &AgentIdentity,
    reason: &str,
) -> Result<bool, LedgerError> {
    let agent = ensure(ledger, identity)?;
    let new_streak = agent.state != AgentState::Stuck;
    let now = gastown_beads::time::now_rfc3339();
    let since = new_streak.then_some(now.as_str());
    AgentRecord::stuck_fields(reason, since).write(ledger, &agent.id, "gastown")?;
    Ok(new_streak)
}

/// End a stuck streak: a session of the identity runs. Back to `working` with a hook, else
/// `idle`. Returns whether it was stuck.
pub fn clear_stuck(ledger: &mut Ledger, identity: &AgentIdentity) -> Result<bool, LedgerError> {
    let Some(agent) = find(ledger, &identity.address)? else {
        return Ok(false);
    };
    if agent.state != AgentState::Stuck {
        return Ok(false);
    }
    let state = match agent.hook {
        Some(_) => AgentState::Working,
        None => AgentState::Idle,
    };
    set_state(ledger, identity, state, None)?;
    Ok(true)
}

/// Record a session's start in the identity's history. `session_id` names it, so its end is
/// recorded on it and on no other (see [`session_ended`]); sessions of earlier runs of the
/// supervisor (ids not starting with `run_prefix`) that were never closed are closed now: their
/// end was lost with that run. `account` is the runtime's account it runs under, if any.
pub fn session_started(
    ledger: &mut Ledger,
    identity: &AgentIdentity,
    session_id: &str,
    (runtime, account): (&str, Option<&str>),
    run_prefix: &str,
) -> Result<(), LedgerError> {
    let agent = ensure(ledger, identity)?;
    let mut sessions = agent.sessions;
    let now = gastown_beads::time::now_rfc3339();
    for stale in sessions.iter_mut().filter(|s| {
        s.ended_at.is_none() && !s.id.as_deref().is_some_and(|id| id.starts_with(run_prefix))
    }) {
        stale.ended_at = Some(now.clone());
        stale.exit = Some("unknown: the supervisor that ran it stopped first".to_string());
    }
    sessions.push(Session {
        id: Some(session_id.to_string()),
        runtime: Some(runtime.to_string()),
        account: account.map(str::to_string),
        started_at: Some(now),
        ..Session::default()
    });
    let keep = sessions.len().saturating_sub(SESSION_HISTORY);
    AgentRecord::sessions_field(&sessions.split_off(keep)).write(ledger, &agent.id, "gastown")?;
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
    let Some(agent) = find(ledger, address)? else {
        return Ok(());
    };
    let mut sessions = agent.sessions;
    let Some(session) = sessions
        .iter_mut()
        .find(|s| s.id.as_deref() == Some(session_id) && s.ended_at.is_none())
    else {
        return Ok(());
    };
    session.ended_at = Some(gastown_beads::time::now_rfc3339());
    session.exit = Some(exit.to_string());
    AgentRecord::sessions_field(&sessions).write(ledger, &agent.id, "gastown")?;
    Ok(())
}

/// Record `runtime_session` (the runtime's own session id) on a session of `address`: the one
/// with id `session_id`, or (`None`) its newest session still running — and, when given, where
/// the runtime records its usage (`transcript`). Returns whether a session took it; writes
/// nothing when it already had both.
pub fn runtime_session_seen(
    ledger: &mut Ledger,
    address: &str,
    session_id: Option<&str>,
    runtime_session: &str,
    transcript: Option<&str>,
) -> Result<bool, LedgerError> {
    let Some(agent) = find(ledger, address)? else {
        return Ok(false);
    };
    let mut sessions = agent.sessions;
    let found = match session_id {
        Some(id) => sessions.iter_mut().find(|s| s.id.as_deref() == Some(id)),
        None => sessions.iter_mut().rev().find(|s| s.ended_at.is_none()),
    };
    let Some(session) = found else {
        return Ok(false);
    };
    let transcript_known = transcript.is_none() || session.transcript.as_deref() == transcript;
    if session.runtime_session.as_deref() == Some(runtime_session) && transcript_known {
        return Ok(true);
    }
    session.runtime_session = Some(runtime_session.to_string());
    if let Some(transcript) = transcript
        && session.transcript.as_deref() != Some(transcript)
    {
        // Another file: read it from its start.
        session.transcript = Some(transcript.to_string());
        session.cursor = None;
    }
    AgentRecord::sessions_field(&sessions).write(ledger, &agent.id, "gastown")?;
    Ok(true)
}

/// Is the bead an open agent bead?
pub fn is_live(bead: &Bead) -> bool {
    bead.issue_type == IssueType::Agent && bead.status != Status::Closed
}

#[cfg(test)]
mod tests;
