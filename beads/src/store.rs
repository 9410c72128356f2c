//! The redb index and write-ahead journal of a ledger (`<town>/.runtime/ledger.redb`).
//!
//! Tables:
//! - `beads`: id -> the bead's JSON line (the beads that go to git);
//! - `wisps`: id -> JSON line of ephemeral beads (redb only, never git);
//! - `graph`: id -> the compact [`NodeInfo`] of every bead and wisp, so opening a ledger rebuilds the
//!   readiness graph without parsing any JSON;
//! - `events`: (id, sequence) -> one audit-trail [`Event`] as JSON;
//! - `journal`: id -> sequence of the last change of a bead not yet committed to git;
//! - `meta`: `last_commit` (hex id of the git commit the index reflects), `seq` (last change
//!   sequence), `child:<id>` (last child number given under a parent).
//!
//! Every [`Batch`] is one write transaction committed with `Durability::Immediate`: when
//! [`Store::write`] returns, the change survives a crash or power loss. A journal entry is removed
//! only by [`Store::committed`], after git's ref has moved.

use crate::error::LedgerError;
use crate::graph::{Graph, GraphBuilder, NodeInfo};
use crate::model::{Bead, Event};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::{Path, PathBuf};

const BEADS: TableDefinition<&str, &str> = TableDefinition::new("beads");
const WISPS: TableDefinition<&str, &str> = TableDefinition::new("wisps");
const GRAPH: TableDefinition<&str, &[u8]> = TableDefinition::new("graph");
const EVENTS: TableDefinition<(&str, u64), &str> = TableDefinition::new("events");
const JOURNAL: TableDefinition<&str, u64> = TableDefinition::new("journal");
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

