//! Which id prefix a new bead gets: its rig's (`prefix` in `rig.toml`) when it belongs to one
//! rig, else the town's. Beads say where they belong (`alpha-3f2` is work of rig `alpha`);
//! lookups never depend on it, since an id is found by itself whatever its prefix.
//!
//! A bead belongs to a rig when it is filed for it (`bead create --rig`, or from inside the
//! rig's directory), filed by one of its agents (the caller's address has a rig), or is one of
//! the rig's records: its merge requests, the molecules poured for its polecats, the convoy a
//! sling into it makes. Agent beads keep their address-derived ids with the town prefix.

use super::{Result, Rig};
use crate::identity::AgentIdentity;
use crate::town::Town;
use gastown_beads::id::has_prefix;
use std::path::{Component, Path};

/// The bead id prefix of rig `name`; an unknown rig is an error naming it.
pub fn bead_prefix(town: &Town, name: &str) -> Result<String> {
    Ok(Rig::load(town, name)?.config.prefix)
}

/// The prefix of the beads `who` creates (or that are assigned to `who`): its rig's when `who`
/// is an agent of a rig, `None` (the town's) for the overseer and town-level agents. This is
/// the implicit choice, so a rig that does not load (gone, or a broken `rig.toml`) falls back
/// to the town's prefix with a warning in the log rather than failing the caller's command.
pub fn caller_prefix(town: &Town, who: &str) -> Option<String> {
    let identity = AgentIdentity::parse(who).ok()?;
    identity_prefix(town, &identity)
}

/// The prefix for beads that belong to `identity`'s rig, if it has one (see
/// [`caller_prefix`] for a rig that does not load).
pub fn identity_prefix(town: &Town, identity: &AgentIdentity) -> Option<String> {
    let rig = identity.rig.as_deref()?;
    match bead_prefix(town, rig) {
        Ok(prefix) => Some(prefix),
        Err(e) => {
            tracing::warn!(rig, error = %e, "the rig does not load: its beads get the town's prefix");
            None
        }
    }
}

/// The rig whose directory `dir` is in (`<town>/<rig>/…`, a rig being a directory holding
/// `rig.toml`), if any. Both paths are compared canonicalised, so symlinks and `..` do not
/// matter.
pub fn rig_of_dir(town: &Town, dir: &Path) -> Option<String> {
    let root = town.root.canonicalize().ok()?;
    let dir = dir.canonicalize().ok()?;
    let first = match dir.strip_prefix(&root).ok()?.components().next()? {
        Component::Normal(name) => name.to_str()?.to_string(),
        _ => return None,
    };
    root.join(&first)
        .join(super::RIG_CONFIG_FILE)
        .is_file()
        .then_some(first)
}

/// The prefix of the one rig every id in `ids` belongs to (made with its prefix), if there is
/// such a rig; `None` for town beads, beads of several rigs, or no ids.
pub fn shared_rig_prefix(town: &Town, ids: &[String]) -> Result<Option<String>> {
    if ids.is_empty() {
        return Ok(None);
    }
    Ok(Rig::list(town)?
        .into_iter()
        .map(|rig| rig.config.prefix)
        .find(|prefix| ids.iter().all(|id| has_prefix(id, prefix))))
}
