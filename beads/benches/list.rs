//! `Ledger::list` with a status, assignee or type filter on a large ledger (100,000 beads by
//! default): what the GUPP sweep (every hooked bead), an agent's hook, an inbox and the merge
//! queue ask for. Each should cost its result, not the ledger; the full list is measured beside
//! them for scale.
//!
//! The ledger is `testdata::synthetic_export(n, 0.3)` imported into a real redb file in a temporary
//! town, then (through the ledger's own API) 60 beads hooked by 20 polecats, 2,000 mails to
//! `alpha/witness` (half of them archived), 20 to `mayor` and 30 merge requests. Half of those
//! writes are made after a `sync`, so the reads see folded rows and rows still in the log.
//!
//! Run: `cargo bench -p gastown-beads --bench list` (`LEDGER_BENCH_N` changes the size). Prints
//! the median wall-clock and thread-CPU time of 30 runs of each query, and its result size.

use gastown_beads::testdata::synthetic_export;
use gastown_beads::{BeadPatch, IssueType, Ledger, LedgerConfig, ListFilter, NewBead, Status};
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

/// Run `filter` 30 times; print the medians and the result size.
fn measure(l: &Ledger, what: &str, filter: &ListFilter) {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut found = 0;
    for _ in 0..30 {
        let (w, c) = (Instant::now(), thread_cpu());
        found = std::hint::black_box(l.list(filter).expect("list")).len();
        cpu.push(thread_cpu() - c);
        wall.push(w.elapsed());
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    println!(
        "{what:<44} {found:>7} beads {:>10.3} ms wall {:>10.3} ms cpu",
        median(wall),
        median(cpu)
    );
}

fn new(title: String, issue_type: IssueType, assignee: &str) -> NewBead {
    NewBead {
        title,
        issue_type,
        priority: 2,
        assignee: assignee.to_string(),
        ..NewBead::default()
    }
}

/// Hooked work, mail and merge requests, made in two halves around a `sync`.
fn populate(l: &mut Ledger, half: usize) {
    let hooked: Vec<NewBead> = (0..30)
        .map(|i| {
            let who = format!("alpha/polecats/p{}", (i + half * 30) % 20);
            new(format!("hooked {half}/{i}"), IssueType::Task, &who)
        })
        .collect();
    for bead in l.create_many(hooked, "bench").expect("hooked work") {
        let patch = BeadPatch {
            status: Some(Status::Hooked),
            ..BeadPatch::default()
        };
        l.update(&bead.id, patch, "bench").expect("hook");
    }
    let mut mail: Vec<NewBead> = (0..1000)
        .map(|i| {
            new(
                format!("mail {half}/{i}"),
                IssueType::Message,
                "alpha/witness",
            )
        })
        .collect();
    mail.extend((0..10).map(|i| new(format!("to mayor {half}/{i}"), IssueType::Message, "mayor")));
    mail.extend((0..15).map(|i| {
        new(
            format!("mr {half}/{i}"),
            IssueType::MergeRequest,
            "alpha/refinery",
        )
    }));
    let made = l.create_many(mail, "bench").expect("mail");
    for bead in made.iter().take(500) {
        l.close(&bead.id, "archived", "bench").expect("archive");
    }
}

fn main() {
    let n: usize = std::env::var("LEDGER_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let town = tempfile::tempdir().expect("temp dir");
    let ok = Command::new("git")
        .arg("-C")
        .arg(town.path())
        .args(["init", "-q", "-b", "main"])
        .status()
        .expect("git runs");
    assert!(ok.success(), "git init");
    let file = town.path().join("issues.jsonl");
    std::fs::write(&file, synthetic_export(n, 0.3)).expect("write the export");
    let mut l = Ledger::open(config(town.path())).expect("open");
    l.import_file(&file, "bench").expect("import");
    populate(&mut l, 0);
    l.sync().expect("sync");
    populate(&mut l, 1);
    println!("list benchmark: {} beads", l.len());

    let hooked = ListFilter {
        status: Some(Status::Hooked),
        ..ListFilter::default()
    };
    measure(&l, "status hooked (GUPP sweep)", &hooked);
    let hook = ListFilter {
        status: Some(Status::Hooked),
        assignee: Some("alpha/polecats/p3".to_string()),
        ..ListFilter::default()
    };
    measure(&l, "status hooked + assignee (one hook)", &hook);
    let inbox = ListFilter {
        issue_type: Some(IssueType::Message),
        assignee: Some("alpha/witness".to_string()),
        ..ListFilter::default()
    };
    measure(&l, "open mail of alpha/witness", &inbox);
    let small = ListFilter {
        issue_type: Some(IssueType::Message),
        assignee: Some("mayor".to_string()),
        ..ListFilter::default()
    };
    measure(&l, "open mail of mayor", &small);
    let mrs = ListFilter {
        issue_type: Some(IssueType::MergeRequest),
        ..ListFilter::default()
    };
    measure(&l, "open merge requests (type)", &mrs);
    let in_progress = ListFilter {
        status: Some(Status::InProgress),
        ..ListFilter::default()
    };
    measure(&l, "status in_progress (a large result)", &in_progress);
    measure(
        &l,
        "everything not closed (75% of the ledger)",
        &ListFilter::default(),
    );
}
