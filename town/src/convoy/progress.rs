//! A convoy's progress: each tracked bead with its status and, for the ones still open, what
//! holds it — who has it on their hook and for how long, whether its molecule moved, whether it
//! waits in a merge queue or a dispatch queue.

use super::{get_convoy, tracked_ids, wants_notify};
use crate::refinery::{MergeRequest, open_merge_requests};
use anyhow::Result;
use gastown_beads::time::{now_unix_nanos, parse_rfc3339};
use gastown_beads::{Bead, EventKind, Ledger, Status};
use serde::{Deserialize, Serialize};

/// One tracked bead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tracked {
    pub id: String,
    pub title: String,
    /// Its status (`missing` when the ledger has no such bead).
    pub status: String,
    pub assignee: String,
    /// Closed (or deleted): it no longer holds the convoy.
    pub done: bool,
    /// For a bead that holds the convoy: what holds it, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

/// A convoy and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub id: String,
    pub name: String,
    pub status: String,
    pub notify: bool,
    /// Tracked beads that are done.
    pub closed: usize,
    /// Tracked beads in all.
    pub total: usize,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub close_reason: String,
    pub beads: Vec<Tracked>,
}

impl Progress {
    /// The tracked beads that keep an open convoy from landing.
    pub fn holders(&self) -> impl Iterator<Item = &Tracked> {
        self.beads.iter().filter(|t| !t.done)
    }
}

/// The progress of convoy `id`.
pub fn progress(ledger: &Ledger, id: &str) -> Result<Progress> {
    let convoy = get_convoy(ledger, id)?;
    let merge_requests = open_merge_requests(ledger)?;
    let now = now_unix_nanos();
    let mut beads = Vec::new();
    for tracked in tracked_ids(&convoy) {
        beads.push(match ledger.get(&tracked)? {
            Some(bead) => describe(ledger, &bead, &merge_requests, now),
            None => Tracked {
                id: tracked,
                title: String::new(),
                status: "missing".to_string(),
                assignee: String::new(),
                done: false,
                held: Some("missing from this town's ledger".to_string()),
            },
        });
    }
    Ok(Progress {
        closed: beads.iter().filter(|b| b.done).count(),
        total: beads.len(),
        notify: wants_notify(&convoy),
        id: convoy.id,
        name: convoy.title,
        status: convoy.status.to_string(),
        created_at: convoy.created_at,
        closed_at: convoy.closed_at,
        close_reason: convoy.close_reason,
        beads,
    })
}

fn describe(ledger: &Ledger, bead: &Bead, mrs: &[MergeRequest], now: i128) -> Tracked {
    let done = bead.is_closed() || bead.status == Status::Tombstone;
    Tracked {
        id: bead.id.clone(),
        title: bead.title.clone(),
        status: bead.status.to_string(),
        assignee: bead.assignee.clone(),
        done,
        held: (!done).then(|| holder(ledger, bead, mrs, now)),
    }
}

/// What keeps a bead open, in words (e.g. "hooked by alpha/polecats/nux for 3h, no progress").
fn holder(ledger: &Ledger, bead: &Bead, mrs: &[MergeRequest], now: i128) -> String {
    if let Some(mr) = mrs.iter().find(|m| m.source_bead == bead.id) {
        return format!(
            "done by {}, merge request {} waits in {}'s merge queue",
            mr.worker, mr.id, mr.rig
        );
    }
    let who = if bead.assignee.is_empty() {
        "nobody".to_string()
    } else {
        bead.assignee.clone()
    };
    match bead.status {
        Status::Hooked => {
            let since = hooked_since(ledger, bead);
            let age = since
                .map(|t| ago(now, t))
                .unwrap_or_else(|| "a while".into());
            format!(
                "hooked by {who} for {age}, {}",
                molecule_progress(ledger, bead, since, now)
            )
        }
        Status::InProgress => format!("in progress by {who}"),
        Status::Blocked => "blocked: `gastown bead show` names its blockers".to_string(),
        Status::Deferred => "deferred".to_string(),
        _ => match bead.labels.iter().find_map(|l| l.strip_prefix("dispatch:")) {
            Some(rig) => format!("waiting in {rig}'s dispatch queue for a free polecat"),
            None if !bead.assignee.is_empty() => format!("assigned to {who}, not on a hook"),
            None => format!("not slung: `gastown sling {} <rig>`", bead.id),
        },
    }
}

/// When the bead last went onto a hook (from its audit trail; else its last update).
fn hooked_since(ledger: &Ledger, bead: &Bead) -> Option<i128> {
    let events = ledger.events(&bead.id).unwrap_or_default();
    events
        .iter()
        .rev()
        .find(|e| e.kind == EventKind::StatusChanged && e.new.as_deref() == Some("hooked"))
        .and_then(|e| parse_rfc3339(&e.at))
        .or_else(|| parse_rfc3339(&bead.updated_at))
}

/// How far the bead's molecule got since it was hooked.
fn molecule_progress(ledger: &Ledger, bead: &Bead, since: Option<i128>, now: i128) -> String {
    let Some(mol_id) = crate::molecule::record::attached_molecule(bead)
        .ok()
        .flatten()
    else {
        return "no molecule to measure progress by".to_string();
    };
    let Ok(molecule) = crate::molecule::load(ledger, mol_id) else {
        return format!("its molecule {mol_id} cannot be read");
    };
    let last = molecule
        .steps
        .iter()
        .filter_map(|s| s.bead.closed_at.as_deref().and_then(parse_rfc3339))
        .filter(|t| since.is_none_or(|s| *t >= s))
        .max();
    let total = molecule.steps.len();
    match last {
        None => format!("no progress (0/{total} steps since hooked)"),
        Some(t) => format!(
            "{}/{total} steps done, last {} ago",
            molecule.done(),
            ago(now, t)
        ),
    }
}

/// `now - then` as a short duration: `40s`, `12m`, `3h`, `2d`.
pub fn ago(now: i128, then: i128) -> String {
    let secs = ((now - then).max(0) / 1_000_000_000) as u64;
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::ago;

    #[test]
    fn ago_is_short_and_never_negative() {
        let s = 1_000_000_000i128;
        assert_eq!(ago(0, 5 * s), "0s");
        assert_eq!(ago(59 * s, 0), "59s");
        assert_eq!(ago(61 * s, 0), "1m");
        assert_eq!(ago(3 * 3600 * s + 5, 0), "3h");
        assert_eq!(ago(50 * 3600 * s, 0), "2d");
    }
}
