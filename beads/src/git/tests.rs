//! Tests of [`GitStore`] against real repositories made and inspected with the real `git` CLI.

use super::*;
use std::path::Path;
use std::process::Command;

/// Run the real git in `dir` and return its stdout; panics with stderr when git fails.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .output()
        .expect("git is installed");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("git prints UTF-8 here")
}

/// A town repository with a committed file on `main`, like `gastown install` leaves it.
fn town() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(dir.path().join("town.toml"), "name = \"test\"\n").expect("write town.toml");
    git(dir.path(), &["add", "town.toml"]);
    git(dir.path(), &["commit", "-q", "-m", "town"]);
    dir
}

fn open(dir: &Path) -> GitStore {
    GitStore::open(GitStoreConfig::new(dir)).expect("open the town repo")
}

fn line(id: &str, title: &str) -> String {
    format!(r#"{{"id":"{id}","title":"{title}","status":"open"}}"#)
}

fn put(id: &str, title: &str) -> Change {
    Change::Put {
        id: id.to_owned(),
        line: line(id, title),
    }
}

fn delete(id: &str) -> Change {
    Change::Delete { id: id.to_owned() }
}

/// Commit on top of the current tip, expecting a new commit.
fn commit(store: &mut GitStore, changes: &[Change]) -> ObjectId {
    let tip = store.tip().expect("tip");
    store
        .commit(tip, changes, "")
        .expect("commit")
        .expect("the tree changed")
}

fn ids_and_titles(store: &GitStore, at: ObjectId) -> Vec<(String, String)> {
    store.read_all(at).expect("read_all")
}

#[test]
fn commit_then_read_back() {
    let town = town();
    let mut store = open(town.path());
    assert_eq!(store.tip().expect("tip"), None);
    let c1 = commit(
        &mut store,
        &[
            put("gt-b", "second"),
            put("gt-a", "first"),
            put("gt-a.1", "child"),
        ],
    );
    assert_eq!(store.tip().expect("tip"), Some(c1));
    assert_eq!(
        ids_and_titles(&store, c1),
        vec![
            ("gt-a".to_owned(), line("gt-a", "first")),
            ("gt-a.1".to_owned(), line("gt-a.1", "child")),
            ("gt-b".to_owned(), line("gt-b", "second")),
        ]
    );
    // A second store on the same repo (a restarted process) sees the same.
    assert_eq!(ids_and_titles(&open(town.path()), c1).len(), 3);
}

#[test]
fn later_changes_replace_earlier_ones_and_deletes_remove() {
    let town = town();
    let mut store = open(town.path());
    commit(&mut store, &[put("gt-a", "v1"), put("gt-b", "v1")]);
    let c2 = commit(
        &mut store,
        &[
            put("gt-a", "v2"),
            delete("gt-b"),
            put("gt-c", "v1"),
            put("gt-c", "v2"),
        ],
    );
    assert_eq!(
        ids_and_titles(&store, c2),
        vec![
            ("gt-a".to_owned(), line("gt-a", "v2")),
            ("gt-c".to_owned(), line("gt-c", "v2"))
        ]
    );
    // Deleting the last beads leaves no empty shard directories behind.
    let c3 = commit(&mut store, &[delete("gt-a"), delete("gt-c")]);
    assert_eq!(ids_and_titles(&store, c3), vec![]);
    assert_eq!(
        git(town.path(), &["ls-tree", "--name-only", "beads"]),
        "README.md\n"
    );
}

#[test]
fn unchanged_tree_makes_no_commit() {
    let town = town();
    let mut store = open(town.path());
    // Nothing to commit on an absent ref: no ref is created.
    assert_eq!(
        store.commit(None, &[delete("gt-x")], "").expect("commit"),
        None
    );
    assert_eq!(store.tip().expect("tip"), None);
    let changes = [put("gt-a", "one"), put("gt-b", "two")];
    let c1 = commit(&mut store, &changes);
    // Recommitting after a crash: same changes, same tree, no commit.
    assert_eq!(
        store.commit(Some(c1), &changes, "").expect("recommit"),
        None
    );
    assert_eq!(
        store
            .commit(Some(c1), &[delete("gt-missing")], "")
            .expect("delete absent"),
        None
    );
    assert_eq!(store.commit(Some(c1), &[], "").expect("empty"), None);
    assert_eq!(store.tip().expect("tip"), Some(c1));
    assert_eq!(
        git(town.path(), &["rev-list", "--count", "beads"]).trim(),
        "1"
    );
}

#[test]
fn stale_expected_tip_is_tip_moved() {
    let town = town();
    let mut first = open(town.path());
    let mut second = open(town.path());
    let c1 = commit(&mut first, &[put("gt-a", "one")]);
    // `second` still believes the ref does not exist.
    let err = second
        .commit(None, &[put("gt-b", "two")], "")
        .expect_err("the ref exists");
    assert!(
        matches!(err, GitError::TipMoved { expected: None, actual: Some(actual), .. } if actual == c1),
        "{err:?}"
    );
    let c2 = commit(&mut first, &[put("gt-a", "changed")]);
    let err = second
        .commit(Some(c1), &[put("gt-b", "two")], "")
        .expect_err("the ref moved");
    assert!(
        matches!(err, GitError::TipMoved { expected: Some(e), actual: Some(a), .. } if e == c1 && a == c2),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&c1.to_hex().to_string()) && message.contains("retry"),
        "{message}"
    );
    // Nothing of the refused commit reached the ref.
    assert_eq!(first.tip().expect("tip"), Some(c2));
    assert_eq!(
        ids_and_titles(&first, c2),
        vec![("gt-a".to_owned(), line("gt-a", "changed"))]
    );
}

