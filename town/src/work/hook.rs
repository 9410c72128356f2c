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
/// that is gone (no `rig.toml` in its directory, or no directory). A rig whose `rig.toml` is
/// broken is not gone: its hooks stay (the broken file is reported by `gastown doctor` and the
/// deacon's rig check), so fixing the file loses nobody's work. An agent of an existing rig
/// always can exist: a polecat or crew member with work on its hook but no agent bead or
/// directory (removed by hand) is made again and started by the GUPP patrol (`gastown run`),
/// its hook being its work. `(bead, holder)`, oldest first.
pub fn stale(ledger: &Ledger, town: &crate::town::Town) -> Result<Vec<(String, String)>> {
    let hooked = ledger.list(&ListFilter {
        status: Some(Status::Hooked),
        ..ListFilter::default()
    })?;
    let mut stale = Vec::new();
    for bead in hooked {
        if identity_gone(town, &bead.assignee) {
            stale.push((bead.id, bead.assignee));
        }
    }
    Ok(stale)
}

/// Whether the identity at `address` cannot exist any more (see [`stale`]).
fn identity_gone(town: &crate::town::Town, address: &str) -> bool {
    let Ok(id) = AgentIdentity::parse(address) else {
        return true;
    };
    let Some(rig) = id.rig.as_deref() else {
        return false; // Town-level roles always exist.
    };
    // Broken, or unreadable for now: it is still there, and so are its agents.
    matches!(
        crate::rig::Rig::load(town, rig),
        Err(crate::rig::RigError::NotFound { .. } | crate::rig::RigError::InvalidName { .. })
    )
}

/// A hook whose identity has been stuck too long: the bead, its holder, and why it is stuck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckHook {
    pub bead: String,
    pub holder: String,
    pub reason: String,
    /// How long it has been stuck.
    pub stuck_for: std::time::Duration,
}

/// Beads hooked to identities that have been stuck (they cannot start: `crate::agents::mark_stuck`)
/// for longer than `after`, at `now_nanos` (unix nanoseconds). An identity stuck with no
/// recorded start of its streak is not counted: nobody can say how long it has waited.
pub fn stuck_hooks(
    ledger: &Ledger,
    after: std::time::Duration,
    now_nanos: i128,
) -> Result<Vec<StuckHook>> {
    let hooked = ledger.list(&ListFilter {
        status: Some(Status::Hooked),
        ..ListFilter::default()
    })?;
    let mut found = Vec::new();
    for bead in hooked {
        let Some(agent) = agents::find(ledger, &bead.assignee)? else {
            continue;
        };
        let Some(reason) = agent.stuck() else {
            continue;
        };
        let Some(since) = agent
            .stuck_since
            .as_deref()
            .and_then(gastown_beads::time::parse_rfc3339)
        else {
            continue;
        };
        let stuck_for = std::time::Duration::from_nanos(
            u64::try_from(now_nanos.saturating_sub(since)).unwrap_or(0),
        );
        if stuck_for > after {
            found.push(StuckHook {
                bead: bead.id,
                holder: bead.assignee,
                reason: reason.to_string(),
                stuck_for,
            });
        }
    }
    Ok(found)
}

/// Release the beads of [`stuck_hooks`] back to ready, as `who`, so the work goes to an agent
/// that can run: each bead's notes say who held it, why it was released and where its work so
/// far is (a polecat's branch `polecat/<name>/<bead>` is kept, and so is its worktree); a
/// runtime the bead asked for that the holder is stuck on is dropped from it; the holder stays
/// stuck with an empty hook, so a sling to its rig picks another polecat. Returns what was
/// released.
pub fn release_stuck(
    ledger: &mut Ledger,
    after: std::time::Duration,
    now_nanos: i128,
    who: &str,
) -> Result<Vec<StuckHook>> {
    let stuck = stuck_hooks(ledger, after, now_nanos)?;
    for hook in &stuck {
        let Some(bead) = ledger.get(&hook.bead)? else {
            continue;
        };
        let holder = &hook.holder;
        let stuck_for =
            humantime::format_duration(std::time::Duration::from_secs(hook.stuck_for.as_secs()));
        let mut note = format!(
            "Released by the {who} from {holder}'s hook: {holder} could not start for {stuck_for} ({}).",
            hook.reason
        );
        if let Ok(id) = AgentIdentity::parse(holder)
            && id.role == crate::identity::Role::Polecat
        {
            note.push_str(&format!(
                " Any work {holder} did is kept on its branch {} (and in its checkpoint, `gastown checkpoint show {holder}`).",
                crate::rig::polecat_branch(&id.name, &bead.id)
            ));
        }
        // A runtime the bead asked for that its holder is stuck on would make the next polecat
        // stuck too: the request goes (said in the notes), and the rig's runtime takes over.
        let requested = bead
            .extra
            .get(crate::runtimes::REQUESTED_RUNTIME)
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let stuck_runtime = agents::find(ledger, holder)?.and_then(|a| a.runtime);
        let drop_request = requested.is_some() && requested == stuck_runtime;
        if let Some(runtime) = requested.as_deref().filter(|_| drop_request) {
            note.push_str(&format!(
                " Its request for runtime {runtime} was dropped, as {holder} cannot start under it: \
                 sling it with `--runtime {runtime}` again once that runtime works."
            ));
        }
        back_to_ready(ledger, &bead, &note, who)?;
        if drop_request {
            gastown_beads::ExtraPatch::default()
                .unset(crate::runtimes::REQUESTED_RUNTIME)
                .write(ledger, &hook.bead, who)?;
        }
        if let Some(agent) = agents::find(ledger, holder)? {
            // Stuck still (so a sling to its rig picks another polecat), with nothing on its hook.
            gastown_beads::ExtraPatch::default()
                .set("hook", "")
                .write(ledger, &agent.id, "gastown")?;
        }
        tracing::info!(bead = %hook.bead, %holder, "released a hook whose identity is stuck");
    }
    Ok(stuck)
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

/// Put `bead` back in the ready pool — open, unassigned — with `note` added to its notes (why,
/// and where any work on it is kept).
pub fn back_to_ready(ledger: &mut Ledger, bead: &Bead, note: &str, who: &str) -> Result<()> {
    let notes = if bead.notes.trim().is_empty() {
        note.to_string()
    } else {
        format!("{}\n\n{note}", bead.notes.trim_end())
    };
    ledger.update(
        &bead.id,
        BeadPatch {
            status: Some(Status::Open),
            assignee: Some(String::new()),
            notes: Some(notes),
            ..BeadPatch::default()
        },
        who,
    )?;
    Ok(())
}
