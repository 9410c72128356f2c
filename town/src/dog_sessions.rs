//! Dog sessions: judgement work for the deacon (`docs/dogs.md`). A bead slung to
//! `deacon/dogs/<name>` — when `[roles] dog` in town.toml gives dogs a runtime — goes on that
//! dog's hook, and `gastown run` starts a session of that runtime for it under the deacon's
//! `dogs` supervisor, in the dog's own directory (`<town>/deacon/dogs/<name>`, its own scratch
//! git repository, so an agent's git never touches the town's). The dog finishes with
//! `gastown done`, which closes the bead; a dog session with nothing on its hook for
//! `[run] dog_idle_after` is stopped. A dog name is never a chore's (`crate::dogs::KNOWN`).
//!
//! This file is the domain side: the dogs the ledger knows (their agent beads) and what
//! `gastown dog list` shows of each.

use crate::agents::{AgentRecord, AgentState};
use crate::dogs::DogReport;
use crate::identity::{AgentIdentity, Role};
use anyhow::{Context, Result};
use gastown_beads::{IssueType, Ledger, ListFilter};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What `gastown dog list` shows of a dog session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DogSession {
    /// The runtime recorded for the dog (what `[roles] dog` said when it was slung work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// The bead on its hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// `working` (a session on its hook), `idle` (a session, nothing hooked: stopped after
    /// `[run] dog_idle_after`), `waiting` (hooked, no session: `gastown run` starts one),
    /// `stuck` (its runtime cannot start), `stopped`.
    pub state: String,
}

/// Every dog identity the ledger knows (an agent bead of role `dog`), by name.
pub fn known(ledger: &Ledger) -> Result<Vec<AgentRecord>> {
    let beads = ledger.list(&ListFilter {
        issue_type: Some(IssueType::Agent),
        ..ListFilter::default()
    })?;
    let mut dogs = Vec::new();
    for bead in beads {
        let record = AgentRecord::from_bead(&bead)?;
        let is_dog = AgentIdentity::parse(&record.address).is_ok_and(|i| i.role == Role::Dog);
        if is_dog && !record.closed {
            dogs.push(record);
        }
    }
    dogs.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(dogs)
}

/// The `gastown dog list` entry of a dog session (`running`: its session runs).
pub fn report(record: &AgentRecord, running: bool) -> DogReport {
    let name = record
        .address
        .rsplit('/')
        .next()
        .unwrap_or(&record.address)
        .to_string();
    let hook = record.hook.clone().filter(|h| !h.is_empty());
    let state = match (&record.state, running, &hook) {
        (AgentState::Stuck, _, _) => "stuck",
        (_, true, Some(_)) => "working",
        (_, true, None) => "idle",
        (_, false, Some(_)) => "waiting",
        (_, false, None) => "stopped",
    };
    DogReport {
        name,
        every: String::new(),
        enabled: true,
        running,
        runs: record.sessions.len() as u64,
        last_run: record.sessions.last().and_then(|s| s.started_at.clone()),
        last_outcome: None,
        last_ok: None,
        failures_in_a_row: 0,
        session: Some(DogSession {
            runtime: record.runtime.clone(),
            hook,
            state: state.to_string(),
        }),
    }
}

/// The dog's own directory, made on demand as a git repository of its own: an agent's `git`
/// there finds it, never the town's repository around it (which holds the ledger's branch).
pub fn ready_home(home: &Path) -> Result<()> {
    std::fs::create_dir_all(home).with_context(|| format!("cannot create {}", home.display()))?;
    if home.join(".git").exists() {
        return Ok(());
    }
    crate::git_cli::git(home, &["init", "--quiet"])
        .map(drop)
        .with_context(|| format!("cannot make {} a git repository", home.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dogs_state_is_read_from_its_hook_its_session_and_whether_it_is_stuck() {
        let (_d, _town, mut ledger) = crate::testing::town();
        let rex = AgentIdentity::parse("deacon/dogs/rex").expect("a dog");
        crate::agents::record_runtime(&mut ledger, &rex, "sim").expect("recorded");
        // The mayor is an agent too, and no dog.
        crate::agents::ensure(&mut ledger, &AgentIdentity::parse("mayor").expect("mayor"))
            .expect("mayor");
        let dogs = known(&ledger).expect("known");
        assert_eq!(dogs.len(), 1, "{dogs:?}");
        let state = |record: &AgentRecord, running| {
            report(record, running)
                .session
                .expect("a session entry")
                .state
        };
        assert_eq!(state(&dogs[0], false), "stopped");
        assert_eq!(state(&dogs[0], true), "idle");
        crate::agents::set_state(&mut ledger, &rex, AgentState::Working, Some("gt-1"))
            .expect("hooked");
        let dogs = known(&ledger).expect("known");
        assert_eq!(state(&dogs[0], true), "working");
        assert_eq!(state(&dogs[0], false), "waiting");
        let entry = report(&dogs[0], true);
        assert_eq!(entry.name, "rex");
        let session = entry.session.expect("session");
        assert_eq!(session.hook.as_deref(), Some("gt-1"));
        assert_eq!(session.runtime.as_deref(), Some("sim"));
        crate::agents::mark_stuck(&mut ledger, &rex, "no program").expect("stuck");
        let dogs = known(&ledger).expect("known");
        assert_eq!(state(&dogs[0], false), "stuck");
    }

    #[test]
    fn a_dogs_home_is_a_git_repository_of_its_own() {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path().join("deacon/dogs/rex");
        ready_home(&home).expect("made");
        assert!(home.join(".git").is_dir());
        ready_home(&home).expect("again: nothing to do");
    }
}
