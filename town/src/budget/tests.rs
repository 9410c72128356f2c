//! Budgets on a real ledger in a throw-away town: spend recorded by the real collector from
//! transcripts, priced by the town's table (`sim` at $10,000 per million input tokens, so 100
//! tokens are $1), the levels, the escalations raised once each, the gate per scope (town, rig,
//! convoy), the UTC day passed in as the clock, and bad values refused naming the key.

use super::*;
use crate::agents::{self, AgentState};
use crate::costs::prices::Price;
use crate::identity::AgentIdentity;
use crate::rig::RigConfig;
use gastown_beads::NewBead;
use std::io::Write;

const DAY: &str = "2026-03-04";
const NEXT_DAY: &str = "2026-03-05";

/// A town with rigs `alpha` and `beta` and a `sim` that costs $1 per 100 input tokens.
fn priced_town() -> (tempfile::TempDir, Town, Ledger) {
    let (dir, mut town, ledger) = crate::testing::town();
    for (name, prefix) in [("alpha", "al"), ("beta", "be")] {
        let rig = town.root.join(name);
        std::fs::create_dir_all(&rig).expect("rig dir");
        RigConfig::new(name, "/nowhere", "main", prefix)
            .write(&rig.join("rig.toml"))
            .expect("rig.toml");
    }
    town.config.prices.insert(
        "sim".to_string(),
        Price {
            input: 10_000.0,
            output: 0.0,
            cache_write: 0.0,
            cache_read: 0.0,
        },
    );
    (dir, town, ledger)
}

fn set_rig_budget(town: &Town, rig: &str, budget: BudgetConfig) {
    let path = town.root.join(rig).join("rig.toml");
    let mut config = RigConfig::read(&path).expect("read rig.toml");
    config.budget = budget;
    config.write(&path).expect("write rig.toml");
}

/// `address` spends `dollars` (whole) working `hook`, collected on `day`.
fn spend_on(
    ledger: &mut Ledger,
    dir: &std::path::Path,
    address: &str,
    hook: &str,
    day: &str,
    dollars: u64,
) {
    let identity = AgentIdentity::parse(address).expect("address");
    let transcript = dir.join(format!("{}.jsonl", address.replace('/', "-")));
    if agents::find(ledger, address)
        .expect("read")
        .is_none_or(|a| a.sessions.is_empty())
    {
        agents::session_started(ledger, &identity, "9.1-1", ("sim", None), "9.1-")
            .expect("started");
        let path = transcript.to_string_lossy().into_owned();
        agents::runtime_session_seen(ledger, address, None, "s1", Some(&path)).expect("seen");
    }
    agents::set_state(ledger, &identity, AgentState::Working, Some(hook)).expect("hooked");
    let id = format!("m{}", gastown_beads::time::now_unix_nanos());
    let line = format!(
        r#"{{"type":"assistant","message":{{"id":"{id}","model":"sim","usage":{{"input_tokens":{},"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}}}}"#,
        dollars * 100
    );
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&transcript)
        .expect("open")
        .write_all(format!("{line}\n").as_bytes())
        .expect("append");
    crate::costs::collect(ledger, day).expect("collect");
}

fn work(ledger: &mut Ledger, title: &str) -> String {
    let new = NewBead {
        title: title.to_string(),
        ..NewBead::default()
    };
    ledger.create(new, "overseer").expect("create").id
}

fn budget_escalations(ledger: &Ledger) -> Vec<Escalation> {
    escalation::escalations(ledger, true)
        .expect("escalations")
        .into_iter()
        .filter(|e| e.source == SOURCE)
        .collect()
}

