//! `gastown formula list|show|cook` and bad formulas through the CLI: every error names the
//! file and, where there is one, the step; nothing is poured from a bad formula.

use crate::util::{TestTown, gastown, stderr, stdout};
use serde_json::Value;
use std::path::PathBuf;

/// Write `<town>/.beads/formulas/<name>.formula.toml`.
fn write_formula(town: &TestTown, name: &str, text: &str) -> PathBuf {
    let dir = town.root.join(".beads").join("formulas");
    std::fs::create_dir_all(&dir).expect("formulas dir");
    let path = dir.join(format!("{name}.formula.toml"));
    std::fs::write(&path, text).expect("write formula");
    path
}

/// Cook and pour `name` must both fail; each error must contain every one of `needles`.
fn rejected(town: &TestTown, name: &str, extra: &[&str], needles: &[&str]) {
    for verb in [["formula", "cook"], ["mol", "pour"]] {
        let mut args = vec![verb[0], verb[1], name];
        args.extend_from_slice(extra);
        let err = town.fails(&args);
        for needle in needles {
            assert!(err.contains(needle), "{args:?}: {needle:?} not in:\n{err}");
        }
    }
    let molecules = town.ok(&["bead", "list", "--all", "--type", "molecule", "--json"]);
    assert_eq!(molecules.trim(), "[]", "nothing poured from a bad formula");
}

#[test]
fn a_need_naming_no_step() {
    let town = TestTown::new();
    write_formula(
        &town,
        "bad-need",
        "formula = \"bad-need\"\n[[steps]]\nid = \"a\"\n[[steps]]\nid = \"b\"\nneeds = [\"nope\"]\n",
    );
    rejected(
        &town,
        "bad-need",
        &[],
        &["bad-need.formula.toml", "step `b`", "`nope`"],
    );
}

#[test]
fn a_cycle_is_named() {
    let town = TestTown::new();
    write_formula(
        &town,
        "loop",
        "formula = \"loop\"\n[[steps]]\nid = \"a\"\nneeds = [\"c\"]\n[[steps]]\nid = \"b\"\nneeds = [\"a\"]\n[[steps]]\nid = \"c\"\nneeds = [\"b\"]\n",
    );
    rejected(
        &town,
        "loop",
        &[],
        &["loop.formula.toml", "cycle", "a -> c -> b -> a"],
    );
}

#[test]
fn a_duplicate_step_id() {
    let town = TestTown::new();
    write_formula(
        &town,
        "dup",
        "formula = \"dup\"\n[[steps]]\nid = \"a\"\n[[steps]]\nid = \"a\"\n",
    );
    rejected(
        &town,
        "dup",
        &[],
        &["dup.formula.toml", "step `a`", "defined twice"],
    );
}

#[test]
fn a_missing_required_variable_is_named() {
    let town = TestTown::new();
    write_formula(
        &town,
        "needs-var",
        "formula = \"needs-var\"\n[vars.feature]\nrequired = true\n[[steps]]\nid = \"design\"\ntitle = \"Design {{feature}}\"\n",
    );
    rejected(
        &town,
        "needs-var",
        &[],
        &[
            "needs-var.formula.toml",
            "`feature`",
            "step `design`",
            "--var feature=",
        ],
    );
    // Given, it pours.
    town.ok(&["mol", "pour", "needs-var", "--var", "feature=auth"]);
}

#[test]
fn an_unknown_variable_in_a_template() {
    let town = TestTown::new();
    write_formula(
        &town,
        "typo-var",
        "formula = \"typo-var\"\n[vars]\nfeature = \"x\"\n[[steps]]\nid = \"implement\"\ndescription = \"Build {{featur}}\"\n",
    );
    rejected(
        &town,
        "typo-var",
        &[],
        &["typo-var.formula.toml", "step `implement`", "{{featur}}"],
    );
}

#[test]
fn extends_of_a_missing_formula_and_an_extends_loop() {
    let town = TestTown::new();
    write_formula(
        &town,
        "orphan",
        "formula = \"orphan\"\nextends = [\"ghost\"]\n",
    );
    rejected(&town, "orphan", &[], &["orphan.formula.toml", "`ghost`"]);
    write_formula(
        &town,
        "la",
        "formula = \"la\"\nextends = [\"lb\"]\n[[steps]]\nid = \"x\"\n",
    );
    write_formula(
        &town,
        "lb",
        "formula = \"lb\"\nextends = [\"la\"]\n[[steps]]\nid = \"y\"\n",
    );
    rejected(
        &town,
        "la",
        &[],
        &["formula.toml", "extends loops", "la", "lb"],
    );
}

