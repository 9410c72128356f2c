//! The router's API on a real ledger in a throw-away town.

use super::*;
use gastown_beads::Ledger;

fn town() -> (tempfile::TempDir, Ledger) {
    let (dir, _town, ledger) = crate::testing::town_with_alpha();
    (dir, ledger)
}

fn mail(to: &str, subject: &str) -> Outgoing {
    Outgoing {
        to: to.to_string(),
        subject: subject.to_string(),
        body: "b".to_string(),
        ..Outgoing::default()
    }
}

#[test]
fn protocol_messages_are_wisps_in_the_recipients_mailbox() {
    let (_d, mut ledger) = town();
    let bead = send_protocol(
        &mut ledger,
        ProtocolKind::PolecatDone,
        "alpha/witness",
        "alpha/polecats/nux",
        "done: gt-abc",
    )
    .expect("sent");
    assert!(bead.ephemeral);
    assert_eq!(protocol_kind(&bead), Some(ProtocolKind::PolecatDone));
    let unread = unread_for(&ledger, "alpha/witness").expect("inbox");
    assert_eq!(unread.len(), 1);
    assert_eq!(sender_of(&unread[0]), "alpha/polecats/nux");
    assert_eq!(unread[0].title, "POLECAT_DONE");
    for k in ProtocolKind::ALL {
        assert_eq!(ProtocolKind::parse(k.as_str()), Some(k));
    }
}

#[test]
fn delivered_mail_stays_unread_but_is_not_told_twice() {
    let (_d, mut ledger) = town();
    let sent = send(&mut ledger, "overseer", &mail("mayor", "hello")).expect("sent");
    let id = &sent[0].id;
    assert_eq!(
        store::undelivered_for(&ledger, "mayor").expect("q").len(),
        1
    );
    store::mark_delivered(&mut ledger, id, "mayor").expect("delivered");
    assert!(
        store::undelivered_for(&ledger, "mayor")
            .expect("q")
            .is_empty()
    );
    assert_eq!(unread_for(&ledger, "mayor").expect("q").len(), 1);
    mark_read(&mut ledger, id, "mayor").expect("read");
    assert!(unread_for(&ledger, "mayor").expect("q").is_empty());
    archive(&mut ledger, id, "mayor").expect("archived");
    assert!(inbox(&ledger, "mayor", true).expect("q").is_empty());
    let back = mark_unread(&mut ledger, id, "mayor").expect("unread");
    assert!(is_unread(&back));
}

#[test]
fn dnd_is_seen_by_is_dnd_at_once() {
    let (_d, mut ledger) = town();
    assert!(!is_dnd(&ledger, "alpha/witness"));
    let witness = crate::identity::AgentIdentity::parse("alpha/witness").expect("an address");
    dnd(&mut ledger, &witness, true).expect("on");
    assert!(is_dnd(&ledger, "alpha/witness"));
    assert!(!is_dnd(&ledger, "mayor"));
    dnd(&mut ledger, &witness, false).expect("off");
    assert!(!is_dnd(&ledger, "alpha/witness"));
}

#[test]
fn town_fans_out_to_every_agent_but_the_sender() {
    let (_d, mut ledger) = town();
    let got = resolve(&ledger, "@town", "mayor").expect("resolves");
    let Resolved::Group { members, .. } = got else {
        panic!("a group: {got:?}");
    };
    assert_eq!(members, vec!["alpha/refinery", "alpha/witness", "deacon"]);
    let sent = send(&mut ledger, "overseer", &mail("@alpha", "rig news")).expect("sent");
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter()
            .all(|b| b.labels.contains(&"via:@alpha".to_string()))
    );
}

#[test]
fn an_inbox_sees_mail_written_outside_this_module_at_once() {
    let (_d, mut ledger) = town();
    send(&mut ledger, "overseer", &mail("mayor", "one")).expect("sent");
    assert_eq!(unread_for(&ledger, "mayor").expect("q").len(), 1);
    // A message bead made outside this module (`gastown bead create -t message`).
    let foreign = ledger
        .create(
            gastown_beads::NewBead {
                title: "two".to_string(),
                issue_type: gastown_beads::IssueType::Message,
                assignee: "mayor".to_string(),
                ..Default::default()
            },
            "overseer",
        )
        .expect("created");
    send(&mut ledger, "overseer", &mail("mayor", "three")).expect("sent");
    let titles: Vec<String> = unread_for(&ledger, "mayor")
        .expect("q")
        .into_iter()
        .map(|b| b.title)
        .collect();
    assert_eq!(titles, vec!["one", "two", "three"]);
    // A foreign update (`gastown bead close`) is seen at once, with nothing to invalidate.
    ledger
        .close(&foreign.id, "by hand", "overseer")
        .expect("closed");
    assert_eq!(unread_for(&ledger, "mayor").expect("q").len(), 2);
}

#[test]
fn a_large_inbox_comes_back_whole_and_in_order() {
    let (_d, mut ledger) = town();
    for i in 0..500 {
        send(&mut ledger, "overseer", &mail("deacon", &format!("m{i}"))).expect("sent");
    }
    let mail = unread_for(&ledger, "deacon").expect("q");
    assert_eq!(mail.len(), 500);
    assert!(mail.windows(2).all(|w| w[0].created_at <= w[1].created_at));
    let again = unread_for(&ledger, "deacon").expect("from the index");
    assert_eq!(again, mail);
}
