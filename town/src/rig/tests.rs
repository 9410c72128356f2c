//! Tests of the rig API against real git repositories in temp dirs: polecat worktrees, crew
//! clones, the name pool and gates (including the kill of a gate's whole process group).

use super::config::HumanDuration;
use super::*;
use crate::git_cli::{self, git};
use crate::town::{InstallOptions, Town, install};
use std::path::Path;
use std::time::{Duration, Instant};

struct Fixture {
    _dir: tempfile::TempDir,
    town: Town,
    rig: Rig,
    source: PathBuf,
}

/// A town with one rig `r` cloned from a source repository with one commit on `main`.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("source");
    fs::create_dir(&source).expect("mkdir source");
    git(&source, &["init", "--quiet", "--initial-branch=main"]).expect("git init");
    // main stays checked out in this source: let the refinery push into it.
    git(
        &source,
        &["config", "receive.denyCurrentBranch", "updateInstead"],
    )
    .expect("git config");
    fs::write(source.join("README.md"), "hello\n").expect("write");
    git_cli::commit_all(&source, "first").expect("commit");
    let town = install(
        &dir.path().join("town"),
        &InstallOptions {
            prefix: "gt".to_string(),
            name: None,
            agent: crate::town::DefaultAgent::Named("sim".to_string()),
        },
    )
    .expect("install");
    let opts = AddOptions {
        name: "r".to_string(),
        source: source.to_string_lossy().into_owned(),
        branch: None,
        runtime: None,
        prefix: None,
        no_push: false,
    };
    let rig = add_rig(&town, &opts).expect("rig add");
    Fixture {
        _dir: dir,
        town,
        rig,
        source,
    }
}

#[test]
fn polecat_worktree_is_on_its_branch_idempotent_and_guarded() {
    let f = fixture();
    let branch = polecat_branch("nux", "gt-abc");
    let path = ensure_polecat_worktree(&f.rig, "nux", &branch).expect("worktree");
    assert_eq!(path, f.rig.polecat_worktree("nux"));
    assert_eq!(
        git_cli::current_branch(&path).expect("branch"),
        Some(branch.clone())
    );

    fs::write(path.join("work.txt"), "done\n").expect("write");
    let commit = git_cli::commit_all(&path, "work").expect("commit");
    assert!(commit.is_some());
    assert_eq!(git_cli::commit_all(&path, "again").expect("commit"), None);
    assert_eq!(
        git_cli::commits_ahead(&path, &f.rig.default_ref()).expect("ahead"),
        1
    );

    // Again: the same worktree, the work still there.
    assert_eq!(
        ensure_polecat_worktree(&f.rig, "nux", &branch).expect("again"),
        path
    );
    assert!(path.join("work.txt").is_file());

    let err = remove_polecat_worktree(&f.rig, "nux", false).expect_err("unmerged work");
    assert!(err.to_string().contains("not merged"), "{err}");
    assert!(path.is_dir(), "a refused remove changes nothing");

    remove_polecat_worktree(&f.rig, "nux", true).expect("forced remove");
    assert!(!f.rig.polecat_dir("nux").exists());
    assert!(git_cli::branch_exists(&f.rig.bare_repo(), &branch).expect("query"));

    // Made again on the kept branch, the work comes back.
    let path = ensure_polecat_worktree(&f.rig, "nux", &branch).expect("remade");
    assert!(path.join("work.txt").is_file());
}

