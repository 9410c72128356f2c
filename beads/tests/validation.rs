//! The one validation of every write path, on real redb files and git repositories: an import
//! of bad records is refused whole with the line of each, the CLI's write paths and an import
//! refuse the same things (maximum sizes included), and an emptied index is refused, never
//! silently made anew.

use gastown_beads::validate::{MAX_RECORD_BYTES, MAX_TEXT_BYTES, MAX_TITLE_CHARS};
use gastown_beads::{BeadPatch, Ledger, LedgerError, ListFilter, NewBead};
use serde_json::{Map, Value, json};

mod common;
use common::{config, open, town};

/// One classic bead line with `extra` JSON fields appended (`,"k":v…`).
fn line(id: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{id}","title":"Bead {id}","status":"open","priority":2,"issue_type":"task","created_at":"2026-01-02T03:04:05Z"{extra}}}"#
    )
}

fn dep(id: &str, on: &str, kind: &str) -> String {
    format!(
        r#","dependencies":[{{"issue_id":"{id}","depends_on_id":"{on}","type":"{kind}","created_at":"2026-01-02T03:04:05Z"}}]"#
    )
}

fn all(ledger: &Ledger) -> usize {
    ledger
        .list(&ListFilter {
            all: true,
            ..ListFilter::default()
        })
        .expect("list")
        .len()
}

#[test]
fn an_import_with_bad_records_names_each_line_and_imports_nothing() {
    let dir = town();
    let mut ledger = open(dir.path());
    let long_title = "x".repeat(MAX_TITLE_CHARS + 1);
    let lines = [
        line("t-ok", ""),                                                // 1
        line("t-status", "").replace("\"open\"", "\"weird\""),           // 2
        line("t-prio", "").replace("\"priority\":2", "\"priority\":9"),  // 3
        line("t-time", "").replace("2026-01-02T03:04:05Z", "yesterday"), // 4
        line("t-dangling", &dep("t-dangling", "t-nowhere", "blocks")),   // 5
        line("t-c1", &dep("t-c1", "t-c2", "blocks")),                    // 6
        line("t-c2", &dep("t-c2", "t-c1", "blocks")),                    // 7
        line("t-long", "").replace("Bead t-long", &long_title),          // 8
        line("t-fine", &dep("t-fine", "t-ok", "parent-child")),          // 9
    ];
    let file = dir.path().join("bad.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("write fixture");
    let err = ledger
        .import_file(&file, "test")
        .expect_err("bad records are refused");
    let LedgerError::InvalidImport { problems, .. } = &err else {
        panic!("expected InvalidImport, got {err:?}");
    };
    let lines_named: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines_named, vec![2, 3, 4, 5, 6, 8], "{err}");
    let message = err.to_string();
    for needle in [
        "line 2: t-status: status: \"weird\" is not a status",
        "line 3: t-prio: priority: 9 is not a priority",
        "line 4: t-time: created_at: \"yesterday\" is not an RFC 3339 time",
        "line 5: t-dangling: dependencies: depends on t-nowhere",
        "blocking dependencies form a cycle",
        "line 8: t-long: title: is 501 characters long",
        "nothing was imported",
    ] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from:\n{message}"
        );
    }
    assert_eq!(all(&ledger), 0, "nothing of a bad file is imported");

    // The same file without its bad lines imports.
    let good = [lines[0].clone(), lines[8].clone()];
    std::fs::write(&file, good.join("\n")).expect("write fixture");
    let outcome = ledger
        .import_file(&file, "test")
        .expect("good records import");
    assert_eq!(outcome.created, 2);
}

#[test]
fn an_import_may_not_close_a_cycle_through_beads_already_in_the_ledger() {
    let dir = town();
    let mut ledger = open(dir.path());
    let first = dir.path().join("first.jsonl");
    std::fs::write(
        &first,
        line("t-a", &dep("t-a", "t-b", "blocks")) + "\n" + &line("t-b", ""),
    )
    .expect("write");
    ledger.import_file(&first, "test").expect("a chain imports");
    // t-b now blocked by t-a: t-a -> t-b -> t-a.
    let second = dir.path().join("second.jsonl");
    std::fs::write(&second, line("t-b", &dep("t-b", "t-a", "blocks"))).expect("write");
    let err = ledger
        .import_file(&second, "test")
        .expect_err("the cycle is refused");
    let message = err.to_string();
    assert!(message.contains("line 1: t-b"), "{message}");
    assert!(message.contains("cycle"), "{message}");
    let b = ledger.get("t-b").expect("get").expect("t-b still there");
    assert!(b.dependencies.is_empty(), "t-b is unchanged");
}

