//! Usage limits (issue 20) with the sim, whose `GASTOWN_SIM_LIMIT` makes it hit one the first
//! time it would work its hook: the session shows `blocked: usage limit: …` and is typed nothing
//! into, the runtime is recorded limited until the reset the line says (durably, in
//! `.runtime/limits.json`), new work for the rig waits in its dispatch queue with reason
//! "limited", and at the reset the session is started again, told its hook, and both beads are
//! worked with no human.

use crate::running::{RunningTown, wait_for};
use crate::util::town_with_rig;
use std::time::{Duration, Instant};

fn merge_requests(t: &RunningTown) -> Vec<serde_json::Value> {
    serde_json::from_str(&t.town.ok(&[
        "bead",
        "list",
        "--all",
        "--type",
        "merge-request",
        "--json",
    ]))
    .expect("a JSON array")
}

#[test]
fn a_limited_runtime_is_typed_nothing_queues_new_work_and_resumes_at_its_reset() {
    let town = town_with_rig();
    // A witness quick to call a quiet session hung: a session waiting out its limit is not.
    let rig_toml = town.root.join("alpha/rig.toml");
    let text = std::fs::read_to_string(&rig_toml).expect("rig.toml");
    let mut text = text
        .split_once("[witness]")
        .map_or(text.clone(), |(before, _)| before.to_string());
    text.push_str(
        "\n[witness]\npatrol_every = \"300ms\"\nstall_after = \"1s\"\nhung_after = \"1s\"\n\
         nudges = 1\nrestarts = 1\n",
    );
    std::fs::write(&rig_toml, text).expect("write rig.toml");
    let t = RunningTown::start_with_env(town, &[("GASTOWN_SIM_LIMIT", "15s")]);
    let first = t.town.create(&["First task"]);
    t.town.ok(&["sling", &first, "alpha", "--no-formula"]);
    let polecat = polecat_of(&t, &first);
    let session = format!("town/rigs/{polecat}/session");
    let state = wait_for("the limited session", Duration::from_secs(30), || {
        let state = t.node(&session)?["state"].as_str()?.to_string();
        state.starts_with("blocked").then_some(state)
    });
    assert_eq!(
        state,
        "blocked: usage limit: [sim limit: usage limit reached · try again in 15s]"
    );
    let limits = t.town.root.join(".runtime/limits.json");
    let recorded = wait_for("the limit recorded", Duration::from_secs(20), || {
        std::fs::read_to_string(&limits).ok()
    });
    let recorded: serde_json::Value = serde_json::from_str(&recorded).expect("limits.json");
    let sim = &recorded["runtimes"]["sim"];
    assert_eq!(
        sim["until"].as_u64().expect("until") - sim["since"].as_u64().expect("since"),
        15,
        "the reset the line says: {recorded}"
    );
    // `gastown status` shows the limit, on the agent's row too.
    let status: serde_json::Value =
        serde_json::from_str(&t.town.ok(&["status", "--json"])).expect("status --json");
    assert_eq!(status["limits"][0]["runtime"], "sim", "{status}");
    let row = agent_row(&status, &polecat);
    assert!(row["limited_until"].is_string(), "{row}");
    let text = t.town.ok(&["status"]);
    assert!(text.contains("usage limit until"), "{text}");
    // New work for the rig waits while its runtime is limited.
    let second = t.town.create(&["Second task"]);
    let queued = t.town.ok(&["sling", &second, "alpha", "--no-formula"]);
    assert!(queued.contains("reason: limited"), "{queued}");
    let peek = || t.town.ok(&["peek", &polecat, "-n", "200"]);
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_millis(1000) {
        let seen = peek();
        assert!(!seen.contains("typed while limited"), "{seen}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // At the reset: started again, told its hook, worked; the queued bead goes out too.
    let mrs = wait_for("both beads worked", Duration::from_secs(90), || {
        let mrs = merge_requests(&t);
        (mrs.len() == 2).then_some(mrs)
    });
    let mut sources: Vec<&str> = mrs
        .iter()
        .map(|m| m["source_bead"].as_str().expect("source"))
        .collect();
    sources.sort();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort();
    assert_eq!(sources, expected);
    let log = t.log();
    assert!(log.contains("usage limit reset"), "{log}");
    // Fifteen seconds quiet at the limit, with a witness that calls one second hung: it left the
    // session alone (no nudge, restart or escalation of it).
    let witness: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(polecat.as_str()) && l.contains("witness"))
        .collect();
    assert!(witness.is_empty(), "{witness:#?}");
}

/// `agent`'s row in `gastown status --json`.
fn agent_row<'a>(status: &'a serde_json::Value, agent: &str) -> &'a serde_json::Value {
    status["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .find(|a| a["address"] == agent)
        .unwrap_or_else(|| panic!("{agent}'s row: {status}"))
}

