//! `gastown sling <bead> <target>`: put work on an agent's hook and get a session on it.
//!
//! Targets: `<rig>` (a polecat of the rig: an idle one is reused, else a new one is named from the
//! rig's pool; at `max_polecats` the bead waits in the rig's dispatch queue), `<rig>/polecats/<n>`,
//! `<rig>/crew/<n>`, `mayor` (when `[roles] mayor` gives it a runtime). Idempotent: slinging a
//! bead that is already on the target's hook changes nothing but makes sure a session works on
//! it (with a new `--runtime`, a session of that runtime). An agent holds one bead at a time.
//!
//! The runtime is decided here, in the ledger, and recorded on the identity's agent bead (see
//! `runtimes::decide`): every later start of the identity uses it.

use super::hook;
use super::slingable;
use super::{Effect, Outcome};
use crate::identity::{AgentIdentity, Role, is_simple_name};
use crate::rig::{self, Rig};
use crate::runtimes;
use crate::town::Town;
use anyhow::{Context, Result, bail};
use gastown_beads::{Bead, Ledger, ListFilter, Status};

/// The label that puts a bead in a rig's dispatch queue.
pub fn queue_label(rig: &str) -> String {
    format!("dispatch:{rig}")
}

/// What to sling.
pub struct SlingRequest {
    pub bead: String,
    pub target: String,
    pub force: bool,
    pub runtime: Option<String>,
    /// `None`: no formula; `Some(None)`: the rig's work formula; `Some(Some(name))`: that one.
    pub formula: Option<Option<String>>,
    /// Do not auto-create a convoy for the bead.
    pub no_convoy: bool,
}

pub fn sling(ledger: &mut Ledger, town: &Town, req: &SlingRequest, who: &str) -> Result<Outcome> {
    let Some(bead) = ledger.get(&req.bead)? else {
        bail!(
            "no bead {:?} in this town: `gastown bead list` shows the ids",
            req.bead
        );
    };
    if bead.is_closed() {
        bail!(
            "bead {} is closed: reopen it first with `gastown bead reopen {}`",
            bead.id,
            bead.id
        );
    }
    // Records that coordinate work are refused; a blocked bead goes out with a warning.
    if let Some(refusal) = slingable::refusal(&bead) {
        bail!(refusal);
    }
    let mut out = Outcome::default();
    if let Some(warning) = slingable::blocked_warning(ledger, &bead)? {
        out.say(warning);
    }
    let identity = match target_identity(ledger, town, &bead, &req.target)? {
        Target::Agent(identity) => identity,
        Target::AlreadyThere(identity) => {
            out.say(format!(
                "{} is already on {}'s hook",
                bead.id, identity.address
            ));
            let continuing = true;
            choose_runtime(ledger, town, &identity, req, &bead, continuing, &mut out)?;
            out.effects.push(Effect::EnsureSession {
                address: identity.address,
            });
            return Ok(out);
        }
        Target::Queued(rig) => {
            queue(ledger, town, &bead, &rig, req, who, &mut out)?;
            return Ok(out);
        }
    };
    // A polecat the rig picks for new work does not carry its last runtime into it; an agent
    // named by the sling (crew, a polecat being sent rework) does.
    let named = !is_simple_name(&req.target);
    choose_runtime(ledger, town, &identity, req, &bead, named, &mut out)?;
    prepare_workspace(town, &identity, &bead.id)?;
    let previous = hook::attach(ledger, &identity, &bead.id, req.force, who)?;
    if let Some(p) = previous {
        out.say(format!("moved {} from {p}'s hook (--force)", bead.id));
        let note = format!("{} was moved to {} by {who}", bead.id, identity.address);
        let _ = crate::mail::store::send_protocol(
            ledger,
            crate::mail::store::ProtocolKind::Handoff,
            &p,
            who,
            &note,
        );
    }
    for label in bead.labels.iter().filter(|l| l.starts_with("dispatch:")) {
        ledger.remove_label(&bead.id, label, who)?;
    }
    if let Some(formula) = &req.formula {
        attach_formula(
            ledger,
            town,
            &identity,
            &bead,
            formula.as_deref(),
            who,
            &mut out,
        )?;
    }
    out.say(format!("slung {} to {}", bead.id, identity.address));
    // Convoys (src/convoy): track the slung bead unless told not to or already tracked.
    if !req.no_convoy {
        let prefix = rig::identity_prefix(town, &identity);
        crate::convoy::auto_for_sling(ledger, &bead, prefix, who, &mut out)?;
    }
    out.effects.push(Effect::EnsureSession {
        address: identity.address,
    });
    Ok(out)
}

