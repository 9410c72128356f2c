//! Rigs through the CLI, against real git repositories: `rig add` lays out the bare clone, the
//! refinery's worktree and a committed rig.toml with a clean town work tree; list and show;
//! remove guards unmerged work; bad names and uncloneable sources leave nothing behind; gates
//! pass, fail and time out.

use crate::util::TestTown;
use crate::util::git_in;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A source repository with one commit on `main` and one more on `dev`.
struct Source {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn source() -> Source {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("project");
    fs::create_dir(&path).expect("mkdir");
    git_in(&path, &["init", "--quiet", "--initial-branch=main"]);
    // main stays checked out here: accept the refinery's pushes (the work tree follows).
    git_in(
        &path,
        &["config", "receive.denyCurrentBranch", "updateInstead"],
    );
    fs::write(path.join("README.md"), "hello\n").expect("write");
    git_in(&path, &["add", "README.md"]);
    git_in(&path, &["commit", "--quiet", "-m", "first"]);
    git_in(&path, &["branch", "dev"]);
    git_in(&path, &["switch", "--quiet", "dev"]);
    fs::write(path.join("dev.txt"), "dev\n").expect("write");
    git_in(&path, &["add", "dev.txt"]);
    git_in(&path, &["commit", "--quiet", "-m", "on dev"]);
    git_in(&path, &["switch", "--quiet", "main"]);
    Source { _dir: dir, path }
}

impl Source {
    fn arg(&self) -> &str {
        self.path.to_str().expect("utf-8 path")
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("valid JSON")
}

fn town_entries(town: &TestTown) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(&town.root)
        .expect("read town")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn rig_add_lays_out_clone_config_and_refinery_with_a_clean_town() {
    let town = TestTown::new();
    let src = source();
    let out = town.ok(&["rig", "add", "proj", src.arg()]);
    assert!(out.contains("Added rig proj"), "{out}");

    let rig = town.root.join("proj");
    let bare = rig.join(".repo.git");
    assert_eq!(
        git_in(&bare, &["rev-parse", "--is-bare-repository"]),
        "true"
    );
    assert_eq!(
        git_in(&bare, &["config", "remote.origin.fetch"]),
        "+refs/heads/*:refs/remotes/origin/*"
    );
    assert!(rig.join("rig.toml").is_file());
    let refinery = rig.join("refinery/rig");
    assert!(refinery.join("README.md").is_file());
    let main_tip = git_in(&src.path, &["rev-parse", "main"]);
    assert_eq!(git_in(&refinery, &["rev-parse", "HEAD"]), main_tip);
    let out = Command::new("git")
        .arg("-C")
        .arg(&refinery)
        .args(["symbolic-ref", "-q", "HEAD"])
        .output()
        .expect("git runs");
    assert!(!out.status.success(), "the refinery's worktree is detached");

    assert_eq!(town.git(&["status", "--porcelain"]), "", "town stays clean");
    let committed = town.git(&["log", "-1", "--name-only", "--format=%s"]);
    assert!(committed.contains("proj/rig.toml"), "{committed}");
    assert!(committed.contains("proj/.gitignore"), "{committed}");

    let again = town.fails(&["rig", "add", "proj", src.arg()]);
    assert!(again.contains("already exists"), "{again}");
}

#[test]
fn rig_add_takes_branch_prefix_and_runtime() {
    let town = TestTown::new();
    let src = source();
    let args = [
        "rig",
        "add",
        "p_2",
        src.arg(),
        "--branch",
        "dev",
        "--runtime",
        "sim",
    ];
    town.ok(&args);
    let shown = json(&town.ok(&["rig", "show", "p_2", "--json"]));
    assert_eq!(shown["config"]["default_branch"], "dev");
    assert_eq!(shown["config"]["prefix"], "p-2", "derived from the name");
    assert_eq!(shown["config"]["runtime"], "sim");
    let refinery = town.root.join("p_2/refinery/rig");
    assert!(refinery.join("dev.txt").is_file(), "the refinery is on dev");

    town.ok(&["rig", "add", "other", src.arg(), "--prefix", "ot"]);
    let shown = json(&town.ok(&["rig", "show", "other", "--json"]));
    assert_eq!(shown["config"]["prefix"], "ot");
    assert_eq!(shown["config"]["default_branch"], "main");

    let err = town.fails(&["rig", "add", "third", src.arg(), "--prefix", "ot"]);
    assert!(err.contains("already used by rig \"other\""), "{err}");
    let err = town.fails(&["rig", "add", "gt", src.arg()]);
    assert!(err.contains("already used by the town"), "{err}");
    assert!(!town.root.join("third").exists() && !town.root.join("gt").exists());

    let err = town.fails(&["rig", "add", "bad", src.arg(), "--prefix", "Bad!"]);
    assert!(err.contains("bad --prefix"), "{err}");
    assert!(!town.root.join("bad").exists());
}

#[test]
fn rig_list_and_show_in_text_and_json() {
    let town = TestTown::new();
    let src = source();
    let empty = town.ok(&["rig", "list"]);
    assert!(empty.contains("No rigs yet"), "{empty}");
    assert_eq!(
        json(&town.ok(&["rig", "list", "--json"])),
        serde_json::json!([])
    );
    town.ok(&["rig", "add", "beta", src.arg()]);
    town.ok(&["rig", "add", "alpha", src.arg()]);
    add_polecat_with_commit(&town, "alpha", "nux", "polecat/nux/gt-1");

    let text = town.ok(&["rig", "list"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("alpha\tmain\t1 polecat(s)"), "{text}");
    assert!(lines[1].starts_with("beta\tmain\t0 polecat(s)"), "{text}");
    let listed = json(&town.ok(&["rig", "list", "--json"]));
    assert_eq!(listed[0]["name"], "alpha");
    assert_eq!(listed[1]["max_polecats"], 4);

    let text = town.ok(&["rig", "show", "alpha"]);
    for part in [
        "rig alpha",
        "default branch: main",
        "nux polecat/nux/gt-1, 1 ahead",
        "(detached)",
    ] {
        assert!(text.contains(part), "{part:?} not in:\n{text}");
    }
    let shown = json(&town.ok(&["rig", "show", "alpha", "--json"]));
    assert_eq!(shown["polecats"][0]["name"], "nux");
    assert_eq!(shown["polecats"][0]["ahead"], 1);
    assert_eq!(shown["worktrees"].as_array().expect("array").len(), 3);
    let branches: Vec<&str> = shown["branches"]
        .as_array()
        .expect("array")
        .iter()
        .map(|b| b["name"].as_str().expect("name"))
        .collect();
    assert_eq!(branches, ["main", "polecat/nux/gt-1"]);

    let err = town.fails(&["rig", "show", "gamma"]);
    assert!(err.contains("no rig named \"gamma\""), "{err}");
}

/// A polecat worktree made the way sling makes it, with one commit of work.
fn add_polecat_with_commit(town: &TestTown, rig: &str, polecat: &str, branch: &str) -> PathBuf {
    let bare = town.root.join(rig).join(".repo.git");
    let wt = town
        .root
        .join(rig)
        .join("polecats")
        .join(polecat)
        .join("rig");
    let wt_s = wt.to_str().expect("utf-8 path");
    git_in(
        &bare,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            branch,
            wt_s,
            "refs/heads/main",
        ],
    );
    fs::write(wt.join("work.txt"), "work\n").expect("write");
    git_in(&wt, &["add", "work.txt"]);
    git_in(&wt, &["commit", "--quiet", "-m", "work"]);
    wt
}

#[test]
fn rig_remove_refuses_unmerged_or_dirty_work_unless_forced() {
    let town = TestTown::new();
    let src = source();
    town.ok(&["rig", "add", "proj", src.arg()]);
    let wt = add_polecat_with_commit(&town, "proj", "nux", "polecat/nux/gt-1");

    let err = town.fails(&["rig", "remove", "proj"]);
    assert!(
        err.contains("nux: 1 commit(s) on polecat/nux/gt-1 not merged"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert!(
        wt.join("work.txt").is_file(),
        "a refused remove changes nothing"
    );

    // Merged work (here: the default branch moved to it) no longer blocks; a dirty file does.
    let bare = town.root.join("proj/.repo.git");
    let tip = git_in(&wt, &["rev-parse", "HEAD"]);
    git_in(&bare, &["update-ref", "refs/heads/main", &tip]);
    fs::write(wt.join("scratch.txt"), "wip\n").expect("write");
    let err = town.fails(&["rig", "remove", "proj"]);
    assert!(err.contains("uncommitted changes"), "{err}");
    assert!(!err.contains("not merged into"), "{err}");
    assert!(
        err.contains("not pushed"),
        "main is ahead of the source now: {err}"
    );

    town.ok(&["rig", "remove", "proj", "--force"]);
    assert!(!town.root.join("proj").exists());
    assert_eq!(town.git(&["status", "--porcelain"]), "");
    assert_eq!(town.git(&["ls-files", "proj"]), "");
    assert!(town.ok(&["rig", "list"]).contains("No rigs yet"));
}

#[test]
fn a_clean_rig_is_removed_without_force() {
    let town = TestTown::new();
    let src = source();
    town.ok(&["rig", "add", "proj", src.arg()]);
    town.ok(&["rig", "remove", "proj"]);
    assert!(!town.root.join("proj").exists());
    assert_eq!(town.git(&["status", "--porcelain"]), "");
    let log = town.git(&["log", "-1", "--format=%s"]);
    assert_eq!(log.trim(), "gastown rig remove proj");
}

#[test]
fn bad_rig_names_are_refused_and_nothing_is_made() {
    let town = TestTown::new();
    let src = source();
    let before = town_entries(&town);
    for name in [
        "..",
        "a/b",
        "with space",
        "",
        "mayor",
        "deacon",
        ".runtime",
        "Caps",
        "-x",
    ] {
        let err = town.fails(&["rig", "add", "--", name, src.arg()]);
        assert!(err.contains("invalid rig name"), "{name:?}: {err}");
        assert_eq!(town_entries(&town), before, "{name:?} made something");
    }
    assert_eq!(town.git(&["status", "--porcelain"]), "");
}

/// Regression (issue 12): `rig add` took 41–64-character names that addresses then refused.
#[test]
fn rig_names_and_addresses_share_one_length_limit() {
    let town = TestTown::new();
    let src = source();
    let before = town_entries(&town);
    let too_long = "r".repeat(41);
    let err = town.fails(&["rig", "add", &too_long, src.arg()]);
    assert!(
        err.contains("invalid rig name") && err.contains("over the limit of 40"),
        "{err}"
    );
    assert_eq!(town_entries(&town), before, "a refused name made nothing");
    // The longest accepted name works everywhere an address is used: a sling hooks the bead
    // on `<rig>/polecats/<name>` and mail to the rig's witness is accepted.
    let longest = "r".repeat(40);
    town.ok(&["rig", "add", &longest, src.arg()]);
    let bead = town.create(&["Work for the long rig"]);
    let out = town.ok(&["sling", &bead, &longest, "--no-formula"]);
    assert!(out.contains(&format!("{longest}/polecats/")), "{out}");
    town.ok(&[
        "mail",
        "send",
        &format!("{longest}/witness"),
        "-s",
        "hello",
        "-m",
        "the address parses",
    ]);
}

#[test]
fn an_uncloneable_source_leaves_nothing_behind() {
    let town = TestTown::new();
    let before = town_entries(&town);
    let err = town.fails(&["rig", "add", "proj", "/nonexistent/repo"]);
    assert!(err.contains("cannot clone /nonexistent/repo"), "{err}");
    assert!(
        err.contains("git clone"),
        "names the failing command: {err}"
    );
    assert!(!town.root.join("proj").exists());
    assert_eq!(town_entries(&town), before);
    let runtime: Vec<_> = fs::read_dir(town.root.join(".runtime"))
        .expect("runtime dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(
        !runtime
            .iter()
            .any(|n| n.to_string_lossy().starts_with("rig-add-")),
        "no staging clone left: {runtime:?}"
    );

    let src = source();
    let err = town.fails(&["rig", "add", "proj", src.arg(), "--branch", "nope"]);
    assert!(err.contains("has no branch \"nope\""), "{err}");
    assert!(!town.root.join("proj").exists());

    let empty = tempfile::tempdir().expect("temp dir");
    git_in(empty.path(), &["init", "--quiet"]);
    let err = town.fails(&["rig", "add", "proj", empty.path().to_str().expect("utf-8")]);
    assert!(err.contains("has no commits"), "{err}");
    assert!(!town.root.join("proj").exists());
    assert_eq!(town.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_bad_rig_config_is_named() {
    let town = TestTown::new();
    let src = source();
    town.ok(&["rig", "add", "proj", src.arg()]);
    let path = town.root.join("proj/rig.toml");
    let text = fs::read_to_string(&path).expect("read");
    fs::write(&path, format!("colour = \"red\"\n{text}")).expect("write");
    let err = town.fails(&["rig", "list"]);
    assert!(err.contains(path.to_str().expect("utf-8")), "{err}");
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn gates_pass_fail_and_time_out() {
    let town = TestTown::new();
    let src = source();
    town.ok(&["rig", "add", "proj", src.arg()]);
    let path = town.root.join("proj/rig.toml");
    let text = fs::read_to_string(&path).expect("read");
    let gates = "[gates]\ntest = \"cat README.md; echo tested\"\nbuild = \"echo oops >&2; exit 3\"\n\
                 lint = \"sleep 5\"\ntimeout = \"200ms\"\n";
    let start = text
        .find("\n[gates]\n")
        .expect("rig.toml has a [gates] table");
    fs::write(&path, format!("{}\n{gates}", &text[..start])).expect("write");

    let out = town.ok(&["rig", "gate", "proj", "test"]);
    assert!(out.contains("hello") && out.contains("tested"), "{out}");
    let outcome = json(&town.ok(&["rig", "gate", "proj", "test", "--json"]));
    assert_eq!(outcome["ok"], true);
    assert_eq!(outcome["exit_code"], 0);

    let err = town.fails(&["rig", "gate", "proj", "build"]);
    assert!(err.contains("failed with exit code 3"), "{err}");

    let started = Instant::now();
    let err = town.fails(&["rig", "gate", "proj", "lint"]);
    assert!(err.contains("timed out after 200ms"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    let out = town.ok(&["rig", "gate", "proj", "setup"]);
    assert!(out.contains("not configured"), "{out}");
}
