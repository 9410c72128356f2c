//! Escalations on a real ledger in a throw-away town: raising, folding, ack, close, staleness.

use super::*;
use gastown_beads::{Ledger, NewBead};

use crate::testing::town;

fn work(ledger: &mut Ledger) -> String {
    let new = NewBead {
        title: "work".to_string(),
        ..NewBead::default()
    };
    ledger.create(new, "overseer").expect("create").id
}

fn raise_as<'a>(source: &'a str, bead: Option<&'a str>, message: &'a str) -> Raise<'a> {
    Raise {
        severity: Severity::Medium,
        source,
        bead,
        message,
    }
}

#[test]
fn a_raise_records_an_escalation_bead_with_its_fields() {
    let (_d, _t, mut ledger) = town();
    let b = work(&mut ledger);
    let mut r = raise_as("alpha/polecats/nux", Some(&b), "  tests hang on main  ");
    r.severity = Severity::High;
    let raised = raise(&mut ledger, &r, "alpha/polecats/nux").expect("raise");
    assert!(!raised.folded);
    assert!(raised.route);
    let e = get(&ledger, &raised.escalation.id).expect("get");
    assert_eq!(e.severity, Severity::High);
    assert_eq!(e.source, "alpha/polecats/nux");
    assert_eq!(e.bead.as_deref(), Some(b.as_str()));
    assert_eq!(e.message, "tests hang on main");
    assert_eq!(e.state, State::Open);
    assert_eq!(e.count, 1);
    let bead = ledger.get(&e.id).expect("get").expect("bead");
    assert_eq!(bead.issue_type.as_str(), "escalation");
    assert_eq!(bead.title, "[high] tests hang on main");
    assert!(bead.issue_type.is_coordination(), "never ready work");
}

#[test]
fn a_hundred_identical_raises_fold_into_one_escalation_with_count_100() {
    let (_d, _t, mut ledger) = town();
    let b = work(&mut ledger);
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..100 {
        // Case and spacing do not make a new kind of message.
        let message = if i % 2 == 0 {
            "Gate hangs"
        } else {
            "gate   hangs"
        };
        let raised = raise(
            &mut ledger,
            &raise_as("witness alpha", Some(&b), message),
            "alpha/witness",
        )
        .expect("raise");
        assert_eq!(raised.folded, i > 0);
        ids.insert(raised.escalation.id);
    }
    assert_eq!(ids.len(), 1);
    let all = escalations(&ledger, true).expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].count, 100);
}

#[test]
fn a_different_source_bead_or_message_is_a_new_escalation_and_a_closed_one_is_not_folded_into() {
    let (_d, _t, mut ledger) = town();
    let b = work(&mut ledger);
    let first = raise(&mut ledger, &raise_as("a", Some(&b), "x"), "o").expect("raise");
    for r in [
        raise_as("b", Some(&b), "x"),
        raise_as("a", None, "x"),
        raise_as("a", Some(&b), "y"),
    ] {
        assert!(!raise(&mut ledger, &r, "o").expect("raise").folded);
    }
    close(&mut ledger, &first.escalation.id, None, "overseer").expect("close");
    let again = raise(&mut ledger, &raise_as("a", Some(&b), "x"), "o").expect("raise");
    assert!(!again.folded);
    assert_ne!(again.escalation.id, first.escalation.id);
    assert_eq!(escalations(&ledger, false).expect("list").len(), 4);
    assert_eq!(escalations(&ledger, true).expect("list").len(), 5);
}

