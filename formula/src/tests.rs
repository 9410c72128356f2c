//! Unit tests: `errors` (every bad input, data-driven) and `composition` (what cooking makes
//! of extends, expansions, aspects, overrides, children, convoys and the built-ins).

mod composition;
mod errors;

use crate::{CookOptions, Formula, FormulaError, Library, Protomolecule, Vars, cook_formula, stem};

/// A library of in-memory files (`(file name, text)`); unparsable files keep their error.
fn library(files: &[(&str, &str)]) -> Library {
    let mut library = Library::new();
    for (source, text) in files {
        match Formula::parse(source, text) {
            Ok(formula) => {
                library.insert("test", formula);
            }
            Err(error) => library.insert_broken("test", stem(source), error),
        }
    }
    library
}

/// Cooks `name` from `files` with `vars`.
fn cook_in(
    files: &[(&str, &str)],
    name: &str,
    vars: &[(&str, &str)],
) -> Result<Protomolecule, FormulaError> {
    let library = library(files);
    let vars: Vars = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let formula = library.get(name)?;
    let options = CookOptions {
        vars: Some(&vars),
        overlay: None,
    };
    cook_formula(&library, formula, &options)
}

/// Step ids in protomolecule order.
fn ids(proto: &Protomolecule) -> Vec<&str> {
    proto.steps.iter().map(|s| s.id.as_str()).collect()
}

/// The needs of step `id`.
fn needs<'a>(proto: &'a Protomolecule, id: &str) -> Vec<&'a str> {
    let step = proto
        .step(id)
        .unwrap_or_else(|| panic!("no step {id} in {:?}", ids(proto)));
    step.needs.iter().map(String::as_str).collect()
}
