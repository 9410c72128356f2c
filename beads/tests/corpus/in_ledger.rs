//! The corpus imported into a real [`Ledger`] (redb index, git repository in a temp dir): its
//! ready and blocked sets must equal the independent oracle of `readiness.rs`, before and after
//! mutations and across a reopen, and its export must be the corpus file byte for byte.

use super::{corpus_file, raw_values, readiness};
use gastown_beads::{Ledger, LedgerConfig};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn town() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .arg(dir.path())
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn config(town: &Path) -> LedgerConfig {
    LedgerConfig {
        repo_path: town.to_path_buf(),
        index_path: town.join(".runtime/ledger.redb"),
        lock_path: town.join(".runtime/ledger.lock"),
        prefix: "bd".to_string(),
        git_ref: "refs/heads/beads".to_string(),
        commit_delay: Duration::from_secs(3600),
        author_name: "corpus test".to_string(),
        author_email: "corpus@localhost".to_string(),
    }
}

fn export(ledger: &Ledger) -> String {
    let mut out = Vec::new();
    ledger.export_to(&mut out).expect("export");
    String::from_utf8(out).expect("UTF-8 export")
}

/// The ledger's ready and blocked sets next to the oracle's on the ledger's own export.
fn check_against_oracle(ledger: &Ledger, when: &str) -> (usize, usize) {
    let values = raw_values(&export(ledger));
    let now = gastown_beads::time::now_unix_nanos();
    let (ready, blocked) = readiness::ready_and_blocked(&values, now);
    let ours_ready: BTreeSet<String> = ledger.ready_ids().into_iter().collect();
    let ours_blocked: BTreeSet<String> = ledger.blocked_ids().into_iter().collect();
    let diff = |a: &BTreeSet<String>, b: &BTreeSet<String>| {
        a.difference(b).take(10).cloned().collect::<Vec<_>>()
    };
    assert!(
        ours_ready == ready,
        "{when}: ready differs; ledger only {:?}, oracle only {:?}",
        diff(&ours_ready, &ready),
        diff(&ready, &ours_ready)
    );
    assert!(
        ours_blocked == blocked,
        "{when}: blocked differs; ledger only {:?}, oracle only {:?}",
        diff(&ours_blocked, &blocked),
        diff(&blocked, &ours_blocked)
    );
    assert_eq!(
        ledger.ready_ids().len(),
        ready.len(),
        "{when}: no duplicates in ready"
    );
    (ready.len(), blocked.len())
}

/// Open beads that hold someone back through `blocks`, in file order.
fn open_blockers(values: &[Value]) -> Vec<String> {
    let open: BTreeSet<&str> = values
        .iter()
        .filter(|v| !matches!(v["status"].as_str(), Some("closed" | "tombstone")))
        .filter_map(|v| v["id"].as_str())
        .collect();
    let mut out: Vec<String> = Vec::new();
    for v in values {
        for d in v["dependencies"].as_array().into_iter().flatten() {
            let target = d["depends_on_id"].as_str().unwrap_or("");
            if d["type"] == "blocks" && open.contains(target) && !out.iter().any(|t| t == target) {
                out.push(target.to_string());
            }
        }
    }
    out
}

#[test]
fn corpus_in_a_ledger_matches_the_oracle_and_exports_unchanged() {
    let Some(path) = corpus_file() else { return };
    let original = std::fs::read_to_string(&path).expect("corpus is readable");
    let dir = town();
    let mut ledger = Ledger::open(config(dir.path())).expect("ledger opens");
    let outcome = ledger
        .import_file(&path, "corpus-test")
        .expect("corpus imports");
    assert_eq!(outcome.created, 3003);
    assert!(
        export(&ledger) == original,
        "export after import is the corpus byte for byte"
    );
    let (ready, blocked) = check_against_oracle(&ledger, "after import");
    println!("ledger on the corpus: {ready} ready, {blocked} blocked");

    // Mutations are applied incrementally; the oracle recomputes from scratch.
    let blockers = open_blockers(&raw_values(&original));
    assert!(
        blockers.len() >= 5,
        "the corpus has open blockers: {}",
        blockers.len()
    );
    for id in blockers.iter().take(5) {
        ledger
            .close(id, "corpus test", "corpus-test")
            .expect("close a blocker");
    }
    check_against_oracle(&ledger, "after closing 5 blockers");
    for id in blockers.iter().take(2) {
        ledger.reopen(id, "corpus-test").expect("reopen a blocker");
    }
    check_against_oracle(&ledger, "after reopening 2 of them");

    ledger.close_ledger().expect("flush to git and unlock");
    let ledger = Ledger::open(config(dir.path())).expect("ledger reopens");
    check_against_oracle(&ledger, "after reopen");
}

#[test]
fn corpus_reimport_changes_nothing() {
    let Some(path) = corpus_file() else { return };
    let dir = town();
    let mut ledger = Ledger::open(config(dir.path())).expect("ledger opens");
    ledger
        .import_file(&path, "corpus-test")
        .expect("first import");
    let again = ledger
        .import_file(&path, "corpus-test")
        .expect("second import");
    assert_eq!(
        (again.created, again.updated, again.unchanged),
        (0, 0, 3003)
    );
}
