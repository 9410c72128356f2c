//! `gastown doctor --fix` on orphans (worktrees and branches of no identity): only what cannot
//! lose work.
//!
//! - a worktree whose directory is gone: git's record of it is pruned (its branch is kept);
//! - a worktree with uncommitted changes: checkpointed first when it is a polecat's
//!   (`refs/gastown/checkpoints/<address>`), and kept either way;
//! - a clean worktree whose `HEAD` is on the rig's default branch: removed (`git worktree remove`,
//!   which itself refuses a dirty one); one with unmerged commits is kept;
//! - a branch whose commits are all on the default branch and that no worktree has checked out:
//!   deleted (compare-and-swap on its tip); an unmerged one is never deleted;
//! - homes (directories of no identity) are never removed.

use crate::git_cli;
use crate::identity::AgentIdentity;
use crate::rig::Rig;
use crate::rig::orphans::Orphans;
use crate::town::Town;
use std::path::Path;

/// What `--fix` did with `orphans` of `rig`, and what it left (with why).
#[derive(Debug, Default)]
pub(super) struct Tidied {
    pub done: Vec<String>,
    pub kept: Vec<String>,
}

pub(super) fn tidy(town: &Town, rig: &Rig, orphans: &Orphans) -> Tidied {
    let mut out = Tidied::default();
    let bare = rig.bare_repo();
    let default = rig.default_ref();
    let merged = |commit: &str| {
        git_cli::git(&bare, &["merge-base", "--is-ancestor", commit, &default]).is_ok()
    };
    let mut pruned = false;
    for w in &orphans.worktrees {
        let shown = w.path.display();
        if w.missing {
            pruned = true;
            continue;
        }
        let dirty = match git_cli::git(&w.path, &["status", "--porcelain"]) {
            Ok(status) => !status.trim().is_empty(),
            Err(e) => {
                out.kept
                    .push(format!("worktree {shown}: cannot read its status ({e})"));
                continue;
            }
        };
        if dirty {
            out.kept.push(match checkpoint(town, rig, &w.path) {
                Some(Ok(saved)) => format!(
                    "worktree {shown}: uncommitted changes, checkpointed ({saved}) and kept"
                ),
                Some(Err(e)) => format!(
                    "worktree {shown}: uncommitted changes, kept (the checkpoint failed: {e:#})"
                ),
                None => format!("worktree {shown}: uncommitted changes, kept"),
            });
            continue;
        }
        let head = match git_cli::rev_parse(&w.path, "HEAD") {
            Ok(head) => head,
            Err(e) => {
                out.kept
                    .push(format!("worktree {shown}: cannot read its HEAD ({e})"));
                continue;
            }
        };
        if !merged(&head) {
            out.kept.push(format!(
                "worktree {shown}: commits not on {default}, kept (merge or save them first)"
            ));
            continue;
        }
        let path = w.path.to_string_lossy();
        match git_cli::git(&bare, &["worktree", "remove", &path]) {
            Ok(_) => out
                .done
                .push(format!("removed worktree {shown} (clean, merged)")),
            Err(e) => out
                .kept
                .push(format!("worktree {shown}: git would not remove it ({e})")),
        }
    }
    if pruned {
        match git_cli::git(&bare, &["worktree", "prune"]) {
            Ok(_) => out
                .done
                .push("pruned git's records of worktrees whose directory is gone".to_string()),
            Err(e) => out.kept.push(format!("`git worktree prune` failed: {e}")),
        }
    }
    // Branches: after the worktrees, so one whose worktree was just removed may go too.
    let checked_out: Vec<String> = git_cli::worktree_list(&bare)
        .map(|list| list.into_iter().filter_map(|w| w.branch).collect())
        .unwrap_or_default();
    for b in &orphans.branches {
        if !b.merged || !merged(&b.commit) {
            out.kept.push(format!(
                "branch {}: commits not on {default}, never deleted (merge or save them first)",
                b.name
            ));
            continue;
        }
        if checked_out.contains(&b.name) {
            out.kept.push(format!(
                "branch {}: checked out in a worktree, kept",
                b.name
            ));
            continue;
        }
        let full = format!("refs/heads/{}", b.name);
        match git_cli::git(&bare, &["update-ref", "-d", &full, &b.commit]) {
            Ok(_) => out.done.push(format!("deleted branch {} (merged)", b.name)),
            Err(e) => out
                .kept
                .push(format!("branch {}: not deleted ({e})", b.name)),
        }
    }
    for home in &orphans.homes {
        out.kept.push(format!(
            "home {}: never removed by the doctor (look inside)",
            home.display()
        ));
    }
    out
}

/// A checkpoint of the worktree at `path` when it is a polecat's (`<rig>/polecats/<name>/rig`);
/// `None` for any other worktree.
fn checkpoint(town: &Town, rig: &Rig, path: &Path) -> Option<anyhow::Result<String>> {
    let home = path.parent()?;
    if home.parent() != Some(rig.polecats_dir().as_path()) {
        return None;
    }
    let name = home.file_name()?.to_string_lossy().into_owned();
    let agent = AgentIdentity::parse(&format!("{}/polecats/{name}", rig.name())).ok()?;
    Some(
        crate::checkpoint::save(town, &agent).map(|saved| match saved {
            crate::checkpoint::Saved::Clean => "nothing to save".to_string(),
            crate::checkpoint::Saved::Unchanged(c)
            | crate::checkpoint::Saved::Saved(c)
            | crate::checkpoint::Saved::Restarted { checkpoint: c, .. } => {
                format!("{} on {}", c.commit, crate::checkpoint::ref_name(&agent))
            }
        }),
    )
}
