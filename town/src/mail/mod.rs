//! Mail on the ledger: message beads, addresses, groups, queues, channels, DND and rendering.
//!
//! A mail is a bead of type `message`: the sender in `sender` and `created_by` (stamped from the
//! caller's authenticated identity, never from the client), the recipient in `assignee`, the
//! subject as `title`, the body as `description`, a reply linked to what it answers by a
//! `replies-to` dependency. State lives in labels and status: unread is the default, `read` once
//! read or acknowledged, closed once archived; `urgent` marks urgent mail. A send to a group or a
//! channel writes one bead per recipient, so every inbox holds each mail exactly once. Protocol
//! messages are wisps (see [`store::send_protocol`]). `docs/mail.md` has the whole story.
//!
//! The CLI (`src/cli/mail.rs`) and the supervisor's router call this module; it only needs a
//! `&mut Ledger` and never sleeps, so it runs inside the ledger actor.

pub mod address;
pub mod channel;
pub mod dnd;
pub mod format;
pub mod groups;
pub mod queue;
pub mod record;
pub mod store;

pub use address::{Resolved, resolve};
pub use dnd::{dnd, is_dnd};
pub use record::{Mail, is_urgent};
pub use store::{
    Outgoing, ProtocolKind, archive, inbox, is_unread, mark_read, mark_unread, open_mail,
    protocol_kind, send, send_protocol, sender_of, unread_for,
};

pub use crate::defaults::{MAIL_MAX_BODY as MAX_BODY, MAIL_MAX_SUBJECT as MAX_SUBJECT};

/// Label of mail that was read (or acknowledged).
pub const READ: &str = "read";

/// Label of urgent mail.
pub const URGENT: &str = "urgent";

/// The overseer's address (the human at the keyboard).
pub const OVERSEER: &str = "overseer";

#[cfg(test)]
mod tests;
