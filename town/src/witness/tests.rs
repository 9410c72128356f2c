//! Every case of the witness's classification and ladder.

use super::*;

const START: u64 = 1_000_000;
const S: u64 = 1000;

fn config() -> WitnessConfig {
    WitnessConfig {
        patrol_every: HumanDuration(Duration::from_secs(10)),
        start_after: HumanDuration(Duration::from_secs(60)),
        stall_after: HumanDuration(Duration::from_secs(100)),
        hung_after: HumanDuration(Duration::from_secs(1000)),
        nudges: 2,
        restarts: 1,
        ..WitnessConfig::default()
    }
}

fn session(pid: u32) -> SessionId {
    SessionId {
        pid,
        started_at_ms: START,
    }
}

/// A session that heartbeat at its start and printed its last output at `output_s`.
fn obs(now_s: u64, output_s: u64, at_prompt: bool) -> Observation {
    Observation {
        session: session(7),
        now_ms: START + now_s * S,
        last_output_ms: Some(START + output_s * S),
        last_heartbeat_ms: Some(START + S),
        at_prompt,
        limited: false,
        work: Some("gt-abc#implement".into()),
    }
}

/// A session waiting out a usage limit for hours is quiet by design: never hung, stalled or
/// starting-stalled, so the witness neither restarts it (its restart would only meet the limit
/// again) nor escalates it overnight.
#[test]
fn a_session_at_its_usage_limit_is_limited_however_long_it_is_quiet() {
    for at_prompt in [false, true] {
        let mut o = obs(5 * 3600, 0, at_prompt);
        o.limited = true;
        assert_eq!(classify(&o, Some(START), &config()), Health::Limited);
        o.last_heartbeat_ms = None;
        assert_eq!(classify(&o, None, &config()), Health::Limited);
    }
    assert!(!Health::Limited.needs_help());
}

#[test]
fn nothing_hooked_is_finished_whatever_else() {
    let mut o = obs(5000, 0, true);
    o.work = None;
    assert_eq!(classify(&o, None, &config()), Health::Finished);
    assert!(!Health::Finished.needs_help());
}

#[test]
fn at_prompt_with_work_is_stalled_only_after_stall_after() {
    assert_eq!(
        classify(&obs(50, 2, true), None, &config()),
        Health::Working
    );
    assert_eq!(
        classify(&obs(102, 2, true), None, &config()),
        Health::Working
    );
    assert_eq!(
        classify(&obs(103, 2, true), None, &config()),
        Health::Stalled
    );
}

#[test]
fn quiet_without_prompt_is_hung_only_after_hung_after() {
    // Past stall_after but not at the prompt: working (a long build, a long think).
    assert_eq!(
        classify(&obs(500, 2, false), None, &config()),
        Health::Working
    );
    assert_eq!(
        classify(&obs(1003, 2, false), None, &config()),
        Health::Hung
    );
    // A recent heartbeat keeps a quiet screen from being hung.
    let mut o = obs(1003, 2, false);
    o.last_heartbeat_ms = Some(START + 900 * S);
    assert_eq!(classify(&o, None, &config()), Health::Working);
}

#[test]
fn no_first_heartbeat_within_start_after_is_starting_stalled() {
    let mut o = obs(30, 29, false);
    o.last_heartbeat_ms = None;
    assert_eq!(classify(&o, None, &config()), Health::Working);
    o.now_ms = START + 61 * S;
    assert_eq!(classify(&o, None, &config()), Health::StartingStalled);
    // A heartbeat from before this session (the last one's) does not count.
    o.last_heartbeat_ms = Some(START - S);
    assert_eq!(classify(&o, None, &config()), Health::StartingStalled);
}

#[test]
fn output_or_heartbeat_since_the_last_patrol_is_never_acted_on() {
    let last_patrol = Some(START + 2000 * S);
    // Stalled and hung by the clocks, but output came after the last look.
    let mut o = obs(5000, 2001, true);
    o.last_output_ms = Some(START + 2001 * S);
    assert_eq!(classify(&o, last_patrol, &config()), Health::Working);
    let mut o = obs(5000, 2, false);
    o.last_heartbeat_ms = Some(START + 2001 * S);
    assert_eq!(classify(&o, last_patrol, &config()), Health::Working);
    // Nothing since the last look: judged by the clocks.
    assert_eq!(
        classify(&obs(5000, 2, true), last_patrol, &config()),
        Health::Stalled
    );
    assert_eq!(
        classify(&obs(5000, 2, false), last_patrol, &config()),
        Health::Hung
    );
}

