//! `gastown sling <bead> <target>`: put work on an agent's hook and get a session on it.
//!
//! Targets: `<rig>` (a polecat of the rig: an idle one is reused, else a new one is named from the
//! rig's pool; at `max_polecats` the bead waits in the rig's dispatch queue), `<rig>/polecats/<n>`,
//! `<rig>/crew/<n>`, `mayor` (when `[roles] mayor` gives it a runtime), `deacon/dogs/<n>` (a dog
//! session, when `[roles] dog` gives dogs a runtime). Idempotent: slinging a
//! bead that is already on the target's hook changes nothing but makes sure a session works on
//! it (with a new `--runtime`, a session of that runtime). An agent holds one bead at a time.
//!
//! The runtime is decided here, in the ledger, and recorded on the identity's agent bead (see
//! `runtimes::decide`): every later start of the identity uses it.
//!
//! In three steps ([`crate::steps`]), so that git never runs in the ledger's owner:
//! 1. `sling: plan` (ledger): check the bead, choose the target ([`super::target`]), decide and
//!    record its runtime — or finish here (already hooked there, or queued);
//! 2. outside: make the polecat's worktree (`git worktree add`) or the crew member's clone;
//! 3. `sling: hook` (ledger): choose the target again — another sling may have taken the
//!    polecat meanwhile, and then the sling plans again; another sling of the same bead may
//!    have hooked it, and then there is nothing left to do — and hook the bead, pour its
//!    molecule, add it to a convoy.
//!
//! The worktree is made under the polecat's workspace lock (`rig::WorkspaceLock`), which the
//! refinery's sandbox removal and a session's start take too.
//!
//! A crash after step 2 leaves a worktree and no hook: the sling was not acknowledged, and
//! running it again reuses that polecat (idle, present). A crash after step 1 leaves only the
//! recorded runtime, which the next decision for that identity reads the same way.

use super::dispatch::{Waits, queue};
use super::hook;
use super::slingable;
use super::target::{Target, target_identity};
use super::{Effect, Outcome};
use crate::identity::{AgentIdentity, Role, is_simple_name};
use crate::rig::{self, Rig};
use crate::runtimes;
use crate::steps::LedgerSteps;
use crate::town::Town;
use anyhow::{Context, Result, bail};
use gastown_beads::{Bead, Ledger};

/// How often a sling plans again when its target was taken while its workspace was made.
const REPLANS: usize = 5;

/// What to sling.
#[derive(Debug, Clone)]
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

/// Sling in its three steps (see the module docs).
pub fn sling<L: LedgerSteps>(
    ledger: &mut L,
    town: &Town,
    req: &SlingRequest,
    who: &str,
) -> Result<Outcome> {
    for _ in 0..REPLANS {
        let (t, r, w) = (town.clone(), req.clone(), who.to_string());
        let plan = match ledger.step("sling: plan", move |l| plan(l, &t, &r, &w))?? {
            Planned::Finished(out) => return Ok(out),
            Planned::Workspace(plan) => plan,
        };
        prepare_workspace(town, &plan.identity, &req.bead)?;
        let (t, r, w) = (town.clone(), req.clone(), who.to_string());
        if let Some(out) =
            ledger.step("sling: hook", move |l| hook_planned(l, &t, &r, plan, &w))??
        {
            return Ok(out);
        }
    }
    bail!(
        "the polecats of {} kept being taken by other slings while {} was slung: run the sling again",
        req.target,
        req.bead
    )
}

/// Sling in one ledger operation, leaving the workspace to the start of the agent's session
/// (which remakes a missing worktree from its branch, or switches it to the branch: see
/// `rig::reconcile`). For work going back to the polecat whose branch it is (rework): its
/// branch exists, so nothing slow has to run in the ledger's owner.
pub fn sling_in_ledger(
    ledger: &mut Ledger,
    town: &Town,
    req: &SlingRequest,
    who: &str,
) -> Result<Outcome> {
    match plan(ledger, town, req, who)? {
        Planned::Finished(out) => Ok(out),
        Planned::Workspace(plan) => hook_planned(ledger, town, req, plan, who)?
            .context("the sling's target changed within one ledger operation"),
    }
}

