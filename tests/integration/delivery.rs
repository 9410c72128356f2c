//! Mail delivery into live sessions: the router types a notice into an idle sim session, which
//! reads the mail; do-not-disturb holds it until turned off; nothing is delivered twice. The sim's
//! keyboard is a raw-mode CLI's (text and Enter in one write are a paste, not a turn), so every
//! notice here lands only through the verified path: text, echo, a separate Enter, the turn.

use crate::running::{RunningTown, wait_for};
use std::time::Duration;

fn inbox_json(t: &RunningTown, address: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(&t.town.ok(&["mail", "inbox", address, "--all", "--json"])).expect("json")
}

#[test]
fn mail_reaches_an_idle_session_once_and_dnd_holds_it() {
    let t = RunningTown::start();
    t.town
        .ok(&["agent", "spawn", "alpha/crew/max", "--runtime", "sim"]);
    wait_for("the prompt", Duration::from_secs(20), || {
        t.town
            .ok(&["peek", "alpha/crew/max"])
            .contains("sim>")
            .then_some(())
    });
    t.town.ok(&[
        "mail",
        "send",
        "alpha/crew/max",
        "-s",
        "Please review",
        "-m",
        "the parser change",
    ]);
    wait_for("the sim to read it", Duration::from_secs(20), || {
        t.town
            .ok(&["peek", "alpha/crew/max", "-n", "40"])
            .contains("MAIL: the parser change")
            .then_some(())
    });
    let mail = inbox_json(&t, "alpha/crew/max");
    assert_eq!(mail.len(), 1);
    let labels = mail[0]["labels"].to_string();
    assert!(
        labels.contains("delivered") && labels.contains("read"),
        "{labels}"
    );

    // Do-not-disturb: held in the inbox, not typed.
    t.town.ok(&["dnd", "on", "--agent", "alpha/crew/max"]);
    t.town.ok(&[
        "mail",
        "send",
        "alpha/crew/max",
        "-s",
        "Held back",
        "-m",
        "later",
    ]);
    wait_for("the router to hold it", Duration::from_secs(20), || {
        t.log().contains("mail held: do not disturb").then_some(())
    });
    let screen = t.town.ok(&["peek", "alpha/crew/max", "-n", "40"]);
    assert!(!screen.contains("Held back"), "DND holds mail: {screen}");
    let held = inbox_json(&t, "alpha/crew/max");
    assert!(
        held.iter().any(|m| m["title"] == "Held back"),
        "stored in the inbox"
    );
    let screen = t.town.ok(&["peek", "alpha/crew/max", "-n", "60"]);
    assert_eq!(
        screen.matches("mail from overseer: Please review").count(),
        1,
        "told once: {screen}"
    );
}

/// A runtime with hooks (here the sim dressed as Claude Code: `.claude/settings.json` in its
/// home, whose UserPromptSubmit hook the sim runs before each prompt, as Claude does) gets its
/// mail through `gastown mail check --inject`: the router types nothing but urgent mail.
#[test]
fn a_hook_runtime_gets_its_mail_from_the_hook_and_only_urgent_mail_is_typed() {
    let town = crate::util::town_with_rig();
    town.ok(&[
        "config",
        "agent",
        "set",
        "hooked",
        "--preset",
        "claude",
        "--prompt",
        "typed",
        "--ready-marker",
        "sim>",
        env!("CARGO_BIN_EXE_gastown"),
        "sim-agent",
    ]);
    let t = RunningTown::start_in(town);
    t.town
        .ok(&["agent", "spawn", "alpha/crew/hk", "--runtime", "hooked"]);
    wait_for("the prompt", Duration::from_secs(20), || {
        t.town
            .ok(&["peek", "alpha/crew/hk"])
            .contains("sim>")
            .then_some(())
    });
    t.town.ok(&[
        "mail",
        "send",
        "alpha/crew/hk",
        "-s",
        "Quiet note",
        "-m",
        "whenever",
    ]);
    t.town.ok(&[
        "mail",
        "send",
        "alpha/crew/hk",
        "-s",
        "Fire drill",
        "-m",
        "now",
        "--urgent",
    ]);
    // The urgent one is typed in; the prompt it makes runs the hook, which brings the other.
    wait_for(
        "the hook to inject the held mail",
        Duration::from_secs(20),
        || {
            let screen = t.town.ok(&["peek", "alpha/crew/hk", "-n", "80"]);
            (screen.contains("URGENT mail from overseer: Fire drill")
                && screen.contains("HOOK: - ")
                && screen.contains("from overseer: Quiet note"))
            .then_some(screen)
        },
    );
    let screen = t.town.ok(&["peek", "alpha/crew/hk", "-n", "80"]);
    assert!(
        !screen.contains("mail from overseer: Quiet note"),
        "non-urgent mail is never typed into a hook runtime: {screen}"
    );
    let quiet = inbox_json(&t, "alpha/crew/hk")
        .into_iter()
        .find(|m| m["title"] == "Quiet note")
        .expect("in the inbox");
    assert!(
        quiet["labels"].to_string().contains("delivered"),
        "the hook told it, so it counts as delivered: {quiet}"
    );
}

