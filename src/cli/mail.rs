//! `gastown mail …` (being built).

use anyhow::Result;
use clap::Subcommand;
use gastown_beads::Ledger;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
pub enum MailCommand {
    /// Your inbox.
    Inbox,
}

/// Run one mail command against the ledger as `who` (an agent address or `overseer`).
pub fn apply(_ledger: &mut Ledger, _cmd: MailCommand, _who: &str) -> Result<String> {
    anyhow::bail!("gastown mail is being built")
}

/// `gastown mail …` from the CLI: through the supervisor when it runs, else on the ledger.
pub fn run(town: &crate::town::Town, cmd: MailCommand) -> Result<()> {
    use crate::run::protocol::{TownReply, TownRequest};
    if let Some(mut supervisor) = crate::client::connect(town)? {
        return match crate::client::call(&mut supervisor, TownRequest::Mail(cmd))? {
            TownReply::Text(text) => Ok(crate::output::text(&text)?),
            other => anyhow::bail!("unexpected reply from the supervisor: {other:?}"),
        };
    }
    let mut ledger = town.open_ledger()?;
    let result = apply(&mut ledger, cmd, &crate::cli::bead::actor());
    let closed = ledger.close_ledger();
    let text = result?;
    closed?;
    crate::output::text(&text)?;
    Ok(())
}
