//! [`LedgerError`]: everything the [`Ledger`](crate::Ledger) facade can refuse or fail with, each
//! message saying what is wrong and what to do about it.

use std::path::PathBuf;

/// An error of the ledger facade.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Another process holds the lock (the ledger's, or any [`PidLock`](crate::lock::PidLock)).
    #[error(
        "{} is held by process {pid}: another gastown process is using this town; stop it (or \
         go through the running supervisor) and retry — if no such process runs any more, the \
         lock is already released and a retry succeeds",
        .path.display()
    )]
    Locked { pid: u32, path: PathBuf },

    /// No bead has this id.
    #[error("unknown bead {0:?}; check the id with `gastown bead list --all`")]
    UnknownBead(String),

    /// The dependency would close a cycle of blocking (or parent-child) edges.
    #[error(
        "this dependency would close a cycle: {}; remove one of these dependencies first",
        .path.join(" -> ")
    )]
    Cycle { path: Vec<String> },

    /// A malformed bead id (the message says what is wrong and how ids look).
    #[error("{0}")]
    InvalidId(String),

    /// A malformed id prefix (the message says what is wrong and how prefixes look).
    #[error("{0}")]
    InvalidPrefix(String),

    /// A bead created, or retitled, with an empty or whitespace-only title.
    #[error(
        "a bead needs a title, and {0:?} is empty: say in a few words what it is about \
         (e.g. \"Fix the login timeout\")"
    )]
    EmptyTitle(String),

    /// A priority outside 0–4.
    #[error("invalid priority {0}: priorities go from 0 (critical) to 4 (backlog)")]
    InvalidPriority(u8),

    /// The operation does not apply to this bead (e.g. burning a bead that is not a wisp).
    #[error("{0}")]
    Invalid(String),

    /// An import file that does not parse; nothing was imported.
    #[error(transparent)]
    Import(#[from] crate::jsonl::JsonlError),

    /// The redb index failed.
    #[error(
        "ledger index {path}: {message}; if the disk is fine, delete the index file and reopen (it is rebuilt from git, unsynced changes are lost)"
    )]
    Index { path: PathBuf, message: String },

    /// The git storage failed.
    #[error(transparent)]
    Git(#[from] crate::git::GitError),

    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// A record field of the wrong JSON type (see [`crate::fields`]).
    #[error(transparent)]
    Field(#[from] crate::fields::FieldError),

    /// A record in the index that does not parse (the index is damaged).
    #[error(
        "bead {id:?} in the index does not parse ({message}); delete the index file and reopen to rebuild it from git"
    )]
    Corrupt { id: String, message: String },
}

impl LedgerError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> LedgerError {
        LedgerError::Io {
            context: context.into(),
            source,
        }
    }
}
