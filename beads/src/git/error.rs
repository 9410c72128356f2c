//! [`GitError`]: everything that can go wrong between the ledger and its git ref, each message
//! saying what happened and what to do about it.

use gix::ObjectId;
use std::path::PathBuf;

/// An error of the git storage of the ledger ([`GitStore`](super::GitStore)).
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// `repo_path` is not a git repository (or cannot be opened as one).
    #[error(
        "not a git repository: {path} ({source}); run `gastown install <dir>` to create a town, \
         or point --town / GASTOWN_TOWN at an existing one"
    )]
    NotARepository {
        path: PathBuf,
        #[source]
        source: gix::Error,
    },

    /// The configured ref name is not a full, valid ref name.
    #[error(
        "invalid ledger ref {name:?}: {reason}; use a full branch name such as `refs/heads/beads` \
         in town.toml"
    )]
    InvalidRef { name: String, reason: String },

    /// A bead id that cannot be a file name in a git tree.
    #[error(
        "bead id {id:?} cannot be stored in git: {reason}; ids look like `gt-a1b2` or `gt-a1b2.3`"
    )]
    InvalidId { id: String, reason: &'static str },

    /// A bead line that is not one line.
    #[error(
        "the JSON line of bead {id:?} contains a line break; serialize the bead with \
         serde_json::to_string (compact) before committing it"
    )]
    MultiLine { id: String },

    /// Someone else moved the ledger ref since the caller last looked (compare-and-swap failed).
    #[error(
        "the ledger ref {git_ref} moved: expected {}, found {}; another writer committed to it \
         (a second gastown, a `git pull`, a hand edit) — reconcile the ledger with git and retry",
        show_tip(.expected),
        show_tip(.actual)
    )]
    TipMoved {
        git_ref: String,
        expected: Option<ObjectId>,
        actual: Option<ObjectId>,
    },

    /// The town's work tree has the ledger branch checked out: writing the ref would make the work
    /// tree look modified to the people working there.
    #[error(
        "the town's work tree has the ledger branch {git_ref} checked out; check out your own branch \
         again (`git -C <town> switch main`) — the ledger branch is written by gastown only"
    )]
    RefCheckedOut { git_ref: String },

    /// The ref points at something that is not a commit of the expected shape.
    #[error(
        "the ledger commit {commit} is malformed at {path}: {reason}; repair the branch by hand or \
         reset it to an earlier commit (`git log refs/heads/beads`)"
    )]
    Malformed {
        commit: ObjectId,
        path: String,
        reason: String,
    },

    /// Writing or rolling up a pack failed.
    #[error("could not {action} in {}: {source}; check the disk space and the permissions of the repository", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// gix failed while reading or writing objects or refs.
    #[error(
        "git failed to {action} in {path}: {source}; check the repository with `git -C {} fsck`",
        .path.display()
    )]
    Gix {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: gix::Error,
    },
}

/// How an optional tip reads in a message.
fn show_tip(tip: &Option<ObjectId>) -> String {
    match tip {
        Some(id) => id.to_hex().to_string(),
        None => "no ref (the ledger branch does not exist)".to_owned(),
    }
}

impl GitError {
    /// Shorthand used by the store to wrap an I/O error with what it was doing.
    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> GitError {
        let path = path.to_path_buf();
        move |source| GitError::Io {
            action,
            path,
            source,
        }
    }

    /// Shorthand used by the store to wrap a gix error with what it was doing.
    pub(crate) fn gix(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(gix::Error) -> GitError {
        let path = path.to_path_buf();
        move |source| GitError::Gix {
            action,
            path,
            source,
        }
    }
}
