//! The GUPP patrol (the router's 2-second timer, and once at `gastown run` start): every polecat,
//! crew member and dog with a hook has a session of its recorded runtime working on it, and a dog
//! session idle for `[run] dog_idle_after` is stopped (`super::dog_sessions`).
//!
//! An identity whose role is not running (it gave up, or it is stuck) is started again through
//! `TownHandler::ensure_session` — with its recorded runtime, never another — once its
//! per-identity backoff is due: [`RETRY_FIRST`] after its last start, doubling up to
//! [`RETRY_MAX`] — and no work command is in flight whose effects may start it
//! ([`Attempts::working`]). A session that has run for [`HEALTHY_AFTER`] ends a stuck streak
//! and the backoff. A role found running another runtime than the recorded one is started again
//! with it. Roles and sessions are found by their registered names, never by walking the tree.

use super::handler::TownHandler;
use super::stuck;
use gastown_actors::registry;
use gastown_actors::session::client;
use gastown_town::agents;
use gastown_town::identity::{AgentIdentity, Role};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use gastown_town::defaults::{
    HEALTHY_AFTER, PATROL_RETRY_FIRST as RETRY_FIRST, PATROL_RETRY_MAX as RETRY_MAX,
};

/// How long the patrol waits after the `attempts`-th start of an identity before the next one.
pub fn retry_delay(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    RETRY_FIRST.saturating_mul(1 << doublings).min(RETRY_MAX)
}

/// When each identity was last started and how often in a row, for the patrol's backoff; one
/// lock per identity, so a sling and the patrol never start the same identity at once; and the
/// work commands in flight, whose effects the patrol leaves to them.
#[derive(Default)]
pub struct Attempts {
    starts: Mutex<HashMap<String, (Instant, u32)>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Work commands (sling, hook attach, …) between the start of their ledger call and the end
    /// of their effects: see [`Attempts::working`].
    working: AtomicUsize,
    /// Since when each running dog session has had nothing on its hook (`super::dog_sessions`).
    pub(super) idle_dogs: super::dog_sessions::IdleDogs,
}

/// Held by a work command from before its ledger call until its effects are carried out.
pub struct Working<'a>(&'a AtomicUsize);

impl Drop for Working<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Attempts {
    /// Hold for the whole of a work command, its ledger call and its effects. A patrol whose view
    /// of the hooked work includes that command's writes sees it in flight and starts nothing
    /// this sweep: the command's own effect starts (or restarts) the role. Without this, the
    /// patrol could start a role a sling is about to start, and the sling would then restart the
    /// new session to tell it a hook it already knows.
    pub(super) fn working(&self) -> Working<'_> {
        self.working.fetch_add(1, Ordering::SeqCst);
        Working(&self.working)
    }

    /// Is any work command in flight (see [`Attempts::working`])?
    fn work_in_flight(&self) -> bool {
        self.working.load(Ordering::SeqCst) > 0
    }

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
    async fn note_health(&self, identity: &AgentIdentity, stuck: bool) {
        let Some(session) = registry::session(identity) else {
            return;
        };
        let up = client::snapshot(&session).await.map(|s| s.uptime_ms);
        if !up.is_ok_and(|ms| Duration::from_millis(ms) >= HEALTHY_AFTER) {
            return;
        }
        let address = &identity.address;
        self.attempts.reset(address);
        if stuck {
            let identity = identity.clone();
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

/// The polecats, crew members and dogs with hooked work.
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
                    .is_ok_and(|i| matches!(i.role, Role::Polecat | Role::Crew | Role::Dog));
                if !rig_level || out.iter().any(|h| h.address == address) {
                    continue;
                }
                let agent = agents::find(ledger, &address)?;
                out.push(Hooked {
                    stuck: agent
                        .as_ref()
                        .is_some_and(|a| a.state == agents::AgentState::Stuck),
                    runtime: agent.and_then(|a| a.runtime),
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
    super::limits::resume_due(handler).await;
    let Some(view) = hooked_identities(handler).await else {
        return;
    };
    // Read after the view: a work command whose writes the view shows is counted by now.
    let work_in_flight = handler.attempts.work_in_flight();
    if !work_in_flight {
        // A dog a work command is about to give a bead is never taken for idle.
        let hooked: std::collections::HashSet<String> =
            view.iter().map(|h| h.address.clone()).collect();
        handler.stop_idle_dogs(&hooked).await;
    }
    for hooked in view {
        let Ok(identity) = AgentIdentity::parse(&hooked.address) else {
            continue;
        };
        let address = &hooked.address;
        // Found by its registered name: the patrol never walks the tree.
        if let Some(info) = registry::role_info(&identity).await {
            let running = info.and_then(|info| info.runtime);
            if hooked.runtime.is_none() || running == hooked.runtime {
                handler.note_health(&identity, hooked.stuck).await;
                continue;
            }
        } else if !handler.attempts.due(address) {
            continue;
        }
        if work_in_flight {
            continue; // Its effects may start this very role; the next sweep looks again.
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
pub fn role_gave_up(
    ledger: gastown_actors::ledger::LedgerHandle,
    identity: AgentIdentity,
    reason: String,
) {
    let address = identity.address.clone();
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

    #[test]
    fn work_is_in_flight_while_any_of_its_guards_lives() {
        let attempts = Attempts::default();
        assert!(!attempts.work_in_flight());
        let sling = attempts.working();
        let attach = attempts.working();
        drop(sling);
        assert!(attempts.work_in_flight(), "one command is still in flight");
        drop(attach);
        assert!(!attempts.work_in_flight());
    }
}
