//! The real ledger corpus (`$GASTOWN_CORPUS/beads-classic/issues.jsonl`, 3,003 beads written by
//! the classic `bd`) read, written back and checked; plus the bad-input cases of import.
//!
//! When `GASTOWN_CORPUS` is unset the corpus tests are skipped visibly (a `SKIPPED` line on
//! stderr; CI sets `GASTOWN_REQUIRE_CORPUS`, which makes them fail instead); the bad-input tests
//! always run.

#[path = "corpus/in_ledger.rs"]
mod in_ledger;
#[path = "corpus/lists.rs"]
mod lists;
#[path = "corpus/readiness.rs"]
mod readiness;
#[path = "../../tests/support/corpus.rs"]
mod support;

use gastown_beads::id::validate_id;
use gastown_beads::jsonl::{self, ImportRecord, JsonlError};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The corpus file for `test`, or `None` when the test is skipped (visibly; see
/// `tests/support/corpus.rs`).
fn corpus_file(test: &str) -> Option<PathBuf> {
    support::corpus_dir(test).map(|dir| dir.join("beads-classic/issues.jsonl"))
}

/// The corpus text and its parsed records.
fn load(path: &Path) -> (String, Vec<ImportRecord>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "GASTOWN_CORPUS is set but {} is unreadable: {e}",
            path.display()
        )
    });
    let records = jsonl::parse_export(path, &text).unwrap_or_else(|e| panic!("corpus reads: {e}"));
    (text, records)
}

fn raw_values(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("corpus line is JSON"))
        .collect()
}

#[test]
fn corpus_every_line_reads_as_a_bead() {
    let Some(path) = corpus_file("corpus_every_line_reads_as_a_bead") else {
        return;
    };
    let (text, records) = load(&path);
    let lines = text.lines().count();
    assert_eq!(lines, 3003, "the corpus has 3,003 lines");
    assert_eq!(records.len(), 3003, "every line is one bead");
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.line, i + 1, "records keep their line numbers");
    }
}

#[test]
fn corpus_each_bead_serializes_to_the_same_json_value() {
    let Some(path) = corpus_file("corpus_each_bead_serializes_to_the_same_json_value") else {
        return;
    };
    let (text, records) = load(&path);
    for (line, r) in text.lines().zip(&records) {
        let orig: Value = serde_json::from_str(line).expect("corpus line is JSON");
        let out = r.bead.to_json_line();
        let back: Value = serde_json::from_str(&out).expect("our line is JSON");
        assert_eq!(
            orig, back,
            "line {} ({}) changed on the way through",
            r.line, r.bead.id
        );
        // Stronger than the same value: the same bytes (bd's field order and escaping).
        assert_eq!(
            out, line,
            "line {} ({}) is not written as bd wrote it",
            r.line, r.bead.id
        );
    }
}

#[test]
fn corpus_export_gives_back_the_same_values_line_by_line() {
    let Some(path) = corpus_file("corpus_export_gives_back_the_same_values_line_by_line") else {
        return;
    };
    let (text, records) = load(&path);
    let mut out = Vec::new();
    jsonl::write_export(&mut out, records.into_iter().map(|r| r.bead)).expect("export to memory");
    let exported = String::from_utf8(out).expect("export is UTF-8");
    let orig = raw_values(&text);
    let ours = raw_values(&exported);
    assert_eq!(orig.len(), ours.len(), "as many lines out as in");
    for (i, (a, b)) in orig.iter().zip(&ours).enumerate() {
        assert_eq!(a, b, "exported line {} differs", i + 1);
    }
    assert!(
        exported == text,
        "the export is byte for byte the file bd wrote"
    );
    let again = jsonl::parse_export(Path::new("export"), &exported).expect("our export reads");
    assert_eq!(again.len(), orig.len());
}

#[test]
fn corpus_ids_are_valid_and_closed_at_follows_status() {
    let Some(path) = corpus_file("corpus_ids_are_valid_and_closed_at_follows_status") else {
        return;
    };
    let (text, _) = load(&path);
    let mut closed = 0;
    for v in raw_values(&text) {
        let id = v["id"].as_str().expect("id is a string");
        validate_id(id).unwrap_or_else(|e| panic!("corpus id refused: {e}"));
        for d in v["dependencies"].as_array().into_iter().flatten() {
            let target = d["depends_on_id"]
                .as_str()
                .expect("depends_on_id is a string");
            validate_id(target).unwrap_or_else(|e| panic!("dependency of {id}: {e}"));
        }
        let is_closed = v["status"] == "closed";
        assert_eq!(
            is_closed,
            v.get("closed_at").is_some(),
            "{id}: closed_at iff closed"
        );
        closed += usize::from(is_closed);
    }
    assert_eq!(closed, 2318, "the corpus has 2,318 closed beads");
}

#[test]
fn corpus_tombstones_and_comments_survive() {
    let Some(path) = corpus_file("corpus_tombstones_and_comments_survive") else {
        return;
    };
    let (_, records) = load(&path);
    let tombstones = records
        .iter()
        .filter(|r| r.bead.status.as_str() == "tombstone")
        .count();
    assert_eq!(tombstones, 346, "tombstones are kept as beads");
    let comments: usize = records.iter().map(|r| r.bead.comments.len()).sum();
    assert!(comments > 0, "the corpus has comments");
    assert!(
        records
            .iter()
            .flat_map(|r| &r.bead.comments)
            .all(|c| c.id.is_u64())
    );
}

