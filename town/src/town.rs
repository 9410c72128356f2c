//! The town: a directory that is a git repository holding `town.toml`, role homes and a
//! git-ignored runtime dir. This module finds it, reads its config, creates it, and opens its ledger.
//!
//! Layout:
//! ```text
//! <town>/
//! ├── town.toml          config (committed)
//! ├── .gitignore         ignores .runtime/
//! ├── mayor/AGENTS.md    role homes with the role's instructions (committed)
//! ├── deacon/AGENTS.md
//! └── .runtime/          0700, never committed: ledger.redb, ledger.lock, socket, logs
//! ```
//! The ledger itself is committed to the town repository's own ref (`refs/heads/beads`), so the
//! work tree people commit to stays clean.

mod install;

pub use install::{DefaultAgent, InstallOptions, exposure_warning, install, install_from};

use crate::defaults;
use crate::duration::HumanDuration;
use anyhow::{Context, Result, bail};
use gastown_beads::ledger::{Ledger, LedgerConfig};
use serde::{Deserialize, Serialize};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The file whose presence marks a town's root.
pub const CONFIG_FILE: &str = "town.toml";
/// The git-ignored directory of local state.
pub const RUNTIME_DIR: &str = ".runtime";

/// `town.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TownConfig {
    /// A human name for the town (defaults to the directory name).
    pub name: String,
    /// The prefix of the town's bead ids (`gt` gives `gt-a1b2`).
    pub prefix: String,
    /// The agent runtime of new agents nobody chose one for (a preset, a custom agent, or `sim`;
    /// none: such a sling is refused until one is chosen). `gastown install --agent` and
    /// `gastown config default-agent` set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_agent: Option<String>,
    #[serde(default)]
    pub ledger: LedgerSection,
    /// Agent runtimes of the town-level roles (none: the role runs as an actor only).
    #[serde(default)]
    pub roles: RolesSection,
    /// `gastown run` settings.
    #[serde(default)]
    pub run: RunSection,
    /// Custom agent runtimes, `[agents.<name>]` (see docs/runtimes.md); `gastown config agent`
    /// edits them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub agents: std::collections::BTreeMap<String, crate::runtimes::AgentConfig>,
    /// Convoy settings: the command run when a convoy lands.
    #[serde(default, skip_serializing_if = "ConvoySection::is_unset")]
    pub convoy: ConvoySection,
    /// Escalation routing: channels per severity, notify command, webhook, staleness.
    #[serde(
        default,
        skip_serializing_if = "crate::escalation::routing::EscalationSection::is_unset"
    )]
    pub escalation: crate::escalation::routing::EscalationSection,
    /// The deacon's dogs, `[dogs.<name>]` (`every`, `enabled`); absent ones keep their defaults.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub dogs: crate::dogs::DogsSection,
    /// Prices per model, `[prices."<model>"]` (`input`, `output`, `cache_write`, `cache_read`,
    /// dollars per million tokens) over the defaults (`crate::costs::prices`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub prices: std::collections::BTreeMap<String, crate::costs::prices::Price>,
    /// `[budget]`: dollars the town may spend, `daily` (UTC day) and/or `total`
    /// (`crate::budget`).
    #[serde(default, skip_serializing_if = "crate::budget::BudgetConfig::is_unset")]
    pub budget: crate::budget::BudgetConfig,
}

impl TownConfig {
    /// The price table: the defaults with `[prices]` over them (checked when town.toml is read).
    pub fn price_table(&self) -> Result<crate::costs::prices::PriceTable> {
        crate::costs::prices::PriceTable::with(&self.prices)
    }

