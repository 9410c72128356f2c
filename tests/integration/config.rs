//! `gastown config`: agent runtimes through the real binary — town.toml edited in place with
//! comments kept, every change committed (clean work tree), bad input refused with nothing
//! changed.

use crate::running::{RunningTown, wait_for};
use crate::util::TestTown;
use std::fs;
use std::time::Duration;

fn town_toml(town: &TestTown) -> String {
    fs::read_to_string(town.root.join("town.toml")).expect("town.toml")
}

fn assert_clean(town: &TestTown) {
    assert_eq!(
        town.git(&["status", "--porcelain"]),
        "",
        "work tree is clean"
    );
}

/// Add a comment of the user's to town.toml and commit it, as a person would.
fn with_user_comment(town: &TestTown) {
    let text = format!("{}\n# keep me: my own note\n", town_toml(town));
    fs::write(town.root.join("town.toml"), text).expect("write");
    town.git(&["commit", "-qam", "my note"]);
}

#[test]
fn agent_set_list_default_and_remove_round_trip() {
    let town = TestTown::new();
    with_user_comment(&town);
    let out = town.ok(&[
        "config",
        "agent",
        "set",
        "codex-low",
        "codex --thinking low",
    ]);
    assert!(
        out.contains("codex-low runs `codex --thinking low`"),
        "{out}"
    );
    let out = town.ok(&[
        "config",
        "agent",
        "set",
        "claude-glm",
        "claude-glm",
        "--model",
        "glm-4",
    ]);
    assert!(out.contains("claude-glm --model glm-4"), "{out}");
    let text = town_toml(&town);
    assert!(text.contains("# keep me: my own note"), "{text}");
    assert!(text.contains("[agents.codex-low]"), "{text}");
    assert_clean(&town);

    let list: serde_json::Value =
        serde_json::from_str(&town.ok(&["config", "agent", "list", "--json"])).expect("JSON");
    let rows = list.as_array().expect("array");
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed in {list}"))
            .clone()
    };
    for preset in [
        "claude", "codex", "gemini", "cursor", "auggie", "amp", "opencode", "copilot",
    ] {
        assert_eq!(row(preset)["kind"], "preset", "{preset}");
    }
    assert_eq!(row("sim")["default"], true);
    let low = row("codex-low");
    assert_eq!(low["kind"], "custom");
    assert_eq!(
        low["command"],
        serde_json::json!(["codex", "--thinking", "low"])
    );
    assert_eq!(low["prompt"], "typed", "codex-low behaves like codex");

    assert!(
        town.ok(&["config", "default-agent", "codex-low"])
            .contains("codex-low")
    );
    assert_eq!(town.ok(&["config", "default-agent"]).trim(), "codex-low");
    let text = town.ok(&["config", "agent", "list"]);
    let starred: Vec<&str> = text.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(starred.len(), 1, "{text}");
    assert!(starred[0].contains("codex-low"), "{text}");
    let show = town.ok(&["config", "show"]);
    assert!(show.contains("default agent: codex-low"), "{show}");
    assert_clean(&town);

    let err = town.fails(&["config", "agent", "remove", "codex-low"]);
    assert!(err.contains("default agent"), "{err}");
    town.ok(&["config", "default-agent", "claude"]);
    town.ok(&["config", "agent", "remove", "codex-low"]);
    let text = town_toml(&town);
    assert!(!text.contains("codex-low"), "{text}");
    assert!(text.contains("# keep me: my own note"), "{text}");
    assert!(text.contains("default_agent = \"claude\""), "{text}");
    assert_clean(&town);
    let log = town.git(&["log", "--format=%s"]);
    assert!(
        log.contains("gastown config agent remove codex-low"),
        "{log}"
    );
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let town = TestTown::new();
    let before = town_toml(&town);
    let head = town.git(&["rev-parse", "HEAD"]);
    let check = |args: &[&str], needle: &str| {
        let err = town.fails(args);
        assert!(err.contains(needle), "gastown {args:?}: {err}");
    };
    check(
        &["config", "default-agent", "ghost"],
        "known runtimes are sim, claude, codex",
    );
    check(
        &["config", "agent", "remove", "claude"],
        "built-in runtime and cannot be removed",
    );
    check(&["config", "agent", "remove", "ghost"], "no custom agent");
    check(&["config", "agent", "set", "x", ""], "empty command");
    check(&["config", "agent", "set", "x", "codex 'unclosed"], "split");
    check(
        &["config", "agent", "set", "sim", "codex"],
        "cannot be redefined",
    );
    check(
        &["config", "agent", "set", "../x", "codex"],
        "not a simple name",
    );
    check(
        &["config", "agent", "set", "--preset", "clod", "x", "codex"],
        "unknown preset",
    );
    assert_eq!(town_toml(&town), before);
    assert_eq!(town.git(&["rev-parse", "HEAD"]), head, "nothing committed");
    assert_clean(&town);
}

