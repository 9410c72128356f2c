//! Address resolution: an address as typed → the identities that receive the mail.
//!
//! Agent addresses (`mayor`, `deacon`, `<rig>/witness`, `<rig>/refinery`,
//! `<rig>/polecats/<name>`, `<rig>/crew/<name>`, `deacon/dogs/<name>`) and `overseer` name one
//! inbox; `@town`, `@witnesses`, `@polecats`, `@crew`, `@<rig>` and user groups fan out;
//! `queue:<name>` and `channel:<name>` name a queue and a channel. An address is *known* when it
//! is a town role, belongs to a rig on disk (`<town>/<rig>/rig.toml`), or was seen in the ledger
//! (agent beads, assignees of hooked beads, senders and recipients of mail). Anything else is
//! refused with the closest known addresses.

use super::{OVERSEER, channel, groups, queue};
use crate::identity::{AgentIdentity, Role};
use anyhow::{Result, bail};
use gastown_beads::{Bead, IssueType, Ledger, ListFilter, Status};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where a mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// One inbox: an agent address or `overseer`.
    One(String),
    /// A group: its address (`@town`) and its members, deduplicated, without the sender.
    Group { group: String, members: Vec<String> },
    /// A queue: its address (`queue:<name>`); the mail waits there for one claimant.
    Queue(String),
    /// A channel: its address (`channel:<name>`) and its subscribers, without the sender.
    Channel {
        channel: String,
        subscribers: Vec<String>,
    },
}

impl Resolved {
    /// The inboxes (assignees) that get one bead each.
    pub fn recipients(&self) -> Vec<String> {
        match self {
            Resolved::One(a) | Resolved::Queue(a) => vec![a.clone()],
            Resolved::Group { members, .. } => members.clone(),
            Resolved::Channel { subscribers, .. } => subscribers.clone(),
        }
    }
}

/// The town's root directory (the ledger's repository).
pub fn town_root(ledger: &Ledger) -> PathBuf {
    ledger.config().repo_path.clone()
}

/// Rigs on disk: directories of the town holding a `rig.toml`.
pub fn rigs_on_disk(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut rigs: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("rig.toml").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|name| crate::identity::is_simple_name(name))
        .collect();
    rigs.sort();
    rigs
}

/// Names of the subdirectories of `dir` that are simple names.
fn names_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| crate::identity::is_simple_name(n))
        .collect()
}

/// Is the address known without reading the ledger (a town role, or on disk)?
fn known_on_disk(root: &Path, id: &AgentIdentity) -> bool {
    let rig_dir = |rig: &Option<String>| rig.as_ref().map(|r| root.join(r));
    match id.role {
        Role::Mayor | Role::Deacon => true,
        Role::Witness | Role::Refinery => {
            rig_dir(&id.rig).is_some_and(|d| d.join("rig.toml").is_file())
        }
        Role::Dog | Role::Polecat | Role::Crew => crate::names::agent_dir(root, id).is_dir(),
    }
}

/// Every known identity: town roles, rigs (and their polecat/crew dirs) on disk, and addresses
/// seen in the ledger. Includes `overseer`.
pub fn known_identities(ledger: &Ledger) -> Result<BTreeSet<String>> {
    let root = town_root(ledger);
    let mut known: BTreeSet<String> = ["mayor", "deacon", OVERSEER].map(String::from).into();
    for rig in rigs_on_disk(&root) {
        known.insert(format!("{rig}/witness"));
        known.insert(format!("{rig}/refinery"));
        for kind in ["polecats", "crew"] {
            for name in names_in(&root.join(&rig).join(kind)) {
                known.insert(format!("{rig}/{kind}/{name}"));
            }
        }
    }
    let all = ledger.list(&ListFilter {
        all: true,
        ..ListFilter::default()
    })?;
    for bead in &all {
        for seen in seen_addresses(bead) {
            if AgentIdentity::parse(&seen).is_ok() {
                known.insert(seen);
            }
        }
    }
    Ok(known)
}

