//! The event bus: numbering and order, filters, a subscriber that falls behind, and what ledger
//! changes (on a real ledger in a throw-away town) and supervision events become.

use super::*;
use futures::StreamExt;
use gastown_beads::{BeadPatch, NewBead};
use gastown_town::town::{DefaultAgent, InstallOptions, install};

fn draft(kind: &'static str, subject: &str) -> Draft {
    Draft {
        kind,
        source: "overseer".to_string(),
        subject: subject.to_string(),
        rig: "alpha".to_string(),
        text: format!("{kind} {subject}"),
        at: String::new(),
    }
}

#[tokio::test]
async fn subscribers_see_every_event_numbered_in_order_and_only_what_they_filter() {
    let bus = EventBus::default();
    let all = stream(&bus, EventFilter::default());
    let mq = stream(
        &bus,
        EventFilter {
            kinds: vec!["mq".to_string()],
            ..EventFilter::default()
        },
    );
    futures::pin_mut!(all);
    futures::pin_mut!(mq);
    bus.publish(draft("bead.created", "gt-1"));
    bus.publish(draft("mq.queued", "gt-2"));
    bus.publish(draft("bead.closed", "gt-1"));
    let seen = all.next().await.expect("a batch");
    let seqs: Vec<u64> = seen.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    let kinds: Vec<&str> = seen.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["bead.created", "mq.queued", "bead.closed"]);
    assert!(!seen[0].at.is_empty(), "stamped");
    let only = mq.next().await.expect("a batch");
    assert_eq!(only.len(), 1);
    assert_eq!((only[0].seq, only[0].kind.as_str()), (2, "mq.queued"));
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_skips_and_is_told_and_publishing_never_waits() {
    let bus = EventBus::default();
    let slow = stream(&bus, EventFilter::default());
    futures::pin_mut!(slow);
    // Nobody reads while the town goes on: publishing does not wait.
    let total = BUFFER + 100;
    for i in 0..total {
        bus.publish(draft("bead.updated", &format!("gt-{i}")));
    }
    let first = slow.next().await.expect("a batch");
    assert_eq!(first[0].kind, "missed", "{:?}", first[0]);
    assert!(
        first[0].text.contains("missed 100 events"),
        "{}",
        first[0].text
    );
    // Then it goes on from the oldest event still held.
    assert_eq!(first[1].seq, 101);
    let mut last = first.last().expect("events").seq;
    while last < total as u64 {
        let batch = slow.next().await.expect("a batch");
        assert!(batch.len() <= BATCH);
        assert_eq!(batch[0].seq, last + 1, "no gap after the marker");
        last = batch.last().expect("events").seq;
    }
}

#[test]
fn supervision_events_name_the_path_the_rig_and_why() {
    let event = SupervisorEvent {
        supervisor: "town/rigs/alpha/polecats".to_string(),
        child: "nux".to_string(),
        kind: gastown_supervision::EventKind::GaveUp,
        context: gastown_supervision::Context::ReachedMaxRestartIntensity,
        exit: None,
        reason: "too many restarts".to_string(),
        delay_ms: None,
        at: "2026-01-02T03:04:05.678Z".to_string(),
    };
    let d = supervision_draft(&event);
    assert_eq!(d.kind, "supervision.gave_up");
    assert_eq!(d.subject, "town/rigs/alpha/polecats/nux");
    assert_eq!(d.rig, "alpha");
    assert_eq!(
        d.text,
        "town/rigs/alpha/polecats/nux gave_up: too many restarts"
    );
    assert_eq!(d.at, event.at);
}

#[test]
fn ledger_changes_become_hook_mail_mq_convoy_and_escalation_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = InstallOptions {
        prefix: "gt".to_string(),
        name: None,
        agent: DefaultAgent::Named("sim".to_string()),
    };
    let town = install(&dir.path().join("town"), &opts).expect("install");
    let mut ledger = town.open_ledger().expect("ledger");
    ledger.keep_changes(true);
    let bus = EventBus::default();

    let work = ledger
        .create(
            NewBead {
                title: "Add a greeting".to_string(),
                ..NewBead::default()
            },
            "overseer",
        )
        .expect("bead")
        .id;
    gastown_town::convoy::create(
        &mut ledger,
        "Greetings",
        std::slice::from_ref(&work),
        false,
        None,
        "overseer",
    )
    .expect("convoy");
    let other = ledger
        .create(
            NewBead {
                title: "Another".to_string(),
                ..NewBead::default()
            },
            "overseer",
        )
        .expect("bead")
        .id;
    let convoy = convoy_id(&ledger);
    gastown_town::convoy::add(
        &mut ledger,
        &convoy,
        std::slice::from_ref(&other),
        "overseer",
    )
    .expect("add");
    let hooked = BeadPatch {
        status: Some(gastown_beads::Status::Hooked),
        assignee: Some("alpha/polecats/nux".to_string()),
        ..BeadPatch::default()
    };
    ledger.update(&work, hooked, "overseer").expect("hook");
    let mail = gastown_town::mail::store::Outgoing {
        to: "mayor".to_string(),
        subject: "hello".to_string(),
        body: "b".to_string(),
        ..Default::default()
    };
    gastown_town::mail::store::send(&mut ledger, "overseer", &mail).expect("mail");
    ledger
        .close(&work, "done", "alpha/polecats/nux")
        .expect("close");
    let raised = gastown_town::escalation::raise(
        &mut ledger,
        &gastown_town::escalation::Raise {
            severity: gastown_town::escalation::Severity::High,
            source: "deacon",
            bead: None,
            message: "rig alpha keeps stopping",
        },
        "deacon",
    )
    .expect("raise");
    gastown_town::escalation::ack(&mut ledger, &raised.escalation.id, "overseer").expect("ack");

    let (changes, dropped) = ledger.take_changes();
    assert_eq!(dropped, 0);
    let drafts: Vec<Draft> = changes
        .iter()
        .flat_map(|c| ledger_drafts(&bus, &ledger, c))
        .collect();
    let kinds: Vec<&str> = drafts.iter().map(|d| d.kind).collect();
    let expect_in_order = [
        "bead.created",
        "convoy.created",
        "bead.created",
        "hook.set",
        "mail.sent",
        "hook.cleared",
        "bead.closed",
        "convoy.progress",
        "escalation.raised",
        "escalation.acked",
    ];
    let mut at = 0;
    for want in expect_in_order {
        let found = kinds[at..].iter().position(|k| *k == want);
        assert!(found.is_some(), "{want} after {at} in {kinds:?}");
        at += found.expect("checked") + 1;
    }
    for once in [
        "hook.set",
        "hook.cleared",
        "convoy.progress",
        "escalation.acked",
    ] {
        assert_eq!(
            kinds.iter().filter(|k| **k == once).count(),
            1,
            "{once} once: {kinds:?}"
        );
    }
    let hook = drafts
        .iter()
        .find(|d| d.kind == "hook.set")
        .expect("hook.set");
    assert_eq!(hook.subject, work);
    assert_eq!(hook.rig, "alpha");
    assert!(hook.text.contains("alpha/polecats/nux"), "{}", hook.text);
    let progress = drafts
        .iter()
        .find(|d| d.kind == "convoy.progress")
        .expect("progress");
    assert!(progress.text.ends_with("1/2 done"), "{}", progress.text);
    assert!(
        drafts.iter().all(|d| !d.kind.starts_with("agent")),
        "agent bookkeeping is not told"
    );
    ledger.close_ledger().expect("close");
}

