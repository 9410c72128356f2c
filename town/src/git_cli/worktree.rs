//! Worktrees of a rig's bare clone: add (on a branch or detached), remove, prune and list.

use super::{GitCliError, branch_exists, git, path_str};
use std::path::{Path, PathBuf};

/// Add a worktree of `bare` at `path`. With `branch`: check it out, creating it at `start_point`
/// if it does not exist yet. Without: a detached HEAD at `start_point`.
pub fn worktree_add(
    bare: &Path,
    path: &Path,
    branch: Option<&str>,
    start_point: &str,
) -> Result<(), GitCliError> {
    let path_s = path_str(path);
    match branch {
        None => git(
            bare,
            &[
                "worktree",
                "add",
                "--quiet",
                "--detach",
                &path_s,
                start_point,
            ],
        ),
        Some(b) if branch_exists(bare, b)? => {
            git(bare, &["worktree", "add", "--quiet", &path_s, b])
        }
        Some(b) => git(
            bare,
            &["worktree", "add", "--quiet", "-b", b, &path_s, start_point],
        ),
    }
    .map(drop)
}

/// Remove the worktree at `path` (with `force`, even when it has changes) and prune stale
/// registrations, so a worktree whose directory is already gone is forgotten too.
pub fn worktree_remove(bare: &Path, path: &Path, force: bool) -> Result<(), GitCliError> {
    if path.exists() {
        let path_s = path_str(path);
        let mut args = vec!["worktree", "remove"];
        if force {
            // Twice: also removes a locked worktree.
            args.extend(["--force", "--force"]);
        }
        args.push(&path_s);
        git(bare, &args)?;
    }
    worktree_prune(bare)
}

/// `git worktree prune`: forget worktrees whose directories are gone.
pub fn worktree_prune(bare: &Path) -> Result<(), GitCliError> {
    git(bare, &["worktree", "prune"]).map(drop)
}

/// One entry of `git worktree list --porcelain`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Worktree {
    pub path: PathBuf,
    /// The checked-out commit (`None` for the bare repository itself).
    pub head: Option<String>,
    /// The checked-out branch, short name (`None` when detached or bare).
    pub branch: Option<String>,
    /// The repository itself, not a linked worktree.
    pub bare: bool,
    /// Its directory is gone; `git worktree prune` would forget it.
    pub prunable: bool,
}

/// The worktrees of a repository, the repository itself first.
pub fn worktree_list(bare: &Path) -> Result<Vec<Worktree>, GitCliError> {
    let text = git(bare, &["worktree", "list", "--porcelain"])?;
    Ok(parse_worktree_list(&text))
}

fn parse_worktree_list(text: &str) -> Vec<Worktree> {
    let mut list = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut wt = Worktree {
            path: PathBuf::new(),
            head: None,
            branch: None,
            bare: false,
            prunable: false,
        };
        for line in block.lines() {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "worktree" => wt.path = PathBuf::from(value),
                "HEAD" => wt.head = Some(value.to_string()),
                "branch" => {
                    wt.branch = Some(value.trim_start_matches("refs/heads/").to_string());
                }
                "bare" => wt.bare = true,
                "prunable" => wt.prunable = true,
                _ => {}
            }
        }
        list.push(wt);
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worktree_list_porcelain_is_parsed() {
        let text = "worktree /t/r/.repo.git\nbare\n\n\
                    worktree /t/r/refinery/rig\nHEAD abc\ndetached\n\n\
                    worktree /t/r/polecats/nux/rig\nHEAD def\nbranch refs/heads/polecat/nux/gt-1\nprunable gitdir file points to non-existent location\n";
        let list = parse_worktree_list(text);
        assert_eq!(list.len(), 3);
        assert!(list[0].bare && list[0].head.is_none());
        assert_eq!(list[1].branch, None);
        assert_eq!(list[1].head.as_deref(), Some("abc"));
        assert_eq!(list[2].branch.as_deref(), Some("polecat/nux/gt-1"));
        assert!(list[2].prunable);
    }
}
