//! `gastown costs` (issue 20) on a sim town: the sim keeps a Claude-format transcript (one
//! assistant line per step, fixed usage), announces it, and the collector records exactly its
//! tokens against the bead the sim worked — once, whatever kills and restarts happen. Bad input:
//! a transcript truncated mid-line or rewritten, a bad `--since`, a negative price in town.toml.

use crate::running::{RunningTown, wait_for};
use crate::util::TestTown;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the sim records per step (`src/sim.rs`, `SIM_USAGE`): input, output, cache write, read.
const STEP: (u64, u64, u64, u64) = (120, 30, 0, 400);

fn transcripts(town: &TestTown) -> Vec<PathBuf> {
    let dir = town.root.join(".runtime").join("sim-transcripts");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|e| e.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

/// The complete lines of every sim transcript, parsed.
fn lines(town: &TestTown) -> Vec<Value> {
    transcripts(town)
        .iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let complete = text.rfind('\n').map_or(0, |i| i + 1);
            text[..complete]
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("the sim writes JSON lines"))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn costs(town: &TestTown, args: &[&str]) -> Value {
    let mut all = vec!["costs", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&town.ok(&all)).expect("costs JSON")
}

fn group<'a>(report: &'a Value, key: &str) -> Option<&'a Value> {
    report["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["key"] == key))
}

fn tokens(line: &Value) -> (u64, u64, u64, u64) {
    let t = &line["tokens"];
    let n = |k: &str| t[k].as_u64().expect("a count");
    (n("input"), n("output"), n("cache_write"), n("cache_read"))
}

fn times(n: u64) -> (u64, u64, u64, u64) {
    (STEP.0 * n, STEP.1 * n, STEP.2 * n, STEP.3 * n)
}

fn sim_total(town: &TestTown) -> (u64, u64, u64, u64) {
    times(lines(town).len() as u64)
}

#[test]
fn a_landed_bead_costs_exactly_the_tokens_of_the_steps_the_sim_took_for_it() {
    let town = crate::util::town_with_rig();
    let bead = town.create(&["Costed work"]);
    let t = RunningTown::start_in(town);
    t.town.ok(&["sling", &bead, "alpha"]);
    let done_line = format!("gastown done for {bead}");
    wait_for("the sim's done step", Duration::from_secs(90), || {
        lines(&t.town)
            .iter()
            .any(|l| l["message"]["content"][0]["text"] == done_line.as_str())
            .then_some(())
    });
    // Its steps up to and including `done` are the bead's (done collects before the hook
    // clears); wait for done to have finished.
    let report = wait_for("the bead's usage", Duration::from_secs(60), || {
        let report = costs(&t.town, &["--by", "bead"]);
        group(&report, &bead).is_some().then_some(report)
    });
    let session_lines = lines(&t.town);
    let worked: Vec<&Value> = session_lines
        .iter()
        .filter(|l| {
            let sid = l["sessionId"].as_str().unwrap_or("");
            session_lines.iter().any(|d| {
                d["sessionId"] == sid && d["message"]["content"][0]["text"] == done_line.as_str()
            })
        })
        .take_while(|l| l["message"]["content"][0]["text"] != done_line.as_str())
        .collect();
    let steps = worked.len() as u64 + 1;
    assert!(steps >= 3, "answered, commit, done at least: {steps}");
    let bead_group = group(&report, &bead).expect("the bead's group");
    assert_eq!(tokens(bead_group), times(steps), "{report:#}");
    assert_eq!(bead_group["dollars"], 0.0, "the sim is priced at 0");
    assert_eq!(tokens(&report["total"]), sim_total(&t.town), "{report:#}");

    // Grouped other ways, the total is the same and the groups are the town's.
    let by_agent = costs(&t.town, &["--by", "agent"]);
    let polecat = by_agent["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| {
            g["key"]
                .as_str()
                .unwrap_or("")
                .starts_with("alpha/polecats/")
        })
        .expect("the polecat's group");
    assert!(tokens(polecat).0 >= times(steps).0, "{by_agent:#}");
    let by_rig = costs(&t.town, &["--by", "rig"]);
    assert!(group(&by_rig, "alpha").is_some(), "{by_rig:#}");
    let by_day = costs(&t.town, &["--by", "day", "--today"]);
    assert_eq!(
        by_day["groups"].as_array().map(Vec::len),
        Some(1),
        "{by_day:#}"
    );
    assert_eq!(tokens(&by_day["total"]), tokens(&report["total"]));
    let text = t.town.ok(&["costs", "--by", "model"]);
    assert!(text.contains("sim ") && text.contains("$0.00"), "{text}");
}

