//! Configuration by command through the real binary: `gastown rig config` (rig.toml knobs, comments
//! kept, bad values refused naming the key), `gastown config agent set --env/--unset-env`, and
//! `gastown config agent check` starting runtimes in a real PTY (the sim reaches its prompt; a
//! program that exits, one that never shows its marker, and a missing one are reported).

use crate::util::{TestTown, town_with_rig};
use std::fs;

fn rig_toml(town: &TestTown) -> String {
    fs::read_to_string(town.root.join("alpha/rig.toml")).expect("rig.toml")
}

#[test]
fn rig_config_set_unset_show_keeps_comments_and_refuses_bad_values() {
    let town = town_with_rig();
    // A comment of the user's, committed as a person would.
    let text = format!("# alpha: my notes\n{}", rig_toml(&town));
    fs::write(town.root.join("alpha/rig.toml"), text).expect("write");
    town.git(&["commit", "-qam", "my note"]);

    let out = town.ok(&[
        "rig",
        "config",
        "alpha",
        "set",
        "gates.test",
        "true && true",
    ]);
    assert!(out.contains("alpha: gates.test = true && true"), "{out}");
    assert!(out.contains("committed"), "{out}");
    let out = town.ok(&[
        "rig",
        "config",
        "alpha",
        "set",
        "witness.stall_after",
        "10m",
    ]);
    assert!(out.contains("restart `gastown run`"), "{out}");
    town.ok(&["rig", "config", "alpha", "set", "merge_strategy", "squash"]);
    town.ok(&["rig", "config", "alpha", "unset", "witness.stall_after"]);
    let text = rig_toml(&town);
    assert!(text.starts_with("# alpha: my notes\n"), "{text}");
    assert!(text.contains("test = \"true && true\""), "{text}");
    assert!(text.contains("merge_strategy = \"squash\""), "{text}");
    assert_eq!(town.git(&["status", "--porcelain"]), "", "committed");

    let shown: serde_json::Value =
        serde_json::from_str(&town.ok(&["rig", "config", "alpha", "show", "--json"]))
            .expect("JSON");
    let knob = |key: &str| {
        shown["knobs"]
            .as_array()
            .expect("knobs")
            .iter()
            .find(|k| k["key"] == key)
            .unwrap_or_else(|| panic!("{key} in {shown}"))
            .clone()
    };
    assert_eq!(knob("gates.test")["value"], "true && true");
    assert_eq!(knob("merge_strategy")["value"], "squash");
    assert_eq!(knob("witness.stall_after")["value"], "5m");
    assert_eq!(knob("witness.stall_after")["set"], false);
    // The gate set by command is the one `rig gate` runs.
    town.ok(&["rig", "gate", "alpha", "test"]);
    let text_out = town.ok(&["rig", "config", "alpha", "show"]);
    assert!(text_out.contains("witness.nudges"), "{text_out}");

    let before = rig_toml(&town);
    for (args, needle) in [
        (
            vec!["set", "witness.stall_after", "soon"],
            "bad value \"soon\" for `witness.stall_after`",
        ),
        (
            vec!["set", "colour", "red"],
            "unknown rig.toml key \"colour\"",
        ),
        (vec!["set", "nudges", "3"], "did you mean `witness.nudges`"),
        (vec!["set", "refinery.push", "maybe"], "true or false"),
        (
            vec!["set", "witness.hung_after", "0s"],
            "witness.hung_after",
        ),
        (vec!["unset", "name"], "unknown rig.toml key \"name\""),
    ] {
        let mut full = vec!["rig", "config", "alpha"];
        full.extend(args.iter().copied());
        let err = town.fails(&full);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let err = town.fails(&["rig", "config", "nosuch", "set", "batch", "2"]);
    assert!(err.contains("no rig named \"nosuch\""), "{err}");
    assert_eq!(rig_toml(&town), before, "nothing written");
}

#[test]
fn agent_set_env_and_unset_env_by_command() {
    let town = TestTown::new();
    let out = town.ok(&[
        "config",
        "agent",
        "set",
        "claude",
        "--env",
        "ANTHROPIC_BASE_URL=http://127.0.0.1:9",
    ]);
    assert!(
        out.contains(
            "claude runs `claude --dangerously-skip-permissions` with env ANTHROPIC_BASE_URL"
        ),
        "{out}"
    );
    let list: serde_json::Value =
        serde_json::from_str(&town.ok(&["config", "agent", "list", "--json"])).expect("JSON");
    let claude = list
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["name"] == "claude")
        .expect("listed")
        .clone();
    assert_eq!(claude["kind"], "override");
    assert_eq!(claude["env"]["ANTHROPIC_BASE_URL"], "http://127.0.0.1:9");
    assert_eq!(claude["prompt"], "argument", "still behaves like claude");

    let out = town.run(&[
        "config",
        "agent",
        "set",
        "claude",
        "--env",
        "ANTHROPIC_API_KEY=sk-x",
    ]);
    assert!(out.status.success());
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(
        warning.contains("ANTHROPIC_API_KEY is now in town.toml"),
        "{warning}"
    );

    town.ok(&[
        "config",
        "agent",
        "set",
        "claude",
        "--unset-env",
        "ANTHROPIC_API_KEY",
    ]);
    let text = fs::read_to_string(town.root.join("town.toml")).expect("town.toml");
    assert!(!text.contains("ANTHROPIC_API_KEY"), "{text}");
    assert!(text.contains("ANTHROPIC_BASE_URL"), "{text}");

    let err = town.fails(&["config", "agent", "set", "claude", "--env", "NOEQUALS"]);
    assert!(err.contains("--env \"NOEQUALS\" has no `=`"), "{err}");
    let err = town.fails(&["config", "agent", "set", "ghost", "--env", "A=1"]);
    assert!(err.contains("ghost is not defined yet"), "{err}");
    let err = town.fails(&[
        "config",
        "agent",
        "set",
        "x",
        "codex --thinking low",
        "--env",
        "A=1",
    ]);
    assert!(
        err.contains("put options (--env, --preset, …) before it"),
        "{err}"
    );
    assert_eq!(town.git(&["status", "--porcelain"]), "");
}

