//! The ledger's reads (get, list, ready, blocked, events, export) and its bulk write (import).

use super::{Blocked, ImportOutcome, Ledger, ListFilter, event};
use crate::backup::{self, BackupReport};
use crate::error::{ImportProblem, LedgerError};
use crate::graph::Graph;
use crate::jsonl::{self, ImportRecord, ImportStep};
use crate::model::{Bead, Event, EventKind, Status};
use crate::store::{Batch, Put, Select, StatusIs};
use crate::validate;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

impl Ledger {
    /// A bead or wisp by id.
    pub fn get(&self, id: &str) -> Result<Option<Bead>, LedgerError> {
        Ok(self.store.get(id)?.map(|(b, _)| b))
    }

    /// Beads matching the filter, sorted by id. Without `status` and `all`, closed beads (and
    /// tombstones) are left out; `all` keeps closed ones; `status` selects exactly that status.
    ///
    /// A filter by status, assignee or type (or the default "not closed") is answered from the
    /// store's secondary indexes and costs its result; only `all` with none of those (or with
    /// just a label) reads every bead.
    pub fn list(&self, f: &ListFilter) -> Result<Vec<Bead>, LedgerError> {
        let keep = |b: &Bead| {
            let status_ok = match &f.status {
                Some(s) => b.status == *s,
                None => b.status != Status::Tombstone && (f.all || b.status != Status::Closed),
            };
            status_ok
                && f.issue_type.as_ref().is_none_or(|t| b.issue_type == *t)
                && f.assignee.as_ref().is_none_or(|a| b.assignee == *a)
                && f.label.as_ref().is_none_or(|l| b.labels.contains(l))
        };
        let Some(select) = select(f) else {
            return Ok(self
                .store
                .all()?
                .into_iter()
                .map(|(b, _)| b)
                .filter(keep)
                .collect());
        };
        let ids = self.store.select(&select)?;
        Ok(self
            .store
            .get_many(&ids)?
            .into_iter()
            .flatten()
            .map(|(b, _)| b)
            .filter(keep)
            .collect())
    }

    /// Ready beads, by priority then creation time (see [`crate::graph`] for the definition).
    pub fn ready(&self) -> Result<Vec<Bead>, LedgerError> {
        let ids = self.ready_ids()?;
        Ok(self
            .store
            .get_many(&ids)?
            .into_iter()
            .flatten()
            .map(|(b, _)| b)
            .collect())
    }

    /// Ids of the ready beads: from the in-memory graph when it is built, else from the
    /// persisted ready set (a walk costing the set, no graph build); the graph is built only
    /// when the persisted set is stale (see `store/nodes.rs`).
    pub fn ready_ids(&self) -> Result<Vec<String>, LedgerError> {
        let now = crate::time::now_unix_nanos() as i64;
        if self.graph.get().is_none()
            && let Some(ids) = self.store.ready_ids(now)?
        {
            return Ok(ids);
        }
        Ok(self.graph()?.ready_ids(now))
    }

    /// Blocked beads with what blocks each, by priority then creation time.
    pub fn blocked(&self) -> Result<Vec<Blocked>, LedgerError> {
        let ids = self.blocked_ids()?;
        let beads = self.store.get_many(&ids)?;
        if self.graph.get().is_none()
            && let Some(blockers) = self.store.blockers_many(&ids)?
        {
            return Ok(beads
                .into_iter()
                .zip(blockers)
                .filter_map(|(b, blocked_by)| b.map(|(bead, _)| Blocked { bead, blocked_by }))
                .collect());
        }
        let graph = self.graph()?;
        Ok(ids
            .iter()
            .zip(beads)
            .filter_map(|(id, b)| {
                b.map(|(bead, _)| Blocked {
                    bead,
                    blocked_by: graph.blockers(id),
                })
            })
            .collect())
    }

