//! A polecat that starts on its hooked bead in a worktree that was reset (its uncommitted work
//! thrown away, or its branch moved back) is given its latest checkpoint back, and its prompt
//! says so; uncommitted changes of its own are never overwritten.

use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, git_in, town_with_rig};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn add_config(town: &TestTown, text: &str) {
    let path = town.root.join("town.toml");
    let mut config = std::fs::read_to_string(&path).expect("town.toml");
    config.push_str(text);
    std::fs::write(&path, config).expect("write town.toml");
}

fn json(town: &TestTown, args: &[&str]) -> Value {
    let text = town.ok(args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

/// A town whose polecat holds `bead` under a sim runtime that reads its hook and never works it,
/// with the checkpoint dog run by hand only: the running town, the polecat and its worktree.
fn polecat_with_worktree() -> (RunningTown, String, String, PathBuf) {
    let town = town_with_rig();
    add_config(
        &town,
        &format!(
            "\n[agents.idle]\ncommand = \"{}\"\nargs = [\"sim-agent\"]\nprompt = \"typed\"\nready_marker = \"sim>\"\nquiet_period = \"150ms\"\nenv = {{ GASTOWN_SIM_WORK = \"0\" }}\n",
            env!("CARGO_BIN_EXE_gastown")
        ),
    );
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
    (t, bead, agent, worktree)
}

/// The agent's uncommitted work, checkpointed.
fn work_and_checkpoint(t: &RunningTown, worktree: &Path) {
    std::fs::write(worktree.join("README.md"), "half-way through\n").expect("edit");
    std::fs::write(worktree.join("plan.md"), "step 1, step 2\n").expect("new file");
    let ran = json(&t.town, &["dog", "run", "checkpoint", "--json"]);
    assert!(
        ran["last_outcome"]
            .as_str()
            .unwrap_or_default()
            .contains("1 saved"),
        "{ran}"
    );
}

fn work_is_back(worktree: &Path) -> bool {
    let plan = std::fs::read_to_string(worktree.join("plan.md")).unwrap_or_default();
    let readme = std::fs::read_to_string(worktree.join("README.md")).unwrap_or_default();
    plan == "step 1, step 2\n" && readme == "half-way through\n"
}

/// The agent's screen without whitespace: a long prompt wraps at the terminal's edge.
/// Empty between two sessions, when there is no screen to peek at.
fn screen(town: &TestTown, agent: &str) -> String {
    let out = town.run(&["peek", agent]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect()
}

/// How many sessions `agent` has had.
fn session_count(town: &TestTown, agent: &str) -> usize {
    crate::durable::sessions(town, agent).len()
}

#[test]
fn a_reset_worktree_gets_its_checkpoint_back_and_the_agent_is_told() {
    let (t, _bead, agent, worktree) = polecat_with_worktree();
    work_and_checkpoint(&t, &worktree);
    // The work is thrown away (`git reset --hard`, `git clean`) and the session killed.
    git_in(&worktree, &["reset", "--hard", "--quiet"]);
    git_in(&worktree, &["clean", "-fdq"]);
    assert!(!work_is_back(&worktree));
    let before = session_count(&t.town, &agent);
    t.town.ok(&["kill", &agent]);
    wait_for(
        "the work back in the worktree",
        Duration::from_secs(60),
        || work_is_back(&worktree).then_some(()),
    );
    // Uncommitted, as the agent left it.
    let status = git_in(&worktree, &["status", "--porcelain"]);
    assert!(
        status.contains("README.md") && status.contains("plan.md"),
        "{status}"
    );
    // The new session's prompt says so, naming the files.
    let shown = wait_for("the prompt's note", Duration::from_secs(30), || {
        let shown = screen(&t.town, &agent);
        shown.contains("Yourworktreewasreset").then_some(shown)
    });
    assert!(
        shown.contains("README.md") && shown.contains("plan.md"),
        "{shown}"
    );
    assert!(session_count(&t.town, &agent) > before);
    // The note is told once: another restart finds the work in place and says nothing.
    let notes = git_in(&worktree, &["rev-parse", "--absolute-git-dir"]);
    assert!(
        !Path::new(notes.trim())
            .join("gastown-restore-note")
            .exists(),
        "the note was taken"
    );
}

#[test]
fn a_branch_moved_back_behind_the_checkpoint_is_moved_forward_and_the_work_restored() {
    let (t, _bead, agent, worktree) = polecat_with_worktree();
    // A commit of the agent's, then uncommitted work on top, checkpointed.
    std::fs::write(worktree.join("done.md"), "first part\n").expect("write");
    git_in(&worktree, &["add", "done.md"]);
    git_in(&worktree, &["commit", "--quiet", "-m", "first part"]);
    let committed = git_in(&worktree, &["rev-parse", "HEAD"]);
    work_and_checkpoint(&t, &worktree);
    // The branch is reset back past that commit, the worktree cleaned.
    git_in(&worktree, &["reset", "--hard", "--quiet", "HEAD~1"]);
    git_in(&worktree, &["clean", "-fdq"]);
    t.town.ok(&["kill", &agent]);
    wait_for(
        "the work back in the worktree",
        Duration::from_secs(60),
        || work_is_back(&worktree).then_some(()),
    );
    assert_eq!(
        git_in(&worktree, &["rev-parse", "HEAD"]).trim(),
        committed.trim(),
        "the branch is back at the agent's commit"
    );
    assert!(worktree.join("done.md").exists());
}

#[test]
fn uncommitted_changes_of_its_own_are_never_overwritten() {
    let (t, _bead, agent, worktree) = polecat_with_worktree();
    work_and_checkpoint(&t, &worktree);
    // Reset, then new work of its own before the restart.
    git_in(&worktree, &["reset", "--hard", "--quiet"]);
    git_in(&worktree, &["clean", "-fdq"]);
    std::fs::write(worktree.join("other.md"), "something else\n").expect("write");
    let before = session_count(&t.town, &agent);
    t.town.ok(&["kill", &agent]);
    wait_for("a new session", Duration::from_secs(60), || {
        (session_count(&t.town, &agent) > before).then_some(())
    });
    let shown = wait_for("the new prompt", Duration::from_secs(30), || {
        let shown = screen(&t.town, &agent);
        shown.contains("GUPP").then_some(shown)
    });
    assert!(!shown.contains("Yourworktreewas"), "{shown}");
    assert!(
        !worktree.join("plan.md").exists(),
        "the checkpoint was not applied"
    );
    assert_eq!(
        std::fs::read_to_string(worktree.join("other.md")).expect("kept"),
        "something else\n"
    );
}
