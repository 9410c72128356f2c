//! Checkpoints against real git repositories: a rig cloned from a source, a polecat worktree
//! with tracked, deleted, untracked and ignored files.

use super::*;
use crate::git_cli::{self, git};
use crate::rig::{AddOptions, add_rig, ensure_polecat_worktree, polecat_branch};
use crate::town::Town;
use std::fs;

struct Fixture {
    _dir: tempfile::TempDir,
    town: Town,
    rig: Rig,
    agent: AgentIdentity,
    worktree: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let (dir, town, ledger) = crate::testing::town();
    drop(ledger);
    let source = dir.path().join("source");
    fs::create_dir(&source).expect("mkdir source");
    git(&source, &["init", "--quiet", "--initial-branch=main"]).expect("git init");
    fs::write(source.join("README.md"), "hello\n").expect("write");
    fs::write(source.join("old.txt"), "old\n").expect("write");
    fs::write(source.join(".gitignore"), "target/\n").expect("write");
    git_cli::commit_all(&source, "first").expect("commit");
    let rig = add_rig(
        &town,
        &AddOptions {
            name: "r".to_string(),
            source: source.to_string_lossy().into_owned(),
            branch: None,
            runtime: None,
            prefix: None,
            no_push: true,
        },
    )
    .expect("rig add");
    let worktree =
        ensure_polecat_worktree(&rig, "nux", &polecat_branch("nux", "gt-abc")).expect("worktree");
    Fixture {
        _dir: dir,
        town,
        rig,
        agent: AgentIdentity::parse("r/polecats/nux").expect("address"),
        worktree,
    }
}

/// The worktree's index, HEAD and branch, to prove a checkpoint touched none of them.
fn untouched(wt: &Path) -> (Vec<u8>, String, String) {
    let index = git(wt, &["rev-parse", "--git-path", "index"]).expect("index path");
    (
        fs::read(wt.join(index)).expect("index"),
        git(wt, &["rev-parse", "HEAD"]).expect("head"),
        git(wt, &["status", "--porcelain"]).expect("status"),
    )
}

#[test]
fn a_clean_worktree_needs_no_checkpoint() {
    let f = fixture();
    assert_eq!(save(&f.town, &f.agent).expect("save"), Saved::Clean);
    assert_eq!(latest(&f.town, &f.agent).expect("latest"), None);
}

#[test]
fn a_checkpoint_keeps_every_kind_of_change_and_touches_nothing_of_the_agent() {
    let f = fixture();
    let wt = &f.worktree;
    fs::write(wt.join("README.md"), "hello\nedited\n").expect("edit");
    fs::remove_file(wt.join("old.txt")).expect("delete");
    fs::create_dir_all(wt.join("src")).expect("mkdir");
    fs::write(wt.join("src/new.rs"), "fn main() {}\n").expect("untracked");
    fs::create_dir_all(wt.join("target")).expect("mkdir");
    fs::write(wt.join("target/big.bin"), "ignored\n").expect("ignored");
    // A staged change of the agent's own stays staged, exactly.
    fs::write(wt.join("staged.txt"), "staged\n").expect("write");
    git(wt, &["add", "staged.txt"]).expect("stage");
    let before = untouched(wt);
    let Saved::Saved(c) = save(&f.town, &f.agent).expect("save") else {
        panic!("a dirty worktree is saved");
    };
    assert_eq!(untouched(wt), before, "index, HEAD and status untouched");
    let mut files = c.files.clone();
    files.sort();
    assert_eq!(files, ["README.md", "old.txt", "src/new.rs", "staged.txt"]);
    assert_eq!(c.base, git(wt, &["rev-parse", "HEAD"]).expect("head"));
    assert_eq!(
        git(
            &f.rig.bare_repo(),
            &["show", &format!("{}:src/new.rs", c.commit)]
        )
        .expect("show"),
        "fn main() {}"
    );
    // The same again is not a new checkpoint; a further change is, on top of the last.
    assert!(matches!(
        save(&f.town, &f.agent).expect("save"),
        Saved::Unchanged(_)
    ));
    fs::write(wt.join("src/new.rs"), "fn main() { println!(); }\n").expect("edit");
    let Saved::Saved(second) = save(&f.town, &f.agent).expect("save") else {
        panic!("changed again");
    };
    let parents = git(
        &f.rig.bare_repo(),
        &["rev-list", "--parents", "-n", "1", &second.commit],
    )
    .expect("parents");
    assert!(
        parents.ends_with(&c.commit),
        "the previous checkpoint is its second parent: {parents}"
    );
    let (listed, broken) = list(&f.town).expect("list");
    assert!(broken.is_empty(), "{broken:?}");
    assert_eq!(listed, [second]);
}

