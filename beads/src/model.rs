//! The bead record: the classic beads JSONL schema, field for field.
//!
//! A [`Bead`] reads every line the classic `bd` writes and writes it back as the same JSON value:
//! the fields Gas Town uses are typed, everything else lands in [`Bead::extra`] and is written back
//! unchanged. Like `bd` (Go's `omitempty`), empty strings, empty lists and `false` are not written.
//! Timestamps are kept as the RFC 3339 text they were read as, so a round trip never reformats one.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// One bead: a work item, a message, an agent identity, a molecule step, a convoy, …
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bead {
    /// `prefix-<base36>` or a child id `parent.N`; unique within the ledger.
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub design: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub acceptance_criteria: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Current `bd` leaves it out when empty (Go's `omitempty`) and reads that as `open`.
    #[serde(default)]
    pub status: Status,
    /// 0 (critical) … 4 (backlog); 2 is the default.
    #[serde(default = "default_priority")]
    pub priority: u8,
    #[serde(default)]
    pub issue_type: IssueType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub assignee: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
    /// RFC 3339, as written (never reformatted).
    pub created_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    /// RFC 3339, as written.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub updated_at: String,
    /// Present exactly when the bead is closed (for beads this ledger writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub close_reason: String,
    /// RFC 3339; a bead deferred until a future time is not ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defer_until: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub external_ref: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<Comment>,
    /// Tombstone fields: when, by whom and why the classic `bd` deleted the bead, and its type
    /// before deletion.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deleted_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deleted_by: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub delete_reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub original_type: String,
    /// For message beads: the sender's address, stamped by the server.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sender: String,
    /// A wisp: lives in the local index only, never in git.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ephemeral: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub pinned: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub await_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub await_id: String,
    /// Gate timeout in nanoseconds, as `bd` writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Every field this version does not know, kept in order for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_priority() -> u8 {
    2
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Bead {
    /// A new open bead of type task, priority 2, created now.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Bead {
        let now = crate::time::now_rfc3339();
        Bead {
            id: id.into(),
            title: title.into(),
            description: String::new(),
            design: String::new(),
            acceptance_criteria: String::new(),
            notes: String::new(),
            status: Status::Open,
            priority: 2,
            issue_type: IssueType::Task,
            assignee: String::new(),
            owner: String::new(),
            created_at: now.clone(),
            created_by: String::new(),
            updated_at: now,
            closed_at: None,
            close_reason: String::new(),
            defer_until: None,
            external_ref: String::new(),
            labels: Vec::new(),
            dependencies: Vec::new(),
            comments: Vec::new(),
            deleted_at: String::new(),
            deleted_by: String::new(),
            delete_reason: String::new(),
            original_type: String::new(),
            sender: String::new(),
            ephemeral: false,
            pinned: false,
            await_type: String::new(),
            await_id: String::new(),
            timeout: None,
            extra: Map::new(),
        }
    }

    /// True when the status is `closed` (tombstones are not closed, they are deleted).
    pub fn is_closed(&self) -> bool {
        self.status == Status::Closed
    }

    /// One JSONL line (no trailing newline), byte for byte as the classic `bd` writes it
    /// (its field order, Go's escaping of `<`, `>`, `&`; see [`crate::jsonl::bead_line`]).
    pub fn to_json_line(&self) -> String {
        crate::jsonl::bead_line(self)
    }
}

/// A bead's status. Unknown statuses read from other tools are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Status {
    Open,
    InProgress,
    Blocked,
    Deferred,
    Closed,
    Pinned,
    Hooked,
    /// A deleted bead as the classic `bd` records it; read for compatibility.
    Tombstone,
    Other(String),
}

impl Default for Status {
    /// `open`, as `bd` reads a record without a status.
    fn default() -> Status {
        Status::Open
    }
}

impl Status {
    pub fn as_str(&self) -> &str {
        match self {
            Status::Open => "open",
            Status::InProgress => "in_progress",
            Status::Blocked => "blocked",
            Status::Deferred => "deferred",
            Status::Closed => "closed",
            Status::Pinned => "pinned",
            Status::Hooked => "hooked",
            Status::Tombstone => "tombstone",
            Status::Other(s) => s,
        }
    }

