//! Restart intensity: too many restarts within the period make a supervisor stop its children in
//! reverse order and fail to its parent, which counts that as a restart of its own — escalation
//! through a three-level tree up to a root that gives up.

use std::time::Duration;

use gastown_supervision::{
    Backoff, ChildSpec, Context, EventKind, Intensity, Strategy, Supervisor, SupervisorSpec,
    defaults,
};

use crate::common::{Command, Exit, Journal, send, wait_for, wait_kind, worker};

/// A one_for_one spec with no backoff and `max_restarts` in 5 s.
fn spec(max_restarts: u32) -> SupervisorSpec {
    SupervisorSpec::new(Strategy::OneForOne)
        .with_intensity(Intensity::new(max_restarts, Duration::from_secs(5)))
        .with_backoff(Backoff::none())
}

#[tokio::test(start_paused = true)]
async fn restarts_beyond_the_intensity_escalate_through_three_levels() {
    let journal = Journal::default();
    // root (0 restarts allowed) → mid (1 allowed: s, low) → low (0 allowed: w, v).
    let low = spec(0)
        .child(worker("w", &journal))
        .child(worker("v", &journal));
    let mid = spec(1)
        .child(worker("s", &journal))
        .child(ChildSpec::supervisor("low", low));
    let root_spec = spec(0).child(ChildSpec::supervisor("mid", mid));
    let root = Supervisor::spawn("root", root_spec)
        .await
        .expect("root starts");
    let mut events = root.subscribe();
    let mid = root
        .child_supervisor("mid")
        .await
        .expect("root answers")
        .expect("mid runs");
    let low = mid
        .child_supervisor("low")
        .await
        .expect("mid answers")
        .expect("low runs");

    // First crash: low gives up; mid restarts low (1 restart, allowed).
    send(&low, "w", Command::Exit(Exit::Abnormal)).await;
    let gave_up = wait_kind(&mut events, EventKind::GaveUp, "w").await;
    assert_eq!(gave_up.supervisor, "root/mid/low");
    assert_eq!(gave_up.context, Context::ReachedMaxRestartIntensity);
    assert!(
        gave_up.reason.contains("reached_max_restart_intensity"),
        "{}",
        gave_up.reason
    );
    assert!(gave_up.reason.contains("w crashed"), "{}", gave_up.reason);
    let exited = wait_kind(&mut events, EventKind::Exited, "low").await;
    assert!(
        exited.reason.contains("reached_max_restart_intensity"),
        "{}",
        exited.reason
    );
    let restarted = wait_kind(&mut events, EventKind::Restarted, "low").await;
    assert_eq!(restarted.supervisor, "root/mid");
    assert_eq!(journal.starts("w"), 2);
    assert_eq!(
        journal.starts("s"),
        1,
        "one_for_one: the sibling is untouched"
    );

    // Second crash within 5 s: low gives up, mid exceeds 1 restart and gives up, root exceeds 0.
    let low = mid
        .child_supervisor("low")
        .await
        .expect("mid answers")
        .expect("low runs again");
    send(&low, "w", Command::Exit(Exit::Abnormal)).await;
    let mid_gave_up = wait_for(&mut events, |e| {
        e.kind == EventKind::GaveUp && e.supervisor == "root/mid"
    })
    .await;
    assert_eq!(mid_gave_up.child, "low");
    let root_gave_up = wait_for(&mut events, |e| {
        e.kind == EventKind::GaveUp && e.supervisor == "root"
    })
    .await;
    assert_eq!(root_gave_up.child, "mid");
    root.wait().await;
    assert!(!root.is_running());
    // Giving up stops the survivors: v each time low gave up, s when mid did. The crashed w
    // never runs post_stop (ractor skips it after an Err).
    assert_eq!(journal.stops("v"), 2);
    assert_eq!(journal.stops("s"), 1);
    assert_eq!(journal.stops("w"), 0);
    assert_eq!(journal.ids("stop"), ["v", "v", "s"]);
}

#[tokio::test(start_paused = true)]
async fn restarts_outside_the_period_do_not_accumulate() {
    let journal = Journal::default();
    let supervisor = Supervisor::spawn("sliding", spec(1).child(worker("w", &journal)))
        .await
        .expect("starts");
    let mut events = supervisor.subscribe();
    for round in 1..=4 {
        send(&supervisor, "w", Command::Exit(Exit::Abnormal)).await;
        wait_kind(&mut events, EventKind::Restarted, "w").await;
        assert_eq!(journal.starts("w"), round + 1);
        // 1 restart in 5 s is allowed; waiting 6 s lets the window forget it.
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    let snapshot = supervisor.snapshot().await.expect("answers");
    assert_eq!(snapshot.restarts_in_window, 0);
    assert_eq!(snapshot.children[0].restarts_total, 4);
    supervisor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn default_intensity_is_three_in_five_seconds() {
    let spec = SupervisorSpec::default();
    assert_eq!(
        spec.intensity,
        Intensity::new(defaults::MAX_RESTARTS, defaults::PERIOD)
    );
    assert_eq!(spec.intensity, Intensity::parse(3, "5s").expect("parses"));
    assert!(Intensity::parse(3, "five seconds").is_err());
}
