//! Which agent runtime an agent runs, and the town's own agent definitions.
//!
//! A runtime name is one of: `sim` (the built-in scripted agent), a custom agent from
//! `town.toml` (`[agents.<name>]`, which may shadow a preset of the same name), or a preset
//! (claude, codex, gemini, cursor, auggie, amp, opencode, copilot). Resolution for a new
//! identity: the sling/spawn flag → the rig's `runtime` (rig.toml) → the town's `default_agent`;
//! with none of them there is no runtime (never a silent `sim`). Once chosen, an identity's
//! runtime is recorded on its agent bead and every later start uses it (`durable`).
//!
//! ```toml
//! default_agent = "claude-opus"
//!
//! [agents.claude-opus]
//! command = "claude"                       # the program
//! args = ["--model", "opus"]               # run exactly as written (no preset flags added)
//! # optional; unset fields come from the preset whose program this is (here claude), else
//! # from `preset = "…"`, else: typed prompt, quiet output means idle, no resume, no hooks
//! prompt = "argument"                      # or "typed"
//! ready_marker = "❯"
//! quiet_period = "1s"
//! resume = ["--resume", "{session}"]
//! ```
//!
//! `edit` changes these through `gastown config`; `home` prepares a role's home for its runtime.

pub mod accounts;
pub mod clean_start;
pub mod dialogs;
mod durable;
mod edit;
mod home;
mod program;
pub mod resume;
pub mod session_files;
mod show;
pub mod spec;

pub use clean_start::SessionSetup;
pub use durable::{Ask, REQUESTED_RUNTIME, decide_and_record};
pub use edit::{Change, SetOptions, parse_env, remove_agent, set_agent, set_default_agent};
pub use home::{prepare_home, start_clean};
pub use program::{check_program, first_preset_on_path};
pub use show::{describe_agent, render_summary, summary};

use crate::town::Town;
use serde::{Deserialize, Serialize};
use spec::{HookSupport, InstructionsFile, PRESET_NAMES, PromptMode, Runtime, SIM_NAME};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// `[agents.<name>]` in `town.toml`: a custom runtime.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The program to run (a name on PATH or a path). Empty under a preset's name (or `sim`):
    /// that runtime itself, with this entry's additions (e.g. only `accounts`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    /// Its arguments, used exactly as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Behave like this preset (prompt, marker, resume, hooks, instructions) unless overridden;
    /// default: the preset whose program `command` is, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_marker: Option<String>,
    /// How long without output counts as idle (humantime: `1s`, `500ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_period: Option<String>,
    /// Arguments that resume session `{session}`, put before `args`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<HookSupport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions_file: Option<InstructionsFile>,
    /// Extra environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Accounts its sessions rotate between when one hits its usage limit (`accounts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<accounts::AccountConfig>,
}

/// Why a runtime could not be found or built.
#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("unknown agent runtime {name:?} ({origin}): known runtimes are {known}")]
    Unknown {
        name: String,
        /// Where the name came from (the flag, a rig.toml, town.toml's default_agent).
        origin: String,
        known: String,
    },
    #[error(
        "agent {name:?} in town.toml has an empty command: set one with \
         `gastown config agent set {name} \"<command> [args…]\"` (only an entry named after a \
         preset or `sim`, without args, may leave it out)"
    )]
    EmptyCommand { name: String },
    #[error("agent {name:?} in town.toml names unknown preset {preset:?}: presets are {known}")]
    UnknownPreset {
        name: String,
        preset: String,
        known: String,
    },
    #[error("account {account:?} of agent {name:?} in town.toml {problem}")]
    BadAccount {
        name: String,
        account: String,
        problem: String,
    },
    #[error(
        "agent {name:?} in town.toml has a bad quiet_period {text:?}: use a duration like \"1s\""
    )]
    BadQuietPeriod { name: String, text: String },
    #[error("cannot read the rig config {path}: {message}")]
    RigConfig { path: PathBuf, message: String },
    #[error(
        "no agent runtime for {who}: nothing chose one (no --runtime, none recorded for it, no \
         `runtime` in its rig.toml, no default_agent in town.toml); pass --runtime <name>, or set \
         the town's default with `gastown config default-agent <name>` (`gastown config agent \
         list` shows the names)"
    )]
    NoRuntime { who: String },
    #[error(
        "runtime {name} runs `{program}`, which {problem}: install it (or fix the command with \
         `gastown config agent set {name} …`), or choose another runtime with --runtime"
    )]
    ProgramMissing {
        name: String,
        program: String,
        /// "is not on PATH (…)", "does not exist", "is not executable".
        problem: String,
    },
}

