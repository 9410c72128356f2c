//! [`AgentRecord`]: the typed view of an agent bead, the one owner of its fields.
//!
//! | field | meaning |
//! |---|---|
//! | `address`, `role`, `rig` | who it is |
//! | `agent_state` | `idle`, `working`, `stuck`, `escalated` ([`AgentState`]) |
//! | `hook` | the hooked bead's id, or "" |
//! | `runtime` | the runtime every start of the identity uses |
//! | `stuck_reason`, `stuck_since` | why and since when it cannot start, while `stuck` |
//! | `sessions` | history: `id`, `runtime`, `started_at`, `ended_at`, `exit`, `runtime_session`, `transcript`, `cursor` ([`Session`]) |
//! | `usage` | tokens its sessions used, per runtime, model, UTC day and bead ([`crate::costs::record::UsageEntry`]) |
//!
//! and the label `dnd` while the identity is in do-not-disturb (`crate::mail::dnd`).

use crate::identity::AgentIdentity;
use gastown_beads::{Bead, ExtraPatch, FieldError, Fields};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The label on an agent bead while its identity is in do-not-disturb.
pub const DND: &str = "dnd";

/// What an identity is doing, as its agent bead records it (`agent_state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    /// Nothing on its hook (also what a bead without the field reads as).
    Idle,
    /// Working what is on its hook.
    Working,
    /// It cannot start (see [`super::mark_stuck`]).
    Stuck,
    /// Handed to the mayor.
    Escalated,
    /// A state another tool wrote, kept as it is.
    Other(String),
}

impl AgentState {
    /// The word in the ledger.
    pub fn as_str(&self) -> &str {
        match self {
            AgentState::Idle => "idle",
            AgentState::Working => "working",
            AgentState::Stuck => "stuck",
            AgentState::Escalated => "escalated",
            AgentState::Other(s) => s,
        }
    }

