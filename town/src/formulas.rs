//! The formula search path, and cooking a formula found on it.
//!
//! First of a name wins: the rig's `.beads/formulas/` (an explicit rig directory, else the
//! nearest `.beads/formulas/` at or above the working directory and below the town root), the
//! town's `<town>/.beads/formulas/`, then the formulas built into `gastown-formula`. Outside a
//! town the rig layer and the built-ins are searched.

use crate::Town;
use anyhow::{Context, Result};
use gastown_formula::loader::{self, SearchDir};
use gastown_formula::{Library, Protomolecule, Vars};
use std::path::{Path, PathBuf};

/// The directories of the search path above the built-ins, highest first.
pub fn search_dirs(town: Option<&Town>, rig_dir: Option<&Path>) -> Result<Vec<SearchDir>> {
    let town_formulas = town.map(|t| t.root.join(".beads").join("formulas"));
    let rig = match rig_dir {
        Some(dir) => Some(dir.join(".beads").join("formulas")),
        None => {
            let cwd = std::env::current_dir().context("cannot read the working directory")?;
            nearest_rig_formulas(&cwd, town.map(|t| t.root.as_path()))
        }
    };
    let mut dirs = Vec::new();
    if let Some(rig) = rig.filter(|r| Some(r) != town_formulas.as_ref()) {
        dirs.push(SearchDir::new("rig", rig));
    }
    if let Some(dir) = town_formulas {
        dirs.push(SearchDir::new("town", dir));
    }
    Ok(dirs)
}

/// The nearest `.beads/formulas/` at or above `cwd`, stopping before the town root.
fn nearest_rig_formulas(cwd: &Path, town_root: Option<&Path>) -> Option<PathBuf> {
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
    for dir in cwd.ancestors() {
        if Some(dir) == town_root {
            return None;
        }
        let candidate = dir.join(".beads").join("formulas");
        if candidate.is_dir() {
            return Some(candidate);
        }
    }
    None
}

/// The formulas visible from here. When `name` is a path to a formula file, the file's own
/// directory joins the search path below the town (so what it extends or composes can sit
/// beside it).
pub fn library(town: Option<&Town>, rig_dir: Option<&Path>, name: Option<&str>) -> Result<Library> {
    let mut dirs = search_dirs(town, rig_dir)?;
    if let Some(dir) = name
        .filter(|n| loader::looks_like_path(n))
        .map(absolute_if_path)
        .transpose()?
        .and_then(|p| Path::new(&p).parent().map(Path::to_path_buf))
        .filter(|d| !dirs.iter().any(|s| &s.dir == d))
    {
        dirs.push(SearchDir::new("dir", dir));
    }
    loader::load_library(&dirs).context("cannot read the formula search path")
}

/// Cook a name or a path with `--var` values; the error names the file and the step.
pub fn cook(library: &Library, name: &str, vars: &[(String, String)]) -> Result<Protomolecule> {
    let vars: Vars = vars.iter().cloned().collect();
    let path = absolute_if_path(name)?;
    loader::cook_name_or_path(library, &path, &vars, None)
        .with_context(|| format!("cannot cook formula {name}"))
}

/// A path argument made absolute (a name is returned as it is).
pub fn absolute_if_path(name: &str) -> Result<String> {
    if !loader::looks_like_path(name) || Path::new(name).is_absolute() {
        return Ok(name.to_string());
    }
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    Ok(cwd.join(name).display().to_string())
}
