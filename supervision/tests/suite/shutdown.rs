//! Ordered shutdown: children stop in reverse start order (nested supervisors first stop their
//! own), each with its shutdown; a child that ignores the stop is killed after its timeout and
//! does not hang its supervisor.

use std::time::Duration;

use gastown_supervision::{
    ChildSpec, Context, EventKind, Shutdown, Strategy, Supervisor, SupervisorSpec,
};
use tokio::time::Instant;

use crate::common::{Command, Journal, send, wait_kind, worker};

#[tokio::test(start_paused = true)]
async fn children_stop_in_reverse_start_order_and_all_post_stops_run() {
    let journal = Journal::default();
    let nested = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker("x", &journal))
        .child(worker("y", &journal));
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker("a", &journal))
        .child(ChildSpec::supervisor("nested", nested))
        .child(worker("b", &journal));
    let root = Supervisor::spawn("ordered", spec).await.expect("starts");
    assert_eq!(journal.ids("start"), ["a", "x", "y", "b"]);
    root.shutdown().await;
    assert_eq!(journal.ids("stop"), ["b", "y", "x", "a"]);
    assert!(!root.is_running());
}

#[tokio::test(start_paused = true)]
async fn a_child_that_ignores_shutdown_is_killed_after_its_timeout() {
    let journal = Journal::default();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker("first", &journal))
        .child(
            worker("stubborn", &journal).with_shutdown(Shutdown::Timeout(Duration::from_secs(2))),
        )
        .child(worker("last", &journal));
    let root = Supervisor::spawn("stubborn", spec).await.expect("starts");
    let mut events = root.subscribe();
    send(&root, "stubborn", Command::Hang).await;
    let before = Instant::now();
    root.shutdown().await;
    let took = before.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(3),
        "shutdown took {took:?}"
    );
    let killed = wait_kind(&mut events, EventKind::ShutdownKilled, "stubborn").await;
    assert_eq!(killed.context, Context::ShutdownError);
    assert!(
        killed.reason.contains("did not stop within 2s"),
        "{}",
        killed.reason
    );
    // The killed child's post_stop does not run; its siblings' do, in reverse order.
    assert_eq!(journal.ids("stop"), ["last", "first"]);
}

#[tokio::test(start_paused = true)]
async fn brutal_kill_skips_post_stop_and_infinity_waits() {
    let journal = Journal::default();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker("patient", &journal).with_shutdown(Shutdown::Infinity))
        .child(worker("brutal", &journal).with_shutdown(Shutdown::BrutalKill));
    let root = Supervisor::spawn("kinds", spec).await.expect("starts");
    root.shutdown().await;
    assert_eq!(journal.ids("stop"), ["patient"]);
}

#[tokio::test(start_paused = true)]
async fn terminate_child_stops_only_that_child_and_it_is_not_restarted() {
    let journal = Journal::default();
    let spec = SupervisorSpec::new(Strategy::OneForAll)
        .child(worker("a", &journal))
        .child(worker("b", &journal));
    let root = Supervisor::spawn("terminate", spec).await.expect("starts");
    root.terminate_child("a").await.expect("a terminates");
    assert_eq!(journal.ids("stop"), ["a"]);
    let states: Vec<_> = root
        .which_children()
        .await
        .expect("answers")
        .into_iter()
        .map(|c| c.state)
        .collect();
    use gastown_supervision::ChildState::{Running, Stopped};
    assert_eq!(states, [Stopped, Running]);
    root.restart_child("a").await.expect("a restarts");
    assert_eq!(journal.starts("a"), 2);
    root.shutdown().await;
}