/// Append `text` to `path`.
fn append(path: &Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open")
        .write_all(text.as_bytes())
        .expect("append");
}

#[test]
fn a_truncated_a_rewritten_and_a_missing_transcript_never_count_twice() {
    let town = crate::util::town_with_rig();
    let t = RunningTown::start_in(town);
    t.town.ok(&["agent", "spawn", "alpha/crew/max"]);
    t.town.ok(&["nudge", "alpha/crew/max", "first"]);
    wait_for("the sim's first step", Duration::from_secs(60), || {
        (!lines(&t.town).is_empty()).then_some(())
    });
    let first = costs(&t.town, &["--by", "agent"]);
    let counted = tokens(&first["total"]);
    assert_eq!(counted, sim_total(&t.town));

    // Killed and started again (the tree restarts it): the old session's tokens are not
    // counted again, the new session's are added.
    let before = transcripts(&t.town).len();
    t.town.ok(&["kill", "alpha/crew/max"]);
    wait_for("a second session", Duration::from_secs(60), || {
        (transcripts(&t.town).len() > before).then_some(())
    });
    wait_for("the second session's step", Duration::from_secs(60), || {
        let _ = t.town.run(&["nudge", "alpha/crew/max", "hello again"]);
        lines(&t.town)
            .iter()
            .any(|l| {
                l["message"]["content"][0]["text"]
                    .as_str()
                    .is_some_and(|s| s.contains("hello again"))
            })
            .then_some(())
    });
    let resumed = costs(&t.town, &["--by", "agent"]);
    assert_eq!(tokens(&resumed["total"]), sim_total(&t.town), "{resumed:#}");
    assert!(
        tokens(&resumed["total"]).0 > counted.0,
        "the new session's steps added"
    );
    let counted = tokens(&resumed["total"]);
    let path = transcripts(&t.town)
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .expect("a transcript");

    // A line cut mid-way waits; finished, it counts once.
    let line = r#"{"type":"assistant","message":{"id":"x-1","model":"claude-sonnet-4-5","usage":{"input_tokens":1000,"output_tokens":100}}}"#;
    append(&path, &line[..40]);
    assert_eq!(
        tokens(&costs(&t.town, &[])["total"]),
        counted,
        "half a line waits"
    );
    append(&path, &format!("{}\n", &line[40..]));
    let priced = costs(&t.town, &["--by", "model"]);
    let sonnet = group(&priced, "claude-sonnet-4-5").expect("sonnet");
    assert_eq!(tokens(sonnet), (1000, 100, 0, 0));
    let dollars = sonnet["dollars"].as_f64().expect("dollars");
    assert!((dollars - 0.0045).abs() < 1e-9, "{dollars}");

    // Rewritten with what it held: nothing counted again.
    let held = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, "").expect("truncate");
    costs(&t.town, &[]);
    std::fs::write(&path, &held).expect("rewrite");
    let again = costs(&t.town, &["--by", "model"]);
    assert_eq!(
        tokens(group(&again, "claude-sonnet-4-5").expect("sonnet")),
        (1000, 100, 0, 0)
    );

    // Missing: said on stderr, what was counted kept.
    std::fs::remove_file(&path).expect("remove");
    let out = t.town.run(&["costs", "--json"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is missing"), "{stderr}");

    let bad = t.town.fails(&["costs", "--since", "yesterday"]);
    assert!(bad.contains("YYYY-MM-DD"), "{bad}");
    let bad = t.town.fails(&["costs", "--by", "team"]);
    assert!(bad.contains("agent, bead, convoy"), "{bad}");
}

#[test]
fn a_negative_price_in_town_toml_is_refused_naming_the_key() {
    let town = TestTown::new();
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str("\n[prices.\"my-model\"]\ninput = -1.0\noutput = 2.0\n");
    std::fs::write(&config, &text).expect("write");
    let err = town.fails(&["costs"]);
    assert!(err.contains("prices.\"my-model\".input is -1"), "{err}");

    let text = text.replace("input = -1.0", "input = 1.0\nsurcharge = 3.0");
    std::fs::write(&config, &text).expect("write");
    let err = town.fails(&["costs"]);
    assert!(err.contains("surcharge"), "{err}");

    let text = text.replace("\nsurcharge = 3.0", "");
    std::fs::write(&config, &text).expect("write");
    assert_eq!(town.ok(&["costs"]), "no usage recorded yet\n");
}

/// The sim made to cost money: $10,000 per million input tokens, so each step (120 input
/// tokens) is $1.20; the costs dog every second; a daily town budget of `daily` dollars.
fn priced_town_with_budget(daily: &str) -> TestTown {
    let town = crate::util::town_with_rig();
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str(&format!(
        "\n[prices.\"sim\"]\ninput = 10000.0\noutput = 0.0\n\n[dogs.costs]\nevery = \"1s\"\n\n[budget]\ndaily = {daily}\n"
    ));
    std::fs::write(&config, text).expect("write town.toml");
    town
}

fn budget_escalations(town: &TestTown) -> Vec<Value> {
    let all: Value =
        serde_json::from_str(&town.ok(&["escalate", "list", "--all", "--json"])).expect("json");
    all.as_array()
        .expect("a list")
        .iter()
        .filter(|e| e["source"] == "budget")
        .cloned()
        .collect()
}

fn bead_status(town: &TestTown, bead: &str) -> Value {
    let shown: Value =
        serde_json::from_str(&town.ok(&["bead", "show", bead, "--json"])).expect("json");
    shown
}

fn costs_dog_runs(town: &TestTown) -> u64 {
    let dogs: Value = serde_json::from_str(&town.ok(&["dog", "list", "--json"])).expect("json");
    dogs.as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == "costs"))
        .and_then(|d| d["runs"].as_u64())
        .unwrap_or(0)
}

