//! The polecat lifecycle end to end, as a new user runs it: install a town, add a local rig,
//! create beads, sling them, and watch sim polecats work them to merge requests — also across a
//! `kill -9` of `gastown run`.

use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, town_with_rig};
use std::process::Command;
use std::time::Duration;

fn json_list(town: &TestTown, args: &[&str]) -> Vec<serde_json::Value> {
    serde_json::from_str(&town.ok(args)).expect("a JSON array")
}

fn merge_requests(town: &TestTown) -> Vec<serde_json::Value> {
    json_list(
        town,
        &["bead", "list", "--all", "--type", "merge-request", "--json"],
    )
}

#[test]
fn three_beads_slung_become_three_merge_requests() {
    let town = town_with_rig();
    let beads: Vec<String> = (1..=3)
        .map(|i| town.create(&[&format!("Task {i}")]))
        .collect();
    let t = RunningTown::start_in(town);
    for b in &beads {
        t.town.ok(&["sling", b, "alpha"]);
    }
    let mrs = wait_for("three merge requests", Duration::from_secs(90), || {
        let mrs = merge_requests(&t.town);
        (mrs.len() == 3).then_some(mrs)
    });
    let mut sources: Vec<&str> = mrs
        .iter()
        .map(|m| m["source_bead"].as_str().expect("source"))
        .collect();
    sources.sort();
    let mut expected: Vec<&str> = beads.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(sources, expected, "one merge request per bead");
    // Hooks cleared, polecats with worktrees and commits on their branches.
    wait_for("hooks cleared", Duration::from_secs(30), || {
        json_list(&t.town, &["bead", "list", "--status", "hooked", "--json"])
            .is_empty()
            .then_some(())
    });
    let mut workers: Vec<&str> = mrs
        .iter()
        .map(|m| m["worker"].as_str().expect("worker"))
        .collect();
    workers.sort();
    workers.dedup();
    assert_eq!(
        workers.len(),
        3,
        "three polecats worked in parallel: {workers:?}"
    );
    // Each polecat's branch carries its work; the refinery lands it on main exactly once.
    wait_for("all three merged", Duration::from_secs(90), || {
        let log = t
            .town
            .git(&["-C", "alpha/.repo.git", "log", "main", "--format=%B"]);
        (mrs.iter().all(|mr| {
            log.matches(&format!("Gastown-MR: {}", mr["id"].as_str().expect("id")))
                .count()
                == 1
        }))
        .then_some(())
    });
    // The polecats' own commits are on main (their branches may go once merged).
    let subjects = t
        .town
        .git(&["-C", "alpha/.repo.git", "log", "main", "--format=%s"]);
    for b in &beads {
        assert!(
            subjects.contains(&format!("{b}: ")),
            "{b}'s commit is on main: {subjects}"
        );
    }
}

#[test]
fn kill_dash_nine_of_run_resumes_hooked_work_without_duplicates() {
    let town = town_with_rig();
    let beads: Vec<String> = (1..=2)
        .map(|i| town.create(&[&format!("Job {i}")]))
        .collect();
    // Slung with no supervisor: the hooks are set, sessions wait for `gastown run` (GUPP).
    for b in &beads {
        town.ok(&["sling", b, "alpha"]);
    }
    let hooked = json_list(&town, &["bead", "list", "--status", "hooked", "--json"]);
    assert_eq!(hooked.len(), 2);
    let mut t = RunningTown::start_in(town);
    wait_for("some work done", Duration::from_secs(60), || {
        (!merge_requests(&t.town).is_empty()).then_some(())
    });
    // SAFETY: killing the supervisor process this test started.
    let pid = t.child.as_ref().expect("running").id();
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let _ = t.child.take().expect("child").wait();
    let town = std::mem::replace(&mut t.town, TestTown::new());
    drop(t);
    let t = RunningTown::start_in(town);
    let mrs = wait_for("both merge requests", Duration::from_secs(90), || {
        let mrs = merge_requests(&t.town);
        (mrs.len() >= 2).then_some(mrs)
    });
    assert_eq!(mrs.len(), 2, "no merge request twice: {mrs:?}");
    let worktrees = t.town.git(&["-C", "alpha/.repo.git", "worktree", "list"]);
    assert_eq!(
        worktrees
            .lines()
            .filter(|l| l.contains("/polecats/"))
            .count(),
        2,
        "{worktrees}"
    );
}