/// Where a resolved runtime's name came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Origin {
    /// The sling/spawn flag.
    Flag,
    /// The rig's `runtime` in its rig.toml.
    Rig(String),
    /// The town's `default_agent`.
    TownDefault,
    /// Asked for by the bead itself (a `--runtime` given when it was queued).
    Bead(String),
    /// Recorded on the identity's agent bead when it was first started.
    Recorded,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag => f.write_str("given on the command line"),
            Origin::Rig(rig) => write!(f, "the `runtime` of rig {rig}'s rig.toml"),
            Origin::TownDefault => f.write_str("town.toml's default_agent"),
            Origin::Bead(bead) => write!(f, "asked for by bead {bead}"),
            Origin::Recorded => f.write_str("recorded for the identity"),
        }
    }
}

/// The runtime a new agent runs, and where its name came from: `flag` → the rig's `runtime` →
/// the town's `default_agent`; none of them is [`RuntimeError::NoRuntime`]. `rig` is the agent's
/// rig name (its `<town>/<rig>/rig.toml` is read when present). An identity that has run before
/// uses the runtime recorded for it instead (see `durable`).
pub fn resolve_explained(
    town: &Town,
    rig: Option<&str>,
    flag: Option<&str>,
    exe: &Path,
) -> Result<(Runtime, Origin), RuntimeError> {
    let (name, origin) = choose_name(town, rig, flag)?;
    let runtime = by_name(town, &name, exe).map_err(|e| match e {
        RuntimeError::Unknown { name, known, .. } => RuntimeError::Unknown {
            name,
            origin: origin.to_string(),
            known,
        },
        other => other,
    })?;
    Ok((runtime, origin))
}

fn choose_name(
    town: &Town,
    rig: Option<&str>,
    flag: Option<&str>,
) -> Result<(String, Origin), RuntimeError> {
    if let Some(name) = flag {
        return Ok((name.to_string(), Origin::Flag));
    }
    if let Some(rig) = rig
        && let Some(name) = rig_runtime(town, rig)?
    {
        return Ok((name, Origin::Rig(rig.to_string())));
    }
    if let Some(name) = &town.config.default_agent {
        return Ok((name.clone(), Origin::TownDefault));
    }
    Err(RuntimeError::NoRuntime {
        who: match rig {
            Some(rig) => format!("the agents of rig {rig}"),
            None => "this agent".to_string(),
        },
    })
}

/// Only the field this module needs from `rig.toml` (the rig module owns the rest).
#[derive(Deserialize)]
struct RigRuntime {
    #[serde(default)]
    runtime: Option<String>,
}

