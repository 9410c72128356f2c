//! Command-line spellings of the domain's enums: clap's `ValueEnum` lives here, on mirrors that
//! convert into the domain's plain types, so the domain crate knows nothing of the CLI.

use clap::ValueEnum;
use gastown_town::rig::Gate;
use gastown_town::work::{DoneStatus, HookAction};

/// `gastown hook <action>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HookActionArg {
    /// Print the hook.
    Show,
    /// Put a bead on the hook.
    Attach,
    /// Take the bead off the hook (back to open).
    Detach,
    /// Take the bead off the hook (back to open).
    Clear,
    /// Claude Code's SessionStart hook: record the runtime's session id from the hook's JSON on
    /// stdin (for `gastown seance`), then prime
    SessionStart,
}

impl HookActionArg {
    /// The change to make, or `None` for `show` (a view, not a change).
    pub fn change(self) -> Option<HookAction> {
        match self {
            HookActionArg::Show | HookActionArg::SessionStart => None,
            HookActionArg::Attach => Some(HookAction::Attach),
            HookActionArg::Detach => Some(HookAction::Detach),
            HookActionArg::Clear => Some(HookAction::Clear),
        }
    }
}

/// `gastown done --status`. Each variant's doc is its line in `gastown done --help`: keep it
/// exactly what `done` does (`gastown_town::work::done`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DoneStatusArg {
    /// The work is done: what is left in the worktree is committed, there must be commits ahead
    /// of the rig's default branch, the merge request is created (or refreshed), the refinery
    /// (MERGE_READY) and the witness (POLECAT_DONE) are told, the hook is cleared; the sandbox
    /// stays until the merge is confirmed (a dog's bead is closed instead: it has no worktree)
    Completed,
    /// Stuck: HELP (with the bead and --message) goes to the rig's witness and to the mayor, and
    /// a `high` escalation is raised (mailed to the mayor and the overseer by default, see
    /// `gastown escalate`); the bead is labelled `escalated`, taken off the hook and left open,
    /// still assigned to the polecat; nothing is committed
    Escalated,
    /// Put back: the bead is taken off the hook, unassigned and open again (back in the ready
    /// pool); nothing is committed and no one is told
    Deferred,
}

impl From<DoneStatusArg> for DoneStatus {
    fn from(arg: DoneStatusArg) -> DoneStatus {
        match arg {
            DoneStatusArg::Completed => DoneStatus::Completed,
            DoneStatusArg::Escalated => DoneStatus::Escalated,
            DoneStatusArg::Deferred => DoneStatus::Deferred,
        }
    }
}

/// `gastown rig gate <name> <gate>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GateArg {
    /// The rig's `setup` command.
    Setup,
    /// The rig's `build` command.
    Build,
    /// The rig's `test` command.
    Test,
    /// The rig's `lint` command.
    Lint,
}

impl From<GateArg> for Gate {
    fn from(arg: GateArg) -> Gate {
        match arg {
            GateArg::Setup => Gate::Setup,
            GateArg::Build => Gate::Build,
            GateArg::Test => Gate::Test,
            GateArg::Lint => Gate::Lint,
        }
    }
}
