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
