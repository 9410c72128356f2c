//! One agent bead per identity: folding the extra agent beads older ledgers may hold.
//!
//! Before identities had ids derived from their address, `gastown dnd on` created a second agent
//! bead (a random id) for an identity that `sling` had already given one, or the other way round.
//! [`merge_duplicates`] keeps the bead with the derived id (creating it when only a stray one
//! exists), copies over what the others know that it does not (labels such as `dnd`, `extra`
//! fields), and closes the others as duplicates, naming the one kept. `gastown run` calls it
//! when it opens the ledger; `gastown doctor` reports what it would fold ([`find_duplicates`],
//! check `duplicate-agents`) and `--fix` calls it.

use super::{AgentRecord, address_of, agent_bead_id};
use gastown_beads::{Bead, DepKind, IssueType, Ledger, LedgerError, ListFilter};
use serde_json::Map;
use std::collections::BTreeMap;

/// The close reason of a folded duplicate starts with this.
pub const DUPLICATE_OF: &str = "duplicate of";

/// An identity with open agent beads other than the one derived from its address: what
/// [`merge_duplicates`] folds (`gastown doctor` reports them, check `duplicate-agents`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicates {
    pub address: String,
    /// The id derived from the address (the bead kept; made from a stray when missing).
    pub canonical: String,
    /// Whether the bead with the derived id exists.
    pub canonical_exists: bool,
    /// The other open agent beads of the identity.
    pub strays: Vec<String>,
}

/// Every identity with open agent beads to fold, by address (read-only).
pub fn find_duplicates(ledger: &Ledger) -> Result<Vec<Duplicates>, LedgerError> {
    Ok(groups(ledger)?
        .into_iter()
        .map(|(address, canonical, beads)| {
            let canonical_exists = beads.iter().any(|b| b.id == canonical);
            let strays = beads
                .into_iter()
                .filter(|b| b.id != canonical)
                .map(|b| b.id)
                .collect();
            Duplicates {
                address,
                canonical,
                canonical_exists,
                strays,
            }
        })
        .collect())
}

/// The open agent beads of each identity that has a stray one: `(address, derived id, beads)`.
fn groups(ledger: &Ledger) -> Result<Vec<(String, String, Vec<Bead>)>, LedgerError> {
    let prefix = ledger.config().prefix.clone();
    let agents = ledger.list(&ListFilter {
        issue_type: Some(IssueType::Agent),
        ..ListFilter::default()
    })?;
    let mut by_address: BTreeMap<String, Vec<Bead>> = BTreeMap::new();
    for bead in agents {
        by_address
            .entry(address_of(&bead).to_string())
            .or_default()
            .push(bead);
    }
    Ok(by_address
        .into_iter()
        .filter_map(|(address, beads)| {
            let canonical = agent_bead_id(&prefix, &address);
            beads
                .iter()
                .any(|b| b.id != canonical)
                .then_some((address, canonical, beads))
        })
        .collect())
}

/// Fold every open agent bead whose id is not the one derived from its address into the bead
/// that has it. Returns the addresses that had duplicates.
pub fn merge_duplicates(ledger: &mut Ledger) -> Result<Vec<String>, LedgerError> {
    let mut merged = Vec::new();
    for (address, canonical, beads) in groups(ledger)? {
        let strays: Vec<Bead> = beads.into_iter().filter(|b| b.id != canonical).collect();
        let kept = canonical_bead(ledger, &canonical, &address, &strays[0])?;
        for stray in &strays {
            fold(ledger, &kept, stray)?;
        }
        merged.push(address);
    }
    Ok(merged)
}

/// The bead with the derived id, made from the first stray when it does not exist yet.
fn canonical_bead(
    ledger: &mut Ledger,
    id: &str,
    address: &str,
    first: &Bead,
) -> Result<Bead, LedgerError> {
    if let Some(bead) = ledger.get(id)? {
        return Ok(bead);
    }
    let mut extra = first.extra.clone();
    extra.extend(AgentRecord::address_field(address).into_extra());
    let new = gastown_beads::NewBead {
        title: address.to_string(),
        issue_type: IssueType::Agent,
        priority: first.priority,
        extra,
        ..gastown_beads::NewBead::default()
    };
    ledger.create_with_id(id, new, "gastown")
}

/// Copy what `stray` knows and `kept` does not into `kept`, then close `stray` as its duplicate.
fn fold(ledger: &mut Ledger, kept: &Bead, stray: &Bead) -> Result<(), LedgerError> {
    for label in &stray.labels {
        ledger.add_label(&kept.id, label, "gastown")?;
    }
    let current = ledger.get(&kept.id)?.unwrap_or_else(|| kept.clone());
    let missing: Map<String, serde_json::Value> = stray
        .extra
        .iter()
        .filter(|(k, _)| !current.extra.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !missing.is_empty() {
        ledger.set_extra(&kept.id, missing, "gastown")?;
    }
    ledger.add_dependency(&stray.id, &kept.id, DepKind::Duplicates, "gastown")?;
    ledger.close(&stray.id, &format!("{DUPLICATE_OF} {}", kept.id), "gastown")?;
    Ok(())
}
