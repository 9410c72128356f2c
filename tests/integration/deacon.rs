//! The deacon's patrol against a real `gastown run`: a stranded convoy is fed (its ready bead
//! slung into the rig it belongs to), a hook whose identity's rig is gone is released (one whose
//! rig.toml is only broken is kept), and so is one whose identity stays stuck.

use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, town_with_rig};
use serde_json::Value;
use std::time::Duration;

fn fast_patrol(town: &TestTown) {
    let path = town.root.join("town.toml");
    let text = std::fs::read_to_string(&path).expect("town.toml");
    assert!(text.contains("patrol_interval = \"30s\""), "{text}");
    std::fs::write(
        &path,
        text.replace("patrol_interval = \"30s\"", "patrol_interval = \"300ms\""),
    )
    .expect("write town.toml");
}

fn bead(town: &TestTown, id: &str) -> Value {
    serde_json::from_str(&town.ok(&["bead", "show", id, "--json"])).expect("json")
}

#[test]
fn a_stranded_convoy_is_fed_into_its_rig() {
    let town = town_with_rig();
    fast_patrol(&town);
    let b = town.create(&["Nobody was given this"]);
    town.ok(&["convoy", "create", "Stranded work", &b]);
    let listed = town.ok(&["convoy", "list"]);
    assert!(listed.contains("Stranded work"), "{listed}");
    let t = RunningTown::start_in(town);
    wait_for("the deacon to sling it", Duration::from_secs(30), || {
        let shown = bead(&t.town, &b);
        let assignee = shown["assignee"].as_str().unwrap_or_default().to_string();
        assignee.starts_with("alpha/polecats/").then_some(())
    });
    // Said in the log once the sling's effects (the polecat's session) are carried out, naming
    // the patrol round that slung it: the issue asks for a stranded convoy fed within two.
    let line = wait_for("the deacon's log line", Duration::from_secs(30), || {
        t.log()
            .lines()
            .find(|l| l.contains("deacon fed a stranded convoy"))
            .map(str::to_string)
    });
    let round: u64 = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("round="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no round in {line:?}"));
    assert!(
        (1..=2).contains(&round),
        "fed in patrol round {round}: {line}"
    );
}

#[test]
fn a_hook_whose_rig_is_gone_is_released_back_to_ready() {
    let town = town_with_rig();
    fast_patrol(&town);
    let elsewhere = town.root.parent().expect("parent").join("b");
    let src = crate::util::source_repo(&elsewhere);
    town.ok(&["rig", "add", "beta", &src]);
    let b = town.create(&["Held by a rig that vanishes"]);
    town.ok(&[
        "sling",
        &b,
        "beta/polecats/nux",
        "--no-formula",
        "--no-convoy",
    ]);
    assert_eq!(bead(&town, &b)["status"], "hooked");
    std::fs::remove_dir_all(town.root.join("beta")).expect("the rig vanishes");
    let t = RunningTown::start_in(town);
    wait_for("the hook released", Duration::from_secs(30), || {
        let shown = bead(&t.town, &b);
        (shown["status"] == "open" && shown["assignee"].as_str().unwrap_or_default().is_empty())
            .then_some(())
    });
    wait_for("the deacon's log line", Duration::from_secs(30), || {
        t.log()
            .contains("deacon released a stale hook")
            .then_some(())
    });
}

#[test]
fn a_hook_in_a_rig_whose_rig_toml_is_broken_is_kept_and_released_once_the_rig_is_gone() {
    let town = town_with_rig();
    fast_patrol(&town);
    let elsewhere = town.root.parent().expect("parent").join("b");
    let src = crate::util::source_repo(&elsewhere);
    town.ok(&["rig", "add", "beta", &src]);
    let b = town.create(&["Held in a rig whose config breaks"]);
    town.ok(&[
        "sling",
        &b,
        "beta/polecats/nux",
        "--no-formula",
        "--no-convoy",
    ]);
    std::fs::write(town.root.join("beta/rig.toml"), "name = = \"beta\"\n")
        .expect("corrupt rig.toml");
    let t = RunningTown::start_in(town);
    // The rig check runs after the ledger checks of the same patrol: once it has tried the
    // broken rig twice, two rounds of stale-hook checks have seen the hook.
    wait_for(
        "two patrols over the broken rig",
        Duration::from_secs(60),
        || (t.log().matches("deacon cannot restart rig beta").count() >= 2).then_some(()),
    );
    let shown = bead(&t.town, &b);
    assert_eq!(shown["status"], "hooked", "{shown}");
    assert_eq!(shown["assignee"], "beta/polecats/nux", "{shown}");
    assert!(
        !t.log().contains("deacon released a stale hook"),
        "{}",
        t.log()
    );
    // The rig really gone: now the hook is stale.
    std::fs::remove_dir_all(t.town.root.join("beta")).expect("the rig vanishes");
    wait_for("the hook released", Duration::from_secs(30), || {
        let shown = bead(&t.town, &b);
        (shown["status"] == "open" && shown["assignee"].as_str().unwrap_or_default().is_empty())
            .then_some(())
    });
}

#[test]
fn a_bead_whose_polecat_stays_stuck_is_released_and_fed_to_a_polecat_that_can_run() {
    let town = town_with_rig();
    fast_patrol(&town);
    let path = town.root.join("town.toml");
    let text = std::fs::read_to_string(&path).expect("town.toml");
    std::fs::write(
        &path,
        text.replace(
            "patrol_interval = \"300ms\"",
            "patrol_interval = \"300ms\"\nstuck_release_after = \"2s\"",
        ),
    )
    .expect("write town.toml");
    town.ok(&[
        "config",
        "agent",
        "set",
        "ghost",
        "gastown-no-such-agent-cli",
    ]);
    let b = town.create(&["Work for whoever can run"]);
    town.ok(&["convoy", "create", "Keep it moving", &b]);
    let t = RunningTown::start_in(town);
    t.town.ok(&[
        "sling",
        &b,
        "alpha/polecats/nux",
        "--runtime",
        "ghost",
        "--no-formula",
    ]);
    crate::durable::wait_stuck(&t.town, "alpha/polecats/nux");
    assert_eq!(bead(&t.town, &b)["assignee"], "alpha/polecats/nux");
    let holder = wait_for(
        "another polecat to take it",
        Duration::from_secs(60),
        || {
            let shown = bead(&t.town, &b);
            let assignee = shown["assignee"].as_str().unwrap_or_default().to_string();
            (shown["status"] == "hooked"
                && assignee.starts_with("alpha/polecats/")
                && assignee != "alpha/polecats/nux")
                .then_some(assignee)
        },
    );
    let shown = bead(&t.town, &b);
    let notes = shown["notes"].as_str().unwrap_or_default();
    assert!(
        notes.contains("Released by the deacon from alpha/polecats/nux's hook")
            && notes.contains("gastown-no-such-agent-cli")
            && notes.contains(&format!("polecat/nux/{b}"))
            && notes.contains("request for runtime ghost was dropped"),
        "{notes}"
    );
    assert!(
        t.log()
            .contains(&format!("deacon released {b}'s hook back to ready")),
        "{}",
        t.log()
    );
    // nux stays stuck with nothing on its hook; the new holder runs, under the town's default
    // runtime (sim), not the one nux is stuck on.
    let nux = crate::durable::agent_bead(&t.town, "alpha/polecats/nux").expect("nux's bead");
    assert_eq!(nux["agent_state"], "stuck", "{nux}");
    assert_eq!(nux["hook"].as_str().unwrap_or_default(), "", "{nux}");
    let runtimes = wait_for("the new polecat's session", Duration::from_secs(30), || {
        let sessions = crate::durable::sessions(&t.town, &holder);
        (!sessions.is_empty()).then_some(sessions)
    });
    assert!(runtimes.iter().all(|(r, _)| r == "sim"), "{runtimes:?}");
}

/// The restarts of rig `rig` by the deacon, as its log says.
fn restarts(t: &RunningTown, rig: &str) -> usize {
    t.log()
        .lines()
        .filter(|l| l.contains(&format!("deacon restarted rig {rig}:")))
        .count()
}

fn rig_node(t: &RunningTown, rig: &str) -> Option<Value> {
    crate::running::find(&t.tree(), &format!("town/rigs/{rig}"))
}

#[test]
fn a_rig_that_keeps_giving_up_is_restarted_with_backoff_escalated_once_and_the_others_run_on() {
    let town = town_with_rig();
    fast_patrol(&town);
    let elsewhere = town.root.parent().expect("parent").join("b");
    let src = crate::util::source_repo(&elsewhere);
    town.ok(&["rig", "add", "beta", &src]);
    // Beta's witness agent dies at once, every time: its rig's supervisor gives up.
    let path = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&path).expect("town.toml");
    text.push_str(
        "\n[agents.crashy]\ncommand = \"sh\"\nargs = [\"-c\", \"exit 3\"]\nprompt = \"typed\"\n",
    );
    std::fs::write(&path, text).expect("write town.toml");
    let rig_toml = town.root.join("beta/rig.toml");
    let good = std::fs::read_to_string(&rig_toml).expect("rig.toml");
    std::fs::write(
        &rig_toml,
        format!("{good}\n[roles]\nwitness = \"crashy\"\n"),
    )
    .expect("write");
    let t = RunningTown::start_in(town);
    let alpha_refinery = wait_for("alpha's refinery", Duration::from_secs(30), || {
        crate::running::find(&t.tree(), "town/rigs/alpha/refinery")
    });
    wait_for(
        "three restarts of beta by the deacon",
        Duration::from_secs(90),
        || (restarts(&t, "beta") >= 3).then_some(()),
    );
    let escalations = || -> Vec<Value> {
        let list: Value =
            serde_json::from_str(&t.town.ok(&["escalate", "list", "--json"])).expect("json");
        list.as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.to_string().contains("rig beta keeps stopping"))
            .collect()
    };
    let raised = wait_for("the mayor told", Duration::from_secs(30), || {
        let found = escalations();
        (!found.is_empty()).then_some(found)
    });
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert!(
        raised[0].to_string().contains("gave up"),
        "the escalation says why: {raised:?}"
    );
    // Backed off: the gaps between restarts grow (1, 2, 4 … patrols), so a fourth comes later.
    wait_for("a fourth restart", Duration::from_secs(90), || {
        (restarts(&t, "beta") >= 4).then_some(())
    });
    let found = escalations();
    assert_eq!(found.len(), 1, "escalated once per streak: {found:?}");
    assert_eq!(
        found[0]["count"].as_u64(),
        Some(1),
        "no repeat folded in: {found:?}"
    );
    // Alpha never noticed.
    let alpha = crate::running::find(&t.tree(), "town/rigs/alpha/refinery").expect("alpha runs");
    assert_eq!(alpha["restarts_total"], alpha_refinery["restarts_total"]);
    assert_eq!(alpha["state"], "running");
    // Fixed: the next restart sticks.
    std::fs::write(&rig_toml, format!("{good}\n[roles]\nwitness = \"none\"\n")).expect("write");
    wait_for("beta up and staying up", Duration::from_secs(90), || {
        let node = rig_node(&t, "beta")?;
        let witness = crate::running::find(&node, "town/rigs/beta/witness/patrol")?;
        (witness["state"] == "running" && witness["uptime_ms"].as_u64()? > 3000).then_some(())
    });
}

