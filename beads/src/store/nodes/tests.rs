//! Tests of the persisted readiness state: random operations (create, dependencies of every
//! kind added and removed, close, reopen, status and priority changes, defer, removal) written
//! through the store, whose persisted states, sets and blockers are compared with a graph built
//! from the same records after every operation, after folds, group commits, a reopen and a
//! rebuild.

use super::super::{Batch, Put, Store};
use super::{NODE_STATE, NODES_SEQ};
use crate::graph::{Graph, NodeState};
use crate::model::{Bead, DepKind, Dependency, IssueType, Status};
use redb::{ReadableDatabase, ReadableTable};
use std::collections::BTreeMap;

/// A small deterministic generator (xorshift64*), so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Every persisted node state (folded rows with the overlay over them), default ones left out.
fn persisted(store: &Store) -> BTreeMap<String, NodeState> {
    let mut out = BTreeMap::new();
    let rtx = store.db.begin_read().expect("read");
    let t = rtx.open_table(NODE_STATE).expect("node_state");
    for row in t.iter().expect("iter") {
        let (k, v) = row.expect("row");
        out.insert(
            k.value().to_string(),
            NodeState::decode(v.value()).expect("decodes"),
        );
    }
    for (id, st) in &store.node_overlay {
        out.insert(id.clone(), *st);
    }
    out.retain(|_, st| !st.is_default());
    out
}

/// What the random runs reached, so the test knows it exercised every rule.
#[derive(Debug, Default)]
struct Seen {
    blocked_by_parent: bool,
    waiting: bool,
    deferred_out: bool,
    blocked: bool,
}

/// The store's persisted answers agree with a graph built from its records: every node's
/// state, the ready set at two instants (defer filtering), the blocked set and each blocked
/// bead's blockers.
fn check(store: &Store, what: &str) {
    check_seen(store, what, &mut Seen::default());
}

fn check_seen(store: &Store, what: &str, seen: &mut Seen) {
    assert!(store.nodes_current(), "{what}: node tables current");
    let graph: Graph = store.graph().expect("graph");
    let expected: BTreeMap<String, NodeState> = graph
        .node_states()
        .map(|(id, st)| (id.to_string(), st))
        .collect();
    assert_eq!(persisted(store), expected, "{what}: node states");
    for st in expected.values() {
        seen.blocked_by_parent |= st.blocked && st.blocked_parents > 0;
        seen.waiting |= st.blocked && st.waits_pending > 0;
        seen.blocked |= st.in_blocked;
    }
    seen.deferred_out |= graph.ready_ids(0).len() < graph.ready_ids(i64::MAX).len();
    for now in [0, i64::MAX] {
        assert_eq!(
            store.ready_ids(now).expect("ready").expect("current"),
            graph.ready_ids(now),
            "{what}: ready at {now}"
        );
    }
    let blocked = store.blocked_ids().expect("blocked").expect("current");
    assert_eq!(blocked, graph.blocked_ids(), "{what}: blocked");
    let blockers = store
        .blockers_many(&blocked)
        .expect("blockers")
        .expect("current");
    for (id, by) in blocked.iter().zip(blockers) {
        assert_eq!(by, graph.blockers(id), "{what}: blockers of {id}");
    }
}

const KINDS: [DepKind; 5] = [
    DepKind::Blocks,
    DepKind::ConditionalBlocks,
    DepKind::ParentChild,
    DepKind::WaitsFor,
    DepKind::Related,
];

