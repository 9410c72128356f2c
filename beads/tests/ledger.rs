//! Tests of the ledger facade against real redb files, real git repositories and real processes:
//! mutations and their audit trail, ready/blocked as blockers close, refusals (cycles, unknown
//! beads, bad ids and prefixes, a second process), group commit, import/export, wisps, reconcile
//! with git both ways, and `kill -9` of a writer.
//!
//! Tests that need a second process spawn this test binary again, running the same test with an
//! environment variable that makes it play the child's part.

use gastown_beads::git::{Change, GitStore, GitStoreConfig};
use gastown_beads::{
    BeadPatch, DepKind, EventKind, IssueType, Ledger, LedgerError, ListFilter, NewBead, Status,
};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{config, git, open, town};

fn new(title: &str) -> NewBead {
    NewBead {
        title: title.to_string(),
        priority: 2,
        ..NewBead::default()
    }
}

fn git_store(town: &Path) -> GitStore {
    GitStore::open(GitStoreConfig::new(town)).expect("git store opens")
}

/// (id, line) of every bead at the tip of refs/heads/beads.
fn in_git(town: &Path) -> Vec<(String, String)> {
    let store = git_store(town);
    match store.tip().expect("tip") {
        Some(tip) => store.read_all(tip).expect("read_all"),
        None => Vec::new(),
    }
}

#[test]
fn a_ledger_can_move_to_another_thread() {
    fn assert_send<T: Send + 'static>(_: &T) {}
    let t = town();
    let l = open(t.path());
    assert_send(&l);
    let handle = std::thread::spawn(move || l.ready_ids().expect("the ready set").len());
    assert_eq!(handle.join().expect("thread"), 0);
}

#[test]
fn create_update_close_reopen_with_audit_trail() {
    let t = town();
    let mut l = open(t.path());
    let b = l.create(new("first"), "mayor").expect("create");
    assert!(
        b.id.starts_with("gt-") && b.id.len() == 6,
        "3-char hash for a small ledger: {}",
        b.id
    );
    assert_eq!(b.created_by, "mayor");
    let patch = BeadPatch {
        title: Some("renamed".into()),
        priority: Some(0),
        status: Some(Status::InProgress),
        ..BeadPatch::default()
    };
    let u = l.update(&b.id, patch, "mayor").expect("update");
    assert_eq!(
        (u.title.as_str(), u.priority, u.status.clone()),
        ("renamed", 0, Status::InProgress)
    );
    let c = l.close(&b.id, "done", "witness").expect("close");
    assert!(c.closed_at.is_some());
    assert_eq!(c.close_reason, "done");
    let r = l.reopen(&b.id, "mayor").expect("reopen");
    assert_eq!(r.status, Status::Open);
    assert_eq!(r.closed_at, None);
    assert_eq!(l.get(&b.id).expect("get"), Some(r));
    let kinds: Vec<EventKind> = l
        .events(&b.id)
        .expect("events")
        .iter()
        .map(|e| e.kind)
        .collect();
    use EventKind::*;
    assert_eq!(
        kinds,
        vec![
            Created,
            Updated,
            StatusChanged,
            StatusChanged,
            Closed,
            StatusChanged,
            Reopened
        ]
    );
    let bad = BeadPatch {
        priority: Some(5),
        ..BeadPatch::default()
    };
    assert!(matches!(
        l.update(&b.id, bad, "x"),
        Err(LedgerError::InvalidPriority(5))
    ));
}

#[test]
fn labels_comments_children_and_list_filters() {
    let t = town();
    let mut l = open(t.path());
    let epic = l
        .create(
            NewBead {
                issue_type: IssueType::Epic,
                ..new("epic")
            },
            "m",
        )
        .expect("epic");
    let c1 = l
        .create(
            NewBead {
                parent: Some(epic.id.clone()),
                ..new("c1")
            },
            "m",
        )
        .expect("c1");
    let c2 = l
        .create(
            NewBead {
                parent: Some(epic.id.clone()),
                ..new("c2")
            },
            "m",
        )
        .expect("c2");
    assert_eq!(c1.id, format!("{}.1", epic.id));
    assert_eq!(c2.id, format!("{}.2", epic.id));
    assert_eq!(c1.dependencies[0].kind, DepKind::ParentChild);
    l.add_label(&c1.id, "urgent", "m").expect("label");
    l.add_label(&c1.id, "urgent", "m")
        .expect("label twice is a no-op");
    let with = l
        .add_comment(&c1.id, "looks good", "refinery")
        .expect("comment");
    assert_eq!(with.labels, vec!["urgent"]);
    assert_eq!(with.comments[0].author, "refinery");
    let f = ListFilter {
        label: Some("urgent".into()),
        ..ListFilter::default()
    };
    assert_eq!(l.list(&f).expect("list").len(), 1);
    l.close(&c2.id, "", "m").expect("close");
    assert_eq!(l.list(&ListFilter::default()).expect("list").len(), 2);
    assert_eq!(
        l.list(&ListFilter {
            all: true,
            ..ListFilter::default()
        })
        .expect("list")
        .len(),
        3
    );
    let epics = ListFilter {
        issue_type: Some(IssueType::Epic),
        ..ListFilter::default()
    };
    assert_eq!(l.list(&epics).expect("list")[0].id, epic.id);
    let without = l.remove_label(&c1.id, "urgent", "m").expect("unlabel");
    assert!(without.labels.is_empty());
    let kinds: Vec<EventKind> = l
        .events(&c1.id)
        .expect("events")
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::Created,
            EventKind::LabelAdded,
            EventKind::Commented,
            EventKind::LabelRemoved
        ]
    );
}

