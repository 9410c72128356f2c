//! Changing the town's agent configuration: `town.toml` is edited in place with `toml_edit`, so
//! the user's comments, order and formatting survive; the result is checked by reading it back
//! as a town config, then written and committed to the town repository (its work tree stays
//! clean).

use super::{by_name, custom, known_names};
use crate::git_cli::git;
use crate::identity::{SIMPLE_NAME_RULE, simple_name_problem};
use crate::runtimes::spec::{PRESET_NAMES, PromptMode, SIM_NAME, preset};
use crate::town::{CONFIG_FILE, Town, TownConfig};
use anyhow::{Context, Result, bail};
use std::fs;
use std::path::Path;
use toml_edit::{Array, DocumentMut, Item, Table, value};

/// What `gastown config agent set` may say besides the command.
#[derive(Debug, Clone, Default)]
pub struct SetOptions {
    /// Behave like this preset.
    pub preset: Option<String>,
    pub prompt: Option<PromptMode>,
    pub ready_marker: Option<String>,
    /// `--env K=V`, already split by [`parse_env`]: set in `[agents.<name>] env`.
    pub env: Vec<(String, String)>,
    /// `--unset-env K`: removed from `[agents.<name>] env`.
    pub unset_env: Vec<String>,
    /// `--program P`: the program, keeping the arguments.
    pub program: Option<String>,
    /// `--args "…"`, already split: the arguments, keeping the program (empty: none).
    pub args: Option<Vec<String>>,
}

impl SetOptions {
    /// Whether anything besides the command is to be set.
    fn changes_anything(&self) -> bool {
        self.preset.is_some()
            || self.prompt.is_some()
            || self.ready_marker.is_some()
            || !self.env.is_empty()
            || !self.unset_env.is_empty()
    }
}

/// `--env KEY=VALUE` split at its first `=`; the key must be an environment variable name.
pub fn parse_env(text: &str) -> Result<(String, String)> {
    let Some((key, value)) = text.split_once('=') else {
        bail!(
            "--env {text:?} has no `=`: give KEY=VALUE, e.g. \
             --env ANTHROPIC_BASE_URL=http://127.0.0.1:8080 (remove one with --unset-env KEY)"
        );
    };
    check_env_key(key).with_context(|| format!("--env {text:?}"))?;
    Ok((key.to_string(), value.to_string()))
}

/// An environment variable name: a letter or `_`, then letters, digits and `_`.
fn check_env_key(key: &str) -> Result<()> {
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!(
            "{key:?} is not an environment variable name: use letters, digits and `_`, not \
             starting with a digit"
        );
    }
    Ok(())
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// town.toml changed and the change is committed.
    Committed,
    /// town.toml already said so; nothing was written.
    Unchanged,
}

/// `gastown config agent set <name> [<command…>]`: one word is a command line split with shell
/// rules (`"codex --thinking low"`), several words are the program and its arguments as given.
/// Without a command an agent of town.toml keeps its own, and a preset's name makes an agent of
/// that name with the preset's command (so `set claude --env K=V` changes only the environment).
pub fn set_agent(town: &Town, name: &str, words: &[String], opts: &SetOptions) -> Result<Change> {
    check_agent_name(name)?;
    let argv = command_of(town, name, words, opts)?;
    if let Some(p) = &opts.preset
        && preset(p).is_none()
    {
        bail!(
            "unknown preset {p:?}: presets are {}",
            PRESET_NAMES.join(", ")
        );
    }
    for (key, _) in &opts.env {
        check_env_key(key)?;
    }
    let current_env = town.config.agents.get(name).map(|a| &a.env);
    for key in &opts.unset_env {
        check_env_key(key).with_context(|| format!("--unset-env {key:?}"))?;
        let set_now = opts.env.iter().any(|(k, _)| k == key);
        if !set_now && !current_env.is_some_and(|env| env.contains_key(key)) {
            let keys: Vec<&str> = current_env
                .map(|env| env.keys().map(String::as_str).collect())
                .unwrap_or_default();
            bail!(
                "--unset-env {key}: agent {name} has no {key} in its env (it has: {})",
                if keys.is_empty() {
                    "none".to_string()
                } else {
                    keys.join(", ")
                }
            );
        }
    }
    let message = set_message(name, argv.as_deref(), opts);
    apply_change(town, &message, |doc| {
        let agents = agents_table(doc);
        let entry = agents
            .entry(name)
            .or_insert_with(|| Item::Table(Table::new()))
            .as_table_mut()
            .with_context(|| format!("[agents.{name}] in town.toml is not a table"))?;
        if let Some(argv) = &argv {
            entry["command"] = value(argv[0].as_str());
            if argv.len() > 1 {
                entry["args"] = value(argv[1..].iter().collect::<Array>());
            } else {
                entry.remove("args");
            }
        }
        if let Some(p) = &opts.preset {
            entry["preset"] = value(p.as_str());
        }
        if let Some(prompt) = opts.prompt {
            entry["prompt"] = value(prompt_text(prompt));
        }
        if let Some(marker) = &opts.ready_marker {
            entry["ready_marker"] = value(marker.as_str());
        }
        edit_env(entry, name, opts)
    })
}

