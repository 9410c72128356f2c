//! The beads ledger: Gas Town's durable record of work, identities, mail and workflow state.
//!
//! Synchronous by design (no async, no actors): the supervisor's ledger actor owns one
//! `Ledger` and calls it; the CLI opens one directly when no supervisor runs.
//!
//! - [`ledger`]: the [`Ledger`] facade — mutations, queries, import/export, group commit to git,
//!   reconcile on open;
//! - [`graph`]: the incremental ready/blocked graph (and the exact definitions of both);
//! - [`store`]: the redb index and write-ahead journal, and its secondary indexes (beads by
//!   status, assignee and type);
//! - [`git`]: the ledger's own ref `refs/heads/beads`, written through gix;
//! - [`id`], [`jsonl`]: hash ids; `bd` import and export; [`backup`]: current `bd`'s backup
//!   directory (`.beads/backup/`) read for import;
//! - [`lock`]: the pid lock; [`error`]: [`LedgerError`];
//! - [`merge`]: the three-way merge of one bead (two towns' ledgers, `gastown sync`);
//! - [`fields`]: typed reads and writes of the `extra` fields Gas Town's records keep;
//! - [`model`]: the bead record in the classic beads JSONL schema (unknown fields kept);
//! - [`time`]: RFC 3339 timestamps;
//! - [`validate`]: the one validation of every local write (fields, formats, maximum sizes).

pub mod backup;
pub mod error;
pub mod fault;
pub mod fields;
pub mod git;
pub mod graph;
pub mod id;
pub mod jsonl;
pub mod ledger;
pub mod lock;
pub mod merge;
pub mod model;
pub mod store;
#[doc(hidden)]
pub mod testdata;
pub mod time;
pub mod validate;

pub use error::{ImportProblem, LedgerError};
pub use fields::{ExtraPatch, FieldError, Fields};
pub use ledger::{
    BeadPatch, Blocked, CHANGE_FEED_MAX, CommitDone, CommitJob, CommitOutcome, ImportOutcome,
    Ledger, LedgerChange, LedgerConfig, ListFilter, NewBead,
};
pub use model::{Bead, Comment, DepKind, Dependency, Event, EventKind, IssueType, Status};
