//! Talking to a repository's `origin`: fetching one branch into a ref of our own, pushing with
//! an exact lease (a compare-and-swap on the remote), deleting a branch there, asking where a
//! branch is. Only the refinery and `gastown done` call these.
//!
//! Every command here may wait on a network, so each runs with a timeout: git runs in its own
//! process group and the whole group (ssh included) is killed when the time is up. Nothing may
//! prompt: no terminal prompts (`GIT_TERMINAL_PROMPT=0`), and ssh in batch mode unless the user
//! chose an ssh command of their own (`GIT_SSH_COMMAND` or `core.sshCommand`). Authentication
//! is git's own (credential helpers, ssh agent); gastown adds none. Every message that names the
//! remote or repeats git's words goes through [`redact`], so no credential is ever printed.

use super::redact::redact;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use thiserror::Error;

/// The remote every rig's bare clone talks to.
pub const ORIGIN: &str = "origin";

/// Why talking to a remote did not work. `remote` is always the redacted URL.
#[derive(Debug, Error)]
pub enum RemoteError {
    #[error("cannot run `git` in {dir}: {error}; is git installed and on PATH?")]
    Spawn { dir: PathBuf, error: std::io::Error },
    #[error(
        "{remote} did not answer within {}: check the network and that git can reach it \
         without a prompt (credential helper or ssh agent)",
        humantime::format_duration(*after)
    )]
    TimedOut { remote: String, after: Duration },
    #[error("cannot reach {remote}: {detail}")]
    Unreachable { remote: String, detail: String },
    #[error("{remote} has no branch {branch:?}")]
    NoSuchBranch { remote: String, branch: String },
    #[error("{remote} refused the push to {refname}: {reason}")]
    Rejected {
        remote: String,
        refname: String,
        reason: String,
    },
    #[error(
        "{remote} is a repository with {branch} checked out, and git refuses pushes to a \
         checked-out branch"
    )]
    CheckedOut { remote: String, branch: String },
    #[error("{refname} on {remote} is not at the commit gastown expected: someone else moved it")]
    Stale { remote: String, refname: String },
}

/// git's answer, whatever its exit status.
struct Answer {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// The URL of `origin` in `repo`, redacted (for messages), or `origin` when it has none.
pub fn origin_url(repo: &Path) -> String {
    remote_url(repo, ORIGIN)
}

/// The URL of remote `remote` in `repo`, redacted (for messages), or its name when it has none.
pub fn remote_url(repo: &Path, remote: &str) -> String {
    super::git(repo, &["config", "--get", &format!("remote.{remote}.url")])
        .map(|url| redact(&url))
        .unwrap_or_else(|_| remote.to_string())
}

/// Fetch origin's `branch` into `into_ref` (forced: it is ours and mirrors origin); returns
/// the commit origin's branch is at.
pub fn fetch_branch(
    repo: &Path,
    branch: &str,
    into_ref: &str,
    timeout: Duration,
) -> Result<String, RemoteError> {
    fetch_branch_from(repo, ORIGIN, branch, into_ref, timeout)
}

/// [`fetch_branch`] from any remote of `repo` (a name or a URL).
pub fn fetch_branch_from(
    repo: &Path,
    remote: &str,
    branch: &str,
    into_ref: &str,
    timeout: Duration,
) -> Result<String, RemoteError> {
    let refspec = format!("+refs/heads/{branch}:{into_ref}");
    // `--refmap=`: no opportunistic update of `refs/remotes/origin/*`, which the refinery
    // keeps as "the origin tip last accepted" and compares the fetched tip against.
    let args = [
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--refmap=",
        remote,
        &refspec,
    ];
    let answer = run(repo, &args, timeout)?;
    if answer.code != Some(0) {
        if answer.stderr.contains("couldn't find remote ref") {
            return Err(RemoteError::NoSuchBranch {
                remote: remote_url(repo, remote),
                branch: branch.to_string(),
            });
        }
        return Err(unreachable(repo, remote, &answer));
    }
    super::rev_parse(repo, into_ref).map_err(|e| RemoteError::Unreachable {
        remote: remote_url(repo, remote),
        detail: format!("the fetch left no {into_ref}: {e}"),
    })
}

/// Push `commit` to origin's `refs/heads/<branch>` only if origin's branch is at `expected`
/// (`None`: only if origin has no such branch). With `commit` `None` the branch is deleted
/// (under the same lease). Nothing is ever overwritten that gastown did not expect.
pub fn push_lease(
    repo: &Path,
    commit: Option<&str>,
    branch: &str,
    expected: Option<&str>,
    timeout: Duration,
) -> Result<(), RemoteError> {
    push_lease_to(repo, ORIGIN, commit, branch, expected, timeout)
}

/// [`push_lease`] to any remote of `repo` (a name or a URL).
pub fn push_lease_to(
    repo: &Path,
    remote: &str,
    commit: Option<&str>,
    branch: &str,
    expected: Option<&str>,
    timeout: Duration,
) -> Result<(), RemoteError> {
    let refname = format!("refs/heads/{branch}");
    let lease = format!("--force-with-lease={refname}:{}", expected.unwrap_or(""));
    let refspec = format!("{}:{refname}", commit.unwrap_or(""));
    let args = ["push", "--porcelain", remote, &lease, &refspec];
    let answer = run(repo, &args, timeout)?;
    match porcelain_line(&answer.stdout, &refname) {
        Some(PushLine { flag: '!', summary }) => {
            Err(rejection(repo, remote, &refname, &summary, &answer))
        }
        Some(_) if answer.code == Some(0) => Ok(()),
        Some(PushLine { summary, .. }) => Err(rejection(repo, remote, &refname, &summary, &answer)),
        None if answer.code == Some(0) => Ok(()),
        None => Err(unreachable(repo, remote, &answer)),
    }
}

/// Where origin's `branch` is (`None`: origin has no such branch).
pub fn remote_branch_tip(
    repo: &Path,
    branch: &str,
    timeout: Duration,
) -> Result<Option<String>, RemoteError> {
    remote_branch_tip_from(repo, ORIGIN, branch, timeout)
}

/// [`remote_branch_tip`] of any remote of `repo` (a name or a URL).
pub fn remote_branch_tip_from(
    repo: &Path,
    remote: &str,
    branch: &str,
    timeout: Duration,
) -> Result<Option<String>, RemoteError> {
    let refname = format!("refs/heads/{branch}");
    let answer = run(repo, &["ls-remote", "--heads", remote, &refname], timeout)?;
    if answer.code != Some(0) {
        return Err(unreachable(repo, remote, &answer));
    }
    Ok(answer
        .stdout
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(_, name)| *name == refname)
        .map(|(id, _)| id.to_string()))
}