    /// Parse a status given by a user; unlike deserialization, unknown names are refused.
    pub fn parse_known(s: &str) -> Option<Status> {
        match Status::from(s.to_string()) {
            Status::Other(_) => None,
            st => Some(st),
        }
    }

    /// The names a user may give.
    pub const KNOWN: &'static [&'static str] = &[
        "open",
        "in_progress",
        "blocked",
        "deferred",
        "closed",
        "pinned",
        "hooked",
    ];
}

impl From<String> for Status {
    fn from(s: String) -> Status {
        match s.as_str() {
            "open" => Status::Open,
            "in_progress" => Status::InProgress,
            "blocked" => Status::Blocked,
            "deferred" => Status::Deferred,
            "closed" => Status::Closed,
            "pinned" => Status::Pinned,
            "hooked" => Status::Hooked,
            "tombstone" => Status::Tombstone,
            _ => Status::Other(s),
        }
    }
}

impl From<Status> for String {
    fn from(s: Status) -> String {
        s.as_str().to_string()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bead's type. Unknown types (e.g. `rig`, `role` in real ledgers) are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(from = "String", into = "String")]
pub enum IssueType {
    #[default]
    Task,
    Bug,
    Feature,
    Epic,
    Chore,
    Message,
    Molecule,
    Gate,
    Agent,
    MergeRequest,
    Convoy,
    Event,
    /// A problem raised for the mayor and the overseer (Gas Town's escalation record).
    Escalation,
    Other(String),
}

impl IssueType {
    pub fn as_str(&self) -> &str {
        match self {
            IssueType::Task => "task",
            IssueType::Bug => "bug",
            IssueType::Feature => "feature",
            IssueType::Epic => "epic",
            IssueType::Chore => "chore",
            IssueType::Message => "message",
            IssueType::Molecule => "molecule",
            IssueType::Gate => "gate",
            IssueType::Agent => "agent",
            IssueType::MergeRequest => "merge-request",
            IssueType::Convoy => "convoy",
            IssueType::Event => "event",
            IssueType::Escalation => "escalation",
            IssueType::Other(s) => s,
        }
    }

    /// Coordination types are never "ready" work (SPEC.md, Ledger).
    pub fn is_coordination(&self) -> bool {
        matches!(
            self,
            IssueType::Message
                | IssueType::Molecule
                | IssueType::Gate
                | IssueType::Agent
                | IssueType::MergeRequest
                | IssueType::Convoy
                | IssueType::Event
                | IssueType::Escalation
        )
    }
}

impl From<String> for IssueType {
    fn from(s: String) -> IssueType {
        match s.as_str() {
            "task" => IssueType::Task,
            "bug" => IssueType::Bug,
            "feature" => IssueType::Feature,
            "epic" => IssueType::Epic,
            "chore" => IssueType::Chore,
            "message" => IssueType::Message,
            "molecule" => IssueType::Molecule,
            "gate" => IssueType::Gate,
            "agent" => IssueType::Agent,
            "merge-request" => IssueType::MergeRequest,
            "convoy" => IssueType::Convoy,
            "event" => IssueType::Event,
            "escalation" => IssueType::Escalation,
            _ => IssueType::Other(s),
        }
    }
}

impl From<IssueType> for String {
    fn from(t: IssueType) -> String {
        t.as_str().to_string()
    }
}

impl fmt::Display for IssueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An edge: `issue_id` depends on `depends_on_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dependency {
    pub issue_id: String,
    pub depends_on_id: String,
    #[serde(rename = "type")]
    pub kind: DepKind,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Dependency kinds. `blocks`, `parent-child`, `conditional-blocks` and `waits-for` affect
/// readiness; the others are links only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum DepKind {
    Blocks,
    ParentChild,
    ConditionalBlocks,
    WaitsFor,
    Related,
    RelatesTo,
    DiscoveredFrom,
    RepliesTo,
    Tracks,
    Supersedes,
    Duplicates,
    Other(String),
}

impl DepKind {
    pub fn as_str(&self) -> &str {
        match self {
            DepKind::Blocks => "blocks",
            DepKind::ParentChild => "parent-child",
            DepKind::ConditionalBlocks => "conditional-blocks",
            DepKind::WaitsFor => "waits-for",
            DepKind::Related => "related",
            DepKind::RelatesTo => "relates-to",
            DepKind::DiscoveredFrom => "discovered-from",
            DepKind::RepliesTo => "replies-to",
            DepKind::Tracks => "tracks",
            DepKind::Supersedes => "supersedes",
            DepKind::Duplicates => "duplicates",
            DepKind::Other(s) => s,
        }
    }

    /// `blocks` and `conditional-blocks`: the dependent is not ready while the target is open.
    /// These edges must never form a cycle.
    pub fn is_blocking(&self) -> bool {
        matches!(self, DepKind::Blocks | DepKind::ConditionalBlocks)
    }

    /// Parse a kind given by a user; unknown names are refused.
    pub fn parse_known(s: &str) -> Option<DepKind> {
        match DepKind::from(s.to_string()) {
            DepKind::Other(_) => None,
            k => Some(k),
        }
    }
}

impl From<String> for DepKind {
    fn from(s: String) -> DepKind {
        match s.as_str() {
            "blocks" => DepKind::Blocks,
            "parent-child" => DepKind::ParentChild,
            "conditional-blocks" => DepKind::ConditionalBlocks,
            "waits-for" => DepKind::WaitsFor,
            "related" => DepKind::Related,
            "relates-to" => DepKind::RelatesTo,
            "discovered-from" => DepKind::DiscoveredFrom,
            "replies-to" => DepKind::RepliesTo,
            "tracks" => DepKind::Tracks,
            "supersedes" => DepKind::Supersedes,
            "duplicates" => DepKind::Duplicates,
            _ => DepKind::Other(s),
        }
    }
}

impl From<DepKind> for String {
    fn from(k: DepKind) -> String {
        k.as_str().to_string()
    }
}

impl fmt::Display for DepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comment. Classic `bd` writes integer ids, current `bd` strings: both are kept as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub id: Value,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issue_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_at: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One entry of a bead's audit trail (kept in the index, not in the JSONL record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub issue_id: String,
    pub kind: EventKind,
    /// Who did it: an agent address, `overseer`, or the importing tool.
    pub actor: String,
    /// RFC 3339.
    pub at: String,
    /// Kind-specific detail: the old and new status, the label, the dependency, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

/// What an audit-trail entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Created,
    Updated,
    StatusChanged,
    Closed,
    Reopened,
    DependencyAdded,
    DependencyRemoved,
    LabelAdded,
    LabelRemoved,
    Commented,
    Deleted,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_round_trip(line: &str) {
        let bead: Bead = serde_json::from_str(line).expect("line parses");
        let back: Value = serde_json::from_str(&bead.to_json_line()).expect("output parses");
        let orig: Value = serde_json::from_str(line).expect("input parses");
        assert_eq!(orig, back);
    }

    #[test]
    fn round_trip_keeps_unknown_fields_and_values() {
        check_round_trip(
            r#"{"id":"bd-1","title":"t","status":"tombstone","priority":0,"issue_type":"rig","created_at":"2025-12-17T14:32:02.998106-08:00","updated_at":"2025-12-17T14:32:02.998106-08:00","deleted_at":"x","original_type":"bug","timeout":1800000000000}"#,
        );
        check_round_trip(
            r#"{"id":"bd-2","title":"t","status":"open","priority":2,"issue_type":"task","created_at":"a","updated_at":"b","comments":[{"id":15,"issue_id":"bd-2","author":"x","text":"hi","created_at":"c"},{"id":"c-1","text":"s"}],"dependencies":[{"issue_id":"bd-2","depends_on_id":"bd-1","type":"weird-kind","created_at":"d","created_by":"e"}]}"#,
        );
    }

    #[test]
    fn coordination_types() {
        assert!(IssueType::MergeRequest.is_coordination());
        assert!(!IssueType::Bug.is_coordination());
        assert_eq!(
            IssueType::from("merge-request".to_string()),
            IssueType::MergeRequest
        );
    }
}
