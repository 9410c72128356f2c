//! Commands in ledger steps (`gastown_town::steps`): git and gates run outside the ledger's
//! owner, so a `kill -9` can land between the outside work and the ledger step that records it
//! — these tests put it exactly there (`GASTOWN_STEP_FAULT`) and check that running the
//! command again loses nothing and does nothing twice; and that the town answers while a gate
//! runs.

use crate::refinery::{bare, configure, mr_of, process, worktree};
use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, as_agent_ok, git_in, stderr, town_with_rig};
use std::process::{Command, Output};
use std::time::Duration;

/// `gastown <args>` in the town as `who` (the overseer when `None`), killed with SIGKILL just
/// before the ledger step `step`.
fn killed_at(town: &TestTown, who: Option<&str>, step: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gastown"));
    cmd.current_dir(&town.root)
        .env_remove("GASTOWN_TOWN")
        .env_remove("GASTOWN_AGENT")
        .env("GASTOWN_STEP_FAULT", step)
        .args(args);
    if let Some(who) = who {
        cmd.env("GASTOWN_AGENT", who);
    }
    let out = cmd.output().expect("the gastown binary runs");
    assert!(!out.status.success(), "killed at {step}: {}", stderr(&out));
    out
}

fn json(town: &TestTown, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&town.ok(args)).expect("JSON")
}

fn merge_requests(town: &TestTown) -> Vec<serde_json::Value> {
    let all = json(
        town,
        &["bead", "list", "--all", "--type", "merge-request", "--json"],
    );
    all.as_array().expect("an array").clone()
}

/// Commits on main that landed `mr`.
fn landed(town: &TestTown, mr: &str) -> usize {
    git_in(&bare(town), &["log", "main", "--format=%B"])
        .lines()
        .filter(|l| l.trim() == format!("Gastown-MR: {mr}"))
        .count()
}

#[test]
fn kill_dash_nine_of_done_between_its_commit_and_its_submit_submits_that_commit_once() {
    let town = crate::refinery::town();
    let bead = town.create(&["Finish me"]);
    town.ok(&["sling", &bead, "alpha/polecats/nux", "--no-formula"]);
    let wt = worktree(&town, "nux");
    std::fs::write(wt.join("work.txt"), "work\n").expect("write work");
    // `done` commits what is left, then dies before the ledger hears of it.
    killed_at(&town, Some("alpha/polecats/nux"), "done: submit", &["done"]);
    assert_eq!(
        git_in(&wt, &["status", "--porcelain"]),
        "",
        "the work is committed"
    );
    assert_eq!(
        json(&town, &["bead", "show", &bead, "--json"])["status"],
        "hooked"
    );
    assert!(merge_requests(&town).is_empty(), "no merge request yet");
    // Run again: nothing left to commit; the commit is submitted, once.
    let out = as_agent_ok(&town, "alpha/polecats/nux", &["done"]);
    assert!(!out.contains("committed what was left"), "{out}");
    assert_eq!(git_in(&wt, &["rev-list", "--count", "main..HEAD"]), "1");
    assert_eq!(merge_requests(&town).len(), 1);
    let mr = mr_of(&town, &bead);
    assert_eq!(mr["commit"], git_in(&wt, &["rev-parse", "HEAD"]).as_str());
    let summary = process(&town);
    assert_eq!(summary["merged"], 1, "{summary}");
    assert_eq!(landed(&town, mr["id"].as_str().expect("id")), 1);
}