#[test]
fn create_many_is_one_all_or_nothing_batch() {
    let t = town();
    let mut l = open(t.path());
    let epic = l.create(new("epic"), "m").expect("epic");
    let child = |title: &str| NewBead {
        parent: Some(epic.id.clone()),
        ..new(title)
    };
    let made = l
        .create_many(
            vec![child("s1"), child("s2"), new("free"), new("free")],
            "formula",
        )
        .expect("create_many");
    let ids: Vec<&str> = made.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(
        &ids[..2],
        &[format!("{}.1", epic.id), format!("{}.2", epic.id)]
    );
    assert_ne!(ids[2], ids[3], "same title and time still get distinct ids");
    let bad = vec![
        new("ok"),
        NewBead {
            priority: 9,
            ..new("bad")
        },
    ];
    assert!(matches!(
        l.create_many(bad, "m"),
        Err(LedgerError::InvalidPriority(9))
    ));
    assert_eq!(l.len(), 5, "nothing of the refused batch was written");
    assert_eq!(
        l.create(child("s3"), "m").expect("s3").id,
        format!("{}.3", epic.id)
    );
}

#[test]
fn empty_and_blank_titles_are_refused_on_create_and_update() {
    let t = town();
    let mut l = open(t.path());
    for blank in ["", "   ", "\t\n"] {
        let err = l.create(new(blank), "m").expect_err("a blank title");
        assert!(matches!(&err, LedgerError::EmptyTitle(_)), "{err:?}");
        assert!(err.to_string().contains("needs a title"), "{err}");
    }
    let err = l
        .create_many(vec![new("fine"), new(" ")], "m")
        .expect_err("a blank title in a batch");
    assert!(matches!(err, LedgerError::EmptyTitle(_)), "{err:?}");
    assert_eq!(l.len(), 0, "nothing of a refused batch is written");
    let a = l.create(new("a title"), "m").expect("a");
    let retitle = |title: &str| BeadPatch {
        title: Some(title.to_string()),
        ..BeadPatch::default()
    };
    let err = l.update(&a.id, retitle("  "), "m").expect_err("blank");
    assert!(matches!(err, LedgerError::EmptyTitle(_)), "{err:?}");
    let kept = l.get(&a.id).expect("get").expect("a exists");
    assert_eq!(kept.title, "a title", "the refused update changed nothing");
    assert_eq!(
        l.update(&a.id, retitle("new"), "m").expect("ok").title,
        "new"
    );
}

/// Ready ids, and blocked ids with their blockers.
type Sets = (Vec<String>, Vec<(String, Vec<String>)>);

/// `ready` and `blocked` of a freshly opened ledger (read from the persisted sets, no graph),
/// then of its graph.
fn cold_and_built(town: &Path) -> [Sets; 2] {
    let l = open(town);
    let read = |l: &Ledger| {
        let ready = l.ready_ids().expect("ready");
        let blocked = l
            .blocked()
            .expect("blocked")
            .into_iter()
            .map(|b| (b.bead.id, b.blocked_by))
            .collect();
        (ready, blocked)
    };
    let cold = read(&l);
    l.graph().expect("graph");
    [cold, read(&l)]
}

#[test]
fn a_cold_ready_and_blocked_read_the_persisted_sets_which_agree_with_the_graph() {
    let t = town();
    let mut l = open(t.path());
    let epic = l.create(new("epic"), "m").expect("epic");
    let blocker = l.create(new("blocker"), "m").expect("blocker");
    let child = l
        .create(
            NewBead {
                parent: Some(epic.id.clone()),
                ..new("child")
            },
            "m",
        )
        .expect("child");
    let waiter = l.create(new("waiter"), "m").expect("waiter");
    l.add_dependency(&waiter.id, &epic.id, DepKind::WaitsFor, "m")
        .expect("waits for the epic's children");
    l.add_dependency(&epic.id, &blocker.id, DepKind::Blocks, "m")
        .expect("the epic is blocked, and so its child");
    let free = l.create(new("free"), "m").expect("free");
    drop(l);
    let [cold, built] = cold_and_built(t.path());
    assert_eq!(cold, built, "persisted = graph");
    assert_eq!(cold.0, vec![blocker.id.clone(), free.id.clone()]);
    assert_eq!(
        cold.1,
        vec![
            (epic.id.clone(), vec![blocker.id.clone()]),
            (child.id.clone(), vec![epic.id.clone()]),
            (waiter.id.clone(), vec![epic.id.clone()]),
        ]
    );
    // Closing the blocker frees the epic's child; closing the child frees the waiter (and the
    // epic, whose only child it was, stays ready).
    let mut l = open(t.path());
    l.close(&blocker.id, "done", "m").expect("close");
    l.close(&child.id, "done", "m").expect("close");
    l.sync().expect("sync");
    drop(l);
    let [cold, built] = cold_and_built(t.path());
    assert_eq!(cold, built, "persisted = graph after the closes");
    assert_eq!(
        cold.0,
        vec![epic.id.clone(), waiter.id.clone(), free.id.clone()]
    );
    assert!(cold.1.is_empty());
    // The index deleted: rebuilt from git, the sets with it.
    std::fs::remove_file(t.path().join(".runtime/ledger.redb")).expect("delete the index");
    let [rebuilt, built] = cold_and_built(t.path());
    assert_eq!(rebuilt, built, "persisted = graph after a rebuild from git");
    assert_eq!(rebuilt, cold, "the same as before the index was lost");
}