/// One random change: the beads to put and the ids to remove.
fn random_op(rng: &mut Rng, beads: &mut Vec<Bead>, made: &mut usize) -> Batch {
    let mut batch = Batch::default();
    let pick = |rng: &mut Rng, beads: &Vec<Bead>| rng.below(beads.len());
    match rng.below(12) {
        0..=2 => {
            *made += 1;
            let mut b = Bead::new(format!("gt-{made}"), "x");
            b.priority = rng.below(3) as u8;
            // Few distinct creation times, so the id breaks ties.
            b.created_at = format!("2026-01-0{}T00:00:00Z", 1 + rng.below(3));
            b.issue_type =
                [IssueType::Task, IssueType::Epic, IssueType::Message][rng.below(3)].clone();
            b.pinned = rng.chance(5);
            b.ephemeral = rng.chance(10);
            if rng.chance(20) {
                b.status = Status::InProgress;
            }
            beads.push(b.clone());
            batch.puts.push(Put {
                bead: b,
                journal: true,
            });
        }
        3..=5 if beads.len() >= 2 => {
            // A dependency: parent-child only towards an older bead (parents never form a
            // cycle, as the ledger refuses them); other kinds anywhere, also to ghost ids.
            let i = pick(rng, beads);
            let kind = KINDS[rng.below(KINDS.len())].clone();
            let target = if rng.chance(10) {
                format!("gt-ghost{}", rng.below(3))
            } else if kind == DepKind::ParentChild {
                if i == 0 {
                    return batch;
                }
                beads[rng.below(i)].id.clone()
            } else {
                beads[pick(rng, beads)].id.clone()
            };
            let b = &mut beads[i];
            b.dependencies.retain(|d| d.depends_on_id != target);
            b.dependencies.push(Dependency {
                issue_id: b.id.clone(),
                depends_on_id: target,
                kind,
                created_at: String::new(),
                created_by: String::new(),
                extra: Default::default(),
            });
            batch.puts.push(Put {
                bead: b.clone(),
                journal: true,
            });
        }
        6 if !beads.is_empty() => {
            let i = pick(rng, beads);
            let b = &mut beads[i];
            if !b.dependencies.is_empty() {
                let d = rng.below(b.dependencies.len());
                b.dependencies.remove(d);
            }
            batch.puts.push(Put {
                bead: b.clone(),
                journal: true,
            });
        }
        7 | 8 if !beads.is_empty() => {
            let i = pick(rng, beads);
            let b = &mut beads[i];
            b.status = [
                Status::Closed,
                Status::Open,
                Status::Open,
                Status::InProgress,
                Status::Deferred,
                Status::Tombstone,
            ][rng.below(6)]
            .clone();
            b.priority = rng.below(3) as u8;
            batch.puts.push(Put {
                bead: b.clone(),
                journal: true,
            });
        }
        9 if !beads.is_empty() => {
            let i = pick(rng, beads);
            let b = &mut beads[i];
            b.defer_until = match rng.below(3) {
                0 => None,
                1 => Some("2000-01-01T00:00:00Z".to_string()),
                _ => Some("2999-01-01T00:00:00Z".to_string()),
            };
            // The same bead twice in one batch: the second put decides.
            batch.puts.push(Put {
                bead: b.clone(),
                journal: true,
            });
            b.title.push('!');
            batch.puts.push(Put {
                bead: b.clone(),
                journal: true,
            });
        }
        10 if !beads.is_empty() => {
            let i = pick(rng, beads);
            let b = beads.remove(i);
            batch.removes.push((b.id, true));
        }
        _ if beads.len() >= 3 => {
            // Several beads at once: close one, reopen another, re-parent a third.
            for _ in 0..3 {
                let i = pick(rng, beads);
                let b = &mut beads[i];
                b.status = if b.status == Status::Closed {
                    Status::Open
                } else {
                    Status::Closed
                };
                batch.puts.push(Put {
                    bead: b.clone(),
                    journal: true,
                });
            }
        }
        _ => {}
    }
    batch
}

