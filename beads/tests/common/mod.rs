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
