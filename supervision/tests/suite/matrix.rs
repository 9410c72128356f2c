//! The restart matrix, after OTP's `supervisor_SUITE`: every strategy × every restart type × a
//! normal, shutdown, abnormal (Err) and panicking exit of the middle child `b` of `a, b, c`
//! (`a` and `c` permanent), through one `check`.

use gastown_supervision::{
    Backoff, ChildSpec, ChildState, EventKind, ExitKind, Intensity, Restart, Strategy, Supervisor,
    SupervisorSpec,
};
use std::time::Duration;

use crate::common::{Command, Exit, Journal, send, wait_kind, worker};

use Exit::{Abnormal, Normal, Panic, Shutdown};
use Restart::{Permanent, Temporary, Transient};
use Strategy::{Dynamic, OneForAll, OneForOne, RestForOne};

/// What `b`'s supervisor looks like after `b` exited: starts of a, b, c and `b`'s listing.
type Expected = ([usize; 3], Option<ChildState>);

const RESTARTED_ALONE: Expected = ([1, 2, 1], Some(ChildState::Running));
const RESTARTED_ALL: Expected = ([2, 2, 2], Some(ChildState::Running));
const RESTARTED_REST: Expected = ([1, 2, 2], Some(ChildState::Running));
const KEPT_STOPPED: Expected = ([1, 1, 1], Some(ChildState::Stopped));
const FORGOTTEN: Expected = ([1, 1, 1], None);

#[rustfmt::skip]
const MATRIX: &[(Strategy, Restart, Exit, Expected)] = &[
    (OneForOne,  Permanent, Normal,   RESTARTED_ALONE),
    (OneForOne,  Permanent, Shutdown, RESTARTED_ALONE),
    (OneForOne,  Permanent, Abnormal, RESTARTED_ALONE),
    (OneForOne,  Permanent, Panic,    RESTARTED_ALONE),
    (OneForOne,  Transient, Normal,   KEPT_STOPPED),
    (OneForOne,  Transient, Shutdown, KEPT_STOPPED),
    (OneForOne,  Transient, Abnormal, RESTARTED_ALONE),
    (OneForOne,  Transient, Panic,    RESTARTED_ALONE),
    (OneForOne,  Temporary, Normal,   FORGOTTEN),
    (OneForOne,  Temporary, Shutdown, FORGOTTEN),
    (OneForOne,  Temporary, Abnormal, FORGOTTEN),
    (OneForOne,  Temporary, Panic,    FORGOTTEN),
    (OneForAll,  Permanent, Normal,   RESTARTED_ALL),
    (OneForAll,  Permanent, Shutdown, RESTARTED_ALL),
    (OneForAll,  Permanent, Abnormal, RESTARTED_ALL),
    (OneForAll,  Permanent, Panic,    RESTARTED_ALL),
    (OneForAll,  Transient, Normal,   KEPT_STOPPED),
    (OneForAll,  Transient, Shutdown, KEPT_STOPPED),
    (OneForAll,  Transient, Abnormal, RESTARTED_ALL),
    (OneForAll,  Transient, Panic,    RESTARTED_ALL),
    (OneForAll,  Temporary, Normal,   FORGOTTEN),
    (OneForAll,  Temporary, Shutdown, FORGOTTEN),
    (OneForAll,  Temporary, Abnormal, FORGOTTEN),
    (OneForAll,  Temporary, Panic,    FORGOTTEN),
    (RestForOne, Permanent, Normal,   RESTARTED_REST),
    (RestForOne, Permanent, Shutdown, RESTARTED_REST),
    (RestForOne, Permanent, Abnormal, RESTARTED_REST),
    (RestForOne, Permanent, Panic,    RESTARTED_REST),
    (RestForOne, Transient, Normal,   KEPT_STOPPED),
    (RestForOne, Transient, Shutdown, KEPT_STOPPED),
    (RestForOne, Transient, Abnormal, RESTARTED_REST),
    (RestForOne, Transient, Panic,    RESTARTED_REST),
    (RestForOne, Temporary, Normal,   FORGOTTEN),
    (RestForOne, Temporary, Shutdown, FORGOTTEN),
    (RestForOne, Temporary, Abnormal, FORGOTTEN),
    (RestForOne, Temporary, Panic,    FORGOTTEN),
    (Dynamic,    Permanent, Normal,   RESTARTED_ALONE),
    (Dynamic,    Permanent, Shutdown, RESTARTED_ALONE),
    (Dynamic,    Permanent, Abnormal, RESTARTED_ALONE),
    (Dynamic,    Permanent, Panic,    RESTARTED_ALONE),
    (Dynamic,    Transient, Normal,   FORGOTTEN),
    (Dynamic,    Transient, Shutdown, FORGOTTEN),
    (Dynamic,    Transient, Abnormal, RESTARTED_ALONE),
    (Dynamic,    Transient, Panic,    RESTARTED_ALONE),
    (Dynamic,    Temporary, Normal,   FORGOTTEN),
    (Dynamic,    Temporary, Shutdown, FORGOTTEN),
    (Dynamic,    Temporary, Abnormal, FORGOTTEN),
    (Dynamic,    Temporary, Panic,    FORGOTTEN),
];