/// One line of `git push --porcelain`: `<flag>\t<from>:<to>\t<summary>`.
#[derive(Debug, PartialEq)]
struct PushLine {
    flag: char,
    summary: String,
}

fn porcelain_line(stdout: &str, refname: &str) -> Option<PushLine> {
    stdout.lines().find_map(|line| {
        let mut parts = line.splitn(3, '\t');
        let flag = parts.next()?.chars().next()?;
        let refs = parts.next()?;
        let summary = parts.next().unwrap_or("").to_string();
        (refs.rsplit(':').next() == Some(refname)).then_some(PushLine { flag, summary })
    })
}

/// A refused ref update, by what git said about it.
fn rejection(
    repo: &Path,
    remote: &str,
    refname: &str,
    summary: &str,
    answer: &Answer,
) -> RemoteError {
    let remote = remote_url(repo, remote);
    // A lease checks the tip the remote advertised; two pushes that both passed that check race
    // for the ref's lock on the remote, and the loser's update finds the ref moved ("cannot
    // lock ref …: is at X but expected Y"). That is the same overtaken push as a stale lease.
    let lost_the_race = summary.contains("failed to update ref")
        && (answer.stderr.contains("but expected")
            || answer.stderr.contains("incorrect old value"));
    if summary.contains("stale info")
        || summary.contains("fetch first")
        || summary.contains("non-fast-forward")
        || lost_the_race
    {
        return RemoteError::Stale {
            remote,
            refname: refname.to_string(),
        };
    }
    if summary.contains("currently checked out") {
        return RemoteError::CheckedOut {
            remote,
            branch: refname.trim_start_matches("refs/heads/").to_string(),
        };
    }
    // What the remote's hooks said (`remote: …` lines) is the useful part of the reason.
    let said: Vec<&str> = answer
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("remote:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut reason = summary.trim().to_string();
    if !said.is_empty() {
        reason = format!("{reason}; it said: {}", said.join(" / "));
    }
    RemoteError::Rejected {
        remote,
        refname: refname.to_string(),
        reason: redact(&reason),
    }
}

/// A command that failed before any ref was talked about: the remote could not be reached.
fn unreachable(repo: &Path, remote: &str, answer: &Answer) -> RemoteError {
    // git's first paragraph says what failed; the advice after the blank line is generic.
    let detail: Vec<&str> = answer
        .stderr
        .trim_start()
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .take(3)
        .collect();
    let detail = if detail.is_empty() {
        format!("git exited with {:?}", answer.code)
    } else {
        detail.join("; ")
    };
    RemoteError::Unreachable {
        remote: remote_url(repo, remote),
        detail: redact(&detail),
    }
}

/// Run `git -C repo <args>` in its own process group with a clean environment, no prompts and
/// a deadline; the group is killed when `timeout` passes.
fn run(repo: &Path, args: &[&str], timeout: Duration) -> Result<Answer, RemoteError> {
    let spawn_err = |error| RemoteError::Spawn {
        dir: repo.to_path_buf(),
        error,
    };
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(repo);
    for var in super::INHERITED_GIT_VARS {
        cmd.env_remove(var);
    }
    if !user_chose_ssh(repo) {
        cmd.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
    }
    let mut child = cmd
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .args(args)
        .process_group(0)
        .spawn()
        .map_err(spawn_err)?;
    let pgid = i32::try_from(child.id()).expect("pids fit in i32");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let err_reader = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.read_to_end(&mut text);
            text
        });
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        let err = err_reader.join().unwrap_or_default();
        let _ = tx.send((child.wait(), out, err));
    });
    let Ok((status, out, err)) = rx.recv_timeout(timeout) else {
        // SAFETY: kill(2) with a negative pid signals the process group git leads.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = rx.recv_timeout(Duration::from_secs(5));
        return Err(RemoteError::TimedOut {
            remote: origin_url(repo),
            after: timeout,
        });
    };
    Ok(Answer {
        code: status.map_err(spawn_err)?.code(),
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    })
}