#[test]
fn a_fold_at_a_higher_severity_raises_it_and_is_routed_again() {
    let (_d, _t, mut ledger) = town();
    let first = raise(&mut ledger, &raise_as("a", None, "x"), "o").expect("raise");
    let same = raise(&mut ledger, &raise_as("a", None, "x"), "o").expect("raise");
    assert!(same.folded && !same.route);
    let mut worse = raise_as("a", None, "x");
    worse.severity = Severity::Critical;
    let worse = raise(&mut ledger, &worse, "o").expect("raise");
    assert!(worse.folded && worse.route);
    assert_eq!(worse.escalation.id, first.escalation.id);
    assert_eq!(worse.escalation.severity, Severity::Critical);
    assert_eq!(worse.escalation.count, 3);
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let (_d, _t, mut ledger) = town();
    let err = |r: Raise<'_>, ledger: &mut Ledger| {
        raise(ledger, &r, "o").expect_err("refused").to_string()
    };
    assert!(err(raise_as("a", None, "  \n "), &mut ledger).contains("says nothing"));
    let long = "x".repeat(MAX_MESSAGE + 1);
    assert!(err(raise_as("a", None, &long), &mut ledger).contains("over the limit"));
    assert!(err(raise_as("a", Some("gt-nope"), "x"), &mut ledger).contains("no bead"));
    let e = "urgent".parse::<Severity>().expect_err("unknown");
    assert!(
        e.to_string().contains("low, medium, high or critical"),
        "{e}"
    );
    assert_eq!("HIGH".parse::<Severity>().expect("high"), Severity::High);
    assert!(escalations(&ledger, true).expect("list").is_empty());
    // A control sequence in the message is stored inert.
    let raised = raise(&mut ledger, &raise_as("a", None, "bad\x1b[2Jthing"), "o").expect("raise");
    assert!(!raised.escalation.message.contains('\x1b'));
}

#[test]
fn ack_and_close_change_the_state_and_refuse_what_makes_no_sense() {
    let (_d, _t, mut ledger) = town();
    let id = raise(&mut ledger, &raise_as("a", None, "x"), "o")
        .expect("raise")
        .escalation
        .id;
    let acked = ack(&mut ledger, &id, "mayor").expect("ack");
    assert_eq!(acked.state, State::Acked);
    assert_eq!(acked.acked_by.as_deref(), Some("mayor"));
    assert!(acked.acked_at.is_some());
    assert!(
        ack(&mut ledger, &id, "overseer")
            .expect_err("twice")
            .to_string()
            .contains("already acknowledged by mayor")
    );
    let closed = close(&mut ledger, &id, Some("fixed the gate"), "overseer").expect("close");
    assert_eq!(closed.state, State::Closed);
    assert_eq!(closed.closed_reason.as_deref(), Some("fixed the gate"));
    assert!(
        close(&mut ledger, &id, None, "overseer")
            .expect_err("closed")
            .to_string()
            .contains("already closed")
    );
    assert!(
        ack(&mut ledger, &id, "overseer")
            .expect_err("closed")
            .to_string()
            .contains("is closed")
    );
    assert!(
        ack(&mut ledger, "gt-nope", "overseer")
            .expect_err("unknown")
            .to_string()
            .contains("no escalation")
    );
    let b = work(&mut ledger);
    assert!(
        close(&mut ledger, &b, None, "overseer")
            .expect_err("a task")
            .to_string()
            .contains("not an escalation")
    );
}

#[test]
fn only_unacknowledged_escalations_go_stale_and_a_reraise_goes_one_severity_up() {
    let (_d, _t, mut ledger) = town();
    let open = raise(&mut ledger, &raise_as("a", None, "x"), "o")
        .expect("raise")
        .escalation;
    let acked = raise(&mut ledger, &raise_as("a", None, "y"), "o")
        .expect("raise")
        .escalation;
    ack(&mut ledger, &acked.id, "mayor").expect("ack");
    let at = gastown_beads::time::parse_rfc3339(&open.last_raised_at).expect("time");
    let minute = Duration::from_secs(60);
    assert!(
        stale(&ledger, at + 59_000_000_000, minute)
            .expect("stale")
            .is_empty()
    );
    let found = stale(&ledger, at + 60_000_000_000, minute).expect("stale");
    assert_eq!(
        found.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [open.id.as_str()]
    );
    let up = reraise(&mut ledger, &open.id, "supervisor").expect("reraise");
    assert_eq!(up.severity, Severity::High);
    let bead = ledger.get(&open.id).expect("get").expect("bead");
    assert_eq!(bead.title, "[high] x");
    assert_eq!(bead.priority, 1);
    // The clock restarted: not stale again until another minute has passed.
    let again = gastown_beads::time::parse_rfc3339(&up.last_raised_at).expect("time");
    assert!(stale(&ledger, again + 1, minute).expect("stale").is_empty());
    assert_eq!(Severity::Critical.up(), Severity::Critical);
}

