//! Reading the ledger branch: every bead at a commit ([`read_all`]) and the beads that differ
//! between two commits ([`changed_between`]), which compares tree ids level by level and only
//! descends into shards whose ids differ.

use super::layout::{self, ISSUES_DIR};
use super::{Change, GitError, GitStore};
use gix::ObjectId;
use gix::objs::FindExt;

/// Depth of the bead files below `issues/`: `<h1>/<h2>/<h3>/<h4>/<id>.jsonl`.
const LEAF_DEPTH: usize = layout::SHARD_LEVELS;

/// Every bead at `at`, sorted by id.
pub(super) fn read_all(store: &GitStore, at: ObjectId) -> Result<Vec<(String, String)>, GitError> {
    let mut reader = Reader::new(store, at);
    let mut out = Vec::new();
    if let Some(issues) = reader.issues_tree(at)? {
        reader.collect(issues, 0, ISSUES_DIR, &mut out)?;
    }
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The beads that differ between `from` (None: nothing) and `to`, sorted by id.
pub(super) fn changed_between(
    store: &GitStore,
    from: Option<ObjectId>,
    to: ObjectId,
) -> Result<Vec<Change>, GitError> {
    let mut reader = Reader::new(store, to);
    let new = reader.issues_tree(to)?;
    let old = match from {
        Some(from) => reader.issues_tree(from)?,
        None => None,
    };
    reader.commit = to;
    let mut out = Vec::new();
    reader.diff(old, new, 0, ISSUES_DIR, &mut out)?;
    out.sort_unstable_by(|a, b| a.id().cmp(b.id()));
    Ok(out)
}

/// Refuse a commit whose root holds anything but the ledger's `README.md` and `issues/` (a
/// branch of some other repository pushed where the ledger belongs).
pub(super) fn check_ledger_root(store: &GitStore, at: ObjectId) -> Result<(), GitError> {
    let mut reader = Reader::new(store, at);
    let root = store.tree_of(at)?;
    for entry in reader.entries(Some(root))? {
        let expected = (entry.name == ISSUES_DIR && entry.is_tree)
            || (entry.name == layout::README_NAME && !entry.is_tree);
        if !expected {
            return Err(reader.malformed(
                &entry.name,
                "not a ledger commit: a ledger holds only README.md and issues/",
            ));
        }
    }
    Ok(())
}

/// The line of bead `id` at `at`, following only the trees on its path.
pub(super) fn read_bead(
    store: &GitStore,
    at: ObjectId,
    id: &str,
) -> Result<Option<String>, GitError> {
    let mut reader = Reader::new(store, at);
    let Some(mut tree) = reader.issues_tree(at)? else {
        return Ok(None);
    };
    for dir in layout::shard(id).split('/') {
        let entries = reader.entries(Some(tree))?;
        match entries.into_iter().find(|e| e.name == dir) {
            Some(entry) if entry.is_tree => tree = entry.id,
            _ => return Ok(None),
        }
    }
    let path = layout::bead_path(id);
    let name = path.rsplit('/').next().unwrap_or_default().to_string();
    match reader
        .entries(Some(tree))?
        .into_iter()
        .find(|e| e.name == name)
    {
        Some(entry) if !entry.is_tree => reader.line(entry.id, &path).map(Some),
        Some(_) => Err(reader.malformed(&path, "a directory where a bead file belongs")),
        None => Ok(None),
    }
}

/// One entry of a tree, copied out of the read buffer.
struct Entry {
    name: String,
    id: ObjectId,
    is_tree: bool,
}

/// Reads trees and blobs of one repository with reusable buffers.
struct Reader<'a> {
    store: &'a GitStore,
    /// The commit being read, named in errors.
    commit: ObjectId,
    buf: Vec<u8>,
}

