//! Dog sessions against a real `gastown run` (`docs/dogs.md`): a bead slung to
//! `deacon/dogs/<name>` is refused without `[roles] dog` (naming it) and for a chore's name;
//! with `[roles] dog = "sim"` a session under `town/deacon/dogs/<name>` works it and closes it
//! with `gastown done`, in a scratch repository of its own; after `kill -9` of the supervisor the
//! next `gastown run` gives the hooked dog its session back; a dog with an empty hook is stopped.

use crate::running::{RunningTown, wait_for};
use crate::util::TestTown;
use serde_json::Value;
use std::time::Duration;

const REX: &str = "town/deacon/dogs/rex";

/// A town whose dogs run `sim`; `idle_after` is `[run] dog_idle_after`, when given.
fn town_with_dogs(idle_after: Option<&str>) -> TestTown {
    let town = TestTown::new();
    let path = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&path).expect("town.toml");
    assert!(text.contains("[roles]\n"), "{text}");
    text = text.replace("[roles]\n", "[roles]\ndog = \"sim\"\n");
    if let Some(idle) = idle_after {
        assert!(text.contains("patrol_interval = \"30s\""), "{text}");
        text = text.replace(
            "patrol_interval = \"30s\"",
            &format!("patrol_interval = \"30s\"\ndog_idle_after = \"{idle}\""),
        );
    }
    std::fs::write(&path, text).expect("write town.toml");
    town
}

fn bead(town: &TestTown, id: &str) -> Value {
    serde_json::from_str(&town.ok(&["bead", "show", id, "--json"])).expect("json")
}

fn hooked(town: &TestTown) -> Vec<Value> {
    let listed: Value =
        serde_json::from_str(&town.ok(&["bead", "list", "--status", "hooked", "--json"]))
            .expect("json");
    listed.as_array().cloned().unwrap_or_default()
}

/// `gastown dog list --json`'s entry for dog session `name`.
fn dog_session(town: &TestTown, name: &str) -> Option<Value> {
    let listed: Value =
        serde_json::from_str(&town.ok(&["dog", "list", "--json"])).expect("dog list is JSON");
    listed
        .as_array()?
        .iter()
        .find(|d| d["name"] == name && d["session"].is_object())
        .cloned()
}

#[test]
fn a_sling_to_a_dog_is_refused_without_roles_dog_and_nothing_is_hooked() {
    let town = TestTown::new();
    let b = town.create(&["Judge this"]);
    let err = town.fails(&["sling", &b, "deacon/dogs/rex"]);
    assert!(
        err.contains("[roles] dog") && err.contains("dog = \"claude\""),
        "{err}"
    );
    let shown = bead(&town, &b);
    assert_eq!(shown["status"], "open", "{shown}");
    assert!(
        shown["assignee"].as_str().unwrap_or_default().is_empty(),
        "{shown}"
    );
    assert!(hooked(&town).is_empty(), "nothing hooked");
    let show = town.ok(&["config", "show"]);
    assert!(show.contains("set `[roles] dog`"), "{show}");
    let ready = town.ok(&["bead", "ready"]);
    assert!(ready.contains(&b), "the bead stays ready: {ready}");
    let hook = town.ok(&["hook", "show", "--agent", "deacon/dogs/rex", "--json"]);
    let hook: Value = serde_json::from_str(&hook).expect("json");
    assert_eq!(hook["beads"].as_array().map(Vec::len), Some(0), "{hook}");
}

#[test]
fn a_sling_to_a_chores_name_or_a_bad_dog_name_is_refused() {
    let town = town_with_dogs(None);
    let b = town.create(&["Not a chore"]);
    for chore in ["reaper", "checkpoint", "doctor"] {
        let err = town.fails(&["sling", &b, &format!("deacon/dogs/{chore}")]);
        assert!(
            err.contains("chore") && err.contains(&format!("gastown dog run {chore}")),
            "{err}"
        );
    }
    for bad in ["deacon/dogs/a b", "deacon/dogs/..", "deacon/dogs/"] {
        town.fails(&["sling", &b, bad]);
    }
    let err = town.fails(&["sling", &b, "deacon/dogs/rex", "--runtime", "claude"]);
    assert!(err.contains("[roles] dog"), "{err}");
    assert_eq!(bead(&town, &b)["status"], "open");
    assert!(hooked(&town).is_empty(), "nothing hooked");
    // `[roles] dog` is shown beside the other roles.
    let show = town.ok(&["config", "show"]);
    assert!(show.contains("dog sessions:  sim"), "{show}");
    let show: Value = serde_json::from_str(&town.ok(&["config", "show", "--json"])).expect("JSON");
    assert_eq!(show["dog"], "sim", "{show}");
}

