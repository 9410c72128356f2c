//! What can keep the refinery from landing on origin, and what it tells the mayor and the
//! overseer about it: what happened, that nothing was lost or overwritten, and what to do.
//!
//! A problem holds the whole batch (its MRs stay queued) and makes the live refinery back off.
//! It is told once per *streak*: the key of the last problem told is kept in the bare clone
//! (`.repo.git/gastown/remote-problem`); the same key again is not told again, and a landing
//! without a problem clears it. A rewritten origin is keyed by its new tip, so each new rewrite
//! is told.

use crate::rig::{Rig, checked_out_fix};
use serde::Serialize;
use std::path::PathBuf;

/// Why the refinery could not land on origin. `remote` is origin's URL, credentials redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum RemoteProblem {
    /// Origin could not be fetched from or pushed to (gone, no network, refused login, timeout).
    Unreachable { remote: String, detail: String },
    /// Origin has no branch by the target's name.
    NoBranch { remote: String, target: String },
    /// Origin's target no longer contains the tip the refinery last saw there (a force-push).
    Rewound {
        remote: String,
        target: String,
        last_seen: String,
        origin_tip: String,
    },
    /// Origin's target and the rig's own target both have commits the other lacks, and they
    /// conflict (the rig landed with `push = false` while humans pushed).
    Diverged {
        remote: String,
        target: String,
        local: String,
        origin_tip: String,
        files: Vec<String>,
    },
    /// Origin refused the push (a hook, a protected branch, permissions).
    Refused {
        remote: String,
        target: String,
        reason: String,
    },
    /// Origin is a non-bare repository with the target checked out.
    CheckedOut { remote: String, target: String },
    /// Origin's target moved during every landing attempt (the lease failed each time).
    KeepsMoving {
        remote: String,
        target: String,
        tries: usize,
    },
}

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

impl RemoteProblem {
    /// Same key, same streak: told once.
    pub fn key(&self) -> String {
        match self {
            RemoteProblem::Unreachable { .. } => "unreachable".to_string(),
            RemoteProblem::NoBranch { target, .. } => format!("no-branch {target}"),
            RemoteProblem::Rewound { origin_tip, .. } => format!("rewound {origin_tip}"),
            RemoteProblem::Diverged { origin_tip, .. } => format!("diverged {origin_tip}"),
            RemoteProblem::Refused { .. } => "refused".to_string(),
            RemoteProblem::CheckedOut { .. } => "checked-out".to_string(),
            RemoteProblem::KeepsMoving { .. } => "keeps-moving".to_string(),
        }
    }

    /// One line, for the refinery's notes and logs.
    pub fn summary(&self) -> String {
        match self {
            RemoteProblem::Unreachable { remote, detail } => {
                format!("origin {remote} unreachable: {detail}")
            }
            RemoteProblem::NoBranch { remote, target } => {
                format!("origin {remote} has no branch {target}")
            }
            RemoteProblem::Rewound {
                target, origin_tip, ..
            } => format!(
                "origin's {target} was rewritten (now {}); waiting for `gastown mq accept-origin`",
                short(origin_tip)
            ),
            RemoteProblem::Diverged { target, files, .. } => format!(
                "the rig's {target} and origin's conflict in {}",
                files.join(", ")
            ),
            RemoteProblem::Refused {
                remote,
                target,
                reason,
            } => format!("origin {remote} refused the push to {target}: {reason}"),
            RemoteProblem::CheckedOut { remote, target } => {
                format!("origin {remote} has {target} checked out and refuses pushes to it")
            }
            RemoteProblem::KeepsMoving {
                remote,
                target,
                tries,
            } => format!("origin {remote}'s {target} moved during each of {tries} landing tries"),
        }
    }

    /// The subject of the mail to the mayor and the overseer.
    pub fn subject(&self, rig: &str) -> String {
        let what = match self {
            RemoteProblem::Unreachable { .. } => "origin is unreachable",
            RemoteProblem::NoBranch { .. } => "origin has no target branch",
            RemoteProblem::Rewound { .. } => "origin's history was rewritten",
            RemoteProblem::Diverged { .. } => "origin and the rig conflict",
            RemoteProblem::Refused { .. } => "origin refuses the refinery's push",
            RemoteProblem::CheckedOut { .. } => "origin refuses pushes to a checked-out branch",
            RemoteProblem::KeepsMoving { .. } => "origin keeps moving under the refinery",
        };
        format!("rig {rig}: {what}; nothing lands until it is resolved")
    }

