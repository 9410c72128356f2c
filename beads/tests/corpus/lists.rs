//! The corpus imported into a real [`Ledger`]: every list by status, assignee and type (answered
//! from the secondary indexes) must equal the same filter applied to the raw corpus lines — with
//! its tombstones, unknown types (`rig`, `role`) and beads without an assignee — before and after
//! a fold and a reopen.

use super::{corpus_file, raw_values};
use gastown_beads::{IssueType, Ledger, LedgerConfig, ListFilter, Status};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn open(town: &Path) -> Ledger {
    Ledger::open(LedgerConfig {
        repo_path: town.to_path_buf(),
        index_path: town.join(".runtime/ledger.redb"),
        lock_path: town.join(".runtime/ledger.lock"),
        prefix: "bd".to_string(),
        git_ref: "refs/heads/beads".to_string(),
        commit_delay: Duration::from_secs(3600),
        author_name: "corpus test".to_string(),
        author_email: "corpus@localhost".to_string(),
    })
    .expect("ledger opens")
}

fn text<'a>(v: &'a Value, field: &str, default: &'a str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or(default)
}

/// The ids of the corpus lines `f` selects, by its definition (a line without a status is open).
fn by_definition(lines: &[Value], f: &ListFilter) -> Vec<String> {
    let mut ids: Vec<String> = lines
        .iter()
        .filter(|v| {
            let status = text(v, "status", "open");
            let status_ok = match &f.status {
                Some(s) => status == s.as_str(),
                None => status != "tombstone" && (f.all || status != "closed"),
            };
            status_ok
                && f.issue_type
                    .as_ref()
                    .is_none_or(|t| text(v, "issue_type", "task") == t.as_str())
                && f.assignee
                    .as_ref()
                    .is_none_or(|a| text(v, "assignee", "") == a)
        })
        .map(|v| text(v, "id", "").to_string())
        .collect();
    ids.sort();
    ids
}

fn check(ledger: &Ledger, lines: &[Value], when: &str) {
    let field = |name: &str, default: &str| -> BTreeSet<String> {
        lines
            .iter()
            .map(|v| text(v, name, default).to_string())
            .collect()
    };
    let mut filters = vec![ListFilter::default()];
    for status in field("status", "open") {
        filters.push(ListFilter {
            status: Some(Status::from(status)),
            ..ListFilter::default()
        });
    }
    for kind in field("issue_type", "task") {
        for all in [false, true] {
            filters.push(ListFilter {
                issue_type: Some(IssueType::from(kind.clone())),
                all,
                ..ListFilter::default()
            });
        }
    }
    for assignee in field("assignee", "") {
        filters.push(ListFilter {
            assignee: Some(assignee.clone()),
            ..ListFilter::default()
        });
        filters.push(ListFilter {
            assignee: Some(assignee),
            status: Some(Status::Hooked),
            ..ListFilter::default()
        });
    }
    for f in &filters {
        let listed: Vec<String> = ledger
            .list(f)
            .expect("list")
            .into_iter()
            .map(|b| b.id)
            .collect();
        assert_eq!(listed, by_definition(lines, f), "{when}: {f:?}");
    }
}

#[test]
fn corpus_lists_by_status_assignee_and_type_match_the_corpus() {
    let Some(path) = corpus_file("corpus_lists_by_status_assignee_and_type_match_the_corpus")
    else {
        return;
    };
    let original = std::fs::read_to_string(&path).expect("corpus is readable");
    let lines = raw_values(&original);
    let dir = tempfile::tempdir().expect("temp dir");
    let ok = Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .arg(dir.path())
        .status()
        .expect("git runs");
    assert!(ok.success(), "git init");
    let mut ledger = open(dir.path());
    ledger.import_file(&path, "corpus").expect("import");
    check(&ledger, &lines, "imported");
    ledger.sync().expect("sync");
    check(&ledger, &lines, "folded");
    ledger.close_ledger().expect("close");
    let ledger = open(dir.path());
    check(&ledger, &lines, "reopened");
}
