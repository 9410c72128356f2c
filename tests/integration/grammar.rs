//! One CLI grammar: agents named by address, `--json` on reading commands (their output as
//! the same typed reply renders it), `--town` only where a town is acted on, a `--version`
//! that names the commit.

use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, stderr, stdout};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const MAX: &str = "town/rigs/alpha/crew/max";

#[test]
fn the_version_names_the_commit() {
    let out = Command::new(env!("CARGO_BIN_EXE_gastown"))
        .arg("--version")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown commit".to_string());
    assert_eq!(
        stdout(&out),
        format!("gastown {} ({commit})\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn town_is_refused_where_it_means_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("new-town");
    let target = target.to_str().expect("utf-8");
    let gastown = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gastown"))
            .current_dir(dir.path())
            .env_remove("GASTOWN_TOWN")
            .args(args)
            .output()
            .expect("runs")
    };
    for args in [
        vec!["--town", "/elsewhere", "install", target],
        vec!["install", target, "--town", "/elsewhere"],
        vec!["completions", "bash", "--town", "/elsewhere"],
        vec!["--town", "/elsewhere", "demo"],
    ] {
        let out = gastown(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("--town means nothing"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert!(!Path::new(target).exists(), "nothing was installed");
    let help = stdout(&gastown(&["install", "--help"]));
    assert!(!help.contains("--town"), "{help}");
    // GASTOWN_TOWN in the environment (as in every agent session) is no error.
    let out = Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(dir.path())
        .env("GASTOWN_TOWN", "/elsewhere")
        .args(["completions", "bash"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn agents_are_named_by_address_and_reading_commands_speak_json() {
    let t = RunningTown::start();
    let bead = t.town.create(&["Fix the parser"]);
    t.town.ok(&[
        "hook",
        "attach",
        &bead,
        "--agent",
        "alpha/crew/max",
        "--force",
    ]);
    // The hook starts its session (the town's default runtime: sim).
    wait_for("a session", Duration::from_secs(30), || t.session_pid(MAX));

    let role = json(&t.town.ok(&["actor", "alpha/crew/max", "--json"]));
    assert_eq!(role["actor"]["path"], MAX);
    let session = json(&t.town.ok(&["actor", "alpha/crew/max/session", "--json"]));
    assert_eq!(session["actor"]["path"], format!("{MAX}/session"));
    let by_path = json(&t.town.ok(&["actor", &format!("{MAX}/session"), "--json"]));
    assert_eq!(by_path["actor"]["pid"], session["actor"]["pid"]);
    let err = t.town.fails(&["actor", "alpha/crew/nobody"]);
    assert!(err.contains("by its address"), "{err}");

    let screen = wait_for("the sim prompt", Duration::from_secs(30), || {
        let peek = json(&t.town.ok(&["peek", "alpha/crew/max", "--json"]));
        peek["screen"]
            .as_str()
            .is_some_and(|s| s.contains("sim>"))
            .then_some(peek)
    });
    assert_eq!(screen["agent"], "alpha/crew/max");

    let hook = json(&t.town.ok(&["hook", "--agent", "alpha/crew/max", "--json"]));
    assert_eq!(hook["address"], "alpha/crew/max");
    assert_eq!(hook["beads"][0]["id"], bead.as_str());
    assert_eq!(hook["beads"][0]["status"], "hooked");
    let text = t.town.ok(&["hook", "--agent", "alpha/crew/max"]);
    assert_eq!(
        text,
        format!("alpha/crew/max hook: {bead} Fix the parser\n")
    );

    let seance = json(&t.town.ok(&["seance", "alpha/crew/max", "--json"]));
    assert_eq!(seance["agent"], "alpha/crew/max");
    assert_eq!(seance["sessions"][0]["runtime"], "sim");
}

#[test]
fn mail_lists_and_the_default_agent_speak_json_without_a_supervisor() {
    let town = TestTown::new();
    town.ok(&["mail", "group", "create", "team", "mayor", "deacon"]);
    town.ok(&["mail", "queue", "create", "work"]);
    town.ok(&["mail", "send", "queue:work", "-s", "triage", "-m", "x"]);
    town.ok(&["mail", "channel", "create", "news"]);
    town.ok(&["mail", "channel", "subscribe", "news", "mayor"]);

    let groups = json(&town.ok(&["mail", "group", "list", "team", "--json"]));
    assert_eq!(
        groups,
        serde_json::json!([{"name": "team", "members": ["deacon", "mayor"]}])
    );
    let queues = json(&town.ok(&["mail", "queue", "list", "--json"]));
    assert_eq!(queues, serde_json::json!([{"name": "work", "open": 1}]));
    let items = json(&town.ok(&["mail", "queue", "list", "work", "--json"]));
    assert_eq!(items[0]["title"], "triage");
    assert_eq!(items[0]["claimant"], serde_json::Value::Null);
    let channels = json(&town.ok(&["mail", "channel", "list", "--json"]));
    assert_eq!(
        channels,
        serde_json::json!([{"address": "channel:news", "subscribers": ["mayor"]}])
    );
    // The text listings are what they were.
    assert_eq!(town.ok(&["mail", "queue", "list"]), "queue:work (1 open)\n");
    assert_eq!(
        town.ok(&["mail", "channel", "list"]),
        "channel:news: mayor\n"
    );

    let unread = json(&town.ok(&["mail", "check", "--json"]));
    assert!(unread.as_array().is_some_and(Vec::is_empty), "{unread}");

    let agent = json(&town.ok(&["config", "default-agent", "--json"]));
    assert_eq!(agent, serde_json::json!({"default_agent": "sim"}));
}
