//! The redb index and write-ahead journal of a ledger (`<town>/.runtime/ledger.redb`).
//!
//! Tables:
//! - `beads`: id -> the bead's JSON line (the beads that go to git);
//! - `wisps`: id -> JSON line of ephemeral beads (redb only, never git);
//! - `graph`: id -> the compact [`NodeInfo`] of every bead and wisp, so opening a ledger rebuilds the
//!   readiness graph without parsing any JSON;
//! - `events`: (id, event number) -> one audit-trail [`Event`] as JSON;
//! - `event_log`: event number -> (id, JSON): events written since the last fold. A write appends
//!   here (keys only grow, so a group of writes dirties a page or two, where inserting into
//!   `events` under random ids would dirty a page per event); [`Store::fold_events`] moves them
//!   into `events` in one pass, so each page of `events` is rewritten once per fold, not once
//!   per write. Readers see both;
//! - `journal_log`: (sequence, id) -> (): beads changed locally and not yet committed to git,
//!   one entry per change (append-only for the same reason); an id's last change is its newest
//!   entry. A git commit covers every entry up to the sequence it read;
//! - `meta`: `last_commit` (hex id of the git commit the index reflects), `seq` (last change
//!   sequence), `child:<id>` (last child number given under a parent).
//!
//! Every [`Batch`] is one write transaction committed with `Durability::Immediate`: when
//! [`Store::write`] returns, the change survives a crash or power loss. A journal entry is removed
//! only by [`Store::committed`], after git's ref has moved.
//!
//! Group commit ([`Store::set_deferred`]): an owner that acknowledges nothing before a durable
//! commit may instead let every write join ONE open write transaction, committed (one fsync) by
//! [`Store::make_durable`]. Reads go through that open transaction, so later operations of the
//! same group see earlier ones. If any write of the group fails, the whole group is rolled back
//! and the next `make_durable` reports it, so no operation of the group is acknowledged.

use crate::error::LedgerError;
use crate::graph::{Graph, GraphBuilder, NodeInfo};
use crate::model::{Bead, Event};
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const BEADS: TableDefinition<&str, &str> = TableDefinition::new("beads");
const WISPS: TableDefinition<&str, &str> = TableDefinition::new("wisps");
const GRAPH: TableDefinition<&str, &[u8]> = TableDefinition::new("graph");
const EVENTS: TableDefinition<(&str, u64), &str> = TableDefinition::new("events");
const EVENT_LOG: TableDefinition<u64, (&str, &str)> = TableDefinition::new("event_log");
const JOURNAL: TableDefinition<(u64, &str), ()> = TableDefinition::new("journal_log");
/// The journal of ledgers written before `journal_log`: id -> sequence; migrated at open.
const JOURNAL_V1: TableDefinition<&str, u64> = TableDefinition::new("journal");

/// Fold the event log into `events` once it holds this many events, whatever the owner does.
const FOLD_AT: usize = 50_000;
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// One bead to write.
#[derive(Debug)]
pub struct Put {
    pub bead: Bead,
    /// Record it in the journal (a local change git has not seen). False for beads read from git.
    pub journal: bool,
}

/// Everything one mutation writes, applied in one durable transaction.
#[derive(Debug, Default)]
pub struct Batch {
    pub puts: Vec<Put>,
    /// Beads or wisps to remove (with their graph record); `(id, journal)`.
    pub removes: Vec<(String, bool)>,
    pub events: Vec<Event>,
    /// `Some(tip)`: record that the index now reflects this git commit.
    pub last_commit: Option<Option<String>>,
    /// Meta counters to set.
    pub meta: Vec<(String, u64)>,
}

/// Bind each `$t` to table `$def`, read from the group's open write transaction when there is
/// one (so a group reads its own writes), else from a fresh read transaction, and run `$body`.
macro_rules! with_tables {
    ($store:expr, $($t:ident = $def:expr),+ => $body:block) => {{
        let store: &Store = $store;
        match &store.open {
            Some(tx) => {
                $(let $t = tx.open_table($def).map_err(|e| store.err(e))?;)+
                $body
            }
            None => {
                let rtx = store.db.begin_read().map_err(|e| store.err(e))?;
                $(let $t = rtx.open_table($def).map_err(|e| store.err(e))?;)+
                $body
            }
        }
    }};
}