#[test]
fn a_bead_slung_to_a_dog_is_worked_and_closed_by_its_session() {
    let t = RunningTown::start_in(town_with_dogs(None));
    let before = t.town.git(&["rev-list", "--count", "HEAD"]);
    let b = t.town.create(&["Look into the flaky build"]);
    let out = t.town.ok(&["sling", &b, "deacon/dogs/rex"]);
    assert!(out.contains("deacon/dogs/rex runs sim"), "{out}");
    assert!(
        out.contains(&format!("started deacon/dogs/rex (sim) at {REX}")),
        "{out}"
    );
    wait_for("the dog to close it", Duration::from_secs(60), || {
        (bead(&t.town, &b)["status"] == "closed").then_some(())
    });
    let shown = bead(&t.town, &b);
    let reason = shown["close_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("done by deacon/dogs/rex"), "{shown}");
    // Its session sits in the tree under the deacon's dogs, beside the chores.
    let node = t.node(REX).expect("the dog's role in the tree");
    assert_eq!(node["role"], "dog", "{node}");
    assert!(t.node(&format!("{REX}/session")).is_some());
    assert!(
        t.node("town/deacon/dogs/reaper").is_some(),
        "chores unaffected"
    );
    // Its git went to a scratch repository of its own, never the town's.
    let home = t.town.root.join("deacon/dogs/rex");
    assert!(home.join(".git").is_dir(), "{}", home.display());
    assert!(home.join(format!("gastown-sim/{b}.md")).is_file());
    assert_eq!(t.town.git(&["rev-list", "--count", "HEAD"]), before);
    // `dog list` shows it, idle (nothing hooked, its session still up).
    let entry = wait_for("rex listed idle", Duration::from_secs(10), || {
        dog_session(&t.town, "rex").filter(|d| d["session"]["state"] == "idle")
    });
    assert_eq!(entry["session"]["runtime"], "sim", "{entry}");
    assert!(entry["session"].get("hook").is_none(), "{entry}");
    let text = t.town.ok(&["dog", "list"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("rex") && l.contains("session") && l.contains("idle")),
        "{text}"
    );
}

#[test]
fn a_dog_with_nothing_on_its_hook_is_stopped() {
    let t = RunningTown::start_in(town_with_dogs(Some("1s")));
    let b = t.town.create(&["Quick look"]);
    t.town.ok(&["sling", &b, "deacon/dogs/fido"]);
    wait_for("the dog to close it", Duration::from_secs(60), || {
        (bead(&t.town, &b)["status"] == "closed").then_some(())
    });
    wait_for("the idle dog stopped", Duration::from_secs(30), || {
        t.node("town/deacon/dogs/fido").is_none().then_some(())
    });
    assert!(
        t.log().contains("dog session stopped: nothing on its hook"),
        "{}",
        t.log()
    );
    let entry = dog_session(&t.town, "fido").expect("fido is still a known dog");
    assert_eq!(entry["session"]["state"], "stopped", "{entry}");
    // Work slung to it again gets a new session.
    let again = t.town.create(&["Another look"]);
    t.town.ok(&["sling", &again, "deacon/dogs/fido"]);
    wait_for("the second bead closed", Duration::from_secs(60), || {
        (bead(&t.town, &again)["status"] == "closed").then_some(())
    });
}

#[test]
fn kill_dash_nine_of_run_gives_a_hooked_dog_its_session_back() {
    let town = town_with_dogs(None);
    // The first session reads its hook but does not work it: the work is mid-way at the kill.
    let mut t = RunningTown::start_with_env(town, &[("GASTOWN_SIM_WORK", "0")]);
    let b = t.town.create(&["Survive the crash"]);
    t.town.ok(&["sling", &b, "deacon/dogs/rex"]);
    let first = wait_for("the dog's session", Duration::from_secs(30), || {
        t.session_pid(REX)
    });
    wait_for("the dog told its hook", Duration::from_secs(30), || {
        let screen = t.town.ok(&["peek", "deacon/dogs/rex"]);
        screen.contains(&format!("Your hook: {b}")).then_some(())
    });
    // SAFETY: killing the supervisor this test started.
    let pid = t.child.as_ref().expect("running").id();
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let _ = t.child.take().expect("child").wait();
    wait_for("the old session gone", Duration::from_secs(30), || {
        (!crate::running::group_alive(first)).then_some(())
    });
    assert_eq!(bead(&t.town, &b)["status"], "hooked", "still on its hook");
    let town = std::mem::replace(&mut t.town, TestTown::new());
    drop(t);
    let t = RunningTown::start_in(town);
    wait_for(
        "the resumed dog to close it",
        Duration::from_secs(60),
        || (bead(&t.town, &b)["status"] == "closed").then_some(()),
    );
    let history: Value = serde_json::from_str(&t.town.ok(&["seance", "deacon/dogs/rex", "--json"]))
        .expect("seance --json");
    let sessions = history["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2, "{history}");
}
