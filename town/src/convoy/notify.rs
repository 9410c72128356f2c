//! Landing convoys: when every bead a convoy tracks is closed, the convoy closes and the overseer
//! is told — always by mail; for convoys created with `--notify` also by a terminal bell and the
//! town's `[convoy] notify_command`.
//!
//! Two ways in: [`on_bead_closed`] right after something closes a bead (the refinery after a
//! merge), and [`sweep`] over every open convoy (the deacon's patrol, `gastown convoy list|show|
//! refresh`), which also catches beads closed by hand. Both return what landed as
//! [`ConvoyLanded`]; the caller rings the bell and runs the command with [`announce`] (or
//! [`run_notify_command`]), outside the ledger.

use super::{convoys, convoys_tracking, tracked_ids, wants_notify};
use crate::mail::store::{Outgoing, send};
use crate::town::Town;
use anyhow::{Context, Result};
use gastown_beads::{Bead, Ledger, Status};
use serde::{Deserialize, Serialize};
use std::process::{Command, Stdio};

/// A convoy that just landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvoyLanded {
    pub id: String,
    pub name: String,
    /// The beads it tracked.
    pub beads: Vec<String>,
    /// Created with `--notify`: ring the bell and run the notify command.
    pub notify: bool,
}

/// `bead_id` was just closed: land every open convoy tracking it whose beads are now all closed.
pub fn on_bead_closed(
    ledger: &mut Ledger,
    town: &Town,
    bead_id: &str,
    who: &str,
) -> Result<Vec<ConvoyLanded>> {
    let mut landed = Vec::new();
    for convoy in convoys_tracking(ledger, bead_id)? {
        landed.extend(try_land(ledger, town, &convoy, who)?);
    }
    Ok(landed)
}

/// Land every open convoy whose tracked beads are all closed (however they were closed).
pub fn sweep(ledger: &mut Ledger, town: &Town, who: &str) -> Result<Vec<ConvoyLanded>> {
    let mut landed = Vec::new();
    for convoy in convoys(ledger, false)? {
        landed.extend(try_land(ledger, town, &convoy, who)?);
    }
    Ok(landed)
}

/// Close the convoy and mail the overseer if every tracked bead is closed. A convoy that tracks
/// nothing never lands by itself.
fn try_land(
    ledger: &mut Ledger,
    town: &Town,
    convoy: &Bead,
    who: &str,
) -> Result<Option<ConvoyLanded>> {
    let beads = tracked_ids(convoy);
    if beads.is_empty() || convoy.is_closed() {
        return Ok(None);
    }
    for id in &beads {
        let done = ledger
            .get(id)?
            .is_some_and(|b| b.is_closed() || b.status == Status::Tombstone);
        if !done {
            return Ok(None);
        }
    }
    let reason = format!("landed: all {} tracked beads closed", beads.len());
    ledger.close(&convoy.id, &reason, who)?;
    let body = format!(
        "Convoy {} ({}) in town {} landed: all {} tracked beads are closed.\n\n{}\n\n`gastown convoy show {}` has the details.",
        convoy.id,
        convoy.title,
        town.config.name,
        beads.len(),
        beads.join("\n"),
        convoy.id
    );
    send(
        ledger,
        who,
        &Outgoing {
            to: "overseer".to_string(),
            subject: format!("Convoy landed: {}", convoy.title),
            body,
            ..Outgoing::default()
        },
    )
    .with_context(|| format!("convoy {} landed but the overseer's mail failed", convoy.id))?;
    Ok(Some(ConvoyLanded {
        id: convoy.id.clone(),
        name: convoy.title.clone(),
        beads,
        notify: wants_notify(convoy),
    }))
}

/// Tell the overseer's terminal about landed convoys: for each one created with `--notify`, a
/// bell on stderr (in the supervisor that is `gastown run`'s terminal) and the notify command.
/// A notify command that cannot start is logged, never an error: the convoy has landed.
pub fn announce(town: &Town, landed: &[ConvoyLanded]) {
    for convoy in landed.iter().filter(|l| l.notify) {
        eprint!("\x07");
        if let Err(e) = run_notify_command(town, convoy) {
            tracing::warn!(convoy = %convoy.id, "{e:#}");
            eprintln!("warning: {e:#}");
        }
    }
}

/// Start the town's `[convoy] notify_command` (if any) with `sh -c` in the town's root, with
/// `GASTOWN_CONVOY_ID`, `GASTOWN_CONVOY_NAME` and `GASTOWN_CONVOY_BEADS` (space-separated) set.
/// Does not wait for it: a thread reaps it and logs a failure exit.
pub fn run_notify_command(town: &Town, landed: &ConvoyLanded) -> Result<()> {
    let Some(command) = town
        .config
        .convoy
        .notify_command
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    else {
        return Ok(());
    };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(&town.root)
        .env("GASTOWN_CONVOY_ID", &landed.id)
        .env("GASTOWN_CONVOY_NAME", &landed.name)
        .env("GASTOWN_CONVOY_BEADS", landed.beads.join(" "))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| {
            format!("cannot start the convoy notify command {command:?} (town.toml [convoy] notify_command)")
        })?;
    let id = landed.id.clone();
    std::thread::spawn(move || match child.wait() {
        Ok(status) if !status.success() => {
            tracing::warn!(convoy = %id, "the convoy notify command exited with {status}");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(convoy = %id, "cannot wait for the convoy notify command: {e}"),
    });
    Ok(())
}
