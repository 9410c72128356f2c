//! Landing on the source remote: the rig's bare clone has `origin` = the rig's source, and with
//! `[refinery] push = true` (the default) origin's target branch is the real target.
//!
//! Refs the refinery keeps in the bare clone:
//!
//! | ref | meaning |
//! |---|---|
//! | `refs/gastown/incoming/<target>` | origin's target as just fetched |
//! | `refs/remotes/origin/<target>` | the origin tip the refinery last accepted (or pushed) |
//! | `refs/heads/<target>` | the rig's own target: what polecats branch from |
//! | `refs/gastown/pushed/<branch>` | the tip `gastown done` last pushed of a polecat branch |
//! | `refs/gastown/backup/<target>/<utc>` | the rig's target before `mq accept-origin` |
//!
//! Before each batch, [`sync`] fetches origin's target and compares it with the tip last
//! accepted: moved forward (or equal) → accepted, and the rig's own target fast-forwarded when
//! it is behind; rewritten (the tip last accepted is no longer an ancestor: a force-push) →
//! nothing lands until the overseer decides ([`RemoteProblem::Rewound`]). [`base`] then picks
//! the commit to merge the batch on: origin's tip, or the rig's own target when it holds landed
//! work origin lacks (a `push = false` past; merged with origin's tip when both moved). After
//! the gates, [`publish`] pushes with an exact lease on the origin tip merged on, then moves the
//! tracking ref and the rig's target — so a crash between the push and the bookkeeping leaves
//! the `Gastown-MR:` trailers on origin, where the next [`sync`] brings them back.

use super::problem::RemoteProblem;
use crate::git_cli::{self, RemoteError};
use crate::rig::Rig;
use anyhow::{Context, Result, bail};
use std::time::Duration;

/// Where origin's target is fetched to.
pub fn incoming_ref(target: &str) -> String {
    format!("refs/gastown/incoming/{target}")
}

/// The origin tip last accepted.
pub fn accepted_ref(target: &str) -> String {
    format!("refs/remotes/origin/{target}")
}

/// The tip of `branch` last pushed to origin by `gastown done`.
pub fn pushed_ref(branch: &str) -> String {
    format!("refs/gastown/pushed/{branch}")
}

/// What to merge a batch on, and the expected values of the two compare-and-swaps after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// The commit the batch is merged on.
    pub tip: String,
    /// The rig's own target now (the expected value when moving it).
    pub local: String,
    /// Origin's target now (the push's lease); `None` without `push`.
    pub origin: Option<String>,
}

/// Origin's view after a [`sync`]: its tip, and the rig's own target (fast-forwarded to it
/// when it was behind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synced {
    pub origin: String,
    pub local: String,
}

fn remote_problem(err: RemoteError, rig: &Rig, target: &str) -> RemoteProblem {
    let remote = git_cli::origin_url(&rig.bare_repo());
    let target = target.to_string();
    match err {
        RemoteError::NoSuchBranch { .. } => RemoteProblem::NoBranch { remote, target },
        RemoteError::Rejected { reason, .. } => RemoteProblem::Refused {
            remote,
            target,
            reason,
        },
        RemoteError::CheckedOut { .. } => RemoteProblem::CheckedOut { remote, target },
        RemoteError::Stale { .. } => RemoteProblem::KeepsMoving {
            remote,
            target,
            tries: 1,
        },
        RemoteError::Unreachable { detail, .. } => RemoteProblem::Unreachable { remote, detail },
        RemoteError::TimedOut { after, .. } => RemoteProblem::Unreachable {
            remote,
            detail: format!(
                "no answer within {} (`remote_timeout`)",
                humantime::format_duration(after)
            ),
        },
        spawn @ RemoteError::Spawn { .. } => RemoteProblem::Unreachable {
            remote,
            detail: spawn.to_string(),
        },
    }
}

