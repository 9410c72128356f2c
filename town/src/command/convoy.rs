//! `gastown convoy create|list|show|add|close|refresh`: delivery units tracking beads across rigs
//! (see `docs/convoys.md`).
//!
//! `list`, `show`, `add` and `refresh` first land every convoy whose beads are all closed (a
//! bead closed by hand lands its convoy the next time anyone looks), so what they report is
//! never stale; the convoys that landed come back in the outcome.

use super::as_json;
use crate::caller::Caller;
use crate::convoy::{self, ConvoyLanded, Progress};
use crate::town::Town;
use anyhow::{Result, bail};
use gastown_beads::Ledger;
use serde::{Deserialize, Serialize};

/// One convoy command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConvoyRequest {
    /// Create a convoy tracking `beads`.
    Create {
        name: String,
        beads: Vec<String>,
        notify: bool,
    },
    /// Open convoys (every one with `all`).
    List { all: bool },
    /// One convoy (optional when exactly one is open).
    Show { id: Option<String> },
    /// Track more beads in an open convoy.
    Add { convoy: String, beads: Vec<String> },
    /// Close a convoy by hand.
    Close {
        convoy: String,
        reason: Option<String>,
    },
    /// Land every open convoy whose beads are all closed.
    Refresh,
    /// Set the convoy's budget, total or `daily` (dollars, 0 or more: `crate::budget`).
    Budget {
        convoy: String,
        dollars: f64,
        daily: bool,
    },
}

/// What a convoy command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConvoyOutcome {
    /// `create`: the new convoy.
    Created {
        #[serde(with = "as_json")]
        progress: Progress,
        notify: bool,
    },
    /// `list`.
    Listed {
        landed: Vec<ConvoyLanded>,
        all: bool,
        #[serde(with = "as_json")]
        convoys: Vec<Progress>,
    },
    /// `show`.
    Shown {
        landed: Vec<ConvoyLanded>,
        #[serde(with = "as_json")]
        progress: Progress,
    },
    /// `add`: `added` beads are now tracked, `total` in all.
    Added {
        id: String,
        title: String,
        added: usize,
        total: usize,
        landed: Vec<ConvoyLanded>,
    },
    /// `close`.
    Closed { id: String, title: String },
    /// `refresh`.
    Refreshed { landed: Vec<ConvoyLanded> },
    /// `budget`: the convoy's budgets now.
    Budgeted {
        id: String,
        title: String,
        daily: Option<f64>,
        total: Option<f64>,
    },
}

/// Run one convoy command against the ledger as `caller`.
pub fn apply(
    ledger: &mut Ledger,
    town: &Town,
    request: ConvoyRequest,
    caller: &Caller,
) -> Result<ConvoyOutcome> {
    let who = caller.name();
    Ok(match request {
        ConvoyRequest::Create {
            name,
            beads,
            notify,
        } => {
            // A convoy of one rig's beads is that rig's record; across rigs it is the town's.
            let prefix = crate::rig::shared_rig_prefix(town, &beads)?;
            let created = convoy::create(ledger, &name, &beads, notify, prefix, who)?;
            ConvoyOutcome::Created {
                progress: convoy::progress(ledger, &created.id)?,
                notify,
            }
        }
        ConvoyRequest::List { all } => {
            let landed = settle(ledger, town, who)?;
            let convoys = convoy::convoys(ledger, all)?
                .iter()
                .map(|c| convoy::progress(ledger, &c.id))
                .collect::<Result<Vec<_>>>()?;
            ConvoyOutcome::Listed {
                landed,
                all,
                convoys,
            }
        }
        ConvoyRequest::Show { id } => {
            let landed = settle(ledger, town, who)?;
            let id = match id {
                Some(id) => id,
                None => only_open(ledger)?,
            };
            ConvoyOutcome::Shown {
                landed,
                progress: convoy::progress(ledger, &id)?,
            }
        }
        ConvoyRequest::Add { convoy, beads } => {
            let (c, added) = convoy::add(ledger, &convoy, &beads, who)?;
            let total = convoy::tracked_ids(&c).len();
            // A convoy whose new beads are already closed may land at once.
            let landed = settle(ledger, town, who)?;
            ConvoyOutcome::Added {
                id: c.id,
                title: c.title,
                added: added.len(),
                total,
                landed,
            }
        }
        ConvoyRequest::Close { convoy, reason } => {
            if let Some(bead) = ledger.get(&convoy)? {
                crate::authz::close_convoy(caller, &bead.created_by)?;
            }
            let c = convoy::close(ledger, &convoy, reason.as_deref(), who)?;
            ConvoyOutcome::Closed {
                id: c.id,
                title: c.title,
            }
        }
        ConvoyRequest::Refresh => ConvoyOutcome::Refreshed {
            landed: settle(ledger, town, who)?,
        },
        ConvoyRequest::Budget {
            convoy,
            dollars,
            daily,
        } => {
            crate::authz::set_budget(caller)?;
            let (bead, budget) =
                crate::budget::set_convoy_budget(ledger, &convoy, dollars, daily, who)?;
            ConvoyOutcome::Budgeted {
                id: bead.id,
                title: bead.title,
                daily: budget.daily,
                total: budget.total,
            }
        }
    })
}

/// Land what can land and ring for it (in the process that owns the ledger: `gastown run`'s
/// terminal when it runs).
fn settle(ledger: &mut Ledger, town: &Town, who: &str) -> Result<Vec<ConvoyLanded>> {
    let landed = convoy::sweep(ledger, town, who)?;
    convoy::announce(town, &landed);
    Ok(landed)
}

fn only_open(ledger: &Ledger) -> Result<String> {
    let open = convoy::convoys(ledger, false)?;
    match open.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => bail!("no open convoy: name one (`gastown convoy list --all` shows landed ones)"),
        many => bail!(
            "{} convoys are open, name one: {}",
            many.len(),
            many.iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