#[test]
fn changed_between_reports_puts_and_deletes() {
    let town = town();
    let mut store = open(town.path());
    let c1 = commit(
        &mut store,
        &[put("gt-a", "a1"), put("gt-b", "b1"), put("gt-c", "c1")],
    );
    let c2 = commit(
        &mut store,
        &[put("gt-b", "b2"), delete("gt-c"), put("gt-d", "d1")],
    );
    let c3 = commit(
        &mut store,
        &[put("gt-d", "d2"), put("gt-e", "e1"), put("gt-c", "c3")],
    );
    let check = |from: Option<ObjectId>, to: ObjectId, expected: Vec<Change>| {
        assert_eq!(
            store.changed_between(from, to).expect("diff"),
            expected,
            "{from:?} -> {to}"
        );
    };
    check(
        None,
        c1,
        vec![put("gt-a", "a1"), put("gt-b", "b1"), put("gt-c", "c1")],
    );
    check(
        Some(c1),
        c2,
        vec![put("gt-b", "b2"), delete("gt-c"), put("gt-d", "d1")],
    );
    check(
        Some(c1),
        c3,
        vec![
            put("gt-b", "b2"),
            put("gt-c", "c3"),
            put("gt-d", "d2"),
            put("gt-e", "e1"),
        ],
    );
    check(
        Some(c2),
        c3,
        vec![put("gt-c", "c3"), put("gt-d", "d2"), put("gt-e", "e1")],
    );
    check(
        Some(c3),
        c1,
        vec![
            put("gt-b", "b1"),
            put("gt-c", "c1"),
            delete("gt-d"),
            delete("gt-e"),
        ],
    );
    check(Some(c2), c2, vec![]);
}

