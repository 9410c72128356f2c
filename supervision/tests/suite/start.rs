//! Start failures: a child whose `pre_start` fails (or panics) is a failed child, counted as a
//! restart against the intensity; names are never raced by a restart.

use std::time::Duration;

use gastown_supervision::{
    Backoff, ChildSpec, Context, EventKind, Intensity, Restart, Strategy, Supervisor,
    SupervisorError, SupervisorSpec,
};

use crate::common::{Command, Exit, Journal, Switch, Worker, send, wait_kind, worker, worker_with};

/// A one_for_one spec with no backoff and `max_restarts` in 5 s.
fn spec(max_restarts: u32) -> SupervisorSpec {
    SupervisorSpec::new(Strategy::OneForOne)
        .with_intensity(Intensity::new(max_restarts, Duration::from_secs(5)))
        .with_backoff(Backoff::none())
}

#[tokio::test(start_paused = true)]
async fn a_child_that_never_starts_makes_its_supervisor_give_up() {
    let journal = Journal::default();
    let broken = Switch::default();
    broken.set(true);
    let (events, mut rx) = tokio::sync::broadcast::channel(64);
    let spec = spec(2)
        .child(worker("ok", &journal))
        .child(worker_with("broken", &journal, &broken));
    let error = match Supervisor::spawn_with_events("doomed", spec, events).await {
        Ok(_) => panic!("a supervisor whose child never starts must not start"),
        Err(error) => error,
    };
    assert!(matches!(error, SupervisorError::Spawn { .. }));
    assert!(
        error.to_string().contains("reached_max_restart_intensity"),
        "{error}"
    );
    // Three attempts: the start and two restarts; the third restart is one too many.
    for _ in 0..3 {
        let failed = wait_kind(&mut rx, EventKind::StartFailed, "broken").await;
        assert_eq!(failed.context, Context::StartError);
        assert_eq!(failed.reason, "broken refused to start");
    }
    wait_kind(&mut rx, EventKind::GaveUp, "broken").await;
    assert_eq!(
        journal.ids("stop"),
        ["ok"],
        "the started sibling was stopped before failing"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_pre_start_is_a_start_failure() {
    let journal = Journal::default();
    let refuse = Switch::default();
    refuse.set(true);
    let worker = Worker {
        id: "p".into(),
        journal: journal.clone(),
        refuse_start: refuse,
        panic_on_start: true,
    };
    let supervisor = Supervisor::spawn("panics", spec(5)).await.expect("starts");
    let mut events = supervisor.subscribe();
    let error = supervisor
        .start_child(ChildSpec::actor("p", worker, || ()))
        .await
        .expect_err("p cannot start");
    assert!(
        error.to_string().contains("p panicked while starting"),
        "{error}"
    );
    let failed = wait_kind(&mut events, EventKind::StartFailed, "p").await;
    assert_eq!(failed.context, Context::StartError);
    assert!(
        supervisor
            .which_children()
            .await
            .expect("answers")
            .is_empty(),
        "a child that never started is not kept"
    );
    supervisor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_restart_never_races_its_predecessors_name() {
    let journal = Journal::default();
    let named = worker("named", &journal).with_name("supervision-test-unique-name");
    let supervisor = Supervisor::spawn("names", spec(100).child(named))
        .await
        .expect("starts");
    let mut events = supervisor.subscribe();
    for exit in [
        Exit::Abnormal,
        Exit::Normal,
        Exit::Panic,
        Exit::Shutdown,
        Exit::Abnormal,
    ] {
        send(&supervisor, "named", Command::Exit(exit)).await;
        wait_kind(&mut events, EventKind::Restarted, "named").await;
    }
    assert_eq!(journal.starts("named"), 6);
    let registered = ractor::registry::where_is("supervision-test-unique-name")
        .expect("name registered");
    let current = supervisor
        .child("named")
        .await
        .expect("answers")
        .expect("runs");
    assert_eq!(registered.get_id(), current.get_id());
    supervisor.shutdown().await;
    assert!(ractor::registry::where_is("supervision-test-unique-name").is_none());
}

#[tokio::test(start_paused = true)]
async fn transient_children_that_end_normally_can_be_restarted_by_hand() {
    let journal = Journal::default();
    let spec = spec(5).child(worker("t", &journal).with_restart(Restart::Transient));
    let supervisor = Supervisor::spawn("by-hand", spec).await.expect("starts");
    let mut events = supervisor.subscribe();
    send(&supervisor, "t", Command::Exit(Exit::Normal)).await;
    wait_kind(&mut events, EventKind::Exited, "t").await;
    assert!(supervisor.child("t").await.expect("answers").is_none());
    supervisor.restart_child("t").await.expect("restarts");
    assert_eq!(journal.starts("t"), 2);
    assert!(matches!(
        supervisor.delete_child("t").await,
        Err(SupervisorError::StillRunning { .. })
    ));
    supervisor.terminate_child("t").await.expect("terminates");
    supervisor.delete_child("t").await.expect("deletes");
    assert!(matches!(
        supervisor.restart_child("t").await,
        Err(SupervisorError::UnknownChild { .. })
    ));
    supervisor.shutdown().await;
}
