//! The compactor dog through the real binary, in place and under `gastown run`: a molecule closed
//! longer ago than `[dogs.compactor] older_than` is squashed into one digest holding every
//! step's content, its steps leave `bead list --all` (git's history keeps them); an open
//! molecule and a recently closed one are untouched; a second run changes nothing.

use crate::running::RunningTown;
use crate::util::{TestTown, ids};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Pour `shiny`; returns (molecule, steps).
pub(crate) fn pour(town: &TestTown, feature: &str) -> (String, Vec<String>) {
    let poured = json(&town.ok(&[
        "mol",
        "pour",
        "shiny",
        "--var",
        &format!("feature={feature}"),
        "--json",
    ]));
    let steps = poured["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["bead"].as_str().expect("bead").to_string())
        .collect();
    (
        poured["molecule"].as_str().expect("molecule").to_string(),
        steps,
    )
}

pub(crate) fn finish(town: &TestTown, steps: &[String]) {
    for (i, step) in steps.iter().enumerate() {
        town.ok(&[
            "mol",
            "step",
            "done",
            step,
            "--reason",
            &format!("done {i}"),
        ]);
    }
}

/// Make `mol` look closed since 2020: its record re-imported with an old `closed_at`.
pub(crate) fn backdate(town: &TestTown, mol: &str) {
    let export = town.root.join("export.jsonl");
    town.ok(&["bead", "export", "-o", export.to_str().expect("utf-8")]);
    let text = std::fs::read_to_string(&export).expect("export");
    let mut record: Value = text
        .lines()
        .map(json)
        .find(|b| b["id"] == mol)
        .expect("the molecule is exported");
    assert_eq!(record["status"], "closed", "{record}");
    record["closed_at"] = "2020-01-01T00:00:00Z".into();
    let file = town.root.join("backdate.jsonl");
    std::fs::write(&file, format!("{record}\n")).expect("write");
    town.ok(&["bead", "import", file.to_str().expect("utf-8")]);
}

fn all_ids(town: &TestTown) -> Vec<String> {
    ids(&town.ok(&["bead", "list", "--all", "--json"]))
}

fn run_compactor(town: &TestTown) -> Value {
    let ran = json(&town.ok(&["dog", "run", "compactor", "--json"]));
    assert_eq!(ran["last_ok"], true, "{ran}");
    ran
}

#[test]
fn old_closed_molecules_become_digests_and_their_steps_leave_the_live_ledger() {
    let town = TestTown::new();
    let path = town.root.join("town.toml");
    let mut config = std::fs::read_to_string(&path).expect("town.toml");
    config.push_str("\n[dogs.compactor]\nevery = \"6h\"\nolder_than = \"1h\"\n");
    std::fs::write(&path, config).expect("write town.toml");

    let (old, old_steps) = pour(&town, "old");
    finish(&town, &old_steps);
    let (recent, recent_steps) = pour(&town, "recent");
    finish(&town, &recent_steps);
    let (open, open_steps) = pour(&town, "open");
    town.ok(&["mol", "step", "done", &open_steps[0]]);
    let before: Vec<Value> = old_steps
        .iter()
        .map(|s| json(&town.ok(&["bead", "show", s, "--json"])))
        .collect();
    backdate(&town, &old);

    let ran = run_compactor(&town);
    assert_eq!(
        ran["last_outcome"], "1 molecule(s) squashed into digests",
        "{ran}"
    );
    let live = all_ids(&town);
    for step in &old_steps {
        assert!(!live.contains(step), "{step} left the live ledger");
        town.fails(&["bead", "show", step]);
    }
    for step in recent_steps.iter().chain(&open_steps) {
        assert!(live.contains(step), "{step} untouched");
    }
    // One digest, holding every step's content.
    let mol = json(&town.ok(&["bead", "show", &old, "--json"]));
    assert!(mol["labels"].to_string().contains("compacted"), "{mol}");
    let digest_id = mol["digest"]
        .as_str()
        .expect("the molecule names its digest");
    let digest = json(&town.ok(&["bead", "show", digest_id, "--json"]));
    assert_eq!(digest["status"], "closed");
    assert_eq!(digest["squashed_from"], *old);
    let rows = digest["steps"].as_array().expect("rows");
    assert_eq!(rows.len(), old_steps.len());
    for ((row, step), i) in rows.iter().zip(&before).zip(0..) {
        assert_eq!(row["bead"], step["id"]);
        assert_eq!(row["status"], "closed");
        assert_eq!(row["close_reason"], format!("done {i}"));
        for field in ["title", "description", "acceptance_criteria", "step_id"] {
            assert_eq!(
                row["record"][field], step[field],
                "{field} of {}",
                step["id"]
            );
        }
    }
    let digests: Vec<Value> = json(&town.ok(&["bead", "list", "--all", "--json"]))
        .as_array()
        .expect("array")
        .iter()
        .filter(|b| b["squashed_from"] == *old)
        .cloned()
        .collect();
    assert_eq!(digests.len(), 1, "one digest: {digests:?}");
    // The status of a compacted molecule points at its digest.
    let err = town.fails(&["mol", "status", &old]);
    assert!(
        err.contains("compacted") && err.contains(digest_id),
        "{err}"
    );
    // git's history still has the steps; the ledger's tip no longer does.
    town.ok(&["sync"]);
    let history = town.git(&["log", "-p", "refs/heads/beads"]);
    let tip = town.git(&["ls-tree", "-r", "--name-only", "refs/heads/beads"]);
    for step in &old_steps {
        let file = format!("{step}.jsonl");
        assert!(history.contains(&file), "{step} in the history");
        assert!(!tip.contains(&file), "{step} not at the tip");
    }

    // Again: nothing changes.
    let before_again = town.ok(&["bead", "list", "--all", "--json"]);
    let ran = run_compactor(&town);
    assert_eq!(ran["last_outcome"], "0 molecule(s) squashed into digests");
    assert_eq!(town.ok(&["bead", "list", "--all", "--json"]), before_again);

    // Under `gastown run` the dog runs in the ledger actor: the recent molecule, now old too.
    backdate(&town, &recent);
    let t = RunningTown::start_in(town);
    let ran = run_compactor(&t.town);
    assert_eq!(
        ran["last_outcome"], "1 molecule(s) squashed into digests",
        "{ran}"
    );
    let live = all_ids(&t.town);
    assert!(recent_steps.iter().all(|s| !live.contains(s)), "{live:?}");
    assert!(open_steps.iter().all(|s| live.contains(s)), "{live:?}");
    assert_eq!(
        json(&t.town.ok(&["bead", "show", &open, "--json"]))["status"],
        "open"
    );
    let dogs = json(&t.town.ok(&["dog", "list", "--json"]));
    let compactor = dogs
        .as_array()
        .expect("array")
        .iter()
        .find(|d| d["name"] == "compactor")
        .expect("the compactor is listed");
    assert_eq!(compactor["every"], "6h", "{compactor}");
    assert_eq!(compactor["runs"], 1, "{compactor}");
}
