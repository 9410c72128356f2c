//! [`Mail`]: the typed view of a message bead, and the one owner of where each part of a mail
//! lives in it.
//!
//! | part | in the bead |
//! |---|---|
//! | sender | `sender` (stamped from the caller's identity; `created_by` on beads without one) |
//! | recipient | `assignee`: an address, or `queue:<name>` for a queue item |
//! | subject, body | `title`, `description` |
//! | thread | a `replies-to` dependency on the mail it answers |
//! | urgent | label `urgent` (and priority 0) |
//! | read | label `read`; unread is the default |
//! | delivered | label `delivered`: the recipient's session was told of it |
//! | archived | status `closed` (reason `archived`) |
//! | protocol kind | label `protocol:<KIND>` (protocol messages are wisps) |
//! | claimant | label `claimed-by:<address>` (queue items) |
//!
//! The readers below take a bead (the inbox and the router read many and pass beads on to be
//! rendered); [`Mail::from_bead`] reads them all at once, refusing a bead that is not mail.

use super::queue::CLAIMED_BY;
use super::store::{DELIVERED, PROTOCOL, ProtocolKind};
use super::{READ, URGENT};
use crate::record::RecordError;
use gastown_beads::{Bead, DepKind, ExtraPatch, Fields, IssueType, Status};

/// A message bead, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub id: String,
    pub sender: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// The mail this one answers.
    pub replies_to: Option<String>,
    pub urgent: bool,
    pub read: bool,
    pub delivered: bool,
    pub archived: bool,
    pub protocol: Option<ProtocolKind>,
    /// Who claimed it (a queue item).
    pub claimant: Option<String>,
    pub created_at: String,
}

impl Mail {
    /// Read a message bead; anything else (a group, queue or channel definition, a task) is an
    /// error naming it, as is a `sender` field that is not text.
    pub fn from_bead(bead: &Bead) -> Result<Mail, RecordError> {
        if !is_mail(bead) {
            return Err(RecordError::WrongKind {
                bead: bead.id.clone(),
                actual: bead.issue_type.to_string(),
                expected: "a mail",
                hint: "`gastown mail inbox --all` shows the ids",
            });
        }
        let sender = match Fields::of(bead).text("sender")? {
            _ if !bead.sender.is_empty() => bead.sender.clone(),
            Some(s) => s.to_string(),
            None => bead.created_by.clone(),
        };
        Ok(Mail {
            id: bead.id.clone(),
            sender,
            recipient: bead.assignee.clone(),
            subject: bead.title.clone(),
            body: bead.description.clone(),
            replies_to: replies_to(bead).map(str::to_string),
            urgent: is_urgent(bead),
            read: has_label(bead, READ),
            delivered: has_label(bead, DELIVERED),
            archived: bead.status == Status::Closed,
            protocol: protocol_kind(bead),
            claimant: claimant(bead).map(str::to_string),
            created_at: bead.created_at.clone(),
        })
    }

    /// Open and not yet read.
    pub fn is_unread(&self) -> bool {
        !self.archived && !self.read
    }

    /// The `sender` field of a new mail from `from`.
    pub fn sender_field(from: &str) -> ExtraPatch {
        ExtraPatch::default().set("sender", from)
    }
}

fn has_label(bead: &Bead, label: &str) -> bool {
    bead.labels.iter().any(|l| l == label)
}

/// The sender of a message bead (`sender`, else `created_by`).
pub fn sender_of(bead: &Bead) -> String {
    if !bead.sender.is_empty() {
        return bead.sender.clone();
    }
    match Fields::of(bead).text("sender") {
        Ok(Some(s)) => s.to_string(),
        _ => bead.created_by.clone(),
    }
}

/// The protocol kind of a message, if it is a protocol message.
pub fn protocol_kind(bead: &Bead) -> Option<ProtocolKind> {
    bead.labels
        .iter()
        .find_map(|l| l.strip_prefix(PROTOCOL).and_then(ProtocolKind::parse))
}

/// Is this a piece of mail (a message bead with a recipient), not a group/queue/channel record?
pub fn is_mail(bead: &Bead) -> bool {
    bead.issue_type == IssueType::Message && !bead.assignee.is_empty()
}

/// Open and not yet read.
pub fn is_unread(bead: &Bead) -> bool {
    bead.status != Status::Closed && !has_label(bead, READ)
}

/// Marked urgent.
pub fn is_urgent(bead: &Bead) -> bool {
    has_label(bead, URGENT)
}

/// The session of its recipient was told of it.
pub fn is_delivered(bead: &Bead) -> bool {
    has_label(bead, DELIVERED)
}

/// The mail this one answers.
pub fn replies_to(bead: &Bead) -> Option<&str> {
    bead.dependencies
        .iter()
        .find(|d| d.kind == DepKind::RepliesTo)
        .map(|d| d.depends_on_id.as_str())
}

/// Who claimed a queue item, if anyone.
pub fn claimant(item: &Bead) -> Option<&str> {
    item.labels.iter().find_map(|l| l.strip_prefix(CLAIMED_BY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bead(value: serde_json::Value) -> Bead {
        serde_json::from_value(value).expect("a bead")
    }

    #[test]
    fn a_mail_reads_from_its_fields_labels_and_status() {
        let b = bead(json!({
            "id": "gt-m1", "title": "hello", "description": "body", "status": "open",
            "issue_type": "message", "assignee": "queue:triage", "created_at": "2026-01-01T00:00:00Z",
            "created_by": "mayor", "labels": ["urgent", "delivered", "protocol:MERGED", "claimed-by:alpha/crew/max"],
            "dependencies": [{"issue_id": "gt-m1", "depends_on_id": "gt-m0", "type": "replies-to",
                              "created_at": "2026-01-01T00:00:00Z"}]
        }));
        let mail = Mail::from_bead(&b).expect("a mail");
        assert_eq!(mail.sender, "mayor", "created_by when there is no sender");
        assert_eq!(mail.recipient, "queue:triage");
        assert_eq!(mail.replies_to.as_deref(), Some("gt-m0"));
        assert!(mail.urgent && mail.delivered && mail.is_unread());
        assert_eq!(mail.protocol, Some(ProtocolKind::Merged));
        assert_eq!(mail.claimant.as_deref(), Some("alpha/crew/max"));
        let mut read = b.clone();
        read.labels.push(READ.to_string());
        assert!(!Mail::from_bead(&read).expect("mail").is_unread());
    }

    #[test]
    fn a_definition_or_a_bad_sender_is_not_read_as_mail() {
        let group = bead(
            json!({"id": "gt-g1", "title": "@ops", "issue_type": "message",
                                "created_at": "2026-01-01T00:00:00Z"}),
        );
        let err = Mail::from_bead(&group).expect_err("no recipient");
        assert!(
            err.to_string()
                .contains("gt-g1 is a message bead, not a mail"),
            "{err}"
        );
        // A mail just created carries its sender in `extra` (the ledger reads it back into the
        // schema's `sender`): there it can be anything.
        let mut bad = Bead::new("gt-m2", "x");
        bad.issue_type = IssueType::Message;
        bad.assignee = "mayor".to_string();
        bad.extra.insert("sender".to_string(), json!(7));
        let err = Mail::from_bead(&bad).expect_err("a sender that is a number");
        assert!(
            err.to_string().contains("field `sender` of gt-m2 is 7"),
            "{err}"
        );
        assert_eq!(
            sender_of(&bad),
            "",
            "the lenient reader falls back to created_by"
        );
    }
}
