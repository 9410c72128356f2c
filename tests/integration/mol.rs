//! Molecules through the CLI: pour built-in and corpus formulas, walk the steps in order (out
//! of order refused, a closed step never redone, a new session resumes at the first open
//! step), wisps that never reach git, squash into a digest, burn; the compactor dog
//! (`mol/compactor.rs`).

pub(crate) mod compactor;
mod formulas;

use crate::util::as_agent;
use crate::util::{TestTown, ids, stderr, stdout};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("--json prints JSON")
}

/// `mol pour|wisp <args> --json`; returns (molecule id, step bead ids in order).
fn pour(town: &TestTown, verb: &str, args: &[&str]) -> (String, Vec<String>) {
    let mut full = vec!["mol", verb];
    full.extend_from_slice(args);
    full.push("--json");
    let poured = json(&town.ok(&full));
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

fn bead(town: &TestTown, id: &str) -> Value {
    json(&town.ok(&["bead", "show", id, "--json"]))
}

fn current_step(town: &TestTown, mol: &str) -> Value {
    json(&town.ok(&["mol", "current", mol, "--json"]))["step"].clone()
}

#[test]
fn pour_shiny_makes_children_linked_by_needs_and_steps_close_in_order() {
    let town = TestTown::new();
    let (mol, steps) = pour(&town, "pour", &["shiny", "--var", "feature=auth"]);
    assert_eq!(steps.len(), 5);
    let m = bead(&town, &mol);
    assert_eq!(m["issue_type"], "molecule");
    assert_eq!(m["formula"]["name"], "shiny");
    assert_eq!(m["formula"]["vars"]["feature"], "auth");
    assert!(
        m["labels"]
            .as_array()
            .expect("labels")
            .contains(&"formula:shiny".into())
    );
    for (i, id) in steps.iter().enumerate() {
        assert_eq!(
            id,
            &format!("{mol}.{}", i + 1),
            "children are molecule.N in order"
        );
        let step = bead(&town, id);
        let deps = step["dependencies"].as_array().expect("deps");
        assert!(
            deps.iter()
                .any(|d| d["type"] == "parent-child" && d["depends_on_id"] == *mol)
        );
        if i > 0 {
            assert!(
                deps.iter()
                    .any(|d| d["type"] == "blocks" && d["depends_on_id"] == *steps[i - 1])
            );
        }
    }
    let design = bead(&town, &steps[0]);
    assert_eq!(design["step_id"], "design");
    assert_eq!(design["title"], "Design auth");
    assert!(
        !design["acceptance_criteria"]
            .as_str()
            .expect("acceptance")
            .is_empty()
    );

    // Ready and blocked follow the molecule: only the first step is ready.
    assert_eq!(
        ids(&town.ok(&["bead", "ready", "--json"])),
        vec![steps[0].clone()]
    );
    assert_eq!(current_step(&town, &mol), "design");

    // Out of order is refused, naming what is still open.
    let err = town.fails(&["mol", "step", "done", "review", "--mol", &mol]);
    assert!(
        err.contains("`implement`") && err.contains(&steps[1]),
        "{err}"
    );
    assert!(bead(&town, &steps[2])["closed_at"].is_null());

    let out = town.ok(&[
        "mol", "step", "done", "design", "--mol", &mol, "-r", "agreed",
    ]);
    assert!(out.contains("1/5") && out.contains("implement"), "{out}");
    assert_eq!(current_step(&town, &mol), "implement");
    assert_eq!(
        ids(&town.ok(&["bead", "ready", "--json"])),
        vec![steps[1].clone()]
    );

    // Closing again is a no-op that says so: the close is not redone.
    let before = bead(&town, &steps[0]);
    let again = town.ok(&["mol", "step", "done", &steps[0]]);
    assert!(again.contains("already closed"), "{again}");
    assert_eq!(bead(&town, &steps[0]), before);

    let status = json(&town.ok(&["mol", "status", &mol, "--json"]));
    assert_eq!(status[0]["done"], 1);
    assert_eq!(status[0]["total"], 5);
    let states: Vec<&str> = status[0]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["state"].as_str().expect("state"))
        .collect();
    assert_eq!(states, ["done", "ready", "blocked", "blocked", "blocked"]);

    let log = town.git(&["log", "--all", "-p"]);
    assert!(
        log.contains(&format!("\"id\":\"{mol}\"")),
        "a poured molecule is in git"
    );
    assert!(log.contains(&format!("\"id\":\"{}\"", steps[4])));
}

