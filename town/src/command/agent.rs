//! What the ledger says about one agent: `gastown hook` (show) and `gastown seance`, and the one
//! thing a session tells about itself: its runtime's own session id (`gastown hook
//! session-start`, Claude Code's SessionStart hook).
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
    /// The runtime's account it ran under (`-`: the runtime has no accounts).
    pub account: String,
    pub started_at: String,
    pub ended_at: String,
    pub exit: String,
    /// The runtime's own session id (`-` when it never told it), for its resume command.
    pub runtime_session: String,
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
            account: get(&s.account),
            started_at: get(&s.started_at),
            ended_at: get(&s.ended_at),
            exit: get(&s.exit),
            runtime_session: get(&s.runtime_session),
        })
        .collect();
    Ok(Seance {
        agent: agent.to_string(),
        state: Some(record.state.to_string()),
        sessions,
    })
}

/// The longest runtime session id accepted (Claude's and Codex's are 36-character UUIDs).
pub const MAX_RUNTIME_SESSION: usize = 128;

/// `gastown hook session-start`: the calling agent's running session is, in its runtime, session
/// `id` (recorded on its agent bead for `gastown seance`), its usage recorded in `transcript`
/// (for `gastown costs`). Only an agent's session can say so.
pub fn runtime_session(
    ledger: &mut Ledger,
    caller: &Caller,
    id: &str,
    transcript: Option<&str>,
) -> Result<()> {
    let Caller::Agent(identity) = caller else {
        bail!(
            "only an agent's session records its runtime session id (it runs as Claude Code's SessionStart hook)"
        );
    };
    check_runtime_session(id)?;
    if let Some(path) = transcript {
        check_transcript(path)?;
        check_transcript_is_its_own(ledger, &identity.address, id, path)?;
    }
    if !agents::runtime_session_seen(ledger, &identity.address, None, id, transcript)? {
        bail!(
            "{} has no running session to record runtime session {id} on",
            identity.address
        );
    }
    Ok(())
}

/// The longest transcript path accepted.
pub const MAX_TRANSCRIPT: usize = 4096;

/// A transcript path is absolute (the collector reads it from wherever it runs) and one line.
pub fn check_transcript(path: &str) -> Result<()> {
    if path.len() > MAX_TRANSCRIPT {
        bail!(
            "a transcript path must be at most {MAX_TRANSCRIPT} bytes, got {}",
            path.len()
        );
    }
    if !std::path::Path::new(path).is_absolute() || path.chars().any(char::is_control) {
        bail!(
            "a transcript path must be absolute and one line, got {path:?}: pass the runtime's `transcript_path` as it gives it"
        );
    }
    Ok(())
}

/// A session names only its own transcript: Claude Code's (and the sim's) is named by the
/// session's id, and no other identity may have recorded it — else an agent could have another's
/// usage counted twice (spending the town's budget) or read as its own.
fn check_transcript_is_its_own(ledger: &Ledger, address: &str, id: &str, path: &str) -> Result<()> {
    let file = std::path::Path::new(path);
    if file.file_stem().and_then(|s| s.to_str()) != Some(id) {
        bail!(
            "transcript {path} is not runtime session {id}'s: a session's transcript is named by \
             its id (`<id>.jsonl`); pass the runtime's own `session_id` and `transcript_path`"
        );
    }
    let agents = ledger.list(&gastown_beads::ListFilter {
        issue_type: Some(gastown_beads::IssueType::Agent),
        all: true,
        ..gastown_beads::ListFilter::default()
    })?;
    for bead in agents {
        let Ok(other) = agents::AgentRecord::from_bead(&bead) else {
            continue;
        };
        if other.address != address
            && other
                .sessions
                .iter()
                .any(|s| s.transcript.as_deref() == Some(path))
        {
            bail!(
                "transcript {path} is recorded for {} already: a transcript is counted for one \
                 agent only",
                other.address
            );
        }
    }
    Ok(())
}

/// A runtime session id is a short token of letters, digits, `-`, `_` and `.` (it ends up in a
/// command line: `claude --resume <id>`).
pub fn check_runtime_session(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_RUNTIME_SESSION {
        bail!(
            "a runtime session id must be 1 to {MAX_RUNTIME_SESSION} characters, got {}",
            id.len()
        );
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        bail!("a runtime session id holds only letters, digits, '-', '_' and '.', not {bad:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_records_its_runtime_session_id_and_seance_shows_it() {
        let (_dir, _town, mut ledger) = crate::testing::town();
        let identity = AgentIdentity::parse("mayor").expect("address");
        agents::session_started(&mut ledger, &identity, "9.1-1", ("claude", None), "9.1-")
            .expect("started");
        let caller = Caller::Agent(identity.clone());
        runtime_session(
            &mut ledger,
            &caller,
            "0199a1b2-c3d4",
            Some("/t/0199a1b2-c3d4.jsonl"),
        )
        .expect("recorded");
        let shown = seance(&ledger, "mayor").expect("seance");
        assert_eq!(shown.sessions.len(), 1);
        assert_eq!(shown.sessions[0].runtime_session, "0199a1b2-c3d4");
        let record = agents::find(&ledger, "mayor")
            .expect("read")
            .expect("agent");
        assert_eq!(
            record.sessions[0].transcript.as_deref(),
            Some("/t/0199a1b2-c3d4.jsonl")
        );
        let relative = runtime_session(&mut ledger, &caller, "0199a1b2-c3d4", Some("t.jsonl"))
            .expect_err("relative");
        assert!(
            relative.to_string().contains("must be absolute"),
            "{relative}"
        );

        let refused =
            runtime_session(&mut ledger, &Caller::Overseer, "x", None).expect_err("overseer");
        assert!(
            refused.to_string().contains("only an agent's session"),
            "{refused}"
        );
        for bad in [
            "",
            "a b",
            "x;rm -rf /",
            &"x".repeat(MAX_RUNTIME_SESSION + 1),
        ] {
            let error = runtime_session(&mut ledger, &caller, bad, None).expect_err(bad);
            assert!(error.to_string().contains("runtime session id"), "{error}");
        }

        // Another agent may not name the mayor's transcript, nor one that is not its session's.
        let deacon = AgentIdentity::parse("deacon").expect("address");
        agents::session_started(&mut ledger, &deacon, "9.1-2", ("claude", None), "9.1-")
            .expect("started");
        let as_deacon = Caller::Agent(deacon);
        let stolen = runtime_session(
            &mut ledger,
            &as_deacon,
            "0199a1b2-c3d4",
            Some("/t/0199a1b2-c3d4.jsonl"),
        )
        .expect_err("the mayor's transcript");
        assert!(
            stolen.to_string().contains("recorded for mayor"),
            "{stolen}"
        );
        let renamed = runtime_session(&mut ledger, &as_deacon, "d-1", Some("/t/other.jsonl"))
            .expect_err("not its session's");
        assert!(renamed.to_string().contains("named by its id"), "{renamed}");
        runtime_session(&mut ledger, &as_deacon, "d-1", Some("/t/d-1.jsonl")).expect("its own");

        agents::session_ended(&mut ledger, "mayor", "9.1-1", "exit code 0").expect("ended");
        let error =
            runtime_session(&mut ledger, &caller, "later", None).expect_err("no running session");
        assert!(error.to_string().contains("no running session"), "{error}");
    }
}