    /// Ids of the blocked beads, like [`Ledger::ready_ids`]: the graph when built, else the
    /// persisted blocked set unless it is stale.
    pub fn blocked_ids(&self) -> Result<Vec<String>, LedgerError> {
        if self.graph.get().is_none()
            && let Some(ids) = self.store.blocked_ids()?
        {
            return Ok(ids);
        }
        Ok(self.graph()?.blocked_ids())
    }

    /// The audit trail of a bead, oldest first.
    pub fn events(&self, id: &str) -> Result<Vec<Event>, LedgerError> {
        self.store.events(id)
    }

    /// Import a `bd` export: parsed completely first (any bad line: nothing imported), every
    /// record validated like any other write and its dependencies checked (none dangling, no
    /// cycle; any problem: nothing imported, each problem named with its line), then written in
    /// one transaction. Ephemeral beads become wisps (still exported, never in git).
    ///
    /// A directory is a current `bd` backup directory ([`crate::backup`]): its beads with
    /// their dependencies, labels and comments, checked the same way, and the audit trail of
    /// each bead this import creates; orphan records are skipped (see [`Ledger::import_backup`]).
    pub fn import_file(&mut self, path: &Path, actor: &str) -> Result<ImportOutcome, LedgerError> {
        self.import_file_watched(path, actor, &mut |_| {})
    }

    /// [`Ledger::import_file`], telling `watch` where it is: reading (bytes and lines),
    /// checking, writing.
    pub fn import_file_watched(
        &mut self,
        path: &Path,
        actor: &str,
        watch: &mut dyn FnMut(ImportStep),
    ) -> Result<ImportOutcome, LedgerError> {
        if path.is_dir() {
            return Ok(self.import_backup_watched(path, actor, watch)?.0);
        }
        self.check_accepting()?;
        if self.may_stream_import()? {
            return self.import_streaming(path, actor, watch);
        }
        let records = jsonl::read_export_watched(path, watch)?;
        self.import_records(path, records, Vec::new(), actor, watch)
    }

    /// Import a current `bd` backup directory ([`crate::backup::read_backup`]): nothing is
    /// written when a file is malformed or a record invalid; orphan records are skipped and
    /// listed in the report. Events of the backup join the audit trail of the beads this
    /// import creates (a bead the ledger already has keeps its own).
    pub fn import_backup(
        &mut self,
        dir: &Path,
        actor: &str,
    ) -> Result<(ImportOutcome, BackupReport), LedgerError> {
        self.import_backup_watched(dir, actor, &mut |_| {})
    }

    fn import_backup_watched(
        &mut self,
        dir: &Path,
        actor: &str,
        watch: &mut dyn FnMut(ImportStep),
    ) -> Result<(ImportOutcome, BackupReport), LedgerError> {
        self.check_accepting()?;
        let backup = backup::read_backup(dir)?;
        let outcome = self.import_records(
            &dir.join(backup::ISSUES),
            backup.records,
            backup.events,
            actor,
            watch,
        )?;
        Ok((outcome, backup.report))
    }

