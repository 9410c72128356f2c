//! The ledger opened without its readiness graph (issue 19, cold open): what opening used to
//! learn from the whole graph — how many beads there are, whether an id exists or is named by a
//! dependency — is answered from the index, and the graph built later (on the first `ready`,
//! `blocked` or cycle check) agrees with one built at open, whatever was written in between,
//! folded or not. Real redb files and real git repositories.

use gastown_beads::git::{Change, GitStore, GitStoreConfig};
use gastown_beads::{BeadPatch, DepKind, Ledger, LedgerError, NewBead, Status};
use std::path::Path;

mod common;
use common::{open, town};

fn new(title: &str) -> NewBead {
    NewBead {
        title: title.to_string(),
        priority: 2,
        ..NewBead::default()
    }
}

fn child_of(parent: &str) -> NewBead {
    NewBead {
        parent: Some(parent.to_string()),
        ..new("child")
    }
}

/// Commit beads straight to the ledger ref, as a pull from another town would.
fn commit_to_git(town: &Path, lines: &[(&str, String)]) {
    let mut store = GitStore::open(GitStoreConfig::new(town)).expect("git store opens");
    let changes: Vec<Change> = lines
        .iter()
        .map(|(id, line)| Change::Put {
            id: id.to_string(),
            line: line.clone(),
        })
        .collect();
    let tip = store.tip().expect("tip");
    store
        .commit(tip, &changes, "from elsewhere")
        .expect("commit")
        .expect("the ref moved");
}

/// A bead line from git whose `blocks` dependency names `target`, which no bead has.
fn dangling_line(id: &str, target: &str) -> String {
    format!(
        r#"{{"id":"{id}","title":"names a bead that is not here","status":"open","priority":2,"issue_type":"task","created_at":"2026-01-01T00:00:00Z","dependencies":[{{"issue_id":"{id}","depends_on_id":"{target}","type":"blocks","created_at":"2026-01-01T00:00:00Z","created_by":"x"}}]}}"#
    )
}

#[test]
fn a_new_id_never_takes_one_a_dependency_names_before_the_graph_is_built() {
    let t = town();
    let mut l = open(t.path());
    let p = l.create(new("parent p"), "m").expect("p");
    let q = l.create(new("parent q"), "m").expect("q");
    l.close_ledger().expect("close");
    // Beads from elsewhere depend on `p.1` and `q.1`, which do not exist (yet).
    commit_to_git(
        t.path(),
        &[
            ("gt-x1", dangling_line("gt-x1", &format!("{}.1", p.id))),
            ("gt-x2", dangling_line("gt-x2", &format!("{}.1", q.id))),
        ],
    );
    // Reopened: the beads from git are re-indexed but not folded yet (the write-ahead table).
    let mut l = open(t.path());
    let child = l.create(child_of(&p.id), "m").expect("child of p");
    assert_eq!(
        child.id,
        format!("{}.2", p.id),
        "p.1 is named by gt-x1's dependency: taking it would make gt-x1 wait on an unrelated child"
    );
    // Folded into the index's tables, then reopened: the folded reference table answers.
    l.close_ledger().expect("close (folds)");
    let mut l = open(t.path());
    let child = l.create(child_of(&q.id), "m").expect("child of q");
    assert_eq!(child.id, format!("{}.2", q.id), "q.1 is named by gt-x2");
    assert_eq!(l.len(), 6, "p, q, gt-x1, gt-x2 and two children");
    // The graph built now agrees: the dangling targets are known, not beads.
    let g = l.graph().expect("graph");
    assert!(g.is_known(&format!("{}.1", p.id)) && !g.contains(&format!("{}.1", p.id)));
    assert_eq!(g.len(), 6);
}

#[test]
fn a_graph_built_late_agrees_with_one_built_at_open() {
    let t = town();
    let mut l = open(t.path());
    let a = l.create(new("a"), "m").expect("a");
    let b = l
        .create(
            NewBead {
                deps: vec![(DepKind::Blocks, a.id.clone())],
                ..new("b")
            },
            "m",
        )
        .expect("b");
    let c = l
        .create(
            NewBead {
                deps: vec![(DepKind::Blocks, b.id.clone())],
                ..new("c")
            },
            "m",
        )
        .expect("c");
    l.close_ledger().expect("close");

    // Cold: writes before anything built the graph (creates, a close, an update, a removal).
    let mut l = open(t.path());
    assert_eq!(l.len(), 3);
    l.close(&a.id, "done", "m").expect("close a");
    let d = l
        .create(
            NewBead {
                deps: vec![(DepKind::Blocks, c.id.clone())],
                ..new("d")
            },
            "m",
        )
        .expect("d");
    let e = l.create(new("e"), "m").expect("e");
    l.update(
        &e.id,
        BeadPatch {
            status: Some(Status::InProgress),
            ..BeadPatch::default()
        },
        "m",
    )
    .expect("update e");
    let gone = l.create(new("gone"), "m").expect("gone");
    l.remove_beads(std::slice::from_ref(&gone.id), "m")
        .expect("remove");
    assert_eq!(l.len(), 5, "a, b, c, d, e");
    let late = (
        l.ready_ids().expect("ready"),
        l.blocked_ids().expect("blocked"),
    );
    assert_eq!(
        late.0,
        vec![b.id.clone()],
        "a closed: b is ready, e is in progress"
    );
    assert_eq!(late.1, vec![c.id.clone(), d.id.clone()]);
    // Once built, the graph follows every change.
    l.close(&b.id, "done", "m").expect("close b");
    assert_eq!(l.ready_ids().expect("ready"), vec![c.id.clone()]);
    let cycle = l
        .add_dependency(&a.id, &d.id, DepKind::Blocks, "m")
        .expect_err("a -> d -> c -> b -> a is a cycle");
    assert!(
        matches!(&cycle, LedgerError::Cycle { path } if path.contains(&d.id)),
        "{cycle}"
    );
    let now = (
        l.ready_ids().expect("ready"),
        l.blocked_ids().expect("blocked"),
    );
    l.close_ledger().expect("close");
    // A graph built from the index at a fresh open says the same.
    let l: Ledger = open(t.path());
    assert_eq!(
        (
            l.ready_ids().expect("ready"),
            l.blocked_ids().expect("blocked")
        ),
        now
    );
    assert_eq!(l.len(), 5);
}
