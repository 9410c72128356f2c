//! Convoys on a real ledger in a throw-away town: the landing API the refinery and the deacon
//! call.

use super::*;
use gastown_beads::{Ledger, NewBead, Status};

use crate::testing::town;

fn bead(ledger: &mut Ledger, title: &str) -> String {
    let new = NewBead {
        title: title.to_string(),
        ..NewBead::default()
    };
    ledger.create(new, "overseer").expect("create").id
}

fn landed_mail(ledger: &Ledger) -> Vec<String> {
    crate::mail::store::inbox(ledger, "overseer", true)
        .expect("inbox")
        .into_iter()
        .map(|m| m.title)
        .filter(|t| t.starts_with("Convoy landed"))
        .collect()
}

#[test]
fn on_bead_closed_lands_only_the_convoys_whose_beads_are_all_closed() {
    let (_d, town, mut ledger) = town();
    let a = bead(&mut ledger, "a");
    let b = bead(&mut ledger, "b");
    let both = create(
        &mut ledger,
        "Both",
        &[a.clone(), b.clone()],
        true,
        None,
        "overseer",
    )
    .expect("convoy");
    let only_a = create(
        &mut ledger,
        "Only a",
        std::slice::from_ref(&a),
        false,
        None,
        "overseer",
    )
    .expect("convoy");
    let unrelated = create(
        &mut ledger,
        "Only b",
        std::slice::from_ref(&b),
        false,
        None,
        "overseer",
    )
    .expect("convoy");

    ledger.close(&a, "merged", "alpha/refinery").expect("close");
    let landed = on_bead_closed(&mut ledger, &town, &a, "alpha/refinery").expect("landing");
    assert_eq!(
        landed,
        vec![ConvoyLanded {
            id: only_a.id.clone(),
            name: "Only a".to_string(),
            beads: vec![a.clone()],
            notify: false,
        }]
    );
    let status = |l: &Ledger, id: &str| l.get(id).expect("get").expect("there").status;
    assert_eq!(status(&ledger, &only_a.id), Status::Closed);
    assert_eq!(status(&ledger, &both.id), Status::Open, "b is still open");
    assert_eq!(status(&ledger, &unrelated.id), Status::Open);
    assert_eq!(
        landed_mail(&ledger),
        vec!["Convoy landed: Only a".to_string()]
    );

    ledger.close(&b, "merged", "alpha/refinery").expect("close");
    let mut landed = on_bead_closed(&mut ledger, &town, &b, "alpha/refinery").expect("landing");
    landed.sort_by(|x, y| x.name.cmp(&y.name));
    let names: Vec<(&str, bool)> = landed.iter().map(|l| (l.name.as_str(), l.notify)).collect();
    assert_eq!(names, vec![("Both", true), ("Only b", false)]);
    // Nothing left to land: a second call or a sweep lands nothing and mails nobody again.
    assert!(
        on_bead_closed(&mut ledger, &town, &b, "x")
            .expect("again")
            .is_empty()
    );
    assert!(
        sweep(&mut ledger, &town, "deacon")
            .expect("sweep")
            .is_empty()
    );
    assert_eq!(landed_mail(&ledger).len(), 3);
}

#[test]
fn sweep_lands_convoys_whose_beads_were_closed_by_hand() {
    let (_d, town, mut ledger) = town();
    let a = bead(&mut ledger, "a");
    let convoy = create(
        &mut ledger,
        "Manual",
        std::slice::from_ref(&a),
        false,
        None,
        "overseer",
    )
    .expect("convoy");
    assert!(
        sweep(&mut ledger, &town, "deacon")
            .expect("sweep")
            .is_empty()
    );
    ledger.close(&a, "done by hand", "overseer").expect("close");
    let landed = sweep(&mut ledger, &town, "deacon").expect("sweep");
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].id, convoy.id);
    let p = progress(&ledger, &convoy.id).expect("progress");
    assert_eq!((p.status.as_str(), p.closed, p.total), ("closed", 1, 1));
}

#[test]
fn tracking_does_not_block_readiness() {
    let (_d, _town, mut ledger) = town();
    let a = bead(&mut ledger, "a");
    let convoy = create(
        &mut ledger,
        "C",
        std::slice::from_ref(&a),
        false,
        None,
        "overseer",
    )
    .expect("convoy");
    let ready = ledger.ready_ids().expect("the ready set");
    assert!(ready.contains(&a), "{ready:?}");
    assert!(
        !ready.contains(&convoy.id),
        "a convoy is coordination, not work"
    );
}

