//! Benchmark of a sync's merge (issue 19): merging a ledger commit that brings in k changed
//! beads costs in proportion to k, not to the ledger's size.
//!
//! For each total (10k, 100k beads) it commits every bead once (the merge base), then for k =
//! 10, 100, 1000 and each round: "theirs" is a commit of k random beads changed on the base,
//! "ours" another commit of k random beads changed on the base (the ref is moved back to the
//! base between them with the real `git update-ref`), and [`GitStore::merge`] of theirs into
//! ours is timed — the same call `Ledger::merge_from` makes for `gastown sync`, which then
//! catches its index up with the k beads. Beads changed on both sides (at small totals and
//! large k) are merged field by field, as in a real sync.
//!
//! Run: `cargo bench -p gastown-beads --bench sync` (`GASTOWN_BENCH_SYNC_TOTALS=10000` to pick
//! the totals, `GASTOWN_BENCH_SYNC_ROUNDS` the rounds per k).

use gastown_beads::git::{Change, GitStore, GitStoreConfig, ObjectId};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

mod support;
use support::{XorShift, base36, git_init, median, p90};

/// Changed beads per side of a measured merge.
const CHANGED: [usize; 3] = [10, 100, 1_000];
/// Measured merges per (total, k).
const ROUNDS: usize = 7;

fn main() {
    let totals: Vec<usize> = std::env::var("GASTOWN_BENCH_SYNC_TOTALS")
        .map(|s| {
            s.split(',')
                .map(|n| n.trim().parse().expect("a number of beads"))
                .collect()
        })
        .unwrap_or_else(|_| vec![10_000, 100_000]);
    let rounds = std::env::var("GASTOWN_BENCH_SYNC_ROUNDS")
        .map_or(ROUNDS, |r| r.parse().expect("a number of rounds"));
    println!(
        "sync merge benchmark: GitStore::merge of k changed beads a side, median and p90 of {rounds} rounds"
    );
    for total in totals {
        bench_total(total, rounds);
    }
}

fn bench_total(total: usize, rounds: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    git_init(dir.path());
    let mut store = GitStore::open(GitStoreConfig::new(dir.path())).expect("open");
    let all: Vec<Change> = (0..total).map(|i| put(i, 0, "base")).collect();
    let base = store
        .commit(None, &all, "")
        .expect("initial commit")
        .expect("the beads are new");
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for k in CHANGED {
        let mut merges = Vec::with_capacity(rounds);
        for round in 1..=rounds {
            let changes = |rng: &mut XorShift, side| -> Vec<Change> {
                (0..k).map(|_| put(rng.below(total), round, side)).collect()
            };
            let theirs = store
                .commit(Some(base), &changes(&mut rng, "theirs"), "")
                .expect("their commit")
                .expect("their beads changed");
            move_ref(dir.path(), base);
            let ours = store
                .commit(Some(base), &changes(&mut rng, "ours"), "")
                .expect("our commit")
                .expect("our beads changed");
            let started = Instant::now();
            let done = store.merge(Some(ours), theirs, Some(base)).expect("merge");
            merges.push(started.elapsed());
            assert!(!done.fast_forward && done.tip.is_some());
            assert!(done.taken.len() + done.merged.len() <= k && !done.taken.is_empty());
            move_ref(dir.path(), base);
        }
        println!(
            "{total:>7} beads: merge of {k:>4} changed beads a side  median {:>8.2} ms  p90 {:>8.2} ms",
            median(&mut merges),
            p90(&mut merges)
        );
    }
}

/// Put the ledger ref back on `to` (the base), as plain git would.
fn move_ref(repo: &Path, to: ObjectId) {
    let status = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["update-ref", "refs/heads/beads", &to.to_string()])
        .status()
        .expect("git is installed");
    assert!(status.success(), "git update-ref failed");
}

/// Bead `i` in `version` as changed by `side`, a JSON line of a realistic size (~400 bytes).
fn put(i: usize, version: usize, side: &str) -> Change {
    let id = format!("gt-{}", base36(i as u64 * 7_919 + 1_000_000));
    let line = format!(
        concat!(
            r#"{{"id":"{id}","title":"Bench bead {i}","description":"A bead made by the sync "#,
            r#"benchmark so that lines have a realistic size; {side} changed it in round {v}.","#,
            r#""status":"open","priority":2,"issue_type":"task","assignee":"gastown/polecats/nux","#,
            r#""created_at":"2026-01-01T00:00:00Z","created_by":"mayor","#,
            r#""updated_at":"2026-01-01T00:{v:02}:00Z","labels":["bench","{side}"]}}"#
        ),
        id = id,
        i = i,
        side = side,
        v = version % 60
    );
    Change::Put { id, line }
}
