//! Benchmark of the ledger's git storage ([`GitStore`]): the cost of a group commit of 100 changed
//! beads must not grow with the total number of beads (target: < 50 ms at 100,000 beads).
//!
//! For each total (1k, 10k, 100k) it builds a fresh repository holding that many beads (in one
//! commit), then measures the median of committing 1 and 100 changed beads, of `changed_between`
//! for such a commit, the repository's growth per commit, and (at the largest total) `read_all`.
//!
//! Run: `cargo bench -p gastown-beads --bench git` (`GASTOWN_BENCH_GIT_TOTALS=1000,10000` to pick
//! the totals). The repositories are created with the real `git init` (the library never runs git).

use gastown_beads::git::{Change, GitStore, GitStoreConfig, ObjectId};
use std::path::Path;
use std::time::{Duration, Instant};

mod support;
use support::{XorShift, base36, git_init, median, ms, p90};

/// Beads changed by each measured commit.
const CHANGED: usize = 100;
/// Measured commits per total (`GASTOWN_BENCH_GIT_ROUNDS` to change).
const ROUNDS: usize = 40;

fn main() {
    let totals = std::env::var("GASTOWN_BENCH_GIT_TOTALS")
        .map(|s| {
            s.split(',')
                .map(|n| n.trim().parse().expect("a number of beads"))
                .collect()
        })
        .unwrap_or_else(|_| vec![1_000, 10_000, 100_000]);
    println!(
        "git ledger benchmark: commits of 1 and {CHANGED} changed beads, medians and p90 of the rounds"
    );
    let largest = totals.iter().copied().max().unwrap_or(0);
    for total in totals {
        bench_total(total, total == largest);
    }
}

fn bench_total(total: usize, with_read_all: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    git_init(dir.path());
    let mut store = GitStore::open(GitStoreConfig::new(dir.path())).expect("open");
    let all: Vec<Change> = (0..total).map(|i| put(i, 0)).collect();
    let started = Instant::now();
    let mut tip = store.commit(None, &all, "").expect("initial commit");
    println!(
        "{total:>7} beads: initial commit of all beads  {:>9.1} ms",
        ms(started.elapsed())
    );
    let rounds = std::env::var("GASTOWN_BENCH_GIT_ROUNDS")
        .map_or(ROUNDS, |r| r.parse().expect("a number of rounds"));
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for changed in [1, CHANGED] {
        tip = Some(bench_commits(
            &mut store,
            tip,
            Round {
                total,
                changed,
                rounds,
            },
            &mut rng,
        ));
    }
    if with_read_all {
        let tip = tip.expect("committed");
        let mut reads: Vec<Duration> = (0..3).map(|_| time_read_all(&store, tip, total)).collect();
        println!(
            "{total:>7} beads: read_all                     median {:>7.1} ms",
            median(&mut reads)
        );
    }
}

/// What one series of measured commits does.
struct Round {
    total: usize,
    changed: usize,
    rounds: usize,
}

/// Time `rounds` commits of `changed` random beads and `changed_between` each against its parent;
/// print medians and the repository's growth per commit. Returns the last commit.
fn bench_commits(
    store: &mut GitStore,
    mut tip: Option<ObjectId>,
    r: Round,
    rng: &mut XorShift,
) -> ObjectId {
    let pack_dir = store.config().repo_path.join(".git/objects/pack");
    let size_before = dir_size(&pack_dir);
    let (mut commits, mut diffs) = (Vec::new(), Vec::new());
    for round in 1..=r.rounds {
        let changes: Vec<Change> = (0..r.changed)
            .map(|_| put(rng.below(r.total), round))
            .collect();
        let started = Instant::now();
        let new_tip = store
            .commit(tip, &changes, "")
            .expect("commit")
            .expect("the beads changed");
        commits.push(started.elapsed());
        let started = Instant::now();
        let found = store
            .changed_between(tip, new_tip)
            .expect("changed_between");
        diffs.push(started.elapsed());
        assert!(found.len() <= r.changed && !found.is_empty());
        tip = Some(new_tip);
    }
    let growth =
        (dir_size(&pack_dir).saturating_sub(size_before)) as f64 / r.rounds as f64 / 1024.0;
    let (total, changed) = (r.total, r.changed);
    println!(
        "{total:>7} beads: commit of {changed:>3} changed beads  median {:>7.2} ms  p90 {:>7.2} ms  (+{growth:.1} KiB/commit)",
        median(&mut commits),
        p90(&mut commits)
    );
    println!(
        "{total:>7} beads: changed_between, {changed:>3} changes median {:>7.2} ms  p90 {:>7.2} ms",
        median(&mut diffs),
        p90(&mut diffs)
    );
    tip.expect("at least one round")
}

/// Bytes of the files directly in `dir`.
fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn time_read_all(store: &GitStore, tip: ObjectId, total: usize) -> Duration {
    let started = Instant::now();
    let beads = store.read_all(tip).expect("read_all");
    let elapsed = started.elapsed();
    assert_eq!(beads.len(), total);
    elapsed
}

/// Bead `i` in its `version`-th edit, as a JSON line of a realistic size (~400 bytes).
fn put(i: usize, version: usize) -> Change {
    let id = format!("gt-{}", base36(i as u64 * 7_919 + 1_000_000));
    let line = format!(
        concat!(
            r#"{{"id":"{id}","title":"Bench bead {i} edit {v}","description":"A bead made by the git "#,
            r#"benchmark so that lines have a realistic size; it says nothing else of interest.","#,
            r#""status":"open","priority":2,"issue_type":"task","assignee":"gastown/polecats/nux","#,
            r#""created_at":"2026-01-01T00:00:00Z","created_by":"mayor","#,
            r#""updated_at":"2026-01-01T00:00:{v:02}Z","labels":["bench","git"]}}"#
        ),
        id = id,
        i = i,
        v = version % 60
    );
    Change::Put { id, line }
}