#[test]
fn corpus_readiness_oracle_sees_work_and_blockers() {
    let Some(path) = corpus_file("corpus_readiness_oracle_sees_work_and_blockers") else {
        return;
    };
    let (text, _) = load(&path);
    let now = gastown_beads::time::now_unix_nanos();
    let (ready, blocked) = readiness::ready_and_blocked(&raw_values(&text), now);
    println!(
        "oracle on the corpus: {} ready, {} blocked",
        ready.len(),
        blocked.len()
    );
    assert!(!ready.is_empty() && !blocked.is_empty());
    assert!(ready.is_disjoint(&blocked));
}

// ---- bad input (always runs) ----

fn bead_line(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","title":"t {id}","status":"open","priority":2,"issue_type":"task","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}}"#
    )
}

#[test]
fn malformed_line_in_a_file_names_file_and_line_and_returns_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broken.jsonl");
    let text = [
        bead_line("gt-a1"),
        bead_line("gt-a2"),
        r#"{"id":"gt-a3","title":"#.to_string(),
        bead_line("gt-a4"),
    ]
    .join("\n");
    std::fs::write(&path, text).expect("write temp file");
    let err: JsonlError = jsonl::read_export(&path).expect_err("the third line is cut short");
    let msg = err.to_string();
    assert_eq!(err.line(), Some(3));
    assert!(msg.contains(&format!("{}:3:", path.display())), "{msg}");
    assert!(
        msg.contains("EOF while parsing"),
        "serde's reason is given: {msg}"
    );
    assert!(msg.contains("nothing was imported"), "{msg}");
}

#[test]
fn header_and_count_lines_are_skipped() {
    let text = [
        r#"{"_type":"header","version":"0.62.0","exported_at":"2026-02-01T00:00:00Z"}"#.to_string(),
        r#"{"_schema":"beads/issue@2"}"#.to_string(),
        bead_line("gt-b1"),
        format!(r#"{{"_type":"issue",{}"#, &bead_line("gt-b2")[1..]),
        r#"{"_type":"meta","count":2}"#.to_string(),
        r#"{"count":2}"#.to_string(),
    ]
    .join("\n");
    let records = jsonl::parse_export(Path::new("current.jsonl"), &text).expect("reads");
    let ids: Vec<&str> = records.iter().map(|r| r.bead.id.as_str()).collect();
    assert_eq!(ids, ["gt-b1", "gt-b2"]);
    assert_eq!(records[1].line, 4);
    assert!(
        records[1].bead.extra.is_empty(),
        "the _type marker is not kept"
    );
}

/// Comment ids are read as written (classic integers, current `bd`'s strings); the classic
/// export writes integers only, as the classic `bd` reads them: a string id gets the next free
/// number, the rest of the record is unchanged.
#[test]
fn int_and_string_comment_ids_are_read_as_written_and_exported_as_integers() {
    let line = r#"{"id":"gt-c1","title":"c","status":"open","priority":1,"issue_type":"bug","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","comments":[{"id":7,"issue_id":"gt-c1","author":"a","text":"int id","created_at":"2026-01-01T00:00:00Z"},{"id":"01JABCDEF","issue_id":"gt-c1","author":"b","text":"string id","created_at":"2026-01-02T00:00:00Z"}]}"#;
    let records = jsonl::parse_export(Path::new("c.jsonl"), line).expect("reads");
    let ids: Vec<&Value> = records[0].bead.comments.iter().map(|c| &c.id).collect();
    assert_eq!(ids, [&Value::from(7), &Value::from("01JABCDEF")]);
    let mut out = Vec::new();
    jsonl::write_export(&mut out, records.into_iter().map(|r| r.bead)).expect("export");
    let back: Value = serde_json::from_slice(&out).expect("one JSON line");
    let mut orig: Value = serde_json::from_str(line).expect("JSON");
    orig["comments"][1]["id"] = Value::from(8);
    assert_eq!(back, orig);
}

#[test]
fn readiness_oracle_follows_the_spec_on_a_small_graph() {
    let mk = |id: &str, status: &str, extra: &str| -> Value {
        serde_json::from_str(&format!(
            r#"{{"id":"{id}","title":"t","status":"{status}","issue_type":"task"{extra}}}"#
        ))
        .expect("fixture JSON")
    };
    let dep = |on: &str, kind: &str| format!(r#"{{"depends_on_id":"{on}","type":"{kind}"}}"#);
    let deps = |ds: &[String]| format!(r#","dependencies":[{}]"#, ds.join(","));
    let beads = vec![
        mk("t-a", "open", ""),
        mk("t-b", "open", &deps(&[dep("t-a", "blocks")])),
        mk("t-c", "open", &deps(&[dep("t-b", "parent-child")])),
        mk("t-d", "open", &deps(&[dep("t-c", "parent-child")])),
        mk(
            "t-e",
            "open",
            &deps(&[dep("t-x", "blocks"), dep("t-z", "blocks")]),
        ),
        mk("t-x", "closed", ""),
        mk("t-z", "tombstone", ""),
        mk("t-w", "open", &deps(&[dep("t-e", "waits-for")])),
        mk("t-k", "in_progress", &deps(&[dep("t-e", "parent-child")])),
        mk("t-m", "open", r#","issue_type":"message""#),
        mk("t-p", "open", r#","pinned":true"#),
        mk("t-f", "open", r#","defer_until":"2999-01-01T00:00:00Z""#),
        mk("t-g", "open", r#","defer_until":"2001-01-01T00:00:00Z""#),
        mk("t-h", "hooked", &deps(&[dep("t-a", "conditional-blocks")])),
    ];
    let now = gastown_beads::time::now_unix_nanos();
    let (ready, blocked) = readiness::ready_and_blocked(&beads, now);
    let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(ready, set(&["t-a", "t-e", "t-g"]));
    assert_eq!(blocked, set(&["t-b", "t-c", "t-d", "t-h", "t-w"]));
}
