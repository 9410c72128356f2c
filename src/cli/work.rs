//! `gastown sling`, `hook`, `prime`, `done`, `handoff`, `seance`: putting work on hooks and
//! finishing it. Through the supervisor when it runs (it then starts the sessions), else on the
//! ledger directly (sessions start when `gastown run` comes up).

use crate::client;
use crate::output;
use crate::run::protocol::{TownReply, TownRequest};
use anyhow::{Result, bail};
use gastown_town::town::Town;
use gastown_town::work::{self, DoneStatus, HookAction, WorkCommand};

/// Run a work command the same way with or without a supervisor.
pub fn run(town: &Town, cmd: WorkCommand) -> Result<()> {
    if let Some(mut supervisor) = client::connect(town)? {
        return match client::call(&mut supervisor, TownRequest::Work(cmd))? {
            TownReply::Text(text) => Ok(output::text(&text)?),
            other => bail!("unexpected reply from the supervisor: {other:?}"),
        };
    }
    let mut ledger = town.open_ledger()?;
    let result = work::apply(&mut ledger, town, cmd, &crate::cli::bead::actor());
    let closed = ledger.close_ledger();
    let outcome = result?;
    closed?;
    output::text(&outcome.text)?;
    // The ledger is closed: the network work of the command (a branch push) runs now.
    let (pushed, left) = work::Effect::carry_out_without_supervisor(town, outcome.effects);
    output::text(&pushed)?;
    if !left.is_empty() {
        eprintln!("(no supervisor is running: sessions start when `gastown run` comes up)");
    }
    Ok(())
}

pub fn hook(
    town: &Town,
    action: Option<HookAction>,
    bead: Option<String>,
    agent: Option<String>,
    force: bool,
) -> Result<()> {
    run(
        town,
        WorkCommand::Hook {
            action: action.unwrap_or(HookAction::Show),
            agent,
            bead,
            force,
        },
    )
}

pub fn done(town: &Town, status: DoneStatus, message: Option<String>) -> Result<()> {
    run(town, WorkCommand::Done { status, message })
}
