//! A role's runtime is a cell (`LiveRuntime`) its session factory reads on every start: a real
//! role (supervisor, role actor, session running `/bin/sh` in a PTY) under a real supervision
//! tree with a real ledger actor, whose session is restarted with another runtime, and whose
//! supervisor, restarted after its runtime was taken away or given back, has a session or none
//! to match. No fixed sleeps: every wait polls against a deadline.
//!
//! The registry and the ledger's registered name are global to the process, so this file is one
//! test (its own test binary).

use gastown_actors::ledger::{LEDGER_NAME, LedgerActor, LedgerArgs};
use gastown_actors::registry;
use gastown_actors::role::role_child;
use gastown_actors::session::{SessionMsg, client};
use gastown_supervision::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
use gastown_town::identity::AgentIdentity;
use gastown_town::names;
use ractor::ActorRef;

mod common;
use common::{ledger_config, mayor_spec, sleeper, wait_for};

/// The session registered for `who` now, with its agent's pid, once one runs.
async fn registered_session(who: &AgentIdentity) -> (ActorRef<SessionMsg>, u32) {
    wait_for("a registered session", async || {
        let session = registry::session(who)?;
        let pid = client::snapshot(&session).await.ok()?.pid;
        Some((session, pid))
    })
    .await
}

/// The command line of process `pid`.
fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// The ids of the role supervisor's children, in order.
async fn children(role: &gastown_supervision::SupervisorRef) -> Vec<String> {
    role.which_children()
        .await
        .expect("the role answers")
        .into_iter()
        .map(|c| c.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roles_next_session_runs_what_its_live_runtime_holds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let town = dir.path();
    let ledger = ledger_config(town);
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(
            ChildSpec::actor("ledger", LedgerActor, move || LedgerArgs {
                config: ledger.clone(),
                changes: None,
            })
            .with_name(LEDGER_NAME),
        )
        .child(role_child(mayor_spec(town)));
    let root = Supervisor::spawn(names::TOWN, spec)
        .await
        .expect("the tree");
    let mayor = AgentIdentity::parse("mayor").expect("an address");
    let (_, first) = registered_session(&mayor).await;
    assert!(cmdline(first).contains("sleep 600"), "{}", cmdline(first));

    // Another runtime, then the session restarted through its role: it runs the new one.
    let live = registry::live_runtime(&mayor)
        .await
        .expect("the role actor hands out its cell");
    live.set(Some(sleeper(700)));
    let role = registry::role(&mayor).await.expect("the role runs");
    role.restart_child("session").await.expect("restarted");
    // The new session's process shows its command line once it has exec'd.
    let (_, second) = wait_for("the session with the new runtime", async || {
        let (session, pid) = registered_session(&mayor).await;
        (pid != first && cmdline(pid).contains("sleep 700")).then_some((session, pid))
    })
    .await;
    assert!(cmdline(second).contains("sleep 700"), "{}", cmdline(second));
    let info = registry::role_info(&mayor).await.flatten().expect("info");
    assert_eq!(info.runtime.as_deref(), Some("sleeper700"));

    // No runtime: the session stopped and forgotten; a restart of the whole role keeps it so.
    live.set(None);
    role.terminate_child("session").await.expect("stopped");
    role.delete_child("session").await.expect("forgotten");
    root.restart_child("mayor")
        .await
        .expect("the role restarted");
    let role = wait_for("the role again", async || registry::role(&mayor).await).await;
    assert_eq!(
        children(&role).await,
        ["agent"],
        "no session without a runtime"
    );
    let info = registry::role_info(&mayor).await.flatten().expect("info");
    assert_eq!(info.runtime, None);

    // A runtime given back: the restarted role starts with a session running it.
    live.set(Some(sleeper(800)));
    root.restart_child("mayor")
        .await
        .expect("the role restarted");
    wait_for("the session running the given-back runtime", async || {
        let (_, pid) = registered_session(&mayor).await;
        cmdline(pid).contains("sleep 800").then_some(pid)
    })
    .await;
    let role = registry::role(&mayor).await.expect("the role runs");
    assert_eq!(children(&role).await, ["agent", "session"]);
    root.shutdown().await;
}
