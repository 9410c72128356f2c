//! The GUPP patrol (the router's 2-second timer, and once at `gastown run` start): every polecat
//! and crew member with a hook has a session of its recorded runtime working on it.
//!
//! An identity whose role is not running (it gave up, or it is stuck) is started again through
//! `TownHandler::ensure_session` — with its recorded runtime, never another — once its
//! per-identity backoff is due: [`RETRY_FIRST`] after its last start, doubling up to
//! [`RETRY_MAX`]. A session that has run for [`HEALTHY_AFTER`] ends a stuck streak and the
//! backoff. A role found running another runtime than the recorded one is started again with it.

use super::handler::TownHandler;
use super::starting::running_runtime;
use super::{stuck, topology};
use gastown_actors::session::{SessionMsg, client};
use gastown_supervision::SupervisorRef;
use gastown_town::agents;
use gastown_town::identity::{AgentIdentity, Role};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The patrol's first retry of an identity waits this long after its last start.
pub const RETRY_FIRST: Duration = Duration::from_secs(30);
/// ... and each further one twice as long, up to this.
pub const RETRY_MAX: Duration = Duration::from_secs(15 * 60);
/// A session up this long runs: its identity is no longer stuck, its backoff starts over.
pub const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// How long the patrol waits after the `attempts`-th start of an identity before the next one.
pub fn retry_delay(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    RETRY_FIRST.saturating_mul(1 << doublings).min(RETRY_MAX)
}