/// Fetch origin's `target`, accept it if it only moved forward, and fast-forward the rig's own
/// target to it when behind. `Ok(Err(problem))`: origin cannot be used now.
pub fn sync(rig: &Rig, target: &str, timeout: Duration) -> Result<Result<Synced, RemoteProblem>> {
    let repo = rig.bare_repo();
    let local_ref = format!("refs/heads/{target}");
    let local = git_cli::rev_parse(&repo, &local_ref)
        .with_context(|| format!("rig {}: target branch {target} is missing", rig.name()))?;
    let origin = match git_cli::fetch_branch(&repo, target, &incoming_ref(target), timeout) {
        Ok(tip) => tip,
        Err(e) => return Ok(Err(remote_problem(e, rig, target))),
    };
    let accepted = accepted_ref(target);
    if let Ok(last_seen) = git_cli::rev_parse(&repo, &accepted)
        && !git_cli::is_ancestor(&repo, &last_seen, &origin)?
    {
        return Ok(Err(RemoteProblem::Rewound {
            remote: git_cli::origin_url(&repo),
            target: target.to_string(),
            last_seen,
            origin_tip: origin,
        }));
    }
    git_cli::update_ref(
        &repo,
        &accepted,
        &origin,
        None,
        "gastown refinery: accept origin",
    )?;
    if local != origin && git_cli::is_ancestor(&repo, &local, &origin)? {
        git_cli::update_ref(
            &repo,
            &local_ref,
            &origin,
            Some(&local),
            "gastown refinery: fast-forward to origin",
        )?;
        return Ok(Ok(Synced {
            origin: origin.clone(),
            local: origin,
        }));
    }
    Ok(Ok(Synced { origin, local }))
}

/// The commit to merge a batch on after a [`sync`]: origin's tip when the rig's target is
/// there; the rig's target when it is ahead (landed work origin lacks is pushed along); a merge
/// of both when each has commits the other lacks.
pub fn base(rig: &Rig, target: &str, synced: Synced) -> Result<Result<Base, RemoteProblem>> {
    let repo = rig.bare_repo();
    let Synced { origin, local } = synced;
    let tip = if local == origin || git_cli::is_ancestor(&repo, &origin, &local)? {
        local.clone()
    } else {
        let merged = git_cli::merge_tree(&repo, &origin, &local)?;
        if !merged.is_clean() {
            return Ok(Err(RemoteProblem::Diverged {
                remote: git_cli::origin_url(&repo),
                target: target.to_string(),
                local,
                origin_tip: origin,
                files: merged.conflicts,
            }));
        }
        let message = format!(
            "Merge the rig's {target} into origin's\n\nLanded work the refinery had not pushed \
             yet, merged with what others pushed to origin meanwhile."
        );
        super::gitops::commit_tree_as(&repo, &merged.tree, &[&origin, &local], &message, None)?
    };
    Ok(Ok(Base {
        tip,
        local,
        origin: Some(origin),
    }))
}

/// How publishing a new tip went.
#[derive(Debug)]
pub enum Published {
    /// Origin (with `push`) and the rig's target are at the new tip.
    Done,
    /// Origin's target moved since the fetch: nothing was pushed; start again.
    Moved,
    /// Origin refused or could not be reached: nothing was pushed.
    Problem(RemoteProblem),
}

