//! Unit tests on real repositories: a bare origin, a town and a rig added from it. The polecat
//! branch push tells its own lost push (a crash before its bookkeeping) from someone else's
//! branch of the same name; `sync` accepts an origin that moved forward and refuses one that
//! was rewritten; `base` merges the rig's unpushed work with origin's.

use super::branches::push_polecat_branch;
use super::origin::{Synced, accepted_ref, base, pushed_ref, sync};
use super::problem::RemoteProblem;
use crate::git_cli::{self, git};
use crate::rig::{AddOptions, Rig, add_rig, ensure_polecat_worktree, polecat_branch};
use crate::town::{InstallOptions, install};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

struct Fixture {
    _dir: tempfile::TempDir,
    origin: PathBuf,
    rig: Rig,
}

const T: Duration = Duration::from_secs(30);

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = dir.path().join("seed");
    fs::create_dir(&seed).expect("mkdir");
    git(&seed, &["init", "--quiet", "--initial-branch=main"]).expect("init");
    fs::write(seed.join("README.md"), "one\n").expect("write");
    git_cli::commit_all(&seed, "first").expect("commit");
    let origin = dir.path().join("origin.git");
    git(
        dir.path(),
        &["clone", "--quiet", "--bare", "seed", "origin.git"],
    )
    .expect("bare origin");
    let town = install(
        &dir.path().join("town"),
        &InstallOptions {
            prefix: "gt".to_string(),
            name: None,
            agent: crate::town::DefaultAgent::Named("sim".to_string()),
        },
    )
    .expect("install");
    let opts = AddOptions {
        name: "r".to_string(),
        source: origin.to_string_lossy().into_owned(),
        branch: None,
        runtime: None,
        prefix: None,
        no_push: false,
    };
    let rig = add_rig(&town, &opts).expect("rig add");
    Fixture {
        _dir: dir,
        origin,
        rig,
    }
}

/// A commit on polecat `name`'s branch in its worktree.
fn work(rig: &Rig, name: &str, file: &str) -> (String, String) {
    let branch = polecat_branch(name, "gt-1");
    let wt = ensure_polecat_worktree(rig, name, &branch).expect("worktree");
    fs::write(wt.join(file), format!("{file}\n")).expect("write");
    let commit = git_cli::commit_all(&wt, file)
        .expect("commit")
        .expect("a commit");
    (branch, commit)
}

fn tip(repo: &Path, refname: &str) -> Option<String> {
    git_cli::rev_parse(repo, refname).ok()
}

#[test]
fn a_lost_push_is_ours_and_someone_elses_branch_is_left_alone() {
    let f = fixture();
    let bare = f.rig.bare_repo();
    let (branch, first) = work(&f.rig, "nux", "a.txt");
    // Pushed by hand before a crash: origin has it, our bookkeeping does not.
    git(
        &bare,
        &[
            "push",
            "--quiet",
            "origin",
            &format!("{first}:refs/heads/{branch}"),
        ],
    )
    .expect("push");
    let (_, second) = work(&f.rig, "nux", "b.txt");
    let note = push_polecat_branch(&f.rig, &branch, &second);
    assert!(note.starts_with("pushed"), "{note}");
    assert_eq!(tip(&f.origin, &branch), Some(second.clone()));
    assert_eq!(tip(&bare, &pushed_ref(&branch)), Some(second));
    // Someone else's branch of the same name, at main's tip (where anyone's branch starts).
    let theirs = polecat_branch("ace", "gt-1");
    git(&f.origin, &["branch", &theirs, "main"]).expect("their branch");
    let (_, mine) = work(&f.rig, "ace", "c.txt");
    let note = push_polecat_branch(&f.rig, &theirs, &mine);
    assert!(note.contains("already has a branch of that name"), "{note}");
    assert_eq!(
        tip(&f.origin, &theirs),
        tip(&f.origin, "main"),
        "left alone"
    );
    assert_eq!(tip(&bare, &pushed_ref(&theirs)), None);
}

/// A commit on origin's main, made in origin itself (a human's push).
fn human_commit(origin: &Path, parent: &str, subject: &str) -> String {
    let tree = format!("{parent}^{{tree}}");
    let commit = git(origin, &["commit-tree", "-p", parent, "-m", subject, &tree]).expect("commit");
    git(origin, &["update-ref", "refs/heads/main", &commit]).expect("move main");
    commit
}

