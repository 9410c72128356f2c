//! `gastown done` and `gastown handoff`: how a polecat or a dog finishes its work, and how any
//! agent asks for a fresh session on the same hook.
//!
//! A dog (`deacon/dogs/<name>`, judgement work for the deacon) has no worktree and no merge
//! request: its `done` closes the hooked bead (`-m` goes into the close reason) and empties its
//! hook in one ledger step; `--status escalated` asks the deacon and the mayor for help.
//!
//! `done` (completed): commit what is left in the worktree, check there are commits ahead of the
//! rig's default branch, create the merge-request bead exactly once (a second `done` finds the
//! first and refreshes its commit), tell the refinery (MERGE_READY) and the witness
//! (POLECAT_DONE), clear the hook, and leave the polecat idle with its sandbox kept until the
//! merge is confirmed. Then the rig's dispatch queue may hand out its next bead.
//!
//! In steps ([`crate::steps`]), so that git never runs in the ledger's owner:
//! 1. `done: begin` (ledger): the caller, its hooked bead, its rig; `escalated` and `deferred`
//!    finish here (nothing to commit);
//! 2. outside: commit what is left in the worktree, count the commits ahead, read the branch
//!    and its tip;
//! 3. `done: submit` (ledger): the bead must still be on the caller's hook; the merge request,
//!    the hook cleared, MERGE_READY and POLECAT_DONE;
//! 4. the dispatch queue ([`super::dispatch_queue`], steps of its own).
//!
//! A crash after step 2 leaves the work committed in the worktree and the hook kept: `done`
//! run again finds nothing left to commit, the commits ahead, and submits them — one commit, one
//! merge request. A crash before step 4 leaves the queue to the refinery, which drains it on
//! its next round.

use super::{DoneStatus, Effect, Outcome, is_polecat};
use crate::agents;
use crate::git_cli;
use crate::identity::{AgentIdentity, Role};
use crate::mail::store::{ProtocolKind, send_protocol};
use crate::refinery::{MergeRequest, NewMergeRequest, open_merge_requests};
use crate::rig::Rig;
use crate::steps::LedgerSteps;
use crate::town::Town;
use anyhow::{Context, Result, bail};
use gastown_beads::{Bead, BeadPatch, DepKind, IssueType, Ledger, NewBead, Status};

pub fn done<L: LedgerSteps>(
    ledger: &mut L,
    town: &Town,
    status: DoneStatus,
    message: Option<&str>,
    identity: AgentIdentity,
) -> Result<Outcome> {
    let who = identity.address.clone();
    let who = who.as_str();
    let (t, m) = (town.clone(), message.map(str::to_string));
    let begun = ledger.step("done: begin", move |l| {
        begin(l, &t, status, m.as_deref(), identity)
    })??;
    let (mut out, rig_name) = match begun {
        Begun::Finished { out, rig } => (out, rig),
        Begun::Completed(work) => {
            let committed = commit_work(&work, who)?;
            let rig = work.rig.name().to_string();
            let w = who.to_string();
            let out = ledger.step("done: submit", move |l| submit(l, &work, committed, &w))??;
            (out, Some(rig))
        }
    };
    // A dog belongs to no rig: no dispatch queue to drain.
    let Some(rig_name) = rig_name else {
        return Ok(out);
    };
    if let Some(next) = super::dispatch_queue(ledger, town, &rig_name, who)? {
        out.text.push_str(&next.text);
        out.effects.extend(next.effects);
    }
    Ok(out)
}

/// What the first step of `done` found.
enum Begun {
    /// Escalated or deferred (or a dog's work closed): done (the rig's name, for its dispatch
    /// queue; none for a dog).
    Finished { out: Outcome, rig: Option<String> },
    /// Completed: the work to commit and submit.
    Completed(Box<Work>),
}

/// A polecat's work to submit.
struct Work {
    rig: Rig,
    polecat: String,
    bead: Bead,
}

/// What committing the work found: the branch, its tip, and the commit made of what was left.
struct Committed {
    branch: String,
    commit: String,
    made: Option<String>,
}

