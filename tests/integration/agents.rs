//! The work loop's smaller failures from issue 12, each pinned: one hooked bead per agent, no
//! sling to targets nothing works, `agent spawn` only into rigs that exist, one agent bead per
//! identity whatever `dnd on` does, one HANDOFF per handoff, and `gastown install` refusing
//! places a town cannot go and saying which agent it chose.

use crate::durable::{agent_bead, inbox, status};
use crate::running::RunningTown;
use crate::util::as_agent;
use crate::util::{TestTown, gastown, source_repo, stderr, stdout, town_with_rig};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hooked_on(town: &TestTown, address: &str) -> Vec<String> {
    crate::util::ids(&town.ok(&[
        "bead",
        "list",
        "--status",
        "hooked",
        "--assignee",
        address,
        "--json",
    ]))
}

#[test]
fn an_agent_holds_one_bead_and_a_second_is_refused_naming_the_first() {
    let town = town_with_rig();
    let first = town.create(&["First job"]);
    let second = town.create(&["Second job"]);
    town.ok(&["sling", &first, "alpha/crew/max"]);
    let err = town.fails(&["sling", &second, "alpha/crew/max"]);
    assert!(
        err.contains(&first) && err.contains("one bead at a time") && err.contains("hook clear"),
        "{err}"
    );
    for force in [false, true] {
        let mut args = vec!["hook", "attach", &second, "--agent", "alpha/crew/max"];
        if force {
            args.push("--force");
        }
        let err = town.fails(&args);
        assert!(err.contains(&first), "{err}");
    }
    assert_eq!(
        hooked_on(&town, "alpha/crew/max"),
        std::slice::from_ref(&first)
    );
    assert_eq!(
        status(&town, &second),
        "open",
        "the refused bead is untouched"
    );
    // The rig is where more work goes.
    town.ok(&["sling", &second, "alpha"]);
    assert_eq!(status(&town, &second), "hooked");
}

#[test]
fn sling_to_a_dog_or_to_a_mayor_without_a_runtime_is_refused() {
    let town = town_with_rig();
    let bead = town.create(&["Who works this?"]);
    let err = town.fails(&["sling", &bead, "deacon/dogs/rex"]);
    assert!(
        err.contains("dog") && err.contains("nothing would ever work"),
        "{err}"
    );
    let err = town.fails(&["sling", &bead, "mayor"]);
    assert!(
        err.contains("[roles] mayor") && err.contains("no runtime"),
        "{err}"
    );
    assert_eq!(status(&town, &bead), "open");
    // With a runtime the mayor takes work; another --runtime is not silently ignored.
    let config = town.root.join("town.toml");
    let text = std::fs::read_to_string(&config).expect("town.toml");
    std::fs::write(&config, text.replace("[roles]", "[roles]\nmayor = \"sim\"")).expect("write");
    let err = town.fails(&["sling", &bead, "mayor", "--runtime", "codex"]);
    assert!(err.contains("[roles] mayor"), "{err}");
    town.ok(&["sling", &bead, "mayor"]);
    assert_eq!(hooked_on(&town, "mayor"), [bead]);
}

#[test]
fn agent_spawn_refuses_a_rig_that_does_not_exist_and_creates_nothing() {
    let t = RunningTown::start();
    for address in [
        "ghost/crew/max",
        "mayor/crew/max",
        "town/crew/max",
        "deacon/polecats/nux",
    ] {
        let err = t
            .town
            .fails(&["agent", "spawn", address, "--runtime", "sim"]);
        assert!(err.contains("no rig named"), "{address}: {err}");
        let rig = address.split('/').next().expect("a rig");
        let group = t
            .town
            .root
            .join(rig)
            .join(address.split('/').nth(1).expect("group"));
        assert!(!group.exists(), "{} was made", group.display());
    }
    assert!(!t.town.root.join("ghost").exists());
    // A polecat with nothing hooked has no worktree to start in: said plainly, nobody mailed.
    let err = t
        .town
        .fails(&["agent", "spawn", "alpha/polecats/nux", "--runtime", "sim"]);
    assert!(err.contains("nothing on its hook"), "{err}");
    assert!(!t.town.root.join("alpha/polecats/nux").exists());
    assert!(inbox(&t.town, "mayor").is_empty());
    let tree = serde_json::to_string(&t.tree()).expect("json");
    assert!(tree.contains("\"town/rigs/alpha\""), "{tree}");
    for rig in ["ghost", "mayor", "town", "deacon"] {
        assert!(!tree.contains(&format!("town/rigs/{rig}")), "{rig}: {tree}");
    }
    // Nothing was left behind that stops the rig from being added for real.
    let src = t.town.root.parent().expect("parent").join("ghost-src");
    std::fs::create_dir_all(&src).expect("mkdir");
    let src = source_repo(&src);
    t.town.ok(&["rig", "add", "ghost", &src]);
    t.town
        .ok(&["agent", "spawn", "ghost/crew/max", "--runtime", "sim"]);
}

