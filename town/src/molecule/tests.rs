//! Molecule logic on a real ledger in a real town (git repository + redb index), without the
//! CLI: a 1,000-step pour (timed; run with `--nocapture` to see the figures), readiness of
//! parallel steps, and refusals.

use super::*;
use crate::town::{InstallOptions, Town, install};
use gastown_formula::{CookOptions, Formula, Library, Protomolecule, cook_formula};
use std::time::Instant;

fn new_town() -> (tempfile::TempDir, Town) {
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = InstallOptions {
        prefix: "gt".to_string(),
        name: None,
        agent: crate::town::DefaultAgent::Named("sim".to_string()),
    };
    let town = install(&dir.path().join("town"), &opts).expect("install");
    (dir, town)
}

fn cook_text(text: &str) -> Protomolecule {
    let formula = Formula::parse("test.formula.toml", text).expect("formula parses");
    cook_formula(&Library::builtin(), &formula, &CookOptions::default()).expect("cooks")
}

/// A chain of `n` steps, each needing the one before.
fn chain(n: usize) -> String {
    let mut text = String::from("formula = \"chain\"\ndescription = \"A long chain\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "[[steps]]\nid = \"s{i}\"\ntitle = \"Step {i}\"\ndescription = \"Do step {i}\"\n"
        ));
        if i > 0 {
            text.push_str(&format!("needs = [\"s{}\"]\n", i - 1));
        }
    }
    text
}

#[test]
#[allow(
    clippy::print_stdout,
    reason = "the benchmark test reports its figures"
)]
fn pour_of_1000_steps_and_walking_it() {
    let (_dir, town) = new_town();
    let proto = cook_text(&chain(1000));
    let mut ledger = town.open_ledger().expect("ledger");
    let start = Instant::now();
    let poured = pour(&mut ledger, &proto, &PourOptions::default(), "bench").expect("pours");
    let pour_time = start.elapsed();
    assert_eq!(poured.steps.len(), 1000);
    assert_eq!(
        ledger.ready_ids().expect("the ready set"),
        vec![poured.steps[0].bead.clone()]
    );

    let start = Instant::now();
    let mol = load(&ledger, &poured.molecule).expect("loads");
    let load_time = start.elapsed();
    assert_eq!(mol.current().map(|s| s.step.as_str()), Some("s0"));
    assert!(mol.missing.is_empty());

    let start = Instant::now();
    let done = step_done(&mut ledger, &poured.molecule, "s0", "done", "bench").expect("closes");
    let step_time = start.elapsed();
    match done {
        StepDone::Closed { next, done, .. } => {
            assert_eq!(done, 1);
            assert_eq!(next.map(|n| n.step), Some("s1".to_string()));
        }
        other => panic!("expected a close, got {other:?}"),
    }
    let start = Instant::now();
    ledger.sync().expect("git commit");
    let sync_time = start.elapsed();
    // The same 1,001 beads written in one durable transaction (an import into a fresh
    // town): what a batch create in the ledger would cost, for comparison.
    let (dir2, town2) = new_town();
    let export = dir2.path().join("pour.jsonl");
    let file = std::fs::File::create(&export).expect("export file");
    ledger.export_to(file).expect("export");
    let mut other = town2.open_ledger().expect("ledger");
    let start = Instant::now();
    let imported = other.import_file(&export, "bench").expect("imports");
    let batch_time = start.elapsed();
    assert_eq!(imported.created, 1001);
    assert_eq!(
        other.ready_ids().expect("the ready set"),
        vec![poured.steps[1].bead.clone()]
    );
    println!(
        "pour 1000 steps: {:.1} ms; load: {:.1} ms; step done: {:.1} ms; git commit of 1001 beads: {:.1} ms; \
         the same beads in one transaction (import): {:.1} ms",
        pour_time.as_secs_f64() * 1e3,
        load_time.as_secs_f64() * 1e3,
        step_time.as_secs_f64() * 1e3,
        sync_time.as_secs_f64() * 1e3,
        batch_time.as_secs_f64() * 1e3,
    );
}