#[test]
fn spend_is_what_costs_counts_per_scope_and_day() {
    let (dir, town, mut ledger) = priced_town();
    let bead = work(&mut ledger, "Add a greeting");
    let convoy = crate::convoy::create(
        &mut ledger,
        "Greetings",
        std::slice::from_ref(&bead),
        false,
        None,
        "overseer",
    )
    .expect("convoy")
    .id;
    spend_on(&mut ledger, dir.path(), "alpha/polecats/nux", &bead, DAY, 3);
    spend_on(
        &mut ledger,
        dir.path(),
        "beta/polecats/max",
        "gt-other",
        NEXT_DAY,
        2,
    );
    let (report, uses) = assess(&ledger, &town, NEXT_DAY).expect("assess");
    assert!(uses.is_empty(), "no budget set: {uses:?}");
    assert_eq!(report.day, NEXT_DAY);
    assert!((report.town.total - 5.0).abs() < 1e-9, "{report:?}");
    assert!((report.town.today - 2.0).abs() < 1e-9, "{report:?}");
    assert!((report.rigs["alpha"].total - 3.0).abs() < 1e-9);
    assert_eq!(
        report.rigs["alpha"].today, 0.0,
        "alpha spent on the day before"
    );
    assert!((report.rigs["beta"].today - 2.0).abs() < 1e-9);
    assert!(
        (report.convoys[&convoy].total - 3.0).abs() < 1e-9,
        "{report:?}"
    );
}

#[test]
fn a_daily_town_budget_warns_at_80_then_pauses_at_100_each_raised_once() {
    let (dir, mut town, mut ledger) = priced_town();
    town.config.budget = BudgetConfig {
        daily: Some(10.0),
        total: None,
    };
    spend_on(
        &mut ledger,
        dir.path(),
        "alpha/polecats/nux",
        "gt-a",
        DAY,
        7,
    );
    let (_, uses) = assess(&ledger, &town, DAY).expect("assess");
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0].level, Level::Ok, "70 %: {uses:?}");
    assert!(
        enforce(&mut ledger, &town, &uses, DAY, "test")
            .expect("enforce")
            .is_empty()
    );

    spend_on(
        &mut ledger,
        dir.path(),
        "alpha/polecats/nux",
        "gt-a",
        DAY,
        1,
    );
    let (_, uses) = assess(&ledger, &town, DAY).expect("assess");
    assert_eq!(uses[0].level, Level::Warning, "80 %: {uses:?}");
    enforce(&mut ledger, &town, &uses, DAY, "test").expect("enforce");
    // Each tick checks again: nothing is raised twice.
    enforce(&mut ledger, &town, &uses, DAY, "test").expect("enforce");
    let raised = budget_escalations(&ledger);
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].severity, Severity::Low);
    assert_eq!(raised[0].count, 1, "not folded again either");
    assert_eq!(
        paused_for(&uses, "alpha", &[]),
        None,
        "a warning does not pause"
    );

    spend_on(
        &mut ledger,
        dir.path(),
        "alpha/polecats/nux",
        "gt-a",
        DAY,
        3,
    );
    let (_, uses) = assess(&ledger, &town, DAY).expect("assess");
    assert_eq!(uses[0].level, Level::Paused);
    for _ in 0..3 {
        enforce(&mut ledger, &town, &uses, DAY, "test").expect("enforce");
    }
    let raised = budget_escalations(&ledger);
    let severities: Vec<Severity> = raised.iter().map(|e| e.severity).collect();
    assert_eq!(severities.len(), 2, "{raised:?}");
    assert!(severities.contains(&Severity::Low) && severities.contains(&Severity::High));
    let high = raised
        .iter()
        .find(|e| e.severity == Severity::High)
        .expect("high");
    assert!(
        high.message.contains("$11.00 spent today"),
        "{}",
        high.message
    );
    let why = paused_for(&uses, "alpha", &[]).expect("the town pauses every rig");
    assert!(why.contains("town daily budget is $10.00"), "{why}");
}

