//! A role's runtime is a cell (`LiveRuntime`) its session factory reads on every start: a real
//! role (supervisor, role actor, session running `/bin/sh` in a PTY) under a real supervision
//! tree with a real ledger actor, whose session is restarted with another runtime, and whose
//! supervisor, restarted after its runtime was taken away or given back, has a session or none
//! to match. No fixed sleeps: every wait polls against a deadline.
//!
//! The registry and the ledger's registered name are global to the process, so this file is one
//! test (its own test binary).

use gastown_actors::ledger::{LEDGER_NAME, LedgerActor, LedgerArgs, LedgerHandle};
use gastown_actors::registry;
use gastown_actors::role::{RoleSpec, TownContext, role_child};
use gastown_actors::session::{SessionMsg, client};
use gastown_beads::LedgerConfig;
use gastown_supervision::{Backoff, ChildSpec, Intensity, Strategy, Supervisor, SupervisorSpec};
use gastown_town::identity::AgentIdentity;
use gastown_town::names;
use gastown_town::runtimes::spec::{HookSupport, InstructionsFile, PromptMode, Runtime};
use ractor::ActorRef;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Generous bound for anything that should happen "soon" on a loaded 2-core machine.
const SOON: Duration = Duration::from_secs(30);

/// Poll `check` until it returns `Some`, or fail naming `what`.
async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(start.elapsed() < SOON, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ledger_config(dir: &Path) -> LedgerConfig {
    let status = std::process::Command::new("git")
        .args(["init", "--quiet"])
        .arg(dir)
        .status()
        .expect("git runs");
    assert!(status.success());
    LedgerConfig {
        repo_path: dir.to_path_buf(),
        index_path: dir.join("ledger.redb"),
        lock_path: dir.join("ledger.lock"),
        prefix: "gt".into(),
        git_ref: "refs/heads/beads".into(),
        commit_delay: Duration::from_millis(200),
        author_name: "t".into(),
        author_email: "t@t".into(),
    }
}

/// An agent that waits at its "prompt" until it is killed: `sleep <seconds>`, told apart by them.
fn sleeper(seconds: u32) -> Runtime {
    Runtime {
        name: format!("sleeper{seconds}"),
        program: "/bin/sh".into(),
        args: vec!["-c".into(), format!("exec sleep {seconds}")],
        env: Vec::new(),
        prompt: PromptMode::Argument,
        ready_marker: None,
        quiet_period: Duration::from_millis(50),
        resume_args: Vec::new(),
        hooks: HookSupport::None,
        instructions_file: InstructionsFile::default(),
    }
}

fn mayor_spec(town: &Path) -> RoleSpec {
    let identity = AgentIdentity::parse("mayor").expect("an address");
    RoleSpec {
        home: names::home(town, &identity),
        identity,
        runtime: Some(sleeper(600)),
        town: TownContext {
            town_root: town.to_path_buf(),
            socket_path: town.join("no.sock"),
            ledger: LedgerHandle::default(),
            mint_token: Arc::new(|_| Ok("token".to_string())),
            sessions: None,
            prepare_home: None,
            check_workspace: None,
            escalate: None,
            blocked: None,
        },
        intensity: Intensity::new(100, Duration::from_secs(60)),
        backoff: Backoff::default(),
        extra_children: Vec::new(),
        stop_timeout: Duration::from_secs(2),
    }
}

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
