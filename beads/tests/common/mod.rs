//! A throw-away town for the ledger's tests: a real git repository in a temp dir, the ledger's
//! config in it (index and lock under `.runtime/`, commits held for an hour unless a test asks),
//! and the ledger opened on it.

use gastown_beads::{Ledger, LedgerConfig};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A fresh git repository (branch `main`) in a temp dir, removed when dropped.
pub fn town() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new("git")
        .arg("-C")
        .arg(dir.path())
        .args(["init", "-q", "-b", "main"])
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// The ledger's config for `town`: prefix `gt`, commits only when a test asks.
pub fn config(town: &Path) -> LedgerConfig {
    LedgerConfig {
        repo_path: town.to_path_buf(),
        index_path: town.join(".runtime/ledger.redb"),
        lock_path: town.join(".runtime/ledger.lock"),
        prefix: "gt".to_string(),
        git_ref: "refs/heads/beads".to_string(),
        commit_delay: Duration::from_secs(3600),
        author_name: "test".to_string(),
        author_email: "test@localhost".to_string(),
    }
}

/// The ledger of `town`, opened with [`config`].
pub fn open(town: &Path) -> Ledger {
    Ledger::open(config(town)).expect("ledger opens")
}

/// Run git in `dir`; its stdout (it must succeed).
#[allow(dead_code)] // not every test binary runs git
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("git prints UTF-8")
}

/// Run this test binary's test `test` again in a child process with `env` (which tells the child
/// what to do and, with `GASTOWN_LEDGER_FAULT`, where to kill itself), and assert it was killed
/// by SIGKILL at that point; returns what it printed.
#[allow(dead_code)] // only the crash tests run children
pub fn killed_child(test: &str, env: &[(&str, &std::ffi::OsStr)]) -> String {
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(std::env::current_exe().expect("test binary"));
    child
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .stdin(std::process::Stdio::null());
    for (key, value) in env {
        child.env(key, value);
    }
    let out = child.output().expect("run the child");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.status.signal(),
        Some(9),
        "the child was killed at its fault point: {printed}"
    );
    printed
}
