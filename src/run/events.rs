//! The town's event stream (`docs/events.md`): one bus that every source publishes to and every
//! subscriber (`gastown feed`, the dashboard) reads from.
//!
//! Sources:
//! - the **ledger**: each durable change (`Ledger::keep_changes`, handed over by the ledger actor
//!   after its group commit, so nothing rolled back is ever told) becomes `bead.*`, `hook.*`,
//!   `mail.*`, `mq.*`, `convoy.*` or `escalation.*` by the bead's type ([`ledger_sink`]);
//! - **supervision**: the tree's events (`supervision.*`, [`forward_supervision`]);
//! - **sessions**: a watcher polls the running sessions' snapshots and tells each change of what
//!   a session does (`session.starting|working|idle|blocked|ended`, [`watch_sessions`]), once the
//!   new state held for two looks (so a pause between two bursts of output is no `idle`).
//!
//! The bus is a `tokio::sync::broadcast` channel: publishing never waits for a subscriber. One
//! that reads too slowly skips ahead and gets a `missed` event saying how many it lost; the town
//! never slows down for it. Each event gets the next `seq` under one lock, so every subscriber
//! sees the same order, and a source's events keep the order they were published in.

use crate::protocol::{EventFilter, TownEvent};
use gastown_actors::ledger::ChangeSink;
use gastown_actors::registry;
use gastown_actors::session::client;
use gastown_beads::{Bead, EventKind, IssueType, Ledger, LedgerChange};
use gastown_supervision::SupervisorEvent;
use gastown_town::identity::AgentIdentity;
use gastown_town::refinery::{MergeRequest, QueueState};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// How many events a subscriber may fall behind before it skips (and is told).
pub const BUFFER: usize = 4096;

/// How many events one reply to a subscriber carries at most.
const BATCH: usize = 256;

/// How often the session watcher looks.
const SESSION_LOOK: Duration = Duration::from_millis(500);

/// How long the watcher waits for one session's snapshot.
const SNAPSHOT_WAIT: Duration = Duration::from_millis(500);

/// The bus.
pub struct EventBus {
    tx: broadcast::Sender<TownEvent>,
    /// The last `seq` given; held while sending, so `seq` order is send order.
    seq: Mutex<u64>,
    /// Per merge request and escalation: the state last told, so an update that changes
    /// nothing of it tells nothing.
    states: Mutex<HashMap<String, String>>,
    /// Per polecat the witness judged in trouble (stalled, hung, starting-stalled): the word.
    stalled: Mutex<HashMap<String, String>>,
}

impl Default for EventBus {
    fn default() -> EventBus {
        let (tx, _) = broadcast::channel(BUFFER);
        EventBus {
            tx,
            seq: Mutex::new(0),
            states: Mutex::new(HashMap::new()),
            stalled: Mutex::new(HashMap::new()),
        }
    }
}

/// An event before the bus numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub kind: &'static str,
    pub source: String,
    pub subject: String,
    pub rig: String,
    pub text: String,
    /// When it happened (RFC 3339); now when empty.
    pub at: String,
}

impl EventBus {
    /// Number `draft`, stamp it and send it to every subscriber (none: it is dropped).
    pub fn publish(&self, draft: Draft) {
        let at = if draft.at.is_empty() {
            gastown_beads::time::now_rfc3339()
        } else {
            draft.at
        };
        let mut seq = self.seq.lock().unwrap_or_else(|p| p.into_inner());
        *seq += 1;
        let _ = self.tx.send(TownEvent {
            seq: *seq,
            at,
            kind: draft.kind.to_string(),
            source: draft.source,
            subject: draft.subject,
            rig: draft.rig,
            text: draft.text,
        });
    }

