//! Ledger command families that run the same with or without a supervisor: through the socket
//! when `gastown run` is up (the supervisor owns the ledger; the caller is the connection's
//! identity), else on the ledger opened directly.

use crate::client;
use crate::output;
use crate::run::protocol::{TownReply, TownRequest};
use anyhow::{Context, Result, bail};
use gastown_beads::Ledger;
use gastown_town::town::Town;

/// Send `request` to the supervisor if one runs, else run `direct` on the opened ledger.
pub fn run(
    town: &Town,
    request: TownRequest,
    direct: impl FnOnce(&mut Ledger, &str) -> Result<String>,
) -> Result<()> {
    if let Some(mut supervisor) = client::connect(town)? {
        return match client::call(&mut supervisor, request)? {
            TownReply::Text(text) => Ok(output::text(&text)?),
            other => bail!("unexpected reply from the supervisor: {other:?}"),
        };
    }
    let mut ledger = town.open_ledger()?;
    let result = direct(&mut ledger, &crate::cli::bead::actor());
    let closed = ledger
        .close_ledger()
        .context("cannot flush the ledger to git");
    let text = result?;
    closed?;
    output::text(&text)?;
    Ok(())
}
