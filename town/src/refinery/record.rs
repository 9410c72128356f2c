//! The bookkeeping after [`super::land_with`]: what each result means for the ledger, the
//! polecat, the witness, the mayor and the overseer. Idempotent: an MR already closed is left
//! alone, so recording the same outcome twice (or after [`super::recover`]) changes nothing.
//! No git work here (this runs in the ledger's owner): merged sandboxes are returned for the
//! caller to remove once the polecats' sessions have ended, and work sent back for rework is
//! hooked without touching its worktree (its session's start checks it).

use super::problem::{self, RemoteProblem};
use super::queue::MergeRequest;
use super::sandbox::Sandbox;
use super::{LandOutcome, MAX_RETRIES, MrResult};
use crate::convoy::{self, ConvoyLanded};
use crate::mail::store::{self, Outgoing, ProtocolKind, send_protocol};
use crate::rig::Rig;
use crate::town::Town;
use crate::work::{Effect, SlingRequest};
use anyhow::Result;
use gastown_beads::{BeadPatch, Ledger, Status};

/// What [`record`] did: one line per MR, the effects on the live tree (sessions to start for
/// re-slung work) that the supervisor carries out, and the merged sandboxes to remove.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    pub notes: Vec<String>,
    pub effects: Vec<Effect>,
    /// Convoys that landed because a source bead closed (for `crate::convoy::announce`).
    pub landed_convoys: Vec<ConvoyLanded>,
    /// Merged MRs' sandboxes: end each polecat's session first, then [`super::remove_sandbox`].
    pub sandboxes: Vec<Sandbox>,
}

/// Record every result of `outcome` in the ledger as `who` (normally `<rig>/refinery`).
pub fn record(
    ledger: &mut Ledger,
    town: &Town,
    outcome: &LandOutcome,
    who: &str,
) -> Result<Recorded> {
    let mut done = Recorded::default();
    let rig = Rig::load(town, &outcome.rig)?;
    if let Some(problem) = &outcome.remote {
        let note =
            tell_remote_problem(ledger, town, &rig, outcome, problem, who, &mut done.effects)?;
        done.notes.push(note);
    }
    for o in &outcome.outcomes {
        let Some(bead) = ledger.get(&o.mr.id)? else {
            done.notes
                .push(format!("{}: no such bead any more, skipped", o.mr.id));
            continue;
        };
        if bead.is_closed() {
            continue;
        }
        // The ledger's view (retry count, rework state), not the batch's snapshot.
        let mr = MergeRequest::from_bead(&bead).unwrap_or_else(|_| o.mr.clone());
        let note = match &o.result {
            MrResult::Merged { commit, branch_tip } => merged(
                ledger,
                town,
                &mr,
                (commit, Some(branch_tip)),
                who,
                &mut done,
            )?,
            MrResult::AlreadyMerged { commit } => {
                merged(ledger, town, &mr, (commit, None), who, &mut done)?
            }
            MrResult::Conflict { files } => {
                let text = format!(
                    "{} does not merge onto {}: conflicts in {}. Rebase your branch onto {} and run `gastown done` again.",
                    mr.branch,
                    mr.target,
                    files.join(", "),
                    mr.target
                );
                rework(ledger, town, &mr, "conflict", &text, who, &mut done.effects)?
            }
            MrResult::GateFailed { gate, output } => {
                let text = format!(
                    "The {gate} gate fails with {} merged onto {}. Fix it and run `gastown done` again.\n\n{output}",
                    mr.branch, mr.target
                );
                rework(ledger, town, &mr, "gate", &text, who, &mut done.effects)?
            }
            MrResult::TimedOut { gate, output } => {
                let text = format!(
                    "The {gate} gate ran past the rig's timeout with {} merged onto {} and was killed. Make it finish and run `gastown done` again.\n\n{output}",
                    mr.branch, mr.target
                );
                rework(ledger, town, &mr, "timeout", &text, who, &mut done.effects)?
            }
            MrResult::GateFailedOnTarget {
                gate,
                output,
                target_tip,
            } => target_broken(ledger, &mr, gate, output, target_tip, who)?,
            MrResult::BranchMissing { branch } => branch_missing(ledger, &mr, branch, who)?,
            MrResult::OnDroppedHistory { dropped } => {
                let text = format!(
                    "{} was started on history that origin's {} no longer has (a force-push, \
                     accepted with `gastown mq accept-origin`): merging it would push {dropped} \
                     dropped commit(s) back. Move your own commits onto the new {} (`git rebase \
                     --onto {} <the commit you started from>`) and run `gastown done` again.",
                    mr.branch, mr.target, mr.target, mr.target
                );
                rework(
                    ledger,
                    town,
                    &mr,
                    "dropped-history",
                    &text,
                    who,
                    &mut done.effects,
                )?
            }
            MrResult::Held { target_tip } => format!(
                "{}: held, {} at {} still fails its gates without it",
                mr.id,
                mr.target,
                short(target_tip)
            ),
            MrResult::RemoteHeld { reason } => format!("{}: queued, {reason}", mr.id),
        };
        // The refinery handled the MR (it is no longer waiting its turn): its MERGE_READY is done.
        if !matches!(
            o.result,
            MrResult::Held { .. }
                | MrResult::RemoteHeld { .. }
                | MrResult::GateFailedOnTarget { .. }
        ) {
            crate::mail::store::close_handled(
                ledger,
                crate::mail::store::ProtocolKind::MergeReady,
                &format!("{}/refinery", mr.rig),
                &mr.id,
                who,
            )?;
        }
        done.notes.push(note);
    }
    Ok(done)
}

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

