//! The doctor's `worktrees` check: a known polecat's worktree that is no worktree any more — a
//! plain directory (its `.git` gone) or one whose `.git` points at a git dir that is gone. Its
//! session cannot start there, and git still counts the worktree as checked out.
//!
//! `--fix` never deletes it (the files may be the agent's work): it moves it aside beside itself
//! (`rig.plain-<secs>`, kept) and prunes git's record of the lost worktree, so the polecat's next
//! start makes the worktree again from its branch and restores its latest checkpoint.

use super::{Check, Status, good_rigs};
use crate::identity::{AgentIdentity, Role};
use crate::rig::orphans::Claims;
use crate::town::Town;
use std::path::{Path, PathBuf};

const NAME: &str = "worktrees";

/// Why `worktree` is not a usable git worktree, if it is a directory that is not one.
fn broken(worktree: &Path) -> Option<String> {
    if !worktree.is_dir() {
        return None;
    }
    let dotgit = worktree.join(".git");
    if dotgit.is_dir() {
        return None;
    }
    if !dotgit.exists() {
        return Some("a plain directory (no .git)".to_string());
    }
    let text = std::fs::read_to_string(&dotgit).unwrap_or_default();
    let gitdir = text.trim().strip_prefix("gitdir: ")?;
    let gitdir = PathBuf::from(gitdir);
    let gitdir = if gitdir.is_absolute() {
        gitdir
    } else {
        worktree.join(gitdir)
    };
    (!gitdir.is_dir()).then(|| format!("its .git points at {}, which is gone", gitdir.display()))
}

/// The check (see the module's docs); `claims` says which polecats the ledger knows (an agent
/// bead, or a bead on the hook).
pub(super) fn check(town: &Town, claims: &Result<Claims, String>, fix: bool) -> Check {
    let claims = match claims {
        Ok(c) => c,
        Err(e) => return Check::bad(NAME, Status::Warn, e.clone(), "see the message"),
    };
    let mut found = Vec::new();
    let mut left = Vec::new();
    let mut all_fixed = true;
    for rig in good_rigs(town) {
        let mut moved = false;
        // Known: an agent bead, or a bead on its hook.
        let known: std::collections::BTreeSet<&String> = claims
            .identities
            .iter()
            .chain(claims.hooks.keys())
            .collect();
        for address in known {
            let Ok(agent) = AgentIdentity::parse(address) else {
                continue;
            };
            if agent.role != Role::Polecat || agent.rig.as_deref() != Some(rig.name()) {
                continue;
            }
            let worktree = rig.polecat_worktree(&agent.name);
            let Some(why) = broken(&worktree) else {
                continue;
            };
            found.push(format!(
                "{address}'s worktree {} is {why}",
                worktree.display()
            ));
            if !fix {
                continue;
            }
            match move_aside(&worktree) {
                Ok(aside) => {
                    moved = true;
                    left.push(format!(
                        "{address}'s moved aside to {} (kept)",
                        aside.display()
                    ));
                }
                Err(e) => {
                    all_fixed = false;
                    left.push(format!("{address}'s could not be moved aside: {e}"));
                }
            }
        }
        if moved {
            // Git's record of the lost worktree goes, so the worktree can be made again there
            // (its branch and commits are untouched).
            if let Err(e) = crate::git_cli::git(&rig.bare_repo(), &["worktree", "prune"]) {
                all_fixed = false;
                left.push(format!("`git worktree prune` in {}: {e}", rig.name()));
            }
        }
    }
    if found.is_empty() {
        return Check::ok(NAME, "every known polecat's worktree is a git worktree");
    }
    let mut c = Check::bad(
        NAME,
        Status::Warn,
        found.join("; "),
        "`gastown doctor --fix` moves each aside (kept, never deleted) so the polecat's next start makes its worktree again from its branch and restores its latest checkpoint; copy back what else you need from the moved directory",
    );
    if fix {
        c.fixed = all_fixed;
        c.found.push_str(&format!("; {}", left.join("; ")));
    }
    c
}

/// Rename `worktree` to `rig.plain-<secs>` beside it.
fn move_aside(worktree: &Path) -> std::io::Result<PathBuf> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let name = worktree
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "rig".to_string());
    let aside = worktree.with_file_name(format!("{name}.plain-{secs}"));
    std::fs::rename(worktree, &aside)?;
    Ok(aside)
}