/// Addresses a bead shows to be real identities.
fn seen_addresses(bead: &Bead) -> Vec<String> {
    match bead.issue_type {
        IssueType::Agent => {
            vec![
                bead.title.clone(),
                crate::agents::address_of(bead).to_string(),
            ]
        }
        IssueType::Message => vec![bead.assignee.clone(), super::sender_of(bead)],
        _ if bead.status == Status::Hooked => vec![bead.assignee.clone()],
        _ => Vec::new(),
    }
}

/// Resolve an address for a mail from `who`.
pub fn resolve(ledger: &Ledger, address: &str, who: &str) -> Result<Resolved> {
    let address = address.trim();
    if address == OVERSEER {
        return Ok(Resolved::One(OVERSEER.to_string()));
    }
    if let Some(name) = address.strip_prefix("queue:") {
        if queue::find(ledger, name)?.is_some() {
            return Ok(Resolved::Queue(address.to_string()));
        }
        return Err(unknown(ledger, address, "no such queue"));
    }
    if let Some(name) = address.strip_prefix("channel:") {
        let Some(subscribers) = channel::subscribers(ledger, name)? else {
            return Err(unknown(ledger, address, "no such channel"));
        };
        let subscribers: Vec<String> = subscribers.into_iter().filter(|s| s != who).collect();
        if subscribers.is_empty() {
            bail!(
                "{address} has no subscribers besides you, so nobody would read this mail: \
                 subscribe someone with `gastown mail channel subscribe {name} <address>`"
            );
        }
        return Ok(Resolved::Channel {
            channel: address.to_string(),
            subscribers,
        });
    }
    if let Some(name) = address.strip_prefix('@') {
        let Some(members) = groups::expand(ledger, name)? else {
            return Err(unknown(ledger, address, "no such group"));
        };
        let members: Vec<String> = members.into_iter().filter(|m| m != who).collect();
        if members.is_empty() {
            bail!("{address} has no members besides you: nobody would read this mail");
        }
        return Ok(Resolved::Group {
            group: address.to_string(),
            members,
        });
    }
    match AgentIdentity::parse(address) {
        Ok(id) if address == who || known_on_disk(&town_root(ledger), &id) => {
            Ok(Resolved::One(id.address))
        }
        Ok(id) if known_identities(ledger)?.contains(&id.address) => Ok(Resolved::One(id.address)),
        Ok(_) => Err(unknown(ledger, address, "no such identity in this town")),
        Err(e) => Err(unknown(ledger, address, &e.to_string())),
    }
}

/// Every address a mail can go to: identities, groups, queues and channels.
pub fn all_addresses(ledger: &Ledger) -> Result<BTreeSet<String>> {
    let mut all = known_identities(ledger)?;
    all.extend(groups::names(ledger)?.into_iter().map(|g| format!("@{g}")));
    all.extend(
        queue::names(ledger)?
            .into_iter()
            .map(|q| format!("queue:{q}")),
    );
    all.extend(
        channel::names(ledger)?
            .into_iter()
            .map(|c| format!("channel:{c}")),
    );
    Ok(all)
}

/// The error for an unknown address: why, and the closest real addresses.
fn unknown(ledger: &Ledger, address: &str, why: &str) -> anyhow::Error {
    let candidates = all_addresses(ledger).unwrap_or_default();
    let near = closest(address, &candidates, 5);
    if near.is_empty() {
        anyhow::anyhow!("unknown address {address:?} ({why}): no address in this town is close")
    } else {
        anyhow::anyhow!(
            "unknown address {address:?} ({why}): the closest known addresses are {}",
            near.join(", ")
        )
    }
}

/// The `n` candidates nearest to `address` by edit distance (ties by name).
pub fn closest(address: &str, candidates: &BTreeSet<String>, n: usize) -> Vec<String> {
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .map(|c| (edit_distance(address, c), c))
        .collect();
    scored.sort();
    scored.into_iter().take(n).map(|(_, c)| c.clone()).collect()
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("mayor", "mayor"), 0);
        assert_eq!(edit_distance("mayr", "mayor"), 1);
        assert_eq!(edit_distance("maxor", "mayor"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn closest_orders_by_distance() {
        let c: BTreeSet<String> = ["mayor", "deacon", "alpha/witness"]
            .map(String::from)
            .into();
        assert_eq!(closest("mayr", &c, 2), vec!["mayor", "deacon"]);
    }
}
