//! `gastown status` gathered from a real ledger in a throw-away town: what each part says, and
//! what needs the overseer first.

use super::*;
use crate::escalation::Raise;
use crate::identity::AgentIdentity;
use crate::mail::store::{Outgoing, send};
use crate::testing::town;
use gastown_beads::NewBead;

/// A town with a rig `alpha` whose rig.toml loads.
fn town_with_alpha() -> (tempfile::TempDir, Town, Ledger) {
    let (dir, town, ledger) = town();
    let rig = town.root.join("alpha");
    std::fs::create_dir_all(&rig).expect("rig dir");
    crate::rig::RigConfig::new("alpha", "/nowhere", "main", "al")
        .write(&rig.join("rig.toml"))
        .expect("rig.toml");
    (dir, town, ledger)
}

fn bead(ledger: &mut Ledger, title: &str) -> String {
    let new = NewBead {
        title: title.to_string(),
        ..NewBead::default()
    };
    ledger.create(new, "overseer").expect("create").id
}

#[test]
fn a_town_shows_its_agents_convoys_escalations_mail_and_what_comes_first() {
    let (_d, town, mut ledger) = town_with_alpha();
    // A polecat with a worktree directory, working a bead.
    std::fs::create_dir_all(town.root.join("alpha/polecats/nux")).expect("worktree dir");
    let work = bead(&mut ledger, "Add a greeting");
    let other = bead(&mut ledger, "Fix the docs");
    let nux = AgentIdentity::parse("alpha/polecats/nux").expect("address");
    crate::agents::set_state(&mut ledger, &nux, AgentState::Working, Some(&work)).expect("hook");
    ledger.close(&other, "done", "overseer").expect("close");
    crate::convoy::create(
        &mut ledger,
        "Greetings",
        &[work.clone(), other.clone()],
        false,
        None,
        "overseer",
    )
    .expect("convoy");
    let low = Raise {
        severity: Severity::Low,
        source: "deacon",
        bead: None,
        message: "a small thing",
    };
    escalation::raise(&mut ledger, &low, "deacon").expect("raise");
    let high = Raise {
        severity: Severity::High,
        source: "alpha/witness",
        bead: Some(&work),
        message: "nux keeps crashing\nthe rest of the story",
    };
    let high_id = escalation::raise(&mut ledger, &high, "alpha/witness")
        .expect("raise")
        .escalation
        .id;
    let mail = Outgoing {
        to: OVERSEER.to_string(),
        subject: "Convoy halfway".to_string(),
        body: "b".to_string(),
        ..Outgoing::default()
    };
    send(&mut ledger, "mayor", &mail).expect("mail");
    // A rig whose rig.toml does not load.
    std::fs::create_dir_all(town.root.join("beta")).expect("rig dir");
    std::fs::write(town.root.join("beta/rig.toml"), "max_polecats = \"many\"\n").expect("write");

    let status = gather(&ledger, &town).expect("status");

    assert!(!status.live);
    let alpha = status
        .rigs
        .iter()
        .find(|r| r.name == "alpha")
        .expect("alpha");
    assert_eq!((alpha.polecats, alpha.working, alpha.idle), (1, 1, 0));
    assert_eq!(alpha.problem, None);
    assert_eq!(alpha.running, None);
    let beta = status.rigs.iter().find(|r| r.name == "beta").expect("beta");
    assert!(beta.problem.is_some(), "{beta:?}");
    let agent = status
        .agents
        .iter()
        .find(|a| a.address == "alpha/polecats/nux")
        .expect("nux");
    assert_eq!(agent.state, "working");
    assert_eq!(
        agent
            .hook
            .as_ref()
            .map(|h| (h.id.as_str(), h.title.as_str())),
        Some((work.as_str(), "Add a greeting"))
    );
    assert_eq!(status.convoys.len(), 1);
    assert_eq!((status.convoys[0].closed, status.convoys[0].total), (1, 2));
    let severities: Vec<&str> = status
        .escalations
        .iter()
        .map(|e| e.severity.as_str())
        .collect();
    assert_eq!(severities, ["high", "low"], "most severe first");
    assert_eq!(status.mail.unread, 1);
    assert_eq!(status.mail.latest[0].subject, "Convoy halfway");
    assert_eq!(status.mail.latest[0].from, "mayor");

    let levels: Vec<&str> = status.attention.iter().map(|a| a.level.as_str()).collect();
    assert_eq!(
        levels,
        ["high", "high", "low", "low"],
        "{:#?}",
        status.attention
    );
    assert_eq!(
        status.attention[0].command,
        format!("gastown escalate ack {high_id}")
    );
    assert!(
        status.attention[0].what.ends_with("nux keeps crashing"),
        "only the first line: {:?}",
        status.attention[0].what
    );
    assert!(
        status.attention[1]
            .what
            .starts_with("rig beta does not load")
    );
    assert_eq!(status.attention[3].command, "gastown mail inbox");
}

#[test]
fn live_facts_add_blocked_sessions_and_stopped_rigs_and_an_acked_escalation_drops_out() {
    let (_d, town, mut ledger) = town_with_alpha();
    let raised = escalation::raise(
        &mut ledger,
        &Raise {
            severity: Severity::Critical,
            source: "deacon",
            bead: None,
            message: "disk full",
        },
        "deacon",
    )
    .expect("raise");
    escalation::ack(&mut ledger, &raised.escalation.id, "overseer").expect("ack");
    let crew = AgentIdentity::parse("alpha/crew/max").expect("address");
    crate::agents::set_state(&mut ledger, &crew, AgentState::Idle, None).expect("agent");
    let mut status = gather(&ledger, &town).expect("status");
    assert_eq!(status.escalations.len(), 1, "acked is still open");
    assert!(status.attention.is_empty(), "{:#?}", status.attention);

    status.live = true;
    status.rigs[0].running = Some(false);
    let max = status
        .agents
        .iter_mut()
        .find(|a| a.address == "alpha/crew/max")
        .expect("max");
    max.session = Some("blocked: trust: Do you trust this folder?".to_string());
    status.find_attention();
    let what: Vec<&str> = status.attention.iter().map(|a| a.what.as_str()).collect();
    assert_eq!(
        what,
        [
            "rig alpha is not running (the deacon restarts it)",
            "alpha/crew/max waits on a dialog: trust: Do you trust this folder?"
        ]
    );
    assert_eq!(status.attention[1].command, "gastown attach alpha/crew/max");
}
