//! Samples of every town reply.

use super::{bead, s};
use crate::protocol::{ActorDetail, ActorEvent, ActorNode, TownReply};
use gastown_beads::{Event, EventKind};
use gastown_town::command::agent::{HookView, Seance, SessionRecord};
use gastown_town::command::bead::{BeadOutcome, BlockedBead, Changed};
use gastown_town::command::convoy::ConvoyOutcome;
use gastown_town::command::escalation::EscalateOutcome;
use gastown_town::command::mail::{ChannelSummary, Group, MailOutcome, QueueItem, QueueSummary};
use gastown_town::command::mol::{CurrentStep, MolOutcome, MoleculeStatus, StepDetail, StepStatus};
use gastown_town::command::mq::{MqOutcome, OnOrigin};
use gastown_town::convoy::{ConvoyLanded, Progress, Tracked};
use gastown_town::escalation::routing::Outside;
use gastown_town::escalation::{Escalation, Severity, State};
use gastown_town::molecule::{Burned, Poured, Squashed, StepDone, StepRef, StepState};
use gastown_town::refinery::{MergeRequest, ProcessSummary, QueueState};
use gastown_town::rig::orphans::Claims;
use std::path::PathBuf;

/// Every reply the supervisor sends.
pub fn replies() -> Vec<TownReply> {
    let mut all: Vec<TownReply> = bead_replies().into_iter().map(TownReply::Bead).collect();
    all.extend(mail_replies().into_iter().map(TownReply::Mail));
    all.extend(mol_replies().into_iter().map(TownReply::Mol));
    all.extend(mq_replies().into_iter().map(TownReply::Mq));
    all.extend(convoy_replies().into_iter().map(TownReply::Convoy));
    all.extend(live_replies());
    all.extend(escalation_replies().into_iter().map(TownReply::Escalation));
    let dog = gastown_town::dogs::DogReport {
        name: s("checkpoint"),
        every: s("5m"),
        enabled: true,
        running: true,
        runs: 3,
        last_run: Some(s("2026-01-02T03:04:05Z")),
        last_outcome: Some(s("1 saved, 2 unchanged, 0 clean")),
        last_ok: Some(true),
        failures_in_a_row: 0,
        session: None,
    };
    all.push(TownReply::Dogs(vec![dog.clone()]));
    all.push(TownReply::DogRan(dog));
    all.push(TownReply::Status(Box::new(status())));
    all.push(TownReply::Events(vec![crate::protocol::TownEvent {
        seq: 7,
        at: s("2026-01-02T03:04:05.678Z"),
        kind: s("mq.landed"),
        source: s("alpha/refinery"),
        subject: s("gt-mr1"),
        rig: s("alpha"),
        text: s("gt-abc landed (gt-mr1 by alpha/polecats/nux)"),
    }]));
    all.push(TownReply::Costs(Box::new(
        gastown_town::costs::record::CostsView {
            rows: vec![gastown_town::costs::record::UsageRow {
                agent: s("alpha/polecats/nux"),
                rig: s("alpha"),
                convoy: s("gt-cv1"),
                entry: gastown_town::costs::record::UsageEntry {
                    runtime: s("claude"),
                    model: s("claude-sonnet-4-5"),
                    day: s("2026-01-02"),
                    bead: s("gt-abc"),
                    tokens: gastown_town::costs::usage::Tokens {
                        input: 1200,
                        output: 300,
                        cache_write: 40,
                        cache_read: 5000,
                    },
                },
            }],
            problems: vec![s("alpha/polecats/nux: transcript /t/x.jsonl is missing")],
        },
    )));
    all.push(TownReply::Doctor(vec![gastown_town::doctor::Check {
        name: s("stale-hooks"),
        status: gastown_town::doctor::Status::Warn,
        found: s("gt-abc is hooked to alpha/polecats/gone, whose rig is gone"),
        fix: Some(s("`gastown doctor --fix` releases it back to ready")),
        fixed: true,
    }]));
    all
}