    /// A new subscriber: it sees every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<TownEvent> {
        self.tx.subscribe()
    }

    /// How many subscribers there are now.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Whether `state` is news for `id` (and remember it).
    fn changed(&self, id: &str, state: &str) -> bool {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states.insert(id.to_string(), state.to_string()).as_deref() != Some(state)
    }

    /// The witness's judgement of `address`: `Some(word)` when it needs help (`stalled`,
    /// `hung`, `starting-stalled`), `None` when it does not (or is no longer watched).
    pub fn mark_health(&self, address: &str, trouble: Option<&str>) {
        let mut stalled = self.stalled.lock().unwrap_or_else(|p| p.into_inner());
        match trouble {
            Some(word) => {
                stalled.insert(address.to_string(), word.to_string());
            }
            None => {
                stalled.remove(address);
            }
        }
    }

    /// Forget the judgement of each of `rig`'s polecats not in `watched` (its work is gone).
    pub fn keep_health(&self, rig: &str, watched: &[&str]) {
        let mut stalled = self.stalled.lock().unwrap_or_else(|p| p.into_inner());
        stalled.retain(|a, _| rig_of_address(a) != rig || watched.contains(&a.as_str()));
    }

    /// Whether the witness judged `address` stalled, and how (`stalled`, `hung`, …).
    pub fn stalled(&self, address: &str) -> Option<String> {
        self.stalled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(address)
            .cloned()
    }

    fn forget(&self, id: &str) {
        self.states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// A subscriber's replies: the events `filter` wants, in batches of what is waiting, with a
/// `missed` event where it fell behind.
pub fn stream(
    bus: &EventBus,
    filter: EventFilter,
) -> impl futures::Stream<Item = Vec<TownEvent>> + Send + 'static {
    let rx = bus.subscribe();
    futures::stream::unfold((rx, filter), |(mut rx, filter)| async move {
        loop {
            let mut batch = Vec::new();
            match rx.recv().await {
                Ok(event) => batch.push(event),
                Err(broadcast::error::RecvError::Lagged(n)) => batch.push(missed(n)),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(broadcast::error::TryRecvError::Lagged(n)) => batch.push(missed(n)),
                    Err(_) => break,
                }
            }
            batch.retain(|e| filter.wants(e));
            if !batch.is_empty() {
                return Some((batch, (rx, filter)));
            }
        }
    })
}

fn missed(n: u64) -> TownEvent {
    TownEvent {
        seq: 0,
        at: gastown_beads::time::now_rfc3339(),
        kind: "missed".to_string(),
        source: "gastown run".to_string(),
        subject: String::new(),
        rig: String::new(),
        text: format!("missed {n} events: this subscriber read more slowly than the town changed"),
    }
}

/// The ledger actor's sink: each durable change, told as what it means.
pub fn ledger_sink(bus: Arc<EventBus>) -> ChangeSink {
    Arc::new(
        move |ledger: &Ledger, changes: Vec<LedgerChange>, dropped: usize| {
            if dropped > 0 {
                bus.publish(Draft {
                    kind: "missed",
                    source: "ledger".to_string(),
                    subject: String::new(),
                    rig: String::new(),
                    text: format!(
                        "the ledger's change feed overflowed: {dropped} changes not told"
                    ),
                    at: String::new(),
                });
            }
            for change in &changes {
                for draft in ledger_drafts(&bus, ledger, change) {
                    bus.publish(draft);
                }
            }
        },
    )
}