#[test]
fn a_spent_daily_town_budget_escalates_once_queues_new_work_and_resumes_when_raised() {
    let town = priced_town_with_budget("2.0");
    let first = town.create(&["Costed work"]);
    let second = town.create(&["Work after the budget"]);
    let t = RunningTown::start_in(town);
    t.town.ok(&["sling", &first, "alpha"]);

    // The sim's steps cost $1.20 each: 80 % ($1.60) and 100 % ($2.00) are crossed while it works.
    let raised = wait_for(
        "a low and a high budget escalation",
        Duration::from_secs(120),
        || {
            let raised = budget_escalations(&t.town);
            (raised.iter().any(|e| e["severity"] == "high")).then_some(raised)
        },
    );
    assert!(raised.iter().any(|e| e["severity"] == "low"), "{raised:#?}");
    let high = raised
        .iter()
        .find(|e| e["severity"] == "high")
        .expect("high");
    assert!(
        high["message"]
            .as_str()
            .is_some_and(|m| m.contains("town daily budget is $2.00")),
        "{high:#}"
    );
    wait_for("the first bead landed", Duration::from_secs(120), || {
        (bead_status(&t.town, &first)["status"] == "closed").then_some(())
    });

    // More ticks of the costs dog raise nothing again.
    let runs = costs_dog_runs(&t.town);
    wait_for(
        "three more runs of the costs dog",
        Duration::from_secs(30),
        || (costs_dog_runs(&t.town) >= runs + 3).then_some(()),
    );
    let again = budget_escalations(&t.town);
    assert_eq!(again.len(), 2, "one low, one high: {again:#?}");
    assert!(again.iter().all(|e| e["count"] == 1), "{again:#?}");

    // A new sling is queued with the reason, not refused.
    let slung = t.town.ok(&["sling", &second, "alpha"]);
    assert!(slung.contains("paused by budget"), "{slung}");
    assert!(slung.contains("reason: budget"), "{slung}");
    let queued = bead_status(&t.town, &second);
    assert_eq!(queued["status"], "open", "{queued:#}");
    let s: Value = serde_json::from_str(&t.town.ok(&["status", "--json"])).expect("json");
    let alpha = s["rigs"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "alpha"))
        .expect("alpha");
    assert_eq!(alpha["queued"], 1, "{alpha:#}");
    assert_eq!(alpha["queued_for_budget"], 1, "{alpha:#}");
    assert!(alpha["paused"].as_str().is_some(), "{alpha:#}");
    let budget = &s["spend"]["budgets"][0];
    assert_eq!(budget["scope"], "town");
    assert_eq!(budget["level"], "paused");
    assert!(s["spend"]["today"].as_f64().expect("today") >= 2.0, "{s:#}");
    let text = t.town.ok(&["status"]);
    assert!(text.contains("PAUSED by budget"), "{text}");
    assert!(text.contains("queued 1 (1 for budget)"), "{text}");
    assert!(text.contains("Spend: $"), "{text}");
    // A sling to a polecat by name is the slinger's own choice: it goes ahead, saying so.
    let named = t.town.create(&["Rework for a named polecat"]);
    let slung = t
        .town
        .ok(&["sling", &named, "alpha/polecats/rictus", "--no-formula"]);
    assert!(
        slung.contains("budget") && slung.contains("a sling to a named agent goes ahead"),
        "{slung}"
    );
    assert_eq!(bead_status(&t.town, &named)["status"], "hooked");
    // Several refinery rounds later it still waits.
    let runs = costs_dog_runs(&t.town);
    wait_for(
        "two more runs of the costs dog",
        Duration::from_secs(30),
        || (costs_dog_runs(&t.town) >= runs + 2).then_some(()),
    );
    assert_eq!(bead_status(&t.town, &second)["status"], "open");

    // Raised in town.toml and SIGHUP: the queued bead goes out by itself and lands.
    let config = t.town.root.join("town.toml");
    let text = std::fs::read_to_string(&config).expect("town.toml");
    std::fs::write(&config, text.replace("daily = 2.0", "daily = 1000.0")).expect("write");
    let pid = t.child.as_ref().expect("running").id();
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    wait_for("the queued bead landed", Duration::from_secs(120), || {
        (bead_status(&t.town, &second)["status"] == "closed").then_some(())
    });
    let s: Value = serde_json::from_str(&t.town.ok(&["status", "--json"])).expect("json");
    assert_eq!(s["spend"]["budgets"][0]["level"], "ok", "{s:#}");
}