fn status() -> gastown_town::status::TownStatus {
    use gastown_town::status::*;
    TownStatus {
        town: s("/home/me/town"),
        at: s("2026-01-02T03:04:05Z"),
        live: true,
        attention: vec![Attention {
            level: s("high"),
            what: s("alpha/crew/max waits on a dialog: trust: Do you trust this folder?"),
            command: s("gastown attach alpha/crew/max"),
        }],
        rigs: vec![RigStatus {
            name: s("alpha"),
            problem: None,
            polecats: 2,
            working: 1,
            stalled: 0,
            idle: 1,
            stuck: 0,
            queued: 3,
            merge_requests: 1,
            last_landing: Some(Landing {
                mr: s("gt-mr1"),
                bead: s("gt-abc"),
                at: s("2026-01-02T03:04:05Z"),
            }),
            running: Some(true),
            queued_for_budget: 1,
            paused: Some(s(
                "the town daily budget is $25.00: $26.10 spent today (104 %)",
            )),
        }],
        agents: vec![AgentStatus {
            address: s("alpha/polecats/nux"),
            role: s("polecat"),
            rig: s("alpha"),
            state: s("working"),
            stuck: None,
            hook: Some(Hooked {
                id: s("gt-abc"),
                title: s("Add a greeting"),
                step: Some(s("implement (3/7)")),
            }),
            runtime: Some(s("claude")),
            unread: 1,
            dnd: false,
            session: Some(s("working")),
            limited_until: Some(s("2026-01-02T05:00:00Z")),
        }],
        convoys: vec![ConvoyStatus {
            id: s("gt-cv1"),
            name: s("Greetings"),
            closed: 1,
            total: 2,
        }],
        merge_queue: vec![QueuedMr {
            id: s("gt-mr2"),
            rig: s("alpha"),
            bead: s("gt-def"),
            worker: s("alpha/polecats/slit"),
            state: s("queued"),
            retries: 0,
        }],
        escalations: vec![EscalationStatus {
            id: s("gt-esc"),
            severity: s("low"),
            state: s("acked"),
            source: s("deacon"),
            message: s("a small thing"),
            raised_at: s("2026-01-02T03:04:05Z"),
            count: 1,
        }],
        mail: MailStatus {
            unread: 1,
            latest: vec![MailLine {
                id: s("gt-m1"),
                from: s("mayor"),
                subject: s("Convoy halfway"),
            }],
        },
        spend: Some(SpendStatus {
            day: s("2026-01-02"),
            today: 26.1,
            total: 120.5,
            rigs: vec![RigSpend {
                rig: s("alpha"),
                today: 26.1,
                total: 120.5,
            }],
            budgets: vec![gastown_town::budget::BudgetUse {
                scope: s("town"),
                name: s(""),
                daily: Some(25.0),
                total: None,
                spent_today: 26.1,
                spent_total: 120.5,
                level: gastown_town::budget::Level::Paused,
                reason: Some(s(
                    "the town daily budget is $25.00: $26.10 spent today (104 %)",
                )),
            }],
            unpriced: Vec::new(),
        }),
        limits: vec![LimitStatus {
            runtime: s("claude"),
            account: Some(s("work")),
            waits: true,
            until: s("2026-01-02T05:00:00Z"),
            line: s("usage limit: You've hit your limit · resets 5am (UTC)"),
        }],
    }
}

fn escalation() -> Escalation {
    Escalation {
        id: s("gt-esc"),
        severity: Severity::High,
        source: s("alpha/witness"),
        bead: Some(s("gt-a")),
        message: s("the gate hangs"),
        state: State::Open,
        count: 2,
        raised_at: s("2026-01-02T03:04:05Z"),
        last_raised_at: s("2026-01-02T03:05:05Z"),
        acked_by: None,
        acked_at: None,
        closed_reason: None,
        judge: None,
        judge_until: None,
        judge_released: None,
        judge_note: None,
    }
}

fn escalation_replies() -> Vec<EscalateOutcome> {
    vec![
        EscalateOutcome::Raised {
            escalation: escalation(),
            folded: true,
            routed: vec![s("mail:mayor"), s("bell")],
            outside: vec![Outside::Bell],
        },
        EscalateOutcome::Listed {
            all: true,
            escalations: vec![escalation()],
        },
        EscalateOutcome::Shown(escalation()),
        EscalateOutcome::Acked(escalation()),
        EscalateOutcome::Closed(escalation()),
        EscalateOutcome::Forwarded {
            escalation: escalation(),
            routed: vec![s("mail:mayor")],
            outside: vec![Outside::Bell],
        },
    ]
}