/// What one ledger change means, as events (none for the bookkeeping of agent beads and for
/// wisps burned by the reaper).
pub fn ledger_drafts(bus: &EventBus, ledger: &Ledger, change: &LedgerChange) -> Vec<Draft> {
    let ev = &change.event;
    let draft = |kind: &'static str, subject: &str, rig: &str, text: String| Draft {
        kind,
        source: ev.actor.clone(),
        subject: subject.to_string(),
        rig: rig.to_string(),
        text,
        at: ev.at.clone(),
    };
    let Some(bead) = &change.bead else {
        if ev.kind == EventKind::Deleted && ev.actor != "burn" {
            bus.forget(&ev.issue_id);
            return vec![draft(
                "bead.deleted",
                &ev.issue_id,
                "",
                format!("{} deleted", ev.issue_id),
            )];
        }
        return Vec::new();
    };
    let id = bead.id.as_str();
    let rig = rig_of(bead);
    let title = &bead.title;
    let mut out = Vec::new();
    match &bead.issue_type {
        IssueType::Agent => {}
        IssueType::Message => match (ev.kind, ev.new.as_deref()) {
            (EventKind::Created, _) => out.push(draft(
                "mail.sent",
                id,
                &rig,
                format!("mail to {}: {title}", bead.assignee),
            )),
            (EventKind::LabelAdded, Some("delivered")) => out.push(draft(
                "mail.delivered",
                id,
                &rig,
                format!("mail delivered to {}: {title}", bead.assignee),
            )),
            (EventKind::LabelAdded, Some(gastown_town::mail::READ)) => out.push(draft(
                "mail.read",
                id,
                &rig,
                format!("{} read: {title}", bead.assignee),
            )),
            _ => {}
        },
        IssueType::MergeRequest => {
            let Ok(mr) = MergeRequest::from_bead(bead) else {
                return out;
            };
            let (kind, text) = match (ev.kind, mr.state) {
                (EventKind::Created, _) => (
                    "mq.queued",
                    format!("{} queued by {}", mr.source_bead, mr.worker),
                ),
                (EventKind::Closed, _) if mr.merge_commit.is_some() => (
                    "mq.landed",
                    format!("{} landed ({} by {})", mr.source_bead, id, mr.worker),
                ),
                (EventKind::Closed, _) => {
                    ("mq.closed", format!("{id} closed: {}", bead.close_reason))
                }
                (_, QueueState::Rework) => (
                    "mq.rework",
                    format!("{} sent back to {} for rework", mr.source_bead, mr.worker),
                ),
                (_, QueueState::Escalated) => (
                    "mq.escalated",
                    format!(
                        "{id} ({}) escalated after {} tries",
                        mr.source_bead, mr.retry_count
                    ),
                ),
                (_, QueueState::Queued) => {
                    ("mq.queued", format!("{} queued again", mr.source_bead))
                }
                (_, QueueState::Closed) => return out,
            };
            if bus.changed(id, kind) {
                out.push(draft(kind, id, &mr.rig, text));
            }
        }
        IssueType::Escalation => {
            let Ok(e) = gastown_town::escalation::Escalation::from_bead(bead) else {
                return out;
            };
            let first = e.message.lines().next().unwrap_or("");
            let (kind, text) = match ev.kind {
                EventKind::Created => (
                    "escalation.raised",
                    format!("[{}] {}: {first}", e.severity.as_str(), e.source),
                ),
                EventKind::Closed => ("escalation.closed", format!("{id} closed: {first}")),
                _ if e.acked_by.is_some() && e.is_open() => (
                    "escalation.acked",
                    format!("{id} acked by {}", e.acked_by.as_deref().unwrap_or("")),
                ),
                _ => return out,
            };
            if bus.changed(id, kind) {
                out.push(draft(kind, id, &rig, text));
            }
        }
        IssueType::Convoy => match ev.kind {
            EventKind::Created => {
                out.push(draft("convoy.created", id, &rig, format!("convoy {title}")))
            }
            EventKind::Closed => out.push(draft(
                "convoy.landed",
                id,
                &rig,
                format!("convoy {title} landed"),
            )),
            _ => {}
        },
        _ => {
            match (ev.kind, ev.old.as_deref(), ev.new.as_deref()) {
                (EventKind::Created, _, _) => {
                    out.push(draft("bead.created", id, &rig, title.to_string()))
                }
                (EventKind::StatusChanged, _, Some("hooked")) => out.push(draft(
                    "hook.set",
                    id,
                    &rig,
                    format!("{id} on {}'s hook: {title}", bead.assignee),
                )),
                (EventKind::StatusChanged, Some("hooked"), _) => out.push(draft(
                    "hook.cleared",
                    id,
                    &rig,
                    format!("{id} off the hook ({})", ev.new.as_deref().unwrap_or("?")),
                )),
                (EventKind::StatusChanged, _, _) => {} // Told by the close, reopen or update.
                (EventKind::Closed, _, _) => {
                    out.push(draft(
                        "bead.closed",
                        id,
                        &rig,
                        format!("{title}: {}", bead.close_reason),
                    ));
                    out.extend(convoy_progress(ledger, id, &ev.actor, &ev.at));
                }
                (EventKind::Reopened, _, _) => {
                    out.push(draft("bead.reopened", id, &rig, title.to_string()))
                }
                _ => out.push(draft(
                    "bead.updated",
                    id,
                    &rig,
                    format!("{title} ({})", kind_word(ev.kind)),
                )),
            }
        }
    }
    out
}