#[test]
fn persisted_sets_follow_random_operations_through_folds_groups_reopen_and_rebuild() {
    let mut seen = Seen::default();
    for seed in [1u64, 7, 42, 1234, 99_999] {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ledger.redb");
        let mut store = Store::open(&path).expect("open");
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut beads: Vec<Bead> = Vec::new();
        let mut made = 0;
        for step in 0..400 {
            let what = format!("seed {seed}, step {step}");
            if rng.chance(4) {
                store.fold().expect("fold");
                check(&store, &format!("{what}, folded"));
            }
            if rng.chance(3) {
                // A group of writes committed at once.
                store.set_deferred(true).expect("deferred");
                for _ in 0..3 {
                    let batch = random_op(&mut rng, &mut beads, &mut made);
                    store.write(&batch).expect("write in a group");
                }
                store.make_durable().expect("durable");
                store.set_deferred(false).expect("not deferred");
                check(&store, &format!("{what}, group"));
                continue;
            }
            let batch = random_op(&mut rng, &mut beads, &mut made);
            store.write(&batch).expect("write");
            check_seen(&store, &what, &mut seen);
            if step % 97 == 0 {
                drop(store);
                store = Store::open(&path).expect("reopen");
                check(&store, &format!("{what}, reopened"));
            }
        }
        let before = persisted(&store);
        drop(store);
        // Written by a gastown without the node tables: rebuilt at open, the same.
        {
            let db = redb::Database::create(&path).expect("db");
            let tx = db.begin_write().expect("write");
            tx.delete_table(NODE_STATE).expect("drop node_state");
            tx.open_table(super::super::META)
                .expect("meta")
                .remove(NODES_SEQ)
                .expect("drop nodes_seq");
            tx.commit().expect("commit");
        }
        let store = Store::open(&path).expect("reopen and rebuild");
        check(&store, &format!("seed {seed}, rebuilt"));
        assert_eq!(
            persisted(&store),
            before,
            "seed {seed}: rebuilt = maintained"
        );
    }
    assert!(
        seen.blocked_by_parent && seen.waiting && seen.deferred_out && seen.blocked,
        "the runs exercised every rule: {seen:?}"
    );
}

#[test]
fn a_bulk_write_leaves_the_tables_stale_until_the_next_open_rebuilds_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.redb");
    let mut store = Store::open(&path).expect("open");
    let puts = (0..=super::DELTA_MAX)
        .map(|i| Put {
            bead: Bead::new(format!("gt-{i}"), "x"),
            journal: false,
        })
        .collect();
    store
        .write(&Batch {
            puts,
            ..Batch::default()
        })
        .expect("bulk write");
    assert!(!store.nodes_current(), "not maintained by a bulk write");
    assert_eq!(store.ready_ids(0).expect("ready"), None, "ask the graph");
    // Later small writes do not pretend to be current either.
    store
        .write(&Batch {
            puts: vec![Put {
                bead: Bead::new("gt-x", "x"),
                journal: true,
            }],
            ..Batch::default()
        })
        .expect("write");
    assert!(!store.nodes_current());
    drop(store);
    let store = Store::open(&path).expect("reopen");
    check(&store, "rebuilt at open");
    assert_eq!(
        store.ready_ids(0).expect("ready").expect("current").len(),
        super::DELTA_MAX + 2
    );
}

#[test]
fn a_rolled_back_group_takes_its_node_states_with_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.redb");
    let mut store = Store::open(&path).expect("open");
    let blocker = Bead::new("gt-a", "a");
    let mut held = Bead::new("gt-b", "b");
    held.dependencies.push(Dependency {
        issue_id: "gt-b".to_string(),
        depends_on_id: "gt-a".to_string(),
        kind: DepKind::Blocks,
        created_at: String::new(),
        created_by: String::new(),
        extra: Default::default(),
    });
    let put = |b: &Bead| Put {
        bead: b.clone(),
        journal: true,
    };
    store
        .write(&Batch {
            puts: vec![put(&blocker), put(&held)],
            ..Batch::default()
        })
        .expect("write");
    assert_eq!(
        store.blocked_ids().expect("blocked"),
        Some(vec!["gt-b".into()])
    );
    store.set_deferred(true).expect("deferred");
    let mut closed = blocker.clone();
    closed.status = Status::Closed;
    store
        .write(&Batch {
            puts: vec![put(&closed)],
            ..Batch::default()
        })
        .expect("close in the group");
    assert_eq!(
        store.ready_ids(0).expect("ready"),
        Some(vec!["gt-b".into()]),
        "the group sees its own change"
    );
    let failed = store.in_write(|_, path| Err::<(), _>(super::super::index_err(path, "disk full")));
    assert!(failed.is_err());
    store.make_durable().expect_err("the group was rolled back");
    check(&store, "rolled back");
    assert_eq!(
        store.blocked_ids().expect("blocked"),
        Some(vec!["gt-b".into()]),
        "the close went with the group"
    );
    store.set_deferred(false).expect("not deferred");
    drop(store);
    let store = Store::open(&path).expect("reopen");
    check(&store, "rolled back, reopened");
    assert_eq!(
        store.ready_ids(0).expect("ready"),
        Some(vec!["gt-a".into()])
    );
}
