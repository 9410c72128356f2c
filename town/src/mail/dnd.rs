//! Do-not-disturb: while on, the router holds an identity's mail instead of typing it into its
//! session (urgent mail included; it waits in the inbox and for `mail check`).
//!
//! The state is the `dnd` label on the identity's agent bead — the one bead per identity, with
//! the id derived from its address (`crate::agents`, read as [`AgentRecord::dnd`]). `gastown dnd
//! on` creates it when the identity has none yet, exactly as `sling` would, so the two never make
//! two beads for one identity (older ledgers that have two are folded by `gastown run` and by
//! `gastown dnd` itself, see `agents::merge_duplicates`).
//!
//! [`is_dnd`] is on the router's path for every delivery pass: one lookup by that derived id, so
//! it needs no cache, and a label changed by hand (`gastown bead label`) counts at once.

use crate::agents::{self, AgentRecord};
use crate::identity::AgentIdentity;
use anyhow::Result;
use gastown_beads::Ledger;

pub use crate::agents::DND;

/// Is `address` in do-not-disturb? (False when the ledger cannot be read: mail then flows.)
pub fn is_dnd(ledger: &Ledger, address: &str) -> bool {
    agents::find(ledger, address)
        .ok()
        .flatten()
        .is_some_and(|agent: AgentRecord| agent.dnd && !agent.closed)
}

/// `gastown dnd on|off` for `identity` (the caller decides who may set whose: see
/// `command::mail::dnd`).
pub fn dnd(ledger: &mut Ledger, identity: &AgentIdentity, on: bool) -> Result<String> {
    let who = identity.address.as_str();
    // A ledger from before identities had derived ids may hold a stray agent bead for `who`.
    agents::merge_duplicates(ledger)?;
    let agent = match agents::find(ledger, who)? {
        Some(agent) => agent,
        None if !on => return Ok(format!("{who}: do-not-disturb is off\n")),
        None => agents::ensure(ledger, identity)?,
    };
    if on {
        ledger.add_label(&agent.id, DND, who)?;
    } else {
        ledger.remove_label(&agent.id, DND, who)?;
    }
    let state = if on {
        "on: mail is held until `gastown dnd off`"
    } else {
        "off"
    };
    Ok(format!("{who}: do-not-disturb is {state}\n"))
}