#[test]
fn routing_config_parses_checks_and_routes_by_severity() {
    use routing::{Channel, EscalationSection, Outside};
    let section: EscalationSection = toml::from_str(
        "medium = [\"mail:overseer\", \"notify\", \"webhook\", \"bell\"]\nstale_after = \"5m\"",
    )
    .expect("parses");
    assert_eq!(
        section.channels(Severity::Medium),
        [
            Channel::Mail("overseer".to_string()),
            Channel::Notify,
            Channel::Webhook,
            Channel::Bell
        ]
    );
    assert_eq!(section.stale_after.0, Duration::from_secs(300));
    // Unset severities keep their defaults.
    assert_eq!(
        section.channels(Severity::High),
        routing::default_channels(Severity::High)
    );
    let bad = toml::from_str::<EscalationSection>("low = [\"pager\"]").expect_err("bad channel");
    assert!(
        bad.to_string().contains("unknown escalation channel"),
        "{bad}"
    );
    let https = EscalationSection {
        webhook_url: Some("https://example.com/".to_string()),
        ..EscalationSection::default()
    };
    assert!(
        https
            .check()
            .expect_err("https")
            .to_string()
            .contains("https is not")
    );

    let (_d, mut town, mut ledger) = town();
    town.config.escalation = section;
    let e = raise(&mut ledger, &raise_as("a", None, "x"), "a")
        .expect("raise")
        .escalation;
    // notify and webhook have no setting: skipped; the bell is handed back; the mail is sent.
    let (routed, outside) = routing::route_in_ledger(&mut ledger, &town, &e, "a").expect("route");
    assert_eq!(routed, ["mail:overseer", "bell"]);
    assert_eq!(outside, [Outside::Bell]);
    let mail = crate::mail::store::inbox(&ledger, "overseer", false).expect("inbox");
    assert!(
        mail.iter()
            .any(|m| m.title.starts_with(&format!("ESCALATION {}", e.id)))
    );
    assert!(
        crate::mail::store::inbox(&ledger, "mayor", false)
            .expect("inbox")
            .is_empty()
    );
    town.config.escalation.notify_command = Some("true".to_string());
    town.config.escalation.webhook_url = Some("http://127.0.0.1:9/".to_string());
    let (_, outside) = routing::route_in_ledger(&mut ledger, &town, &e, "a").expect("route");
    assert_eq!(outside.len(), 3, "{outside:?}");
    // Outside-only routing sends no mail.
    let before = crate::mail::store::inbox(&ledger, "overseer", false)
        .expect("inbox")
        .len();
    routing::outside_only(&mut ledger, &town, &e).expect("outside");
    assert_eq!(
        crate::mail::store::inbox(&ledger, "overseer", false)
            .expect("inbox")
            .len(),
        before
    );
}

/// A town whose rig `alpha` runs a witness agent (`[roles] witness = "sim"`) judging for
/// `judge_for`.
fn town_with_witness_agent(judge_for: Duration) -> (tempfile::TempDir, crate::town::Town, Ledger) {
    let (dir, town, ledger) = town();
    let mut config = crate::rig::RigConfig::new("alpha", "/nowhere", "main", "al");
    config.roles.witness = Some("sim".to_string());
    config.witness.judge_for = crate::duration::HumanDuration(judge_for);
    std::fs::create_dir_all(town.root.join("alpha")).expect("rig dir");
    config
        .write(&town.root.join("alpha").join("rig.toml"))
        .expect("rig.toml");
    (dir, town, ledger)
}

fn subjects(ledger: &Ledger, address: &str) -> Vec<String> {
    crate::mail::store::inbox(ledger, address, true)
        .expect("inbox")
        .into_iter()
        .map(|m| m.title)
        .collect()
}

