//! An inbox read and a do-not-disturb check on a large ledger (100,000 beads by default): what
//! `gastown mail inbox`, `mail check` and the router's every delivery pass ask of the ledger.
//!
//! The town is a real one (`town::install`, a real redb file and git ref) holding
//! `testdata::synthetic_export(n, 0.3)` imported, then 1,000 unread and 1,000 archived mails to
//! `alpha/witness`, 10,000 unread to `deacon`, 20 to `mayor`, and one agent bead per polecat of
//! rig `alpha` (10), one of them in do-not-disturb.
//!
//! Run: `cargo bench -p gastown-town --bench inbox` (`LEDGER_BENCH_N` changes the size). Prints
//! the median wall-clock and thread-CPU time of 30 runs: the first read in a fresh process, then
//! reads of an inbox of 1,000 and of 20 mails, each read after a write that is not mail (before
//! the ledger's indexes, a per-process mail cache was rebuilt then: the supervisor invalidated it
//! after every `gastown bead` command), and a DND check.

use gastown_beads::testdata::synthetic_export;
use gastown_beads::{BeadPatch, IssueType, Ledger, NewBead};
use gastown_town::identity::AgentIdentity;
use gastown_town::town::{DefaultAgent, InstallOptions, install};
use gastown_town::{agents, mail};
use std::time::{Duration, Instant};

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

/// Time `f` `runs` times (calling `before` untimed ahead of each); print the medians.
fn measure<T>(
    l: &mut Ledger,
    what: &str,
    runs: usize,
    mut before: impl FnMut(&mut Ledger),
    mut f: impl FnMut(&Ledger) -> T,
) -> T {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut out = None;
    for _ in 0..runs {
        before(l);
        let (w, c) = (Instant::now(), thread_cpu());
        out = Some(std::hint::black_box(f(l)));
        cpu.push(thread_cpu() - c);
        wall.push(w.elapsed());
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    println!(
        "{what:<52} {:>10.3} ms wall {:>10.3} ms cpu",
        median(wall),
        median(cpu)
    );
    out.expect("at least one run")
}

fn message(to: &str, subject: String) -> NewBead {
    let mut extra = serde_json::Map::new();
    extra.insert("sender".into(), "overseer".into());
    NewBead {
        title: subject,
        description: "Please look at the frobnicator before the next run.".to_string(),
        issue_type: IssueType::Message,
        priority: 2,
        assignee: to.to_string(),
        extra,
        ..NewBead::default()
    }
}

fn main() {
    let n: usize = std::env::var("LEDGER_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("town");
    let opts = InstallOptions {
        prefix: "gt".to_string(),
        name: None,
        agent: DefaultAgent::Named("sim".to_string()),
    };
    let town = install(&root, &opts).expect("install");
    let file = dir.path().join("issues.jsonl");
    std::fs::write(&file, synthetic_export(n, 0.3)).expect("write the export");
    let mut l = town.open_ledger().expect("ledger");
    l.import_file(&file, "bench").expect("import");
    let mut news: Vec<NewBead> = (0..2000)
        .map(|i| message("alpha/witness", format!("mail {i}")))
        .collect();
    news.extend((0..20).map(|i| message("mayor", format!("to mayor {i}"))));
    news.extend((0..10_000).map(|i| message("deacon", format!("to deacon {i}"))));
    let made = l.create_many(news, "bench").expect("mail");
    for bead in made.iter().take(1000) {
        mail::archive(&mut l, &bead.id, "alpha/witness").expect("archive");
    }
    for i in 0..10 {
        let who = AgentIdentity::parse(&format!("alpha/polecats/p{i}")).expect("address");
        agents::ensure(&mut l, &who).expect("agent bead");
    }
    let p3 = gastown_town::identity::AgentIdentity::parse("alpha/polecats/p3").expect("an address");
    mail::dnd(&mut l, &p3, true).expect("dnd on");
    l.sync().expect("sync");
    let work = l
        .create(
            NewBead {
                title: "some work".to_string(),
                priority: 2,
                ..NewBead::default()
            },
            "bench",
        )
        .expect("work");
    println!("inbox benchmark: {} beads", l.len());

    let unread = measure(
        &mut l,
        "inbox alpha/witness, first read in the process",
        1,
        |_| {},
        |l| mail::inbox(l, "alpha/witness", false).expect("inbox").len(),
    );
    assert_eq!(unread, 1000);
    measure(
        &mut l,
        "inbox alpha/witness (1,000 unread)",
        30,
        |_| {},
        |l| mail::inbox(l, "alpha/witness", false).expect("inbox").len(),
    );
    measure(
        &mut l,
        "inbox deacon (10,000 unread)",
        10,
        |_| {},
        |l| mail::inbox(l, "deacon", false).expect("inbox").len(),
    );
    measure(
        &mut l,
        "inbox mayor (20 unread)",
        30,
        |_| {},
        |l| mail::inbox(l, "mayor", false).expect("inbox").len(),
    );
    let mut round = 0;
    let mut touch = |l: &mut Ledger| {
        round += 1;
        let patch = BeadPatch {
            notes: Some(format!("round {round}")),
            ..BeadPatch::default()
        };
        l.update(&work.id, patch, "bench").expect("update");
    };
    measure(
        &mut l,
        "inbox mayor after a `bead update`",
        30,
        &mut touch,
        |l| mail::inbox(l, "mayor", false).expect("inbox").len(),
    );
    let dnd = measure(
        &mut l,
        "is_dnd alpha/polecats/p3",
        30,
        |_| {},
        |l| mail::is_dnd(l, "alpha/polecats/p3"),
    );
    assert!(dnd);
}
