//! The redb index and write-ahead journal of a ledger (`<town>/.runtime/ledger.redb`).
//!
//! Tables:
//! - `beads`: id -> the bead's JSON line (the beads that go to git);
//! - `wisps`: id -> JSON line of ephemeral beads (redb only, never git);
//! - `graph`: id -> the compact [`NodeInfo`] of every bead and wisp, so opening a ledger rebuilds the
//!   readiness graph without parsing any JSON;
//! - `events`: (id, event number) -> one audit-trail [`Event`] as JSON;
//! - `wal`: (sequence, n) -> (id, kind, JSON line, graph record): bead, wisp and graph changes
//!   written since the last fold, in order. Like `event_log` below it only grows at its end, and
//!   [`Store::fold`] moves the newest change of each id into `beads`/`wisps`/`graph` once per git
//!   commit (or every `FOLD_AT` changes). An in-memory map from id to its newest `wal` row makes
//!   every read see the change at once;
//! - `event_log`: event number -> (id, JSON): events written since the last fold. A write appends
//!   here (keys only grow, so a group of writes dirties a page or two, where inserting into
//!   `events` under random ids would dirty a page per event); [`Store::fold`] moves them
//!   into `events` in one pass, so each page of `events` is rewritten once per fold, not once
//!   per write. Readers see both;
//! - `journal_log`: (sequence, id) -> (): beads changed locally and not yet committed to git,
//!   one entry per change (append-only for the same reason); an id's last change is its newest
//!   entry. A git commit covers every entry up to the sequence it read;
//! - `meta`: `last_commit` (hex id of the git commit the index reflects), `seq` (last change
//!   sequence), `indexed_seq` (the sequence the secondary indexes reflect), `child:<id>` (last
//!   child number given under a parent);
//! - `by_status`, `by_assignee`, `by_type`, `indexed`: the secondary indexes (`store/secondary.rs`),
//!   folded with the beads, so [`Store::select`] answers a status, assignee or type filter at
//!   the cost of its result;
//! - `refs`: (target id, source id) -> () for every readiness edge of the folded graph records,
//!   so "does some dependency name this id" ([`Store::is_referenced`], what a new id must not
//!   take) is a range probe instead of a walk of the whole graph. Folded with `graph`; the meta
//!   key `refs_seq` says which change sequence it reflects, and a ledger whose `seq` differs
//!   (written by an older gastown) gets it rebuilt from `graph` at open;
//! - `node_state`, `ready_set`, `blocked_set`, `node_log`: each node's derived readiness state
//!   and the ready and blocked sets, maintained by the write path and folded like the rest
//!   (`store/nodes.rs`), so a cold `ready`/`blocked` builds no graph; meta `nodes_seq` says
//!   which change sequence they reflect (rebuilt from one graph build at open when stale).
//!
//! Opening reads no bead and builds no graph: [`Store::count`] (beads and wisps) and the
//! per-id lookups are answered from redb's table lengths, point reads and the small in-memory
//! maps of unfolded changes. [`Store::graph`] builds the readiness graph when an owner needs it.
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

mod nodes;
mod secondary;

pub use secondary::{Select, StatusIs};

use crate::error::LedgerError;
use crate::graph::{Graph, GraphBuilder, NodeInfo, NodeState};
use crate::model::{Bead, Event};
use nodes::{BLOCKED_SET, NODE_LOG, NODE_STATE, NODES_SEQ, READY_SET};
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use secondary::{BY_ASSIGNEE, BY_STATUS, BY_TYPE, INDEXED, INDEXED_SEQ, Keys};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const BEADS: TableDefinition<&str, &str> = TableDefinition::new("beads");
const WISPS: TableDefinition<&str, &str> = TableDefinition::new("wisps");
const GRAPH: TableDefinition<&str, &[u8]> = TableDefinition::new("graph");
const EVENTS: TableDefinition<(&str, u64), &str> = TableDefinition::new("events");
const EVENT_LOG: TableDefinition<u64, (&str, &str)> = TableDefinition::new("event_log");
const WAL: TableDefinition<WalKey, WalRow> = TableDefinition::new("wal");
const JOURNAL: TableDefinition<(u64, &str), ()> = TableDefinition::new("journal_log");
/// The journal of ledgers written before `journal_log`: id -> sequence; migrated at open.
const JOURNAL_V1: TableDefinition<&str, u64> = TableDefinition::new("journal");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// (target, source): `source` has a readiness edge to `target` (folded records only).
const REFS: TableDefinition<(&str, &str), ()> = TableDefinition::new("refs");
/// Meta key: the change sequence `refs` reflects.
const REFS_SEQ: &str = "refs_seq";

