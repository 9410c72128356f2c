//! The git plumbing the refinery needs beyond `git_cli`: a merge with an explicit base (one
//! commit replayed for the rebase strategy), the trailers in the target's history, and the
//! commits a branch adds.

use crate::git_cli::{self, GitCliError, MergeTree};
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};

/// Run git in `repo`; returns (exit code, stdout, stderr) whatever the exit status.
fn run(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<(Option<i32>, String, String)> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(repo);
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_COMMON_DIR",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .args(args)
        .output()
        .with_context(|| format!("could not run git in {}: is git installed?", repo.display()))?;
    Ok((
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// `git merge-tree --write-tree --merge-base <base> <ours> <theirs>`: the change `base..theirs`
/// applied onto `ours` (a cherry-pick of `theirs` when `base` is its parent), no work tree.
pub fn merge_tree_with_base(
    repo: &Path,
    base: &str,
    ours: &str,
    theirs: &str,
) -> Result<MergeTree> {
    let args = [
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        "--merge-base",
        base,
        ours,
        theirs,
    ];
    let (code, stdout, stderr) = run(repo, &args, &[])?;
    if !matches!(code, Some(0 | 1)) {
        bail!(
            "`git {}` failed in {}: {}",
            args.join(" "),
            repo.display(),
            stderr.trim()
        );
    }
    let mut lines = stdout.lines();
    let tree = lines.next().unwrap_or_default().trim().to_string();
    if tree.is_empty() {
        bail!("`git merge-tree` printed no tree in {}", repo.display());
    }
    let mut conflicts: Vec<String> = lines
        .take_while(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    conflicts.sort();
    conflicts.dedup();
    Ok(MergeTree { tree, conflicts })
}

/// MR ids found in `Gastown-MR:` trailers of the last `depth` commits of `tip`, each with the
/// commit that carries it.
pub fn trailers(repo: &Path, tip: &str, depth: usize) -> Result<HashMap<String, String>> {
    let format = format!(
        "--format=%H%x00%(trailers:key={},valueonly=true,separator=%x20)",
        super::TRAILER
    );
    let n = format!("-n{depth}");
    let text = git_cli::git(repo, &["log", &n, &format, tip])?;
    let mut found = HashMap::new();
    for line in text.lines() {
        let Some((commit, ids)) = line.split_once('\0') else {
            continue;
        };
        for id in ids.split_whitespace() {
            found
                .entry(id.to_string())
                .or_insert_with(|| commit.to_string());
        }
    }
    Ok(found)
}

/// The tip of `refs/heads/<branch>`, or `None` when the branch is gone.
pub fn branch_tip(repo: &Path, branch: &str) -> Result<Option<String>> {
    let refname = format!("refs/heads/{branch}^{{commit}}");
    let (code, stdout, _) = run(repo, &["rev-parse", "--verify", "--quiet", &refname], &[])?;
    Ok((code == Some(0)).then(|| stdout.trim().to_string()))
}

/// The commits `branch` adds on top of `onto`, oldest first (merges left out).
pub fn commits_to_replay(repo: &Path, onto: &str, branch: &str) -> Result<Vec<String>> {
    let range = format!("{onto}..{branch}");
    let text = git_cli::git(repo, &["rev-list", "--reverse", "--no-merges", &range])?;
    Ok(text.lines().map(str::to_string).collect())
}

/// A commit's author (name, email, date) and message, to replay it faithfully.
pub struct CommitInfo {
    pub author: [String; 3],
    pub message: String,
}

pub fn commit_info(repo: &Path, commit: &str) -> Result<CommitInfo> {
    let text = git_cli::git(
        repo,
        &["log", "-1", "--format=%an%x00%ae%x00%aI%x00%B", commit],
    )?;
    let mut parts = text.splitn(4, '\0');
    let mut next = || parts.next().unwrap_or_default().to_string();
    let author = [next(), next(), next()];
    Ok(CommitInfo {
        author,
        message: next().trim_end().to_string(),
    })
}

/// `git commit-tree` as the refinery (committer), with the author taken from `author` when
/// given (a replayed commit keeps its author) and the refinery otherwise.
pub fn commit_tree_as(
    repo: &Path,
    tree: &str,
    parents: &[&str],
    message: &str,
    author: Option<&[String; 3]>,
) -> Result<String> {
    let mut args = vec!["commit-tree", tree];
    for p in parents {
        args.extend(["-p", p]);
    }
    args.extend(["-m", message]);
    let mut env = vec![
        ("GIT_COMMITTER_NAME", "gastown refinery"),
        ("GIT_COMMITTER_EMAIL", "refinery@gastown.localhost"),
        ("GIT_AUTHOR_NAME", "gastown refinery"),
        ("GIT_AUTHOR_EMAIL", "refinery@gastown.localhost"),
    ];
    if let Some([name, email, date]) = author {
        env.truncate(2);
        env.extend([
            ("GIT_AUTHOR_NAME", name.as_str()),
            ("GIT_AUTHOR_EMAIL", email.as_str()),
            ("GIT_AUTHOR_DATE", date.as_str()),
        ]);
    }
    let (code, stdout, stderr) = run(repo, &args, &env)?;
    if code != Some(0) {
        bail!(
            "`git commit-tree` failed in {}: {}",
            repo.display(),
            stderr.trim()
        );
    }
    Ok(stdout.trim().to_string())
}

/// The rig's old targets saved by `mq accept-origin` (`refs/gastown/backup/*`) that `tip` does
/// not contain: history origin dropped, which no merge may bring back.
pub fn dropped_history(repo: &Path, tip: &str) -> Result<Vec<String>> {
    let text = git_cli::git(
        repo,
        &[
            "for-each-ref",
            "--format=%(objectname)",
            "refs/gastown/backup/",
        ],
    )?;
    let mut dropped = Vec::new();
    for backup in text.lines().filter(|l| !l.is_empty()) {
        if !git_cli::is_ancestor(repo, backup, tip)? {
            dropped.push(backup.to_string());
        }
    }
    Ok(dropped)
}

/// How many dropped commits (history of `dropped` that `tip` lacks) merging `branch_tip` would
/// bring back: the branch forked from the dropped history, not from `tip`'s.
pub fn carries_dropped(
    repo: &Path,
    dropped: &[String],
    branch_tip: &str,
    tip: &str,
) -> Result<usize> {
    for backup in dropped {
        let Ok(fork) = git_cli::git(repo, &["merge-base", branch_tip, backup]) else {
            continue;
        };
        if !git_cli::is_ancestor(repo, &fork, tip)? {
            let not_tip = format!("^{tip}");
            let n = git_cli::git(repo, &["rev-list", "--count", &fork, &not_tip])?;
            return Ok(n.trim().parse().unwrap_or(1).max(1));
        }
    }
    Ok(0)
}

/// True when `err` is git refusing a compare-and-swap because the ref moved.
pub fn is_cas_miss(err: &GitCliError) -> bool {
    matches!(err, GitCliError::Failed { stderr, .. }
        if stderr.contains("but expected") || stderr.contains("cannot lock ref"))
}
