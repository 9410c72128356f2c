//! Mutations of the [`Graph`]: inserting, replacing and removing beads with incremental
//! propagation, and the bulk build used when a ledger opens.
//!
//! Each edge contributes to counters of its endpoints:
//! - `Blocks` adds 1 to the source's `open_blockers` while the target is active;
//! - `Parent` adds 1 to the source's `blocked_parents` while the target is blocked, and 1 to the
//!   target's `active_children` while the source is active;
//! - `WaitsFor` adds 1 to the source's `waits_pending` while the target has active children.
//!
//! A change of a node's state adjusts the counters its edges feed; the nodes whose counters changed
//! are recomputed, and a flip of `blocked` goes on to the node's children (a worklist, not a
//! recursion).

use super::{EdgeKind, Graph, Header, IdBuf, Node, NodeInfo, Reader, State};
use std::collections::BTreeSet;

/// Builds a [`Graph`] from whole records (opening a ledger), without per-record propagation:
/// counters and sets are computed once at [`GraphBuilder::finish`].
#[derive(Debug)]
pub struct GraphBuilder {
    g: Graph,
}

impl GraphBuilder {
    /// A builder expecting about `n` beads.
    pub fn with_capacity(n: usize) -> GraphBuilder {
        let mut g = Graph::new();
        g.nodes.reserve(n);
        g.index.reserve(n, &g.nodes);
        GraphBuilder { g }
    }

    /// Add one record in [`NodeInfo::encode`]'s form, decoding it in place (no intermediate
    /// strings); `false` when the bytes are damaged.
    pub fn add_encoded(&mut self, bytes: &[u8]) -> bool {
        self.try_add_encoded(bytes).is_some()
    }

    fn try_add_encoded(&mut self, bytes: &[u8]) -> Option<()> {
        let mut r = Reader { b: bytes, at: 0 };
        let h = Header::read(&mut r)?;
        let s = self.node(h.id, |n| {
            n.state = h.state;
            n.eligible = h.eligible;
            n.priority = h.priority;
            n.created = h.created;
            n.defer_until = h.defer_until;
        });
        for _ in 0..r.u32()? {
            let kind = EdgeKind::from_code(r.u8()?)?;
            let target = r.str_ref()?;
            self.edge(s, target, kind);
        }
        Some(())
    }

    fn node(&mut self, id: &str, set: impl FnOnce(&mut Node)) -> u32 {
        let s = self.g.slot_or_placeholder(id);
        let n = &mut self.g.nodes[s as usize];
        if !n.exists {
            self.g.count += 1;
        }
        n.exists = true;
        set(n);
        s
    }

    fn edge(&mut self, s: u32, target: &str, kind: EdgeKind) {
        let t = self.g.slot_or_placeholder(target);
        let out = &mut self.g.nodes[s as usize].out;
        if !out.contains(&(t, kind)) {
            out.push((t, kind));
            self.g.nodes[t as usize].inc.push((s, kind));
        }
    }

    /// Compute counters and the ordered sets.
    pub fn finish(mut self) -> Graph {
        self.g.count_all();
        self.g
    }
}

impl Graph {
    /// Build a graph from whole records at once: O(beads + edges).
    pub fn build(infos: Vec<NodeInfo>) -> Graph {
        let mut b = GraphBuilder::with_capacity(infos.len());
        for info in &infos {
            let s = b.node(&info.id, |n| set_attrs(n, info));
            for (target, kind) in &info.edges {
                b.edge(s, target, *kind);
            }
        }
        b.finish()
    }