#[test]
fn a_lost_worktree_gets_its_uncommitted_work_back_from_the_checkpoint() {
    let f = fixture();
    let wt = f.worktree.clone();
    fs::write(wt.join("README.md"), "hello\nwork in progress\n").expect("edit");
    fs::write(wt.join("notes.txt"), "untracked notes\n").expect("untracked");
    fs::remove_file(wt.join("old.txt")).expect("delete");
    save(&f.town, &f.agent).expect("save");
    // The worktree is lost, and made again from its branch.
    fs::remove_dir_all(&wt).expect("lose it");
    git_cli::worktree_prune(&f.rig.bare_repo()).expect("prune");
    ensure_polecat_worktree(&f.rig, "nux", &polecat_branch("nux", "gt-abc")).expect("remade");
    assert!(!wt.join("notes.txt").exists());
    let restored = restore(&f.town, &f.agent).expect("restore");
    assert!(restored.conflicts.is_empty(), "{restored:?}");
    assert_eq!(
        fs::read_to_string(wt.join("README.md")).expect("read"),
        "hello\nwork in progress\n"
    );
    assert_eq!(
        fs::read_to_string(wt.join("notes.txt")).expect("read"),
        "untracked notes\n"
    );
    assert!(!wt.join("old.txt").exists());
    // Uncommitted again, nothing staged, the branch where it was.
    let status = git(&wt, &["status", "--porcelain"]).expect("status");
    assert!(
        status
            .lines()
            .all(|l| !l.starts_with(|c: char| c.is_ascii_uppercase())),
        "{status}"
    );
    assert!(
        status.contains("README.md") && status.contains("notes.txt"),
        "{status}"
    );
    assert_eq!(
        git_cli::current_branch(&wt).expect("branch").as_deref(),
        Some("polecat/nux/gt-abc")
    );
    // A second restore would overwrite: refused, nothing changed.
    let err = restore(&f.town, &f.agent).expect_err("dirty");
    assert!(
        err.to_string().contains("uncommitted changes of its own"),
        "{err}"
    );
}

#[test]
fn bad_input_is_refused_with_what_to_do() {
    let f = fixture();
    let crew = AgentIdentity::parse("r/crew/max").expect("address");
    assert!(
        save(&f.town, &crew)
            .expect_err("crew")
            .to_string()
            .contains("not a polecat")
    );
    let err = restore(&f.town, &f.agent).expect_err("none");
    assert!(err.to_string().contains("no checkpoint"), "{err}");
    let ghost = AgentIdentity::parse("r/polecats/ghost").expect("address");
    assert!(
        save(&f.town, &ghost)
            .expect_err("no worktree")
            .to_string()
            .contains("no worktree")
    );
    // A checkpoint ref pointing at a missing object is reported, not a crash.
    let refs = f
        .rig
        .bare_repo()
        .join("refs/gastown/checkpoints/r/polecats");
    fs::create_dir_all(&refs).expect("mkdir");
    fs::write(refs.join("slit"), format!("{}\n", "1234567890".repeat(4))).expect("ref");
    let (listed, broken) = list(&f.town).expect("list");
    assert!(listed.is_empty(), "{listed:?}");
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(broken[0].contains("r/polecats/slit"), "{broken:?}");
}

#[test]
fn a_checkpoint_ref_at_a_missing_object_is_kept_aside_and_a_new_chain_starts() {
    let f = fixture();
    fs::write(f.worktree.join("README.md"), "edited\n").expect("edit");
    let Saved::Saved(first) = save(&f.town, &f.agent).expect("save") else {
        panic!("a checkpoint");
    };
    // The ref now names an object that is not there (a lost pack, a half-copied repository).
    let bare = f.rig.bare_repo();
    let missing = "1234567890".repeat(4);
    let refname = ref_name(&f.agent);
    git(&bare, &["update-ref", "-d", &refname]).expect("drop the good ref");
    let file = bare.join(&refname);
    fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    fs::write(&file, format!("{missing}\n")).expect("point it at nothing");

    fs::write(f.worktree.join("README.md"), "edited again\n").expect("edit");
    let saved = save(&f.town, &f.agent).expect("a broken chain does not wedge saving");
    let Saved::Restarted { checkpoint, broken } = saved else {
        panic!("a new chain, said so: {saved:?}");
    };
    assert_eq!(broken.commit, missing);
    assert!(
        broken
            .kept_at
            .starts_with(&format!("{BROKEN_PREFIX}r/polecats/nux/")),
        "{broken:?}"
    );
    // Kept, not dropped: the aside ref still names the missing object.
    let kept = fs::read_to_string(bare.join(&broken.kept_at)).expect("kept aside");
    assert_eq!(kept.trim(), missing);
    // The new chain: one parent (the worktree's HEAD), the agent's ref on it, the work in it.
    let parents = git(
        &bare,
        &["rev-list", "--parents", "-n", "1", &checkpoint.commit],
    )
    .expect("parents");
    assert_eq!(parents.split_whitespace().count(), 2, "{parents}");
    assert_eq!(
        git(&bare, &["rev-parse", &refname]).expect("ref"),
        checkpoint.commit
    );
    assert_ne!(checkpoint.commit, first.commit);
    assert_eq!(
        git(
            &bare,
            &["show", &format!("{}:README.md", checkpoint.commit)]
        )
        .expect("show"),
        "edited again"
    );
    // From here on the chain is an ordinary one again, and lists clean.
    assert!(matches!(
        save(&f.town, &f.agent).expect("save"),
        Saved::Unchanged(_)
    ));
    let (listed, unreadable) = list(&f.town).expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(unreadable.is_empty(), "{unreadable:?}");
}
