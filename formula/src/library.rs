//! The set of formulas a cook can see: layers in search-path order (the rig's
//! `.beads/formulas/`, the town's, then the formulas built into the binary), the first
//! formula of a name winning. A file that failed to parse still occupies its name, so a
//! broken rig override reports its error instead of silently falling back to a built-in.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::builtin;
use crate::error::FormulaError;
use crate::model::Formula;

/// A formula on the search path.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The parsed formula (shared, so cooking can hold several at once cheaply).
    pub formula: Arc<Formula>,
    /// The layer it came from (`rig`, `town`, `builtin`, or a directory), for `formula list`.
    pub layer: String,
}

/// What occupies a name on the search path.
#[derive(Debug, Clone)]
enum Slot {
    Ok(Entry),
    Broken { layer: String, error: FormulaError },
}

/// Formulas by name, resolved through the search path.
#[derive(Debug, Clone, Default)]
pub struct Library {
    /// Layer names in priority order, for "not found" messages.
    layers: Vec<String>,
    /// The winning formula (or parse error) for each name.
    slots: BTreeMap<String, Slot>,
    /// Formulas hidden by a same-named one in a higher layer.
    shadowed: Vec<Entry>,
}

impl Library {
    /// An empty library (no built-ins).
    pub fn new() -> Library {
        Library::default()
    }

    /// A library holding only the formulas built into the binary.
    pub fn builtin() -> Library {
        let mut library = Library::new();
        library.add_builtins();
        library
    }

    /// Adds the built-in formulas as the lowest layer, `builtin`.
    pub fn add_builtins(&mut self) {
        for (file, text) in builtin::SOURCES {
            let source = format!("builtin:{file}");
            match Formula::parse(&source, text) {
                Ok(formula) => {
                    self.insert("builtin", formula);
                }
                Err(error) => self.insert_broken("builtin", stem(file), error),
            }
        }
    }

    /// Adds a formula to `layer`. Layers must be added highest priority first; returns false
    /// when a formula of the same name is already present (this one is then shadowed).
    pub fn insert(&mut self, layer: &str, formula: Formula) -> bool {
        self.note_layer(layer);
        let entry = Entry {
            formula: Arc::new(formula),
            layer: layer.to_string(),
        };
        let name = entry.formula.formula.clone();
        if self.slots.contains_key(&name) {
            self.shadowed.push(entry);
            return false;
        }
        self.slots.insert(name, Slot::Ok(entry));
        true
    }

    /// Records that the file for formula `name` in `layer` could not be parsed; looking the
    /// name up returns `error` unless a higher layer already provides it.
    pub fn insert_broken(&mut self, layer: &str, name: &str, error: FormulaError) {
        self.note_layer(layer);
        self.slots.entry(name.to_string()).or_insert(Slot::Broken {
            layer: layer.to_string(),
            error,
        });
    }

    fn note_layer(&mut self, layer: &str) {
        if !self.layers.iter().any(|l| l == layer) {
            self.layers.push(layer.to_string());
        }
    }

    /// The formula named `name`, or why it cannot be had.
    pub fn get(&self, name: &str) -> Result<&Arc<Formula>, FormulaError> {
        match self.slots.get(name) {
            Some(Slot::Ok(entry)) => Ok(&entry.formula),
            Some(Slot::Broken { error, .. }) => Err(error.clone()),
            None => Err(FormulaError::NotFound {
                name: name.to_string(),
                searched: self.searched(),
            }),
        }
    }

    /// Whether a formula (or a broken file) of this name is on the search path.
    pub fn contains(&self, name: &str) -> bool {
        self.slots.contains_key(name)
    }

    /// Every name on the search path, sorted, with its winning entry or its parse error.
    pub fn list(&self) -> Vec<Listed<'_>> {
        self.slots
            .iter()
            .map(|(name, slot)| match slot {
                Slot::Ok(entry) => Listed {
                    name,
                    layer: &entry.layer,
                    formula: Ok(&entry.formula),
                },
                Slot::Broken { layer, error } => Listed {
                    name,
                    layer,
                    formula: Err(error),
                },
            })
            .collect()
    }

    /// Formulas hidden by a same-named formula in a higher layer.
    pub fn shadowed(&self) -> &[Entry] {
        &self.shadowed
    }

    /// The layers searched, highest priority first, for messages.
    pub fn searched(&self) -> String {
        if self.layers.is_empty() {
            "the search path is empty".to_string()
        } else {
            format!("searched {}", self.layers.join(", "))
        }
    }
}

/// One row of [`Library::list`].
#[derive(Debug)]
pub struct Listed<'a> {
    /// The formula's name.
    pub name: &'a str,
    /// The layer it comes from.
    pub layer: &'a str,
    /// The formula, or the error that keeps it from being used.
    pub formula: Result<&'a Arc<Formula>, &'a FormulaError>,
}

/// The formula name a file name stands for: `shiny.formula.toml` → `shiny`.
pub fn stem(file_name: &str) -> &str {
    file_name
        .strip_suffix(".formula.toml")
        .or_else(|| file_name.strip_suffix(".toml"))
        .unwrap_or(file_name)
}
