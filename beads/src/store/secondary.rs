//! Secondary indexes of the redb store: beads and wisps by status, by assignee and by type, so a
//! [`crate::Ledger::list`] with one of those filters (the GUPP sweep over hooked beads, an
//! agent's hook, an inbox, the merge queue) costs its result, not the ledger.
//!
//! Tables (every key ends in the bead id, values are empty):
//! - `by_status`: (status, id);
//! - `by_assignee`: (assignee, status, id), for beads with an assignee (a mail's recipient);
//! - `by_type`: (issue type, status, id);
//! - `indexed`: id -> (status, assignee, type): what the three hold for each id, so a change
//!   can remove the rows of the bead's old values.
//!
//! The status is the second part of the assignee and type keys so that "not closed" (what
//! `list` asks for by default) is a walk that jumps over the closed rows instead of reading them.
//!
//! Maintenance follows the store's write-ahead table: a write records the new values of each
//! changed id in memory (with its `wal` row, replayed at open), reads merge them over the
//! folded rows, and [`super::Store::fold`] moves them into these tables in the same transaction
//! that folds the beads. The index therefore never disagrees with the beads it indexes, at any
//! commit. The meta key `indexed_seq` holds the change sequence the index reflects; a ledger
//! whose `seq` differs (written before the index existed, or by an older gastown since) is
//! re-indexed from its beads at open. Losing the whole file loses nothing either: the index is
//! rebuilt from git like everything else in it.

use crate::error::LedgerError;
use crate::model::{Bead, IssueType, Status};
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::Deserialize;
use std::path::Path;

pub(super) const BY_STATUS: TableDefinition<(&str, &str), ()> = TableDefinition::new("by_status");
pub(super) const BY_ASSIGNEE: TableDefinition<(&str, &str, &str), ()> =
    TableDefinition::new("by_assignee");
pub(super) const BY_TYPE: TableDefinition<(&str, &str, &str), ()> = TableDefinition::new("by_type");
pub(super) const INDEXED: TableDefinition<&str, (&str, &str, &str)> =
    TableDefinition::new("indexed");

/// Meta key: the change sequence the secondary indexes reflect.
pub(super) const INDEXED_SEQ: &str = "indexed_seq";

/// What the secondary indexes hold of one bead or wisp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Keys {
    status: String,
    assignee: String,
    issue_type: String,
}

/// The three indexed fields of a JSON line, parsed without the rest of the bead (the field
/// defaults are [`Bead`]'s).
#[derive(Deserialize)]
struct IndexedFields {
    #[serde(default)]
    status: Status,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    issue_type: IssueType,
}

impl Keys {
    pub(super) fn of(bead: &Bead) -> Keys {
        Keys {
            status: bead.status.as_str().to_string(),
            assignee: bead.assignee.clone(),
            issue_type: bead.issue_type.as_str().to_string(),
        }
    }

    /// The keys of a stored JSON line.
    pub(super) fn of_line(id: &str, line: &str) -> Result<Keys, LedgerError> {
        let f: IndexedFields = serde_json::from_str(line).map_err(|e| LedgerError::Corrupt {
            id: id.to_string(),
            message: e.to_string(),
        })?;
        Ok(Keys {
            status: f.status.as_str().to_string(),
            assignee: f.assignee,
            issue_type: f.issue_type.as_str().to_string(),
        })
    }
}

/// Which statuses a lookup takes.
#[derive(Debug, Clone, Copy)]
pub enum StatusIs<'a> {
    /// Exactly this one.
    Exactly(&'a str),
    /// Any but these.
    NotIn(&'a [&'a str]),
}

impl StatusIs<'_> {
    fn takes(&self, status: &str) -> bool {
        match self {
            StatusIs::Exactly(s) => *s == status,
            StatusIs::NotIn(excluded) => !excluded.contains(&status),
        }
    }
}

/// A lookup in the secondary indexes: beads whose status, assignee and type match.
#[derive(Debug, Clone, Copy)]
pub struct Select<'a> {
    pub status: StatusIs<'a>,
    pub assignee: Option<&'a str>,
    pub issue_type: Option<&'a str>,
}

impl Select<'_> {
    pub(super) fn matches(&self, keys: &Keys) -> bool {
        self.status.takes(&keys.status)
            && self.assignee.is_none_or(|a| a == keys.assignee)
            && self.issue_type.is_none_or(|t| t == keys.issue_type)
    }
}

fn index_err(path: &Path, e: impl std::fmt::Display) -> LedgerError {
    super::index_err(path, e)
}

