//! The [`Ledger`] facade: what the CLI and the supervisor's ledger actor call.
//!
//! A mutation is written to the redb index (bead line, graph record, audit events, journal entry)
//! in one durable transaction, then applied to the in-memory readiness graph if it is loaded;
//! when the call returns it is acknowledged.
//!
//! Opening costs the same whatever the ledger's size: it reads no bead and builds no graph. The
//! readiness graph is built from the index's compact records the first time something needs it
//! (a dependency's cycle check, an import's link check, [`Ledger::graph`]; `ready` and
//! `blocked` only when the store's persisted sets are stale, see `store/nodes.rs`),
//! and kept up to date from then on. Everything else — a bead by id, whether an id exists or is
//! named by some dependency, how many beads there are — is a point read of the index. Git is updated by a group commit: everything journaled since the
//! last commit goes into one commit on `refs/heads/beads` within `commit_delay` of the first
//! pending change (when the owner calls [`Ledger::tick`]), at once on [`Ledger::sync`], and at
//! [`Ledger::close_ledger`]. A journal entry is cleared only after the ref moved; a crash in
//! between just recommits on the next open, which git makes a no-op.
//!
//! On open the index and git are reconciled both ways: commits on the ref that the index has not
//! seen (a pull, a hand edit) are re-indexed from the diff `last_commit..tip`, then the journal is
//! committed. When both changed one bead, the local unsynced change wins (it is committed on top).

mod bulk;
mod keyed;
mod mutate;
mod query;

pub use bulk::IMPORT_CHUNK;

use crate::error::LedgerError;
use crate::git::{self, Change, GitStore, GitStoreConfig, ObjectId};
use crate::graph::{Graph, NodeInfo};
use crate::lock::PidLock;
use crate::model::{Bead, DepKind, Event, EventKind, IssueType, Status};
use crate::store::{Batch, Put, Store};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Where a ledger lives and how it commits.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// The town's git repository (work tree root).
    pub repo_path: PathBuf,
    /// `<town>/.runtime/ledger.redb`.
    pub index_path: PathBuf,
    /// `<town>/.runtime/ledger.lock`.
    pub lock_path: PathBuf,
    /// Id prefix of new beads, e.g. `gt`.
    pub prefix: String,
    /// The ledger's ref, `refs/heads/beads`.
    pub git_ref: String,
    /// Group-commit bound: pending changes reach git at most this long after the first one.
    pub commit_delay: Duration,
    pub author_name: String,
    pub author_email: String,
}

impl LedgerConfig {
    /// How the ledger's git side is opened: its repository, ref and author.
    pub fn git_store_config(&self) -> GitStoreConfig {
        GitStoreConfig {
            repo_path: self.repo_path.clone(),
            git_ref: self.git_ref.clone(),
            author_name: self.author_name.clone(),
            author_email: self.author_email.clone(),
        }
    }
}

/// A bead to create.
#[derive(Debug, Clone, Default)]
pub struct NewBead {
    pub title: String,
    pub description: String,
    pub design: String,
    pub acceptance_criteria: String,
    pub notes: String,
    pub issue_type: IssueType,
    pub priority: u8,
    pub assignee: String,
    pub labels: Vec<String>,
    /// `(kind, depends_on)`: the new bead depends on these existing beads.
    pub deps: Vec<(DepKind, String)>,
    /// Make the bead a child `parent.N` with a `parent-child` dependency on the parent.
    pub parent: Option<String>,
    /// A wisp: kept in the index only, never committed to git.
    pub ephemeral: bool,
    /// Further fields of the record (sender, await_type, …, or unknown ones).
    pub extra: Map<String, Value>,
    /// The id prefix of the new bead (a rig's, so its beads say where they belong); `None`: the
    /// ledger's own ([`LedgerConfig::prefix`]). The id rules are the same whatever the prefix:
    /// adaptive hash length, a collision retried. A child (`parent`) takes its parent's id.
    pub prefix: Option<String>,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct BeadPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub design: Option<String>,
    pub acceptance_criteria: Option<String>,
    pub notes: Option<String>,
    pub assignee: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<u8>,
    pub issue_type: Option<IssueType>,
}

