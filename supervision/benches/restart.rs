//! Benchmarks of the supervision crate (plain `Instant`, medians; run with
//! `cargo bench -p gastown-supervision --bench restart`):
//! - restart of a crashed worker, from the crash command to the `restarted` event;
//! - resident memory per supervised child, from /proc/self/statm around adding 10,000 children;
//! - snapshot of a 10,000-child dynamic supervisor;
//! - shutdown of those 10,000 children.

use std::time::{Duration, Instant};

use gastown_supervision::{
    Backoff, ChildSpec, EventKind, Intensity, Strategy, Supervisor, SupervisorRef, SupervisorSpec,
};
use ractor::{Actor, ActorProcessingErr, ActorRef};

/// A worker that crashes on any message.
#[derive(Clone)]
struct Crasher;

impl Actor for Crasher {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(&self, _: ActorRef<()>, _: (), _: &mut ()) -> Result<(), ActorProcessingErr> {
        Err("crash".into())
    }
}

/// "median …, min …, p99 …" of `samples`. The minimum is printed because the machine these run
/// on is shared: it shows the cost without scheduling noise.
fn summarize(samples: &mut [Duration]) -> String {
    samples.sort();
    let p99 = samples[(samples.len() * 99 / 100).min(samples.len() - 1)];
    format!(
        "median {:?}, min {:?}, p99 {p99:?}",
        samples[samples.len() / 2],
        samples[0]
    )
}

/// Resident set size in bytes, from /proc/self/statm.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .expect("statm resident field");
    pages * 4096
}

/// Crash-to-restarted latency of one worker, `rounds` times.
async fn bench_restart(rounds: usize) {
    // No backoff, so the figure is the cost of the restart machinery; a tiny period keeps the
    // intensity window from growing.
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .with_intensity(Intensity::new(u32::MAX, Duration::from_millis(1)))
        .with_backoff(Backoff::none())
        .child(ChildSpec::actor("crasher", Crasher, || ()));
    let supervisor = Supervisor::spawn("bench", spec).await.expect("starts");
    let mut events = supervisor.subscribe();
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let cell = supervisor
            .child("crasher")
            .await
            .expect("answers")
            .expect("runs");
        let started = Instant::now();
        cell.send_message(()).expect("accepts");
        loop {
            let event = events.recv().await.expect("stream open");
            if event.kind == EventKind::Restarted {
                break;
            }
        }
        samples.push(started.elapsed());
    }
    println!(
        "restart of a crashed worker ({rounds} rounds): {}",
        summarize(&mut samples)
    );
    supervisor.shutdown().await;
}

/// A dynamic supervisor with `count` children, with the time and memory it took.
async fn fill(count: usize) -> SupervisorRef {
    let supervisor = Supervisor::spawn("pool", SupervisorSpec::new(Strategy::Dynamic))
        .await
        .expect("starts");
    let before = rss_bytes();
    let started = Instant::now();
    for index in 0..count {
        let spec = ChildSpec::actor(format!("child-{index}"), Crasher, || ());
        supervisor.start_child(spec).await.expect("child starts");
    }
    let took = started.elapsed();
    let grown = rss_bytes().saturating_sub(before);
    println!(
        "start {count} dynamic children: {took:?} ({:?} each); RSS +{} KiB = {} bytes per child",
        took / count as u32,
        grown / 1024,
        grown / count as u64
    );
    supervisor
}

/// Resident memory of `count` bare ractor actors (no supervisor), for comparison.
async fn bare_actors(count: usize) {
    let before = rss_bytes();
    let mut actors = Vec::with_capacity(count);
    for _ in 0..count {
        let (actor, _join) = Actor::spawn(None, Crasher, ()).await.expect("spawns");
        actors.push(actor);
    }
    let grown = rss_bytes().saturating_sub(before);
    println!(
        "{count} bare ractor actors: RSS +{} KiB = {} bytes per actor",
        grown / 1024,
        grown / count as u64
    );
    for actor in actors {
        actor.stop(None);
        actor.wait(None).await.expect("no timeout given");
    }
}

/// Snapshot latency of `supervisor`, `rounds` times.
async fn bench_snapshot(supervisor: &SupervisorRef, rounds: usize) {
    let mut samples = Vec::with_capacity(rounds);
    let mut children = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        let snapshot = supervisor.snapshot().await.expect("answers");
        samples.push(started.elapsed());
        children = snapshot.children.len();
    }
    println!(
        "snapshot of a {children}-child dynamic supervisor ({rounds} rounds): {}",
        summarize(&mut samples)
    );
}

/// Runs one memory measurement in a fresh process, so that neither sees memory the other freed.
fn measure_in_child_process(which: &str) {
    let exe = std::env::current_exe().expect("bench executable path");
    let output = std::process::Command::new(exe)
        .env("SUPERVISION_BENCH_MEMORY", which)
        .output()
        .expect("bench re-runs itself");
    print!("{}", String::from_utf8_lossy(&output.stdout));
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match std::env::var("SUPERVISION_BENCH_MEMORY").as_deref() {
        Ok("bare") => return runtime.block_on(bare_actors(10_000)),
        Ok("supervised") => {
            return runtime.block_on(async {
                fill(10_000).await;
            });
        }
        _ => {}
    }
    measure_in_child_process("bare");
    measure_in_child_process("supervised");
    runtime.block_on(async {
        bench_restart(200).await;
        bench_restart(5000).await;
        let supervisor = fill(10_000).await;
        bench_snapshot(&supervisor, 50).await;
        let started = Instant::now();
        supervisor.shutdown().await;
        println!(
            "shutdown of 10000 dynamic children: {:?}",
            started.elapsed()
        );
    });
}
