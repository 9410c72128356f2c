//! Tests of the streaming import (an export into an empty ledger, `ledger/bulk.rs`) against the
//! in-memory import it stands in for, on real redb files and real git repositories: many small
//! chunks give the same ledger, the same errors with the same lines, nothing stored when a
//! late line is bad, and a `kill -9` in the middle leaves the ledger empty or complete, never
//! half (the import runs in a child process that kills itself at a fault point).

use gastown_beads::git::{GitStore, GitStoreConfig};
use gastown_beads::{Ledger, ListFilter, Status};
use std::path::{Path, PathBuf};

mod common;
use common::{git, killed_child, open, town};

/// Beads of the synthetic export (plus [`WISPS`] wisps at its end).
const BEADS: usize = 1_050;
/// Ephemeral beads appended to the export.
const WISPS: usize = 3;
/// A chunk size that cuts the export into many chunks.
const CHUNK: usize = 100;

/// A synthetic export of [`BEADS`] beads (chains, epics, labels, closed ones) and [`WISPS`]
/// wisps, written to `<dir>/issues.jsonl`.
fn export_file(dir: &Path) -> PathBuf {
    let mut text = gastown_beads::testdata::synthetic_export(BEADS, 0.3);
    for i in 0..WISPS {
        text.push_str(&format!(
            r#"{{"id":"bn-wisp{i}","title":"wisp {i}","status":"open","priority":2,"issue_type":"gate","created_at":"2025-01-02T00:00:00Z","ephemeral":true}}"#
        ));
        text.push('\n');
    }
    let path = dir.join("issues.jsonl");
    std::fs::write(&path, text).expect("write the export");
    path
}

/// The ledger's export, as bytes.
fn export(l: &Ledger) -> Vec<u8> {
    let mut out = Vec::new();
    l.export_to(&mut out).expect("export");
    out
}

/// (id, line) of every bead at the tip of refs/heads/beads.
fn in_git(town: &Path) -> Vec<(String, String)> {
    let store = GitStore::open(GitStoreConfig::new(town)).expect("git store opens");
    match store.tip().expect("tip") {
        Some(tip) => store.read_all(tip).expect("read_all"),
        None => Vec::new(),
    }
}

fn ids(beads: Vec<gastown_beads::Bead>) -> Vec<String> {
    beads.into_iter().map(|b| b.id).collect()
}

#[test]
fn many_chunks_give_the_ledger_the_in_memory_import_gives() {
    let streamed_town = town();
    let whole_town = town();
    let file = export_file(streamed_town.path());
    let mut streamed = open(streamed_town.path());
    streamed.set_import_chunk(CHUNK);
    let mut whole = open(whole_town.path());
    whole.set_import_chunk(0);
    let a = streamed
        .import_file(&file, "import")
        .expect("streamed import");
    let b = whole
        .import_file(&file, "import")
        .expect("in-memory import");
    assert_eq!(a, b);
    assert_eq!((a.created, a.wisps), (BEADS + WISPS, WISPS));
    assert_eq!(streamed.len(), BEADS + WISPS);
    assert_eq!(
        export(&streamed),
        export(&whole),
        "the same beads, byte for byte"
    );
    assert_eq!(
        streamed.ready_ids().expect("ready"),
        whole.ready_ids().expect("ready")
    );
    assert_eq!(
        streamed.blocked_ids().expect("blocked"),
        whole.blocked_ids().expect("blocked")
    );
    for filter in [
        ListFilter::default(),
        ListFilter {
            status: Some(Status::Closed),
            ..ListFilter::default()
        },
        ListFilter {
            all: true,
            ..ListFilter::default()
        },
    ] {
        let listed = ids(streamed.list(&filter).expect("list"));
        assert!(!listed.is_empty(), "{filter:?} lists something");
        assert_eq!(
            listed,
            ids(whole.list(&filter).expect("list")),
            "{filter:?}"
        );
    }
    let first = String::from_utf8(export(&streamed)).expect("utf8");
    let some_id = first
        .lines()
        .nth(BEADS / 2)
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v["id"].as_str().map(str::to_string))
        .expect("an id in the middle of the export");
    let events = |l: &Ledger| -> Vec<(String, String, Option<String>)> {
        l.events(&some_id)
            .expect("events")
            .into_iter()
            .map(|e| (format!("{:?}", e.kind), e.actor, e.new))
            .collect()
    };
    assert_eq!(events(&streamed), events(&whole));
    assert_eq!(events(&streamed).len(), 1, "one created event");
    // A write after the import sees the imported beads (ids taken, links known).
    let wisp_count = streamed
        .list(&ListFilter {
            all: true,
            ..ListFilter::default()
        })
        .expect("list")
        .iter()
        .filter(|b| b.ephemeral)
        .count();
    assert_eq!(wisp_count, WISPS);
    // The streamed import's commit is written in parts (a pack on disk, one top shard at a
    // time), the other one whole: the same tree either way, and a pack git itself accepts.
    streamed.set_commit_in_parts_above(CHUNK);
    streamed.sync().expect("sync");
    whole.sync().expect("sync");
    let git_streamed = in_git(streamed_town.path());
    assert_eq!(git_streamed.len(), BEADS, "wisps stay out of git");
    assert_eq!(git_streamed, in_git(whole_town.path()));
    let tree = |town: &Path| git(town, &["rev-parse", "refs/heads/beads^{tree}"]);
    assert_eq!(tree(streamed_town.path()), tree(whole_town.path()));
    git(streamed_town.path(), &["fsck", "--strict", "--no-dangling"]);
    assert_eq!(
        git(
            streamed_town.path(),
            &["rev-list", "--count", "refs/heads/beads"]
        )
        .trim(),
        "1",
        "one commit"
    );
    // The beads' blobs were hashed and packed while the import filled the index: the commit's
    // own pack holds its trees, the README and the commit, and no bead blob.
    let mut blobs_per_pack = packed_blobs(streamed_town.path());
    blobs_per_pack.sort_unstable();
    assert_eq!(blobs_per_pack, vec![1, BEADS], "the README, then the beads");
    let before = export(&streamed);
    drop(streamed);
    let reopened = open(streamed_town.path());
    assert_eq!(reopened.len(), BEADS + WISPS);
    assert_eq!(export(&reopened), before, "the same after a reopen");
}