#[test]
fn the_ladder_nudges_then_restarts_then_escalates_once() {
    let c = config();
    let mut ladder = Ladder::default();
    let a = "r/polecats/nux";
    let (h, act) = ladder.decide(a, &obs(200, 2, true), &c);
    assert_eq!(
        (h, act),
        (
            Health::Stalled,
            Action::Nudge {
                session: session(7),
                n: 1
            }
        )
    );
    let (_, act) = ladder.decide(a, &obs(210, 2, true), &c);
    assert_eq!(
        act,
        Action::Nudge {
            session: session(7),
            n: 2
        }
    );
    let (_, act) = ladder.decide(a, &obs(220, 2, true), &c);
    assert_eq!(
        act,
        Action::Restart {
            session: session(7),
            n: 1
        }
    );
    // The successor session keeps the ladder.
    let mut next = obs(400, 2, true);
    next.session = session(8);
    let (_, act) = ladder.decide(a, &next, &c);
    assert_eq!(
        act,
        Action::Escalate {
            session: session(8)
        }
    );
    next.now_ms += 10 * S;
    let (h, act) = ladder.decide(a, &next, &c);
    assert_eq!((h, act), (Health::Stalled, Action::None));
    assert!(
        ladder
            .get(a)
            .is_some_and(|r| r.escalated && r.nudges == 2 && r.restarts == 1)
    );
}

#[test]
fn a_session_restarted_by_someone_else_is_judged_afresh() {
    let c = config();
    let mut ladder = Ladder::default();
    let a = "r/polecats/nux";
    ladder.decide(a, &obs(200, 2, true), &c);
    ladder.decide(a, &obs(210, 2, true), &c);
    assert_eq!(ladder.get(a).map(|r| r.nudges), Some(2));
    let mut other = obs(220, 2, true);
    other.session = session(9);
    let (_, act) = ladder.decide(a, &other, &c);
    assert_eq!(
        act,
        Action::Nudge {
            session: session(9),
            n: 1
        }
    );
}

#[test]
fn new_work_or_step_starts_a_new_ladder() {
    let c = config();
    let mut ladder = Ladder::default();
    let a = "r/polecats/nux";
    ladder.decide(a, &obs(200, 2, true), &c);
    ladder.decide(a, &obs(210, 2, true), &c);
    let mut o = obs(220, 2, true);
    o.work = Some("gt-abc#test".into());
    let (_, act) = ladder.decide(a, &o, &c);
    assert_eq!(
        act,
        Action::Nudge {
            session: session(7),
            n: 1
        }
    );
}

#[test]
fn a_healthy_session_is_never_acted_on() {
    let c = config();
    let mut ladder = Ladder::default();
    let a = "r/polecats/nux";
    for t in (0..5000).step_by(10) {
        // Output just now at every patrol, far longer than every threshold.
        let (h, act) = ladder.decide(a, &obs(t + 1, t, t % 20 == 0), &c);
        assert_eq!((h, act), (Health::Working, Action::None), "at {t}s");
    }
}

#[test]
fn several_polecats_only_the_stalled_ones_are_acted_on() {
    let c = config();
    let mut ladder = Ladder::default();
    let stalled = obs(200, 2, true);
    let busy = obs(200, 199, false);
    let (_, a1) = ladder.decide("r/polecats/a", &stalled, &c);
    let (_, a2) = ladder.decide("r/polecats/b", &busy, &c);
    let (_, a3) = ladder.decide("r/polecats/c", &stalled, &c);
    assert!(matches!(a1, Action::Nudge { .. }));
    assert_eq!(a2, Action::None);
    assert!(matches!(a3, Action::Nudge { .. }));
    ladder.retain(&["r/polecats/a"]);
    assert!(ladder.get("r/polecats/c").is_none() && ladder.get("r/polecats/a").is_some());
}

mod help {
    use super::inbox::handle_help;
    use crate::mail::store::{self, ProtocolKind, send_protocol};

    use crate::testing::town_with_alpha as town;

    /// A HELP from `who` in alpha's witness inbox, as `done --status escalated` sends it.
    fn help_from(ledger: &mut gastown_beads::Ledger, who: &str) {
        send_protocol(
            ledger,
            ProtocolKind::Help,
            "alpha/witness",
            who,
            "gt-abc (X): lost",
        )
        .expect("help");
    }

    #[test]
    fn help_is_escalated_to_the_mayor_and_the_overseer_and_closed_once() {
        let (_d, town, mut ledger) = town();
        let nux = "alpha/polecats/nux";
        help_from(&mut ledger, nux);
        // Other protocol mail is left to whoever handles it.
        send_protocol(
            &mut ledger,
            ProtocolKind::PolecatDone,
            "alpha/witness",
            nux,
            "gt-mr1 ready",
        )
        .expect("done");
        let handled = handle_help(&mut ledger, &town, "alpha").expect("handled");
        assert_eq!(handled.len(), 1, "{handled:?}");
        assert_eq!(handled[0].from, nux);
        assert!(handled[0].outside.is_some(), "raised and routed here");
        for to in ["mayor", crate::mail::OVERSEER] {
            let mail = store::open_mail(&ledger, to).expect("inbox");
            assert!(
                mail.iter().any(|b| b.title.contains(&handled[0].escalation)
                    && b.description.contains(nux)
                    && b.description.contains("gt-abc (X): lost")),
                "{to}: {mail:?}"
            );
        }
        // Unread MERGE_FAILED / REWORK of a polecat are found; other mail is not.
        send_protocol(
            &mut ledger,
            ProtocolKind::Rework,
            nux,
            "alpha/refinery",
            "gt-mr1 rework",
        )
        .expect("rework");
        let unread = super::inbox::unread_rework(&ledger, nux).expect("unread");
        assert_eq!(unread.len(), 1, "{unread:?}");
        assert_eq!(unread[0].1, "gt-mr1 rework");
        let left = store::open_mail(&ledger, "alpha/witness").expect("inbox");
        assert_eq!(left.len(), 1, "only POLECAT_DONE is left open: {left:?}");
        assert!(
            handle_help(&mut ledger, &town, "alpha")
                .expect("again")
                .is_empty(),
            "told once"
        );
    }