#[test]
fn ready_and_blocked_change_as_blockers_close() {
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
    let c = l.create(new("c"), "m").expect("c");
    l.add_dependency(&c.id, &b.id, DepKind::Blocks, "m")
        .expect("dep");
    assert_eq!(l.ready_ids().expect("the ready set"), vec![a.id.clone()]);
    let blocked = l.blocked().expect("blocked");
    assert_eq!(blocked.len(), 2);
    assert_eq!(
        blocked
            .iter()
            .find(|x| x.bead.id == b.id)
            .expect("b blocked")
            .blocked_by,
        vec![a.id.clone()]
    );
    l.close(&a.id, "done", "m").expect("close a");
    assert_eq!(l.ready_ids().expect("the ready set"), vec![b.id.clone()]);
    assert_eq!(
        l.blocked_ids().expect("the blocked set"),
        vec![c.id.clone()]
    );
    l.remove_dependency(&c.id, &b.id, "m").expect("undep");
    assert_eq!(l.ready().expect("ready").len(), 2);
    l.reopen(&a.id, "m").expect("reopen");
    assert_eq!(
        l.blocked_ids().expect("the blocked set"),
        vec![b.id.clone()]
    );
    // The graph is rebuilt from the index on open and agrees.
    drop(l);
    let l = open(t.path());
    assert_eq!(l.blocked_ids().expect("the blocked set"), vec![b.id]);
    assert_eq!(l.ready_ids().expect("the ready set").len(), 2);
}

#[test]
fn cycle_is_refused_naming_the_path() {
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
                deps: vec![(DepKind::ConditionalBlocks, b.id.clone())],
                ..new("c")
            },
            "m",
        )
        .expect("c");
    let err = l
        .add_dependency(&a.id, &c.id, DepKind::Blocks, "m")
        .expect_err("cycle");
    match &err {
        LedgerError::Cycle { path } => assert_eq!(
            path,
            &vec![a.id.clone(), c.id.clone(), b.id.clone(), a.id.clone()]
        ),
        other => panic!("expected a cycle, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&format!("{} -> {} -> {} -> {}", a.id, c.id, b.id, a.id)),
        "{text}"
    );
    assert!(matches!(
        l.add_dependency(&a.id, &a.id, DepKind::Blocks, "m"),
        Err(LedgerError::Cycle { .. })
    ));
    // A link kind is not a blocking edge: no cycle to refuse.
    l.add_dependency(&a.id, &c.id, DepKind::Related, "m")
        .expect("related is fine");
    assert!(
        l.get(&a.id)
            .expect("get")
            .expect("a")
            .dependencies
            .iter()
            .any(|d| d.depends_on_id == c.id)
    );
}

#[test]
fn unknown_beads_invalid_ids_and_prefixes_are_refused() {
    let t = town();
    let mut l = open(t.path());
    let a = l.create(new("a"), "m").expect("a");
    let err = l
        .add_dependency(&a.id, "gt-zzzz", DepKind::Blocks, "m")
        .expect_err("unknown");
    assert!(
        matches!(&err, LedgerError::UnknownBead(id) if id == "gt-zzzz"),
        "{err:?}"
    );
    assert!(err.to_string().contains("gt-zzzz"));
    let dep_on_unknown = NewBead {
        deps: vec![(DepKind::Blocks, "gt-nope".into())],
        ..new("x")
    };
    assert!(matches!(
        l.create(dep_on_unknown, "m"),
        Err(LedgerError::UnknownBead(_))
    ));
    assert!(matches!(
        l.create(
            NewBead {
                parent: Some("gt-nope".into()),
                ..new("x")
            },
            "m"
        ),
        Err(LedgerError::UnknownBead(_))
    ));
    assert!(matches!(
        l.update("Not An Id", BeadPatch::default(), "m"),
        Err(LedgerError::InvalidId(_))
    ));
    assert!(matches!(
        l.add_dependency(&a.id, "bad id!", DepKind::Blocks, "m"),
        Err(LedgerError::InvalidId(_))
    ));
    assert_eq!(
        l.list(&ListFilter::default()).expect("list").len(),
        1,
        "nothing half-created"
    );
    drop(l);
    let mut cfg = config(t.path());
    cfg.prefix = "Bad-".into();
    let err = Ledger::open(cfg).expect_err("bad prefix");
    assert!(matches!(err, LedgerError::InvalidPrefix(_)), "{err:?}");
}