fn bead_replies() -> Vec<BeadOutcome> {
    let changed = Changed {
        bead: bead("gt-a", "one"),
        notes: vec![s("molecule gt-mol closed with its work")],
    };
    vec![
        BeadOutcome::Created(bead("gt-a", "one")),
        BeadOutcome::Shown(bead("gt-a", "one")),
        BeadOutcome::Listed(vec![bead("gt-a", "one"), bead("gt-b", "two")]),
        BeadOutcome::Ready(vec![bead("gt-a", "one")]),
        BeadOutcome::Blocked(vec![BlockedBead {
            bead: bead("gt-b", "two"),
            blocked_by: vec![s("gt-a")],
        }]),
        BeadOutcome::Updated(changed.clone()),
        BeadOutcome::Closed(vec![changed]),
        BeadOutcome::Reopened(vec![bead("gt-a", "one")]),
        BeadOutcome::Commented(bead("gt-a", "one")),
        BeadOutcome::DependencyAdded {
            issue: s("gt-a"),
            depends_on: s("gt-b"),
            kind: s("blocks"),
        },
        BeadOutcome::DependencyRemoved {
            issue: s("gt-a"),
            depends_on: s("gt-b"),
        },
        BeadOutcome::LabelAdded {
            id: s("gt-a"),
            label: s("p"),
        },
        BeadOutcome::LabelRemoved {
            id: s("gt-a"),
            label: s("p"),
        },
        BeadOutcome::Imported {
            file: PathBuf::from("/tmp/issues.jsonl"),
            created: 3,
            updated: 2,
            unchanged: 1,
            wisps: 0,
        },
        BeadOutcome::Exported {
            jsonl: format!("{}\n", bead("gt-a", "one").to_json_line()),
        },
        BeadOutcome::ExportedTo {
            path: PathBuf::from("/tmp/out.jsonl"),
            beads: 12,
        },
        BeadOutcome::Events(vec![Event {
            issue_id: s("gt-a"),
            kind: EventKind::StatusChanged,
            actor: s("overseer"),
            at: s("2026-01-02T03:04:05Z"),
            old: Some(s("open")),
            new: Some(s("closed")),
        }]),
    ]
}

fn mail_replies() -> Vec<MailOutcome> {
    vec![
        MailOutcome::Sent {
            to: s("@team"),
            mail: vec![bead("gt-m1", "hello"), bead("gt-m2", "hello")],
        },
        MailOutcome::Replied(bead("gt-m3", "Re: hello")),
        MailOutcome::Inbox {
            address: s("mayor"),
            all: false,
            total: 3,
            mail: vec![bead("gt-m1", "hello")],
        },
        MailOutcome::Message(bead("gt-m1", "hello")),
        MailOutcome::Marked {
            ids: vec![s("gt-m1")],
            state: s("archived"),
        },
        MailOutcome::Found(vec![bead("gt-m1", "hello")]),
        MailOutcome::Unread {
            address: s("mayor"),
            inject: true,
            mail: vec![bead("gt-m1", "hello")],
        },
        MailOutcome::Noted(s("created group @team (gt-g) with 1 member(s)\n")),
        MailOutcome::Groups(vec![Group {
            name: s("team"),
            members: vec![s("mayor")],
        }]),
        MailOutcome::Queues(vec![QueueSummary {
            name: s("work"),
            open: 2,
        }]),
        MailOutcome::QueueItems(vec![QueueItem {
            id: s("gt-q"),
            claimant: Some(s("alpha/crew/max")),
            title: s("triage"),
        }]),
        MailOutcome::Channels(vec![ChannelSummary {
            address: s("channel:news"),
            subscribers: vec![s("mayor")],
        }]),
    ]
}

fn step(step: &str, bead: &str) -> StepRef {
    StepRef {
        step: s(step),
        bead: s(bead),
        title: format!("Step {step}"),
    }
}