/// A runtime with accounts is checked under one of them: the one named, else the first that
/// can take a session; an account it does not have is refused naming the ones it has.
#[test]
fn agent_check_runs_under_an_account() {
    let town = TestTown::new();
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str(
        "\n[agents.sim]\n\n[[agents.sim.accounts]]\nname = \"a\"\nenv = { GASTOWN_SIM_ACCOUNT = \"a\" }\n\n\
         [[agents.sim.accounts]]\nname = \"b\"\nenv = { GASTOWN_SIM_ACCOUNT = \"b\" }\n",
    );
    std::fs::write(&config, text).expect("write town.toml");
    let check = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["config", "agent", "check", "sim", "--json"];
        args.extend_from_slice(extra);
        serde_json::from_str(&town.ok(&args)).expect("JSON")
    };
    let first = check(&[]);
    assert_eq!(
        (&first["outcome"], &first["account"]),
        (&"ready".into(), &"a".into())
    );
    let named = check(&["--account", "b"]);
    assert_eq!(
        (&named["outcome"], &named["account"]),
        (&"ready".into(), &"b".into())
    );
    let text = town.ok(&["config", "agent", "check", "sim", "--account", "b"]);
    assert!(text.contains("agent sim (account b)"), "{text}");
    let err = town.fails(&["config", "agent", "check", "sim", "--account", "zz"]);
    assert!(
        err.contains("runtime sim has no account \"zz\": its accounts are a, b"),
        "{err}"
    );
}

