//! Removing a merged polecat's sandbox: its worktree, its branch, and the branch's copy on
//! origin — only what the merge confirms, and only after the polecat's session has ended (a
//! session must never run in a removed worktree). [`super::record`] returns the sandboxes; the
//! live refinery first stops each polecat's session (`Effect::StopSession`), then calls
//! [`remove_sandbox`] on a blocking thread; `gastown mq process` (no sessions) calls it at once.
//! It is slow git work, so it never runs inside the ledger's owner.

use super::branches::delete_on_origin;
use super::gitops;
use crate::git_cli;
use crate::identity::{AgentIdentity, Role};
use crate::rig::{self, Rig};
use crate::town::Town;

/// A merged MR's sandbox, to remove once its polecat's session has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    pub rig: String,
    /// The merge request that landed it.
    pub mr: String,
    /// The polecat's address (`<rig>/polecats/<name>`); may be empty or not a polecat.
    pub worker: String,
    pub branch: String,
    pub target: String,
    /// The branch commit that landed (`None` after a crash: then the branch must be contained
    /// in the target).
    pub landed_tip: Option<String>,
}

/// A merged MR's polecat is recycled (its sandbox removed): the protocol wisps about that MR
/// that the recycling answers are handled — POLECAT_DONE and MERGED to the rig's witness (whose
/// job, recycling, this is) and MERGED to the polecat itself (which is gone). Returns how many
/// were closed.
pub fn recycled(
    ledger: &mut gastown_beads::Ledger,
    sandbox: &Sandbox,
    who: &str,
) -> anyhow::Result<usize> {
    use crate::mail::store::{ProtocolKind, close_handled};
    let witness = format!("{}/witness", sandbox.rig);
    let mut closed = close_handled(
        ledger,
        ProtocolKind::PolecatDone,
        &witness,
        &sandbox.mr,
        who,
    )?;
    closed += close_handled(ledger, ProtocolKind::Merged, &witness, &sandbox.mr, who)?;
    if !sandbox.worker.is_empty() {
        closed += close_handled(
            ledger,
            ProtocolKind::Merged,
            &sandbox.worker,
            &sandbox.mr,
            who,
        )?;
    }
    Ok(closed)
}

impl Sandbox {
    /// The polecat whose worktree this is, if the worker is one.
    pub fn polecat(&self) -> Option<String> {
        AgentIdentity::parse(&self.worker)
            .ok()
            .filter(|id| id.role == Role::Polecat)
            .map(|id| id.name)
    }
}

/// Remove `sandbox`: the worktree (only if it is still on the merged branch and clean), the
/// branch (only if its tip landed), and the branch on origin (only if it is where gastown pushed
/// it). Returns a note; failures are notes, never errors — the merge is recorded already.
pub fn remove_sandbox(town: &Town, sandbox: &Sandbox) -> String {
    let rig = match Rig::load(town, &sandbox.rig) {
        Ok(rig) => rig,
        Err(e) => return format!("sandbox of {} kept ({e})", sandbox.branch),
    };
    let local = remove_local(&rig, sandbox);
    let remote = delete_on_origin(&rig, &sandbox.branch);
    match (local.is_empty(), remote.is_empty()) {
        (_, true) => local,
        (true, false) => remote,
        (false, false) => format!("{local}; {remote}"),
    }
}

fn remove_local(rig: &Rig, sandbox: &Sandbox) -> String {
    let repo = rig.bare_repo();
    let branch = &sandbox.branch;
    if !super::branches::is_polecat_branch(rig, branch) || *branch == sandbox.target {
        return format!("{branch} kept: not a polecat branch");
    }
    let tip = match gitops::branch_tip(&repo, branch) {
        Ok(Some(tip)) => tip,
        Ok(None) => return String::new(),
        Err(e) => return format!("sandbox kept ({e:#})"),
    };
    let contained = sandbox.landed_tip.as_deref() == Some(tip.as_str())
        || git_cli::is_ancestor(&repo, &tip, &sandbox.target).unwrap_or(false);
    if !contained {
        return format!("sandbox and branch kept: {branch} has commits that did not land");
    }
    if let Some(polecat) = sandbox.polecat() {
        // A sling may be reusing the polecat: its worktree is checked and removed under the
        // lock, so a worktree switched to new work is seen on its new branch and kept.
        let _lock = match rig.lock_polecat(&polecat) {
            Ok(lock) => lock,
            Err(e) => return format!("sandbox kept ({e})"),
        };
        let status = match rig::polecat_status(rig, &polecat) {
            Ok(s) => s,
            Err(e) => return format!("sandbox kept ({e})"),
        };
        let on_branch = status.branch.as_deref() == Some(branch.as_str());
        if status.exists && on_branch {
            if status.dirty {
                return format!("sandbox kept: {polecat}'s worktree has uncommitted changes");
            }
            if let Err(e) = rig::remove_polecat_worktree(rig, &polecat, true) {
                return format!("sandbox kept ({e})");
            }
        }
    }
    match git_cli::delete_branch(&repo, branch, true) {
        Ok(()) => format!("sandbox and branch {branch} removed"),
        Err(e) => format!("branch {branch} kept ({e})"),
    }
}