#[test]
fn sling_refuses_bad_targets_and_held_beads() {
    let town = town_with_rig();
    let bead = town.create(&["Contested"]);
    let err = town.fails(&["sling", "gt-nope", "alpha"]);
    assert!(err.contains("gt-nope"), "{err}");
    let err = town.fails(&["sling", &bead, "nowhere"]);
    assert!(err.contains("nowhere"), "{err}");
    for bad in ["alpha/crew/..", "alpha/crew/a b", "../x", "alpha/polecats/"] {
        town.fails(&["sling", &bead, bad]);
    }
    town.ok(&["sling", &bead, "alpha/crew/max"]);
    // Idempotent.
    let again = town.ok(&["sling", &bead, "alpha/crew/max"]);
    assert!(again.contains("already"), "{again}");
    let err = town.fails(&["sling", &bead, "alpha/crew/zoe"]);
    assert!(
        err.contains("alpha/crew/max") && err.contains("--force"),
        "{err}"
    );
    town.ok(&["sling", &bead, "alpha/crew/zoe", "--force"]);
    let shown: serde_json::Value =
        serde_json::from_str(&town.ok(&["bead", "show", &bead, "--json"])).expect("json");
    assert_eq!(shown["assignee"], "alpha/crew/zoe");
}

#[test]
fn done_outside_a_polecat_or_without_commits_changes_nothing() {
    let town = town_with_rig();
    let bead = town.create(&["Nothing yet"]);
    town.ok(&["sling", &bead, "alpha/polecats/nux", "--no-formula"]);
    let err = town.fails(&["done"]);
    assert!(err.contains("agent"), "{err}");
    let as_polecat = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gastown"))
            .current_dir(&town.root)
            .env("GASTOWN_AGENT", "alpha/polecats/nux")
            .args(args)
            .output()
            .expect("runs")
    };
    let out = as_polecat(&["done"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no commits"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(merge_requests(&town).is_empty(), "no merge request");
    let shown: serde_json::Value =
        serde_json::from_str(&town.ok(&["bead", "show", &bead, "--json"])).expect("json");
    assert_eq!(shown["status"], "hooked", "the hook is kept");
    let crew = Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&town.root)
        .env("GASTOWN_AGENT", "alpha/crew/max")
        .arg("done")
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&crew.stderr).contains("polecats"));

    // prime shows the hook; seance the identity.
    let prime = String::from_utf8_lossy(&as_polecat(&["prime"]).stdout).into_owned();
    assert!(prime.contains(&bead) && prime.contains("GUPP"), "{prime}");
}

#[test]
fn a_polecat_resumes_its_molecule_after_a_crash_without_redoing_a_step() {
    let town = town_with_rig();
    let bead = town.create(&["Careful work"]);
    let t = RunningTown::start_with_env(town, &[("GASTOWN_SIM_CRASH_IN_STEP", "implement")]);
    t.town.ok(&["sling", &bead, "alpha"]);
    let mrs = wait_for("the merge request", Duration::from_secs(90), || {
        let mrs = merge_requests(&t.town);
        (!mrs.is_empty()).then_some(mrs)
    });
    assert_eq!(mrs.len(), 1);
    let worker = mrs[0]["worker"].as_str().expect("worker").replace('/', "-");
    let marker = t
        .town
        .root
        .join(format!(".runtime/sim-crashed-{worker}-implement"));
    assert!(marker.exists(), "the session really crashed mid-molecule");
    // Every step of the molecule closed exactly once (the audit trail of each step bead).
    let shown: serde_json::Value =
        serde_json::from_str(&t.town.ok(&["bead", "show", &bead, "--json"])).expect("json");
    let mol = shown["molecule"].as_str().expect("a molecule is attached");
    let status = t.town.ok(&["mol", "status", mol, "--json"]);
    let steps: Vec<String> = (1..=5).map(|n| format!("{mol}.{n}")).collect();
    for step in &steps {
        let events: serde_json::Value =
            serde_json::from_str(&t.town.ok(&["bead", "events", step, "--json"])).expect("json");
        let closes = events
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["kind"] == "closed")
            .count();
        assert_eq!(closes, 1, "{step} closed exactly once: {events} / {status}");
    }
}

