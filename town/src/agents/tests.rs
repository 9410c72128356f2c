//! Unit tests of agent beads: ids, the recorded runtime, stuck streaks, the session history and
//! folding duplicate agent beads — on a real ledger in a temp git repository.

use super::*;
use gastown_beads::{LedgerConfig, ListFilter};
use serde_json::{Map, Value, json};
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
    assert_eq!(ensure(&mut l, &nux).expect("bead").runtime, None);
    record_runtime(&mut l, &nux, "hang").expect("recorded");
    set_state(&mut l, &nux, AgentState::Working, Some("gt-1")).expect("state");
    let agent = find(&l, &nux.address).expect("read").expect("exists");
    assert_eq!(agent.runtime.as_deref(), Some("hang"));
    assert_eq!(agent.state, AgentState::Working);
}

#[test]
fn a_stuck_streak_is_reported_once_and_ends_when_cleared() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut l = ledger(dir.path());
    let nux = identity("alpha/polecats/nux");
    set_state(&mut l, &nux, AgentState::Working, Some("gt-1")).expect("state");
    assert!(mark_stuck(&mut l, &nux, "program missing").expect("marked"));
    assert!(!mark_stuck(&mut l, &nux, "still missing").expect("marked"));
    let agent = find(&l, &nux.address).expect("read").expect("exists");
    assert_eq!(agent.stuck(), Some("still missing"));
    assert!(agent.stuck_since.is_some());
    assert_eq!(
        agent.hook.as_deref(),
        Some("gt-1"),
        "the hook stays while the identity is stuck"
    );
    assert!(clear_stuck(&mut l, &nux).expect("cleared"));
    assert!(!clear_stuck(&mut l, &nux).expect("nothing to clear"));
    let agent = find(&l, &nux.address).expect("read").expect("exists");
    assert_eq!(agent.state, AgentState::Working);
    assert_eq!(agent.stuck(), None);
    assert_eq!(agent.stuck_reason, None, "the reason goes with the streak");
    assert_eq!(agent.stuck_since, None);
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
    session_started(&mut l, &max, "old-1", ("sim", None), "old-").expect("start");
    session_started(&mut l, &max, "run-1", ("sim", None), "run-").expect("start");
    session_started(&mut l, &max, "run-2", ("sim", None), "run-").expect("start");
    // The end of run-1 arrives after run-2's start was recorded: it still lands on run-1.
    session_ended(&mut l, &max.address, "run-1", "signal 9").expect("end");
    session_ended(&mut l, &max.address, "run-1", "again").expect("no second end");
    let sessions = find(&l, &max.address)
        .expect("read")
        .expect("exists")
        .sessions;
    assert!(
        sessions[0]
            .exit
            .as_deref()
            .expect("closed")
            .starts_with("unknown"),
        "a session of an earlier run is closed when a new run starts one"
    );
    assert_eq!(sessions[1].exit.as_deref(), Some("signal 9"));
    assert_eq!(sessions[2].ended_at, None, "the running session stays open");
}

#[test]
fn duplicate_agent_beads_fold_into_the_one_with_the_derived_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut l = ledger(dir.path());
    let max = identity("alpha/crew/max");
    set_state(&mut l, &max, AgentState::Working, Some("gt-1")).expect("canonical");
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
    let max = find(&l, "alpha/crew/max").expect("read").expect("exists");
    assert_eq!(
        max.hook.as_deref(),
        Some("gt-1"),
        "the kept bead's own fields win"
    );
    assert!(max.dnd, "the stray's label came along");
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

#[test]
fn the_fields_are_written_as_ledgers_already_hold_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut l = ledger(dir.path());
    let nux = identity("alpha/polecats/nux");
    let id = ensure(&mut l, &nux).expect("bead").id;
    let line = |l: &Ledger| {
        let bead = l.get(&id).expect("read").expect("exists");
        Value::Object(bead.extra)
    };
    assert_eq!(
        line(&l).to_string(),
        r#"{"address":"alpha/polecats/nux","role":"polecat","rig":"alpha","agent_state":"idle","hook":"","sessions":[]}"#
    );
    session_started(&mut l, &nux, "run-1", ("sim", None), "run-").expect("start");
    session_ended(&mut l, &nux.address, "run-1", "exit 0").expect("end");
    let sessions = &line(&l)["sessions"];
    let keys: Vec<&str> = sessions[0]
        .as_object()
        .expect("a session")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "runtime", "started_at", "ended_at", "exit"]);
    mark_stuck(&mut l, &nux, "no program").expect("stuck");
    assert_eq!(line(&l)["agent_state"], "stuck");
    assert_eq!(line(&l)["stuck_reason"], "no program");
}

#[test]
fn a_malformed_field_is_an_error_naming_the_bead_and_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut l = ledger(dir.path());
    let nux = identity("alpha/polecats/nux");
    let id = ensure(&mut l, &nux).expect("bead").id;
    let mut bad = Map::new();
    bad.insert("sessions".into(), json!("yesterday"));
    l.set_extra(&id, bad, "t").expect("written by hand");
    let err = find(&l, &nux.address).expect_err("sessions that are text");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "field `sessions` of {id} is \"yesterday\", not a list of sessions"
        )),
        "{text}"
    );
    assert_eq!(
        address_of(&l.get(&id).expect("read").expect("exists")),
        "alpha/polecats/nux",
        "a scan still sees who it is"
    );
}
