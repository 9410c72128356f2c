//! Convoys through the real binary: create, list, show, add, close; landing when every tracked
//! bead is closed (the overseer's mail, the notify command); a convoy held open by a polecat that
//! never finishes; the convoy `gastown sling` creates; and bad input that must change nothing.

use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, town_with_rig};
use serde_json::Value;
use std::time::Duration;

fn json(town: &TestTown, args: &[&str]) -> Value {
    let text = town.ok(args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {text}"))
}

fn create_convoy(town: &TestTown, args: &[&str]) -> String {
    let mut full = vec!["convoy", "create"];
    full.extend_from_slice(args);
    full.push("--json");
    json(town, &full)["id"]
        .as_str()
        .expect("a convoy id")
        .to_string()
}

fn tracked(convoy: &Value) -> Vec<String> {
    convoy["beads"]
        .as_array()
        .expect("beads")
        .iter()
        .map(|b| b["id"].as_str().expect("id").to_string())
        .collect()
}

fn all_convoys(town: &TestTown) -> Vec<Value> {
    json(town, &["convoy", "list", "--all", "--json"])
        .as_array()
        .expect("an array")
        .clone()
}

fn overseer_subjects(town: &TestTown) -> Vec<String> {
    json(town, &["mail", "inbox", "--json"])
        .as_array()
        .expect("an array")
        .iter()
        .map(|m| m["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn create_list_show_add_and_close() {
    let town = TestTown::new();
    let a = town.create(&["Design the colours"]);
    let b = town.create(&["CSS variables"]);
    let c = town.create(&["Theme toggle"]);
    let id = create_convoy(&town, &["Dark mode", &a, &b, &a]);
    assert!(id.starts_with("gt-"), "a normal town id: {id}");

    let list = town.ok(&["convoy", "list"]);
    assert!(
        list.contains(&id) && list.contains("0/2") && list.contains("Dark mode"),
        "{list}"
    );
    let shown = json(&town, &["convoy", "show", &id, "--json"]);
    assert_eq!(
        tracked(&shown),
        vec![a.clone(), b.clone()],
        "no repeats, in order"
    );
    assert_eq!(shown["status"], "open");
    // Tracking is a link: the beads stay ready work.
    let ready = town.ok(&["bead", "ready"]);
    assert!(ready.contains(&a) && ready.contains(&b), "{ready}");
    assert!(!ready.contains(&id), "a convoy is not work: {ready}");

    let added = town.ok(&["convoy", "add", &id, &c, &a]);
    assert!(
        added.contains("added 1 bead") && added.contains("now tracking 3"),
        "{added}"
    );
    town.ok(&["bead", "close", &a]);
    let text = town.ok(&["convoy", "show", &id]);
    assert!(text.contains("1/3 closed"), "{text}");
    assert!(
        text.contains(&format!("held by {b}")) && text.contains("not slung"),
        "{text}"
    );
    assert!(
        !text.contains(&format!("held by {a}")),
        "a closed bead holds nothing: {text}"
    );
    // With one convoy open, `show` needs no id.
    assert!(town.ok(&["convoy", "show"]).contains(&id));

    town.ok(&["convoy", "close", &id, "--reason", "dropped"]);
    assert!(
        !town.ok(&["convoy", "list"]).contains(&id),
        "closed convoys are not listed"
    );
    let all = all_convoys(&town);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["status"], "closed");
    assert_eq!(all[0]["close_reason"], "dropped");
    assert_eq!(all[0]["closed"], 1, "the beads stay as they were");
    assert!(
        overseer_subjects(&town).is_empty(),
        "a convoy closed by hand did not land: no mail"
    );
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let town = TestTown::new();
    let a = town.create(&["Real work"]);

    let err = town.fails(&["convoy", "create", "Feature X", &a, "gt-nope"]);
    assert!(
        err.contains("gt-nope") && err.contains("nothing was changed"),
        "{err}"
    );
    let err = town.fails(&["convoy", "create", "  ", &a]);
    assert!(err.contains("needs a name"), "{err}");
    assert!(all_convoys(&town).is_empty(), "no convoy was created");

    let id = create_convoy(&town, &["Feature X", &a]);
    let b = town.create(&["More work"]);
    let err = town.fails(&["convoy", "add", &id, &b, "gt-zzz9"]);
    assert!(err.contains("gt-zzz9"), "{err}");
    let shown = json(&town, &["convoy", "show", &id, "--json"]);
    assert_eq!(tracked(&shown), vec![a.clone()], "nothing was added");

    // A bead that is not a convoy, and an id that is nothing at all.
    for args in [
        vec!["convoy", "show", a.as_str()],
        vec!["convoy", "add", a.as_str(), b.as_str()],
        vec!["convoy", "close", a.as_str()],
    ] {
        let err = town.fails(&args);
        assert!(
            err.contains("not a convoy") && err.contains(&a),
            "{args:?}: {err}"
        );
    }
    let err = town.fails(&["convoy", "show", "gt-nothing"]);
    assert!(
        err.contains("no convoy") && err.contains("gt-nothing"),
        "{err}"
    );
    // A convoy does not track convoys.
    let err = town.fails(&["convoy", "create", "Nested", &id]);
    assert!(err.contains("is a convoy"), "{err}");

    town.ok(&["convoy", "close", &id]);
    let err = town.fails(&["convoy", "add", &id, &b]);
    assert!(err.contains("closed") && err.contains(&id), "{err}");
    let err = town.fails(&["convoy", "close", &id]);
    assert!(err.contains("already closed"), "{err}");
}

#[test]
fn closing_every_tracked_bead_lands_the_convoy_and_mails_the_overseer() {
    let town = TestTown::new();
    let a = town.create(&["One"]);
    let b = town.create(&["Two"]);
    let id = create_convoy(&town, &["Ship it", &a, &b]);
    let empty = create_convoy(&town, &["Nothing yet"]);

    town.ok(&["bead", "close", &a]);
    let list = town.ok(&["convoy", "list"]);
    assert!(
        list.contains("1/2") && list.contains(&format!("held by {b}")),
        "{list}"
    );
    assert!(overseer_subjects(&town).is_empty(), "not landed yet");

    town.ok(&["bead", "close", &b]);
    let list = town.ok(&["convoy", "list"]);
    assert!(
        list.contains(&format!("convoy {id} (Ship it) landed")),
        "{list}"
    );
    let all = all_convoys(&town);
    let landed = all.iter().find(|c| c["id"] == id.as_str()).expect("listed");
    assert_eq!(landed["status"], "closed");
    assert_eq!(landed["closed"], 2);
    assert!(
        landed["close_reason"]
            .as_str()
            .expect("reason")
            .contains("landed")
    );
    let still = all
        .iter()
        .find(|c| c["id"] == empty.as_str())
        .expect("listed");
    assert_eq!(
        still["status"], "open",
        "a convoy tracking nothing never lands by itself"
    );

    // Landing happens once: looking again sends no second mail.
    town.ok(&["convoy", "refresh"]);
    town.ok(&["convoy", "show", &id]);
    let subjects = overseer_subjects(&town);
    assert_eq!(
        subjects,
        vec!["Convoy landed: Ship it".to_string()],
        "{subjects:?}"
    );
}

#[test]
fn a_polecat_that_never_finishes_holds_the_convoy_open_and_show_names_it() {
    let town = town_with_rig();
    let stuck = town.create(&["Never finished"]);
    let quick = town.create(&["Finished"]);
    let id = create_convoy(&town, &["Release", &stuck, &quick]);
    // Slung with no supervisor: the hook is set and no session ever works it.
    let slung = town.ok(&["sling", &stuck, "alpha"]);
    assert!(
        slung.contains(&format!("tracked by convoy {id}")),
        "{slung}"
    );
    town.ok(&["bead", "close", &quick]);

    let text = town.ok(&["convoy", "show", &id]);
    assert!(text.contains("open · 1/2 closed"), "{text}");
    let holder = text
        .lines()
        .find(|l| l.starts_with(&format!("held by {stuck} (hooked by alpha/polecats/")))
        .unwrap_or_else(|| panic!("show names the holding bead and its polecat: {text}"));
    assert!(holder.contains("no progress"), "{holder}");
    assert!(!text.contains(&format!("held by {quick}")), "{text}");
    let shown = json(&town, &["convoy", "show", &id, "--json"]);
    let row = &shown["beads"][0];
    assert_eq!(row["status"], "hooked");
    assert!(
        row["assignee"]
            .as_str()
            .expect("assignee")
            .starts_with("alpha/polecats/")
    );
    assert!(row["held"].as_str().expect("held").contains("no progress"));
    let list = town.ok(&["convoy", "list"]);
    assert!(
        list.contains("1/2") && list.contains(&format!("held by {stuck}")),
        "{list}"
    );
}

#[test]
fn sling_creates_a_convoy_unless_told_not_to_or_one_tracks_the_bead() {
    let town = town_with_rig();
    let a = town.create(&["Auto tracked"]);
    let b = town.create(&["Not tracked"]);
    let c = town.create(&["Tracked by hand"]);
    let manual = create_convoy(&town, &["By hand", &c]);

    let out = town.ok(&["sling", &a, "alpha", "--no-formula"]);
    assert!(out.contains("created convoy"), "{out}");
    town.ok(&["sling", &b, "alpha", "--no-formula", "--no-convoy"]);
    town.ok(&["sling", &c, "alpha", "--no-formula"]);
    // Slinging again is idempotent: no second convoy.
    town.ok(&["sling", &a, "alpha", "--no-formula"]);

    let all = all_convoys(&town);
    assert_eq!(all.len(), 2, "one auto-created, one by hand: {all:?}");
    let auto = all
        .iter()
        .find(|c| c["id"] != manual.as_str())
        .expect("auto");
    assert_eq!(auto["name"], "Auto tracked");
    assert_eq!(tracked(auto), vec![a.clone()]);
    let manual_row = all
        .iter()
        .find(|c| c["id"] == manual.as_str())
        .expect("manual");
    assert_eq!(tracked(manual_row), vec![c.clone()]);
    assert!(
        all.iter().all(|cv| !tracked(cv).contains(&b)),
        "--no-convoy: {all:?}"
    );
}

#[test]
fn a_notify_convoy_runs_the_notify_command_with_its_id_and_name() {
    let town = TestTown::new();
    let out_file = town.root.parent().expect("parent").join("landed.txt");
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str(&format!(
        "\n[convoy]\nnotify_command = 'printf \"%s|%s\\n\" \"$GASTOWN_CONVOY_ID\" \"$GASTOWN_CONVOY_NAME\" >> {}'\n",
        out_file.display()
    ));
    std::fs::write(&config, text).expect("write town.toml");

    let quiet_bead = town.create(&["Quiet"]);
    let loud_bead = town.create(&["Loud"]);
    let quiet = create_convoy(&town, &["No bell", &quiet_bead]);
    let loud = create_convoy(&town, &["Bell please", &loud_bead, "--notify"]);
    town.ok(&["bead", "close", &quiet_bead]);
    town.ok(&["convoy", "refresh"]);
    town.ok(&["bead", "close", &loud_bead]);
    let landed = town.run(&["convoy", "refresh"]);
    assert!(landed.status.success());
    assert!(
        String::from_utf8_lossy(&landed.stderr).contains('\x07'),
        "the bell rings for a --notify convoy"
    );
    let written = wait_for("the notify command", Duration::from_secs(10), || {
        std::fs::read_to_string(&out_file)
            .ok()
            .filter(|t| t.ends_with('\n'))
    });
    assert_eq!(
        written,
        format!("{loud}|Bell please\n"),
        "only the --notify convoy: {quiet}"
    );
}

#[test]
fn a_live_polecat_that_never_works_its_hook_holds_the_convoy_open() {
    let town = town_with_rig();
    // A sim agent that reads its hook and never works it.
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str(&format!(
        "\n[agents.idler]\ncommand = \"{}\"\nargs = [\"sim-agent\"]\nprompt = \"typed\"\nready_marker = \"sim>\"\nquiet_period = \"150ms\"\nenv = {{ GASTOWN_SIM_WORK = \"0\" }}\n",
        env!("CARGO_BIN_EXE_gastown")
    ));
    std::fs::write(&config, text).expect("write town.toml");
    let stuck = town.create(&["Never finished"]);
    let quick = town.create(&["Finished"]);
    let id = create_convoy(&town, &["Release", &stuck, &quick]);

    let t = RunningTown::start_in(town);
    t.town.ok(&["sling", &stuck, "alpha", "--runtime", "idler"]);
    t.town.ok(&["sling", &quick, "alpha"]);
    let holder = json(&t.town, &["bead", "show", &stuck, "--json"])["assignee"]
        .as_str()
        .expect("assignee")
        .to_string();
    // The working polecat finishes while the idle one's session is up and reads its hook.
    wait_for(
        "the quick bead's merge request",
        Duration::from_secs(90),
        || {
            let mrs = json(
                &t.town,
                &["bead", "list", "--all", "--type", "merge-request", "--json"],
            );
            mrs.as_array()
                .expect("array")
                .iter()
                .any(|m| m["source_bead"] == quick.as_str())
                .then_some(())
        },
    );
    wait_for(
        "the idle polecat's session",
        Duration::from_secs(30),
        || {
            let out = t.town.run(&["peek", &holder]);
            (out.status.success() && String::from_utf8_lossy(&out.stdout).contains("sim>"))
                .then_some(())
        },
    );
    // Landed by the refinery or not yet: close it by hand to leave only the idle polecat's bead.
    let _ = t.town.run(&["bead", "close", &quick]);

    let text = t.town.ok(&["convoy", "show", &id]);
    assert!(text.contains("open · 1/2 closed"), "{text}");
    let line = format!("held by {stuck} (hooked by {holder} for ");
    let held = text
        .lines()
        .find(|l| l.starts_with(&line))
        .unwrap_or_else(|| panic!("show names {stuck} and {holder}: {text}"));
    assert!(held.contains("no progress"), "{held}");
    let shown = json(&t.town, &["bead", "show", &stuck, "--json"]);
    assert_eq!(shown["status"], "hooked", "the idle polecat still holds it");
}
