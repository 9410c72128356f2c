//! The Deacon's dogs: mechanical chores on timers of their own (`docs/dogs.md`). This file is
//! their domain side: `[dogs.<name>]` in town.toml, the chores themselves, and the report each
//! dog gives (`gastown dog list`). `gastown run` runs each dog as an actor under `deacon/dogs`
//! (`src/run/dogs.rs`); without it `gastown dog run <name>` runs a chore once, in the CLI.
//!
//! Dogs so far:
//! - `checkpoint` — every polecat worktree with uncommitted work is saved as a checkpoint
//!   (`crate::checkpoint`), so a crash or a lost worktree never loses it.

use crate::duration::HumanDuration;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The dogs there are, with their default period.
pub const KNOWN: &[(&str, Duration)] = &[("checkpoint", Duration::from_secs(5 * 60))];

/// `[dogs.<name>]` in `town.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DogConfig {
    /// How often the chore runs.
    pub every: HumanDuration,
    /// `false` keeps the dog in its kennel (listed, never run by the timer).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// `[dogs]` in `town.toml`: one table per dog to change from its defaults.
pub type DogsSection = BTreeMap<String, DogConfig>;

/// Refuse unknown dogs and zero periods; the error names the key.
pub fn check(section: &DogsSection) -> Result<()> {
    for (name, config) in section {
        if !KNOWN.iter().any(|(known, _)| known == name) {
            bail!(
                "`[dogs.{name}]`: there is no dog {name:?}; the dogs are {}",
                names().join(", ")
            );
        }
        if config.every.0.is_zero() {
            bail!("`dogs.{name}.every` is 0: give it a duration like \"5m\"");
        }
    }
    Ok(())
}

/// Every dog's name.
pub fn names() -> Vec<&'static str> {
    KNOWN.iter().map(|(name, _)| *name).collect()
}

/// The settings of dog `name` (its defaults unless town.toml says otherwise); `None` for a name
/// that is no dog.
pub fn config_of(section: &DogsSection, name: &str) -> Option<DogConfig> {
    let (_, every) = KNOWN.iter().find(|(known, _)| *known == name)?;
    Some(section.get(name).cloned().unwrap_or(DogConfig {
        every: HumanDuration(*every),
        enabled: true,
    }))
}

/// What `gastown dog list` shows of one dog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DogReport {
    pub name: String,
    /// Its period, humantime.
    pub every: String,
    pub enabled: bool,
    /// Whether `gastown run` runs it (false: only configured).
    pub running: bool,
    /// Chores run so far (since `gastown run` started).
    pub runs: u64,
    /// When the last one ended (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<String>,
    /// What the last one did, or its error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<String>,
    /// Whether the last one succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ok: Option<bool>,
    /// Failures since the last success (the dog backs off, and escalates once at 3).
    pub failures_in_a_row: u32,
}

impl DogReport {
    /// A dog as configured, before any run.
    pub fn configured(name: &str, config: &DogConfig, running: bool) -> DogReport {
        DogReport {
            name: name.to_string(),
            every: humantime::format_duration(config.every.0).to_string(),
            enabled: config.enabled,
            running,
            runs: 0,
            last_run: None,
            last_outcome: None,
            last_ok: None,
            failures_in_a_row: 0,
        }
    }
}

/// Run dog `name`'s chore once; its outcome in a line.
pub fn run_chore(town: &crate::town::Town, name: &str) -> Result<String> {
    match name {
        "checkpoint" => checkpoint_all(town),
        other => bail!(
            "there is no dog {other:?}; the dogs are {}",
            names().join(", ")
        ),
    }
}

/// The checkpoint dog: a checkpoint of every polecat worktree with uncommitted work. One
/// polecat's failure does not stop the others; any failure fails the run (after all of them).
pub fn checkpoint_all(town: &crate::town::Town) -> Result<String> {
    use crate::checkpoint::{Saved, save};
    let (mut saved, mut clean, mut unchanged) = (0, 0, 0);
    let mut failed = Vec::new();
    for rig in crate::rig::Rig::list(town)? {
        for polecat in rig.polecats_present()? {
            if !rig.polecat_worktree(&polecat).join(".git").exists() {
                continue;
            }
            let address = format!("{}/polecats/{polecat}", rig.name());
            let agent = crate::identity::AgentIdentity::parse(&address)?;
            match save(town, &agent) {
                Ok(Saved::Saved(c)) => {
                    tracing::info!(agent = %address, checkpoint = %c.commit, files = c.files.len(), "checkpoint taken");
                    saved += 1;
                }
                Ok(Saved::Unchanged(_)) => unchanged += 1,
                Ok(Saved::Clean) => clean += 1,
                Err(e) => failed.push(format!("{address}: {e:#}")),
            }
        }
    }
    let summary = format!("{saved} saved, {unchanged} unchanged, {clean} clean");
    if failed.is_empty() {
        Ok(summary)
    } else {
        bail!("{summary}, {} failed: {}", failed.len(), failed.join("; "))
    }
}
