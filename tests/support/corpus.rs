//! Where the interop corpus is, for the tests that read it (one copy, included by path from
//! `beads/tests`, `formula/tests` and `tests/integration`).
//!
//! - `GASTOWN_CORPUS` set: its directory (relative paths are also looked for from the workspace
//!   root, since cargo runs each crate's tests in the crate's directory); a directory that is
//!   not there fails the test — a typo must not pass as a skip.
//! - Unset: the test is **skipped visibly** — a `SKIPPED` line goes straight to the process's
//!   stderr, which the test harness does not capture — or fails when `GASTOWN_REQUIRE_CORPUS`
//!   is set, as CI sets it, so no corpus test is ever skipped there.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The corpus directory for `test`, or `None` when the test is skipped (see the module docs).
pub fn corpus_dir(test: &str) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("GASTOWN_CORPUS") else {
        if std::env::var_os("GASTOWN_REQUIRE_CORPUS").is_some() {
            panic!(
                "{test}: GASTOWN_CORPUS is unset but GASTOWN_REQUIRE_CORPUS is set: point GASTOWN_CORPUS at the corpus (../shared/corpus)"
            );
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: GASTOWN_CORPUS is unset (set it to ../shared/corpus to run it)"
        );
        return None;
    };
    let dir = PathBuf::from(dir);
    if dir.is_dir() {
        return Some(dir);
    }
    if dir.is_relative()
        && let Some(root) = workspace_root()
        && root.join(&dir).is_dir()
    {
        return Some(root.join(&dir));
    }
    panic!(
        "{test}: GASTOWN_CORPUS={} is not a directory: point it at the corpus (../shared/corpus)",
        dir.display()
    );
}

/// The nearest directory at or above the including crate that holds `Cargo.lock`.
fn workspace_root() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .map(Path::to_path_buf)
}
