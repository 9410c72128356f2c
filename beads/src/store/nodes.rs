//! The persisted readiness state of the redb store: each node's derived state and the ready and
//! blocked sets, so a cold `ready` or `blocked` costs its output instead of a graph build.
//!
//! Tables:
//! - `node_state`: id -> [`NodeState`] (the counters of `graph/ops.rs`, `blocked`, which set the
//!   node is listed in and under which key), only for nodes whose state is not the default one
//!   (most beads are closed and nothing points at them: they have no row). Ids only named by a
//!   dependency have a row too when a counter of theirs is not zero (a dangling parent with
//!   active children holds back whatever waits for it);
//! - `ready_set`: (priority, created, id) -> `defer_until`, the ready set in the graph's order;
//! - `blocked_set`: (priority, created, id) -> (), the blocked set;
//! - `node_log`: (sequence, n) -> (id, state): the states changed since the last fold, appended
//!   by every write (so writes stay appends, like `wal`) and kept in an in-memory overlay
//!   (id -> newest state) that reads merge over the folded tables; [`super::Store::fold`] moves
//!   them into the three tables above.
//!
//! The write path ([`Delta`]) runs the propagation of [`crate::graph::Graph::upsert`] and
//! [`crate::graph::Graph::remove`] against these tables instead of in-memory vectors: it loads
//! the changed bead, its edges' endpoints and whatever a change reaches (the sources of a bead's
//! in-edges, from `refs` and the unfolded records), never the whole ledger.
//!
//! The meta key `nodes_seq` is the change sequence the tables reflect. A ledger whose `seq`
//! differs (written before these tables existed, by an older gastown, or by a bulk write that
//! does not maintain them, see [`super::Store::write`]) gets them rebuilt at open from one
//! in-memory graph build; until then the ledger answers from its graph.

use crate::error::LedgerError;
use crate::graph::{EdgeKind, Graph, NodeInfo, NodeState, State};
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use std::collections::HashMap;
use std::path::Path;

pub(super) const NODE_STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("node_state");
pub(super) const READY_SET: TableDefinition<(u8, i64, &str), Option<i64>> =
    TableDefinition::new("ready_set");
pub(super) const BLOCKED_SET: TableDefinition<(u8, i64, &str), ()> =
    TableDefinition::new("blocked_set");
pub(super) const NODE_LOG: TableDefinition<(u64, u32), (&str, &[u8])> =
    TableDefinition::new("node_log");

/// Meta key: the change sequence the node tables reflect.
pub(super) const NODES_SEQ: &str = "nodes_seq";

/// A write touching more beads than this does not maintain the node tables (an import, a
/// re-index of a whole git history): it leaves `nodes_seq` behind, and the next open rebuilds
/// them from one graph build, which is cheaper than propagating bead by bead.
pub(super) const DELTA_MAX: usize = 10_000;

/// What the write path reads of the ledger as it was before the batch (folded tables with the
/// unfolded changes merged over them).
pub(super) trait Base {
    /// The graph record of a bead or wisp; `None` when no bead has the id.
    fn record(&self, id: &str) -> Result<Option<NodeInfo>, LedgerError>;
    /// The node's derived state (the default one when it has no row).
    fn state(&self, id: &str) -> Result<NodeState, LedgerError>;
    /// The ids whose records have a readiness edge naming `id`.
    fn sources(&self, id: &str) -> Result<Vec<String>, LedgerError>;
}

/// One node as the write path sees it: its record's attributes and out-edges, its state, and
/// its in-edges once something needed them.
#[derive(Debug)]
struct DNode {
    exists: bool,
    state: State,
    eligible: bool,
    priority: u8,
    created: i64,
    defer_until: Option<i64>,
    out: Vec<(String, EdgeKind)>,
    inc: Option<Vec<(String, EdgeKind)>>,
    st: NodeState,
    /// The state it had before the batch.
    before: NodeState,
}

impl DNode {
    fn active(&self) -> bool {
        self.exists && self.state != State::Done
    }
}