    /// What the types cannot say: durations that must not be zero. The error names the key.
    fn check(&self, path: &Path) -> Result<()> {
        let run = &self.run;
        if run.dog_idle_after.is_some_and(|d| d.0.is_zero()) {
            bail!(
                "`run.dog_idle_after` is 0 in {}: give it a duration like \"5m\"",
                path.display()
            );
        }
        if run.stuck_release_after.is_some_and(|d| d.0.is_zero()) {
            bail!(
                "`run.stuck_release_after` is 0 in {}: give it a duration like \"30m\"",
                path.display()
            );
        }
        for (key, value) in [
            ("run.shutdown_timeout", run.shutdown_timeout),
            ("run.patrol_interval", run.patrol_interval),
        ] {
            if value.0.is_zero() {
                bail!(
                    "`{key}` is 0 in {}: give it a duration like \"30s\"",
                    path.display()
                );
            }
        }
        self.escalation
            .check()
            .map_err(|e| anyhow::anyhow!("{e} (in {})", path.display()))?;
        crate::costs::prices::PriceTable::with(&self.prices)
            .map_err(|e| anyhow::anyhow!("{e} (in {})", path.display()))?;
        crate::dogs::check(&self.dogs)
            .map_err(|e| anyhow::anyhow!("{e} (in {})", path.display()))?;
        self.budget
            .check()
            .map_err(|e| anyhow::anyhow!("{e} (in {})", path.display()))?;
        Ok(())
    }
}

/// `[convoy]` in `town.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvoySection {
    /// Run with `sh -c` in the town root when a convoy created with `--notify` lands, with
    /// `GASTOWN_CONVOY_ID` and `GASTOWN_CONVOY_NAME` set (e.g. a desktop notification or webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_command: Option<String>,
}

impl ConvoySection {
    fn is_unset(&self) -> bool {
        self.notify_command.is_none()
    }
}

/// `[roles]` in `town.toml`: which runtime each town-level role runs (e.g. `mayor = "sim"`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mayor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deacon: Option<String>,
    /// The runtime of every rig's witness agent (a rig's own `[roles] witness` wins): it judges
    /// the rig's escalations before they go up. None: the witness stays mechanical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<String>,
    /// The runtime of the deacon's dog sessions: judgement work slung to `deacon/dogs/<name>`
    /// (`docs/dogs.md`). None: such a sling is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dog: Option<String>,
}

/// `[run]` in `town.toml`; durations in humantime syntax, parsed when the file is read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// The longest an orderly shutdown may take before `gastown run` gives up waiting.
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout: HumanDuration,
    /// How long a session gets after SIGTERM before its process group is killed.
    #[serde(default = "default_stop_timeout")]
    pub stop_timeout: HumanDuration,
    /// How often the deacon patrols.
    #[serde(default = "default_patrol_interval")]
    pub patrol_interval: HumanDuration,
    /// Log filter (env-filter syntax); `GASTOWN_LOG` overrides it.
    #[serde(default = "default_log")]
    pub log: String,
    /// How long mail may wait for an idle hook runtime (Claude Code) before the router types a
    /// short "you have mail" nudge (none: `defaults::MAIL_ANNOUNCE_AFTER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_announce_after: Option<HumanDuration>,
    /// How long a dog session may sit with nothing on its hook before it is stopped (none:
    /// `defaults::DOG_IDLE_AFTER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dog_idle_after: Option<HumanDuration>,
    /// How long a stuck identity (it cannot start) keeps its hook before the deacon releases the
    /// bead back to ready (none: `defaults::STUCK_RELEASE_AFTER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stuck_release_after: Option<HumanDuration>,
}

impl RunSection {
    /// `mail_announce_after`, or its default.
    pub fn mail_announce_after(&self) -> std::time::Duration {
        self.mail_announce_after
            .map_or(defaults::MAIL_ANNOUNCE_AFTER, |d| d.0)
    }

    /// `stuck_release_after`, or its default.
    pub fn stuck_release_after(&self) -> std::time::Duration {
        self.stuck_release_after
            .map_or(defaults::STUCK_RELEASE_AFTER, |d| d.0)
    }

    /// `dog_idle_after`, or its default.
    pub fn dog_idle_after(&self) -> std::time::Duration {
        self.dog_idle_after
            .map_or(defaults::DOG_IDLE_AFTER, |d| d.0)
    }
}

impl Default for RunSection {
    fn default() -> Self {
        RunSection {
            shutdown_timeout: default_shutdown_timeout(),
            stop_timeout: default_stop_timeout(),
            patrol_interval: default_patrol_interval(),
            log: default_log(),
            mail_announce_after: None,
            dog_idle_after: None,
            stuck_release_after: None,
        }
    }
}