    /// What happened and what to do, for the mail.
    pub fn body(&self, rig: &Rig, waiting: usize) -> String {
        let name = rig.name();
        let bare = rig.bare_repo();
        let held = format!(
            "The refinery of rig {name} landed nothing: {waiting} merge request(s) stay queued, \
             nothing was pushed and nothing was overwritten."
        );
        let what = match self {
            RemoteProblem::Unreachable { remote, detail } => format!(
                "It cannot reach origin {remote}: {detail}\n\nCheck that it exists and that git \
                 reaches it without a prompt (`git -C {} fetch origin`); the refinery retries \
                 with a growing pause. To land in the town only, set `[refinery] push = false` \
                 in {}.",
                bare.display(),
                rig.config_path().display()
            ),
            RemoteProblem::NoBranch { remote, target } => format!(
                "Origin {remote} has no branch {target}. Push the rig's {target} there \
                 (`git -C {} push origin {target}`) or set `[refinery] push = false` in {}.",
                bare.display(),
                rig.config_path().display()
            ),
            RemoteProblem::Rewound {
                remote,
                target,
                last_seen,
                origin_tip,
            } => rewound_body(&bare, remote, target, last_seen, origin_tip, name),
            RemoteProblem::Diverged {
                remote,
                target,
                local,
                origin_tip,
                files,
            } => format!(
                "The rig's {target} ({}) has landed commits origin {remote} lacks, origin's \
                 {target} ({}) has commits the rig lacks, and they conflict in {}. Merge them \
                 by hand and push to origin (`git -C {} log {origin_tip}..{local}` lists the \
                 rig's), or take origin's history with `gastown mq accept-origin {name}` (the \
                 rig's {target} is saved to a backup ref first).",
                short(local),
                short(origin_tip),
                files.join(", "),
                bare.display()
            ),
            RemoteProblem::Refused {
                remote,
                target,
                reason,
            } => format!(
                "Origin {remote} refused the push to {target}: {reason}\n\nThat is origin's \
                 rule (a hook, a protected branch or permissions): change it to let the \
                 refinery push to {target}, or set `[refinery] push = false` in {}.",
                rig.config_path().display()
            ),
            RemoteProblem::CheckedOut { remote, target } => format!(
                "Origin {remote} is a non-bare repository with {target} checked out, and git \
                 refuses pushes to a checked-out branch. To let the refinery land there: {}.",
                checked_out_fix(remote)
            ),
            RemoteProblem::KeepsMoving {
                remote,
                target,
                tries,
            } => format!(
                "Origin {remote}'s {target} moved between the refinery's fetch and its push \
                 {tries} times in a row (others push to it constantly). The refinery backs off \
                 and tries again; batching more merge requests (`batch` in {}) shortens the \
                 window.",
                rig.config_path().display()
            ),
        };
        format!("{held}\n\n{what}")
    }
}

fn rewound_body(
    bare: &std::path::Path,
    remote: &str,
    target: &str,
    last_seen: &str,
    origin_tip: &str,
    rig: &str,
) -> String {
    format!(
        "Origin {remote}'s {target} was rewritten: it is now at {origin_tip}, which does not \
         contain {last_seen}, the tip the refinery last saw there (someone force-pushed). The \
         refinery will not push over it and will not push the dropped commits back.\n\n\
         Either take origin's new history: `gastown mq accept-origin {rig}` (the rig's \
         {target} is saved to refs/gastown/backup/{target}/… first, and the merge requests \
         then land on origin's new {target}); or restore origin: push a {target} that contains \
         {last_seen} (`git -C {} log {origin_tip}..{last_seen}` lists what was dropped) and the \
         refinery continues by itself.",
        bare.display()
    )
}

/// Where the key of the last problem told is kept.
fn streak_file(rig: &Rig) -> PathBuf {
    rig.bare_repo().join("gastown").join("remote-problem")
}

/// True (and the key remembered) when `problem` starts a new streak and must be told.
pub fn first_of_streak(rig: &Rig, problem: &RemoteProblem) -> bool {
    let path = streak_file(rig);
    let key = problem.key();
    if std::fs::read_to_string(&path).is_ok_and(|told| told.trim() == key) {
        return false;
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(&path, &key) {
        tracing::warn!(path = %path.display(), "cannot remember the remote problem told: {e}");
    }
    true
}

/// The remote works again: the next problem is a new streak.
pub fn end_streak(rig: &Rig) {
    let _ = std::fs::remove_file(streak_file(rig));
}
