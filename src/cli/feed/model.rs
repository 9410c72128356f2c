//! The full-screen feed's state, without I/O: the town's status (from `TownRequest::Status`),
//! the bounded event log, the filters, the selected agent and what overlays the panes. Events
//! update it ([`Model::apply`]); it says when the status should be asked for again
//! ([`Model::status_stale`]) — only because an event said something it shows changed.

use crate::protocol::TownEvent;
use gastown_town::status::{AgentStatus, QueuedMr, TownStatus};
use std::collections::VecDeque;

/// How many events the log keeps (the oldest go first).
pub const LOG_MAX: usize = 2_000;

/// What covers the panes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    /// An agent's screen, from `TownRequest::Peek`.
    Peek {
        agent: String,
        text: String,
    },
}

/// Everything the view shows.
#[derive(Debug, Clone)]
pub struct Model {
    /// The town as `gastown status` sees it; `None` until the first answer.
    pub status: Option<TownStatus>,
    /// Every event received, newest last, at most [`LOG_MAX`].
    pub log: VecDeque<TownEvent>,
    /// The kinds the subscription asked for (empty: all); fixed for the session.
    pub kinds: Vec<String>,
    /// Only this rig's agents, merge requests and events.
    pub rig: Option<String>,
    /// Only the log's events about or by this agent.
    pub log_agent: Option<String>,
    /// The selected agent's address.
    pub selected: Option<String>,
    /// How many of the log's shown lines the view is scrolled up from the newest (0: follow).
    pub scroll: usize,
    pub overlay: Overlay,
    /// One line of news for the header: what an attachment or a peek ended with.
    pub notice: Option<String>,
    /// An event said something the status shows changed: ask for it again.
    pub status_stale: bool,
}

impl Model {
    /// A model with the command line's filters; `agent` is selected and filters the log.
    pub fn new(kinds: Vec<String>, rig: Option<String>, agent: Option<String>) -> Model {
        Model {
            status: None,
            log: VecDeque::new(),
            kinds,
            rig,
            selected: agent.clone(),
            log_agent: agent,
            scroll: 0,
            overlay: Overlay::None,
            notice: None,
            status_stale: false,
        }
    }

    /// A fresh status: the selection stays on its agent when it is still shown.
    pub fn set_status(&mut self, status: TownStatus) {
        self.status = Some(status);
        self.status_stale = false;
        self.keep_selection_visible();
    }

    /// New events: into the log (bounded), session states onto the agents' rows, and the
    /// status marked stale when one says that hooks, agents, convoys or the queue changed.
    pub fn apply(&mut self, events: Vec<TownEvent>) {
        for event in events {
            if self.scroll > 0 && self.log_wants(&event) {
                self.scroll += 1; // Keep the lines being read where they are.
            }
            let family = event.kind.split('.').next().unwrap_or("");
            match family {
                "session" => {
                    if !self.session_changed(&event) {
                        self.status_stale = true; // An agent the status does not know yet.
                    }
                    // These change the rigs' counts too (`stalled` is one of them).
                    if matches!(
                        event.kind.as_str(),
                        "session.starting" | "session.ended" | "session.stalled"
                    ) {
                        self.status_stale = true;
                    }
                }
                "hook" | "mq" | "convoy" | "supervision" => self.status_stale = true,
                _ => {}
            }
            if self.log.len() == LOG_MAX {
                self.log.pop_front();
            }
            self.log.push_back(event);
        }
        let shown = self.log.iter().filter(|e| self.log_wants(e)).count();
        self.scroll = self.scroll.min(shown.saturating_sub(1));
    }

    /// A `session.*` event on its agent's row; false when no row is the event's subject.
    fn session_changed(&mut self, event: &TownEvent) -> bool {
        let Some(status) = &mut self.status else {
            return false;
        };
        let Some(agent) = status
            .agents
            .iter_mut()
            .find(|a| a.address == event.subject)
        else {
            return false;
        };
        let word = event.kind.strip_prefix("session.").unwrap_or(&event.kind);
        // The text is "<address> <state>" ("… blocked: <dialog>"); the kind alone otherwise.
        let state = event
            .text
            .strip_prefix(&format!("{} ", event.subject))
            .filter(|s| s.starts_with(word))
            .unwrap_or(word);
        agent.session = Some(if word == "ended" {
            "not running".to_string()
        } else {
            state.to_string()
        });
        true
    }

