//! Work commands in steps, on a real ledger, a real rig and real git: what happens when other
//! work runs between two steps of a command, and when a command stops between its outside work
//! and its ledger step (what a `kill -9` leaves; the binary's tests kill real processes).

use super::{DoneStatus, Outcome, SlingRequest, WorkCommand, apply, hooked};
use crate::git_cli::{self, git};
use crate::rig::{AddOptions, Rig, add_rig};
use crate::steps::LedgerSteps;
use crate::town::{DefaultAgent, InstallOptions, Town, install};
use gastown_beads::{IssueType, Ledger, ListFilter, NewBead};
use std::fs;

struct Fixture {
    _dir: tempfile::TempDir,
    town: Town,
    rig: Rig,
    ledger: Ledger,
}

/// A town with the rig `r` made from a one-commit source.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = dir.path().join("seed");
    fs::create_dir(&seed).expect("mkdir");
    git(&seed, &["init", "--quiet", "--initial-branch=main"]).expect("init");
    fs::write(seed.join("README.md"), "one\n").expect("write");
    git_cli::commit_all(&seed, "first").expect("commit");
    let town = install(
        &dir.path().join("town"),
        &InstallOptions {
            prefix: "gt".to_string(),
            name: None,
            agent: DefaultAgent::Named("sim".to_string()),
        },
    )
    .expect("install");
    let rig = add_rig(
        &town,
        &AddOptions {
            name: "r".to_string(),
            source: seed.to_string_lossy().into_owned(),
            branch: None,
            runtime: None,
            prefix: None,
            no_push: true,
        },
    )
    .expect("rig add");
    let ledger = town.open_ledger().expect("ledger");
    Fixture {
        _dir: dir,
        town,
        rig,
        ledger,
    }
}

fn task(ledger: &mut Ledger, title: &str) -> String {
    let new = NewBead {
        title: title.to_string(),
        priority: 2,
        ..NewBead::default()
    };
    ledger.create(new, "overseer").expect("create").id
}

fn to_rig(bead: &str) -> SlingRequest {
    SlingRequest {
        bead: bead.to_string(),
        target: "r".to_string(),
        force: false,
        runtime: None,
        formula: None,
        no_convoy: true,
    }
}

/// Why [`Interleaved`] stopped a command.
#[derive(Debug, thiserror::Error)]
#[error("stopped before the step {0}")]
struct Stopped(&'static str);

/// Work that gets in between two steps.
type Between<'a> = Box<dyn FnOnce(&mut Ledger) -> Result<(), Stopped> + 'a>;

/// Runs every step on a real ledger, and when the step named `at` comes, first runs `between`
/// — other work that got in between two steps, or a stop (`Err`) where a crash would be.
struct Interleaved<'a> {
    ledger: &'a mut Ledger,
    at: &'static str,
    between: Option<Between<'a>>,
}

impl LedgerSteps for Interleaved<'_> {
    type Error = Stopped;

    fn step<R, F>(&mut self, name: &'static str, f: F) -> Result<R, Stopped>
    where
        R: Send + 'static,
        F: FnOnce(&mut Ledger) -> R + Send + 'static,
    {
        if name == self.at
            && let Some(between) = self.between.take()
        {
            between(self.ledger)?;
        }
        Ok(f(self.ledger))
    }
}

fn hook_of(ledger: &Ledger, bead: &str) -> String {
    ledger.get(bead).expect("get").expect("bead").assignee
}

#[test]
fn two_slings_at_once_never_share_a_polecat() {
    let Fixture {
        _dir,
        town,
        mut ledger,
        ..
    } = fixture();
    let (first, second) = (task(&mut ledger, "first"), task(&mut ledger, "second"));
    let other = town.clone();
    let racer = to_rig(&second);
    // `first` plans a new polecat and makes its worktree; before it hooks, `second` is slung
    // to the rig and gets the same (first free) name.
    let mut steps = Interleaved {
        ledger: &mut ledger,
        at: "sling: hook",
        between: Some(Box::new(move |l: &mut Ledger| {
            super::sling::sling(l, &other, &racer, "overseer").expect("the racing sling");
            Ok(())
        })),
    };
    let out = super::sling::sling(&mut steps, &town, &to_rig(&first), "overseer").expect("sling");
    drop(steps);
    let (a, b) = (hook_of(&ledger, &first), hook_of(&ledger, &second));
    assert_ne!(a, b, "one polecat each: {}", out.text);
    for address in [&a, &b] {
        let on_hook: Vec<String> = hooked(&ledger, address)
            .expect("hooked")
            .into_iter()
            .map(|b| b.id)
            .collect();
        assert_eq!(on_hook.len(), 1, "{address} holds one bead: {on_hook:?}");
    }
    assert!(
        out.text.contains(&format!("slung {first} to {a}")),
        "{}",
        out.text
    );
}