/// Which beads [`Ledger::list`] returns. By default the ones not closed; `all` adds closed ones;
/// `status` selects exactly one status.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub issue_type: Option<IssueType>,
    pub assignee: Option<String>,
    pub label: Option<String>,
    pub all: bool,
}

/// A blocked bead and what holds it back.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocked {
    pub bead: Bead,
    /// Active blocking targets, blocked parents, `waits-for` targets with active children.
    pub blocked_by: Vec<String>,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportOutcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// How many of the imported beads were ephemeral (kept as wisps, not committed to git).
    pub wisps: usize,
}

/// A group commit that reached git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOutcome {
    /// The commit id, hex.
    pub commit: String,
    /// How many beads it wrote or removed.
    pub beads: usize,
}

/// One change to the ledger, for its owner's change feed ([`Ledger::keep_changes`]): the audit
/// event, and the bead as it stands after it (`None` once removed).
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerChange {
    pub event: Event,
    pub bead: Option<Bead>,
}

/// A git commit of more changes than this is written in parts, one top shard at a time, into a
/// pack on disk ([`git::GitStore::commit_in_parts`]), so that its memory is a part's.
pub const COMMIT_IN_PARTS_ABOVE: usize = 100_000;

/// The most changes the feed holds before the oldest are dropped (an owner that never takes
/// them costs bounded memory).
pub const CHANGE_FEED_MAX: usize = 100_000;

