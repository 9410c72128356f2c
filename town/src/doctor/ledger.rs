//! The doctor's `ledger` check: does the redb index agree with the ledger's git ref?
//!
//! Opening the ledger reconciles the two silently (commits git has that the index has not seen
//! are re-indexed, the journal is committed), so that check would never see a disagreement. This
//! one compares them without changing a bead: under the ledger's pid lock it reads the index
//! (every bead, the journal of local changes not yet in git, the commit it last saw) and git's
//! beads at that same commit, and names the beads that differ. Beads in the journal are the
//! index's own newer changes, and wisps live only in the index: neither is a disagreement.
//!
//! Only `--fix` repairs: a missing index is rebuilt from git; a damaged (unreadable) one, or one
//! that disagrees, is moved aside (kept, never deleted) and rebuilt from git, after the journal
//! was committed when the index could still be read. What the rebuilt index cannot hold is
//! said, never claimed to be nothing.

use super::{Check, Status};
use crate::town::Town;
use gastown_beads::git::{GitStore, ObjectId};
use gastown_beads::store::Store;
use gastown_beads::{Bead, LedgerConfig, LedgerError};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

const NAME: &str = "ledger";

/// The ledger check, and whether the ledger may be opened by the checks after it (opening it
/// would rebuild a missing index or reconcile a disagreeing one, which only `--fix` may do).
pub(super) fn check(town: &Town, fix: bool) -> (Check, bool) {
    let cfg = match town.ledger_config() {
        Ok(cfg) => cfg,
        Err(e) => {
            return (
                Check::bad(NAME, Status::Error, format!("{e:#}"), "see the message"),
                false,
            );
        }
    };
    if !cfg.index_path.exists() {
        return missing(town, &cfg, fix);
    }
    let compared = {
        let _lock = match gastown_beads::lock::PidLock::acquire(&cfg.lock_path) {
            Ok(lock) => lock,
            Err(e @ LedgerError::Locked { .. }) => {
                return (
                    Check::ok(
                        NAME,
                        format!("not compared: another gastown process holds it ({e})"),
                    ),
                    false,
                );
            }
            Err(e) => {
                return (
                    Check::bad(NAME, Status::Error, e.to_string(), "see the message"),
                    false,
                );
            }
        };
        compare(&cfg)
    };
    match compared {
        Ok(found) if found.agrees() => (Check::ok(NAME, found.agreement()), true),
        Ok(found) => disagreement(town, &cfg, &found, fix),
        Err(LedgerError::IndexDamaged { what, .. }) => damaged(town, &cfg, &what, fix),
        Err(e) => (
            Check::bad(
                NAME,
                Status::Error,
                format!("cannot compare the index with git: {e}"),
                "see the message",
            ),
            false,
        ),
    }
}

/// What the comparison found.
#[derive(Debug, Default)]
struct Compared {
    /// Beads in the index (wisps not counted).
    beads: usize,
    wisps: usize,
    /// Local changes not yet in git.
    journaled: usize,
    /// The commit compared at (the index's last seen), short.
    at: Option<String>,
    /// Git's ref moved on since (a pull, a hand edit): the next open re-indexes it.
    behind: bool,
    /// In git, not in the index.
    missing: Vec<String>,
    /// In the index (not journaled), not in git.
    only_index: Vec<String>,
    /// In both, different.
    differ: Vec<String>,
    /// The commit the index last saw cannot be read from git (history rewritten).
    lost_commit: Option<String>,
}

impl Compared {
    fn agrees(&self) -> bool {
        self.missing.is_empty() && self.only_index.is_empty() && self.differ.is_empty()
    }

    fn agreement(&self) -> String {
        let mut text = format!(
            "{} beads and {} wisps; the index agrees with git",
            self.beads, self.wisps
        );
        if let Some(at) = &self.at {
            text.push_str(&format!(" at {at}"));
        }
        if self.journaled > 0 {
            text.push_str(&format!(
                "; {} local change(s) not yet committed to git",
                self.journaled
            ));
        }
        if self.behind {
            text.push_str("; git has newer commits, indexed when the ledger next opens");
        }
        if let Some(lost) = &self.lost_commit {
            text.push_str(&format!(
                "; the commit it last saw ({lost}) is gone from git, so everything at the tip is indexed again when the ledger next opens"
            ));
        }
        text
    }

    fn disagreement(&self) -> String {
        let list = |ids: &[String]| {
            const SHOWN: usize = 10;
            let mut text = ids
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if ids.len() > SHOWN {
                text.push_str(&format!(" and {} more", ids.len() - SHOWN));
            }
            text
        };
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("in git, not in the index: {}", list(&self.missing)));
        }
        if !self.only_index.is_empty() {
            parts.push(format!(
                "in the index, not in git: {}",
                list(&self.only_index)
            ));
        }
        if !self.differ.is_empty() {
            parts.push(format!("different in the index: {}", list(&self.differ)));
        }
        format!(
            "the index disagrees with git{}: {}",
            self.at
                .as_deref()
                .map(|at| format!(" at {at}"))
                .unwrap_or_default(),
            parts.join("; ")
        )
    }
}

