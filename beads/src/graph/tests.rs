//! Tests of the readiness graph: scenarios, and a randomized comparison of the incremental graph
//! against a from-scratch computation written independently here.

use super::*;
use std::collections::HashMap as Map;

fn info(id: &str, state: State, edges: &[(&str, EdgeKind)]) -> NodeInfo {
    NodeInfo {
        id: id.to_string(),
        state,
        eligible: true,
        priority: 2,
        created: 0,
        defer_until: None,
        edges: edges.iter().map(|(t, k)| (t.to_string(), *k)).collect(),
    }
}

#[test]
fn blocker_closing_makes_the_dependent_ready() {
    let mut g = Graph::new();
    g.upsert(&info("a", State::Open, &[]));
    g.upsert(&info("b", State::Open, &[("a", EdgeKind::Blocks)]));
    assert_eq!(g.ready_ids(0), vec!["a"]);
    assert_eq!(g.blocked_ids(), vec!["b"]);
    assert_eq!(g.blockers("b"), vec!["a"]);
    g.upsert(&info("a", State::Done, &[]));
    assert_eq!(g.ready_ids(0), vec!["b"]);
    assert!(g.blocked_ids().is_empty());
}

#[test]
fn blocked_parent_blocks_descendants_transitively() {
    let mut g = Graph::new();
    g.upsert(&info("x", State::Open, &[]));
    g.upsert(&info("p", State::Open, &[("x", EdgeKind::Blocks)]));
    g.upsert(&info("p.1", State::Active, &[("p", EdgeKind::Parent)]));
    g.upsert(&info("p.1.1", State::Open, &[("p.1", EdgeKind::Parent)]));
    assert_eq!(g.blocked_ids().len(), 3);
    assert_eq!(g.blockers("p.1.1"), vec!["p.1"]);
    g.upsert(&info("x", State::Done, &[]));
    assert!(g.blocked_ids().is_empty());
    assert_eq!(g.ready_ids(0), vec!["p", "p.1.1"]);
}

#[test]
fn waits_for_holds_until_the_spawners_children_close() {
    let mut g = Graph::new();
    g.upsert(&info("s", State::Active, &[]));
    g.upsert(&info("w", State::Open, &[("s", EdgeKind::WaitsFor)]));
    assert!(g.is_ready("w"), "no children yet: nothing to wait for");
    g.upsert(&info("s.1", State::Open, &[("s", EdgeKind::Parent)]));
    assert!(g.is_blocked("w"));
    g.upsert(&info("s.1", State::Done, &[("s", EdgeKind::Parent)]));
    assert!(g.is_ready("w"));
}

#[test]
fn ready_is_ordered_and_excludes_ineligible_and_deferred() {
    let mut g = Graph::new();
    let mut a = info("a", State::Open, &[]);
    a.priority = 3;
    let mut b = info("b", State::Open, &[]);
    b.priority = 1;
    b.created = 5;
    let mut c = info("c", State::Open, &[]);
    c.priority = 1;
    c.created = 2;
    let mut m = info("m", State::Open, &[]);
    m.eligible = false;
    let mut d = info("d", State::Open, &[]);
    d.defer_until = Some(100);
    for i in [&a, &b, &c, &m, &d] {
        g.upsert(i);
    }
    g.upsert(&info("i", State::Active, &[]));
    assert_eq!(
        g.ready_ids(50),
        vec!["c", "b", "d", "a"]
            .into_iter()
            .filter(|x| *x != "d")
            .collect::<Vec<_>>()
    );
    assert_eq!(g.ready_ids(200), vec!["c", "b", "d", "a"]);
}

#[test]
fn cycles_are_found_with_their_path() {
    let mut g = Graph::new();
    g.upsert(&info("a", State::Open, &[("b", EdgeKind::Blocks)]));
    g.upsert(&info("b", State::Open, &[("c", EdgeKind::Blocks)]));
    g.upsert(&info("c", State::Open, &[]));
    assert_eq!(
        g.cycle_path("c", "a", EdgeKind::Blocks),
        Some(vec!["c".into(), "a".into(), "b".into(), "c".into()])
    );
    assert_eq!(
        g.cycle_path("a", "a", EdgeKind::Blocks),
        Some(vec!["a".into(), "a".into()])
    );
    assert_eq!(g.cycle_path("c", "a", EdgeKind::Parent), None);
    assert_eq!(g.cycle_path("a", "c", EdgeKind::Blocks), None);
}

#[test]
fn encode_decode_round_trip() {
    let mut i = info(
        "gt-abc.1",
        State::Active,
        &[("gt-x", EdgeKind::WaitsFor), ("gt-y", EdgeKind::Parent)],
    );
    i.defer_until = Some(-7);
    i.created = 1_700_000_000_000_000_000;
    i.eligible = false;
    assert_eq!(NodeInfo::decode(&i.encode()), Some(i.clone()));
    assert_eq!(NodeInfo::decode(&i.encode()[..10]), None);
}