/// An opened ledger; holds the lock until dropped or closed.
pub struct Ledger {
    cfg: LedgerConfig,
    store: Store,
    /// Shared with a [`CommitJob`] that runs on another thread; locked only briefly otherwise.
    git: Arc<Mutex<GitStore>>,
    /// The readiness graph, built on first use ([`Ledger::graph`]).
    graph: OnceLock<Graph>,
    /// When the oldest change not yet in git was made.
    pending_since: Option<Instant>,
    /// While set, every change is refused with this reason ([`Ledger::refuse_changes`]).
    refusing: Option<String>,
    /// Changes stored since the owner last took them, while it keeps them.
    feed: Option<std::collections::VecDeque<LedgerChange>>,
    /// Changes dropped from a full feed since the owner last took them.
    feed_dropped: usize,
    /// The git blobs a streaming import wrote ahead ([`bulk`]), by bead id, so the commit that
    /// follows names them without reading the beads' lines again; dropped by any other change
    /// (a bead changed since would otherwise be committed as imported) and by a commit.
    bulk_blobs: Option<std::collections::HashMap<Box<str>, ObjectId>>,
    /// Beads per chunk of a streaming import ([`Ledger::set_import_chunk`]).
    import_chunk: usize,
    /// Journals longer than this are committed in parts ([`Ledger::set_commit_in_parts_above`]).
    commit_in_parts_above: usize,
    /// Declared last so it is released last.
    lock: PidLock,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("cfg", &self.cfg)
            .field("beads", &self.store.count())
            .field("lock", &self.lock.path())
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Lock, open the index (creating it) and reconcile with git both ways. The readiness graph
    /// is not built here but on first use.
    pub fn open(cfg: LedgerConfig) -> Result<Ledger, LedgerError> {
        crate::id::validate_prefix(&cfg.prefix)
            .map_err(|e| LedgerError::InvalidPrefix(e.to_string()))?;
        for p in [&cfg.index_path, &cfg.lock_path] {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| LedgerError::io(format!("create {}", dir.display()), e))?;
            }
        }
        let lock = PidLock::acquire(&cfg.lock_path)?;
        let store = Store::open(&cfg.index_path)?;
        clear_stale_ref_lock(&cfg);
        let git = GitStore::open(cfg.git_store_config())?;
        let mut ledger = Ledger {
            cfg,
            store,
            git: Arc::new(Mutex::new(git)),
            graph: OnceLock::new(),
            pending_since: None,
            refusing: None,
            feed: None,
            feed_dropped: 0,
            bulk_blobs: None,
            import_chunk: bulk::IMPORT_CHUNK,
            commit_in_parts_above: COMMIT_IN_PARTS_ABOVE,
            lock,
        };
        ledger.reconcile()?;
        Ok(ledger)
    }

    /// The configuration this ledger was opened with.
    pub fn config(&self) -> &LedgerConfig {
        &self.cfg
    }

    /// Number of beads and wisps.
    pub fn len(&self) -> usize {
        self.store.count()
    }

    /// True when the ledger holds nothing.
    pub fn is_empty(&self) -> bool {
        self.store.count() == 0
    }

    /// The readiness graph (read only), built from the index's compact records on first use
    /// (O(beads + edges) once; every change after that updates it incrementally).
    pub fn graph(&self) -> Result<&Graph, LedgerError> {
        if let Some(g) = self.graph.get() {
            return Ok(g);
        }
        let built = self.store.graph()?;
        Ok(self.graph.get_or_init(|| built))
    }

    /// True when a bead or wisp has this id.
    pub(crate) fn exists(&self, id: &str) -> Result<bool, LedgerError> {
        match self.graph.get() {
            Some(g) => Ok(g.contains(id)),
            None => self.store.contains(id),
        }
    }

    /// True when a bead has this id or some dependency names it (a new bead must not take it).
    pub(crate) fn is_known(&self, id: &str) -> Result<bool, LedgerError> {
        match self.graph.get() {
            Some(g) => Ok(g.is_known(id)),
            None => Ok(self.store.contains(id)? || self.store.is_referenced(id)?),
        }
    }

    /// Bring the index up to git's tip, then commit the journal.
    fn reconcile(&mut self) -> Result<(), LedgerError> {
        let tip = self.catch_up()?;
        if !self.store.journal_is_empty()? {
            self.commit_from(tip)?;
        }
        Ok(())
    }

    /// Re-index whatever git has that the index has not seen; returns the tip.
    fn catch_up(&mut self) -> Result<Option<ObjectId>, LedgerError> {
        let tip = self.git().tip()?;
        let last = self.last_commit()?;
        if tip == last {
            return Ok(tip);
        }
        match tip {
            Some(to) => self.reindex(last, to)?,
            None => {
                tracing::warn!(git_ref = %self.cfg.git_ref, "the ledger ref is gone; recommitting every bead");
                self.store.journal_everything()?;
            }
        }
        Ok(tip)
    }

    fn last_commit(&self) -> Result<Option<ObjectId>, LedgerError> {
        match self.store.last_commit()? {
            None => Ok(None),
            Some(hex) => {
                ObjectId::from_hex(hex.as_bytes())
                    .map(Some)
                    .map_err(|e| LedgerError::Corrupt {
                        id: "meta.last_commit".to_string(),
                        message: e.to_string(),
                    })
            }
        }
    }

    /// Apply the beads that changed in git between `from` and `to` (local journal entries win).
    fn reindex(&mut self, from: Option<ObjectId>, to: ObjectId) -> Result<(), LedgerError> {
        let changed = self.git().changed_between(from, to);
        let changes = match changed {
            Ok(changes) => changes,
            // The commit the index last saw is gone (history rewritten and collected): take
            // every bead at the tip instead.
            Err(e) if from.is_some() => {
                tracing::warn!(error = %e, "cannot diff from the last indexed commit; re-indexing everything at the tip");
                self.git().changed_between(None, to)?
            }
            Err(e) => return Err(e.into()),
        };
        let journaled: HashSet<String> = self
            .store
            .journal()?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let now = crate::time::now_rfc3339();
        let mut batch = Batch {
            last_commit: Some(Some(to.to_hex().to_string())),
            ..Batch::default()
        };
        let here = self.store.contains_many(changes.iter().map(|c| c.id()))?;
        for (change, here) in changes.into_iter().zip(here) {
            if journaled.contains(change.id()) {
                continue;
            }
            match change {
                Change::Put { id, line } => match serde_json::from_str::<Bead>(&line) {
                    Ok(bead) if bead.id == id => {
                        let kind = if here {
                            EventKind::Updated
                        } else {
                            EventKind::Created
                        };
                        batch.events.push(event(
                            &id,
                            kind,
                            "git",
                            &now,
                            None,
                            Some(to.to_hex().to_string()),
                        ));
                        batch.puts.push(Put {
                            bead,
                            journal: false,
                        });
                    }
                    Ok(bead) => {
                        tracing::warn!(file_id = %id, line_id = %bead.id, "bead in git names another id; skipped")
                    }
                    Err(e) => {
                        tracing::warn!(%id, error = %e, "bead in git does not parse; skipped")
                    }
                },
                Change::Delete { id } => {
                    if here {
                        batch
                            .events
                            .push(event(&id, EventKind::Deleted, "git", &now, None, None));
                        batch.removes.push((id, false));
                    }
                }
            }
        }
        tracing::info!(
            beads = batch.puts.len() + batch.removes.len(),
            "re-indexed from git"
        );
        self.apply(batch)
    }

    /// Write a batch durably, then update the graph.
    ///
    /// Every local change (a put recorded in the journal) passes the one validation
    /// ([`crate::validate::check_bead`]) first; beads read from git are indexed as they are.
    fn apply(&mut self, batch: Batch) -> Result<(), LedgerError> {
        self.check_accepting()?;
        for put in batch.puts.iter().filter(|p| p.journal) {
            let problems = crate::validate::check_bead(&put.bead);
            if !problems.is_empty() {
                return Err(LedgerError::InvalidBead {
                    id: put.bead.id.clone(),
                    problems,
                });
            }
        }
        self.bulk_blobs = None;
        self.store.write(&batch)?;
        if let Some(feed) = self.feed.as_mut() {
            for event in &batch.events {
                let bead = batch
                    .puts
                    .iter()
                    .rev()
                    .find(|p| p.bead.id == event.issue_id)
                    .map(|p| p.bead.clone());
                if feed.len() >= CHANGE_FEED_MAX {
                    feed.pop_front();
                    self.feed_dropped += 1;
                }
                feed.push_back(LedgerChange {
                    event: event.clone(),
                    bead,
                });
            }
        }
        let mut journaled = false;
        // A graph not built yet is built later from the index, which has this batch.
        let mut graph = self.graph.get_mut();
        for put in &batch.puts {
            if let Some(g) = graph.as_deref_mut() {
                g.upsert(&NodeInfo::from_bead(&put.bead));
            }
            journaled |= put.journal && !put.bead.ephemeral;
        }
        for (id, journal) in &batch.removes {
            if let Some(g) = graph.as_deref_mut() {
                g.remove(id);
            }
            journaled |= *journal;
        }
        if journaled && self.pending_since.is_none() {
            self.pending_since = Some(Instant::now());
        }
        Ok(())
    }

    /// Keep a feed of every change stored from now on (`false`: stop, and drop what is kept), for
    /// an owner that publishes them ([`Ledger::take_changes`]). Under deferred durability a
    /// change is taken only after [`Ledger::make_durable`] succeeded, so nothing that was rolled
    /// back is ever published.
    pub fn keep_changes(&mut self, on: bool) {
        self.feed = on.then(std::collections::VecDeque::new);
        self.feed_dropped = 0;
    }

    /// The changes kept since the last call, oldest first, and how many were dropped meanwhile
    /// because the feed was full ([`CHANGE_FEED_MAX`]).
    pub fn take_changes(&mut self) -> (Vec<LedgerChange>, usize) {
        let dropped = std::mem::take(&mut self.feed_dropped);
        match self.feed.as_mut() {
            Some(feed) => (feed.drain(..).collect(), dropped),
            None => (Vec::new(), dropped),
        }
    }

    /// Refuse every change with `reason` from now on (`None`: take changes again). Reads go on.
    /// The supervisor's ledger actor sets it while the disk is nearly full, so that no write
    /// reaches redb only to fail there (which would take the index down for reads too).
    pub fn refuse_changes(&mut self, reason: Option<String>) {
        self.refusing = reason;
    }

    /// Why changes are refused now, if they are.
    pub fn refusing(&self) -> Option<&str> {
        self.refusing.as_deref()
    }

    fn check_accepting(&self) -> Result<(), LedgerError> {
        match &self.refusing {
            Some(reason) => Err(LedgerError::Unavailable(reason.clone())),
            None => Ok(()),
        }
    }

    /// The sequence number of the last change: in the open group (deferred durability) until it
    /// is made durable; right after [`Ledger::open`], the last durable one. An owner whose
    /// group commit failed reopens the ledger and compares: a group whose last change is at or
    /// below the reopened sequence was stored after all.
    pub fn change_seq(&self) -> u64 {
        self.store.seq()
    }

    /// Commit everything pending to git now (after taking in whatever git has that the index has
    /// not seen).
    pub fn sync(&mut self) -> Result<Option<CommitOutcome>, LedgerError> {
        // Git must never hold a change the index could still lose (and a caller was not told
        // of): an open group is made durable first.
        self.store.make_durable()?;
        // The git cadence is also the event log's: fold it while we are at it.
        self.store.fold()?;
        let tip = self.catch_up()?;
        match self.commit_from(tip) {
            // Someone committed to the ref between our look and our commit: take their changes
            // in and try once more.
            Err(LedgerError::Git(git::GitError::TipMoved { .. })) => {
                let tip = self.catch_up()?;
                self.commit_from(tip)
            }
            other => other,
        }
    }

    /// Merge another town's ledger commit `theirs` (already fetched into this repository) into
    /// this one: what is pending goes to git first, then [`git::GitStore::merge`] (bead by bead;
    /// `base` is the merge base of the two, `None` when they share no history), then the index
    /// takes in what the merge changed. On any error the ref and the index are as they were.
    pub fn merge_from(
        &mut self,
        theirs: ObjectId,
        base: Option<ObjectId>,
    ) -> Result<git::MergeDone, LedgerError> {
        self.sync()?;
        fault_point("merge-after-own-commit");
        let ours = self.catch_up()?;
        let done = self.git().merge(ours, theirs, base)?;
        // The ref moved, the index not yet told: the next open catches up from git.
        fault_point("merge-after-ref-moved");
        if done.tip.is_some() {
            self.catch_up()?;
        }
        Ok(done)
    }

    /// The ledger ref's commit in git (`None` before the first commit).
    pub fn git_tip(&self) -> Result<Option<ObjectId>, LedgerError> {
        Ok(self.git().tip()?)
    }

    /// How long until pending changes are due in git; `None` when nothing is pending.
    pub fn commit_due_in(&self) -> Option<Duration> {
        self.pending_since
            .map(|t| (t + self.cfg.commit_delay).saturating_duration_since(Instant::now()))
    }

    /// Group commit of the index: while on, mutations join one open redb transaction and are
    /// NOT durable until [`Ledger::make_durable`] commits it. For an owner (the supervisor's
    /// ledger actor) that acknowledges a group of operations only after one durable commit.
    /// Turning it off commits the open group.
    pub fn set_deferred_durability(&mut self, on: bool) -> Result<(), LedgerError> {
        self.store.set_deferred(on)
    }

    /// Make every mutation so far durable (one commit, one fsync, for the whole group). An error
    /// means the group was rolled back: none of its operations may be acknowledged, and the
    /// in-memory graph no longer matches the index, so the owner must reopen the ledger.
    pub fn make_durable(&mut self) -> Result<(), LedgerError> {
        self.store.make_durable()
    }

    /// Commit to git if the oldest pending change is `commit_delay` old.
    pub fn tick(&mut self) -> Result<Option<CommitOutcome>, LedgerError> {
        match self.commit_due_in() {
            Some(d) if d.is_zero() => self.sync(),
            _ => Ok(None),
        }
    }

    /// Flush pending changes to git and release the lock.
    pub fn close_ledger(mut self) -> Result<(), LedgerError> {
        self.sync()?;
        Ok(())
    }

    /// The git store (a commit job running elsewhere holds it until it is done).
    fn git(&self) -> MutexGuard<'_, GitStore> {
        // A job that panicked left no half-made state behind: the ref moves atomically.
        self.git
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One commit of the journal on top of `tip`; the journal entries go once the ref moved.
    fn commit_from(&mut self, tip: Option<ObjectId>) -> Result<Option<CommitOutcome>, LedgerError> {
        if self.store.journal_len()? > self.commit_in_parts_above {
            return self.commit_in_parts(tip);
        }
        match self.prepare_commit(tip)? {
            Some(job) => self.finish_commit(job.run()),
            None => Ok(None),
        }
    }

    /// [`Ledger::commit_from`] of a journal too large to hold every line of it at once (an
    /// import of a million beads): [`git::GitStore::commit_in_parts`], reading the lines of
    /// one top shard's beads at a time.
    fn commit_in_parts(
        &mut self,
        tip: Option<ObjectId>,
    ) -> Result<Option<CommitOutcome>, LedgerError> {
        let journal = self.store.journal()?;
        let mut parts: Vec<Vec<String>> = vec![Vec::new(); 16];
        for (id, _) in &journal {
            parts[git::top_shard(id)].push(id.clone());
        }
        let message = {
            let ids: Vec<&str> = journal.iter().map(|(id, _)| id.as_str()).collect();
            git::commit_message_of(&ids)
        };
        self.pending_since = None;
        let (store, blobs) = (&self.store, &self.bulk_blobs);
        let result = self
            .git
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .commit_in_parts(
                tip,
                &mut |p| -> Result<git::Part, LedgerError> {
                    let mut ids = std::mem::take(&mut parts[p]);
                    // What a streaming import wrote ahead is named by its blob, unread.
                    let mut stored = Vec::new();
                    if let Some(blobs) = blobs {
                        ids.retain(|id| match blobs.get(id.as_str()) {
                            Some(blob) => {
                                stored.push((id.clone(), *blob));
                                false
                            }
                            None => true,
                        });
                    }
                    let lines = store.lines(&ids)?;
                    let changes = ids
                        .into_iter()
                        .zip(lines)
                        .map(|(id, line)| match line {
                            Some(line) => Change::Put { id, line },
                            None => Change::Delete { id },
                        })
                        .collect();
                    Ok(git::Part { changes, stored })
                },
                &message,
            );
        let commit = match result {
            Ok(commit) => commit,
            Err(e) => {
                self.pending_since.get_or_insert_with(Instant::now);
                return Err(e);
            }
        };
        fault_point("after-git-commit");
        let beads = journal.len();
        self.finish_commit(CommitDone {
            tip,
            journal,
            beads,
            result: Ok(commit),
        })
    }

    /// Journals larger than this are committed in parts ([`Ledger::commit_in_parts`]); tests
    /// make it small to commit a small import that way.
    pub fn set_commit_in_parts_above(&mut self, changes: usize) {
        self.commit_in_parts_above = changes;
    }

    /// Prepare the git commit of everything pending, to run with [`CommitJob::run`] on another
    /// thread while this ledger goes on serving operations; hand its result to
    /// [`Ledger::finish_commit`]. `None` when nothing is pending. Changes made meanwhile stay in
    /// the journal for the next commit. At most one job may be out at a time.
    pub fn begin_commit(&mut self) -> Result<Option<CommitJob>, LedgerError> {
        self.store.make_durable()?;
        self.store.fold()?;
        let tip = self.catch_up()?;
        self.prepare_commit(tip)
    }

    fn prepare_commit(&mut self, tip: Option<ObjectId>) -> Result<Option<CommitJob>, LedgerError> {
        let journal = self.store.journal()?;
        if journal.is_empty() {
            self.pending_since = None;
            return Ok(None);
        }
        let ids: Vec<String> = journal.iter().map(|(id, _)| id.clone()).collect();
        let lines = self.store.lines(&ids)?;
        let changes: Vec<Change> = ids
            .into_iter()
            .zip(lines)
            .map(|(id, line)| match line {
                Some(line) => Change::Put { id, line },
                None => Change::Delete { id },
            })
            .collect();
        // Changes from now on start a new wait for the next commit.
        self.pending_since = None;
        Ok(Some(CommitJob {
            git: Arc::clone(&self.git),
            tip,
            journal,
            changes,
        }))
    }

    /// Take in what a [`CommitJob`] did: once the ref moved, the journal entries it covered go.
    /// On failure they stay, and the next commit tries again.
    pub fn finish_commit(
        &mut self,
        done: CommitDone,
    ) -> Result<Option<CommitOutcome>, LedgerError> {
        let commit = match done.result {
            Ok(commit) => commit,
            Err(e) => {
                self.pending_since.get_or_insert_with(Instant::now);
                return Err(e.into());
            }
        };
        let new_tip = commit.or(done.tip).map(|c| c.to_hex().to_string());
        self.bulk_blobs = None;
        self.store.committed(&done.journal, new_tip.as_deref())?;
        Ok(commit.map(|c| CommitOutcome {
            commit: c.to_hex().to_string(),
            beads: done.beads,
        }))
    }
}