    fn count_all(&mut self) {
        let n = self.nodes.len();
        for s in 0..n {
            let source_active = self.nodes[s].active();
            for i in 0..self.nodes[s].out.len() {
                let (t, kind) = self.nodes[s].out[i];
                match kind {
                    EdgeKind::Blocks if self.nodes[t as usize].active() => {
                        self.nodes[s].open_blockers += 1
                    }
                    EdgeKind::Parent if source_active => {
                        self.nodes[t as usize].active_children += 1
                    }
                    _ => {}
                }
            }
        }
        for s in 0..n {
            let out = std::mem::take(&mut self.nodes[s].out);
            let pending = out
                .iter()
                .filter(|&&(t, k)| {
                    k == EdgeKind::WaitsFor && self.nodes[t as usize].active_children > 0
                })
                .count() as u32;
            self.nodes[s].out = out;
            self.nodes[s].waits_pending = pending;
        }
        let mut work: Vec<u32> = Vec::new();
        for (s, node) in self.nodes.iter_mut().enumerate() {
            if node.active() && (node.open_blockers > 0 || node.waits_pending > 0) {
                node.blocked = true;
                work.push(s as u32);
            }
        }
        while let Some(s) = work.pop() {
            for i in 0..self.nodes[s as usize].inc.len() {
                let (c, kind) = self.nodes[s as usize].inc[i];
                if kind != EdgeKind::Parent {
                    continue;
                }
                let child = &mut self.nodes[c as usize];
                child.blocked_parents += 1;
                if child.active() && !child.blocked {
                    child.blocked = true;
                    work.push(c);
                }
            }
        }
        let mut ready: Vec<u32> = Vec::new();
        let mut blocked: Vec<u32> = Vec::new();
        for (s, node) in self.nodes.iter_mut().enumerate() {
            if node.blocked {
                node.in_blocked = true;
                blocked.push(s as u32);
            } else if node.exists && node.state == State::Open && node.eligible {
                node.in_ready = true;
                ready.push(s as u32);
            }
        }
        self.ready = self.ordered_set(ready);
        self.blocked = self.ordered_set(blocked);
    }

    /// The set of these nodes' keys. Sorting compact (priority, created, slot) triples — the id
    /// is looked at only on ties — and handing the B-tree an already sorted run is much cheaper
    /// than letting it sort the 64-byte keys itself.
    fn ordered_set(&self, slots: Vec<u32>) -> BTreeSet<super::Key> {
        let nodes = &self.nodes;
        let mut order: Vec<(u8, i64, u32)> = slots
            .into_iter()
            .map(|s| (nodes[s as usize].priority, nodes[s as usize].created, s))
            .collect();
        order.sort_unstable_by(|a, b| {
            (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| {
                let (x, y) = (&nodes[a.2 as usize], &nodes[b.2 as usize]);
                (x.id.as_str(), x.defer_until).cmp(&(y.id.as_str(), y.defer_until))
            })
        });
        order
            .into_iter()
            .map(|(_, _, s)| nodes[s as usize].key())
            .collect()
    }

    /// Insert or replace a bead.
    pub fn upsert(&mut self, info: &NodeInfo) {
        let s = self.slot_or_placeholder(&info.id);
        self.unlist(s);
        let mut dirty = vec![s];
        let mut wanted: Vec<(u32, EdgeKind)> = Vec::with_capacity(info.edges.len());
        for (target, kind) in &info.edges {
            let t = self.slot_or_placeholder(target);
            if !wanted.contains(&(t, *kind)) {
                wanted.push((t, *kind));
            }
        }
        let old = self.nodes[s as usize].out.clone();
        for e in old.iter().filter(|e| !wanted.contains(e)) {
            self.remove_edge(s, *e, &mut dirty);
        }
        let was_active = self.nodes[s as usize].active();
        let node = &mut self.nodes[s as usize];
        if !node.exists {
            self.count += 1;
        }
        set_attrs(node, info);
        self.active_changed(s, was_active, &mut dirty);
        for e in wanted.iter().filter(|e| !old.contains(e)) {
            self.add_edge(s, *e, &mut dirty);
        }
        self.settle(dirty);
    }

    /// Remove a bead (burnt wisp, deleted in git). Dependencies on its id stay, dangling.
    pub fn remove(&mut self, id: &str) {
        let Some(s) = self.slot(id) else { return };
        if !self.nodes[s as usize].exists {
            return;
        }
        self.unlist(s);
        let mut dirty = vec![s];
        for e in self.nodes[s as usize].out.clone() {
            self.remove_edge(s, e, &mut dirty);
        }
        let was_active = self.nodes[s as usize].active();
        self.nodes[s as usize].exists = false;
        self.count -= 1;
        self.active_changed(s, was_active, &mut dirty);
        self.settle(dirty);
    }

    fn slot_or_placeholder(&mut self, id: &str) -> u32 {
        if let Some(s) = self.slot(id) {
            return s;
        }
        let s = u32::try_from(self.nodes.len()).expect("fewer than 4 billion beads");
        self.nodes.push(Node::placeholder(IdBuf::new(id)));
        self.index.insert(s, &self.nodes);
        s
    }

    /// Take the node out of the ordered sets (before its sort key changes).
    fn unlist(&mut self, s: u32) {
        let node = &mut self.nodes[s as usize];
        let key = node.key();
        if node.in_ready {
            node.in_ready = false;
            self.ready.remove(&key);
        }
        if node.in_blocked {
            node.in_blocked = false;
            self.blocked.remove(&key);
        }
    }