#[test]
fn agent_check_starts_the_runtime_in_a_pty() {
    let town = TestTown::new();
    let out = town.ok(&["config", "agent", "check", "sim"]);
    assert!(out.contains("result:  ok"), "{out}");
    assert!(out.contains("sim>"), "the screen is shown: {out}");
    let report: serde_json::Value =
        serde_json::from_str(&town.ok(&["config", "agent", "check", "sim", "--json"]))
            .expect("JSON");
    assert_eq!(report["outcome"], "ready");

    // A CLI that dies at start.
    town.ok(&[
        "config",
        "agent",
        "set",
        "dies",
        "sh",
        "-c",
        "echo broken; exit 3",
    ]);
    let out = town.run(&["config", "agent", "check", "dies"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("exited") && text.contains("broken"), "{text}");

    // A CLI that draws something but never its prompt (a dialog, say).
    town.ok(&[
        "config",
        "agent",
        "set",
        "--ready-marker",
        "READY>",
        "stuck",
        "sh",
        "-c",
        "echo 'Do you trust this folder?'; sleep 30",
    ]);
    let out = town.run(&["config", "agent", "check", "stuck", "--timeout", "2s"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no ready marker \"READY>\"") && text.contains("Do you trust this folder?"),
        "{text}"
    );

    // No marker, and silent while it loads: quiet counts only once something is drawn.
    let toml = fs::read_to_string(town.root.join("town.toml")).expect("town.toml");
    let slow = "\n[agents.slow]\ncommand = \"sh\"\nargs = [\"-c\", \"sleep 1; printf 'slow> '; sleep 30\"]\nquiet_period = \"300ms\"\n";
    fs::write(town.root.join("town.toml"), format!("{toml}{slow}")).expect("write");
    town.git(&["commit", "-qam", "agent slow"]);
    let report: serde_json::Value =
        serde_json::from_str(&town.ok(&["config", "agent", "check", "slow", "--json"]))
            .expect("JSON");
    assert_eq!(report["outcome"], "quiet", "{report}");
    assert!(
        report["screen"]
            .as_str()
            .is_some_and(|s| s.contains("slow>")),
        "{report}"
    );

    town.ok(&["config", "agent", "set", "gone", "/nonexistent/agent-cli"]);
    let err = town.fails(&["config", "agent", "check", "gone"]);
    assert!(
        err.contains("cannot run here") && err.contains("does not exist"),
        "{err}"
    );
    let err = town.fails(&["config", "agent", "check", "nosuch"]);
    assert!(err.contains("unknown agent runtime \"nosuch\""), "{err}");
    let err = town.fails(&["config", "agent", "check", "sim", "--timeout", "soon"]);
    assert!(err.contains("30s"), "{err}");
}

/// The check watches the runtime's dialogs as a session does: behind a dialog nobody may answer
/// (the sim's login, which shows the ready marker like Claude's screens do) it is `blocked`, not
/// ready, and exits non-zero naming the dialog; the trust dialog, which a session answers, is
/// answered and the prompt reached.
#[test]
fn agent_check_reports_a_dialog_as_blocked() {
    let town = TestTown::new();
    let config = town.root.join("town.toml");
    let plain = fs::read_to_string(&config).expect("town.toml");
    let sim_behind = |dialog: &str| {
        let text =
            format!("{plain}\n[agents.sim]\nenv = {{ GASTOWN_SIM_DIALOG = \"{dialog}\" }}\n");
        fs::write(&config, text).expect("write town.toml");
    };
    sim_behind("login");
    let out = town.run(&["config", "agent", "check", "sim", "--timeout", "20s"]);
    assert!(!out.status.success(), "a login dialog is no prompt");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("result:  blocked — blocked: login: [sim dialog: login]"),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("agent sim is blocked: login: [sim dialog: login]")
            && err.contains("answer it once by hand"),
        "{err}"
    );

    sim_behind("trust");
    let report: serde_json::Value =
        serde_json::from_str(&town.ok(&["config", "agent", "check", "sim", "--json"]))
            .expect("JSON");
    assert_eq!(report["outcome"], "ready", "trust is answered: {report}");
}