/// Merged: close the source bead and the MR, tell the polecat and the witness; the sandbox
/// goes to the caller, to remove once the polecat's session has ended (never before the merge
/// is confirmed, which it now is).
fn merged(
    ledger: &mut Ledger,
    town: &Town,
    mr: &MergeRequest,
    (commit, landed_tip): (&str, Option<&str>),
    who: &str,
    done: &mut Recorded,
) -> Result<String> {
    let reason = format!("merged in {} ({})", short(commit), mr.id);
    if let Some(source) = ledger.get(&mr.source_bead)?
        && !source.is_closed()
    {
        ledger.close(&source.id, &reason, who)?;
        // The one place the refinery tells convoys a tracked bead closed.
        done.landed_convoys
            .extend(convoy::on_bead_closed(ledger, town, &source.id, who)?);
    }
    // Its molecule's steps are moot once the work merged (idempotent, so a retried
    // bookkeeping finishes it too).
    crate::molecule::on_closed(ledger, &mr.source_bead, who)?;
    MergeRequest::merged_as(commit).write(ledger, &mr.id, who)?;
    ledger.close(&mr.id, &format!("merged as {commit}"), who)?;
    let body = format!(
        "{} merged: {} landed on {} as {commit}",
        mr.id, mr.branch, mr.target
    );
    if !mr.worker.is_empty() {
        send_protocol(ledger, ProtocolKind::Merged, &mr.worker, who, &body)?;
    }
    send_protocol(
        ledger,
        ProtocolKind::Merged,
        &format!("{}/witness", mr.rig),
        who,
        &body,
    )?;
    done.sandboxes.push(Sandbox {
        rig: mr.rig.clone(),
        mr: mr.id.clone(),
        worker: mr.worker.clone(),
        branch: mr.branch.clone(),
        target: mr.target.clone(),
        landed_tip: landed_tip.map(str::to_string),
    });
    Ok(format!(
        "{}: merged as {} ({})",
        mr.id,
        short(commit),
        mr.source_bead
    ))
}

