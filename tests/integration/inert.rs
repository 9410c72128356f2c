//! Text that reaches a terminal is inert (issue 14, item 7): a carriage return or an escape in
//! a mail subject or a nudge types one line into a real session, never a second command; titles
//! and subjects printed by the CLI carry no raw control character (JSON keeps them, escaped).

use crate::durable::custom_runtime;
use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, stdout, town_with_rig};
use std::time::Duration;

/// The lines a "reader" session has read from its terminal so far.
fn typed(file: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_carriage_return_in_a_subject_or_a_nudge_types_one_line_into_the_session() {
    let town = town_with_rig();
    let file = town.root.parent().expect("parent").join("typed");
    // Every line the session's terminal submits is appended to `file`.
    let body = format!(
        "while IFS= read -r line; do printf '%s\\n' \"$line\" >> {}; done",
        file.display()
    );
    custom_runtime(&town, "reader", &body);
    let bead = town.create(&["Read lines"]);
    let t = RunningTown::start_in(town);
    let out = t.town.ok(&["sling", &bead, "alpha", "--runtime", "reader"]);
    let agent = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("slung {bead} to ")))
        .unwrap_or_else(|| panic!("no sling line: {out}"))
        .trim()
        .to_string();
    wait_for("the reader session", Duration::from_secs(60), || {
        t.session_pid(&format!("town/rigs/{agent}"))
    });

    // Urgent mail is typed at once (a hooked agent gets only urgent mail typed).
    t.town.ok(&[
        "mail",
        "send",
        &agent,
        "-s",
        "x\rrm -rf /\r",
        "-m",
        "body",
        "--urgent",
    ]);
    let lines = wait_for("the mail notice typed", Duration::from_secs(30), || {
        let lines = typed(&file);
        lines
            .iter()
            .any(|l| l.contains("gastown mail read"))
            .then_some(lines)
    });
    assert_eq!(lines.len(), 1, "exactly one line typed: {lines:?}");
    assert!(
        lines[0].contains("mail from overseer: x rm -rf / "),
        "{lines:?}"
    );

    // A nudge is one line too, its escape shown, not sent.
    t.town.ok(&["nudge", &agent, "one\rtwo\x1b[2J"]);
    let lines = wait_for("the nudge typed", Duration::from_secs(30), || {
        let lines = typed(&file);
        (lines.len() >= 2).then_some(lines)
    });
    assert_eq!(lines[1], "one two^[[2J", "{lines:?}");
    assert!(
        lines.iter().all(|l| !l.contains('\x1b')),
        "no raw escape reached the session: {lines:?}"
    );
}

#[test]
fn titles_and_subjects_print_without_raw_control_characters() {
    let town = TestTown::new();
    let id = town.create(&["\x1b[2Jwiped\rfake line"]);
    town.ok(&[
        "mail",
        "send",
        "mayor",
        "-s",
        "\x1b]0;retitled\x07hi",
        "-m",
        "body\x1b[31m",
    ]);
    for args in [
        vec!["bead", "list"],
        vec!["bead", "show", &id],
        vec!["mail", "inbox", "mayor"],
        vec!["mail", "inbox", "mayor", "--all"],
    ] {
        let out = town.run(&args);
        assert!(out.status.success(), "{args:?}");
        let text = stdout(&out);
        assert!(
            !out.stdout.contains(&0x1b)
                && !out.stdout.contains(&b'\r')
                && !out.stdout.contains(&0x07),
            "{args:?} printed a raw control character: {text:?}"
        );
        assert!(
            text.contains("^["),
            "{args:?}: the escape is shown: {text:?}"
        );
    }
    let shown = town.ok(&["bead", "show", &id]);
    assert!(shown.contains("^[[2Jwiped^Mfake line"), "{shown}");
    // JSON is unchanged: the title round-trips, escaped by JSON itself.
    let json = town.ok(&["bead", "show", &id, "--json"]);
    let bead: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(bead["title"], "\x1b[2Jwiped\rfake line");
}
