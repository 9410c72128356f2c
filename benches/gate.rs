//! A slow gate never stalls the town: the real `gastown` binary against a running `gastown run`
//! whose rig has a `test` gate that sleeps (30 s by default) — run by the live refinery, and by
//! a `gastown mq process` sent to the supervisor at the same time (which used to run its gates
//! inside the ledger actor). While both gates sleep, 200 `mail send` and `bead create` calls
//! (alternating, one after another, each a whole CLI process through the socket) are timed.
//! The same calls with no gate running give the baseline. It also counts the ledger actor's
//! "slow ledger operation" warnings over the whole run.
//!
//! Run: `cargo bench -p gastown --bench gate` (GATE_BENCH_CALLS, GATE_BENCH_SECONDS to scale).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{BIN, env_number, ok, percentile, start};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=bench", "-c", "user.email=bench@localhost"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}");
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn figures(samples: &mut [Duration]) -> String {
    let (p50, p90, p99) = (
        percentile(samples, 0.5),
        percentile(samples, 0.9),
        percentile(samples, 0.99),
    );
    let max = samples[samples.len() - 1];
    format!(
        "p50 {} · p90 {} · p99 {} · max {}",
        ms(p50),
        ms(p90),
        ms(p99),
        ms(max)
    )
}

/// Poll `check` every 20 ms until it holds or `limit` passes.
fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A town with rig `alpha` (landing in the town only) whose `test` gate appends a line to
/// `runs` and sleeps `seconds`.
fn town(dir: &Path, runs: &Path, seconds: u64) -> PathBuf {
    let src = dir.join("source");
    std::fs::create_dir_all(&src).expect("mkdir");
    git(&src, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(src.join("README.md"), "bench\n").expect("write");
    git(&src, &["add", "."]);
    git(&src, &["commit", "--quiet", "-m", "first"]);
    let town = dir.join("town");
    ok(
        dir,
        &["install", town.to_str().expect("utf-8"), "--agent", "sim"],
    );
    ok(
        &town,
        &[
            "rig",
            "add",
            "alpha",
            src.to_str().expect("utf-8"),
            "--no-push",
        ],
    );
    let config = town.join("alpha/rig.toml");
    let text = std::fs::read_to_string(&config).expect("rig.toml");
    let gate = format!(
        "[gates]\ntest = \"echo run >> '{}'; sleep {seconds}\"\ntimeout = \"{}s\"\n",
        runs.display(),
        seconds * 4
    );
    let text = text.replace("[gates]\ntimeout = \"10m\"\n", &gate);
    assert!(text.contains("sleep"), "the gate is configured");
    std::fs::write(&config, text).expect("write rig.toml");
    town
}

fn gates_running(runs: &Path) -> usize {
    std::fs::read_to_string(runs)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// `calls` alternating `mail send` and `bead create`, each timed as a whole CLI process.
fn calls(town: &Path, calls: u64, tag: &str) -> (Vec<Duration>, Vec<Duration>) {
    let (mut mails, mut creates) = (Vec::new(), Vec::new());
    for i in 0..calls {
        let subject = format!("{tag} {i}");
        let t = Instant::now();
        if i % 2 == 0 {
            ok(town, &["mail", "send", "mayor", "-s", &subject, "-m", "x"]);
            mails.push(t.elapsed());
        } else {
            ok(town, &["bead", "create", &subject]);
            creates.push(t.elapsed());
        }
    }
    (mails, creates)
}

fn report(what: &str, (mut mails, mut creates): (Vec<Duration>, Vec<Duration>)) {
    let mut all: Vec<Duration> = mails.iter().chain(&creates).copied().collect();
    println!("{what}: {} calls: {}", all.len(), figures(&mut all));
    println!("  mail send:   {}", figures(&mut mails));
    println!("  bead create: {}", figures(&mut creates));
}

fn main() {
    let n = env_number("GATE_BENCH_CALLS", 200);
    let seconds = env_number("GATE_BENCH_SECONDS", 30);
    let dir = tempfile::tempdir().expect("temp dir");
    let runs = dir.path().join("gate-runs");
    let town = town(dir.path(), &runs, seconds);
    let bead = ok(&town, &["bead", "create", "Gated work", "--json"]);
    let bead: serde_json::Value = serde_json::from_str(&bead).expect("JSON");
    let bead = bead["id"].as_str().expect("id").to_string();
    let log = dir.path().join("run.log");
    let supervisor = start(&town, &log, "warn");
    for i in 0..20 {
        ok(
            &town,
            &[
                "mail",
                "send",
                "mayor",
                "-s",
                &format!("warm-up {i}"),
                "-m",
                "x",
            ],
        );
    }
    report("no gate running", calls(&town, n, "baseline"));
    // The sim polecat works the bead and runs `gastown done`; the refinery lands it: gate 1.
    ok(&town, &["sling", &bead, "alpha"]);
    wait_until("the refinery's gate", Duration::from_secs(120), || {
        gates_running(&runs) >= 1
    });
    let gate_started = Instant::now();
    // `mq process` sent to the supervisor lands the same queue: gate 2 (its client gives up
    // after 30 s; the supervisor finishes the landing).
    let mut mq = Command::new(BIN)
        .current_dir(&town)
        .env_remove("GASTOWN_TOWN")
        .env_remove("GASTOWN_AGENT")
        .args(["mq", "process", "alpha"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mq process starts");
    let second = Instant::now();
    while gates_running(&runs) < 2 && second.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let gates = gates_running(&runs);
    let during = calls(&town, n, "during");
    let within = gate_started.elapsed() < Duration::from_secs(seconds);
    report(
        &format!(
            "while {gates} gate(s) of {seconds} s ran (the refinery's{})",
            if gates >= 2 { " and mq process's" } else { "" }
        ),
        during,
    );
    println!(
        "  all calls finished before the first gate did: {}",
        if within {
            "yes"
        } else {
            "NO: raise GATE_BENCH_SECONDS"
        }
    );
    wait_until(
        "the gated work to merge",
        Duration::from_secs(seconds * 6),
        || {
            let shown = ok(&town, &["bead", "show", &bead, "--json"]);
            serde_json::from_str::<serde_json::Value>(&shown).is_ok_and(|b| b["status"] == "closed")
        },
    );
    let _ = mq.wait();
    drop(supervisor);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let slow: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("slow ledger operation"))
        .collect();
    println!("slow ledger operations logged (> 50 ms): {}", slow.len());
    for line in slow.iter().take(10) {
        println!("  {line}");
    }
}
