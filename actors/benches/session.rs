//! Session actor benchmark: spawn → first output latency, stop latency, memory per session and
//! a 50 MiB output flood, on real PTYs with `/bin/sh` agents.
//!
//! Run: `cargo bench -p gastown-actors --bench session`. Plain `Instant`, medians printed.

use std::time::{Duration, Instant};

use gastown_actors::session::{NudgeOptions, Session, SessionArgs, SessionMsg, client};
use ractor::{Actor, ActorRef};

const READY_AGENT: &str = "echo READY; while read l; do :; done";

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        spawn_latency(50).await;
        memory_per_session(50, "idle", READY_AGENT, "READY\r\n".len() as u64).await;
        memory_per_session(
            50,
            "ring full",
            "echo READY; yes | head -c 300K; while read l; do :; done",
            450 * 1024, // 300 KiB of "y\n" is 450 KiB through the PTY ("\r\n")
        )
        .await;
        nudge_latency(20).await;
        flood().await;
    });
}

fn args(script: &str) -> SessionArgs {
    let mut args = SessionArgs::new("/bin/sh", std::env::temp_dir());
    args.args = vec!["-c".into(), script.into()];
    args.ready_marker = Some("READY".into());
    args.stop_timeout = Duration::from_secs(2);
    args
}

async fn start(script: &str) -> ActorRef<SessionMsg> {
    Actor::spawn(None, Session, args(script))
        .await
        .expect("the session starts")
        .0
}

/// Waits until `needle` has been printed, without polling: the subscription's screen plus its
/// live output cover everything printed since the spawn.
async fn wait_printed(session: &ActorRef<SessionMsg>, needle: &str) {
    let mut attachment = client::subscribe(session).await.expect("subscribe");
    let mut seen = String::from_utf8_lossy(&attachment.screen).into_owned();
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout(Duration::from_secs(60), attachment.output.recv())
            .await
            .expect("output within a minute")
            .expect("the session is alive");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn spawn_latency(runs: usize) {
    let (mut spawned, mut ready, mut stopped) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let started = Instant::now();
        let session = start(READY_AGENT).await;
        spawned.push(started.elapsed());
        wait_printed(&session, "READY").await;
        ready.push(started.elapsed());
        let stopping = Instant::now();
        client::terminate(&session, Duration::from_secs(2))
            .await
            .expect("terminate");
        stopped.push(stopping.elapsed());
    }
    println!(
        "spawn (pre_start done), {runs} runs:   median {:?}  p90 {:?}",
        median(&mut spawned),
        p90(&mut spawned)
    );
    println!(
        "spawn -> READY printed, {runs} runs:   median {:?}  p90 {:?}",
        median(&mut ready),
        p90(&mut ready)
    );
    println!(
        "terminate (SIGTERM, group gone):     median {:?}  p90 {:?}",
        median(&mut stopped),
        p90(&mut stopped)
    );
}

async fn memory_per_session(count: usize, label: &str, script: &str, min_bytes: u64) {
    let before = rss_bytes();
    let mut sessions = Vec::new();
    for _ in 0..count {
        sessions.push(start(script).await);
    }
    // Every agent prints at least `min_bytes`; wait until all of it has been read.
    for session in &sessions {
        while client::snapshot(session).await.expect("snapshot").bytes_out < min_bytes {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let grown = rss_bytes().saturating_sub(before);
    println!(
        "memory, {count} sessions ({label}): RSS +{:.1} MiB total, {:.0} KiB per session",
        grown as f64 / (1024.0 * 1024.0),
        grown as f64 / 1024.0 / count as f64
    );
    for session in &sessions {
        client::terminate(session, Duration::from_secs(2))
            .await
            .expect("terminate");
    }
}

async fn nudge_latency(runs: usize) {
    let mut args = args(r#"echo READY; while read l; do echo "got:$l"; done"#);
    args.quiet_period = Duration::from_millis(50);
    let session = Actor::spawn(None, Session, args)
        .await
        .expect("the session starts")
        .0;
    let mut took = Vec::new();
    for i in 0..runs {
        let started = Instant::now();
        let text = format!("nudge number {i}");
        client::nudge(&session, &text, NudgeOptions::default())
            .await
            .expect("the nudge lands");
        took.push(started.elapsed());
    }
    println!(
        "nudge (idle wait with 50 ms quiet period, type, echo, Enter), {runs} runs: median {:?}  p90 {:?}",
        median(&mut took),
        p90(&mut took)
    );
    client::terminate(&session, Duration::from_secs(2))
        .await
        .expect("terminate");
}

async fn flood() {
    let before = rss_bytes();
    let started = Instant::now();
    let session =
        start("echo READY; yes | head -c 50M; echo FLOOD-DONE; while read l; do :; done").await;
    let mut peak = 0;
    let mut slowest = Duration::ZERO;
    loop {
        let asked = Instant::now();
        let snapshot = client::snapshot(&session).await.expect("snapshot");
        slowest = slowest.max(asked.elapsed());
        peak = peak.max(rss_bytes().saturating_sub(before));
        if snapshot.bytes_out >= 75 * 1024 * 1024 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_printed(&session, "FLOOD-DONE").await;
    let took = started.elapsed();
    println!(
        "flood 50 MiB of `yes` (75 MiB through the PTY): {took:?} ({:.1} MiB/s), peak RSS +{:.1} MiB, slowest snapshot {slowest:?}",
        75.0 / took.as_secs_f64(),
        peak as f64 / (1024.0 * 1024.0)
    );
    client::terminate(&session, Duration::from_secs(2))
        .await
        .expect("terminate");
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn p90(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() * 9 / 10]
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}
