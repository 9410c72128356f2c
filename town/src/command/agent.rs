//! What the ledger says about one agent: `gastown hook` (show) and `gastown seance`.
//!
//! Reading commands, so they return views for the CLI to render; changing a hook (`hook
//! attach|detach|clear`) is a work command ([`crate::work`]).

use super::as_json;
use crate::agents;
use crate::caller::Caller;
use crate::identity::AgentIdentity;
use anyhow::{Result, bail};
use gastown_beads::{Bead, Ledger};
use serde::{Deserialize, Serialize};

/// An agent's hook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookView {
    pub address: String,
    /// The beads on it (one, or none).
    #[serde(with = "as_json")]
    pub beads: Vec<Bead>,
}

/// An identity's earlier sessions (`gastown seance`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seance {
    pub agent: String,
    /// Its state (`working`, `idle`, `stuck`, …); `None` when it has no agent bead: it never
    /// had a session in this town.
    pub state: Option<String>,
    /// Oldest first.
    pub sessions: Vec<SessionRecord>,
}

/// One session of an identity, as its agent bead records it (`-` where a field is missing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub runtime: String,
    pub started_at: String,
    pub ended_at: String,
    pub exit: String,
}

/// The hook of `agent` (default: the caller; the overseer must name one).
pub fn hook(ledger: &Ledger, caller: &Caller, agent: Option<&str>) -> Result<HookView> {
    let address = match (agent, caller) {
        (Some(agent), _) => agent.to_string(),
        (None, Caller::Agent(identity)) => identity.address.clone(),
        (None, Caller::Overseer) => bail!("whose hook? pass --agent <address>"),
    };
    AgentIdentity::parse(&address)?;
    let beads = crate::work::hooked(ledger, &address)?;
    Ok(HookView { address, beads })
}

/// The sessions `agent` had, from its agent bead.
pub fn seance(ledger: &Ledger, agent: &str) -> Result<Seance> {
    let identity = AgentIdentity::parse(agent)?;
    let Some(record) = agents::find(ledger, &identity.address)? else {
        return Ok(Seance {
            agent: agent.to_string(),
            state: None,
            sessions: Vec::new(),
        });
    };
    let get = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    let sessions = record
        .sessions
        .iter()
        .map(|s| SessionRecord {
            id: get(&s.id),
            runtime: get(&s.runtime),
            started_at: get(&s.started_at),
            ended_at: get(&s.ended_at),
            exit: get(&s.exit),
        })
        .collect();
    Ok(Seance {
        agent: agent.to_string(),
        state: Some(record.state.to_string()),
        sessions,
    })
}
