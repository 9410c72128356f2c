//! `gastown config …`: the town's agent runtimes (presets and custom ones), its default agent,
//! and a summary of its configuration. Changes edit town.toml in place (comments kept) and are
//! committed to the town repository.

use crate::output;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gastown_town::runtimes::spec::{PromptMode, Runtime, SIM_NAME};
use gastown_town::runtimes::{self, Change, Kind, Listed, SetOptions};
use gastown_town::town::Town;
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Clone, Subcommand)]
pub enum ConfigCommand {
    /// Show the town's configuration: default agent, custom agents, rig runtimes.
    Show {
        /// Print the configuration as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Agent runtimes: list, define and remove.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Show the default agent, or set it (a preset, a custom agent, or `sim`).
    DefaultAgent {
        /// The agent to make the default (default: show the current one).
        name: Option<String>,
        /// Show the default agent as JSON (`{"default_agent": <name or null>}`).
        #[arg(long, conflicts_with = "name")]
        json: bool,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AgentCommand {
    /// Every runtime the town knows; `*` marks the default.
    List {
        /// Print a JSON array of the runtimes.
        #[arg(long)]
        json: bool,
    },
    /// Define or change an agent: `set codex-low "codex --thinking low"`, `set claude --env
    /// ANTHROPIC_BASE_URL=http://127.0.0.1:8080` (options go before the command).
    Set(SetArgs),
    /// Check that an agent runtime can run here: its program is installed, and started in a
    /// real terminal it reaches its prompt (exit 1 when not; the report shows its screen).
    Check {
        /// The runtime's name (`gastown config agent list`).
        name: String,
        /// How long it may take to reach its prompt.
        #[arg(long, default_value = "30s", value_parser = super::agent_check::parse_timeout)]
        timeout: std::time::Duration,
        /// The directory to start it in (default: an empty temporary one).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Start it under this one of its accounts (`[[agents.<name>.accounts]]`; default: the
        /// first whose key variable is set).
        #[arg(long)]
        account: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a custom agent (presets and the default agent cannot be removed).
    Remove {
        /// The custom agent's name.
        name: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct SetArgs {
    /// The agent's name (lowercase letters, digits, '-', '_').
    pub name: String,
    /// Behave like this preset (prompt, readiness, resume, hooks); default: the preset whose
    /// program the command runs, if any.
    #[arg(long)]
    pub preset: Option<String>,
    /// How the startup prompt is given.
    #[arg(long, value_enum)]
    pub prompt: Option<PromptArg>,
    /// Text on the screen that shows the agent waits at its prompt.
    #[arg(long)]
    pub ready_marker: Option<String>,
    /// Set an environment variable of the agent's sessions (repeatable). town.toml is
    /// committed: keep API keys in the environment `gastown run` starts in instead.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Remove an environment variable set with --env (repeatable).
    #[arg(long = "unset-env", value_name = "KEY")]
    pub unset_env: Vec<String>,
    /// Change only the program (the arguments stay).
    #[arg(long)]
    pub program: Option<String>,
    /// Change only the arguments, as one command line split like a shell would ("" for none).
    #[arg(long, allow_hyphen_values = true)]
    pub args: Option<String>,
    /// The command: one quoted command line, or the program and its arguments. Without it an
    /// agent keeps its command, and a preset's name gets the preset's.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PromptArg {
    /// On the command line, as the program's last argument.
    Argument,
    /// Typed into the session once it is ready.
    Typed,
}

pub fn run(town: &Town, cmd: ConfigCommand) -> Result<()> {
    let exe = exe()?;
    match cmd {
        ConfigCommand::Show { json } => show(town, &exe, json),
        ConfigCommand::Agent(AgentCommand::List { json }) => list(town, &exe, json),
        ConfigCommand::Agent(AgentCommand::Set(args)) => {
            super::routed::overseer_only(town, "change the town's configuration")?;
            set(town, args)
        }
        ConfigCommand::Agent(AgentCommand::Check {
            name,
            timeout,
            dir,
            account,
            json,
        }) => super::agent_check::check(
            town,
            &exe,
            &name,
            super::agent_check::Options {
                timeout,
                dir,
                account,
                json,
            },
        ),
        ConfigCommand::Agent(AgentCommand::Remove { name }) => {
            super::routed::overseer_only(town, "change the town's configuration")?;
            let change = runtimes::remove_agent(town, &name)?;
            report(change, &format!("removed agent {name}"))
        }
        ConfigCommand::DefaultAgent { name: None, json } => default_agent(town, json),
        ConfigCommand::DefaultAgent {
            name: Some(name), ..
        } => {
            super::routed::overseer_only(town, "change the town's configuration")?;
            let change = runtimes::set_default_agent(town, &name, &exe)?;
            report(change, &format!("default agent is now {name}"))
        }
    }
}

/// `config default-agent` without a name: the town's default agent.
fn default_agent(town: &Town, json: bool) -> Result<()> {
    let agent = &town.config.default_agent;
    let text = if json {
        serde_json::to_string_pretty(&json!({ "default_agent": agent }))?
    } else {
        agent.clone().unwrap_or_else(|| {
            "none (no default_agent in town.toml): set one with `gastown config default-agent <name>`".to_string()
        })
    };
    output::line(text).map_err(Into::into)
}

/// This binary, for the `sim` runtime's command line.
fn exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find this executable for the sim runtime")
}

fn set(town: &Town, args: SetArgs) -> Result<()> {
    if args.command.len() > 1 && args.command[0].contains(char::is_whitespace) {
        anyhow::bail!(
            "the command {:?} is followed by {:?}: give the command either as one quoted line or \
             as words, and put options (--env, --preset, …) before it",
            args.command[0],
            shell_words::join(&args.command[1..])
        );
    }
    let env = args
        .env
        .iter()
        .map(|e| runtimes::parse_env(e))
        .collect::<Result<Vec<_>>>()?;
    let opts = SetOptions {
        preset: args.preset,
        prompt: args.prompt.map(|p| match p {
            PromptArg::Argument => PromptMode::Argument,
            PromptArg::Typed => PromptMode::Typed,
        }),
        ready_marker: args.ready_marker,
        env,
        unset_env: args.unset_env,
        program: args.program,
        args: match &args.args {
            Some(line) => Some(
                shell_words::split(line)
                    .with_context(|| format!("cannot split --args {line:?} like a shell would"))?,
            ),
            None => None,
        },
    };
    let secrets: Vec<&str> = opts
        .env
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| looks_secret(k))
        .collect();
    let change = runtimes::set_agent(town, &args.name, &args.command, &opts)?;
    if !secrets.is_empty() && change == Change::Committed {
        eprintln!(
            "warning: {} is now in town.toml, which is committed to the town's git repository: prefer \
             exporting it in the environment `gastown run` starts in (sessions inherit it)",
            secrets.join(", ")
        );
    }
    let town = Town::load(&town.root)?;
    let cfg = town
        .config
        .agents
        .get(&args.name)
        .context("the agent just set is missing from town.toml")?;
    let env = if cfg.env.is_empty() {
        String::new()
    } else {
        let keys: Vec<&str> = cfg.env.keys().map(String::as_str).collect();
        format!(" with env {}", keys.join(", "))
    };
    report(
        change,
        &format!(
            "agent {} runs `{}`{env}",
            args.name,
            runtimes::describe_agent(cfg)
        ),
    )
}

/// A variable whose value is likely a credential.
fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD"]
        .iter()
        .any(|word| key.contains(word))
}

fn report(change: Change, what: &str) -> Result<()> {
    let text = match change {
        Change::Committed => format!("{what} (town.toml committed)"),
        Change::Unchanged => format!("{what} (unchanged)"),
    };
    output::line(text).map_err(Into::into)
}

fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::BuiltIn => "built-in",
        Kind::Preset => "preset",
        Kind::Custom => "custom",
        Kind::Override => "custom, overrides preset",
    }
}

fn list(town: &Town, exe: &std::path::Path, json: bool) -> Result<()> {
    let rows = runtimes::list(town, exe);
    if json {
        let items: Vec<_> = rows.iter().map(listed_json).collect();
        let text = serde_json::to_string_pretty(&items).context("cannot render JSON")?;
        return output::line(text).map_err(Into::into);
    }
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let mut text = String::new();
    for row in &rows {
        let star = if row.default { '*' } else { ' ' };
        let command = match &row.runtime {
            Ok(rt) if rt.name == SIM_NAME => "<gastown> sim-agent".to_string(),
            Ok(rt) => shell_words::join(rt.command()),
            Err(e) => format!("error: {e}"),
        };
        let kind = format!("[{}]", kind_label(row.kind));
        let accounts = match &row.runtime {
            Ok(rt) if !rt.accounts.is_empty() => {
                let names: Vec<&str> = rt.accounts.iter().map(|a| a.name.as_str()).collect();
                format!("  (accounts: {})", names.join(", "))
            }
            _ => String::new(),
        };
        text.push_str(&format!(
            "{star} {:width$}  {kind:10}  {command}{accounts}\n",
            row.name
        ));
    }
    output::text(&text).map_err(Into::into)
}

fn listed_json(row: &Listed) -> serde_json::Value {
    match &row.runtime {
        Ok(rt) => json!({
            "name": row.name,
            "kind": row.kind,
            "default": row.default,
            "command": rt.command(),
            "prompt": rt.prompt,
            "ready_marker": rt.ready_marker,
            "quiet_period": humantime::format_duration(rt.quiet_period).to_string(),
            "resume": rt.resume_args,
            "hooks": rt.hooks,
            "instructions_file": rt.instructions_file,
            "env": env_json(rt),
            // Names and where each takes its key from; never a key itself.
            "accounts": rt.accounts.iter().map(|a| json!({
                "name": a.name,
                "env": a.env.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "api_key_env": a.key_from.as_ref().map(|(_, source)| source),
            })).collect::<Vec<_>>(),
        }),
        Err(e) => json!({
            "name": row.name,
            "kind": row.kind,
            "default": row.default,
            "error": e,
        }),
    }
}

fn env_json(rt: &Runtime) -> serde_json::Value {
    rt.env
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn show(town: &Town, exe: &std::path::Path, json: bool) -> Result<()> {
    let summary = runtimes::summary(town, exe)?;
    if json {
        let text = serde_json::to_string_pretty(&summary).context("cannot render JSON")?;
        return output::line(text).map_err(Into::into);
    }
    output::text(&runtimes::render_summary(&summary)).map_err(Into::into)
}