#[test]
fn the_dispatch_queue_drains_when_merges_free_the_polecat_names() {
    let town = town_with_rig();
    // Two names for five beads: work waits in the queue until merges free a name.
    let config = town.root.join("alpha/rig.toml");
    let text = std::fs::read_to_string(&config).expect("rig.toml");
    let start = text.find("polecat_names = [").expect("a name pool");
    let end = start + text[start..].find(']').expect("the pool's end") + 1;
    let text = format!(
        "{}polecat_names = [\"ace\", \"dag\"]{}",
        &text[..start],
        &text[end..]
    )
    .replace("max_polecats = 4", "max_polecats = 2");
    std::fs::write(&config, text).expect("write rig.toml");
    let beads: Vec<String> = (1..=5)
        .map(|i| town.create(&[&format!("Item {i}")]))
        .collect();
    let t = RunningTown::start_in(town);
    for b in &beads {
        t.town.ok(&["sling", b, "alpha"]);
    }
    wait_for("all five merged", Duration::from_secs(120), || {
        let closed = json_list(
            &t.town,
            &["bead", "list", "--all", "--type", "task", "--json"],
        )
        .iter()
        .filter(|b| beads.iter().any(|id| b["id"] == id.as_str()) && b["status"] == "closed")
        .count();
        (closed == 5).then_some(())
    });
    let log = t
        .town
        .git(&["-C", "alpha/.repo.git", "log", "main", "--format=%B"]);
    assert_eq!(
        log.matches("Gastown-MR:").count(),
        5,
        "each merged exactly once"
    );
}

#[test]
fn kill_dash_nine_between_merge_and_bookkeeping_merges_exactly_once() {
    let town = town_with_rig();
    let bead = town.create(&["Land me once"]);
    let mut t = RunningTown::start_with_env(town, &[("GASTOWN_REFINERY_FAULT", "after-land")]);
    t.town.ok(&["sling", &bead, "alpha"]);
    // The supervisor kills itself right after the merge reached main.
    let mut child = t.child.take().expect("running");
    let status = wait_for(
        "gastown run to die after landing",
        Duration::from_secs(90),
        || child.try_wait().expect("wait"),
    );
    assert!(!status.success(), "killed: {status}");
    let log = t
        .town
        .git(&["-C", "alpha/.repo.git", "log", "main", "--format=%B"]);
    assert_eq!(
        log.matches("Gastown-MR:").count(),
        1,
        "merged before the crash"
    );
    let open_mrs: Vec<_> = merge_requests(&t.town)
        .into_iter()
        .filter(|m| m["status"] != "closed")
        .collect();
    assert_eq!(open_mrs.len(), 1, "bookkeeping not done yet");
    // Restart without the fault: the refinery finds the trailer and finishes the bookkeeping.
    let town = std::mem::replace(&mut t.town, TestTown::new());
    drop(t);
    let t = RunningTown::start_in(town);
    wait_for("the bookkeeping finished", Duration::from_secs(60), || {
        let shown: serde_json::Value =
            serde_json::from_str(&t.town.ok(&["bead", "show", &bead, "--json"])).expect("json");
        (shown["status"] == "closed").then_some(())
    });
    let mrs = merge_requests(&t.town);
    assert!(mrs.iter().all(|m| m["status"] == "closed"), "{mrs:?}");
    let log = t
        .town
        .git(&["-C", "alpha/.repo.git", "log", "main", "--format=%B"]);
    assert_eq!(log.matches("Gastown-MR:").count(), 1, "merged exactly once");
}
