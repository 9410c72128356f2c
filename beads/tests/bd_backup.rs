//! A current `bd` backup directory (`tests/fixtures/bd-backup/`) imported into a real
//! [`Ledger`] (redb index, git repository in a temp dir): every dependency, label and comment
//! attached, the events in the audit trail, mixed-case ids stored and found, the classic export
//! holding all of it in the shape the classic `bd` reads; a failed import leaves the ledger as
//! it was; a `bd export` file next to it.

mod common;
use common::{open, town};
use gastown_beads::{EventKind, Ledger, LedgerError};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bd-backup")
}

fn export(ledger: &Ledger) -> Vec<Value> {
    let mut out = Vec::new();
    ledger.export_to(&mut out).expect("export");
    String::from_utf8(out)
        .expect("UTF-8 export")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each export line is JSON"))
        .collect()
}

#[test]
fn backup_imports_and_exports_every_dependency_label_and_comment() {
    let dir = town();
    let mut ledger = open(dir.path());
    let (outcome, report) = ledger
        .import_backup(&fixture(), "overseer")
        .expect("the fixture imports");
    assert_eq!((outcome.created, outcome.updated), (4, 0));
    assert_eq!(report.skipped.len(), 2, "{report}");

    let toast = ledger
        .get("gt-gastown-polecat-Toast")
        .expect("read")
        .expect("the mixed-case id is stored as written");
    assert_eq!(toast.labels, ["gt:agent"]);
    assert!(
        ledger
            .get("gt-gastown-polecat-toast")
            .expect("read")
            .is_none()
    );

    let trail = ledger.events("gt-a1b").expect("events");
    let kinds: Vec<EventKind> = trail.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Created,
            EventKind::StatusChanged,
            EventKind::Commented,
            EventKind::Created
        ],
        "bd's history, then the import's own entry"
    );
    assert_eq!(trail[1].actor, "mayor");
    assert_eq!(trail[3].new.as_deref(), Some("import"));

    let lines = export(&ledger);
    assert_eq!(lines.len(), 4);
    let by_id = |id: &str| {
        lines
            .iter()
            .find(|l| l["id"] == id)
            .unwrap_or_else(|| panic!("{id} exported"))
    };
    let deps = |id: &str| -> Vec<(String, String)> {
        by_id(id)["dependencies"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|d| {
                        (
                            d["depends_on_id"].as_str().unwrap_or("").to_string(),
                            d["type"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        deps("gt-a1b"),
        [
            ("gt-c2d".to_string(), "blocks".to_string()),
            ("gt-e3f".to_string(), "parent-child".to_string())
        ]
    );
    assert_eq!(
        deps("gt-c2d"),
        [(
            "gt-gastown-polecat-Toast".to_string(),
            "related".to_string()
        )]
    );
    assert_eq!(by_id("gt-a1b")["labels"], serde_json::json!(["auth", "p1"]));
    let mut comment_ids = Vec::new();
    for id in ["gt-a1b", "gt-c2d"] {
        for c in by_id(id)["comments"].as_array().expect("comments exported") {
            assert!(
                c["id"].is_i64(),
                "classic bd reads integer comment ids: {c}"
            );
            assert_eq!(c["issue_id"], id);
            comment_ids.push(c["id"].as_i64().unwrap_or(0));
        }
    }
    comment_ids.sort_unstable();
    assert_eq!(comment_ids, [1, 2, 3], "unique numbers across the export");
    // The classic reader's shape: no nulls, booleans as booleans, RFC 3339 times.
    for line in &lines {
        let obj = line.as_object().expect("an object");
        assert!(obj.values().all(|v| !v.is_null()), "{line}");
        for key in ["ephemeral", "pinned", "is_template"] {
            assert!(
                obj.get(key).is_none_or(Value::is_boolean),
                "{key} in {line}"
            );
        }
    }
    assert_eq!(by_id("gt-c2d")["closed_at"], "2026-01-12T08:30:00Z");
    assert_eq!(by_id("gt-c2d")["pinned"], true);

    // The export reads back as classic JSONL, unchanged by a second import.
    let mut out = Vec::new();
    ledger.export_to(&mut out).expect("export");
    let file = dir.path().join("classic.jsonl");
    std::fs::write(&file, &out).expect("write export");
    let again = ledger.import_file(&file, "overseer").expect("re-import");
    assert_eq!((again.created, again.unchanged + again.updated), (0, 4));
}

#[test]
fn a_failed_backup_import_leaves_the_ledger_untouched() {
    let dir = town();
    let mut ledger = open(dir.path());
    let backup = tempfile::tempdir().expect("temp dir");
    for name in ["issues.jsonl", "labels.jsonl", "events.jsonl"] {
        std::fs::copy(fixture().join(name), backup.path().join(name)).expect("copy");
    }
    let mut events = std::fs::read_to_string(backup.path().join("events.jsonl")).expect("read");
    events.push_str("{\"issue_id\":\"gt-a1b\"}\n");
    std::fs::write(backup.path().join("events.jsonl"), events).expect("write");
    let err = ledger
        .import_file(backup.path(), "overseer")
        .expect_err("a malformed events line");
    assert!(matches!(err, LedgerError::Backup(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("events.jsonl:6: missing field `event_type`"),
        "{msg}"
    );
    assert!(export(&ledger).is_empty(), "nothing imported");

    // Without the bad line, and without the missing files, it imports.
    std::fs::copy(
        fixture().join("events.jsonl"),
        backup.path().join("events.jsonl"),
    )
    .expect("copy");
    let (outcome, report) = ledger
        .import_backup(backup.path(), "overseer")
        .expect("imports without the optional files");
    assert_eq!(outcome.created, 4);
    assert_eq!(
        report.missing,
        ["dependencies.jsonl", "comments.jsonl", "config.jsonl"]
    );
}

#[test]
fn a_bd_export_file_with_nulls_and_integer_booleans_imports() {
    let dir = town();
    let mut ledger = open(dir.path());
    let file = dir.path().join("export.jsonl");
    let lines = [
        r#"{"_type":"issue","id":"gt-x1","title":"One","status":"open","priority":1,"issue_type":"task","assignee":null,"created_at":"2026-01-10T09:00:00Z","updated_at":"2026-01-10T09:00:00Z","ephemeral":0,"pinned":1,"labels":["a"],"dependencies":[{"issue_id":"gt-x1","depends_on_id":"gt-gastown-crew-Max","type":"blocks","created_at":"2026-01-10T09:00:00Z","created_by":null,"metadata":{}}],"comments":[{"id":"c0ffee00-0000-4000-8000-000000000001","issue_id":"gt-x1","author":"mayor","text":"hi","created_at":"2026-01-10T09:00:00Z"}],"dependency_count":1,"dependent_count":0,"comment_count":1}"#,
        r#"{"_type":"issue","id":"gt-gastown-crew-Max","title":"Max","issue_type":"agent","created_at":"2026-01-10T09:00:00Z"}"#,
        r#"{"_type":"memory","key":"k","value":"v"}"#,
    ];
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    let outcome = ledger.import_file(&file, "overseer").expect("imports");
    assert_eq!(outcome.created, 2);
    let x = ledger.get("gt-x1").expect("read").expect("stored");
    assert!(x.pinned && !x.ephemeral && x.assignee.is_empty());
    assert_eq!(x.dependencies[0].depends_on_id, "gt-gastown-crew-Max");
    let out = export(&ledger);
    let x = out.iter().find(|l| l["id"] == "gt-x1").expect("exported");
    assert_eq!(x["comments"][0]["id"], 1);
    assert_eq!(x["labels"], serde_json::json!(["a"]));
}