/// `[agents.<name>]`: the sim with extra environment (`env`: TOML inline-table entries).
fn sim_agent(town: &crate::util::TestTown, name: &str, env: &str) {
    let path = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&path).expect("town.toml");
    text.push_str(&format!(
        "\n[agents.{name}]\ncommand = \"{}\"\nargs = [\"sim-agent\"]\nprompt = \"typed\"\nready_marker = \"sim>\"\nquiet_period = \"150ms\"\nenv = {{ {env} }}\n",
        env!("CARGO_BIN_EXE_gastown")
    ));
    std::fs::write(&path, text).expect("write town.toml");
}

fn labels_of(t: &RunningTown, address: &str, title: &str) -> String {
    inbox_json(t, address)
        .into_iter()
        .find(|m| m["title"] == title)
        .map(|m| m["labels"].to_string())
        .unwrap_or_default()
}

/// Waits until the agent finished its startup turn and sits at its prompt again.
fn wait_prompt_after_startup(t: &RunningTown, agent: &str) {
    wait_for("the startup turn done", Duration::from_secs(30), || {
        let screen = t.town.ok(&["peek", agent, "-n", "200"]);
        (screen.matches("sim>").count() >= 2 && screen.trim_end().ends_with("sim>")).then_some(())
    });
}

fn wait_screen(t: &RunningTown, agent: &str, what: &str) -> String {
    wait_for(what, Duration::from_secs(30), || {
        let screen = t.town.ok(&["peek", agent, "-n", "200"]);
        screen.contains(what).then_some(screen)
    })
}

/// Urgent mail used to be written as text and Enter in one write: a raw-mode CLI takes that as a
/// paste, so the notice sat unsent in the input line, was labelled `delivered`, and the next nudge
/// was glued onto it. Now it is a turn of its own, for an idle and for a busy session, and
/// `delivered` follows the turn.
#[test]
fn urgent_mail_is_a_turn_for_an_idle_and_a_busy_session_and_nothing_is_glued() {
    let town = crate::util::town_with_rig();
    sim_agent(&town, "slow", "GASTOWN_SIM_TURN_TIME = \"3s\"");
    let t = RunningTown::start_in(town);
    t.town
        .ok(&["agent", "spawn", "alpha/crew/idle", "--runtime", "sim"]);
    t.town
        .ok(&["agent", "spawn", "alpha/crew/busy", "--runtime", "slow"]);
    wait_prompt_after_startup(&t, "alpha/crew/idle");

    // Idle: the urgent notice is a turn (the sim reads the mail), then a nudge is its own turn.
    t.town.ok(&[
        "mail",
        "send",
        "alpha/crew/idle",
        "-s",
        "Fire drill",
        "-m",
        "leave now",
        "--urgent",
    ]);
    wait_screen(&t, "alpha/crew/idle", "MAIL: leave now");
    assert!(
        labels_of(&t, "alpha/crew/idle", "Fire drill").contains("delivered"),
        "delivered once the turn was taken"
    );
    t.town.ok(&["nudge", "alpha/crew/idle", "second thing"]);
    let screen = wait_screen(&t, "alpha/crew/idle", "ack: second thing");
    assert!(
        screen.lines().any(|l| l.trim_end() == "ack: second thing"),
        "the nudge is a prompt of its own, nothing glued before it:\n{screen}"
    );

    // Busy: a turn that works for 3 s; urgent mail sent meanwhile is queued as the next turn.
    wait_prompt_after_startup(&t, "alpha/crew/busy");
    t.town.ok(&["nudge", "alpha/crew/busy", "think hard"]);
    t.town.ok(&[
        "mail",
        "send",
        "alpha/crew/busy",
        "-s",
        "Stop that",
        "-m",
        "switch tasks",
        "--urgent",
    ]);
    wait_for("delivered while busy", Duration::from_secs(30), || {
        labels_of(&t, "alpha/crew/busy", "Stop that")
            .contains("delivered")
            .then_some(())
    });
    let screen = t.town.ok(&["peek", "alpha/crew/busy", "-n", "200"]);
    assert!(
        !screen.contains("MAIL: switch tasks"),
        "still working on the earlier turn:\n{screen}"
    );
    let screen = wait_screen(&t, "alpha/crew/busy", "MAIL: switch tasks");
    let acked = screen.find("ack: think hard").expect("the first turn");
    let read = screen.find("MAIL: switch tasks").expect("the mail");
    assert!(acked < read, "the mail is the next turn:\n{screen}");
}

