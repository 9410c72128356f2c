//! One sample of every town request and reply (every variant, nested ones included), for the
//! golden-bytes test. Adding a variant? Add a sample here too: the test checks that every
//! variant of every command family has one, and the bytes then change, as they must.

use super::{ActorDetail, ActorEvent, ActorNode, Synced, TownReply, TownRequest};
use gastown_beads::{Bead, Event, EventKind};
use gastown_town::command::agent::{HookView, Seance, SessionRecord};
use gastown_town::command::bead::{
    BeadOutcome, BeadRequest, BlockedBead, Changed, CreateRequest, ListRequest, UpdateRequest,
};
use gastown_town::command::convoy::{ConvoyOutcome, ConvoyRequest};
use gastown_town::command::mail::{
    ChannelRequest, ChannelSummary, Group, GroupRequest, MailOutcome, MailRequest, QueueItem,
    QueueRequest, QueueSummary, SendRequest,
};
use gastown_town::command::mol::{
    CurrentStep, MolOutcome, MolRequest, MoleculeStatus, PourRequest, StepDetail, StepStatus,
};
use gastown_town::command::mq::{MqOutcome, MqRequest, OnOrigin};
use gastown_town::convoy::{ConvoyLanded, Progress, Tracked};
use gastown_town::molecule::{Burned, Poured, Squashed, StepDone, StepRef, StepState};
use gastown_town::refinery::{MergeRequest, ProcessSummary, QueueState};
use gastown_town::rig::orphans::Claims;
use gastown_town::work::{DoneStatus, HookAction, WorkCommand};
use std::path::PathBuf;

fn s(text: &str) -> String {
    text.to_string()
}

/// A bead with fixed times and a field no version of gastown knows (it must cross intact).
fn bead(id: &str, title: &str) -> Bead {
    let mut bead = Bead::new(id, title);
    bead.created_at = s("2026-01-02T03:04:05Z");
    bead.updated_at = s("2026-01-02T03:04:05Z");
    bead.labels = vec![s("urgent")];
    bead.extra
        .insert(s("from_the_future"), serde_json::json!({"kept": true}));
    bead
}

/// Every request the CLI and sessions send.
pub fn requests() -> Vec<TownRequest> {
    let mut all: Vec<TownRequest> = bead_requests().into_iter().map(TownRequest::Bead).collect();
    all.extend(mail_requests().into_iter().map(TownRequest::Mail));
    all.extend(mol_requests().into_iter().map(TownRequest::Mol));
    all.extend(
        [
            MqRequest::List {
                rig: Some(s("alpha")),
            },
            MqRequest::Show { mr: s("al-mr1") },
            MqRequest::Retry { mr: s("al-mr1") },
            MqRequest::Reject {
                mr: s("al-mr1"),
                reason: Some(s("wrong approach")),
            },
            MqRequest::Process {
                rig: s("alpha"),
                all: true,
                worktree_merge: false,
                land_only: true,
            },
        ]
        .map(TownRequest::Mq),
    );
    all.extend(
        [
            ConvoyRequest::Create {
                name: s("Feature X"),
                beads: vec![s("gt-a"), s("gt-b")],
                notify: true,
            },
            ConvoyRequest::List { all: true },
            ConvoyRequest::Show { id: None },
            ConvoyRequest::Add {
                convoy: s("gt-c"),
                beads: vec![s("gt-d")],
            },
            ConvoyRequest::Close {
                convoy: s("gt-c"),
                reason: Some(s("done by hand")),
            },
            ConvoyRequest::Refresh,
        ]
        .map(TownRequest::Convoy),
    );
    all.extend(work_requests().into_iter().map(TownRequest::Work));
    all.extend(live_requests());
    all
}

