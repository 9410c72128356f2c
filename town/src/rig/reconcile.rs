//! Reconciliation: before any session of a polecat or crew member starts, its working directory
//! must be its own workspace — never a plain directory, where `git` would find the town's
//! repository instead of the rig's, and never another repository's worktree.
//!
//! A polecat's worktree (`<rig>/polecats/<name>/rig`) must be a worktree of the rig's bare clone
//! (`git rev-parse --git-common-dir` is `.repo.git`, and git lists it) on its branch
//! `polecat/<name>/<hooked bead>`:
//!
//! | found at the path | what happens |
//! |---|---|
//! | the rig's worktree on its branch | nothing |
//! | the rig's worktree on another branch | switched to its branch when clean, else refused |
//! | nothing (or an empty directory), branch exists | the worktree is made again from the branch |
//! | nothing, branch gone too | [`RigError::BranchGone`]: escalated, nothing started |
//! | a plain directory, or a worktree of another repository | refused, nothing touched |
//!
//! A crew member's clone (`<rig>/crew/<name>/rig`) must be a clone of the rig's source; a missing
//! one is cloned again. Everything refused is left exactly as it was.

use super::error::{Result, RigError};
use super::{Rig, ensure_crew_clone, ensure_polecat_worktree, polecat_branch};
use crate::git_cli;
use std::fs;
use std::path::{Path, PathBuf};

/// What checking a workspace did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// It was right as it was.
    Ready,
    /// It was missing and was made again (a polecat's worktree from its branch, or a crew
    /// member's clone from the source).
    Remade(PathBuf),
    /// The worktree was switched to the identity's branch.
    Switched { from: Option<String>, to: String },
}

/// Check (and where git can, repair) the worktree of `polecat`, whose hooked bead is `hook`.
pub fn check_polecat(rig: &Rig, polecat: &str, hook: Option<&str>) -> Result<Checked> {
    let path = rig.polecat_worktree(polecat);
    let branch = hook.map(|bead| polecat_branch(polecat, bead));
    match inspect(rig, &path)? {
        Found::Ours => {
            let Some(branch) = branch else {
                return Ok(Checked::Ready);
            };
            let current = git_cli::current_branch(&path)?;
            if current.as_deref() == Some(branch.as_str()) {
                return Ok(Checked::Ready);
            }
            if !git_cli::branch_exists(&rig.bare_repo(), &branch)? {
                return Err(branch_gone(rig, polecat, &branch, &path));
            }
            ensure_polecat_worktree(rig, polecat, &branch)?;
            Ok(Checked::Switched {
                from: current,
                to: branch,
            })
        }
        Found::Nothing => {
            let Some(branch) = branch else {
                return Err(RigError::NoWorkspace {
                    who: format!("{}/polecats/{polecat}", rig.name()),
                    path,
                });
            };
            if !git_cli::branch_exists(&rig.bare_repo(), &branch)? {
                return Err(branch_gone(rig, polecat, &branch, &path));
            }
            ensure_polecat_worktree(rig, polecat, &branch)?;
            Ok(Checked::Remade(path))
        }
        Found::Plain => Err(not_a_worktree(
            rig,
            &path,
            "a plain directory, not a git worktree",
        )),
        Found::Foreign(repo) => Err(RigError::ForeignRepository {
            rig: rig.name().to_string(),
            path,
            repo,
        }),
        Found::Unreadable(why) => Err(not_a_worktree(rig, &path, &why)),
    }
}

/// Check (and when missing, clone again) the clone of crew member `name`.
pub fn check_crew(rig: &Rig, name: &str) -> Result<Checked> {
    let path = rig.crew_clone(name);
    if is_missing(&path) {
        ensure_crew_clone(rig, name)?;
        return Ok(Checked::Remade(path));
    }
    if !path.join(".git").is_dir() {
        return Err(not_a_worktree(
            rig,
            &path,
            "a plain directory, not a git clone",
        ));
    }
    // Its own `.git` directory makes it a repository of its own: git run there finds nothing
    // above it (a worktree's `.git` is a file; a plain directory has none).
    let origin = match git_cli::git(&path, &["config", "--get", "remote.origin.url"]) {
        Ok(url) => url,
        Err(git_cli::GitCliError::Failed { code: Some(1), .. }) => String::new(),
        Err(e) => {
            return Err(not_a_worktree(
                rig,
                &path,
                &format!("a .git that git cannot read: {e}"),
            ));
        }
    };
    if origin != rig.config.url {
        return Err(RigError::ForeignRepository {
            rig: rig.name().to_string(),
            path,
            repo: format!("a clone of {origin:?}, not of {}", rig.config.url),
        });
    }
    Ok(Checked::Ready)
}

/// What is at a polecat's worktree path.
enum Found {
    /// A live worktree of the rig's bare clone.
    Ours,
    /// Nothing, or an empty directory.
    Nothing,
    /// A directory with files and no `.git` of its own.
    Plain,
    /// A worktree or clone of another repository (its common git dir).
    Foreign(String),
    /// A `.git` git cannot make sense of, or the rig's worktree git no longer lists.
    Unreadable(String),
}

fn inspect(rig: &Rig, path: &Path) -> Result<Found> {
    if is_missing(path) {
        return Ok(Found::Nothing);
    }
    if !path.join(".git").exists() {
        return Ok(Found::Plain);
    }
    let common = match git_cli::git(
        path,
        &["rev-parse", "--path-format=absolute", "--git-common-dir"],
    ) {
        Ok(dir) => dir,
        Err(e) => {
            return Ok(Found::Unreadable(format!(
                "a .git that git cannot read: {e}"
            )));
        }
    };
    if !same_dir(Path::new(&common), &rig.bare_repo()) {
        return Ok(Found::Foreign(common));
    }
    let listed = git_cli::worktree_list(&rig.bare_repo())?;
    if listed
        .iter()
        .any(|w| !w.bare && !w.prunable && same_dir(&w.path, path))
    {
        return Ok(Found::Ours);
    }
    Ok(Found::Unreadable(
        "a worktree the rig's repository no longer lists".to_string(),
    ))
}

/// No directory, or an empty one (which making the worktree replaces).
fn is_missing(path: &Path) -> bool {
    !path.exists() || fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn not_a_worktree(rig: &Rig, path: &Path, found: &str) -> RigError {
    RigError::NotAWorktree {
        rig: rig.name().to_string(),
        path: path.to_path_buf(),
        found: found.to_string(),
    }
}

fn branch_gone(rig: &Rig, polecat: &str, branch: &str, path: &Path) -> RigError {
    RigError::BranchGone {
        who: format!("{}/polecats/{polecat}", rig.name()),
        branch: branch.to_string(),
        path: path.to_path_buf(),
    }
}