/// Sling `bead` to the rig directly and write a file in its polecat's worktree, uncommitted.
fn working_polecat(fx: &mut Fixture, bead: &str) -> String {
    let out = apply(
        &mut fx.ledger,
        &fx.town,
        WorkCommand::Sling {
            bead: bead.to_string(),
            target: "r".to_string(),
            force: false,
            runtime: None,
            formula: None,
            no_formula: true,
            no_convoy: true,
        },
        &crate::caller::Caller::Overseer,
    )
    .expect("sling");
    let polecat = hook_of(&fx.ledger, bead);
    assert!(!polecat.is_empty(), "{}", out.text);
    let name = polecat.rsplit('/').next().expect("a name").to_string();
    fs::write(fx.rig.polecat_worktree(&name).join("work.md"), "work\n").expect("write");
    polecat
}

fn done(steps: &mut impl LedgerSteps, town: &Town, who: &str) -> anyhow::Result<Outcome> {
    apply(
        steps,
        town,
        WorkCommand::Done {
            status: DoneStatus::Completed,
            message: None,
        },
        &crate::caller::Caller::from_name(who)?,
    )
}

#[test]
fn done_stopped_after_its_commit_submits_that_commit_once_when_run_again() {
    let mut fx = fixture();
    let bead = task(&mut fx.ledger, "work");
    let polecat = working_polecat(&mut fx, &bead);
    let worktree = fx
        .rig
        .polecat_worktree(polecat.rsplit('/').next().expect("name"));
    let mut stopped = Interleaved {
        ledger: &mut fx.ledger,
        at: "done: submit",
        between: Some(Box::new(|_: &mut Ledger| Err(Stopped("done: submit")))),
    };
    let err = done(&mut stopped, &fx.town, &polecat).expect_err("stopped");
    drop(stopped);
    assert!(err.to_string().contains("done: submit"), "{err:#}");
    // The work is committed, the ledger has not heard of it: the hook is kept.
    assert!(!git_cli::is_dirty(&worktree).expect("status"));
    assert_eq!(hook_of(&fx.ledger, &bead), polecat);
    let mrs = |l: &Ledger| {
        l.list(&ListFilter {
            issue_type: Some(IssueType::MergeRequest),
            ..ListFilter::default()
        })
        .expect("list")
    };
    assert!(mrs(&fx.ledger).is_empty());
    // Run again: nothing left to commit, the commit submitted — one commit, one MR.
    let out = done(&mut fx.ledger, &fx.town, &polecat).expect("done again");
    assert!(
        !out.text.contains("committed what was left"),
        "{}",
        out.text
    );
    let ahead = git_cli::commits_ahead(&worktree, &fx.rig.default_ref()).expect("ahead");
    assert_eq!(ahead, 1, "one commit of the work");
    let made = mrs(&fx.ledger);
    assert_eq!(made.len(), 1, "one merge request: {made:?}");
    let head = git_cli::rev_parse(&worktree, "HEAD").expect("HEAD");
    assert_eq!(made[0].extra["commit"], head.as_str());
    assert!(hooked(&fx.ledger, &polecat).expect("hooked").is_empty());
}

