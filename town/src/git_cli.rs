//! The git CLI, for the git work gix cannot do for us: clones, worktrees, committing an agent's
//! work tree, branch operations, rev-list counts, merge bases, and merges without a work tree
//! for the refinery (`merge.rs`). Worktree operations are in `worktree.rs`; fetching from and
//! pushing to `origin`, with a timeout and never a prompt, in `remote.rs`; keeping credentials
//! out of messages in `redact.rs`.
//!
//! Everything goes through [`git`], which runs `git -C <dir> …` with a clean environment (no
//! inherited `GIT_DIR` and friends, no credential prompts), lends gastown's identity to commands
//! that commit when the user has none configured, and turns a failure into a [`GitCliError`] that
//! names the command, the directory and git's own stderr.

mod merge;
mod redact;
mod remote;
mod worktree;

pub use merge::{MergeTree, merge_tree, update_ref};
pub use redact::redact;
pub use remote::{
    RemoteError, fetch_branch, fetch_branch_from, origin_url, push_lease, push_lease_to,
    remote_branch_tip, remote_branch_tip_from, remote_url,
};
pub use worktree::{Worktree, worktree_add, worktree_list, worktree_prune, worktree_remove};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use thiserror::Error;

/// A git command that could not run or did not succeed.
#[derive(Debug, Error)]
pub enum GitCliError {
    #[error("cannot run `git` in {dir}: {error}; is git installed and on PATH?")]
    Spawn { dir: PathBuf, error: std::io::Error },
    // A URL given to git (a clone, a fetch) may carry credentials: never show them.
    #[error("`git {}` failed in {}: {}", redact(command), dir.display(), redact(stderr))]
    Failed {
        /// The arguments after `git -C <dir>`, joined by spaces.
        command: String,
        dir: PathBuf,
        /// git's exit code (`None` when it was killed by a signal).
        code: Option<i32>,
        /// git's stderr, trimmed (or its stdout when stderr was empty).
        stderr: String,
    },
    #[error("`git {command}` in {dir} printed something unexpected: {output:?}")]
    Unexpected {
        command: String,
        dir: PathBuf,
        output: String,
    },
}

/// Subcommands that write commits and so need an author and committer identity.
const COMMITTING: &[&str] = &[
    "commit",
    "merge",
    "rebase",
    "cherry-pick",
    "revert",
    "am",
    "tag",
    "pull",
    "stash",
    "commit-tree",
];