/// The opened index.
pub struct Store {
    db: Database,
    path: PathBuf,
    seq: u64,
    /// Group commit: while set, batches commit without an fsync and are made durable together by
    /// [`Store::make_durable`]. Only an owner that acknowledges nothing before then may set it.
    deferred: bool,
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
            db,
            path: path.to_path_buf(),
            seq: 0,
            deferred: false,
        };
        let exists = {
            let tx = store.db.begin_read().map_err(|e| err(&e))?;
            tx.open_table(META).is_ok()
        };
        if !exists {
            store.create_tables()?;
        }
        store.seq = store.meta_u64("seq")?.unwrap_or(0);
        Ok(store)
    }

    /// Create every table (one transaction, so either all exist or none).
    fn create_tables(&self) -> Result<(), LedgerError> {
        let err = |e: &dyn std::fmt::Display| self.err(e);
        let tx = self.db.begin_write().map_err(|e| err(&e))?;
        {
            tx.open_table(BEADS).map_err(|e| err(&e))?;
            tx.open_table(WISPS).map_err(|e| err(&e))?;
            tx.open_table(GRAPH).map_err(|e| err(&e))?;
            tx.open_table(EVENTS).map_err(|e| err(&e))?;
            tx.open_table(JOURNAL).map_err(|e| err(&e))?;
            tx.open_table(META).map_err(|e| err(&e))?;
        }
        tx.commit().map_err(|e| err(&e))
    }

    fn err(&self, e: impl std::fmt::Display) -> LedgerError {
        LedgerError::Index {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// A bead or wisp by id, with `true` when it is a wisp.
    pub fn get(&self, id: &str) -> Result<Option<(Bead, bool)>, LedgerError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        for (table, wisp) in [(BEADS, false), (WISPS, true)] {
            let t = tx.open_table(table).map_err(|e| self.err(e))?;
            if let Some(line) = t.get(id).map_err(|e| self.err(e))? {
                return Ok(Some((parse(id, line.value())?, wisp)));
            }
        }
        Ok(None)
    }

    /// Every bead and wisp, sorted by id.
    pub fn all(&self) -> Result<Vec<(Bead, bool)>, LedgerError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for (table, wisp) in [(BEADS, false), (WISPS, true)] {
            let t = tx.open_table(table).map_err(|e| self.err(e))?;
            for row in t.iter().map_err(|e| self.err(e))? {
                let (k, v) = row.map_err(|e| self.err(e))?;
                out.push((parse(k.value(), v.value())?, wisp));
            }
        }
        out.sort_unstable_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(out)
    }

    /// Several beads or wisps in one read transaction (`None` for ids that are not there).
    pub fn get_many(&self, ids: &[String]) -> Result<Vec<Option<(Bead, bool)>>, LedgerError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let beads = tx.open_table(BEADS).map_err(|e| self.err(e))?;
        let wisps = tx.open_table(WISPS).map_err(|e| self.err(e))?;
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
    }

    /// The stored JSON lines of these (non-wisp) beads, in one read transaction.
    pub fn lines(&self, ids: &[String]) -> Result<Vec<Option<String>>, LedgerError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(BEADS).map_err(|e| self.err(e))?;
        ids.iter()
            .map(|id| {
                Ok(t.get(id.as_str())
                    .map_err(|e| self.err(e))?
                    .map(|v| v.value().to_string()))
            })
            .collect()
    }

    /// The readiness graph, built straight from the compact records of every bead and wisp.
    pub fn graph(&self) -> Result<Graph, LedgerError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(GRAPH).map_err(|e| self.err(e))?;
        let mut builder = GraphBuilder::with_capacity(t.len().map_err(|e| self.err(e))? as usize);
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
    }

    /// The audit trail of one bead, oldest first.
    pub fn events(&self, id: &str) -> Result<Vec<Event>, LedgerError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(EVENTS).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in t.range((id, 0)..=(id, u64::MAX)).map_err(|e| self.err(e))? {
            let (_, v) = row.map_err(|e| self.err(e))?;
            let ev = serde_json::from_str(v.value()).map_err(|e| LedgerError::Corrupt {
                id: id.to_string(),
                message: format!("event: {e}"),
            })?;
            out.push(ev);
        }
        Ok(out)
    }

    /// The journal: ids changed locally and not yet in git, with the sequence of their last change.
    pub fn journal(&self) -> Result<Vec<(String, u64)>, LedgerError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(JOURNAL).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in t.iter().map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            out.push((k.value().to_string(), v.value()));
        }
        Ok(out)
    }

    /// True when the journal holds anything.
    pub fn journal_is_empty(&self) -> Result<bool, LedgerError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(JOURNAL).map_err(|e| self.err(e))?;
        t.is_empty().map_err(|e| self.err(e))
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
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(META).map_err(|e| self.err(e))?;
        Ok(t.get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.value().to_vec()))
    }

    /// Apply a batch in one durable transaction.
    pub fn write(&mut self, batch: &Batch) -> Result<(), LedgerError> {
        let seq = self.seq + 1;
        let mut tx = self.db.begin_write().map_err(|e| self.err(e))?;
        if self.deferred {
            tx.set_durability(redb::Durability::None)
                .map_err(|e| self.err(e))?;
        }
        {
            let mut beads = tx.open_table(BEADS).map_err(|e| self.err(e))?;
            let mut wisps = tx.open_table(WISPS).map_err(|e| self.err(e))?;
            let mut graph = tx.open_table(GRAPH).map_err(|e| self.err(e))?;
            let mut journal = tx.open_table(JOURNAL).map_err(|e| self.err(e))?;
            for p in &batch.puts {
                let id = p.bead.id.as_str();
                let line = p.bead.to_json_line();
                if p.bead.ephemeral {
                    beads.remove(id).map_err(|e| self.err(e))?;
                    wisps.insert(id, line.as_str()).map_err(|e| self.err(e))?;
                } else {
                    wisps.remove(id).map_err(|e| self.err(e))?;
                    beads.insert(id, line.as_str()).map_err(|e| self.err(e))?;
                }
                let node = NodeInfo::from_bead(&p.bead).encode();
                graph.insert(id, node.as_slice()).map_err(|e| self.err(e))?;
                if p.journal && !p.bead.ephemeral {
                    journal.insert(id, seq).map_err(|e| self.err(e))?;
                }
            }
            for (id, journal_it) in &batch.removes {
                let was_bead = beads
                    .remove(id.as_str())
                    .map_err(|e| self.err(e))?
                    .is_some();
                wisps.remove(id.as_str()).map_err(|e| self.err(e))?;
                graph.remove(id.as_str()).map_err(|e| self.err(e))?;
                if was_bead && *journal_it {
                    journal.insert(id.as_str(), seq).map_err(|e| self.err(e))?;
                }
            }
            let mut events = tx.open_table(EVENTS).map_err(|e| self.err(e))?;
            for (i, ev) in batch.events.iter().enumerate() {
                let json = serde_json::to_string(ev).expect("an Event always serializes");
                let key = (ev.issue_id.as_str(), seq * 1_000_000 + i as u64);
                events.insert(key, json.as_str()).map_err(|e| self.err(e))?;
            }
            let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
            meta.insert("seq", seq.to_le_bytes().as_slice())
                .map_err(|e| self.err(e))?;
            for (k, v) in &batch.meta {
                meta.insert(k.as_str(), v.to_le_bytes().as_slice())
                    .map_err(|e| self.err(e))?;
            }
            match &batch.last_commit {
                Some(Some(hex)) => {
                    meta.insert("last_commit", hex.as_bytes())
                        .map_err(|e| self.err(e))?;
                }
                Some(None) => {
                    meta.remove("last_commit").map_err(|e| self.err(e))?;
                }
                None => {}
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        self.seq = seq;
        Ok(())
    }

    /// Group commit: defer (or stop deferring) the fsync of writes until [`Store::make_durable`].
    pub fn set_deferred(&mut self, deferred: bool) {
        self.deferred = deferred;
    }

    /// One durable commit that makes every deferred write before it durable.
    pub fn make_durable(&mut self) -> Result<(), LedgerError> {
        let mut tx = self.db.begin_write().map_err(|e| self.err(e))?;
        tx.set_durability(redb::Durability::Immediate)
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// After git's ref moved to `tip`: drop the journal entries that commit covered (an entry
    /// changed again since keeps its newer sequence and stays) and record the tip.
    pub fn committed(
        &mut self,
        covered: &[(String, u64)],
        tip: Option<&str>,
    ) -> Result<(), LedgerError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut journal = tx.open_table(JOURNAL).map_err(|e| self.err(e))?;
            for (id, seq) in covered {
                let current = journal
                    .get(id.as_str())
                    .map_err(|e| self.err(e))?
                    .map(|v| v.value());
                if current == Some(*seq) {
                    journal.remove(id.as_str()).map_err(|e| self.err(e))?;
                }
            }
            let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
            if let Some(hex) = tip {
                meta.insert("last_commit", hex.as_bytes())
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Put every bead (not wisps) in the journal, e.g. when the git ref vanished.
    pub fn journal_everything(&mut self) -> Result<(), LedgerError> {
        let seq = self.seq + 1;
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let beads = tx.open_table(BEADS).map_err(|e| self.err(e))?;
            let mut journal = tx.open_table(JOURNAL).map_err(|e| self.err(e))?;
            for row in beads.iter().map_err(|e| self.err(e))? {
                let (k, _) = row.map_err(|e| self.err(e))?;
                journal.insert(k.value(), seq).map_err(|e| self.err(e))?;
            }
            let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
            meta.insert("seq", seq.to_le_bytes().as_slice())
                .map_err(|e| self.err(e))?;
            meta.remove("last_commit").map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        self.seq = seq;
        Ok(())
    }
}

fn parse(id: &str, line: &str) -> Result<Bead, LedgerError> {
    serde_json::from_str(line).map_err(|e| LedgerError::Corrupt {
        id: id.to_string(),
        message: e.to_string(),
    })
}