/// How many blobs each pack of the town's repository holds (`git verify-pack -v`).
fn packed_blobs(town: &Path) -> Vec<usize> {
    let dir = town.join(".git/objects/pack");
    let mut counts = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the pack dir") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "idx") {
            let listed = git(town, &["verify-pack", "-v", path.to_str().expect("utf-8")]);
            counts.push(
                listed
                    .lines()
                    .filter(|l| l.split_whitespace().nth(1) == Some("blob"))
                    .count(),
            );
        }
    }
    counts
}

/// The blobs a streaming import writes ahead stand for the beads as imported: a bead changed
/// (or deleted) before the commit is committed as it is then, never as it was imported.
#[test]
fn a_bead_changed_between_a_streamed_import_and_its_commit_is_committed_as_changed() {
    let dir = town();
    let file = export_file(dir.path());
    let mut l = open(dir.path());
    l.set_import_chunk(CHUNK);
    l.import_file(&file, "import").expect("import");
    let text = std::fs::read_to_string(&file).expect("export");
    let id_at = |n: usize| -> String {
        let line = text.lines().nth(n).expect("a line");
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        v["id"].as_str().expect("an id").to_string()
    };
    let (changed, deleted) = (id_at(7), id_at(8));
    let patch = gastown_beads::BeadPatch {
        title: Some("changed after the import".to_string()),
        ..gastown_beads::BeadPatch::default()
    };
    l.update(&changed, patch, "test").expect("update");
    l.remove_beads(std::slice::from_ref(&deleted), "test")
        .expect("remove");
    l.set_commit_in_parts_above(CHUNK);
    l.sync().expect("sync");
    let committed = in_git(dir.path());
    assert_eq!(committed.len(), BEADS - 1, "the deleted bead is not in git");
    let line = &committed
        .iter()
        .find(|(id, _)| *id == changed)
        .expect("the changed bead")
        .1;
    assert!(line.contains("changed after the import"), "{line}");
    assert!(!committed.iter().any(|(id, _)| *id == deleted));
    git(dir.path(), &["fsck", "--strict", "--no-dangling"]);
}

/// The error of importing `text` streamed (chunks of [`CHUNK`]) and in memory: the same words,
/// and nothing stored either way.
fn same_error_and_nothing_stored(name: &str, text: &str) -> String {
    let mut errors = Vec::new();
    for chunk in [CHUNK, 0] {
        let t = town();
        let file = t.path().join(format!("{name}.jsonl"));
        std::fs::write(&file, text).expect("write");
        let mut l = open(t.path());
        l.set_import_chunk(chunk);
        let err = l.import_file(&file, "import").expect_err(name);
        assert!(l.is_empty(), "{name}: nothing imported");
        l.sync().expect("sync");
        drop(l);
        assert!(in_git(t.path()).is_empty(), "{name}: nothing in git");
        assert!(open(t.path()).is_empty(), "{name}: nothing after a reopen");
        // The file is named by its path, which differs between the two towns.
        errors.push(
            err.to_string()
                .replace(&t.path().display().to_string(), "<town>"),
        );
    }
    assert_eq!(errors[0], errors[1], "{name}: the same error either way");
    errors.remove(0)
}

