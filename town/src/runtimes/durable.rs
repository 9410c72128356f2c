//! The runtime of an identity is durable: decided once, recorded on its agent bead, and used by
//! every later start of that identity — a restart of its session, the GUPP patrol, a restart of
//! `gastown run`, a handoff. Nothing substitutes another runtime behind the user's back.
//!
//! The decision, made in the ledger by `sling` (so it holds with no supervisor up) and by
//! `agent spawn`:
//!
//! 1. the `--runtime` flag;
//! 2. the runtime the bead itself asked for (`--runtime` given when it went to a rig's dispatch
//!    queue, kept in its `runtime` field);
//! 3. the runtime recorded for the identity (a rework re-sling carries no flag) — except for a
//!    polecat the rig picked for new work: a reused polecat does not carry its last runtime
//!    into work nobody asked that runtime for;
//! 4. the rig's `runtime` (rig.toml);
//! 5. the town's `default_agent` (town.toml).
//!
//! With none of them the sling is refused and says how to choose: there is no silent `sim`.

use super::{Origin, RuntimeError, by_name, rig_runtime};
use crate::agents;
use crate::identity::AgentIdentity;
use crate::town::Town;
use gastown_beads::{Bead, Ledger};
use std::path::Path;

/// The field of a work bead that holds the runtime it asked for.
pub const REQUESTED_RUNTIME: &str = "runtime";

/// What the caller knows when a runtime is decided.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask<'a> {
    /// `--runtime`.
    pub flag: Option<&'a str>,
    /// The bead the identity is to work (it may have asked for a runtime).
    pub bead: Option<&'a Bead>,
    /// Whether the identity's recorded runtime counts: yes when the identity itself was named
    /// or is resumed; no for a polecat the rig picked for new work.
    pub use_recorded: bool,
}

/// Which runtime an identity runs, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub name: String,
    pub origin: Origin,
}

/// Decide the runtime of `identity` (see the module docs). The name must be one the town
/// knows; town.toml is read afresh (`town` is used if it has become unreadable).
pub fn decide(
    ledger: &Ledger,
    town: &Town,
    identity: &AgentIdentity,
    ask: Ask<'_>,
) -> anyhow::Result<Decision> {
    let fresh = Town::load(&town.root);
    let town = fresh.as_ref().unwrap_or(town);
    let requested = ask.bead.and_then(|b| {
        b.extra
            .get(REQUESTED_RUNTIME)
            .and_then(|v| v.as_str())
            .filter(|r| !r.is_empty())
            .map(|r| (r.to_string(), Origin::Bead(b.id.clone())))
    });
    let recorded = match ask.use_recorded {
        true => agents::find(ledger, &identity.address)?
            .and_then(|agent| agent.runtime)
            .map(|r| (r, Origin::Recorded)),
        false => None,
    };
    let chosen = match (ask.flag, requested, recorded) {
        (Some(flag), _, _) => (flag.to_string(), Origin::Flag),
        (None, Some(requested), _) => requested,
        (None, None, Some(recorded)) => recorded,
        (None, None, None) => configured(town, identity)?,
    };
    let (name, origin) = chosen;
    check_name(town, &name, &origin)?;
    Ok(Decision { name, origin })
}

/// [`decide`], then record the decision on the identity's agent bead.
pub fn decide_and_record(
    ledger: &mut Ledger,
    town: &Town,
    identity: &AgentIdentity,
    ask: Ask<'_>,
) -> anyhow::Result<Decision> {
    let decision = decide(ledger, town, identity, ask)?;
    agents::record_runtime(ledger, identity, &decision.name)?;
    Ok(decision)
}

/// The rig's runtime, else the town's default; none is an error that says how to choose.
fn configured(town: &Town, identity: &AgentIdentity) -> Result<(String, Origin), RuntimeError> {
    if let Some(rig) = identity.rig.as_deref()
        && let Some(name) = rig_runtime(town, rig)?
    {
        return Ok((name, Origin::Rig(rig.to_string())));
    }
    if let Some(name) = &town.config.default_agent {
        return Ok((name.clone(), Origin::TownDefault));
    }
    Err(RuntimeError::NoRuntime {
        who: identity.address.clone(),
    })
}

/// A name the town can build a runtime from, with an error that says where the name came from.
fn check_name(town: &Town, name: &str, origin: &Origin) -> Result<(), RuntimeError> {
    // The executable only matters for running `sim`; here only the name is checked.
    by_name(town, name, Path::new("gastown"))
        .map(|_| ())
        .map_err(|e| match e {
            RuntimeError::Unknown { name, known, .. } => RuntimeError::Unknown {
                name,
                origin: origin.to_string(),
                known,
            },
            other => other,
        })
}