fn default_shutdown_timeout() -> HumanDuration {
    HumanDuration(defaults::SHUTDOWN_TIMEOUT)
}

fn default_stop_timeout() -> HumanDuration {
    HumanDuration(defaults::STOP_TIMEOUT)
}

fn default_patrol_interval() -> HumanDuration {
    HumanDuration(defaults::PATROL_INTERVAL)
}

fn default_log() -> String {
    defaults::LOG_FILTER.to_string()
}

/// `[ledger]` in `town.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSection {
    /// The git ref the ledger is committed to.
    #[serde(default = "default_git_ref")]
    pub git_ref: String,
    /// The longest a change waits in the journal before its git commit (humantime: `1s`, `500ms`).
    #[serde(default = "default_commit_delay")]
    pub commit_delay: HumanDuration,
}

impl Default for LedgerSection {
    fn default() -> Self {
        LedgerSection {
            git_ref: default_git_ref(),
            commit_delay: default_commit_delay(),
        }
    }
}

fn default_git_ref() -> String {
    defaults::LEDGER_GIT_REF.to_string()
}

fn default_commit_delay() -> HumanDuration {
    HumanDuration(defaults::COMMIT_DELAY)
}

/// A found town: its root and its config.
#[derive(Debug, Clone)]
pub struct Town {
    pub root: PathBuf,
    pub config: TownConfig,
}

impl Town {
    /// Find the town: `explicit` (from `--town` or `GASTOWN_TOWN`), else walk up from the
    /// working directory looking for `town.toml`.
    pub fn find(explicit: Option<&Path>) -> Result<Town> {
        Town::load(&Town::find_root(explicit)?)
    }

    /// The root of the town [`Town::find`] would load, without reading its config (the doctor
    /// examines towns whose town.toml does not parse).
    pub fn find_root(explicit: Option<&Path>) -> Result<PathBuf> {
        if let Some(dir) = explicit {
            if !dir.join(CONFIG_FILE).is_file() {
                bail!(
                    "{} is not a town (no {CONFIG_FILE}): create one with `gastown install {}`",
                    dir.display(),
                    dir.display()
                );
            }
            return Ok(dir.to_path_buf());
        }
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        cwd.ancestors()
            .find(|dir| dir.join(CONFIG_FILE).is_file())
            .map(Path::to_path_buf)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "not inside a town (no {CONFIG_FILE} in {} or above): pass --town <dir>, set GASTOWN_TOWN, or create one with `gastown install <dir>`",
                    cwd.display()
                )
            })
    }

    /// Read a town whose root is known.
    pub fn load(root: &Path) -> Result<Town> {
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", root.display()))?;
        let path = root.join(CONFIG_FILE);
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let config: TownConfig = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid town config", path.display()))?;
        gastown_beads::id::validate_prefix(&config.prefix)
            .with_context(|| format!("bad `prefix` in {}", path.display()))?;
        config.check(&path)?;
        Ok(Town { root, config })
    }

    /// The git-ignored local state dir.
    pub fn runtime_dir(&self) -> PathBuf {
        self.root.join(RUNTIME_DIR)
    }

    /// How to open this town's ledger.
    pub fn ledger_config(&self) -> Result<LedgerConfig> {
        let runtime = self.runtime_dir();
        ensure_private_dir(&runtime)?;
        Ok(LedgerConfig {
            repo_path: self.root.clone(),
            index_path: runtime.join("ledger.redb"),
            lock_path: runtime.join("ledger.lock"),
            prefix: self.config.prefix.clone(),
            git_ref: self.config.ledger.git_ref.clone(),
            commit_delay: self.config.ledger.commit_delay.0,
            author_name: "gastown".to_string(),
            author_email: "gastown@localhost".to_string(),
        })
    }

    /// Open the ledger directly (no supervisor in between).
    pub fn open_ledger(&self) -> Result<Ledger> {
        let cfg = self.ledger_config()?;
        Ledger::open(cfg)
            .with_context(|| format!("cannot open the ledger of {}", self.root.display()))
    }
}

/// Create `dir` (and parents) with mode 0700, or tighten an existing one.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot set mode 0700 on {}", dir.display()))
}
