//! Per-peer connection caps: how many connections one process (by the pid SO_PEERCRED reports
//! at accept) and one agent identity (after the handshake) may hold at once.
//!
//! The global cap (`ServerConfig::max_connections`) keeps the supervisor's resources bounded;
//! these caps, set below it, keep one misbehaving peer from taking every slot: a script that
//! opens hundreds of connections is refused after `max_connections_per_peer` of them, and every
//! other process still gets in. The overseer has no identity cap of its own (every process
//! outside the sessions is the overseer, so such a cap would let one of them lock out the human);
//! it is bounded per process. A slot is held by a [`PeerSlot`] and freed when it is dropped.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use super::wire::Identity;

/// Live connection counts by process and by agent identity.
#[derive(Debug, Default)]
pub(super) struct PeerCounts {
    /// Connections held per peer pid.
    by_pid: Mutex<HashMap<u32, usize>>,
    /// Connections held per agent identity.
    by_identity: Mutex<HashMap<Identity, usize>>,
}

/// Which table a slot was taken from.
#[derive(Debug)]
enum Key {
    /// A process.
    Pid(u32),
    /// An agent identity.
    Identity(Identity),
}

/// One held slot; dropping it gives the slot back.
#[derive(Debug)]
pub(super) struct PeerSlot {
    /// The counts the slot was taken from.
    counts: Arc<PeerCounts>,
    /// Which count to decrement.
    key: Key,
}

/// Increments `map[key]` unless it is already at `max`; true when a slot was taken.
fn take<K: Eq + Hash>(map: &Mutex<HashMap<K, usize>>, key: K, max: usize) -> bool {
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    let held = map.entry(key).or_insert(0);
    if *held >= max {
        return false;
    }
    *held += 1;
    true
}

/// Decrements `map[key]`, removing the entry at zero so the table never outgrows live peers.
fn give_back<K: Eq + Hash>(map: &Mutex<HashMap<K, usize>>, key: &K) {
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(held) = map.get_mut(key) {
        *held = held.saturating_sub(1);
        if *held == 0 {
            map.remove(key);
        }
    }
}

impl PeerCounts {
    /// A slot for process `pid`, or `None` when it already holds `max` connections.
    pub(super) fn take_pid(self: &Arc<Self>, pid: u32, max: usize) -> Option<PeerSlot> {
        take(&self.by_pid, pid, max).then(|| PeerSlot {
            counts: Arc::clone(self),
            key: Key::Pid(pid),
        })
    }

    /// A slot for an agent identity, or `None` when it already holds `max` connections. The
    /// overseer always gets `Some` (see the module docs).
    pub(super) fn take_identity(
        self: &Arc<Self>,
        identity: &Identity,
        max: usize,
    ) -> Option<Option<PeerSlot>> {
        if *identity == Identity::Overseer {
            return Some(None);
        }
        take(&self.by_identity, identity.clone(), max).then(|| {
            Some(PeerSlot {
                counts: Arc::clone(self),
                key: Key::Identity(identity.clone()),
            })
        })
    }

    /// Connections process `pid` holds now.
    #[cfg(test)]
    pub(super) fn held_by_pid(&self, pid: u32) -> usize {
        let map = self.by_pid.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&pid).copied().unwrap_or(0)
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        match &self.key {
            Key::Pid(pid) => give_back(&self.counts.by_pid, pid),
            Key::Identity(identity) => give_back(&self.counts.by_identity, identity),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_gets_at_most_max_slots_and_dropping_one_frees_it() {
        let counts = Arc::new(PeerCounts::default());
        let slots: Vec<_> = (0..3).filter_map(|_| counts.take_pid(7, 3)).collect();
        assert_eq!(slots.len(), 3);
        assert!(counts.take_pid(7, 3).is_none(), "the fourth is refused");
        assert!(counts.take_pid(8, 3).is_some(), "another process is not");
        drop(slots);
        assert_eq!(counts.held_by_pid(7), 0);
        assert!(counts.take_pid(7, 3).is_some());
    }

    #[test]
    fn agents_are_capped_by_identity_and_the_overseer_is_not() {
        let counts = Arc::new(PeerCounts::default());
        let agent = Identity::Agent {
            address: "alpha/polecats/nux".to_string(),
            role: "polecat".to_string(),
            rig: Some("alpha".to_string()),
        };
        let first = counts
            .take_identity(&agent, 1)
            .expect("the first is admitted");
        assert!(first.is_some());
        assert!(counts.take_identity(&agent, 1).is_none());
        for _ in 0..5 {
            assert!(counts.take_identity(&Identity::Overseer, 1).is_some());
        }
        drop(first);
        assert!(counts.take_identity(&agent, 1).is_some());
    }
}