#[test]
fn parallel_steps_are_ready_together_and_the_join_waits_for_all() {
    let (_dir, town) = new_town();
    let proto = cook_text(
        "formula = \"fan\"\n[[steps]]\nid = \"a\"\n[[steps]]\nid = \"b\"\n\
         [[steps]]\nid = \"join\"\nneeds = [\"a\", \"b\"]\n",
    );
    let mut ledger = town.open_ledger().expect("ledger");
    let poured = pour(&mut ledger, &proto, &PourOptions::default(), "t").expect("pours");
    let mol = load(&ledger, &poured.molecule).expect("loads");
    let states: Vec<StepState> = mol.steps.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [StepState::Ready, StepState::Ready, StepState::Blocked]
    );
    step_done(&mut ledger, &poured.molecule, "b", "", "t").expect("b closes");
    let err = step_done(&mut ledger, &poured.molecule, "join", "", "t").expect_err("a is open");
    assert!(
        matches!(&err, MolError::NeedsOpen { open, .. } if open.len() == 1 && open[0].contains("`a`")),
        "{err}"
    );
    step_done(&mut ledger, &poured.molecule, "a", "", "t").expect("a closes");
    step_done(&mut ledger, &poured.molecule, "join", "", "t").expect("join closes");
    let mol = load(&ledger, &poured.molecule).expect("loads");
    assert_eq!(mol.done(), 3);
    assert!(mol.current().is_none());
}

#[test]
fn unknown_steps_and_non_molecules_are_refused() {
    let (_dir, town) = new_town();
    let proto = cook_text("formula = \"one\"\n[[steps]]\nid = \"only\"\n");
    let mut ledger = town.open_ledger().expect("ledger");
    let poured = pour(&mut ledger, &proto, &PourOptions::default(), "t").expect("pours");
    let err = step_done(&mut ledger, &poured.molecule, "nope", "", "t").expect_err("no step");
    assert!(err.to_string().contains("its steps are: only"), "{err}");
    let step = &poured.steps[0].bead;
    let err = load(&ledger, step).expect_err("a step is not a molecule");
    assert!(matches!(err, MolError::NotAMolecule { .. }), "{err}");
    let err = burn(&mut ledger, &poured.molecule).expect_err("not a wisp");
    assert!(matches!(err, MolError::NotAWisp(_)), "{err}");
    let err = for_agent(&ledger, "rig/polecats/none").expect_err("nothing assigned");
    assert!(matches!(err, MolError::NoMoleculeFor { .. }), "{err}");
}

#[test]
fn the_hook_decides_which_molecule_an_agent_works() {
    let (_dir, town) = new_town();
    let proto = cook_text("formula = \"one\"\n[[steps]]\nid = \"only\"\n");
    let mut ledger = town.open_ledger().expect("ledger");
    let agent = "rig/polecats/nux";
    let opts = PourOptions {
        assignee: agent.to_string(),
        ..PourOptions::default()
    };
    let first = pour(&mut ledger, &proto, &opts, "t").expect("pours");
    assert_eq!(for_agent(&ledger, agent).expect("one"), first.molecule);
    let second = pour(&mut ledger, &proto, &opts, "t").expect("pours");
    let err = for_agent(&ledger, agent).expect_err("two assigned");
    assert!(
        matches!(&err, MolError::Ambiguous { candidates, .. } if candidates.len() == 2),
        "{err}"
    );
    // A bead hooked to the agent names its molecule: that one wins.
    let work = ledger
        .create(
            gastown_beads::ledger::NewBead {
                title: "work".to_string(),
                assignee: agent.to_string(),
                ..Default::default()
            },
            "t",
        )
        .expect("work bead");
    let patch = gastown_beads::ledger::BeadPatch {
        status: Some(Status::Hooked),
        ..Default::default()
    };
    ledger.update(&work.id, patch, "t").expect("hooked");
    super::record::attach_field(&second.molecule)
        .write(&mut ledger, &work.id, "t")
        .expect("extra");
    assert_eq!(for_agent(&ledger, agent).expect("hooked"), second.molecule);
}

