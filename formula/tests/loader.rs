//! The search-path loader against real directories: rig before town before built-ins, broken
//! files reported under their name, formulas named by path, overlays found rig-first.

use std::fs;
use std::path::Path;

use gastown_formula::loader::{SearchDir, cook_name_or_path, load_library, load_overlay};
use gastown_formula::{FormulaError, Vars};

fn write(dir: &Path, name: &str, text: &str) {
    fs::create_dir_all(dir).expect("create dir");
    fs::write(dir.join(name), text).expect("write file");
}

#[test]
fn rig_shadows_town_which_shadows_builtin() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let rig = tmp.path().join("rig/.beads/formulas");
    let town = tmp.path().join("town/.beads/formulas");
    write(
        &rig,
        "shiny.formula.toml",
        "formula = \"shiny\"\n[[steps]]\nid = \"rig-step\"\n",
    );
    write(
        &town,
        "shiny.formula.toml",
        "formula = \"shiny\"\n[[steps]]\nid = \"town-step\"\n",
    );
    write(
        &town,
        "extra.formula.toml",
        "formula = \"extra\"\nextends = [\"mol-deacon-patrol\"]\n",
    );
    write(&town, "notes.txt", "not a formula");
    let dirs = [SearchDir::new("rig", &rig), SearchDir::new("town", &town)];
    let library = load_library(&dirs).expect("loads");
    let shiny = library.get("shiny").expect("shiny found");
    assert_eq!(shiny.steps[0].id, "rig-step");
    let layers: Vec<(&str, &str)> = library.list().iter().map(|l| (l.name, l.layer)).collect();
    assert!(layers.contains(&("shiny", "rig")));
    assert!(layers.contains(&("extra", "town")));
    assert!(layers.contains(&("mol-polecat-work", "builtin")));
    assert_eq!(
        library.shadowed().len(),
        2,
        "town and builtin shiny are shadowed"
    );
    let extra =
        cook_name_or_path(&library, "extra", &Vars::new(), None).expect("extends a built-in");
    assert_eq!(extra.steps.last().map(|s| s.id.as_str()), Some("report"));
}

#[test]
fn a_missing_directory_is_skipped_and_a_broken_file_keeps_its_error() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let rig = tmp.path().join("rig");
    write(
        &rig,
        "mol-polecat-work.formula.toml",
        "formula = \"mol-polecat-work\"\n[[steps]\n",
    );
    let dirs = [
        SearchDir::new("rig", &rig),
        SearchDir::new("town", tmp.path().join("none")),
    ];
    let library = load_library(&dirs).expect("loads");
    let error = library
        .get("mol-polecat-work")
        .expect_err("the rig's file is broken");
    let FormulaError::Toml { file, line, .. } = &error else {
        panic!("expected a TOML error: {error}");
    };
    assert!(
        file.ends_with("rig/mol-polecat-work.formula.toml"),
        "{file}"
    );
    assert_eq!(*line, 2);
}

#[test]
fn a_path_cooks_against_the_library() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("mine.formula.toml");
    write(
        tmp.path(),
        "mine.formula.toml",
        "formula = \"mine\"\nextends = [\"shiny\"]\n[[steps]]\nid = \"celebrate\"\nneeds = [\"submit\"]\n",
    );
    let library = load_library(&[]).expect("built-ins only");
    let vars = Vars::from([("feature".to_string(), "x".to_string())]);
    let path_arg = path.display().to_string();
    let proto = cook_name_or_path(&library, &path_arg, &vars, None).expect("cooks by path");
    assert_eq!(proto.source, path_arg);
    assert_eq!(proto.steps.len(), 6);
    let missing =
        cook_name_or_path(&library, "./nope.formula.toml", &vars, None).expect_err("no file");
    assert!(matches!(missing, FormulaError::Io { .. }), "{missing}");
}

#[test]
fn the_first_overlay_found_wins_outright() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let rig = tmp.path().join("rig/formula-overlays");
    let town = tmp.path().join("town/formula-overlays");
    write(
        &rig,
        "shiny.toml",
        "[[step-overrides]]\nstep_id = \"review\"\nmode = \"skip\"\n",
    );
    write(
        &town,
        "shiny.toml",
        "[[step-overrides]]\nstep_id = \"design\"\nmode = \"skip\"\n",
    );
    let overlay = load_overlay(&[rig.clone(), town.clone()], "shiny")
        .expect("reads")
        .expect("rig overlay present");
    assert_eq!(overlay.step_overrides.len(), 1);
    assert_eq!(overlay.step_overrides[0].step_id, "review");
    assert!(
        load_overlay(&[rig, town], "other")
            .expect("reads")
            .is_none()
    );
    let library = load_library(&[]).expect("built-ins only");
    let vars = Vars::from([("feature".to_string(), "x".to_string())]);
    let proto = cook_name_or_path(&library, "shiny", &vars, Some(&overlay)).expect("cooks");
    assert!(proto.step("review").is_none());
    assert_eq!(proto.step("test").expect("test").needs, ["implement"]);
}