/// Read the index and git's beads at the commit the index last saw, and compare them.
fn compare(cfg: &LedgerConfig) -> Result<Compared, LedgerError> {
    let store = Store::open(&cfg.index_path)?;
    let git = GitStore::open(cfg.git_store_config())?;
    let tip = git.tip()?;
    let last = store.last_commit()?;
    let journal: HashSet<String> = store.journal()?.into_iter().map(|(id, _)| id).collect();
    let mut found = Compared {
        journaled: journal.len(),
        ..Compared::default()
    };
    let mut index: BTreeMap<String, Bead> = BTreeMap::new();
    for (bead, wisp) in store.all()? {
        if wisp {
            found.wisps += 1;
        } else {
            found.beads += 1;
            index.insert(bead.id.clone(), bead);
        }
    }
    let at = match last.as_deref() {
        Some(hex) => {
            Some(
                ObjectId::from_hex(hex.as_bytes()).map_err(|e| LedgerError::Corrupt {
                    id: "meta.last_commit".to_string(),
                    message: e.to_string(),
                })?,
            )
        }
        None => None,
    };
    found.behind = tip != at;
    found.at = at.map(|oid| oid.to_hex_with_len(12).to_string());
    let in_git = match at {
        Some(oid) => match git.read_all(oid) {
            Ok(beads) => beads,
            Err(_) => {
                // Rewritten history: the next open re-indexes the tip; nothing to compare here.
                found.lost_commit = found.at.clone();
                return Ok(found);
            }
        },
        None => Vec::new(),
    };
    for (id, line) in in_git {
        if journal.contains(&id) {
            continue;
        }
        match index.remove(&id) {
            None => found.missing.push(id),
            Some(here) => match serde_json::from_str::<Bead>(&line) {
                Ok(there) if there == here => {}
                _ => found.differ.push(id),
            },
        }
    }
    found.only_index = index
        .into_keys()
        .filter(|id| !journal.contains(id))
        .collect();
    Ok(found)
}

/// The index file is gone: git holds every bead; `--fix` rebuilds it now.
fn missing(town: &Town, cfg: &LedgerConfig, fix: bool) -> (Check, bool) {
    let mut c = Check::bad(
        NAME,
        Status::Warn,
        format!(
            "the index {} is missing; git's {} holds every bead (wisps, which live only in the index, went with it, and so did any change not yet committed to git)",
            cfg.index_path.display(),
            cfg.git_ref
        ),
        "`gastown doctor --fix` rebuilds it from git now (any command that opens the ledger does too)",
    );
    if fix {
        match reopen(town) {
            Ok(n) => {
                c.fixed = true;
                c.found.push_str(&format!("; rebuilt from git: {n} beads"));
            }
            Err(e) => c.found.push_str(&format!("; cannot rebuild it: {e:#}")),
        }
    }
    let usable = c.fixed;
    (c, usable)
}

/// The index cannot be read: `--fix` moves it aside (kept) and rebuilds it from git. Its
/// journal cannot be read either, so changes acknowledged but not yet committed to git are not in
/// the new index: said so, with where the old one is kept.
fn damaged(town: &Town, cfg: &LedgerConfig, what: &str, fix: bool) -> (Check, bool) {
    let mut c = Check::bad(
        NAME,
        Status::Error,
        format!("the ledger's index {} is {what}", cfg.index_path.display()),
        "`gastown doctor --fix` moves the damaged index aside (kept, never deleted) and rebuilds it from git; changes acknowledged but not yet committed to git (at most the last `ledger.commit_delay`) and wisps are not in the new one",
    );
    if fix {
        match rebuild(town, &cfg.index_path, "damaged") {
            Ok((aside, n)) => {
                c.fixed = true;
                c.found.push_str(&format!(
                    "; rebuilt from git ({n} beads); the damaged index is kept at {} — changes acknowledged but not yet committed to git, and wisps, are only in it (it could not be read, so whether there were any is unknown)",
                    aside.display()
                ));
            }
            Err(e) => c.found.push_str(&format!("; cannot rebuild it: {e:#}")),
        }
    }
    let usable = c.fixed;
    (c, usable)
}

/// The index disagrees with git: `--fix` commits its journal (its own newer changes are kept in
/// git), moves it aside and rebuilds it from git.
fn disagreement(town: &Town, cfg: &LedgerConfig, found: &Compared, fix: bool) -> (Check, bool) {
    let mut c = Check::bad(
        NAME,
        Status::Warn,
        found.disagreement(),
        "`gastown doctor --fix` commits the index's changes not yet in git, moves it aside (kept) and rebuilds it from git, which wins for the beads named",
    );
    if !fix {
        return (c, false);
    }
    let done = town
        .open_ledger()
        .and_then(|l| l.close_ledger().map_err(anyhow::Error::from))
        .and_then(|()| rebuild(town, &cfg.index_path, "disagreed"));
    match done {
        Ok((aside, n)) => {
            c.fixed = true;
            let mut text = format!(
                "; rebuilt from git ({n} beads), the old index kept at {}",
                aside.display()
            );
            if !found.only_index.is_empty() || found.wisps > 0 {
                text.push_str(&format!(
                    "; only the old index still has {} wisp(s) and the bead(s) git never had ({})",
                    found.wisps,
                    found.only_index.join(", ")
                ));
            }
            c.found.push_str(&text);
        }
        Err(e) => c.found.push_str(&format!("; cannot rebuild it: {e:#}")),
    }
    let usable = c.fixed;
    (c, usable)
}

/// Move the index aside as `ledger.redb.<why>-<secs>` and open the ledger, which rebuilds it
/// from git; returns where the old one is and how many beads the new one holds.
fn rebuild(town: &Town, index: &Path, why: &str) -> anyhow::Result<(PathBuf, usize)> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let aside = index.with_extension(format!("redb.{why}-{secs}"));
    std::fs::rename(index, &aside).map_err(|e| {
        anyhow::anyhow!(
            "cannot move {} aside to {}: {e}",
            index.display(),
            aside.display()
        )
    })?;
    Ok((aside, reopen(town)?))
}

/// Open the ledger (rebuilding a missing index from git) and close it; how many beads it holds.
fn reopen(town: &Town) -> anyhow::Result<usize> {
    let ledger = town.open_ledger()?;
    let n = ledger.len();
    ledger.close_ledger()?;
    Ok(n)
}