/// A git commit of the ledger's pending changes, prepared by [`Ledger::begin_commit`]: the
/// hashing, compressing and pack writing, free of the ledger so that its owner can serve
/// operations meanwhile.
///
/// It touches only git: content-addressed objects and a compare-and-swap of the ref, never the
/// index. If the ledger is dropped (or reopened) while it runs, it still finishes safely: the
/// journal kept everything it covered, so the next commit on top of it, or the next open's
/// reconcile, takes it in (recommitting identical lines is a no-op in git).
pub struct CommitJob {
    git: Arc<Mutex<GitStore>>,
    tip: Option<ObjectId>,
    journal: Vec<(String, u64)>,
    changes: Vec<Change>,
}

impl std::fmt::Debug for CommitJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitJob")
            .field("tip", &self.tip)
            .field("beads", &self.changes.len())
            .finish_non_exhaustive()
    }
}

/// What a [`CommitJob`] did, for [`Ledger::finish_commit`].
#[derive(Debug)]
pub struct CommitDone {
    tip: Option<ObjectId>,
    journal: Vec<(String, u64)>,
    beads: usize,
    result: Result<Option<ObjectId>, git::GitError>,
}

impl CommitJob {
    /// Write the commit and move the ref (blocking: git objects, a pack, the ref update).
    pub fn run(self) -> CommitDone {
        let message = git::commit_message(&self.changes);
        let result = self
            .git
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .commit(self.tip, &self.changes, &message);
        if result.is_ok() {
            fault_point("after-git-commit");
        }
        CommitDone {
            tip: self.tip,
            journal: self.journal,
            beads: self.changes.len(),
            result,
        }
    }
}

