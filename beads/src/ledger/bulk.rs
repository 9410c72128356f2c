//! The streaming import of a JSONL export into an empty ledger: memory bounded by a chunk of
//! beads and the file's ids and links, not by the whole file.
//!
//! Pass one reads the file line by line ([`jsonl::scan_export`]) and keeps only what the checks
//! need: each record's id, line and dependencies (kind and target), and the problems
//! [`validate::check_bead`] finds. Then the same checks as the in-memory import run on that —
//! repeated ids, [`validate::fresh_link_problems`] (dangling dependencies, cycles; on indices) — so the errors,
//! their lines and their words are the same. Pass two reads the lines again one by one, in id
//! order (every table keyed by id then grows at its end, each page written once), and writes
//! chunks of [`IMPORT_CHUNK`] beads straight into the index's folded tables
//! ([`crate::store::BulkLoad`]), all in one redb transaction: a bad line, a failure or a crash before its commit leaves the
//! ledger as it was. The beads are journaled like any local change, so the next commit (at
//! the latest when the ledger closes) takes them to git, and a crash after the redb commit
//! just recommits them on the next open.
//!
//! A ledger that holds anything takes the in-memory path (`query.rs`), which compares each
//! record with the bead it may replace.

use super::{ImportOutcome, Ledger, event, fault_point};
use crate::error::{ImportProblem, LedgerError};
use crate::graph::EdgeKind;
use crate::jsonl::{self, ImportStep, JsonlError, LineSpan};
use crate::model::EventKind;
use crate::store::PreparedBead;
use crate::validate;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

/// Beads per chunk of the second pass (what it holds in memory at once).
pub const IMPORT_CHUNK: usize = 50_000;

/// What pass one keeps of a record.
struct Scanned {
    /// Where its line is, to read it again in pass two.
    span: LineSpan,
    /// Its dependencies as the link checks see them: (readiness kind, target).
    deps: Vec<(Option<EdgeKind>, Box<str>)>,
}

impl Ledger {
    /// Beads per chunk of a streaming import (default [`IMPORT_CHUNK`]); tests make it small to
    /// import a small file in many chunks. `0`: never stream (every import takes the in-memory
    /// path, as into a ledger that holds beads), for tests and benchmarks that compare the two.
    pub fn set_import_chunk(&mut self, beads: usize) {
        self.import_chunk = beads;
    }

    /// True when an import of a file may stream ([`Ledger::import_streaming`]): nothing is in
    /// the index, and no group of deferred writes is open.
    pub(super) fn may_stream_import(&self) -> Result<bool, LedgerError> {
        Ok(self.import_chunk > 0 && self.store.is_blank()?)
    }