/// Origin cannot take the batch: tell the mayor (urgent) and the overseer what happened and
/// what to do — once per streak (see [`super::problem`]).
fn tell_remote_problem(
    ledger: &mut Ledger,
    town: &Town,
    rig: &Rig,
    outcome: &LandOutcome,
    problem: &RemoteProblem,
    who: &str,
    effects: &mut Vec<Effect>,
) -> Result<String> {
    let summary = problem.summary();
    if !problem::first_of_streak(rig, problem) {
        return Ok(format!("{}: nothing landed, {summary}", rig.name()));
    }
    let waiting = outcome
        .outcomes
        .iter()
        .filter(|o| matches!(o.result, MrResult::RemoteHeld { .. }))
        .count();
    for to in ["mayor", crate::mail::OVERSEER] {
        let mail = Outgoing {
            to: to.to_string(),
            subject: problem.subject(rig.name()),
            body: problem.body(rig, waiting),
            urgent: to == "mayor",
            reply_to: None,
        };
        store::send(ledger, who, &mail)?;
    }
    let message = format!("{}: {summary}", problem.subject(rig.name()));
    raise_escalation(ledger, town, who, None, &message, effects)?;
    Ok(format!(
        "{}: nothing landed, {summary} (mayor and overseer told)",
        rig.name()
    ))
}

/// Send the work back to its polecat (REWORK mail, source bead re-slung as a rebase/fix task),
/// or escalate to the mayor once the MR has used up its retries.
fn rework(
    ledger: &mut Ledger,
    town: &Town,
    mr: &MergeRequest,
    why: &str,
    text: &str,
    who: &str,
    effects: &mut Vec<Effect>,
) -> Result<String> {
    let retries = mr.retry_count + 1;
    MergeRequest::sent_back(retries, &mr.commit, why).write(ledger, &mr.id, who)?;
    if retries >= MAX_RETRIES || mr.worker.is_empty() {
        return escalate(ledger, town, mr, retries, text, who, effects);
    }
    let body = format!("{} ({}): {text}", mr.id, mr.source_bead);
    send_protocol(ledger, ProtocolKind::Rework, &mr.worker, who, &body)?;
    if let Some(source) = ledger.get(&mr.source_bead)? {
        let notes = format!(
            "{}\n\nRefinery ({why}, try {retries}): {text}",
            source.notes
        )
        .trim_start()
        .to_string();
        ledger.update(
            &source.id,
            BeadPatch {
                notes: Some(notes),
                ..BeadPatch::default()
            },
            who,
        )?;
    }
    let sling = SlingRequest {
        bead: mr.source_bead.clone(),
        target: mr.worker.clone(),
        force: true,
        runtime: None,
        // The rig's work formula, so the session has steps to work (an open molecule is kept).
        formula: Some(None),
        // Rework stays in the convoy it already belongs to.
        no_convoy: true,
    };
    // In this ledger operation: the polecat's branch exists (the MR came from it), so its
    // worktree is left to its session's start, which remakes or switches it from the branch.
    match crate::work::sling_in_ledger(ledger, town, &sling, who) {
        Ok(out) => effects.extend(out.effects),
        Err(e) => {
            return Ok(format!(
                "{}: {why}, REWORK sent to {} but re-slinging {} failed: {e}",
                mr.id, mr.worker, mr.source_bead
            ));
        }
    }
    Ok(format!(
        "{}: {why}, sent back to {} (try {retries} of {MAX_RETRIES})",
        mr.id, mr.worker
    ))
}

/// Too many tries: HELP to the mayor, the MR blocked and labelled until `gastown mq retry`.
fn escalate(
    ledger: &mut Ledger,
    town: &Town,
    mr: &MergeRequest,
    retries: u64,
    text: &str,
    who: &str,
    effects: &mut Vec<Effect>,
) -> Result<String> {
    let body = format!(
        "{} ({} from {}) failed {retries} times; last: {text}\n\n`gastown mq retry {}` puts it back in the queue, `gastown mq reject {}` drops it.",
        mr.id, mr.branch, mr.worker, mr.id, mr.id
    );
    send_protocol(ledger, ProtocolKind::Help, "mayor", who, &body)?;
    ledger.update(
        &mr.id,
        BeadPatch {
            status: Some(Status::Blocked),
            ..BeadPatch::default()
        },
        who,
    )?;
    ledger.add_label(&mr.id, "escalated", who)?;
    let message = format!(
        "{} ({} from {}) failed {retries} times; last: {text}",
        mr.id, mr.branch, mr.worker
    );
    raise_escalation(ledger, town, who, Some(&mr.id), &message, effects)?;
    Ok(format!(
        "{}: escalated to the mayor after {retries} tries",
        mr.id
    ))
}