    fn active_changed(&mut self, s: u32, was: bool, dirty: &mut Vec<u32>) {
        let now = self.nodes[s as usize].active();
        if now == was {
            return;
        }
        for i in 0..self.nodes[s as usize].inc.len() {
            let (src, kind) = self.nodes[s as usize].inc[i];
            if kind == EdgeKind::Blocks {
                bump(&mut self.nodes[src as usize].open_blockers, now);
                dirty.push(src);
            }
        }
        for i in 0..self.nodes[s as usize].out.len() {
            let (t, kind) = self.nodes[s as usize].out[i];
            if kind == EdgeKind::Parent {
                self.children_changed(t, now, dirty);
            }
        }
    }

    fn children_changed(&mut self, parent: u32, up: bool, dirty: &mut Vec<u32>) {
        let p = &mut self.nodes[parent as usize];
        let before = p.active_children > 0;
        bump(&mut p.active_children, up);
        if before == (p.active_children > 0) {
            return;
        }
        for i in 0..self.nodes[parent as usize].inc.len() {
            let (w, kind) = self.nodes[parent as usize].inc[i];
            if kind == EdgeKind::WaitsFor {
                bump(&mut self.nodes[w as usize].waits_pending, up);
                dirty.push(w);
            }
        }
    }

    fn add_edge(&mut self, s: u32, (t, kind): (u32, EdgeKind), dirty: &mut Vec<u32>) {
        self.nodes[s as usize].out.push((t, kind));
        self.nodes[t as usize].inc.push((s, kind));
        self.edge_effect(s, t, kind, true, dirty);
    }

    fn remove_edge(&mut self, s: u32, (t, kind): (u32, EdgeKind), dirty: &mut Vec<u32>) {
        self.nodes[s as usize].out.retain(|e| *e != (t, kind));
        self.nodes[t as usize].inc.retain(|e| *e != (s, kind));
        self.edge_effect(s, t, kind, false, dirty);
    }

    fn edge_effect(&mut self, s: u32, t: u32, kind: EdgeKind, up: bool, dirty: &mut Vec<u32>) {
        match kind {
            EdgeKind::Blocks => {
                if self.nodes[t as usize].active() {
                    bump(&mut self.nodes[s as usize].open_blockers, up);
                }
            }
            EdgeKind::Parent => {
                if self.nodes[t as usize].blocked {
                    bump(&mut self.nodes[s as usize].blocked_parents, up);
                }
                if self.nodes[s as usize].active() {
                    self.children_changed(t, up, dirty);
                }
            }
            EdgeKind::WaitsFor => {
                if self.nodes[t as usize].active_children > 0 {
                    bump(&mut self.nodes[s as usize].waits_pending, up);
                }
            }
        }
        dirty.push(s);
    }

    /// Recompute the dirty nodes; a flip of `blocked` goes on to the children.
    fn settle(&mut self, mut dirty: Vec<u32>) {
        while let Some(s) = dirty.pop() {
            let node = &self.nodes[s as usize];
            let blocked = node.active()
                && (node.open_blockers > 0 || node.waits_pending > 0 || node.blocked_parents > 0);
            if blocked != node.blocked {
                self.nodes[s as usize].blocked = blocked;
                for i in 0..self.nodes[s as usize].inc.len() {
                    let (c, kind) = self.nodes[s as usize].inc[i];
                    if kind == EdgeKind::Parent {
                        bump(&mut self.nodes[c as usize].blocked_parents, blocked);
                        dirty.push(c);
                    }
                }
            }
            self.relist(s);
        }
    }

    /// Put the node in the sets its current state asks for.
    fn relist(&mut self, s: u32) {
        let node = &mut self.nodes[s as usize];
        let ready = node.exists && !node.blocked && node.state == State::Open && node.eligible;
        if ready != node.in_ready {
            node.in_ready = ready;
            if ready {
                self.ready.insert(node.key());
            } else {
                self.ready.remove(&node.key());
            }
        }
        if node.blocked != node.in_blocked {
            node.in_blocked = node.blocked;
            if node.blocked {
                self.blocked.insert(node.key());
            } else {
                self.blocked.remove(&node.key());
            }
        }
    }
}

fn set_attrs(node: &mut Node, info: &NodeInfo) {
    node.exists = true;
    node.state = info.state;
    node.eligible = info.eligible;
    node.priority = info.priority;
    node.created = info.created;
    node.defer_until = info.defer_until;
}

fn bump(counter: &mut u32, up: bool) {
    if up {
        *counter += 1;
    } else {
        *counter = counter
            .checked_sub(1)
            .expect("graph counters are decremented only for edges that incremented them");
    }
}
