//! `rig.toml`: a rig's config — where its code comes from, its default branch, the gates a merge
//! must pass, how the refinery merges, and how many polecats it may run under which names.
//!
//! ```toml
//! name = "myrig"
//! url = "https://example.com/me/myrig.git"
//! default_branch = "main"
//! prefix = "myrig"
//! merge_strategy = "merge"   # or "squash", "rebase"
//! max_polecats = 4
//! batch = 1
//! runtime = "claude"         # optional: the agent runtime of this rig's roles
//! polecat_names = ["nux", "furiosa", "slit"]
//!
//! [gates]                    # each optional; run with `sh -c` in a worktree
//! setup = "npm ci"
//! build = "cargo build"
//! test = "cargo test"
//! lint = "cargo clippy -- -D warnings"
//! timeout = "10m"            # per gate command, humantime syntax
//!
//! [refinery]                 # optional; these are the defaults
//! push = true                # land on origin: fetch, merge on its tip, push with a lease
//! push_branches = true       # `gastown done` pushes the polecat's branch to origin
//! remote_timeout = "2m"      # the longest one fetch or push may take
//!
//! [witness]                  # optional; these are the defaults (see `crate::witness`)
//! patrol_every = "30s"
//! start_after = "90s"
//! stall_after = "5m"
//! hung_after = "30m"
//! nudges = 2
//! restarts = 2
//! ```

use super::error::{Result, RigError};
use super::names::{DEFAULT_POLECAT_NAMES, validate_name};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs;
use std::path::Path;

pub use crate::duration::HumanDuration;

/// The file in a rig's directory that makes it a rig.
pub const RIG_CONFIG_FILE: &str = "rig.toml";

/// `rig.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigConfig {
    /// The rig's name; equal to its directory's name under the town.
    pub name: String,
    /// Where the code comes from: a URL git can clone, or an absolute local path.
    pub url: String,
    /// The branch polecats start from and the refinery merges into.
    pub default_branch: String,
    /// The bead id prefix of the rig's beads (`myrig-a1b2`).
    pub prefix: String,
    /// How the refinery lands a merge request on the default branch.
    #[serde(default)]
    pub merge_strategy: MergeStrategy,
    /// The most polecats working at once; more work waits in the rig's dispatch queue.
    #[serde(default = "default_max_polecats")]
    pub max_polecats: usize,
    /// How many merge requests the refinery merges and gates together.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// The agent runtime of the rig's roles (none: the town's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Names given to new polecats, in order.
    #[serde(default = "default_polecat_names")]
    pub polecat_names: Vec<String>,
    /// Commands a merge must pass.
    #[serde(default)]
    pub gates: GatesConfig,
    /// How the refinery talks to the rig's source remote (`origin` of the bare clone).
    #[serde(default)]
    pub refinery: RefineryConfig,
    /// How the rig's witness watches its polecats.
    #[serde(default)]
    pub witness: crate::witness::WitnessConfig,
    /// `[roles]`: runtimes of the rig's own roles.
    #[serde(default, skip_serializing_if = "RigRoles::is_unset")]
    pub roles: RigRoles,
    /// `[budget]`: dollars the rig's agents may spend, `daily` (UTC day) and/or `total`
    /// (`crate::budget`).
    #[serde(default, skip_serializing_if = "crate::budget::BudgetConfig::is_unset")]
    pub budget: crate::budget::BudgetConfig,
}

/// `[roles]` in `rig.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigRoles {
    /// The runtime of the rig's witness agent, over town.toml's `[roles] witness`; `"none"`
    /// keeps this rig's witness mechanical whatever the town says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<String>,
}

impl RigRoles {
    fn is_unset(&self) -> bool {
        self.witness.is_none()
    }
}

/// `[refinery]` in `rig.toml`: landing on the source remote. A rig.toml without the table (made
/// before it existed) gets these defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefineryConfig {
    /// Land on origin: before each batch fetch origin's target and merge on its tip; after the
    /// gates pass push with a compare-and-swap, then move the rig's own target. `false`: the
    /// rig's bare clone is the only target (work stays in the town), and nothing is pushed.
    #[serde(default = "default_true")]
    pub push: bool,
    /// `gastown done` pushes the polecat's branch to origin (so work in flight survives the loss
    /// of the town's disk); the refinery deletes it there once the merge is confirmed. Only
    /// with `push = true`.
    #[serde(default = "default_true")]
    pub push_branches: bool,
    /// The longest one fetch, push or query of origin may take before git is killed.
    #[serde(default = "default_remote_timeout")]
    pub remote_timeout: HumanDuration,
}