/// Pour a three-step chain attached to a fresh work bead; returns (work id, poured).
fn attached_chain(ledger: &mut gastown_beads::Ledger) -> (String, pour::Poured) {
    let work = ledger
        .create(
            gastown_beads::ledger::NewBead {
                title: "work".to_string(),
                ..Default::default()
            },
            "t",
        )
        .expect("work bead");
    let opts = PourOptions {
        attach: Some(work.id.clone()),
        ..PourOptions::default()
    };
    let poured = pour(ledger, &cook_text(&chain(3)), &opts, "t").expect("pours");
    (work.id, poured)
}

fn status_of(ledger: &gastown_beads::Ledger, id: &str) -> Status {
    ledger.get(id).expect("get").expect("exists").status
}

#[test]
fn a_molecule_closes_with_its_last_step() {
    let (_dir, town) = new_town();
    let mut ledger = town.open_ledger().expect("ledger");
    let (_, poured) = attached_chain(&mut ledger);
    for (i, step) in ["s0", "s1", "s2"].iter().enumerate() {
        let done = step_done(&mut ledger, &poured.molecule, step, "", "t").expect("closes");
        let StepDone::Closed {
            molecule_closed, ..
        } = done
        else {
            panic!("{step} was open");
        };
        assert_eq!(molecule_closed, i == 2, "{step}");
    }
    let mol = ledger.get(&poured.molecule).expect("get").expect("mol");
    assert_eq!(mol.status, Status::Closed);
    assert_eq!(mol.close_reason, "all 3 steps done");
    // A step closed by hand (`bead close`) finishes the molecule the same way.
    let (_, other) = attached_chain(&mut ledger);
    for step in &other.steps {
        ledger.close(&step.bead, "by hand", "t").expect("close");
        let notes = on_closed(&mut ledger, &step.bead, "t").expect("on_closed");
        assert_eq!(notes.is_empty(), step.step != "s2", "{notes:?}");
    }
    assert_eq!(status_of(&ledger, &other.molecule), Status::Closed);
}

#[test]
fn closing_the_work_closes_its_molecules_open_steps() {
    let (_dir, town) = new_town();
    let mut ledger = town.open_ledger().expect("ledger");
    let (work, poured) = attached_chain(&mut ledger);
    step_done(&mut ledger, &poured.molecule, "s0", "", "t").expect("s0");
    assert_eq!(
        ledger.blocked_ids().expect("the blocked set"),
        vec![poured.steps[2].bead.clone()]
    );
    ledger
        .close(&work, "merged in abc", "refinery")
        .expect("close work");
    let notes = on_closed(&mut ledger, &work, "refinery").expect("on_closed");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains(&poured.molecule), "{notes:?}");
    for step in &poured.steps[1..] {
        let b = ledger.get(&step.bead).expect("get").expect("step");
        assert_eq!(b.status, Status::Closed, "{}", step.step);
        assert!(b.close_reason.contains(&work), "{}", b.close_reason);
    }
    let first = ledger.get(&poured.steps[0].bead).expect("get").expect("s0");
    assert_eq!(
        first.close_reason, "",
        "a step already done keeps its own close"
    );
    assert_eq!(status_of(&ledger, &poured.molecule), Status::Closed);
    assert!(
        ledger.blocked_ids().expect("the blocked set").is_empty(),
        "{:?}",
        ledger.blocked_ids().expect("the blocked set")
    );
    assert!(
        ledger.ready_ids().expect("the ready set").is_empty(),
        "{:?}",
        ledger.ready_ids().expect("the ready set")
    );
    // Again (a retried bookkeeping): nothing more to do.
    assert!(
        on_closed(&mut ledger, &work, "refinery")
            .expect("again")
            .is_empty()
    );
}

#[test]
fn a_molecule_closed_by_hand_takes_its_open_steps_with_it() {
    let (_dir, town) = new_town();
    let mut ledger = town.open_ledger().expect("ledger");
    let (work, poured) = attached_chain(&mut ledger);
    ledger
        .close(&poured.molecule, "abandoned", "t")
        .expect("close");
    on_closed(&mut ledger, &poured.molecule, "t").expect("on_closed");
    for step in &poured.steps {
        assert_eq!(
            status_of(&ledger, &step.bead),
            Status::Closed,
            "{}",
            step.step
        );
    }
    assert_eq!(
        ledger.ready_ids().expect("the ready set"),
        vec![work],
        "only the work is ready"
    );
}