fn mol_replies() -> Vec<MolOutcome> {
    vec![
        MolOutcome::Poured {
            wisp: false,
            poured: Poured {
                molecule: s("gt-mol"),
                title: s("mol-polecat-work"),
                formula: s("mol-polecat-work"),
                ephemeral: false,
                steps: vec![step("design", "gt-mol.1"), step("implement", "gt-mol.2")],
            },
            warnings: vec![s("warning: variable x is unused")],
        },
        MolOutcome::Status(vec![MoleculeStatus {
            molecule: s("gt-mol"),
            title: s("mol-polecat-work"),
            status: s("open"),
            formula: Some(s("mol-polecat-work")),
            ephemeral: true,
            assignee: s("alpha/polecats/nux"),
            done: 1,
            total: 2,
            current: Some(s("implement")),
            missing: vec![s("gt-mol.3")],
            steps: vec![StepStatus {
                step: s("design"),
                bead: s("gt-mol.1"),
                title: s("Design"),
                state: StepState::Done,
                status: s("closed"),
                needs: vec![s("gt-a")],
            }],
        }]),
        MolOutcome::Current(CurrentStep {
            molecule: s("gt-mol"),
            done: 1,
            total: 2,
            step: Some(StepDetail {
                step: s("implement"),
                bead: s("gt-mol.2"),
                title: s("Implement"),
                description: s("Write it"),
                acceptance: s("Tests pass"),
            }),
        }),
        MolOutcome::StepDone(StepDone::Closed {
            molecule: s("gt-mol"),
            step: step("design", "gt-mol.1"),
            next: Some(step("implement", "gt-mol.2")),
            done: 1,
            total: 2,
            molecule_closed: false,
        }),
        MolOutcome::Squashed(Squashed {
            molecule: s("gt-mol"),
            digest: s("gt-dig"),
            closed: vec![s("gt-mol.2")],
            burned: Vec::new(),
        }),
        MolOutcome::Burned(Burned {
            molecule: s("gt-wisp"),
            steps: vec![s("gt-wisp.1")],
        }),
    ]
}

fn merge_request() -> MergeRequest {
    MergeRequest {
        id: s("al-mr1"),
        title: s("Merge polecat/nux"),
        rig: s("alpha"),
        branch: s("polecat/nux"),
        target: s("main"),
        source_bead: s("al-a"),
        worker: s("alpha/polecats/nux"),
        commit: s("0123456789abcdef0123456789abcdef01234567"),
        retry_count: 1,
        priority: 2,
        created_at: s("2026-01-02T03:04:05Z"),
        rework_from: None,
        target_broken_at: Some(s("fedcba9876543210fedcba9876543210fedcba98")),
        // Not in the MR's JSON (`serde(skip)`), so never on the wire.
        last_failure: None,
        merge_commit: None,
        state: QueueState::Queued,
    }
}

fn mq_replies() -> Vec<MqOutcome> {
    vec![
        MqOutcome::Queue {
            rig: Some(s("alpha")),
            merge_requests: vec![merge_request()],
        },
        MqOutcome::Shown {
            merge_request: Box::new(merge_request()),
            on_origin: Some(OnOrigin::AtEarlier(s("0123abcd"))),
            closed: None,
        },
        MqOutcome::Retried {
            id: s("al-mr1"),
            rig: s("alpha"),
            tries: 2,
        },
        MqOutcome::Rejected {
            id: s("al-mr1"),
            source_bead: s("al-a"),
            worker: s("alpha/polecats/nux"),
            branch: s("polecat/nux"),
        },
        MqOutcome::Processed(ProcessSummary {
            rig: s("alpha"),
            merged: 3,
            batches: 1,
            notes: vec![s("al-mr1: merged")],
            ..ProcessSummary::default()
        }),
    ]
}

fn progress() -> Progress {
    Progress {
        id: s("gt-c"),
        name: s("Feature X"),
        status: s("open"),
        notify: true,
        closed: 1,
        total: 2,
        created_at: s("2026-01-02T03:04:05Z"),
        closed_at: None,
        close_reason: String::new(),
        beads: vec![Tracked {
            id: s("gt-a"),
            title: s("one"),
            status: s("hooked"),
            assignee: s("alpha/polecats/nux"),
            done: false,
            held: Some(s("on alpha/polecats/nux's hook for 5m")),
        }],
    }
}

fn landed() -> Vec<ConvoyLanded> {
    vec![ConvoyLanded {
        id: s("gt-c2"),
        name: s("Feature Y"),
        beads: vec![s("gt-x")],
        notify: false,
    }]
}

