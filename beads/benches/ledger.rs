//! Ledger benchmark at 100,000 beads (about 30% in `blocks` chains), against real redb and git
//! files in a temporary town: durable create, ready and blocked sets, import from cold, group
//! commit of 100 changed beads, open of an existing ledger, and a cold `ready`/`blocked` (open
//! plus the ready or blocked ids, from the persisted sets). Prints the median wall-clock time and
//! the median CPU time of the measuring thread: the machine's two cores are shared, and the CPU
//! time shows the cost without the wait for a core (it leaves out waits for the disk too).
//!
//! Run: `cargo bench -p gastown-beads --bench ledger`. `LEDGER_BENCH_N` changes the size;
//! `LEDGER_BENCH_TOWN=<dir>` keeps the benchmark's town there, and a second run with the same
//! variable only measures opening it.

use gastown_beads::testdata::synthetic_export;
use gastown_beads::{BeadPatch, Ledger, LedgerConfig, NewBead};
use std::path::{Path, PathBuf};
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

fn git_init(dir: &Path) {
    let ok = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["init", "-q", "-b", "main"])
        .status()
        .expect("git runs");
    assert!(ok.success(), "git init");
}

/// Wall-clock and thread CPU time of many runs.
#[derive(Default)]
struct Times {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Times {
    fn run<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (w, c) = (Instant::now(), thread_cpu());
        let out = f();
        self.cpu.push(thread_cpu() - c);
        self.wall.push(w.elapsed());
        out
    }

    fn report(self, what: &str, per: u32, target: &str) {
        let m = |mut v: Vec<Duration>| {
            v.sort();
            v[v.len() / 2] / per
        };
        let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1e3);
        println!(
            "{what:<40} {:>12} wall {:>12} cpu   (target {target})",
            ms(m(self.wall)),
            ms(m(self.cpu))
        );
    }
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

/// One durable 4 KiB write on the disk the ledger is on, 100 times.
fn fsync_probe(dir: &Path) -> Times {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::File::create(dir.join("fsync-probe")).expect("probe file");
    let block = [7u8; 4096];
    let mut t = Times::default();
    for i in 0..100 {
        f.seek(SeekFrom::Start((i % 16) * 4096)).expect("seek");
        f.write_all(&block).expect("write");
        t.run(|| f.sync_data().expect("fdatasync"));
    }
    t
}

fn main() {
    let n: usize = std::env::var("LEDGER_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let keep = std::env::var_os("LEDGER_BENCH_TOWN").map(PathBuf::from);
    if let Some(dir) = keep
        .as_ref()
        .filter(|d| d.join(".runtime/ledger.redb").exists())
    {
        measure_open(dir, 30);
        return;
    }
    println!("ledger benchmark: {n} beads, 30% in blocks chains");
    let data = tempfile::tempdir().expect("temp dir");
    let file = data.path().join("issues.jsonl");
    std::fs::write(&file, synthetic_export(n, 0.3)).expect("write the export");

    // Import from cold: a fresh town and index each time; the last one is kept.
    let mut imports = Times::default();
    let mut kept = None;
    for round in 0..3 {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = keep
            .clone()
            .filter(|_| round == 2)
            .unwrap_or_else(|| tmp.path().to_path_buf());
        std::fs::create_dir_all(&path).expect("town dir");
        git_init(&path);
        let mut l = Ledger::open(config(&path)).expect("open");
        let out = imports.run(|| l.import_file(&file, "bench").expect("import"));
        assert_eq!(out.created, n);
        kept = Some((tmp, path, l));
    }
    imports.report("import from cold (parse + redb)", 1, "< 2 s");
    let (_tmp, town, mut l) = kept.expect("three imports ran");
    let mut first = Times::default();
    let c = first.run(|| l.sync().expect("first commit").expect("a commit"));
    first.report(
        &format!("  then its git commit ({} beads)", c.beads),
        1,
        "none",
    );

    println!(
        "  ready set {} beads, blocked set {} beads",
        l.ready_ids().expect("the ready set").len(),
        l.blocked_ids().expect("the blocked set").len()
    );
    let mut ready = Times::default();
    let mut blocked = Times::default();
    for _ in 0..50 {
        ready.run(|| std::hint::black_box(l.ready_ids().expect("the ready set")));
        blocked.run(|| std::hint::black_box(l.blocked_ids().expect("the blocked set")));
    }
    ready.report("ready_ids (full ready set)", 1, "< 5 ms");
    blocked.report("blocked_ids (full blocked set)", 1, "< 5 ms");

    // Reopened, as the next process would: the import (a bulk write) left the persisted ready
    // and blocked sets to this open, and every write from here on maintains them.
    drop(l);
    let mut reopen = Times::default();
    let mut l = reopen.run(|| Ledger::open(config(&town)).expect("reopen"));
    reopen.report("  first open after the import", 1, "none");
    let mut creates = Times::default();
    let mut made = Vec::new();
    for i in 0..300 {
        let new = NewBead {
            title: format!("bench bead {i}"),
            priority: 2,
            ..NewBead::default()
        };
        made.push(creates.run(|| l.create(new, "bench").expect("create")).id);
    }
    creates.report("create, durable", 1, "< 0.3 ms");
    let mut batches = Times::default();
    for round in 0..10 {
        let news = (0..100)
            .map(|i| NewBead {
                title: format!("batched bead {round}/{i}"),
                priority: 2,
                ..NewBead::default()
            })
            .collect();
        batches.run(|| l.create_many(news, "bench").expect("create_many"));
    }
    batches.report("create_many(100), durable, per bead", 100, "< 0.3 ms");
    fsync_probe(&town).report("  one 4 KiB write + fdatasync", 1, "the disk's floor");

    l.sync().expect("commit the creates");
    let mut commits = Times::default();
    for round in 0..10 {
        for id in made.iter().cycle().skip(round * 20).take(100) {
            let patch = BeadPatch {
                notes: Some(format!("round {round}")),
                ..BeadPatch::default()
            };
            l.update(id, patch, "bench").expect("update");
        }
        let out = commits.run(|| l.sync().expect("sync").expect("a commit"));
        assert_eq!(out.beads, 100);
    }
    commits.report("group commit of 100 changed beads", 1, "< 50 ms");

    l.close_ledger().expect("close");
    measure_open(&town, 10);
}

/// Opening the ledger at `town` (lock, index, git, reconcile; the graph is built on first use),
/// and opening it then building the readiness graph (what the first `ready` pays).
fn measure_open(town: &Path, rounds: usize) {
    let mut opens = Times::default();
    let mut graphs = Times::default();
    let mut ready = Times::default();
    let mut blocked = Times::default();
    let mut len = 0;
    for _ in 0..rounds {
        let l = opens.run(|| Ledger::open(config(town)).expect("reopen"));
        len = l.len();
        drop(l);
        graphs.run(|| {
            let l = Ledger::open(config(town)).expect("reopen");
            std::hint::black_box(l.graph().expect("graph").len());
        });
        ready.run(|| {
            let l = Ledger::open(config(town)).expect("reopen");
            std::hint::black_box(l.ready_ids().expect("the ready set").len());
        });
        blocked.run(|| {
            let l = Ledger::open(config(town)).expect("reopen");
            std::hint::black_box(l.blocked_ids().expect("the blocked set").len());
        });
    }
    opens.report(&format!("open of an existing ledger ({len})"), 1, "< 50 ms");
    graphs.report(&format!("open + readiness graph ({len})"), 1, "");
    ready.report("open + ready_ids (a cold `ready`)", 1, "");
    blocked.report("open + blocked_ids (a cold `blocked`)", 1, "");
}