#[test]
fn a_molecule_poured_for_a_rig_carries_its_prefix_down_to_its_digest() {
    let (_dir, town) = new_town();
    let mut ledger = town.open_ledger().expect("ledger");
    let opts = PourOptions {
        prefix: Some("alpha".to_string()),
        ..PourOptions::default()
    };
    let poured = pour(&mut ledger, &cook_text(&chain(2)), &opts, "t").expect("pours");
    assert!(gastown_beads::id::has_prefix(&poured.molecule, "alpha"));
    for step in &poured.steps {
        assert!(
            gastown_beads::id::has_prefix(&step.bead, "alpha"),
            "{}",
            step.bead
        );
    }
    let squashed = squash(
        &mut ledger,
        &poured.molecule,
        SquashOptions {
            force: true,
            ..Default::default()
        },
        "t",
    )
    .expect("squash");
    assert!(
        gastown_beads::id::has_prefix(&squashed.digest, "alpha"),
        "{}",
        squashed.digest
    );
}

/// Close every step of `poured` (the molecule closes with its last one).
fn finish_all(ledger: &mut gastown_beads::Ledger, poured: &pour::Poured) {
    for step in &poured.steps {
        step_done(ledger, &poured.molecule, &step.step, "did it", "t").expect("step done");
    }
    assert_eq!(status_of(ledger, &poured.molecule), Status::Closed);
}

#[test]
fn the_compactor_squashes_long_closed_molecules_into_digests_keeping_every_step() {
    let (_dir, town) = new_town();
    let mut ledger = town.open_ledger().expect("ledger");
    let hour = std::time::Duration::from_secs(3600);
    let now = gastown_beads::time::now_unix_nanos();
    let later = now + 2 * i128::try_from(hour.as_nanos()).expect("fits");
    // Old and done, with a note on a step; one still open; one squashed by hand earlier.
    let (_, old) = attached_chain(&mut ledger);
    ledger
        .update(
            &old.steps[1].bead,
            gastown_beads::BeadPatch {
                notes: Some("tried twice".to_string()),
                ..Default::default()
            },
            "t",
        )
        .expect("notes");
    finish_all(&mut ledger, &old);
    let (_, open) = attached_chain(&mut ledger);
    step_done(&mut ledger, &open.molecule, "s0", "", "t").expect("s0");
    let (_, by_hand) = attached_chain(&mut ledger);
    finish_all(&mut ledger, &by_hand);
    let hand_digest = squash(
        &mut ledger,
        &by_hand.molecule,
        SquashOptions::default(),
        "t",
    )
    .expect("squash")
    .digest;
    // Closed just now: nothing is old enough.
    let done = compact(&mut ledger, now, hour, "compactor").expect("compact");
    assert_eq!(done.summary(), "0 molecule(s) squashed into digests");
    assert!(ledger.get(&old.steps[0].bead).expect("get").is_some());

    let done = compact(&mut ledger, later, hour, "compactor").expect("compact");
    assert_eq!(
        done.summary(),
        "2 molecule(s) squashed into digests",
        "{done:?}"
    );
    // The digest holds every step's record; the steps are gone from the live ledger.
    let (_, digest) = done
        .squashed
        .iter()
        .find(|(m, _)| *m == old.molecule)
        .expect("the old molecule compacted");
    let digest = ledger.get(digest).expect("get").expect("digest");
    assert!(digest.is_closed() && digest.labels.iter().any(|l| l == "digest"));
    let rows = digest.extra["steps"].as_array().expect("rows").clone();
    assert_eq!(rows.len(), 3);
    for (row, step) in rows.iter().zip(&old.steps) {
        assert_eq!(row["bead"], step.bead.as_str());
        assert_eq!(row["status"], "closed");
        assert_eq!(row["close_reason"], "did it");
        assert_eq!(
            row["record"]["description"],
            format!("Do step {}", &step.step[1..])
        );
        assert!(
            ledger.get(&step.bead).expect("get").is_none(),
            "{} removed",
            step.bead
        );
    }
    assert_eq!(rows[1]["record"]["notes"], "tried twice");
    let mol = ledger
        .get(&old.molecule)
        .expect("get")
        .expect("the molecule stays");
    assert!(
        mol.labels.iter().any(|l| l == "compacted"),
        "{:?}",
        mol.labels
    );
    assert_eq!(mol.extra["digest"], digest.id.as_str());
    let err = load_live(&ledger, &old.molecule).expect_err("compacted");
    assert!(err.to_string().contains(&digest.id), "{err}");
    assert!(
        load(&ledger, &old.molecule)
            .expect("loads")
            .missing
            .is_empty()
    );
    // The molecule squashed by hand keeps its one digest, now with the records.
    let hand = ledger.get(&hand_digest).expect("get").expect("digest");
    assert!(hand.extra["steps"][0]["record"].is_object(), "{hand:?}");
    assert_eq!(
        done.squashed
            .iter()
            .find(|(m, _)| *m == by_hand.molecule)
            .map(|(_, d)| d),
        Some(&hand_digest)
    );
    // The open molecule is untouched.
    for step in &open.steps {
        assert!(ledger.get(&step.bead).expect("get").is_some());
    }
    // Again: nothing changes.
    let seq = ledger.change_seq();
    let again = compact(&mut ledger, later, hour, "compactor").expect("again");
    assert_eq!(again, Compacted::default());
    assert_eq!(ledger.change_seq(), seq, "nothing written");
}

