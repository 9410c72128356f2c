//! Fault injection for the crash tests: a real `kill -9` of this very process at a named point,
//! the worst moment for whatever runs there (the ledger's ref moved but its journal not cleared,
//! a polecat's work committed but not submitted, a merge pushed but not recorded).
//!
//! Compiled in only with the `fault-injection` feature, which the workspace's tests enable (the
//! root package's dev-dependency on this crate turns it on whenever tests are built); a release
//! build has no such points at all. Every variable is listed in `docs/environment.md`:
//!
//! | variable | points |
//! |---|---|
//! | `GASTOWN_LEDGER_FAULT` | the ledger's own (`after-git-commit`, a streaming import's `import-after-first-chunk`, `bulk-load-before-commit`, `import-after-index-commit`, a sync's `merge-after-own-commit` and `merge-after-ref-moved`, …); not kills: `commit-fails-before-durable`, `commit-fails-after-durable` (a group commit reports an error, having stored nothing, or everything) |
//! | `GASTOWN_STEP_FAULT` | before a command's ledger step (`done: submit`, `sling: hook`, …) |
//! | `GASTOWN_REFINERY_FAULT` | the refinery's `after-push` and `after-land` |
//! | `GASTOWN_WITNESS_FAULT` | not a kill: `hang-patrol`, the first witness patrol hangs |

/// True when the environment variable `var` equals `point`: for a fault that is not a kill (an
/// error injected where the real one is hard to provoke). Always false without the
/// `fault-injection` feature.
#[inline]
pub fn active(var: &str, point: &str) -> bool {
    #[cfg(feature = "fault-injection")]
    return std::env::var_os(var).is_some_and(|v| v == point);
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = (var, point);
        false
    }
}

/// Kill this process with SIGKILL when the environment variable `var` equals `point`; a no-op
/// without the `fault-injection` feature.
#[inline]
pub fn point(var: &str, point: &str) {
    #[cfg(feature = "fault-injection")]
    if std::env::var_os(var).is_some_and(|v| v == point) {
        // SAFETY: sending a signal to ourselves; SIGKILL does not return.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
    #[cfg(not(feature = "fault-injection"))]
    let _ = (var, point);
}
