//! Hooks: the bead an agent must work on. A bead is on an agent's hook when its status is
//! `hooked` and its assignee is the agent's address; the agent bead's `hook` field mirrors it.

use super::Outcome;
use crate::agents::{self, AgentState};
use crate::caller::Caller;
use crate::identity::AgentIdentity;
use anyhow::{Result, bail};
use gastown_beads::{Bead, BeadPatch, Ledger, ListFilter, Status};
use serde::{Deserialize, Serialize};

/// `gastown hook …` that changes a hook (showing one is a view: `command::agent::hook`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HookAction {
    Attach,
    Detach,
    Clear,
}

/// The beads on `address`'s hook.
pub fn hooked(ledger: &Ledger, address: &str) -> Result<Vec<Bead>> {
    Ok(ledger.list(&ListFilter {
        status: Some(Status::Hooked),
        assignee: Some(address.to_string()),
        ..ListFilter::default()
    })?)
}

/// Put `bead` on `identity`'s hook. Refuses a bead hooked by another agent unless `force`,
/// naming the holder, and a second bead for an agent that holds one (even with `force`);
/// returns the previous holder when forced.
pub fn attach(
    ledger: &mut Ledger,
    identity: &AgentIdentity,
    bead_id: &str,
    force: bool,
    who: &str,
) -> Result<Option<String>> {
    let Some(bead) = ledger.get(bead_id)? else {
        bail!("no bead {bead_id:?} in this town: `gastown bead list` shows the ids");
    };
    if bead.is_closed() {
        bail!("bead {bead_id} is closed: reopen it first with `gastown bead reopen {bead_id}`");
    }
    // Only work goes on a hook, whichever command puts it there (sling checks this first too).
    if let Some(why) = super::slingable::refusal(&bead) {
        bail!("{why}");
    }
    let previous = (bead.status == Status::Hooked && !bead.assignee.is_empty())
        .then(|| bead.assignee.clone())
        .filter(|holder| *holder != identity.address);
    if let Some(holder) = &previous
        && !force
    {
        bail!(
            "bead {bead_id} is already on {holder}'s hook: pass --force to move it to {}",
            identity.address
        );
    }
    one_at_a_time(ledger, identity, bead_id)?;
    if let Some(holder) = &previous
        && let Ok(old) = AgentIdentity::parse(holder)
    {
        agents::set_state(ledger, &old, AgentState::Idle, Some(""))?;
    }
    ledger.update(
        bead_id,
        BeadPatch {
            status: Some(Status::Hooked),
            assignee: Some(identity.address.clone()),
            ..BeadPatch::default()
        },
        who,
    )?;
    agents::set_state(ledger, identity, AgentState::Working, Some(bead_id))?;
    Ok(previous)
}

/// An agent holds one bead at a time: a second one is refused, naming what it holds (no queue
/// per agent: the rig's dispatch queue is where work waits, and a refusal loses nothing).
fn one_at_a_time(ledger: &Ledger, identity: &AgentIdentity, bead_id: &str) -> Result<()> {
    let held = hooked(ledger, &identity.address)?;
    if let Some(other) = held.iter().find(|b| b.id != bead_id) {
        let address = &identity.address;
        bail!(
            "{address} already holds {} (\"{}\") on its hook, and an agent works one bead at a time: \
             let it finish, clear its hook with `gastown hook clear --agent {address}`, or sling \
             {bead_id} to the rig so a free polecat takes it",
            other.id,
            other.title
        );
    }
    Ok(())
}

/// Take every bead off `identity`'s hook, back to `status`.
pub fn clear(
    ledger: &mut Ledger,
    identity: &AgentIdentity,
    status: Status,
    who: &str,
) -> Result<Vec<String>> {
    let mut cleared = Vec::new();
    for bead in hooked(ledger, &identity.address)? {
        ledger.update(
            &bead.id,
            BeadPatch {
                status: Some(status.clone()),
                ..BeadPatch::default()
            },
            who,
        )?;
        cleared.push(bead.id);
    }
    agents::set_state(ledger, identity, AgentState::Idle, Some(""))?;
    Ok(cleared)
}

pub fn hook(
    ledger: &mut Ledger,
    action: HookAction,
    agent: Option<&str>,
    bead: Option<&str>,
    force: bool,
    caller: &Caller,
) -> Result<Outcome> {
    let who = caller.name();
    let address = match (agent, caller) {
        (Some(a), _) => a.to_string(),
        (None, Caller::Agent(identity)) => identity.address.clone(),
        (None, Caller::Overseer) => bail!("whose hook? pass --agent <address>"),
    };
    let identity = AgentIdentity::parse(&address)?;
    let mut out = Outcome::default();
    match action {
        HookAction::Attach => {
            let Some(bead) = bead else {
                bail!("which bead? `gastown hook attach <bead> [--agent <address>]`");
            };
            let previous = attach(ledger, &identity, bead, force, who)?;
            if let Some(p) = previous {
                out.say(format!("moved {bead} from {p}'s hook"));
            }
            out.say(format!("{bead} is on {address}'s hook"));
            out.effects.push(super::Effect::EnsureSession { address });
        }
        HookAction::Detach | HookAction::Clear => {
            let cleared = clear(ledger, &identity, Status::Open, who)?;
            if cleared.is_empty() {
                out.say(format!("{address}'s hook was already empty"));
            } else {
                out.say(format!("cleared {address}'s hook: {}", cleared.join(", ")));
            }
        }
    }
    Ok(out)
}

/// Beads hooked to identities that cannot exist any more: not an address, or an agent of a rig
/// that is gone. `(bead, holder)`, oldest first.
pub fn stale(ledger: &Ledger, town: &crate::town::Town) -> Result<Vec<(String, String)>> {
    let hooked = ledger.list(&ListFilter {
        status: Some(Status::Hooked),
        ..ListFilter::default()
    })?;
    Ok(hooked
        .into_iter()
        .filter(|b| match AgentIdentity::parse(&b.assignee) {
            Err(_) => true,
            Ok(id) => id
                .rig
                .as_deref()
                .is_some_and(|rig| crate::rig::Rig::load(town, rig).is_err()),
        })
        .map(|b| (b.id, b.assignee))
        .collect())
}

/// Release the [`stale`] hooks back to ready, as `who` (the bead, its history and the audit
/// event of the change kept); returns what was released.
pub fn release_stale(
    ledger: &mut Ledger,
    town: &crate::town::Town,
    who: &str,
) -> Result<Vec<(String, String)>> {
    let stale = stale(ledger, town)?;
    for (bead, holder) in &stale {
        ledger.update(
            bead,
            BeadPatch {
                status: Some(Status::Open),
                assignee: Some(String::new()),
                ..BeadPatch::default()
            },
            who,
        )?;
        tracing::info!(%bead, %holder, "released a hook whose identity cannot exist");
    }
    Ok(stale)
}
