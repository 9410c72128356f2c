//! `gastown bead import` of a current `bd` backup directory (`tests/fixtures/bd-backup/`), as a
//! user of today's `bd` meets it: the report (counts, what was missing, config read and ignored,
//! skipped records with file and line), mixed-case ids found by `bead show`, the classic export
//! holding every dependency, label and comment; bad directories refused with nothing imported,
//! with and without the supervisor.

use crate::util::{TestTown, ids};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bd-backup")
}

/// A copy of the fixture's `files` in `dir`.
fn copy_fixture(dir: &Path, files: &[&str]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for name in files {
        std::fs::copy(fixture().join(name), dir.join(name)).expect("copy fixture");
    }
}

#[test]
fn a_bd_backup_directory_imports_with_a_report_and_exports_for_classic_bd() {
    let town = TestTown::new();
    let out = town.ok(&["bead", "import", fixture().to_str().expect("utf-8")]);
    for needle in [
        "4 created, 0 updated, 0 unchanged",
        "bd backup: 4 issues, 3 dependencies, 3 labels, 3 comments, 5 events",
        "config read: issue_prefix = gt",
        "config ignored: status.custom, types.custom",
        "skipped 2:",
        "dependencies.jsonl:4: gt-e3f depends on external:beads:bd-42",
        "labels.jsonl:4: issue gt-gone is not in issues.jsonl",
    ] {
        assert!(out.contains(needle), "{needle:?} missing:\n{out}");
    }
    assert!(!out.contains("not in the directory"), "{out}");

    let toast = town.ok(&["bead", "show", "gt-gastown-polecat-Toast", "--json"]);
    let toast: Value = serde_json::from_str(&toast).expect("JSON");
    assert_eq!(toast["labels"], serde_json::json!(["gt:agent"]));
    let trail = town.ok(&["bead", "events", "gt-a1b"]);
    assert!(
        trail.contains("StatusChanged  by mayor open -> in_progress"),
        "{trail}"
    );

    let export = town.root.join("classic.jsonl");
    town.ok(&["bead", "export", "-o", export.to_str().expect("utf-8")]);
    let text = std::fs::read_to_string(&export).expect("export written");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let of = |id: &str, key: &str| -> usize {
        lines
            .iter()
            .filter(|l| l["id"] == id)
            .map(|l| l[key].as_array().map_or(0, Vec::len))
            .sum()
    };
    assert_eq!(
        (of("gt-a1b", "dependencies"), of("gt-c2d", "dependencies")),
        (2, 1)
    );
    assert_eq!(
        (
            of("gt-a1b", "labels"),
            of("gt-gastown-polecat-Toast", "labels")
        ),
        (2, 1)
    );
    assert_eq!((of("gt-a1b", "comments"), of("gt-c2d", "comments")), (2, 1));
    assert!(!text.contains("null"), "no nulls for classic bd:\n{text}");
    assert!(
        !text.contains("\"ephemeral\":0"),
        "booleans as booleans:\n{text}"
    );
}

#[test]
fn bad_backup_directories_are_refused_and_missing_files_reported_through_the_supervisor() {
    let t = crate::running::RunningTown::start();
    let root = t.town.root.clone();

    let empty = root.join("empty-backup");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let err = t
        .town
        .fails(&["bead", "import", empty.to_str().expect("utf-8")]);
    assert!(err.contains("has no issues.jsonl"), "{err}");

    let broken = root.join("broken-backup");
    copy_fixture(&broken, &["issues.jsonl", "comments.jsonl", "labels.jsonl"]);
    let mut comments = std::fs::read_to_string(broken.join("comments.jsonl")).expect("read");
    comments.push_str("{\"issue_id\":\"gt-a1b\",\"text\":\n");
    std::fs::write(broken.join("comments.jsonl"), comments).expect("write");
    let mut labels = std::fs::read_to_string(broken.join("labels.jsonl")).expect("read");
    labels.push_str("[\"gt-a1b\",\"x\"]\n");
    std::fs::write(broken.join("labels.jsonl"), labels).expect("write");
    let err = t
        .town
        .fails(&["bead", "import", broken.to_str().expect("utf-8")]);
    for needle in [
        "2 malformed lines, so nothing was imported",
        "labels.jsonl:5: expected a JSON object",
        "comments.jsonl:4: column",
    ] {
        assert!(err.contains(needle), "{needle:?} missing:\n{err}");
    }
    assert!(ids(&t.town.ok(&["bead", "list", "--all", "--json"])).is_empty());

    let partial = root.join("partial-backup");
    copy_fixture(&partial, &["issues.jsonl", "labels.jsonl"]);
    let out = t
        .town
        .ok(&["bead", "import", partial.to_str().expect("utf-8")]);
    assert!(out.contains("4 created"), "{out}");
    assert!(
        out.contains(
            "not in the directory: dependencies.jsonl, comments.jsonl, events.jsonl, config.jsonl"
        ),
        "{out}"
    );
    assert_eq!(
        ids(&t.town.ok(&["bead", "list", "--all", "--json"])).len(),
        4
    );
}