#[test]
fn a_bead_slung_twice_at_once_is_hooked_once_and_the_second_sling_starts_nothing() {
    let Fixture {
        _dir,
        town,
        rig,
        mut ledger,
    } = fixture();
    let bead = task(&mut ledger, "drained from two places");
    let (other, racer) = (town.clone(), to_rig(&bead));
    let mut steps = Interleaved {
        ledger: &mut ledger,
        at: "sling: hook",
        between: Some(Box::new(move |l: &mut Ledger| {
            super::sling::sling(l, &other, &racer, "overseer").expect("the racing sling");
            Ok(())
        })),
    };
    let out = super::sling::sling(&mut steps, &town, &to_rig(&bead), "overseer").expect("sling");
    drop(steps);
    let holder = hook_of(&ledger, &bead);
    assert!(
        out.text.contains(&format!(
            "{bead} is already on {holder}'s hook (slung meanwhile)"
        )),
        "{}",
        out.text
    );
    assert!(
        out.effects.is_empty(),
        "the racing sling starts the session: {out:?}"
    );
    assert_eq!(rig.polecats_present().expect("present").len(), 1);
}

/// A town whose dogs run `sim` (`[roles] dog`), and its ledger.
fn town_with_dogs() -> (tempfile::TempDir, Town, Ledger) {
    let (dir, mut town, ledger) = crate::testing::town();
    town.config.roles.dog = Some("sim".to_string());
    (dir, town, ledger)
}

fn to_dog(bead: &str, dog: &str) -> WorkCommand {
    WorkCommand::Sling {
        bead: bead.to_string(),
        target: format!("deacon/dogs/{dog}"),
        force: false,
        runtime: None,
        formula: None,
        no_formula: true,
        no_convoy: true,
    }
}

fn as_dog(dog: &str) -> crate::caller::Caller {
    crate::caller::Caller::Agent(
        crate::identity::AgentIdentity::parse(&format!("deacon/dogs/{dog}")).expect("a dog"),
    )
}

#[test]
fn a_dog_is_slung_work_only_with_roles_dog_and_never_under_a_chores_name() {
    let (_d, town, mut ledger) = crate::testing::town();
    let b = task(&mut ledger, "judge");
    let overseer = crate::caller::Caller::Overseer;
    let err = apply(&mut ledger, &town, to_dog(&b, "rex"), &overseer)
        .expect_err("no [roles] dog")
        .to_string();
    assert!(err.contains("[roles] dog"), "{err}");
    assert!(hooked(&ledger, "deacon/dogs/rex").expect("hook").is_empty());
    let (_d, town, mut ledger) = town_with_dogs();
    let b = task(&mut ledger, "judge");
    for chore in crate::dogs::names() {
        let err = apply(&mut ledger, &town, to_dog(&b, chore), &overseer)
            .expect_err("a chore")
            .to_string();
        assert!(err.contains("chore"), "{err}");
    }
    let out = apply(&mut ledger, &town, to_dog(&b, "rex"), &overseer).expect("slung");
    assert!(
        out.text.contains("deacon/dogs/rex runs sim"),
        "{}",
        out.text
    );
    let record = crate::agents::find(&ledger, "deacon/dogs/rex")
        .expect("find")
        .expect("the dog's agent bead");
    assert_eq!(record.runtime.as_deref(), Some("sim"));
    assert_eq!(
        hooked(&ledger, "deacon/dogs/rex").expect("hook")[0].id,
        b,
        "on its hook"
    );
}

#[test]
fn a_dogs_done_closes_its_bead_and_empties_its_hook_and_escalated_asks_the_deacon() {
    let (_d, town, mut ledger) = town_with_dogs();
    let overseer = crate::caller::Caller::Overseer;
    let b = task(&mut ledger, "judge");
    apply(&mut ledger, &town, to_dog(&b, "rex"), &overseer).expect("slung");
    let done = WorkCommand::Done {
        status: DoneStatus::Completed,
        message: Some("the build is flaky on Tuesdays".to_string()),
    };
    let out = apply(&mut ledger, &town, done.clone(), &as_dog("rex")).expect("done");
    assert!(out.text.contains(&format!("closed {b}")), "{}", out.text);
    let bead = ledger.get(&b).expect("get").expect("the bead");
    assert!(bead.is_closed(), "{bead:?}");
    assert!(
        bead.close_reason
            .contains("done by deacon/dogs/rex: the build is flaky"),
        "{}",
        bead.close_reason
    );
    assert!(hooked(&ledger, "deacon/dogs/rex").expect("hook").is_empty());
    let record = crate::agents::find(&ledger, "deacon/dogs/rex")
        .expect("find")
        .expect("agent");
    assert_eq!(record.hook, None, "{record:?}");
    let err = apply(&mut ledger, &town, done, &as_dog("rex"))
        .expect_err("nothing left")
        .to_string();
    assert!(err.contains("nothing is on"), "{err}");

    let stuck = task(&mut ledger, "too hard");
    apply(&mut ledger, &town, to_dog(&stuck, "rex"), &overseer).expect("slung");
    let escalated = WorkCommand::Done {
        status: DoneStatus::Escalated,
        message: Some("cannot tell".to_string()),
    };
    let out = apply(&mut ledger, &town, escalated, &as_dog("rex")).expect("escalated");
    assert!(out.text.contains("deacon and the mayor"), "{}", out.text);
    let help = crate::mail::store::inbox(&ledger, "deacon", true).expect("inbox");
    assert!(
        help.iter()
            .any(|m| m.description.contains(&stuck) || m.title.contains(&stuck)),
        "HELP to the deacon: {help:?}"
    );
    let bead = ledger.get(&stuck).expect("get").expect("bead");
    assert_eq!(bead.status, gastown_beads::Status::Open);
}

