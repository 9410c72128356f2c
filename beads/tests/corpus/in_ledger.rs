//! The corpus imported into a real [`Ledger`] (redb index, git repository in a temp dir): its
//! ready and blocked sets must equal the independent oracle of `readiness.rs`, before and after
//! mutations and across a reopen, and its export must be the corpus file byte for byte.

use super::{corpus_file, raw_values, readiness};
use gastown_beads::{DepKind, Ledger, LedgerConfig, LedgerError};
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
    let ours_ready: BTreeSet<String> = ledger
        .ready_ids()
        .expect("the ready set")
        .into_iter()
        .collect();
    let ours_blocked: BTreeSet<String> = ledger
        .blocked_ids()
        .expect("the blocked set")
        .into_iter()
        .collect();
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
        ledger.ready_ids().expect("the ready set").len(),
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
    let Some(path) = corpus_file("corpus_in_a_ledger_matches_the_oracle_and_exports_unchanged")
    else {
        return;
    };
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
    let Some(path) = corpus_file("corpus_reimport_changes_nothing") else {
        return;
    };
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

/// Every readiness rule of SPEC.md (the corpus has no `waits-for`, `conditional-blocks`, pins or
/// deferrals), imported into a ledger and compared with the oracle. Runs without the corpus.
#[test]
fn every_readiness_rule_in_a_ledger_matches_the_oracle() {
    let line = |id: &str, status: &str, extra: &str| {
        format!(
            r#"{{"id":"{id}","title":"t {id}","status":"{status}","priority":2,"issue_type":"task","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"{}{extra}}}"#,
            if status == "closed" {
                r#","closed_at":"2026-01-02T00:00:00Z""#
            } else {
                ""
            }
        )
    };
    let deps = |id: &str, ds: &[(&str, &str)]| {
        let items: Vec<String> = ds
            .iter()
            .map(|(on, kind)| {
                format!(r#"{{"issue_id":"{id}","depends_on_id":"{on}","type":"{kind}"}}"#)
            })
            .collect();
        format!(r#","dependencies":[{}]"#, items.join(","))
    };
    let lines = [
        line("t-a", "open", ""),
        line("t-b", "open", &deps("t-b", &[("t-a", "blocks")])),
        line("t-c", "open", &deps("t-c", &[("t-b", "parent-child")])),
        line("t-d", "open", &deps("t-d", &[("t-c", "parent-child")])),
        line(
            "t-e",
            "open",
            &deps("t-e", &[("t-x", "blocks"), ("t-z", "blocks")]),
        ),
        line("t-x", "closed", ""),
        line(
            "t-z",
            "tombstone",
            r#","deleted_at":"2026-01-03T00:00:00Z""#,
        ),
        line("t-w", "open", &deps("t-w", &[("t-e", "waits-for")])),
        line(
            "t-k",
            "in_progress",
            &deps("t-k", &[("t-e", "parent-child")]),
        ),
        line("t-m", "open", r#","sender":"mayor""#).replace("\"task\"", "\"message\""),
        line("t-v", "open", "").replace("\"task\"", "\"convoy\""),
        line("t-p", "open", r#","pinned":true"#),
        line("t-q", "open", r#","ephemeral":true"#),
        line("t-f", "open", r#","defer_until":"2999-01-01T00:00:00Z""#),
        line("t-g", "open", r#","defer_until":"2001-01-01T00:00:00Z""#),
        line(
            "t-h",
            "hooked",
            &deps("t-h", &[("t-a", "conditional-blocks")]),
        ),
        line(
            "t-r",
            "open",
            &deps("t-r", &[("t-a", "related"), ("t-n", "blocks")]),
        ),
        // An import may not name a bead it does not bring, so t-r's blocker is a wisp, burnt
        // below: a dependency left dangling, as a bead deleted in git leaves one.
        line("t-n", "open", r#","ephemeral":true"#),
    ];
    let dir = town();
    let file = dir.path().join("rules.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("write fixture");
    let mut ledger = Ledger::open(config(dir.path())).expect("ledger opens");
    ledger
        .import_file(&file, "rules-test")
        .expect("fixture imports");
    ledger.burn_wisp("t-n").expect("t-n burns");
    let (ready, blocked) = check_against_oracle(&ledger, "rules fixture");
    assert_eq!(
        (ready, blocked),
        (4, 5),
        "t-a t-e t-g t-r ready; t-b t-c t-d t-h t-w blocked"
    );
    ledger
        .close("t-a", "done", "rules-test")
        .expect("close t-a");
    check_against_oracle(&ledger, "rules fixture after closing t-a");
    ledger
        .close("t-k", "done", "rules-test")
        .expect("close t-k");
    check_against_oracle(&ledger, "rules fixture after closing the waited-for child");
}

/// A small deterministic generator (no dependency needed for a test).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Random closes, reopens and dependency edits on a synthetic ledger; the incremental sets must
/// stay equal to the oracle's full recomputation. Runs without the corpus.
#[test]
fn random_mutations_keep_the_ledger_equal_to_the_oracle() {
    let dir = town();
    let file = dir.path().join("synthetic.jsonl");
    std::fs::write(&file, gastown_beads::testdata::synthetic_export(1500, 0.3)).expect("write");
    let mut ledger = Ledger::open(config(dir.path())).expect("ledger opens");
    ledger
        .import_file(&file, "random-test")
        .expect("synthetic imports");
    check_against_oracle(&ledger, "synthetic import");
    let ids: Vec<String> = raw_values(&export(&ledger))
        .iter()
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect();
    let mut rng = Lcg(0x5eed);
    let mut done = [0usize; 4]; // closes, reopens, dependencies added, dependencies removed
    for step in 1..=96 {
        let a = &ids[rng.below(ids.len())];
        let b = &ids[rng.below(ids.len())];
        let bead = ledger.get(a).expect("get").expect("every id exists");
        match rng.below(6) {
            0 if !bead.is_closed() => {
                ledger.close(a, "random", "t").expect("close");
                done[0] += 1;
            }
            1 if bead.is_closed() => {
                ledger.reopen(a, "t").expect("reopen");
                done[1] += 1;
            }
            2..=4 if a != b => {
                let kinds = [DepKind::Blocks, DepKind::ParentChild, DepKind::WaitsFor];
                let kind = kinds[rng.below(3)].clone();
                match ledger.add_dependency(a, b, kind, "t") {
                    Ok(()) => done[2] += 1,
                    Err(LedgerError::Cycle { .. }) => {}
                    Err(e) => panic!("add {a} -> {b}: {e}"),
                }
            }
            5 => {
                if let Some(d) = bead.dependencies.first() {
                    ledger
                        .remove_dependency(a, &d.depends_on_id, "t")
                        .expect("remove dep");
                    done[3] += 1;
                }
            }
            _ => {}
        }
        if step % 8 == 0 {
            check_against_oracle(&ledger, &format!("after {step} random mutations"));
        }
    }
    println!("random mutations: {done:?} (closes, reopens, deps added, deps removed)");
    assert!(
        done.iter().all(|&n| n > 0),
        "every kind of mutation happened: {done:?}"
    );
}