#[test]
fn dnd_before_a_sling_keeps_one_agent_bead_and_duplicates_fold_when_run_starts() {
    let town = town_with_rig();
    let out = as_agent(&town, "alpha/crew/max", &["dnd", "on"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bead = town.create(&["Quiet work"]);
    town.ok(&["sling", &bead, "alpha/crew/max"]);
    let agents = |town: &TestTown, address: &str| -> Vec<serde_json::Value> {
        let all: Vec<serde_json::Value> =
            serde_json::from_str(&town.ok(&["bead", "list", "-t", "agent", "--json"]))
                .expect("json");
        all.into_iter()
            .filter(|b| b["address"] == address || b["title"] == address)
            .collect()
    };
    let max = agents(&town, "alpha/crew/max");
    assert_eq!(max.len(), 1, "one agent bead: {max:?}");
    assert!(max[0]["labels"].to_string().contains("dnd"), "{max:?}");
    assert_eq!(max[0]["hook"], bead.as_str());
    // A ledger from before: a stray agent bead made by hand, folded when `gastown run` starts.
    let stray = town.create(&["alpha/crew/zoe", "-t", "agent", "-l", "dnd"]);
    town.ok(&["sling", &town.create(&["Zoe's job"]), "alpha/crew/zoe"]);
    assert_eq!(
        agents(&town, "alpha/crew/zoe").len(),
        2,
        "the old bug's state"
    );
    let t = RunningTown::start_in(town);
    let zoe = crate::running::wait_for(
        "the duplicates folded",
        std::time::Duration::from_secs(20),
        || {
            let zoe = agents(&t.town, "alpha/crew/zoe");
            (zoe.len() == 1).then_some(zoe)
        },
    );
    assert!(
        zoe[0]["id"].as_str().expect("id").contains("-agent-"),
        "{zoe:?}"
    );
    assert!(
        zoe[0]["labels"].to_string().contains("dnd"),
        "dnd kept: {zoe:?}"
    );
    let shown: serde_json::Value =
        serde_json::from_str(&t.town.ok(&["bead", "show", &stray, "--json"])).expect("json");
    assert_eq!(shown["status"], "closed");
    assert!(
        shown["close_reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("duplicate of"),
        "{shown}"
    );
    assert!(agent_bead(&t.town, "alpha/crew/zoe").is_some());
}

#[test]
fn handoff_leaves_one_handoff_in_the_inbox() {
    let town = town_with_rig();
    let bead = town.create(&["Long job"]);
    town.ok(&["sling", &bead, "alpha/crew/max"]);
    let out = as_agent(&town, "alpha/crew/max", &["handoff", "-m", "halfway there"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let handoffs: Vec<String> = inbox(&town, "alpha/crew/max")
        .into_iter()
        .filter(|s| s.contains("HANDOFF"))
        .collect();
    assert_eq!(handoffs.len(), 1, "{handoffs:?}");
    let prime = stdout(&as_agent(&town, "alpha/crew/max", &["prime"]));
    assert!(
        prime.contains("HANDOFF") && prime.contains(&bead),
        "{prime}"
    );
}

#[test]
fn install_refuses_a_non_empty_dir_a_dir_inside_a_town_and_a_rigs_worktree() {
    let town = town_with_rig();
    let outside = town.root.parent().expect("parent").join("busy");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(outside.join("notes.txt"), "mine\n").expect("write");
    let refinery = town.root.join("alpha/refinery/rig");
    let head = |dir: &Path| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["rev-parse", "HEAD"])
            .output()
            .expect("git");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let refinery_head = head(&refinery);
    let cases: [(PathBuf, &str); 3] = [
        (outside.clone(), "not empty"),
        (town.root.join("sub"), "inside the town"),
        (refinery.clone(), "inside the town"),
    ];
    for (dir, why) in &cases {
        let out = gastown(
            town.root.parent().expect("parent"),
            &["install", dir.to_str().expect("utf-8"), "--agent", "sim"],
        );
        assert!(!out.status.success(), "{} accepted", dir.display());
        assert!(
            stderr(&out).contains(why),
            "{}: {}",
            dir.display(),
            stderr(&out)
        );
        assert!(!dir.join("town.toml").exists(), "{} written", dir.display());
    }
    assert!(!town.root.join("sub").exists(), "nothing created");
    assert_eq!(
        head(&refinery),
        refinery_head,
        "nothing committed onto the worktree"
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("notes.txt")).expect("kept"),
        "mine\n"
    );
    let porcelain = Command::new("git")
        .arg("-C")
        .arg(&refinery)
        .args(["status", "--porcelain"])
        .output()
        .expect("git");
    assert!(porcelain.stdout.is_empty(), "the worktree is clean");
}

/// A directory holding only `git` (and any fake agent CLIs named), for a PATH with nothing else.
fn bin_dir(root: &Path, fake_agents: &[&str]) -> PathBuf {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let git = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("git"))
        .find(|p| p.is_file())
        .expect("git on PATH");
    std::os::unix::fs::symlink(git, bin.join("git")).expect("link git");
    for agent in fake_agents {
        crate::durable::script(&bin, agent, "exit 0");
    }
    bin
}

fn install_with_path(root: &Path, name: &str, path: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(root)
        .env_remove("GASTOWN_TOWN")
        .env("PATH", path)
        .arg("install")
        .arg(root.join(name))
        .args(extra)
        .output()
        .expect("the gastown binary runs")
}

fn default_agent(town: &Path) -> Option<String> {
    let text = std::fs::read_to_string(town.join("town.toml")).expect("town.toml");
    let parsed: toml::Table = toml::from_str(&text).expect("toml");
    parsed
        .get("default_agent")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

#[test]
fn install_sets_the_default_agent_it_is_told_or_finds_and_says_which() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let out = gastown(root, &["install", "told", "--agent", "codex"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("codex (given with --agent)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(default_agent(&root.join("told")).as_deref(), Some("codex"));

    let with_gemini = bin_dir(&root.join("g"), &["gemini"]);
    let out = install_with_path(root, "found", &with_gemini, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("gemini") && stdout(&out).contains("PATH"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        default_agent(&root.join("found")).as_deref(),
        Some("gemini")
    );

    let bare = bin_dir(&root.join("n"), &[]);
    let out = install_with_path(root, "none", &bare, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("none") && stdout(&out).contains("gastown config default-agent"),
        "{}",
        stdout(&out)
    );
    assert_eq!(default_agent(&root.join("none")), None);

    let out = gastown(root, &["install", "bad", "--agent", "nope"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("claude, codex"), "{}", stderr(&out));
    assert!(!root.join("bad").exists(), "nothing created");
}

#[test]
fn a_sling_with_no_runtime_chosen_anywhere_is_refused_with_how_to_choose() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bare = bin_dir(&dir.path().join("n"), &[]);
    let out = install_with_path(dir.path(), "town", &bare, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let root = dir.path().join("town");
    let src = source_repo(dir.path());
    let run = |args: &[&str]| gastown(&root, args);
    assert!(run(&["rig", "add", "alpha", &src]).status.success());
    let created = run(&["bead", "create", "Needs an agent", "--json"]);
    let bead: serde_json::Value = serde_json::from_slice(&created.stdout).expect("json");
    let bead = bead["id"].as_str().expect("id").to_string();
    let out = run(&["sling", &bead, "alpha"]);
    assert!(
        !out.status.success(),
        "slung with no runtime: {}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("--runtime") && stderr(&out).contains("gastown config default-agent"),
        "{}",
        stderr(&out)
    );
    let shown = run(&["bead", "show", &bead, "--json"]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("\"open\""));
    assert!(
        run(&["sling", &bead, "alpha", "--runtime", "sim"])
            .status
            .success()
    );
}