/// The opened index.
pub struct Store {
    /// The group's open write transaction (deferred mode only). Declared first so that it is
    /// dropped (aborted) before the database.
    open: Option<WriteTransaction>,
    db: Database,
    path: PathBuf,
    seq: u64,
    /// Group commit: while set, writes join one open transaction made durable by
    /// [`Store::make_durable`]. Only an owner that acknowledges nothing before then may set it.
    deferred: bool,
    /// A write of the open group failed and the group was rolled back: the next
    /// [`Store::make_durable`] must fail rather than acknowledge it.
    rolled_back: bool,
    /// The event log's keys by bead id, so one bead's events are found without a scan.
    logged: HashMap<String, Vec<u64>>,
    /// How many events the log holds.
    logged_count: usize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Open (or create) the index at `path`.
    pub fn open(path: &Path) -> Result<Store, LedgerError> {
        let err = |e: &dyn std::fmt::Display| LedgerError::Index {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let db = Database::create(path).map_err(|e| err(&e))?;
        let mut store = Store {
            open: None,
            db,
            path: path.to_path_buf(),
            seq: 0,
            deferred: false,
            rolled_back: false,
            logged: HashMap::new(),
            logged_count: 0,
        };
        let current = {
            let tx = store.db.begin_read().map_err(|e| err(&e))?;
            tx.open_table(META).is_ok()
                && tx.open_table(EVENT_LOG).is_ok()
                && tx.open_table(JOURNAL).is_ok()
        };
        if !current {
            store.create_tables()?;
        }
        store.seq = store.meta_u64("seq")?.unwrap_or(0);
        store.load_event_log()?;
        Ok(store)
    }

    /// Create every missing table, and move a journal of the old layout into `journal_log`
    /// (one transaction, so either all of it happens or none).
    fn create_tables(&self) -> Result<(), LedgerError> {
        let err = |e: &dyn std::fmt::Display| self.err(e);
        let tx = self.db.begin_write().map_err(|e| err(&e))?;
        {
            tx.open_table(BEADS).map_err(|e| err(&e))?;
            tx.open_table(WISPS).map_err(|e| err(&e))?;
            tx.open_table(GRAPH).map_err(|e| err(&e))?;
            tx.open_table(EVENTS).map_err(|e| err(&e))?;
            tx.open_table(EVENT_LOG).map_err(|e| err(&e))?;
            tx.open_table(META).map_err(|e| err(&e))?;
            let mut journal = tx.open_table(JOURNAL).map_err(|e| err(&e))?;
            let old: Vec<(String, u64)> = match tx.open_table(JOURNAL_V1) {
                Ok(t) => t
                    .iter()
                    .map_err(|e| err(&e))?
                    .map(|row| {
                        row.map(|(k, v)| (k.value().to_string(), v.value()))
                            .map_err(|e| err(&e))
                    })
                    .collect::<Result<_, _>>()?,
                Err(_) => Vec::new(),
            };
            for (id, seq) in &old {
                journal
                    .insert((*seq, id.as_str()), ())
                    .map_err(|e| err(&e))?;
            }
        }
        tx.delete_table(JOURNAL_V1).map_err(|e| err(&e))?;
        tx.commit().map_err(|e| err(&e))
    }

    /// Index the event log by bead id (it holds what was written since the last fold).
    fn load_event_log(&mut self) -> Result<(), LedgerError> {
        let mut logged: HashMap<String, Vec<u64>> = HashMap::new();
        let mut count = 0;
        with_tables!(self, log = EVENT_LOG => {
            for row in log.iter().map_err(|e| self.err(e))? {
                let (k, v) = row.map_err(|e| self.err(e))?;
                logged.entry(v.value().0.to_string()).or_default().push(k.value());
                count += 1;
            }
        });
        self.logged = logged;
        self.logged_count = count;
        Ok(())
    }

    fn err(&self, e: impl std::fmt::Display) -> LedgerError {
        index_err(&self.path, e)
    }

    /// Run `f` in a write transaction: the group's open one in deferred mode (a failure rolls
    /// the whole group back), else a transaction of its own, committed durably.
    fn in_write<R>(
        &mut self,
        f: impl FnOnce(&WriteTransaction, &Path) -> Result<R, LedgerError>,
    ) -> Result<R, LedgerError> {
        if !self.deferred {
            let tx = self.db.begin_write().map_err(|e| self.err(e))?;
            let out = f(&tx, &self.path)?;
            tx.commit().map_err(|e| self.err(e))?;
            return Ok(out);
        }
        if self.open.is_none() {
            self.open = Some(self.db.begin_write().map_err(|e| self.err(e))?);
        }
        let tx = self
            .open
            .as_ref()
            .expect("the group transaction was just opened");
        match f(tx, &self.path) {
            Ok(out) => Ok(out),
            Err(e) => {
                // Dropping an uncommitted transaction aborts it: every write of the group goes.
                self.open = None;
                self.rolled_back = true;
                Err(e)
            }
        }
    }

    /// A bead or wisp by id, with `true` when it is a wisp.
    pub fn get(&self, id: &str) -> Result<Option<(Bead, bool)>, LedgerError> {
        with_tables!(self, beads = BEADS, wisps = WISPS => {
            if let Some(line) = beads.get(id).map_err(|e| self.err(e))? {
                return Ok(Some((parse(id, line.value())?, false)));
            }
            if let Some(line) = wisps.get(id).map_err(|e| self.err(e))? {
                return Ok(Some((parse(id, line.value())?, true)));
            }
            Ok(None)
        })
    }

    /// Every bead and wisp, sorted by id.
    pub fn all(&self) -> Result<Vec<(Bead, bool)>, LedgerError> {
        let mut out = Vec::new();
        with_tables!(self, beads = BEADS, wisps = WISPS => {
            for (t, wisp) in [(&beads, false), (&wisps, true)] {
                for row in t.iter().map_err(|e| self.err(e))? {
                    let (k, v) = row.map_err(|e| self.err(e))?;
                    out.push((parse(k.value(), v.value())?, wisp));
                }
            }
        });
        out.sort_unstable_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(out)
    }

    /// Several beads or wisps in one read transaction (`None` for ids that are not there).
    pub fn get_many(&self, ids: &[String]) -> Result<Vec<Option<(Bead, bool)>>, LedgerError> {
        with_tables!(self, beads = BEADS, wisps = WISPS => {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let id = id.as_str();
                let found = match beads.get(id).map_err(|e| self.err(e))? {
                    Some(line) => Some((parse(id, line.value())?, false)),
                    None => match wisps.get(id).map_err(|e| self.err(e))? {
                        Some(line) => Some((parse(id, line.value())?, true)),
                        None => None,
                    },
                };
                out.push(found);
            }
            Ok(out)
        })
    }

