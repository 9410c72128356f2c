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
//! Then the whole `Ledger::merge_from` of a sync, index and all, on a ledger of
//! `GASTOWN_BENCH_SYNC_LEDGERS` beads (default 100k; 1M takes a minute to set up): the synthetic
//! ledger of `testdata` imported and committed, then per round "theirs" is a commit of k beads
//! changed on our tip (written by a second `GitStore` on the same repository, the ref moved back
//! with `git update-ref`), and `merge_from` is timed twice: once with nothing of ours pending
//! (a fast-forward; the index takes in their k beads), once with k beads of ours changed
//! locally too (ours committed first, a merge commit, the index catches up).
//!
//! Run: `cargo bench -p gastown-beads --bench sync` (`GASTOWN_BENCH_SYNC_TOTALS=10000` to pick
//! the totals, `GASTOWN_BENCH_SYNC_ROUNDS` the rounds per k; `GASTOWN_BENCH_SYNC_LEDGERS=0`
//! skips the ledger part).

use gastown_beads::git::{Change, GitStore, GitStoreConfig, ObjectId};
use gastown_beads::{BeadPatch, Ledger, LedgerConfig};
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
    let ledgers: Vec<usize> = std::env::var("GASTOWN_BENCH_SYNC_LEDGERS")
        .map(|s| {
            s.split(',')
                .map(|n| n.trim().parse().expect("a number of beads"))
                .filter(|n| *n > 0)
                .collect()
        })
        .unwrap_or_else(|_| vec![100_000]);
    for total in ledgers {
        bench_ledger(total, rounds);
    }
}

/// `Ledger::merge_from` of k beads changed by them (and k by us) on a ledger of `total` beads.
fn bench_ledger(total: usize, rounds: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    git_init(dir.path());
    let file = dir.path().join("issues.jsonl");
    std::fs::write(&file, gastown_beads::testdata::synthetic_export(total, 0.3))
        .expect("write the export");
    let cfg = LedgerConfig {
        repo_path: dir.path().to_path_buf(),
        index_path: dir.path().join(".runtime/ledger.redb"),
        lock_path: dir.path().join(".runtime/ledger.lock"),
        prefix: "bn".to_string(),
        git_ref: "refs/heads/beads".to_string(),
        commit_delay: std::time::Duration::from_secs(3600),
        author_name: "bench".to_string(),
        author_email: "bench@localhost".to_string(),
    };
    let mut ledger = Ledger::open(cfg).expect("open");
    let setup = Instant::now();
    ledger.import_file(&file, "bench").expect("import");
    ledger.sync().expect("commit the import");
    println!(
        "{total:>7} beads: ledger set up (import + commit) in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let ids: Vec<String> = std::fs::read_to_string(&file)
        .expect("read the export")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            v["id"].as_str().expect("an id").to_string()
        })
        .collect();
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut n = 0;
    for k in [10, 1_000] {
        for ours_too in [false, true] {
            let mut merges = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                n += 1;
                let tip = ledger.git_tip().expect("tip").expect("committed");
                let changes: Vec<Change> = (0..k)
                    .map(|_| {
                        let id = &ids[rng.below(ids.len())];
                        let mut bead = ledger.get(id).expect("get").expect("imported");
                        bead.title = format!("theirs {n}");
                        Change::Put {
                            id: id.clone(),
                            line: bead.to_json_line(),
                        }
                    })
                    .collect();
                // A store of its own, as another town's commit would be.
                let mut theirs_store =
                    GitStore::open(GitStoreConfig::new(dir.path())).expect("open");
                let theirs = theirs_store
                    .commit(Some(tip), &changes, "")
                    .expect("their commit")
                    .expect("their beads changed");
                move_ref(dir.path(), tip);
                if ours_too {
                    // One durable group for the k changes (setting up, not measured).
                    ledger.set_deferred_durability(true).expect("defer");
                    for _ in 0..k {
                        let id = &ids[rng.below(ids.len())];
                        let patch = BeadPatch {
                            notes: Some(format!("ours {n}")),
                            ..BeadPatch::default()
                        };
                        ledger.update(id, patch, "bench").expect("our change");
                    }
                    ledger.set_deferred_durability(false).expect("durable");
                }
                let started = Instant::now();
                let done = ledger.merge_from(theirs, Some(tip)).expect("merge");
                merges.push(started.elapsed());
                assert_eq!(done.fast_forward, !ours_too);
                assert!(!done.taken.is_empty() || !done.merged.is_empty());
            }
            println!(
                "{total:>7} beads: Ledger::merge_from, {k:>4} changed by them{}  median {:>8.2} ms  p90 {:>8.2} ms",
                if ours_too {
                    " and by us"
                } else {
                    "           "
                },
                median(&mut merges),
                p90(&mut merges)
            );
        }
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
