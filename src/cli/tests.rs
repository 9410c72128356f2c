//! The command line's grammar, checked on the whole clap tree: consistent, every argument with
//! help text, `--json` on every reading command, `--town` only where a town is acted on.

use super::Cli;
use clap::{Command, CommandFactory};

/// Every command of the tree with its path (`gastown mail group list`), hidden ones included.
fn commands() -> Vec<(String, Command)> {
    fn walk(path: String, cmd: &Command, out: &mut Vec<(String, Command)>) {
        for sub in cmd.get_subcommands() {
            walk(format!("{path} {}", sub.get_name()), sub, out);
        }
        out.push((path, cmd.clone()));
    }
    let mut cli = Cli::command();
    cli.build();
    let mut out = Vec::new();
    walk("gastown".to_string(), &cli, &mut out);
    out
}

fn find(path: &str) -> Command {
    commands()
        .into_iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("no command `{path}`"))
        .1
}

#[test]
fn cli_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn every_command_argument_and_flag_has_help_text() {
    let mut missing = Vec::new();
    for (path, cmd) in commands() {
        if cmd.get_about().is_none() && path != "gastown" {
            missing.push(format!("{path} (the command itself)"));
        }
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path}: {id}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "these have no help text: add a `///` doc comment to each:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn every_reading_command_takes_json() {
    let reading = [
        "gastown actors",
        "gastown actor",
        "gastown peek",
        "gastown hook",
        "gastown seance",
        "gastown bead show",
        "gastown bead list",
        "gastown bead ready",
        "gastown bead blocked",
        "gastown bead events",
        "gastown mail inbox",
        "gastown mail read",
        "gastown mail thread",
        "gastown mail search",
        "gastown mail check",
        "gastown mail group list",
        "gastown mail queue list",
        "gastown mail channel list",
        "gastown mol status",
        "gastown mol current",
        "gastown mq list",
        "gastown mq show",
        "gastown convoy list",
        "gastown convoy show",
        "gastown escalate list",
        "gastown escalate show",
        "gastown rig list",
        "gastown rig show",
        "gastown formula list",
        "gastown formula show",
        "gastown formula cook",
        "gastown config show",
        "gastown config agent list",
        "gastown config default-agent",
    ];
    let without: Vec<&str> = reading
        .into_iter()
        .filter(|path| {
            !find(path)
                .get_arguments()
                .any(|a| a.get_long() == Some("json"))
        })
        .collect();
    assert!(without.is_empty(), "no --json on: {without:?}");
}

#[test]
fn town_is_offered_where_a_town_is_acted_on_only() {
    let offers_town = |path: &str| {
        find(path)
            .get_arguments()
            .any(|a| a.get_long() == Some("town") && !a.is_hide_set())
    };
    for path in ["gastown install", "gastown demo", "gastown completions"] {
        assert!(!offers_town(path), "{path} offers --town");
    }
    for path in [
        "gastown bead list",
        "gastown mail send",
        "gastown run",
        "gastown actors",
    ] {
        assert!(offers_town(path), "{path} does not offer --town");
    }
}

#[test]
fn the_version_names_the_commit() {
    let version = Cli::command().get_version().expect("a version").to_string();
    assert!(version.starts_with(env!("CARGO_PKG_VERSION")), "{version}");
    assert!(version.contains(env!("GASTOWN_COMMIT")), "{version}");
}