    #[test]
    fn a_help_whose_sender_already_escalated_is_closed_into_that_escalation() {
        use crate::escalation::{self, Raise, Severity};
        let (_d, town, mut ledger) = town();
        let nux = "alpha/polecats/nux";
        let own = escalation::raise(
            &mut ledger,
            &Raise {
                severity: Severity::High,
                source: nux,
                bead: None,
                message: "lost",
            },
            nux,
        )
        .expect("raised");
        help_from(&mut ledger, nux);
        let mayor_before = store::open_mail(&ledger, "mayor").expect("inbox").len();
        let handled = handle_help(&mut ledger, &town, "alpha").expect("handled");
        assert_eq!(handled.len(), 1);
        assert_eq!(handled[0].escalation, own.escalation.id);
        assert!(
            handled[0].outside.is_none(),
            "nothing raised, nothing routed"
        );
        assert_eq!(
            store::open_mail(&ledger, "mayor").expect("inbox").len(),
            mayor_before,
            "nobody is mailed twice"
        );
        assert_eq!(
            escalation::escalations(&ledger, false).expect("open").len(),
            1
        );
        assert!(
            store::open_mail(&ledger, "alpha/witness")
                .expect("inbox")
                .is_empty()
        );
    }
}

#[test]
fn unread_rework_is_due_once_after_the_delay_and_forgotten_once_read() {
    use super::inbox::ReworkWatch;
    let mut watch = ReworkWatch::default();
    let after = Duration::from_secs(10);
    assert!(
        watch.due(&["w1", "w2"], START, after).is_empty(),
        "just seen"
    );
    assert!(
        watch.due(&["w1", "w2"], START + 10 * S, after).is_empty(),
        "not overdue yet"
    );
    // w2 was read meanwhile; w3 is new.
    assert_eq!(watch.due(&["w1", "w3"], START + 11 * S, after), ["w1"]);
    assert!(
        watch.due(&["w1", "w3"], START + 15 * S, after).is_empty(),
        "once"
    );
    assert_eq!(watch.due(&["w1", "w3"], START + 22 * S, after), ["w3"]);
}

#[test]
fn the_summary_names_each_polecat_acted_on_and_nothing_else() {
    let c = config();
    let mut ladder = Ladder::default();
    assert_eq!(ladder.summary(), None, "nothing watched");
    ladder.decide("r/polecats/busy", &obs(50, 2, true), &c);
    assert_eq!(ladder.summary(), None, "watched, never acted on");
    ladder.decide("r/polecats/nux", &obs(200, 2, true), &c);
    assert_eq!(
        ladder.summary().as_deref(),
        Some("r/polecats/nux stalled: 1 nudge, 0 restarts")
    );
}

#[test]
fn witness_knobs_that_are_not_durations_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rig.toml");
    let base =
        toml::to_string(&crate::rig::RigConfig::new("alpha", "/src", "main", "al")).expect("toml");
    let base = base
        .split_once("[witness]")
        .map_or(base.clone(), |(before, _)| before.to_string());
    for (knobs, names) in [
        ("stall_after = \"soon\"", "stall_after"),
        ("hung_after = \"0s\"", "witness.hung_after"),
        ("judge_for = \"0s\"", "witness.judge_for"),
        ("patrol_every = 30", "patrol_every"),
        ("nudges = \"two\"", "nudges"),
        ("stall_afterr = \"5m\"", "stall_afterr"),
    ] {
        std::fs::write(&path, format!("{base}\n[witness]\n{knobs}\n")).expect("write");
        let err = crate::rig::RigConfig::read(&path)
            .expect_err(knobs)
            .to_string();
        assert!(err.contains(names), "{knobs}: {err}");
        assert!(err.contains("rig.toml"), "names the file: {err}");
    }
    std::fs::write(&path, format!("{base}\n[roles]\nwitnes = \"claude\"\n")).expect("write");
    let err = crate::rig::RigConfig::read(&path)
        .expect_err("typo")
        .to_string();
    assert!(err.contains("witnes"), "{err}");
    std::fs::write(
        &path,
        format!("{base}\n[roles]\nwitness = \"claude\"\n[witness]\njudge_for = \"90s\"\n"),
    )
    .expect("write");
    let ok = crate::rig::RigConfig::read(&path).expect("valid");
    assert_eq!(ok.roles.witness.as_deref(), Some("claude"));
    assert_eq!(ok.witness.judge_for.0, Duration::from_secs(90));
}