/// Put `new_tip` on origin (with `push`: an exact lease on the tip merged on) and then on the
/// rig's own target (a compare-and-swap from `base.local`). Between the two is the crash
/// tests' fault point `GASTOWN_REFINERY_FAULT=after-push`.
pub fn publish(
    rig: &Rig,
    target: &str,
    base: &Base,
    new_tip: &str,
    timeout: Duration,
) -> Result<Published> {
    let repo = rig.bare_repo();
    if let Some(origin) = base.origin.as_deref()
        && origin != new_tip
    {
        match git_cli::push_lease(&repo, Some(new_tip), target, Some(origin), timeout) {
            Ok(()) => {}
            Err(RemoteError::Stale { .. }) => return Ok(Published::Moved),
            Err(e) => return Ok(Published::Problem(remote_problem(e, rig, target))),
        }
        // The crash tests' `kill -9` right after the push, before any local ref moved.
        gastown_beads::fault::point("GASTOWN_REFINERY_FAULT", "after-push");
        let reason = "gastown refinery: pushed";
        git_cli::update_ref(&repo, &accepted_ref(target), new_tip, None, reason)?;
    }
    if new_tip == base.local {
        return Ok(Published::Done);
    }
    let local_ref = format!("refs/heads/{target}");
    let reason = "gastown refinery: land";
    match git_cli::update_ref(&repo, &local_ref, new_tip, Some(&base.local), reason) {
        Ok(()) => Ok(Published::Done),
        // Without push the target is ours alone: someone moved it, so start again on it.
        Err(e) if base.origin.is_none() && super::gitops::is_cas_miss(&e) => Ok(Published::Moved),
        // With push, origin has the new tip already: the next sync brings the rig's target to it.
        Err(e) if super::gitops::is_cas_miss(&e) => {
            tracing::warn!(rig = %rig.name(), "{target} moved in the rig while landing; origin has the landing, the next batch catches up: {e}");
            Ok(Published::Done)
        }
        Err(e) => Err(e.into()),
    }
}

/// `gastown mq accept-origin <rig>`: take origin's (rewritten) target as the rig's own, after
/// saving the rig's target to `refs/gastown/backup/<target>/<utc time>`. Returns what to print.
pub fn accept_origin(rig: &Rig) -> Result<String> {
    if !rig.config.refinery.push {
        bail!(
            "rig {} does not land on origin (`[refinery] push = false` in {}): there is no \
             origin history to accept",
            rig.name(),
            rig.config_path().display()
        );
    }
    let repo = rig.bare_repo();
    let target = rig.config.default_branch.clone();
    let timeout = rig.config.refinery.remote_timeout.0;
    let origin = git_cli::fetch_branch(&repo, &target, &incoming_ref(&target), timeout)
        .with_context(|| format!("cannot fetch {target} from origin"))?;
    let local_ref = format!("refs/heads/{target}");
    let local = git_cli::rev_parse(&repo, &local_ref)?;
    let stamp = utc_stamp();
    let backup = format!("refs/gastown/backup/{target}/{stamp}");
    git_cli::update_ref(
        &repo,
        &backup,
        &local,
        Some(&"0".repeat(40)),
        "gastown: accept-origin backup",
    )?;
    git_cli::update_ref(
        &repo,
        &local_ref,
        &origin,
        Some(&local),
        "gastown: accept origin",
    )
    .with_context(|| format!("the rig's {target} moved meanwhile: run accept-origin again"))?;
    git_cli::update_ref(
        &repo,
        &accepted_ref(&target),
        &origin,
        None,
        "gastown: accept origin",
    )?;
    super::problem::end_streak(rig);
    let dropped = super::gitops::trailers(&repo, &local, super::HISTORY_DEPTH)?;
    let kept = super::gitops::trailers(&repo, &origin, super::HISTORY_DEPTH)?;
    let mut lost: Vec<&String> = dropped
        .keys()
        .filter(|mr| !kept.contains_key(*mr))
        .collect();
    lost.sort();
    let mut text = format!(
        "rig {}: {target} is now origin's {} (was {}; saved as {backup})\n",
        rig.name(),
        &origin[..origin.len().min(10)],
        &local[..local.len().min(10)]
    );
    if !lost.is_empty() {
        let list: Vec<&str> = lost.iter().map(|s| s.as_str()).collect();
        text.push_str(&format!(
            "landed merge requests not on origin's new {target}: {} — their commits are in {backup} \
             (`git -C {} log {origin}..{backup}`); push them again yourself if they are wanted\n",
            list.join(", "),
            repo.display()
        ));
    }
    Ok(text)
}

/// Now in UTC as `YYYYMMDDTHHMMSS.nnnnnnnnnZ` (a ref name may not hold `:`).
fn utc_stamp() -> String {
    gastown_beads::time::now_rfc3339()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect()
}
