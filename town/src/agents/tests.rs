//! Unit tests of agent beads: ids, the recorded runtime, stuck streaks, the session history and
//! folding duplicate agent beads — on a real ledger in a temp git repository.

use super::*;
use gastown_beads::{LedgerConfig, ListFilter};
use std::time::Duration;

fn ledger(dir: &std::path::Path) -> Ledger {
    let status = std::process::Command::new("git")
        .args(["init", "--quiet"])
        .arg(dir)
        .status()
        .expect("git runs");
    assert!(status.success());
    Ledger::open(LedgerConfig {
        repo_path: dir.to_path_buf(),
        index_path: dir.join("ledger.redb"),
        lock_path: dir.join("ledger.lock"),
        prefix: "gt".into(),
        git_ref: "refs/heads/beads".into(),
        commit_delay: Duration::from_secs(1),
        author_name: "t".into(),
        author_email: "t@t".into(),
    })
    .expect("opens")
}

fn identity(address: &str) -> AgentIdentity {
    AgentIdentity::parse(address).expect("a valid address")
}

#[test]
fn ids_are_stable_valid_and_distinct() {
    let a = agent_bead_id("gt", "alpha/polecats/nux");
    assert_eq!(a, agent_bead_id("gt", "alpha/polecats/nux"));
    assert_ne!(a, agent_bead_id("gt", "alpha/polecats/slit"));
    gastown_beads::id::validate_id(&a).expect("a valid bead id");
}

#[test]
fn the_recorded_runtime_stays_until_changed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut l = ledger(dir.path());
    let nux = identity("alpha/polecats/nux");
    assert_eq!(runtime_of(&ensure(&mut l, &nux).expect("bead")), None);
    record_runtime(&mut l, &nux, "hang").expect("recorded");
    set_state(&mut l, &nux, "working", Some("gt-1")).expect("state");
    let bead = find(&l, &nux.address).expect("read").expect("exists");
    assert_eq!(runtime_of(&bead), Some("hang"));
    assert_eq!(state_of(&bead), "working");
}

#[test]
fn a_stuck_streak_is_reported_once_and_ends_when_cleared() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut l = ledger(dir.path());
    let nux = identity("alpha/polecats/nux");
    set_state(&mut l, &nux, "working", Some("gt-1")).expect("state");
    assert!(mark_stuck(&mut l, &nux, "program missing").expect("marked"));
    assert!(!mark_stuck(&mut l, &nux, "still missing").expect("marked"));
    let bead = find(&l, &nux.address).expect("read").expect("exists");
    assert_eq!(stuck_reason(&bead), Some("still missing"));
    assert_eq!(
        bead.extra["hook"], "gt-1",
        "the hook stays while the identity is stuck"
    );
    assert!(clear_stuck(&mut l, &nux).expect("cleared"));
    assert!(!clear_stuck(&mut l, &nux).expect("nothing to clear"));
    let bead = find(&l, &nux.address).expect("read").expect("exists");
    assert_eq!(state_of(&bead), "working");
    assert_eq!(stuck_reason(&bead), None);
    assert!(bead.extra.get("stuck_reason").is_none());
    assert!(
        mark_stuck(&mut l, &nux, "again").expect("marked"),
        "a new streak"
    );
}

#[test]
fn each_end_goes_on_its_own_session_and_stale_ones_are_closed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut l = ledger(dir.path());
    let max = identity("alpha/crew/max");
    session_started(&mut l, &max, "old-1", "sim", "old-").expect("start");
    session_started(&mut l, &max, "run-1", "sim", "run-").expect("start");
    session_started(&mut l, &max, "run-2", "sim", "run-").expect("start");
    // The end of run-1 arrives after run-2's start was recorded: it still lands on run-1.
    session_ended(&mut l, &max.address, "run-1", "signal 9").expect("end");
    session_ended(&mut l, &max.address, "run-1", "again").expect("no second end");
    let bead = find(&l, &max.address).expect("read").expect("exists");
    let sessions = sessions_of(&bead);
    let field = |i: usize, k: &str| sessions[i].get(k).and_then(Value::as_str).map(String::from);
    assert!(
        field(0, "exit").expect("closed").starts_with("unknown"),
        "a session of an earlier run is closed when a new run starts one"
    );
    assert_eq!(field(1, "exit").as_deref(), Some("signal 9"));
    assert_eq!(field(2, "ended_at"), None, "the running session stays open");
}

#[test]
fn duplicate_agent_beads_fold_into_the_one_with_the_derived_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut l = ledger(dir.path());
    let max = identity("alpha/crew/max");
    set_state(&mut l, &max, "working", Some("gt-1")).expect("canonical");
    let mut extra = Map::new();
    extra.insert("address".into(), json!("alpha/crew/max"));
    let stray = l
        .create(
            NewBead {
                title: "alpha/crew/max".into(),
                issue_type: IssueType::Agent,
                priority: 2,
                labels: vec!["dnd".into()],
                extra,
                ..NewBead::default()
            },
            "alpha/crew/max",
        )
        .expect("stray");
    // Only a stray for zoe: the canonical bead is made from it.
    let zoe_stray = l
        .create(
            NewBead {
                title: "alpha/crew/zoe".into(),
                issue_type: IssueType::Agent,
                priority: 2,
                labels: vec!["dnd".into()],
                ..NewBead::default()
            },
            "overseer",
        )
        .expect("stray");
    let merged = merge_duplicates(&mut l).expect("merged");
    assert_eq!(merged, ["alpha/crew/max", "alpha/crew/zoe"]);
    let open: Vec<Bead> = l
        .list(&ListFilter {
            issue_type: Some(IssueType::Agent),
            ..ListFilter::default()
        })
        .expect("list");
    assert_eq!(open.len(), 2, "one open agent bead per identity: {open:?}");
    for bead in &open {
        assert_eq!(bead.id, agent_bead_id("gt", address_of(bead)));
        assert!(bead.labels.iter().any(|l| l == "dnd"), "{bead:?}");
    }
    let max_bead = find(&l, "alpha/crew/max").expect("read").expect("exists");
    assert_eq!(
        max_bead.extra["hook"], "gt-1",
        "the kept bead's own fields win"
    );
    for id in [&stray.id, &zoe_stray.id] {
        let closed = l.get(id).expect("read").expect("exists");
        assert!(closed.is_closed());
        assert!(closed.close_reason.starts_with(duplicates::DUPLICATE_OF));
    }
    assert!(
        merge_duplicates(&mut l).expect("again").is_empty(),
        "idempotent"
    );
}
