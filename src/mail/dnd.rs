//! Do-not-disturb: while on, the router holds an identity's mail instead of typing it into its
//! session (urgent mail included; it waits in the inbox and for `mail check`).
//!
//! The state is the `dnd` label on the identity's agent bead: a bead of type `agent` whose
//! `address` field (or, failing that, its title) is the address. `gastown dnd on` creates that
//! bead when the identity has none yet. Whoever else creates agent beads should look for an
//! existing one first with [`agent_bead`].
//!
//! [`is_dnd`] is on the router's path for every mail, so it reads a per-process cache of the DND
//! set, loaded from the ledger once per town and kept current by [`dnd`]. The ledger is written
//! by one process at a time (its lock), so the cache of that process stays right; a label
//! changed by hand with `gastown bead label` is seen after the supervisor restarts.

use super::OVERSEER;
use anyhow::{Result, bail};
use gastown_beads::{Bead, IssueType, Ledger, ListFilter, NewBead};
use serde_json::{Map, Value};
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

/// The agent bead of `address`, if any.
pub fn agent_bead(ledger: &Ledger, address: &str) -> Result<Option<Bead>> {
    Ok(agent_beads(ledger)?
        .into_iter()
        .find(|b| address_of(b) == address))
}

fn agent_beads(ledger: &Ledger) -> Result<Vec<Bead>> {
    Ok(ledger.list(&ListFilter {
        issue_type: Some(IssueType::Agent),
        ..ListFilter::default()
    })?)
}

/// The address an agent bead stands for.
fn address_of(bead: &Bead) -> &str {
    bead.extra
        .get("address")
        .and_then(Value::as_str)
        .unwrap_or(&bead.title)
}

fn load(ledger: &Ledger) -> Result<HashSet<String>> {
    Ok(agent_beads(ledger)?
        .iter()
        .filter(|b| b.labels.iter().any(|l| l == DND))
        .map(|b| address_of(b).to_string())
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

/// `gastown dnd on|off` for the caller `who`.
pub fn dnd(ledger: &mut Ledger, who: &str, on: bool) -> Result<String> {
    if who == OVERSEER {
        bail!(
            "do-not-disturb is for agent sessions: run `gastown dnd` from inside one (GASTOWN_AGENT)"
        );
    }
    let bead = match agent_bead(ledger, who)? {
        Some(b) => b,
        None if !on => return Ok(format!("{who}: do-not-disturb is off\n")),
        None => {
            let mut extra = Map::new();
            extra.insert("address".to_string(), Value::String(who.to_string()));
            let bead = ledger.create(
                NewBead {
                    title: who.to_string(),
                    issue_type: IssueType::Agent,
                    priority: 2,
                    extra,
                    ..NewBead::default()
                },
                who,
            )?;
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