/// The `runtime` of `<town>/<rig>/rig.toml`; `None` when the rig has no rig.toml or no runtime.
pub fn rig_runtime(town: &Town, rig: &str) -> Result<Option<String>, RuntimeError> {
    let path = town.root.join(rig).join("rig.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RuntimeError::RigConfig {
                path,
                message: e.to_string(),
            });
        }
    };
    let parsed: RigRuntime = toml::from_str(&text).map_err(|e| RuntimeError::RigConfig {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok(parsed.runtime.filter(|r| !r.trim().is_empty()))
}

/// The runtime called `name`: `sim`, a custom agent of the town, or a preset.
pub fn by_name(town: &Town, name: &str, exe: &Path) -> Result<Runtime, RuntimeError> {
    if let Some(cfg) = town.config.agents.get(name) {
        return configured(name, cfg, exe);
    }
    if name == SIM_NAME {
        return Ok(Runtime::sim(exe.to_path_buf()));
    }
    spec::preset(name).ok_or_else(|| RuntimeError::Unknown {
        name: name.to_string(),
        origin: "asked for by name".to_string(),
        known: known_names(town).join(", "),
    })
}

/// Every name [`by_name`] accepts: `sim`, the presets, then the town's custom agents.
pub fn known_names(town: &Town) -> Vec<String> {
    let mut names = vec![SIM_NAME.to_string()];
    names.extend(PRESET_NAMES.iter().map(|n| n.to_string()));
    for name in town.config.agents.keys() {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// The runtime of town.toml's `[agents.<name>]`: a custom runtime, or (no command, under a
/// preset's name or `sim`) that runtime with the entry's additions.
fn configured(name: &str, cfg: &AgentConfig, exe: &Path) -> Result<Runtime, RuntimeError> {
    if cfg.command.trim().is_empty() && name == SIM_NAME {
        return amend(Runtime::sim(exe.to_path_buf()), name, SIM_NAME, cfg);
    }
    custom(name, cfg)
}

/// Build a custom runtime: the base (its `preset`, else the preset of its program, else a plain
/// runtime) with the command, arguments and every field the config sets. With no command, a
/// preset's name (or its `preset`) is that preset with the entry's additions.
pub fn custom(name: &str, cfg: &AgentConfig) -> Result<Runtime, RuntimeError> {
    if cfg.command.trim().is_empty() {
        let preset = cfg.preset.as_deref().unwrap_or(name);
        return match spec::preset(preset) {
            Some(base) if cfg.args.is_empty() => amend(base, name, preset, cfg),
            _ => Err(RuntimeError::EmptyCommand {
                name: name.to_string(),
            }),
        };
    }
    let base = match &cfg.preset {
        Some(preset) => spec::preset(preset).ok_or_else(|| RuntimeError::UnknownPreset {
            name: name.to_string(),
            preset: preset.clone(),
            known: PRESET_NAMES.join(", "),
        })?,
        None => spec::preset_for_program(&cfg.command)
            .unwrap_or_else(|| spec::plain(name, &cfg.command, Vec::new())),
    };
    let family = base.name.clone();
    let mut rt = base;
    rt.program = cfg.command.clone();
    rt.args = cfg.args.clone();
    amend(rt, name, &family, cfg)
}

/// `base` named `name`, with every optional field `cfg` sets; `family` is the CLI it runs
/// (a preset's name, `sim`, or the runtime's own name), for its accounts' variables.
fn amend(
    base: Runtime,
    name: &str,
    family: &str,
    cfg: &AgentConfig,
) -> Result<Runtime, RuntimeError> {
    let mut rt = base;
    rt.name = name.to_string();
    if let Some(prompt) = cfg.prompt {
        rt.prompt = prompt;
    }
    if let Some(marker) = &cfg.ready_marker {
        rt.ready_marker = Some(marker.clone()).filter(|m| !m.is_empty());
    }
    if let Some(text) = &cfg.quiet_period {
        rt.quiet_period =
            humantime::parse_duration(text).map_err(|_| RuntimeError::BadQuietPeriod {
                name: name.to_string(),
                text: text.clone(),
            })?;
    }
    if let Some(resume) = &cfg.resume {
        rt.resume_args = resume.clone();
    }
    if let Some(hooks) = cfg.hooks {
        rt.hooks = hooks;
    }
    if let Some(file) = cfg.instructions_file {
        rt.instructions_file = file;
    }
    for (key, value) in &cfg.env {
        rt.env.retain(|(k, _)| k != key);
        rt.env.push((key.clone(), value.clone()));
    }
    let home = std::env::var("HOME").ok();
    rt.accounts = accounts::resolve(name, family, &cfg.accounts, home.as_deref())?;
    Ok(rt)
}

/// What kind of name a runtime name is, for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `sim`.
    BuiltIn,
    Preset,
    Custom,
    /// A custom agent with a preset's name.
    Override,
}

/// One row of `gastown config agent list`.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub name: String,
    pub kind: Kind,
    /// Whether it is the town's default agent.
    pub default: bool,
    /// The runtime, or why it cannot be built (a broken custom entry).
    pub runtime: Result<Runtime, String>,
}

/// Every runtime the town knows, in [`known_names`] order.
pub fn list(town: &Town, exe: &Path) -> Vec<Listed> {
    let default = town.config.default_agent.as_deref().unwrap_or("");
    known_names(town)
        .into_iter()
        .map(|name| {
            let custom = town.config.agents.contains_key(&name);
            let kind = match (name.as_str(), custom) {
                (SIM_NAME, _) => Kind::BuiltIn,
                (_, true) if PRESET_NAMES.contains(&name.as_str()) => Kind::Override,
                (_, true) => Kind::Custom,
                _ => Kind::Preset,
            };
            Listed {
                default: name == default,
                runtime: by_name(town, &name, exe).map_err(|e| e.to_string()),
                kind,
                name,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