/// Run `git -C dir <args>` and return its stdout with trailing whitespace removed.
pub fn git(dir: &Path, args: &[&str]) -> Result<String, GitCliError> {
    let out = output(dir, args)?;
    if !out.status.success() {
        return Err(failed(dir, args, &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// Run git and return `Some(stdout)` on success, `None` when it exits with code 1 (git's "no" for
/// queries like `show-ref --verify --quiet` or `symbolic-ref --quiet`), and an error otherwise.
fn git_query(dir: &Path, args: &[&str]) -> Result<Option<String>, GitCliError> {
    let out = output(dir, args)?;
    if out.status.success() {
        return Ok(Some(
            String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
        ));
    }
    if out.status.code() == Some(1) {
        return Ok(None);
    }
    Err(failed(dir, args, &out))
}

/// Variables a calling git hook or agent shell may have set that would point our git commands at
/// another repository, work tree or index.
const INHERITED_GIT_VARS: [&str; 7] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_PREFIX",
];

/// [`git`] with `GIT_INDEX_FILE` set to `index`: git's view of the work tree through another
/// index than its own (checkpoints stage into a temporary one, never touching the agent's).
pub fn git_with_index(dir: &Path, index: &Path, args: &[&str]) -> Result<String, GitCliError> {
    let out = output_with(dir, args, Some(index))?;
    if !out.status.success() {
        return Err(failed(dir, args, &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

fn output(dir: &Path, args: &[&str]) -> Result<Output, GitCliError> {
    output_with(dir, args, None)
}

fn output_with(dir: &Path, args: &[&str], index: Option<&Path>) -> Result<Output, GitCliError> {
    command(dir, args, index)
        .output()
        .map_err(|error| GitCliError::Spawn {
            dir: dir.to_path_buf(),
            error,
        })
}

/// `git -C dir <args>` as every git command here runs: see [`output_with`].
fn command(dir: &Path, args: &[&str], index: Option<&Path>) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir);
    if needs_identity(args) && !has_git_identity(dir) {
        cmd.args([
            "-c",
            "user.name=gastown",
            "-c",
            "user.email=gastown@localhost",
        ]);
    }
    // A gastown command may itself run inside a git hook or an agent's shell: never let an
    // inherited GIT_DIR or index redirect us, and never wait for a password on a terminal.
    for var in INHERITED_GIT_VARS {
        cmd.env_remove(var);
    }
    if let Some(index) = index {
        cmd.env("GIT_INDEX_FILE", index);
    }
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .args(args);
    cmd
}

fn failed(dir: &Path, args: &[&str], out: &Output) -> GitCliError {
    let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if stderr.is_empty() {
        stderr = String::from_utf8_lossy(&out.stdout).trim().to_string();
    }
    if stderr.is_empty() {
        stderr = format!("exit status {}", out.status);
    }
    GitCliError::Failed {
        command: args.join(" "),
        dir: dir.to_path_buf(),
        code: out.status.code(),
        stderr,
    }
}

fn needs_identity(args: &[&str]) -> bool {
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if *arg == "-c" {
            rest.next();
        } else if !arg.starts_with('-') {
            return COMMITTING.contains(arg);
        }
    }
    false
}

fn has_git_identity(dir: &Path) -> bool {
    ["user.name", "user.email"].iter().all(|key| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["config", "--get", key])
            .stdin(Stdio::null())
            .output()
            .map(|o| o.status.success() && !o.stdout.trim_ascii().is_empty())
            .unwrap_or(false)
    })
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// `git clone --bare <url> <dest>`, then a fetch refspec so `git fetch` keeps
/// `refs/remotes/origin/*` up to date (a bare clone has none by default) while the local
/// branches (`refs/heads/*`) stay ours.
pub fn clone_bare(url: &str, dest: &Path) -> Result<(), GitCliError> {
    clone_bare_watched(url, dest, &mut |_| {})
}

/// [`clone_bare`], telling `watch` what git reports as the clone goes (`git clone --progress`:
/// objects counted, received and resolved; a clone of a local path copies its objects at once
/// and reports none of them).
pub fn clone_bare_watched(
    url: &str,
    dest: &Path,
    watch: &mut dyn FnMut(&CloneProgress),
) -> Result<(), GitCliError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    let dest_s = path_str(dest);
    let args = ["clone", "--bare", "--progress", "--", url, dest_s.as_str()];
    let mut child = command(parent, &args, None)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| GitCliError::Spawn {
            dir: parent.to_path_buf(),
            error,
        })?;
    let mut said = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let mut pending = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = match std::io::Read::read(&mut stderr, &mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            pending.extend_from_slice(&chunk[..n]);
            while let Some(end) = pending.iter().position(|b| *b == b'\r' || *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                heard(&line[..end], &mut said, watch);
            }
        }
        heard(&pending, &mut said, watch);
    }
    let status = child.wait().map_err(|error| GitCliError::Spawn {
        dir: parent.to_path_buf(),
        error,
    })?;
    if !status.success() {
        return Err(GitCliError::Failed {
            command: args.join(" "),
            dir: parent.to_path_buf(),
            code: status.code(),
            stderr: if said.trim().is_empty() {
                format!("exit status {status}")
            } else {
                said.trim().to_string()
            },
        });
    }
    set_origin_fetch(dest)?;
    fetch(dest)
}

