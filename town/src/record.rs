//! Typed records on beads: the kinds, their owners, and what reading one can fail with.
//!
//! Gas Town keeps the state of its records in fields the classic beads schema does not have,
//! which the ledger keeps in `Bead::extra` (and writes back unchanged, so `bd` and older ledgers
//! read them). Each kind has one typed view with one owner, the only code that knows its field
//! names and JSON types:
//!
//! | record | view | owner |
//! |---|---|---|
//! | agent identity | [`crate::agents::AgentRecord`] | `agents.rs` |
//! | merge request | [`crate::refinery::MergeRequest`] | `refinery/queue.rs` |
//! | mail | [`crate::mail::Mail`] | `mail/record.rs` |
//! | molecule, step, digest, a work bead's molecule | [`crate::molecule::record`] | `molecule/record.rs` |
//! | escalation | [`crate::escalation::Escalation`] | `escalation/mod.rs` |
//!
//! A view reads a bead with `from_bead` (typed reads through [`gastown_beads::Fields`]: a field
//! of the wrong JSON type is an error naming the bead and the field, an absent one reads as its
//! default). Writes go through the view's typed setters, which build a
//! [`gastown_beads::ExtraPatch`] for `Ledger::set_extra` (or the `extra` of a `NewBead`); the
//! JSON field names are exactly those existing ledgers hold.

use gastown_beads::FieldError;

/// A bead that does not hold the record its reader expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("{bead} is a {actual} bead, not {expected}; {hint}")]
    WrongKind {
        bead: String,
        actual: String,
        /// The record kind, with its article: "a merge request".
        expected: &'static str,
        /// Where to find the right ids.
        hint: &'static str,
    },
    #[error(transparent)]
    Field(#[from] FieldError),
}