#[test]
fn the_day_rolling_over_resumes_a_daily_budget_and_raising_it_resumes_too() {
    let (dir, mut town, mut ledger) = priced_town();
    town.config.budget = BudgetConfig {
        daily: Some(5.0),
        total: Some(100.0),
    };
    spend_on(
        &mut ledger,
        dir.path(),
        "alpha/polecats/nux",
        "gt-a",
        DAY,
        6,
    );
    let bead = work(&mut ledger, "More work");
    let check = gate(&mut ledger, &town, "alpha", &bead, DAY, "test").expect("gate");
    assert!(check.paused.is_some(), "spent today: paused");
    assert_eq!(
        check.raised.len(),
        2,
        "low and high, raised by the gate itself"
    );
    // The same clock a day later (UTC): the daily budget is fresh; the total is far off.
    let check = gate(&mut ledger, &town, "alpha", &bead, NEXT_DAY, "test").expect("gate");
    assert_eq!(check.paused, None);
    assert!(check.raised.is_empty());
    // Back on the day it was spent, a raised budget (as SIGHUP makes it) lets the work go.
    let mut raised = town.clone();
    raised.config.budget.daily = Some(50.0);
    reloaded(&raised);
    let check = gate(&mut ledger, &town, "alpha", &bead, DAY, "test").expect("gate");
    assert_eq!(check.paused, None, "the reloaded budget is in effect");
    assert_eq!(town_budget(&town).daily, Some(50.0));
}

#[test]
fn a_rig_budget_pauses_that_rig_only() {
    let (dir, town, mut ledger) = priced_town();
    set_rig_budget(
        &town,
        "alpha",
        BudgetConfig {
            daily: None,
            total: Some(4.0),
        },
    );
    spend_on(
        &mut ledger,
        dir.path(),
        "alpha/polecats/nux",
        "gt-a",
        DAY,
        3,
    );
    spend_on(&mut ledger, dir.path(), "beta/polecats/max", "gt-b", DAY, 9);
    let bead = work(&mut ledger, "Next");
    assert_eq!(
        gate(&mut ledger, &town, "alpha", &bead, DAY, "test")
            .expect("gate")
            .paused,
        None,
        "75 % of alpha's budget: it goes"
    );
    spend_on(
        &mut ledger,
        dir.path(),
        "alpha/polecats/nux",
        "gt-a",
        DAY,
        1,
    );
    let alpha = gate(&mut ledger, &town, "alpha", &bead, DAY, "test").expect("gate");
    let why = alpha.paused.expect("alpha spent its total");
    assert!(why.contains("rig alpha total budget is $4.00"), "{why}");
    let beta = gate(&mut ledger, &town, "beta", &bead, DAY, "test").expect("gate");
    assert_eq!(beta.paused, None, "beta has no budget and the town none");
    // Raised by `gastown rig config alpha set budget.total 10` (rig.toml, read at each check).
    crate::rig::set_knob(&town, "alpha", "budget.total", "10").expect("set");
    let alpha = gate(&mut ledger, &town, "alpha", &bead, DAY, "test").expect("gate");
    assert_eq!(alpha.paused, None);
}

#[test]
fn a_convoy_budget_pauses_the_beads_it_tracks() {
    let (dir, town, mut ledger) = priced_town();
    let tracked = work(&mut ledger, "In the convoy");
    let other = work(&mut ledger, "Not in it");
    let convoy = crate::convoy::create(
        &mut ledger,
        "Greetings",
        std::slice::from_ref(&tracked),
        false,
        None,
        "overseer",
    )
    .expect("convoy")
    .id;
    let (_, budget) = set_convoy_budget(&mut ledger, &convoy, 2.0, false, "overseer").expect("set");
    assert_eq!(budget.total, Some(2.0));
    spend_on(
        &mut ledger,
        dir.path(),
        "alpha/polecats/nux",
        &tracked,
        DAY,
        2,
    );
    let check = gate(&mut ledger, &town, "alpha", &tracked, DAY, "test").expect("gate");
    let why = check.paused.expect("the convoy spent its budget");
    assert!(
        why.contains(&format!("convoy {convoy} total budget")),
        "{why}"
    );
    let check = gate(&mut ledger, &town, "alpha", &other, DAY, "test").expect("gate");
    assert_eq!(check.paused, None, "a bead outside the convoy goes");
    set_convoy_budget(&mut ledger, &convoy, 20.0, false, "overseer").expect("raise");
    let check = gate(&mut ledger, &town, "alpha", &tracked, DAY, "test").expect("gate");
    assert_eq!(check.paused, None);
    // A convoy's daily budget is kept apart from its total.
    let (_, budget) = set_convoy_budget(&mut ledger, &convoy, 1.0, true, "overseer").expect("set");
    assert_eq!((budget.daily, budget.total), (Some(1.0), Some(20.0)));
    let err =
        set_convoy_budget(&mut ledger, &tracked, 1.0, true, "overseer").expect_err("not a convoy");
    assert!(format!("{err:#}").contains("not a convoy"), "{err:#}");
}