/// The propagation of one batch against the persisted state: [`Delta::upsert`] and
/// [`Delta::remove`] follow `graph/ops.rs` rule for rule; [`Delta::changes`] is the states that
/// changed.
pub(super) struct Delta<'b, B: Base> {
    base: &'b B,
    nodes: HashMap<String, DNode>,
    /// Ids in the order they were first loaded (the changes come out in that order).
    order: Vec<String>,
    /// Edges added by this batch to targets whose in-edges are not loaded yet: target -> sources.
    added_to: HashMap<String, Vec<String>>,
    /// A counter would have gone below zero: the persisted state does not match the records.
    pub(super) inconsistent: bool,
}

impl<'b, B: Base> Delta<'b, B> {
    pub(super) fn new(base: &'b B) -> Self {
        Delta {
            base,
            nodes: HashMap::new(),
            order: Vec::new(),
            added_to: HashMap::new(),
            inconsistent: false,
        }
    }

    fn load(&mut self, id: &str) -> Result<(), LedgerError> {
        if self.nodes.contains_key(id) {
            return Ok(());
        }
        let st = self.base.state(id)?;
        let node = match self.base.record(id)? {
            Some(info) => DNode {
                exists: true,
                state: info.state,
                eligible: info.eligible,
                priority: info.priority,
                created: info.created,
                defer_until: info.defer_until,
                out: info.edges,
                inc: None,
                st,
                before: st,
            },
            None => DNode {
                exists: false,
                state: State::Done,
                eligible: false,
                priority: 0,
                created: 0,
                defer_until: None,
                out: Vec::new(),
                inc: None,
                st,
                before: st,
            },
        };
        self.nodes.insert(id.to_string(), node);
        self.order.push(id.to_string());
        Ok(())
    }

    fn node(&mut self, id: &str) -> Result<&mut DNode, LedgerError> {
        self.load(id)?;
        Ok(self.nodes.get_mut(id).expect("loaded just now"))
    }