/// When each identity was last started and how often in a row, for the patrol's backoff; and
/// one lock per identity, so a sling and the patrol never start the same identity at once.
#[derive(Default)]
pub struct Attempts {
    starts: Mutex<HashMap<String, (Instant, u32)>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Attempts {
    /// Hold while starting or stopping `address`'s role.
    pub(super) async fn lock(&self, address: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = match self.locks.lock() {
            Ok(mut locks) => Arc::clone(locks.entry(address.to_string()).or_default()),
            // A poisoned map: go on without the lock rather than never start anything.
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        };
        lock.lock_owned().await
    }

    pub(super) fn note(&self, address: &str) {
        if let Ok(mut map) = self.starts.lock() {
            let entry = map
                .entry(address.to_string())
                .or_insert((Instant::now(), 0));
            *entry = (Instant::now(), entry.1.saturating_add(1));
        }
    }

    pub(super) fn due(&self, address: &str) -> bool {
        self.starts.lock().is_ok_and(|map| {
            map.get(address)
                .is_none_or(|(last, n)| last.elapsed() >= retry_delay(*n))
        })
    }

    pub(super) fn reset(&self, address: &str) {
        if let Ok(mut map) = self.starts.lock() {
            map.remove(address);
        }
    }
}

impl TownHandler {
    /// The patrol's look at one hooked identity whose role runs: a session up for
    /// [`HEALTHY_AFTER`] ends a stuck streak and the backoff.
    async fn note_health(&self, address: &str, role: &SupervisorRef, stuck: bool) {
        let Ok(Some(session)) = role.child_actor::<SessionMsg>("session").await else {
            return;
        };
        let up = client::snapshot(&session).await.map(|s| s.uptime_ms);
        if !up.is_ok_and(|ms| Duration::from_millis(ms) >= HEALTHY_AFTER) {
            return;
        }
        self.attempts.reset(address);
        if stuck && let Ok(identity) = AgentIdentity::parse(address) {
            let cleared = self
                .ledger
                .try_call("patrol: clear stuck", move |l| {
                    agents::clear_stuck(l, &identity)
                })
                .await;
            if let Ok(true) = cleared {
                tracing::info!(agent = %address, "runs again: no longer stuck");
            }
        }
    }
}

/// One hooked identity, as the patrol sees it in the ledger.
struct Hooked {
    address: String,
    /// Its agent bead says `stuck`.
    stuck: bool,
    /// The runtime recorded for it.
    runtime: Option<String>,
}

/// The polecats and crew members with hooked work.
async fn hooked_identities(handler: &TownHandler) -> Option<Vec<Hooked>> {
    let view = handler
        .ledger
        .try_call("patrol: hooked identities", |ledger| {
            let hooked = ledger.list(&gastown_beads::ListFilter {
                status: Some(gastown_beads::Status::Hooked),
                ..gastown_beads::ListFilter::default()
            })?;
            let mut out: Vec<Hooked> = Vec::new();
            for address in hooked.into_iter().map(|b| b.assignee) {
                let rig_level = AgentIdentity::parse(&address)
                    .is_ok_and(|i| matches!(i.role, Role::Polecat | Role::Crew));
                if !rig_level || out.iter().any(|h| h.address == address) {
                    continue;
                }
                let bead = agents::find(ledger, &address)?;
                out.push(Hooked {
                    stuck: bead
                        .as_ref()
                        .is_some_and(|b| agents::state_of(b) == agents::STUCK),
                    runtime: bead
                        .as_ref()
                        .and_then(|b| agents::runtime_of(b).map(str::to_string)),
                    address,
                });
            }
            Ok(out)
        })
        .await;
    match view {
        Ok(view) => Some(view),
        Err(e) => {
            tracing::warn!("cannot read hooked work ({e}); the patrol tries again");
            None
        }
    }
}

/// GUPP across restarts, and the patrol that keeps it: every polecat and crew member with a hook
/// has a session of its recorded runtime working on it. Roles that gave up and identities that
/// are stuck are retried with a per-identity backoff; a session that runs ends their streak; a
/// role found running another runtime than the recorded one is started again with it.
pub async fn resume_hooked(handler: &TownHandler) {
    let Some(view) = hooked_identities(handler).await else {
        return;
    };
    let Ok(root) = handler.root().await else {
        return;
    };
    for hooked in view {
        let address = &hooked.address;
        if let Ok(role) = topology::find_role(root, address).await {
            if hooked.runtime.is_none() || running_runtime(&role).await == hooked.runtime {
                handler.note_health(address, &role, hooked.stuck).await;
                continue;
            }
        } else if !handler.attempts.due(address) {
            continue;
        }
        match handler.ensure_session(address, false).await {
            Ok(note) if note.is_empty() => {}
            Ok(note) => tracing::info!(agent = %address, "{}", note.trim()),
            Err(e) => tracing::warn!(agent = %address, "cannot resume hooked work: {e}"),
        }
    }
}

/// A role's supervisor gave up (its sessions died at once until the restart intensity was
/// reached): its identity is stuck until a session runs again. Runs on its own task.
pub fn role_gave_up(ledger: gastown_actors::ledger::LedgerHandle, address: String, reason: String) {
    let Ok(identity) = AgentIdentity::parse(&address) else {
        return;
    };
    tokio::spawn(async move {
        let why = format!("its sessions die at once, and its supervisor gave up: {reason}");
        let marked = ledger
            .call("patrol: mark stuck", move |l| {
                stuck::mark_and_tell(l, &identity, None, &why)
            })
            .await;
        match marked {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(agent = %address, "cannot mark it stuck: {e:#}"),
            Err(e) => tracing::warn!(agent = %address, "cannot mark it stuck: {e}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patrol_backs_off_exponentially_up_to_a_cap() {
        assert_eq!(retry_delay(1), RETRY_FIRST);
        assert_eq!(retry_delay(2), RETRY_FIRST * 2);
        assert_eq!(retry_delay(3), RETRY_FIRST * 4);
        assert_eq!(retry_delay(5), RETRY_FIRST * 16);
        assert_eq!(retry_delay(6), RETRY_MAX);
        assert_eq!(retry_delay(u32::MAX), RETRY_MAX);
        let attempts = Attempts::default();
        assert!(attempts.due("a/crew/x"), "never started: due");
        attempts.note("a/crew/x");
        assert!(!attempts.due("a/crew/x"), "just started: not due");
        attempts.reset("a/crew/x");
        assert!(attempts.due("a/crew/x"));
    }
}
