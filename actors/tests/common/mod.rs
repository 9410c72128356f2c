//! What the actor tests that run a real role share: a polling wait against a deadline, a
//! ledger in a fresh git repository, an agent that only sleeps, and the mayor's role spec.

#![allow(dead_code)] // Each test binary uses its own part.

use gastown_actors::ledger::LedgerHandle;
use gastown_actors::role::{RoleSpec, TownContext};
use gastown_beads::LedgerConfig;
use gastown_supervision::{Backoff, Intensity};
use gastown_town::identity::AgentIdentity;
use gastown_town::names;
use gastown_town::runtimes::spec::{HookSupport, InstructionsFile, PromptMode, Runtime};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Generous bound for anything that should happen "soon" on a loaded 2-core machine.
pub const SOON: Duration = Duration::from_secs(30);

/// Poll `check` until it returns `Some`, or fail naming `what`.
pub async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(start.elapsed() < SOON, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn ledger_config(dir: &Path) -> LedgerConfig {
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
pub fn sleeper(seconds: u32) -> Runtime {
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
        accounts: Vec::new(),
        account: None,
    }
}

pub fn mayor_spec(town: &Path) -> RoleSpec {
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
            choose_account: None,
            limited: None,
        },
        intensity: Intensity::new(100, Duration::from_secs(60)),
        backoff: Backoff::default(),
        extra_children: Vec::new(),
        stop_timeout: Duration::from_secs(2),
    }
}