/// The command line to write (`None`: keep the agent's own): the words given, else the agent's
/// or its preset's command with `--program` / `--args` put in.
fn command_of(
    town: &Town,
    name: &str,
    words: &[String],
    opts: &SetOptions,
) -> Result<Option<Vec<String>>> {
    let replaces = opts.program.is_some() || opts.args.is_some();
    if !words.is_empty() {
        if replaces {
            bail!(
                "give agent {name}'s command either as words after the name or with --program \
                 and --args, not both"
            );
        }
        return command_words(words).map(Some);
    }
    if !replaces && !opts.changes_anything() {
        bail!(
            "nothing to set for agent {name}: give its command (`gastown config agent set \
             {name} \"<command> [args…]\"`) or options such as --env KEY=VALUE"
        );
    }
    let base = match (town.config.agents.get(name), preset(name)) {
        (Some(cfg), _) => {
            let mut argv = vec![cfg.command.clone()];
            argv.extend(cfg.args.iter().cloned());
            argv
        }
        (None, Some(rt)) => rt.command(),
        (None, None) => match &opts.program {
            Some(program) => vec![program.clone()],
            None => bail!(
                "agent {name} is not defined yet: give its command, e.g. `gastown config agent \
                 set {name} \"<command> [args…]\"` or `--program <program>` (agents: {})",
                custom_names(town)
            ),
        },
    };
    if !replaces && town.config.agents.contains_key(name) {
        return Ok(None);
    }
    let mut argv = base;
    if let Some(program) = &opts.program {
        if program.trim().is_empty() {
            bail!("--program is empty: name the program to run (on PATH, or a path)");
        }
        argv[0] = program.clone();
    }
    if let Some(args) = &opts.args {
        argv.truncate(1);
        argv.extend(args.iter().cloned());
    }
    Ok(Some(argv))
}

/// The commit message: the command and the names of changed variables (never their values,
/// which may be secrets).
fn set_message(name: &str, argv: Option<&[String]>, opts: &SetOptions) -> String {
    let mut message = format!("gastown config agent set {name}");
    if let Some(argv) = argv {
        message.push_str(&format!(": {}", shell_words::join(argv)));
    }
    for (key, _) in &opts.env {
        message.push_str(&format!(" --env {key}=…"));
    }
    for key in &opts.unset_env {
        message.push_str(&format!(" --unset-env {key}"));
    }
    message
}

/// `--env` and `--unset-env` applied to `[agents.<name>] env` (a table or an inline table).
fn edit_env(entry: &mut Table, name: &str, opts: &SetOptions) -> Result<()> {
    if opts.env.is_empty() && opts.unset_env.is_empty() {
        return Ok(());
    }
    if !entry.contains_key("env") {
        entry["env"] = value(toml_edit::InlineTable::new());
    }
    let env = entry["env"]
        .as_table_like_mut()
        .with_context(|| format!("`env` of [agents.{name}] in town.toml is not a table"))?;
    for key in &opts.unset_env {
        env.remove(key);
    }
    for (key, val) in &opts.env {
        env.insert(key, value(val.as_str()));
    }
    if env.is_empty() {
        entry.remove("env");
    }
    Ok(())
}

/// `gastown config agent remove <name>`: refuses presets, `sim`, and the default agent.
pub fn remove_agent(town: &Town, name: &str) -> Result<Change> {
    let is_preset = PRESET_NAMES.contains(&name);
    if !town.config.agents.contains_key(name) {
        if is_preset || name == SIM_NAME {
            bail!(
                "{name} is a built-in runtime and cannot be removed: change what agents run with \
                 `gastown config default-agent <name>` or define your own with \
                 `gastown config agent set <name> <command>`"
            );
        }
        bail!(
            "no custom agent {name:?} in town.toml: custom agents are {}",
            custom_names(town)
        );
    }
    if town.config.default_agent.as_deref() == Some(name) && !is_preset {
        bail!(
            "{name} is the town's default agent: choose another first with \
             `gastown config default-agent <name>`"
        );
    }
    apply_change(
        town,
        &format!("gastown config agent remove {name}"),
        |doc| {
            let agents = agents_table(doc);
            agents.remove(name);
            if agents.is_empty() {
                doc.remove("agents");
            }
            Ok(())
        },
    )
}