/// Step 1: the caller, its hook, its rig; escalate or defer at once.
fn begin(
    ledger: &mut Ledger,
    town: &Town,
    status: DoneStatus,
    message: Option<&str>,
    identity: AgentIdentity,
) -> Result<Begun> {
    let who = identity.address.clone();
    let who = who.as_str();
    let dog = identity.role == Role::Dog;
    if !is_polecat(&identity) && !dog {
        bail!(
            "`gastown done` is for polecats and dogs; {who} is a {}: use `gastown hook clear` to drop work",
            identity.role
        );
    }
    let hooked = super::hooked(ledger, who)?;
    let Some(bead) = hooked.first().cloned() else {
        bail!("nothing is on {who}'s hook: there is no work to finish");
    };
    // The tokens of the work so far go to the bead while it is still hooked. A transcript that
    // cannot be read never stops `done`: the costs dog reports it.
    if let Err(e) = crate::costs::collect_agent(ledger, who, &crate::costs::record::today()) {
        tracing::warn!("{who}: usage not collected before done: {e:#}");
    }
    // A dog's helpers are the deacon's: it has no rig, no witness and no merge request.
    let (rig_name, helper) = match &identity.rig {
        Some(rig) => (Some(rig.clone()), format!("{rig}/witness")),
        None if dog => (None, "deacon".to_string()),
        None => bail!("{who} is a polecat without a rig"),
    };
    let mut out = Outcome::default();
    match status {
        DoneStatus::Completed if dog => {
            let reason = match message {
                Some(m) => format!("done by {who}: {m}"),
                None => format!("done by {who}"),
            };
            ledger.close(&bead.id, &reason, who)?;
            agents::set_state(ledger, &identity, agents::AgentState::Idle, Some(""))?;
            out.say(format!(
                "closed {} ({reason}); {who}'s hook is empty",
                bead.id
            ));
        }
        DoneStatus::Completed => {
            let rig_name = rig_name.context("a polecat has a rig")?;
            let rig = Rig::load(town, &rig_name)?;
            return Ok(Begun::Completed(Box::new(Work {
                rig,
                polecat: identity.name,
                bead,
            })));
        }
        DoneStatus::Escalated => {
            let text = message.unwrap_or("the polecat is stuck and asks for help");
            let help = format!("{} ({}): {text}", bead.id, bead.title);
            let witness = helper;
            // The witness acts on its rig (the deacon on its dogs); the mayor hears of every
            // escalation (as `--help` says).
            for to in [witness.as_str(), "mayor"] {
                send_protocol(ledger, ProtocolKind::Help, to, who, &help)?;
            }
            ledger.add_label(&bead.id, "escalated", who)?;
            super::hook::clear(ledger, &identity, Status::Open, who)?;
            out.say(format!(
                "escalated {}: HELP sent to {witness} and the mayor; the bead is open, off the hook",
                bead.id
            ));
            // And an escalation record, routed by severity (high: the mayor, the overseer, the
            // bell), folded into the open one if this polecat already escalated this bead.
            let raised = crate::escalation::raise(
                ledger,
                &crate::escalation::Raise {
                    severity: crate::escalation::Severity::High,
                    source: who,
                    bead: Some(&bead.id),
                    message: text,
                },
                who,
            )?;
            if raised.route {
                let (routed, outside) = crate::escalation::routing::route_in_ledger(
                    ledger,
                    town,
                    &raised.escalation,
                    who,
                )?;
                out.say(format!(
                    "escalation {} raised [{}]: sent to {}",
                    raised.escalation.id,
                    raised.escalation.severity,
                    routed.join(", ")
                ));
                if !outside.is_empty() {
                    out.effects.push(super::Effect::Escalate {
                        escalation: Box::new(raised.escalation),
                        outside,
                    });
                }
            } else {
                out.say(format!(
                    "folded into escalation {} (raised {} times)",
                    raised.escalation.id, raised.escalation.count
                ));
            }
        }
        DoneStatus::Deferred => {
            super::hook::clear(ledger, &identity, Status::Open, who)?;
            ledger.update(
                &bead.id,
                BeadPatch {
                    assignee: Some(String::new()),
                    ..BeadPatch::default()
                },
                who,
            )?;
            out.say(format!(
                "deferred {}: it is back in the ready pool",
                bead.id
            ));
        }
    }
    Ok(Begun::Finished { out, rig: rig_name })
}

/// Step 2 (git, outside the ledger's owner): commit what is left; there must be work ahead of
/// the rig's default branch.
fn commit_work(work: &Work, who: &str) -> Result<Committed> {
    // A session's start or a sling may be at the same worktree: one change at a time.
    let _lock = work.rig.lock_polecat(&work.polecat)?;
    let worktree = work.rig.polecat_worktree(&work.polecat);
    if !worktree.exists() {
        bail!(
            "{who} has no worktree at {}: nothing to merge",
            worktree.display()
        );
    }
    let base = work.rig.default_ref();
    let ahead = git_cli::commits_ahead(&worktree, &base)?;
    let dirty = git_cli::is_dirty(&worktree)?;
    if ahead == 0 && !dirty {
        bail!(
            "{who} has no commits ahead of {base} and nothing to commit: there is nothing to merge (the hook is kept)"
        );
    }
    let bead = &work.bead;
    let made = git_cli::commit_all(
        &worktree,
        &format!("{}: {} (gastown done)", bead.id, bead.title),
    )?;
    let commit = git_cli::rev_parse(&worktree, "HEAD")?;
    let branch =
        git_cli::current_branch(&worktree)?.context("the polecat's worktree is on a branch")?;
    Ok(Committed {
        branch,
        commit,
        made,
    })
}

