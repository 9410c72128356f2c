//! The ledger's mutations: create, update, close, reopen, dependencies, labels, comments, wisps.
//! Each loads the bead, changes it, and writes it with its audit events as one batch.

use super::{BeadPatch, Ledger, NewBead, event};
use crate::error::LedgerError;
use crate::graph::EdgeKind;
use crate::id;
use crate::model::{Bead, Comment, DepKind, Dependency, Event, EventKind, Status};
use crate::store::{Batch, Put};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

impl Ledger {
    /// Create a bead: a fresh hash id (or `parent.N`), validated dependencies, an audit event.
    /// Durable when it returns (one redb transaction, one fsync).
    pub fn create(&mut self, new: NewBead, actor: &str) -> Result<Bead, LedgerError> {
        let mut made = self.create_many(vec![new], actor)?;
        Ok(made
            .pop()
            .expect("create_many returns one bead per NewBead"))
    }

    /// Create several beads in one durable transaction (all or none): the cost of the fsync is
    /// shared, which is what a formula instantiating a molecule, or an actor batching concurrent
    /// requests, wants. Dependencies and parents must be existing beads.
    pub fn create_many(
        &mut self,
        news: Vec<NewBead>,
        actor: &str,
    ) -> Result<Vec<Bead>, LedgerError> {
        let now = crate::time::now_rfc3339();
        let mut taken: HashSet<String> = HashSet::new();
        let mut counters: HashMap<String, u64> = HashMap::new();
        let mut batch = Batch::default();
        for new in news {
            check_priority(new.priority)?;
            check_title(&new.title)?;
            for (_, target) in &new.deps {
                self.require(target)?;
            }
            let id = match &new.parent {
                Some(parent) => {
                    self.require(parent)?;
                    let key = format!("child:{parent}");
                    let mut n = match counters.get(&key) {
                        Some(n) => *n,
                        None => self.store.meta_u64(&key)?.unwrap_or(0),
                    };
                    let id = loop {
                        n += 1;
                        let id = id::child_id(parent, n as u32);
                        if !taken.contains(&id) && !self.is_known(&id)? {
                            break id;
                        }
                    };
                    counters.insert(key, n);
                    id
                }
                None => {
                    let prefix = match &new.prefix {
                        Some(p) => {
                            id::validate_prefix(p)
                                .map_err(|e| LedgerError::InvalidPrefix(e.to_string()))?;
                            p.as_str()
                        }
                        None => self.cfg.prefix.as_str(),
                    };
                    let seed = format!("{}\n{}\n{}", new.title, new.description, now);
                    // The length adapts to the whole ledger, not one prefix: ids stay as short
                    // as the town's and collisions as rare.
                    let count = self.len() + taken.len();
                    let mut failed = None;
                    let id = id::generate_id(prefix, &seed, count, |id| {
                        taken.contains(id)
                            || self.is_known(id).unwrap_or_else(|e| {
                                failed.get_or_insert(e);
                                false
                            })
                    });
                    if let Some(e) = failed {
                        return Err(e);
                    }
                    id
                }
            };
            id::validate_id(&id).map_err(|e| LedgerError::InvalidId(e.to_string()))?;
            taken.insert(id.clone());
            let bead = new_bead(id, new, actor, &now);
            batch.events.push(event(
                &bead.id,
                EventKind::Created,
                actor,
                &now,
                None,
                Some(bead.title.clone()),
            ));
            batch.puts.push(Put {
                bead,
                journal: true,
            });
        }
        batch.meta = counters.into_iter().collect();
        let beads = batch.puts.iter().map(|p| p.bead.clone()).collect();
        self.apply(batch)?;
        Ok(beads)
    }

