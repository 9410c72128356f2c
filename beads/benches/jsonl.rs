//! Import/export speed of `bd` JSONL: `parse_export` and `write_export` of a 100,000-bead
//! synthetic ledger (30% in blocking chains). Plain `Instant` timing, medians printed; the
//! thread's CPU time is printed too, since on a shared machine wall time includes waiting for a
//! core.
//!
//! Run: `cargo bench -p gastown-beads --bench jsonl` (`BENCH_BEADS=n` for another size).

use gastown_beads::jsonl;
use gastown_beads::testdata;
use std::path::Path;
use std::time::{Duration, Instant};

const RUNS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time used by this thread so far.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_THREAD_CPUTIME_ID is available on Linux");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let n: usize = std::env::var("BENCH_BEADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let t = Instant::now();
    let text = testdata::synthetic_export(n, 0.3);
    println!(
        "generated {n} beads, {:.1} MB of JSONL, in {:.0} ms",
        text.len() as f64 / 1e6,
        ms(t.elapsed())
    );

    let mut parse = Vec::new();
    let mut parse_cpu = Vec::new();
    let mut beads = Vec::new();
    for _ in 0..RUNS {
        let (t, c) = (Instant::now(), thread_cpu());
        let recs = jsonl::parse_export(Path::new("synthetic.jsonl"), &text).expect("parses");
        parse.push(t.elapsed());
        parse_cpu.push(thread_cpu() - c);
        assert_eq!(recs.len(), n);
        beads = recs.into_iter().map(|r| r.bead).collect::<Vec<_>>();
    }
    let mut write = Vec::new();
    let mut write_cpu = Vec::new();
    for _ in 0..RUNS {
        let mut out = Vec::with_capacity(text.len());
        let (t, c) = (Instant::now(), thread_cpu());
        jsonl::write_export(&mut out, beads.iter().cloned()).expect("writes");
        write.push(t.elapsed());
        write_cpu.push(thread_cpu() - c);
        assert_eq!(out.len(), text.len());
    }
    let (p, w) = (median(parse), median(write));
    println!(
        "parse_export  {n} beads: median {:.1} ms wall, {:.1} ms CPU ({:.0} MB/s) over {RUNS} runs",
        ms(p),
        ms(median(parse_cpu)),
        text.len() as f64 / 1e6 / p.as_secs_f64()
    );
    println!(
        "write_export  {n} beads: median {:.1} ms wall, {:.1} ms CPU (incl. clone + sort) over \
         {RUNS} runs",
        ms(w),
        ms(median(write_cpu))
    );
}