/// `gastown config default-agent <name>`: `name` must be a runtime the town knows.
pub fn set_default_agent(town: &Town, name: &str, exe: &Path) -> Result<Change> {
    if !known_names(town).iter().any(|n| n == name) {
        bail!(
            "unknown agent runtime {name:?}: known runtimes are {}",
            known_names(town).join(", ")
        );
    }
    by_name(town, name, exe).with_context(|| format!("agent {name} cannot be the default"))?;
    apply_change(
        town,
        &format!("gastown config default-agent {name}"),
        |doc| {
            doc["default_agent"] = value(name);
            Ok(())
        },
    )
}

/// Edit town.toml with `change`, check the result, write it and commit it with `message`.
pub fn apply_change(
    town: &Town,
    message: &str,
    change: impl FnOnce(&mut DocumentMut) -> Result<()>,
) -> Result<Change> {
    let path = town.root.join(CONFIG_FILE);
    let before =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut doc: DocumentMut = before
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    change(&mut doc)?;
    let after = doc.to_string();
    if after == before {
        return Ok(Change::Unchanged);
    }
    check(&after).with_context(|| {
        format!(
            "refusing to write {}: the change would make it invalid",
            path.display()
        )
    })?;
    fs::write(&path, &after).with_context(|| format!("cannot write {}", path.display()))?;
    git(&town.root, &["add", "--", CONFIG_FILE])?;
    git(
        &town.root,
        &["commit", "--quiet", "-m", message, "--", CONFIG_FILE],
    )?;
    Ok(Change::Committed)
}

/// The new text must still be a town config whose custom agents all build.
fn check(text: &str) -> Result<()> {
    let config: TownConfig = toml::from_str(text)?;
    for (name, cfg) in &config.agents {
        custom(name, cfg)?;
    }
    Ok(())
}

/// `[agents]`, made (without a header of its own) when missing.
fn agents_table(doc: &mut DocumentMut) -> &mut Table {
    let item = doc.entry("agents").or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    if !item.is_table() {
        // `agents = {…}` inline: turn it into [agents.<name>] tables.
        let table = item.clone().into_table().unwrap_or_else(|_| Table::new());
        *item = Item::Table(table);
    }
    item.as_table_mut().expect("the item was just made a table")
}

fn check_agent_name(name: &str) -> Result<()> {
    if name == SIM_NAME {
        bail!("`sim` is the built-in scripted agent and cannot be redefined: pick another name");
    }
    if let Some(problem) = simple_name_problem(name) {
        bail!("agent name {name:?} is not a simple name: {problem}; {SIMPLE_NAME_RULE}");
    }
    Ok(())
}

/// The program and its arguments from the words after the name.
fn command_words(words: &[String]) -> Result<Vec<String>> {
    let argv = match words {
        [one] => shell_words::split(one)
            .with_context(|| format!("cannot split the command {one:?} like a shell would"))?,
        many => many.to_vec(),
    };
    if argv.first().is_none_or(|p| p.trim().is_empty()) {
        bail!(
            "empty command: give the program and its arguments, e.g. \
             `gastown config agent set codex-low \"codex --thinking low\"`"
        );
    }
    Ok(argv)
}

fn prompt_text(prompt: PromptMode) -> &'static str {
    match prompt {
        PromptMode::Argument => "argument",
        PromptMode::Typed => "typed",
    }
}

