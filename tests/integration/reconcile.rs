//! Reconciliation before any session starts (issue 12): a polecat's worktree deleted while the
//! supervisor was down is made again from its branch and the session runs there; a plain
//! directory or another repository's worktree at its path is refused and left as it was; a
//! worktree whose branch is gone too is escalated. Worktrees, branches and homes of no identity
//! are listed by `rig show` and logged by `gastown run`.

use crate::durable::{assert_told_once, custom_runtime, sessions, status, wait_stuck};
use crate::running::{RunningTown, group_alive, wait_for};
use crate::util::git_in;
use crate::util::{TestTown, town_with_rig};
use std::path::{Path, PathBuf};
use std::time::Duration;

const NUX: &str = "town/rigs/alpha/polecats/nux";

fn worktree(town: &TestTown, polecat: &str) -> PathBuf {
    town.root.join("alpha/polecats").join(polecat).join("rig")
}

/// A town with the hang runtime and `beads` slung (no supervisor up) to polecats in order.
fn slung(polecats: &[&str]) -> (TestTown, Vec<String>) {
    let town = town_with_rig();
    custom_runtime(&town, "hang", "sleep 1000");
    let beads = polecats
        .iter()
        .map(|p| {
            let bead = town.create(&[&format!("Work for {p}")]);
            let target = format!("alpha/polecats/{p}");
            town.ok(&["sling", &bead, &target, "--runtime", "hang", "--no-formula"]);
            bead
        })
        .collect();
    (town, beads)
}

fn kill_group(pid: u32) {
    if group_alive(pid) {
        // SAFETY: killing a process group this test made through the supervisor.
        unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    }
}

#[test]
fn a_worktree_deleted_while_the_supervisor_is_down_is_made_again_from_its_branch() {
    let (town, beads) = slung(&["nux"]);
    let path = worktree(&town, "nux");
    std::fs::write(path.join("work.txt"), "done so far\n").expect("write");
    git_in(&path, &["add", "work.txt"]);
    git_in(&path, &["commit", "--quiet", "-m", "work in progress"]);
    std::fs::remove_dir_all(&path).expect("the worktree vanishes");
    let t = RunningTown::start_in(town);
    let pid = wait_for("the session", Duration::from_secs(30), || {
        t.session_pid(NUX)
    });
    let branch = format!("polecat/nux/{}", beads[0]);
    assert_eq!(git_in(&path, &["branch", "--show-current"]), branch);
    assert_eq!(
        std::fs::read_to_string(path.join("work.txt")).expect("the commit is back"),
        "done so far\n"
    );
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).expect("the session's cwd");
    assert_eq!(
        cwd,
        path.canonicalize().expect("path"),
        "runs in its worktree"
    );
    let common = git_in(
        &path,
        &["rev-parse", "--path-format=absolute", "--git-common-dir"],
    );
    assert_eq!(
        Path::new(&common).canonicalize().expect("common dir"),
        t.town
            .root
            .join("alpha/.repo.git")
            .canonicalize()
            .expect("bare"),
        "git there resolves to the rig's repository, not the town's"
    );
    kill_group(pid);
}

#[test]
fn a_plain_directory_or_another_repositorys_worktree_is_refused_and_left_alone() {
    let (town, beads) = slung(&["nux", "slit"]);
    // nux: a plain directory with someone's file in it.
    let plain = worktree(&town, "nux");
    std::fs::remove_dir_all(&plain).expect("remove");
    git_in(&town.root.join("alpha/.repo.git"), &["worktree", "prune"]);
    std::fs::create_dir_all(&plain).expect("mkdir");
    std::fs::write(plain.join("mine.txt"), "keep me\n").expect("write");
    // slit: a worktree of another repository.
    let foreign = worktree(&town, "slit");
    std::fs::remove_dir_all(&foreign).expect("remove");
    git_in(&town.root.join("alpha/.repo.git"), &["worktree", "prune"]);
    let other = town.root.parent().expect("parent").join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    git_in(&other, &["init", "--quiet", "--initial-branch=main"]);
    git_in(
        &other,
        &["commit", "--quiet", "--allow-empty", "-m", "other"],
    );
    git_in(
        &other,
        &[
            "worktree",
            "add",
            "--quiet",
            foreign.to_str().expect("utf-8"),
            "-b",
            "x",
        ],
    );

    let t = RunningTown::start_in(town);
    let reason = wait_stuck(&t.town, "alpha/polecats/nux");
    assert!(reason.contains("plain directory"), "{reason}");
    let reason = wait_stuck(&t.town, "alpha/polecats/slit");
    assert!(
        reason.contains("not a worktree of rig") && reason.contains("other"),
        "{reason}"
    );
    for (polecat, bead) in ["nux", "slit"].iter().zip(&beads) {
        let address = format!("alpha/polecats/{polecat}");
        assert_told_once(&t.town, &address);
        assert_eq!(status(&t.town, bead), "hooked");
        assert!(sessions(&t.town, &address).is_empty(), "nothing started");
    }
    assert_eq!(
        std::fs::read_to_string(plain.join("mine.txt")).expect("still there"),
        "keep me\n"
    );
    assert!(!plain.join(".git").exists(), "nothing made over it");
    let common = git_in(
        &foreign,
        &["rev-parse", "--path-format=absolute", "--git-common-dir"],
    );
    assert!(
        common.starts_with(other.to_str().expect("utf-8")),
        "{common}"
    );
    assert_eq!(git_in(&foreign, &["branch", "--show-current"]), "x");
}