#[test]
fn a_rig_escalation_goes_to_its_witness_agent_first_and_nowhere_else() {
    let (_d, town, mut ledger) = town_with_witness_agent(Duration::from_secs(600));
    let mut r = raise_as("alpha/polecats/nux", None, "stuck on the migration");
    r.severity = Severity::Critical;
    let e = raise(&mut ledger, &r, "alpha/polecats/nux")
        .expect("raise")
        .escalation;
    let (routed, outside) =
        routing::route_in_ledger(&mut ledger, &town, &e, "alpha/polecats/nux").expect("route");
    assert_eq!(routed.len(), 1, "{routed:?}");
    assert!(
        routed[0].starts_with("mail:alpha/witness (judges it first"),
        "{routed:?}"
    );
    assert!(
        outside.is_empty(),
        "no bell, notify or webhook while judged: {outside:?}"
    );
    let to_judge = subjects(&ledger, "alpha/witness");
    assert_eq!(to_judge.len(), 1, "{to_judge:?}");
    assert!(to_judge[0].contains("yours to judge first"), "{to_judge:?}");
    let body =
        &crate::mail::store::inbox(&ledger, "alpha/witness", true).expect("inbox")[0].description;
    assert!(
        body.contains(&format!("gastown escalate close {}", e.id)),
        "{body}"
    );
    assert!(
        body.contains(&format!("gastown escalate forward {}", e.id)),
        "{body}"
    );
    assert!(subjects(&ledger, "mayor").is_empty());
    assert!(subjects(&ledger, "overseer").is_empty());
    let held = get(&ledger, &e.id).expect("get");
    assert_eq!(held.judge.as_deref(), Some("alpha/witness"));
    assert!(held.held_at(gastown_beads::time::now_unix_nanos()));
    // Held escalations do not go stale while their judge has them.
    assert!(
        stale(
            &ledger,
            gastown_beads::time::now_unix_nanos() + 1,
            Duration::ZERO
        )
        .expect("stale")
        .is_empty()
    );
    // Nothing has run out yet: nothing is released.
    assert!(
        routing::release_expired(&mut ledger, &town)
            .expect("release")
            .is_empty()
    );
    // Escalations of other sources (another rig, the supervisor) go up at once.
    let other = raise(
        &mut ledger,
        &raise_as("supervisor", None, "rig beta gave up"),
        "supervisor",
    )
    .expect("raise")
    .escalation;
    let (routed, _) =
        routing::route_in_ledger(&mut ledger, &town, &other, "supervisor").expect("route");
    assert_eq!(routed, ["mail:mayor"]);
}

#[test]
fn a_judged_escalation_goes_up_when_its_time_runs_out_and_is_never_held_again() {
    let (_d, town, mut ledger) = town_with_witness_agent(Duration::from_millis(1));
    let mut r = raise_as("alpha/polecats/nux", None, "stuck");
    r.severity = Severity::High;
    let e = raise(&mut ledger, &r, "x").expect("raise").escalation;
    routing::route_in_ledger(&mut ledger, &town, &e, "x").expect("route");
    // Poll until the 1 ms hold has run out (no fixed sleep).
    let released = loop {
        let released = routing::release_expired(&mut ledger, &town).expect("release");
        if !released.is_empty() {
            break released;
        }
        std::thread::yield_now();
    };
    assert_eq!(released.len(), 1);
    let (up, outside) = &released[0];
    assert_eq!(up.id, e.id);
    assert!(up.judge_released.is_some());
    assert_eq!(
        outside,
        &[routing::Outside::Bell],
        "high rings the bell once it goes up"
    );
    let mayor = crate::mail::store::inbox(&ledger, "mayor", true).expect("inbox");
    assert_eq!(mayor.len(), 1);
    assert!(
        mayor[0]
            .description
            .contains("had first and did not settle"),
        "{}",
        mayor[0].description
    );
    assert_eq!(subjects(&ledger, "overseer").len(), 1);
    // Released once: a later route (a fold at a higher severity) goes straight up.
    let up = get(&ledger, &e.id).expect("get");
    let (routed, _) = routing::route_in_ledger(&mut ledger, &town, &up, "x").expect("route");
    assert!(routed.contains(&"mail:mayor".to_string()), "{routed:?}");
    assert!(
        routing::release_expired(&mut ledger, &town)
            .expect("release")
            .is_empty()
    );
}

