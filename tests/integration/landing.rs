//! Landing on origin under `gastown run`, with sim polecats, a real bare origin and a human
//! pushing to it: every MR lands on top of the human's commits exactly once, polecat branches
//! are on origin while in flight and gone after; `kill -9` between the push and the bookkeeping
//! still lands exactly once; a refusing origin makes the refinery back off (never crash-loop);
//! and a merged polecat's session ends before its worktree is removed.

use crate::refinery::{bare, configure};
use crate::remote::{Origin, town_on_origin};
use crate::running::{RunningTown, group_alive, wait_for};
use crate::util::TestTown;
use crate::util::git_in;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn json_list(town: &TestTown, args: &[&str]) -> Vec<Value> {
    serde_json::from_str(&town.ok(args)).expect("a JSON array")
}

fn merge_requests(town: &TestTown) -> Vec<Value> {
    json_list(
        town,
        &["bead", "list", "--all", "--type", "merge-request", "--json"],
    )
}

fn status(town: &TestTown, bead: &str) -> String {
    let shown: Value =
        serde_json::from_str(&town.ok(&["bead", "show", bead, "--json"])).expect("json");
    shown["status"].as_str().unwrap_or("").to_string()
}

/// A test gate that waits until `release` exists (holds the refinery while polecats work).
fn held_until(release: &Path) -> String {
    format!(
        "test = \"while [ ! -e {r} ]; do sleep 0.05; done\"",
        r = release.display()
    )
}

fn marker(town: &TestTown, name: &str) -> PathBuf {
    town.root.parent().expect("parent").join(name)
}

#[test]
fn every_mr_lands_on_origin_on_top_of_human_pushes_exactly_once() {
    let (town, origin) = town_on_origin();
    let release = marker(&town, "release");
    configure(&town, 1, "merge", &held_until(&release));
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
    // In flight: every polecat branch is on origin (done pushed it).
    wait_for("three branches on origin", Duration::from_secs(30), || {
        (origin.polecat_branches().len() == 3).then_some(())
    });
    origin.human_push("human1.txt", "human one");
    std::fs::write(&release, "").expect("release the gate");
    origin.human_push("human2.txt", "human two");
    wait_for("all three merged", Duration::from_secs(90), || {
        beads
            .iter()
            .all(|b| status(&t.town, b) == "closed")
            .then_some(())
    });
    let log = origin.log();
    for subject in ["human one", "human two"] {
        assert!(log.lines().any(|l| l == subject), "{subject} kept:\n{log}");
    }
    for mr in &mrs {
        let id = mr["id"].as_str().expect("id");
        assert_eq!(
            origin.trailers(id),
            1,
            "{id} on origin exactly once:\n{log}"
        );
    }
    wait_for(
        "polecat branches gone from origin",
        Duration::from_secs(30),
        || origin.polecat_branches().is_empty().then_some(()),
    );
}

#[test]
fn kill_dash_nine_between_the_push_and_the_bookkeeping_lands_exactly_once() {
    let (town, origin) = town_on_origin();
    let bead = town.create(&["Land me once"]);
    let mut t = RunningTown::start_with_env(town, &[("GASTOWN_REFINERY_FAULT", "after-push")]);
    t.town.ok(&["sling", &bead, "alpha"]);
    let mut child = t.child.take().expect("running");
    let died = wait_for(
        "gastown run to die right after the push",
        Duration::from_secs(90),
        || child.try_wait().expect("wait"),
    );
    assert!(!died.success(), "killed: {died}");
    assert_eq!(origin.log().matches("Gastown-MR:").count(), 1, "on origin");
    let local = git_in(&bare(&t.town), &["log", "main", "--format=%B"]);
    assert_eq!(
        local.matches("Gastown-MR:").count(),
        0,
        "killed before the rig's own main moved"
    );
    assert_eq!(status(&t.town, &bead), "in_progress", "no bookkeeping yet");
    let town = std::mem::replace(&mut t.town, TestTown::new());
    drop(t);
    let t = RunningTown::start_in(town);
    wait_for("the bookkeeping finished", Duration::from_secs(60), || {
        (status(&t.town, &bead) == "closed").then_some(())
    });
    let mrs = merge_requests(&t.town);
    assert!(mrs.iter().all(|m| m["status"] == "closed"), "{mrs:?}");
    assert_eq!(
        origin.log().matches("Gastown-MR:").count(),
        1,
        "exactly once"
    );
    let local = git_in(&bare(&t.town), &["log", "main", "--format=%B"]);
    assert_eq!(local.matches("Gastown-MR:").count(), 1, "the rig caught up");
}