#[test]
fn every_write_path_enforces_the_maximum_sizes() {
    let dir = town();
    let mut ledger = open(dir.path());
    let too_long = |err: LedgerError, field: &str| {
        let message = err.to_string();
        assert!(
            matches!(err, LedgerError::InvalidBead { .. }),
            "expected InvalidBead, got {message}"
        );
        assert!(message.contains(field), "{field} not named in {message}");
        assert!(message.contains("allowed"), "{message}");
    };
    let err = ledger
        .create(
            NewBead {
                title: "t".repeat(MAX_TITLE_CHARS + 1),
                priority: 2,
                ..NewBead::default()
            },
            "test",
        )
        .expect_err("a long title is refused");
    too_long(err, "title");

    let bead = ledger
        .create(
            NewBead {
                title: "t".repeat(MAX_TITLE_CHARS),
                priority: 2,
                ..NewBead::default()
            },
            "test",
        )
        .expect("a title at the limit is fine");
    let err = ledger
        .update(
            &bead.id,
            BeadPatch {
                description: Some("d".repeat(MAX_TEXT_BYTES + 1)),
                ..BeadPatch::default()
            },
            "test",
        )
        .expect_err("a huge description is refused");
    too_long(err, "description");
    let err = ledger
        .add_comment(&bead.id, &"c".repeat(MAX_TEXT_BYTES + 1), "test")
        .expect_err("a huge comment is refused");
    too_long(err, "comments");
    let err = ledger
        .add_label(&bead.id, &"l".repeat(300), "test")
        .expect_err("a huge label is refused");
    too_long(err, "labels");
    let mut fields = Map::new();
    fields.insert(
        "blob".to_string(),
        Value::String("b".repeat(MAX_RECORD_BYTES)),
    );
    let err = ledger
        .set_extra(&bead.id, fields, "test")
        .expect_err("a huge extra field is refused");
    too_long(err, "(record)");
    fields = Map::new();
    fields.insert("small".to_string(), json!("fine"));
    ledger
        .set_extra(&bead.id, fields, "test")
        .expect("a small field is fine");

    let stored = ledger.get(&bead.id).expect("get").expect("there");
    assert!(stored.description.is_empty(), "nothing refused was written");
    assert!(stored.comments.is_empty() && stored.labels.is_empty());
    assert!(!stored.extra.contains_key("blob"));

    // The 10 MB title of the attack, imported.
    let file = dir.path().join("huge.jsonl");
    let huge = "h".repeat(10 * 1024 * 1024);
    std::fs::write(&file, line("t-huge", "").replace("Bead t-huge", &huge)).expect("write");
    let err = ledger.import_file(&file, "test").expect_err("refused");
    assert!(err.to_string().contains("line 1: t-huge: title"), "{err}");
    assert!(ledger.get("t-huge").expect("get").is_none());
}

#[test]
fn an_emptied_index_is_refused_with_instructions_never_silently_made_anew() {
    let dir = town();
    let cfg = config(dir.path());
    let kept;
    {
        let mut ledger = open(dir.path());
        kept = ledger
            .create(
                NewBead {
                    title: "committed to git".into(),
                    priority: 2,
                    ..NewBead::default()
                },
                "test",
            )
            .expect("create")
            .id;
        ledger.sync().expect("to git");
        // Acknowledged (durable in redb), not yet in git: the commit delay is an hour and the
        // ledger is dropped without closing, like a killed process.
        ledger
            .create(
                NewBead {
                    title: "only in the index".into(),
                    priority: 2,
                    ..NewBead::default()
                },
                "test",
            )
            .expect("create");
    }
    std::fs::File::create(&cfg.index_path).expect("truncate the index to 0 bytes");
    let err = Ledger::open(cfg.clone()).expect_err("an empty index is refused");
    assert!(
        matches!(err, LedgerError::IndexDamaged { .. }),
        "expected IndexDamaged, got {err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("empty (0 bytes)"), "{message}");
    assert!(message.contains("not silently replaced"), "{message}");
    let aside = format!(
        "mv {} {}.damaged",
        cfg.index_path.display(),
        cfg.index_path.display()
    );
    assert!(message.contains(&aside), "says what to run: {message}");
    assert_eq!(
        std::fs::metadata(&cfg.index_path)
            .expect("still there")
            .len(),
        0,
        "the refused file is left as it was"
    );

    // Following the instruction rebuilds the index from git.
    std::fs::rename(
        &cfg.index_path,
        cfg.index_path.with_extension("redb.damaged"),
    )
    .expect("move aside");
    let ledger = Ledger::open(cfg).expect("rebuilt from git");
    assert!(
        ledger.get(&kept).expect("get").is_some(),
        "git's beads are back"
    );
}

#[test]
fn a_truncated_index_is_refused_too() {
    let dir = town();
    let cfg = config(dir.path());
    {
        let mut ledger = open(dir.path());
        for i in 0..200 {
            ledger
                .create(
                    NewBead {
                        title: format!("bead {i}"),
                        description: "d".repeat(2000),
                        priority: 2,
                        ..NewBead::default()
                    },
                    "test",
                )
                .expect("create");
        }
    }
    let len = std::fs::metadata(&cfg.index_path).expect("index").len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&cfg.index_path)
        .expect("open");
    file.set_len(len / 2).expect("cut the index in half");
    drop(file);
    match Ledger::open(cfg.clone()) {
        Err(LedgerError::IndexDamaged { what, .. }) => {
            assert!(what.contains("unreadable"), "{what}")
        }
        Err(other) => panic!("expected IndexDamaged, got {other}"),
        Ok(ledger) => panic!(
            "a truncated index opened silently with {} beads of 200",
            ledger.len()
        ),
    }
}