    /// Change fields; a status change to or from `closed` sets or clears `closed_at`.
    pub fn update(&mut self, id: &str, patch: BeadPatch, actor: &str) -> Result<Bead, LedgerError> {
        if let Some(p) = patch.priority {
            check_priority(p)?;
        }
        if let Some(title) = &patch.title {
            check_title(title)?;
        }
        let mut bead = self.load(id)?;
        let now = crate::time::now_rfc3339();
        let mut changed: Vec<&str> = Vec::new();
        let mut set = |name: &'static str, field: &mut String, value: Option<String>| {
            if let Some(v) = value.filter(|v| v != field) {
                *field = v;
                changed.push(name);
            }
        };
        set("title", &mut bead.title, patch.title);
        set("description", &mut bead.description, patch.description);
        set("design", &mut bead.design, patch.design);
        set(
            "acceptance_criteria",
            &mut bead.acceptance_criteria,
            patch.acceptance_criteria,
        );
        set("notes", &mut bead.notes, patch.notes);
        set("assignee", &mut bead.assignee, patch.assignee);
        if let Some(p) = patch.priority.filter(|p| *p != bead.priority) {
            bead.priority = p;
            changed.push("priority");
        }
        if let Some(t) = patch.issue_type.filter(|t| *t != bead.issue_type) {
            bead.issue_type = t;
            changed.push("issue_type");
        }
        let mut events = Vec::new();
        if !changed.is_empty() {
            events.push(event(
                id,
                EventKind::Updated,
                actor,
                &now,
                None,
                Some(changed.join(",")),
            ));
        }
        if let Some(status) = patch.status.filter(|s| *s != bead.status) {
            set_status(&mut bead, status, None, actor, &now, &mut events);
        }
        if events.is_empty() {
            return Ok(bead);
        }
        bead.updated_at = now;
        self.write_bead(bead, events, Vec::new())
    }

    /// Close a bead with a reason (`closed_at` set). Closing a closed bead changes nothing.
    pub fn close(&mut self, id: &str, reason: &str, actor: &str) -> Result<Bead, LedgerError> {
        let mut bead = self.load(id)?;
        if bead.status == Status::Closed {
            return Ok(bead);
        }
        let now = crate::time::now_rfc3339();
        let mut events = Vec::new();
        set_status(
            &mut bead,
            Status::Closed,
            Some(reason),
            actor,
            &now,
            &mut events,
        );
        bead.updated_at = now;
        self.write_bead(bead, events, Vec::new())
    }

    /// Reopen a closed bead (`closed_at` and the close reason removed). A bead that is not closed
    /// is returned as it is.
    pub fn reopen(&mut self, id: &str, actor: &str) -> Result<Bead, LedgerError> {
        let mut bead = self.load(id)?;
        if bead.status != Status::Closed {
            return Ok(bead);
        }
        let now = crate::time::now_rfc3339();
        let mut events = Vec::new();
        set_status(&mut bead, Status::Open, None, actor, &now, &mut events);
        bead.updated_at = now;
        self.write_bead(bead, events, Vec::new())
    }

    /// `issue` depends on `depends_on`. Both must exist; a blocking or parent-child edge that
    /// would close a cycle is refused with the cycle named. One dependency per pair: adding it
    /// again with another kind changes its kind.
    pub fn add_dependency(
        &mut self,
        issue: &str,
        depends_on: &str,
        kind: DepKind,
        actor: &str,
    ) -> Result<(), LedgerError> {
        let mut bead = self.load(issue)?;
        self.require(depends_on)?;
        if let Some(k) = EdgeKind::of(&kind)
            && let Some(path) = self.graph()?.cycle_path(issue, depends_on, k)
        {
            return Err(LedgerError::Cycle { path });
        }
        if bead
            .dependencies
            .iter()
            .any(|d| d.depends_on_id == depends_on && d.kind == kind)
        {
            return Ok(());
        }
        bead.dependencies.retain(|d| d.depends_on_id != depends_on);
        let now = crate::time::now_rfc3339();
        bead.dependencies
            .push(dependency(issue, depends_on, kind.clone(), actor, &now));
        bead.updated_at = now.clone();
        let ev = event(
            issue,
            EventKind::DependencyAdded,
            actor,
            &now,
            None,
            Some(format!("{kind}:{depends_on}")),
        );
        self.write_bead(bead, vec![ev], Vec::new()).map(|_| ())
    }

    /// Remove the dependency of `issue` on `depends_on`.
    pub fn remove_dependency(
        &mut self,
        issue: &str,
        depends_on: &str,
        actor: &str,
    ) -> Result<(), LedgerError> {
        let mut bead = self.load(issue)?;
        let Some(pos) = bead
            .dependencies
            .iter()
            .position(|d| d.depends_on_id == depends_on)
        else {
            return Err(LedgerError::Invalid(format!(
                "{issue} does not depend on {depends_on}; `gastown bead show {issue}` lists its dependencies"
            )));
        };
        let removed = bead.dependencies.remove(pos);
        let now = crate::time::now_rfc3339();
        bead.updated_at = now.clone();
        let old = Some(format!("{}:{depends_on}", removed.kind));
        let ev = event(issue, EventKind::DependencyRemoved, actor, &now, old, None);
        self.write_bead(bead, vec![ev], Vec::new()).map(|_| ())
    }

    /// Add a label (no change when it is there).
    pub fn add_label(&mut self, id: &str, label: &str, actor: &str) -> Result<Bead, LedgerError> {
        let mut bead = self.load(id)?;
        if bead.labels.iter().any(|l| l == label) {
            return Ok(bead);
        }
        bead.labels.push(label.to_string());
        let now = crate::time::now_rfc3339();
        bead.updated_at = now.clone();
        let ev = event(
            id,
            EventKind::LabelAdded,
            actor,
            &now,
            None,
            Some(label.to_string()),
        );
        self.write_bead(bead, vec![ev], Vec::new())
    }

    /// Remove a label (no change when it is not there).
    pub fn remove_label(
        &mut self,
        id: &str,
        label: &str,
        actor: &str,
    ) -> Result<Bead, LedgerError> {
        let mut bead = self.load(id)?;
        let before = bead.labels.len();
        bead.labels.retain(|l| l != label);
        if bead.labels.len() == before {
            return Ok(bead);
        }
        let now = crate::time::now_rfc3339();
        bead.updated_at = now.clone();
        let ev = event(
            id,
            EventKind::LabelRemoved,
            actor,
            &now,
            Some(label.to_string()),
            None,
        );
        self.write_bead(bead, vec![ev], Vec::new())
    }

    /// Append a comment by `actor`.
    pub fn add_comment(&mut self, id: &str, text: &str, actor: &str) -> Result<Bead, LedgerError> {
        let mut bead = self.load(id)?;
        let now = crate::time::now_rfc3339();
        let next = bead
            .comments
            .iter()
            .filter_map(|c| c.id.as_u64())
            .max()
            .unwrap_or(0)
            + 1;
        bead.comments.push(Comment {
            id: Value::from(next),
            issue_id: id.to_string(),
            author: actor.to_string(),
            text: text.to_string(),
            created_at: now.clone(),
            extra: Default::default(),
        });
        bead.updated_at = now.clone();
        let ev = event(
            id,
            EventKind::Commented,
            actor,
            &now,
            None,
            Some(text.to_string()),
        );
        self.write_bead(bead, vec![ev], Vec::new())
    }

    /// Delete a wisp (ephemeral bead). Beads that go to git cannot be burnt.
    pub fn burn_wisp(&mut self, id: &str) -> Result<(), LedgerError> {
        match self.store.get(id)? {
            None => Err(LedgerError::UnknownBead(id.to_string())),
            Some((_, false)) => Err(LedgerError::Invalid(format!(
                "{id} is not a wisp; only ephemeral beads can be burnt, close this one instead"
            ))),
            Some((_, true)) => {
                let now = crate::time::now_rfc3339();
                let batch = Batch {
                    removes: vec![(id.to_string(), false)],
                    events: vec![event(id, EventKind::Deleted, "burn", &now, None, None)],
                    ..Batch::default()
                };
                self.apply(batch)
            }
        }
    }

    /// Remove beads from the live ledger, all in one durable write (all or none; an unknown id
    /// refuses the lot). A persistent bead's removal reaches git with the next commit: the ref's
    /// tip no longer holds it, while every earlier commit still does (`git log -p` shows it).
    /// A wisp is simply dropped. Dependencies other beads hold on a removed id are left as they
    /// are (a dependency on a bead that no longer exists holds nothing back); the caller decides
    /// what may go. The molecule compactor is its user (`docs/ledger.md`, "Removing beads").
    pub fn remove_beads(&mut self, ids: &[String], actor: &str) -> Result<(), LedgerError> {
        let now = crate::time::now_rfc3339();
        let mut batch = Batch::default();
        let mut seen = HashSet::new();
        for id in ids {
            self.load(id)?;
            if !seen.insert(id.as_str()) {
                continue;
            }
            batch.removes.push((id.clone(), true));
            batch
                .events
                .push(event(id, EventKind::Deleted, actor, &now, None, None));
        }
        if batch.removes.is_empty() {
            return Ok(());
        }
        self.apply(batch)
    }

    /// The bead, or `UnknownBead`.
    pub(super) fn load(&self, id: &str) -> Result<Bead, LedgerError> {
        id::validate_id(id).map_err(|e| LedgerError::InvalidId(e.to_string()))?;
        self.store
            .get(id)?
            .map(|(b, _)| b)
            .ok_or_else(|| LedgerError::UnknownBead(id.to_string()))
    }

    pub(super) fn require(&self, id: &str) -> Result<(), LedgerError> {
        id::validate_id(id).map_err(|e| LedgerError::InvalidId(e.to_string()))?;
        if self.exists(id)? {
            Ok(())
        } else {
            Err(LedgerError::UnknownBead(id.to_string()))
        }
    }

    pub(super) fn write_bead(
        &mut self,
        bead: Bead,
        events: Vec<Event>,
        meta: Vec<(String, u64)>,
    ) -> Result<Bead, LedgerError> {
        let out = bead.clone();
        let batch = Batch {
            puts: vec![Put {
                bead,
                journal: true,
            }],
            events,
            meta,
            ..Batch::default()
        };
        self.apply(batch)?;
        Ok(out)
    }
}

