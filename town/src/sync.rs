//! `gastown sync` with a remote: one ledger for towns on several machines, with git as the sync
//! engine (`docs/ledger.md`, "Towns on several machines").
//!
//! A sync commits what is pending, fetches the remote's ledger ref into
//! `refs/gastown/remotes/<remote>/ledger`, merges it bead by bead (a merge commit with both
//! parents, [`gastown_beads::git::GitStore::merge`]) and pushes the result with a lease on the
//! tip it fetched — a compare-and-swap: when another town pushed meanwhile the push is
//! rejected, and the sync fetches, merges and pushes again (at most [`PUSH_ATTEMPTS`] times).
//!
//! Everything that talks to the network runs between ledger steps ([`LedgerSteps`]), never in
//! one, so a supervisor's ledger keeps serving while a remote is slow. Nothing here changes the
//! local ledger on failure: an unreachable remote, a refused push, a remote whose ledger ref was
//! rewritten (force-pushed), or a remote commit that is not a ledger each stop the sync with
//! what happened and what to do.

use crate::git_cli::{self, RemoteError};

/// The remote a town repository's clone calls its source.
const ORIGIN: &str = "origin";
use crate::steps::LedgerSteps;
use crate::town::Town;
use anyhow::{Context, Result, bail};
use gastown_beads::git::{MergeDone, ObjectId};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How often a rejected push is retried (fetch, merge, push) before the sync gives up.
pub const PUSH_ATTEMPTS: usize = 5;
/// How long one fetch or push may take.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(120);

/// What to do with the remote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncOptions {
    /// Fetch and merge the remote's ledger.
    pub pull: bool,
    /// Push the ledger to the remote.
    pub push: bool,
    /// The remote's name (default: the town repository's only remote, else `origin`).
    pub remote: Option<String>,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// The remote talked to (its name), when there was one.
    pub remote: Option<String>,
    /// Beads committed locally first.
    pub committed: usize,
    /// The remote had no ledger yet.
    pub remote_empty: bool,
    /// Beads taken from the remote as they were.
    pub taken: usize,
    /// Beads both sides changed, merged field by field.
    pub merged: usize,
    /// Beads deleted on one side and edited on the other (the edit kept).
    pub kept_edits: Vec<String>,
    /// Colliding ids: (id, the new id of the re-keyed bead).
    pub rekeyed: Vec<(String, String)>,
    /// The local ledger fast-forwarded to the remote's.
    pub fast_forward: bool,
    /// The ledger commit pushed, when the push moved the remote.
    pub pushed: Option<String>,
    /// Pushes rejected because another town pushed first (each followed by a new merge).
    pub retries: usize,
    /// The ledger's commit at the end.
    pub tip: Option<String>,
    /// The town's own branch (town.toml, role homes), pushed because the remote had none, so
    /// `gastown install --from` on another machine finds a town there.
    pub town_branch: Option<String>,
}

impl SyncReport {
    /// One line of what the sync did, for a dog's outcome (`gastown dog list`).
    pub fn summary(&self) -> String {
        let Some(remote) = &self.remote else {
            return format!("no remote: committed {} bead(s)", self.committed);
        };
        let mut parts = vec![format!("synced with {remote}")];
        if self.committed > 0 {
            parts.push(format!("{} committed", self.committed));
        }
        parts.push(format!("{} taken, {} merged", self.taken, self.merged));
        if !self.kept_edits.is_empty() {
            parts.push(format!(
                "kept edits of deleted beads: {}",
                self.kept_edits.join(", ")
            ));
        }
        if !self.rekeyed.is_empty() {
            let rekeyed: Vec<String> = self
                .rekeyed
                .iter()
                .map(|(id, new)| format!("{id} → {new}"))
                .collect();
            parts.push(format!("re-keyed {}", rekeyed.join(", ")));
        }
        if self.retries > 0 {
            parts.push(format!(
                "{} push(es) overtaken and merged again",
                self.retries
            ));
        }
        parts.push(match &self.pushed {
            Some(commit) => format!("pushed {commit}"),
            None => "nothing to push".to_string(),
        });
        parts.join(", ")
    }

    fn add(&mut self, merge: &MergeDone) {
        self.taken += merge.taken.len();
        self.merged += merge.merged.len();
        self.kept_edits.extend(merge.kept_edits.iter().cloned());
        self.rekeyed.extend(merge.rekeyed.iter().cloned());
        self.fast_forward |= merge.fast_forward;
    }
}

/// The remote a sync talks to: `given` (it must exist), else the town repository's only remote,
/// else `origin` if there is one; `None` when the repository has no remote.
pub fn choose_remote(town: &Town, given: Option<&str>) -> Result<Option<String>> {
    let names = remotes(town)?;
    match given {
        Some(name) if names.iter().any(|n| n == name) => Ok(Some(name.to_string())),
        Some(name) => bail!(
            "the town has no remote {name:?} ({}): add it with `gastown remote add {name} <url>`",
            known(&names)
        ),
        None => match names.as_slice() {
            [] => Ok(None),
            [only] => Ok(Some(only.clone())),
            many if many.iter().any(|n| n == ORIGIN) => Ok(Some(ORIGIN.to_string())),
            many => bail!(
                "the town has several remotes ({}) and none is `origin`: say which with --remote",
                many.join(", ")
            ),
        },
    }
}