/// What the plan step decided.
enum Planned {
    /// Nothing more to do (the bead is on the target's hook already, or queued).
    Finished(Outcome),
    /// Make the workspace, then hook.
    Workspace(Plan),
}

/// The target chosen in the plan step, and what was said so far.
struct Plan {
    identity: AgentIdentity,
    out: Outcome,
}

/// The bead to sling, refused when it is missing, closed or no work.
fn slingable_bead(ledger: &Ledger, id: &str) -> Result<Bead> {
    let Some(bead) = ledger.get(id)? else {
        bail!("no bead {id:?} in this town: `gastown bead list` shows the ids");
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
    Ok(bead)
}

/// Step 1: check the bead, choose the target and its runtime.
fn plan(ledger: &mut Ledger, town: &Town, req: &SlingRequest, who: &str) -> Result<Planned> {
    let bead = slingable_bead(ledger, &req.bead)?;
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
            return Ok(Planned::Finished(out));
        }
        Target::Queued(rig) => {
            let budget = budget_gate(ledger, town, &bead, &rig, who, &mut out)?;
            queue(
                ledger,
                town,
                &bead,
                &rig,
                req,
                (who, budget.map_or(Waits::PolecatLimit, Waits::Budget)),
                &mut out,
            )?;
            return Ok(Planned::Finished(out));
        }
    };
    // New work for a rig (its polecats, not an agent named by the sling) waits while a budget
    // of its scope is spent.
    if let Some(rig) = &identity.rig
        && is_simple_name(&req.target)
        && let Some(why) = budget_gate(ledger, town, &bead, rig, who, &mut out)?
    {
        queue(
            ledger,
            town,
            &bead,
            rig,
            req,
            (who, Waits::Budget(why)),
            &mut out,
        )?;
        return Ok(Planned::Finished(out));
    }
    // A sling to an agent by name is the slinger's own choice and goes ahead, but never without
    // saying that the budget it spends from is gone.
    if let Some(rig) = &identity.rig
        && !is_simple_name(&req.target)
        && let Some(why) = budget_gate(ledger, town, &bead, rig, who, &mut out)?
    {
        out.say(format!(
            "note: {why}; new work for rig {rig}'s polecats waits, but a sling to a named agent \
             goes ahead"
        ));
    }
    // A polecat the rig picks for new work does not carry its last runtime into it; an agent
    // named by the sling (crew, a polecat being sent rework) does.
    let named = !is_simple_name(&req.target);
    let runtime = choose_runtime(ledger, town, &identity, req, &bead, named, &mut out)?;
    // New work for a rig's polecat waits while the runtime it would run is at its usage limit.
    if !named
        && let Some(rig) = identity.rig.clone()
        && let Some(limit) = crate::limits::runtime_limited(town, &runtime)
    {
        let why = Waits::Limited(crate::limits::describe(&limit));
        queue(ledger, town, &bead, &rig, req, (who, why), &mut out)?;
        return Ok(Planned::Finished(out));
    }
    Ok(Planned::Workspace(Plan { identity, out }))
}

/// Ask the budget gate (`crate::budget::gate`) whether new work for `rig` may go out today;
/// the escalations it raised are routed (their outside channels become effects). Returns why
/// the bead must wait.
fn budget_gate(
    ledger: &mut Ledger,
    town: &Town,
    bead: &Bead,
    rig: &str,
    who: &str,
    out: &mut Outcome,
) -> Result<Option<String>> {
    let day = crate::costs::record::today();
    let check = crate::budget::gate(ledger, town, rig, &bead.id, &day, who)?;
    for (escalation, outside) in check.raised {
        out.say(format!(
            "escalation {} raised [{}]: {}",
            escalation.id,
            escalation.severity,
            escalation.message.lines().next().unwrap_or("")
        ));
        if !outside.is_empty() {
            out.effects.push(Effect::Escalate {
                escalation: Box::new(escalation),
                outside,
            });
        }
    }
    Ok(check.paused)
}