/// Ids of the folded rows that match `sel`, from the narrowest index that applies: the assignee
/// index, else the type index, else the status index. The caller checks the rest of the filter.
pub(super) fn folded_ids(
    sel: &Select<'_>,
    by_status: &impl ReadableTable<(&'static str, &'static str), ()>,
    by_assignee: &impl ReadableTable<(&'static str, &'static str, &'static str), ()>,
    by_type: &impl ReadableTable<(&'static str, &'static str, &'static str), ()>,
    path: &Path,
) -> Result<Vec<String>, LedgerError> {
    let mut out = Vec::new();
    // Beads without an assignee are not in the assignee index.
    match (sel.assignee.filter(|a| !a.is_empty()), sel.issue_type) {
        (Some(assignee), _) => scan_triples(by_assignee, assignee, sel.status, &mut out, path)?,
        (None, Some(kind)) => scan_triples(by_type, kind, sel.status, &mut out, path)?,
        (None, None) => scan_pairs(by_status, sel.status, &mut out, path)?,
    }
    Ok(out)
}

/// Ids under `(first, status, id)` keys whose status is taken. A status that is not taken is
/// jumped over: the walk restarts just after its last possible key.
fn scan_triples(
    t: &impl ReadableTable<(&'static str, &'static str, &'static str), ()>,
    first: &str,
    status: StatusIs<'_>,
    out: &mut Vec<String>,
    path: &Path,
) -> Result<(), LedgerError> {
    let mut from = match status {
        StatusIs::Exactly(s) => s.to_string(),
        StatusIs::NotIn(_) => String::new(),
    };
    'walk: loop {
        let start = (first, from.as_str(), "");
        for row in t.range(start..).map_err(|e| index_err(path, e))? {
            let (k, _) = row.map_err(|e| index_err(path, e))?;
            let (f, s, id) = k.value();
            if f != first {
                break 'walk;
            }
            if status.takes(s) {
                out.push(id.to_string());
            } else if matches!(status, StatusIs::Exactly(_)) {
                break 'walk;
            } else {
                from = format!("{s}\0");
                continue 'walk;
            }
        }
        break;
    }
    Ok(())
}

/// Ids under `(status, id)` keys whose status is taken (jumping over the others).
fn scan_pairs(
    t: &impl ReadableTable<(&'static str, &'static str), ()>,
    status: StatusIs<'_>,
    out: &mut Vec<String>,
    path: &Path,
) -> Result<(), LedgerError> {
    let mut from = match status {
        StatusIs::Exactly(s) => s.to_string(),
        StatusIs::NotIn(_) => String::new(),
    };
    'walk: loop {
        let start = (from.as_str(), "");
        for row in t.range(start..).map_err(|e| index_err(path, e))? {
            let (k, _) = row.map_err(|e| index_err(path, e))?;
            let (s, id) = k.value();
            if status.takes(s) {
                out.push(id.to_string());
            } else if matches!(status, StatusIs::Exactly(_)) {
                break 'walk;
            } else {
                from = format!("{s}\0");
                continue 'walk;
            }
        }
        break;
    }
    Ok(())
}

/// The four tables open in one write transaction (the fold's, or a rebuild's).
pub(super) struct Writer<'txn> {
    by_status: Table<'txn, (&'static str, &'static str), ()>,
    by_assignee: Table<'txn, (&'static str, &'static str, &'static str), ()>,
    by_type: Table<'txn, (&'static str, &'static str, &'static str), ()>,
    indexed: Table<'txn, &'static str, (&'static str, &'static str, &'static str)>,
}

impl<'txn> Writer<'txn> {
    pub(super) fn open(tx: &'txn WriteTransaction, path: &Path) -> Result<Self, LedgerError> {
        let err = |e: &dyn std::fmt::Display| index_err(path, e);
        Ok(Writer {
            by_status: tx.open_table(BY_STATUS).map_err(|e| err(&e))?,
            by_assignee: tx.open_table(BY_ASSIGNEE).map_err(|e| err(&e))?,
            by_type: tx.open_table(BY_TYPE).map_err(|e| err(&e))?,
            indexed: tx.open_table(INDEXED).map_err(|e| err(&e))?,
        })
    }

    /// Bring the rows of `id` to `new` (`None`: the id is gone).
    pub(super) fn update(&mut self, id: &str, new: Option<&Keys>) -> Result<(), redb::Error> {
        let old = self.indexed.get(id)?.map(|v| {
            let (status, assignee, issue_type) = v.value();
            Keys {
                status: status.to_string(),
                assignee: assignee.to_string(),
                issue_type: issue_type.to_string(),
            }
        });
        if old.as_ref() == new {
            return Ok(());
        }
        if let Some(k) = &old {
            self.by_status.remove((k.status.as_str(), id))?;
            if !k.assignee.is_empty() {
                self.by_assignee
                    .remove((k.assignee.as_str(), k.status.as_str(), id))?;
            }
            self.by_type
                .remove((k.issue_type.as_str(), k.status.as_str(), id))?;
        }
        match new {
            Some(k) => self.insert(id, k),
            None => {
                self.indexed.remove(id)?;
                Ok(())
            }
        }
    }

    pub(super) fn insert(&mut self, id: &str, k: &Keys) -> Result<(), redb::Error> {
        self.by_status.insert((k.status.as_str(), id), ())?;
        if !k.assignee.is_empty() {
            self.by_assignee
                .insert((k.assignee.as_str(), k.status.as_str(), id), ())?;
        }
        self.by_type
            .insert((k.issue_type.as_str(), k.status.as_str(), id), ())?;
        self.indexed.insert(
            id,
            (
                k.status.as_str(),
                k.assignee.as_str(),
                k.issue_type.as_str(),
            ),
        )?;
        Ok(())
    }
}

/// Throw the indexes away and index every folded bead and wisp of `tables` again (the rows of
/// changes still in the write-ahead table are merged over them on read and folded in later, as
/// always). Returns how many were indexed.
pub(super) fn rebuild(
    tx: &WriteTransaction,
    path: &Path,
    tables: [TableDefinition<&str, &str>; 2],
) -> Result<usize, LedgerError> {
    let err = |e: &dyn std::fmt::Display| index_err(path, e);
    tx.delete_table(BY_STATUS).map_err(|e| err(&e))?;
    tx.delete_table(BY_ASSIGNEE).map_err(|e| err(&e))?;
    tx.delete_table(BY_TYPE).map_err(|e| err(&e))?;
    tx.delete_table(INDEXED).map_err(|e| err(&e))?;
    let mut writer = Writer::open(tx, path)?;
    let mut count = 0;
    for def in tables {
        let t = tx.open_table(def).map_err(|e| err(&e))?;
        for row in t.iter().map_err(|e| err(&e))? {
            let (k, v) = row.map_err(|e| err(&e))?;
            let id = k.value();
            let keys = Keys::of_line(id, v.value())?;
            writer.insert(id, &keys).map_err(|e| err(&e))?;
            count += 1;
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests;
