//! The small work-loop bugs of issue 12, each pinned by a test that drives the real binary:
//! escalations reach the mayor, sling refuses records that are not work and warns on blocked
//! beads, and the rig's bead prefix is used.

use crate::util::{TestTown, stderr, stdout, town_with_rig};
use serde_json::Value;
use std::process::{Command, Output};

/// Run `gastown <args>` as agent `agent` would from its session (GASTOWN_AGENT set).
fn as_agent(town: &TestTown, agent: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&town.root)
        .env_remove("GASTOWN_TOWN")
        .env("GASTOWN_AGENT", agent)
        .args(args)
        .output()
        .expect("the gastown binary runs")
}

fn show(town: &TestTown, id: &str) -> Value {
    serde_json::from_str(&town.ok(&["bead", "show", id, "--json"])).expect("show --json")
}

fn inbox(town: &TestTown, address: &str) -> Vec<Value> {
    serde_json::from_str(&town.ok(&["mail", "inbox", address, "--all", "--json"]))
        .expect("inbox --json")
}

/// Regression (issue 12): `done --help` promised the mayor hears of an escalation; it did not.
#[test]
fn done_escalated_sends_help_to_the_witness_and_the_mayor() {
    let town = town_with_rig();
    let bead = town.create(&["Tricky migration"]);
    town.ok(&["sling", &bead, "alpha/polecats/nux", "--no-formula"]);
    let out = as_agent(
        &town,
        "alpha/polecats/nux",
        &[
            "done",
            "--status",
            "escalated",
            "-m",
            "the schema is locked",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("alpha/witness") && said.contains("mayor"),
        "{said}"
    );
    for address in ["alpha/witness", "mayor"] {
        let mails = inbox(&town, address);
        let help: Vec<&Value> = mails.iter().filter(|m| m["title"] == "HELP").collect();
        assert_eq!(help.len(), 1, "{address} got one HELP: {help:?}");
        let body = help[0]["description"].as_str().expect("body");
        assert!(
            body.contains(&bead) && body.contains("the schema is locked"),
            "{address}: {body}"
        );
        assert_eq!(help[0]["sender"], "alpha/polecats/nux");
    }
    let b = show(&town, &bead);
    assert_eq!(b["status"], "open", "off the hook, still open");
    assert_eq!(b["assignee"], "alpha/polecats/nux");
    assert!(b["labels"].to_string().contains("escalated"), "{b}");
}

#[test]
fn done_help_says_what_each_status_does() {
    let town = TestTown::new();
    let help = town.ok(&["done", "--help"]);
    let section = |status: &str| -> String {
        let start = help
            .find(&format!("- {status}:"))
            .expect("the status is listed");
        help[start..].lines().take(5).collect::<Vec<_>>().join(" ")
    };
    assert!(section("escalated").contains("mayor"), "{help}");
    assert!(section("escalated").contains("witness"), "{help}");
    assert!(section("completed").contains("merge request"), "{help}");
    assert!(section("deferred").contains("ready"), "{help}");
}