    /// Import the export at `path` into this empty ledger in two streaming passes (see the
    /// module documentation); the same outcome, errors and stored state as the in-memory path.
    pub(super) fn import_streaming(
        &mut self,
        path: &Path,
        actor: &str,
        watch: &mut dyn FnMut(ImportStep),
    ) -> Result<ImportOutcome, LedgerError> {
        // Pass one: ids (in file order), lines, links and each record's own problems.
        let mut index: HashMap<Box<str>, usize> = HashMap::new();
        let mut scanned: Vec<Scanned> = Vec::new();
        let mut problems: Vec<ImportProblem> = Vec::new();
        let mut duplicate: Option<(String, usize, usize)> = None;
        jsonl::scan_export(path, watch, &mut |rec, span| {
            let bead = rec.bead;
            match index.entry(bead.id.as_str().into()) {
                Entry::Occupied(first) => {
                    if duplicate.is_none() {
                        duplicate =
                            Some((bead.id.clone(), scanned[*first.get()].span.line, rec.line));
                    }
                    return Ok::<(), LedgerError>(());
                }
                Entry::Vacant(slot) => {
                    slot.insert(scanned.len());
                }
            }
            for problem in validate::check_bead(&bead) {
                problems.push(ImportProblem {
                    line: rec.line,
                    id: bead.id.clone(),
                    problem,
                });
            }
            scanned.push(Scanned {
                span,
                deps: bead
                    .dependencies
                    .iter()
                    .map(|d| (EdgeKind::of(&d.kind), d.depends_on_id.as_str().into()))
                    .collect(),
            });
            Ok(())
        })?;
        if let Some((id, first_line, line)) = duplicate {
            return Err(JsonlError::DuplicateId {
                path: path.to_path_buf(),
                id,
                first_line,
                line,
            }
            .into());
        }
        watch(ImportStep::Checking {
            records: scanned.len(),
        });
        // Ids in file order, borrowed from the index.
        let mut ids: Vec<&str> = vec![""; scanned.len()];
        for (id, &i) in &index {
            ids[i] = id;
        }
        let resolved: Vec<Vec<validate::ResolvedDep<'_>>> = scanned
            .iter()
            .map(|s| {
                s.deps
                    .iter()
                    .map(|(k, t)| (*k, &**t, index.get(&**t).copied()))
                    .collect()
            })
            .collect();
        for (i, problem) in validate::fresh_link_problems(&ids, &resolved) {
            problems.push(ImportProblem {
                line: scanned[i].span.line,
                id: ids[i].to_string(),
                problem,
            });
        }
        drop(resolved);
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.line);
            return Err(LedgerError::InvalidImport {
                path: path.to_path_buf(),
                problems,
            });
        }
        // Pass two reads the lines in id order: every table keyed by id then grows at its end,
        // each page written once, instead of a page rewritten per bead at random.
        let mut order: Vec<(&str, LineSpan)> = ids
            .iter()
            .zip(&scanned)
            .map(|(id, s)| (*id, s.span))
            .collect();
        order.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let order: Vec<(Box<str>, LineSpan)> =
            order.into_iter().map(|(id, s)| (id.into(), s)).collect();
        drop((index, scanned));
        self.check_accepting()?;
        watch(ImportStep::Writing {
            records: order.len(),
        });

        let now = crate::time::now_rfc3339();
        let chunk_size = self.import_chunk;
        let file = std::fs::File::open(path).map_err(|source| JsonlError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        // The beads' git blobs are hashed and compressed on the reader thread too, into a pack
        // of their own, so the commit that follows finds them written and only writes trees.
        // Without it (it could not be started, or failed on the way) the commit writes them.
        let mut blobs = match self.git().blob_pack() {
            Ok(pack) => Some(pack),
            Err(e) => {
                tracing::warn!("the import's blobs are left to its commit: {e}");
                None
            }
        };
        let mut load = self.store.bulk_load()?;
        let mut blob_ids: HashMap<Box<str>, crate::git::ObjectId> = HashMap::new();
        // A reader thread parses the lines and serializes what the tables hold, a chunk at a
        // time, while this one writes the chunk before (at most two chunks wait between them).
        let (send, receive) = std::sync::mpsc::sync_channel::<Result<Chunk, LedgerError>>(2);
        let outcome = std::thread::scope(|scope| -> Result<ImportOutcome, LedgerError> {
            let (blobs, blob_ids, order) = (&mut blobs, &mut blob_ids, &order);
            scope.spawn(move || {
                // Owned here, so the writer's loop ends when this thread does.
                let send = send;
                let mut buf = Vec::new();
                for part in order.chunks(chunk_size) {
                    let prepared = prepare(path, &file, part, &mut buf, actor, &now);
                    if let (Ok(chunk), Some(pack)) = (&prepared, blobs.as_mut()) {
                        let added = chunk.beads.iter().try_for_each(|b| {
                            if let Some(line) = b.git_line() {
                                blob_ids.insert(b.id().into(), pack.add_line(line)?);
                            }
                            Ok::<(), crate::git::GitError>(())
                        });
                        if let Err(e) = added {
                            tracing::warn!("the import's blobs are left to its commit: {e}");
                            *blobs = None;
                        }
                    }
                    let failed = prepared.is_err();
                    if send.send(prepared).is_err() || failed {
                        return; // the writer gave up, or this is the last word
                    }
                }
            });
            // Owned here, so a writer's error drops it and the reader's next send fails.
            let receive = receive;
            let mut outcome = ImportOutcome::default();
            let mut chunks = 0usize;
            for chunk in receive.iter() {
                let chunk = chunk?;
                outcome.created += chunk.beads.len();
                outcome.wisps += chunk.wisps;
                load.add(chunk.beads)?;
                chunks += 1;
                if chunks == 1 {
                    fault_point("import-after-first-chunk");
                }
            }
            Ok(outcome)
        })?;
        if outcome.created != order.len() {
            return Err(changed_meanwhile(path, 0));
        }
        drop(order);
        load.finish()?;
        fault_point("import-after-index-commit");
        if let Some(pack) = blobs {
            // Best effort: what is not in sight is written by the commit.
            let finished = pack.finish().and_then(|()| self.git().adopt_blob_pack());
            match finished {
                Ok(()) => self.bulk_blobs = Some(blob_ids),
                Err(e) => tracing::warn!("the import's blobs are left to its commit: {e}"),
            }
        }
        // Built from the index when something needs it (an import need not hold a graph of
        // everything it wrote).
        self.graph = std::sync::OnceLock::new();
        if outcome.created > outcome.wisps && self.pending_since.is_none() {
            self.pending_since = Some(std::time::Instant::now());
        }
        Ok(outcome)
    }
}

/// A chunk of pass two, ready to write.
struct Chunk {
    beads: Vec<PreparedBead>,
    wisps: usize,
}

/// Read, parse and prepare the beads of `part` (ids and where their lines are, from pass one).
fn prepare(
    path: &Path,
    file: &std::fs::File,
    part: &[(Box<str>, LineSpan)],
    buf: &mut Vec<u8>,
    actor: &str,
    now: &str,
) -> Result<Chunk, LedgerError> {
    let mut chunk = Chunk {
        beads: Vec::with_capacity(part.len()),
        wisps: 0,
    };
    for (id, span) in part {
        let bead = jsonl::read_line_at(path, file, *span, buf)?;
        // The file must not change between the passes: what was checked is what is written.
        let Some(bead) = bead.filter(|b| *b.id == **id) else {
            return Err(changed_meanwhile(path, span.line));
        };
        if bead.ephemeral {
            chunk.wisps += 1;
        }
        let ev = event(
            &bead.id,
            EventKind::Created,
            actor,
            now,
            None,
            Some("import".to_string()),
        );
        chunk.beads.push(PreparedBead::new(&bead, &ev));
    }
    Ok(chunk)
}

/// The file changed between the two passes of a streaming import (nothing was imported).
fn changed_meanwhile(path: &Path, line: usize) -> LedgerError {
    LedgerError::Import(JsonlError::Malformed {
        path: path.to_path_buf(),
        line,
        column: 1,
        what: "the file changed while it was being imported; import it again once nothing \
               writes to it"
            .to_string(),
    })
}
