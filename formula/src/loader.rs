//! The only module that touches the file system: builds a [`Library`] from search-path
//! directories, reads a formula named by path, and finds a formula's overlay file.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cook::{CookOptions, Vars, cook_formula};
use crate::error::FormulaError;
use crate::library::{Library, stem};
use crate::model::{Formula, Overlay};
use crate::proto::Protomolecule;

/// One directory of the search path and the layer name `formula list` shows for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDir {
    /// Layer name: `rig`, `town`, ...
    pub layer: String,
    /// The directory holding `*.formula.toml` files (a missing directory is skipped).
    pub dir: PathBuf,
}

impl SearchDir {
    /// A search directory with its layer name.
    pub fn new(layer: impl Into<String>, dir: impl Into<PathBuf>) -> SearchDir {
        SearchDir {
            layer: layer.into(),
            dir: dir.into(),
        }
    }
}

/// Builds the library for a search path: each directory in order (the rig's
/// `.beads/formulas/` first, then the town's), then the built-in formulas. A file that does
/// not parse occupies its name with its error; a directory that exists but cannot be listed
/// is an error.
pub fn load_library(dirs: &[SearchDir]) -> Result<Library, FormulaError> {
    let mut library = Library::new();
    for search in dirs {
        for path in formula_files(&search.dir)? {
            let file_name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let name = stem(file_name).to_string();
            match read_formula(&path) {
                Ok(formula) => {
                    library.insert(&search.layer, formula);
                }
                Err(error) => library.insert_broken(&search.layer, &name, error),
            }
        }
    }
    library.add_builtins();
    Ok(library)
}

/// The `*.formula.toml` files of `dir`, sorted by name; none when `dir` does not exist.
pub fn formula_files(dir: &Path) -> Result<Vec<PathBuf>, FormulaError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(dir, &e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| io_error(dir, &e))?.path();
        let is_formula = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".formula.toml"));
        if is_formula && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads and parses one formula file; errors name `path`.
pub fn read_formula(path: &Path) -> Result<Formula, FormulaError> {
    let text = fs::read_to_string(path).map_err(|e| io_error(path, &e))?;
    Formula::parse(&path.display().to_string(), &text)
}

/// Whether a command-line argument names a file rather than a formula.
pub fn looks_like_path(name_or_path: &str) -> bool {
    name_or_path.ends_with(".toml") || name_or_path.contains('/') || name_or_path.contains('\\')
}

/// Cooks a formula given by name (looked up in `library`) or by path to a `.formula.toml`.
pub fn cook_name_or_path(
    library: &Library,
    name_or_path: &str,
    vars: &Vars,
    overlay: Option<&Overlay>,
) -> Result<Protomolecule, FormulaError> {
    let options = CookOptions {
        vars: Some(vars),
        overlay,
    };
    if looks_like_path(name_or_path) {
        let formula = read_formula(Path::new(name_or_path))?;
        return cook_formula(library, &formula, &options);
    }
    let formula = library.get(name_or_path)?;
    cook_formula(library, formula, &options)
}

/// The overlay for formula `name`: `<dir>/<name>.toml` in the first of `dirs` that has one
/// (a rig's `formula-overlays/` before the town's; the first found wins outright, overlays
/// are not merged).
pub fn load_overlay(dirs: &[PathBuf], name: &str) -> Result<Option<Overlay>, FormulaError> {
    for dir in dirs {
        let path = dir.join(format!("{name}.toml"));
        match fs::read_to_string(&path) {
            Ok(text) => return Overlay::parse(&path.display().to_string(), &text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&path, &e)),
        }
    }
    Ok(None)
}

fn io_error(path: &Path, error: &std::io::Error) -> FormulaError {
    FormulaError::Io {
        file: path.display().to_string(),
        message: error.to_string(),
    }
}
