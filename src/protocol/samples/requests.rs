//! Samples of every town request.

use super::s;
use crate::protocol::TownRequest;
use gastown_town::command::bead::{BeadRequest, CreateRequest, ListRequest, UpdateRequest};
use gastown_town::command::convoy::ConvoyRequest;
use gastown_town::command::escalation::EscalateRequest;
use gastown_town::command::mail::{
    ChannelRequest, GroupRequest, MailRequest, QueueRequest, SendRequest,
};
use gastown_town::command::mol::{MolRequest, PourRequest};
use gastown_town::command::mq::MqRequest;
use gastown_town::escalation::Severity;
use gastown_town::work::{DoneStatus, HookAction, WorkCommand};
use std::path::PathBuf;

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
            ConvoyRequest::Budget {
                convoy: s("gt-c"),
                dollars: 25.5,
                daily: true,
            },
        ]
        .map(TownRequest::Convoy),
    );
    all.extend(work_requests().into_iter().map(TownRequest::Work));
    all.extend(live_requests());
    all.extend(
        [
            EscalateRequest::Raise {
                severity: Severity::High,
                bead: Some(s("gt-a")),
                message: s("the gate hangs"),
            },
            EscalateRequest::List { all: true },
            EscalateRequest::Show { id: s("gt-esc") },
            EscalateRequest::Ack { id: s("gt-esc") },
            EscalateRequest::Close {
                id: s("gt-esc"),
                reason: Some(s("fixed")),
            },
            EscalateRequest::Forward {
                id: s("gt-esc"),
                note: Some(s("the polecat is looping on a flaky test")),
            },
        ]
        .map(TownRequest::Escalate),
    );
    all.push(TownRequest::Dogs);
    all.push(TownRequest::DogRun {
        name: s("checkpoint"),
    });
    all.push(TownRequest::Status);
    all.push(TownRequest::Subscribe(crate::protocol::EventFilter {
        kinds: vec![s("mq"), s("session.blocked")],
        rig: Some(s("alpha")),
        agent: Some(s("alpha/polecats/nux")),
    }));
    all.push(TownRequest::Costs {
        since: Some(s("2026-01-02")),
    });
    all.push(TownRequest::Doctor { fix: true });
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
        TownRequest::Sync(gastown_town::sync::SyncOptions {
            pull: true,
            push: true,
            remote: Some(s("origin")),
        }),
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
        TownRequest::AttachOutput { id: 7 },
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
        TownRequest::RuntimeSession {
            id: s("0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
            transcript: Some(s("/home/u/.claude/projects/p/0199a1b2.jsonl")),
        },
    ]
}
