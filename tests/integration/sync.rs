//! One ledger for towns on several machines (issue 19): `gastown remote add`, `gastown sync`
//! (fetch → merge → push) and `gastown install --from`, against a real bare repository in a temp
//! dir. Towns that write concurrently and sync at random points converge on the same ledger with
//! no acknowledged change lost; what goes wrong (an unreachable remote, a refused push, a
//! rewritten remote ledger, a remote commit that is not a ledger) stops the sync with what to
//! do and leaves the local ledger as it was.

mod convergence;
mod deletes;
mod dog;

use crate::running::RunningTown;
use crate::util::{TestTown, git_in, stdout};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A bare repository in a temp dir: the remote every town syncs through.
struct Remote {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Remote {
    fn new() -> Remote {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("town.git");
        git_in(dir.path(), &["init", "--quiet", "--bare", "town.git"]);
        Remote { _dir: dir, path }
    }

    fn url(&self) -> &str {
        self.path.to_str().expect("utf-8")
    }

    /// Someone replaces the remote's ledger branch with `repo`'s HEAD, by force.
    fn force_push_ledger(&self, repo: &Path) {
        git_in(
            repo,
            &[
                "push",
                "--quiet",
                "--force",
                self.url(),
                "HEAD:refs/heads/beads",
            ],
        );
    }
}

/// Every bead of a town, by id, as `bead export` writes it.
fn ledger(town: &TestTown) -> BTreeMap<String, Value> {
    town.ok(&["bead", "export"])
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSONL");
            (v["id"].as_str().expect("id").to_string(), v)
        })
        .collect()
}

fn ledger_tip(town: &TestTown) -> String {
    git_in(&town.root, &["rev-parse", "refs/heads/beads"])
}

/// A first town with a remote and a few beads, pushed.
fn first_town(remote: &Remote) -> (TestTown, Vec<String>) {
    let a = TestTown::new();
    let ids: Vec<String> = (0..3).map(|i| a.create(&[&format!("bead {i}")])).collect();
    a.ok(&["remote", "add", "origin", remote.url()]);
    let out = a.ok(&["sync"]);
    assert!(out.contains("had no ledger yet"), "{out}");
    assert!(out.contains("pushed"), "{out}");
    assert!(out.contains("town's branch"), "{out}");
    (a, ids)
}

#[test]
fn a_second_machine_joins_both_write_and_the_ledgers_agree() {
    let remote = Remote::new();
    let (a, ids) = first_town(&remote);
    let b = TestTown::joined(remote.url());
    assert_eq!(ledger(&a), ledger(&b), "install --from sees everything");

    // Both write: different fields of one bead, labels on both sides, a close, new beads.
    a.ok(&["bead", "update", &ids[0], "--title", "renamed on a"]);
    b.ok(&["bead", "update", &ids[0], "--priority", "0"]);
    a.ok(&["bead", "label", "add", &ids[1], "from-a"]);
    b.ok(&["bead", "label", "add", &ids[1], "from-b"]);
    b.ok(&["bead", "close", &ids[2]]);
    let on_a = a.create(&["made on a"]);
    let on_b = b.create(&["made on b"]);
    b.ok(&["bead", "dep", "add", &on_b, &ids[0]]);

    a.ok(&["sync"]);
    let out = b.ok(&["sync"]);
    assert!(out.contains("merged origin"), "{out}");
    a.ok(&["sync"]);
    let (la, lb) = (ledger(&a), ledger(&b));
    assert_eq!(la, lb, "the ledgers agree");
    assert_eq!(ledger_tip(&a), ledger_tip(&b));
    let x = &la[&ids[0]];
    assert_eq!(x["title"], "renamed on a");
    assert_eq!(x["priority"], 0);
    let labels = la[&ids[1]]["labels"].to_string();
    assert!(
        labels.contains("from-a") && labels.contains("from-b"),
        "{labels}"
    );
    assert_eq!(la[&ids[2]]["status"], "closed");
    assert!(la.contains_key(&on_a) && la.contains_key(&on_b));
    assert!(la[&on_b]["dependencies"].to_string().contains(&ids[0]));

    // Plain git shows what happened: a merge commit with both parents.
    let parents = git_in(&b.root, &["log", "-1", "--format=%P", "refs/heads/beads"]);
    assert!(
        git_in(
            &b.root,
            &["log", "--merges", "--format=%s", "refs/heads/beads"]
        )
        .contains("merge"),
        "a merge commit on the ledger: {parents}"
    );
    // The index follows: `bead show` on the other machine's bead works.
    assert!(a.ok(&["bead", "show", &on_b]).contains("made on b"));
}