/// The escalation record of a refinery problem the mayor (and the overseer) were just mailed in
/// the refinery's own words: `high`, from the refinery, folded into the open one it repeats. Only
/// its outside channels (bell, notify, webhook) are still to run, as an effect off the ledger.
fn raise_escalation(
    ledger: &mut Ledger,
    town: &Town,
    who: &str,
    bead: Option<&str>,
    message: &str,
    effects: &mut Vec<Effect>,
) -> Result<()> {
    use crate::escalation::{self, Raise, Severity, routing};
    let raised = escalation::raise(
        ledger,
        &Raise {
            severity: Severity::High,
            source: who,
            bead,
            message,
        },
        who,
    )?;
    if !raised.route {
        return Ok(());
    }
    let outside = routing::outside_only(ledger, town, &raised.escalation)?;
    if !outside.is_empty() {
        effects.push(Effect::Escalate {
            escalation: Box::new(raised.escalation),
            outside,
        });
    }
    Ok(())
}

/// The target fails its gates without the MR: tell the mayor (once per broken tip) and keep
/// the MR queued, unblamed.
fn target_broken(
    ledger: &mut Ledger,
    mr: &MergeRequest,
    gate: &str,
    output: &str,
    tip: &str,
    who: &str,
) -> Result<String> {
    if mr.target_broken_at.as_deref() != Some(tip) {
        MergeRequest::target_broken_at(tip).write(ledger, &mr.id, who)?;
        let mail = Outgoing {
            to: "mayor".to_string(),
            subject: format!("{} of rig {} fails its {gate} gate", mr.target, mr.rig),
            body: format!(
                "The {gate} gate fails on {} at {tip} without any merge request, so the refinery of {} holds its queue ({} waits) until the target changes.\n\n{output}",
                mr.target, mr.rig, mr.id
            ),
            urgent: true,
            reply_to: None,
        };
        if let Err(e) = store::send(ledger, who, &mail) {
            send_protocol(
                ledger,
                ProtocolKind::Help,
                "mayor",
                who,
                &format!("{}: {e}", mail.subject),
            )?;
        }
    }
    Ok(format!(
        "{}: not blamed, {} at {} fails its {gate} gate on its own (mayor told)",
        mr.id,
        mr.target,
        short(tip)
    ))
}

/// The branch is gone: nothing can be merged. MERGE_FAILED to the polecat, the MR closed as
/// failed, the source bead back in the ready pool.
fn branch_missing(
    ledger: &mut Ledger,
    mr: &MergeRequest,
    branch: &str,
    who: &str,
) -> Result<String> {
    let reason = format!(
        "failed: branch {branch} no longer exists in rig {}'s repository, nothing to merge",
        mr.rig
    );
    if !mr.worker.is_empty() {
        let body = format!("{} ({}): {reason}", mr.id, mr.source_bead);
        send_protocol(ledger, ProtocolKind::MergeFailed, &mr.worker, who, &body)?;
    }
    ledger.close(&mr.id, &reason, who)?;
    reopen_source(ledger, mr, &reason, who)?;
    Ok(format!("{}: {reason}", mr.id))
}

/// Put the source bead back in the ready pool (open, unassigned) with a note saying why.
pub fn reopen_source(ledger: &mut Ledger, mr: &MergeRequest, why: &str, who: &str) -> Result<()> {
    let Some(source) = ledger.get(&mr.source_bead)? else {
        return Ok(());
    };
    if source.is_closed() {
        return Ok(());
    }
    let note = format!("Refinery: {} {why}", mr.id);
    crate::work::hook::back_to_ready(ledger, &source, &note, who)
}
