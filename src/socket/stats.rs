//! Socket counters: atomics bumped by the listener and connections, read as a serializable
//! snapshot by the `Stats` request and by actor introspection.
//!
//! Every refused or misbehaving connection bumps exactly one "why" counter, so the sum of those
//! counters is the number of bad connections seen.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Live counters, shared (through an `Arc`) by the listener and every connection task.
#[derive(Debug, Default)]
pub struct SocketStats {
    /// Connections accepted by the listener (including ones refused afterwards).
    accepted: AtomicU64,
    /// Connections currently being served (a gauge, not a total).
    active: AtomicU64,
    /// Peers refused because their uid is not the supervisor's.
    rejected_uid: AtomicU64,
    /// Connections closed for garbage, a truncated frame or an undecodable message.
    bad_frame: AtomicU64,
    /// Connections closed because a frame announced more than the maximum size.
    oversized: AtomicU64,
    /// Handshakes refused for a protocol version mismatch.
    version_mismatch: AtomicU64,
    /// Handshakes refused for a token the supervisor never issued.
    unknown_token: AtomicU64,
    /// Handshakes refused for a revoked token.
    revoked_token: AtomicU64,
    /// Connections closed for silence: before the handshake or between requests.
    idle_closed: AtomicU64,
    /// Connections refused because the connection cap was reached.
    over_capacity: AtomicU64,
    /// Connections closed because the peer stopped reading our replies.
    write_stalled: AtomicU64,
    /// Requests answered (successfully or with a typed error).
    requests: AtomicU64,
    /// Requests refused because the caller may not do them (`Forbidden`).
    forbidden: AtomicU64,
    /// Handshakes whose token named another agent than the session the peer runs in.
    token_mismatch: AtomicU64,
    /// Handshakes refused because the peer's process could not be placed.
    unidentified: AtomicU64,
    /// Connections closed because a frame did not complete in time after its first byte.
    slow_frame: AtomicU64,
    /// Connections refused because their process or identity was at its per-peer cap.
    over_peer_cap: AtomicU64,
}

/// Names one counter, for [`SocketStats::bump`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// See [`StatsSnapshot::accepted`].
    Accepted,
    /// See [`StatsSnapshot::rejected_uid`].
    RejectedUid,
    /// See [`StatsSnapshot::bad_frame`].
    BadFrame,
    /// See [`StatsSnapshot::oversized`].
    Oversized,
    /// See [`StatsSnapshot::version_mismatch`].
    VersionMismatch,
    /// See [`StatsSnapshot::unknown_token`].
    UnknownToken,
    /// See [`StatsSnapshot::revoked_token`].
    RevokedToken,
    /// See [`StatsSnapshot::idle_closed`].
    IdleClosed,
    /// See [`StatsSnapshot::over_capacity`].
    OverCapacity,
    /// See [`StatsSnapshot::write_stalled`].
    WriteStalled,
    /// See [`StatsSnapshot::requests`].
    Requests,
    /// See [`StatsSnapshot::forbidden`].
    Forbidden,
    /// See [`StatsSnapshot::token_mismatch`].
    TokenMismatch,
    /// See [`StatsSnapshot::unidentified`].
    Unidentified,
    /// See [`StatsSnapshot::slow_frame`].
    SlowFrame,
    /// See [`StatsSnapshot::over_peer_cap`].
    OverPeerCap,
}