#[test]
fn group_commit_reaches_git_on_tick_sync_and_close() {
    let t = town();
    let mut cfg = config(t.path());
    cfg.commit_delay = Duration::ZERO;
    let mut l = Ledger::open(cfg).expect("open");
    assert_eq!(l.commit_due_in(), None);
    let a = l.create(new("a"), "m").expect("a");
    assert_eq!(l.commit_due_in(), Some(Duration::ZERO));
    let out = l.tick().expect("tick").expect("a commit");
    assert_eq!(out.beads, 1);
    assert_eq!(l.commit_due_in(), None);
    assert_eq!(l.tick().expect("tick"), None, "nothing pending");
    assert_eq!(in_git(t.path()).len(), 1);
    drop(l);

    let mut l = open(t.path()); // delay of an hour
    l.update(
        &a.id,
        BeadPatch {
            title: Some("a2".into()),
            ..BeadPatch::default()
        },
        "m",
    )
    .expect("update");
    assert!(l.commit_due_in().expect("pending") > Duration::from_secs(3000));
    assert_eq!(l.tick().expect("tick"), None, "not due yet");
    let out = l.sync().expect("sync").expect("commit");
    assert_eq!(out.commit.len(), 40);
    assert!(in_git(t.path())[0].1.contains("\"a2\""));
    let b = l.create(new("b"), "m").expect("b");
    l.close_ledger().expect("close flushes");
    let ids: Vec<String> = in_git(t.path()).into_iter().map(|(id, _)| id).collect();
    assert!(ids.contains(&b.id));
    assert_eq!(
        git(t.path(), &["status", "--porcelain"])
            .lines()
            .filter(|l| !l.contains(".runtime"))
            .count(),
        0
    );
}

#[test]
fn unsynced_changes_survive_a_drop_and_are_committed_on_open() {
    let t = town();
    let mut l = open(t.path());
    let a = l.create(new("a"), "m").expect("a");
    drop(l); // no close: the journal keeps it
    assert!(in_git(t.path()).is_empty());
    let l = open(t.path());
    assert_eq!(
        in_git(t.path())[0].0,
        a.id,
        "the journal was committed on open"
    );
    assert_eq!(l.commit_due_in(), None);
}

#[test]
fn wisps_stay_out_of_git_but_are_exported_and_can_be_burnt() {
    let t = town();
    let mut l = open(t.path());
    let w = l
        .create(
            NewBead {
                ephemeral: true,
                issue_type: IssueType::Gate,
                ..new("gate")
            },
            "deacon",
        )
        .expect("wisp");
    let b = l.create(new("real"), "m").expect("bead");
    l.sync().expect("sync");
    let ids: Vec<String> = in_git(t.path()).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec![b.id.clone()]);
    assert!(
        !l.ready_ids().expect("the ready set").contains(&w.id),
        "wisps are never ready"
    );
    let mut out = Vec::new();
    assert_eq!(l.export_to(&mut out).expect("export"), 2);
    assert!(String::from_utf8(out).expect("utf8").contains(&w.id));
    assert!(matches!(l.burn_wisp(&b.id), Err(LedgerError::Invalid(_))));
    l.burn_wisp(&w.id).expect("burn");
    assert_eq!(l.get(&w.id).expect("get"), None);
}

#[test]
fn removed_beads_leave_the_tip_and_stay_in_earlier_commits() {
    let t = town();
    let mut l = open(t.path());
    let kept = l.create(new("kept"), "m").expect("bead");
    let gone = l.create(new("gone"), "m").expect("bead");
    let wisp = l
        .create(
            NewBead {
                ephemeral: true,
                ..new("wisp")
            },
            "m",
        )
        .expect("wisp");
    l.sync().expect("sync");
    let before = git(t.path(), &["rev-parse", "refs/heads/beads"]);
    // An unknown id refuses the lot: nothing is removed.
    let err = l
        .remove_beads(&[gone.id.clone(), "gt-nosuch".to_string()], "compactor")
        .expect_err("unknown");
    assert!(matches!(err, LedgerError::UnknownBead(_)), "{err}");
    assert!(l.get(&gone.id).expect("get").is_some());
    l.remove_beads(&[gone.id.clone(), wisp.id.clone()], "compactor")
        .expect("remove");
    assert_eq!(l.get(&gone.id).expect("get"), None);
    assert_eq!(l.get(&wisp.id).expect("get"), None);
    let events = l.events(&gone.id).expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::Deleted && e.actor == "compactor"),
        "{events:?}"
    );
    l.sync().expect("sync");
    let ids: Vec<String> = in_git(t.path()).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec![kept.id.clone()], "the tip no longer holds it");
    let old = git(t.path(), &["ls-tree", "-r", "--name-only", before.trim()]);
    assert!(old.contains(&format!("{}.jsonl", gone.id)), "{old}");
    // Reopened from git and index, it stays gone.
    drop(l);
    let l = open(t.path());
    assert_eq!(l.get(&gone.id).expect("get"), None);
    assert!(l.get(&kept.id).expect("get").is_some());
}

#[test]
fn import_is_all_or_nothing_and_export_round_trips() {
    let t = town();
    let mut l = open(t.path());
    let good = t.path().join("good.jsonl");
    let lines = [
        r#"{"id":"bd-a1","title":"one","status":"open","priority":1,"issue_type":"task","created_at":"2025-01-01T00:00:00Z","updated_at":"2025-01-01T00:00:00Z"}"#,
        r#"{"id":"bd-a2","title":"two","status":"open","priority":2,"issue_type":"task","created_at":"2025-01-02T00:00:00Z","updated_at":"2025-01-02T00:00:00Z","dependencies":[{"issue_id":"bd-a2","depends_on_id":"bd-a1","type":"blocks"}]}"#,
        r#"{"id":"bd-w1","title":"wisp","status":"open","priority":2,"issue_type":"gate","created_at":"2025-01-02T00:00:00Z","ephemeral":true}"#,
    ];
    std::fs::write(&good, lines.join("\n") + "\n").expect("write");
    let bad = t.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        format!("{}\n{{not json\n", lines[0].replace("bd-a1", "bd-a9")),
    )
    .expect("write");
    let err = l.import_file(&bad, "import").expect_err("malformed");
    assert!(err.to_string().contains("bad.jsonl:2"), "{err}");
    assert!(l.is_empty(), "nothing imported");
    let out = l.import_file(&good, "import").expect("import");
    assert_eq!(
        (out.created, out.updated, out.unchanged, out.wisps),
        (3, 0, 0, 1)
    );
    assert_eq!(l.ready_ids().expect("the ready set"), vec!["bd-a1"]);
    assert_eq!(l.blocked_ids().expect("the blocked set"), vec!["bd-a2"]);
    let again = l.import_file(&good, "import").expect("import again");
    assert_eq!((again.created, again.unchanged), (0, 3));
    let mut out = Vec::new();
    l.export_to(&mut out).expect("export");
    let exported: Vec<serde_json::Value> = String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|x| serde_json::from_str(x).expect("json"))
        .collect();
    let original: Vec<serde_json::Value> = lines
        .iter()
        .map(|x| serde_json::from_str(x).expect("json"))
        .collect();
    assert_eq!(exported, original);
    l.sync().expect("sync");
    assert_eq!(in_git(t.path()).len(), 2, "the wisp stays out of git");
}