    /// The in-edges of `id` (source, kind), loaded on first use from the sources' current records.
    fn inc(&mut self, id: &str) -> Result<Vec<(String, EdgeKind)>, LedgerError> {
        self.load(id)?;
        if let Some(inc) = &self.nodes[id].inc {
            return Ok(inc.clone());
        }
        let mut sources = self.base.sources(id)?;
        for s in self.added_to.remove(id).unwrap_or_default() {
            if !sources.contains(&s) {
                sources.push(s);
            }
        }
        let mut inc = Vec::new();
        for s in sources {
            // A source this batch changed has its new edges here; any other its stored ones.
            let edges: Vec<EdgeKind> = match self.nodes.get(&s) {
                Some(n) => n
                    .out
                    .iter()
                    .filter(|(t, _)| t == id)
                    .map(|(_, k)| *k)
                    .collect(),
                None => self
                    .base
                    .record(&s)?
                    .map(|info| {
                        info.edges
                            .into_iter()
                            .filter(|(t, _)| t == id)
                            .map(|(_, k)| k)
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            for k in edges {
                inc.push((s.clone(), k));
            }
        }
        self.nodes.get_mut(id).expect("loaded above").inc = Some(inc.clone());
        Ok(inc)
    }

    fn bump(&mut self, id: &str, field: fn(&mut NodeState) -> &mut u32, up: bool) {
        let n = self.nodes.get_mut(id).expect("bumped nodes are loaded");
        let c = field(&mut n.st);
        if up {
            *c += 1;
        } else if let Some(v) = c.checked_sub(1) {
            *c = v;
        } else {
            self.inconsistent = true;
        }
    }

    /// Insert or replace a bead ([`crate::graph::Graph::upsert`]).
    pub(super) fn upsert(&mut self, info: &NodeInfo) -> Result<(), LedgerError> {
        let s = info.id.as_str();
        self.load(s)?;
        let mut dirty = vec![s.to_string()];
        let mut wanted: Vec<(String, EdgeKind)> = Vec::with_capacity(info.edges.len());
        for e in &info.edges {
            if !wanted.contains(e) {
                wanted.push(e.clone());
            }
        }
        let old = self.nodes[s].out.clone();
        for e in old.iter().filter(|e| !wanted.contains(e)) {
            self.remove_edge(s, e, &mut dirty)?;
        }
        let was_active = self.nodes[s].active();
        let n = self.node(s)?;
        n.exists = true;
        n.state = info.state;
        n.eligible = info.eligible;
        n.priority = info.priority;
        n.created = info.created;
        n.defer_until = info.defer_until;
        self.active_changed(s, was_active, &mut dirty)?;
        for e in wanted.iter().filter(|e| !old.contains(e)) {
            self.add_edge(s, e, &mut dirty)?;
        }
        self.settle(dirty)
    }

    /// Remove a bead ([`crate::graph::Graph::remove`]); dependencies on its id stay.
    pub(super) fn remove(&mut self, id: &str) -> Result<(), LedgerError> {
        if !self.node(id)?.exists {
            return Ok(());
        }
        let mut dirty = vec![id.to_string()];
        for e in self.nodes[id].out.clone() {
            self.remove_edge(id, &e, &mut dirty)?;
        }
        let was_active = self.nodes[id].active();
        self.node(id)?.exists = false;
        self.active_changed(id, was_active, &mut dirty)?;
        self.settle(dirty)
    }

    fn active_changed(
        &mut self,
        s: &str,
        was: bool,
        dirty: &mut Vec<String>,
    ) -> Result<(), LedgerError> {
        let now = self.nodes[s].active();
        if now == was {
            return Ok(());
        }
        for (src, kind) in self.inc(s)? {
            if kind == EdgeKind::Blocks {
                self.load(&src)?;
                self.bump(&src, |st| &mut st.open_blockers, now);
                dirty.push(src);
            }
        }
        for (t, kind) in self.nodes[s].out.clone() {
            if kind == EdgeKind::Parent {
                self.children_changed(&t, now, dirty)?;
            }
        }
        Ok(())
    }

    fn children_changed(
        &mut self,
        parent: &str,
        up: bool,
        dirty: &mut Vec<String>,
    ) -> Result<(), LedgerError> {
        let before = self.node(parent)?.st.active_children > 0;
        self.bump(parent, |st| &mut st.active_children, up);
        if before == (self.nodes[parent].st.active_children > 0) {
            return Ok(());
        }
        for (w, kind) in self.inc(parent)? {
            if kind == EdgeKind::WaitsFor {
                self.load(&w)?;
                self.bump(&w, |st| &mut st.waits_pending, up);
                dirty.push(w);
            }
        }
        Ok(())
    }

    fn add_edge(
        &mut self,
        s: &str,
        (t, kind): &(String, EdgeKind),
        dirty: &mut Vec<String>,
    ) -> Result<(), LedgerError> {
        self.node(s)?.out.push((t.clone(), *kind));
        match self.node(t)?.inc.as_mut() {
            Some(inc) => inc.push((s.to_string(), *kind)),
            None => self
                .added_to
                .entry(t.clone())
                .or_default()
                .push(s.to_string()),
        }
        self.edge_effect(s, t, *kind, true, dirty)
    }

    fn remove_edge(
        &mut self,
        s: &str,
        (t, kind): &(String, EdgeKind),
        dirty: &mut Vec<String>,
    ) -> Result<(), LedgerError> {
        self.node(s)?.out.retain(|(to, k)| !(to == t && k == kind));
        // In-edges not loaded yet are read from the sources' current edges when they are.
        if let Some(inc) = self.node(t)?.inc.as_mut() {
            inc.retain(|(from, k)| !(from == s && k == kind));
        }
        self.edge_effect(s, t, *kind, false, dirty)
    }

    fn edge_effect(
        &mut self,
        s: &str,
        t: &str,
        kind: EdgeKind,
        up: bool,
        dirty: &mut Vec<String>,
    ) -> Result<(), LedgerError> {
        self.load(t)?;
        match kind {
            EdgeKind::Blocks => {
                if self.nodes[t].active() {
                    self.bump(s, |st| &mut st.open_blockers, up);
                }
            }
            EdgeKind::Parent => {
                if self.nodes[t].st.blocked {
                    self.bump(s, |st| &mut st.blocked_parents, up);
                }
                if self.nodes[s].active() {
                    self.children_changed(t, up, dirty)?;
                }
            }
            EdgeKind::WaitsFor => {
                if self.nodes[t].st.active_children > 0 {
                    self.bump(s, |st| &mut st.waits_pending, up);
                }
            }
        }
        dirty.push(s.to_string());
        Ok(())
    }

    /// Recompute the dirty nodes; a flip of `blocked` goes on to the children.
    fn settle(&mut self, mut dirty: Vec<String>) -> Result<(), LedgerError> {
        while let Some(s) = dirty.pop() {
            let n = self.node(&s)?;
            let blocked = n.active()
                && (n.st.open_blockers > 0 || n.st.waits_pending > 0 || n.st.blocked_parents > 0);
            if blocked != n.st.blocked {
                n.st.blocked = blocked;
                for (c, kind) in self.inc(&s)? {
                    if kind == EdgeKind::Parent {
                        self.load(&c)?;
                        self.bump(&c, |st| &mut st.blocked_parents, blocked);
                        dirty.push(c);
                    }
                }
            }
            let n = self.node(&s)?;
            n.st.in_ready = n.exists && !n.st.blocked && n.state == State::Open && n.eligible;
            n.st.in_blocked = n.st.blocked;
            n.st.priority = n.priority;
            n.st.created = n.created;
            n.st.defer_until = n.defer_until;
        }
        Ok(())
    }

    /// The nodes whose state changed, with their new state, in the order they were reached.
    pub(super) fn changes(self) -> Vec<(String, NodeState)> {
        let mut nodes = self.nodes;
        self.order
            .into_iter()
            .filter_map(|id| {
                let n = nodes.remove(&id)?;
                let st = n.st.listed();
                (st != n.before.listed()).then_some((id, st))
            })
            .collect()
    }
}

/// Bring the folded tables to `new` for `id` (in the fold's transaction): the old row's set
/// entries go, the new ones come; a default state keeps no row.
pub(super) fn fold_one(
    tx: &WriteTransaction,
    path: &Path,
    id: &str,
    new: &NodeState,
) -> Result<(), LedgerError> {
    let err = |e: &dyn std::fmt::Display| super::index_err(path, e);
    let mut states = tx.open_table(NODE_STATE).map_err(|e| err(&e))?;
    let mut ready = tx.open_table(READY_SET).map_err(|e| err(&e))?;
    let mut blocked = tx.open_table(BLOCKED_SET).map_err(|e| err(&e))?;
    let old = states
        .get(id)
        .map_err(|e| err(&e))?
        .and_then(|v| NodeState::decode(v.value()));
    if let Some(old) = old {
        if old.in_ready {
            ready
                .remove((old.priority, old.created, id))
                .map_err(|e| err(&e))?;
        }
        if old.in_blocked {
            blocked
                .remove((old.priority, old.created, id))
                .map_err(|e| err(&e))?;
        }
    }
    list(&mut ready, &mut blocked, id, new).map_err(|e| err(&e))?;
    if new.is_default() {
        states.remove(id).map_err(|e| err(&e))?;
    } else {
        states
            .insert(id, new.encode().as_slice())
            .map_err(|e| err(&e))?;
    }
    Ok(())
}

fn list(
    ready: &mut redb::Table<'_, (u8, i64, &'static str), Option<i64>>,
    blocked: &mut redb::Table<'_, (u8, i64, &'static str), ()>,
    id: &str,
    st: &NodeState,
) -> Result<(), redb::Error> {
    if st.in_ready {
        ready.insert((st.priority, st.created, id), st.defer_until)?;
    }
    if st.in_blocked {
        blocked.insert((st.priority, st.created, id), ())?;
    }
    Ok(())
}

/// Throw the node tables away and fill them from `graph` (the whole ledger's, unfolded changes
/// included; the node log is emptied). Returns how many rows `node_state` got.
pub(super) fn rebuild(
    tx: &WriteTransaction,
    path: &Path,
    graph: &Graph,
) -> Result<usize, LedgerError> {
    let err = |e: &dyn std::fmt::Display| super::index_err(path, e);
    tx.delete_table(NODE_STATE).map_err(|e| err(&e))?;
    tx.delete_table(READY_SET).map_err(|e| err(&e))?;
    tx.delete_table(BLOCKED_SET).map_err(|e| err(&e))?;
    tx.delete_table(NODE_LOG).map_err(|e| err(&e))?;
    tx.open_table(NODE_LOG).map_err(|e| err(&e))?;
    let mut states = tx.open_table(NODE_STATE).map_err(|e| err(&e))?;
    let mut ready = tx.open_table(READY_SET).map_err(|e| err(&e))?;
    let mut blocked = tx.open_table(BLOCKED_SET).map_err(|e| err(&e))?;
    let mut count = 0;
    for (id, st) in graph.node_states() {
        states
            .insert(id, st.encode().as_slice())
            .map_err(|e| err(&e))?;
        list(&mut ready, &mut blocked, id, &st).map_err(|e| err(&e))?;
        count += 1;
    }
    Ok(count)
}

/// The ids of one folded set in order, with `defer_until` (none for the blocked set), leaving
/// out the ids `skip` says changed since the fold.
fn walk_set<V: redb::Value + 'static>(
    t: &impl ReadableTable<(u8, i64, &'static str), V>,
    skip: impl Fn(&str) -> bool,
    path: &Path,
    defer_until: impl Fn(redb::AccessGuard<'_, V>) -> Option<i64>,
) -> Result<Vec<SetEntry>, LedgerError> {
    let err = |e: &dyn std::fmt::Display| super::index_err(path, e);
    let mut out = Vec::new();
    for row in t.iter().map_err(|e| err(&e))? {
        let (k, v) = row.map_err(|e| err(&e))?;
        let (priority, created, id) = k.value();
        if !skip(id) {
            out.push(SetEntry {
                priority,
                created,
                id: id.to_string(),
                defer_until: defer_until(v),
            });
        }
    }
    Ok(out)
}

/// [`walk_set`] for the ready set.
pub(super) fn walk_ready(
    t: &impl ReadableTable<(u8, i64, &'static str), Option<i64>>,
    skip: impl Fn(&str) -> bool,
    path: &Path,
) -> Result<Vec<SetEntry>, LedgerError> {
    walk_set(t, skip, path, |v| v.value())
}

/// [`walk_set`] for the blocked set.
pub(super) fn walk_blocked(
    t: &impl ReadableTable<(u8, i64, &'static str), ()>,
    skip: impl Fn(&str) -> bool,
    path: &Path,
) -> Result<Vec<SetEntry>, LedgerError> {
    walk_set(t, skip, path, |_| None)
}

/// One member of a persisted set, in the set's order (priority, creation time, id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct SetEntry {
    pub(super) priority: u8,
    pub(super) created: i64,
    pub(super) id: String,
    pub(super) defer_until: Option<i64>,
}

/// Merge the overlay's members of a set into the folded walk (both end up in set order).
pub(super) fn merge_overlay(
    mut folded: Vec<SetEntry>,
    overlay: &HashMap<String, NodeState>,
    member: impl Fn(&NodeState) -> bool,
) -> Vec<SetEntry> {
    let mut extra: Vec<SetEntry> = overlay
        .iter()
        .filter(|(_, st)| member(st))
        .map(|(id, st)| SetEntry {
            priority: st.priority,
            created: st.created,
            id: id.clone(),
            defer_until: st.defer_until,
        })
        .collect();
    if extra.is_empty() {
        return folded;
    }
    extra.sort_unstable();
    folded.extend(extra);
    // Two sorted runs: the sort merges them in linear time.
    folded.sort();
    folded
}

#[cfg(test)]
mod tests;