/// One line of git's stderr during a clone: progress to `watch`, anything else kept in `said`
/// (for the error message, free of progress noise).
fn heard(line: &[u8], said: &mut String, watch: &mut dyn FnMut(&CloneProgress)) {
    let text = String::from_utf8_lossy(line);
    if text.trim().is_empty() {
        return;
    }
    match CloneProgress::parse(&text) {
        Some(progress) => watch(&progress),
        None => {
            said.push_str(text.trim_end());
            said.push('\n');
        }
    }
}

/// One progress report of `git clone --progress`, as in `Receiving objects:  45% (405/900),
/// 1.20 MiB | 2.40 MiB/s` or `remote: Counting objects: 100% (900/900), done.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneProgress {
    /// What git is doing, lowercase, with `(remote)` for the far side's work: `receiving
    /// objects`, `counting objects (remote)`, `resolving deltas`.
    pub phase: String,
    pub done: u64,
    /// Out of how many, when git knows.
    pub total: Option<u64>,
    /// Bytes received so far, as git says it (`1.20 MiB`), while receiving.
    pub received: Option<String>,
}

impl CloneProgress {
    /// Read one line of git's progress; `None` for any other line.
    pub fn parse(line: &str) -> Option<CloneProgress> {
        let line = line.replace("\x1b[K", "");
        let line = line.trim();
        let (remote, line) = match line.strip_prefix("remote:") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, line),
        };
        let (phase, rest) = line.split_once(": ")?;
        if phase.is_empty() || !phase.chars().all(|c| c.is_ascii_alphabetic() || c == ' ') {
            return None;
        }
        let rest = rest.trim();
        let (done, total) = match rest.find('(') {
            // `45% (405/900)…`
            Some(open) => {
                let close = open + rest[open..].find(')')?;
                let (done, total) = rest[open + 1..close].split_once('/')?;
                (done.trim().parse().ok()?, Some(total.trim().parse().ok()?))
            }
            // `Enumerating objects: 900, done.`
            None => (
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()?,
                None,
            ),
        };
        let received = rest
            .split_once("), ")
            .map(|(_, after)| after.split(['|', ',']).next().unwrap_or("").trim())
            .filter(|bytes| bytes.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .map(str::to_string);
        let mut phase = phase.to_ascii_lowercase();
        if remote {
            phase.push_str(" (remote)");
        }
        Some(CloneProgress {
            phase,
            done,
            total,
            received,
        })
    }
}

/// The fetch refspec a bare clone lacks: `git fetch` keeps `refs/remotes/origin/*` current.
fn set_origin_fetch(dest: &Path) -> Result<(), GitCliError> {
    git(
        dest,
        &[
            "config",
            "remote.origin.fetch",
            "+refs/heads/*:refs/remotes/origin/*",
        ],
    )
    .map(drop)
}

/// `git fetch --prune origin` (quietly).
pub fn fetch(repo: &Path) -> Result<(), GitCliError> {
    git(repo, &["fetch", "--quiet", "--prune", "origin"]).map(drop)
}

/// Stage everything in `worktree` (new, changed and deleted files) and commit it. Returns the new
/// commit, or `None` when there was nothing to commit.
pub fn commit_all(worktree: &Path, message: &str) -> Result<Option<String>, GitCliError> {
    git(worktree, &["add", "--all"])?;
    if git_query(worktree, &["diff", "--cached", "--quiet"])?.is_some() {
        return Ok(None);
    }
    git(worktree, &["commit", "--quiet", "-m", message])?;
    rev_parse(worktree, "HEAD").map(Some)
}

/// True when `worktree` has uncommitted changes or untracked files (ignored files do not count).
pub fn is_dirty(worktree: &Path) -> Result<bool, GitCliError> {
    Ok(!git(worktree, &["status", "--porcelain"])?.is_empty())
}

/// How many commits `HEAD` of `worktree` has that `base_ref` does not.
pub fn commits_ahead(worktree: &Path, base_ref: &str) -> Result<usize, GitCliError> {
    let range = format!("{base_ref}..HEAD");
    count(worktree, &["rev-list", "--count", &range])
}