#[test]
fn beads_made_with_a_rig_prefix_work_like_any_other() {
    let t = town();
    let mut l = open(t.path());
    let in_rig = |title: &str| NewBead {
        prefix: Some("alpha".to_string()),
        ..new(title)
    };
    let town_bead = l.create(new("town work"), "m").expect("town bead");
    let a = l.create(in_rig("rig work"), "m").expect("rig bead");
    assert!(gastown_beads::id::has_prefix(&a.id, "alpha"), "{}", a.id);
    assert!(gastown_beads::id::has_prefix(&town_bead.id, "gt"));
    // Same adaptive hash length as the town's ids at this size.
    let hash_len = |id: &str| id.rsplit('-').next().expect("hash").len();
    assert_eq!(hash_len(&a.id), hash_len(&town_bead.id));
    // Lookups, updates, dependencies across prefixes and children all work by id alone.
    let b = l
        .create(
            NewBead {
                deps: vec![(DepKind::Blocks, a.id.clone())],
                ..new("town work blocked by rig work")
            },
            "m",
        )
        .expect("b");
    let child = l
        .create(
            NewBead {
                parent: Some(a.id.clone()),
                prefix: Some("ignored".to_string()),
                ..new("child")
            },
            "m",
        )
        .expect("child");
    assert_eq!(
        child.id,
        format!("{}.1", a.id),
        "a child takes its parent's id"
    );
    assert_eq!(
        l.blocked_ids().expect("the blocked set"),
        vec![b.id.clone()]
    );
    l.close(&a.id, "done", "m").expect("close the rig bead");
    assert!(
        l.ready_ids().expect("the ready set").contains(&b.id),
        "{:?}",
        l.ready_ids().expect("the ready set")
    );
    assert_eq!(
        l.get(&a.id).expect("get").expect("a").status,
        Status::Closed
    );
    // A bad prefix is refused and nothing is written.
    let before = l.len();
    for bad in ["Alpha", "a--b", "x-", ""] {
        let err = l
            .create(
                NewBead {
                    prefix: Some(bad.to_string()),
                    ..new("bad")
                },
                "m",
            )
            .expect_err("a bad prefix");
        assert!(
            matches!(err, LedgerError::InvalidPrefix(_)),
            "{bad:?}: {err:?}"
        );
    }
    assert_eq!(l.len(), before);
    // Many ids under one prefix never collide with each other or the town's.
    let many = l
        .create_many(
            (0..200)
                .map(|i| in_rig(&format!("same {}", i % 2)))
                .collect(),
            "m",
        )
        .expect("many");
    let mut ids: Vec<&str> = many.iter().map(|b| b.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200);
    // Export, then import into a ledger with another prefix: every id kept, readiness the same.
    let mut export = Vec::new();
    l.export_to(&mut export).expect("export");
    l.close_ledger().expect("close");
    let other = town();
    let path = other.path().join("issues.jsonl");
    std::fs::write(&path, &export).expect("write export");
    let mut cfg = config(other.path());
    cfg.prefix = "hq".to_string();
    let mut m = Ledger::open(cfg).expect("other ledger");
    m.import_file(&path, "import").expect("import");
    assert_eq!(m.get(&a.id).expect("get").expect("a").title, "rig work");
    assert_eq!(
        m.get(&child.id).expect("get").expect("child").title,
        "child"
    );
    assert!(m.ready_ids().expect("the ready set").contains(&b.id));
    // The index rebuilt from git knows them too.
    m.close_ledger().expect("close");
    std::fs::remove_file(other.path().join(".runtime/ledger.redb")).expect("drop the index");
    let m = Ledger::open(config(other.path())).expect("reopen");
    assert!(m.get(&a.id).expect("get").is_some());
}

#[test]
fn a_lost_index_is_rebuilt_from_git() {
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
    l.close_ledger().expect("close");
    std::fs::remove_file(t.path().join(".runtime/ledger.redb")).expect("delete the index");
    let l = open(t.path());
    assert_eq!(l.len(), 2);
    assert_eq!(l.ready_ids().expect("the ready set"), vec![a.id.clone()]);
    assert_eq!(
        l.blocked_ids().expect("the blocked set"),
        vec![b.id.clone()]
    );
    assert_eq!(l.get(&b.id).expect("get").expect("b").title, "b");
}

