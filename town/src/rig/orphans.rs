//! Worktrees, branches and homes of a rig that belong to no identity: listed by `gastown rig
//! show` and logged when `gastown run` starts, never removed silently (their commits may be the
//! only copy of someone's work; removing them is for a human who has merged or saved them).
//!
//! What belongs to whom comes from the ledger ([`Claims`]): every identity with an agent bead,
//! the beads on their hooks, and the branches of open merge requests.
//!
//! - a **worktree** belongs to the refinery (its own), or to a polecat identity
//!   (`polecats/<name>/rig`);
//! - a **polecat branch** `polecat/<name>/<bead>` belongs to that polecat while the bead is on
//!   its hook, while an open merge request names the branch, or while its worktree has it
//!   checked out;
//! - a **home** (`polecats/<name>/`, `crew/<name>/`) belongs to the identity of that name.

use super::Rig;
use super::error::Result;
use crate::git_cli;
use crate::identity::{AgentIdentity, Role};
use crate::names;
use gastown_beads::{IssueType, Ledger, ListFilter, Status};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What the ledger says belongs to some identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Addresses that have an agent bead.
    pub identities: BTreeSet<String>,
    /// Address → the beads on its hook.
    pub hooks: BTreeMap<String, Vec<String>>,
    /// Branches named by open merge requests.
    pub branches: BTreeSet<String>,
}

impl Claims {
    /// Read them from the ledger.
    pub fn read(ledger: &Ledger) -> anyhow::Result<Claims> {
        let mut claims = Claims::default();
        let agents = ledger.list(&ListFilter {
            issue_type: Some(IssueType::Agent),
            ..ListFilter::default()
        })?;
        for bead in &agents {
            let address = crate::agents::address_of(bead);
            claims.identities.insert(address.to_string());
        }
        let hooked = ledger.list(&ListFilter {
            status: Some(Status::Hooked),
            ..ListFilter::default()
        })?;
        for bead in hooked.into_iter().filter(|b| !b.assignee.is_empty()) {
            claims.hooks.entry(bead.assignee).or_default().push(bead.id);
        }
        for mr in crate::refinery::open_merge_requests(ledger)? {
            if !mr.branch.is_empty() {
                claims.branches.insert(mr.branch);
            }
        }
        Ok(claims)
    }
}

/// A worktree of the rig's bare clone that belongs to no identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrphanWorktree {
    pub path: PathBuf,
    pub branch: Option<String>,
    /// Its directory is gone (git still lists it).
    pub missing: bool,
}

/// A polecat branch that belongs to no identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrphanBranch {
    pub name: String,
    pub commit: String,
    /// Its commits are all on the default branch (deleting it loses nothing).
    pub merged: bool,
}

/// Everything of a rig that belongs to no identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Orphans {
    pub worktrees: Vec<OrphanWorktree>,
    pub branches: Vec<OrphanBranch>,
    /// Directories under `polecats/` or `crew/` of no identity.
    pub homes: Vec<PathBuf>,
}

impl Orphans {
    pub fn is_empty(&self) -> bool {
        self.worktrees.is_empty() && self.branches.is_empty() && self.homes.is_empty()
    }

    /// One line per orphan, saying what it is and whether removing it would lose work.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for w in &self.worktrees {
            let on = w.branch.as_deref().unwrap_or("a detached HEAD");
            let gone = if w.missing {
                " (directory missing)"
            } else {
                ""
            };
            out.push(format!("worktree {} on {on}{gone}", w.path.display()));
        }
        for b in &self.branches {
            let merged = if b.merged {
                "merged: safe to delete"
            } else {
                "NOT merged: save or merge it before deleting"
            };
            out.push(format!(
                "branch {} at {} ({merged})",
                b.name,
                short(&b.commit)
            ));
        }
        for h in &self.homes {
            out.push(format!("home {}", h.display()));
        }
        out
    }
}

/// What of `rig` belongs to no identity in `claims`.
pub fn find(rig: &Rig, claims: &Claims) -> Result<Orphans> {
    let owned_homes = owned_homes(rig, claims);
    let mut orphans = Orphans::default();
    let mut checked_out = BTreeSet::new();
    for w in git_cli::worktree_list(&rig.bare_repo())? {
        if w.bare {
            continue;
        }
        let owned = same_path(&w.path, &rig.refinery_worktree())
            || owned_homes.iter().any(|home| same_path(&w.path, home));
        if owned {
            checked_out.extend(w.branch.clone());
            continue;
        }
        orphans.worktrees.push(OrphanWorktree {
            path: w.path,
            branch: w.branch,
            missing: w.prunable,
        });
    }
    for (name, commit) in git_cli::branch_tips(&rig.bare_repo())? {
        if !name.starts_with("polecat/") || branch_owned(rig, claims, &name, &checked_out) {
            continue;
        }
        let merged = is_merged(rig, &commit);
        orphans.branches.push(OrphanBranch {
            name,
            commit,
            merged,
        });
    }
    for (group, names) in [
        ("polecats", rig.polecats_present()?),
        ("crew", rig.crew_present()?),
    ] {
        for name in names {
            let address = format!("{}/{group}/{name}", rig.name());
            if !claims.identities.contains(&address) {
                orphans.homes.push(rig.dir().join(group).join(name));
            }
        }
    }
    Ok(orphans)
}

/// Homes (the workspaces `polecats/<name>/rig`, `crew/<name>/rig`) of the rig's polecats and
/// crew members the ledger knows.
fn owned_homes(rig: &Rig, claims: &Claims) -> Vec<PathBuf> {
    // A rig's directory is `<town>/<rig>`.
    let Some(town_root) = rig.dir().parent() else {
        return Vec::new();
    };
    claims
        .identities
        .iter()
        .filter_map(|address| AgentIdentity::parse(address).ok())
        .filter(|identity| identity.rig.as_deref() == Some(rig.name()))
        .filter(|identity| matches!(identity.role, Role::Polecat | Role::Crew))
        .map(|identity| names::home(town_root, &identity))
        .collect()
}

/// Is `polecat/<name>/<bead>` on `<name>`'s hook, named by an open merge request, or checked out
/// in an owned worktree?
fn branch_owned(rig: &Rig, claims: &Claims, branch: &str, checked_out: &BTreeSet<String>) -> bool {
    if claims.branches.contains(branch) || checked_out.contains(branch) {
        return true;
    }
    let Some((name, bead)) = branch
        .strip_prefix("polecat/")
        .and_then(|rest| rest.split_once('/'))
    else {
        return false;
    };
    let address = format!("{}/polecats/{name}", rig.name());
    claims
        .hooks
        .get(&address)
        .is_some_and(|beads| beads.iter().any(|b| b == bead))
}

/// Are all of `commit`'s commits on the default branch?
fn is_merged(rig: &Rig, commit: &str) -> bool {
    git_cli::git(
        &rig.bare_repo(),
        &["merge-base", "--is-ancestor", commit, &rig.default_ref()],
    )
    .is_ok()
}

fn same_path(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}