impl Default for RefineryConfig {
    fn default() -> Self {
        RefineryConfig {
            push: true,
            push_branches: true,
            remote_timeout: default_remote_timeout(),
        }
    }
}

impl RefineryConfig {
    /// Polecat branches go to origin: `push` and `push_branches` both on.
    pub fn pushes_branches(&self) -> bool {
        self.push && self.push_branches
    }
}

fn default_true() -> bool {
    true
}

fn default_remote_timeout() -> HumanDuration {
    HumanDuration(crate::defaults::REMOTE_TIMEOUT)
}

/// `[gates]` in `rig.toml`: shell commands run with `sh -c` in a worktree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatesConfig {
    /// Prepares a fresh worktree (install dependencies, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint: Option<String>,
    /// The longest one gate command may run before its process group is killed.
    #[serde(default = "default_gate_timeout")]
    pub timeout: HumanDuration,
}

impl Default for GatesConfig {
    fn default() -> Self {
        GatesConfig {
            setup: None,
            build: None,
            test: None,
            lint: None,
            timeout: default_gate_timeout(),
        }
    }
}

impl GatesConfig {
    /// The command of one gate, if the rig has one.
    pub fn command(&self, gate: Gate) -> Option<&str> {
        match gate {
            Gate::Setup => self.setup.as_deref(),
            Gate::Build => self.build.as_deref(),
            Gate::Test => self.test.as_deref(),
            Gate::Lint => self.lint.as_deref(),
        }
    }
}

/// One of a rig's gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gate {
    Setup,
    Build,
    Test,
    Lint,
}

impl Gate {
    /// All gates in the order the refinery runs them.
    pub const ALL: [Gate; 4] = [Gate::Setup, Gate::Build, Gate::Test, Gate::Lint];
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Gate::Setup => "setup",
            Gate::Build => "build",
            Gate::Test => "test",
            Gate::Lint => "lint",
        })
    }
}

/// How the refinery lands work on the default branch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeStrategy {
    /// A merge commit (the polecat's commits stay, so its branch counts as merged).
    #[default]
    Merge,
    /// One new commit with the branch's changes.
    Squash,
    /// The branch's commits replayed onto the target.
    Rebase,
}

impl fmt::Display for MergeStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MergeStrategy::Merge => "merge",
            MergeStrategy::Squash => "squash",
            MergeStrategy::Rebase => "rebase",
        })
    }
}

fn default_max_polecats() -> usize {
    crate::defaults::MAX_POLECATS
}

fn default_batch() -> usize {
    crate::defaults::BATCH
}

fn default_gate_timeout() -> HumanDuration {
    HumanDuration(crate::defaults::GATE_TIMEOUT)
}

/// The default polecat name pool.
pub fn default_polecat_names() -> Vec<String> {
    DEFAULT_POLECAT_NAMES
        .iter()
        .map(|n| n.to_string())
        .collect()
}

impl RigConfig {
    /// A config with defaults for everything but what `rig add` knows.
    pub fn new(name: &str, url: &str, default_branch: &str, prefix: &str) -> RigConfig {
        RigConfig {
            name: name.to_string(),
            url: url.to_string(),
            default_branch: default_branch.to_string(),
            prefix: prefix.to_string(),
            merge_strategy: MergeStrategy::default(),
            max_polecats: default_max_polecats(),
            batch: default_batch(),
            runtime: None,
            polecat_names: default_polecat_names(),
            gates: GatesConfig::default(),
            refinery: RefineryConfig::default(),
            witness: crate::witness::WitnessConfig::default(),
            roles: RigRoles::default(),
            budget: crate::budget::BudgetConfig::default(),
        }
    }

