//! Convoys: delivery units that track beads across rigs so the overseer can follow a piece of
//! work to the end.
//!
//! A convoy is a bead of type `convoy` (title = its name) with a `tracks` dependency on each bead
//! it follows. `tracks` is a link, not a blocker: tracking never changes a bead's readiness. A
//! convoy lands (closes itself) once every bead it tracks is closed; the overseer then gets a mail
//! and, for convoys created with `--notify`, a terminal bell and the town's notify command (see
//! [`notify`]). Nothing here keeps state outside the ledger, so any process holding the ledger
//! (the CLI, or the supervisor's ledger actor) can create, inspect and land convoys.

mod notify;
mod progress;

pub use notify::{ConvoyLanded, announce, on_bead_closed, run_notify_command, sweep};
pub use progress::{Progress, Tracked, ago, progress};

use anyhow::{Result, bail};
use gastown_beads::{Bead, DepKind, IssueType, Ledger, ListFilter, NewBead};
use serde_json::{Map, Value, json};

/// The convoy bead's field saying the overseer asked to be notified (`--notify`).
const NOTIFY_FIELD: &str = "convoy_notify";

/// Is the bead a convoy?
pub fn is_convoy(bead: &Bead) -> bool {
    bead.issue_type == IssueType::Convoy
}

/// Did the overseer ask for a bell and the notify command when this convoy lands?
pub fn wants_notify(convoy: &Bead) -> bool {
    convoy
        .extra
        .get(NOTIFY_FIELD)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Ids of the beads a convoy tracks, in the order they were added.
pub fn tracked_ids(convoy: &Bead) -> Vec<String> {
    convoy
        .dependencies
        .iter()
        .filter(|d| d.kind == DepKind::Tracks)
        .map(|d| d.depends_on_id.clone())
        .collect()
}

/// Convoys not closed yet (with `all`, closed ones too), oldest first.
pub fn convoys(ledger: &Ledger, all: bool) -> Result<Vec<Bead>> {
    let mut found = ledger.list(&ListFilter {
        issue_type: Some(IssueType::Convoy),
        all,
        ..ListFilter::default()
    })?;
    found.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    Ok(found)
}

/// Open convoys that track `bead_id`.
pub fn convoys_tracking(ledger: &Ledger, bead_id: &str) -> Result<Vec<Bead>> {
    Ok(convoys(ledger, false)?
        .into_iter()
        .filter(|c| tracked_ids(c).iter().any(|t| t == bead_id))
        .collect())
}

/// The convoy `id`; an error that says what to do when there is no such bead or it is not a
/// convoy.
pub fn get_convoy(ledger: &Ledger, id: &str) -> Result<Bead> {
    let Some(bead) = ledger.get(id)? else {
        bail!("no convoy {id:?} in this town: `gastown convoy list --all` shows the convoys");
    };
    if !is_convoy(&bead) {
        bail!(
            "{id} is a {}, not a convoy: `gastown convoy list --all` shows the convoys",
            bead.issue_type
        );
    }
    Ok(bead)
}

/// Check that every id names a bead a convoy may track; returns them without repeats, in order.
fn trackable(ledger: &Ledger, ids: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(bead) = ledger.get(id)? else {
            bail!(
                "no bead {id:?} in this town (nothing was changed): `gastown bead list` shows the ids"
            );
        };
        if is_convoy(&bead) {
            bail!("{id} is a convoy: a convoy tracks work beads, so add {id}'s beads instead");
        }
        if !out.contains(&bead.id) {
            out.push(bead.id);
        }
    }
    Ok(out)
}

/// Create a convoy named `name` tracking `beads` (every one must exist; on any error nothing is
/// created), with the id prefix of the rig it belongs to (`None`: the town's).
pub fn create(
    ledger: &mut Ledger,
    name: &str,
    beads: &[String],
    notify: bool,
    prefix: Option<String>,
    who: &str,
) -> Result<Bead> {
    let name = name.trim();
    if name.is_empty() {
        bail!("a convoy needs a name: `gastown convoy create \"Feature X\" <beads…>`");
    }
    let beads = trackable(ledger, beads)?;
    let mut extra = Map::new();
    extra.insert(NOTIFY_FIELD.to_string(), json!(notify));
    let convoy = ledger.create(
        NewBead {
            title: name.to_string(),
            issue_type: IssueType::Convoy,
            deps: beads.into_iter().map(|b| (DepKind::Tracks, b)).collect(),
            extra,
            prefix,
            ..NewBead::default()
        },
        who,
    )?;
    Ok(convoy)
}

/// Add beads to an open convoy; returns the convoy and the ids that were not tracked before.
pub fn add(
    ledger: &mut Ledger,
    convoy_id: &str,
    beads: &[String],
    who: &str,
) -> Result<(Bead, Vec<String>)> {
    let convoy = get_convoy(ledger, convoy_id)?;
    if convoy.is_closed() {
        bail!(
            "convoy {} ({}) is closed: create a new one with `gastown convoy create`, or reopen it with `gastown bead reopen {}`",
            convoy.id,
            convoy.title,
            convoy.id
        );
    }
    if beads.is_empty() {
        bail!("name the beads to add: `gastown convoy add {convoy_id} <beads…>`");
    }
    let beads = trackable(ledger, beads)?;
    let already = tracked_ids(&convoy);
    let mut added = Vec::new();
    for bead in beads.into_iter().filter(|b| !already.contains(b)) {
        ledger.add_dependency(&convoy.id, &bead, DepKind::Tracks, who)?;
        added.push(bead);
    }
    let convoy = get_convoy(ledger, &convoy.id)?;
    Ok((convoy, added))
}

