//! A per-process index of open mail, so an inbox costs its own size, not the ledger's.
//!
//! Without it an inbox is a scan that parses every bead of the town (≈40 ms at 20,000 beads);
//! with it, the open mail of an address is a map lookup. The index is built by one scan the first
//! time a process asks, and kept current by every mail write in this module ([`note`]).
//!
//! Coherence: the ledger has one writer process at a time (its lock), so only writes made by
//! this process can change it. Writes that do not go through `crate::mail` are caught two ways:
//! the number of beads is checked on every use (a foreign create, import or wisp burn changes it,
//! and the index is rebuilt), and the ledger's owner calls [`invalidate`] after any other ledger
//! call that may touch mail (`gastown bead update|close|label` on a message bead, say).

use super::store::is_mail;
use anyhow::Result;
use gastown_beads::{Bead, IssueType, Ledger, ListFilter, Status};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// Open mail of one ledger.
#[derive(Debug, Default)]
struct Index {
    /// `ledger.len()` when the index last matched the ledger.
    len: usize,
    /// assignee → (created_at, id) → bead, for open mail.
    by_assignee: HashMap<String, BTreeMap<(String, String), Bead>>,
    /// id → (assignee, created_at), to find a bead's old place.
    place: HashMap<String, (String, String)>,
}

impl Index {
    fn build(ledger: &Ledger) -> Result<Index> {
        let mut index = Index {
            len: ledger.len(),
            ..Index::default()
        };
        let open = ledger.list(&ListFilter {
            issue_type: Some(IssueType::Message),
            ..ListFilter::default()
        })?;
        for bead in open {
            index.put(bead);
        }
        Ok(index)
    }

    fn put(&mut self, bead: Bead) {
        if let Some((assignee, created)) = self.place.remove(&bead.id)
            && let Some(m) = self.by_assignee.get_mut(&assignee)
        {
            m.remove(&(created, bead.id.clone()));
        }
        if !is_mail(&bead) || bead.status == Status::Closed || bead.status == Status::Tombstone {
            return;
        }
        let key = (bead.created_at.clone(), bead.id.clone());
        self.place.insert(
            bead.id.clone(),
            (bead.assignee.clone(), bead.created_at.clone()),
        );
        self.by_assignee
            .entry(bead.assignee.clone())
            .or_default()
            .insert(key, bead);
    }
}

type Indexes = HashMap<PathBuf, Index>;

fn indexes() -> &'static Mutex<Indexes> {
    static INDEXES: OnceLock<Mutex<Indexes>> = OnceLock::new();
    INDEXES.get_or_init(|| Mutex::new(HashMap::new()))
}

fn key(ledger: &Ledger) -> PathBuf {
    ledger.config().index_path.clone()
}

/// Forget the index of this ledger (it is rebuilt on next use). The ledger's owner calls this
/// after a ledger call outside `crate::mail` that may have changed a message bead.
pub fn invalidate(ledger: &Ledger) {
    if let Ok(mut all) = indexes().lock() {
        all.remove(&key(ledger));
    }
}

/// Record a mail bead this module just wrote; `created` when the write added a bead.
pub fn note(ledger: &Ledger, bead: &Bead, created: bool) {
    let Ok(mut all) = indexes().lock() else {
        return;
    };
    let k = key(ledger);
    let Some(index) = all.get_mut(&k) else {
        return;
    };
    let expected = index.len + usize::from(created);
    if expected != ledger.len() {
        all.remove(&k);
        return;
    }
    index.len = expected;
    index.put(bead.clone());
}

/// The open mail of `address` (read and unread), oldest first.
pub fn open_mail(ledger: &Ledger, address: &str) -> Result<Vec<Bead>> {
    with_open_mail(ledger, address, |mail| mail.into_iter().cloned().collect())
}

/// Run `f` on the open mail of `address` (read and unread, oldest first) without copying it.
pub fn with_open_mail<R>(
    ledger: &Ledger,
    address: &str,
    f: impl FnOnce(Vec<&Bead>) -> R,
) -> Result<R> {
    let mut all = indexes()
        .lock()
        .map_err(|_| anyhow::anyhow!("the mail index lock is poisoned: restart the process"))?;
    let k = key(ledger);
    if all.get(&k).is_none_or(|i| i.len != ledger.len()) {
        all.insert(k.clone(), Index::build(ledger)?);
    }
    let mail: Vec<&Bead> = all
        .get(&k)
        .and_then(|i| i.by_assignee.get(address))
        .map(|m| m.values().collect())
        .unwrap_or_default();
    Ok(f(mail))
}
