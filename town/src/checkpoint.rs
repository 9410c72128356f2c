//! Checkpoints of polecats' uncommitted work, so a crash, a `kill -9` or a lost worktree never
//! loses what an agent had not committed yet (`docs/checkpoints.md`).
//!
//! A checkpoint is a commit on `refs/gastown/checkpoints/<agent address>` in the rig's bare
//! repository (shared by every polecat worktree, so it outlives the worktree). Its tree is the
//! worktree as it is — tracked changes, deletions and untracked files, `.gitignore` respected —
//! staged into a throw-away index, so the agent's worktree, its index and its branch are never
//! touched. Its first parent is the worktree's `HEAD` (the base the changes apply to); its second
//! parent is the previous checkpoint, so the ref's history is every checkpoint taken.
//!
//! [`save`] takes one (nothing when the worktree is clean or unchanged since the last);
//! [`restore`] applies the changes of the latest onto the worktree as uncommitted changes (never
//! over uncommitted changes of the worktree's own); [`list`] and [`latest`] read them.

use crate::git_cli::{self, GitCliError};
use crate::identity::{AgentIdentity, Role};
use crate::rig::Rig;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where checkpoints live in a rig's bare repository.
pub const REF_PREFIX: &str = "refs/gastown/checkpoints/";

/// The ref of `agent`'s checkpoints.
pub fn ref_name(agent: &AgentIdentity) -> String {
    format!("{REF_PREFIX}{}", agent.address)
}

/// One checkpoint as `checkpoint list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The agent's address.
    pub agent: String,
    /// The checkpoint commit.
    pub commit: String,
    /// The commit its changes apply to (the worktree's `HEAD` when it was taken).
    pub base: String,
    /// When it was taken (the commit's date, ISO 8601).
    pub at: String,
    /// The branch the worktree was on (`None`: detached, or not recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The paths it changes against its base.
    pub files: Vec<String>,
}

/// What [`save`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Saved {
    /// Nothing uncommitted: no checkpoint needed.
    Clean,
    /// The latest checkpoint already holds exactly this.
    Unchanged(Checkpoint),
    /// A new checkpoint.
    Saved(Checkpoint),
    /// A new checkpoint starting a new chain: the previous one could not be read (its objects
    /// are missing), so its ref was kept aside under [`BROKEN_PREFIX`] and the agent's ref now
    /// starts again from this one.
    Restarted {
        checkpoint: Checkpoint,
        broken: BrokenChain,
    },
}

/// A checkpoint chain that could not be read and was kept aside by [`save`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenChain {
    /// The commit the agent's ref pointed at.
    pub commit: String,
    /// The ref it is kept under now (`refs/gastown/checkpoints-broken/<agent>/<nanos>`).
    pub kept_at: String,
    /// Why it could not be read.
    pub why: String,
}

/// Where [`save`] keeps a checkpoint chain it could not read, so nothing is dropped silently.
pub const BROKEN_PREFIX: &str = "refs/gastown/checkpoints-broken/";

/// The polecat `agent`'s worktree and rig; an error for any other role.
fn polecat_of(
    town: &crate::town::Town,
    agent: &AgentIdentity,
) -> Result<(Rig, std::path::PathBuf)> {
    let (Role::Polecat, Some(rig)) = (agent.role, agent.rig.as_deref()) else {
        bail!(
            "{agent} is not a polecat: checkpoints are taken of polecats' worktrees (crew keep their own clones)"
        );
    };
    let rig = Rig::load(town, rig)?;
    let worktree = rig.polecat_worktree(&agent.name);
    Ok((rig, worktree))
}