#[test]
fn a_budget_of_zero_pauses_everything_and_says_so() {
    let (_dir, mut town, mut ledger) = priced_town();
    town.config.budget = BudgetConfig {
        daily: Some(0.0),
        total: None,
    };
    let bead = work(&mut ledger, "Anything");
    let check = gate(&mut ledger, &town, "alpha", &bead, DAY, "test").expect("gate");
    let why = check.paused.expect("zero: nothing may be dispatched");
    assert!(why.contains("nothing may be dispatched"), "{why}");
}

fn load_with(town: &Town, budget: &str) -> String {
    let path = town.root.join(crate::town::CONFIG_FILE);
    let text = std::fs::read_to_string(&path).expect("town.toml");
    let text = text.split("\n[budget]").next().expect("text").to_string();
    std::fs::write(&path, format!("{text}\n[budget]\n{budget}\n")).expect("write");
    match Town::load(&town.root) {
        Ok(loaded) => format!("ok {:?}", loaded.config.budget),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn bad_budgets_are_refused_naming_the_key() {
    let (_dir, town, _ledger) = priced_town();
    let err = load_with(&town, "daily = -1.0");
    assert!(err.contains("`budget.daily` is -1"), "{err}");
    assert!(err.contains("0 or more"), "{err}");
    let err = load_with(&town, "total = \"lots\"");
    assert!(err.contains("total"), "{err}");
    assert!(err.contains("invalid type"), "{err}");
    let err = load_with(&town, "weekly = 3.0");
    assert!(err.contains("unknown field `weekly`"), "{err}");
    assert!(err.contains("daily") && err.contains("total"), "{err}");
    let ok = load_with(&town, "daily = 0\ntotal = 500");
    assert!(ok.starts_with("ok") && ok.contains("Some(0.0)"), "{ok}");
    assert!(ok.contains("Some(500.0)"), "{ok}");

    // rig.toml: by hand and by `gastown rig config set`.
    let path = town.root.join("alpha/rig.toml");
    let text = std::fs::read_to_string(&path).expect("rig.toml");
    std::fs::write(&path, format!("{text}\n[budget]\ntotal = -5.0\n")).expect("write");
    let err = format!("{}", RigConfig::read(&path).expect_err("negative"));
    assert!(err.contains("`budget.total` is -5"), "{err}");
    std::fs::write(&path, &text).expect("restore");
    let set = |value: &str| {
        crate::rig::set_knob(&town, "alpha", "budget.daily", value)
            .map(|_| "ok".to_string())
            .unwrap_or_else(|e| format!("{e:#}"))
    };
    let err = set("lots");
    assert!(
        err.contains("`budget.daily`") && err.contains("not a number"),
        "{err}"
    );
    let err = set("-2");
    assert!(err.contains("`budget.daily` is -2"), "{err}");
    assert_eq!(set("0"), "ok", "zero is a budget");
    assert_eq!(
        RigConfig::read(&path).expect("read").budget.daily,
        Some(0.0)
    );
    let err = crate::rig::set_knob(&town, "alpha", "budget.weekly", "3").expect_err("unknown key");
    assert!(format!("{err:#}").contains("unknown rig.toml key \"budget.weekly\""));
    let err = parse_dollars("dollars", "1e999").expect_err("not finite");
    assert!(format!("{err:#}").contains("0 or more"), "{err:#}");
    assert_eq!(parse_dollars("dollars", "$2.50").expect("dollars"), 2.5);
}