    /// The stored JSON lines of these (non-wisp) beads, in one read transaction.
    pub fn lines(&self, ids: &[String]) -> Result<Vec<Option<String>>, LedgerError> {
        with_tables!(self, t = BEADS => {
            ids.iter()
                .map(|id| {
                    Ok(t.get(id.as_str())
                        .map_err(|e| self.err(e))?
                        .map(|v| v.value().to_string()))
                })
                .collect()
        })
    }

    /// The readiness graph, built straight from the compact records of every bead and wisp.
    pub fn graph(&self) -> Result<Graph, LedgerError> {
        with_tables!(self, t = GRAPH => {
            let mut builder =
                GraphBuilder::with_capacity(t.len().map_err(|e| self.err(e))? as usize);
            for row in t.iter().map_err(|e| self.err(e))? {
                let (k, v) = row.map_err(|e| self.err(e))?;
                if !builder.add_encoded(v.value()) {
                    return Err(LedgerError::Corrupt {
                        id: k.value().to_string(),
                        message: "damaged graph record".to_string(),
                    });
                }
            }
            Ok(builder.finish())
        })
    }

    /// The audit trail of one bead, oldest first.
    pub fn events(&self, id: &str) -> Result<Vec<Event>, LedgerError> {
        let parse_event = |json: &str| {
            serde_json::from_str(json).map_err(|e| LedgerError::Corrupt {
                id: id.to_string(),
                message: format!("event: {e}"),
            })
        };
        with_tables!(self, t = EVENTS, log = EVENT_LOG => {
            let mut out = Vec::new();
            for row in t.range((id, 0)..=(id, u64::MAX)).map_err(|e| self.err(e))? {
                let (_, v) = row.map_err(|e| self.err(e))?;
                out.push(parse_event(v.value())?);
            }
            // Everything in the log is newer than everything folded.
            for key in self.logged.get(id).into_iter().flatten() {
                // A key whose write was rolled back is simply not there.
                if let Some(v) = log.get(*key).map_err(|e| self.err(e))? {
                    out.push(parse_event(v.value().1)?);
                }
            }
            Ok(out)
        })
    }