#[test]
fn kill_dash_nine_of_sling_between_the_worktree_and_the_hook_is_healed_by_slinging_again() {
    let town = town_with_rig();
    let bead = town.create(&["Sling me"]);
    killed_at(
        &town,
        None,
        "sling: hook",
        &["sling", &bead, "alpha", "--no-formula"],
    );
    let shown = json(&town, &["bead", "show", &bead, "--json"]);
    assert_eq!(shown["status"], "open", "not hooked: {shown}");
    let worktrees = || {
        town.git(&["-C", "alpha/.repo.git", "worktree", "list"])
            .lines()
            .filter(|l| l.contains("/polecats/"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(worktrees().len(), 1, "the worktree was made");
    // Again: the idle polecat with that worktree takes it; no second worktree.
    let out = town.ok(&["sling", &bead, "alpha", "--no-formula"]);
    assert!(out.contains("slung"), "{out}");
    let shown = json(&town, &["bead", "show", &bead, "--json"]);
    assert_eq!(shown["status"], "hooked");
    let polecat = shown["assignee"].as_str().expect("assignee");
    let on_disk = worktrees();
    assert_eq!(on_disk.len(), 1, "{on_disk:?}");
    let name = polecat.rsplit('/').next().expect("a name");
    assert!(
        on_disk[0].contains(&format!("/polecats/{name}/")),
        "{on_disk:?}"
    );
}

#[test]
fn kill_dash_nine_of_run_between_a_polecats_commit_and_its_submit_lands_its_work_once() {
    let town = town_with_rig();
    let bead = town.create(&["Land me once"]);
    let mut t = RunningTown::start_with_env(town, &[("GASTOWN_STEP_FAULT", "done: submit")]);
    t.town.ok(&["sling", &bead, "alpha"]);
    // The sim polecat commits and runs `gastown done`; the supervisor dies before submitting.
    let mut child = t.child.take().expect("running");
    let status = wait_for(
        "gastown run to die before the submit",
        Duration::from_secs(90),
        || child.try_wait().expect("wait"),
    );
    assert!(!status.success(), "killed: {status}");
    assert!(merge_requests(&t.town).is_empty(), "no merge request yet");
    assert_eq!(
        json(&t.town, &["bead", "show", &bead, "--json"])["status"],
        "hooked"
    );
    // Restarted without the fault: the polecat resumes its hook (GUPP) and finishes it.
    let town = std::mem::replace(&mut t.town, TestTown::new());
    drop(t);
    let t = RunningTown::start_in(town);
    wait_for("the work merged", Duration::from_secs(120), || {
        (json(&t.town, &["bead", "show", &bead, "--json"])["status"] == "closed").then_some(())
    });
    let mrs = merge_requests(&t.town);
    assert_eq!(mrs.len(), 1, "one merge request: {mrs:?}");
    assert_eq!(landed(&t.town, mrs[0]["id"].as_str().expect("id")), 1);
    let subjects = git_in(&bare(&t.town), &["log", "main", "--format=%s"]);
    assert_eq!(
        subjects
            .lines()
            .filter(|s| s.starts_with(&format!("{bead}:")))
            .count(),
        1,
        "the polecat's work is one commit: {subjects}"
    );
}

#[test]
fn the_town_answers_while_a_gate_runs() {
    let town = crate::refinery::town();
    let dir = town.root.parent().expect("parent").to_path_buf();
    let (started, release) = (dir.join("gate-started"), dir.join("gate-release"));
    let gate = format!(
        "test = \"touch '{}'; while [ ! -f '{}' ]; do sleep 0.02; done\"",
        started.display(),
        release.display()
    );
    configure(&town, 1, "merge", &gate);
    let bead = town.create(&["Gated"]);
    let mut t = RunningTown::start_in(town);
    t.town.ok(&["sling", &bead, "alpha"]);
    wait_for("the gate to start", Duration::from_secs(90), || {
        started.exists().then_some(())
    });
    // The gate waits for its release: the ledger must not.
    let filed = t.town.create(&["Filed while the gate runs"]);
    t.town.ok(&[
        "mail",
        "send",
        "mayor",
        "-s",
        "during the gate",
        "-m",
        "still here",
    ]);
    assert!(!release.exists());
    assert_eq!(
        json(&t.town, &["bead", "show", &bead, "--json"])["status"],
        "in_progress"
    );
    std::fs::write(&release, "go").expect("release the gate");
    wait_for("the gated work merged", Duration::from_secs(60), || {
        (json(&t.town, &["bead", "show", &bead, "--json"])["status"] == "closed").then_some(())
    });
    assert_eq!(
        json(&t.town, &["bead", "show", &filed, "--json"])["status"],
        "open"
    );
    t.stop();
}
