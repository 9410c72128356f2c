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

    /// A `bd` backup directory that cannot be imported (no issues.jsonl, malformed lines);
    /// nothing was imported.
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),

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

    /// A record that fails the one validation of every local write ([`crate::validate`]).
    #[error(
        "bead {id} is not valid, so nothing was written: {}; fix {} and try again",
        join(problems),
        if problems.len() == 1 { "it" } else { "them" }
    )]
    InvalidBead {
        id: String,
        problems: Vec<crate::validate::Problem>,
    },

    /// An import file with invalid records; nothing of it was imported.
    #[error(
        "{} has {} invalid record{}, so nothing was imported:\n{}\nfix or remove these lines and import again",
        .path.display(),
        .problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        import_lines(problems)
    )]
    InvalidImport {
        path: PathBuf,
        problems: Vec<ImportProblem>,
    },

    /// The index file exists but is empty or cut short: it is never silently made anew, since it
    /// may hold acknowledged changes that git does not have yet.
    #[error(
        "ledger index {} is {what}; it may have held acknowledged changes that are not in git \
         yet, so it was not silently replaced by an empty one. If a backup of it exists, restore \
         it; otherwise move it aside (`mv {0} {0}.damaged`) and run the command again: the index \
         is rebuilt from git, and only changes that never reached git are lost",
        .path.display()
    )]
    IndexDamaged { path: PathBuf, what: String },

    /// The ledger takes no changes for now (its owner said why: a nearly full disk, …); reads
    /// go on, and nothing acknowledged was lost.
    #[error("the ledger cannot take changes now: {0}")]
    Unavailable(String),

    /// The index's disk is full (or the quota reached): the write was not made.
    #[error(
        "the disk holding the ledger index {} is full ({message}): free some space and retry; \
         the change was not stored, and nothing acknowledged was lost (do not delete the index)",
        .path.display()
    )]
    DiskFull { path: PathBuf, message: String },
}

/// One invalid record of an import: its 1-based line, its id, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    pub line: usize,
    pub id: String,
    pub problem: crate::validate::Problem,
}

/// The problems of one bead, `; `-separated.
fn join(problems: &[crate::validate::Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Shown problems of an import: the first 20, then how many more.
const SHOWN_IMPORT_PROBLEMS: usize = 20;

fn import_lines(problems: &[ImportProblem]) -> String {
    let mut lines: Vec<String> = problems
        .iter()
        .take(SHOWN_IMPORT_PROBLEMS)
        .map(|p| format!("  line {}: {}: {}", p.line, p.id, p.problem))
        .collect();
    if problems.len() > SHOWN_IMPORT_PROBLEMS {
        lines.push(format!(
            "  … and {} more",
            problems.len() - SHOWN_IMPORT_PROBLEMS
        ));
    }
    lines.join("\n")
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