    /// The journal: ids changed locally and not yet in git, with the sequence of their last
    /// change, sorted by id.
    pub fn journal(&self) -> Result<Vec<(String, u64)>, LedgerError> {
        let mut last: HashMap<String, u64> = HashMap::new();
        with_tables!(self, t = JOURNAL => {
            for row in t.iter().map_err(|e| self.err(e))? {
                let (k, _) = row.map_err(|e| self.err(e))?;
                let (seq, id) = k.value();
                // Keys come in sequence order: the last one seen is the newest.
                last.insert(id.to_string(), seq);
            }
        });
        let mut out: Vec<(String, u64)> = last.into_iter().collect();
        out.sort_unstable();
        Ok(out)
    }

    /// True when the journal holds anything.
    pub fn journal_is_empty(&self) -> Result<bool, LedgerError> {
        with_tables!(self, t = JOURNAL => { t.is_empty().map_err(|e| self.err(e)) })
    }

    /// The git commit (hex) the index reflects.
    pub fn last_commit(&self) -> Result<Option<String>, LedgerError> {
        Ok(self
            .meta_bytes("last_commit")?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// A numeric meta value.
    pub fn meta_u64(&self, key: &str) -> Result<Option<u64>, LedgerError> {
        Ok(self
            .meta_bytes(key)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_le_bytes))
    }

    fn meta_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        with_tables!(self, t = META => {
            Ok(t.get(key)
                .map_err(|e| self.err(e))?
                .map(|v| v.value().to_vec()))
        })
    }

    /// Apply a batch: in one durable transaction, or (deferred) in the group's open one.
    pub fn write(&mut self, batch: &Batch) -> Result<(), LedgerError> {
        let seq = self.seq + 1;
        self.in_write(|tx, path| write_batch(tx, path, seq, batch))?;
        self.seq = seq;
        for (i, ev) in batch.events.iter().enumerate() {
            self.logged
                .entry(ev.issue_id.clone())
                .or_default()
                .push(event_key(seq, i));
        }
        self.logged_count += batch.events.len();
        if self.logged_count >= FOLD_AT {
            self.fold_events()?;
        }
        Ok(())
    }

    /// Move the event log into `events` (one write; in deferred mode part of the open group).
    pub fn fold_events(&mut self) -> Result<(), LedgerError> {
        if self.logged_count == 0 {
            return Ok(());
        }
        self.in_write(|tx, path| {
            let err = |e: &dyn std::fmt::Display| index_err(path, e);
            {
                let log = tx.open_table(EVENT_LOG).map_err(|e| err(&e))?;
                let mut events = tx.open_table(EVENTS).map_err(|e| err(&e))?;
                for row in log.iter().map_err(|e| err(&e))? {
                    let (k, v) = row.map_err(|e| err(&e))?;
                    let (id, json) = v.value();
                    events.insert((id, k.value()), json).map_err(|e| err(&e))?;
                }
            }
            tx.delete_table(EVENT_LOG).map_err(|e| err(&e))?;
            tx.open_table(EVENT_LOG).map_err(|e| err(&e))?;
            Ok(())
        })?;
        self.logged.clear();
        self.logged_count = 0;
        Ok(())
    }

    /// Group commit: while on, writes join one open transaction that only
    /// [`Store::make_durable`] commits. Turning it off commits that group first.
    pub fn set_deferred(&mut self, deferred: bool) -> Result<(), LedgerError> {
        if !deferred {
            self.make_durable()?;
        }
        self.deferred = deferred;
        Ok(())
    }