#[test]
fn a_rig_paused_by_budget_queues_new_work_with_the_reason_and_lets_it_go_when_raised() {
    let Fixture {
        _dir,
        town,
        mut ledger,
        ..
    } = fixture();
    crate::rig::set_knob(&town, "r", "budget.daily", "0").expect("a zero budget");
    let bead = task(&mut ledger, "held");
    let out = super::sling::sling(&mut ledger, &town, &to_rig(&bead), "overseer").expect("sling");
    assert!(out.text.contains("paused by budget"), "{}", out.text);
    assert!(
        out.text.contains("nothing may be dispatched"),
        "{}",
        out.text
    );
    assert!(
        out.effects
            .iter()
            .all(|e| !matches!(e, super::Effect::EnsureSession { .. })),
        "no session starts: {:?}",
        out.effects
    );
    let queued = ledger.get(&bead).expect("get").expect("bead");
    assert_eq!(queued.assignee, "", "not hooked");
    assert!(queued.labels.contains(&super::queue_label("r")));
    assert_eq!(
        queued.extra.get(super::DISPATCH_REASON),
        Some(&serde_json::json!("budget"))
    );
    // The queue drains (each refinery round): still held, still queued once.
    let out = super::dispatch_queue(&mut ledger, &town, "r", "r/refinery")
        .expect("drain")
        .expect("a bead waits");
    assert!(out.effects.is_empty(), "{}", out.text);
    assert_eq!(
        super::queued(&ledger, "r").expect("queued"),
        vec![bead.clone()]
    );
    // Raised: the next drain slings it, and the reason goes with the label.
    crate::rig::set_knob(&town, "r", "budget.daily", "100").expect("raised");
    let out = super::dispatch_queue(&mut ledger, &town, "r", "r/refinery")
        .expect("drain")
        .expect("a bead waits");
    assert!(
        out.text.contains(&format!("slung {bead} to r/polecats/")),
        "{}",
        out.text
    );
    let slung = ledger.get(&bead).expect("get").expect("bead");
    assert!(slung.assignee.starts_with("r/polecats/"), "{slung:?}");
    assert!(!slung.extra.contains_key(super::DISPATCH_REASON));
    assert!(super::queued(&ledger, "r").expect("queued").is_empty());
}