#[test]
fn three_towns_writing_and_syncing_at_random_converge_with_nothing_lost() {
    let remote = Remote::new();
    let (a, _) = first_town(&remote);
    let towns = [
        a,
        TestTown::joined(remote.url()),
        TestTown::joined(remote.url()),
    ];
    // Each town's own log of what it was told succeeded: (bead, expected label).
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    let mut created: Vec<String> = Vec::new();
    let mut seed: u64 = 0x5eed_1234;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    for round in 0..45 {
        let t = next(3);
        let town = &towns[t];
        match next(5) {
            0 | 1 => created.push(town.create(&[&format!("round {round} on town {t}")])),
            2 if !created.is_empty() => {
                // Only beads this town already knows (it may not have synced them yet).
                let id = &created[next(created.len())];
                let label = format!("r{round}-t{t}");
                if town
                    .run(&["bead", "label", "add", id, &label])
                    .status
                    .success()
                {
                    acknowledged.push((id.clone(), label));
                }
            }
            3 if !created.is_empty() => {
                let id = &created[next(created.len())];
                let _ = town.run(&["bead", "update", id, "--notes", &format!("r{round}")]);
            }
            _ => {
                town.ok(&["sync"]);
            }
        }
    }
    // Two rounds of syncs: everyone has everything.
    for _ in 0..2 {
        for town in &towns {
            town.ok(&["sync"]);
        }
    }
    let first = ledger(&towns[0]);
    for town in &towns[1..] {
        assert_eq!(ledger(town), first, "every town has the same ledger");
    }
    for id in &created {
        assert!(first.contains_key(id), "{id} was created and is there");
    }
    for (id, label) in &acknowledged {
        let labels = first[id]["labels"].to_string();
        assert!(
            labels.contains(label.as_str()),
            "{id} keeps {label}: {labels}"
        );
    }
    assert!(!created.is_empty() && !acknowledged.is_empty());
}

#[test]
fn sync_goes_through_a_running_supervisor() {
    let remote = Remote::new();
    let (a, _) = first_town(&remote);
    let b = RunningTown::start_in(TestTown::joined(remote.url()));
    let on_b = b.town.create(&["made while b runs"]);
    let on_a = a.create(&["made on a meanwhile"]);
    a.ok(&["sync"]);
    let out = b.town.ok(&["sync"]);
    assert!(out.contains("pushed"), "{out}");
    assert!(
        b.town
            .ok(&["bead", "show", &on_a])
            .contains("made on a meanwhile")
    );
    a.ok(&["sync"]);
    assert!(a.ok(&["bead", "show", &on_b]).contains("made while b runs"));
}

#[test]
fn what_goes_wrong_is_said_and_the_local_ledger_is_untouched() {
    let remote = Remote::new();
    let (a, ids) = first_town(&remote);
    let b = TestTown::joined(remote.url());

    // No remote of that name; a town with no remote at all.
    assert!(
        a.fails(&["sync", "--remote", "nosuch"])
            .contains("remote add nosuch")
    );
    let lonely = TestTown::new();
    assert!(
        lonely
            .fails(&["sync", "--pull"])
            .contains("gastown remote add")
    );
    assert!(stdout(&lonely.run(&["sync"])).contains("no remote"));

    // An unreachable remote.
    a.ok(&["remote", "add", "gone", "/nonexistent/town.git"]);
    let before = (ledger(&a), ledger_tip(&a));
    let err = a.fails(&["sync", "--remote", "gone"]);
    assert!(
        err.contains("cannot reach") || err.contains("does not appear"),
        "{err}"
    );
    assert_eq!((ledger(&a), ledger_tip(&a)), before);

    // A remote that refuses the push (its hook says no).
    let hook = remote.path.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'ledger frozen for audit' >&2\nexit 1\n",
    )
    .expect("hook");
    make_executable(&hook);
    b.create(&["refused bead"]);
    let err = b.fails(&["sync"]);
    assert!(err.contains("ledger frozen for audit"), "{err}");
    std::fs::remove_file(&hook).expect("hook removed");

    // Someone rewrote (force-pushed) the remote's ledger.
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    let before = (ledger(&a), ledger_tip(&a));
    let scratch = tempfile::tempdir().expect("temp dir");
    git_in(scratch.path(), &["init", "--quiet"]);
    git_in(
        scratch.path(),
        &["commit", "--quiet", "--allow-empty", "-m", "not a ledger"],
    );
    remote.force_push_ledger(scratch.path());
    let err = a.fails(&["sync"]);
    assert!(err.contains("rewritten (force-pushed)"), "{err}");
    assert_eq!((ledger(&a), ledger_tip(&a)), before, "nothing merged");
    assert!(
        a.fails(&["sync"]).contains("rewritten"),
        "said again on the next sync"
    );

    // A fresh machine whose first fetch is a commit that is not a ledger: refused, untouched.
    let c = TestTown::new();
    c.create(&["c's own bead"]);
    c.ok(&["remote", "add", "origin", remote.url()]);
    std::fs::write(scratch.path().join("junk.txt"), "x").expect("junk");
    git_in(scratch.path(), &["add", "junk.txt"]);
    git_in(scratch.path(), &["commit", "--quiet", "-m", "junk"]);
    remote.force_push_ledger(scratch.path());
    let before = (ledger(&c), ledger_tip(&c));
    let err = c.fails(&["sync", "--pull"]);
    assert!(err.contains("local ledger is unchanged"), "{err}");
    assert_eq!((ledger(&c), ledger_tip(&c)), before);
    assert!(ledger(&a).contains_key(&ids[0]));
}

#[test]
fn install_from_a_remote_that_is_no_town_leaves_nothing_behind() {
    let remote = Remote::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("joined");
    let out = crate::util::gastown(
        dir.path(),
        &[
            "install",
            target.to_str().expect("utf-8"),
            "--from",
            remote.url(),
        ],
    );
    assert!(!out.status.success());
    let err = crate::util::stderr(&out);
    assert!(err.contains("town.toml") || err.contains("clone"), "{err}");
    assert!(!target.exists(), "nothing half-made is left");
    let out = crate::util::gastown(
        dir.path(),
        &["install", "x", "--from", remote.url(), "--prefix", "zz"],
    );
    assert!(!out.status.success(), "--from with --prefix is refused");
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