    /// Commit the group's open transaction durably (one fsync for every write in it). Fails,
    /// acknowledging nothing, when a write of the group failed and the group was rolled back.
    pub fn make_durable(&mut self) -> Result<(), LedgerError> {
        if std::mem::take(&mut self.rolled_back) {
            self.open = None;
            return Err(self.err(
                "a write failed, so every write since the last durable commit was rolled back",
            ));
        }
        match self.open.take() {
            // A write transaction is durable (`Durability::Immediate`) unless told otherwise.
            Some(tx) => tx.commit().map_err(|e| self.err(e)),
            None => Ok(()),
        }
    }

    /// After git's ref moved to `tip`: drop the journal entries that commit covered (an entry
    /// changed again since keeps its newer sequence and stays) and record the tip.
    pub fn committed(
        &mut self,
        covered: &[(String, u64)],
        tip: Option<&str>,
    ) -> Result<(), LedgerError> {
        // Every change up to the newest covered one was read for that commit; later changes
        // have higher sequences and stay.
        let Some(upto) = covered.iter().map(|(_, seq)| *seq).max() else {
            return self.in_write(|tx, path| record_tip(tx, path, tip));
        };
        self.in_write(|tx, path| {
            let err = |e: &dyn std::fmt::Display| index_err(path, e);
            let mut journal = tx.open_table(JOURNAL).map_err(|e| err(&e))?;
            journal
                .retain_in(..(upto + 1, ""), |_, _| false)
                .map_err(|e| err(&e))?;
            drop(journal);
            record_tip(tx, path, tip)
        })
    }

    /// Put every bead (not wisps) in the journal, e.g. when the git ref vanished.
    pub fn journal_everything(&mut self) -> Result<(), LedgerError> {
        let seq = self.seq + 1;
        self.in_write(|tx, path| {
            let err = |e: &dyn std::fmt::Display| index_err(path, e);
            let beads = tx.open_table(BEADS).map_err(|e| err(&e))?;
            let mut journal = tx.open_table(JOURNAL).map_err(|e| err(&e))?;
            for row in beads.iter().map_err(|e| err(&e))? {
                let (k, _) = row.map_err(|e| err(&e))?;
                journal.insert((seq, k.value()), ()).map_err(|e| err(&e))?;
            }
            let mut meta = tx.open_table(META).map_err(|e| err(&e))?;
            meta.insert("seq", seq.to_le_bytes().as_slice())
                .map_err(|e| err(&e))?;
            meta.remove("last_commit").map_err(|e| err(&e))?;
            Ok(())
        })?;
        self.seq = seq;
        Ok(())
    }
}

/// Record that the index reflects git commit `tip` (when there is one).
fn record_tip(tx: &WriteTransaction, path: &Path, tip: Option<&str>) -> Result<(), LedgerError> {
    if let Some(hex) = tip {
        let mut meta = tx.open_table(META).map_err(|e| index_err(path, e))?;
        meta.insert("last_commit", hex.as_bytes())
            .map_err(|e| index_err(path, e))?;
    }
    Ok(())
}

/// The number of the `i`th event of the write with sequence `seq`: numbers only grow.
fn event_key(seq: u64, i: usize) -> u64 {
    seq * 1_000_000 + i as u64
}

