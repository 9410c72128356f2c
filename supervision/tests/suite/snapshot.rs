//! Introspection: snapshots of a subtree (nested supervisors included), correct while a child is
//! backing off or waiting for its group, and serializable to JSON with the event stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gastown_supervision::{
    Backoff, ChildKind, ChildSpec, ChildState, EventKind, Intensity, Strategy, Supervisor,
    SupervisorSpec,
};

use crate::common::{Command, Exit, Journal, Switch, Worker, send, wait_kind, worker, worker_with};

#[tokio::test(start_paused = true)]
async fn snapshot_while_restarting_and_backing_off() {
    let journal = Journal::default();
    let broken = Switch::default();
    let backoff = Backoff {
        initial: Duration::from_secs(2),
        jitter: 0.0,
        ..Backoff::default()
    };
    let spec = SupervisorSpec::new(Strategy::RestForOne)
        .with_intensity(Intensity::new(10, Duration::from_secs(60)))
        .with_backoff(backoff)
        .child(worker("a", &journal))
        .child(worker_with("b", &journal, &broken))
        .child(worker("c", &journal));
    let supervisor = Supervisor::spawn("snap", spec).await.expect("starts");
    let mut events = supervisor.subscribe();
    broken.set(true);
    send(&supervisor, "b", Command::Exit(Exit::Abnormal)).await;
    wait_kind(&mut events, EventKind::BackingOff, "b").await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let snapshot = supervisor.snapshot().await.expect("answers");
    let states: Vec<_> = snapshot.children.iter().map(|c| c.state).collect();
    assert_eq!(
        states,
        [
            ChildState::Running,
            ChildState::BackingOff,
            ChildState::Restarting
        ]
    );
    let b = &snapshot.children[1];
    assert_eq!(b.path, "snap/b");
    assert_eq!(b.retry_in_ms, Some(1500));
    assert_eq!(
        (
            b.restarts_in_window,
            b.restarts_total,
            b.consecutive_restarts
        ),
        (2, 2, 2)
    );
    assert_eq!(
        b.last_failure.as_ref().map(|f| f.reason.as_str()),
        Some("b refused to start")
    );
    assert_eq!((b.actor_id.as_ref(), b.uptime_ms), (None, None));
    assert_eq!(snapshot.restarts_in_window, 2);
    assert!(snapshot.children[0].uptime_ms.is_some());

    broken.set(false);
    wait_kind(&mut events, EventKind::Restarted, "c").await;
    let states: Vec<_> = supervisor
        .snapshot()
        .await
        .expect("answers")
        .children
        .iter()
        .map(|c| c.state)
        .collect();
    assert_eq!(states, [ChildState::Running; 3]);
    supervisor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn snapshots_recurse_into_nested_supervisors_and_serialize() {
    let journal = Journal::default();
    let depth = Arc::new(AtomicUsize::new(7));
    let probe_depth = depth.clone();
    let probed = Worker {
        id: "probed".into(),
        journal: journal.clone(),
        refuse_start: Switch::default(),
        panic_on_start: false,
    };
    let probed = ChildSpec::worker("probed", move |ctx| {
        let (probed, depth) = (probed.clone(), probe_depth.clone());
        async move {
            let started = ctx.spawn(probed, ()).await?;
            Ok(started.with_mailbox_probe(Arc::new(move || depth.load(Ordering::SeqCst))))
        }
    });
    let inner = SupervisorSpec::new(Strategy::Dynamic).with_max_children(5);
    let middle = SupervisorSpec::new(Strategy::OneForAll)
        .child(probed)
        .child(ChildSpec::supervisor("inner", inner));
    let root = Supervisor::spawn(
        "town",
        SupervisorSpec::default().child(ChildSpec::supervisor("middle", middle)),
    )
    .await
    .expect("starts");
    let inner = root
        .child_supervisor("middle")
        .await
        .expect("answers")
        .expect("middle runs")
        .child_supervisor("inner")
        .await
        .expect("answers")
        .expect("inner runs");
    assert_eq!(inner.path(), "town/middle/inner");
    inner
        .start_child(worker("leaf", &journal))
        .await
        .expect("leaf starts");

    let snapshot = root.snapshot().await.expect("answers");
    let middle = snapshot.children[0]
        .supervisor
        .as_ref()
        .expect("middle's subtree");
    assert_eq!(snapshot.children[0].kind, ChildKind::Supervisor);
    assert_eq!(middle.strategy, Strategy::OneForAll);
    assert_eq!(middle.children[0].mailbox_depth, Some(7));
    let inner_snapshot = middle.children[1]
        .supervisor
        .as_ref()
        .expect("inner's subtree");
    assert_eq!(inner_snapshot.max_children, Some(5));
    assert_eq!(inner_snapshot.children[0].path, "town/middle/inner/leaf");
    assert!(
        middle.children[0].supervisor.is_none(),
        "workers have no subtree"
    );

    let json = serde_json::to_value(&snapshot).expect("snapshots serialize");
    assert_eq!(json["strategy"], "one_for_one");
    assert_eq!(json["intensity"]["period_ms"], 5000);
    assert_eq!(
        json["children"][0]["supervisor"]["children"][1]["supervisor"]["strategy"],
        "dynamic"
    );
    assert_eq!(json["children"][0]["state"], "running");

    root.shutdown().await;
    assert_eq!(journal.ids("stop"), ["leaf", "probed"]);
}

#[tokio::test(start_paused = true)]
async fn events_carry_supervisor_context_reason_and_child_and_serialize() {
    let journal = Journal::default();
    let supervisor =
        Supervisor::spawn("ev", SupervisorSpec::default().child(worker("w", &journal)))
            .await
            .expect("starts");
    let mut events = supervisor.subscribe();
    send(&supervisor, "w", Command::Exit(Exit::Abnormal)).await;
    let exited = wait_kind(&mut events, EventKind::Exited, "w").await;
    let json = serde_json::to_value(&exited).expect("events serialize");
    assert_eq!(json["supervisor"], "ev");
    assert_eq!(json["child"], "w");
    assert_eq!(json["kind"], "exited");
    assert_eq!(json["context"], "child_terminated");
    assert_eq!(json["exit"], "abnormal");
    assert_eq!(json["reason"], "w crashed");
    assert!(json["at"].as_str().is_some_and(|at| at.ends_with('Z')));
    let restarted = wait_kind(&mut events, EventKind::Restarted, "w").await;
    assert_eq!(
        serde_json::to_value(&restarted).expect("serializes")["context"],
        "progress"
    );
    supervisor.shutdown().await;
}
