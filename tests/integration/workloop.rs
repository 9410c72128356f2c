//! The small work-loop bugs of issue 12, each pinned by a test that drives the real binary:
//! escalations reach the mayor, sling refuses records that are not work and warns on blocked
//! beads, and the rig's bead prefix is used.

use crate::util::as_agent;
use crate::util::{TestTown, stderr, stdout, town_with_rig};
use serde_json::Value;

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
    let (bead, out) = crate::util::polecat_escalates(&town);
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
        // `hook attach` is the other way onto a hook: the same rule.
        let err = town.fails(&["hook", "attach", id, "--agent", "alpha/crew/max"]);
        assert!(
            err.contains(&format!("{id} is a {kind} bead, not work to sling")),
            "hook attach of a {kind}: {err}"
        );
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

/// `gastown <args>` with `cwd` as the working directory (the town found by walking up).
fn in_dir(cwd: &std::path::Path, args: &[&str]) -> String {
    let out = crate::util::gastown(cwd, args);
    assert!(out.status.success(), "gastown {args:?}: {}", stderr(&out));
    stdout(&out)
}

fn created_id(json: &str) -> String {
    let bead: Value = serde_json::from_str(json).expect("create --json");
    bead["id"].as_str().expect("id").to_string()
}

fn has_prefix(id: &str, prefix: &str) -> bool {
    gastown_beads::id::has_prefix(id, prefix)
}

/// Regression (issue 12): the rig's bead prefix was validated but never used.
#[test]
fn beads_filed_in_or_for_a_rig_carry_its_prefix() {
    let town = town_with_rig();
    let town_bead = town.create(&["Town chore"]);
    assert!(has_prefix(&town_bead, "gt"), "{town_bead}");
    let flagged = town.create(&["For alpha", "--rig", "alpha"]);
    assert!(has_prefix(&flagged, "alpha"), "{flagged}");
    // From inside the rig's directory (its refinery worktree here), no flag needed.
    let inside = town.root.join("alpha/refinery/rig");
    let here = created_id(&in_dir(
        &inside,
        &["bead", "create", "Filed in alpha", "--json"],
    ));
    assert!(has_prefix(&here, "alpha"), "{here}");
    // An agent of the rig files beads for its rig, wherever it stands.
    let out = as_agent(
        &town,
        "alpha/crew/max",
        &["bead", "create", "Found a bug", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let by_agent = created_id(&stdout(&out));
    assert!(has_prefix(&by_agent, "alpha"), "{by_agent}");
    // An unknown rig is named, and nothing is made.
    let err = town.fails(&["bead", "create", "Lost", "--rig", "ghost"]);
    assert!(err.contains("ghost") && err.contains("rig list"), "{err}");
    // Lookups by id work whatever the prefix: show, dependencies across prefixes, close.
    assert_eq!(show(&town, &flagged)["title"], "For alpha");
    town.ok(&["bead", "dep", "add", &town_bead, &flagged]);
    let blocked = crate::util::ids(&town.ok(&["bead", "blocked", "--json"]));
    assert_eq!(blocked, vec![town_bead.clone()]);
    town.ok(&["bead", "close", &flagged]);
    assert!(crate::util::ids(&town.ok(&["bead", "ready", "--json"])).contains(&town_bead));
    // Export and import into another town keep every id.
    let export = town.ok(&["bead", "export"]);
    let other = TestTown::new();
    let file = other.root.join("from-alpha.jsonl");
    std::fs::write(&file, &export).expect("write export");
    other.ok(&["bead", "import", file.to_str().expect("utf-8")]);
    for id in [&town_bead, &flagged, &here, &by_agent] {
        assert_eq!(show(&other, id)["id"], id.as_str());
    }
}

#[test]
fn a_rigs_records_carry_its_prefix_and_agent_beads_keep_theirs() {
    let town = town_with_rig();
    let bead = town.create(&["Work for a polecat"]);
    let out = town.ok(&["sling", &bead, "alpha"]);
    let molecule = show(&town, &bead)["molecule"]
        .as_str()
        .unwrap_or_else(|| panic!("a molecule was attached: {out}"))
        .to_string();
    assert!(has_prefix(&molecule, "alpha"), "{molecule}");
    assert!(
        has_prefix(&format!("{molecule}.1"), "alpha"),
        "its steps are its children"
    );
    let convoys = crate::util::ids(&town.ok(&["bead", "list", "-t", "convoy", "--json"]));
    assert_eq!(convoys.len(), 1, "{out}");
    assert!(has_prefix(&convoys[0], "alpha"), "{convoys:?}");
    // The merge request `done` makes is the rig's record.
    let polecat = show(&town, &bead)["assignee"]
        .as_str()
        .expect("assignee")
        .to_string();
    let name = polecat.rsplit('/').next().expect("name");
    let worktree = town.root.join(format!("alpha/polecats/{name}/rig"));
    std::fs::write(worktree.join("work.txt"), "work\n").expect("write work");
    let done = as_agent(&town, &polecat, &["done"]);
    assert!(done.status.success(), "{}", stderr(&done));
    let mrs = crate::util::ids(&town.ok(&["bead", "list", "-t", "merge-request", "--json"]));
    assert_eq!(mrs.len(), 1);
    assert!(has_prefix(&mrs[0], "alpha"), "{mrs:?}");
    // Agent beads keep the ids derived from their address with the town's prefix.
    let agents: Vec<Value> =
        serde_json::from_str(&town.ok(&["bead", "list", "--all", "-t", "agent", "--json"]))
            .expect("agents");
    assert!(!agents.is_empty());
    for agent in &agents {
        let id = agent["id"].as_str().expect("id");
        assert!(id.starts_with("gt-agent-"), "{id}");
    }
    // A convoy of one rig's beads is the rig's; one across the town is the town's.
    let a = town.create(&["alpha one", "--rig", "alpha"]);
    let b = town.create(&["alpha two", "--rig", "alpha"]);
    let town_work = town.create(&["town work"]);
    let rig_convoy = town.ok(&["convoy", "create", "alpha batch", &a, &b, "--json"]);
    let mixed = town.ok(&["convoy", "create", "mixed", &a, &town_work, "--json"]);
    let convoy_id = |json: &str| -> String {
        let v: Value = serde_json::from_str(json).expect("convoy --json");
        v["id"].as_str().expect("id").to_string()
    };
    assert!(has_prefix(&convoy_id(&rig_convoy), "alpha"), "{rig_convoy}");
    assert!(has_prefix(&convoy_id(&mixed), "gt"), "{mixed}");
}

#[test]
fn the_supervisor_gives_beads_their_rigs_prefix_too() {
    let town = town_with_rig();
    let t = crate::running::RunningTown::start_in(town);
    let flagged = t.town.create(&["Through the socket", "--rig", "alpha"]);
    assert!(has_prefix(&flagged, "alpha"), "{flagged}");
    let inside = t.town.root.join("alpha/refinery/rig");
    let here = created_id(&in_dir(
        &inside,
        &["bead", "create", "From the rig", "--json"],
    ));
    assert!(has_prefix(&here, "alpha"), "{here}");
    let plain = t.town.create(&["Town work"]);
    assert!(has_prefix(&plain, "gt"), "{plain}");
}