/// Close a convoy by hand (its beads stay as they are).
pub fn close(
    ledger: &mut Ledger,
    convoy_id: &str,
    reason: Option<&str>,
    who: &str,
) -> Result<Bead> {
    let convoy = get_convoy(ledger, convoy_id)?;
    if convoy.is_closed() {
        bail!("convoy {} ({}) is already closed", convoy.id, convoy.title);
    }
    Ok(ledger.close(&convoy.id, reason.unwrap_or("closed by hand"), who)?)
}

/// An open convoy with tracked beads that are ready work nobody holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stranded {
    pub convoy: String,
    pub name: String,
    /// Ready, open, on nobody's hook, in no dispatch queue.
    pub beads: Vec<String>,
}

/// Convoys stranded with ready work nobody was given, oldest convoy first: what the deacon's
/// patrol is to sling or tell the mayor of (`gastown convoy list` shows the same per convoy).
pub fn stranded(ledger: &Ledger) -> Result<Vec<Stranded>> {
    let ready: std::collections::HashSet<String> = ledger.ready_ids()?.into_iter().collect();
    let mut out = Vec::new();
    for convoy in convoys(ledger, false)? {
        let mut beads = Vec::new();
        for id in tracked_ids(&convoy)
            .into_iter()
            .filter(|id| ready.contains(id))
        {
            let unheld = ledger.get(&id)?.is_some_and(|b| {
                b.assignee.is_empty() && !b.labels.iter().any(|l| l.starts_with("dispatch:"))
            });
            if unheld {
                beads.push(id);
            }
        }
        if !beads.is_empty() {
            out.push(Stranded {
                convoy: convoy.id,
                name: convoy.title,
                beads,
            });
        }
    }
    Ok(out)
}

/// `gastown sling`'s convoy: unless the slung bead is already tracked by an open convoy, create
/// one named after it, with `prefix` (the rig's the bead was slung into; `None`: the town's).
/// Says what it did in the sling's output.
pub fn auto_for_sling(
    ledger: &mut Ledger,
    bead: &Bead,
    prefix: Option<String>,
    who: &str,
    out: &mut crate::work::Outcome,
) -> Result<()> {
    if bead.issue_type.is_coordination() {
        return Ok(());
    }
    if let Some(existing) = convoys_tracking(ledger, &bead.id)?.first() {
        out.text.push_str(&format!(
            "tracked by convoy {} ({})\n",
            existing.id, existing.title
        ));
        return Ok(());
    }
    let name = if bead.title.trim().is_empty() {
        &bead.id
    } else {
        &bead.title
    };
    let tracked = std::slice::from_ref(&bead.id);
    let convoy = create(ledger, name, tracked, false, prefix, who)?;
    out.text.push_str(&format!(
        "created convoy {} tracking {} (--no-convoy skips this)\n",
        convoy.id, bead.id
    ));
    Ok(())
}

#[cfg(test)]
mod tests;

/// What the deacon's patrol does with one stranded bead ([`feed_plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// Sling `bead` into `rig` (its polecat pool, or its dispatch queue when full).
    Sling {
        convoy: String,
        bead: String,
        rig: String,
    },
    /// No rig fits `bead`: the mayor is told (an escalation).
    NoRig { convoy: String, bead: String },
}

/// The deacon's plan for stranded convoys: each ready bead nobody holds goes to the rig it
/// belongs to — the rig whose prefix its id has, else the rig whose prefix the convoy's id has
/// (a sling into a rig makes its convoy with the rig's prefix), else the town's only rig — or,
/// when none fits, is told to the mayor. A rig whose rig.toml is broken is left out (it cannot
/// take work), and then no bead goes to "the only rig" by default.
pub fn feed_plan(ledger: &Ledger, town: &crate::town::Town) -> Result<Vec<Feed>> {
    let all = crate::rig::Rig::list_each(town)?;
    let broken = all.iter().any(|(_, rig)| rig.is_err());
    let rigs: Vec<crate::rig::Rig> = all.into_iter().filter_map(|(_, rig)| rig.ok()).collect();
    let rig_by_prefix = |id: &str| {
        rigs.iter()
            .filter(|r| gastown_beads::id::has_prefix(id, &r.config.prefix))
            .max_by_key(|r| r.config.prefix.len())
            .map(|r| r.name().to_string())
    };
    let mut plan = Vec::new();
    for s in stranded(ledger)? {
        for bead in s.beads {
            let rig = rig_by_prefix(&bead)
                .or_else(|| rig_by_prefix(&s.convoy))
                .or_else(|| match rigs.as_slice() {
                    [only] if !broken => Some(only.name().to_string()),
                    _ => None,
                });
            plan.push(match rig {
                Some(rig) => Feed::Sling {
                    convoy: s.convoy.clone(),
                    bead,
                    rig,
                },
                None => Feed::NoRig {
                    convoy: s.convoy.clone(),
                    bead,
                },
            });
        }
    }
    Ok(plan)
}
