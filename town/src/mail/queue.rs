//! Work queues: `queue:<name>` holds mail for exactly one claimant.
//!
//! A queue is a definition bead (see [`super::groups::Def`]) labelled `mail:queue`. Mail sent to
//! `queue:<name>` is one message bead with that assignee. `claim` gives an item to the caller:
//! status `in_progress` and a `claimed-by:<address>` label; a second claimant is refused with the
//! first one's name. `release` (by the claimant or the overseer) puts it back; archiving a
//! claimed item closes it. Every command runs inside the single ledger writer, so check-and-claim
//! is atomic.

use super::groups::Def;
pub use super::record::claimant;
use super::{format, store};
use crate::caller::Caller;
use anyhow::{Result, bail};
use gastown_beads::{Bead, BeadPatch, Ledger, Status};

pub const QUEUE: Def = Def {
    label: "mail:queue",
    prefix: "queue:",
    noun: "queue",
};

/// Label prefix naming an item's claimant.
pub const CLAIMED_BY: &str = "claimed-by:";

/// The queue definition named `name`.
pub fn find(ledger: &Ledger, name: &str) -> Result<Option<Bead>> {
    QUEUE.find(ledger, name)
}

/// Every queue name.
pub fn names(ledger: &Ledger) -> Result<Vec<String>> {
    QUEUE.names(ledger)
}

/// `mail queue create <name>`.
pub fn create(ledger: &mut Ledger, who: &str, name: &str) -> Result<String> {
    let name = name.strip_prefix("queue:").unwrap_or(name);
    let bead = QUEUE.create(ledger, name, &[], who)?;
    Ok(format!("created queue:{name} ({})\n", bead.id))
}

/// Open items of a queue, oldest first.
pub fn items(ledger: &Ledger, name: &str) -> Result<Vec<Bead>> {
    store::open_mail(ledger, &format!("queue:{name}"))
}

/// `mail queue claim <queue-or-id>`: a queue name claims its oldest unclaimed item; an item id
/// claims that item.
pub fn claim(ledger: &mut Ledger, who: &str, target: &str) -> Result<String> {
    let item = match ledger.get(target).ok().flatten() {
        Some(item) => item,
        None => {
            let name = target.strip_prefix("queue:").unwrap_or(target);
            QUEUE.get(ledger, name)?;
            match items(ledger, name)?
                .into_iter()
                .find(|i| claimant(i).is_none())
            {
                Some(item) => item,
                None => bail!("queue:{name} has no unclaimed item"),
            }
        }
    };
    let Some(queue) = item.assignee.strip_prefix("queue:").map(str::to_string) else {
        bail!(
            "{} is not a queue item (its recipient is {:?})",
            item.id,
            item.assignee
        );
    };
    if item.status == Status::Closed {
        bail!(
            "{} in queue:{queue} is archived already: nothing to claim",
            item.id
        );
    }
    match claimant(&item) {
        Some(c) if c == who => return Ok(format!("{} is yours already\n", item.id)),
        Some(c) => bail!(
            "{} in queue:{queue} is already claimed by {c}: only one claimant per item",
            item.id
        ),
        None => {}
    }
    ledger.add_label(&item.id, &format!("{CLAIMED_BY}{who}"), who)?;
    let patch = BeadPatch {
        status: Some(Status::InProgress),
        ..BeadPatch::default()
    };
    let item = ledger.update(&item.id, patch, who)?;
    Ok(format!(
        "claimed from queue:{queue}:\n{}",
        format::message(&item)
    ))
}

/// `mail queue release <id>`: by the claimant or the overseer.
pub fn release(ledger: &mut Ledger, caller: &Caller, id: &str) -> Result<String> {
    let who = caller.name();
    let Some(item) = ledger.get(id)? else {
        bail!("no mail {id:?} in this town");
    };
    let Some(c) = claimant(&item).map(str::to_string) else {
        bail!("{id} is not claimed: nothing to release");
    };
    if !caller.may_act_for(&c) {
        bail!("{id} is claimed by {c}: only they (or the overseer) can release it");
    }
    ledger.remove_label(id, &format!("{CLAIMED_BY}{c}"), who)?;
    let patch = BeadPatch {
        status: Some(Status::Open),
        ..BeadPatch::default()
    };
    ledger.update(id, patch, who)?;
    Ok(format!("released {id} (was claimed by {c})\n"))
}

/// `mail queue list [name]`: the queues, or one queue's open items with their claimants.
pub fn list(ledger: &Ledger, name: Option<&str>) -> Result<String> {
    let mut out = String::new();
    let Some(name) = name else {
        for n in names(ledger)? {
            out.push_str(&format!("queue:{n} ({} open)\n", items(ledger, &n)?.len()));
        }
        return Ok(out);
    };
    let name = name.strip_prefix("queue:").unwrap_or(name);
    QUEUE.get(ledger, name)?;
    for item in items(ledger, name)? {
        let who = claimant(&item).unwrap_or("unclaimed");
        out.push_str(&format!("{}  {:<24} {}\n", item.id, who, item.title));
    }
    Ok(out)
}
