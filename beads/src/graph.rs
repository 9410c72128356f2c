//! The in-memory readiness graph, maintained incrementally.
//!
//! Every bead is a node; its `blocks`, `conditional-blocks`, `parent-child` and `waits-for`
//! dependencies are edges (links such as `related` do not affect readiness and are not kept here).
//! A mutation touches the changed node, its edges and whatever its change propagates to (the
//! dependents of a bead that opened or closed, the descendants of a parent whose blocked state
//! flipped), never the whole graph. Sets of ready and blocked beads are kept ordered, so reading
//! them is a walk of a B-tree.
//!
//! # Definitions
//! A bead is **active** when it exists and its status is neither `closed` nor `tombstone`; an
//! active bead is what "open" means for a blocking target. A dependency on an id no bead has (a
//! dangling reference in imported data) does not hold anything back, until a bead with that id
//! appears.
//!
//! A bead is **blocked** when it is active and at least one of:
//! - one of its `blocks` / `conditional-blocks` targets is active;
//! - one of its `waits-for` targets has an active child (a bead with a `parent-child` dependency
//!   on that target);
//! - one of its parents (targets of its `parent-child` dependencies) is blocked — so blockedness
//!   flows down a tree of parents transitively.
//!
//! Any active status can be blocked: `open`, `in_progress`, `blocked`, `deferred`, `hooked`,
//! `pinned`, unknown ones. A closed parent is not blocked, so it holds none of its children back.
//!
//! A bead is **ready** when its status is exactly `open` (not `in_progress`, `blocked`,
//! `deferred`, `hooked`, `pinned`, …), it is not pinned, not ephemeral, not of a coordination type
//! (message, molecule, gate, agent, merge-request, convoy, event), not blocked, and not deferred
//! into the future (`defer_until` later than now; that part is checked when the set is read, since
//! time passes without mutations).
//!
//! The ready set is ordered by priority (0 first), then creation time, then id. The blocked set
//! uses the same order.
//!
//! Blocking edges (`blocks`, `conditional-blocks`) must never form a cycle, nor may parent-child
//! edges: [`Graph::cycle_path`] finds the cycle an edge would close so the ledger can refuse it.
//! Data read from elsewhere (an import, a git pull) is taken as it is; a blocking cycle in it just
//! leaves its members blocked.

use crate::model::{Bead, DepKind, IssueType, Status};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

/// The kinds of edge that affect readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// `blocks` or `conditional-blocks`: held back while the target is active.
    Blocks,
    /// `parent-child`: the source is a child of the target.
    Parent,
    /// `waits-for`: held back while the target has an active child.
    WaitsFor,
}

impl EdgeKind {
    /// The graph's view of a dependency kind; `None` for links that do not affect readiness.
    pub fn of(kind: &DepKind) -> Option<EdgeKind> {
        match kind {
            DepKind::Blocks | DepKind::ConditionalBlocks => Some(EdgeKind::Blocks),
            DepKind::ParentChild => Some(EdgeKind::Parent),
            DepKind::WaitsFor => Some(EdgeKind::WaitsFor),
            _ => None,
        }
    }

    fn code(self) -> u8 {
        match self {
            EdgeKind::Blocks => 0,
            EdgeKind::Parent => 1,
            EdgeKind::WaitsFor => 2,
        }
    }

    fn from_code(c: u8) -> Option<EdgeKind> {
        match c {
            0 => Some(EdgeKind::Blocks),
            1 => Some(EdgeKind::Parent),
            2 => Some(EdgeKind::WaitsFor),
            _ => None,
        }
    }
}

/// Where a bead's status puts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Status `open`.
    Open,
    /// Any other status that is not closed: in progress, blocked, deferred, hooked, …
    Active,
    /// `closed` or `tombstone`.
    Done,
}

/// What the graph needs of one bead: a compact record, also persisted in the index so that
/// opening a ledger needs no JSON parsing.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    pub id: String,
    pub state: State,
    /// Not pinned, not ephemeral, not a coordination type: may be ready work at all.
    pub eligible: bool,
    pub priority: u8,
    /// Creation time, Unix nanoseconds (0 when unparsable).
    pub created: i64,
    /// `defer_until`, Unix nanoseconds.
    pub defer_until: Option<i64>,
    /// Readiness edges: (target id, kind), no duplicates.
    pub edges: Vec<(String, EdgeKind)>,
}