#[test]
fn git_ahead_of_the_index_is_reindexed_on_open() {
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
    l.close_ledger().expect("close");
    // Someone else commits to the ledger ref: closes a, adds a new bead, deletes nothing.
    let mut store = git_store(t.path());
    let mut closed = serde_json::to_value(
        in_git(t.path())
            .into_iter()
            .find(|(id, _)| *id == a.id)
            .expect("a in git")
            .1,
    )
    .expect("v");
    let line: String = serde_json::from_value(closed.take()).expect("string");
    let closed_line = line.replace(
        "\"status\":\"open\"",
        "\"status\":\"closed\",\"closed_at\":\"2026-01-01T00:00:00Z\"",
    );
    let other = r#"{"id":"gt-new1","title":"from a pull","status":"open","priority":1,"issue_type":"bug","created_at":"2026-01-01T00:00:00Z"}"#;
    let changes = [
        Change::Put {
            id: a.id.clone(),
            line: closed_line,
        },
        Change::Put {
            id: "gt-new1".into(),
            line: other.into(),
        },
    ];
    let tip = store.tip().expect("tip");
    store
        .commit(tip, &changes, "hand edit")
        .expect("commit")
        .expect("changed");
    let l = open(t.path());
    assert_eq!(
        l.get("gt-new1").expect("get").expect("re-indexed").title,
        "from a pull"
    );
    assert_eq!(
        l.get(&a.id).expect("get").expect("a").status,
        Status::Closed
    );
    assert_eq!(
        l.ready_ids().expect("the ready set"),
        vec!["gt-new1".to_string(), b.id.clone()]
    );
    assert!(l.blocked_ids().expect("the blocked set").is_empty());
    assert_eq!(l.events("gt-new1").expect("events")[0].actor, "git");
    // And a delete through the git CLI (a real `git` commit on the ref) is seen too.
    drop(l);
    let tree = t.path().join("wt");
    git(
        t.path(),
        &[
            "worktree",
            "add",
            "-q",
            tree.to_str().expect("utf8"),
            "beads",
        ],
    );
    let file = git(&tree, &["ls-files"])
        .lines()
        .find(|f| f.contains("gt-new1"))
        .expect("file")
        .to_string();
    git(&tree, &["rm", "-q", &file]);
    git(
        &tree,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "drop it",
        ],
    );
    git(
        t.path(),
        &[
            "worktree",
            "remove",
            "--force",
            tree.to_str().expect("utf8"),
        ],
    );
    let l = open(t.path());
    assert_eq!(l.get("gt-new1").expect("get"), None);
}

#[test]
fn git_ahead_while_open_is_taken_in_at_sync_and_local_changes_win() {
    let t = town();
    let mut l = open(t.path());
    let a = l.create(new("a"), "m").expect("a");
    l.sync().expect("sync");
    // Behind the open ledger's back: a new bead, and an edit of `a`.
    let mut store = git_store(t.path());
    let other = r#"{"id":"gt-zz9","title":"theirs","status":"open","priority":2,"issue_type":"task","created_at":"2026-01-01T00:00:00Z"}"#;
    let theirs_a = l
        .get(&a.id)
        .expect("get")
        .expect("a")
        .to_json_line()
        .replace("\"title\":\"a\"", "\"title\":\"theirs\"");
    let changes = [
        Change::Put {
            id: "gt-zz9".into(),
            line: other.into(),
        },
        Change::Put {
            id: a.id.clone(),
            line: theirs_a,
        },
    ];
    let tip = store.tip().expect("tip");
    store
        .commit(tip, &changes, "remote")
        .expect("commit")
        .expect("changed");
    // Meanwhile a local, unsynced change of `a`.
    l.update(
        &a.id,
        BeadPatch {
            title: Some("ours".into()),
            ..BeadPatch::default()
        },
        "m",
    )
    .expect("update");
    l.sync()
        .expect("sync takes theirs in, then commits ours on top");
    assert_eq!(
        l.get("gt-zz9").expect("get").expect("theirs").title,
        "theirs"
    );
    assert_eq!(l.get(&a.id).expect("get").expect("a").title, "ours");
    let git_a = in_git(t.path())
        .into_iter()
        .find(|(id, _)| *id == a.id)
        .expect("a")
        .1;
    assert!(git_a.contains("\"ours\""), "{git_a}");
    assert_eq!(in_git(t.path()).len(), 2);
}

/// In a child process: open the ledger at `$LEDGER_LOCK_HOLDER`, say so, hold it until stdin closes.
fn hold_lock(town: &Path) {
    let l = open(town);
    println!("HOLDING");
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(l);
}

fn spawn_self(test: &str, var: &str, town: &Path) -> std::process::Child {
    spawn_self_with(test, var, town, None)
}

fn spawn_self_with(test: &str, var: &str, town: &Path, fault: Option<&str>) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    if let Some(f) = fault {
        cmd.env("GASTOWN_LEDGER_FAULT", f);
    }
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(var, town)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the test binary")
}