/// A point-in-time copy of the counters; field meanings as in [`SocketStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Connections accepted by the listener (including ones refused afterwards).
    pub accepted: u64,
    /// Connections currently being served.
    pub active: u64,
    /// Peers refused because their uid is not the supervisor's.
    pub rejected_uid: u64,
    /// Connections closed for garbage, a truncated frame or an undecodable message.
    pub bad_frame: u64,
    /// Connections closed because a frame announced more than the maximum size.
    pub oversized: u64,
    /// Handshakes refused for a protocol version mismatch.
    pub version_mismatch: u64,
    /// Handshakes refused for an unknown token.
    pub unknown_token: u64,
    /// Handshakes refused for a revoked token.
    pub revoked_token: u64,
    /// Connections closed for silence.
    pub idle_closed: u64,
    /// Connections refused at the connection cap.
    pub over_capacity: u64,
    /// Connections closed because the peer stopped reading.
    pub write_stalled: u64,
    /// Requests answered.
    pub requests: u64,
    /// Requests refused with `Forbidden`: the caller may not do them.
    pub forbidden: u64,
    /// Handshakes from inside a session that showed another agent's token (or a stale one):
    /// served as the session's agent, logged and counted here.
    pub token_mismatch: u64,
    /// Handshakes refused because the peer's process could not be placed (gone before it was
    /// read, or a supervisor child in no session).
    pub unidentified: u64,
    /// Connections closed because a frame did not complete in time after its first byte.
    pub slow_frame: u64,
    /// Connections refused at the per-process or per-identity cap.
    pub over_peer_cap: u64,
}

impl SocketStats {
    /// Adds one to a counter.
    pub fn bump(&self, counter: Counter) {
        self.cell(counter).fetch_add(1, Ordering::Relaxed);
    }

    /// Marks a connection as being served until the returned guard is dropped.
    pub fn track_active(&self) -> ActiveGuard<'_> {
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveGuard { stats: self }
    }

    /// Copies every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |cell: &AtomicU64| cell.load(Ordering::Relaxed);
        StatsSnapshot {
            accepted: load(&self.accepted),
            active: load(&self.active),
            rejected_uid: load(&self.rejected_uid),
            bad_frame: load(&self.bad_frame),
            oversized: load(&self.oversized),
            version_mismatch: load(&self.version_mismatch),
            unknown_token: load(&self.unknown_token),
            revoked_token: load(&self.revoked_token),
            idle_closed: load(&self.idle_closed),
            over_capacity: load(&self.over_capacity),
            write_stalled: load(&self.write_stalled),
            requests: load(&self.requests),
            forbidden: load(&self.forbidden),
            token_mismatch: load(&self.token_mismatch),
            unidentified: load(&self.unidentified),
            slow_frame: load(&self.slow_frame),
            over_peer_cap: load(&self.over_peer_cap),
        }
    }

    /// The atomic behind a counter name.
    fn cell(&self, counter: Counter) -> &AtomicU64 {
        match counter {
            Counter::Accepted => &self.accepted,
            Counter::RejectedUid => &self.rejected_uid,
            Counter::BadFrame => &self.bad_frame,
            Counter::Oversized => &self.oversized,
            Counter::VersionMismatch => &self.version_mismatch,
            Counter::UnknownToken => &self.unknown_token,
            Counter::RevokedToken => &self.revoked_token,
            Counter::IdleClosed => &self.idle_closed,
            Counter::OverCapacity => &self.over_capacity,
            Counter::WriteStalled => &self.write_stalled,
            Counter::Requests => &self.requests,
            Counter::Forbidden => &self.forbidden,
            Counter::TokenMismatch => &self.token_mismatch,
            Counter::Unidentified => &self.unidentified,
            Counter::SlowFrame => &self.slow_frame,
            Counter::OverPeerCap => &self.over_peer_cap,
        }
    }
}

/// Decrements the `active` gauge when a connection ends, however it ends.
#[derive(Debug)]
pub struct ActiveGuard<'a> {
    /// The counters whose gauge this guard holds up.
    stats: &'a SocketStats,
}

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.stats.active.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_and_the_active_gauge_show_in_snapshots() {
        let stats = SocketStats::default();
        stats.bump(Counter::BadFrame);
        stats.bump(Counter::Requests);
        stats.bump(Counter::Requests);
        let guard = stats.track_active();
        let during = stats.snapshot();
        drop(guard);
        assert_eq!(during.bad_frame, 1);
        assert_eq!(during.requests, 2);
        assert_eq!(during.active, 1);
        assert_eq!(stats.snapshot().active, 0);
    }
}