#[test]
fn work_tree_index_and_head_are_untouched() {
    let town = town();
    let index_before = std::fs::read(town.path().join(".git/index")).expect("index");
    let head_before = git(town.path(), &["rev-parse", "HEAD"]);
    let mut store = open(town.path());
    commit(&mut store, &[put("gt-a", "one"), put("gt-b", "two")]);
    commit(&mut store, &[delete("gt-a"), put("gt-c", "three")]);
    assert_eq!(
        git(
            town.path(),
            &["status", "--porcelain", "--untracked-files=all"]
        ),
        ""
    );
    assert_eq!(
        std::fs::read(town.path().join(".git/index")).expect("index"),
        index_before
    );
    assert_eq!(git(town.path(), &["rev-parse", "HEAD"]), head_before);
    assert_eq!(
        git(town.path(), &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/main"
    );
    let mut files: Vec<_> = std::fs::read_dir(town.path())
        .expect("read town")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    files.sort();
    assert_eq!(files, [".git", "town.toml"]);
}

#[test]
fn real_git_reads_the_ledger_branch() {
    let town = town();
    let mut store = open(town.path());
    commit(&mut store, &[put("gt-a", "one"), put("gt-b", "two")]);
    let c2 = commit(&mut store, &[put("gt-b", "changed")]);
    let log = git(
        town.path(),
        &["log", "refs/heads/beads", "-p", "--format=%an <%ae> %s"],
    );
    assert!(
        log.contains("gastown <gastown@localhost> ledger: 1 bead (gt-b)"),
        "{log}"
    );
    assert!(log.contains("ledger: 2 beads (gt-a, gt-b)"), "{log}");
    assert!(
        log.contains(&format!("+{}", line("gt-b", "changed"))),
        "{log}"
    );
    assert!(log.contains(&format!("-{}", line("gt-b", "two"))), "{log}");
    let path = layout::bead_path("gt-a");
    assert_eq!(
        git(town.path(), &["cat-file", "-p", &format!("beads:{path}")]),
        line("gt-a", "one") + "\n"
    );
    assert_eq!(
        git(town.path(), &["cat-file", "-p", "beads:README.md"]),
        layout::README_TEXT
    );
    assert_eq!(
        git(town.path(), &["rev-parse", "beads"]).trim(),
        c2.to_hex().to_string()
    );
    git(town.path(), &["fsck", "--strict", "--no-progress"]);
    let reflog = git(
        town.path(),
        &["reflog", "show", "--format=%gs", "refs/heads/beads"],
    );
    assert_eq!(
        reflog.lines().next(),
        Some("gastown ledger: ledger: 1 bead (gt-b)"),
        "{reflog}"
    );
    // The commit carries a sane time: within a minute of now.
    let committed: i64 = git(town.path(), &["log", "-1", "--format=%ct", "beads"])
        .trim()
        .parse()
        .expect("time");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    assert!(
        (committed - now as i64).abs() < 60,
        "commit time {committed}, now {now}"
    );
}

#[test]
fn readme_is_written_once_and_kept() {
    let town = town();
    let mut store = open(town.path());
    commit(&mut store, &[put("gt-a", "one")]);
    let readme = git(town.path(), &["rev-parse", "beads:README.md"]);
    commit(&mut store, &[put("gt-b", "two")]);
    assert_eq!(git(town.path(), &["rev-parse", "beads:README.md"]), readme);
    let changed = git(town.path(), &["diff", "--name-only", "beads~1", "beads"]);
    assert_eq!(changed.trim(), layout::bead_path("gt-b"));
}

#[test]
fn custom_ref_and_signature_are_used() {
    let town = town();
    let cfg = GitStoreConfig {
        git_ref: "refs/gastown/ledger".to_owned(),
        author_name: "Mayor".to_owned(),
        author_email: "mayor@town".to_owned(),
        ..GitStoreConfig::new(town.path())
    };
    let mut store = GitStore::open(cfg).expect("open");
    let tip = store
        .commit(None, &[put("gt-a", "one")], "custom message")
        .expect("commit");
    let shown = git(
        town.path(),
        &[
            "log",
            "-1",
            "--format=%an %ae %cn %ce %s",
            "refs/gastown/ledger",
        ],
    );
    assert_eq!(
        shown.trim(),
        "Mayor mayor@town Mayor mayor@town custom message"
    );
    assert_eq!(
        git(town.path(), &["rev-parse", "refs/gastown/ledger"]).trim(),
        tip.expect("new").to_hex().to_string()
    );
}

#[test]
fn bad_configuration_is_explained() {
    let not_a_repo = tempfile::tempdir().expect("temp dir");
    let err = GitStore::open(GitStoreConfig::new(not_a_repo.path())).expect_err("no repo");
    assert!(matches!(err, GitError::NotARepository { .. }), "{err:?}");
    assert!(err.to_string().contains("gastown install"), "{err}");

    let town = town();
    for name in ["beads", "refs/heads/bad..name", "refs/heads/"] {
        let cfg = GitStoreConfig {
            git_ref: name.to_owned(),
            ..GitStoreConfig::new(town.path())
        };
        let err = GitStore::open(cfg).expect_err("bad ref");
        assert!(
            matches!(err, GitError::InvalidRef { .. }),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn bad_changes_are_refused_before_anything_is_written() {
    let town = town();
    let mut store = open(town.path());
    let bad_id = [put("gt-a", "fine"), put("../etc", "no")];
    assert!(matches!(
        store.commit(None, &bad_id, ""),
        Err(GitError::InvalidId { .. })
    ));
    let two_lines = [Change::Put {
        id: "gt-a".to_owned(),
        line: "{}\n{}".to_owned(),
    }];
    assert!(matches!(
        store.commit(None, &two_lines, ""),
        Err(GitError::MultiLine { .. })
    ));
    assert_eq!(store.tip().expect("tip"), None);
}

#[test]
fn checked_out_ledger_branch_is_refused() {
    let town = town();
    let mut store = open(town.path());
    let c1 = commit(&mut store, &[put("gt-a", "one")]);
    git(town.path(), &["symbolic-ref", "HEAD", "refs/heads/beads"]);
    let err = store
        .commit(Some(c1), &[put("gt-b", "two")], "")
        .expect_err("checked out");
    assert!(matches!(err, GitError::RefCheckedOut { .. }), "{err:?}");
}

#[test]
fn a_bead_in_the_wrong_shard_is_malformed() {
    let town = town();
    let store = open(town.path());
    let empty = ObjectId::empty_tree(store.repo.object_hash());
    let mut editor = store.repo.edit_tree(empty).expect("editor");
    let blob = store
        .repo
        .write_blob(layout::file_content(&line("gt-a", "x")))
        .expect("blob");
    editor
        .upsert(
            "issues/0/0/0/0/gt-a.jsonl",
            gix::object::tree::EntryKind::Blob,
            blob.detach(),
        )
        .expect("upsert");
    let tree = editor.write().expect("tree").detach();
    let commit = store.write_commit(tree, None, "hand edit").expect("commit");
    let err = store.read_all(commit).expect_err("wrong shard");
    let message = err.to_string();
    assert!(
        message.contains("issues/0/0/0/0/gt-a.jsonl") && message.contains("belongs in"),
        "{message}"
    );
    let err = store
        .changed_between(None, commit)
        .expect_err("wrong shard");
    assert!(matches!(err, GitError::Malformed { .. }), "{err:?}");
}

#[test]
fn commits_are_packed_and_small_packs_are_rolled_up() {
    // 40 commits and their roll-ups make gix's long-lived handle see more packs than it has
    // slots (64): this also pins that the store reopens the handle in time.
    let town = town();
    let loose_before = loose_count(town.path()); // the town's own first commit
    let mut store = open(town.path());
    for round in 0..40 {
        let changes: Vec<Change> = (0..3)
            .map(|i| put(&format!("gt-{round}x{i}"), "t"))
            .collect();
        commit(&mut store, &changes);
    }
    assert_eq!(
        loose_count(town.path()),
        loose_before,
        "the ledger wrote loose objects"
    );
    let counts = git(town.path(), &["count-objects", "-v"]);
    let packs: usize = counts
        .lines()
        .find_map(|l| l.strip_prefix("packs: "))
        .expect("packs line")
        .parse()
        .expect("a number");
    assert!(
        (1..=8).contains(&packs),
        "{packs} packs after 40 commits: {counts}"
    );
    git(town.path(), &["fsck", "--strict", "--no-progress"]);
    let tip = store.tip().expect("tip").expect("committed");
    assert_eq!(store.read_all(tip).expect("read_all").len(), 120);
    assert_eq!(
        git(town.path(), &["rev-list", "--count", "beads"]).trim(),
        "40"
    );
    // Every commit of the history is still complete.
    let listed = git(town.path(), &["rev-list", "--objects", "beads"]);
    assert!(listed.lines().count() > 120, "{listed}");
}

fn loose_count(dir: &Path) -> usize {
    let counts = git(dir, &["count-objects", "-v"]);
    let count = counts
        .lines()
        .find_map(|l| l.strip_prefix("count: "))
        .expect("count line");
    count.parse().expect("a number")
}

#[test]
fn temp_files_of_dead_writers_are_removed_at_open() {
    let town = town();
    let pack_dir = town.path().join(".git/objects/pack");
    std::fs::create_dir_all(&pack_dir).expect("pack dir");
    // A pid that cannot be alive (above the kernel's pid_max) and our own, which is alive.
    let dead = pack_dir.join(".tmp-gastown-4294967295-pack-1.pack");
    let alive = pack_dir.join(format!(".tmp-gastown-{}-pack-2.pack", std::process::id()));
    let foreign = pack_dir.join("tmp_pack_abc");
    for path in [&dead, &alive, &foreign] {
        std::fs::write(path, b"partial").expect("write temp file");
    }
    let _store = open(town.path());
    assert!(!dead.exists(), "the dead writer's file stays");
    assert!(
        alive.exists() && foreign.exists(),
        "a live or foreign file was removed"
    );
}

#[test]
fn survives_git_gc_and_packed_refs_under_a_live_store() {
    let town = town();
    let mut store = open(town.path());
    for round in 0..5 {
        commit(&mut store, &[put(&format!("gt-{round}"), "before gc")]);
    }
    // A person maintains the town repository while gastown runs.
    git(town.path(), &["gc", "--quiet", "--prune=now"]);
    git(town.path(), &["pack-refs", "--all"]);
    let c6 = commit(&mut store, &[put("gt-0", "after gc"), delete("gt-1")]);
    let beads = store.read_all(c6).expect("read_all after gc");
    assert_eq!(beads.len(), 4);
    assert_eq!(beads[0], ("gt-0".to_owned(), line("gt-0", "after gc")));
    assert_eq!(store.changed_between(None, c6).expect("diff").len(), 4);
    git(town.path(), &["fsck", "--strict", "--no-progress"]);
    assert_eq!(
        git(town.path(), &["rev-parse", "beads"]).trim(),
        c6.to_hex().to_string()
    );
}

#[test]
fn racing_writers_one_wins_the_others_see_tip_moved() {
    let town = town();
    let base = commit(&mut open(town.path()), &[put("gt-base", "base")]);
    let writers = 4;
    let barrier = std::sync::Barrier::new(writers);
    let results: Vec<Result<Option<ObjectId>, GitError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|i| {
                let (barrier, path) = (&barrier, town.path());
                scope.spawn(move || {
                    let mut store = open(path);
                    barrier.wait();
                    store.commit(Some(base), &[put(&format!("gt-w{i}"), "racer")], "")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect()
    });
    let winners: Vec<ObjectId> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied().flatten())
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for result in &results {
        match result {
            Ok(_) => {}
            Err(GitError::TipMoved {
                expected, actual, ..
            }) => {
                assert_eq!((*expected, *actual), (Some(base), Some(winners[0])));
            }
            Err(other) => panic!("a losing writer got {other:?}, not TipMoved"),
        }
    }
    let tip = open(town.path()).tip().expect("tip");
    assert_eq!(tip, Some(winners[0]));
    git(town.path(), &["fsck", "--strict", "--no-progress"]);
}

/// Two towns' histories in one repository: `ours` on the ledger ref, `theirs` on another ref
/// made from the same base.
fn diverged(
    dir: &Path,
    base: &[Change],
    ours: &[Change],
    theirs: &[Change],
) -> (GitStore, ObjectId, ObjectId, ObjectId) {
    let mut store = open(dir);
    let base_commit = commit(&mut store, base);
    let ours_commit = commit(&mut store, ours);
    let mut other = GitStore::open(GitStoreConfig {
        git_ref: "refs/heads/other".to_owned(),
        ..GitStoreConfig::new(dir)
    })
    .expect("open");
    git(
        dir,
        &["update-ref", "refs/heads/other", &base_commit.to_string()],
    );
    let theirs_commit = other
        .commit(Some(base_commit), theirs, "")
        .expect("commit")
        .expect("changed");
    (store, base_commit, ours_commit, theirs_commit)
}

#[test]
fn a_merge_takes_their_beads_keeps_ours_and_writes_both_parents() {
    let dir = town();
    let (mut store, base, ours, theirs) = diverged(
        dir.path(),
        &[put("gt-a", "a"), put("gt-gone", "x")],
        &[put("gt-b", "ours"), delete("gt-gone")],
        &[put("gt-c", "theirs")],
    );
    let done = store.merge(Some(ours), theirs, Some(base)).expect("merge");
    let tip = done.tip.expect("a merge commit");
    assert!(!done.fast_forward);
    assert_eq!(done.taken, ["gt-c"]);
    let ids: Vec<String> = store
        .read_all(tip)
        .expect("read")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["gt-a", "gt-b", "gt-c"]);
    let parents = git(
        dir.path(),
        &["log", "-1", "--format=%P", "refs/heads/beads"],
    );
    assert_eq!(parents.trim(), format!("{ours} {theirs}"));
    // Merging the same again changes nothing.
    let again = store.merge(Some(tip), theirs, Some(theirs)).expect("merge");
    assert_eq!(again.tip, None);
}

#[test]
fn a_collision_rekeys_one_bead_and_its_references_follow() {
    let dir = town();
    let theirs_line = r#"{"id":"gt-x","title":"theirs","created_at":"2026-02-02T00:00:00Z"}"#;
    let dependent = r#"{"id":"gt-d","title":"d","dependencies":[{"issue_id":"gt-d","depends_on_id":"gt-x","type":"blocks"}]}"#;
    let ours_line = r#"{"id":"gt-x","title":"ours","created_at":"2026-01-01T00:00:00Z"}"#;
    let (mut store, base, ours, theirs) = diverged(
        dir.path(),
        &[put("gt-a", "a")],
        &[Change::Put {
            id: "gt-x".into(),
            line: ours_line.into(),
        }],
        &[
            Change::Put {
                id: "gt-x".into(),
                line: theirs_line.into(),
            },
            Change::Put {
                id: "gt-d".into(),
                line: dependent.into(),
            },
        ],
    );
    let done = store.merge(Some(ours), theirs, Some(base)).expect("merge");
    assert_eq!(done.rekeyed.len(), 1, "{done:?}");
    let (old, new) = &done.rekeyed[0];
    assert_eq!(old, "gt-x");
    let tip = done.tip.expect("merged");
    let all: std::collections::BTreeMap<String, String> =
        store.read_all(tip).expect("read").into_iter().collect();
    assert_eq!(all.len(), 4, "both beads kept: {all:?}");
    let moved = &all[new];
    assert!(moved.contains(&format!(r#""id":"{new}""#)), "{moved}");
    // gt-d came from the re-keyed side: its dependency follows the bead it meant.
    let rekeyed_was_theirs = moved.contains("theirs");
    assert_eq!(all["gt-d"].contains(new.as_str()), rekeyed_was_theirs);
}

#[test]
fn a_commit_that_is_not_a_ledger_is_refused_and_nothing_moves() {
    let dir = town();
    let mut store = open(dir.path());
    let ours = commit(&mut store, &[put("gt-a", "a")]);
    // The town's own `main` (town.toml) is no ledger.
    let main: ObjectId = git(dir.path(), &["rev-parse", "main"])
        .trim()
        .parse()
        .expect("an id");
    let err = store.merge(Some(ours), main, None).expect_err("refused");
    assert!(err.to_string().contains("not a ledger"), "{err}");
    assert_eq!(store.tip().expect("tip"), Some(ours));
}