/// The exit class a supervisor must report for each way of ending.
fn exit_kind(exit: Exit) -> ExitKind {
    match exit {
        Normal => ExitKind::Normal,
        Shutdown => ExitKind::Shutdown,
        Abnormal | Panic => ExitKind::Abnormal,
    }
}

/// Runs one row: builds `a, b, c` under `strategy` (dynamic: added with start_child), ends `b`
/// as `exit`, and compares starts, `b`'s listing and the reported exit class with `expected`.
async fn check(strategy: Strategy, restart: Restart, exit: Exit, expected: Expected) {
    let row = format!("{strategy:?} × {restart:?} × {exit:?}");
    let journal = Journal::default();
    let children = vec![
        worker("a", &journal),
        worker("b", &journal).with_restart(restart),
        worker("c", &journal),
    ];
    let spec = SupervisorSpec::new(strategy)
        .with_intensity(Intensity::new(10, Duration::from_secs(5)))
        .with_backoff(Backoff::none());
    let supervisor = start(strategy, spec, children).await;
    let mut events = supervisor.subscribe();

    send(&supervisor, "b", Command::Exit(exit)).await;
    let exited = wait_kind(&mut events, EventKind::Exited, "b").await;
    assert_eq!(exited.exit, Some(exit_kind(exit)), "{row}: exit class");
    // The exit is handled in one go; a call queued behind it sees the result.
    let listing = supervisor
        .which_children()
        .await
        .expect("supervisor answers");

    let (starts, b_state) = expected;
    let actual = [
        journal.starts("a"),
        journal.starts("b"),
        journal.starts("c"),
    ];
    assert_eq!(actual, starts, "{row}: starts of a, b, c");
    let b = listing
        .iter()
        .find(|child| child.id == "b")
        .map(|child| child.state);
    assert_eq!(b, b_state, "{row}: b's listing");
    let others: Vec<_> = listing
        .iter()
        .filter(|child| child.id != "b")
        .map(|child| child.state)
        .collect();
    assert_eq!(
        others,
        [ChildState::Running, ChildState::Running],
        "{row}: a and c run"
    );
    supervisor.shutdown().await;
    assert_eq!(
        journal.stops("a"),
        starts[0],
        "{row}: every incarnation of a ran post_stop"
    );
    assert_eq!(
        journal.stops("c"),
        starts[2],
        "{row}: every incarnation of c ran post_stop"
    );
}

/// A supervisor over `children`, static or (for dynamic) added one by one.
async fn start(
    strategy: Strategy,
    spec: SupervisorSpec,
    children: Vec<ChildSpec>,
) -> gastown_supervision::SupervisorRef {
    if strategy != Dynamic {
        let spec = children.into_iter().fold(spec, SupervisorSpec::child);
        return Supervisor::spawn("matrix", spec)
            .await
            .expect("supervisor starts");
    }
    let supervisor = Supervisor::spawn("matrix", spec)
        .await
        .expect("supervisor starts");
    for child in children {
        supervisor
            .start_child(child)
            .await
            .expect("dynamic child starts");
    }
    supervisor
}

#[tokio::test(start_paused = true)]
async fn every_strategy_restart_type_and_exit() {
    assert_eq!(MATRIX.len(), 4 * 3 * 4);
    for &(strategy, restart, exit, expected) in MATRIX {
        check(strategy, restart, exit, expected).await;
    }
}

/// Runs one stop reason through a transient child `t` and checks the exit class it is given.
async fn check_stop_reason(reason: Option<&str>, expected: ExitKind) {
    let journal = Journal::default();
    let spec = SupervisorSpec::new(OneForOne)
        .with_backoff(Backoff::none())
        .child(worker("t", &journal).with_restart(Transient));
    let supervisor = Supervisor::spawn("reasons", spec).await.expect("starts");
    let mut events = supervisor.subscribe();
    send(
        &supervisor,
        "t",
        Command::StopWith(reason.map(str::to_string)),
    )
    .await;
    let exited = wait_kind(&mut events, EventKind::Exited, "t").await;
    assert_eq!(exited.exit, Some(expected), "reason {reason:?}");
    supervisor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn stop_reasons_map_to_otp_exit_classes() {
    check_stop_reason(None, ExitKind::Normal).await;
    check_stop_reason(Some("done"), ExitKind::Normal).await;
    check_stop_reason(Some("shutdown"), ExitKind::Shutdown).await;
    check_stop_reason(Some("shutdown: bye"), ExitKind::Shutdown).await;
    check_stop_reason(Some("shutdownish"), ExitKind::Normal).await;
}

#[tokio::test(start_paused = true)]
async fn a_killed_child_exited_abnormally() {
    let journal = Journal::default();
    let spec = SupervisorSpec::new(OneForOne)
        .with_backoff(Backoff::none())
        .child(worker("t", &journal).with_restart(Transient));
    let supervisor = Supervisor::spawn("killed", spec).await.expect("starts");
    let mut events = supervisor.subscribe();
    supervisor
        .child("t")
        .await
        .expect("answers")
        .expect("runs")
        .kill();
    let exited = wait_kind(&mut events, EventKind::Exited, "t").await;
    assert_eq!(
        (exited.exit, exited.reason.as_str()),
        (Some(ExitKind::Abnormal), "killed")
    );
    wait_kind(&mut events, EventKind::Restarted, "t").await;
    supervisor.shutdown().await;
}
