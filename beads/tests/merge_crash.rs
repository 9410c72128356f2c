//! A `kill -9` in the middle of a sync's merge (`Ledger::merge_from`), at its two worst moments:
//! after our pending changes were committed and before theirs were merged, and after the merge
//! commit became the ref and before the index was told. Either way the reopened ledger has lost
//! nothing — our changes, and theirs once merged — and its index agrees with git; a merge
//! interrupted before the ref moved simply runs again. The merge runs in a child process (this
//! test binary again) that kills itself at the fault point.

use gastown_beads::git::{Change, GitStore, GitStoreConfig, ObjectId};
use gastown_beads::{BeadPatch, Ledger, NewBead};
use std::path::Path;

mod common;
use common::{git, killed_child, open, town};

const BEADS: usize = 20;

/// (id, line) of every bead at the tip of refs/heads/beads.
fn in_git(town: &Path) -> Vec<(String, String)> {
    let store = GitStore::open(GitStoreConfig::new(town)).expect("git store opens");
    let tip = store.tip().expect("tip").expect("a commit");
    store.read_all(tip).expect("read_all")
}

/// (id, line) of every bead in the index, by id.
fn in_index(l: &Ledger) -> Vec<(String, String)> {
    let mut out = Vec::new();
    l.export_to(&mut out).expect("export");
    let mut lines: Vec<(String, String)> = String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            (v["id"].as_str().expect("id").to_string(), line.to_string())
        })
        .collect();
    lines.sort();
    lines
}

fn title_of(l: &Ledger, id: &str) -> String {
    l.get(id).expect("get").expect("the bead").title
}

/// The child: our pending changes (beads 0–4 retitled), then the merge of `theirs`.
fn merge_in_child(town: &Path) {
    let theirs: ObjectId = std::env::var("MERGE_CRASH_THEIRS")
        .expect("theirs")
        .parse()
        .expect("an object id");
    let base: ObjectId = std::env::var("MERGE_CRASH_BASE")
        .expect("base")
        .parse()
        .expect("an object id");
    let ids: Vec<String> = std::env::var("MERGE_CRASH_IDS")
        .expect("ids")
        .split(',')
        .map(str::to_string)
        .collect();
    let mut l = open(town);
    for id in &ids[..5] {
        let patch = BeadPatch {
            title: Some(format!("ours {id}")),
            ..BeadPatch::default()
        };
        l.update(id, patch, "ours").expect("our change");
    }
    l.merge_from(theirs, Some(base)).expect("merge");
    println!("SURVIVED");
}

#[test]
fn a_kill_during_a_sync_merge_loses_nothing_and_the_index_agrees_with_git() {
    if let Some(dir) = std::env::var_os("MERGE_CRASH_CHILD") {
        merge_in_child(Path::new(&dir));
        return;
    }
    for (fault, merged) in [
        ("merge-after-own-commit", false),
        ("merge-after-ref-moved", true),
    ] {
        let t = town();
        let mut l = open(t.path());
        let ids: Vec<String> = (0..BEADS)
            .map(|i| {
                let new = NewBead {
                    title: format!("bead {i}"),
                    priority: 2,
                    ..NewBead::default()
                };
                l.create(new, "setup").expect("create").id
            })
            .collect();
        l.sync().expect("the first commit");
        let base = l.git_tip().expect("tip").expect("committed");
        drop(l);
        // Their commit on our tip: beads 10–14 retitled (another town's store), then our ref
        // goes back to the base, as a fetch leaves it.
        let mut theirs_store = GitStore::open(GitStoreConfig::new(t.path())).expect("open");
        let changes: Vec<Change> = in_git(t.path())
            .into_iter()
            .filter(|(id, _)| ids[10..15].contains(id))
            .map(|(id, line)| {
                let mut v: serde_json::Value = serde_json::from_str(&line).expect("json");
                v["title"] = format!("theirs {id}").into();
                Change::Put {
                    id,
                    line: v.to_string(),
                }
            })
            .collect();
        assert_eq!(changes.len(), 5);
        let theirs = theirs_store
            .commit(Some(base), &changes, "theirs")
            .expect("their commit")
            .expect("changed");
        drop(theirs_store);
        git(
            t.path(),
            &["update-ref", "refs/heads/beads", &base.to_string()],
        );
        let (theirs_hex, base_hex, joined) = (theirs.to_string(), base.to_string(), ids.join(","));
        killed_child(
            "a_kill_during_a_sync_merge_loses_nothing_and_the_index_agrees_with_git",
            &[
                ("MERGE_CRASH_CHILD", t.path().as_os_str()),
                ("MERGE_CRASH_THEIRS", theirs_hex.as_ref()),
                ("MERGE_CRASH_BASE", base_hex.as_ref()),
                ("MERGE_CRASH_IDS", joined.as_ref()),
                ("GASTOWN_LEDGER_FAULT", fault.as_ref()),
            ],
        );
        let mut l = open(t.path());
        // Ours survived the kill either way, in the index and in git.
        for id in &ids[..5] {
            assert_eq!(title_of(&l, id), format!("ours {id}"), "{fault}");
        }
        let parents = |l: &Ledger| -> usize {
            let tip = l.git_tip().expect("tip").expect("a commit").to_string();
            git(t.path(), &["rev-list", "--parents", "-n", "1", &tip])
                .split_whitespace()
                .count()
                - 1
        };
        if merged {
            for id in &ids[10..15] {
                assert_eq!(title_of(&l, id), format!("theirs {id}"), "{fault}");
            }
            assert_eq!(parents(&l), 2, "{fault}: the merge commit is the tip");
        } else {
            assert_eq!(title_of(&l, &ids[10]), "bead 10", "{fault}: not merged yet");
            // The sync runs again, and merges.
            let done = l.merge_from(theirs, Some(base)).expect("merge again");
            assert!(!done.fast_forward, "{fault}");
            for id in &ids[10..15] {
                assert_eq!(title_of(&l, id), format!("theirs {id}"), "{fault}");
            }
            assert_eq!(parents(&l), 2, "{fault}");
        }
        assert_eq!(in_index(&l), in_git(t.path()), "{fault}: the index is git");
        git(t.path(), &["fsck", "--strict", "--no-dangling"]);
    }
}
