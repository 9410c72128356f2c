//! Rigs: the git projects a town manages. A rig is a directory of the town holding `rig.toml`;
//! the set of rigs is the set of `<town>/*/rig.toml` (nothing else registers them).
//!
//! Layout (see docs/rigs.md):
//! ```text
//! <town>/<rig>/
//! ├── rig.toml                  config (committed to the town repository)
//! ├── .gitignore                ignores everything below (committed)
//! ├── .repo.git/                shared bare clone; branches are ours, origin/* tracks the source
//! ├── refinery/rig/             the refinery's worktree, detached at the default branch
//! ├── polecats/<name>/rig/      a polecat's worktree on `polecat/<name>/<bead>`, made on demand
//! └── crew/<name>/rig/          a crew member's full clone of the source
//! ```

// This is the API sling, done, the witness and the refinery build on (issue 5); not all of it
// is called yet.

mod add;
mod config;
mod error;
mod gate;
mod knobs;
mod lock;
mod names;
pub mod orphans;
mod prefix;
pub mod reconcile;
mod worktree;

pub use add::{AddOptions, AddStep, add_rig, add_rig_watched, checked_out_fix, remove_rig};
pub use config::{Gate, MergeStrategy, RIG_CONFIG_FILE, RigConfig};
pub use error::{Result, RigError};
pub use gate::{GateOutcome, run_gate};
pub use knobs::{Edited, ShownConfig, ShownKnob, knob_keys, set_knob, show_knobs, unset_knob};
pub use lock::WorkspaceLock;
pub use names::validate_name;
pub use prefix::{bead_prefix, caller_prefix, identity_prefix, rig_of_dir, shared_rig_prefix};
pub use worktree::{
    PolecatStatus, ensure_crew_clone, ensure_polecat_worktree, ensure_refinery_worktree,
    polecat_branch, polecat_status, remove_polecat_worktree,
};

use crate::town::Town;
use std::fs;
use std::path::{Path, PathBuf};

/// The bare clone's directory name inside a rig.
pub const BARE_REPO_DIR: &str = ".repo.git";
/// The directory name of every worktree or clone inside its agent's directory.
pub const WORKTREE_DIR: &str = "rig";

/// A rig of a town: its config and where it lives.
#[derive(Debug, Clone)]
pub struct Rig {
    /// `rig.toml`, checked on load.
    pub config: RigConfig,
    /// `<town>/<name>`, absolute.
    dir: PathBuf,
}

impl Rig {
    /// The rig `name` of `town`.
    pub fn load(town: &Town, name: &str) -> Result<Rig> {
        validate_name("rig", name)?;
        let dir = town.root.join(name);
        let path = dir.join(RIG_CONFIG_FILE);
        if !path.is_file() {
            return Err(RigError::NotFound {
                name: name.to_string(),
                town: town.root.clone(),
            });
        }
        Rig::from_dir(&dir)
    }

    /// Read the rig whose directory is `dir`; its config's name must match the directory.
    pub fn from_dir(dir: &Path) -> Result<Rig> {
        let path = dir.join(RIG_CONFIG_FILE);
        let config = RigConfig::read(&path)?;
        let dir_name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        if dir_name.as_deref() != Some(config.name.as_str()) {
            return Err(RigError::Config {
                path,
                message: format!(
                    "`name` is {:?} but the rig's directory is {:?}: they must be equal",
                    config.name,
                    dir_name.unwrap_or_default()
                ),
            });
        }
        Ok(Rig {
            config,
            dir: dir.to_path_buf(),
        })
    }

    /// Every rig of `town` one by one, sorted by its directory's name: a rig whose config is bad
    /// is an error of its own (naming its file) and never hides the others, so one broken
    /// rig.toml does not stop the town's other rigs.
    pub fn list_each(town: &Town) -> Result<Vec<(String, Result<Rig>)>> {
        let entries = fs::read_dir(&town.root).map_err(|e| RigError::io("list", &town.root, e))?;
        let mut rigs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| RigError::io("list", &town.root, e))?;
            let dir = entry.path();
            if dir.join(RIG_CONFIG_FILE).is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                rigs.push((name, Rig::from_dir(&dir)));
            }
        }
        rigs.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(rigs)
    }

    /// Every rig of `town`, sorted by name. A rig with a bad config is an error naming its file.
    pub fn list(town: &Town) -> Result<Vec<Rig>> {
        let entries = fs::read_dir(&town.root).map_err(|e| RigError::io("list", &town.root, e))?;
        let mut rigs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| RigError::io("list", &town.root, e))?;
            let dir = entry.path();
            if dir.join(RIG_CONFIG_FILE).is_file() {
                rigs.push(Rig::from_dir(&dir)?);
            }
        }
        rigs.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        Ok(rigs)
    }

    /// The rig's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// `<town>/<rig>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<town>/<rig>/rig.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join(RIG_CONFIG_FILE)
    }

    /// The shared bare clone every worktree belongs to.
    pub fn bare_repo(&self) -> PathBuf {
        self.dir.join(BARE_REPO_DIR)
    }

    /// The refinery's home, `<rig>/refinery`.
    pub fn refinery_dir(&self) -> PathBuf {
        self.dir.join("refinery")
    }

    /// The refinery's worktree, `<rig>/refinery/rig`.
    pub fn refinery_worktree(&self) -> PathBuf {
        self.refinery_dir().join(WORKTREE_DIR)
    }

    /// `<rig>/polecats`.
    pub fn polecats_dir(&self) -> PathBuf {
        self.dir.join("polecats")
    }

    /// A polecat's home, `<rig>/polecats/<name>`.
    pub fn polecat_dir(&self, name: &str) -> PathBuf {
        self.polecats_dir().join(name)
    }

    /// A polecat's worktree, `<rig>/polecats/<name>/rig`.
    pub fn polecat_worktree(&self, name: &str) -> PathBuf {
        self.polecat_dir(name).join(WORKTREE_DIR)
    }

    /// `<rig>/crew`.
    pub fn crew_root(&self) -> PathBuf {
        self.dir.join("crew")
    }

    /// A crew member's home, `<rig>/crew/<name>`.
    pub fn crew_dir(&self, name: &str) -> PathBuf {
        self.crew_root().join(name)
    }

    /// A crew member's clone, `<rig>/crew/<name>/rig`.
    pub fn crew_clone(&self, name: &str) -> PathBuf {
        self.crew_dir(name).join(WORKTREE_DIR)
    }

    /// `refs/heads/<default branch>`: what polecats start from and the refinery merges into.
    pub fn default_ref(&self) -> String {
        format!("refs/heads/{}", self.config.default_branch)
    }

    /// Names of the polecats that have a directory under `polecats/`, sorted.
    pub fn polecats_present(&self) -> Result<Vec<String>> {
        names_in(&self.polecats_dir())
    }

    /// Names of the crew members that have a directory under `crew/`, sorted.
    pub fn crew_present(&self) -> Result<Vec<String>> {
        names_in(&self.crew_root())
    }
}

/// The first name of the rig's polecat pool not in `in_use` (`None`: the pool is used up).
pub fn next_free_polecat_name(rig: &Rig, in_use: &[String]) -> Option<String> {
    names::first_free_name(&rig.config.polecat_names, in_use)
}

fn names_in(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RigError::io("list", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| RigError::io("list", dir, e))?;
        if entry.path().is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests;