#[test]
fn a_reused_polecat_switches_branch_only_when_clean() {
    let f = fixture();
    let path = ensure_polecat_worktree(&f.rig, "ace", "polecat/ace/gt-1").expect("worktree");
    fs::write(path.join("scratch.txt"), "wip\n").expect("write");
    let err = ensure_polecat_worktree(&f.rig, "ace", "polecat/ace/gt-2").expect_err("dirty");
    assert!(err.to_string().contains("uncommitted changes"), "{err}");
    fs::remove_file(path.join("scratch.txt")).expect("clean up");
    ensure_polecat_worktree(&f.rig, "ace", "polecat/ace/gt-2").expect("switched");
    assert_eq!(
        git_cli::current_branch(&path).expect("branch").as_deref(),
        Some("polecat/ace/gt-2")
    );
    // A clean polecat with nothing ahead goes without --force.
    remove_polecat_worktree(&f.rig, "ace", false).expect("nothing to lose");
}

#[test]
fn bad_polecat_and_branch_names_are_refused_before_touching_disk() {
    let f = fixture();
    for name in ["..", "a/b", "with space", ""] {
        let err = ensure_polecat_worktree(&f.rig, name, "polecat/x/y").expect_err(name);
        assert!(err.to_string().contains("invalid polecat name"), "{err}");
    }
    for branch in ["", "-x", "a..b", "with space", "x/"] {
        let err = ensure_polecat_worktree(&f.rig, "nux", branch).expect_err(branch);
        assert!(err.to_string().contains("invalid branch name"), "{err}");
    }
    assert!(!f.rig.polecats_dir().exists());
}

#[test]
fn a_leftover_directory_is_not_buried() {
    let f = fixture();
    let path = f.rig.polecat_worktree("slit");
    fs::create_dir_all(&path).expect("mkdir");
    fs::write(path.join("keep.txt"), "mine\n").expect("write");
    let err = ensure_polecat_worktree(&f.rig, "slit", "polecat/slit/gt-1").expect_err("files");
    assert!(err.to_string().contains("is not a worktree"), "{err}");
    assert!(path.join("keep.txt").is_file());
}

#[test]
fn crew_gets_a_full_clone_of_the_source() {
    let f = fixture();
    let path = ensure_crew_clone(&f.rig, "max").expect("clone");
    assert!(path.join(".git").is_dir(), "a full clone, not a worktree");
    assert!(path.join("README.md").is_file());
    assert_eq!(
        git_cli::current_branch(&path).expect("branch").as_deref(),
        Some("main")
    );
    let origin = git(&path, &["remote", "get-url", "origin"]).expect("origin");
    assert_eq!(
        Path::new(&origin),
        f.source.canonicalize().expect("canonical")
    );
    assert!(
        !path.join(".git/objects/info/alternates").exists(),
        "dissociated"
    );
    assert_eq!(ensure_crew_clone(&f.rig, "max").expect("again"), path);
}

#[test]
fn the_name_pool_hands_out_free_names_in_order() {
    let f = fixture();
    assert_eq!(next_free_polecat_name(&f.rig, &[]).as_deref(), Some("nux"));
    let used = vec!["nux".to_string(), "furiosa".to_string()];
    assert_eq!(
        next_free_polecat_name(&f.rig, &used).as_deref(),
        Some("slit")
    );
    let all = f.rig.config.polecat_names.clone();
    assert_eq!(next_free_polecat_name(&f.rig, &all), None);
}

#[test]
fn rigs_are_listed_from_their_configs() {
    let f = fixture();
    let rigs = Rig::list(&f.town).expect("list");
    assert_eq!(rigs.len(), 1);
    assert_eq!(rigs[0].name(), "r");
    assert_eq!(rigs[0].config.default_branch, "main");
    let err = Rig::load(&f.town, "nope").expect_err("missing");
    assert!(err.to_string().contains("no rig named \"nope\""), "{err}");
}

fn with_gate(rig: &Rig, command: &str, timeout: Duration) -> Rig {
    let mut rig = rig.clone();
    rig.config.gates.test = Some(command.to_string());
    rig.config.gates.timeout = HumanDuration(timeout);
    rig
}