#[test]
fn unknown_names_list_custom_agents_too_and_show_reports_them() {
    let town = TestTown::new();
    town.ok(&["config", "agent", "set", "mine", "my-agent --fast"]);
    let err = town.fails(&["config", "default-agent", "nope"]);
    assert!(err.contains("mine"), "custom agents are listed too: {err}");
    let show: serde_json::Value =
        serde_json::from_str(&town.ok(&["config", "show", "--json"])).expect("JSON");
    assert_eq!(show["default_agent"], "sim");
    assert_eq!(show["agents"][0]["command"], "my-agent --fast");
}

#[test]
fn a_custom_agent_set_while_the_supervisor_runs_is_spawned_with_its_typed_prompt() {
    let t = RunningTown::start();
    t.town.ok(&[
        "config",
        "agent",
        "set",
        "--ready-marker",
        "READY",
        "echoer",
        "sh -c 'echo READY; exec cat'",
    ]);
    t.town
        .ok(&["agent", "spawn", "alpha/crew/max", "--runtime", "echoer"]);
    let screen = wait_for("the typed startup prompt", Duration::from_secs(20), || {
        let out = t.town.run(&["peek", "alpha/crew/max"]);
        let text = crate::util::stdout(&out);
        (text.contains("READY") && text.contains("You are alpha/crew/max")).then_some(text)
    });
    assert!(screen.contains("gastown prime"), "{screen}");
    let err = t
        .town
        .fails(&["agent", "spawn", "alpha/crew/bob", "--runtime", "ghost"]);
    assert!(
        err.contains("unknown agent runtime \"ghost\"") && err.contains("echoer"),
        "{err}"
    );
}

/// Durations in town.toml are parsed when the town is read: a bad or zero one is refused at
/// once, naming the key and what to write, before any command does anything.
#[test]
fn a_bad_duration_in_town_toml_is_refused_at_load_naming_the_key() {
    let town = TestTown::new();
    let path = town.root.join("town.toml");
    let original = std::fs::read_to_string(&path).expect("town.toml");
    let with = |from: &str, to: &str| {
        assert!(original.contains(from), "{original}");
        std::fs::write(&path, original.replace(from, to)).expect("write");
    };
    for (from, to, expect) in [
        (
            "patrol_interval = \"30s\"",
            "patrol_interval = \"soon\"",
            ["patrol_interval", "soon"],
        ),
        (
            "patrol_interval = \"30s\"",
            "patrol_interval = \"0s\"",
            ["run.patrol_interval", "is 0"],
        ),
        (
            "commit_delay = \"1s\"",
            "commit_delay = \"later\"",
            ["commit_delay", "later"],
        ),
        (
            "patrol_interval = \"30s\"",
            "patrol_interval = \"30s\"\ndog_idle_after = \"0s\"",
            ["run.dog_idle_after", "is 0"],
        ),
    ] {
        with(from, to);
        let err = town.fails(&["bead", "list"]);
        for word in expect {
            assert!(err.contains(word), "{to}: {err}");
        }
    }
    with("patrol_interval = \"30s\"", "patrol_interval = \"1m 30s\"");
    town.ok(&["bead", "list"]);
}