/// Save the uncommitted work of polecat `agent` as a checkpoint (see the module's docs).
pub fn save(town: &crate::town::Town, agent: &AgentIdentity) -> Result<Saved> {
    let (rig, worktree) = polecat_of(town, agent)?;
    if !worktree.join(".git").exists() {
        bail!(
            "{agent} has no worktree at {}: nothing to checkpoint",
            worktree.display()
        );
    }
    let head = git_cli::rev_parse(&worktree, "HEAD")?;
    let tree = stage_everything(&worktree)?;
    let head_tree = git_cli::rev_parse(&worktree, &format!("{head}^{{tree}}"))?;
    if tree == head_tree {
        return Ok(Saved::Clean);
    }
    let bare = rig.bare_repo();
    let refname = ref_name(agent);
    let mut previous = current(&bare, &refname)?;
    let mut broken = None;
    if let Some(prev) = previous.clone() {
        match readable(&bare, &prev) {
            Ok((prev_tree, prev_base)) => {
                if prev_tree == tree && prev_base == head {
                    return Ok(Saved::Unchanged(read(&bare, agent, &prev)?));
                }
            }
            Err(why) => {
                // An unreadable previous checkpoint would wedge every save from now on: keep it
                // aside (never dropped) and start a new chain.
                let kept_at = keep_aside(&bare, agent, &prev)?;
                tracing::warn!(agent = %agent, broken = %prev, kept_at = %kept_at, "the previous checkpoint cannot be read ({why}); kept aside, a new chain starts");
                broken = Some(BrokenChain {
                    commit: prev,
                    kept_at,
                    why,
                });
                // The compare-and-swap below still expects the broken value, so a concurrent
                // save is not overwritten; the new commit just does not descend from it.
            }
        }
    }
    let expected = previous.take();
    let parent = if broken.is_some() {
        None
    } else {
        expected.clone()
    };
    let branch = git_cli::current_branch(&worktree)?.unwrap_or_else(|| "(detached)".to_string());
    let message =
        format!("checkpoint of {agent}'s uncommitted work\n\nbranch: {branch}\nbase: {head}\n");
    let mut args = vec!["commit-tree", tree.as_str(), "-p", head.as_str()];
    if let Some(prev) = &parent {
        args.extend(["-p", prev.as_str()]);
    }
    args.extend(["-m", message.as_str()]);
    let commit = git_cli::git(&bare, &args)?;
    git_cli::update_ref(
        &bare,
        &refname,
        &commit,
        Some(expected.as_deref().unwrap_or(ZERO)),
        &format!("gastown: checkpoint of {agent}"),
    )?;
    let checkpoint = read(&bare, agent, &commit)?;
    Ok(match broken {
        Some(broken) => Saved::Restarted { checkpoint, broken },
        None => Saved::Saved(checkpoint),
    })
}

/// The tree and the base of checkpoint `commit`, or why they cannot be read.
fn readable(bare: &Path, commit: &str) -> Result<(String, String), String> {
    // `rev-parse --verify --quiet` exits 1, saying nothing, when an object is not there.
    let why = |what: &'static str| {
        move |e: GitCliError| match e {
            GitCliError::Failed { code: Some(1), .. } => {
                format!("{what} is missing from the repository")
            }
            e => e.to_string(),
        }
    };
    let tree = git_cli::rev_parse(bare, &format!("{commit}^{{tree}}"))
        .map_err(why("the commit or its tree"))?;
    let base = git_cli::rev_parse(bare, &format!("{commit}^1")).map_err(why("its base commit"))?;
    Ok((tree, base))
}

/// Keep the unreadable checkpoint `commit` of `agent` under [`BROKEN_PREFIX`]; returns the ref.
/// `git update-ref` refuses a missing object, so then the loose ref file is written directly
/// (the files ref backend); with any other backend it is an error naming the commit, never a
/// silent drop.
fn keep_aside(bare: &Path, agent: &AgentIdentity, commit: &str) -> Result<String> {
    let kept_at = format!(
        "{BROKEN_PREFIX}{}/{}",
        agent.address,
        gastown_beads::time::now_unix_nanos()
    );
    let reason = format!("gastown: unreadable checkpoint of {agent} kept aside");
    if git_cli::update_ref(bare, &kept_at, commit, Some(ZERO), &reason).is_ok() {
        return Ok(kept_at);
    }
    let format = git_cli::git(bare, &["rev-parse", "--show-ref-format"]).unwrap_or_default();
    if !format.is_empty() && format != "files" {
        bail!(
            "the checkpoint {commit} of {agent} cannot be read and cannot be kept aside in a {format} ref store: keep it by hand (e.g. write its id down), then `git -C {} update-ref -d {}`",
            bare.display(),
            ref_name(agent)
        );
    }
    let file = bare.join(&kept_at);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot make {} for a broken checkpoint", dir.display()))?;
    }
    std::fs::write(&file, format!("{commit}\n")).with_context(|| {
        format!(
            "cannot keep the broken checkpoint {commit} at {}",
            file.display()
        )
    })?;
    Ok(kept_at)
}