fn bead_requests() -> Vec<BeadRequest> {
    vec![
        BeadRequest::Create(CreateRequest {
            title: s("Fix the parser"),
            issue_type: s("bug"),
            priority: s("P1"),
            description: s("It drops the last line"),
            design: s("Read to EOF"),
            acceptance: s("All lines parsed"),
            notes: s("Seen twice"),
            assignee: s("alpha/polecats/nux"),
            labels: vec![s("parser")],
            deps: vec![s("discovered-from:gt-a")],
            parent: Some(s("gt-e")),
            rig: Some(s("alpha")),
        }),
        BeadRequest::Show { id: s("gt-a") },
        BeadRequest::List(ListRequest {
            status: Some(s("open")),
            issue_type: Some(s("task")),
            assignee: Some(s("mayor")),
            label: Some(s("parser")),
            all: true,
        }),
        BeadRequest::Update(UpdateRequest {
            id: s("gt-a"),
            title: Some(s("New title")),
            status: Some(s("closed")),
            priority: Some(s("3")),
            issue_type: Some(s("chore")),
            assignee: Some(String::new()),
            description: None,
            design: None,
            acceptance: None,
            notes: Some(s("more")),
        }),
        BeadRequest::Close {
            ids: vec![s("gt-a"), s("gt-b")],
            reason: s("fixed"),
        },
        BeadRequest::Reopen {
            ids: vec![s("gt-a")],
        },
        BeadRequest::DepAdd {
            issue: s("gt-a"),
            depends_on: s("gt-b"),
            kind: s("blocks"),
        },
        BeadRequest::DepRemove {
            issue: s("gt-a"),
            depends_on: s("gt-b"),
        },
        BeadRequest::Ready,
        BeadRequest::Blocked,
        BeadRequest::LabelAdd {
            id: s("gt-a"),
            label: s("p"),
        },
        BeadRequest::LabelRemove {
            id: s("gt-a"),
            label: s("p"),
        },
        BeadRequest::Comment {
            id: s("gt-a"),
            text: s("looks good"),
        },
        BeadRequest::Import {
            file: PathBuf::from("/tmp/issues.jsonl"),
        },
        BeadRequest::Export {
            output: Some(PathBuf::from("/tmp/out.jsonl")),
        },
        BeadRequest::Events { id: s("gt-a") },
    ]
}

fn mail_requests() -> Vec<MailRequest> {
    vec![
        MailRequest::Send(SendRequest {
            address: s("mayor"),
            subject: s("hello"),
            message: Some(s("body")),
            urgent: true,
            reply_to: Some(s("gt-m")),
        }),
        MailRequest::Inbox {
            address: Some(s("mayor")),
            all: true,
            limit: 1000,
        },
        MailRequest::Read { id: s("gt-m") },
        MailRequest::Ack {
            ids: vec![s("gt-m")],
        },
        MailRequest::Archive {
            ids: vec![s("gt-m")],
        },
        MailRequest::MarkUnread {
            ids: vec![s("gt-m")],
        },
        MailRequest::Reply {
            id: s("gt-m"),
            message: None,
            urgent: false,
        },
        MailRequest::Thread { id: s("gt-m") },
        MailRequest::Search { text: s("parser") },
        MailRequest::Check { inject: true },
        MailRequest::Group(GroupRequest::Create {
            name: s("team"),
            members: vec![s("mayor")],
        }),
        MailRequest::Group(GroupRequest::Add {
            name: s("team"),
            members: vec![s("deacon")],
        }),
        MailRequest::Group(GroupRequest::Remove {
            name: s("team"),
            members: vec![s("deacon")],
        }),
        MailRequest::Group(GroupRequest::List { name: None }),
        MailRequest::Queue(QueueRequest::Create { name: s("work") }),
        MailRequest::Queue(QueueRequest::Claim { target: s("work") }),
        MailRequest::Queue(QueueRequest::Release { id: s("gt-q") }),
        MailRequest::Queue(QueueRequest::List {
            name: Some(s("work")),
        }),
        MailRequest::Channel(ChannelRequest::Create { name: s("news") }),
        MailRequest::Channel(ChannelRequest::Subscribe {
            name: s("news"),
            address: Some(s("mayor")),
        }),
        MailRequest::Channel(ChannelRequest::Unsubscribe {
            name: s("news"),
            address: None,
        }),
        MailRequest::Channel(ChannelRequest::List),
        MailRequest::Dnd {
            on: true,
            agent: Some(s("alpha/crew/max")),
        },
    ]
}