/// The accounts the sessions of `agent` ran under, oldest first (`gastown seance --json`).
fn session_accounts(t: &RunningTown, agent: &str) -> Vec<String> {
    let seance: serde_json::Value =
        serde_json::from_str(&t.town.ok(&["seance", agent, "--json"])).expect("seance --json");
    seance["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["account"].as_str().expect("account").to_string())
        .collect()
}

fn polecat_of(t: &RunningTown, bead: &str) -> String {
    let shown: serde_json::Value =
        serde_json::from_str(&t.town.ok(&["bead", "show", bead, "--json"])).expect("json");
    shown["assignee"].as_str().expect("hooked").to_string()
}

/// Issue 20, rotation: two accounts of one runtime, and the first hits its usage limit (with a
/// reset an hour away). The session that hit it is started again at once on the other account
/// and its bead lands; new sessions go to the free account and new work is not queued; once
/// every account is limited, new work waits in the dispatch queue.
#[test]
fn a_limited_account_is_skipped_until_every_account_of_the_runtime_is_limited() {
    let town = town_with_rig();
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str(
        "\n[agents.sim]\n\n[[agents.sim.accounts]]\nname = \"a\"\n\
         env = { GASTOWN_SIM_LIMIT = \"1h\" }\n\n[[agents.sim.accounts]]\nname = \"b\"\n\
         env = { GASTOWN_SIM_ACCOUNT = \"b\" }\n",
    );
    std::fs::write(&config, text).expect("write town.toml");
    let t = RunningTown::start_in(town);
    let first = t.town.create(&["First task"]);
    t.town.ok(&["sling", &first, "alpha", "--no-formula"]);
    let polecat = polecat_of(&t, &first);
    wait_for("the first bead worked", Duration::from_secs(60), || {
        (merge_requests(&t).len() == 1).then_some(())
    });
    assert_eq!(
        session_accounts(&t, &polecat),
        vec!["a".to_string(), "b".to_string()],
        "limited on a, started again on b"
    );
    let recorded: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.town.root.join(".runtime/limits.json")).expect("limits"),
    )
    .expect("limits.json");
    let limited: Vec<&String> = recorded["runtimes"]
        .as_object()
        .expect("runtimes")
        .keys()
        .collect();
    assert_eq!(limited, vec!["sim/a"], "the account, not the runtime");
    let status: serde_json::Value =
        serde_json::from_str(&t.town.ok(&["status", "--json"])).expect("status --json");
    let limit = &status["limits"][0];
    assert_eq!(
        (&limit["runtime"], &limit["account"], &limit["waits"]),
        (&"sim".into(), &"a".into(), &false.into()),
        "{status}"
    );
    let row = agent_row(&status, &polecat);
    assert!(row["limited_until"].is_null(), "it runs on b: {row}");
    // New work goes out, to the free account.
    let second = t.town.create(&["Second task"]);
    let slung = t.town.ok(&["sling", &second, "alpha", "--no-formula"]);
    assert!(!slung.contains("reason: limited"), "{slung}");
    let other = polecat_of(&t, &second);
    wait_for("the second bead worked", Duration::from_secs(60), || {
        (merge_requests(&t).len() == 2).then_some(())
    });
    assert_eq!(
        session_accounts(&t, &other).last().map(String::as_str),
        Some("b")
    );
    // Every account limited: the runtime waits.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut all = recorded.clone();
    all["runtimes"]["sim/b"] = serde_json::json!({
        "until": now + 3600, "since": now, "line": "usage limit reached", "streak": 0
    });
    std::fs::write(
        t.town.root.join(".runtime/limits.json"),
        serde_json::to_string(&all).expect("json"),
    )
    .expect("write limits.json");
    let third = t.town.create(&["Third task"]);
    let queued = t.town.ok(&["sling", &third, "alpha", "--no-formula"]);
    assert!(queued.contains("reason: limited"), "{queued}");
}

