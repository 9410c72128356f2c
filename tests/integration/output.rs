//! Output to a closed pipe: `gastown … | head` must end quietly with status 0 (ripgrep's habit),
//! never with a panic. The pipe's read end is closed before the binary starts, so its first write
//! meets a broken pipe every time.

use crate::util::{TestTown, stderr};
use std::process::{Command, Stdio};

/// Run `gastown <args>` in `town` with stdout a pipe nobody reads any more.
fn into_closed_pipe(town: &TestTown, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&town.root)
        .env_remove("GASTOWN_TOWN")
        .env_remove("GASTOWN_AGENT")
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("the gastown binary runs")
}

fn check_quiet_success(town: &TestTown, args: &[&str]) {
    let out = into_closed_pipe(town, args);
    let err = stderr(&out);
    assert!(
        out.status.success(),
        "gastown {args:?} into a closed pipe exited with {}: {err}",
        out.status
    );
    assert!(
        !err.contains("panicked"),
        "gastown {args:?} panicked: {err}"
    );
}

#[test]
fn completions_into_a_closed_pipe_succeed_quietly() {
    let town = TestTown::new();
    for shell in ["zsh", "bash", "fish"] {
        check_quiet_success(&town, &["completions", shell]);
    }
}

#[test]
fn ledger_output_into_a_closed_pipe_succeeds_quietly() {
    let town = TestTown::new();
    for i in 0..3 {
        town.create(&[&format!("Task {i}")]);
    }
    check_quiet_success(&town, &["bead", "list"]);
    check_quiet_success(&town, &["bead", "export"]);
    check_quiet_success(&town, &["--help"]);
}

#[test]
fn completions_through_head_print_the_first_lines() {
    // The shape users type: the first lines arrive, the rest is dropped without a panic.
    let town = TestTown::new();
    let exe = env!("CARGO_BIN_EXE_gastown");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("'{exe}' completions zsh | head -3"))
        .current_dir(&town.root)
        .output()
        .expect("sh runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains("gastown"), "{text}");
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}