/// A `wal` row's key: (change sequence, position in its batch).
type WalKey = (u64, u32);
/// A `wal` row: (id, kind, JSON line, graph record).
type WalRow = (&'static str, u8, &'static str, &'static [u8]);

/// Kinds of `wal` rows.
const WAL_BEAD: u8 = 0;
const WAL_WISP: u8 = 1;
const WAL_REMOVED: u8 = 2;

/// redb's page cache (reads and the write buffer of a transaction together). redb's default,
/// 1 GiB, let a million-bead import's one transaction hold most of a gigabyte; the operating
/// system's page cache keeps the file's hot pages anyway.
const INDEX_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// Fold the logs into their tables once they hold this many changes, whatever the owner does.
const FOLD_AT: usize = 50_000;

/// Where the newest change of an id not yet folded is: its `wal` row and what it did.
#[derive(Debug, Clone)]
struct Pending {
    key: WalKey,
    kind: u8,
    /// What the secondary indexes will hold for the id once folded (`None`: removed).
    keys: Option<Keys>,
    /// The ids its readiness edges name (none for a removal), deduplicated.
    targets: Vec<String>,
}

/// The distinct targets of a graph record's edges (none when it does not decode).
fn edge_targets(node: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(info) = NodeInfo::decode(node) {
        for (t, _) in info.edges {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

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
    /// Ids changed since the last fold -> their newest `wal` row.
    pending: HashMap<String, Pending>,
    /// How many rows `wal` holds.
    wal_count: usize,
    /// For each id some unfolded change's record names as an edge target: those changes' ids.
    pending_targets: HashMap<String, Vec<String>>,
    /// Node states changed since the last fold (`node_log`) -> the newest state.
    node_overlay: HashMap<String, NodeState>,
    /// How many rows `node_log` holds.
    node_log_count: usize,
    /// The change sequence the node tables reflect ([`nodes`]); when it is not [`Store::seq`]
    /// they are stale and `ready`/`blocked` are answered from the graph.
    nodes_seq: Option<u64>,
    /// Beads and wisps in the index (folded and not).
    count: usize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// redb refuses a file another process has open (`DatabaseAlreadyOpen`): that is not damage.
fn is_lock_error(e: &redb::DatabaseError) -> bool {
    matches!(e, redb::DatabaseError::DatabaseAlreadyOpen)
}

impl Store {
    /// Open (or create) the index at `path`.
    pub fn open(path: &Path) -> Result<Store, LedgerError> {
        let err = |e: &dyn std::fmt::Display| LedgerError::Index {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        // redb makes a zero-length file into a new, empty database: that would drop every
        // acknowledged change not yet in git without a word. A missing file is a new (or
        // deliberately removed) index, rebuilt from git; an empty or unreadable one is refused.
        let existed = match std::fs::metadata(path) {
            Ok(m) if m.len() == 0 => {
                return Err(LedgerError::IndexDamaged {
                    path: path.to_path_buf(),
                    what: "empty (0 bytes)".to_string(),
                });
            }
            Ok(_) => true,
            Err(_) => false,
        };
        let db = Database::builder()
            .set_cache_size(INDEX_CACHE_BYTES)
            .create(path)
            .map_err(|e| {
                if existed && !is_lock_error(&e) {
                    LedgerError::IndexDamaged {
                        path: path.to_path_buf(),
                        what: format!("unreadable ({e})"),
                    }
                } else {
                    err(&e)
                }
            })?;
        let mut store = Store {
            open: None,
            db,
            path: path.to_path_buf(),
            seq: 0,
            deferred: false,
            rolled_back: false,
            logged: HashMap::new(),
            logged_count: 0,
            pending: HashMap::new(),
            wal_count: 0,
            pending_targets: HashMap::new(),
            node_overlay: HashMap::new(),
            node_log_count: 0,
            nodes_seq: None,
            count: 0,
        };
        let current = {
            let tx = store.db.begin_read().map_err(|e| err(&e))?;
            tx.open_table(META).is_ok()
                && tx.open_table(EVENT_LOG).is_ok()
                && tx.open_table(JOURNAL).is_ok()
                && tx.open_table(WAL).is_ok()
                && tx.open_table(INDEXED).is_ok()
                && tx.open_table(REFS).is_ok()
                && tx.open_table(NODE_LOG).is_ok()
                && tx.open_table(NODE_STATE).is_ok()
                && tx.open_table(READY_SET).is_ok()
                && tx.open_table(BLOCKED_SET).is_ok()
        };
        if !current {
            store.create_tables()?;
        }
        store.seq = store.meta_u64("seq")?.unwrap_or(0);
        store.load_logs()?;
        store.rebuild_derived()?;
        // The node tables are rebuilt here, not after a bulk load: an import of a million
        // beads stays an import, and the first open after it pays the one graph build.
        store.nodes_seq = store.meta_u64(NODES_SEQ)?;
        if store.nodes_seq != Some(store.seq) {
            store.rebuild_nodes()?;
        }
        Ok(store)
    }

    /// Fill the node tables ([`nodes`]) again from one build of the readiness graph: for a
    /// ledger written before they existed, by an older gastown since, or by a bulk write that
    /// did not maintain them.
    pub fn rebuild_nodes(&mut self) -> Result<(), LedgerError> {
        let started = std::time::Instant::now();
        let graph = self.graph()?;
        let seq = self.seq;
        let count = self.in_write(|tx, path| {
            let count = nodes::rebuild(tx, path, &graph)?;
            let mut meta = tx.open_table(META).map_err(|e| index_err(path, e))?;
            meta.insert(NODES_SEQ, seq.to_le_bytes().as_slice())
                .map_err(|e| index_err(path, e))?;
            Ok(count)
        })?;
        self.node_overlay.clear();
        self.node_log_count = 0;
        self.nodes_seq = Some(seq);
        tracing::info!(path = %self.path.display(), nodes = count, ms = started.elapsed().as_millis() as u64, "persisted the ledger's ready and blocked sets");
        Ok(())
    }

    /// True when the node tables reflect every change ([`nodes`]): `ready` and `blocked` may
    /// then be read from them ([`Store::ready_ids`], [`Store::blocked_ids`]).
    pub fn nodes_current(&self) -> bool {
        self.nodes_seq == Some(self.seq)
    }

    /// Rebuild every derived table whose meta sequence is not the change sequence `seq` (a
    /// ledger written by an older gastown, or tables a bulk load left for rebuilding): at open,
    /// and after [`BulkLoad::finish`]. Tables are added here with their own meta sequence. The
    /// node tables are the exception: rebuilt at open only ([`Store::rebuild_nodes`]).
    fn rebuild_derived(&mut self) -> Result<(), LedgerError> {
        if self.meta_u64(INDEXED_SEQ)? != self.meta_u64("seq")? {
            self.rebuild_secondary()?;
        }
        if self.meta_u64(REFS_SEQ)? != self.meta_u64("seq")? {
            self.rebuild_refs()?;
        }
        Ok(())
    }

    /// True when nothing is in the index at all: no bead or wisp, no unfolded change or event,
    /// no journal entry. Only such an index takes a [`BulkLoad`].
    pub fn is_blank(&self) -> Result<bool, LedgerError> {
        Ok(self.count == 0
            && self.wal_count == 0
            && self.logged_count == 0
            && !self.deferred
            && self.open.is_none()
            && self.journal_is_empty()?)
    }

    /// Start loading beads into a blank index ([`Store::is_blank`]) straight into the folded
    /// tables (no write-ahead rows, no fold): one write transaction for the whole load, so a
    /// failure or a crash before [`BulkLoad::finish`] leaves the index as it was. Each bead
    /// is journaled (wisps excepted) so that the next commit takes it to git.
    pub fn bulk_load(&mut self) -> Result<BulkLoad<'_>, LedgerError> {
        if !self.is_blank()? {
            return Err(self.err("a bulk load needs an empty index"));
        }
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        let seq = self.seq + 1;
        Ok(BulkLoad {
            store: self,
            tx,
            seq,
            added: 0,
        })
    }

    /// Fill `refs` again from every folded graph record: for a ledger written before it
    /// existed, or by an older gastown since.
    fn rebuild_refs(&mut self) -> Result<(), LedgerError> {
        let seq = self.seq;
        let count = self.in_write(|tx, path| {
            let err = |e: &dyn std::fmt::Display| index_err(path, e);
            tx.delete_table(REFS).map_err(|e| err(&e))?;
            let mut refs = tx.open_table(REFS).map_err(|e| err(&e))?;
            let graph = tx.open_table(GRAPH).map_err(|e| err(&e))?;
            let mut count = 0;
            for row in graph.iter().map_err(|e| err(&e))? {
                let (k, v) = row.map_err(|e| err(&e))?;
                for t in edge_targets(v.value()) {
                    refs.insert((t.as_str(), k.value()), ())
                        .map_err(|e| err(&e))?;
                    count += 1;
                }
            }
            let mut meta = tx.open_table(META).map_err(|e| err(&e))?;
            meta.insert(REFS_SEQ, seq.to_le_bytes().as_slice())
                .map_err(|e| err(&e))?;
            Ok(count)
        })?;
        tracing::info!(path = %self.path.display(), edges = count, "indexed the ledger's dependency targets");
        Ok(())
    }

    /// Index every bead and wisp again in the secondary indexes (see [`secondary`]): for a
    /// ledger written before they existed, or by an older gastown since.
    fn rebuild_secondary(&mut self) -> Result<(), LedgerError> {
        let seq = self.seq;
        let count = self.in_write(|tx, path| {
            let count = secondary::rebuild(tx, path, [BEADS, WISPS])?;
            let mut meta = tx.open_table(META).map_err(|e| index_err(path, e))?;
            meta.insert(INDEXED_SEQ, seq.to_le_bytes().as_slice())
                .map_err(|e| index_err(path, e))?;
            Ok(count)
        })?;
        tracing::info!(path = %self.path.display(), beads = count, "indexed the ledger by status, assignee and type");
        Ok(())
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
            tx.open_table(WAL).map_err(|e| err(&e))?;
            tx.open_table(META).map_err(|e| err(&e))?;
            tx.open_table(BY_STATUS).map_err(|e| err(&e))?;
            tx.open_table(BY_ASSIGNEE).map_err(|e| err(&e))?;
            tx.open_table(BY_TYPE).map_err(|e| err(&e))?;
            tx.open_table(INDEXED).map_err(|e| err(&e))?;
            tx.open_table(REFS).map_err(|e| err(&e))?;
            tx.open_table(NODE_LOG).map_err(|e| err(&e))?;
            tx.open_table(NODE_STATE).map_err(|e| err(&e))?;
            tx.open_table(READY_SET).map_err(|e| err(&e))?;
            tx.open_table(BLOCKED_SET).map_err(|e| err(&e))?;
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

    /// Index the logs by bead id (they hold what was written since the last fold).
    fn load_logs(&mut self) -> Result<(), LedgerError> {
        let mut logged: HashMap<String, Vec<u64>> = HashMap::new();
        let mut pending: HashMap<String, Pending> = HashMap::new();
        let mut wal_count = 0;
        let mut pending_targets: HashMap<String, Vec<String>> = HashMap::new();
        let mut node_overlay: HashMap<String, NodeState> = HashMap::new();
        let mut node_log_count = 0;
        let count: usize;
        let mut events_count = 0;
        with_tables!(self, log = EVENT_LOG, wal = WAL, beads = BEADS, wisps = WISPS, node_log = NODE_LOG => {
            // In order: the last row of an id is its newest state.
            for row in node_log.iter().map_err(|e| self.err(e))? {
                let (_, v) = row.map_err(|e| self.err(e))?;
                let (id, st) = v.value();
                let st = NodeState::decode(st).ok_or_else(|| LedgerError::Corrupt {
                    id: id.to_string(),
                    message: "damaged node state in the node log".to_string(),
                })?;
                node_overlay.insert(id.to_string(), st);
                node_log_count += 1;
            }
            for row in log.iter().map_err(|e| self.err(e))? {
                let (k, v) = row.map_err(|e| self.err(e))?;
                logged.entry(v.value().0.to_string()).or_default().push(k.value());
                events_count += 1;
            }
            // Rows come in order: the last one of an id is its newest change.
            for row in wal.iter().map_err(|e| self.err(e))? {
                let (k, v) = row.map_err(|e| self.err(e))?;
                let (id, kind, _, _) = v.value();
                pending.insert(
                    id.to_string(),
                    Pending { key: k.value(), kind, keys: None, targets: Vec::new() },
                );
                wal_count += 1;
            }
            // The index keys of each id's newest change (only those are ever read).
            for (id, p) in pending.iter_mut().filter(|(_, p)| p.kind != WAL_REMOVED) {
                if let Some(v) = wal.get(p.key).map_err(|e| self.err(e))? {
                    p.keys = Some(Keys::of_line(id, v.value().2)?);
                    p.targets = edge_targets(v.value().3);
                    for t in &p.targets {
                        pending_targets.entry(t.clone()).or_default().push(id.clone());
                    }
                }
            }
            // How many beads and wisps there are: the folded tables' lengths (kept by redb),
            // corrected by each unfolded change.
            let folded = beads.len().map_err(|e| self.err(e))? + wisps.len().map_err(|e| self.err(e))?;
            let mut n = i64::try_from(folded).unwrap_or(i64::MAX);
            for (id, p) in &pending {
                let was = beads.get(id.as_str()).map_err(|e| self.err(e))?.is_some()
                    || wisps.get(id.as_str()).map_err(|e| self.err(e))?.is_some();
                n += i64::from(p.kind != WAL_REMOVED) - i64::from(was);
            }
            count = usize::try_from(n).unwrap_or(0);
        });
        self.logged = logged;
        self.logged_count = events_count;
        self.pending = pending;
        self.wal_count = wal_count;
        self.pending_targets = pending_targets;
        self.node_overlay = node_overlay;
        self.node_log_count = node_log_count;
        self.count = count;
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
                // Dropping an uncommitted transaction aborts it: every write of the group goes,
                // and the in-memory maps go back to what is committed.
                self.open = None;
                self.rolled_back = true;
                if let Err(reload) = self.load_logs() {
                    tracing::warn!(error = %reload, "cannot re-read the ledger's logs after a rollback");
                }
                Err(e)
            }
        }
    }

    /// A bead or wisp by id, with `true` when it is a wisp.
    pub fn get(&self, id: &str) -> Result<Option<(Bead, bool)>, LedgerError> {
        Ok(self.get_many(&[id.to_string()])?.pop().flatten())
    }

    /// Every bead and wisp, sorted by id.
    pub fn all(&self) -> Result<Vec<(Bead, bool)>, LedgerError> {
        let mut out = Vec::new();
        with_tables!(self, beads = BEADS, wisps = WISPS, wal = WAL => {
            for (t, wisp) in [(&beads, false), (&wisps, true)] {
                for row in t.iter().map_err(|e| self.err(e))? {
                    let (k, v) = row.map_err(|e| self.err(e))?;
                    if !self.pending.contains_key(k.value()) {
                        out.push((parse(k.value(), v.value())?, wisp));
                    }
                }
            }
            for (id, p) in &self.pending {
                if let Some((line, wisp)) = self.pending_line(&wal, p)? {
                    out.push((parse(id, &line)?, wisp));
                }
            }
        });
        out.sort_unstable_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(out)
    }

    /// The line of a change not yet folded, with `true` for a wisp; `None` for a removal.
    fn pending_line(
        &self,
        wal: &impl ReadableTable<WalKey, WalRow>,
        p: &Pending,
    ) -> Result<Option<(String, bool)>, LedgerError> {
        if p.kind == WAL_REMOVED {
            return Ok(None);
        }
        let row = wal.get(p.key).map_err(|e| self.err(e))?;
        Ok(row.map(|v| (v.value().2.to_string(), p.kind == WAL_WISP)))
    }

    /// Several beads or wisps in one read transaction (`None` for ids that are not there).
    pub fn get_many(&self, ids: &[String]) -> Result<Vec<Option<(Bead, bool)>>, LedgerError> {
        with_tables!(self, beads = BEADS, wisps = WISPS, wal = WAL => {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let id = id.as_str();
                if let Some(p) = self.pending.get(id) {
                    let found = self.pending_line(&wal, p)?;
                    out.push(found.map(|(line, wisp)| parse(id, &line).map(|b| (b, wisp))).transpose()?);
                    continue;
                }
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

    /// Ids of the beads and wisps whose status, assignee and type match `sel`, sorted: from
    /// the secondary indexes, with the changes not yet folded merged over them. Costs the
    /// result (and the number of unfolded changes), not the ledger.
    pub fn select(&self, sel: &Select<'_>) -> Result<Vec<String>, LedgerError> {
        let mut ids = with_tables!(self, s = BY_STATUS, a = BY_ASSIGNEE, t = BY_TYPE => {
            secondary::folded_ids(sel, &s, &a, &t, &self.path)?
        });
        // A folded row of an id changed since is stale: the change decides.
        ids.retain(|id| !self.pending.contains_key(id));
        for (id, p) in &self.pending {
            if p.keys.as_ref().is_some_and(|k| sel.matches(k)) {
                ids.push(id.clone());
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// The stored JSON lines of these (non-wisp) beads, in one read transaction.
    pub fn lines(&self, ids: &[String]) -> Result<Vec<Option<String>>, LedgerError> {
        with_tables!(self, t = BEADS, wal = WAL => {
            ids.iter()
                .map(|id| {
                    if let Some(p) = self.pending.get(id.as_str()) {
                        return Ok(self
                            .pending_line(&wal, p)?
                            .and_then(|(line, wisp)| (!wisp).then_some(line)));
                    }
                    Ok(t.get(id.as_str())
                        .map_err(|e| self.err(e))?
                        .map(|v| v.value().to_string()))
                })
                .collect()
        })
    }

    /// True when `id` is a bead (not a wisp, not absent).
    fn is_bead(&self, id: &str) -> Result<bool, LedgerError> {
        if let Some(p) = self.pending.get(id) {
            return Ok(p.kind == WAL_BEAD);
        }
        with_tables!(self, t = BEADS => { Ok(t.get(id).map_err(|e| self.err(e))?.is_some()) })
    }

    /// Which of these ids are a bead or wisp now (one read transaction).
    pub fn contains_many<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<bool>, LedgerError> {
        with_tables!(self, beads = BEADS, wisps = WISPS => {
            let mut out = Vec::new();
            for id in ids {
                let here = match self.pending.get(id) {
                    Some(p) => p.kind != WAL_REMOVED,
                    None => {
                        beads.get(id).map_err(|e| self.err(e))?.is_some()
                            || wisps.get(id).map_err(|e| self.err(e))?.is_some()
                    }
                };
                out.push(here);
            }
            Ok(out)
        })
    }

    /// True when `id` is a bead or wisp now.
    pub fn contains(&self, id: &str) -> Result<bool, LedgerError> {
        Ok(self.contains_many([id])?.first().copied().unwrap_or(false))
    }

    /// How many beads and wisps the index holds (kept up to date by every write; no scan).
    pub fn count(&self) -> usize {
        self.count
    }

    /// True when some bead's or wisp's readiness edge (`blocks`, `conditional-blocks`,
    /// `parent-child`, `waits-for`) names `id`, whether or not a bead has that id: what the
    /// readiness graph calls a known id. A range probe of `refs` plus the unfolded changes.
    pub fn is_referenced(&self, id: &str) -> Result<bool, LedgerError> {
        if self.pending_targets.get(id).is_some_and(|s| !s.is_empty()) {
            return Ok(true);
        }
        with_tables!(self, refs = REFS => {
            for row in refs.range((id, "")..).map_err(|e| self.err(e))? {
                let (k, _) = row.map_err(|e| self.err(e))?;
                let (target, source) = k.value();
                if target != id {
                    break;
                }
                // A source changed since the fold: its new record (counted above) decides.
                if !self.pending.contains_key(source) {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }

    /// The graph record of `id` (the unfolded change's when there is one); `None` for no bead.
    fn record_in(
        &self,
        graph: &impl ReadableTable<&'static str, &'static [u8]>,
        wal: &impl ReadableTable<WalKey, WalRow>,
        id: &str,
    ) -> Result<Option<NodeInfo>, LedgerError> {
        let damaged = || LedgerError::Corrupt {
            id: id.to_string(),
            message: "damaged graph record".to_string(),
        };
        if let Some(p) = self.pending.get(id) {
            if p.kind == WAL_REMOVED {
                return Ok(None);
            }
            return match wal.get(p.key).map_err(|e| self.err(e))? {
                Some(v) => NodeInfo::decode(v.value().3).map(Some).ok_or_else(damaged),
                None => Ok(None),
            };
        }
        match graph.get(id).map_err(|e| self.err(e))? {
            Some(v) => NodeInfo::decode(v.value()).map(Some).ok_or_else(damaged),
            None => Ok(None),
        }
    }

    /// The persisted node state of `id` (overlay, else `node_state`, else the default).
    fn state_in(
        &self,
        states: &impl ReadableTable<&'static str, &'static [u8]>,
        id: &str,
    ) -> Result<NodeState, LedgerError> {
        if let Some(st) = self.node_overlay.get(id) {
            return Ok(*st);
        }
        match states.get(id).map_err(|e| self.err(e))? {
            Some(v) => NodeState::decode(v.value()).ok_or_else(|| LedgerError::Corrupt {
                id: id.to_string(),
                message: "damaged node state".to_string(),
            }),
            None => Ok(NodeState::default()),
        }
    }

    /// Ready ids in the graph's order, leaving out beads deferred past `now_nanos`: a walk of
    /// the persisted ready set with the unfolded states merged over it. `None` when the node
    /// tables are stale ([`Store::nodes_current`]): ask the graph.
    pub fn ready_ids(&self, now_nanos: i64) -> Result<Option<Vec<String>>, LedgerError> {
        if !self.nodes_current() {
            return Ok(None);
        }
        let overlay = &self.node_overlay;
        let folded = with_tables!(self, t = READY_SET => {
            nodes::walk_ready(&t, |id| overlay.contains_key(id), &self.path)?
        });
        Ok(Some(
            nodes::merge_overlay(folded, overlay, |st| st.in_ready)
                .into_iter()
                .filter(|e| e.defer_until.is_none_or(|d| d <= now_nanos))
                .map(|e| e.id)
                .collect(),
        ))
    }

    /// Blocked ids in the graph's order, like [`Store::ready_ids`].
    pub fn blocked_ids(&self) -> Result<Option<Vec<String>>, LedgerError> {
        if !self.nodes_current() {
            return Ok(None);
        }
        let overlay = &self.node_overlay;
        let folded = with_tables!(self, t = BLOCKED_SET => {
            nodes::walk_blocked(&t, |id| overlay.contains_key(id), &self.path)?
        });
        Ok(Some(
            nodes::merge_overlay(folded, overlay, |st| st.in_blocked)
                .into_iter()
                .map(|e| e.id)
                .collect(),
        ))
    }

    /// What holds each of these beads back ([`Graph::blockers`]): a few point reads per bead,
    /// its record's edges and their targets' records and states. `None` when the node tables
    /// are stale.
    pub fn blockers_many(&self, ids: &[String]) -> Result<Option<Vec<Vec<String>>>, LedgerError> {
        if !self.nodes_current() {
            return Ok(None);
        }
        with_tables!(self, graph = GRAPH, wal = WAL, states = NODE_STATE => {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let mut by: Vec<String> = Vec::new();
                let edges = self.record_in(&graph, &wal, id)?.map(|i| i.edges).unwrap_or_default();
                for (t, kind) in edges {
                    if by.contains(&t) {
                        continue;
                    }
                    let holds = match kind {
                        crate::graph::EdgeKind::Blocks => self
                            .record_in(&graph, &wal, &t)?
                            .is_some_and(|i| i.state != crate::graph::State::Done),
                        crate::graph::EdgeKind::Parent => self.state_in(&states, &t)?.blocked,
                        crate::graph::EdgeKind::WaitsFor => {
                            self.state_in(&states, &t)?.active_children > 0
                        }
                    };
                    if holds {
                        by.push(t);
                    }
                }
                out.push(by);
            }
            Ok(Some(out))
        })
    }

    /// The readiness graph, built straight from the compact records of every bead and wisp.
    pub fn graph(&self) -> Result<Graph, LedgerError> {
        with_tables!(self, t = GRAPH, wal = WAL => {
            let mut builder =
                GraphBuilder::with_capacity(t.len().map_err(|e| self.err(e))? as usize);
            let damaged = |id: &str| LedgerError::Corrupt {
                id: id.to_string(),
                message: "damaged graph record".to_string(),
            };
            for row in t.iter().map_err(|e| self.err(e))? {
                let (k, v) = row.map_err(|e| self.err(e))?;
                if !self.pending.contains_key(k.value()) && !builder.add_encoded(v.value()) {
                    return Err(damaged(k.value()));
                }
            }
            for (id, p) in &self.pending {
                if p.kind == WAL_REMOVED {
                    continue;
                }
                if let Some(v) = wal.get(p.key).map_err(|e| self.err(e))?
                    && !builder.add_encoded(v.value().3)
                {
                    return Err(damaged(id));
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
        let mut all: Vec<(String, u64)> = Vec::new();
        with_tables!(self, t = JOURNAL => {
            for row in t.iter().map_err(|e| self.err(e))? {
                let (k, _) = row.map_err(|e| self.err(e))?;
                let (seq, id) = k.value();
                all.push((id.to_string(), seq));
            }
        });
        // Sorted by id, then sequence; an id's newest entry is the last of its run. (No hash
        // map: a journal of a million imported beads is read once per commit.)
        all.sort_unstable();
        let mut out: Vec<(String, u64)> = Vec::with_capacity(all.len());
        for (id, seq) in all {
            match out.last_mut() {
                Some(last) if last.0 == id => last.1 = seq,
                _ => out.push((id, seq)),
            }
        }
        Ok(out)
    }

    /// How many entries the journal holds (an id changed twice counts twice).
    pub fn journal_len(&self) -> Result<usize, LedgerError> {
        with_tables!(self, t = JOURNAL => { Ok(t.len().map_err(|e| self.err(e))? as usize) })
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
        // Whether each removed id was a bead (its removal then goes to git).
        let removed_beads = batch
            .removes
            .iter()
            .map(|(id, _)| self.is_bead(id))
            .collect::<Result<Vec<bool>, _>>()?;
        // How the number of beads and wisps changes: puts first, then removals, as stored.
        let ids = batch
            .puts
            .iter()
            .map(|p| p.bead.id.as_str())
            .chain(batch.removes.iter().map(|(id, _)| id.as_str()));
        let was_here = self.contains_many(ids)?;
        let mut here: HashMap<&str, bool> = HashMap::new();
        let mut count = self.count;
        for (n, id) in batch
            .puts
            .iter()
            .map(|p| (true, p.bead.id.as_str()))
            .chain(batch.removes.iter().map(|(id, _)| (false, id.as_str())))
            .enumerate()
        {
            let (put, id) = id;
            let before = here.get(id).copied().unwrap_or(was_here[n]);
            match (before, put) {
                (false, true) => count += 1,
                (true, false) => count = count.saturating_sub(1),
                _ => {}
            }
            here.insert(id, put);
        }
        // The node states this batch changes, when the node tables are kept up to date.
        let node_changes =
            if self.nodes_current() && batch.puts.len() + batch.removes.len() <= nodes::DELTA_MAX {
                self.node_changes(batch)?
            } else {
                None
            };
        self.in_write(|tx, path| {
            write_batch(tx, path, seq, batch, &removed_beads)?;
            if let Some(changes) = &node_changes {
                write_node_log(tx, path, seq, changes)?;
            }
            Ok(())
        })?;
        self.seq = seq;
        self.count = count;
        if let Some(changes) = node_changes {
            self.nodes_seq = Some(seq);
            self.node_log_count += changes.len();
            self.node_overlay.extend(changes);
        }
        for (n, p) in batch.puts.iter().enumerate() {
            let kind = if p.bead.ephemeral { WAL_WISP } else { WAL_BEAD };
            let mut targets: Vec<String> = Vec::new();
            for d in &p.bead.dependencies {
                if crate::graph::EdgeKind::of(&d.kind).is_some()
                    && !targets.contains(&d.depends_on_id)
                {
                    targets.push(d.depends_on_id.clone());
                }
            }
            let pending = Pending {
                key: (seq, n as u32),
                kind,
                keys: Some(Keys::of(&p.bead)),
                targets,
            };
            self.set_pending(p.bead.id.clone(), pending);
        }
        for (n, (id, _)) in batch.removes.iter().enumerate() {
            let pending = Pending {
                key: (seq, (batch.puts.len() + n) as u32),
                kind: WAL_REMOVED,
                keys: None,
                targets: Vec::new(),
            };
            self.set_pending(id.clone(), pending);
        }
        self.wal_count += batch.puts.len() + batch.removes.len();
        for (i, ev) in batch.events.iter().enumerate() {
            self.logged
                .entry(ev.issue_id.clone())
                .or_default()
                .push(event_key(seq, i));
        }
        self.logged_count += batch.events.len();
        if self.logged_count + self.wal_count + self.node_log_count >= FOLD_AT {
            self.fold()?;
        }
        Ok(())
    }

    /// The node states `batch` changes, propagated against the persisted ones ([`nodes::Delta`]);
    /// `None` when the persisted states turn out not to match the records (they are then left
    /// stale, rebuilt at the next open, and the ledger answers from its graph meanwhile).
    fn node_changes(&self, batch: &Batch) -> Result<Option<Vec<(String, NodeState)>>, LedgerError> {
        with_tables!(self, graph = GRAPH, wal = WAL, states = NODE_STATE, refs = REFS => {
            let base = StoreBase { store: self, graph: &graph, wal: &wal, states: &states, refs: &refs };
            let mut delta = nodes::Delta::new(&base);
            for p in &batch.puts {
                delta.upsert(&NodeInfo::from_bead(&p.bead))?;
            }
            for (id, _) in &batch.removes {
                delta.remove(id)?;
            }
            if delta.inconsistent {
                tracing::warn!(path = %self.path.display(), "the persisted ready and blocked sets do not match the beads; they are rebuilt at the next open");
                return Ok(None);
            }
            Ok(Some(delta.changes()))
        })
    }

    /// Record `p` as the newest unfolded change of `id`, keeping the target counts right.
    fn set_pending(&mut self, id: String, p: Pending) {
        if let Some(old) = self.pending.get(&id) {
            for t in &old.targets {
                if let Some(sources) = self.pending_targets.get_mut(t) {
                    sources.retain(|s| *s != id);
                    if sources.is_empty() {
                        self.pending_targets.remove(t);
                    }
                }
            }
        }
        for t in &p.targets {
            self.pending_targets
                .entry(t.clone())
                .or_default()
                .push(id.clone());
        }
        self.pending.insert(id, p);
    }

    /// Move the logs into their tables: the newest change of each id into `beads`, `wisps` and
    /// `graph` (and its edges into `refs`), every event into `events` (one write; in deferred mode part of the open group).
    pub fn fold(&mut self) -> Result<(), LedgerError> {
        if self.logged_count == 0 && self.wal_count == 0 && self.node_log_count == 0 {
            return Ok(());
        }
        let taken = std::mem::take(&mut self.pending);
        let pending = &taken;
        let overlay_taken = std::mem::take(&mut self.node_overlay);
        let overlay = &overlay_taken;
        let folded = self.in_write(|tx, path| {
            let err = |e: &dyn std::fmt::Display| index_err(path, e);
            {
                let log = tx.open_table(EVENT_LOG).map_err(|e| err(&e))?;
                let mut events = tx.open_table(EVENTS).map_err(|e| err(&e))?;
                for row in log.iter().map_err(|e| err(&e))? {
                    let (k, v) = row.map_err(|e| err(&e))?;
                    let (id, json) = v.value();
                    events.insert((id, k.value()), json).map_err(|e| err(&e))?;
                }
                let wal = tx.open_table(WAL).map_err(|e| err(&e))?;
                let mut beads = tx.open_table(BEADS).map_err(|e| err(&e))?;
                let mut wisps = tx.open_table(WISPS).map_err(|e| err(&e))?;
                let mut graph = tx.open_table(GRAPH).map_err(|e| err(&e))?;
                let mut refs = tx.open_table(REFS).map_err(|e| err(&e))?;
                let mut index = secondary::Writer::open(tx, path)?;
                // In id order: neighbouring ids share pages.
                let mut ids: Vec<(&String, &Pending)> = pending.iter().collect();
                ids.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (id, p) in ids {
                    let id = id.as_str();
                    index.update(id, p.keys.as_ref()).map_err(|e| err(&e))?;
                    let row = wal.get(p.key).map_err(|e| err(&e))?;
                    let (line, node) = match &row {
                        Some(v) => {
                            let (_, _, line, node) = v.value();
                            (line, node)
                        }
                        None => ("", &[][..]),
                    };
                    // The edges the folded record had and the ones it has now.
                    let old = graph
                        .get(id)
                        .map_err(|e| err(&e))?
                        .map(|v| edge_targets(v.value()))
                        .unwrap_or_default();
                    let new = if p.kind == WAL_REMOVED {
                        Vec::new()
                    } else {
                        edge_targets(node)
                    };
                    for t in old.iter().filter(|t| !new.contains(t)) {
                        refs.remove((t.as_str(), id)).map_err(|e| err(&e))?;
                    }
                    for t in new.iter().filter(|t| !old.contains(t)) {
                        refs.insert((t.as_str(), id), ()).map_err(|e| err(&e))?;
                    }
                    match p.kind {
                        WAL_BEAD => {
                            wisps.remove(id).map_err(|e| err(&e))?;
                            beads.insert(id, line).map_err(|e| err(&e))?;
                            graph.insert(id, node).map_err(|e| err(&e))?;
                        }
                        WAL_WISP => {
                            beads.remove(id).map_err(|e| err(&e))?;
                            wisps.insert(id, line).map_err(|e| err(&e))?;
                            graph.insert(id, node).map_err(|e| err(&e))?;
                        }
                        _ => {
                            beads.remove(id).map_err(|e| err(&e))?;
                            wisps.remove(id).map_err(|e| err(&e))?;
                            graph.remove(id).map_err(|e| err(&e))?;
                        }
                    }
                }
            }
            let mut states: Vec<(&String, &NodeState)> = overlay.iter().collect();
            states.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (id, st) in states {
                nodes::fold_one(tx, path, id, st)?;
            }
            tx.delete_table(NODE_LOG).map_err(|e| err(&e))?;
            tx.open_table(NODE_LOG).map_err(|e| err(&e))?;
            tx.delete_table(EVENT_LOG).map_err(|e| err(&e))?;
            tx.open_table(EVENT_LOG).map_err(|e| err(&e))?;
            tx.delete_table(WAL).map_err(|e| err(&e))?;
            tx.open_table(WAL).map_err(|e| err(&e))?;
            Ok(())
        });
        if let Err(e) = folded {
            // A group that failed re-read its maps already; a single write just did not happen.
            if !self.deferred {
                self.pending = taken;
                self.node_overlay = overlay_taken;
            }
            return Err(e);
        }
        self.logged.clear();
        self.logged_count = 0;
        self.pending.clear();
        self.pending_targets.clear();
        self.wal_count = 0;
        self.node_overlay.clear();
        self.node_log_count = 0;
        Ok(())
    }

    /// The sequence of the last change written (in the open group too, when there is one); after
    /// opening, the last durable one.
    pub fn seq(&self) -> u64 {
        self.seq
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
            Some(tx) => {
                if crate::fault::active("GASTOWN_LEDGER_FAULT", "commit-fails-before-durable") {
                    drop(tx);
                    self.load_logs()?;
                    return Err(self.err("injected fault: the commit failed, nothing stored"));
                }
                tx.commit().map_err(|e| self.err(e))?;
                if crate::fault::active("GASTOWN_LEDGER_FAULT", "commit-fails-after-durable") {
                    return Err(self.err(
                        "injected fault: the commit reported an error after storing the group",
                    ));
                }
                Ok(())
            }
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
        // Every bead is in `beads` once the logs are folded.
        self.fold()?;
        let seq = self.seq + 1;
        let nodes_current = self.nodes_current();
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
            meta.insert(INDEXED_SEQ, seq.to_le_bytes().as_slice())
                .map_err(|e| err(&e))?;
            meta.insert(REFS_SEQ, seq.to_le_bytes().as_slice())
                .map_err(|e| err(&e))?;
            if nodes_current {
                // No bead changed: the node tables still reflect them all.
                meta.insert(NODES_SEQ, seq.to_le_bytes().as_slice())
                    .map_err(|e| err(&e))?;
            }
            meta.remove("last_commit").map_err(|e| err(&e))?;
            Ok(())
        })?;
        self.seq = seq;
        if nodes_current {
            self.nodes_seq = Some(seq);
        }
        Ok(())
    }
}

/// Append the node states a batch changed to `node_log` under its sequence, and record that
/// the node tables reflect it.
fn write_node_log(
    tx: &WriteTransaction,
    path: &Path,
    seq: u64,
    changes: &[(String, NodeState)],
) -> Result<(), LedgerError> {
    let err = |e: &dyn std::fmt::Display| index_err(path, e);
    let mut log = tx.open_table(NODE_LOG).map_err(|e| err(&e))?;
    for (n, (id, st)) in changes.iter().enumerate() {
        log.insert((seq, n as u32), (id.as_str(), st.encode().as_slice()))
            .map_err(|e| err(&e))?;
    }
    let mut meta = tx.open_table(META).map_err(|e| err(&e))?;
    meta.insert(NODES_SEQ, seq.to_le_bytes().as_slice())
        .map_err(|e| err(&e))?;
    Ok(())
}

/// The ledger before a batch, as [`nodes::Delta`] reads it: folded tables with the unfolded
/// changes merged over them.
struct StoreBase<'a, G, W, N, R> {
    store: &'a Store,
    graph: &'a G,
    wal: &'a W,
    states: &'a N,
    refs: &'a R,
}

impl<G, W, N, R> nodes::Base for StoreBase<'_, G, W, N, R>
where
    G: ReadableTable<&'static str, &'static [u8]>,
    W: ReadableTable<WalKey, WalRow>,
    N: ReadableTable<&'static str, &'static [u8]>,
    R: ReadableTable<(&'static str, &'static str), ()>,
{
    fn record(&self, id: &str) -> Result<Option<NodeInfo>, LedgerError> {
        self.store.record_in(self.graph, self.wal, id)
    }

    fn state(&self, id: &str) -> Result<NodeState, LedgerError> {
        self.store.state_in(self.states, id)
    }

    fn sources(&self, id: &str) -> Result<Vec<String>, LedgerError> {
        let store = self.store;
        let mut out: Vec<String> = Vec::new();
        for row in self.refs.range((id, "")..).map_err(|e| store.err(e))? {
            let (k, _) = row.map_err(|e| store.err(e))?;
            let (target, source) = k.value();
            if target != id {
                break;
            }
            // A source changed since the fold: its new record decides (below).
            if !store.pending.contains_key(source) {
                out.push(source.to_string());
            }
        }
        if let Some(sources) = store.pending_targets.get(id) {
            out.extend(sources.iter().cloned());
        }
        Ok(out)
    }
}

/// Record that the index reflects git commit `tip` (when there is one).
/// A load of beads into a blank index ([`Store::bulk_load`]): [`BulkLoad::add`] as many chunks
/// as there are, then [`BulkLoad::finish`]; dropped unfinished, nothing of it is stored.
pub struct BulkLoad<'s> {
    store: &'s mut Store,
    tx: WriteTransaction,
    seq: u64,
    /// Beads and wisps added so far (also the number of the next one's event).
    added: usize,
}

impl std::fmt::Debug for BulkLoad<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkLoad")
            .field("seq", &self.seq)
            .field("added", &self.added)
            .finish_non_exhaustive()
    }
}

/// A bead made ready for [`BulkLoad::add`]: its line, graph record, index keys and audit event
/// serialized (the costly part, which may run on another thread than the writes).
#[derive(Debug)]
pub struct PreparedBead {
    id: String,
    line: String,
    node: Vec<u8>,
    targets: Vec<String>,
    keys: Keys,
    event: String,
    wisp: bool,
}

impl PreparedBead {
    /// `bead` with the audit `event` of its arrival.
    pub fn new(bead: &Bead, event: &Event) -> PreparedBead {
        let node = NodeInfo::from_bead(bead).encode();
        PreparedBead {
            id: bead.id.clone(),
            line: bead.to_json_line(),
            targets: edge_targets(&node),
            node,
            keys: Keys::of(bead),
            event: serde_json::to_string(event).expect("an Event always serializes"),
            wisp: bead.ephemeral,
        }
    }

    /// The bead's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The line git will hold for it, `None` for a wisp (wisps never go to git).
    pub fn git_line(&self) -> Option<&str> {
        (!self.wisp).then_some(self.line.as_str())
    }
}

impl BulkLoad<'_> {
    /// Write a chunk of new beads, each with its audit event, into the folded tables (sorted by
    /// id first: neighbouring ids share pages). Ids must be new to the index and to the load.
    pub fn add(&mut self, mut chunk: Vec<PreparedBead>) -> Result<(), LedgerError> {
        chunk.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let path = self.store.path.clone();
        let err = |e: &dyn std::fmt::Display| index_err(&path, e);
        let tx = &self.tx;
        let mut beads = tx.open_table(BEADS).map_err(|e| err(&e))?;
        let mut wisps = tx.open_table(WISPS).map_err(|e| err(&e))?;
        let mut graph = tx.open_table(GRAPH).map_err(|e| err(&e))?;
        let mut refs = tx.open_table(REFS).map_err(|e| err(&e))?;
        let mut events = tx.open_table(EVENTS).map_err(|e| err(&e))?;
        let mut journal = tx.open_table(JOURNAL).map_err(|e| err(&e))?;
        let mut index = secondary::Writer::open(tx, &path)?;
        for b in &chunk {
            let id = b.id.as_str();
            if b.wisp {
                wisps.insert(id, b.line.as_str()).map_err(|e| err(&e))?;
            } else {
                beads.insert(id, b.line.as_str()).map_err(|e| err(&e))?;
                journal.insert((self.seq, id), ()).map_err(|e| err(&e))?;
            }
            graph.insert(id, b.node.as_slice()).map_err(|e| err(&e))?;
            for t in &b.targets {
                refs.insert((t.as_str(), id), ()).map_err(|e| err(&e))?;
            }
            index.insert(id, &b.keys).map_err(|e| err(&e))?;
            events
                .insert((id, event_key(self.seq, self.added)), b.event.as_str())
                .map_err(|e| err(&e))?;
            self.added += 1;
        }
        Ok(())
    }

    /// Commit the load (one durable transaction) and account for it; derived tables without a
    /// row of their own here are rebuilt ([`Store::rebuild_derived`]).
    pub fn finish(self) -> Result<(), LedgerError> {
        let BulkLoad {
            store,
            tx,
            seq,
            added,
        } = self;
        {
            let mut meta = tx.open_table(META).map_err(|e| store.err(e))?;
            for key in ["seq", INDEXED_SEQ, REFS_SEQ] {
                meta.insert(key, seq.to_le_bytes().as_slice())
                    .map_err(|e| store.err(e))?;
            }
        }
        crate::fault::point("GASTOWN_LEDGER_FAULT", "bulk-load-before-commit");
        tx.commit().map_err(|e| store.err(e))?;
        store.seq = seq;
        store.count = added;
        store.rebuild_derived()
    }
}

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
    let message = e.to_string();
    // A full disk is not damage: deleting the index (what `Index` suggests) would lose the
    // changes not yet in git, and freeing space is all it takes.
    if [
        "No space left on device",
        "os error 28",
        "Disk quota exceeded",
        "os error 122",
    ]
    .iter()
    .any(|m| message.contains(m))
    {
        return LedgerError::DiskFull {
            path: path.to_path_buf(),
            message,
        };
    }
    LedgerError::Index {
        path: path.to_path_buf(),
        message,
    }
}

/// Write one batch into `tx` under change sequence `seq`: appended to the logs, folded later.
/// `removed_beads[n]` says whether the `n`th removal removes a bead (rather than a wisp).
fn write_batch(
    tx: &WriteTransaction,
    path: &Path,
    seq: u64,
    batch: &Batch,
    removed_beads: &[bool],
) -> Result<(), LedgerError> {
    let err = |e: &dyn std::fmt::Display| index_err(path, e);
    let mut wal = tx.open_table(WAL).map_err(|e| err(&e))?;
    let mut journal = tx.open_table(JOURNAL).map_err(|e| err(&e))?;
    for (n, p) in batch.puts.iter().enumerate() {
        let id = p.bead.id.as_str();
        let line = p.bead.to_json_line();
        let node = NodeInfo::from_bead(&p.bead).encode();
        let kind = if p.bead.ephemeral { WAL_WISP } else { WAL_BEAD };
        wal.insert((seq, n as u32), (id, kind, line.as_str(), node.as_slice()))
            .map_err(|e| err(&e))?;
        if p.journal && !p.bead.ephemeral {
            journal.insert((seq, id), ()).map_err(|e| err(&e))?;
        }
    }
    for (n, (id, journal_it)) in batch.removes.iter().enumerate() {
        let key = (seq, (batch.puts.len() + n) as u32);
        wal.insert(key, (id.as_str(), WAL_REMOVED, "", &[][..]))
            .map_err(|e| err(&e))?;
        if removed_beads.get(n).copied().unwrap_or(false) && *journal_it {
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
    // The secondary indexes see this change (through the log, folded with it).
    meta.insert(INDEXED_SEQ, seq.to_le_bytes().as_slice())
        .map_err(|e| err(&e))?;
    meta.insert(REFS_SEQ, seq.to_le_bytes().as_slice())
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

    /// A bead `id` whose `blocks` dependency names `target`.
    fn depending(id: &str, target: &str) -> Put {
        let mut p = put(id, id, false);
        p.bead.dependencies.push(crate::model::Dependency {
            issue_id: id.to_string(),
            depends_on_id: target.to_string(),
            kind: crate::model::DepKind::Blocks,
            created_at: String::new(),
            created_by: String::new(),
            extra: Default::default(),
        });
        p
    }

    #[test]
    fn counts_and_references_hold_across_the_log_the_fold_a_reopen_and_a_rebuild() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ledger.redb");
        let mut store = Store::open(&path).expect("open");
        store
            .write(&Batch {
                puts: vec![depending("gt-a", "gt-ghost"), put("gt-b", "b", true)],
                ..Batch::default()
            })
            .expect("write");
        // In the log only.
        assert_eq!(store.count(), 2);
        assert!(store.is_referenced("gt-ghost").expect("refs"));
        assert!(!store.is_referenced("gt-b").expect("refs"));
        assert!(store.contains("gt-b").expect("contains"));
        assert!(!store.contains("gt-ghost").expect("contains"));
        store.fold().expect("fold");
        assert_eq!(store.count(), 2, "folded");
        assert!(store.is_referenced("gt-ghost").expect("refs"), "folded");
        // gt-a changed in the log to name another id: its folded row no longer counts.
        store
            .write(&Batch {
                puts: vec![depending("gt-a", "gt-other"), put("gt-a", "a", false)],
                ..Batch::default()
            })
            .expect("write");
        assert_eq!(store.count(), 2, "gt-a written twice is still one bead");
        assert!(!store.is_referenced("gt-ghost").expect("refs"));
        assert!(
            !store.is_referenced("gt-other").expect("refs"),
            "its newest put has no dep"
        );
        store
            .write(&Batch {
                puts: vec![depending("gt-c", "gt-ghost")],
                removes: vec![("gt-b".to_string(), false)],
                ..Batch::default()
            })
            .expect("write");
        assert_eq!(store.count(), 2, "gt-c came, gt-b went");
        assert!(
            store.is_referenced("gt-ghost").expect("refs"),
            "by gt-c, in the log"
        );
        drop(store);
        let mut store = Store::open(&path).expect("reopen with the log unfolded");
        assert_eq!(store.count(), 2, "replayed");
        assert!(store.is_referenced("gt-ghost").expect("refs"), "replayed");
        store.fold().expect("fold");
        drop(store);
        // An index written by a gastown without `refs`: rebuilt from the graph records at open.
        {
            let db = Database::create(&path).expect("db");
            let tx = db.begin_write().expect("write");
            tx.delete_table(REFS).expect("drop refs");
            tx.open_table(META)
                .expect("meta")
                .remove(REFS_SEQ)
                .expect("drop refs_seq");
            tx.commit().expect("commit");
        }
        let store = Store::open(&path).expect("reopen and rebuild");
        assert_eq!(store.count(), 2);
        assert!(store.is_referenced("gt-ghost").expect("refs"), "rebuilt");
        assert!(!store.is_referenced("gt-a").expect("refs"));
    }

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

    fn put(id: &str, title: &str, ephemeral: bool) -> Put {
        let mut bead = Bead::new(id, title);
        bead.ephemeral = ephemeral;
        Put {
            bead,
            journal: true,
        }
    }

    /// What every read says: (id, title, wisp) of all, lines of some ids, graph size.
    type View = (Vec<(String, String, bool)>, Vec<Option<String>>, usize);

    fn view(store: &Store) -> View {
        let all = store
            .all()
            .expect("all")
            .into_iter()
            .map(|(b, w)| (b.id, b.title, w))
            .collect();
        let ids: Vec<String> = ["gt-a", "gt-b", "gt-c", "gt-d"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let lines = store
            .lines(&ids)
            .expect("lines")
            .into_iter()
            .map(|l| l.map(|l| l.contains("\"title\"").to_string()))
            .collect();
        (all, lines, store.graph().expect("graph").len())
    }

    #[test]
    fn reads_are_the_same_before_and_after_a_fold_and_across_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ledger.redb");
        let mut store = Store::open(&path).expect("open");
        // A folded base, then changes in the log on top of it.
        store
            .write(&Batch {
                puts: vec![put("gt-a", "a", false), put("gt-b", "b", false)],
                ..Batch::default()
            })
            .expect("write");
        store.fold().expect("fold");
        store
            .write(&Batch {
                puts: vec![
                    put("gt-a", "a2", false),    // a bead changed
                    put("gt-b", "b-wisp", true), // a bead turned wisp
                    put("gt-c", "c", true),      // a new wisp
                    put("gt-d", "d", false),     // a new bead
                ],
                ..Batch::default()
            })
            .expect("write");
        store
            .write(&Batch {
                removes: vec![("gt-c".to_string(), true)],
                ..Batch::default()
            })
            .expect("remove");
        let expected = (
            vec![
                ("gt-a".to_string(), "a2".to_string(), false),
                ("gt-b".to_string(), "b-wisp".to_string(), true),
                ("gt-d".to_string(), "d".to_string(), false),
            ],
            vec![
                Some("true".to_string()),
                None, // a wisp has no line for git
                None,
                Some("true".to_string()),
            ],
            3,
        );
        assert_eq!(view(&store), expected, "from the log");
        assert_eq!(store.get("gt-c").expect("get"), None);
        assert!(store.get("gt-b").expect("get").expect("b").1, "b is a wisp");
        drop(store);
        let mut store = Store::open(&path).expect("reopen with the log unfolded");
        assert_eq!(view(&store), expected, "log replayed at open");
        store.fold().expect("fold");
        assert_eq!(view(&store), expected, "folded");
        drop(store);
        let store = Store::open(&path).expect("reopen folded");
        assert_eq!(view(&store), expected, "folded, reopened");
        assert_eq!(
            store.journal().expect("journal").len(),
            3,
            "a, b and d changed; removing wisp c is not git's business"
        );
    }
}