fn known(names: &[String]) -> String {
    if names.is_empty() {
        "it has none".to_string()
    } else {
        format!("it has {}", names.join(", "))
    }
}

/// The town repository's remotes, by name.
pub fn remotes(town: &Town) -> Result<Vec<String>> {
    let text = git_cli::git(&town.root, &["remote"])?;
    Ok(text.lines().map(str::to_string).collect())
}

/// `gastown remote add NAME URL`: a remote of the town repository that syncs its ledger.
pub fn add_remote(town: &Town, name: &str, url: &str) -> Result<()> {
    if remotes(town)?.iter().any(|n| n == name) {
        bail!(
            "the town already has a remote {name:?}: remove it first (`gastown remote remove {name}`)"
        );
    }
    if name.is_empty() || name.starts_with('-') || name.contains(['/', ' ', ':']) {
        bail!("{name:?} is not a remote name: use letters, digits, '-' and '_' (e.g. `origin`)");
    }
    if url.trim().is_empty() {
        bail!("the remote's URL is empty: give a git URL or a path to a bare repository");
    }
    git_cli::git(&town.root, &["remote", "add", "--", name, url])
        .with_context(|| format!("cannot add the remote {name:?}"))?;
    Ok(())
}

/// `gastown remote remove NAME`.
pub fn remove_remote(town: &Town, name: &str) -> Result<()> {
    let names = remotes(town)?;
    if !names.iter().any(|n| n == name) {
        bail!("the town has no remote {name:?} ({})", known(&names));
    }
    git_cli::git(&town.root, &["remote", "remove", name])?;
    let tracking = tracking_ref(name);
    let _ = git_cli::git(&town.root, &["update-ref", "-d", &tracking]);
    Ok(())
}

/// Where the remote's ledger is fetched to.
pub fn tracking_ref(remote: &str) -> String {
    format!("refs/gastown/remotes/{remote}/ledger")
}

/// The branch name of the ledger ref (`beads` for `refs/heads/beads`), as pushed and fetched.
fn ledger_branch(town: &Town) -> Result<String> {
    let git_ref = &town.config.ledger.git_ref;
    match git_ref.strip_prefix("refs/heads/") {
        Some(branch) => Ok(branch.to_string()),
        None => bail!(
            "the ledger ref {git_ref} is not a branch (refs/heads/…): syncing with a remote needs one; set [ledger] git_ref in town.toml"
        ),
    }
}

/// Sync the ledger: commit what is pending, then with a remote, pull (fetch and merge) and/or
/// push as `opts` says. Without a remote, only the local commit (as before remotes existed).
pub fn sync<S: LedgerSteps>(steps: &mut S, town: &Town, opts: &SyncOptions) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    let committed = steps
        .step("sync: commit", |l| l.sync())?
        .context("git commit of the ledger failed")?;
    report.committed = committed.map(|c| c.beads).unwrap_or(0);
    let remote = choose_remote(town, opts.remote.as_deref())?;
    let Some(remote) = remote else {
        if opts.pull || opts.push || opts.remote.is_some() {
            bail!(
                "the town has no remote to sync with: add one with `gastown remote add origin <url>`"
            );
        }
        report.tip = tip(steps)?.map(|t| t.to_string());
        return Ok(report);
    };
    report.remote = Some(remote.clone());
    let branch = ledger_branch(town)?;
    let mut fetched = None;
    if opts.pull || !opts.push {
        fetched = pull(steps, town, &remote, &branch, &mut report)?;
    }
    if opts.push || !opts.pull {
        let mut attempt = 0;
        loop {
            let expected = match fetched.as_ref() {
                Some(f) => f.clone(),
                None => remote_tip(town, &remote, &branch)?,
            };
            match push(
                steps,
                town,
                &remote,
                &branch,
                expected.as_deref(),
                &mut report,
            ) {
                Ok(()) => break,
                Err(RemoteError::Stale { .. }) if attempt + 1 < PUSH_ATTEMPTS => {
                    attempt += 1;
                    report.retries += 1;
                    fetched = pull(steps, town, &remote, &branch, &mut report)?;
                }
                Err(RemoteError::Stale { remote: url, .. }) => bail!(
                    "{url} kept moving: {PUSH_ATTEMPTS} pushes were overtaken by other towns' pushes; run `gastown sync` again"
                ),
                Err(e) => return Err(e.into()),
            }
        }
    }
    if report.pushed.is_some() {
        report.town_branch = push_town_branch(town, &remote)?;
    }
    report.tip = tip(steps)?.map(|t| t.to_string());
    Ok(report)
}

