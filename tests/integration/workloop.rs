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

fn rig_polecats(town: &TestTown) -> Vec<String> {
    match std::fs::read_dir(town.root.join("alpha/polecats")) {
        Ok(entries) => entries
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn hooked(town: &TestTown) -> Vec<String> {
    crate::util::ids(&town.ok(&["bead", "list", "--status", "hooked", "--json"]))
}

/// Regression (issue 12): slinging a convoy worked it as a task and showed it "landed" at 0/4.
#[test]
fn sling_refuses_records_that_are_not_work_and_changes_nothing() {
    let town = town_with_rig();
    let one = town.create(&["First task"]);
    let two = town.create(&["Second task"]);
    let created = town.ok(&["convoy", "create", "release", &one, &two]);
    let convoy = crate::util::ids(&town.ok(&["bead", "list", "-t", "convoy", "--json"]))
        .pop()
        .unwrap_or_else(|| panic!("a convoy: {created}"));
    let err = town.fails(&["sling", &convoy, "alpha"]);
    assert!(
        err.contains("is a convoy bead")
            && err.contains(&one)
            && err.contains(&format!("gastown convoy show {convoy}")),
        "{err}"
    );
    let mut records = vec![("convoy", convoy.clone())];
    for kind in [
        "molecule",
        "merge-request",
        "message",
        "agent",
        "event",
        "gate",
    ] {
        records.push((
            kind,
            town.create(&[&format!("A {kind} record"), "-t", kind]),
        ));
    }
    for (kind, id) in &records {
        for target in ["alpha", "alpha/polecats/nux", "alpha/crew/max", "mayor"] {
            let err = town.fails(&["sling", id, target]);
            assert!(
                err.contains(&format!("{id} is a {kind} bead, not work to sling")),
                "{kind} to {target}: {err}"
            );
        }
        let b = show(&town, id);
        assert_eq!(b["status"], "open", "{kind} untouched");
        assert!(b["labels"].is_null() || !b["labels"].to_string().contains("dispatch:"));
    }
    assert!(hooked(&town).is_empty(), "nothing was hooked");
    assert!(rig_polecats(&town).is_empty(), "no polecat was made");
    let progress = town.ok(&["convoy", "show", &convoy]);
    assert!(!progress.contains("landed"), "{progress}");
}

/// The rig's dispatch queue never hands out a record, even one labelled into it by hand.
#[test]
fn the_dispatch_queue_skips_records_that_are_not_work() {
    let town = town_with_rig();
    let config = town.root.join("alpha/rig.toml");
    let text = std::fs::read_to_string(&config).expect("rig.toml");
    std::fs::write(
        &config,
        text.replace("max_polecats = 4", "max_polecats = 1"),
    )
    .expect("write rig.toml");
    let first = town.create(&["Busy the only polecat"]);
    let record = town.create(&["Labelled by hand", "-t", "convoy"]);
    town.ok(&["bead", "label", "add", &record, "dispatch:alpha"]);
    let waiting = town.create(&["Waits for a polecat"]);
    town.ok(&["sling", &first, "alpha", "--no-formula"]);
    let queued = town.ok(&["sling", &waiting, "alpha", "--no-formula"]);
    assert!(queued.contains("dispatch queue"), "{queued}");
    // The polecat finishes: the queue hands out its next bead, which must be the work.
    let worker = show(&town, &first)["assignee"]
        .as_str()
        .expect("assignee")
        .to_string();
    let name = worker.rsplit('/').next().expect("name");
    let worktree = town.root.join(format!("alpha/polecats/{name}/rig"));
    std::fs::write(worktree.join("done.txt"), "done\n").expect("write work");
    let out = as_agent(&town, &worker, &["done"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(hooked(&town), vec![waiting.clone()], "{}", stdout(&out));
    assert_eq!(
        show(&town, &record)["status"],
        "open",
        "the record stayed put"
    );
}

/// Regression (issue 12): slinging a blocked bead gave no warning.
#[test]
fn sling_warns_about_a_blocked_bead_and_says_what_blocks_it() {
    let town = town_with_rig();
    let design = town.create(&["Design the API"]);
    let build = town.create(&["Build the API", "--deps", &design]);
    let out = town.ok(&["sling", &build, "alpha/crew/max", "--no-formula"]);
    assert!(
        out.contains(&format!("warning: {build} is blocked"))
            && out.contains(&format!(
                "{design} \"Design the API\" (open) is not closed (blocks)"
            )),
        "{out}"
    );
    assert!(
        out.contains(&format!("slung {build}")),
        "the sling went ahead: {out}"
    );
    assert_eq!(show(&town, &build)["status"], "hooked");

    // A blocked parent holds its children back; waits-for waits on a parent's open children.
    let gate = town.create(&["Sign-off"]);
    let epic = town.create(&["Epic", "-t", "epic", "--deps", &gate]);
    let child = town.create(&["Child", "--parent", &epic]);
    let out = town.ok(&["sling", &child, "alpha/crew/zoe", "--no-formula"]);
    assert!(out.contains(&format!("its parent {epic}")), "{out}");
    let after = town.create(&["After the epic", "--deps", &format!("waits-for:{epic}")]);
    let out = town.ok(&["sling", &after, "alpha/crew/ann", "--no-formula"]);
    assert!(
        out.contains(&format!("waits for {epic}")) && out.contains("open children"),
        "{out}"
    );

    // Work that is not blocked goes out without a word of warning.
    let free = town.create(&["Free work"]);
    let out = town.ok(&["sling", &free, "alpha/crew/bob", "--no-formula"]);
    assert!(!out.contains("warning"), "{out}");
}