    /// The rigs to cycle through, in the status's order.
    pub fn rigs(&self) -> Vec<String> {
        self.status
            .as_ref()
            .map(|s| s.rigs.iter().map(|r| r.name.clone()).collect())
            .unwrap_or_default()
    }

    /// The agents shown: the rig filter's, every one without it.
    pub fn visible_agents(&self) -> Vec<&AgentStatus> {
        let Some(status) = &self.status else {
            return Vec::new();
        };
        status
            .agents
            .iter()
            .filter(|a| self.rig.as_ref().is_none_or(|r| a.rig == *r))
            .collect()
    }

    /// The merge requests shown.
    pub fn visible_merge_queue(&self) -> Vec<&QueuedMr> {
        let Some(status) = &self.status else {
            return Vec::new();
        };
        status
            .merge_queue
            .iter()
            .filter(|m| self.rig.as_ref().is_none_or(|r| m.rig == *r))
            .collect()
    }

    /// Whether the log shows `event`: a `missed` marker always; else the rig filter's events,
    /// and with the agent filter those about it, by it or naming it.
    pub fn log_wants(&self, event: &TownEvent) -> bool {
        if event.kind == "missed" {
            return true;
        }
        let rig_ok = self.rig.as_ref().is_none_or(|r| event.rig == *r);
        let agent_ok = self.log_agent.as_ref().is_none_or(|a| {
            event.subject == *a || event.source == *a || event.text.contains(a.as_str())
        });
        rig_ok && agent_ok
    }

    /// The log's lines to show in `height` rows: the filtered events ending `scroll` lines
    /// above the newest, oldest first.
    pub fn visible_log(&self, height: usize) -> Vec<&TownEvent> {
        let wanted: Vec<&TownEvent> = self.log.iter().filter(|e| self.log_wants(e)).collect();
        let end = wanted.len().saturating_sub(self.scroll);
        let start = end.saturating_sub(height);
        wanted[start..end].to_vec()
    }

    /// The next rig filter: all → each rig in turn → all.
    pub fn cycle_rig(&mut self) {
        let rigs = self.rigs();
        self.rig = match &self.rig {
            None => rigs.first().cloned(),
            Some(now) => rigs
                .iter()
                .position(|r| r == now)
                .and_then(|i| rigs.get(i + 1))
                .cloned(),
        };
        self.scroll = 0;
        self.keep_selection_visible();
    }

    /// Move the selection by `step` rows among the shown agents (wrapping around); the first
    /// one when none is selected.
    pub fn select(&mut self, step: isize) {
        let agents = self.visible_agents();
        if agents.is_empty() {
            self.selected = None;
            return;
        }
        let n = agents.len() as isize;
        let next = match self
            .selected
            .as_ref()
            .and_then(|s| agents.iter().position(|a| a.address == *s))
        {
            Some(i) => (i as isize + step).rem_euclid(n) as usize,
            None => 0,
        };
        self.selected = Some(agents[next].address.clone());
    }

    /// The log filtered by the selected agent, or not any more.
    pub fn toggle_agent_filter(&mut self) {
        self.log_agent = match (&self.log_agent, &self.selected) {
            (Some(_), _) => None,
            (None, Some(agent)) => Some(agent.clone()),
            (None, None) => {
                self.notice = Some("select an agent first (a or Tab)".into());
                None
            }
        };
        self.scroll = 0;
    }

    /// Scroll the log up (towards older lines) by `lines`, or down with a negative number.
    pub fn scroll_by(&mut self, lines: isize) {
        let shown = self.log.iter().filter(|e| self.log_wants(e)).count();
        let max = shown.saturating_sub(1) as isize;
        self.scroll = (self.scroll as isize + lines).clamp(0, max.max(0)) as usize;
    }

