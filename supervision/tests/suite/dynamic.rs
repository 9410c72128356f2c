//! Dynamic supervisors (OTP's simple_one_for_one): children added and removed at run time,
//! unique ids, a `max_children` bound, concurrent shutdown; and temporary children under
//! one_for_all and rest_for_one, which are stopped with their group but never restarted.

use std::time::Duration;

use gastown_supervision::{
    Backoff, ChildState, EventKind, Intensity, Restart, Strategy, Supervisor, SupervisorError,
    SupervisorSpec,
};

use crate::common::{Command, Exit, Journal, send, wait_kind, worker};

fn spec(strategy: Strategy) -> SupervisorSpec {
    SupervisorSpec::new(strategy)
        .with_intensity(Intensity::new(10, Duration::from_secs(5)))
        .with_backoff(Backoff::none())
}

#[tokio::test(start_paused = true)]
async fn dynamic_children_are_added_removed_and_bounded() {
    let journal = Journal::default();
    let supervisor = Supervisor::spawn("pool", spec(Strategy::Dynamic).with_max_children(3))
        .await
        .expect("starts");
    for id in ["a", "b", "c"] {
        supervisor
            .start_child(worker(id, &journal))
            .await
            .expect("child starts");
    }
    let full = supervisor
        .start_child(worker("d", &journal))
        .await
        .expect_err("bounded");
    assert!(
        matches!(full, SupervisorError::MaxChildren { max: 3, .. }),
        "{full}"
    );
    assert!(
        full.to_string()
            .contains("terminate one or raise the bound"),
        "{full}"
    );

    supervisor.terminate_child("b").await.expect("b terminates");
    assert_eq!(journal.ids("stop"), ["b"]);
    let ids: Vec<_> = supervisor
        .which_children()
        .await
        .expect("answers")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(
        ids,
        ["a", "c"],
        "a dynamic child is forgotten once terminated"
    );

    let duplicate = supervisor
        .start_child(worker("a", &journal))
        .await
        .expect_err("ids are unique");
    assert!(
        matches!(duplicate, SupervisorError::DuplicateId { .. }),
        "{duplicate}"
    );
    supervisor
        .start_child(worker("d", &journal))
        .await
        .expect("room again");
    let unknown = supervisor.terminate_child("zz").await.expect_err("unknown");
    assert!(
        matches!(unknown, SupervisorError::UnknownChild { .. }),
        "{unknown}"
    );

    supervisor.shutdown().await;
    let mut stopped = journal.ids("stop");
    stopped.sort();
    assert_eq!(
        stopped,
        ["a", "b", "c", "d"],
        "every dynamic child ran post_stop"
    );
    assert!(matches!(
        supervisor.which_children().await,
        Err(SupervisorError::NotRunning { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn dynamic_children_restart_on_their_own() {
    let journal = Journal::default();
    let supervisor = Supervisor::spawn("pool", spec(Strategy::Dynamic))
        .await
        .expect("starts");
    let mut events = supervisor.subscribe();
    for id in ["a", "b"] {
        supervisor
            .start_child(worker(id, &journal).with_restart(Restart::Transient))
            .await
            .expect("starts");
    }
    send(&supervisor, "a", Command::Exit(Exit::Panic)).await;
    wait_kind(&mut events, EventKind::Restarted, "a").await;
    assert_eq!((journal.starts("a"), journal.starts("b")), (2, 1));
    supervisor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn temporary_children_are_not_restarted_by_one_for_all() {
    let journal = Journal::default();
    let spec = spec(Strategy::OneForAll)
        .child(worker("t1", &journal).with_restart(Restart::Temporary))
        .child(worker("p", &journal))
        .child(worker("t2", &journal).with_restart(Restart::Temporary));
    let supervisor = Supervisor::spawn("all", spec).await.expect("starts");
    let mut events = supervisor.subscribe();
    send(&supervisor, "p", Command::Exit(Exit::Abnormal)).await;
    wait_kind(&mut events, EventKind::Restarted, "p").await;
    assert_eq!(
        journal.ids("stop"),
        ["t2", "t1"],
        "stopped in reverse order with the group"
    );
    assert_eq!(journal.ids("start"), ["t1", "p", "t2", "p"]);
    let listing = supervisor.which_children().await.expect("answers");
    assert_eq!(listing.len(), 1);
    assert_eq!(
        (listing[0].id.as_str(), listing[0].state),
        ("p", ChildState::Running)
    );
    supervisor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn temporary_children_are_not_restarted_by_rest_for_one() {
    let journal = Journal::default();
    let spec = spec(Strategy::RestForOne)
        .child(worker("before", &journal).with_restart(Restart::Temporary))
        .child(worker("p", &journal))
        .child(worker("t", &journal).with_restart(Restart::Temporary))
        .child(worker("q", &journal));
    let supervisor = Supervisor::spawn("rest", spec).await.expect("starts");
    let mut events = supervisor.subscribe();
    send(&supervisor, "p", Command::Exit(Exit::Abnormal)).await;
    wait_kind(&mut events, EventKind::Restarted, "q").await;
    assert_eq!(journal.ids("stop"), ["q", "t"]);
    assert_eq!(journal.ids("start"), ["before", "p", "t", "q", "p", "q"]);
    let ids: Vec<_> = supervisor
        .which_children()
        .await
        .expect("answers")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["before", "p", "q"]);
    supervisor.shutdown().await;
}