impl NodeInfo {
    /// The graph's view of a bead.
    pub fn from_bead(b: &Bead) -> NodeInfo {
        let state = match b.status {
            Status::Open => State::Open,
            Status::Closed | Status::Tombstone => State::Done,
            _ => State::Active,
        };
        let mut edges: Vec<(String, EdgeKind)> = Vec::new();
        for d in &b.dependencies {
            if let Some(k) = EdgeKind::of(&d.kind) {
                let e = (d.depends_on_id.clone(), k);
                if !edges.contains(&e) {
                    edges.push(e);
                }
            }
        }
        let nanos = |s: &str| {
            crate::time::parse_rfc3339(s)
                .map(|n| n.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
        };
        NodeInfo {
            id: b.id.clone(),
            state,
            eligible: !b.pinned && !b.ephemeral && !is_coordination(&b.issue_type),
            priority: b.priority,
            created: nanos(&b.created_at).unwrap_or(0),
            defer_until: b.defer_until.as_deref().and_then(nanos),
            edges,
        }
    }

    /// Compact binary form (the index's `graph` table).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.id.len() + self.edges.len() * 16);
        let state = match self.state {
            State::Open => 0u8,
            State::Active => 1,
            State::Done => 2,
        };
        let flags =
            state | (u8::from(self.eligible) << 2) | (u8::from(self.defer_until.is_some()) << 3);
        out.push(flags);
        out.push(self.priority);
        out.extend_from_slice(&self.created.to_le_bytes());
        out.extend_from_slice(&self.defer_until.unwrap_or(0).to_le_bytes());
        put_str(&mut out, &self.id);
        out.extend_from_slice(&(self.edges.len() as u32).to_le_bytes());
        for (target, kind) in &self.edges {
            out.push(kind.code());
            put_str(&mut out, target);
        }
        out
    }

    /// Inverse of [`NodeInfo::encode`]; `None` when the bytes are damaged.
    pub fn decode(bytes: &[u8]) -> Option<NodeInfo> {
        let mut r = Reader { b: bytes, at: 0 };
        let h = Header::read(&mut r)?;
        let n = r.u32()? as usize;
        let mut edges = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let kind = EdgeKind::from_code(r.u8()?)?;
            edges.push((r.str()?, kind));
        }
        Some(NodeInfo {
            id: h.id.to_string(),
            state: h.state,
            eligible: h.eligible,
            priority: h.priority,
            created: h.created,
            defer_until: h.defer_until,
            edges,
        })
    }
}

/// The fixed part of an encoded [`NodeInfo`], borrowing the id.
struct Header<'a> {
    id: &'a str,
    state: State,
    eligible: bool,
    priority: u8,
    created: i64,
    defer_until: Option<i64>,
}

impl<'a> Header<'a> {
    fn read(r: &mut Reader<'a>) -> Option<Header<'a>> {
        let flags = r.u8()?;
        let state = match flags & 3 {
            0 => State::Open,
            1 => State::Active,
            2 => State::Done,
            _ => return None,
        };
        let priority = r.u8()?;
        let created = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
        let defer = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
        let id = r.str_ref()?;
        Some(Header {
            id,
            state,
            eligible: flags & 4 != 0,
            priority,
            created,
            defer_until: (flags & 8 != 0).then_some(defer),
        })
    }
}

fn is_coordination(t: &IssueType) -> bool {
    t.is_coordination()
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn str(&mut self) -> Option<String> {
        self.str_ref().map(str::to_string)
    }
    fn str_ref(&mut self) -> Option<&'a str> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
}

/// Order of the ready and blocked sets: priority, creation time, id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    priority: u8,
    created: i64,
    id: IdBuf,
    defer_until: Option<i64>,
}

/// A bead id stored inline when it has up to 30 bytes (all real ones do), in nodes, in the index
/// and in set keys: walking a set or probing the index then reads the id where it is instead of
/// chasing one pointer per bead, which dominated `ready_ids` and opening at 100k beads.
#[derive(Clone)]
enum IdBuf {
    Inline(u8, [u8; 30]),
    Heap(Arc<str>),
}

impl IdBuf {
    fn new(id: &str) -> IdBuf {
        let b = id.as_bytes();
        if b.len() <= 30 {
            let mut buf = [0u8; 30];
            buf[..b.len()].copy_from_slice(b);
            IdBuf::Inline(b.len() as u8, buf)
        } else {
            IdBuf::Heap(Arc::from(id))
        }
    }