#[test]
fn no_notify_command_is_fine_and_a_configured_one_gets_the_convoy() {
    let (dir, mut town, _ledger) = town();
    let landed = ConvoyLanded {
        id: "gt-abc".to_string(),
        name: "It's done".to_string(),
        beads: vec!["gt-1".to_string(), "gt-2".to_string()],
        notify: true,
    };
    run_notify_command(&town, &landed).expect("no command configured: nothing to do");
    let out = dir.path().join("out.txt");
    town.config.convoy.notify_command = Some(format!(
        "printf '%s|%s|%s' \"$GASTOWN_CONVOY_ID\" \"$GASTOWN_CONVOY_NAME\" \"$GASTOWN_CONVOY_BEADS\" > {}.tmp && mv {0}.tmp {0}",
        out.display()
    ));
    run_notify_command(&town, &landed).expect("started");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let text = loop {
        if let Ok(text) = std::fs::read_to_string(&out) {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the notify command never wrote"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(text, "gt-abc|It's done|gt-1 gt-2");
}

#[test]
fn stranded_names_ready_beads_nobody_holds() {
    let (_d, _town, mut ledger) = town();
    let idle = bead(&mut ledger, "idle");
    let held = bead(&mut ledger, "held");
    let queued = bead(&mut ledger, "queued");
    let beads = [idle.clone(), held.clone(), queued.clone()];
    let convoy = create(&mut ledger, "C", &beads, false, None, "overseer").expect("convoy");
    let patch = gastown_beads::BeadPatch {
        status: Some(Status::Hooked),
        assignee: Some("alpha/polecats/nux".to_string()),
        ..Default::default()
    };
    ledger.update(&held, patch, "overseer").expect("hook");
    ledger
        .add_label(&queued, "dispatch:alpha", "overseer")
        .expect("queue");
    let found = stranded(&ledger).expect("stranded");
    assert_eq!(
        found,
        vec![Stranded {
            convoy: convoy.id,
            name: "C".to_string(),
            beads: vec![idle],
        }]
    );
}

#[test]
fn only_its_creator_the_mayor_and_the_overseer_close_a_convoy_by_hand() {
    use crate::Caller;
    use crate::authz::Forbidden;
    use crate::command::convoy::{ConvoyRequest, apply};
    let (_d, town, mut ledger) = town();
    let a = bead(&mut ledger, "a");
    let nux = "alpha/polecats/nux";
    let convoy = create(
        &mut ledger,
        "Theirs",
        std::slice::from_ref(&a),
        false,
        None,
        nux,
    )
    .expect("convoy");
    let close = || ConvoyRequest::Close {
        convoy: convoy.id.clone(),
        reason: None,
    };
    let as_agent = |address: &str| Caller::from_name(address).expect("an address");
    let refused = apply(&mut ledger, &town, close(), &as_agent("alpha/polecats/max"))
        .expect_err("another polecat may not");
    assert!(refused.downcast_ref::<Forbidden>().is_some(), "{refused:#}");
    assert_eq!(progress(&ledger, &convoy.id).expect("p").status, "open");
    apply(&mut ledger, &town, close(), &as_agent(nux)).expect("its creator may");
    assert_eq!(progress(&ledger, &convoy.id).expect("p").status, "closed");
}

#[test]
fn the_feed_plan_slings_each_stranded_bead_into_its_rig_or_tells_the_mayor() {
    let (_d, town, mut ledger) = town();
    for (name, prefix) in [("alpha", "al"), ("beta", "be")] {
        let dir = town.root.join(name);
        std::fs::create_dir_all(&dir).expect("rig dir");
        crate::rig::RigConfig::new(name, "/nowhere", "main", prefix)
            .write(&dir.join("rig.toml"))
            .expect("rig.toml");
    }
    let of_beta = ledger
        .create(
            NewBead {
                title: "beta's".to_string(),
                prefix: Some("be".to_string()),
                ..NewBead::default()
            },
            "overseer",
        )
        .expect("create")
        .id;
    let of_town = bead(&mut ledger, "nobody's");
    let held = bead(&mut ledger, "held");
    ledger
        .update(
            &held,
            gastown_beads::BeadPatch {
                status: Some(Status::Hooked),
                assignee: Some("alpha/polecats/nux".to_string()),
                ..Default::default()
            },
            "overseer",
        )
        .expect("hook");
    let convoy = create(
        &mut ledger,
        "Mixed",
        &[of_beta.clone(), of_town.clone(), held],
        false,
        None,
        "overseer",
    )
    .expect("convoy")
    .id;
    let plan = feed_plan(&ledger, &town).expect("plan");
    assert_eq!(
        plan,
        [
            Feed::Sling {
                convoy: convoy.clone(),
                bead: of_beta,
                rig: "beta".to_string()
            },
            Feed::NoRig {
                convoy,
                bead: of_town
            },
        ],
        "the held bead is left alone; with two rigs a town bead fits none"
    );
}
