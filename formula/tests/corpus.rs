//! Every real formula in `$GASTOWN_CORPUS/gastown-formulas/` parses, validates and cooks with
//! its required variables filled with placeholders — or is rejected for a reason listed in
//! `EXPECTED_REJECTS`, so a change either way fails the test.

use std::collections::BTreeMap;
use std::path::PathBuf;

use gastown_formula::loader::{SearchDir, formula_files, load_library};
use gastown_formula::{CookOptions, Library, Vars, cook_formula, declared_vars};

/// Corpus files that are truly malformed: (file name, text the error must contain).
const EXPECTED_REJECTS: &[(&str, &str)] = &[];

#[path = "../../tests/support/corpus.rs"]
mod support;

/// The corpus formulas for `test`, or `None` when the test is skipped (visibly; see
/// `tests/support/corpus.rs`).
fn corpus_dir(test: &str) -> Option<PathBuf> {
    support::corpus_dir(test).map(|root| root.join("gastown-formulas"))
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
    let Some(dir) = corpus_dir("every_corpus_formula_cooks_or_is_a_listed_reject") else {
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

/// Cooks corpus formula `name` with placeholders for its required variables.
fn cook_corpus(library: &Library, name: &str) -> gastown_formula::Protomolecule {
    let formula = library.get(name).unwrap_or_else(|e| panic!("{e}"));
    let vars = placeholders(library, formula);
    let options = CookOptions {
        vars: Some(&vars),
        overlay: None,
    };
    cook_formula(library, formula, &options).unwrap_or_else(|e| panic!("{e}"))
}

fn step_ids(proto: &gastown_formula::Protomolecule) -> Vec<&str> {
    proto.steps.iter().map(|s| s.id.as_str()).collect()
}

#[test]
fn corpus_composition_comes_out_as_the_authors_meant() {
    let Some(dir) = corpus_dir("corpus_composition_comes_out_as_the_authors_meant") else {
        return;
    };
    let library = load_library(&[SearchDir::new("corpus", &dir)]).expect("corpus loads");

    let secure = cook_corpus(&library, "shiny-secure");
    assert_eq!(
        step_ids(&secure),
        [
            "design",
            "implement-security-prescan",
            "implement",
            "implement-security-postscan",
            "review",
            "test",
            "submit-security-prescan",
            "submit",
            "submit-security-postscan",
        ]
    );
    assert_eq!(secure.vars["feature"], "<feature>");
    assert_eq!(secure.steps[0].title, "Design <feature>");

    let enterprise = cook_corpus(&library, "shiny-enterprise");
    let review = enterprise.step("review").expect("review kept");
    assert_eq!(review.needs, ["implement.refine-4"]);
    assert_eq!(
        enterprise.step("implement.draft").expect("draft").needs,
        ["design"]
    );

    let tdd = cook_corpus(&library, "mol-polecat-work-monorepo-tdd");
    assert!(tdd.step("implement").is_none(), "implement was expanded");
    assert_eq!(
        tdd.step("implement.verify-red").expect("red").needs,
        ["implement.write-tests"]
    );

    let review = cook_corpus(&library, "code-review");
    assert_eq!(review.steps.len(), 11);
    assert_eq!(review.step("synthesis").expect("synthesis").needs.len(), 10);

    let boot = cook_corpus(&library, "mol-gastown-boot");
    let witnesses = boot.step("ensure-witnesses").expect("container");
    assert!(
        witnesses
            .needs
            .contains(&"ensure-beads-witness".to_string())
    );

    let hanoi = cook_corpus(&library, "towers-of-hanoi-10");
    assert_eq!(hanoi.steps.len(), 1025);
    let records = hanoi.pour_records();
    assert!(
        records
            .iter()
            .skip(1)
            .all(|r| r.blocked_by == [r.index - 1]),
        "one chain"
    );
}

#[test]
fn no_declared_variable_is_left_unsubstituted() {
    let Some(dir) = corpus_dir("no_declared_variable_is_left_unsubstituted") else {
        return;
    };
    let library = load_library(&[SearchDir::new("corpus", &dir)]).expect("corpus loads");
    for listed in library.list() {
        let Ok(formula) = listed.formula else {
            continue;
        };
        let proto = cook_corpus(&library, listed.name);
        let declared = declared_vars(&library, formula).expect("resolves");
        for step in &proto.steps {
            for name in declared.keys() {
                let reference = format!("{{{{{name}}}}}");
                assert!(
                    !step.description.contains(&reference) && !step.title.contains(&reference),
                    "{}: step {} still has {reference}",
                    listed.name,
                    step.id
                );
            }
        }
    }
}