/// Decide (and record on its agent bead) the runtime the identity works the bead with; see
/// `runtimes::decide` for the order (`use_recorded`: whether the identity's recorded runtime
/// counts). A `--runtime` is also kept on the bead, so the bead's own choice outlives this
/// identity (a re-sling, the dispatch queue). The mayor runs what `[roles] mayor` says.
fn choose_runtime(
    ledger: &mut Ledger,
    town: &Town,
    identity: &AgentIdentity,
    req: &SlingRequest,
    bead: &Bead,
    use_recorded: bool,
    out: &mut Outcome,
) -> Result<()> {
    if identity.role == Role::Mayor {
        let configured = town.config.roles.mayor.as_deref().unwrap_or_default();
        if let Some(flag) = req.runtime.as_deref().filter(|f| *f != configured) {
            bail!(
                "the mayor runs {configured} (`[roles] mayor` in town.toml), not {flag}: change it there and restart `gastown run`"
            );
        }
        return Ok(());
    }
    let ask = runtimes::Ask {
        flag: req.runtime.as_deref(),
        bead: Some(bead),
        use_recorded,
    };
    let decision = runtimes::decide_and_record(ledger, town, identity, ask)?;
    if let Some(runtime) = &req.runtime {
        request_runtime(ledger, &bead.id, runtime, "gastown")?;
    }
    out.say(format!(
        "{} runs {} ({})",
        identity.address, decision.name, decision.origin
    ));
    if let Some(warning) = missing_program(town, &decision.name) {
        out.say(warning);
    }
    Ok(())
}

/// A warning when the chosen runtime's program cannot be found from here: the bead is hooked
/// all the same (the program may be installed before the session starts), but the user hears
/// of it now rather than from the stuck mail.
fn missing_program(town: &Town, runtime: &str) -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let rt = runtimes::by_name(town, runtime, &exe).ok()?;
    let problem = runtimes::check_program(&rt).err()?;
    Some(format!(
        "warning: {problem}; the bead stays hooked, and the agent is stuck (the mayor and the overseer are told) until its program is there"
    ))
}

/// Keep `runtime` on the bead as the runtime it asked for.
fn request_runtime(ledger: &mut Ledger, bead: &str, runtime: &str, who: &str) -> Result<()> {
    let mut extra = serde_json::Map::new();
    extra.insert(
        runtimes::REQUESTED_RUNTIME.into(),
        serde_json::json!(runtime),
    );
    ledger.set_extra(bead, extra, who)?;
    Ok(())
}

/// Put the bead in the rig's dispatch queue; a `--runtime` goes with it (checked now, used when
/// it is dispatched).
fn queue(
    ledger: &mut Ledger,
    town: &Town,
    bead: &Bead,
    rig: &str,
    req: &SlingRequest,
    who: &str,
    out: &mut Outcome,
) -> Result<()> {
    if let Some(runtime) = &req.runtime {
        runtimes::by_name(town, runtime, std::path::Path::new("gastown"))
            .with_context(|| format!("--runtime {runtime} for {}", bead.id))?;
        request_runtime(ledger, &bead.id, runtime, who)?;
    }
    if !bead.labels.contains(&queue_label(rig)) {
        ledger.add_label(&bead.id, &queue_label(rig), who)?;
    }
    out.say(format!(
        "rig {rig} is at its polecat limit: {} waits in its dispatch queue and goes out when a polecat frees up",
        bead.id
    ));
    Ok(())
}

enum Target {
    Agent(AgentIdentity),
    AlreadyThere(AgentIdentity),
    Queued(String),
}