fn custom_names(town: &Town) -> String {
    let names: Vec<&str> = town.config.agents.keys().map(String::as_str).collect();
    if names.is_empty() {
        "none yet".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(town: &Town, name: &str) -> Vec<(String, String)> {
        let town = Town::load(&town.root).expect("town.toml still valid");
        let cfg = town.config.agents.get(name).expect("agent defined");
        cfg.env.clone().into_iter().collect()
    }

    fn opts_env(pairs: &[&str]) -> SetOptions {
        SetOptions {
            env: pairs
                .iter()
                .map(|p| parse_env(p).expect("KEY=VALUE"))
                .collect(),
            ..SetOptions::default()
        }
    }

    #[test]
    fn env_is_set_on_a_preset_and_unset_keeping_the_command_and_comments() {
        let (_dir, town, _ledger) = crate::testing::town();
        let path = town.root.join(CONFIG_FILE);
        let text = format!("{}\n# my note\n", fs::read_to_string(&path).expect("read"));
        fs::write(&path, text).expect("write");
        git(&town.root, &["commit", "-qam", "note"]).expect("commit");

        // A preset's name with no command: an agent of that name runs the preset's command.
        let opts = opts_env(&["ANTHROPIC_BASE_URL=http://127.0.0.1:9/v1?a=b", "X_MODE=1"]);
        let change = set_agent(&town, "claude", &[], &opts).expect("set");
        assert_eq!(change, Change::Committed);
        let town = Town::load(&town.root).expect("valid");
        let cfg = &town.config.agents["claude"];
        assert_eq!(cfg.command, "claude");
        assert_eq!(cfg.args, ["--dangerously-skip-permissions"]);
        assert_eq!(
            env_of(&town, "claude"),
            [
                (
                    "ANTHROPIC_BASE_URL".to_string(),
                    "http://127.0.0.1:9/v1?a=b".to_string()
                ),
                ("X_MODE".to_string(), "1".to_string())
            ]
        );
        let rt = super::super::custom("claude", cfg).expect("builds");
        assert!(
            rt.env.iter().any(|(k, v)| k == "X_MODE" && v == "1"),
            "{:?}",
            rt.env
        );

        // A change of the command keeps the env; --unset-env removes one variable.
        set_agent(
            &town,
            "claude",
            &["/opt/claude".into()],
            &SetOptions::default(),
        )
        .expect("command");
        let unset = SetOptions {
            unset_env: vec!["X_MODE".into()],
            ..SetOptions::default()
        };
        set_agent(&town, "claude", &[], &unset).expect("unset");
        let town = Town::load(&town.root).expect("valid");
        assert_eq!(town.config.agents["claude"].command, "/opt/claude");
        assert_eq!(
            env_of(&town, "claude"),
            [(
                "ANTHROPIC_BASE_URL".to_string(),
                "http://127.0.0.1:9/v1?a=b".to_string()
            )]
        );
        let after = fs::read_to_string(&path).expect("read");
        assert!(after.contains("# my note"), "{after}");
        let log = git(&town.root, &["log", "-3", "--format=%s"]).expect("log");
        assert!(log.contains("--env ANTHROPIC_BASE_URL=…"), "{log}");
        assert!(
            !log.contains("127.0.0.1"),
            "values stay out of commit messages: {log}"
        );
        assert_eq!(
            git(&town.root, &["status", "--porcelain"]).expect("status"),
            ""
        );
    }

    #[test]
    fn program_and_args_each_change_one_half_of_the_command() {
        let (_dir, town, _ledger) = crate::testing::town();
        let command = |town: &Town| {
            let town = Town::load(&town.root).expect("valid");
            let cfg = town.config.agents["codex"].clone();
            (cfg.command, cfg.args)
        };
        // From a preset: its arguments stay, the program changes.
        let program = SetOptions {
            program: Some("/opt/codex".into()),
            ..SetOptions::default()
        };
        set_agent(&town, "codex", &[], &program).expect("program");
        let preset_args = crate::runtimes::spec::preset("codex")
            .expect("codex is a preset")
            .args;
        assert_eq!(command(&town), ("/opt/codex".to_string(), preset_args));
        let args = SetOptions {
            args: Some(vec!["--model".into(), "o3".into()]),
            ..SetOptions::default()
        };
        let town = Town::load(&town.root).expect("valid");
        set_agent(&town, "codex", &[], &args).expect("args");
        assert_eq!(
            command(&town),
            (
                "/opt/codex".to_string(),
                vec!["--model".to_string(), "o3".to_string()]
            )
        );
        let e = set_agent(&town, "codex", &["codex".into()], &program)
            .expect_err("both")
            .to_string();
        assert!(e.contains("not both"), "{e}");
        // A new agent from --program alone.
        set_agent(&town, "mine", &[], &program).expect("new");
        let town = Town::load(&town.root).expect("valid");
        assert_eq!(town.config.agents["mine"].command, "/opt/codex");
        assert!(town.config.agents["mine"].args.is_empty());
    }

    #[test]
    fn bad_env_input_is_refused_naming_what_is_wrong() {
        let (_dir, town, _ledger) = crate::testing::town();
        let before = fs::read_to_string(town.root.join(CONFIG_FILE)).expect("read");
        let e = parse_env("ANTHROPIC_BASE_URL")
            .expect_err("no =")
            .to_string();
        assert!(e.contains("no `=`") && e.contains("KEY=VALUE"), "{e}");
        let e = format!("{:#}", parse_env("1X=2").expect_err("bad key"));
        assert!(e.contains("not an environment variable name"), "{e}");
        let e = set_agent(&town, "ghost", &[], &opts_env(&["A=1"]))
            .expect_err("unknown agent")
            .to_string();
        assert!(e.contains("ghost is not defined yet"), "{e}");
        let e = set_agent(&town, "claude", &[], &SetOptions::default())
            .expect_err("nothing")
            .to_string();
        assert!(e.contains("nothing to set"), "{e}");
        let unset = SetOptions {
            unset_env: vec!["NOPE".into()],
            ..SetOptions::default()
        };
        let e = set_agent(&town, "claude", &[], &unset)
            .expect_err("not set")
            .to_string();
        assert!(e.contains("has no NOPE"), "{e}");
        let after = fs::read_to_string(town.root.join(CONFIG_FILE)).expect("read");
        assert_eq!(before, after);
    }
}
