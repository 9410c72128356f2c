//! The town's event stream on the wire (`docs/events.md`): what `gastown feed`, `gastown
//! status --watch`-style views and the dashboard read. One flat, typed record per change; the
//! `kind` says what happened (`session.idle`, `bead.closed`, `mq.landed`, …), `subject` what it
//! happened to (an agent's address or a bead id), `source` who did it.

use serde::{Deserialize, Serialize};

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TownEvent {
    /// Its place in the stream: one more than the event before it, from 1 at the start of
    /// `gastown run` (a subscriber that skipped events sees the gap, and a `missed` event).
    pub seq: u64,
    /// Wall-clock time, RFC 3339.
    pub at: String,
    /// `<family>.<what>`: see [`KINDS`].
    pub kind: String,
    /// Who caused it: an agent's address, `overseer`, a supervisor's path.
    pub source: String,
    /// What it is about: an agent's address, a bead id, a tree path.
    pub subject: String,
    /// The rig it belongs to, when it belongs to one ("" otherwise).
    pub rig: String,
    /// One line for people.
    pub text: String,
}

/// Every kind the stream carries, by family.
pub const KINDS: &[&str] = &[
    "supervision.started",
    "supervision.exited",
    "supervision.crashed",
    "supervision.restarted",
    "supervision.backing_off",
    "supervision.start_failed",
    "supervision.gave_up",
    "supervision.shutdown_killed",
    "session.starting",
    "session.working",
    "session.idle",
    "session.blocked",
    "session.stalled",
    "session.ended",
    "bead.created",
    "bead.updated",
    "bead.closed",
    "bead.reopened",
    "bead.deleted",
    "hook.set",
    "hook.cleared",
    "mail.sent",
    "mail.delivered",
    "mail.read",
    "mq.queued",
    "mq.gating",
    "mq.rework",
    "mq.escalated",
    "mq.landed",
    "mq.closed",
    "convoy.created",
    "convoy.progress",
    "convoy.landed",
    "escalation.raised",
    "escalation.acked",
    "escalation.closed",
    "missed",
];

/// Which events a subscriber wants: all of each list that is not empty must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    /// Kinds or families (`mq` takes every `mq.*`); empty: every kind.
    pub kinds: Vec<String>,
    /// Only this rig's events.
    pub rig: Option<String>,
    /// Only events about or by this agent (its address).
    pub agent: Option<String>,
}

impl EventFilter {
    /// Whether `event` passes. A `missed` marker always does (the subscriber must know).
    pub fn wants(&self, event: &TownEvent) -> bool {
        if event.kind == "missed" {
            return true;
        }
        let kind_ok = self.kinds.is_empty()
            || self.kinds.iter().any(|k| {
                event.kind == *k
                    || event
                        .kind
                        .strip_prefix(k.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            });
        let rig_ok = self.rig.as_ref().is_none_or(|r| event.rig == *r);
        let agent_ok = self
            .agent
            .as_ref()
            .is_none_or(|a| event.subject == *a || event.source == *a);
        kind_ok && rig_ok && agent_ok
    }

    /// A kind or family no event has: the subscriber made a typo.
    pub fn unknown_kind(&self) -> Option<&str> {
        self.kinds
            .iter()
            .find(|k| {
                !KINDS.iter().any(|known| {
                    known == k
                        || known
                            .strip_prefix(k.as_str())
                            .is_some_and(|rest| rest.starts_with('.'))
                })
            })
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, subject: &str, rig: &str) -> TownEvent {
        TownEvent {
            seq: 1,
            at: String::new(),
            kind: kind.to_string(),
            source: "overseer".to_string(),
            subject: subject.to_string(),
            rig: rig.to_string(),
            text: String::new(),
        }
    }

    #[test]
    fn a_filter_takes_kinds_families_rigs_and_agents() {
        let all = EventFilter::default();
        assert!(all.wants(&event("mq.landed", "gt-1", "alpha")));
        let mq = EventFilter {
            kinds: vec!["mq".into()],
            ..EventFilter::default()
        };
        assert!(mq.wants(&event("mq.landed", "gt-1", "alpha")));
        assert!(!mq.wants(&event("mail.sent", "gt-1", "alpha")));
        let mqx = EventFilter {
            kinds: vec!["mq.land".into()],
            ..EventFilter::default()
        };
        assert!(
            !mqx.wants(&event("mq.landed", "gt-1", "alpha")),
            "no partial words"
        );
        let beta = EventFilter {
            rig: Some("beta".into()),
            ..EventFilter::default()
        };
        assert!(!beta.wants(&event("mq.landed", "gt-1", "alpha")));
        assert!(beta.wants(&event("missed", "", "")), "missed always passes");
        let nux = EventFilter {
            agent: Some("alpha/polecats/nux".into()),
            ..EventFilter::default()
        };
        assert!(nux.wants(&event("session.idle", "alpha/polecats/nux", "alpha")));
        assert!(!nux.wants(&event("session.idle", "alpha/polecats/max", "alpha")));
    }

    #[test]
    fn an_unknown_kind_is_named() {
        let f = EventFilter {
            kinds: vec!["mq".into(), "session.idle".into(), "mqq".into()],
            ..EventFilter::default()
        };
        assert_eq!(f.unknown_kind(), Some("mqq"));
        let ok = EventFilter {
            kinds: vec!["supervision".into(), "missed".into()],
            ..EventFilter::default()
        };
        assert_eq!(ok.unknown_kind(), None);
    }
}
