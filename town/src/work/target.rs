//! Whom a sling goes to: a named agent (a dog session only when `[roles] dog` gives dogs a
//! runtime), or for a rig one of its polecats — an idle one reused, else a new one named from the
//! rig's pool — or, at `max_polecats`, the rig's dispatch queue.
//!
//! Read from the ledger (who is hooked, whose merge request is open) and the rig's directory
//! (which polecats have a worktree). `sling` asks twice: once to plan, and again in the step
//! that hooks, after the worktree was made, so two slings at once never share a polecat.

use crate::identity::{AgentIdentity, Role, is_simple_name};
use crate::rig::{self, Rig};
use crate::town::Town;
use anyhow::{Context, Result, bail};
use gastown_beads::{Bead, Ledger, ListFilter, Status};

/// Where a bead slung to `target` goes.
pub(super) enum Target {
    /// To this agent's hook.
    Agent(AgentIdentity),
    /// It is on this agent's hook already.
    AlreadyThere(AgentIdentity),
    /// The rig (named) is at its polecat limit: into its dispatch queue.
    Queued(String),
}

pub(super) fn target_identity(
    ledger: &Ledger,
    town: &Town,
    bead: &Bead,
    target: &str,
) -> Result<Target> {
    if is_simple_name(target) && target != "mayor" && target != "deacon" {
        let rig = Rig::load(town, target).with_context(|| {
            format!("unknown sling target {target:?}: a rig (`gastown rig list`), <rig>/polecats/<name>, <rig>/crew/<name>, mayor or deacon/dogs/<name>")
        })?;
        return polecat_for(ledger, &rig, bead);
    }
    let identity =
        AgentIdentity::parse(target).with_context(|| format!("unknown sling target {target:?}"))?;
    if let Some(rig_name) = &identity.rig {
        Rig::load(town, rig_name).with_context(|| format!("sling target {target}: no such rig"))?;
    }
    if matches!(identity.role, Role::Witness | Role::Refinery | Role::Deacon) {
        bail!(
            "{target} runs patrols, not hooked work: sling to a rig, a polecat, crew or the mayor"
        );
    }
    if identity.role == Role::Dog {
        check_dog(town, &identity)?;
    }
    if identity.role == Role::Mayor && town.config.roles.mayor.is_none() {
        bail!(
            "the mayor has no runtime (`[roles] mayor` is not set in {}), so nothing would ever work a bead on its hook: set it (e.g. `mayor = \"claude\"` under `[roles]`) and restart `gastown run`, or sling to a rig, a polecat or crew",
            town.root.join(crate::town::CONFIG_FILE).display()
        );
    }
    if bead.status == Status::Hooked && bead.assignee == identity.address {
        return Ok(Target::AlreadyThere(identity));
    }
    Ok(Target::Agent(identity))
}

/// A dog session takes judgement work only when `[roles] dog` gives it a runtime, and never
/// under the name of one of the deacon's chores (their actors sit at the same place in the tree).
fn check_dog(town: &Town, identity: &AgentIdentity) -> Result<()> {
    let name = identity.name.as_str();
    if crate::dogs::names().contains(&name) {
        bail!(
            "{} is the deacon's {name} chore, not a dog session: chores run on their own timer (`gastown dog run {name}` runs it now) and take no beads; sling to another dog name, e.g. deacon/dogs/rex",
            identity.address
        );
    }
    if town.config.roles.dog.is_none() {
        bail!(
            "dogs have no runtime (`[roles] dog` is not set in {}), so nothing would ever work a bead on {}'s hook: set it (e.g. `dog = \"claude\"` under `[roles]`) and restart `gastown run`, or sling to a rig, a polecat, crew or the mayor",
            town.root.join(crate::town::CONFIG_FILE).display(),
            identity.address
        );
    }
    Ok(())
}

/// The polecat a bead slung to a rig goes to.
fn polecat_for(ledger: &Ledger, rig: &Rig, bead: &Bead) -> Result<Target> {
    let prefix = format!("{}/polecats/", rig.name());
    if bead.status == Status::Hooked && bead.assignee.starts_with(&prefix) {
        return Ok(Target::AlreadyThere(AgentIdentity::parse(&bead.assignee)?));
    }
    let working = working_polecats(ledger, rig.name())?;
    if working.len() >= rig.config.max_polecats {
        return Ok(Target::Queued(rig.name().to_string()));
    }
    // Reuse an idle polecat whose last merge is confirmed; else name a new one.
    let busy = busy_polecats(ledger, rig.name())?;
    let mut present = rig.polecats_present()?;
    present.sort();
    let idle = present.into_iter().find(|p| !busy.contains(p));
    let name = match idle {
        Some(name) => name,
        None => rig::next_free_polecat_name(rig, &busy).with_context(|| {
            format!(
                "rig {} has no free polecat name: add names to polecat_names in its rig.toml",
                rig.name()
            )
        })?,
    };
    Ok(Target::Agent(AgentIdentity::parse(&format!(
        "{prefix}{name}"
    ))?))
}

/// Polecat names of `rig` with work on their hook.
pub(super) fn working_polecats(ledger: &Ledger, rig: &str) -> Result<Vec<String>> {
    let prefix = format!("{rig}/polecats/");
    Ok(ledger
        .list(&ListFilter {
            status: Some(Status::Hooked),
            ..ListFilter::default()
        })?
        .into_iter()
        .filter_map(|b| b.assignee.strip_prefix(&prefix).map(str::to_string))
        .collect())
}

/// Polecats that cannot take new work: hooked, with a merge request still open, or stuck (it
/// cannot start: the deacon released its work so another polecat takes it).
fn busy_polecats(ledger: &Ledger, rig: &str) -> Result<Vec<String>> {
    let mut busy = working_polecats(ledger, rig)?;
    let prefix = format!("{rig}/polecats/");
    for mr in crate::refinery::open_merge_requests(ledger)? {
        if let Some(name) = mr.worker.strip_prefix(&prefix) {
            busy.push(name.to_string());
        }
    }
    let agents = ledger.list(&ListFilter {
        issue_type: Some(gastown_beads::IssueType::Agent),
        ..ListFilter::default()
    })?;
    for agent in agents {
        let address = crate::agents::address_of(&agent);
        if let Some(name) = address.strip_prefix(&prefix)
            && crate::agents::AgentRecord::from_bead(&agent).is_ok_and(|a| a.stuck().is_some())
        {
            busy.push(name.to_string());
        }
    }
    busy.sort();
    busy.dedup();
    Ok(busy)
}