#[test]
fn a_dispatch_queue_stuck_behind_a_long_gate_is_moved_by_the_deacon() {
    use crate::refinery;
    let town = refinery::town();
    fast_patrol(&town);
    // One polecat at a time, and a gate that holds the refinery (which drains the queue each
    // round) for five minutes.
    refinery::configure(&town, 1, "merge", "test = \"sleep 300\"\ntimeout = \"10m\"");
    let rig_toml = town.root.join("alpha/rig.toml");
    let text = std::fs::read_to_string(&rig_toml).expect("rig.toml");
    assert!(text.contains("max_polecats = 4"), "{text}");
    std::fs::write(
        &rig_toml,
        text.replace("max_polecats = 4", "max_polecats = 1"),
    )
    .expect("write rig.toml");
    let path = town.root.join("town.toml");
    let mut config = std::fs::read_to_string(&path).expect("town.toml");
    config.push_str(&format!(
        "\n[agents.idle]\ncommand = \"{}\"\nargs = [\"sim-agent\"]\nprompt = \"typed\"\nready_marker = \"sim>\"\nquiet_period = \"150ms\"\nenv = {{ GASTOWN_SIM_WORK = \"0\" }}\n",
        env!("CARGO_BIN_EXE_gastown")
    ));
    std::fs::write(&path, config).expect("write town.toml");
    crate::procs::shutdown_timeout(&town, "8s");
    let (_, _mr) = refinery::submit(&town, "nux", "Slow to gate", &[("slow.txt", "x\n")]);
    let held = town.create(&["Held by an idle polecat"]);
    town.ok(&[
        "sling",
        &held,
        "alpha",
        "--runtime",
        "idle",
        "--no-formula",
        "--no-convoy",
    ]);
    let holder = bead(&town, &held)["assignee"]
        .as_str()
        .expect("hooked")
        .to_string();
    let waiting = town.create(&["Waits in the queue"]);
    let out = town.ok(&[
        "sling",
        &waiting,
        "alpha",
        "--runtime",
        "idle",
        "--no-formula",
        "--no-convoy",
    ]);
    assert!(out.contains("dispatch queue"), "{out}");
    let t = RunningTown::start_in(town);
    wait_for("the gate running", Duration::from_secs(60), || {
        crate::procs::in_town(&t.town.root, "sleep 300")
            .first()
            .copied()
    });
    // The polecat is freed while the refinery is stuck in its gate.
    t.town.ok(&["hook", "clear", "--agent", &holder]);
    wait_for("the queued bead slung", Duration::from_secs(30), || {
        let assignee = bead(&t.town, &waiting)["assignee"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assignee.starts_with("alpha/polecats/").then_some(())
    });
    // Said once the sling's effects (the polecat's session) are carried out.
    wait_for("the deacon's log line", Duration::from_secs(30), || {
        t.log()
            .contains("deacon moved rig alpha's stalled dispatch queue")
            .then_some(())
    });
    assert!(
        !crate::procs::in_town(&t.town.root, "sleep 300").is_empty(),
        "the refinery was still in its gate: only the deacon could have moved the queue"
    );
}

#[test]
fn a_broken_rig_toml_stops_only_its_rig_which_starts_once_fixed() {
    let town = town_with_rig();
    fast_patrol(&town);
    let elsewhere = town.root.parent().expect("parent").join("b");
    let src = crate::util::source_repo(&elsewhere);
    town.ok(&["rig", "add", "beta", &src]);
    let rig_toml = town.root.join("beta/rig.toml");
    let good = std::fs::read_to_string(&rig_toml).expect("rig.toml");
    std::fs::write(&rig_toml, format!("{good}\nbatch = [[[\n")).expect("break rig.toml");
    let t = RunningTown::start_in(town);
    wait_for(
        "alpha's refinery and witness",
        Duration::from_secs(30),
        || {
            let tree = t.tree();
            crate::running::find(&tree, "town/rigs/alpha/refinery")?;
            crate::running::find(&tree, "town/rigs/alpha/witness/patrol")
        },
    );
    wait_for("the mayor told of beta", Duration::from_secs(60), || {
        let list = t.town.ok(&["escalate", "list", "--json"]);
        (list.contains("rig beta keeps stopping") && list.contains("rig.toml")).then_some(())
    });
    assert!(rig_node(&t, "beta").is_none(), "beta cannot run broken");
    std::fs::write(&rig_toml, good).expect("fix rig.toml");
    wait_for(
        "beta started by the deacon",
        Duration::from_secs(60),
        || crate::running::find(&t.tree(), "town/rigs/beta/refinery"),
    );
}

/// The deacon's rounds of checks so far, as its debug log counts them.
fn rounds(t: &RunningTown) -> usize {
    t.log().matches("deacon patrol round").count()
}

#[test]
fn a_witness_that_stops_patrolling_is_restarted_by_the_deacon() {
    let town = town_with_rig();
    fast_patrol(&town);
    // Rig alpha's witness patrols every second: stale after three seconds without one.
    let rig_toml = town.root.join("alpha/rig.toml");
    let text = std::fs::read_to_string(&rig_toml).expect("rig.toml");
    let (before, _) = text
        .split_once("[witness]")
        .expect("rig add writes [witness]");
    std::fs::write(
        &rig_toml,
        format!("{before}\n[witness]\npatrol_every = \"1s\"\n"),
    )
    .expect("write rig.toml");
    // The witness's first patrol hangs (it answers nothing from then on).
    let t = RunningTown::start_with_env(
        town,
        &[
            ("GASTOWN_WITNESS_FAULT", "hang-patrol"),
            ("GASTOWN_LOG", "info,gastown::run::deacon_checks=debug"),
        ],
    );
    let restarted = "deacon restarts rig alpha's witness patrol";
    wait_for(
        "the deacon to restart the witness",
        Duration::from_secs(60),
        || t.log().contains(restarted).then_some(()),
    );
    // The fresh patrol patrols and answers: five more rounds of the deacon's checks leave it be.
    let at = rounds(&t);
    wait_for("five more patrols", Duration::from_secs(60), || {
        (rounds(&t) >= at + 5).then_some(())
    });
    assert_eq!(t.log().matches(restarted).count(), 1, "{}", t.log());
    assert!(
        t.node("town/rigs/alpha/witness/patrol").is_some(),
        "{:#}",
        t.tree()
    );
}

#[test]
fn a_zero_stuck_release_after_is_refused_naming_the_key() {
    let town = crate::util::TestTown::new();
    let path = town.root.join("town.toml");
    let text = std::fs::read_to_string(&path).expect("town.toml");
    std::fs::write(
        &path,
        text.replace(
            "patrol_interval = \"30s\"",
            "patrol_interval = \"30s\"\nstuck_release_after = \"0s\"",
        ),
    )
    .expect("write town.toml");
    let err = town.fails(&["bead", "list"]);
    assert!(
        err.contains("run.stuck_release_after") && err.contains("is 0") && err.contains("30m"),
        "{err}"
    );
}
