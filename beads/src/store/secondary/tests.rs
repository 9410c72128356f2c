//! The secondary indexes of a [`Store`] on a real redb file: what a lookup sees after a fold, a
//! rolled-back group, and at open of a ledger whose index is missing or behind its beads.

use super::super::{Batch, Put, Store, index_err};
use super::*;
use crate::model::Bead;
use redb::{Database, ReadableDatabase};

fn bead(id: &str, status: Status, assignee: &str) -> Put {
    let mut bead = Bead::new(id, id);
    bead.status = status;
    bead.assignee = assignee.to_string();
    Put {
        bead,
        journal: true,
    }
}

fn open_mail_of(store: &Store, who: &str) -> Vec<String> {
    let sel = Select {
        status: StatusIs::NotIn(&["closed", "tombstone"]),
        assignee: Some(who),
        issue_type: None,
    };
    store.select(&sel).expect("select")
}

fn with_status(store: &Store, status: &str) -> Vec<String> {
    let sel = Select {
        status: StatusIs::Exactly(status),
        assignee: None,
        issue_type: None,
    };
    store.select(&sel).expect("select")
}

/// A store holding gt-a (open, for mayor) and gt-b (hooked, for nux), folded.
fn folded_store(path: &Path) -> Store {
    let mut store = Store::open(path).expect("open");
    store
        .write(&Batch {
            puts: vec![
                bead("gt-a", Status::Open, "mayor"),
                bead("gt-b", Status::Hooked, "nux"),
            ],
            ..Batch::default()
        })
        .expect("write");
    store.fold().expect("fold");
    store
}

#[test]
fn a_lookup_sees_the_log_over_the_folded_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = folded_store(&dir.path().join("ledger.redb"));
    assert_eq!(open_mail_of(&store, "mayor"), ["gt-a"]);
    store
        .write(&Batch {
            puts: vec![bead("gt-a", Status::Closed, "mayor")],
            ..Batch::default()
        })
        .expect("close a");
    assert!(open_mail_of(&store, "mayor").is_empty(), "before the fold");
    assert_eq!(with_status(&store, "closed"), ["gt-a"]);
    store.fold().expect("fold");
    assert!(open_mail_of(&store, "mayor").is_empty(), "after the fold");
    assert_eq!(with_status(&store, "closed"), ["gt-a"]);
    assert_eq!(with_status(&store, "hooked"), ["gt-b"]);
}

#[test]
fn a_rolled_back_group_takes_its_index_changes_with_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = folded_store(&dir.path().join("ledger.redb"));
    store.set_deferred(true).expect("deferred");
    store
        .write(&Batch {
            puts: vec![bead("gt-c", Status::Open, "mayor")],
            ..Batch::default()
        })
        .expect("a write of the group");
    assert_eq!(open_mail_of(&store, "mayor"), ["gt-a", "gt-c"]);
    let failed = store.in_write(|_, path| Err::<(), _>(index_err(path, "disk full")));
    assert!(failed.is_err());
    assert!(store.make_durable().is_err(), "the group was rolled back");
    assert_eq!(open_mail_of(&store, "mayor"), ["gt-a"], "gt-c went with it");
}

/// Write with redb directly, as a gastown without the indexes would.
fn behind_the_index(path: &Path, change: impl FnOnce(&redb::WriteTransaction)) {
    let db = Database::create(path).expect("open redb");
    let tx = db.begin_write().expect("write");
    change(&tx);
    {
        let mut meta = tx.open_table(crate::store::META).expect("meta");
        let seq = meta
            .get("seq")
            .expect("get")
            .map(|v| u64::from_le_bytes(v.value().try_into().expect("8 bytes")))
            .unwrap_or(0);
        meta.insert("seq", (seq + 1).to_le_bytes().as_slice())
            .expect("seq");
    }
    tx.commit().expect("commit");
    let rtx = db.begin_read().expect("read");
    assert!(rtx.open_table(crate::store::BEADS).is_ok());
}

#[test]
fn a_bead_an_older_gastown_changed_is_indexed_again_at_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.redb");
    drop(folded_store(&path));
    behind_the_index(&path, |tx| {
        let mut beads = tx.open_table(crate::store::BEADS).expect("beads");
        let mut moved = Bead::new("gt-a", "gt-a");
        moved.status = Status::Hooked;
        moved.assignee = "nux".to_string();
        beads
            .insert("gt-a", moved.to_json_line().as_str())
            .expect("rewrite gt-a");
    });
    let store = Store::open(&path).expect("reopen");
    assert!(open_mail_of(&store, "mayor").is_empty());
    assert_eq!(open_mail_of(&store, "nux"), ["gt-a", "gt-b"]);
    assert_eq!(with_status(&store, "hooked"), ["gt-a", "gt-b"]);
}

#[test]
fn a_ledger_from_before_the_indexes_is_indexed_at_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.redb");
    drop(folded_store(&path));
    behind_the_index(&path, |tx| {
        for gone in [
            tx.delete_table(BY_STATUS),
            tx.delete_table(BY_ASSIGNEE),
            tx.delete_table(BY_TYPE),
            tx.delete_table(INDEXED),
        ] {
            assert!(gone.expect("delete"));
        }
        let mut meta = tx.open_table(crate::store::META).expect("meta");
        meta.remove(INDEXED_SEQ)
            .expect("forget the indexed sequence");
    });
    let store = Store::open(&path).expect("reopen");
    assert_eq!(open_mail_of(&store, "mayor"), ["gt-a"]);
    assert_eq!(with_status(&store, "hooked"), ["gt-b"]);
}