/// Gate runs, as the seconds they started at.
fn gate_runs(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn refuse_pushes(origin: &Origin) -> PathBuf {
    let hook = origin.path.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'read-only today' >&2\nexit 1\n").expect("hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    hook
}

#[test]
fn a_refinery_facing_a_refusing_origin_backs_off_tells_once_and_keeps_running() {
    let (town, origin) = town_on_origin();
    let runs = marker(&town, "gate-runs");
    configure(
        &town,
        1,
        "merge",
        &format!("test = \"date +%s.%N >> {}\"", runs.display()),
    );
    let hook = refuse_pushes(&origin);
    let bead = town.create(&["Refused for now"]);
    let t = RunningTown::start_in(town);
    t.town.ok(&["sling", &bead, "alpha"]);
    let subject = "origin refuses the refinery's push";
    wait_for("the mayor told", Duration::from_secs(90), || {
        crate::refinery::has_mail(&t.town, "mayor", subject, "read-only today").then_some(())
    });
    let times = wait_for("three gate runs", Duration::from_secs(60), || {
        let times = gate_runs(&runs);
        (times.len() >= 3).then_some(times)
    });
    // Backing off 2 s, then 4 s: the third run comes at least 6 s after the first (without the
    // pause it would come about a second later, every poll re-running the gates).
    assert!(
        times[2] - times[0] >= 5.0,
        "the refinery backs off between tries: {times:?}"
    );
    let told = crate::refinery::inbox(&t.town, "mayor")
        .iter()
        .filter(|m| m["title"].as_str().is_some_and(|s| s.contains(subject)))
        .count();
    assert_eq!(told, 1, "told once per streak");
    // And one escalation record from the refinery, not one per try.
    let open: serde_json::Value =
        serde_json::from_str(&t.town.ok(&["escalate", "list", "--json"])).expect("JSON");
    let from_refinery: Vec<_> = open
        .as_array()
        .expect("a list")
        .iter()
        .filter(|e| e["source"] == "alpha/refinery")
        .collect();
    assert_eq!(from_refinery.len(), 1, "{open}");
    let refinery = t.node("town/rigs/alpha/refinery").expect("refinery runs");
    assert_eq!(refinery["restarts_total"], 0, "never crashed: {refinery}");
    assert_ne!(status(&t.town, &bead), "closed");
    std::fs::remove_file(&hook).expect("accept pushes again");
    wait_for("the work landed", Duration::from_secs(90), || {
        (status(&t.town, &bead) == "closed").then_some(())
    });
    assert_eq!(origin.log().matches("Gastown-MR:").count(), 1);
}

#[test]
fn a_merged_polecats_session_ends_before_its_worktree_is_removed() {
    let town = crate::util::town_with_rig();
    let release = marker(&town, "release");
    configure(&town, 1, "merge", &held_until(&release));
    let bead = town.create(&["Finish and go"]);
    let t = RunningTown::start_in(town);
    t.town.ok(&["sling", &bead, "alpha"]);
    let mr = wait_for("the merge request", Duration::from_secs(90), || {
        merge_requests(&t.town).into_iter().next()
    });
    let worker = mr["worker"].as_str().expect("worker").to_string();
    let name = worker
        .rsplit('/')
        .next()
        .expect("a polecat name")
        .to_string();
    let role = format!("town/rigs/alpha/polecats/{name}");
    // The sim stays at its prompt after `gastown done`, like Claude Code does.
    let pid = wait_for("the polecat's session", Duration::from_secs(30), || {
        t.session_pid(&role)
    });
    assert!(group_alive(pid), "the session still runs after done");
    let worktree = t.town.root.join(format!("alpha/polecats/{name}/rig"));
    assert!(worktree.exists());
    std::fs::write(&release, "").expect("release the gate");
    wait_for("the worktree removed", Duration::from_secs(90), || {
        (!worktree.exists()).then_some(())
    });
    assert!(
        !group_alive(pid),
        "the session ended before its worktree was removed"
    );
    wait_for("the polecat's role gone", Duration::from_secs(10), || {
        t.node(&role).is_none().then_some(())
    });
    assert_eq!(status(&t.town, &bead), "closed");
}
