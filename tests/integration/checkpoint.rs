//! Checkpoints and the dogs through the real binary and a real `gastown run`: a polecat's
//! uncommitted work survives its session's kill and the loss of its worktree; a dog whose chore
//! fails every time backs off and escalates once; bad input to the commands.

use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, git_in, town_with_rig};
use serde_json::Value;
use std::time::Duration;

fn add_config(town: &TestTown, text: &str) {
    let path = town.root.join("town.toml");
    let mut config = std::fs::read_to_string(&path).expect("town.toml");
    config.push_str(text);
    std::fs::write(&path, config).expect("write town.toml");
}

/// A sim runtime that reads its hook and never works it (so it never commits).
fn idle_sim() -> String {
    format!(
        "\n[agents.idle]\ncommand = \"{}\"\nargs = [\"sim-agent\"]\nprompt = \"typed\"\nready_marker = \"sim>\"\nquiet_period = \"150ms\"\nenv = {{ GASTOWN_SIM_WORK = \"0\" }}\n",
        env!("CARGO_BIN_EXE_gastown")
    )
}

fn json(town: &TestTown, args: &[&str]) -> Value {
    let text = town.ok(args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

#[test]
fn uncommitted_work_survives_a_killed_session_and_a_deleted_worktree() {
    let town = town_with_rig();
    // The timer stays out of the way: the test runs the dog by hand.
    add_config(&town, &idle_sim());
    add_config(&town, "\n[dogs.checkpoint]\nevery = \"1h\"\n");
    let bead = town.create(&["Long edit"]);
    let t = RunningTown::start_in(town);
    t.town.ok(&["sling", &bead, "alpha", "--runtime", "idle"]);
    let agent = json(&t.town, &["bead", "show", &bead, "--json"])["assignee"]
        .as_str()
        .expect("assignee")
        .to_string();
    let name = agent.rsplit('/').next().expect("name").to_string();
    let worktree = t.town.root.join("alpha/polecats").join(&name).join("rig");
    wait_for("the worktree", Duration::from_secs(30), || {
        worktree.join(".git").exists().then_some(())
    });
    // The agent's uncommitted work: an edit and a new file.
    std::fs::write(worktree.join("README.md"), "half-way through\n").expect("edit");
    std::fs::write(worktree.join("plan.md"), "step 1, step 2\n").expect("new file");
    let ran = json(&t.town, &["dog", "run", "checkpoint", "--json"]);
    assert_eq!(ran["last_ok"], true, "{ran}");
    assert!(
        ran["last_outcome"]
            .as_str()
            .unwrap_or_default()
            .contains("1 saved"),
        "{ran}"
    );
    let shown = json(&t.town, &["checkpoint", "show", &agent, "--json"]);
    let files: Vec<&str> = shown["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        files.contains(&"README.md") && files.contains(&"plan.md"),
        "{shown}"
    );
    // The worktree is lost and the session killed: the tree restarts it, the worktree is made
    // again from its branch, and the work comes back from the checkpoint.
    std::fs::remove_dir_all(&worktree).expect("lose the worktree");
    t.town.ok(&["kill", &agent]);
    wait_for(
        "the work back in the remade worktree",
        Duration::from_secs(60),
        || {
            let plan = std::fs::read_to_string(worktree.join("plan.md")).ok()?;
            let readme = std::fs::read_to_string(worktree.join("README.md")).ok()?;
            (plan == "step 1, step 2\n" && readme == "half-way through\n").then_some(())
        },
    );
    // Uncommitted, as the agent left it: the branch has none of it.
    let status = git_in(&worktree, &["status", "--porcelain"]);
    assert!(
        status.contains("README.md") && status.contains("plan.md"),
        "{status}"
    );
    // Logged once the restore is done (the files may show up a moment before).
    wait_for("the restore in the log", Duration::from_secs(30), || {
        t.log()
            .contains("uncommitted work restored from the checkpoint")
            .then_some(())
    });
    // The dogs are listed with their runs.
    let dogs = json(&t.town, &["dog", "list", "--json"]);
    assert_eq!(dogs[0]["name"], "checkpoint", "{dogs}");
    assert_eq!(dogs[0]["running"], true, "{dogs}");
    assert!(dogs[0]["runs"].as_u64().unwrap_or_default() >= 1, "{dogs}");
}

#[test]
fn a_dog_whose_chore_always_fails_backs_off_and_escalates_once() {
    let town = town_with_rig();
    add_config(&town, "\n[dogs.checkpoint]\nevery = \"100ms\"\n");
    // A polecat "worktree" whose .git points nowhere: every checkpoint run fails on it.
    let broken = town.root.join("alpha/polecats/ghost/rig");
    std::fs::create_dir_all(&broken).expect("mkdir");
    std::fs::write(
        broken.join(".git"),
        "gitdir: /nonexistent/worktrees/ghost\n",
    )
    .expect("write");
    let t = RunningTown::start_in(town);
    let escalations = wait_for("the dog's escalation", Duration::from_secs(60), || {
        let list = json(&t.town, &["escalate", "list", "--json"]);
        list.as_array()
            .expect("array")
            .iter()
            .any(|e| e["source"] == "deacon/dogs/checkpoint")
            .then_some(list)
    });
    let e = escalations
        .as_array()
        .expect("array")
        .iter()
        .find(|e| e["source"] == "deacon/dogs/checkpoint")
        .expect("found")
        .clone();
    assert_eq!(e["count"], 1, "escalated once: {e}");
    assert!(
        e["message"].as_str().unwrap_or_default().contains("ghost"),
        "{e}"
    );
    let dogs = json(&t.town, &["dog", "list", "--json"]);
    assert_eq!(dogs[0]["last_ok"], false, "{dogs}");
    assert!(
        dogs[0]["failures_in_a_row"].as_u64().unwrap_or_default() >= 3,
        "{dogs}"
    );
    // Backing off: at 100 ms it would have run ~10 times a second; doubling per failure it has
    // run only a handful of times by the time it escalated.
    assert!(dogs[0]["runs"].as_u64().unwrap_or_default() < 8, "{dogs}");
    // The other dogs are unaffected: the reaper, run through its actor (its chore one operation
    // of the supervisor's ledger actor), succeeds while the checkpoint dog keeps failing.
    let reaper = json(&t.town, &["dog", "run", "reaper", "--json"]);
    assert_eq!(reaper["last_ok"], true, "{reaper}");
    assert_eq!(reaper["runs"], 1, "{reaper}");
    assert_eq!(reaper["failures_in_a_row"], 0, "{reaper}");
    assert_eq!(
        reaper["last_outcome"], "0 expired wisp(s) reaped",
        "{reaper}"
    );
    let dogs = json(&t.town, &["dog", "list", "--json"]);
    let reaper = dogs
        .as_array()
        .expect("array")
        .iter()
        .find(|d| d["name"] == "reaper")
        .expect("the reaper is listed");
    assert_eq!(reaper["last_ok"], true, "{dogs}");
    assert_eq!(dogs[0]["last_ok"], false, "still failing: {dogs}");
}

#[test]
fn bad_input_gets_clear_errors() {
    let town = town_with_rig();
    let err = town.fails(&["checkpoint", "show", "alpha/polecats/nobody"]);
    assert!(err.contains("no checkpoint"), "{err}");
    let err = town.fails(&["checkpoint", "save", "alpha/crew/max"]);
    assert!(err.contains("not a polecat"), "{err}");
    let err = town.fails(&["checkpoint", "restore", "not an address"]);
    assert!(err.contains("not an agent's address"), "{err}");
    let err = town.fails(&["dog", "run", "fetch"]);
    assert!(err.contains("there is no dog \"fetch\""), "{err}");
    let out = crate::util::as_agent(&town, "alpha/polecats/nux", &["dog", "run", "checkpoint"]);
    assert!(!out.status.success());
    assert!(crate::util::stderr(&out).contains("may not run a dog"));
    // Another polecat may not restore someone else's checkpoint.
    let out = crate::util::as_agent(
        &town,
        "alpha/polecats/slit",
        &["checkpoint", "restore", "alpha/polecats/nux"],
    );
    assert!(
        crate::util::stderr(&out).contains("may not restore"),
        "{}",
        crate::util::stderr(&out)
    );
    // Without a supervisor the dogs are listed as configured, and a run happens here.
    let listed = town.ok(&["dog", "list"]);
    assert!(
        listed.contains("checkpoint") && listed.contains("no gastown run"),
        "{listed}"
    );
    let ran = town.ok(&["dog", "run", "checkpoint"]);
    assert!(ran.contains("0 saved"), "{ran}");
    // A dog town.toml does not know, or a period of 0, is refused naming the key.
    add_config(&town, "\n[dogs.fetch]\nevery = \"5m\"\n");
    let err = town.fails(&["dog", "list"]);
    assert!(
        err.contains("[dogs.fetch]") && err.contains("checkpoint"),
        "{err}"
    );
}

#[test]
fn one_broken_rig_toml_does_not_keep_the_other_rigs_polecats_from_their_checkpoints() {
    let town = town_with_rig();
    let elsewhere = town.root.parent().expect("parent").join("b");
    let src = crate::util::source_repo(&elsewhere);
    town.ok(&["rig", "add", "beta", &src]);
    // A polecat of beta with uncommitted work, its worktree made as the rig makes them.
    let bare = town.root.join("beta/.repo.git");
    let worktree = town.root.join("beta/polecats/nux/rig");
    git_in(
        &bare,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            "polecat/nux",
            &worktree.to_string_lossy(),
        ],
    );
    std::fs::write(worktree.join("plan.md"), "not committed yet\n").expect("work");
    // alpha's rig.toml no longer parses.
    std::fs::write(town.root.join("alpha/rig.toml"), "name = \n").expect("break alpha");

    let out = town.run(&["dog", "run", "checkpoint"]);
    let said = format!("{}{}", crate::util::stdout(&out), crate::util::stderr(&out));
    assert!(
        !out.status.success(),
        "the broken rig fails the run: {said}"
    );
    assert!(
        said.contains("1 saved") && said.contains("rig alpha"),
        "the good rig's polecat is saved, the broken rig named: {said}"
    );
    let refs = git_in(&bare, &["for-each-ref", "refs/gastown/checkpoints/"]);
    assert!(refs.contains("beta/polecats/nux"), "{refs}");
    // `checkpoint list` shows it, and warns about the rig it could not read.
    let out = town.run(&["checkpoint", "list", "--json"]);
    assert!(out.status.success(), "{}", crate::util::stderr(&out));
    let listed: Value = serde_json::from_str(&crate::util::stdout(&out)).expect("json");
    assert_eq!(listed[0]["agent"], "beta/polecats/nux", "{listed}");
    assert!(
        crate::util::stderr(&out).contains("rig alpha"),
        "{}",
        crate::util::stderr(&out)
    );
}

#[test]
fn a_checkpoint_ref_at_a_missing_object_is_kept_aside_and_save_says_so() {
    let town = town_with_rig();
    let bare = town.root.join("alpha/.repo.git");
    let worktree = town.root.join("alpha/polecats/nux/rig");
    git_in(
        &bare,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            "polecat/nux",
            &worktree.to_string_lossy(),
        ],
    );
    std::fs::write(worktree.join("plan.md"), "not committed yet\n").expect("work");
    // The agent's checkpoint ref names an object the repository does not have.
    let missing = "1234567890".repeat(4);
    let refs = bare.join("refs/gastown/checkpoints/alpha/polecats");
    std::fs::create_dir_all(&refs).expect("mkdir");
    std::fs::write(refs.join("nux"), format!("{missing}\n")).expect("ref");
    let said = town.ok(&["checkpoint", "save", "alpha/polecats/nux"]);
    assert!(
        said.contains("starting a new chain")
            && said.contains("checkpoint 123456789012 could not be read")
            && said.contains("missing from the repository")
            && said.contains("refs/gastown/checkpoints-broken/alpha/polecats/nux/"),
        "{said}"
    );
    let kept = git_in(
        &bare,
        &[
            "for-each-ref",
            "--format=%(objectname)",
            "refs/gastown/checkpoints-broken/",
        ],
    );
    assert_eq!(kept.trim(), missing, "the broken ref is kept, not dropped");
    let shown = json(
        &town,
        &["checkpoint", "show", "alpha/polecats/nux", "--json"],
    );
    assert_eq!(shown["files"][0], "plan.md", "{shown}");
    // The dog goes on from the new chain.
    let ran = town.ok(&["dog", "run", "checkpoint"]);
    assert!(ran.contains("1 unchanged"), "{ran}");
}