    fn as_str(&self) -> &str {
        match self {
            IdBuf::Inline(n, buf) => {
                std::str::from_utf8(&buf[..*n as usize]).expect("copied whole from a str")
            }
            IdBuf::Heap(s) => s,
        }
    }
}

impl PartialEq for IdBuf {
    fn eq(&self, other: &IdBuf) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for IdBuf {}

impl PartialOrd for IdBuf {
    fn partial_cmp(&self, other: &IdBuf) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdBuf {
    fn cmp(&self, other: &IdBuf) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for IdBuf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl std::borrow::Borrow<str> for IdBuf {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for IdBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

#[derive(Debug)]
struct Node {
    id: IdBuf,
    exists: bool,
    state: State,
    eligible: bool,
    priority: u8,
    created: i64,
    defer_until: Option<i64>,
    out: Vec<(u32, EdgeKind)>,
    inc: Vec<(u32, EdgeKind)>,
    open_blockers: u32,
    blocked_parents: u32,
    waits_pending: u32,
    active_children: u32,
    blocked: bool,
    in_ready: bool,
    in_blocked: bool,
}

impl Node {
    fn placeholder(id: IdBuf) -> Node {
        Node {
            id,
            exists: false,
            state: State::Done,
            eligible: false,
            priority: 0,
            created: 0,
            defer_until: None,
            out: Vec::new(),
            inc: Vec::new(),
            open_blockers: 0,
            blocked_parents: 0,
            waits_pending: 0,
            active_children: 0,
            blocked: false,
            in_ready: false,
            in_blocked: false,
        }
    }

    fn active(&self) -> bool {
        self.exists && self.state != State::Done
    }

    fn key(&self) -> Key {
        Key {
            priority: self.priority,
            created: self.created,
            id: self.id.clone(),
            defer_until: self.defer_until,
        }
    }
}

/// A node's derived readiness state as the store persists it: the counters of [`ops`], the
/// `blocked` flag, which ordered set the node is listed in and the sort key it is listed under.
/// The write path of the store maintains it with the same rules as [`Graph::upsert`] and
/// [`Graph::remove`] (`store/nodes.rs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeState {
    pub open_blockers: u32,
    pub blocked_parents: u32,
    pub waits_pending: u32,
    pub active_children: u32,
    pub blocked: bool,
    /// Listed in the ready set (under `priority`, `created`, `defer_until`).
    pub in_ready: bool,
    /// Listed in the blocked set.
    pub in_blocked: bool,
    pub priority: u8,
    pub created: i64,
    pub defer_until: Option<i64>,
}

impl NodeState {
    /// True for the state of a node nothing points at and that is in no set (no row is kept).
    pub fn is_default(&self) -> bool {
        self.open_blockers == 0
            && self.blocked_parents == 0
            && self.waits_pending == 0
            && self.active_children == 0
            && !self.blocked
            && !self.in_ready
            && !self.in_blocked
    }

    /// This state with the sort key kept only when the node is listed in a set (a key nothing
    /// is listed under is not part of the state), so equal states compare equal.
    pub fn listed(mut self) -> NodeState {
        if !self.in_ready && !self.in_blocked {
            self.priority = 0;
            self.created = 0;
            self.defer_until = None;
        }
        self
    }

    /// Fixed-size binary form (the store's `node_state` table and its write-ahead rows).
    pub fn encode(&self) -> [u8; 35] {
        let mut out = [0u8; 35];
        out[0..4].copy_from_slice(&self.open_blockers.to_le_bytes());
        out[4..8].copy_from_slice(&self.blocked_parents.to_le_bytes());
        out[8..12].copy_from_slice(&self.waits_pending.to_le_bytes());
        out[12..16].copy_from_slice(&self.active_children.to_le_bytes());
        out[16] = u8::from(self.blocked)
            | (u8::from(self.in_ready) << 1)
            | (u8::from(self.in_blocked) << 2)
            | (u8::from(self.defer_until.is_some()) << 3);
        out[17] = self.priority;
        out[18..26].copy_from_slice(&self.created.to_le_bytes());
        out[26..34].copy_from_slice(&self.defer_until.unwrap_or(0).to_le_bytes());
        out[34] = 1; // format version
        out
    }

    /// Inverse of [`NodeState::encode`]; `None` when the bytes are damaged.
    pub fn decode(b: &[u8]) -> Option<NodeState> {
        if b.len() != 35 || b[34] != 1 {
            return None;
        }
        let u32_at = |i: usize| b[i..i + 4].try_into().ok().map(u32::from_le_bytes);
        let i64_at = |i: usize| b[i..i + 8].try_into().ok().map(i64::from_le_bytes);
        let flags = b[16];
        Some(NodeState {
            open_blockers: u32_at(0)?,
            blocked_parents: u32_at(4)?,
            waits_pending: u32_at(8)?,
            active_children: u32_at(12)?,
            blocked: flags & 1 != 0,
            in_ready: flags & 2 != 0,
            in_blocked: flags & 4 != 0,
            priority: b[17],
            created: i64_at(18)?,
            defer_until: (flags & 8 != 0).then_some(i64_at(26)?),
        })
    }
}

impl Node {
    fn derived(&self) -> NodeState {
        NodeState::listed(NodeState {
            open_blockers: self.open_blockers,
            blocked_parents: self.blocked_parents,
            waits_pending: self.waits_pending,
            active_children: self.active_children,
            blocked: self.blocked,
            in_ready: self.in_ready,
            in_blocked: self.in_blocked,
            priority: self.priority,
            created: self.created,
            defer_until: self.defer_until,
        })
    }
}

mod ops;

pub use ops::GraphBuilder;

/// FxHash (rustc's hasher) with a final mix: ids are short and local, so a fast non-keyed hash is fine here, and
/// it makes the index of a 100k-bead graph markedly cheaper to build than SipHash.
#[derive(Debug, Default, Clone, Copy)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("chunks of 8"));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits (the table position) depending on the first
        // bytes only; the SplitMix64 finalizer spreads every input bit over the whole word.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The id -> slot index: open addressing over a power-of-two table of (slot, hash tag) pairs,
/// linear probing, at most half full; a tag match is confirmed against the node's inline id.
/// Ids are never removed (a removed bead stays as a placeholder), so there are no tombstones.
/// Its 8-byte entries keep a 100k-bead index at 2 MiB, which is what opening a ledger pays for.
#[derive(Debug, Default)]
struct IdIndex {
    table: Vec<(u32, u32)>,
    len: usize,
}

const EMPTY: u32 = u32::MAX;

impl IdIndex {
    fn hash(id: &str) -> u64 {
        use std::hash::Hasher;
        let mut h = FxHasher::default();
        h.write(id.as_bytes());
        h.finish()
    }

    /// The slot of `id`, or the table position where it would go.
    fn probe(&self, id: &str, nodes: &[Node]) -> Result<u32, usize> {
        let h = Self::hash(id);
        let tag = (h >> 32) as u32;
        let mask = self.table.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let (slot, t) = self.table[i];
            if slot == EMPTY {
                return Err(i);
            }
            if t == tag && nodes[slot as usize].id.as_str() == id {
                return Ok(slot);
            }
            i = (i + 1) & mask;
        }
    }

    fn find(&self, id: &str, nodes: &[Node]) -> Option<u32> {
        if self.table.is_empty() {
            return None;
        }
        self.probe(id, nodes).ok()
    }

    /// Index `nodes[slot]`, whose id is not indexed yet.
    fn insert(&mut self, slot: u32, nodes: &[Node]) {
        if (self.len + 1) * 2 > self.table.len() {
            self.grow_to((self.len + 1) * 2, nodes);
        }
        let id = nodes[slot as usize].id.as_str();
        let i = self.probe(id, nodes).expect_err("inserted ids are new");
        self.table[i] = (slot, (Self::hash(id) >> 32) as u32);
        self.len += 1;
    }

    /// Make room for `n` ids without growing again.
    fn reserve(&mut self, n: usize, nodes: &[Node]) {
        if (self.len + n) * 2 > self.table.len() {
            self.grow_to((self.len + n) * 2, nodes);
        }
    }

    fn grow_to(&mut self, min: usize, nodes: &[Node]) {
        let cap = min.next_power_of_two().max(16);
        let old = std::mem::replace(&mut self.table, vec![(EMPTY, 0); cap]);
        for (slot, tag) in old.into_iter().filter(|e| e.0 != EMPTY) {
            let id = nodes[slot as usize].id.as_str();
            let i = self.probe(id, nodes).expect_err("ids are unique");
            self.table[i] = (slot, tag);
        }
    }
}

/// The readiness graph of a whole ledger.
#[derive(Debug, Default)]
pub struct Graph {
    index: IdIndex,
    nodes: Vec<Node>,
    ready: BTreeSet<Key>,
    blocked: BTreeSet<Key>,
    count: usize,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Number of beads (not counting ids only referenced by dependencies).
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the graph holds no bead.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True when a bead with this id exists.
    pub fn contains(&self, id: &str) -> bool {
        self.slot(id).is_some_and(|s| self.nodes[s as usize].exists)
    }