#[test]
fn gates_pass_fail_and_capture_both_streams() {
    let f = fixture();
    let wt = f.rig.refinery_worktree();
    let rig = with_gate(
        &f.rig,
        "echo out; echo err >&2; cat README.md",
        Duration::from_secs(30),
    );
    let ok = run_gate(&rig, Gate::Test, &wt).expect("runs");
    assert!(ok.ok && !ok.timed_out, "{ok:?}");
    assert_eq!(ok.exit_code, Some(0));
    for part in ["out", "err", "hello"] {
        assert!(ok.output.contains(part), "{:?}", ok.output);
    }
    let rig = with_gate(&f.rig, "echo broken; exit 3", Duration::from_secs(30));
    let failed = run_gate(&rig, Gate::Test, &wt).expect("runs");
    assert!(!failed.ok && !failed.timed_out);
    assert_eq!(failed.exit_code, Some(3));
    let skipped = run_gate(&f.rig, Gate::Lint, &wt).expect("nothing to run");
    assert!(skipped.ok && skipped.command.is_none());
}

#[test]
fn a_gate_past_its_timeout_loses_its_whole_process_group() {
    let f = fixture();
    let pid_file = f.rig.dir().join("bg.pid");
    let command = format!("sleep 30 & echo $! > {}; sleep 5", pid_file.display());
    let rig = with_gate(&f.rig, &command, Duration::from_millis(200));
    let started = Instant::now();
    let outcome = run_gate(&rig, Gate::Test, &rig.refinery_worktree()).expect("runs");
    assert!(outcome.timed_out && !outcome.ok, "{outcome:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let pid = fs::read_to_string(&pid_file).expect("the gate wrote its child's pid");
    let proc_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
    // The background sleep was in the gate's group: it is gone (or a zombie awaiting its reaper).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
        let alive = state
            .rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with(['Z', 'X']) && !rest.is_empty());
        if !alive {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gate's child {pid} survived: {state}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn rig_add_clears_staging_left_by_dead_processes_only() {
    let f = fixture();
    let runtime = f.town.runtime_dir();
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let dead_pid = child.id();
    child.wait().expect("reaped");
    let dead = runtime.join(format!("rig-add-old-{dead_pid}"));
    let live = runtime.join(format!("rig-add-busy-{}", std::process::id()));
    fs::create_dir_all(dead.join(".repo.git")).expect("mkdir");
    fs::create_dir_all(&live).expect("mkdir");
    let opts = AddOptions {
        name: "second".to_string(),
        source: f.source.to_string_lossy().into_owned(),
        branch: None,
        runtime: None,
        prefix: None,
        no_push: false,
    };
    add_rig(&f.town, &opts).expect("rig add");
    assert!(!dead.exists(), "a dead add's staging is removed");
    assert!(live.exists(), "a running add's staging is left alone");
}

#[test]
fn the_prefix_of_new_beads_follows_the_rig_they_belong_to() {
    let f = fixture();
    assert_eq!(bead_prefix(&f.town, "r").expect("prefix"), "r");
    assert!(
        bead_prefix(&f.town, "ghost").is_err(),
        "an unknown rig is named"
    );
    assert_eq!(
        caller_prefix(&f.town, "r/polecats/nux"),
        Some("r".to_string())
    );
    assert_eq!(caller_prefix(&f.town, "mayor"), None);
    assert_eq!(caller_prefix(&f.town, "overseer"), None);
    assert_eq!(
        caller_prefix(&f.town, "gone/crew/max"),
        None,
        "a rig that is gone"
    );
    // Directories: anywhere under the rig is the rig; the town root and role homes are not.
    let worktree = ensure_polecat_worktree(&f.rig, "nux", "polecat/nux/gt-abc").expect("wt");
    assert_eq!(rig_of_dir(&f.town, &worktree), Some("r".to_string()));
    assert_eq!(rig_of_dir(&f.town, f.rig.dir()), Some("r".to_string()));
    assert_eq!(rig_of_dir(&f.town, &f.town.root), None);
    assert_eq!(rig_of_dir(&f.town, &f.town.root.join("mayor")), None);
    let through_dots = f.town.root.join("mayor/../r/refinery");
    assert_eq!(rig_of_dir(&f.town, &through_dots), Some("r".to_string()));
    assert_eq!(rig_of_dir(&f.town, &f.source), None, "outside the town");
}

#[test]
fn reconcile_remakes_refuses_and_escalates_a_polecat_worktree() {
    use super::reconcile::{Checked, check_polecat};
    let f = fixture();
    let branch = polecat_branch("nux", "gt-abc");
    let path = ensure_polecat_worktree(&f.rig, "nux", &branch).expect("worktree");
    assert_eq!(
        check_polecat(&f.rig, "nux", Some("gt-abc")).expect("ok"),
        Checked::Ready
    );
    fs::write(path.join("work.txt"), "mine\n").expect("write");
    git_cli::commit_all(&path, "work").expect("commit");
    fs::remove_dir_all(&path).expect("vanish");
    assert_eq!(
        check_polecat(&f.rig, "nux", Some("gt-abc")).expect("remade"),
        Checked::Remade(path.clone())
    );
    assert!(path.join("work.txt").is_file(), "remade from its branch");
    // Its hook moved on: switched to the new branch (which sling made).
    ensure_polecat_worktree(&f.rig, "nux", &polecat_branch("nux", "gt-new")).expect("new");
    git(&path, &["switch", "--quiet", &branch]).expect("back");
    assert!(matches!(
        check_polecat(&f.rig, "nux", Some("gt-new")).expect("switched"),
        Checked::Switched { .. }
    ));
    // Gone with its branch: escalated, nothing made.
    fs::remove_dir_all(&path).expect("vanish");
    git_cli::worktree_prune(&f.rig.bare_repo()).expect("prune");
    git_cli::delete_branch(&f.rig.bare_repo(), "polecat/nux/gt-new", true).expect("delete");
    let err = check_polecat(&f.rig, "nux", Some("gt-new")).expect_err("gone");
    assert!(matches!(err, RigError::BranchGone { .. }), "{err}");
    assert!(!path.exists());
    // A plain directory: refused, untouched.
    fs::create_dir_all(&path).expect("mkdir");
    fs::write(path.join("notes.txt"), "keep\n").expect("write");
    let err = check_polecat(&f.rig, "nux", Some("gt-abc")).expect_err("plain");
    assert!(err.to_string().contains("plain directory"), "{err}");
    assert!(!path.join(".git").exists());
    // A polecat with nothing hooked and no worktree has nothing to start in.
    let err = check_polecat(&f.rig, "slit", None).expect_err("no workspace");
    assert!(matches!(err, RigError::NoWorkspace { .. }), "{err}");
}

#[test]
fn reconcile_clones_a_missing_crew_clone_and_refuses_another_repository() {
    use super::reconcile::{Checked, check_crew};
    let f = fixture();
    let path = f.rig.crew_clone("max");
    assert_eq!(
        check_crew(&f.rig, "max").expect("cloned"),
        Checked::Remade(path.clone())
    );
    assert_eq!(check_crew(&f.rig, "max").expect("ready"), Checked::Ready);
    git(&path, &["remote", "set-url", "origin", "/elsewhere"]).expect("set-url");
    let err = check_crew(&f.rig, "max").expect_err("foreign");
    assert!(
        matches!(err, RigError::ForeignRepository { .. }) && err.to_string().contains("/elsewhere"),
        "{err}"
    );
    let zoe = f.rig.crew_clone("zoe");
    fs::create_dir_all(&zoe).expect("mkdir");
    fs::write(zoe.join("notes.txt"), "keep\n").expect("write");
    let err = check_crew(&f.rig, "zoe").expect_err("plain");
    assert!(err.to_string().contains("plain directory"), "{err}");
    assert!(zoe.join("notes.txt").is_file());
}