#[test]
fn the_witness_agent_closes_or_forwards_what_it_holds_and_nobody_else_may() {
    use crate::caller::Caller;
    use crate::command::escalation::{EscalateOutcome, EscalateRequest, apply};
    let (_d, town, mut ledger) = town_with_witness_agent(Duration::from_secs(600));
    let agent = |a: &str| Caller::Agent(crate::identity::AgentIdentity::parse(a).expect("address"));
    let raise_req = |m: &str| EscalateRequest::Raise {
        severity: Severity::Medium,
        bead: None,
        message: m.to_string(),
    };
    let id_of = |o: EscalateOutcome| match o {
        EscalateOutcome::Raised { escalation, .. } => escalation.id,
        other => panic!("{other:?}"),
    };
    let first = id_of(
        apply(
            &mut ledger,
            &town,
            raise_req("one"),
            &agent("alpha/polecats/nux"),
        )
        .expect("raise"),
    );
    let second = id_of(
        apply(
            &mut ledger,
            &town,
            raise_req("two"),
            &agent("alpha/polecats/nux"),
        )
        .expect("raise"),
    );
    // Another polecat may not close or forward it.
    let err = apply(
        &mut ledger,
        &town,
        EscalateRequest::Close {
            id: first.clone(),
            reason: None,
        },
        &agent("alpha/polecats/slit"),
    )
    .expect_err("forbidden");
    assert!(
        err.to_string().contains("witness agent judging it"),
        "{err}"
    );
    // The witness agent closes the first: it never reaches the mayor.
    apply(
        &mut ledger,
        &town,
        EscalateRequest::Close {
            id: first.clone(),
            reason: Some("restarted it".to_string()),
        },
        &agent("alpha/witness"),
    )
    .expect("judge closes");
    assert_eq!(get(&ledger, &first).expect("get").state, State::Closed);
    assert!(subjects(&ledger, "mayor").is_empty());
    // ... and forwards the second with a note: it goes up now, note and all.
    let forwarded = apply(
        &mut ledger,
        &town,
        EscalateRequest::Forward {
            id: second.clone(),
            note: Some("needs a human: the API key expired".to_string()),
        },
        &agent("alpha/witness"),
    )
    .expect("forward");
    let EscalateOutcome::Forwarded { routed, .. } = forwarded else {
        panic!("{forwarded:?}");
    };
    assert_eq!(routed, ["mail:mayor"]);
    let mayor = crate::mail::store::inbox(&ledger, "mayor", true).expect("inbox");
    assert!(
        mayor[0].description.contains("the API key expired"),
        "{}",
        mayor[0].description
    );
    // Forwarding twice, or what no judge holds, is refused with what to do.
    let err = apply(
        &mut ledger,
        &town,
        EscalateRequest::Forward {
            id: second.clone(),
            note: None,
        },
        &Caller::Overseer,
    )
    .expect_err("already up");
    assert!(
        err.to_string().contains("not held by a witness agent"),
        "{err}"
    );
    // Once it went up the witness agent may not close it: that is the mayor's now.
    let err = apply(
        &mut ledger,
        &town,
        EscalateRequest::Close {
            id: second,
            reason: None,
        },
        &agent("alpha/witness"),
    )
    .expect_err("forbidden");
    assert!(err.to_string().contains("may not close"), "{err}");
    // The witness agent's own raise goes up at once (it is the judge).
    let own = apply(
        &mut ledger,
        &town,
        raise_req("the gate is broken"),
        &agent("alpha/witness"),
    )
    .expect("raise");
    let EscalateOutcome::Raised { routed, .. } = own else {
        panic!("{own:?}");
    };
    assert_eq!(routed, ["mail:mayor"]);
    // A rig.toml saying "none" keeps the rig mechanical whatever town.toml says.
    let mut config = crate::rig::Rig::load(&town, "alpha").expect("rig").config;
    config.roles.witness = Some("none".to_string());
    assert_eq!(crate::witness::agent_runtime(&town, &config), None);
}
