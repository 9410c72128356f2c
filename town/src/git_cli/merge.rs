//! Merging without a work tree, for the refinery: `git merge-tree --write-tree` to compute the
//! merged tree (or the conflicts), `git commit-tree` to make the commit, and `git update-ref`
//! with the expected old value to move a branch only if nobody else moved it first.

use super::{GitCliError, failed, git, output};
use std::path::Path;

/// The result of merging two commits' trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeTree {
    /// The merged tree (with conflict markers in conflicted files).
    pub tree: String,
    /// Paths with conflicts, sorted, each once (empty: a clean merge).
    pub conflicts: Vec<String>,
}

impl MergeTree {
    /// True when the merge has no conflicts.
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty()
    }
}

/// Merge `theirs` into `ours` in `repo` without touching any work tree or index.
pub fn merge_tree(repo: &Path, ours: &str, theirs: &str) -> Result<MergeTree, GitCliError> {
    let args = [
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        ours,
        theirs,
    ];
    let out = output(repo, &args)?;
    // Exit 0: clean; exit 1: conflicts (still with a tree); anything else: git could not merge.
    if !matches!(out.status.code(), Some(0 | 1)) {
        return Err(failed(repo, &args, &out));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let tree = lines.next().unwrap_or_default().trim().to_string();
    if tree.is_empty() {
        return Err(GitCliError::Unexpected {
            command: args.join(" "),
            dir: repo.to_path_buf(),
            output: text.into_owned(),
        });
    }
    let mut conflicts: Vec<String> = lines
        .take_while(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    conflicts.sort();
    conflicts.dedup();
    Ok(MergeTree { tree, conflicts })
}

/// Make a commit of `tree` with `parents` (first parent first) and return its id. No ref moves.
#[cfg(test)]
pub fn commit_tree(
    repo: &Path,
    tree: &str,
    parents: &[&str],
    message: &str,
) -> Result<String, GitCliError> {
    let mut args = vec!["commit-tree", tree];
    for parent in parents {
        args.extend(["-p", parent]);
    }
    args.extend(["-m", message]);
    git(repo, &args)
}

/// Set `refname` to `new`, with `reason` in its reflog. With `expected_old`, only if the ref is
/// still at that commit (a compare-and-swap; the all-zero id means "must not exist yet"); a ref
/// that moved meanwhile is an error and nothing changes.
pub fn update_ref(
    repo: &Path,
    refname: &str,
    new: &str,
    expected_old: Option<&str>,
    reason: &str,
) -> Result<(), GitCliError> {
    let mut args = vec!["update-ref", "-m", reason, refname, new];
    args.extend(expected_old);
    git(repo, &args).map(drop)
}

#[cfg(test)]
mod tests {
    use super::super::{commit_all, rev_parse};
    use super::*;
    use std::fs;

    fn commit_on(repo: &Path, branch: &str, file: &str, text: &str) -> String {
        git(repo, &["switch", "--quiet", branch]).expect("switch");
        fs::write(repo.join(file), text).expect("write");
        commit_all(repo, &format!("{file} on {branch}"))
            .expect("commit")
            .expect("something to commit")
    }

    #[test]
    fn merges_without_a_work_tree_and_moves_the_branch_only_from_the_expected_tip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path();
        git(repo, &["init", "--quiet", "--initial-branch=main"]).expect("init");
        fs::write(repo.join("x"), "base\n").expect("write");
        let base = commit_all(repo, "base").expect("commit").expect("a commit");
        for b in ["a", "b", "c"] {
            git(repo, &["branch", b, &base]).expect("branch");
        }
        let a = commit_on(repo, "a", "x", "from a\n");
        let b = commit_on(repo, "b", "y", "from b\n");
        commit_on(repo, "c", "x", "from c\n");
        git(repo, &["switch", "--quiet", "main"]).expect("switch");

        let clean = merge_tree(repo, "a", "b").expect("merge");
        assert!(clean.is_clean(), "{clean:?}");
        let merged = commit_tree(repo, &clean.tree, &[&a, &b], "merge b").expect("commit");
        update_ref(repo, "refs/heads/a", &merged, Some(&a), "merge").expect("cas from a");
        assert_eq!(rev_parse(repo, "a").expect("a"), merged);
        let stale = update_ref(repo, "refs/heads/a", &base, Some(&a), "late").expect_err("moved");
        assert!(stale.to_string().contains("update-ref"), "{stale}");
        assert_eq!(
            rev_parse(repo, "a").expect("a"),
            merged,
            "a failed swap changes nothing"
        );

        let conflicted = merge_tree(repo, "a", "c").expect("merge with conflicts");
        assert_eq!(conflicted.conflicts, ["x"]);
        assert_eq!(git(repo, &["status", "--porcelain"]).expect("status"), "");
    }
}