fn convoy_replies() -> Vec<ConvoyOutcome> {
    vec![
        ConvoyOutcome::Created {
            progress: progress(),
            notify: true,
        },
        ConvoyOutcome::Listed {
            landed: landed(),
            all: false,
            convoys: vec![progress()],
        },
        ConvoyOutcome::Shown {
            landed: Vec::new(),
            progress: progress(),
        },
        ConvoyOutcome::Added {
            id: s("gt-c"),
            title: s("Feature X"),
            added: 1,
            total: 3,
            landed: landed(),
        },
        ConvoyOutcome::Closed {
            id: s("gt-c"),
            title: s("Feature X"),
        },
        ConvoyOutcome::Refreshed { landed: landed() },
        ConvoyOutcome::Budgeted {
            id: s("gt-c1"),
            title: s("Greetings"),
            daily: Some(25.0),
            total: None,
        },
    ]
}

fn node(path: &str, children: Vec<ActorNode>) -> ActorNode {
    ActorNode {
        path: s(path),
        role: s("session"),
        kind: s("worker"),
        state: s("running"),
        pid: Some(4242),
        uptime_ms: Some(1500),
        restarts_total: 2,
        restarts_recent: 1,
        last_failure: Some(s("killed by signal 9 (2026-01-02T03:04:05Z)")),
        mailbox_depth: Some(3),
        strategy: None,
        children,
        note: None,
    }
}

fn live_replies() -> Vec<TownReply> {
    let mut claims = Claims::default();
    claims.identities.insert(s("alpha/polecats/nux"));
    claims
        .hooks
        .insert(s("alpha/polecats/nux"), vec![s("al-a")]);
    claims.branches.insert(s("polecat/nux"));
    vec![
        TownReply::Work {
            text: s("slung gt-a to alpha/polecats/nux\n"),
        },
        TownReply::Hook(HookView {
            address: s("alpha/crew/max"),
            beads: vec![bead("gt-a", "one")],
        }),
        TownReply::Seance(Seance {
            agent: s("alpha/crew/max"),
            state: Some(s("idle")),
            sessions: vec![SessionRecord {
                id: s("s1"),
                runtime: s("sim"),
                account: s("-"),
                started_at: s("2026-01-02T03:04:05Z"),
                ended_at: s("-"),
                exit: s("-"),
                runtime_session: s("-"),
            }],
        }),
        TownReply::Synced(Box::new(gastown_town::sync::SyncReport {
            remote: Some(s("origin")),
            committed: 4,
            remote_empty: false,
            taken: 2,
            merged: 1,
            kept_edits: vec![s("gt-a1")],
            rekeyed: vec![(s("gt-b2"), s("gt-b2-0a1b2c"))],
            fast_forward: false,
            pushed: Some(s("0123456789abcdef0123456789abcdef01234567")),
            retries: 1,
            tip: Some(s("0123456789abcdef0123456789abcdef01234567")),
            town_branch: Some(s("main")),
        })),
        TownReply::Claims(claims),
        TownReply::Tree(node("town", vec![node("town/mayor", Vec::new())])),
        TownReply::Actor(ActorDetail {
            actor: node("town/mayor/session", Vec::new()),
            events: vec![ActorEvent {
                supervisor: s("town/mayor"),
                child: s("session"),
                kind: s("exited"),
                context: s("child_terminated"),
                exit: Some(s("abnormal")),
                reason: s("killed by signal 9"),
                delay_ms: Some(250),
                at: s("2026-01-02T03:04:05.678Z"),
            }],
        }),
        TownReply::Screen {
            agent: s("mayor"),
            text: s("sim> "),
        },
        TownReply::Nudged { agent: s("mayor") },
        TownReply::Restarted { agent: s("mayor") },
        TownReply::Killed {
            agent: s("mayor"),
            pid: Some(4242),
        },
        TownReply::Spawned {
            text: s("spawned alpha/crew/max (sim)\n"),
        },
        TownReply::Attached {
            id: 7,
            screen: b"\x1b[Hsim> ".to_vec(),
        },
        TownReply::Output {
            bytes: b"hello\r\n".to_vec(),
            ended: true,
        },
        TownReply::Done,
    ]
}