impl<'a> Reader<'a> {
    fn new(store: &'a GitStore, commit: ObjectId) -> Reader<'a> {
        Reader {
            store,
            commit,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    /// The `issues/` tree of commit `commit`, or None when the ledger holds no bead.
    fn issues_tree(&mut self, commit: ObjectId) -> Result<Option<ObjectId>, GitError> {
        self.commit = commit;
        let root = self.store.tree_of(commit)?;
        let entries = self.entries(Some(root))?;
        match entries.into_iter().find(|e| e.name == ISSUES_DIR) {
            None => Ok(None),
            Some(entry) if entry.is_tree => Ok(Some(entry.id)),
            Some(_) => Err(self.malformed(ISSUES_DIR, "it is a file, not a directory")),
        }
    }

    /// The entries of `tree` (none for `None`), sorted by name.
    fn entries(&mut self, tree: Option<ObjectId>) -> Result<Vec<Entry>, GitError> {
        let Some(tree) = tree else {
            return Ok(Vec::new());
        };
        let decoded = self
            .store
            .repo
            .objects
            .find_tree(&tree, &mut self.buf)
            .map_err(self.store.gix_err("read a ledger tree"))?;
        let mut entries: Vec<Entry> = decoded
            .entries
            .iter()
            .map(|e| Entry {
                name: String::from_utf8_lossy(e.filename).into_owned(),
                id: e.oid.to_owned(),
                is_tree: e.mode.is_tree(),
            })
            .collect();
        entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Push every bead below `tree` (at `depth` below `issues/`, named `path`) onto `out`.
    fn collect(
        &mut self,
        tree: ObjectId,
        depth: usize,
        path: &str,
        out: &mut Vec<(String, String)>,
    ) -> Result<(), GitError> {
        for entry in self.entries(Some(tree))? {
            let entry_path = format!("{path}/{}", entry.name);
            if depth < LEAF_DEPTH {
                self.expect_tree(&entry, &entry_path)?;
                self.collect(entry.id, depth + 1, &entry_path, out)?;
            } else {
                let id = self.bead_id(&entry, &entry_path)?;
                let line = self.line(entry.id, &entry_path)?;
                out.push((id, line));
            }
        }
        Ok(())
    }

    /// Push the changes that turn `old` into `new` (both at `depth`, named `path`) onto `out`.
    fn diff(
        &mut self,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
        depth: usize,
        path: &str,
        out: &mut Vec<Change>,
    ) -> Result<(), GitError> {
        if old == new {
            return Ok(());
        }
        let old_entries = self.entries(old)?;
        let new_entries = self.entries(new)?;
        let (mut olds, mut news) = (
            old_entries.into_iter().peekable(),
            new_entries.into_iter().peekable(),
        );
        loop {
            let (o, n) = match (olds.peek(), news.peek()) {
                (None, None) => return Ok(()),
                (Some(o), Some(n)) if o.name == n.name => (olds.next(), news.next()),
                (Some(o), Some(n)) if o.name < n.name => (olds.next(), None),
                (Some(_), None) => (olds.next(), None),
                _ => (None, news.next()),
            };
            self.diff_entry(o, n, depth, path, out)?;
        }
    }

    /// One name present in `old`, `new` or both.
    fn diff_entry(
        &mut self,
        old: Option<Entry>,
        new: Option<Entry>,
        depth: usize,
        path: &str,
        out: &mut Vec<Change>,
    ) -> Result<(), GitError> {
        if let (Some(o), Some(n)) = (&old, &new)
            && o.id == n.id
        {
            return Ok(());
        }
        let name = old
            .as_ref()
            .or(new.as_ref())
            .map(|e| e.name.clone())
            .unwrap_or_default();
        let entry_path = format!("{path}/{name}");
        if depth < LEAF_DEPTH {
            for entry in old.iter().chain(new.iter()) {
                self.expect_tree(entry, &entry_path)?;
            }
            return self.diff(
                old.map(|e| e.id),
                new.map(|e| e.id),
                depth + 1,
                &entry_path,
                out,
            );
        }
        match new {
            Some(entry) => {
                let id = self.bead_id(&entry, &entry_path)?;
                let line = self.line(entry.id, &entry_path)?;
                out.push(Change::Put { id, line });
            }
            None => {
                let entry = old.expect("one side is present");
                let id = self.bead_id(&entry, &entry_path)?;
                out.push(Change::Delete { id });
            }
        }
        Ok(())
    }

    /// The JSON line of the bead file `blob`.
    fn line(&mut self, blob: ObjectId, path: &str) -> Result<String, GitError> {
        let data = self
            .store
            .repo
            .objects
            .find_blob(&blob, &mut self.buf)
            .map_err(self.store.gix_err("read a bead blob"))?;
        layout::parse_content(data.data).map_err(|reason| self.malformed(path, reason))
    }

    /// The bead id of a leaf entry, checking it is a bead file in its right shard.
    fn bead_id(&self, entry: &Entry, path: &str) -> Result<String, GitError> {
        if entry.is_tree {
            return Err(self.malformed(path, "a directory where bead files belong"));
        }
        let id = layout::id_of_file(&entry.name)
            .ok_or_else(|| self.malformed(path, "not a bead file (`<id>.jsonl`)"))?;
        let shard = layout::shard(id);
        if !path.ends_with(&format!("/{shard}/{}", entry.name)) {
            return Err(self.malformed(path, &format!("the bead belongs in {ISSUES_DIR}/{shard}/")));
        }
        Ok(id.to_owned())
    }

    fn expect_tree(&self, entry: &Entry, path: &str) -> Result<(), GitError> {
        if entry.is_tree {
            Ok(())
        } else {
            Err(self.malformed(path, "a file where shard directories belong"))
        }
    }

    fn malformed(&self, path: &str, reason: &str) -> GitError {
        GitError::Malformed {
            commit: self.commit,
            path: path.to_owned(),
            reason: reason.to_owned(),
        }
    }
}