/// Each open convoy that tracks `bead`: how far it got now.
fn convoy_progress(ledger: &Ledger, bead: &str, actor: &str, at: &str) -> Vec<Draft> {
    let Ok(convoys) = gastown_town::convoy::convoys_tracking(ledger, bead) else {
        return Vec::new();
    };
    convoys
        .iter()
        .filter_map(|c| gastown_town::convoy::progress(ledger, &c.id).ok())
        .map(|p| Draft {
            kind: "convoy.progress",
            source: actor.to_string(),
            subject: p.id.clone(),
            rig: String::new(),
            text: format!("convoy {}: {}/{} done", p.name, p.closed, p.total),
            at: at.to_string(),
        })
        .collect()
}

/// The rig a bead belongs to: its `rig` field, else its assignee's rig.
fn rig_of(bead: &Bead) -> String {
    if let Some(rig) = bead.extra.get("rig").and_then(|v| v.as_str()) {
        return rig.to_string();
    }
    AgentIdentity::parse(&bead.assignee)
        .ok()
        .and_then(|i| i.rig)
        .unwrap_or_default()
}

fn kind_word(kind: EventKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{kind:?}"))
}

/// The rig of a tree path (`town/rigs/<rig>/…`).
fn rig_of_path(path: &str) -> String {
    path.strip_prefix("town/rigs/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("")
        .to_string()
}

/// Tell the tree's supervision events until the tree's channel closes.
pub async fn forward_supervision(mut rx: broadcast::Receiver<SupervisorEvent>, bus: Arc<EventBus>) {
    loop {
        let event = match rx.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                bus.publish(Draft {
                    kind: "missed",
                    source: "town".to_string(),
                    subject: String::new(),
                    rig: String::new(),
                    text: format!("{n} supervision events not told (the tree changed faster than they could be)"),
                    at: String::new(),
                });
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        bus.publish(supervision_draft(&event));
    }
}

/// A supervision event as the stream tells it: an exit that was abnormal (an error, a panic, a
/// kill) is `supervision.crashed`, a normal or shutdown one `supervision.exited`.
pub fn supervision_draft(event: &SupervisorEvent) -> Draft {
    use gastown_supervision::EventKind as K;
    let kind = match event.kind {
        K::Started => "supervision.started",
        K::Exited if event.exit == Some(gastown_supervision::ExitKind::Abnormal) => {
            "supervision.crashed"
        }
        K::Exited => "supervision.exited",
        K::StartFailed => "supervision.start_failed",
        K::Restarted => "supervision.restarted",
        K::BackingOff => "supervision.backing_off",
        K::ShutdownKilled => "supervision.shutdown_killed",
        K::GaveUp => "supervision.gave_up",
    };
    let subject = format!("{}/{}", event.supervisor, event.child);
    let word = &kind["supervision.".len()..];
    let text = if event.reason.is_empty() || event.reason == word {
        format!("{subject} {word}")
    } else {
        format!("{subject} {word}: {}", event.reason)
    };
    Draft {
        kind,
        source: event.supervisor.clone(),
        rig: rig_of_path(&subject),
        subject,
        text,
        at: event.at.clone(),
    }
}

/// What a session does, as the stream words it: a dialog first, then the witness's judgement
/// (`stalled`: what it saw, e.g. `hung`), then what its screen shows.
fn session_state(
    snapshot: &gastown_actors::session::SessionSnapshot,
    stalled: Option<String>,
) -> (&'static str, String) {
    match (&snapshot.blocked, stalled) {
        (Some(dialog), _) => ("session.blocked", format!("blocked: {dialog}")),
        (None, Some(word)) if word == "stalled" => ("session.stalled", "stalled".to_string()),
        (None, Some(word)) => ("session.stalled", format!("stalled ({word})")),
        (None, None) if !snapshot.ready => ("session.starting", "starting".to_string()),
        (None, None) if snapshot.idle => ("session.idle", "idle".to_string()),
        (None, None) => ("session.working", "working".to_string()),
    }
}

/// Watch the running sessions until the process ends: tell each change of what one does (once
/// it held for two looks), and each session that ended.
pub async fn watch_sessions(bus: Arc<EventBus>) {
    // Per agent: the state told, and a candidate seen once.
    let mut told: HashMap<String, &'static str> = HashMap::new();
    let mut seen_once: HashMap<String, &'static str> = HashMap::new();
    let mut ticker = tokio::time::interval(SESSION_LOOK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if bus.subscribers() == 0 {
            // Nobody listens: remember nothing, so a new subscriber hears each session's state.
            told.clear();
            seen_once.clear();
            continue;
        }
        let mut now: HashMap<String, (&'static str, String)> = HashMap::new();
        // Running, whether or not its snapshot came in time (a slow one did not end).
        let mut alive = std::collections::HashSet::new();
        for (identity, session) in registry::running_sessions() {
            alive.insert(identity.address.clone());
            if let Ok(Ok(snapshot)) =
                tokio::time::timeout(SNAPSHOT_WAIT, client::snapshot(&session)).await
            {
                let stalled = bus.stalled(&identity.address);
                now.insert(identity.address.clone(), session_state(&snapshot, stalled));
            }
        }
        for (address, (kind, text)) in &now {
            if told.get(address) == Some(kind) {
                seen_once.remove(address);
                continue;
            }
            // A first sighting is told at once; a change only once it held for two looks.
            let first = !told.contains_key(address);
            if first || seen_once.get(address) == Some(kind) {
                told.insert(address.clone(), kind);
                seen_once.remove(address);
                bus.publish(Draft {
                    kind,
                    source: address.clone(),
                    subject: address.clone(),
                    rig: rig_of_address(address),
                    text: format!("{address} {text}"),
                    at: String::new(),
                });
            } else {
                seen_once.insert(address.clone(), kind);
            }
        }
        let gone: Vec<String> = told
            .keys()
            .filter(|a| !alive.contains(*a))
            .cloned()
            .collect();
        for address in gone {
            told.remove(&address);
            seen_once.remove(&address);
            bus.publish(Draft {
                kind: "session.ended",
                source: address.clone(),
                rig: rig_of_address(&address),
                text: format!("{address}'s session ended"),
                subject: address,
                at: String::new(),
            });
        }
    }
}

/// The refinery runs `gate` on a candidate holding `mr` (merging `bead`, by `worker`):
/// `mq.gating` about the merge request. `on_target`: the gate runs on the target alone, to see
/// whether it fails without the batch.
pub fn gating_draft(rig: &str, mr: &str, bead: &str, gate: &str, on_target: bool) -> Draft {
    let text = if on_target {
        format!("{bead} ({mr}): gate {gate} on the target alone")
    } else {
        format!("{bead} ({mr}): gate {gate}")
    };
    Draft {
        kind: "mq.gating",
        source: format!("{rig}/refinery"),
        subject: mr.to_string(),
        rig: rig.to_string(),
        text,
        at: String::new(),
    }
}

fn rig_of_address(address: &str) -> String {
    AgentIdentity::parse(address)
        .ok()
        .and_then(|i| i.rig)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
