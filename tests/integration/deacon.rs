//! The deacon's patrol against a real `gastown run`: a stranded convoy is fed (its ready bead
//! slung into the rig it belongs to), a hook whose identity's rig is gone is released.

use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, town_with_rig};
use serde_json::Value;
use std::time::Duration;

fn fast_patrol(town: &TestTown) {
    let path = town.root.join("town.toml");
    let text = std::fs::read_to_string(&path).expect("town.toml");
    assert!(text.contains("patrol_interval = \"30s\""), "{text}");
    std::fs::write(
        &path,
        text.replace("patrol_interval = \"30s\"", "patrol_interval = \"300ms\""),
    )
    .expect("write town.toml");
}

fn bead(town: &TestTown, id: &str) -> Value {
    serde_json::from_str(&town.ok(&["bead", "show", id, "--json"])).expect("json")
}

#[test]
fn a_stranded_convoy_is_fed_into_its_rig() {
    let town = town_with_rig();
    fast_patrol(&town);
    let b = town.create(&["Nobody was given this"]);
    town.ok(&["convoy", "create", "Stranded work", &b]);
    let listed = town.ok(&["convoy", "list"]);
    assert!(listed.contains("Stranded work"), "{listed}");
    let t = RunningTown::start_in(town);
    wait_for("the deacon to sling it", Duration::from_secs(30), || {
        let shown = bead(&t.town, &b);
        let assignee = shown["assignee"].as_str().unwrap_or_default().to_string();
        assignee.starts_with("alpha/polecats/").then_some(())
    });
    // Said in the log once the sling's effects (the polecat's session) are carried out.
    wait_for("the deacon's log line", Duration::from_secs(30), || {
        t.log()
            .contains("deacon fed a stranded convoy")
            .then_some(())
    });
}

#[test]
fn a_hook_whose_rig_is_gone_is_released_back_to_ready() {
    let town = town_with_rig();
    fast_patrol(&town);
    let elsewhere = town.root.parent().expect("parent").join("b");
    let src = crate::util::source_repo(&elsewhere);
    town.ok(&["rig", "add", "beta", &src]);
    let b = town.create(&["Held by a rig that vanishes"]);
    town.ok(&[
        "sling",
        &b,
        "beta/polecats/nux",
        "--no-formula",
        "--no-convoy",
    ]);
    assert_eq!(bead(&town, &b)["status"], "hooked");
    std::fs::remove_dir_all(town.root.join("beta")).expect("the rig vanishes");
    let t = RunningTown::start_in(town);
    wait_for("the hook released", Duration::from_secs(30), || {
        let shown = bead(&t.town, &b);
        (shown["status"] == "open" && shown["assignee"].as_str().unwrap_or_default().is_empty())
            .then_some(())
    });
    wait_for("the deacon's log line", Duration::from_secs(30), || {
        t.log()
            .contains("deacon released a stale hook")
            .then_some(())
    });
}
