//! The witness against a real `gastown run` with sim polecats and short `[witness]` timings:
//! polecats idle at their prompt with work, or hung, are nudged, then restarted, then escalated
//! (each once, in that order); a polecat that keeps showing signs of life is never touched.

use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, town_with_rig};
use std::time::Duration;

/// A sim runtime `name` with extra environment `env` (TOML inline-table body).
pub fn sim_runtime(name: &str, env: &str) -> String {
    format!(
        "\n[agents.{name}]\ncommand = \"{}\"\nargs = [\"sim-agent\"]\nprompt = \"typed\"\nready_marker = \"sim>\"\nquiet_period = \"150ms\"\nenv = {{ {env} }}\n",
        env!("CARGO_BIN_EXE_gastown")
    )
}

/// The log lines of the witness about `agent`, reduced to the step each took.
fn steps(log: &str, agent: &str) -> Vec<&'static str> {
    log.lines()
        .filter(|l| l.contains(agent))
        .filter_map(|l| {
            if l.contains("witness nudges") {
                Some("nudge")
            } else if l.contains("witness restarts the session") {
                Some("restart")
            } else if l.contains("witness escalates") {
                Some("escalate")
            } else {
                None
            }
        })
        .collect()
}

/// Replace rig `alpha`'s `[witness]` table (`rig add` wrote the defaults as its last table).
pub fn witness_knobs(town: &TestTown, knobs: &str) {
    let rig_toml = town.root.join("alpha/rig.toml");
    let text = std::fs::read_to_string(&rig_toml).expect("rig.toml");
    let mut text = text
        .split_once("[witness]")
        .map_or(text.clone(), |(before, _)| before.to_string());
    text.push_str(&format!("\n[witness]\n{knobs}\n"));
    std::fs::write(&rig_toml, text).expect("write rig.toml");
}

#[test]
fn a_help_to_the_witness_is_escalated_to_the_mayor_and_the_overseer_and_closed() {
    let town = town_with_rig();
    witness_knobs(&town, "patrol_every = \"200ms\"");
    let (bead, out) = crate::util::polecat_escalates(&town);
    assert!(out.status.success(), "{}", crate::util::stderr(&out));
    let t = RunningTown::start_in(town);
    for to in ["overseer", "mayor"] {
        let mail = wait_for("the escalated HELP", Duration::from_secs(30), || {
            let mail = t.town.ok(&["mail", "inbox", to, "--all", "--json"]);
            (mail.contains("ESCALATION") && mail.contains("from alpha/polecats/nux"))
                .then_some(mail)
        });
        assert!(
            mail.contains("the schema is locked") && mail.contains(&bead),
            "{to}: {mail}"
        );
    }
    wait_for("the HELP closed", Duration::from_secs(30), || {
        let open = t
            .town
            .ok(&["mail", "inbox", "alpha/witness", "--all", "--json"]);
        (!open.contains("\"HELP\"")).then_some(())
    });
    // The witness closed the HELP into the polecat's own escalation: one escalation, and the
    // overseer told of it once.
    let open = t.town.ok(&["escalate", "list", "--json"]);
    assert_eq!(open.matches("\"source\"").count(), 1, "{open}");
    let overseer = t.town.ok(&["mail", "inbox", "overseer", "--all", "--json"]);
    assert_eq!(overseer.matches("ESCALATION").count(), 1, "{overseer}");
}