/// True when the user set how git runs ssh (then we leave it alone).
fn user_chose_ssh(repo: &Path) -> bool {
    std::env::var_os("GIT_SSH_COMMAND").is_some_and(|v| !v.is_empty())
        || std::env::var_os("GIT_SSH").is_some_and(|v| !v.is_empty())
        || super::git(repo, &["config", "--get", "core.sshCommand"]).is_ok_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_lines_are_found_by_their_destination_ref() {
        let out = "To ../origin.git\n!\tabc:refs/heads/main\t[rejected] (stale info)\nDone\n";
        assert_eq!(
            porcelain_line(out, "refs/heads/main"),
            Some(PushLine {
                flag: '!',
                summary: "[rejected] (stale info)".to_string()
            })
        );
        assert_eq!(porcelain_line(out, "refs/heads/other"), None);
        let deleted = "-\t:refs/heads/feat\t[deleted]\n";
        assert_eq!(
            porcelain_line(deleted, "refs/heads/feat").map(|l| l.flag),
            Some('-')
        );
    }

    #[test]
    fn a_remote_that_never_answers_is_given_up_on_at_the_timeout_with_its_group_killed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path();
        super::super::git(repo, &["init", "--quiet", "--bare"]).expect("init");
        // An ssh remote whose "ssh" (the user's own choice, so it is kept) hangs, leaving a
        // child of its own behind; the secret in the URL must never show.
        let pidfile = repo.join("hung.pid");
        let ssh = format!(
            "sh -c 'sleep 30 & echo $! > {}; wait' --",
            pidfile.display()
        );
        for (k, v) in [
            ("remote.origin.url", "ssh://me:secret@example.invalid/r.git"),
            ("core.sshCommand", ssh.as_str()),
        ] {
            super::super::git(repo, &["config", k, v]).expect("config");
        }
        let start = std::time::Instant::now();
        let err = fetch_branch(
            repo,
            "main",
            "refs/gastown/incoming/main",
            Duration::from_millis(500),
        )
        .expect_err("no answer");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        let text = err.to_string();
        assert!(matches!(err, RemoteError::TimedOut { .. }), "{text}");
        assert!(
            text.contains("ssh://***@example.invalid/r.git") && !text.contains("secret"),
            "{text}"
        );
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .expect("the hung child started")
            .trim()
            .parse()
            .expect("a pid");
        // SAFETY: kill with signal 0 only checks that the process exists.
        let alive = || unsafe { libc::kill(pid, 0) } == 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(), "everything git started is killed with its group");
    }

    fn answer(stderr: &str) -> Answer {
        Answer {
            code: Some(1),
            stdout: String::new(),
            stderr: stderr.to_string(),
        }
    }

    #[test]
    fn rejections_are_told_apart_by_what_git_said() {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path();
        let r = |summary: &str, stderr: &str| {
            rejection(repo, ORIGIN, "refs/heads/main", summary, &answer(stderr))
        };
        assert!(matches!(
            r("[rejected] (stale info)", ""),
            RemoteError::Stale { .. }
        ));
        // Two leases passed at once: the one that lost the remote's ref lock was overtaken.
        assert!(matches!(
            r(
                "[remote rejected] (failed to update ref)",
                "remote: error: cannot lock ref 'refs/heads/beads': is at c16e42a6 but expected 3ff3cf55\n"
            ),
            RemoteError::Stale { .. }
        ));
        assert!(matches!(
            r(
                "[remote rejected] (failed to update ref)",
                "remote: error: disk full\n"
            ),
            RemoteError::Rejected { .. }
        ));
        assert!(matches!(
            r("[remote rejected] (branch is currently checked out)", ""),
            RemoteError::CheckedOut { branch, .. } if branch == "main"
        ));
        let hook = r(
            "[remote rejected] (pre-receive hook declined)",
            "remote: no pushes from https://u:secret@x/y today   \nerror: failed to push\n",
        );
        let text = hook.to_string();
        assert!(text.contains("pre-receive hook declined"), "{text}");
        assert!(
            text.contains("no pushes from https://***@x/y today"),
            "{text}"
        );
        assert!(!text.contains("secret"), "{text}");
    }
}