fn convoy_id(ledger: &Ledger) -> String {
    gastown_town::convoy::convoys(ledger, false).expect("convoys")[0]
        .id
        .clone()
}

#[test]
fn an_abnormal_exit_is_a_crash_and_a_normal_one_an_exit() {
    let exit = |kind| SupervisorEvent {
        supervisor: "town/rigs/alpha/polecats/nux".to_string(),
        child: "session".to_string(),
        kind: gastown_supervision::EventKind::Exited,
        context: gastown_supervision::Context::ChildTerminated,
        exit: Some(kind),
        reason: "boom".to_string(),
        delay_ms: None,
        at: String::new(),
    };
    let crashed = supervision_draft(&exit(gastown_supervision::ExitKind::Abnormal));
    assert_eq!(crashed.kind, "supervision.crashed");
    assert_eq!(
        crashed.text,
        "town/rigs/alpha/polecats/nux/session crashed: boom"
    );
    for calm in [
        gastown_supervision::ExitKind::Normal,
        gastown_supervision::ExitKind::Shutdown,
    ] {
        assert_eq!(supervision_draft(&exit(calm)).kind, "supervision.exited");
    }
    assert!(crate::protocol::events::KINDS.contains(&crashed.kind));
}

fn snapshot(
    ready: bool,
    idle: bool,
    blocked: Option<&str>,
) -> gastown_actors::session::SessionSnapshot {
    gastown_actors::session::SessionSnapshot {
        pid: 1,
        program: "sim".to_string(),
        started_at_ms: 0,
        uptime_ms: 0,
        last_output_at_ms: None,
        last_input_at_ms: None,
        idle,
        ready,
        exit: None,
        bytes_out: 0,
        bytes_in: 0,
        retained_bytes: 0,
        rows: 24,
        cols: 80,
        blocked: blocked.map(str::to_string),
    }
}

#[test]
fn the_witness_judgement_makes_a_session_stalled_until_it_is_withdrawn() {
    let bus = EventBus::default();
    let nux = "alpha/polecats/nux";
    let idle = snapshot(true, true, None);
    assert_eq!(session_state(&idle, bus.stalled(nux)).0, "session.idle");
    bus.mark_health(nux, Some("stalled"));
    assert_eq!(
        session_state(&idle, bus.stalled(nux)),
        ("session.stalled", "stalled".to_string())
    );
    bus.mark_health(nux, Some("hung"));
    assert_eq!(
        session_state(&snapshot(true, false, None), bus.stalled(nux)),
        ("session.stalled", "stalled (hung)".to_string())
    );
    // A dialog on the screen says more than the witness's judgement.
    assert_eq!(
        session_state(&snapshot(true, true, Some("trust: ok?")), bus.stalled(nux)).0,
        "session.blocked"
    );
    // Another rig's polecats keep theirs when this rig's witness stops watching one.
    bus.mark_health("beta/polecats/max", Some("stalled"));
    bus.keep_health("alpha", &[]);
    assert_eq!(bus.stalled(nux), None);
    assert_eq!(bus.stalled("beta/polecats/max").as_deref(), Some("stalled"));
    bus.mark_health("beta/polecats/max", None);
    assert_eq!(bus.stalled("beta/polecats/max"), None);
    assert!(crate::protocol::events::KINDS.contains(&"session.stalled"));
}

#[test]
fn a_gate_is_told_about_its_merge_request() {
    let d = gating_draft("alpha", "gt-mr1", "gt-abc", "test", false);
    assert_eq!(
        (
            d.kind,
            d.subject.as_str(),
            d.rig.as_str(),
            d.source.as_str()
        ),
        ("mq.gating", "gt-mr1", "alpha", "alpha/refinery")
    );
    assert_eq!(d.text, "gt-abc (gt-mr1): gate test");
    let alone = gating_draft("alpha", "gt-mr1", "gt-abc", "build", true);
    assert!(alone.text.ends_with("gate build on the target alone"));
    assert!(crate::protocol::events::KINDS.contains(&d.kind));
}