/// Independent reference: readiness straight from the definitions in the module docs.
fn reference(beads: &Map<String, NodeInfo>) -> (BTreeSet<String>, BTreeSet<String>) {
    let active = |id: &str| beads.get(id).is_some_and(|b| b.state != State::Done);
    let has_active_child = |id: &str| {
        beads.values().any(|c| {
            c.state != State::Done
                && c.edges
                    .iter()
                    .any(|(t, k)| t == id && *k == EdgeKind::Parent)
        })
    };
    fn blocked_of(
        id: &str,
        beads: &Map<String, NodeInfo>,
        active: &dyn Fn(&str) -> bool,
        hac: &dyn Fn(&str) -> bool,
        depth: usize,
    ) -> bool {
        if depth > 64 || !active(id) {
            return false;
        }
        beads[id].edges.iter().any(|(t, k)| match k {
            EdgeKind::Blocks => active(t),
            EdgeKind::WaitsFor => hac(t),
            EdgeKind::Parent => {
                beads.contains_key(t.as_str()) && blocked_of(t, beads, active, hac, depth + 1)
            }
        })
    }
    let mut ready = BTreeSet::new();
    let mut blocked = BTreeSet::new();
    for (id, b) in beads {
        if blocked_of(id, beads, &active, &has_active_child, 0) {
            blocked.insert(id.clone());
        } else if b.state == State::Open && b.eligible {
            ready.insert(id.clone());
        }
    }
    (ready, blocked)
}

#[test]
fn incremental_matches_reference_and_bulk_build_under_random_mutations() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let ids: Vec<String> = (0..24).map(|i| format!("n{i}")).collect();
    let mut g = Graph::new();
    let mut beads: Map<String, NodeInfo> = Map::new();
    for step in 0..3000 {
        let i = rnd(ids.len() as u64) as usize;
        if rnd(10) == 0 {
            g.remove(&ids[i]);
            beads.remove(&ids[i]);
        } else {
            let state = [State::Open, State::Active, State::Done][rnd(3) as usize];
            let mut n = info(&ids[i], state, &[]);
            n.eligible = rnd(6) != 0;
            n.priority = rnd(5) as u8;
            for _ in 0..rnd(3) {
                // Edges only to lower ids keep the reference's recursion acyclic, like the
                // ledger's cycle refusal does.
                if i == 0 {
                    break;
                }
                let t = ids[rnd(i as u64) as usize].clone();
                let k = [EdgeKind::Blocks, EdgeKind::Parent, EdgeKind::WaitsFor][rnd(3) as usize];
                if !n.edges.contains(&(t.clone(), k)) {
                    n.edges.push((t, k));
                }
            }
            g.upsert(&n);
            beads.insert(ids[i].clone(), n);
        }
        let (ready, blocked) = reference(&beads);
        let got_ready: BTreeSet<String> = g.ready_ids(0).into_iter().collect();
        let got_blocked: BTreeSet<String> = g.blocked_ids().into_iter().collect();
        assert_eq!(got_ready, ready, "ready after step {step}");
        assert_eq!(got_blocked, blocked, "blocked after step {step}");
        assert_eq!(g.len(), beads.len());
        if step % 100 == 0 {
            let bulk = Graph::build(beads.values().cloned().collect());
            assert_eq!(
                bulk.ready_ids(0),
                g.ready_ids(0),
                "bulk ready at step {step}"
            );
            assert_eq!(
                bulk.blocked_ids(),
                g.blocked_ids(),
                "bulk blocked at step {step}"
            );
        }
    }
}

#[test]
fn nodes_and_keys_stay_small() {
    // Above 128 bytes a Node is no longer copied inline but through a libc memcpy call per
    // push, which made opening a 100k ledger measurably slower; keep the layout compact.
    assert_eq!(std::mem::size_of::<IdBuf>(), 32);
    assert!(
        std::mem::size_of::<Node>() <= 128,
        "Node is {} bytes",
        std::mem::size_of::<Node>()
    );
}

#[test]
fn the_id_index_finds_every_id_through_growth() {
    let mut g = Graph::new();
    for i in 0..10_000 {
        g.upsert(&info(&format!("gt-{i:x}"), State::Open, &[]));
    }
    let built = Graph::build(
        (0..10_000)
            .map(|i| info(&format!("gt-{i:x}"), State::Open, &[]))
            .collect(),
    );
    for i in 0..10_000 {
        let id = format!("gt-{i:x}");
        assert!(g.contains(&id) && built.contains(&id), "{id}");
    }
    assert!(!g.contains("gt-zz") && !g.is_known("gt-x.1"));
    assert_eq!((g.len(), built.len()), (10_000, 10_000));
    let long = "gt-".to_string() + &"a".repeat(40);
    g.upsert(&info(&long, State::Open, &[("gt-0", EdgeKind::Blocks)]));
    assert!(
        g.is_blocked(&long),
        "ids longer than the inline buffer work too"
    );
}
