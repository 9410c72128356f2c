//! Polecat branches on origin: `gastown done` pushes the branch (so work in flight survives the
//! loss of the town's disk) and the refinery deletes it there once the merge is confirmed.
//!
//! Both go through an exact lease on the tip gastown itself last pushed, kept in
//! `refs/gastown/pushed/<branch>` of the bare clone (never `refs/remotes/origin/*`, which a
//! fetch would move to whatever is on origin). No such ref means "origin must not have the
//! branch", so a branch name already taken on origin by someone else is never overwritten and
//! never deleted. These run outside the ledger's owner: they wait on the network.

use super::origin::pushed_ref;
use crate::git_cli::{self, RemoteError};
use crate::rig::Rig;

/// Push `commit` as polecat branch `branch` to origin; returns one line for the polecat (the
/// branch is on origin, or why not). Never fails: the merge request is filed already and the
/// work is safe in the town.
pub fn push_polecat_branch(rig: &Rig, branch: &str, commit: &str) -> String {
    if !rig.config.refinery.pushes_branches() {
        return String::new();
    }
    if !is_polecat_branch(rig, branch) {
        return format!(
            "warning: {branch} is not on origin: only polecat branches (polecat/<name>/<bead>) \
             are pushed. The merge request is filed: the refinery lands it from the town\n"
        );
    }
    let repo = rig.bare_repo();
    let remote = git_cli::origin_url(&repo);
    let timeout = rig.config.refinery.remote_timeout.0;
    let ours = git_cli::rev_parse(&repo, &pushed_ref(branch)).ok();
    let mut result = git_cli::push_lease(&repo, Some(commit), branch, ours.as_deref(), timeout);
    if matches!(result, Err(RemoteError::Stale { .. })) {
        // A push whose bookkeeping was lost (a crash) left our own commit there: it is ours
        // if it is this polecat's own work — in the history of what we push now, and not
        // already on the rig's target (where anyone's branch could start).
        if let Ok(Some(there)) = git_cli::remote_branch_tip(&repo, branch, timeout)
            && ours.as_deref() != Some(there.as_str())
            && git_cli::is_ancestor(&repo, &there, commit).unwrap_or(false)
            && !git_cli::is_ancestor(&repo, &there, &rig.default_ref()).unwrap_or(true)
        {
            result = git_cli::push_lease(&repo, Some(commit), branch, Some(&there), timeout);
        }
    }
    match result {
        Ok(()) => {
            let reason = "gastown done: pushed";
            if let Err(e) = git_cli::update_ref(&repo, &pushed_ref(branch), commit, None, reason) {
                tracing::warn!(%branch, "pushed, but cannot remember it: {e}");
            }
            // The refinery may have merged and removed the branch while this push ran: it
            // could not delete what was not pushed yet, so delete it now.
            if !git_cli::branch_exists(&repo, branch).unwrap_or(true) {
                return format!(
                    "{branch} was merged while it was pushed; {}\n",
                    delete_on_origin(rig, branch)
                );
            }
            format!("pushed {branch} to origin {remote}\n")
        }
        Err(RemoteError::Stale { .. }) => format!(
            "warning: {branch} is not on origin {remote}: origin already has a branch of that \
             name that gastown did not push, and it was left alone (delete or rename it there \
             if it is not needed). The merge request is filed and the work is safe in the town: \
             the refinery lands it from there\n"
        ),
        Err(e) => format!(
            "warning: {branch} is not on origin: {e}. The merge request is filed and the work \
             is safe in the town: the refinery lands it from there\n"
        ),
    }
}

/// Delete polecat branch `branch` on origin if gastown pushed it and it is still where gastown
/// left it; returns a note. Failures are notes too (logged by the caller), never errors.
pub fn delete_on_origin(rig: &Rig, branch: &str) -> String {
    if !is_polecat_branch(rig, branch) {
        return String::new();
    }
    let repo = rig.bare_repo();
    let Ok(ours) = git_cli::rev_parse(&repo, &pushed_ref(branch)) else {
        return String::new();
    };
    if !rig.config.refinery.push {
        return format!("{branch} left on origin (`[refinery] push = false`)");
    }
    let timeout = rig.config.refinery.remote_timeout.0;
    let forget = || {
        let _ = git_cli::git(&repo, &["update-ref", "-d", &pushed_ref(branch)]);
    };
    match git_cli::push_lease(&repo, None, branch, Some(&ours), timeout) {
        Ok(()) => {
            forget();
            format!("{branch} deleted on origin")
        }
        Err(RemoteError::Stale { .. }) => {
            // Gone already, or someone else pushed to it since: theirs now, left alone.
            forget();
            format!("{branch} not deleted on origin: it is gone or someone else moved it")
        }
        Err(e) => format!("{branch} not deleted on origin: {e}"),
    }
}

/// Only a polecat's own branch (`polecat/<name>/<bead>`) is ever pushed or deleted on origin by
/// `done` and the refinery — never the target, whatever an MR bead says its branch is.
pub fn is_polecat_branch(rig: &Rig, branch: &str) -> bool {
    branch.starts_with("polecat/") && branch != rig.config.default_branch
}