/// A hook runtime (the sim dressed as Claude Code) idle at its prompt never runs its
/// UserPromptSubmit hook, so held mail would wait forever: after `[run] mail_announce_after` the
/// router types "you have mail", whose prompt runs the hook, which delivers it.
#[test]
fn mail_to_an_idle_hook_runtime_is_announced() {
    let town = crate::util::town_with_rig();
    town.ok(&[
        "config",
        "agent",
        "set",
        "hooked",
        "--preset",
        "claude",
        "--prompt",
        "typed",
        "--ready-marker",
        "sim>",
        env!("CARGO_BIN_EXE_gastown"),
        "sim-agent",
    ]);
    let path = town.root.join("town.toml");
    let text = std::fs::read_to_string(&path).expect("town.toml");
    let text = if text.lines().any(|l| l.trim() == "[run]") {
        text.replacen("[run]\n", "[run]\nmail_announce_after = \"300ms\"\n", 1)
    } else {
        format!("{text}\n[run]\nmail_announce_after = \"300ms\"\n")
    };
    std::fs::write(&path, text).expect("write town.toml");
    let t = RunningTown::start_in(town);
    t.town
        .ok(&["agent", "spawn", "alpha/crew/hk", "--runtime", "hooked"]);
    wait_prompt_after_startup(&t, "alpha/crew/hk");
    t.town.ok(&[
        "mail",
        "send",
        "alpha/crew/hk",
        "-s",
        "Quiet note",
        "-m",
        "whenever",
    ]);
    let screen = wait_screen(&t, "alpha/crew/hk", "from overseer: Quiet note");
    assert!(
        screen.contains("you have mail: run `gastown mail check`"),
        "announced:\n{screen}"
    );
    assert!(
        !screen.contains("mail from overseer: Quiet note —"),
        "the mail itself is not typed, the hook brings it:\n{screen}"
    );
    assert!(labels_of(&t, "alpha/crew/hk", "Quiet note").contains("delivered"));
    assert_eq!(
        t.log()
            .matches("told an idle hook runtime it has mail")
            .count(),
        1,
        "announced once"
    );
}

/// Seance (issue 16): Claude Code tells its own session id to its SessionStart hook, which
/// gastown writes as `gastown hook session-start`; the sim dressed as Claude runs that hook with
/// a session id as Claude does, and `gastown seance` prints the command that resumes it.
#[test]
fn seance_prints_the_resume_command_of_the_runtime_session_its_hook_told() {
    let town = crate::util::town_with_rig();
    town.ok(&[
        "config",
        "agent",
        "set",
        "hooked",
        "--preset",
        "claude",
        "--prompt",
        "typed",
        "--ready-marker",
        "sim>",
        env!("CARGO_BIN_EXE_gastown"),
        "sim-agent",
    ]);
    let t = RunningTown::start_in(town);
    t.town
        .ok(&["agent", "spawn", "alpha/crew/hk", "--runtime", "hooked"]);
    let screen = wait_screen(&t, "alpha/crew/hk", "lines of context");
    let id = screen
        .lines()
        .find_map(|l| l.strip_prefix("SESSION START "))
        .and_then(|rest| rest.split(':').next())
        .expect("the sim's session id")
        .to_string();
    let seance = wait_for(
        "the runtime session recorded",
        Duration::from_secs(30),
        || {
            let seance = t.town.ok(&["seance", "alpha/crew/hk"]);
            seance
                .contains(&format!("runtime session {id}"))
                .then_some(seance)
        },
    );
    let home = t.town.root.join("alpha/crew/hk/rig");
    assert!(
        seance.contains(&format!(
            "To talk to a predecessor: cd {} && {} --resume {id}",
            home.display(),
            env!("CARGO_BIN_EXE_gastown")
        )),
        "{seance}"
    );
}