/// A `kill -9` of `gastown run` while its runtime is at its usage limit: the restarted
/// supervisor starts the polecat's session **held** — no prompt typed (nothing spent against the
/// limit), shown `blocked: usage limit: held by gastown: …`, left alone — and at the reset
/// starts it again with its prompt, and the bead lands.
#[test]
fn a_session_started_during_a_limit_is_held_without_its_prompt_until_the_reset() {
    let mut t = RunningTown::start_with_env(town_with_rig(), &[("GASTOWN_SIM_LIMIT", "30s")]);
    let first = t.town.create(&["First task"]);
    t.town.ok(&["sling", &first, "alpha", "--no-formula"]);
    let polecat = polecat_of(&t, &first);
    let role = format!("town/rigs/{polecat}");
    let limits = t.town.root.join(".runtime/limits.json");
    wait_for("the limit recorded", Duration::from_secs(30), || {
        std::fs::read_to_string(&limits)
            .ok()
            .filter(|text| text.contains("\"sim\""))
    });
    let old = t.session_pid(&role).expect("the limited session");
    let pid = t.child.as_ref().expect("running").id();
    // SAFETY: killing the supervisor this test started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let _ = t.child.take().expect("child").wait();
    wait_for("the old session gone", Duration::from_secs(30), || {
        (!crate::running::group_alive(old)).then_some(())
    });
    let town = std::mem::replace(&mut t.town, crate::util::TestTown::new());
    drop(t);
    let t = RunningTown::start_in(town);
    let state = wait_for("the session held", Duration::from_secs(30), || {
        let state = t.node(&format!("{role}/session"))?["state"]
            .as_str()?
            .to_string();
        state.starts_with("blocked").then_some(state)
    });
    assert!(
        state.starts_with("blocked: usage limit: held by gastown: sim limited until"),
        "{state}"
    );
    let screen = t.town.ok(&["peek", &polecat, "-n", "50"]);
    assert!(!screen.contains("Your hook"), "no prompt typed: {screen}");
    assert!(
        merge_requests(&t).is_empty(),
        "nothing worked while limited"
    );
    wait_for(
        "the bead worked after the reset",
        Duration::from_secs(90),
        || (merge_requests(&t).len() == 1).then_some(()),
    );
    let log = t.log();
    assert!(log.contains("session started held"), "{log}");
    assert!(log.contains("usage limit reset"), "{log}");
}

/// A session held behind a limit whose reset was already handed out (it started in the very
/// sweep that resumed the others) is not forgotten: once the limit no longer holds it is started
/// again with its prompt. Here the recorded limit is already marked resumed when the session
/// starts, so only that rule can free it.
#[test]
fn a_held_session_goes_once_its_limit_no_longer_holds_even_if_its_reset_was_handed_out() {
    let town = town_with_rig();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let limits = serde_json::json!({"runtimes": {"sim": {
        "until": now + 8, "since": now, "line": "usage limit reached", "streak": 0,
        "resumed": true
    }}});
    std::fs::write(
        town.root.join(".runtime/limits.json"),
        serde_json::to_string(&limits).expect("json"),
    )
    .expect("write limits.json");
    let t = RunningTown::start_in(town);
    let bead = t.town.create(&["Held work"]);
    // A sling to a polecat by name is not queued by a limit: its session starts, held.
    t.town
        .ok(&["sling", &bead, "alpha/polecats/nux", "--no-formula"]);
    let state = wait_for("the session held", Duration::from_secs(30), || {
        let state = t.node("town/rigs/alpha/polecats/nux/session")?["state"]
            .as_str()?
            .to_string();
        state.starts_with("blocked").then_some(state)
    });
    assert!(state.contains("held by gastown"), "{state}");
    wait_for("the bead worked", Duration::from_secs(60), || {
        (merge_requests(&t).len() == 1).then_some(())
    });
}