/// Step 3: the bead goes on the planned agent's hook — unless the target is another one now
/// (`None`: plan again), or another sling hooked it meanwhile (said, nothing more to do).
fn hook_planned(
    ledger: &mut Ledger,
    town: &Town,
    req: &SlingRequest,
    plan: Plan,
    who: &str,
) -> Result<Option<Outcome>> {
    let bead = slingable_bead(ledger, &req.bead)?;
    let Plan { identity, mut out } = plan;
    match target_identity(ledger, town, &bead, &req.target)? {
        Target::Agent(now) if now.address == identity.address => {}
        // Another sling of this bead (the dispatch queue drained from two places) hooked it
        // meanwhile: its own effects start the session.
        Target::AlreadyThere(holder) => {
            out.say(format!(
                "{} is already on {}'s hook (slung meanwhile)",
                bead.id, holder.address
            ));
            return Ok(Some(out));
        }
        _ => return Ok(None),
    }
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
    if bead.extra.contains_key(super::dispatch::DISPATCH_REASON) {
        gastown_beads::ExtraPatch::default()
            .unset(super::dispatch::DISPATCH_REASON)
            .write(ledger, &bead.id, who)?;
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
    Ok(Some(out))
}

/// Decide (and record on its agent bead) the runtime the identity works the bead with; see
/// `runtimes::decide` for the order (`use_recorded`: whether the identity's recorded runtime
/// counts). A `--runtime` is also kept on the bead, so the bead's own choice outlives this
/// identity (a re-sling, the dispatch queue). The mayor runs what `[roles] mayor` says, a dog
/// what `[roles] dog` says (recorded, so `gastown dog list` shows it). Returns its name.
fn choose_runtime(
    ledger: &mut Ledger,
    town: &Town,
    identity: &AgentIdentity,
    req: &SlingRequest,
    bead: &Bead,
    use_recorded: bool,
    out: &mut Outcome,
) -> Result<String> {
    if identity.role == Role::Mayor {
        let configured = town.config.roles.mayor.as_deref().unwrap_or_default();
        if let Some(flag) = req.runtime.as_deref().filter(|f| *f != configured) {
            bail!(
                "the mayor runs {configured} (`[roles] mayor` in town.toml), not {flag}: change it there and restart `gastown run`"
            );
        }
        return Ok(configured.to_string());
    }
    if identity.role == Role::Dog {
        // Checked by the target: dogs run what `[roles] dog` says.
        let configured = town.config.roles.dog.as_deref().unwrap_or_default();
        if let Some(flag) = req.runtime.as_deref().filter(|f| *f != configured) {
            bail!(
                "dogs run {configured} (`[roles] dog` in town.toml), not {flag}: change it there and restart `gastown run`"
            );
        }
        crate::agents::record_runtime(ledger, identity, configured)?;
        out.say(format!(
            "{} runs {configured} ([roles] dog)",
            identity.address
        ));
        if let Some(warning) = missing_program(town, configured) {
            out.say(warning);
        }
        return Ok(configured.to_string());
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
    Ok(decision.name)
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
pub(super) fn request_runtime(
    ledger: &mut Ledger,
    bead: &str,
    runtime: &str,
    who: &str,
) -> Result<()> {
    let mut extra = serde_json::Map::new();
    extra.insert(
        runtimes::REQUESTED_RUNTIME.into(),
        serde_json::json!(runtime),
    );
    ledger.set_extra(bead, extra, who)?;
    Ok(())
}

/// The worktree (polecat) or clone (crew) the identity works in.
fn prepare_workspace(town: &Town, identity: &AgentIdentity, bead: &str) -> Result<()> {
    let Some(rig_name) = &identity.rig else {
        return Ok(());
    };
    let rig = Rig::load(town, rig_name)?;
    // Another sling, a session's start or a sandbox removal may be at the same worktree.
    match identity.role {
        Role::Polecat => {
            let _lock = rig.lock_polecat(&identity.name)?;
            let branch = rig::polecat_branch(&identity.name, bead);
            rig::ensure_polecat_worktree(&rig, &identity.name, &branch)?;
        }
        Role::Crew => {
            let _lock = rig.lock_crew(&identity.name)?;
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