    /// Read and check `path`; every error names the file.
    pub fn read(path: &Path) -> Result<RigConfig> {
        let text = fs::read_to_string(path).map_err(|e| RigError::io("read", path, e))?;
        let config: RigConfig = toml::from_str(&text).map_err(|e| RigError::Config {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.check().map_err(|message| RigError::Config {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(config)
    }

    /// Write the config to `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        let body = toml::to_string(self).map_err(|e| RigError::Config {
            path: path.to_path_buf(),
            message: format!("cannot render: {e}"),
        })?;
        let text = format!(
            "# Gas Town rig config: see docs/rigs.md for every key.\n\
             # [gates]: setup, build, test, lint are shell commands run with `sh -c` in a worktree,\n\
             # each killed (with everything it started) after `timeout`.\n\
             # [refinery]: push = land on origin (fetch, merge on its tip, push with a lease);\n\
             # push_branches = `gastown done` pushes polecat branches; remote_timeout per git call.\n{body}"
        );
        fs::write(path, text).map_err(|e| RigError::io("write", path, e))
    }

    /// The rules serde cannot express; the message names the key.
    pub fn check(&self) -> std::result::Result<(), String> {
        validate_name("rig", &self.name).map_err(|e| format!("bad `name`: {e}"))?;
        gastown_beads::id::validate_prefix(&self.prefix)
            .map_err(|e| format!("bad `prefix`: {e}"))?;
        if self.url.trim().is_empty() {
            return Err("`url` is empty: set it to the URL or path the rig was cloned from".into());
        }
        if self.default_branch.trim().is_empty() || self.default_branch.starts_with('-') {
            return Err(format!(
                "bad `default_branch` {:?}: name a branch of the rig",
                self.default_branch
            ));
        }
        if self.max_polecats == 0 {
            return Err("`max_polecats` is 0: allow at least 1 polecat".into());
        }
        if self.batch == 0 {
            return Err("`batch` is 0: merge at least 1 merge request at a time".into());
        }
        if self.refinery.remote_timeout.0.is_zero() {
            return Err(
                "`refinery.remote_timeout` is 0: give origin time to answer, e.g. \"2m\"".into(),
            );
        }
        self.witness.check()?;
        self.budget.check()?;
        if self.runtime.as_deref().is_some_and(|r| r.trim().is_empty()) {
            return Err("`runtime` is empty: name a runtime or leave the key out".into());
        }
        self.check_polecat_names()
    }

    fn check_polecat_names(&self) -> std::result::Result<(), String> {
        if self.polecat_names.is_empty() {
            return Err("`polecat_names` is empty: list at least one name".into());
        }
        for (i, name) in self.polecat_names.iter().enumerate() {
            validate_name("polecat", name).map_err(|e| format!("bad `polecat_names`: {e}"))?;
            if self.polecat_names[..i].contains(name) {
                return Err(format!("`polecat_names` lists {name:?} twice"));
            }
        }
        Ok(())
    }
}

/// The default bead id prefix for a rig: its name made into a valid prefix (`_` → `-`, no
/// doubled or trailing `-`, at most 16 characters, starting with a letter).
pub fn default_prefix(rig_name: &str) -> String {
    let mut p = String::new();
    for c in rig_name.chars() {
        let c = if c == '_' { '-' } else { c };
        if c.is_ascii_lowercase() || c.is_ascii_digit() || (c == '-' && !p.ends_with('-')) {
            p.push(c);
        }
    }
    if !p.starts_with(|c: char| c.is_ascii_lowercase()) {
        p.insert(0, 'r');
    }
    p.truncate(gastown_beads::id::MAX_PREFIX_LEN);
    while p.ends_with('-') {
        p.pop();
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn check_prefix(name: &str, expected: &str) {
        let p = default_prefix(name);
        assert_eq!(p, expected, "{name}");
        gastown_beads::id::validate_prefix(&p).expect("a default prefix is valid");
    }

    #[test]
    fn default_prefixes_are_valid() {
        check_prefix("myrig", "myrig");
        check_prefix("my_rig", "my-rig");
        check_prefix("a__b", "a-b");
        check_prefix("9lives", "r9lives");
        check_prefix("a-very-long-rig-name-indeed", "a-very-long-rig");
        check_prefix("abcdefghijklmno-x", "abcdefghijklmno");
    }

    fn config_error(text: &str) -> String {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(RIG_CONFIG_FILE);
        fs::write(&path, text).expect("write");
        let err = RigConfig::read(&path)
            .expect_err("a bad config")
            .to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        err
    }

    const BASE: &str = "name = \"r\"\nurl = \"/src\"\ndefault_branch = \"main\"\nprefix = \"r\"\n";

    #[test]
    fn witness_knobs_are_read_and_bad_ones_name_the_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(RIG_CONFIG_FILE);
        fs::write(&path, BASE).expect("write");
        let config = RigConfig::read(&path).expect("a config without [witness]");
        assert_eq!(config.witness, crate::witness::WitnessConfig::default());
        assert_eq!(config.witness.stall_after.0, Duration::from_secs(300));
        fs::write(
            &path,
            format!("{BASE}[witness]\npatrol_every = \"200ms\"\nnudges = 1\nrestarts = 0\n"),
        )
        .expect("write");
        let config = RigConfig::read(&path).expect("a config with [witness]");
        assert_eq!(config.witness.patrol_every.0, Duration::from_millis(200));
        assert_eq!((config.witness.nudges, config.witness.restarts), (1, 0));
        assert_eq!(config.witness.hung_after.0, Duration::from_secs(1800));
        for (text, key) in [
            ("stall_after = \"soon\"", "stall_after"),
            ("hung_after = \"0s\"", "witness.hung_after"),
            ("patrol_every = \"0s\"", "witness.patrol_every"),
            ("nudges = -1", "nudges"),
            ("naps = 3", "naps"),
        ] {
            let err = config_error(&format!("{BASE}[witness]\n{text}\n"));
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn bad_configs_name_the_file_and_the_key() {
        assert!(config_error(&format!("{BASE}colour = 1\n")).contains("colour"));
        assert!(config_error(&format!("{BASE}merge_strategy = \"yolo\"\n")).contains("yolo"));
        assert!(config_error(&format!("{BASE}[gates]\ntimeout = \"soon\"\n")).contains("soon"));
        assert!(config_error(&format!("{BASE}max_polecats = 0\n")).contains("max_polecats"));
        assert!(config_error(&format!("{BASE}polecat_names = [\"a\", \"a\"]\n")).contains("twice"));
        assert!(config_error(&format!("{BASE}polecat_names = [\"../x\"]\n")).contains("../x"));
        assert!(config_error(&format!("{BASE}[refinery]\npush = \"yes\"\n")).contains("push"));
        assert!(config_error(&format!("{BASE}[refinery]\npull = true\n")).contains("pull"));
        assert!(
            config_error(&format!("{BASE}[refinery]\nremote_timeout = \"0s\"\n"))
                .contains("remote_timeout")
        );
        assert!(
            config_error(&format!("{BASE}[refinery]\nremote_timeout = \"later\"\n"))
                .contains("later")
        );
        let bad_name = BASE.replace("name = \"r\"", "name = \"R\"");
        assert!(config_error(&bad_name).contains("`name`"));
    }

    #[test]
    fn defaults_fill_in_and_round_trip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(RIG_CONFIG_FILE);
        fs::write(
            &path,
            format!("{BASE}[gates]\ntest = \"true\"\ntimeout = \"200ms\"\n"),
        )
        .expect("write");
        let config = RigConfig::read(&path).expect("valid");
        assert_eq!(config.max_polecats, 4);
        assert_eq!(config.batch, 1);
        assert_eq!(config.merge_strategy, MergeStrategy::Merge);
        assert_eq!(config.polecat_names, default_polecat_names());
        assert_eq!(config.gates.timeout.0, Duration::from_millis(200));
        assert_eq!(config.gates.command(Gate::Test), Some("true"));
        // A rig.toml from before `[refinery]` existed lands on origin with the defaults.
        assert_eq!(config.refinery, RefineryConfig::default());
        assert!(config.refinery.push && config.refinery.pushes_branches());
        assert_eq!(config.refinery.remote_timeout.0, Duration::from_secs(120));
        config.write(&path).expect("write back");
        assert_eq!(RigConfig::read(&path).expect("still valid"), config);
    }

    #[test]
    fn the_refinery_table_is_read_and_written_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(RIG_CONFIG_FILE);
        fs::write(
            &path,
            format!("{BASE}[refinery]\npush_branches = false\nremote_timeout = \"5s\"\n"),
        )
        .expect("write");
        let config = RigConfig::read(&path).expect("valid");
        assert!(config.refinery.push);
        assert!(!config.refinery.pushes_branches());
        assert_eq!(config.refinery.remote_timeout.0, Duration::from_secs(5));
        config.write(&path).expect("write back");
        let text = fs::read_to_string(&path).expect("read");
        assert!(text.contains("[refinery]"), "{text}");
        assert_eq!(RigConfig::read(&path).expect("still valid"), config);
        let mut local = config.clone();
        local.refinery.push = false;
        assert!(
            !local.refinery.pushes_branches(),
            "push = false pushes nothing"
        );
    }
}