#[test]
fn stalled_and_hung_polecats_are_nudged_restarted_escalated_and_a_live_one_is_never_touched() {
    let town = town_with_rig();
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    // Reads its hook (its one heartbeat), then sits at its prompt.
    text.push_str(&sim_runtime(
        "idler",
        "GASTOWN_SIM_WORK = \"0\", GASTOWN_SIM_HEARTBEAT = \"0s\"",
    ));
    // Stops printing and answering a moment after its start, busy: not at its prompt.
    text.push_str(&sim_runtime(
        "hanger",
        "GASTOWN_SIM_WORK = \"0\", GASTOWN_SIM_HEARTBEAT = \"0s\", GASTOWN_SIM_HANG_AFTER = \"500ms\", GASTOWN_SIM_HANG_BUSY = \"1\"",
    ));
    // Does not work either, but heartbeats all the time: alive, never acted on.
    text.push_str(&sim_runtime(
        "alive",
        "GASTOWN_SIM_WORK = \"0\", GASTOWN_SIM_HEARTBEAT = \"100ms\"",
    ));
    std::fs::write(&config, text).expect("write town.toml");
    witness_knobs(
        &town,
        "patrol_every = \"300ms\"\nstart_after = \"30s\"\nstall_after = \"1s\"\nhung_after = \"1s\"\nnudges = 1\nrestarts = 1",
    );
    let idle = town.create(&["Idle at the prompt"]);
    let hung = town.create(&["Hung"]);
    let live = town.create(&["Alive"]);

    let t = RunningTown::start_in(town);
    let mut holders = Vec::new();
    for (bead, runtime) in [(&idle, "idler"), (&hung, "hanger"), (&live, "alive")] {
        t.town.ok(&["sling", bead, "alpha", "--runtime", runtime]);
        let shown: serde_json::Value =
            serde_json::from_str(&t.town.ok(&["bead", "show", bead, "--json"])).expect("json");
        holders.push(shown["assignee"].as_str().expect("assignee").to_string());
    }
    let (idler, hanger, alive) = (&holders[0], &holders[1], &holders[2]);
    wait_for("both escalations", Duration::from_secs(60), || {
        let mail = t.town.ok(&["mail", "inbox", "overseer", "--all", "--json"]);
        (mail.contains(idler.as_str()) && mail.contains(hanger.as_str())).then_some(())
    });
    // By now the live polecat sat at its prompt with work far longer than every threshold.
    let log = t.log();

    for (who, reason) in [(idler, "reason=stalled"), (hanger, "reason=hung")] {
        assert_eq!(
            steps(&log, who),
            ["nudge", "restart", "escalate"],
            "{who}:\n{log}"
        );
        let judged: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(who.as_str()) && l.contains("witness ") && l.contains("reason="))
            .collect();
        assert!(
            judged.iter().all(|l| l.contains(reason)),
            "{who} {reason}: {judged:?}"
        );
    }
    assert!(steps(&log, alive).is_empty(), "{alive} is alive:\n{log}");
    let mayor = t.town.ok(&["mail", "inbox", "mayor", "--all", "--json"]);
    assert!(
        mayor.contains(idler.as_str()) && mayor.contains(hanger.as_str()),
        "{mayor}"
    );
    assert!(!mayor.contains(&format!("{alive} is")), "{mayor}");
    // The steps are visible on the witness's node in `gastown actors`, the live one absent.
    let note = t
        .node("town/rigs/alpha/witness/patrol")
        .expect("the witness runs")["note"]
        .as_str()
        .expect("the witness reports its steps")
        .to_string();
    for who in [idler, hanger] {
        assert!(
            note.contains(&format!("{who} ")) && note.contains("escalated"),
            "{note}"
        );
    }
    assert!(!note.contains(alive.as_str()), "{note}");
    let plain = t.town.ok(&["actors"]);
    assert!(plain.contains(idler.as_str()), "{plain}");
}