#[test]
fn polecat_work_resumes_at_the_first_open_step_in_a_new_session() {
    let town = TestTown::new();
    let issue = town.create(&["Fix the login bug", "-t", "bug"]);
    let agent = "myrig/polecats/nux";
    let (mol, steps) = pour(
        &town,
        "pour",
        &[
            "mol-polecat-work",
            "--var",
            &format!("issue={issue}"),
            "--assignee",
            agent,
            "--attach",
            &issue,
        ],
    );
    let m = bead(&town, &mol);
    assert_eq!(m["assignee"], agent);
    assert!(
        m["dependencies"]
            .as_array()
            .expect("deps")
            .iter()
            .any(|d| d["type"] == "tracks" && d["depends_on_id"] == *issue)
    );
    assert!(
        bead(&town, &steps[0])["title"]
            .as_str()
            .expect("title")
            .contains(&issue)
    );

    // Without a molecule argument the session's own molecule is used.
    let err = stderr(&town.run(&["mol", "current"]));
    assert!(err.contains("pass a molecule id"), "{err}");
    let first = json(&stdout(&as_agent(
        &town,
        agent,
        &["mol", "current", "--json"],
    )));
    assert_eq!(first["step"], "load-context");

    // Work two steps by step id, each in its own process (a session), then "crash".
    for step in ["load-context", "implement"] {
        let out = as_agent(&town, agent, &["mol", "step", "done", step]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // The next session resumes at the first open step and does not redo closed ones.
    let resumed = json(&stdout(&as_agent(
        &town,
        agent,
        &["mol", "current", "--json"],
    )));
    assert_eq!(resumed["step"], "test");
    assert_eq!(resumed["done"], 2);
    let redo = stdout(&as_agent(
        &town,
        agent,
        &["mol", "step", "done", "implement"],
    ));
    assert!(redo.contains("already closed"), "{redo}");
    let events = json(&town.ok(&["bead", "events", &steps[1], "--json"]));
    let closes = events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "closed")
        .count();
    assert_eq!(closes, 1, "the step was closed exactly once: {events}");

    // Without GASTOWN_AGENT a step id needs --mol.
    let err = town.fails(&["mol", "step", "done", "test"]);
    assert!(err.contains("--mol"), "{err}");
}

#[test]
fn a_wisp_never_reaches_git_and_burn_discards_it() {
    let town = TestTown::new();
    let (wisp, wisp_steps) = pour(&town, "wisp", &["mol-deacon-patrol"]);
    let (mol, _) = pour(&town, "pour", &["shiny", "--var", "feature=x"]);
    assert!(
        bead(&town, &wisp)["ephemeral"]
            .as_bool()
            .expect("ephemeral")
    );
    // Three parallel checks are ready at once in the wisp.
    let status = json(&town.ok(&["mol", "status", &wisp, "--json"]));
    let ready = status[0]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["state"] == "ready")
        .count();
    assert_eq!(ready, 3);
    town.ok(&["mol", "step", "done", &wisp_steps[0]]);
    town.ok(&["sync"]);
    let log = town.git(&["log", "--all", "-p"]);
    assert!(!log.contains(&wisp), "a wisp id reached git");
    assert!(log.contains(&mol), "the poured molecule is in git");

    let err = town.fails(&["mol", "burn", &mol]);
    assert!(
        err.contains("persistent") && err.contains("squash"),
        "{err}"
    );
    let out = town.ok(&["mol", "burn", &wisp]);
    assert!(out.contains("5 step"), "{out}");
    for id in std::iter::once(&wisp).chain(&wisp_steps) {
        town.fails(&["bead", "show", id]);
    }
    town.ok(&["bead", "show", &mol]);
}