#[test]
fn bad_budgets_are_refused_naming_the_key_and_zero_pauses_everything() {
    let town = crate::util::town_with_rig();
    let config = town.root.join("town.toml");
    let base = std::fs::read_to_string(&config).expect("town.toml");
    for (budget, says) in [
        ("daily = -1.0", "`budget.daily` is -1"),
        ("total = \"lots\"", "total"),
        ("weekly = 3.0", "unknown field `weekly`"),
    ] {
        std::fs::write(&config, format!("{base}\n[budget]\n{budget}\n")).expect("write");
        let err = town.fails(&["status"]);
        assert!(err.contains(says), "{budget}: {err}");
    }
    std::fs::write(&config, format!("{base}\n[budget]\ndaily = 0\n")).expect("write");
    let text = town.ok(&["status"]);
    assert!(text.contains("nothing may be dispatched"), "{text}");
    let bead = town.create(&["Anything"]);
    let slung = town.ok(&["sling", &bead, "alpha"]);
    assert!(slung.contains("reason: budget"), "{slung}");

    let err = town.fails(&["rig", "config", "alpha", "set", "budget.daily", "lots"]);
    assert!(
        err.contains("`budget.daily`") && err.contains("not a number"),
        "{err}"
    );
    let convoy_out = town.ok(&["convoy", "create", "Greetings", &bead]);
    let convoy = convoy_out
        .split_whitespace()
        .nth(2)
        .expect("created convoy <id>")
        .to_string();
    let err = town.fails(&["convoy", "budget", &convoy, "lots"]);
    assert!(err.contains("not a number"), "{err}");
    let set = town.ok(&["convoy", "budget", &convoy, "3.5", "--daily"]);
    assert!(set.contains("daily $3.50"), "{set}");
}