/// How many commits of `HEAD` are on no remote-tracking branch (work not pushed anywhere).
pub fn commits_unpushed(worktree: &Path) -> Result<usize, GitCliError> {
    count(
        worktree,
        &["rev-list", "--count", "HEAD", "--not", "--remotes"],
    )
}

fn count(dir: &Path, args: &[&str]) -> Result<usize, GitCliError> {
    let text = git(dir, args)?;
    text.trim().parse().map_err(|_| GitCliError::Unexpected {
        command: args.join(" "),
        dir: dir.to_path_buf(),
        output: text,
    })
}

/// The branch checked out in `dir` (short name), or `None` when HEAD is detached.
pub fn current_branch(dir: &Path) -> Result<Option<String>, GitCliError> {
    git_query(dir, &["symbolic-ref", "--quiet", "--short", "HEAD"])
}

/// The commit id `rev` names in `dir` (peeled to a commit, so a tag gives its commit). A `rev`
/// that already says what to peel to (`main^{tree}`) is taken as it is.
pub fn rev_parse(dir: &Path, rev: &str) -> Result<String, GitCliError> {
    let spec = if rev.contains("^{") {
        rev.to_string()
    } else {
        format!("{rev}^{{commit}}")
    };
    git(dir, &["rev-parse", "--verify", "--quiet", &spec])
}

/// True when `refs/heads/<branch>` exists in `dir`'s repository.
pub fn branch_exists(dir: &Path, branch: &str) -> Result<bool, GitCliError> {
    let full = format!("refs/heads/{branch}");
    Ok(git_query(dir, &["show-ref", "--verify", "--quiet", &full])?.is_some())
}

/// Delete a local branch; without `force` git refuses when it is not merged into HEAD.
pub fn delete_branch(dir: &Path, branch: &str, force: bool) -> Result<(), GitCliError> {
    let flag = if force { "-D" } else { "-d" };
    git(dir, &["branch", "--quiet", flag, "--", branch]).map(drop)
}

/// The local branches of `dir`'s repository with their tips, sorted by name.
pub fn branch_tips(dir: &Path) -> Result<Vec<(String, String)>, GitCliError> {
    let text = git(
        dir,
        &[
            "for-each-ref",
            "--format=%(refname:short) %(objectname)",
            "refs/heads/",
        ],
    )?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, id)| (name.to_string(), id.to_string()))
        .collect())
}

/// True when `ancestor` is `descendant` or one of its ancestors (`git merge-base --is-ancestor`).
pub fn is_ancestor(dir: &Path, ancestor: &str, descendant: &str) -> Result<bool, GitCliError> {
    Ok(git_query(dir, &["merge-base", "--is-ancestor", ancestor, descendant])?.is_some())
}

/// The best common ancestor of `a` and `b` (`None`: they share no history).
pub fn merge_base(dir: &Path, a: &str, b: &str) -> Result<Option<String>, GitCliError> {
    git_query(dir, &["merge-base", a, b])
}