#[test]
fn a_toml_syntax_error_has_line_and_column_and_shows_in_list() {
    let town = TestTown::new();
    write_formula(
        &town,
        "syntax",
        "formula = \"syntax\"\n[[steps]]\nid = \"a\nneeds = []\n",
    );
    rejected(&town, "syntax", &[], &["syntax.formula.toml:3:"]);
    write_formula(
        &town,
        "typo",
        "formula = \"typo\"\n[[steps]]\nid = \"a\"\nneed = [\"b\"]\n",
    );
    rejected(
        &town,
        "typo",
        &[],
        &["typo.formula.toml:4:1", "unknown field `need`"],
    );
    // The broken files are listed with their errors; the good ones still work.
    let list = town.ok(&["formula", "list"]);
    assert!(
        list.contains("syntax")
            && list.contains("ERROR: ")
            && list.contains("syntax.formula.toml:3:"),
        "{list}"
    );
    let rows: Value = serde_json::from_str(&town.ok(&["formula", "list", "--json"])).expect("json");
    let broken = rows
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["name"] == "typo")
        .expect("typo listed");
    assert!(
        broken["error"]
            .as_str()
            .expect("error")
            .contains("typo.formula.toml:4:1")
    );
    town.ok(&["formula", "cook", "shiny", "--var", "feature=x"]);
}

#[test]
fn list_show_and_cook() {
    let town = TestTown::new();
    let rows: Value = serde_json::from_str(&town.ok(&["formula", "list", "--json"])).expect("json");
    let names: Vec<&str> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    for name in [
        "shiny",
        "mol-polecat-work",
        "mol-witness-patrol",
        "mol-refinery-patrol",
        "mol-deacon-patrol",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    let show = town.ok(&["formula", "show", "shiny"]);
    assert!(
        show.contains("feature (required)")
            && show.contains("implement")
            && show.contains("builtin"),
        "{show}"
    );

    let proto: Value = serde_json::from_str(&town.ok(&[
        "formula",
        "cook",
        "shiny",
        "--var",
        "feature=auth",
        "--json",
    ]))
    .expect("json");
    assert_eq!(proto["steps"][0]["title"], "Design auth");
    assert_eq!(proto["steps"][1]["needs"][0], "design");
    let text = town.ok(&["formula", "cook", "mol-polecat-work", "--var", "issue=gt-1"]);
    assert!(text.contains("Load context for gt-1"), "{text}");

    // A town formula shadows the built-in of the same name; a path works as well as a name.
    let path = write_formula(
        &town,
        "shiny",
        "formula = \"shiny\"\n[[steps]]\nid = \"only\"\n",
    );
    let list = town.ok(&["formula", "list"]);
    assert!(list.contains("shadowed"), "{list}");
    let cooked = town.ok(&["formula", "cook", "shiny"]);
    assert!(
        cooked.contains("only") && !cooked.contains("design"),
        "{cooked}"
    );
    let by_path = town.ok(&["formula", "cook", path.to_str().expect("utf-8")]);
    assert!(by_path.contains("only"), "{by_path}");

    // A rig directory's formulas come first.
    let rig = town.root.join("myrig");
    std::fs::create_dir_all(rig.join(".beads/formulas")).expect("rig dir");
    std::fs::write(
        rig.join(".beads/formulas/shiny.formula.toml"),
        "formula = \"shiny\"\n[[steps]]\nid = \"rig-step\"\n",
    )
    .expect("write");
    let out = gastown(&rig, &["formula", "cook", "shiny"]);
    assert!(stdout(&out).contains("rig-step"), "{}", stderr(&out));
    let flag = town.ok(&[
        "formula",
        "cook",
        "shiny",
        "--rig-dir",
        rig.to_str().expect("utf-8"),
    ]);
    assert!(flag.contains("rig-step"), "{flag}");
}

#[test]
fn formula_commands_work_outside_a_town() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = gastown(
        dir.path(),
        &["formula", "cook", "shiny", "--var", "feature=x"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Design x"));
    let out = gastown(dir.path(), &["formula", "cook", "nope"]);
    assert!(
        stderr(&out).contains("formula `nope` is not on the search path"),
        "{}",
        stderr(&out)
    );
    let out = gastown(dir.path(), &["mol", "pour", "shiny"]);
    assert!(
        stderr(&out).contains("not inside a town"),
        "{}",
        stderr(&out)
    );
}
