//! Unit tests on real git repositories in temp dirs: the trailer scan, the per-commit replay
//! the rebase strategy uses, and how an MR bead's fields give its queue state.

use super::gitops::{commits_to_replay, merge_tree_with_base, trailers};
use super::queue::{MergeRequest, QueueState};
use crate::git_cli::{commit_all, git};
use gastown_beads::Bead;
use serde_json::json;
use std::fs;
use std::path::Path;

fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    git(dir.path(), &["init", "--quiet", "--initial-branch=main"]).expect("init");
    fs::write(dir.path().join("x"), "one\ntwo\nthree\n").expect("write");
    commit_all(dir.path(), "base").expect("commit");
    dir
}

fn commit(repo: &Path, file: &str, text: &str, message: &str) -> String {
    fs::write(repo.join(file), text).expect("write");
    commit_all(repo, message)
        .expect("commit")
        .expect("something to commit")
}

#[test]
fn trailers_are_found_only_in_the_trailer_block_with_their_commit() {
    let dir = repo();
    let r = dir.path();
    let a = commit(
        r,
        "a",
        "a\n",
        "land a\n\nGastown-Bead: gt-1\nGastown-MR: gt-mr1",
    );
    commit(
        r,
        "b",
        "b\n",
        "mentions Gastown-MR: gt-mr9 in the body\n\nno trailers here",
    );
    let c = commit(r, "c", "c\n", "land c\n\nGastown-MR: gt-mr2");
    let found = trailers(r, "main", 500).expect("scan");
    assert_eq!(found.get("gt-mr1"), Some(&a));
    assert_eq!(found.get("gt-mr2"), Some(&c));
    assert!(!found.contains_key("gt-mr9"), "{found:?}");
    assert_eq!(found.len(), 2);
    let shallow = trailers(r, "main", 1).expect("scan");
    assert_eq!(
        shallow.keys().collect::<Vec<_>>(),
        ["gt-mr2"],
        "depth limits the scan"
    );
}

#[test]
fn one_commit_is_replayed_onto_another_base_or_reports_its_conflict() {
    let dir = repo();
    let r = dir.path();
    git(r, &["switch", "--quiet", "-c", "topic"]).expect("branch");
    let first = commit(r, "y", "y\n", "add y");
    let second = commit(r, "x", "one\nTWO\nthree\n", "change two");
    git(r, &["switch", "--quiet", "main"]).expect("main");
    let main = commit(r, "z", "z\n", "add z on main");
    assert_eq!(
        commits_to_replay(r, &main, "topic").expect("list"),
        [first.clone(), second.clone()]
    );
    // Only the second commit, without the first: y must not appear.
    let picked = merge_tree_with_base(r, &format!("{second}^"), &main, &second).expect("pick");
    assert!(picked.is_clean(), "{picked:?}");
    let files = git(r, &["ls-tree", "--name-only", &picked.tree]).expect("ls-tree");
    assert_eq!(files.lines().collect::<Vec<_>>(), ["x", "z"]);
    let clash = commit(r, "x", "one\nzwei\nthree\n", "change two differently");
    let conflicted = merge_tree_with_base(r, &format!("{second}^"), &clash, &second).expect("pick");
    assert_eq!(conflicted.conflicts, ["x"]);
}

fn mr_bead(status: &str, extra: serde_json::Value) -> Bead {
    let mut value = json!({
        "id": "gt-mr1",
        "title": "Merge polecat/nux/gt-1: work",
        "status": status,
        "priority": 1,
        "issue_type": "merge-request",
        "created_at": "2026-01-01T00:00:00Z",
        "rig": "alpha",
        "branch": "polecat/nux/gt-1",
        "target": "main",
        "source_bead": "gt-1",
        "worker": "alpha/polecats/nux",
        "commit": "c1",
        "retry_count": 2
    });
    for (k, v) in extra.as_object().expect("object") {
        value[k] = v.clone();
    }
    serde_json::from_value(value).expect("a bead")
}

#[test]
fn an_mr_beads_fields_give_its_queue_state() {
    let queued = MergeRequest::from_bead(&mr_bead("open", json!({}))).expect("an MR");
    assert_eq!(queued.state, QueueState::Queued);
    assert_eq!(
        (queued.retry_count, queued.priority, queued.branch.as_str()),
        (2, 1, "polecat/nux/gt-1")
    );
    let waiting = mr_bead("open", json!({"rework_from": "c1"}));
    assert_eq!(
        MergeRequest::from_bead(&waiting).expect("MR").state,
        QueueState::Rework
    );
    let resubmitted = mr_bead("open", json!({"rework_from": "c0"}));
    assert_eq!(
        MergeRequest::from_bead(&resubmitted).expect("MR").state,
        QueueState::Queued,
        "a new commit after the rework request puts it back in the queue"
    );
    let escalated = mr_bead("blocked", json!({}));
    assert_eq!(
        MergeRequest::from_bead(&escalated).expect("MR").state,
        QueueState::Escalated
    );
    let mut task = mr_bead("open", json!({}));
    task.issue_type = gastown_beads::IssueType::Task;
    let err = MergeRequest::from_bead(&task).expect_err("a task is not an MR");
    assert!(
        err.to_string()
            .contains("gt-mr1 is a task bead, not a merge request"),
        "{err}"
    );
    let malformed = mr_bead("open", json!({"retry_count": "two"}));
    let err = MergeRequest::from_bead(&malformed).expect_err("a count that is text");
    assert!(
        err.to_string()
            .contains("field `retry_count` of gt-mr1 is \"two\", not a whole number"),
        "{err}"
    );
}