#[test]
fn a_second_process_gets_locked_naming_the_holder() {
    if let Some(dir) = std::env::var_os("LEDGER_LOCK_HOLDER") {
        hold_lock(Path::new(&dir));
        return;
    }
    let t = town();
    let mut child = spawn_self(
        "a_second_process_gets_locked_naming_the_holder",
        "LEDGER_LOCK_HOLDER",
        t.path(),
    );
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // libtest prints "test <name> ... " before the test's own output, on the same line.
    assert!(
        lines.any(|l| l.expect("line").ends_with("HOLDING")),
        "the child took the lock"
    );
    let err = Ledger::open(config(t.path())).expect_err("locked");
    match &err {
        LedgerError::Locked { pid, .. } => assert_eq!(*pid, child.id()),
        other => panic!("expected Locked, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("held by process {}", child.id())),
        "{err}"
    );
    drop(child.stdin.take());
    assert!(child.wait().expect("wait").success());
    open(t.path());
}

/// In a child process: create beads forever, syncing often, printing each acknowledged id.
fn write_forever(town: &Path) {
    let mut cfg = config(town);
    cfg.commit_delay = Duration::ZERO;
    let mut l = Ledger::open(cfg).expect("the writer opens the ledger after a kill");
    for i in 0u64.. {
        let b = l
            .create(new(&format!("written {i}")), "writer")
            .expect("create");
        println!("ACK {}", b.id);
        if i % 2 == 1 {
            l.sync().expect("sync");
        }
    }
}

/// The id in a writer's `ACK <id>` line (the first one shares its line with libtest's "test … ").
fn acked_id(line: &str) -> Option<String> {
    line.split_once("ACK ").map(|(_, id)| id.trim().to_string())
}

#[test]
fn kill_9_of_a_writer_loses_nothing_acknowledged() {
    if let Some(dir) = std::env::var_os("LEDGER_WRITER") {
        write_forever(Path::new(&dir));
        return;
    }
    let t = town();
    let mut acked: Vec<String> = Vec::new();
    let mut killed_mid_ref_update = 0;
    // First a writer that kills itself (SIGKILL) right after git's ref moved, before its journal
    // entries are cleared: the worst moment, hit deterministically.
    let test = "kill_9_of_a_writer_loses_nothing_acknowledged";
    let mut child = spawn_self_with(test, "LEDGER_WRITER", t.path(), Some("after-git-commit"));
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    acked.extend(
        out.lines()
            .map_while(Result::ok)
            .filter_map(|l| acked_id(&l)),
    );
    let status = child.wait().expect("reap");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the writer died of SIGKILL at the fault point"
    );
    assert_eq!(
        acked.len(),
        2,
        "it acknowledged two beads, then died in the first sync"
    );
    assert_eq!(
        in_git(t.path()).len(),
        2,
        "the commit reached the ref before the kill"
    );
    // Then writers killed from outside at varying points.
    for round in 0..6 {
        let mut child = spawn_self(
            "kill_9_of_a_writer_loses_nothing_acknowledged",
            "LEDGER_WRITER",
            t.path(),
        );
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let want = 5 + round * 7;
        let mut got = 0;
        while got < want {
            let line = lines.next().expect("the writer is alive").expect("line");
            if let Some(id) = acked_id(&line) {
                acked.push(id);
                got += 1;
            }
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        if t.path().join(".git/refs/heads/beads.lock").exists() {
            killed_mid_ref_update += 1;
        }
        // Whatever the child acknowledged before dying is read too (it was already printed).
        for line in lines.map_while(Result::ok) {
            if let Some(id) = acked_id(&line) {
                acked.push(id);
            }
        }
    }
    eprintln!("writer killed 6 times, {killed_mid_ref_update} of them inside git's ref update");
    let mut l = open(t.path());
    // The persisted ready set (what a cold `ready` reads, no graph built yet) survived the
    // kills in step with the beads: it says what the graph says.
    let cold = l.ready_ids().expect("the persisted ready set");
    assert_eq!(
        cold,
        l.graph().expect("graph").ready_ids(i64::MAX),
        "the persisted ready set after the kills is the graph's"
    );
    for id in &acked {
        assert!(cold.contains(id), "acknowledged {id} is ready");
    }
    for id in &acked {
        assert!(
            l.get(id).expect("get").is_some(),
            "acknowledged {id} is in the ledger"
        );
    }
    l.sync().expect("sync");
    let in_git: std::collections::HashSet<String> =
        in_git(t.path()).into_iter().map(|(id, _)| id).collect();
    for id in &acked {
        assert!(
            in_git.contains(id),
            "acknowledged {id} is in git after sync"
        );
    }
    assert!(acked.len() >= 2 + 5 + 12 + 19 + 26 + 33 + 40);
    let fsck = Command::new("git")
        .arg("-C")
        .arg(t.path())
        .args(["fsck", "--no-dangling"])
        .output()
        .expect("fsck");
    assert!(
        fsck.status.success(),
        "git fsck: {}",
        String::from_utf8_lossy(&fsck.stderr)
    );
}

fn titles(l: &Ledger) -> Vec<String> {
    let mut t: Vec<String> = l
        .list(&ListFilter {
            all: true,
            ..ListFilter::default()
        })
        .expect("list")
        .into_iter()
        .map(|b| b.title)
        .collect();
    t.sort();
    t
}

#[test]
fn a_deferred_group_reads_its_own_writes_and_is_durable_only_once_made_so() {
    let t = town();
    let mut l = open(t.path());
    l.set_deferred_durability(true).expect("deferred");
    let a = l.create(new("a"), "m").expect("a");
    // Later operations of the group see earlier ones: update reads a from the open group.
    l.update(
        &a.id,
        BeadPatch {
            title: Some("a2".into()),
            ..BeadPatch::default()
        },
        "m",
    )
    .expect("update within the group");
    assert_eq!(l.get(&a.id).expect("get").expect("a").title, "a2");
    assert_eq!(l.events(&a.id).expect("events").len(), 2);
    drop(l); // never made durable: the whole group is gone
    let mut l = open(t.path());
    assert!(l.get(&a.id).expect("get").is_none(), "nothing acknowledged");
    assert!(titles(&l).is_empty());

    l.set_deferred_durability(true).expect("deferred");
    let b = l.create(new("b"), "m").expect("b");
    let c = l.create(new("c"), "m").expect("c");
    l.make_durable().expect("one commit for the group");
    drop(l);
    let l = open(t.path());
    assert_eq!(titles(&l), ["b", "c"]);
    assert_eq!(l.events(&b.id).expect("events")[0].kind, EventKind::Created);
    assert_eq!(l.events(&c.id).expect("events").len(), 1);
}

#[test]
fn turning_the_group_commit_off_commits_the_open_group() {
    let t = town();
    let mut l = open(t.path());
    l.set_deferred_durability(true).expect("deferred");
    l.create(new("a"), "m").expect("a");
    l.set_deferred_durability(false).expect("off commits");
    l.create(new("b"), "m").expect("b, durable on its own");
    drop(l);
    assert_eq!(titles(&open(t.path())), ["a", "b"]);
}

#[test]
fn the_audit_trail_is_whole_before_and_after_the_event_log_is_folded() {
    let t = town();
    let mut l = open(t.path());
    let a = l.create(new("a"), "m").expect("a");
    l.close(&a.id, "done", "m").expect("close");
    let kinds = |l: &Ledger| -> Vec<EventKind> {
        l.events(&a.id)
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect()
    };
    let before = kinds(&l);
    assert_eq!(before.first(), Some(&EventKind::Created));
    assert!(before.len() >= 2, "{before:?}");
    drop(l);
    // Reopened with the events still in the log.
    let mut l = open(t.path());
    assert_eq!(kinds(&l), before);
    l.sync().expect("sync folds the log");
    assert_eq!(kinds(&l), before);
    l.reopen(&a.id, "m").expect("reopen");
    let after = kinds(&l);
    assert!(after.len() > before.len(), "{after:?}");
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "folded first, then the new ones"
    );
    drop(l);
    assert_eq!(kinds(&open(t.path())), after);
}

