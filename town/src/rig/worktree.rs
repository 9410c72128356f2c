//! The rig's working copies: the refinery's worktree, polecat worktrees made on demand on their
//! own branches, and full clones for crew. Every `ensure_*` is idempotent: calling it again with
//! the same arguments finds what the first call made.

use super::Rig;
use super::error::{Result, RigError};
use super::names::validate_name;
use crate::git_cli;
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};

/// The branch a polecat works a bead on: `polecat/<name>/<bead-id>`.
pub fn polecat_branch(polecat: &str, bead_id: &str) -> String {
    format!("polecat/{polecat}/{bead_id}")
}

/// The refinery's worktree, made if missing: a detached HEAD at the default branch's tip.
///
/// Detached, not on the default branch itself: the refinery advances `refs/heads/<default>`
/// with a compare-and-swap after a merge passes its gates, which a worktree holding that branch
/// would turn into a stale checkout (and git refuses `branch -f` on a checked-out branch). The
/// refinery checks out whatever it needs to gate (`git checkout --detach <candidate>`) instead.
pub fn ensure_refinery_worktree(rig: &Rig) -> Result<PathBuf> {
    let path = rig.refinery_worktree();
    if is_worktree_of(rig, &path)? {
        return Ok(path);
    }
    prepare_worktree_dir(rig, &path)?;
    git_cli::worktree_add(&rig.bare_repo(), &path, None, &rig.default_ref())?;
    Ok(path)
}

/// A polecat's worktree at `<rig>/polecats/<polecat>/rig`, on `branch` (created from the
/// default branch if it does not exist). Idempotent: an existing worktree on `branch` is
/// returned as it is; one on another branch (a polecat reused for new work) is switched to
/// `branch` if it has no uncommitted changes. The old branch is kept.
pub fn ensure_polecat_worktree(rig: &Rig, polecat: &str, branch: &str) -> Result<PathBuf> {
    validate_name("polecat", polecat)?;
    check_branch_name(rig, branch)?;
    let path = rig.polecat_worktree(polecat);
    if is_worktree_of(rig, &path)? {
        let current = git_cli::current_branch(&path)?;
        if current.as_deref() == Some(branch) {
            return Ok(path);
        }
        if git_cli::is_dirty(&path)? {
            return Err(RigError::UnsavedWork {
                what: format!("polecat {polecat:?} of rig {:?}", rig.name()),
                details: vec![format!(
                    "uncommitted changes on {}",
                    current.as_deref().unwrap_or("a detached HEAD")
                )],
            });
        }
        switch_branch(rig, &path, branch)?;
        return Ok(path);
    }
    prepare_worktree_dir(rig, &path)?;
    git_cli::worktree_add(&rig.bare_repo(), &path, Some(branch), &rig.default_ref())?;
    Ok(path)
}

/// A branch name git accepts, and that no git command could take for an option.
fn check_branch_name(rig: &Rig, branch: &str) -> Result<()> {
    let invalid = || RigError::InvalidBranch {
        branch: branch.to_string(),
    };
    if branch.is_empty() || branch.starts_with('-') {
        return Err(invalid());
    }
    match git_cli::git(&rig.bare_repo(), &["check-ref-format", "--branch", branch]) {
        Ok(_) => Ok(()),
        Err(git_cli::GitCliError::Failed { .. }) => Err(invalid()),
        Err(e) => Err(e.into()),
    }
}

fn switch_branch(rig: &Rig, worktree: &Path, branch: &str) -> Result<()> {
    if git_cli::branch_exists(worktree, branch)? {
        git_cli::git(worktree, &["switch", "--quiet", branch])?;
    } else {
        let start = rig.default_ref();
        git_cli::git(
            worktree,
            &["switch", "--quiet", "--no-track", "-c", branch, &start],
        )?;
    }
    Ok(())
}

/// Remove a polecat's worktree (its branch stays: no branch is deleted before its merge is
/// confirmed). Without `force`, refuses when the worktree has uncommitted changes or commits
/// that are not on the default branch. The polecat's directory goes too when nothing else is
/// left in it. A polecat with no worktree is not an error.
pub fn remove_polecat_worktree(rig: &Rig, polecat: &str, force: bool) -> Result<()> {
    validate_name("polecat", polecat)?;
    let path = rig.polecat_worktree(polecat);
    if !force {
        let status = polecat_status(rig, polecat)?;
        let unsaved = status.unsaved();
        if !unsaved.is_empty() {
            return Err(RigError::UnsavedWork {
                what: format!("polecat {polecat:?} of rig {:?}", rig.name()),
                details: unsaved,
            });
        }
    }
    // Our own checks above are the policy; --force lets git also drop ignored build output and
    // locked worktrees.
    git_cli::worktree_remove(&rig.bare_repo(), &path, true)?;
    let dir = rig.polecat_dir(polecat);
    if dir.is_dir()
        && fs::read_dir(&dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false)
    {
        fs::remove_dir(&dir).map_err(|e| RigError::io("remove", &dir, e))?;
    }
    Ok(())
}