fn index_err(path: &Path, e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Index {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Write one batch into `tx` under change sequence `seq`.
fn write_batch(
    tx: &WriteTransaction,
    path: &Path,
    seq: u64,
    batch: &Batch,
) -> Result<(), LedgerError> {
    let err = |e: &dyn std::fmt::Display| index_err(path, e);
    let mut beads = tx.open_table(BEADS).map_err(|e| err(&e))?;
    let mut wisps = tx.open_table(WISPS).map_err(|e| err(&e))?;
    let mut graph = tx.open_table(GRAPH).map_err(|e| err(&e))?;
    let mut journal = tx.open_table(JOURNAL).map_err(|e| err(&e))?;
    for p in &batch.puts {
        let id = p.bead.id.as_str();
        let line = p.bead.to_json_line();
        if p.bead.ephemeral {
            beads.remove(id).map_err(|e| err(&e))?;
            wisps.insert(id, line.as_str()).map_err(|e| err(&e))?;
        } else {
            wisps.remove(id).map_err(|e| err(&e))?;
            beads.insert(id, line.as_str()).map_err(|e| err(&e))?;
        }
        let node = NodeInfo::from_bead(&p.bead).encode();
        graph.insert(id, node.as_slice()).map_err(|e| err(&e))?;
        if p.journal && !p.bead.ephemeral {
            journal.insert((seq, id), ()).map_err(|e| err(&e))?;
        }
    }
    for (id, journal_it) in &batch.removes {
        let was_bead = beads.remove(id.as_str()).map_err(|e| err(&e))?.is_some();
        wisps.remove(id.as_str()).map_err(|e| err(&e))?;
        graph.remove(id.as_str()).map_err(|e| err(&e))?;
        if was_bead && *journal_it {
            journal
                .insert((seq, id.as_str()), ())
                .map_err(|e| err(&e))?;
        }
    }
    let mut log = tx.open_table(EVENT_LOG).map_err(|e| err(&e))?;
    for (i, ev) in batch.events.iter().enumerate() {
        let json = serde_json::to_string(ev).expect("an Event always serializes");
        log.insert(event_key(seq, i), (ev.issue_id.as_str(), json.as_str()))
            .map_err(|e| err(&e))?;
    }
    let mut meta = tx.open_table(META).map_err(|e| err(&e))?;
    meta.insert("seq", seq.to_le_bytes().as_slice())
        .map_err(|e| err(&e))?;
    for (k, v) in &batch.meta {
        meta.insert(k.as_str(), v.to_le_bytes().as_slice())
            .map_err(|e| err(&e))?;
    }
    match &batch.last_commit {
        Some(Some(hex)) => {
            meta.insert("last_commit", hex.as_bytes())
                .map_err(|e| err(&e))?;
        }
        Some(None) => {
            meta.remove("last_commit").map_err(|e| err(&e))?;
        }
        None => {}
    }
    Ok(())
}

fn parse(id: &str, line: &str) -> Result<Bead, LedgerError> {
    serde_json::from_str(line).map_err(|e| LedgerError::Corrupt {
        id: id.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_of_the_old_layout_is_moved_into_the_log_at_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ledger.redb");
        {
            let db = Database::create(&path).expect("create");
            let tx = db.begin_write().expect("write");
            {
                tx.open_table(BEADS).expect("beads");
                tx.open_table(META).expect("meta");
                let mut old = tx.open_table(JOURNAL_V1).expect("old journal");
                old.insert("gt-a", 7).expect("insert");
                old.insert("gt-b", 9).expect("insert");
            }
            tx.commit().expect("commit");
        }
        let mut store = Store::open(&path).expect("open migrates");
        assert_eq!(
            store.journal().expect("journal"),
            [("gt-a".to_string(), 7), ("gt-b".to_string(), 9)]
        );
        store
            .committed(&[("gt-a".to_string(), 7)], None)
            .expect("committed");
        assert_eq!(
            store.journal().expect("journal"),
            [("gt-b".to_string(), 9)],
            "entries up to the covered sequence go, later ones stay"
        );
        drop(store);
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.journal().expect("journal").len(), 1);
    }

    #[test]
    fn a_failed_write_rolls_the_group_back_and_make_durable_says_so() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ledger.redb");
        let mut store = Store::open(&path).expect("open");
        store.set_deferred(true).expect("deferred");
        let bead = |id: &str| Put {
            bead: Bead::new(id, id),
            journal: true,
        };
        store
            .write(&Batch {
                puts: vec![bead("gt-a")],
                ..Batch::default()
            })
            .expect("first write of the group");
        let failed = store.in_write(|_, path| Err::<(), _>(index_err(path, "disk full")));
        assert!(failed.is_err());
        let err = store.make_durable().expect_err("the group was rolled back");
        assert!(err.to_string().contains("rolled back"), "{err}");
        assert!(
            store.get("gt-a").expect("get").is_none(),
            "gt-a went with it"
        );
        store.make_durable().expect("the next group starts clean");
    }
}
