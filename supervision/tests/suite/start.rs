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
    let registered =
        ractor::registry::where_is("supervision-test-unique-name").expect("name registered");
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

#[tokio::test(start_paused = true)]
async fn a_factory_that_forgot_to_link_is_linked_by_its_supervisor() {
    let journal = Journal::default();
    let plain = Worker {
        id: "plain".into(),
        journal: journal.clone(),
        refuse_start: Switch::default(),
        panic_on_start: false,
    };
    let plain_spec = ChildSpec::worker("plain", move |_ctx| {
        let plain = plain.clone();
        async move {
            let (actor, _join) = ractor::Actor::spawn(None, plain, ()).await?;
            Ok(actor.into())
        }
    });
    let supervisor = Supervisor::spawn("unlinked", spec(5).child(plain_spec))
        .await
        .expect("starts");
    let mut events = supervisor.subscribe();
    send(&supervisor, "plain", Command::Exit(Exit::Abnormal)).await;
    wait_kind(&mut events, EventKind::Restarted, "plain").await;
    assert_eq!(journal.starts("plain"), 2);
    supervisor.shutdown().await;
    assert_eq!(
        journal.stops("plain"),
        1,
        "the second incarnation was stopped by the supervisor"
    );
}

#[tokio::test(start_paused = true)]
async fn group_members_wait_for_a_child_that_fails_to_start() {
    let journal = Journal::default();
    let broken = Switch::default();
    broken.set(true);
    let backoff = Backoff {
        initial: Duration::from_secs(1),
        jitter: 0.0,
        ..Backoff::default()
    };
    let spec = SupervisorSpec::new(Strategy::OneForAll)
        .with_intensity(Intensity::new(10, Duration::from_secs(60)))
        .with_backoff(backoff)
        .child(worker("a", &journal))
        .child(worker_with("b", &journal, &broken))
        .child(worker("c", &journal));
    let supervisor = Supervisor::spawn("waiting", spec)
        .await
        .expect("starts while b backs off");
    let mut events = supervisor.subscribe();
    let states: Vec<_> = supervisor
        .which_children()
        .await
        .expect("answers")
        .into_iter()
        .map(|c| c.state)
        .collect();
    use gastown_supervision::ChildState::{BackingOff, Restarting, Running};
    assert_eq!(states, [Running, BackingOff, Restarting]);
    assert_eq!(journal.ids("start"), ["a"]);
    broken.set(false);
    wait_kind(&mut events, EventKind::Restarted, "c").await;
    assert_eq!(journal.ids("start"), ["a", "b", "c"]);
    supervisor.shutdown().await;
}