#[test]
fn squash_condenses_a_finished_molecule_into_a_digest() {
    let town = TestTown::new();
    let (mol, steps) = pour(&town, "pour", &["shiny", "--var", "feature=search"]);
    let err = town.fails(&["mol", "squash", &mol]);
    assert!(err.contains("--force") && err.contains("`design`"), "{err}");
    for (i, step) in steps.iter().enumerate() {
        town.ok(&[
            "mol",
            "step",
            "done",
            step,
            "--reason",
            &format!("reason {i}"),
        ]);
    }
    let current = town.ok(&["mol", "current", &mol]);
    assert!(current.contains("All 5 steps"), "{current}");
    let squashed = json(&town.ok(&["mol", "squash", &mol, "--json"]));
    let digest = bead(&town, squashed["digest"].as_str().expect("digest"));
    assert_eq!(digest["issue_type"], "event");
    assert_eq!(digest["status"], "closed");
    assert!(
        digest["labels"]
            .as_array()
            .expect("labels")
            .contains(&"digest".into())
    );
    assert_eq!(digest["squashed_from"], *mol);
    let text = digest["description"].as_str().expect("description");
    for (i, step) in steps.iter().enumerate() {
        assert!(
            text.contains(step.as_str()) && text.contains(&format!("reason {i}")),
            "{text}"
        );
    }
    assert!(text.contains("by overseer"), "{text}");
    assert_eq!(bead(&town, &mol)["status"], "closed");

    // A wisp squashed: the digest stays (in git), the wisp beads go.
    let (wisp, wisp_steps) = pour(&town, "wisp", &["shiny", "--var", "feature=w"]);
    let done = json(&town.ok(&["mol", "squash", &wisp, "--force", "--json"]));
    assert_eq!(done["burned"].as_array().expect("burned").len(), 6);
    town.fails(&["bead", "show", &wisp_steps[0]]);
    let digest = done["digest"].as_str().expect("digest").to_string();
    town.ok(&["sync"]);
    assert!(town.git(&["log", "--all", "-p"]).contains(&digest));

    // --keep-children keeps a wisp's steps, closed.
    let (kept, kept_steps) = pour(&town, "wisp", &["shiny", "--var", "feature=k"]);
    town.ok(&["mol", "squash", &kept, "--force", "--keep-children"]);
    assert_eq!(bead(&town, &kept_steps[0])["status"], "closed");
}

#[test]
fn corpus_formulas_pour() {
    let Some(corpus) = crate::support::corpus_dir("corpus_formulas_pour") else {
        return;
    };
    let town = TestTown::new();
    let dir = town.root.join(".beads").join("formulas");
    std::fs::create_dir_all(&dir).expect("formulas dir");
    for entry in std::fs::read_dir(std::path::Path::new(&corpus).join("gastown-formulas"))
        .expect("corpus dir")
    {
        let path = entry.expect("entry").path();
        if path.to_string_lossy().ends_with(".formula.toml") {
            std::fs::copy(&path, dir.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    let listed = json(&town.ok(&["formula", "list", "--json"]));
    let town_layer = listed
        .as_array()
        .expect("list")
        .iter()
        .filter(|f| f["layer"] == "town")
        .count();
    assert!(town_layer >= 48, "{town_layer} corpus formulas listed");
    // Composition from the corpus: shiny-enterprise expands `implement` with rule-of-five.
    let (mol, steps) = pour(
        &town,
        "pour",
        &["shiny-enterprise", "--var", "feature=billing"],
    );
    assert_eq!(steps.len(), 9);
    assert_eq!(
        ids(&town.ok(&["bead", "ready", "--json"])),
        vec![steps[0].clone()]
    );
    assert_eq!(current_step(&town, &mol), "design");
    let (_, release) = pour(&town, "pour", &["beads-release", "--var", "version=1.2.3"]);
    assert!(release.len() > 5);
    let err = town.fails(&["mol", "pour", "beads-release"]);
    assert!(
        err.contains("beads-release.formula.toml") && err.contains("`version`"),
        "{err}"
    );
}
