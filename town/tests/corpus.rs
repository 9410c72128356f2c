//! The real ledger corpus (`$GASTOWN_CORPUS/beads-classic/issues.jsonl`, written by the classic
//! `bd` and Gas Town's Go version) read through the typed record views: every merge request,
//! agent and molecule in it must read (its fields absent, not malformed); its message beads have
//! no recipient, so they are not mail to an inbox and the mail view says so.
//!
//! When `GASTOWN_CORPUS` is unset the test is skipped visibly (a `SKIPPED` line on stderr; CI
//! fails instead).

use gastown_beads::{Bead, IssueType};
use gastown_town::agents::AgentRecord;
use gastown_town::mail::{self, Mail};
use gastown_town::molecule::PouredFrom;
use gastown_town::refinery::MergeRequest;
use std::path::PathBuf;

#[path = "../../tests/support/corpus.rs"]
mod support;

/// The corpus file for `test`, or `None` when the test is skipped (visibly; see
/// `tests/support/corpus.rs`).
fn corpus_file(test: &str) -> Option<PathBuf> {
    support::corpus_dir(test).map(|dir| dir.join("beads-classic/issues.jsonl"))
}

#[test]
fn corpus_records_read_through_their_views() {
    let Some(path) = corpus_file("corpus_records_read_through_their_views") else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "GASTOWN_CORPUS is set but {} is unreadable: {e}",
            path.display()
        )
    });
    let beads: Vec<Bead> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a corpus line is a bead"))
        .collect();
    let mut read = [0usize; 4];
    for bead in &beads {
        match bead.issue_type {
            IssueType::MergeRequest => {
                MergeRequest::from_bead(bead).unwrap_or_else(|e| panic!("{e}"));
                read[0] += 1;
            }
            IssueType::Agent => {
                let agent = AgentRecord::from_bead(bead).unwrap_or_else(|e| panic!("{e}"));
                assert!(!agent.address.is_empty(), "{}", bead.id);
                read[1] += 1;
            }
            IssueType::Molecule => {
                PouredFrom::of(bead).unwrap_or_else(|e| panic!("{e}"));
                read[2] += 1;
            }
            IssueType::Message => {
                let mail = Mail::from_bead(bead);
                assert_eq!(
                    mail.is_ok(),
                    mail::store::is_mail(bead),
                    "{}: {mail:?}",
                    bead.id
                );
                read[3] += 1;
            }
            _ => {}
        }
    }
    assert!(
        read.iter().all(|n| *n > 0),
        "each kind is in the corpus: {read:?}"
    );
}
