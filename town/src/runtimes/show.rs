//! `gastown config show`: the town's configuration at a glance — who it is, which agent runs
//! where and why, and its custom agents.

use super::{AgentConfig, resolve_explained, rig_runtime};
use crate::town::Town;
use anyhow::{Context, Result};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What `config show` prints.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub name: String,
    pub root: PathBuf,
    pub prefix: String,
    /// The runtime a new agent with no flag and no rig runtime gets (none: such a sling is
    /// refused until one is chosen).
    pub default_agent: Option<String>,
    /// Whether town.toml sets `default_agent`.
    pub default_agent_set: bool,
    /// `[roles]`: the runtime of the mayor and the deacon (none: actor only).
    pub mayor: Option<String>,
    pub deacon: Option<String>,
    /// `[roles] dog`: the runtime of dog sessions (none: slings to `deacon/dogs/<name>` are
    /// refused).
    pub dog: Option<String>,
    pub agents: Vec<AgentSummary>,
    pub rigs: Vec<RigSummary>,
    pub ledger_ref: String,
    pub commit_delay: String,
}

/// One custom agent.
#[derive(Debug, Serialize)]
pub struct AgentSummary {
    pub name: String,
    pub command: String,
    pub preset: Option<String>,
    /// The names of its accounts (`super::accounts`), in the order sessions try them.
    pub accounts: Vec<String>,
}

/// One rig and the runtime its agents get.
#[derive(Debug, Serialize)]
pub struct RigSummary {
    pub name: String,
    /// `runtime` in its rig.toml.
    pub runtime: Option<String>,
    /// What its agents run when no flag says otherwise, or the error that stops them.
    pub resolved: String,
}

/// The program and arguments of a custom agent as one shell-quoted line (`(built in)` for an
/// entry that only adds to a preset or `sim`).
pub fn describe_agent(cfg: &AgentConfig) -> String {
    if cfg.command.trim().is_empty() {
        return "(built in)".to_string();
    }
    let mut argv = vec![cfg.command.clone()];
    argv.extend(cfg.args.iter().cloned());
    shell_words::join(&argv)
}

/// Gather the summary.
pub fn summary(town: &Town, exe: &Path) -> Result<Summary> {
    let cfg = &town.config;
    let mut rigs = Vec::new();
    for name in rig_names(town)? {
        let runtime = rig_runtime(town, &name)?;
        let resolved = match resolve_explained(town, Some(&name), None, exe) {
            Ok((rt, origin)) => format!("{} ({origin})", rt.name),
            Err(e) => format!("error: {e}"),
        };
        rigs.push(RigSummary {
            name,
            runtime,
            resolved,
        });
    }
    Ok(Summary {
        name: cfg.name.clone(),
        root: town.root.clone(),
        prefix: cfg.prefix.clone(),
        default_agent: cfg.default_agent.clone(),
        default_agent_set: cfg.default_agent.is_some(),
        mayor: cfg.roles.mayor.clone(),
        deacon: cfg.roles.deacon.clone(),
        dog: cfg.roles.dog.clone(),
        agents: cfg
            .agents
            .iter()
            .map(|(name, a)| AgentSummary {
                name: name.clone(),
                command: describe_agent(a),
                preset: a.preset.clone(),
                accounts: a.accounts.iter().map(|acc| acc.name.clone()).collect(),
            })
            .collect(),
        rigs,
        ledger_ref: cfg.ledger.git_ref.clone(),
        commit_delay: cfg.ledger.commit_delay.to_string(),
    })
}

/// The rigs of the town: its directories holding a rig.toml, sorted.
fn rig_names(town: &Town) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(&town.root)
        .with_context(|| format!("cannot list {}", town.root.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", town.root.display()))?;
        if entry.path().join("rig.toml").is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The summary as text.
pub fn render_summary(s: &Summary) -> String {
    let mut out = String::new();
    let default = match &s.default_agent {
        Some(name) => format!("{name} (town.toml default_agent)"),
        None => "none: slings need --runtime; set one with `gastown config default-agent <name>`"
            .to_string(),
    };
    let role = |r: &Option<String>| r.clone().unwrap_or_else(|| "(actor only)".to_string());
    let _ = writeln!(out, "town:          {} ({})", s.name, s.root.display());
    let _ = writeln!(out, "prefix:        {}", s.prefix);
    let _ = writeln!(out, "default agent: {default}");
    let _ = writeln!(out, "mayor:         {}", role(&s.mayor));
    let _ = writeln!(out, "deacon:        {}", role(&s.deacon));
    let dog = s.dog.clone().unwrap_or_else(|| {
        "none: slings to deacon/dogs/<name> are refused (set `[roles] dog`)".to_string()
    });
    let _ = writeln!(out, "dog sessions:  {dog}");
    let _ = writeln!(
        out,
        "ledger:        {} (commit delay {})",
        s.ledger_ref, s.commit_delay
    );
    if s.agents.is_empty() {
        let _ = writeln!(
            out,
            "custom agents: none (`gastown config agent list` shows presets)"
        );
    } else {
        let _ = writeln!(out, "custom agents:");
        for a in &s.agents {
            let preset = a
                .preset
                .as_ref()
                .map(|p| format!("  (like {p})"))
                .unwrap_or_default();
            let accounts = if a.accounts.is_empty() {
                String::new()
            } else {
                format!("  accounts {}", a.accounts.join(", "))
            };
            let _ = writeln!(out, "  {}  {}{preset}{accounts}", a.name, a.command);
        }
    }
    if !s.rigs.is_empty() {
        let _ = writeln!(out, "rigs:");
        for r in &s.rigs {
            let _ = writeln!(out, "  {}  runs {}", r.name, r.resolved);
        }
    }
    out
}