fn mol_requests() -> Vec<MolRequest> {
    let pour = PourRequest {
        formula: s("mol-polecat-work"),
        vars: vec![(s("issue"), s("gt-a"))],
        assignee: s("alpha/polecats/nux"),
        attach: Some(s("gt-a")),
        rig_dir: Some(PathBuf::from("/town/alpha")),
    };
    vec![
        MolRequest::Pour(pour.clone()),
        MolRequest::Wisp(pour),
        MolRequest::Status { mol: None },
        MolRequest::Current {
            mol: Some(s("gt-mol")),
        },
        MolRequest::StepDone {
            step: s("implement"),
            mol: Some(s("gt-mol")),
            reason: s("done"),
        },
        MolRequest::Squash {
            mol: s("gt-mol"),
            keep_children: true,
            force: false,
        },
        MolRequest::Burn { mol: s("gt-mol") },
    ]
}

fn work_requests() -> Vec<WorkCommand> {
    vec![
        WorkCommand::Sling {
            bead: s("gt-a"),
            target: s("alpha"),
            force: true,
            runtime: Some(s("sim")),
            formula: Some(s("mol-polecat-work")),
            no_formula: false,
            no_convoy: true,
        },
        WorkCommand::Hook {
            action: HookAction::Attach,
            agent: Some(s("alpha/crew/max")),
            bead: Some(s("gt-a")),
            force: false,
        },
        WorkCommand::Prime,
        WorkCommand::Done {
            status: DoneStatus::Escalated,
            message: Some(s("stuck on the build")),
        },
        WorkCommand::Handoff { message: None },
    ]
}

fn live_requests() -> Vec<TownRequest> {
    vec![
        TownRequest::Hook { agent: None },
        TownRequest::Seance {
            agent: s("alpha/crew/max"),
        },
        TownRequest::Sync,
        TownRequest::RigClaims,
        TownRequest::Actors,
        TownRequest::Actor {
            target: s("alpha/crew/max/session"),
        },
        TownRequest::Peek {
            agent: s("mayor"),
            lines: Some(20),
        },
        TownRequest::Nudge {
            agent: s("mayor"),
            text: s("check your mail"),
        },
        TownRequest::Restart { agent: s("mayor") },
        TownRequest::Kill { agent: s("mayor") },
        TownRequest::Spawn {
            address: s("alpha/crew/max"),
            runtime: Some(s("sim")),
            env: vec![(s("GASTOWN_SIM_WORK"), s("0"))],
        },
        TownRequest::Heartbeat,
        TownRequest::AttachStart {
            agent: s("mayor"),
            rows: 24,
            cols: 80,
        },
        TownRequest::AttachPoll { id: 7, wait_ms: 50 },
        TownRequest::AttachInput {
            id: 7,
            bytes: b"ls\r".to_vec(),
        },
        TownRequest::AttachResize {
            id: 7,
            rows: 40,
            cols: 120,
        },
        TownRequest::AttachEnd { id: 7 },
    ]
}

/// Every reply the supervisor sends.
pub fn replies() -> Vec<TownReply> {
    let mut all: Vec<TownReply> = bead_replies().into_iter().map(TownReply::Bead).collect();
    all.extend(mail_replies().into_iter().map(TownReply::Mail));
    all.extend(mol_replies().into_iter().map(TownReply::Mol));
    all.extend(mq_replies().into_iter().map(TownReply::Mq));
    all.extend(convoy_replies().into_iter().map(TownReply::Convoy));
    all.extend(live_replies());
    all
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
            merge_request: merge_request(),
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
                started_at: s("2026-01-02T03:04:05Z"),
                ended_at: s("-"),
                exit: s("-"),
            }],
        }),
        TownReply::Synced(Some(Synced {
            beads: 4,
            commit: s("0123456789abcdef0123456789abcdef01234567"),
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