/// Push the town's checked-out branch when the remote has none of that name (the first sync of
/// a town to a new remote); afterwards it is the people's branch, pushed and pulled with git.
fn push_town_branch(town: &Town, remote: &str) -> Result<Option<String>> {
    let Some(branch) = git_cli::current_branch(&town.root)? else {
        return Ok(None);
    };
    if git_cli::remote_branch_tip_from(&town.root, remote, &branch, REMOTE_TIMEOUT)?.is_some() {
        return Ok(None);
    }
    let head = git_cli::rev_parse(&town.root, "HEAD")?;
    git_cli::push_lease_to(
        &town.root,
        remote,
        Some(&head),
        &branch,
        None,
        REMOTE_TIMEOUT,
    )?;
    Ok(Some(branch))
}

fn tip<S: LedgerSteps>(steps: &mut S) -> Result<Option<ObjectId>> {
    Ok(steps.step("sync: tip", |l| l.git_tip())??)
}

/// Where the remote's ledger branch is, asked without fetching (`None`: it has none).
fn remote_tip(town: &Town, remote: &str, branch: &str) -> Result<Option<String>> {
    Ok(git_cli::remote_branch_tip_from(
        &town.root,
        remote,
        branch,
        REMOTE_TIMEOUT,
    )?)
}

/// Fetch the remote's ledger and merge it; the remote tip fetched (`Some(None)`: it has none).
fn pull<S: LedgerSteps>(
    steps: &mut S,
    town: &Town,
    remote: &str,
    branch: &str,
    report: &mut SyncReport,
) -> Result<Option<Option<String>>> {
    let tracking = tracking_ref(remote);
    let before = git_cli::rev_parse(&town.root, &tracking).ok();
    let theirs =
        match git_cli::fetch_branch_from(&town.root, remote, branch, &tracking, REMOTE_TIMEOUT) {
            Ok(theirs) => theirs,
            Err(RemoteError::NoSuchBranch { .. }) => {
                report.remote_empty = true;
                return Ok(Some(None));
            }
            Err(e) => return Err(e.into()),
        };
    if let Some(before) = before.filter(|b| *b != theirs)
        && !git_cli::is_ancestor(&town.root, &before, &theirs)?
    {
        // Put the tracking ref back: the next sync must see the rewrite again.
        let _ = git_cli::update_ref(
            &town.root,
            &tracking,
            &before,
            None,
            "gastown sync: rewrite refused",
        );
        bail!(
            "the ledger on {} was rewritten (force-pushed): it was at {before} and is now at {theirs}, which does not contain it. Nothing was merged and the local ledger is as it was. Find out who rewrote it; to take the rewritten ledger anyway, delete the tracking ref with `git -C {} update-ref -d {tracking}` and sync again",
            git_cli::remote_url(&town.root, remote),
            town.root.display()
        );
    }
    let theirs_id = ObjectId::from_hex(theirs.as_bytes())
        .with_context(|| format!("git answered {theirs:?} for {tracking}"))?;
    let ours = tip(steps)?;
    let base = match ours {
        Some(ours) => merge_base(town, &ours.to_string(), &theirs)?,
        None => None,
    };
    let merged = steps
        .step("sync: merge", move |l| l.merge_from(theirs_id, base))?
        .with_context(|| {
            format!(
                "cannot merge the ledger of {}: the local ledger is unchanged",
                git_cli::remote_url(&town.root, remote)
            )
        })?;
    report.add(&merged);
    Ok(Some(Some(theirs)))
}

fn merge_base(town: &Town, a: &str, b: &str) -> Result<Option<ObjectId>> {
    match git_cli::merge_base(&town.root, a, b)? {
        Some(hex) => Ok(Some(
            ObjectId::from_hex(hex.as_bytes())
                .with_context(|| format!("git answered {hex:?} for a merge base"))?,
        )),
        None => Ok(None),
    }
}

/// Push the ledger with a lease on `expected` (the remote tip last seen; `None`: it had none).
fn push<S: LedgerSteps>(
    steps: &mut S,
    town: &Town,
    remote: &str,
    branch: &str,
    expected: Option<&str>,
    report: &mut SyncReport,
) -> Result<(), RemoteError> {
    let ours = tip(steps).map_err(|e| RemoteError::Unreachable {
        remote: remote.to_string(),
        detail: format!("the ledger could not say its commit: {e:#}"),
    })?;
    let Some(ours) = ours else {
        return Ok(()); // Nothing to push: an empty ledger.
    };
    let ours = ours.to_string();
    if expected == Some(ours.as_str()) {
        return Ok(());
    }
    // The lease makes the push a compare-and-swap, but it would also let a push replace a
    // remote ledger ours does not contain: that needs a merge first, as if the push were
    // rejected.
    if let Some(expected) = expected
        && !git_cli::is_ancestor(&town.root, expected, &ours).unwrap_or(false)
    {
        return Err(RemoteError::Stale {
            remote: git_cli::remote_url(&town.root, remote),
            refname: format!("refs/heads/{branch}"),
        });
    }
    git_cli::push_lease_to(
        &town.root,
        remote,
        Some(&ours),
        branch,
        expected,
        REMOTE_TIMEOUT,
    )?;
    let _ = git_cli::update_ref(
        &town.root,
        &tracking_ref(remote),
        &ours,
        None,
        "gastown sync: pushed",
    );
    report.pushed = Some(ours);
    Ok(())
}