/// The record of a new bead.
pub(super) fn new_bead(id: String, new: NewBead, actor: &str, now: &str) -> Bead {
    let mut bead = Bead::new(id.clone(), new.title);
    bead.created_at = now.to_string();
    bead.updated_at = now.to_string();
    bead.created_by = actor.to_string();
    bead.description = new.description;
    bead.design = new.design;
    bead.acceptance_criteria = new.acceptance_criteria;
    bead.notes = new.notes;
    bead.issue_type = new.issue_type;
    bead.priority = new.priority;
    bead.assignee = new.assignee;
    bead.ephemeral = new.ephemeral;
    for label in new.labels {
        if !bead.labels.contains(&label) {
            bead.labels.push(label);
        }
    }
    let parent_dep = new.parent.map(|p| (DepKind::ParentChild, p));
    for (kind, target) in parent_dep.into_iter().chain(new.deps) {
        if !bead.dependencies.iter().any(|d| d.depends_on_id == target) {
            bead.dependencies
                .push(dependency(&id, &target, kind, actor, now));
        }
    }
    bead.extra = new.extra;
    bead
}

/// Every bead made or retitled here has a title with something in it (imported records are
/// taken as they are: `bd` data is not ours to refuse).
fn check_title(title: &str) -> Result<(), LedgerError> {
    if title.trim().is_empty() {
        Err(LedgerError::EmptyTitle(title.to_string()))
    } else {
        Ok(())
    }
}