/// A crew member's full clone of the rig's source at `<rig>/crew/<name>/rig`, on the default
/// branch, made if missing. Objects are copied from the rig's bare clone where it can, so only
/// what is new is fetched; the clone does not depend on the bare clone afterwards.
pub fn ensure_crew_clone(rig: &Rig, name: &str) -> Result<PathBuf> {
    validate_name("crew", name)?;
    let path = rig.crew_clone(name);
    if path.join(".git").is_dir() {
        return Ok(path);
    }
    if path.exists() && !is_empty_dir(&path) {
        return Err(RigError::NotAWorktree {
            rig: rig.name().to_string(),
            path,
            found: "files that are not a clone".to_string(),
        });
    }
    let parent = rig.crew_dir(name);
    fs::create_dir_all(&parent).map_err(|e| RigError::io("create", &parent, e))?;
    let bare = rig.bare_repo().to_string_lossy().into_owned();
    let dest = path.to_string_lossy().into_owned();
    let cloned = git_cli::git(
        &parent,
        &[
            "clone",
            "--quiet",
            "--reference-if-able",
            &bare,
            "--dissociate",
            "--branch",
            &rig.config.default_branch,
            "--",
            &rig.config.url,
            &dest,
        ],
    );
    if let Err(error) = cloned {
        // Leave nothing half-made behind.
        let _ = fs::remove_dir_all(&path);
        return Err(RigError::Clone {
            url: rig.config.url.clone(),
            error,
        });
    }
    Ok(path)
}

/// What a polecat's worktree holds, for `rig show`, `rig remove` and the witness.
#[derive(Debug, Clone, Serialize)]
pub struct PolecatStatus {
    pub name: String,
    pub worktree: PathBuf,
    /// The worktree exists on disk.
    pub exists: bool,
    /// The checked-out branch (`None` when detached or missing).
    pub branch: Option<String>,
    /// The checked-out commit.
    pub head: Option<String>,
    /// Commits on HEAD that the default branch does not have.
    pub ahead: usize,
    /// Uncommitted changes or untracked files.
    pub dirty: bool,
}

impl PolecatStatus {
    /// Why removing this worktree would lose work (empty: it would not).
    pub fn unsaved(&self) -> Vec<String> {
        let on = self.branch.as_deref().unwrap_or("a detached HEAD");
        let mut why = Vec::new();
        if self.dirty {
            why.push(format!("{}: uncommitted changes on {on}", self.name));
        }
        if self.ahead > 0 {
            why.push(format!(
                "{}: {} commit(s) on {on} not merged into the default branch",
                self.name, self.ahead
            ));
        }
        why
    }
}

/// The state of a polecat's worktree.
pub fn polecat_status(rig: &Rig, polecat: &str) -> Result<PolecatStatus> {
    let path = rig.polecat_worktree(polecat);
    let mut status = PolecatStatus {
        name: polecat.to_string(),
        worktree: path.clone(),
        exists: path.join(".git").exists(),
        branch: None,
        head: None,
        ahead: 0,
        dirty: false,
    };
    if status.exists {
        status.branch = git_cli::current_branch(&path)?;
        status.head = Some(git_cli::rev_parse(&path, "HEAD")?);
        status.ahead = git_cli::commits_ahead(&path, &rig.default_ref())?;
        status.dirty = git_cli::is_dirty(&path)?;
    }
    Ok(status)
}

/// True when `path` is a live worktree registered in the rig's bare clone.
fn is_worktree_of(rig: &Rig, path: &Path) -> Result<bool> {
    if !path.join(".git").is_file() {
        return Ok(false);
    }
    let Ok(wanted) = path.canonicalize() else {
        return Ok(false);
    };
    let listed = git_cli::worktree_list(&rig.bare_repo())?;
    Ok(listed
        .iter()
        .any(|w| !w.prunable && w.path.canonicalize().is_ok_and(|p| p == wanted)))
}

/// Make way for a new worktree at `path`: forget registrations whose directories are gone,
/// refuse to bury files that are there, and create the parent directory.
fn prepare_worktree_dir(rig: &Rig, path: &Path) -> Result<()> {
    git_cli::worktree_prune(&rig.bare_repo())?;
    if path.exists() {
        if !is_empty_dir(path) {
            return Err(RigError::NotAWorktree {
                rig: rig.name().to_string(),
                path: path.to_path_buf(),
                found: "files that are not a worktree".to_string(),
            });
        }
        fs::remove_dir(path).map_err(|e| RigError::io("remove", path, e))?;
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| RigError::io("create", parent, e))?;
    }
    Ok(())
}

fn is_empty_dir(path: &Path) -> bool {
    fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}