    fn parse(word: &str) -> AgentState {
        match word {
            "idle" => AgentState::Idle,
            "working" => AgentState::Working,
            "stuck" => AgentState::Stuck,
            "escalated" => AgentState::Escalated,
            other => AgentState::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One session in an identity's history (`sessions`). Every field is optional, as the history
/// of older ledgers may lack one; fields this version does not know are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The session's id (it starts with the id of the supervisor run that started it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// The runtime's account it ran under, when the runtime has accounts
    /// (`crate::runtimes::accounts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Absent while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// How it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<String>,
    /// The runtime's own id of the session (Claude Code's `session_id`, Codex's rollout id), for
    /// resuming it (`gastown seance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_session: Option<String>,
    /// Where the runtime records this session's usage: Claude Code's transcript (its
    /// SessionStart hook's `transcript_path`), Codex's rollout file, the sim's transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// How far the cost collector has read `transcript` (`crate::costs::collect`); written in the
    /// same ledger write as the tokens it read, so nothing is counted twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<crate::costs::usage::Cursor>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An agent bead, read.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRecord {
    /// The bead's id (derived from the address, see [`super::agent_bead_id`]).
    pub id: String,
    /// `address`, else the title (beads made by hand or by older versions).
    pub address: String,
    /// `role` ("" when the bead does not say).
    pub role: String,
    /// `rig` ("" for the town's own roles).
    pub rig: String,
    /// `agent_state` (idle when the bead does not say).
    pub state: AgentState,
    /// `hook`: the hooked bead's id.
    pub hook: Option<String>,
    /// `runtime`: the runtime every start of the identity uses.
    pub runtime: Option<String>,
    /// `stuck_reason`, as recorded (see [`AgentRecord::stuck`]).
    pub stuck_reason: Option<String>,
    /// `stuck_since`: when the current stuck streak began.
    pub stuck_since: Option<String>,
    /// `sessions`, oldest first.
    pub sessions: Vec<Session>,
    /// `usage`: the tokens its sessions used, per runtime, model, UTC day and bead.
    pub usage: Vec<crate::costs::record::UsageEntry>,
    /// The `dnd` label: its mail is held.
    pub dnd: bool,
    /// The bead is closed (a folded duplicate): it no longer stands for the identity.
    pub closed: bool,
}

/// The address an agent bead stands for: its `address` field, else its title. Lenient (a
/// malformed field reads as absent), for scans that must see every agent bead.
pub fn address_of(bead: &Bead) -> &str {
    Fields::of(bead)
        .text("address")
        .ok()
        .flatten()
        .unwrap_or(&bead.title)
}

impl AgentRecord {
    /// Read an agent bead; a field of the wrong type is an error naming the bead and the field.
    pub fn from_bead(bead: &Bead) -> Result<AgentRecord, FieldError> {
        let f = Fields::of(bead);
        let text = |field| Ok::<_, FieldError>(f.text(field)?.unwrap_or("").to_string());
        let owned = |v: Option<&str>| v.map(str::to_string);
        Ok(AgentRecord {
            id: bead.id.clone(),
            address: owned(f.text("address")?).unwrap_or_else(|| bead.title.clone()),
            role: text("role")?,
            rig: text("rig")?,
            state: f
                .text("agent_state")?
                .map_or(AgentState::Idle, AgentState::parse),
            hook: owned(f.non_empty("hook")?),
            runtime: owned(f.non_empty("runtime")?),
            stuck_reason: owned(f.text("stuck_reason")?),
            stuck_since: owned(f.text("stuck_since")?),
            sessions: f
                .parsed("sessions", "a list of sessions")?
                .unwrap_or_default(),
            usage: f
                .parsed("usage", "a list of usage entries")?
                .unwrap_or_default(),
            dnd: bead.labels.iter().any(|l| l == DND),
            closed: bead.is_closed(),
        })
    }

    /// Why the identity cannot start, while it is stuck ("" when no reason was recorded).
    pub fn stuck(&self) -> Option<&str> {
        (self.state == AgentState::Stuck).then(|| self.stuck_reason.as_deref().unwrap_or(""))
    }

    /// The fields of a new agent bead for `identity`: idle, nothing hooked, no history.
    pub fn new_fields(identity: &AgentIdentity) -> ExtraPatch {
        ExtraPatch::default()
            .set("address", identity.address.as_str())
            .set("role", identity.role.as_str())
            .set("rig", identity.rig.clone().unwrap_or_default())
            .set("agent_state", AgentState::Idle.as_str())
            .set("hook", "")
            .set("sessions", Value::Array(Vec::new()))
    }

    /// The address field alone (a bead folded from a stray one, see [`super::merge_duplicates`]).
    pub fn address_field(address: &str) -> ExtraPatch {
        ExtraPatch::default().set("address", address)
    }

    /// A new state, and the hook when given (`Some("")` clears it); any state but stuck ends a
    /// stuck streak.
    pub fn state_fields(state: &AgentState, hook: Option<&str>) -> ExtraPatch {
        let mut patch = ExtraPatch::default().set("agent_state", state.as_str());
        if *state != AgentState::Stuck {
            patch = patch.unset("stuck_reason").unset("stuck_since");
        }
        match hook {
            Some(hook) => patch.set("hook", hook),
            None => patch,
        }
    }

    /// Stuck for `reason`; `since` starts a streak.
    pub fn stuck_fields(reason: &str, since: Option<&str>) -> ExtraPatch {
        let patch = ExtraPatch::default()
            .set("agent_state", AgentState::Stuck.as_str())
            .set("stuck_reason", reason);
        match since {
            Some(since) => patch.set("stuck_since", since),
            None => patch,
        }
    }

    /// The runtime every later start uses.
    pub fn runtime_field(runtime: &str) -> ExtraPatch {
        ExtraPatch::default().set("runtime", runtime)
    }

    /// The session history.
    pub fn sessions_field(sessions: &[Session]) -> ExtraPatch {
        let value = serde_json::to_value(sessions).expect("sessions always serialize");
        ExtraPatch::default().set("sessions", value)
    }

    /// The session history and the usage together: one write, so a session's cursor never
    /// moves without the tokens it read (`crate::costs::collect`).
    pub fn sessions_and_usage_fields(
        sessions: &[Session],
        usage: &[crate::costs::record::UsageEntry],
    ) -> ExtraPatch {
        let usage = serde_json::to_value(usage).expect("usage always serializes");
        Self::sessions_field(sessions).set("usage", usage)
    }
}
