//! Mail benchmark: the real `gastown` binary against a running `gastown run`.
//!
//! - `gastown mail send` as a whole CLI process (start, connect, handshake, send, durable write,
//!   reply), one after another: median and p90;
//! - the same from many processes at once: mails per second;
//! - `gastown mail inbox` of an identity with 10,000 unread mails (imported with
//!   `gastown bead import`) among other mail and work beads: median of the whole process.
//!
//! Run: `cargo bench -p gastown --bench mail` (MAIL_BENCH_SENDS, MAIL_BENCH_UNREAD to scale).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{env_number, ok, percentile, start};

/// `median X ms (min Y ms)`: the machine is shared, so the minimum shows the cost without
/// contention.
fn summary(samples: &mut [Duration]) -> String {
    let median = percentile(samples, 0.5);
    format!("median {} (min {})", ms(median), ms(samples[0]))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A bd JSONL file of `n` unread mails to `to` plus `n` work beads.
fn import_file(dir: &Path, n: usize, to: &str) -> PathBuf {
    let path = dir.join("bulk.jsonl");
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "{{\"id\":\"gt-m{i:05}\",\"title\":\"bulk mail {i}\",\"description\":\"body {i}\",\
             \"status\":\"open\",\"priority\":2,\"issue_type\":\"message\",\"assignee\":\"{to}\",\
             \"sender\":\"mayor\",\"created_at\":\"2026-01-01T00:00:00Z\",\"created_by\":\"mayor\"}}\n"
        ));
        text.push_str(&format!(
            "{{\"id\":\"gt-w{i:05}\",\"title\":\"work {i}\",\"status\":\"open\",\"priority\":2,\
             \"issue_type\":\"task\",\"created_at\":\"2026-01-01T00:00:00Z\"}}\n"
        ));
    }
    std::fs::write(&path, text).expect("write import file");
    path
}

/// Drop ANSI colour sequences.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The ledger-side durations (`micros=`) the supervisor logged for `command`, in order.
fn logged(log: &Path, command: &str) -> Vec<Duration> {
    let text = std::fs::read_to_string(log).expect("read the log");
    let tag = format!("command=\"{command}\"");
    text.lines()
        .map(plain)
        .filter(|l| l.contains("mail command applied") && l.contains(&tag))
        .filter_map(|l| {
            let rest = &l[l.find("micros=")? + 7..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok().map(Duration::from_micros)
        })
        .collect()
}

fn sequential_sends(town: &Path, n: usize) {
    for _ in 0..20 {
        ok(town, &["mail", "send", "mayor", "-s", "warm-up", "-m", "x"]);
    }
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let subject = format!("bench {i}");
        let t = Instant::now();
        ok(
            town,
            &["mail", "send", "mayor", "-s", &subject, "-m", "a body"],
        );
        samples.push(t.elapsed());
    }
    let p90 = percentile(&mut samples, 0.9);
    println!(
        "mail send (whole CLI process, {n} sequential): {}, p90 {}",
        summary(&mut samples),
        ms(p90)
    );
}

fn parallel_sends(town: &Path, threads: usize, each: usize) {
    let t = Instant::now();
    std::thread::scope(|s| {
        for k in 0..threads {
            s.spawn(move || {
                for i in 0..each {
                    let subject = format!("par {k}-{i}");
                    ok(town, &["mail", "send", "deacon", "-s", &subject, "-m", "x"]);
                }
            });
        }
    });
    let total = threads * each;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "mail send from {threads} processes at a time: {total} mails in {secs:.2} s = {:.0} mails/s",
        total as f64 / secs
    );
}

fn inbox(town: &Path, to: &str, unread: usize) {
    let mut samples = Vec::new();
    let mut lines = 0;
    for _ in 0..31 {
        let t = Instant::now();
        let text = ok(town, &["mail", "inbox", to, "--limit", "0"]);
        samples.push(t.elapsed());
        lines = text.lines().count();
    }
    assert_eq!(lines, unread, "every unread mail listed");
    println!(
        "mail inbox with {unread} unread (whole CLI process, all {lines} lines): {}",
        summary(&mut samples)
    );
    let mut samples = Vec::new();
    for _ in 0..31 {
        let t = Instant::now();
        ok(town, &["mail", "inbox", to, "--limit", "1"]);
        samples.push(t.elapsed());
    }
    println!(
        "mail inbox with {unread} unread, first line only (the lookup without the 900 KB of output): {}",
        summary(&mut samples)
    );
    let mut samples = Vec::new();
    for _ in 0..31 {
        let t = Instant::now();
        ok(town, &["mail", "check"]);
        samples.push(t.elapsed());
    }
    println!(
        "mail check as the overseer (its own small inbox, same ledger): {}",
        summary(&mut samples)
    );
}

fn main() {
    let sends = env_number("MAIL_BENCH_SENDS", 300);
    let unread = env_number("MAIL_BENCH_UNREAD", 10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let town = dir.path().join("town");
    ok(
        dir.path(),
        &[
            "install",
            town.to_str().expect("utf-8 path"),
            "--agent",
            "sim",
        ],
    );
    std::fs::create_dir_all(town.join("alpha")).expect("rig dir");
    std::fs::write(town.join("alpha").join("rig.toml"), "").expect("rig.toml");
    let bulk = import_file(dir.path(), unread, "alpha/witness");
    let log = dir.path().join("run.log");
    let _supervisor = start(&town, &log, "warn,gastown_town::command::mail=debug");
    sequential_sends(&town, sends);
    let mut inside = logged(&log, "send").split_off(20);
    println!(
        "  of which inside the supervisor (mail::apply: resolve + durable write): {}",
        summary(&mut inside)
    );
    parallel_sends(&town, 8, sends / 4);
    let t = Instant::now();
    ok(
        &town,
        &["bead", "import", bulk.to_str().expect("utf-8 path")],
    );
    println!(
        "(imported {unread} mails + {unread} work beads in {})",
        ms(t.elapsed())
    );
    inbox(&town, "alpha/witness", unread);
    let inboxes = logged(&log, "inbox");
    let (mut full, mut first) = (inboxes[..31].to_vec(), inboxes[31..62].to_vec());
    println!(
        "inside the supervisor: inbox of {unread} unread, all lines {}; first line only {}",
        summary(&mut full),
        summary(&mut first)
    );
    let mut checks = logged(&log, "check");
    println!("inside the supervisor: check {}", summary(&mut checks));
}