#[test]
fn a_commit_job_runs_on_another_thread_while_the_ledger_goes_on() {
    let t = town();
    let mut l = open(t.path());
    let a = l.create(new("a"), "m").expect("a");
    let job = l.begin_commit().expect("prepare").expect("a is pending");
    assert_eq!(
        l.commit_due_in(),
        None,
        "what the job covers is no longer pending"
    );
    let running = std::thread::spawn(move || job.run());
    let b = l.create(new("b"), "m").expect("b while the job runs");
    let done = running.join().expect("job thread");
    let out = l.finish_commit(done).expect("finish").expect("a commit");
    assert_eq!(out.beads, 1);
    let ids: Vec<String> = in_git(t.path()).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, std::slice::from_ref(&a.id));
    assert!(l.commit_due_in().is_some(), "b still waits for git");
    let out = l.sync().expect("sync").expect("b's commit");
    assert_eq!(
        out.beads, 1,
        "only b: a's journal entry went with its commit"
    );
    let mut ids: Vec<String> = in_git(t.path()).into_iter().map(|(id, _)| id).collect();
    ids.sort();
    let mut want = vec![a.id, b.id];
    want.sort();
    assert_eq!(ids, want);
    assert!(l.begin_commit().expect("prepare").is_none(), "nothing left");
}

#[test]
fn the_change_feed_holds_each_stored_change_once_in_order_only_while_kept() {
    let dir = town();
    let mut ledger = open(dir.path());
    let before = ledger.create(new("not fed"), "overseer").expect("create");
    assert_eq!(
        ledger.take_changes(),
        (Vec::new(), 0),
        "nothing kept until asked"
    );
    ledger.keep_changes(true);
    let bead = ledger.create(new("fed"), "alice").expect("create");
    ledger.add_label(&bead.id, "urgent", "bob").expect("label");
    ledger.close(&bead.id, "done", "bob").expect("close");
    ledger.close(&before.id, "done", "carol").expect("close");
    let (changes, dropped) = ledger.take_changes();
    assert_eq!(dropped, 0);
    let seen: Vec<(String, EventKind, String)> = changes
        .iter()
        .map(|c| {
            (
                c.event.issue_id.clone(),
                c.event.kind,
                c.event.actor.clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (bead.id.clone(), EventKind::Created, "alice".to_string()),
            (bead.id.clone(), EventKind::LabelAdded, "bob".to_string()),
            (bead.id.clone(), EventKind::StatusChanged, "bob".to_string()),
            (bead.id.clone(), EventKind::Closed, "bob".to_string()),
            (
                before.id.clone(),
                EventKind::StatusChanged,
                "carol".to_string()
            ),
            (before.id.clone(), EventKind::Closed, "carol".to_string()),
        ]
    );
    let after = changes[3].bead.as_ref().expect("the bead as it stands");
    assert_eq!(after.status, Status::Closed);
    assert!(after.labels.contains(&"urgent".to_string()));
    assert_eq!(ledger.take_changes(), (Vec::new(), 0), "taken once");
    ledger.keep_changes(false);
    ledger.reopen(&bead.id, "bob").expect("reopen");
    assert_eq!(ledger.take_changes(), (Vec::new(), 0));
}