fn check_priority(p: u8) -> Result<(), LedgerError> {
    if p > 4 {
        Err(LedgerError::InvalidPriority(p))
    } else {
        Ok(())
    }
}

fn dependency(issue: &str, target: &str, kind: DepKind, actor: &str, now: &str) -> Dependency {
    Dependency {
        issue_id: issue.to_string(),
        depends_on_id: target.to_string(),
        kind,
        created_at: now.to_string(),
        created_by: actor.to_string(),
        extra: Default::default(),
    }
}

/// Move to `status`, keeping `closed_at` (and the close reason) present exactly when closed.
fn set_status(
    bead: &mut Bead,
    status: Status,
    reason: Option<&str>,
    actor: &str,
    now: &str,
    events: &mut Vec<Event>,
) {
    let old = bead.status.clone();
    let id = bead.id.clone();
    events.push(event(
        &id,
        EventKind::StatusChanged,
        actor,
        now,
        Some(old.to_string()),
        Some(status.to_string()),
    ));
    if status == Status::Closed {
        bead.closed_at = Some(now.to_string());
        bead.close_reason = reason.unwrap_or_default().to_string();
        events.push(event(
            &id,
            EventKind::Closed,
            actor,
            now,
            None,
            reason.map(str::to_string),
        ));
    } else if old == Status::Closed {
        bead.closed_at = None;
        bead.close_reason.clear();
        events.push(event(&id, EventKind::Reopened, actor, now, None, None));
    }
    bead.status = status;
}
