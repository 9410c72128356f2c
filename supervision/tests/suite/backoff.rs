//! Backoff: a child that keeps failing is retried ever more slowly (doubling up to the cap),
//! through the supervisor's mailbox so the supervisor keeps answering; a child that stayed up for
//! `reset_after` starts over with an immediate restart.

use std::time::Duration;

use gastown_supervision::{
    Backoff, ChildState, EventKind, Intensity, Strategy, Supervisor, SupervisorEvent,
    SupervisorSpec,
};
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::common::{
    Command, Exit, Journal, Switch, send, wait_for, wait_kind, worker, worker_with,
};

/// 1 s doubling to 4 s, reset after 10 s, no jitter; intensity out of the way.
fn backoff() -> Backoff {
    Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(4),
        reset_after: Duration::from_secs(10),
        jitter: 0.0,
    }
}

fn spec(strategy: Strategy) -> SupervisorSpec {
    SupervisorSpec::new(strategy)
        .with_intensity(Intensity::new(1000, Duration::from_secs(3600)))
        .with_backoff(backoff())
}

/// The next backoff or restart event of `child`.
async fn next_step(
    events: &mut broadcast::Receiver<SupervisorEvent>,
    child: &str,
) -> SupervisorEvent {
    wait_for(events, |e| {
        e.child == child && matches!(e.kind, EventKind::BackingOff | EventKind::Restarted)
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_caps_and_resets() {
    let journal = Journal::default();
    let broken = Switch::default();
    broken.set(true);
    let (sender, mut events) = broadcast::channel(256);
    let spec = spec(Strategy::OneForOne).child(worker_with("w", &journal, &broken));
    let supervisor = Supervisor::spawn_with_events("backoff", spec, sender)
        .await
        .expect("starts");

    // Start fails; the first retry is immediate (no backoff event), then 1, 2, 4, 4 s.
    let mut delays = Vec::new();
    let mut at = Vec::new();
    for _ in 0..5 {
        let step = next_step(&mut events, "w").await;
        assert_eq!(step.kind, EventKind::BackingOff);
        delays.push(step.delay_ms.expect("backing_off has a delay"));
        at.push(Instant::now());
    }
    assert_eq!(delays, [1000, 2000, 4000, 4000, 4000]);
    let gaps: Vec<u64> = at
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).as_millis() as u64)
        .collect();
    assert_eq!(
        gaps,
        [1000, 2000, 4000, 4000],
        "each retry waited its delay"
    );

    // While backing off the supervisor still answers.
    assert_eq!(
        supervisor.which_children().await.expect("answers")[0].state,
        ChildState::BackingOff
    );

    // Let it start: the pending retry succeeds after its delay.
    broken.set(false);
    let restarted = next_step(&mut events, "w").await;
    assert_eq!(restarted.kind, EventKind::Restarted);
    assert_eq!(journal.starts("w"), 1);

    // Up for longer than reset_after: the next crash restarts at once, the one after waits 1 s.
    tokio::time::sleep(Duration::from_secs(11)).await;
    send(&supervisor, "w", Command::Exit(Exit::Abnormal)).await;
    assert_eq!(next_step(&mut events, "w").await.kind, EventKind::Restarted);
    send(&supervisor, "w", Command::Exit(Exit::Abnormal)).await;
    let step = next_step(&mut events, "w").await;
    assert_eq!(
        (step.kind, step.delay_ms),
        (EventKind::BackingOff, Some(1000))
    );
    assert_eq!(next_step(&mut events, "w").await.kind, EventKind::Restarted);
    supervisor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn jitter_spreads_delays_within_bounds() {
    let config = Backoff {
        jitter: 0.2,
        ..backoff()
    };
    for consecutive in 2..10u32 {
        let base = backoff().delay(consecutive, 0.5);
        for unit in [0.0, 0.25, 0.5, 0.75, 0.999] {
            let delay = config.delay(consecutive, unit);
            assert!(
                delay >= base.mul_f64(0.8) && delay <= base.mul_f64(1.2),
                "{delay:?} vs {base:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn terminating_a_backing_off_child_cancels_its_retry() {
    let journal = Journal::default();
    let broken = Switch::default();
    let spec = spec(Strategy::OneForOne)
        .child(worker_with("w", &journal, &broken))
        .child(worker("other", &journal));
    let supervisor = Supervisor::spawn("cancel", spec).await.expect("starts");
    let mut events = supervisor.subscribe();
    broken.set(true);
    send(&supervisor, "w", Command::Exit(Exit::Abnormal)).await;
    wait_kind(&mut events, EventKind::BackingOff, "w").await;
    supervisor.terminate_child("w").await.expect("terminates");
    broken.set(false);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(journal.starts("w"), 1, "the cancelled retry never ran");
    assert_eq!(
        supervisor.which_children().await.expect("answers")[0].state,
        ChildState::Stopped
    );
    supervisor.shutdown().await;
}