    /// True when the id is a bead or is referenced by some dependency (so a new bead must not take it).
    pub fn is_known(&self, id: &str) -> bool {
        self.slot(id).is_some()
    }

    /// Ready ids in order (priority, creation time, id), leaving out beads deferred past `now_nanos`.
    pub fn ready_ids(&self, now_nanos: i64) -> Vec<String> {
        self.ready
            .iter()
            .filter(|k| k.defer_until.is_none_or(|d| d <= now_nanos))
            .map(|k| k.id.as_str().to_string())
            .collect()
    }

    /// Blocked ids in order (priority, creation time, id).
    pub fn blocked_ids(&self) -> Vec<String> {
        self.blocked
            .iter()
            .map(|k| k.id.as_str().to_string())
            .collect()
    }

    /// True when the bead is ready (ignoring `defer_until`).
    pub fn is_ready(&self, id: &str) -> bool {
        self.slot(id)
            .is_some_and(|s| self.nodes[s as usize].in_ready)
    }

    /// True when the bead is blocked.
    pub fn is_blocked(&self, id: &str) -> bool {
        self.slot(id)
            .is_some_and(|s| self.nodes[s as usize].in_blocked)
    }

    /// What holds a bead back: active blocking targets, `waits-for` targets with active children,
    /// blocked parents (in edge order).
    pub fn blockers(&self, id: &str) -> Vec<String> {
        let Some(s) = self.slot(id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for &(t, kind) in &self.nodes[s as usize].out {
            let n = &self.nodes[t as usize];
            let holds = match kind {
                EdgeKind::Blocks => n.active(),
                EdgeKind::Parent => n.blocked,
                EdgeKind::WaitsFor => n.active_children > 0,
            };
            if holds && !out.iter().any(|o: &String| o == n.id.as_str()) {
                out.push(n.id.as_str().to_string());
            }
        }
        out
    }

    /// The derived state of every node (beads and ids only named by dependencies) whose state
    /// is not the default one ([`NodeState::is_default`]): what the store persists so that
    /// `ready` and `blocked` need no graph ([`crate::store`]'s `node_state` table).
    pub fn node_states(&self) -> impl Iterator<Item = (&str, NodeState)> + '_ {
        self.nodes
            .iter()
            .map(|n| (n.id.as_str(), n.derived()))
            .filter(|(_, st)| !st.is_default())
    }