    /// Check and write imported records (one transaction); `history` are audit-trail entries
    /// to add to the beads this import creates, before the import's own entry.
    fn import_records(
        &mut self,
        path: &Path,
        records: Vec<ImportRecord>,
        history: Vec<Event>,
        actor: &str,
        watch: &mut dyn FnMut(ImportStep),
    ) -> Result<ImportOutcome, LedgerError> {
        watch(ImportStep::Checking {
            records: records.len(),
        });
        check_import(self.graph()?, path, &records)?;
        watch(ImportStep::Writing {
            records: records.len(),
        });
        let now = crate::time::now_rfc3339();
        let mut outcome = ImportOutcome::default();
        let mut batch = Batch::default();
        let mut history_of: HashMap<String, Vec<Event>> = HashMap::new();
        for e in history {
            history_of.entry(e.issue_id.clone()).or_default().push(e);
        }
        let graph = self.graph()?;
        let here: Vec<bool> = records.iter().map(|r| graph.contains(&r.bead.id)).collect();
        let known: Vec<String> = records
            .iter()
            .zip(&here)
            .filter(|(_, here)| **here)
            .map(|(r, _)| r.bead.id.clone())
            .collect();
        let was_empty = graph.is_empty();
        let mut existing = self.store.get_many(&known)?.into_iter();
        for (rec, here) in records.into_iter().zip(here) {
            let bead = rec.bead;
            let kind = if here {
                let old = existing.next().flatten().map(|(b, _)| b);
                if old.as_ref() == Some(&bead) {
                    outcome.unchanged += 1;
                    continue;
                }
                outcome.updated += 1;
                EventKind::Updated
            } else {
                outcome.created += 1;
                if let Some(past) = history_of.remove(&bead.id) {
                    batch.events.extend(past);
                }
                EventKind::Created
            };
            if bead.ephemeral {
                outcome.wisps += 1;
            }
            batch.events.push(event(
                &bead.id,
                kind,
                actor,
                &now,
                None,
                Some("import".to_string()),
            ));
            batch.puts.push(Put {
                bead,
                journal: true,
            });
        }
        if was_empty {
            self.check_accepting()?;
            self.bulk_blobs = None;
            self.store.write(&batch)?;
            // Built from the index when something needs it (an import into an empty ledger need
            // not hold a graph of everything it wrote).
            self.graph = std::sync::OnceLock::new();
            if batch.puts.iter().any(|p| !p.bead.ephemeral) && self.pending_since.is_none() {
                self.pending_since = Some(std::time::Instant::now());
            }
        } else {
            self.apply(batch)?;
        }
        Ok(outcome)
    }

    /// Write every bead and wisp as one `issues.jsonl` the classic `bd` reads; returns the count.
    pub fn export_to<W: Write>(&self, w: W) -> Result<usize, LedgerError> {
        let beads = self.store.all()?;
        let n = beads.len();
        jsonl::write_export(w, beads.into_iter().map(|(b, _)| b))
            .map_err(|e| LedgerError::io("write the export", e))?;
        Ok(n)
    }
}

/// The one validation ([`crate::validate`]) of every record of an import, and of their links
/// against the ledger: every problem with its line, and nothing imported when there is one.
fn check_import(graph: &Graph, path: &Path, records: &[ImportRecord]) -> Result<(), LedgerError> {
    let mut problems: Vec<ImportProblem> = Vec::new();
    for rec in records {
        for problem in validate::check_bead(&rec.bead) {
            problems.push(ImportProblem {
                line: rec.line,
                id: rec.bead.id.clone(),
                problem,
            });
        }
    }
    let beads: Vec<&Bead> = records.iter().map(|r| &r.bead).collect();
    for (i, problem) in validate::check_links(graph, &beads) {
        problems.push(ImportProblem {
            line: records[i].line,
            id: records[i].bead.id.clone(),
            problem,
        });
    }
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort_by_key(|p| p.line);
    Err(LedgerError::InvalidImport {
        path: path.to_path_buf(),
        problems,
    })
}

/// Statuses `list` leaves out unless asked: closed beads, and tombstones.
const NOT_LISTED: &[&str] = &["closed", "tombstone"];
/// Statuses `list --all` leaves out.
const NOT_LISTED_ALL: &[&str] = &["tombstone"];

/// The index lookup that answers `f`, or `None` when no index narrows it (`all` alone).
fn select(f: &ListFilter) -> Option<Select<'_>> {
    let status = match &f.status {
        Some(s) => StatusIs::Exactly(s.as_str()),
        None if f.all => StatusIs::NotIn(NOT_LISTED_ALL),
        None => StatusIs::NotIn(NOT_LISTED),
    };
    let narrowed = f.status.is_some() || f.assignee.is_some() || f.issue_type.is_some();
    if f.all && !narrowed {
        return None;
    }
    Some(Select {
        status,
        assignee: f.assignee.as_deref(),
        issue_type: f.issue_type.as_ref().map(|t| t.as_str()),
    })
}
