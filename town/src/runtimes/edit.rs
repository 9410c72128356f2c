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
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// town.toml changed and the change is committed.
    Committed,
    /// town.toml already said so; nothing was written.
    Unchanged,
}

/// `gastown config agent set <name> <command…>`: one word is a command line split with shell
/// rules (`"codex --thinking low"`), several words are the program and its arguments as given.
pub fn set_agent(town: &Town, name: &str, words: &[String], opts: &SetOptions) -> Result<Change> {
    check_agent_name(name)?;
    let argv = command_words(words)?;
    if let Some(p) = &opts.preset
        && preset(p).is_none()
    {
        bail!(
            "unknown preset {p:?}: presets are {}",
            PRESET_NAMES.join(", ")
        );
    }
    let message = format!(
        "gastown config agent set {name}: {}",
        shell_words::join(&argv)
    );
    apply_change(town, &message, |doc| {
        let agents = agents_table(doc);
        let entry = agents
            .entry(name)
            .or_insert_with(|| Item::Table(Table::new()))
            .as_table_mut()
            .with_context(|| format!("[agents.{name}] in town.toml is not a table"))?;
        entry["command"] = value(argv[0].as_str());
        if argv.len() > 1 {
            entry["args"] = value(argv[1..].iter().collect::<Array>());
        } else {
            entry.remove("args");
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
        Ok(())
    })
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
