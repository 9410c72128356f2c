//! Ledger steps: how a command that does slow work (git, gates) between its ledger writes runs
//! the same with or without a supervisor, and never holds the ledger while git runs.
//!
//! A command such as `sling` is a sequence: a ledger step decides, an outside step runs git, a
//! ledger step records. It is written once, against [`LedgerSteps`]:
//!
//! - direct mode (the CLI, no supervisor): `&mut Ledger` runs each step in place, in order, in
//!   one process;
//! - `gastown run`: the command runs on a blocking thread and each step is one operation of the
//!   ledger actor (`gastown_actors::ledger::BlockingLedger`), so git and gates run outside the
//!   actor and every other ledger user goes on meanwhile.
//!
//! Each step has a name (`"sling: hook"`): the ledger actor times every operation and names a
//! slow one in its log. Other operations may run between two steps of one command, so a step
//! that records re-reads what it depends on, and every step is idempotent: a crash (`kill -9`)
//! between the outside work and the ledger step loses nothing acknowledged and does nothing
//! twice — the command is simply run again (each command's docs say what a crash leaves).
//!
//! ```
//! use gastown_town::steps::LedgerSteps;
//! # fn example(ledger: &mut gastown_beads::Ledger) -> anyhow::Result<()> {
//! // The same call runs in place on an opened ledger, or in the ledger actor.
//! let open = ledger.step("example: count open", |l| {
//!     l.list(&gastown_beads::ListFilter::default()).map(|b| b.len())
//! })??;
//! # let _ = open;
//! # Ok(())
//! # }
//! ```

use gastown_beads::Ledger;

/// Where the ledger steps of a command run.
pub trait LedgerSteps {
    /// Why a step could not run (the ledger actor went away); never for a step's own failure,
    /// which travels in `R`.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Run `f` against the ledger as one operation named `name`, and return its result.
    fn step<R, F>(&mut self, name: &'static str, f: F) -> Result<R, Self::Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut Ledger) -> R + Send + 'static;
}

/// Direct mode: the step runs here and now on the opened ledger.
impl LedgerSteps for Ledger {
    type Error = std::convert::Infallible;

    fn step<R, F>(&mut self, name: &'static str, f: F) -> Result<R, Self::Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut Ledger) -> R + Send + 'static,
    {
        fault_point(name);
        Ok(f(self))
    }
}

/// Fault injection for the crash tests: with `GASTOWN_STEP_FAULT=<step name>` the process kills
/// itself with SIGKILL just before that ledger step runs — a real `kill -9` after the outside
/// work of the step before it (e.g. `done: submit`: the polecat's work is committed in its
/// worktree, the ledger has not heard of it). Every [`LedgerSteps`] calls it.
pub fn fault_point(step: &str) {
    gastown_beads::fault::point("GASTOWN_STEP_FAULT", step);
}