    /// The selection off an agent no longer shown (another rig's, or gone).
    fn keep_selection_visible(&mut self) {
        let agents = self.visible_agents();
        let still = self
            .selected
            .as_ref()
            .is_some_and(|s| agents.iter().any(|a| a.address == *s));
        if !still && self.status.is_some() {
            self.selected = agents.first().map(|a| a.address.clone());
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use gastown_town::status::{ConvoyStatus, Hooked, MailStatus, RigStatus};

    pub fn event(seq: u64, kind: &str, subject: &str, rig: &str, text: &str) -> TownEvent {
        TownEvent {
            seq,
            at: "2026-01-02T08:56:54.481Z".to_string(),
            kind: kind.to_string(),
            source: "overseer".to_string(),
            subject: subject.to_string(),
            rig: rig.to_string(),
            text: text.to_string(),
        }
    }

    fn agent(address: &str, rig: &str, session: &str, hook: Option<&str>) -> AgentStatus {
        AgentStatus {
            address: address.to_string(),
            role: match address.split('/').nth(1) {
                Some("polecats") => "polecat",
                Some(other) => other,
                None => address,
            }
            .to_string(),
            rig: rig.to_string(),
            state: if hook.is_some() { "working" } else { "idle" }.to_string(),
            stuck: None,
            hook: hook.map(|h| Hooked {
                id: h.to_string(),
                title: format!("title of {h}"),
                step: None,
            }),
            runtime: Some("sim".to_string()),
            unread: 0,
            dnd: false,
            session: Some(session.to_string()),
            limited_until: None,
        }
    }

    fn rig(name: &str) -> RigStatus {
        RigStatus {
            name: name.to_string(),
            problem: None,
            polecats: 1,
            working: 1,
            stalled: 0,
            idle: 0,
            stuck: 0,
            queued: 0,
            merge_requests: 1,
            last_landing: None,
            running: Some(true),
            queued_for_budget: 0,
            paused: None,
        }
    }

    /// Two rigs, three agents, a convoy half done and one merge request per rig.
    pub fn status() -> TownStatus {
        TownStatus {
            town: "/tmp/town".to_string(),
            at: "2026-01-02T08:56:54Z".to_string(),
            live: true,
            attention: Vec::new(),
            rigs: vec![rig("alpha"), rig("beta")],
            agents: vec![
                agent("mayor", "", "idle", None),
                agent("alpha/polecats/nux", "alpha", "working", Some("al-1")),
                agent("beta/crew/max", "beta", "idle", None),
            ],
            convoys: vec![ConvoyStatus {
                id: "gt-c1".to_string(),
                name: "Greetings".to_string(),
                closed: 1,
                total: 2,
            }],
            merge_queue: vec![
                QueuedMr {
                    id: "al-m1".to_string(),
                    rig: "alpha".to_string(),
                    bead: "al-1".to_string(),
                    worker: "alpha/polecats/nux".to_string(),
                    state: "queued".to_string(),
                    retries: 0,
                },
                QueuedMr {
                    id: "be-m2".to_string(),
                    rig: "beta".to_string(),
                    bead: "be-7".to_string(),
                    worker: "beta/crew/max".to_string(),
                    state: "rework".to_string(),
                    retries: 2,
                },
            ],
            escalations: Vec::new(),
            mail: MailStatus {
                unread: 0,
                latest: Vec::new(),
            },
            spend: None,
            limits: Vec::new(),
        }
    }

    pub fn loaded() -> Model {
        let mut m = Model::new(Vec::new(), None, None);
        m.set_status(status());
        m
    }

    #[test]
    fn a_session_event_updates_its_agents_row_without_asking_again() {
        let mut m = loaded();
        m.apply(vec![event(
            1,
            "session.blocked",
            "beta/crew/max",
            "beta",
            "beta/crew/max blocked: trust dialog",
        )]);
        let max = &m.visible_agents()[2];
        assert_eq!(max.session.as_deref(), Some("blocked: trust dialog"));
        assert!(!m.status_stale, "a known agent's state needs no new status");
        m.apply(vec![event(
            2,
            "session.ended",
            "beta/crew/max",
            "beta",
            "beta/crew/max's session ended",
        )]);
        assert_eq!(
            m.visible_agents()[2].session.as_deref(),
            Some("not running")
        );
        assert!(m.status_stale, "an ended session may change the agents");
        // The witness's judgement: shown on the row, and the rigs' counts asked for again.
        let mut m = loaded();
        m.apply(vec![event(
            3,
            "session.stalled",
            "beta/crew/max",
            "beta",
            "beta/crew/max stalled (hung)",
        )]);
        assert_eq!(
            m.visible_agents()[2].session.as_deref(),
            Some("stalled (hung)")
        );
        assert!(m.status_stale, "a stalled polecat changes its rig's counts");
    }

    #[test]
    fn hooks_the_queue_convoys_and_unknown_agents_make_the_status_stale() {
        for (kind, subject) in [
            ("hook.set", "al-2"),
            ("mq.landed", "al-m1"),
            ("convoy.progress", "gt-c1"),
            (
                "supervision.started",
                "town/rigs/alpha/polecats/max/session",
            ),
            ("session.idle", "alpha/polecats/new"),
        ] {
            let mut m = loaded();
            m.apply(vec![event(1, kind, subject, "alpha", "x")]);
            assert!(m.status_stale, "{kind}");
            m.set_status(status());
            assert!(!m.status_stale, "a fresh status is not stale");
        }
        let mut m = loaded();
        m.apply(vec![event(1, "mail.sent", "gt-9", "", "mail to mayor: hi")]);
        assert!(!m.status_stale, "mail changes nothing shown");
    }

    #[test]
    fn the_log_is_bounded_and_keeps_the_newest() {
        let mut m = loaded();
        let events: Vec<TownEvent> = (1..=(LOG_MAX as u64 + 5))
            .map(|i| event(i, "bead.created", &format!("gt-{i}"), "", "x"))
            .collect();
        m.apply(events);
        assert_eq!(m.log.len(), LOG_MAX);
        assert_eq!(m.log.front().map(|e| e.seq), Some(6));
        assert_eq!(m.log.back().map(|e| e.seq), Some(LOG_MAX as u64 + 5));
        let shown = m.visible_log(3);
        let seqs: Vec<u64> = shown.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            [LOG_MAX as u64 + 3, LOG_MAX as u64 + 4, LOG_MAX as u64 + 5]
        );
    }

    #[test]
    fn filters_take_rigs_and_agents_and_missed_markers_always_pass() {
        let mut m = loaded();
        m.apply(vec![
            event(1, "bead.created", "gt-1", "", "town bead"),
            event(
                2,
                "hook.set",
                "al-1",
                "alpha",
                "al-1 on alpha/polecats/nux's hook: x",
            ),
            event(
                3,
                "session.idle",
                "beta/crew/max",
                "beta",
                "beta/crew/max idle",
            ),
            event(4, "missed", "", "", "missed 7 events: slow"),
        ]);
        m.cycle_rig();
        assert_eq!(m.rig.as_deref(), Some("alpha"));
        let seqs: Vec<u64> = m.visible_log(10).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 4]);
        assert_eq!(
            m.visible_agents()
                .iter()
                .map(|a| a.address.as_str())
                .collect::<Vec<_>>(),
            ["alpha/polecats/nux"]
        );
        assert_eq!(m.visible_merge_queue().len(), 1);
        assert_eq!(m.selected.as_deref(), Some("alpha/polecats/nux"));
        m.cycle_rig();
        assert_eq!(m.rig.as_deref(), Some("beta"));
        m.cycle_rig();
        assert_eq!(m.rig, None, "after the last rig: all again");
        // The agent filter: events about it, by it or naming it.
        m.selected = Some("alpha/polecats/nux".into());
        m.toggle_agent_filter();
        let seqs: Vec<u64> = m.visible_log(10).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 4]);
        m.toggle_agent_filter();
        assert_eq!(m.visible_log(10).len(), 4);
    }

    #[test]
    fn selection_wraps_and_scrolling_stays_in_the_log() {
        let mut m = loaded();
        assert_eq!(m.selected.as_deref(), Some("mayor"), "the first agent");
        m.select(1);
        assert_eq!(m.selected.as_deref(), Some("alpha/polecats/nux"));
        m.select(-2);
        assert_eq!(m.selected.as_deref(), Some("beta/crew/max"), "wraps");
        m.apply(
            (1..=5)
                .map(|i| event(i, "bead.created", "gt-1", "", "x"))
                .collect(),
        );
        m.scroll_by(2);
        assert_eq!(
            m.visible_log(2).iter().map(|e| e.seq).collect::<Vec<_>>(),
            [2, 3]
        );
        m.apply(vec![event(6, "bead.created", "gt-1", "", "x")]);
        assert_eq!(
            m.visible_log(2).iter().map(|e| e.seq).collect::<Vec<_>>(),
            [2, 3],
            "a scrolled log stays where it is"
        );
        m.scroll_by(100);
        assert_eq!(m.scroll, 5, "no further than the oldest line");
        m.scroll_by(-100);
        assert_eq!(m.scroll, 0);
    }
}