#[test]
fn a_bad_late_line_stores_nothing_and_is_named_as_the_in_memory_import_names_it() {
    let good = gastown_beads::testdata::synthetic_export(450, 0.3);
    let n = good.lines().count();
    let first_id = good
        .lines()
        .next()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v["id"].as_str().map(str::to_string))
        .expect("a first id");
    let line = |id: &str, extra: &str| {
        format!(
            r#"{{"id":"{id}","title":"late","status":"open","priority":2,"issue_type":"task","created_at":"2025-01-02T00:00:00Z"{extra}}}"#
        ) + "\n"
    };
    let dep = |from: &str, to: &str| {
        format!(
            r#","dependencies":[{{"issue_id":"{from}","depends_on_id":"{to}","type":"blocks"}}]"#
        )
    };
    let cases: Vec<(&str, String, String)> = vec![
        (
            "malformed",
            format!("{good}{{not json\n"),
            format!("malformed.jsonl:{}:", n + 1),
        ),
        (
            "invalid-id",
            format!("{good}{}", line("no spaces allowed", "")),
            format!("invalid-id.jsonl:{}:", n + 1),
        ),
        (
            "duplicate",
            format!("{good}{}", line(&first_id, "")),
            "is already on line 1".to_string(),
        ),
        (
            "invalid-field",
            format!(
                "{good}{}",
                line("bn-late1", "").replace("\"priority\":2", "\"priority\":9")
            ),
            format!("line {}", n + 1),
        ),
        (
            "dangling",
            format!("{good}{}", line("bn-late1", &dep("bn-late1", "bn-nowhere"))),
            "bn-nowhere".to_string(),
        ),
        (
            "cycle",
            format!(
                "{good}{}{}",
                line("bn-late1", &dep("bn-late1", "bn-late2")),
                line("bn-late2", &dep("bn-late2", "bn-late1"))
            ),
            "form a cycle".to_string(),
        ),
    ];
    for (name, text, says) in cases {
        let err = same_error_and_nothing_stored(name, &text);
        assert!(err.contains(&says), "{name}: {err}");
    }
    // Text that is not UTF-8 anywhere wins over an earlier malformed line, as before.
    let mut bytes = format!("{{not json\n{good}").into_bytes();
    bytes.extend_from_slice(b"{\"id\":\"bn-x\",\"title\":\"\xff\"}\n");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(text.contains('\u{fffd}'));
    let t = town();
    let file = t.path().join("bad-utf8.jsonl");
    std::fs::write(&file, &bytes).expect("write");
    let mut l = open(t.path());
    l.set_import_chunk(CHUNK);
    let err = l.import_file(&file, "import").expect_err("not UTF-8");
    assert!(
        err.to_string()
            .contains(&format!("bad-utf8.jsonl:{}:", n + 2)),
        "{err}"
    );
    assert!(err.to_string().contains("not UTF-8"), "{err}");
    assert!(l.is_empty());
}

/// In a child process: import `<town>/issues.jsonl` in chunks of [`CHUNK`]; the fault point
/// set for it kills it first.
fn import_in_child(town: &Path) {
    let mut l = open(town);
    l.set_import_chunk(CHUNK);
    l.import_file(&town.join("issues.jsonl"), "import")
        .expect("import");
    println!("SURVIVED");
}

#[test]
fn a_kill_during_a_streamed_import_leaves_the_ledger_empty_or_complete() {
    if let Some(dir) = std::env::var_os("IMPORT_STREAM_CHILD") {
        import_in_child(Path::new(&dir));
        return;
    }
    for (fault, complete) in [
        ("import-after-first-chunk", false),
        ("bulk-load-before-commit", false),
        ("import-after-index-commit", true),
    ] {
        let t = town();
        export_file(t.path());
        killed_child(
            "a_kill_during_a_streamed_import_leaves_the_ledger_empty_or_complete",
            &[
                ("IMPORT_STREAM_CHILD", t.path().as_os_str()),
                ("GASTOWN_LEDGER_FAULT", fault.as_ref()),
            ],
        );
        let l = open(t.path());
        if complete {
            assert_eq!(l.len(), BEADS + WISPS, "{fault}: all of it");
            // The reopen committed what the kill kept from git.
            assert_eq!(in_git(t.path()).len(), BEADS, "{fault}: all of it in git");
        } else {
            assert!(l.is_empty(), "{fault}: none of it");
            assert!(in_git(t.path()).is_empty(), "{fault}: nothing in git");
        }
        // Either way the next import works.
        drop(l);
        let mut l = open(t.path());
        l.set_import_chunk(CHUNK);
        let out = l
            .import_file(&t.path().join("issues.jsonl"), "import")
            .expect("import again");
        assert_eq!(
            out.created + out.unchanged,
            BEADS + WISPS,
            "{fault}: {out:?}"
        );
    }
}
