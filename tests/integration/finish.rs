//! Molecules end when their work does, and `bead list` shows work: issue 12's "molecules whose
//! steps are all done stay open, steps of merged work show in `bead blocked`", through the real
//! binary with a real rig, a real merge and the refinery's bookkeeping.

use crate::util::{TestTown, ids, stderr, town_with_rig};
use serde_json::Value;
use std::process::Command;

fn show(town: &TestTown, id: &str) -> Value {
    serde_json::from_str(&town.ok(&["bead", "show", id, "--json"])).expect("show --json")
}

/// Sling `bead` to polecat nux with its work formula; returns (molecule id, step ids).
fn sling_with_molecule(town: &TestTown, bead: &str) -> (String, Vec<String>) {
    town.ok(&["sling", bead, "alpha/polecats/nux"]);
    let mol = show(town, bead)["molecule"]
        .as_str()
        .expect("sling attached a molecule")
        .to_string();
    let total = show(town, &mol)["formula"]["steps"]
        .as_u64()
        .expect("step count");
    let steps = (1..=total).map(|n| format!("{mol}.{n}")).collect();
    (mol, steps)
}

/// Regression (issue 12): steps of merged work stayed open and showed in `bead blocked`.
#[test]
fn merged_work_closes_its_molecule_and_its_steps_leave_blocked() {
    let town = town_with_rig();
    let bead = town.create(&["Ship the feature"]);
    let (mol, steps) = sling_with_molecule(&town, &bead);
    let blocked = ids(&town.ok(&["bead", "blocked", "--json"]));
    assert!(
        blocked.contains(&steps[1]),
        "steps wait on each other: {blocked:?}"
    );
    // The polecat commits and submits without walking its steps; the refinery merges.
    let worktree = town.root.join("alpha/polecats/nux/rig");
    std::fs::write(worktree.join("feature.txt"), "shipped\n").expect("write work");
    let done = Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&town.root)
        .env("GASTOWN_AGENT", "alpha/polecats/nux")
        .arg("done")
        .output()
        .expect("done runs");
    assert!(done.status.success(), "{}", stderr(&done));
    let summary: Value =
        serde_json::from_str(&town.ok(&["mq", "process", "alpha", "--all", "--json"]))
            .expect("process --json");
    assert_eq!(summary["merged"], 1, "{summary}");
    assert_eq!(show(&town, &bead)["status"], "closed");
    let molecule = show(&town, &mol);
    assert_eq!(molecule["status"], "closed", "{molecule}");
    assert!(
        molecule["close_reason"]
            .as_str()
            .expect("reason")
            .contains(&bead),
        "{molecule}"
    );
    for step in &steps {
        let s = show(&town, step);
        assert_eq!(s["status"], "closed", "{step}");
        assert!(s["close_reason"].as_str().expect("reason").contains(&bead));
    }
    let blocked = ids(&town.ok(&["bead", "blocked", "--json"]));
    assert!(steps.iter().all(|s| !blocked.contains(s)), "{blocked:?}");
    let ready = ids(&town.ok(&["bead", "ready", "--json"]));
    assert!(steps.iter().all(|s| !ready.contains(s)), "{ready:?}");
}

#[test]
fn work_closed_by_hand_takes_its_molecule_along_and_says_so() {
    let town = town_with_rig();
    let bead = town.create(&["Not needed after all"]);
    let (mol, steps) = sling_with_molecule(&town, &bead);
    let out = town.ok(&["bead", "close", &bead, "-r", "duplicate"]);
    assert!(
        out.contains(&format!("closed molecule {mol}")) && out.contains("duplicate"),
        "{out}"
    );
    for step in &steps {
        assert_eq!(show(&town, step)["status"], "closed", "{step}");
    }
    assert!(ids(&town.ok(&["bead", "blocked", "--json"])).is_empty());
}

#[test]
fn the_last_step_done_closes_the_molecule_and_says_so() {
    let town = TestTown::new();
    let poured: Value =
        serde_json::from_str(&town.ok(&["mol", "pour", "shiny", "--var", "feature=x", "--json"]))
            .expect("pour --json");
    let mol = poured["molecule"].as_str().expect("molecule").to_string();
    let steps: Vec<String> = poured["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["bead"].as_str().expect("bead").to_string())
        .collect();
    let (last, rest) = steps.split_last().expect("steps");
    for step in rest {
        let out = town.ok(&["mol", "step", "done", step]);
        assert!(!out.contains("is closed"), "{out}");
        assert_eq!(show(&town, &mol)["status"], "open");
    }
    let out = town.ok(&["mol", "step", "done", last]);
    assert!(out.contains(&format!("molecule {mol} is closed")), "{out}");
    let m = show(&town, &mol);
    assert_eq!(m["status"], "closed");
    assert_eq!(m["close_reason"], format!("all {} steps done", steps.len()));
    // Squash still condenses the finished molecule into a digest.
    let squashed: Value =
        serde_json::from_str(&town.ok(&["mol", "squash", &mol, "--json"])).expect("squash");
    assert!(squashed["digest"].is_string(), "{squashed}");
}

/// Regression (issue 12): `bead list` showed mail, agents, molecules and merge requests.
#[test]
fn bead_list_shows_work_by_default_and_records_on_request() {
    let town = town_with_rig();
    let bead = town.create(&["Real work"]);
    let (mol, steps) = sling_with_molecule(&town, &bead);
    town.ok(&["mail", "send", "mayor", "-s", "hello", "-m", "a note"]);
    let convoy = ids(&town.ok(&["bead", "list", "-t", "convoy", "--json"]));
    let mut shown = ids(&town.ok(&["bead", "list", "--json"]));
    shown.sort();
    let mut expected = vec![bead.clone(), convoy[0].clone()];
    expected.sort();
    assert_eq!(shown, expected, "only what people filed");
    let text = town.ok(&["bead", "list"]);
    assert!(
        !text.contains(&mol) && !text.contains("[message]"),
        "{text}"
    );
    // --all and --type bring the records back.
    let all = ids(&town.ok(&["bead", "list", "--all", "--json"]));
    for id in [&mol, &steps[0], &bead] {
        assert!(all.contains(id), "{id} in --all: {all:?}");
    }
    let all_text = town.ok(&["bead", "list", "--all"]);
    assert!(
        all_text.contains("[message]") && all_text.contains("[agent]"),
        "{all_text}"
    );
    assert_eq!(
        ids(&town.ok(&["bead", "list", "-t", "molecule", "--json"])),
        vec![mol]
    );
    assert_eq!(
        ids(&town.ok(&["bead", "list", "-t", "message", "--json"])).len(),
        1
    );
    assert!(!ids(&town.ok(&["bead", "list", "-t", "agent", "--json"])).is_empty());
    let tasks = ids(&town.ok(&["bead", "list", "-t", "task", "--json"]));
    assert!(
        tasks.contains(&steps[0]) && tasks.contains(&bead),
        "{tasks:?}"
    );
}