#[test]
fn a_polecat_whose_worktree_and_branch_are_gone_is_escalated_and_nothing_starts() {
    let (town, beads) = slung(&["nux"]);
    let path = worktree(&town, "nux");
    std::fs::remove_dir_all(&path).expect("remove");
    let bare = town.root.join("alpha/.repo.git");
    git_in(&bare, &["worktree", "prune"]);
    let branch = format!("polecat/nux/{}", beads[0]);
    git_in(&bare, &["branch", "-D", &branch]);
    let t = RunningTown::start_in(town);
    let reason = wait_stuck(&t.town, "alpha/polecats/nux");
    assert!(
        reason.contains(&branch) && reason.contains("gone"),
        "{reason}"
    );
    assert_told_once(&t.town, "alpha/polecats/nux");
    let mail = t.town.ok(&["mail", "inbox", "overseer", "--all", "--json"]);
    assert!(mail.contains(&branch), "the mail names the branch: {mail}");
    assert_eq!(status(&t.town, &beads[0]), "hooked");
    assert!(!path.exists(), "no worktree made up in its place");
    assert!(t.node(NUX).is_none(), "nothing started");
}

#[test]
fn rig_show_lists_worktrees_branches_and_homes_that_belong_to_no_identity() {
    let (town, _beads) = slung(&["nux"]);
    let bare = town.root.join("alpha/.repo.git");
    git_in(&bare, &["branch", "polecat/old/gt-gone", "main"]);
    let ghost = worktree(&town, "ghost");
    git_in(
        &bare,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            "polecat/ghost/gt-lost",
            ghost.to_str().expect("utf-8"),
            "main",
        ],
    );
    std::fs::write(ghost.join("unsaved.txt"), "x\n").expect("write");
    git_in(&ghost, &["add", "."]);
    git_in(&ghost, &["commit", "--quiet", "-m", "only copy"]);
    let check = |town: &TestTown| {
        let view: serde_json::Value =
            serde_json::from_str(&town.ok(&["rig", "show", "alpha", "--json"])).expect("json");
        let orphans = &view["orphans"];
        let worktrees: Vec<&str> = orphans["worktrees"]
            .as_array()
            .expect("worktrees")
            .iter()
            .filter_map(|w| w["path"].as_str())
            .collect();
        assert_eq!(worktrees.len(), 1, "{orphans}");
        assert!(worktrees[0].ends_with("polecats/ghost/rig"), "{orphans}");
        let branches: Vec<(&str, bool)> = orphans["branches"]
            .as_array()
            .expect("branches")
            .iter()
            .map(|b| (b["name"].as_str().expect("name"), b["merged"] == true))
            .collect();
        assert_eq!(
            branches,
            [
                ("polecat/ghost/gt-lost", false),
                ("polecat/old/gt-gone", true)
            ],
            "{orphans}"
        );
        let homes = orphans["homes"].as_array().expect("homes");
        assert_eq!(homes.len(), 1, "{orphans}");
        assert!(homes[0].as_str().expect("path").ends_with("polecats/ghost"));
        let text = town.ok(&["rig", "show", "alpha"]);
        let (branches_part, orphans_part) = text.split_once("\norphans").expect("an orphans part");
        assert!(branches_part.contains("polecat/nux/"), "{text}");
        assert!(
            orphans_part.contains("NOT merged")
                && orphans_part.contains("polecat/ghost/gt-lost")
                && !orphans_part.contains("polecat/nux/"),
            "{text}"
        );
    };
    check(&town);
    let t = RunningTown::start_in(town);
    check(&t.town);
    wait_for("the orphans logged", Duration::from_secs(20), || {
        let log = t.log();
        (log.contains("belongs to no identity") && log.contains("polecat/ghost/gt-lost"))
            .then_some(())
    });
    assert!(ghost.join("unsaved.txt").exists(), "listed, never removed");
}