    /// The cycle that an edge `from -> to` of this kind would close, as the path
    /// `from -> to -> … -> from`; `None` when the edge is safe. `waits-for` edges never close a
    /// cycle that matters and always return `None`.
    pub fn cycle_path(&self, from: &str, to: &str, kind: EdgeKind) -> Option<Vec<String>> {
        if kind == EdgeKind::WaitsFor {
            return None;
        }
        if from == to {
            return Some(vec![from.to_string(), to.to_string()]);
        }
        let (f, t) = (self.slot(from)?, self.slot(to)?);
        let mut prev: HashMap<u32, u32> = HashMap::new();
        let mut queue = VecDeque::from([t]);
        prev.insert(t, t);
        while let Some(n) = queue.pop_front() {
            for &(next, k) in &self.nodes[n as usize].out {
                if k != kind || prev.contains_key(&next) {
                    continue;
                }
                prev.insert(next, n);
                if next == f {
                    let mut back = vec![f];
                    let mut at = f;
                    while at != t {
                        at = prev[&at];
                        back.push(at);
                    }
                    let mut full = vec![from.to_string()];
                    full.extend(
                        back.iter()
                            .rev()
                            .map(|&s| self.nodes[s as usize].id.as_str().to_string()),
                    );
                    return Some(full);
                }
                queue.push_back(next);
            }
        }
        None
    }

    /// The targets of `id`'s edges of one kind (none for an unknown id).
    pub fn edges_of(&self, id: &str, kind: EdgeKind) -> Vec<String> {
        let Some(s) = self.slot(id) else {
            return Vec::new();
        };
        self.nodes[s as usize]
            .out
            .iter()
            .filter(|(_, k)| *k == kind)
            .map(|&(t, _)| self.nodes[t as usize].id.as_str().to_string())
            .collect()
    }

    fn slot(&self, id: &str) -> Option<u32> {
        self.index.find(id, &self.nodes)
    }
}

#[cfg(test)]
mod tests;
