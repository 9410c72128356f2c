//! The sync dog (`[dogs.sync]`, `docs/dogs.md`): under `gastown run` it syncs the town with its
//! remote on its timer, so another town's beads arrive with no command run here; without a
//! remote its outcome says there is nothing to do; an unreachable remote fails the chore.

use super::{Remote, first_town};
use crate::running::{RunningTown, wait_for};
use crate::util::TestTown;
use serde_json::Value;
use std::time::Duration;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn add_config(town: &TestTown, text: &str) {
    let path = town.root.join("town.toml");
    let mut config = std::fs::read_to_string(&path).expect("town.toml");
    config.push_str(text);
    std::fs::write(&path, config).expect("write town.toml");
}

/// The sync dog's entry in `dog list --json`.
fn sync_dog(town: &TestTown) -> Value {
    json(&town.ok(&["dog", "list", "--json"]))
        .as_array()
        .expect("an array")
        .iter()
        .find(|d| d["name"] == "sync")
        .cloned()
        .expect("the sync dog is listed")
}

#[test]
fn the_sync_dog_brings_another_towns_beads_with_no_command_run() {
    let remote = Remote::new();
    let (a, _) = first_town(&remote);
    let joined = TestTown::joined(remote.url());
    add_config(&joined, "\n[dogs.sync]\nevery = \"1s\"\n");
    let b = RunningTown::start_in(joined);

    let on_a = a.create(&["made on a, fetched by b's dog"]);
    a.ok(&["sync"]);
    wait_for(
        "b's sync dog to bring a's bead",
        Duration::from_secs(60),
        || {
            b.town
                .run(&["bead", "show", &on_a])
                .status
                .success()
                .then_some(())
        },
    );

    // And the other way: b's dog pushes what b makes; a only pulls.
    let on_b = b.town.create(&["made on b, pushed by its dog"]);
    wait_for(
        "b's sync dog to push b's bead",
        Duration::from_secs(60),
        || {
            a.ok(&["sync", "--pull"]);
            a.run(&["bead", "show", &on_b])
                .status
                .success()
                .then_some(())
        },
    );

    let dog = sync_dog(&b.town);
    assert_eq!(dog["every"], "1s", "{dog}");
    assert_eq!(dog["running"], true, "{dog}");
    assert!(dog["runs"].as_u64().expect("runs") >= 2, "{dog}");
    // `dog run sync` through the supervisor: the chore now, its outcome in the reply.
    let ran = json(&b.town.ok(&["dog", "run", "sync", "--json"]));
    assert_eq!(ran["last_ok"], true, "{ran}");
    let outcome = ran["last_outcome"].as_str().expect("an outcome");
    assert!(outcome.starts_with("synced with origin"), "{outcome}");
}

#[test]
fn without_a_remote_the_sync_dog_has_nothing_to_do_and_an_unreachable_one_fails_it() {
    let town = TestTown::new();
    town.create(&["a bead that stays here"]);
    let ran = json(&town.ok(&["dog", "run", "sync", "--json"]));
    assert_eq!(ran["last_ok"], true, "{ran}");
    assert_eq!(ran["last_outcome"], "no remote: nothing to do", "{ran}");
    let listed = town.ok(&["dog", "list"]);
    assert!(listed.contains("sync"), "{listed}");

    // Under `gastown run`, the same.
    let running = RunningTown::start_in(town);
    let ran = json(&running.town.ok(&["dog", "run", "sync", "--json"]));
    assert_eq!(ran["last_outcome"], "no remote: nothing to do", "{ran}");
    assert_eq!(sync_dog(&running.town)["every"], "1m");
    drop(running);

    // A remote that cannot be reached is the chore's failure, said as such.
    let town = TestTown::new();
    town.ok(&["remote", "add", "origin", "/nonexistent/town.git"]);
    let err = town.fails(&["dog", "run", "sync"]);
    assert!(err.contains("the sync dog's chore failed"), "{err}");
    assert!(
        err.contains("cannot reach") || err.contains("does not appear"),
        "{err}"
    );
}
