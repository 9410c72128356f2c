//! Mail delivery into live sessions: the router types a notice into an idle sim session, which
//! reads the mail; do-not-disturb holds it until turned off; nothing is delivered twice.

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
