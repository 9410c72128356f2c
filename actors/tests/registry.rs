//! Roles register by address: a real role (supervisor, role actor, session running `/bin/sh` in
//! a PTY) under a real supervision tree with a real ledger actor, found through
//! `gastown_actors::registry` — and found again after real restarts (its agent process
//! SIGKILLed, its role actor killed), and gone once the role is stopped. No fixed sleeps: every
//! wait polls against a deadline.
//!
//! The registry and the ledger's registered name are global to the process, so this file is one
//! test (its own test binary).

use gastown_actors::ledger::{LEDGER_NAME, LedgerActor, LedgerArgs};
use gastown_actors::registry;
use gastown_actors::role::{RoleMsg, role_child};
use gastown_actors::session::{SessionMsg, client};
use gastown_supervision::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
use gastown_town::identity::AgentIdentity;
use gastown_town::names::{self, Registered};
use ractor::ActorRef;

mod common;
use common::{ledger_config, mayor_spec, wait_for};

/// The session registered for `who` now, with its agent's pid, once one runs.
async fn registered_session(who: &AgentIdentity) -> (ActorRef<SessionMsg>, u32) {
    wait_for("a registered session", async || {
        let session = registry::session(who)?;
        let pid = client::snapshot(&session).await.ok()?.pid;
        Some((session, pid))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_registers_by_address_again_after_each_restart_and_is_gone_once_stopped() {
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

    // Up: each part under its own name, the role at its plain tree path.
    let (session, pid) = registered_session(&mayor).await;
    let agent = registry::role_actor(&mayor).expect("the role actor is registered");
    let role = registry::role(&mayor)
        .await
        .expect("the role is registered");
    assert_eq!(role.path(), names::tree_path(&mayor));
    assert_eq!(role.path(), "town/mayor");
    let running: Vec<String> = registry::running_sessions()
        .into_iter()
        .map(|(who, _)| who.address)
        .collect();
    assert_eq!(running, ["mayor"]);
    let info = registry::role_info(&mayor).await.expect("running");
    assert_eq!(info.and_then(|i| i.runtime).as_deref(), Some("sleeper600"));

    // The agent process dies: a new session registers under the same name; the role actor
    // (before it in `rest_for_one`) is untouched.
    // SAFETY: killing the process group this test's session started.
    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    let (restarted, new_pid) = wait_for("a new session under the same name", async || {
        let found = registry::session(&mayor)?;
        if found.get_id() == session.get_id() {
            return None;
        }
        let pid = client::snapshot(&found).await.ok()?.pid;
        Some((found, pid))
    })
    .await;
    assert_ne!(new_pid, pid);
    let still = registry::role_actor(&mayor).map(|a| a.get_id());
    assert_eq!(
        still,
        Some(agent.get_id()),
        "the role actor was not restarted"
    );

    // The role actor is killed: it and the session after it start again, and register again.
    agent.kill();
    let new_agent = wait_for("a new role actor under the same name", async || {
        let found = registry::role_actor(&mayor)?;
        (found.get_id() != agent.get_id()).then_some(found)
    })
    .await;
    wait_for("a session started after the new role actor", async || {
        let found = registry::session(&mayor)?;
        (found.get_id() != restarted.get_id()).then_some(())
    })
    .await;
    new_agent
        .send_message(RoleMsg::Heartbeat)
        .expect("the new role actor takes messages");
    let heartbeats = wait_for("the heartbeat counted", async || {
        let info = registry::role_info(&mayor).await??;
        (info.heartbeats > 0).then_some(info.heartbeats)
    })
    .await;
    assert_eq!(heartbeats, 1);

    // Stopped: every name is gone the moment the stop returns.
    root.terminate_child("mayor").await.expect("the role stops");
    assert!(registry::role_actor(&mayor).is_none());
    assert!(registry::session(&mayor).is_none());
    assert!(registry::role(&mayor).await.is_none());
    assert!(registry::running_sessions().is_empty());
    for part in Registered::ALL {
        let name = names::registered_name(part, &mayor);
        assert!(ractor::registry::where_is(name.clone()).is_none(), "{name}");
    }

    // Started again, it takes its names again.
    root.restart_child("mayor")
        .await
        .expect("the role starts again");
    registered_session(&mayor).await;
    assert!(registry::role(&mayor).await.is_some());
    root.shutdown().await;
    assert!(registry::role_actor(&mayor).is_none());
}
