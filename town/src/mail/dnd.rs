//! Do-not-disturb: while on, the router holds an identity's mail instead of typing it into its
//! session (urgent mail included; it waits in the inbox and for `mail check`).
//!
//! The state is the `dnd` label on the identity's agent bead — the one bead per identity, with
//! the id derived from its address (`crate::agents`). `gastown dnd on` creates it when
//! the identity has none yet, exactly as `sling` would, so the two never make two beads for one
//! identity (older ledgers that have two are folded by `gastown run`, see
//! `agents::merge_duplicates`).
//!
//! [`is_dnd`] is on the router's path for every mail, so it reads a per-process cache of the DND
//! set, loaded from the ledger once per town and kept current by [`dnd`]. The ledger is written
//! by one process at a time (its lock), so the cache of that process stays right; a label
//! changed by hand with `gastown bead label` is seen after the supervisor restarts.

use crate::agents;
use crate::identity::AgentIdentity;
use anyhow::Result;
use gastown_beads::{Bead, IssueType, Ledger, ListFilter};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// The label on an agent bead while its identity is in do-not-disturb.
pub const DND: &str = "dnd";

type Cache = HashMap<PathBuf, HashSet<String>>;

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn key(ledger: &Ledger) -> PathBuf {
    ledger.config().index_path.clone()
}

fn agent_beads(ledger: &Ledger) -> Result<Vec<Bead>> {
    Ok(ledger.list(&ListFilter {
        issue_type: Some(IssueType::Agent),
        ..ListFilter::default()
    })?)
}

fn load(ledger: &Ledger) -> Result<HashSet<String>> {
    Ok(agent_beads(ledger)?
        .iter()
        .filter(|b| b.labels.iter().any(|l| l == DND))
        .map(|b| agents::address_of(b).to_string())
        .collect())
}

/// Is `address` in do-not-disturb? (False when the ledger cannot be read: mail then flows.)
pub fn is_dnd(ledger: &Ledger, address: &str) -> bool {
    let Ok(mut cache) = cache().lock() else {
        return false;
    };
    let k = key(ledger);
    if !cache.contains_key(&k) {
        let Ok(set) = load(ledger) else { return false };
        cache.insert(k.clone(), set);
    }
    cache.get(&k).is_some_and(|s| s.contains(address))
}

/// `gastown dnd on|off` for `identity` (the caller decides who may set whose: see
/// `command::mail::dnd`).
pub fn dnd(ledger: &mut Ledger, identity: &AgentIdentity, on: bool) -> Result<String> {
    let who = identity.address.as_str();
    // A ledger from before identities had derived ids may hold a stray agent bead for `who`.
    agents::merge_duplicates(ledger)?;
    let bead = match agents::find(ledger, who)? {
        Some(b) => b,
        None if !on => return Ok(format!("{who}: do-not-disturb is off\n")),
        None => {
            let bead = agents::ensure(ledger, identity)?;
            super::index::note(ledger, &bead, true);
            bead
        }
    };
    if on {
        ledger.add_label(&bead.id, DND, who)?;
    } else {
        ledger.remove_label(&bead.id, DND, who)?;
    }
    if let Ok(mut cache) = cache().lock() {
        let k = key(ledger);
        let set = match cache.remove(&k) {
            Some(set) => Some(set),
            None => load(ledger).ok(),
        };
        if let Some(mut set) = set {
            if on {
                set.insert(who.to_string());
            } else {
                set.remove(who);
            }
            cache.insert(k, set);
        }
    }
    let state = if on {
        "on: mail is held until `gastown dnd off`"
    } else {
        "off"
    };
    Ok(format!("{who}: do-not-disturb is {state}\n"))
}