/// The "done when", as a new user would see it: a town left alone with a polecat whose
/// agent hangs. It is nudged, restarted, and the overseer is told once, on the channel they
/// configured (here a notify command); `escalate list` shows it; a healthy polecat beside it is
/// never touched. "Once" is measured across many later patrols: a second hanging polecat slung
/// afterwards must climb its whole ladder meanwhile.
#[test]
fn a_town_left_alone_with_a_hung_agent_tells_the_overseer_once_on_their_channel() {
    let town = town_with_rig();
    let told = town.root.parent().expect("parent").join("told.txt");
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str(&sim_runtime(
        "hanger",
        "GASTOWN_SIM_WORK = \"0\", GASTOWN_SIM_HEARTBEAT = \"0s\", GASTOWN_SIM_HANG_AFTER = \"300ms\", GASTOWN_SIM_HANG_BUSY = \"1\"",
    ));
    text.push_str(&sim_runtime(
        "alive",
        "GASTOWN_SIM_WORK = \"0\", GASTOWN_SIM_HEARTBEAT = \"100ms\"",
    ));
    text.push_str(&format!(
        "\n[escalation]\nhigh = [\"notify\"]\nnotify_command = \"printf '%s %s\\\\n' \\\"$GASTOWN_ESCALATION_ID\\\" \\\"$GASTOWN_ESCALATION_BEAD\\\" >> {}\"\n",
        told.display()
    ));
    std::fs::write(&config, text).expect("write town.toml");
    witness_knobs(
        &town,
        "patrol_every = \"250ms\"\nstart_after = \"30s\"\nstall_after = \"1s\"\nhung_after = \"1s\"\nnudges = 1\nrestarts = 1",
    );
    let first = town.create(&["Hangs first"]);
    let second = town.create(&["Hangs later"]);
    let healthy = town.create(&["Healthy"]);
    let t = RunningTown::start_in(town);
    let holder = |bead: &str| -> String {
        let shown: serde_json::Value =
            serde_json::from_str(&t.town.ok(&["bead", "show", bead, "--json"])).expect("json");
        shown["assignee"].as_str().expect("assignee").to_string()
    };
    t.town
        .ok(&["sling", &first, "alpha", "--runtime", "hanger"]);
    t.town
        .ok(&["sling", &healthy, "alpha", "--runtime", "alive"]);
    let lines = || std::fs::read_to_string(&told).unwrap_or_default();
    wait_for(
        "the overseer told of the first",
        Duration::from_secs(60),
        || lines().contains(first.as_str()).then_some(()),
    );
    t.town
        .ok(&["sling", &second, "alpha", "--runtime", "hanger"]);
    wait_for(
        "the overseer told of the second",
        Duration::from_secs(60),
        || lines().contains(second.as_str()).then_some(()),
    );
    let told = lines();
    assert_eq!(
        told.matches(first.as_str()).count(),
        1,
        "told once:\n{told}"
    );
    assert_eq!(told.lines().count(), 2, "{told}");
    let (hung, alive) = (holder(&first), holder(&healthy));
    let log = t.log();
    assert_eq!(
        steps(&log, &hung),
        ["nudge", "restart", "escalate"],
        "{log}"
    );
    assert!(steps(&log, &alive).is_empty(), "{alive} is healthy:\n{log}");
    // `escalate list` shows what needs the overseer: the two hung polecats' work, nothing else.
    let list: serde_json::Value =
        serde_json::from_str(&t.town.ok(&["escalate", "list", "--json"])).expect("json");
    let beads: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["bead"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(beads.len(), 2, "{list}");
    assert!(
        beads.contains(&first.as_str()) && beads.contains(&second.as_str()),
        "{list}"
    );
    assert!(
        list[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("hung"),
        "{list}"
    );
}

/// A polecat sent back for rework that never reads the REWORK mail (its agent takes input and
/// never answers) is nudged about that mail by the witness, naming it.
#[test]
fn an_unread_rework_mail_gets_its_polecat_a_nudge_naming_it() {
    use crate::refinery::{configure, has_mail, process, worktree};
    let town = crate::refinery::town();
    configure(
        &town,
        1,
        "merge",
        "test = \"if [ -f bad.txt ]; then echo 'bad.txt is still here'; exit 1; fi\"",
    );
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str(&sim_runtime(
        "deaf",
        "GASTOWN_SIM_IGNORE_INPUT = \"1\", GASTOWN_SIM_HEARTBEAT = \"0s\"",
    ));
    std::fs::write(&config, text).expect("write town.toml");
    witness_knobs(
        &town,
        "patrol_every = \"200ms\"\nstart_after = \"1m\"\nstall_after = \"1s\"\nhung_after = \"1m\"\nnudges = 50\nrestarts = 1",
    );
    let bead = town.create(&["Break it"]);
    town.ok(&[
        "sling",
        &bead,
        "alpha/polecats/nux",
        "--no-formula",
        "--no-convoy",
        "--runtime",
        "deaf",
    ]);
    std::fs::write(worktree(&town, "nux").join("bad.txt"), "x\n").expect("write work");
    crate::util::as_agent_ok(&town, "alpha/polecats/nux", &["done"]);
    assert_eq!(process(&town)["sent_back"], 1);
    assert!(
        has_mail(&town, "alpha/polecats/nux", "REWORK", &bead)
            || has_mail(&town, "alpha/polecats/nux", "MERGE_FAILED", &bead)
    );
    let t = RunningTown::start_in(town);
    let line = wait_for("the rework nudge", Duration::from_secs(60), || {
        t.log()
            .lines()
            .find(|l| l.contains("witness nudges about unread rework mail"))
            .map(str::to_string)
    });
    assert!(line.contains("alpha/polecats/nux"), "{line}");
    // The nudge names the mail, so the agent can read it.
    wait_for(
        "the nudge on the polecat's screen",
        Duration::from_secs(30),
        || {
            let screen = t.town.ok(&["peek", "alpha/polecats/nux", "-n", "80"]);
            screen.contains("you have not read").then_some(())
        },
    );
}
