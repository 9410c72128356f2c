//! Ledger benchmark at 100,000 beads (about 30% in `blocks` chains), against real redb and git
//! files in a temporary town: durable create, ready and blocked sets, import from cold, group
//! commit of 100 changed beads, open of an existing ledger. Prints medians.
//!
//! Run: `cargo bench -p gastown-beads --bench ledger` (`LEDGER_BENCH_N` changes the size).

use gastown_beads::testdata::synthetic_export;
use gastown_beads::{BeadPatch, Ledger, LedgerConfig, NewBead};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn config(town: &Path) -> LedgerConfig {
    LedgerConfig {
        repo_path: town.to_path_buf(),
        index_path: town.join(".runtime/ledger.redb"),
        lock_path: town.join(".runtime/ledger.lock"),
        prefix: "gt".to_string(),
        git_ref: "refs/heads/beads".to_string(),
        commit_delay: Duration::from_secs(3600),
        author_name: "bench".to_string(),
        author_email: "bench@localhost".to_string(),
    }
}

fn town() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let ok = Command::new("git")
        .arg("-C")
        .arg(dir.path())
        .args(["init", "-q", "-b", "main"])
        .status()
        .expect("git runs");
    assert!(ok.success(), "git init");
    dir
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn report(what: &str, d: Duration, target: &str) {
    println!("{what:<44} {:>12}   (target {target})", ms(d));
}

/// Median cost of one durable 4 KiB write on the disk the ledger is on.
fn fsync_probe(dir: &Path) -> Duration {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::File::create(dir.join("fsync-probe")).expect("probe file");
    let block = [7u8; 4096];
    let times = (0..100)
        .map(|i| {
            f.seek(SeekFrom::Start((i % 16) * 4096)).expect("seek");
            f.write_all(&block).expect("write");
            let s = Instant::now();
            f.sync_data().expect("fdatasync");
            s.elapsed()
        })
        .collect();
    median(times)
}

fn main() {
    let n: usize = std::env::var("LEDGER_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    if let Some(dir) = std::env::var_os("LEDGER_BENCH_TOWN") {
        let dir = std::path::PathBuf::from(dir);
        if dir.join(".runtime/ledger.redb").exists() {
            measure_open(&dir, 30);
            return;
        }
    }
    println!("ledger benchmark: {n} beads, 30% in blocks chains");
    let data = tempfile::tempdir().expect("temp dir");
    let file = data.path().join("issues.jsonl");
    std::fs::write(&file, synthetic_export(n, 0.3)).expect("write the export");

    // Import from cold: a fresh town and index each time.
    let mut imports = Vec::new();
    let mut kept = None;
    for round in 0..3 {
        let t = town();
        // With LEDGER_BENCH_TOWN the last round's town is kept there (for open-only runs).
        let path = std::env::var_os("LEDGER_BENCH_TOWN")
            .filter(|_| round == 2)
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| t.path().to_path_buf());
        if path != t.path() {
            std::fs::create_dir_all(&path).expect("bench town");
            Command::new("git")
                .arg("-C")
                .arg(&path)
                .args(["init", "-q", "-b", "main"])
                .status()
                .expect("git init");
        }
        let mut l = Ledger::open(config(&path)).expect("open");
        let start = Instant::now();
        let out = l.import_file(&file, "bench").expect("import");
        imports.push(start.elapsed());
        assert_eq!(out.created, n);
        kept = Some((t, path, l));
    }
    report(
        "import (parse + one redb transaction)",
        median(imports),
        "< 2 s",
    );
    let (_t, town_path, mut l) = kept.expect("three imports ran");
    let start = Instant::now();
    let first = l.sync().expect("first commit").expect("a commit");
    println!(
        "{:<44} {:>12}   ({} beads into git, not a target)",
        "first git commit of the import",
        ms(start.elapsed()),
        first.beads
    );

    let ready = (0..50)
        .map(|_| {
            let s = Instant::now();
            std::hint::black_box(l.ready_ids());
            s.elapsed()
        })
        .collect();
    let blocked = (0..50)
        .map(|_| {
            let s = Instant::now();
            std::hint::black_box(l.blocked_ids());
            s.elapsed()
        })
        .collect();
    println!(
        "  ready set {} beads, blocked set {} beads",
        l.ready_ids().len(),
        l.blocked_ids().len()
    );
    report("ready_ids (full ready set)", median(ready), "< 5 ms");
    report("blocked_ids (full blocked set)", median(blocked), "< 5 ms");

    let mut creates = Vec::new();
    let mut made = Vec::new();
    for i in 0..300 {
        let new = NewBead {
            title: format!("bench bead {i}"),
            priority: 2,
            ..NewBead::default()
        };
        let s = Instant::now();
        let b = l.create(new, "bench").expect("create");
        creates.push(s.elapsed());
        made.push(b.id);
    }
    report(
        "create, durable (median of 300)",
        median(creates),
        "< 0.3 ms",
    );
    let mut batches = Vec::new();
    for round in 0..10 {
        let news = (0..100)
            .map(|i| NewBead {
                title: format!("batched bead {round}/{i}"),
                priority: 2,
                ..NewBead::default()
            })
            .collect();
        let s = Instant::now();
        let beads = l.create_many(news, "bench").expect("create_many");
        batches.push(s.elapsed() / beads.len() as u32);
    }
    report(
        "create_many of 100, durable, per bead",
        median(batches),
        "< 0.3 ms",
    );
    report(
        "  for scale: one 4 KiB write + fdatasync here",
        fsync_probe(&town_path),
        "the floor of any durable write",
    );

    let mut commits = Vec::new();
    l.sync().expect("commit the creates");
    for round in 0..10 {
        for id in made
            .iter()
            .skip(round * 20)
            .take(100)
            .chain(made.iter().take(100))
            .take(100)
        {
            let patch = BeadPatch {
                notes: Some(format!("round {round}")),
                ..BeadPatch::default()
            };
            l.update(id, patch, "bench").expect("update");
        }
        let s = Instant::now();
        let out = l.sync().expect("sync").expect("a commit");
        commits.push(s.elapsed());
        assert_eq!(out.beads, 100);
    }
    report(
        "group commit of 100 changed beads",
        median(commits),
        "< 50 ms",
    );

    l.close_ledger().expect("close");
    measure_open(&town_path, 10);
}

/// Median wall-clock and CPU time of opening the ledger at `town` (lock, index, git, graph,
/// reconcile). The CPU time shows the cost when other processes share the two cores.
fn measure_open(town: &Path, rounds: usize) {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut len = 0;
    for _ in 0..rounds {
        let (s, c) = (Instant::now(), thread_cpu());
        let l = Ledger::open(config(town)).expect("reopen");
        wall.push(s.elapsed());
        cpu.push(thread_cpu() - c);
        len = l.len();
        drop(l);
    }
    report(
        &format!("open of an existing ledger ({len} beads)"),
        median(wall),
        "< 50 ms",
    );
    report(
        "  the same, CPU time of the opening thread",
        median(cpu),
        "< 50 ms",
    );
}

/// CPU time consumed by this thread so far.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