#[test]
fn the_compactor_waits_while_an_open_bead_depends_on_a_step() {
    let (_dir, town) = new_town();
    let mut ledger = town.open_ledger().expect("ledger");
    let (_, poured) = attached_chain(&mut ledger);
    finish_all(&mut ledger, &poured);
    let follow_up = ledger
        .create(
            gastown_beads::ledger::NewBead {
                title: "follow-up".to_string(),
                deps: vec![(gastown_beads::DepKind::Blocks, poured.steps[2].bead.clone())],
                ..Default::default()
            },
            "t",
        )
        .expect("follow-up");
    let later = gastown_beads::time::now_unix_nanos() + 10_000_000_000;
    let second = std::time::Duration::from_secs(1);
    let done = compact(&mut ledger, later, second, "c").expect("compact");
    assert!(done.squashed.is_empty(), "{done:?}");
    assert!(
        done.summary()
            .contains(&format!("open bead {}", follow_up.id)),
        "{}",
        done.summary()
    );
    ledger.close(&follow_up.id, "done", "t").expect("close");
    let done = compact(&mut ledger, later, second, "c").expect("compact");
    assert_eq!(done.squashed.len(), 1, "{done:?}");
}

#[test]
fn a_compaction_stopped_after_removing_the_steps_is_finished_by_the_next_run() {
    let (_dir, town) = new_town();
    let mut ledger = town.open_ledger().expect("ledger");
    let (_, poured) = attached_chain(&mut ledger);
    finish_all(&mut ledger, &poured);
    let digest = squash(&mut ledger, &poured.molecule, SquashOptions::default(), "t")
        .expect("squash")
        .digest;
    // As a crash would leave it: the steps gone, the molecule not marked yet.
    let steps: Vec<String> = poured.steps.iter().map(|s| s.bead.clone()).collect();
    ledger.remove_beads(&steps, "c").expect("remove");
    let later = gastown_beads::time::now_unix_nanos() + 10_000_000_000;
    let second = std::time::Duration::from_secs(1);
    compact(&mut ledger, later, second, "c").expect("compact");
    let mol = ledger.get(&poured.molecule).expect("get").expect("mol");
    assert_eq!(mol.extra["digest"], digest.as_str());
    let err = load_live(&ledger, &poured.molecule).expect_err("compacted");
    assert!(matches!(err, MolError::Compacted { .. }), "{err}");
    let seq = ledger.change_seq();
    compact(&mut ledger, later, second, "c").expect("again");
    assert_eq!(ledger.change_seq(), seq, "nothing written");
}
