//! Every real formula in `$GASTOWN_CORPUS/gastown-formulas/` parses, validates and cooks with
//! its required variables filled with placeholders — or is rejected for a reason listed in
//! `EXPECTED_REJECTS`, so a change either way fails the test.

use std::collections::BTreeMap;
use std::path::PathBuf;

use gastown_formula::loader::{SearchDir, formula_files, load_library};
use gastown_formula::{CookOptions, Library, Vars, cook_formula, declared_vars};

/// Corpus files that are truly malformed: (file name, text the error must contain).
const EXPECTED_REJECTS: &[(&str, &str)] = &[];

fn corpus_dir() -> Option<PathBuf> {
    let root = std::env::var_os("GASTOWN_CORPUS")?;
    Some(PathBuf::from(root).join("gastown-formulas"))
}

/// A placeholder for every required variable (one per `required_unless` group).
fn placeholders(library: &Library, formula: &gastown_formula::Formula) -> Vars {
    let Ok(declared) = declared_vars(library, formula) else {
        return Vars::new();
    };
    let mut vars = Vars::new();
    for (name, def) in &declared {
        let excused = def
            .required_unless
            .iter()
            .any(|other| vars.contains_key(other));
        let required = def.required || !def.required_unless.is_empty();
        if required && def.default.is_none() && !excused {
            let value = def
                .allowed
                .first()
                .cloned()
                .unwrap_or_else(|| format!("<{name}>"));
            vars.insert(name.clone(), value);
        }
    }
    vars
}

#[test]
fn every_corpus_formula_cooks_or_is_a_listed_reject() {
    let Some(dir) = corpus_dir() else {
        println!("skipped: GASTOWN_CORPUS is unset");
        return;
    };
    let files = formula_files(&dir).expect("the corpus directory can be listed");
    assert_eq!(
        files.len(),
        48,
        "the corpus holds 48 formula files (plus LICENSE)"
    );
    let library = load_library(&[SearchDir::new("corpus", &dir)]).expect("corpus loads");
    let mut rejected: BTreeMap<String, String> = BTreeMap::new();
    let mut cooked = 0;
    for path in &files {
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_string();
        let outcome = gastown_formula::loader::read_formula(path).and_then(|formula| {
            let vars = placeholders(&library, &formula);
            let options = CookOptions {
                vars: Some(&vars),
                overlay: None,
            };
            cook_formula(&library, &formula, &options)
        });
        match outcome {
            Ok(proto) => {
                assert!(!proto.steps.is_empty(), "{file} cooked to no steps");
                cooked += 1;
            }
            Err(error) => {
                let message = error.to_string();
                assert!(
                    message.contains(&file),
                    "error for {file} does not name it: {message}"
                );
                rejected.insert(file, message);
            }
        }
    }
    let expected: Vec<&str> = EXPECTED_REJECTS.iter().map(|(f, _)| *f).collect();
    let actual: Vec<&str> = rejected.keys().map(String::as_str).collect();
    assert_eq!(actual, expected, "rejected: {rejected:#?}");
    for (file, reason) in EXPECTED_REJECTS {
        assert!(
            rejected[*file].contains(reason),
            "{file}: {}",
            rejected[*file]
        );
    }
    println!(
        "cooked {cooked} corpus formulas, rejected {}",
        rejected.len()
    );
}