#[test]
fn a_bead_held_by_its_convoys_budget_does_not_block_the_rest_of_the_queue() {
    let Fixture {
        _dir,
        town,
        mut ledger,
        ..
    } = fixture();
    let (held, free) = (task(&mut ledger, "held"), task(&mut ledger, "free"));
    let convoy = crate::convoy::create(
        &mut ledger,
        "Spent",
        std::slice::from_ref(&held),
        false,
        None,
        "overseer",
    )
    .expect("convoy")
    .id;
    crate::budget::set_convoy_budget(&mut ledger, &convoy, 0.0, false, "overseer")
        .expect("a zero convoy budget");
    crate::rig::set_knob(&town, "r", "budget.total", "0").expect("a zero rig budget");
    for bead in [&held, &free] {
        super::sling::sling(&mut ledger, &town, &to_rig(bead), "overseer").expect("sling");
    }
    assert_eq!(
        super::queued(&ledger, "r").expect("queued"),
        vec![held.clone(), free.clone()],
        "both wait, oldest first"
    );
    crate::rig::set_knob(&town, "r", "budget.total", "100").expect("raised");
    let out = super::dispatch_queue(&mut ledger, &town, "r", "r/refinery")
        .expect("drain")
        .expect("beads wait");
    assert!(
        out.text.contains(&format!("slung {free} to")),
        "{}",
        out.text
    );
    assert_eq!(
        super::queued(&ledger, "r").expect("queued"),
        vec![held.clone()],
        "the convoy's bead still waits"
    );
    let again = super::dispatch_queue(&mut ledger, &town, "r", "r/refinery")
        .expect("drain")
        .expect("the held bead");
    assert!(again.text.contains("paused by budget"), "{}", again.text);
    assert!(
        again.text.contains(&format!("convoy {convoy}")),
        "{}",
        again.text
    );
}

#[test]
fn a_hook_stuck_past_its_bound_is_released_with_a_note_and_the_next_sling_skips_the_stuck_polecat()
{
    let mut fx = fixture();
    let bead = task(&mut fx.ledger, "stuck work");
    let holder = working_polecat(&mut fx, &bead);
    let identity = crate::identity::AgentIdentity::parse(&holder).expect("address");
    crate::agents::mark_stuck(&mut fx.ledger, &identity, "its program is missing").expect("stuck");
    let bound = std::time::Duration::from_secs(30 * 60);
    let now = gastown_beads::time::now_unix_nanos();
    // Within the bound: kept.
    let kept = super::hook::release_stuck(&mut fx.ledger, bound, now, "deacon").expect("release");
    assert!(kept.is_empty(), "{kept:?}");
    assert_eq!(hook_of(&fx.ledger, &bead), holder);
    // Past it: released, the notes saying who held it and where its work is.
    let later = now + 31 * 60 * 1_000_000_000;
    let released =
        super::hook::release_stuck(&mut fx.ledger, bound, later, "deacon").expect("release");
    assert_eq!(released.len(), 1, "{released:?}");
    assert_eq!(released[0].holder, holder);
    assert!(released[0].stuck_for > bound);
    let shown = fx.ledger.get(&bead).expect("get").expect("bead");
    assert_eq!(shown.status, gastown_beads::Status::Open);
    assert!(shown.assignee.is_empty());
    let name = holder.rsplit('/').next().expect("a name");
    assert!(
        shown.notes.contains("its program is missing")
            && shown
                .notes
                .contains(&crate::rig::polecat_branch(name, &bead)),
        "{}",
        shown.notes
    );
    // Its work stays where it was; the holder stays stuck with an empty hook.
    assert!(fx.rig.polecat_worktree(name).join("work.md").exists());
    let agent = crate::agents::find(&fx.ledger, &holder)
        .expect("find")
        .expect("agent bead");
    assert!(agent.stuck().is_some());
    assert_eq!(agent.hook, None);
    // A sling to the rig goes to another polecat.
    let again = working_polecat(&mut fx, &bead);
    assert_ne!(again, holder);
}

#[test]
fn a_hook_in_a_rig_with_a_broken_rig_toml_is_not_stale_and_one_in_a_rig_that_is_gone_is() {
    let mut fx = fixture();
    let bead = task(&mut fx.ledger, "held in rig r");
    let holder = working_polecat(&mut fx, &bead);
    assert!(
        super::hook::stale(&fx.ledger, &fx.town)
            .expect("stale")
            .is_empty()
    );
    // Broken: the rig is still there, and so is its polecat's work.
    let config = fx.rig.dir().join(crate::rig::RIG_CONFIG_FILE);
    fs::write(&config, "name = = \"r\"\n").expect("corrupt");
    assert!(crate::rig::Rig::load(&fx.town, "r").is_err());
    assert!(
        super::hook::stale(&fx.ledger, &fx.town)
            .expect("stale")
            .is_empty()
    );
    // Gone: no rig.toml at all.
    fs::remove_file(&config).expect("remove");
    assert_eq!(
        super::hook::stale(&fx.ledger, &fx.town).expect("stale"),
        vec![(bead, holder)]
    );
}
