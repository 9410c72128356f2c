//! The end of a molecule: `squash` condenses it into a closed digest bead that keeps what
//! happened (each step, who closed it, when, why); `burn` discards a wisp without a record.

use super::{MolError, Molecule, Step, StepState, closer, load};
use gastown_beads::ledger::{Ledger, NewBead};
use gastown_beads::{DepKind, IssueType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How to squash.
#[derive(Debug, Clone, Copy, Default)]
pub struct SquashOptions {
    /// Keep the step beads (closed) instead of removing them.
    pub keep_children: bool,
    /// Squash even though steps are not done (they are recorded as not done).
    pub force: bool,
}

/// What a squash did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Squashed {
    pub molecule: String,
    /// The digest bead (persistent, closed).
    pub digest: String,
    /// Step beads closed by the squash (steps not done, with --force).
    pub closed: Vec<String>,
    /// Wisp beads discarded (the molecule and its steps, for a wisp without --keep-children).
    pub burned: Vec<String>,
}

/// What a burn did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Burned {
    pub molecule: String,
    /// The step beads discarded.
    pub steps: Vec<String>,
}

/// Condense molecule `mol_id` into a digest bead. The digest is always persistent (a wisp's
/// outcome is worth keeping); it is of type `event`, labelled `digest`, closed, and links back
/// to a persistent molecule with a `related` dependency (and to any molecule through its extra
/// field `squashed_from`). Then: a wisp molecule and its steps are burnt (kept, closed, with
/// `keep_children`); a persistent molecule is closed and its open steps are closed — the
/// ledger has no delete for persistent beads, so they stay in its history either way.
pub fn squash(
    ledger: &mut Ledger,
    mol_id: &str,
    opts: SquashOptions,
    who: &str,
) -> Result<Squashed, MolError> {
    let mol = super::load_live(ledger, mol_id)?;
    let open: Vec<String> = mol
        .steps
        .iter()
        .filter(|s| s.state != StepState::Done)
        .map(|s| format!("`{}` ({})", s.step, s.bead.id))
        .collect();
    if !open.is_empty() && !opts.force {
        return Err(MolError::Unfinished {
            mol: mol.bead.id.clone(),
            open,
        });
    }
    let digest = ledger.create(digest_bead(ledger, &mol, who)?, who)?;
    ledger.close(&digest.id, &format!("digest of {}", mol.bead.id), who)?;
    let reason = format!("squashed into {}", digest.id);
    let mut out = Squashed {
        molecule: mol.bead.id.clone(),
        digest: digest.id.clone(),
        closed: Vec::new(),
        burned: Vec::new(),
    };
    if mol.bead.ephemeral && !opts.keep_children {
        for step in &mol.steps {
            ledger.burn_wisp(&step.bead.id)?;
            out.burned.push(step.bead.id.clone());
        }
        ledger.burn_wisp(&mol.bead.id)?;
        out.burned.push(mol.bead.id.clone());
        return Ok(out);
    }
    for step in mol.steps.iter().filter(|s| s.state != StepState::Done) {
        ledger.close(&step.bead.id, &reason, who)?;
        out.closed.push(step.bead.id.clone());
    }
    ledger.add_label(&mol.bead.id, "squashed", who)?;
    ledger.close(&mol.bead.id, &reason, who)?;
    Ok(out)
}

pub(super) fn digest_bead(ledger: &Ledger, mol: &Molecule, who: &str) -> Result<NewBead, MolError> {
    let mut rows = Vec::with_capacity(mol.steps.len());
    let mut text = format!(
        "Digest of molecule {} ({}), {}/{} steps done.\nPoured {} by {}; squashed {} by {who}.\n",
        mol.bead.id,
        mol.bead.title,
        mol.done(),
        mol.steps.len(),
        mol.bead.created_at,
        if mol.bead.created_by.is_empty() {
            "unknown"
        } else {
            &mol.bead.created_by
        },
        gastown_beads::time::now_rfc3339(),
    );
    if let Some(vars) = mol
        .poured_from
        .as_ref()
        .map(|p| &p.vars)
        .filter(|v| !v.is_empty())
    {
        let list: Vec<String> = vars
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                )
            })
            .collect();
        text.push_str(&format!("Vars: {}\n", list.join(", ")));
    }
    text.push_str("\nSteps:\n");
    for step in &mol.steps {
        let (line, row) = step_row(ledger, step)?;
        text.push_str(&line);
        text.push('\n');
        rows.push(row);
    }
    if !mol.missing.is_empty() {
        text.push_str(&format!(
            "Missing step beads (interrupted pour): {}\n",
            mol.missing.join(", ")
        ));
    }
    let extra = super::record::digest_fields(&mol.bead, rows).into_extra();
    let mut labels = vec!["digest".to_string()];
    labels.extend(
        mol.bead
            .labels
            .iter()
            .filter(|l| l.starts_with("formula:"))
            .cloned(),
    );
    let deps = if mol.bead.ephemeral {
        Vec::new()
    } else {
        vec![(DepKind::Related, mol.bead.id.clone())]
    };
    Ok(NewBead {
        title: format!("Digest: {}", mol.bead.title),
        description: text,
        issue_type: IssueType::Event,
        priority: mol.bead.priority,
        assignee: mol.bead.assignee.clone(),
        labels,
        deps,
        ephemeral: false,
        extra,
        // The digest is the molecule's record: it keeps the molecule's (perhaps a rig's) prefix.
        prefix: gastown_beads::id::prefix_of(&mol.bead.id).map(str::to_string),
        ..NewBead::default()
    })
}

/// One step in a digest: its line of the description and its row of `steps` — who closed it,
/// when and why, and under `record` the step bead's whole record as it was (title, status,
/// texts, notes, labels, comments, fields), so nothing of the step is lost when the compactor
/// removes the bead.
pub(super) fn step_row(ledger: &Ledger, step: &Step) -> Result<(String, Value), MolError> {
    let (by, at) = closer(ledger, &step.bead.id)?;
    let at = step.bead.closed_at.clone().or(at);
    let line = match (step.state, &at) {
        (StepState::Done, Some(at)) => format!(
            "- {} ({}): {} — done {at} by {}{}",
            step.step,
            step.bead.id,
            step.bead.title,
            by.as_deref().unwrap_or("unknown"),
            reason_suffix(&step.bead.close_reason),
        ),
        _ => format!(
            "- {} ({}): {} — not done ({})",
            step.step, step.bead.id, step.bead.title, step.bead.status
        ),
    };
    let record = serde_json::to_value(&step.bead).expect("a bead always serializes");
    let row = json!({
        "step": step.step,
        "bead": step.bead.id,
        "title": step.bead.title,
        "status": step.bead.status.as_str(),
        "closed_at": at,
        "closed_by": by,
        "close_reason": step.bead.close_reason,
        "record": record,
    });
    Ok((line, row))
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

/// Discard wisp molecule `mol_id` and its steps, leaving no record. A persistent molecule is
/// refused (it is in git; squash it instead).
pub fn burn(ledger: &mut Ledger, mol_id: &str) -> Result<Burned, MolError> {
    let mol = load(ledger, mol_id)?;
    if !mol.bead.ephemeral {
        return Err(MolError::NotAWisp(mol.bead.id));
    }
    let mut steps = Vec::with_capacity(mol.steps.len());
    for step in &mol.steps {
        ledger.burn_wisp(&step.bead.id)?;
        steps.push(step.bead.id.clone());
    }
    ledger.burn_wisp(&mol.bead.id)?;
    Ok(Burned {
        molecule: mol.bead.id,
        steps,
    })
}
