//! `gastown status`: without `gastown run` it shows what the ledger knows and says so; under it
//! rigs show as running, sessions by what they do, and the last landing; what needs the overseer
//! comes first; an agent never sees the overseer's mail subjects; bad input gets clear errors.

use crate::remote::town_on_origin;
use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, as_agent, gastown, stderr, stdout, town_with_rig};
use serde_json::Value;
use std::time::Duration;

fn status(town: &TestTown) -> Value {
    serde_json::from_str(&town.ok(&["status", "--json"])).expect("status --json is JSON")
}

#[test]
fn without_run_status_shows_the_ledger_and_what_needs_the_overseer_first() {
    let town = town_with_rig();
    let a = town.create(&["Add a greeting"]);
    let b = town.create(&["Fix the docs"]);
    town.ok(&["convoy", "create", "Greetings", &a, &b]);
    town.ok(&["escalate", "-s", "high", "the gate hangs\nmore detail"]);
    town.ok(&["escalate", "-s", "low", "a small thing"]);
    as_agent(
        &town,
        "mayor",
        &[
            "mail",
            "send",
            "overseer",
            "-s",
            "Convoy halfway",
            "-m",
            "b",
        ],
    );
    std::fs::create_dir_all(town.root.join("beta")).expect("rig dir");
    std::fs::write(town.root.join("beta/rig.toml"), "max_polecats = \"many\"\n").expect("write");

    let s = status(&town);
    assert_eq!(s["live"], false);
    let rigs = s["rigs"].as_array().expect("rigs");
    let alpha = rigs.iter().find(|r| r["name"] == "alpha").expect("alpha");
    assert_eq!(alpha["running"], Value::Null, "unknown without gastown run");
    assert_eq!(alpha["problem"], Value::Null);
    let beta = rigs.iter().find(|r| r["name"] == "beta").expect("beta");
    assert!(
        beta["problem"]
            .as_str()
            .is_some_and(|p| p.contains("rig.toml")),
        "{beta}"
    );
    assert_eq!(s["convoys"][0]["closed"], 0);
    assert_eq!(s["convoys"][0]["total"], 2);
    assert_eq!(s["escalations"][0]["severity"], "high", "most severe first");
    // The high escalation mailed the overseer too; the newest comes first.
    assert_eq!(s["mail"]["unread"], 2);
    assert_eq!(s["mail"]["latest"][0]["subject"], "Convoy halfway");
    let attention = s["attention"].as_array().expect("attention");
    assert_eq!(attention[0]["level"], "high");
    assert!(
        attention[0]["what"]
            .as_str()
            .is_some_and(|w| w.ends_with("the gate hangs"))
    );
    assert!(
        attention
            .iter()
            .any(|a| a["command"] == "gastown mail inbox")
    );

    let text = town.ok(&["status"]);
    assert!(text.contains("gastown run is not running"), "{text}");
    assert!(text.contains("Needs you first"), "{text}");
    assert!(text.contains("0/2  Greetings"), "{text}");
    assert!(text.contains("beta") && text.contains("BROKEN"), "{text}");
    // Spend: nothing yet, no budget set, both said.
    assert_eq!(s["spend"]["today"], 0.0, "{s:#}");
    assert_eq!(s["spend"]["total"], 0.0, "{s:#}");
    assert_eq!(s["spend"]["budgets"].as_array().map(Vec::len), Some(0));
    assert!(text.contains("Spend: $0.00 today"), "{text}");
    assert!(text.contains("no budget set"), "{text}");

    // An agent sees the count of the overseer's mail, never its subjects.
    let seen = as_agent(&town, "alpha/crew/max", &["status", "--json"]);
    assert!(seen.status.success(), "{}", stderr(&seen));
    let seen: Value = serde_json::from_str(&stdout(&seen)).expect("json");
    assert_eq!(seen["mail"]["unread"], 2);
    assert_eq!(seen["mail"]["latest"], serde_json::json!([]));
}

#[test]
fn under_run_status_shows_running_rigs_sessions_and_the_last_landing() {
    let (town, _origin) = town_on_origin();
    let bead = town.create(&["Add a greeting"]);
    let t = RunningTown::start_in(town);
    t.town.ok(&["sling", &bead, "alpha"]);
    wait_for("the bead landed", Duration::from_secs(90), || {
        let shown: Value =
            serde_json::from_str(&t.town.ok(&["bead", "show", &bead, "--json"])).expect("json");
        (shown["status"] == "closed").then_some(())
    });
    let s = wait_for("the landing in status", Duration::from_secs(30), || {
        let s = status(&t.town);
        (s["rigs"][0]["last_landing"]["bead"] == bead.as_str()).then_some(s)
    });
    assert_eq!(s["live"], true);
    assert_eq!(s["rigs"][0]["name"], "alpha");
    assert_eq!(s["rigs"][0]["running"], true);
    let polecat = s["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .find(|a| a["role"] == "polecat")
        .expect("the polecat that did the work")
        .clone();
    assert_eq!(
        polecat["hook"],
        Value::Null,
        "its hook is empty once landed"
    );
    assert!(polecat["session"].is_string(), "live: {polecat}");
    let text = t.town.ok(&["status"]);
    assert!(text.contains("gastown run is up"), "{text}");
    assert!(text.contains(&format!("last landing {bead}")), "{text}");
}

#[test]
fn status_outside_a_town_or_with_a_bad_flag_says_what_to_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = gastown(dir.path(), &["status"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("town"), "{err}");
    let out = gastown(dir.path(), &["status", "--jsn"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--json"), "{}", stderr(&out));
}

#[test]
fn a_hooked_bead_shows_the_molecule_step_its_agent_is_on() {
    let town = crate::util::town_with_rig();
    let bead = town.create(&["Add a greeting"]);
    town.ok(&["sling", &bead, "alpha"]);
    let s = status(&town);
    let polecat = s["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .find(|a| a["hook"]["id"] == bead.as_str())
        .expect("the polecat holding the bead")
        .clone();
    let step = polecat["hook"]["step"]
        .as_str()
        .expect("a step")
        .to_string();
    assert!(step.ends_with(')') && step.contains("(1/"), "{step}");
    let text = town.ok(&["status"]);
    assert!(text.contains(&format!("step {step}")), "{text}");
}