/// An audit-trail entry.
fn event(
    id: &str,
    kind: EventKind,
    actor: &str,
    at: &str,
    old: Option<String>,
    new: Option<String>,
) -> Event {
    Event {
        issue_id: id.to_string(),
        kind,
        actor: actor.to_string(),
        at: at.to_string(),
        old,
        new,
    }
}

/// Fault injection for the crash tests (`crate::fault`): with `GASTOWN_LEDGER_FAULT=<name>` the
/// process kills itself at the named point, e.g. `after-git-commit` (the ref moved, the journal
/// not yet cleared).
fn fault_point(name: &str) {
    crate::fault::point("GASTOWN_LEDGER_FAULT", name);
}

/// A `kill -9` in the middle of a ref update leaves git's `<ref>.lock` behind, and every later
/// commit would fail on it. Holding the ledger lock means no other gastown writes the ref, so a
/// leftover lock is stale: remove it.
fn clear_stale_ref_lock(cfg: &LedgerConfig) {
    let rel = format!("{}.lock", cfg.git_ref);
    for base in [cfg.repo_path.join(".git"), cfg.repo_path.clone()] {
        let lock = base.join(&rel);
        if lock.is_file() {
            match std::fs::remove_file(&lock) {
                Ok(()) => tracing::warn!(path = %lock.display(), "removed a stale git ref lock"),
                Err(e) => {
                    tracing::warn!(path = %lock.display(), error = %e, "cannot remove a stale git ref lock")
                }
            }
        }
    }
}
