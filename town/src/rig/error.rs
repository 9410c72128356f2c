//! What can go wrong with a rig; each message says what happened and what to do next.

use crate::git_cli::{GitCliError, redact};
use std::path::PathBuf;
use thiserror::Error;

/// An error of a rig operation.
#[derive(Debug, Error)]
pub enum RigError {
    #[error(
        "invalid {what} name {name:?}: {why}; {} (e.g. \"myproject\", \"nux\")",
        crate::identity::SIMPLE_NAME_RULE
    )]
    InvalidName {
        /// What the name is for: "rig", "polecat", "crew".
        what: &'static str,
        name: String,
        why: String,
    },
    #[error(
        "no rig named {name:?} in {town}: `gastown rig list` shows the rigs, \
         `gastown rig add <name> <url>` adds one"
    )]
    NotFound { name: String, town: PathBuf },
    #[error("{path} already exists: remove it or choose another rig name")]
    Exists { path: PathBuf },
    #[error("bad --prefix for rig {rig:?}: {error}")]
    Prefix {
        rig: String,
        error: gastown_beads::id::IdError,
    },
    #[error("bead prefix {prefix:?} is already used by {by}: pass another with --prefix")]
    PrefixTaken { prefix: String, by: String },
    #[error("{path} is not a valid rig config: {message}")]
    Config { path: PathBuf, message: String },
    #[error("cannot clone {}: {error}", redact(url))]
    Clone { url: String, error: GitCliError },
    #[error(
        "{} has no branch {branch:?}: pass an existing branch with --branch",
        redact(url)
    )]
    NoSuchBranch { url: String, branch: String },
    #[error(
        "invalid branch name {branch:?}: use a git branch name like \"polecat/nux/gt-a1b\" \
         (no spaces, no '..', not starting with '-')"
    )]
    InvalidBranch { branch: String },
    #[error(
        "{} is a non-bare repository with {branch} checked out, and git refuses pushes to a \
         checked-out branch, so the refinery could not land work there: allow them with \
         `git -C {} config receive.denyCurrentBranch updateInstead` (each push then updates its \
         work tree, which must be clean), or add the rig with --no-push to keep landed work in \
         the town (`[refinery] push = false`)",
        path.display(),
        path.display()
    )]
    SourceRefusesPushes { path: PathBuf, branch: String },
    #[error(
        "{} has no commits (its HEAD names no commit): commit something to it first, or \
         pass --branch with a branch that has commits",
        redact(url)
    )]
    EmptySource { url: String },
    #[error(
        "{path} exists but is not a worktree or clone of rig {rig:?} (it holds {found}): move \
         it away and retry"
    )]
    NotAWorktree {
        rig: String,
        path: PathBuf,
        found: String,
    },
    #[error(
        "{path} is {repo} — not a worktree of rig {rig:?}'s repository: nothing there was \
         touched and no session starts in it; move it away, then the agent's worktree is made \
         again from its branch"
    )]
    ForeignRepository {
        rig: String,
        path: PathBuf,
        /// What it belongs to instead (its git common dir, or the clone's origin).
        repo: String,
    },
    #[error(
        "the worktree of {who} ({path}) is gone and so is its branch {branch}: its work cannot \
         be restored from this town; look for it in the source repository or a backup ref \
         (`git -C <rig>/.repo.git reflog`), then clear the hook (`gastown hook clear --agent \
         {who}`) and sling the bead again"
    )]
    BranchGone {
        who: String,
        branch: String,
        path: PathBuf,
    },
    #[error(
        "{who} has no worktree at {path} and nothing on its hook to make one for: sling work to \
         it (`gastown sling <bead> {who}`)"
    )]
    NoWorkspace { who: String, path: PathBuf },
    #[error(
        "{what} has work that is not merged or not saved ({}): merge or push it first, or pass \
         --force to throw it away",
        details.join("; ")
    )]
    UnsavedWork { what: String, details: Vec<String> },
    #[error("cannot start gate `{command}` in {dir}: {error}")]
    GateSpawn {
        command: String,
        dir: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "the gate `{command}` was stopped because `gastown run` is shutting down; its merge \
         request stays queued and the next `gastown run` runs the gates again"
    )]
    GateStopped { command: String },
    #[error("cannot {action} {path}: {error}")]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Git(#[from] GitCliError),
}

impl RigError {
    /// An I/O error with what we were doing and on which path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, error: std::io::Error) -> RigError {
        RigError::Io {
            action,
            path: path.into(),
            error,
        }
    }
}

/// Results of rig operations.
pub type Result<T, E = RigError> = std::result::Result<T, E>;