/// The branch `HEAD` names in a (bare) repository, e.g. right after a clone: the source's
/// default branch.
pub fn head_branch(repo: &Path) -> Result<Option<String>, GitCliError> {
    git_query(repo, &["symbolic-ref", "--quiet", "--short", "HEAD"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rev_parse_peels_to_commits_unless_told_otherwise() {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path();
        git(repo, &["init", "--quiet", "--initial-branch=main"]).expect("init");
        std::fs::write(repo.join("f"), "x\n").expect("write");
        let commit = commit_all(repo, "one").expect("commit").expect("a commit");
        git(repo, &["tag", "-a", "-m", "v1", "v1"]).expect("annotated tag");
        assert_eq!(rev_parse(repo, "v1").expect("tag"), commit);
        let tree = rev_parse(repo, "main^{tree}").expect("tree");
        assert_eq!(tree, git(repo, &["write-tree"]).expect("index tree"));
        assert!(rev_parse(repo, "nope").is_err());
        assert!(!branch_exists(repo, "nope").expect("query"));
        assert_eq!(
            current_branch(repo).expect("branch").as_deref(),
            Some("main")
        );
        git(repo, &["switch", "--quiet", "--detach"]).expect("detach");
        assert_eq!(current_branch(repo).expect("detached"), None);
    }

    #[test]
    fn identity_only_for_committing_commands() {
        assert!(needs_identity(&["commit", "-m", "x"]));
        assert!(needs_identity(&["-c", "core.x=y", "merge", "b"]));
        assert!(!needs_identity(&["worktree", "add", "p"]));
        assert!(!needs_identity(&["-c", "commit", "status"]));
    }

    #[test]
    fn a_failure_names_command_dir_and_stderr() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = git(dir.path(), &["rev-parse", "--verify", "nope"]).expect_err("not a repo");
        let text = err.to_string();
        assert!(text.contains("`git rev-parse --verify nope`"), "{text}");
        assert!(text.contains(&dir.path().display().to_string()), "{text}");
        assert!(text.contains("not a git repository"), "{text}");
    }

    #[test]
    fn clone_progress_lines_are_read_and_others_are_not() {
        let receiving =
            CloneProgress::parse("Receiving objects:  45% (405/900), 1.20 MiB | 2.40 MiB/s")
                .expect("progress");
        assert_eq!(receiving.phase, "receiving objects");
        assert_eq!((receiving.done, receiving.total), (405, Some(900)));
        assert_eq!(receiving.received.as_deref(), Some("1.20 MiB"));
        let remote = CloneProgress::parse("remote: Counting objects: 100% (900/900), done.\x1b[K")
            .expect("remote progress");
        assert_eq!(remote.phase, "counting objects (remote)");
        assert_eq!((remote.done, remote.total), (900, Some(900)));
        assert_eq!(remote.received, None);
        let enumerating =
            CloneProgress::parse("remote: Enumerating objects: 900, done.").expect("a count");
        assert_eq!((enumerating.done, enumerating.total), (900, None));
        assert_eq!(
            CloneProgress::parse("Cloning into bare repository 'x'..."),
            None
        );
        assert_eq!(CloneProgress::parse("done."), None);
        assert_eq!(
            CloneProgress::parse("fatal: repository 'x' does not exist"),
            None
        );
        assert_eq!(
            CloneProgress::parse("warning: You appear to have cloned an empty repository."),
            None
        );
    }

    #[test]
    fn a_watched_clone_reports_objects_received_and_a_failure_without_progress_noise() {
        let dir = tempfile::tempdir().expect("temp dir");
        let src = dir.path().join("src");
        git(
            dir.path(),
            &["init", "--quiet", "--initial-branch=main", "src"],
        )
        .expect("init");
        for i in 0..20 {
            std::fs::write(src.join(format!("f{i}")), format!("{i}\n")).expect("write");
            commit_all(&src, &format!("c{i}")).expect("commit");
        }
        // A file:// URL goes through git's pack transfer, which reports its objects.
        let url = format!("file://{}", src.display());
        let mut seen = Vec::new();
        clone_bare_watched(&url, &dir.path().join("b.git"), &mut |p| {
            seen.push(p.clone())
        })
        .expect("clones");
        let received: Vec<&CloneProgress> = seen
            .iter()
            .filter(|p| p.phase == "receiving objects")
            .collect();
        let last = received.last().expect("objects received were reported");
        assert_eq!(Some(last.done), last.total, "{seen:?}");
        assert_eq!(
            git(&dir.path().join("b.git"), &["rev-list", "--count", "main"]).expect("count"),
            "20"
        );
        let err = clone_bare_watched(
            &dir.path().join("nope").display().to_string(),
            &dir.path().join("c.git"),
            &mut |_| {},
        )
        .expect_err("no such repository");
        let text = err.to_string();
        assert!(text.contains("does not exist"), "{text}");
        assert!(!text.contains('\r') && !text.contains('%'), "{text}");
    }
}
