//! Dialogs are not prompts (issue 16): a session whose screen shows one of its runtime's
//! blocking dialogs is never typed into and shows as `blocked: …` in `gastown actors`; a dialog
//! with a safe answer (trust of the session's own directory) is answered by the session. The
//! sim shows such a dialog with `GASTOWN_SIM_DIALOG`, its ready marker `sim>` included, as
//! Claude Code's trust dialog shows `❯`: readiness alone would type into it. One nobody may
//! answer (a login) is escalated.

use crate::running::{RunningTown, wait_for};
use std::time::{Duration, Instant};

const MAX: &str = "alpha/crew/max";
const MAX_SESSION: &str = "town/rigs/alpha/crew/max/session";

fn screen(t: &RunningTown) -> String {
    // The whole ring replayed: whatever was ever printed, not only what is on the screen now.
    t.town.ok(&["peek", MAX, "-n", "200"])
}

#[test]
fn a_session_behind_a_login_dialog_is_blocked_and_never_typed_into() {
    let t = RunningTown::start_with_env(
        crate::util::town_with_rig(),
        &[("GASTOWN_SIM_DIALOG", "login")],
    );
    t.town.ok(&["agent", "spawn", MAX, "--runtime", "sim"]);
    let state = wait_for("the blocked state", Duration::from_secs(20), || {
        let node = t.node(MAX_SESSION)?;
        let state = node["state"].as_str()?.to_string();
        state.starts_with("blocked").then_some(state)
    });
    assert_eq!(
        state,
        "blocked: login: [sim dialog: login] Log in to continue."
    );
    // The startup prompt waits for the session to be idle; the sim's quiet period is 150 ms and
    // its ready marker is on the screen, so without the dialog check it is typed at once. Watch
    // for well over that.
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_millis(1500) {
        let seen = screen(&t);
        assert!(!seen.contains("typed into the dialog"), "{seen}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = t.town.ok(&["actors"]);
    assert!(text.contains("blocked: login"), "{text}");
    // Nobody may answer a login for the agent: once it has stayed up a while, it is escalated
    // (and mailed to the mayor and the overseer), once.
    let listed = wait_for("the escalation", Duration::from_secs(20), || {
        let listed = t.town.ok(&["escalate", "list"]);
        listed
            .contains("alpha/crew/max is blocked")
            .then_some(listed)
    });
    assert_eq!(listed.matches("is blocked").count(), 1, "{listed}");
    let mail = t.town.ok(&["mail", "inbox", "mayor", "--all"]);
    assert!(
        mail.contains("ESCALATION") && mail.contains("[high]"),
        "{mail}"
    );
}

#[test]
fn a_trust_dialog_is_answered_and_the_startup_prompt_typed_after_it() {
    let t = RunningTown::start_with_env(
        crate::util::town_with_rig(),
        &[("GASTOWN_SIM_DIALOG", "trust")],
    );
    t.town.ok(&["agent", "spawn", MAX, "--runtime", "sim"]);
    let seen = wait_for(
        "the startup prompt answered",
        Duration::from_secs(20),
        || {
            let seen = screen(&t);
            seen.contains("hook").then_some(seen)
        },
    );
    assert!(
        seen.contains("Gas Town sim agent"),
        "past the dialog: {seen}"
    );
    assert!(!seen.contains("typed into the dialog"), "{seen}");
    let node = t.node(MAX_SESSION).expect("the session");
    assert_eq!(node["state"], "running", "{node}");
}