#[test]
fn sync_accepts_an_origin_that_moved_forward_and_refuses_a_rewritten_one() {
    let f = fixture();
    let bare = f.rig.bare_repo();
    let start = tip(&f.origin, "main").expect("main");
    let forward = human_commit(&f.origin, &start, "forward");
    let synced = sync(&f.rig, "main", T).expect("git").expect("accepted");
    assert_eq!(
        synced,
        Synced {
            origin: forward.clone(),
            local: forward.clone()
        }
    );
    assert_eq!(
        tip(&bare, "refs/heads/main"),
        Some(forward.clone()),
        "fast-forwarded"
    );
    assert_eq!(tip(&bare, &accepted_ref("main")), Some(forward.clone()));
    let rewritten = human_commit(&f.origin, &start, "rewritten");
    match sync(&f.rig, "main", T).expect("git") {
        Err(RemoteProblem::Rewound {
            last_seen,
            origin_tip,
            ..
        }) => {
            assert_eq!((last_seen, origin_tip), (forward.clone(), rewritten));
        }
        other => panic!("not refused: {other:?}"),
    }
    assert_eq!(
        tip(&bare, &accepted_ref("main")),
        Some(forward.clone()),
        "not accepted"
    );
    assert_eq!(
        tip(&bare, "refs/heads/main"),
        Some(forward),
        "the rig's main kept"
    );
}

#[test]
fn the_rigs_unpushed_work_is_merged_with_origins_or_held_when_they_conflict() {
    let f = fixture();
    let bare = f.rig.bare_repo();
    let start = tip(&bare, "refs/heads/main").expect("main");
    // The rig landed something while it did not push; a human pushed meanwhile.
    let tree_with = |file: &str, text: &str| {
        let wt = f.rig.refinery_worktree();
        git(&wt, &["checkout", "--quiet", "--detach", &start]).expect("checkout");
        fs::write(wt.join(file), text).expect("write");
        git(&wt, &["add", "."]).expect("add");
        git(&wt, &["write-tree"]).expect("tree")
    };
    let local_tree = tree_with("landed.txt", "landed\n");
    let local = git(
        &bare,
        &["commit-tree", "-p", &start, "-m", "landed", &local_tree],
    )
    .expect("commit");
    git(&bare, &["update-ref", "refs/heads/main", &local]).expect("move");
    let theirs = human_commit(&f.origin, &start, "human");
    let synced = sync(&f.rig, "main", T).expect("git").expect("accepted");
    assert_eq!(
        synced.local, local,
        "not fast-forwarded: it has work origin lacks"
    );
    let merged = base(&f.rig, "main", synced).expect("git").expect("a base");
    assert_eq!(merged.origin.as_deref(), Some(theirs.as_str()), "the lease");
    let parents = git(&bare, &["log", "-1", "--format=%P", &merged.tip]).expect("parents");
    assert_eq!(
        parents,
        format!("{theirs} {local}"),
        "origin first, the rig's work second"
    );
    // Conflicting: both changed README.md.
    let clash_tree = tree_with("README.md", "the rig's\n");
    let clash = git(
        &bare,
        &["commit-tree", "-p", &local, "-m", "clash", &clash_tree],
    )
    .expect("commit");
    git(&bare, &["update-ref", "refs/heads/main", &clash]).expect("move");
    let theirs_tree = {
        let wt = f.rig.refinery_worktree();
        git(&wt, &["checkout", "--quiet", "--detach", &theirs]).expect("checkout");
        fs::write(wt.join("README.md"), "origin's\n").expect("write");
        git(&wt, &["add", "."]).expect("add");
        git(&wt, &["write-tree"]).expect("tree")
    };
    let human2 = git(
        &bare,
        &["commit-tree", "-p", &theirs, "-m", "human 2", &theirs_tree],
    )
    .expect("commit");
    git(
        &bare,
        &[
            "push",
            "--quiet",
            "origin",
            &format!("{human2}:refs/heads/main"),
        ],
    )
    .expect("push");
    let synced = sync(&f.rig, "main", T).expect("git").expect("accepted");
    match base(&f.rig, "main", synced).expect("git") {
        Err(RemoteProblem::Diverged { files, .. }) => assert_eq!(files, ["README.md"]),
        other => panic!("not held: {other:?}"),
    }
}