/// The all-zero id: "the ref must not exist yet" for a compare-and-swap.
const ZERO: &str = "0000000000000000000000000000000000000000";

/// Stage the whole worktree (tracked, deleted, untracked, ignores respected) into a temporary
/// index seeded from the worktree's own (so unchanged files are not hashed again) and write its
/// tree. The worktree's index is never written.
fn stage_everything(worktree: &Path) -> Result<String> {
    let own = git_cli::git(worktree, &["rev-parse", "--git-path", "index"])?;
    let own = worktree.join(own);
    let temp = tempfile::Builder::new()
        .prefix("gastown-checkpoint-index")
        .tempfile()
        .context("cannot make a temporary index for a checkpoint")?;
    if own.is_file() {
        std::fs::copy(&own, temp.path())
            .with_context(|| format!("cannot copy the index {}", own.display()))?;
    } else {
        // No index yet: git starts an empty one where the file is missing.
        std::fs::remove_file(temp.path()).ok();
    }
    git_cli::git_with_index(worktree, temp.path(), &["add", "--all", "--", "."])?;
    Ok(git_cli::git_with_index(
        worktree,
        temp.path(),
        &["write-tree"],
    )?)
}

/// The commit `refname` points at in `repo`, if it exists.
fn current(repo: &Path, refname: &str) -> Result<Option<String>, GitCliError> {
    match git_cli::git(repo, &["rev-parse", "--verify", "--quiet", refname]) {
        Ok(id) if !id.is_empty() => Ok(Some(id)),
        Ok(_) => Ok(None),
        Err(GitCliError::Failed { code: Some(1), .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn read(bare: &Path, agent: &AgentIdentity, commit: &str) -> Result<Checkpoint> {
    let base = git_cli::rev_parse(bare, &format!("{commit}^1")).with_context(|| {
        format!("checkpoint {commit} of {agent} has no base commit (its objects are missing?)")
    })?;
    let at = git_cli::git(bare, &["show", "-s", "--format=%cI", commit])?;
    let body = git_cli::git(bare, &["show", "-s", "--format=%B", commit])?;
    let branch = body
        .lines()
        .find_map(|l| l.strip_prefix("branch: "))
        .filter(|b| !b.starts_with('('))
        .map(str::to_string);
    let files = git_cli::git(bare, &["diff", "--name-only", &base, commit])?
        .lines()
        .map(str::to_string)
        .collect();
    Ok(Checkpoint {
        agent: agent.address.clone(),
        commit: commit.to_string(),
        base,
        at,
        branch,
        files,
    })
}

/// The latest checkpoint of polecat `agent`, if any.
pub fn latest(town: &crate::town::Town, agent: &AgentIdentity) -> Result<Option<Checkpoint>> {
    let (rig, _) = polecat_of(town, agent)?;
    let bare = rig.bare_repo();
    match current(&bare, &ref_name(agent))? {
        Some(commit) => Ok(Some(read(&bare, agent, &commit)?)),
        None => Ok(None),
    }
}

/// Every checkpoint ref of every rig, by agent. A ref whose commit cannot be read (objects
/// missing), or a rig whose rig.toml cannot be read, is reported as an error naming it, after
/// the good ones are listed by the caller.
pub fn list(town: &crate::town::Town) -> Result<(Vec<Checkpoint>, Vec<String>)> {
    let mut found = Vec::new();
    let mut broken = Vec::new();
    for (name, rig) in Rig::list_each(town)? {
        let rig = match rig {
            Ok(rig) => rig,
            Err(e) => {
                broken.push(format!("rig {name} (its checkpoints are not read): {e:#}"));
                continue;
            }
        };
        let bare = rig.bare_repo();
        if !bare.is_dir() {
            continue;
        }
        let refs = match git_cli::git(
            &bare,
            &[
                "for-each-ref",
                "--format=%(refname) %(objectname)",
                REF_PREFIX,
            ],
        ) {
            Ok(refs) => refs,
            Err(e) => {
                broken.push(format!("rig {name}: cannot list its checkpoints: {e}"));
                continue;
            }
        };
        for line in refs.lines() {
            let Some((refname, commit)) = line.split_once(' ') else {
                continue;
            };
            let address = refname.trim_start_matches(REF_PREFIX);
            let Ok(agent) = AgentIdentity::parse(address) else {
                broken.push(format!("{refname}: not an agent's address"));
                continue;
            };
            match read(&bare, &agent, commit) {
                Ok(c) => found.push(c),
                Err(e) => broken.push(format!("{refname}: {e:#}")),
            }
        }
    }
    found.sort_by(|a, b| a.agent.cmp(&b.agent));
    Ok((found, broken))
}

/// What [`restore`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restored {
    pub checkpoint: Checkpoint,
    /// Paths that did not apply cleanly (left with conflict markers to resolve).
    pub conflicts: Vec<String>,
}

/// Apply polecat `agent`'s latest checkpoint onto its worktree as uncommitted changes: the
/// changes it holds against its base are merged onto the worktree's `HEAD` (which may have moved
/// on since), its index left as `HEAD`'s. Refused when the worktree has uncommitted changes of
/// its own (nothing is ever overwritten) or when there is no checkpoint.
pub fn restore(town: &crate::town::Town, agent: &AgentIdentity) -> Result<Restored> {
    let (_, worktree) = polecat_of(town, agent)?;
    let Some(checkpoint) = latest(town, agent)? else {
        bail!("{agent} has no checkpoint (`gastown checkpoint list` shows the ones there are)");
    };
    if !worktree.join(".git").exists() {
        bail!(
            "{agent} has no worktree at {}: start it (`gastown sling` or `gastown run` makes it again from its branch), then restore",
            worktree.display()
        );
    }
    let dirty = git_cli::git(&worktree, &["status", "--porcelain"])?;
    if !dirty.trim().is_empty() {
        bail!(
            "{agent}'s worktree has uncommitted changes of its own: restoring could overwrite them. Commit them (or run `gastown checkpoint save {agent}` and move them aside) first"
        );
    }
    // `cherry-pick -n` applies the checkpoint's changes against its base (its first parent)
    // onto HEAD, in the worktree and the index; the index is then put back to HEAD so the changes
    // stay uncommitted and unstaged, as the agent left them.
    let parents = git_cli::git(
        &worktree,
        &["rev-list", "--parents", "-n", "1", &checkpoint.commit],
    )?;
    let mut args = vec!["cherry-pick", "--no-commit"];
    if parents.split_whitespace().count() > 2 {
        args.extend(["-m", "1"]);
    }
    args.push(checkpoint.commit.as_str());
    let conflicts = match git_cli::git(&worktree, &args) {
        Ok(_) => Vec::new(),
        Err(e @ GitCliError::Failed { .. }) => {
            let listed = git_cli::git(&worktree, &["diff", "--name-only", "--diff-filter=U"])?;
            let conflicts: Vec<String> = listed.lines().map(str::to_string).collect();
            if conflicts.is_empty() {
                return Err(anyhow::Error::new(e).context("the checkpoint did not apply"));
            }
            conflicts
        }
        Err(e) => return Err(e.into()),
    };
    // End the cherry-pick state (keep the worktree) and unstage.
    let _ = git_cli::git(&worktree, &["cherry-pick", "--quit"]);
    git_cli::git(&worktree, &["reset", "--quiet"])?;
    Ok(Restored {
        checkpoint,
        conflicts,
    })
}

/// After a polecat's worktree was made again from its branch (it had been lost): put back its
/// latest checkpoint if it was taken on that same branch (an older bead's checkpoint is left
/// alone). `Ok(None)` when there is none to restore.
pub fn restore_after_remake(
    town: &crate::town::Town,
    agent: &AgentIdentity,
) -> Result<Option<Restored>> {
    let (_, worktree) = polecat_of(town, agent)?;
    let Some(latest) = latest(town, agent)? else {
        return Ok(None);
    };
    let branch = git_cli::current_branch(&worktree)?;
    if latest.branch.is_none() || latest.branch != branch {
        return Ok(None);
    }
    restore(town, agent).map(Some)
}

/// A checkpoint put back into a polecat's worktree at a session's start, and why.
#[derive(Debug)]
pub struct Offered {
    pub restored: Restored,
    /// How the worktree had lost the work: `lost` (made again) or `reset`.
    pub how: &'static str,
}

impl Offered {
    /// The line for the next session's prompt: what came back, and what holds conflicts.
    pub fn note(&self) -> String {
        let checkpoint = &self.restored.checkpoint;
        let short = checkpoint.commit.get(..12).unwrap_or_default();
        let mut note = format!(
            "Your worktree was {}; your uncommitted work from checkpoint {short} ({}) is back in it as uncommitted changes: {}.",
            self.how,
            checkpoint.at,
            checkpoint.files.join(", ")
        );
        if !self.restored.conflicts.is_empty() {
            note.push_str(&format!(
                " These did not apply cleanly and hold conflict markers to resolve: {}.",
                self.restored.conflicts.join(", ")
            ));
        }
        note
    }
}

/// Put polecat `agent`'s latest checkpoint back into its `worktree` when the worktree was just
/// made again (`remade`: the checkpoint's branch must be the worktree's) or was reset (see
/// [`reset_since`]; a branch reset behind the checkpoint's base is first moved forward to it,
/// a fast-forward that loses nothing). Never over uncommitted changes. `None`: nothing to offer.
pub fn offer(
    town: &crate::town::Town,
    worktree: &Path,
    agent: &AgentIdentity,
    remade: bool,
) -> Result<Option<Offered>> {
    if remade {
        return Ok(restore_after_remake(town, agent)?.map(|restored| Offered {
            restored,
            how: "lost",
        }));
    }
    let Some(latest) = latest(town, agent)? else {
        return Ok(None);
    };
    let Some(behind) = reset_since(worktree, &latest)? else {
        return Ok(None);
    };
    if behind {
        git_cli::git(worktree, &["merge", "--ff-only", "--quiet", &latest.base])?;
    }
    Ok(Some(Offered {
        restored: restore(town, agent)?,
        how: "reset",
    }))
}

/// Whether a polecat's worktree was reset since `checkpoint`: nothing uncommitted, on the
/// checkpoint's branch, and its `HEAD` the checkpoint's base or behind it (none of the
/// checkpoint's work is in it). `Ok(None)`: not reset; `Ok(Some(behind))`: reset, `behind`
/// when its branch went back past the base too.
fn reset_since(worktree: &Path, checkpoint: &Checkpoint) -> Result<Option<bool>> {
    let branch = git_cli::current_branch(worktree)?;
    if checkpoint.branch.is_none() || checkpoint.branch != branch {
        return Ok(None); // Another bead's checkpoint, or a detached one: not this work.
    }
    if !git_cli::git(worktree, &["status", "--porcelain"])?
        .trim()
        .is_empty()
    {
        return Ok(None); // Work of its own: never overwritten.
    }
    let head = git_cli::git(worktree, &["rev-parse", "HEAD"])?;
    let head = head.trim();
    if head == checkpoint.base {
        return Ok(Some(false));
    }
    let behind = git_cli::git(
        worktree,
        &["merge-base", "--is-ancestor", head, &checkpoint.base],
    )
    .is_ok();
    Ok(behind.then_some(true))
}

/// The file, in a polecat worktree's own git directory (never its working tree), that holds the
/// line for the next session's prompt after a restore (the workspace is checked more than once
/// before a session starts; the session's own check takes it).
const RESTORE_NOTE: &str = "gastown-restore-note";

/// The git directory of the worktree at `worktree`.
fn git_dir(worktree: &Path) -> Result<std::path::PathBuf> {
    let dir = git_cli::git(worktree, &["rev-parse", "--absolute-git-dir"])?;
    Ok(std::path::PathBuf::from(dir.trim()))
}

/// Leave `note` ([`Offered::note`]) for the next session's prompt.
pub fn leave_note(worktree: &Path, note: &str) -> Result<()> {
    std::fs::write(git_dir(worktree)?.join(RESTORE_NOTE), note)?;
    Ok(())
}

/// The restore note left for this session's prompt, removed as it is taken.
pub fn take_note(worktree: &Path) -> Option<String> {
    let path = git_dir(worktree).ok()?.join(RESTORE_NOTE);
    let note = std::fs::read_to_string(&path).ok()?;
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::warn!(path = %path.display(), "cannot remove the restore note: {e}");
    }
    Some(note)
}

#[cfg(test)]
mod tests;