fn target_identity(ledger: &Ledger, town: &Town, bead: &Bead, target: &str) -> Result<Target> {
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
        bail!(
            "{target} is a dog: dogs run the supervisor's own chores (wisp reaper, compactor, sync) and no agent session, so nothing would ever work a bead on its hook; sling to a rig, a polecat, crew or the mayor"
        );
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
pub fn working_polecats(ledger: &Ledger, rig: &str) -> Result<Vec<String>> {
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

/// Polecats that cannot take new work: hooked, or with a merge request still open.
fn busy_polecats(ledger: &Ledger, rig: &str) -> Result<Vec<String>> {
    let mut busy = working_polecats(ledger, rig)?;
    let prefix = format!("{rig}/polecats/");
    for mr in crate::refinery::open_merge_requests(ledger)? {
        if let Some(name) = mr.worker.strip_prefix(&prefix) {
            busy.push(name.to_string());
        }
    }
    busy.sort();
    busy.dedup();
    Ok(busy)
}

/// The worktree (polecat) or clone (crew) the identity works in.
fn prepare_workspace(town: &Town, identity: &AgentIdentity, bead: &str) -> Result<()> {
    let Some(rig_name) = &identity.rig else {
        return Ok(());
    };
    let rig = Rig::load(town, rig_name)?;
    match identity.role {
        Role::Polecat => {
            let branch = rig::polecat_branch(&identity.name, bead);
            rig::ensure_polecat_worktree(&rig, &identity.name, &branch)?;
        }
        Role::Crew => {
            rig::ensure_crew_clone(&rig, &identity.name)?;
        }
        _ => {}
    }
    Ok(())
}

/// Pour the work formula for the hooked bead (default `mol-polecat-work`), attached to it.
fn attach_formula(
    ledger: &mut Ledger,
    town: &Town,
    identity: &AgentIdentity,
    bead: &Bead,
    formula: Option<&str>,
    who: &str,
    out: &mut Outcome,
) -> Result<()> {
    if identity.role != Role::Polecat && formula.is_none() {
        return Ok(());
    }
    if let Some(existing) = crate::molecule::record::attached_molecule(bead)?
        && ledger.get(existing)?.is_some_and(|m| !m.is_closed())
    {
        return Ok(());
    }
    let name = formula.unwrap_or("mol-polecat-work");
    let rig_dir = identity.rig.as_ref().map(|r| town.root.join(r));
    let library = crate::formulas::library(Some(town), rig_dir.as_deref(), Some(name))?;
    let proto = crate::formulas::cook(&library, name, &[("issue".to_string(), bead.id.clone())])?;
    let poured = crate::molecule::pour(
        ledger,
        &proto,
        &crate::molecule::PourOptions {
            assignee: identity.address.clone(),
            attach: Some(bead.id.clone()),
            prefix: rig::identity_prefix(town, identity),
            ..crate::molecule::PourOptions::default()
        },
        who,
    )?;
    crate::molecule::record::attach_field(&poured.molecule).write(ledger, &bead.id, who)?;
    out.say(format!(
        "attached molecule {} ({}, {} steps)",
        poured.molecule,
        name,
        poured.steps.len()
    ));
    Ok(())
}

/// The oldest bead waiting in `rig`'s dispatch queue, if a polecat is free for it.
pub fn dispatch_queue(
    ledger: &mut Ledger,
    town: &Town,
    rig: &str,
    who: &str,
) -> Result<Option<Outcome>> {
    let mut queued = ledger.list(&ListFilter {
        label: Some(queue_label(rig)),
        ..ListFilter::default()
    })?;
    // Only work goes out: a record labelled into the queue by hand is never handed to a polecat.
    queued.retain(|b| b.status == Status::Open && slingable::is_work(b));
    queued.sort_by(|a, b| (a.priority, &a.created_at).cmp(&(b.priority, &b.created_at)));
    let Some(next) = queued.first() else {
        return Ok(None);
    };
    let request = SlingRequest {
        bead: next.id.clone(),
        target: rig.to_string(),
        force: false,
        runtime: None,
        formula: Some(None),
        no_convoy: false,
    };
    let out = sling(ledger, town, &request, who)?;
    Ok(Some(out))
}