/// Step 3: the merge request (made once), the hook cleared, the refinery and witness told.
fn submit(ledger: &mut Ledger, work: &Work, committed: Committed, who: &str) -> Result<Outcome> {
    // Another `done` may have submitted it meanwhile: the bead must still be on the hook.
    let Some(bead) = super::hooked(ledger, who)?
        .into_iter()
        .find(|b| b.id == work.bead.id)
    else {
        bail!("nothing is on {who}'s hook: there is no work to finish");
    };
    let rig = &work.rig;
    let Committed {
        branch,
        commit,
        made,
    } = committed;
    let mut out = Outcome::default();
    if let Some(made) = made {
        out.say(format!("committed what was left: {made}"));
    }
    refuse_unchanged_rework(ledger, &bead, &branch, &commit)?;
    let mr = merge_request(ledger, rig, &bead, &branch, &commit, who)?;
    ledger.update(
        &bead.id,
        BeadPatch {
            status: Some(Status::InProgress),
            ..BeadPatch::default()
        },
        who,
    )?;
    let identity = crate::identity::AgentIdentity::parse(who)?;
    agents::set_state(ledger, &identity, agents::AgentState::Idle, Some(""))?;
    let rig_name = rig.name();
    let note = format!(
        "{} ready to merge: {branch} at {commit} ({})",
        mr.id, bead.id
    );
    send_protocol(
        ledger,
        ProtocolKind::MergeReady,
        &format!("{rig_name}/refinery"),
        who,
        &note,
    )?;
    send_protocol(
        ledger,
        ProtocolKind::PolecatDone,
        &format!("{rig_name}/witness"),
        who,
        &note,
    )?;
    out.say(format!(
        "{} submitted as {} ({branch}); hook cleared, sandbox kept until the merge",
        bead.id, mr.id
    ));
    // Network work: carried out outside the ledger's owner, after this command.
    if rig.config.refinery.pushes_branches() {
        out.effects.push(Effect::PushBranch {
            rig: rig_name.to_string(),
            branch,
            commit,
        });
    }
    Ok(out)
}

/// A merge request sent back for rework waits for a new commit: `done` at the very commit it
/// was sent back at would only send the same work again, and leave the MR in rework forever.
/// Refused before anything changes (the hook is kept).
fn refuse_unchanged_rework(ledger: &Ledger, bead: &Bead, branch: &str, commit: &str) -> Result<()> {
    let waiting = open_merge_requests(ledger)?.into_iter().find(|mr| {
        mr.source_bead == bead.id
            && mr.branch == branch
            && mr.rework_from.as_deref() == Some(commit)
    });
    if let Some(mr) = waiting {
        let why = match &mr.last_failure {
            None => "it was sent back".to_string(),
            Some(failure) => format!("it was sent back ({failure})"),
        };
        bail!(
            "nothing changed since {} was sent back for rework: {branch} is still at {commit}, where {why}. \
             Fix what the REWORK mail names, commit it, and run `gastown done` again (the hook is kept)",
            mr.id
        );
    }
    Ok(())
}

/// The merge request of `bead` on `branch`: the open one if a previous `done` made it (its
/// commit refreshed), else a new one.
fn merge_request(
    ledger: &mut Ledger,
    rig: &Rig,
    bead: &Bead,
    branch: &str,
    commit: &str,
    who: &str,
) -> Result<Bead> {
    let existing = open_merge_requests(ledger)?
        .into_iter()
        .find(|mr| mr.source_bead == bead.id && mr.branch == branch);
    if let Some(mr) = existing {
        return Ok(MergeRequest::resubmitted(commit).write(ledger, &mr.id, who)?);
    }
    let extra = NewMergeRequest {
        rig: rig.name(),
        branch,
        target: &rig.config.default_branch,
        source_bead: &bead.id,
        worker: who,
        commit,
    }
    .fields()
    .into_extra();
    let new = NewBead {
        title: format!("Merge {branch}: {}", bead.title),
        description: format!("Merge request for {} ({}) from {who}.", bead.id, bead.title),
        issue_type: IssueType::MergeRequest,
        priority: bead.priority,
        assignee: format!("{}/refinery", rig.name()),
        deps: vec![(DepKind::Related, bead.id.clone())],
        extra,
        prefix: Some(rig.config.prefix.clone()),
        ..NewBead::default()
    };
    Ok(ledger.create(new, who)?)
}

pub fn handoff(
    ledger: &mut Ledger,
    message: Option<&str>,
    identity: AgentIdentity,
) -> Result<Outcome> {
    let who = identity.address.as_str();
    let hook: Vec<String> = super::hooked(ledger, who)?
        .into_iter()
        .map(|b| b.id)
        .collect();
    let body = format!(
        "{}\n\nHook: {}",
        message.unwrap_or("Handing off to a fresh session."),
        if hook.is_empty() {
            "empty".to_string()
        } else {
            hook.join(", ")
        }
    );
    // One HANDOFF in the inbox: the protocol message, which `gastown prime` lists for the
    // successor (a mail bead as well made two of them).
    send_protocol(ledger, ProtocolKind::Handoff, who, who, &body)?;
    let mut out = Outcome::default();
    out.say(format!(
        "handoff mailed to {}; a fresh session takes over the same hook",
        identity.address
    ));
    out.effects.push(Effect::RestartSession {
        address: identity.address,
    });
    Ok(out)
}
