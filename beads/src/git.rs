//! The ledger's git storage: beads committed to a ref of their own (`refs/heads/beads`) in the
//! town's repository, through gix, without touching the work tree, the index or `HEAD`.
//!
//! Git is the durable truth of the ledger and the way towns sync; redb (see the ledger facade) is
//! the index and journal. [`GitStore`] only knows trees and commits: the ledger hands it the
//! changed beads as JSON lines and gets commits back.
//!
//! Layout of the branch (see `docs/ledger.md` for why): `README.md` and one file per bead,
//! `issues/<h1>/<h2>/<h3>/<h4>/<id>.jsonl`, where `h1`…`h4` are the first four hex digits of
//! SHA-256(id) (`gt-abc` → `issues/e/4/d/a/gt-abc.jsonl`).
//! A commit of k beads writes k blobs, O(k) small trees and the root, whatever the total, as one
//! pack file (synced) rather than loose objects; small packs are rolled up geometrically.
//!
//! # API
//! ```text
//! GitStoreConfig { repo_path, git_ref, author_name, author_email }   // all pub
//! GitStoreConfig::new(repo_path) -> GitStoreConfig   // refs/heads/beads, "gastown <gastown@localhost>"
//! enum Change { Put { id, line }, Delete { id } }   // line: one JSON object, no '\n'; Change::id(&self)
//! GitStore::open(GitStoreConfig) -> Result<GitStore, GitError>          // the repo must exist
//! GitStore::tip(&self) -> Result<Option<ObjectId>, GitError>            // commit of the ref, None if absent
//! GitStore::commit(&mut self, expected_tip: Option<ObjectId>, changes: &[Change], message: &str)
//!     -> Result<Option<ObjectId>, GitError>   // None: the tree would not change (no empty commits);
//!                                             // TipMoved when the ref is not at `expected_tip`
//! GitStore::read_all(&self, at: ObjectId) -> Result<Vec<(String, String)>, GitError>  // (id, line), by id
//! GitStore::changed_between(&self, from: Option<ObjectId>, to: ObjectId) -> Result<Vec<Change>, GitError>
//! GitStore::read_bead(&self, at: ObjectId, id: &str) -> Result<Option<String>, GitError>
//! GitStore::merge(&mut self, ours: Option<ObjectId>, theirs: ObjectId, base: Option<ObjectId>)
//!     -> Result<MergeDone, GitError>         // another town's ledger, bead by bead (merge.rs)
//! GitStore::config(&self) -> &GitStoreConfig
//! commit_message(&[Change]) -> String         // "ledger: 3 beads (gt-a, gt-b, gt-c)"
//! ```
//! `GitStore` is `Send` (it lives in the supervisor's ledger actor). Only one process may commit
//! at a time (the ledger's pid lock); any number may read.
//!
//! # Example
//! ```no_run
//! use gastown_beads::git::{Change, GitStore, GitStoreConfig};
//! # fn main() -> Result<(), gastown_beads::git::GitError> {
//! let mut store = GitStore::open(GitStoreConfig::new("/path/to/town"))?;
//! let tip = store.tip()?;
//! let changes = [Change::Put { id: "gt-a1b".into(), line: r#"{"id":"gt-a1b","title":"x"}"#.into() }];
//! let message = gastown_beads::git::commit_message(&changes);
//! if let Some(commit) = store.commit(tip, &changes, &message)? {
//!     assert_eq!(store.read_all(commit)?.len(), 1);
//! }
//! # Ok(()) }
//! ```

mod error;
mod layout;
mod merge_plan;
mod odb;
mod pack;
mod walk;

#[cfg(test)]
mod tests;

pub use error::GitError;
pub use gix::ObjectId;
pub use layout::{commit_message, commit_message_of, top_shard};

use gix::refs::transaction::{LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};
use std::path::PathBuf;

/// Where the ledger's git storage lives and who signs its commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitStoreConfig {
    /// The town's repository (its work tree root, or a bare repository).
    pub repo_path: PathBuf,
    /// The full name of the ledger's ref; `refs/heads/beads` unless town.toml says otherwise.
    pub git_ref: String,
    /// Author and committer name of ledger commits.
    pub author_name: String,
    /// Author and committer email of ledger commits.
    pub author_email: String,
}

impl GitStoreConfig {
    /// The defaults for a town at `repo_path`: `refs/heads/beads`, signed "gastown <gastown@localhost>".
    pub fn new(repo_path: impl Into<PathBuf>) -> GitStoreConfig {
        GitStoreConfig {
            repo_path: repo_path.into(),
            git_ref: "refs/heads/beads".to_owned(),
            author_name: "gastown".to_owned(),
            author_email: "gastown@localhost".to_owned(),
        }
    }
}

/// What [`GitStore::merge`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeDone {
    /// The ref's new commit (the merge, or theirs on a fast-forward); `None`: nothing to do.
    pub tip: Option<ObjectId>,
    /// The ref moved to theirs: we had nothing they did not have.
    pub fast_forward: bool,
    /// Beads only they changed, taken as they are.
    pub taken: Vec<String>,
    /// Beads both sides changed, merged field by field.
    pub merged: Vec<String>,
    /// Beads deleted on one side and edited on the other: the edit was kept.
    pub kept_edits: Vec<String>,
    /// Collisions: (id, the new id of the bead that was re-keyed).
    pub rekeyed: Vec<(String, String)>,
}

/// One bead's change in a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Create or replace the bead `id` with `line`: its JSON object on one line, without '\n'.
    Put { id: String, line: String },
    /// Remove the bead `id` (no error if it is not there).
    Delete { id: String },
}

/// One top shard's share of [`GitStore::commit_in_parts`]: its changes, and the beads whose
/// blobs are in the object database already (a streaming import wrote them ahead, see
/// `odb::BlobPack`), by id.
#[derive(Debug, Default)]
pub struct Part {
    pub changes: Vec<Change>,
    pub stored: Vec<(String, ObjectId)>,
}

impl Change {
    /// The id of the bead this change is about.
    pub fn id(&self) -> &str {
        match self {
            Change::Put { id, .. } | Change::Delete { id } => id,
        }
    }
}

/// The ledger's ref in the town's repository: reads trees, writes commits with compare-and-swap.
pub struct GitStore {
    /// The opened repository; objects are written straight into its object database.
    repo: gix::Repository,
    /// The ledger's ref, validated at open.
    git_ref: FullName,
    /// Author and committer of ledger commits.
    cfg: GitStoreConfig,
    /// Packs this handle saw come and go since `repo` was opened: gix keeps a slot for each
    /// until the handle is reopened, so we reopen before the slots run out.
    packs_since_open: usize,
}

impl std::fmt::Debug for GitStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitStore")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl GitStore {
    /// Open the repository at `cfg.repo_path` (it must exist: creating it is `gastown install`'s
    /// job). The ledger ref need not exist yet; the first commit creates it.
    pub fn open(cfg: GitStoreConfig) -> Result<GitStore, GitError> {
        let git_ref =
            FullName::try_from(cfg.git_ref.as_str()).map_err(|err| GitError::InvalidRef {
                name: cfg.git_ref.clone(),
                reason: err.to_string(),
            })?;
        if !cfg.git_ref.starts_with("refs/") {
            return Err(GitError::InvalidRef {
                name: cfg.git_ref.clone(),
                reason: "it does not start with `refs/`".to_owned(),
            });
        }
        let repo = odb::open_repo(&cfg.repo_path).map_err(|source| GitError::NotARepository {
            path: cfg.repo_path.clone(),
            source,
        })?;
        let store = GitStore {
            repo,
            git_ref,
            cfg,
            packs_since_open: 0,
        };
        match pack::remove_stale_temp_files(&store.pack_dir()) {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "removed temporary pack files of dead writers"),
            Err(err) => tracing::warn!(error = %err, "could not clean temporary pack files"),
        }
        Ok(store)
    }

    /// The configuration this store was opened with.
    pub fn config(&self) -> &GitStoreConfig {
        &self.cfg
    }

    /// The commit the ledger ref points at, or `None` when the ref does not exist yet.
    pub fn tip(&self) -> Result<Option<ObjectId>, GitError> {
        let found = self
            .repo
            .try_find_reference(self.git_ref.as_ref())
            .map_err(self.gix_err("read the ledger ref"))?;
        match found {
            None => Ok(None),
            // A direct ref names its commit: no object lookup needed.
            Some(ref reference) if let gix::refs::TargetRef::Object(id) = reference.target() => {
                Ok(Some(id.to_owned()))
            }
            Some(mut reference) => {
                let id = reference
                    .peel_to_id()
                    .map_err(self.gix_err("resolve the ledger ref"))?;
                Ok(Some(id.detach()))
            }
        }
    }

    /// Write one commit on top of `expected_tip` applying `changes` in order, and move the ref to
    /// it with a compare-and-swap from `expected_tip` (`None`: the ref must not exist yet).
    ///
    /// Returns `None`, writing no commit, when the changes leave the tree as it is — so recommitting
    /// the same changes after a crash is harmless. An empty `message` gets [`commit_message`].
    /// Fails with [`GitError::TipMoved`] when the ref is not at `expected_tip`.
    pub fn commit(
        &mut self,
        expected_tip: Option<ObjectId>,
        changes: &[Change],
        message: &str,
    ) -> Result<Option<ObjectId>, GitError> {
        changes.iter().try_for_each(layout::validate_change)?;
        self.refuse_if_checked_out()?;
        let actual = self.tip()?;
        if actual != expected_tip {
            return Err(self.tip_moved(expected_tip, actual));
        }
        let message = match message {
            "" => commit_message(changes),
            given => given.to_owned(),
        };
        // New objects collect in memory and land on disk as one pack (see pack.rs).
        self.repo.objects.enable_object_memory();
        let written = self.write_tree_and_commit(expected_tip, changes, &message);
        let objects = self.repo.objects.take_object_memory().unwrap_or_default();
        let Some(commit) = written? else {
            return Ok(None);
        };
        self.write_pack(objects)?;
        self.packs_since_open += 1;
        self.move_ref(expected_tip, commit, &message)?;
        self.after_commit();
        tracing::debug!(commit = %commit, beads = changes.len(), "ledger committed to git");
        Ok(Some(commit))
    }

    /// [`GitStore::commit`] of a change too large to hold in memory at once (the first commit
    /// of a million imported beads): `part(p)` gives the changes of the beads under top shard
    /// `p` ([`top_shard`], 0–15), called once each; every part's blobs and trees go into one
    /// pack on disk as they are made ([`pack::PackWriter`]), so memory holds one part. One
    /// commit, the same tree as [`GitStore::commit`] of all the changes would write.
    pub fn commit_in_parts<E: From<GitError>>(
        &mut self,
        expected_tip: Option<ObjectId>,
        part: &mut dyn FnMut(usize) -> Result<Part, E>,
        message: &str,
    ) -> Result<Option<ObjectId>, E> {
        self.refuse_if_checked_out()?;
        let actual = self.tip()?;
        if actual != expected_tip {
            return Err(self.tip_moved(expected_tip, actual).into());
        }
        let pack_dir = self.pack_dir();
        let mut pack = pack::PackWriter::create(&pack_dir)
            .map_err(GitError::io("write a pack of ledger objects", &pack_dir))?;
        self.repo.objects.enable_object_memory();
        let written = self.write_parts(expected_tip, part, message, &mut pack);
        self.repo.objects.take_object_memory();
        let Some(commit) = written? else {
            return Ok(None);
        };
        pack.finish(self.repo.object_hash())
            .map_err(GitError::io("write a pack of ledger objects", &pack_dir))?;
        self.packs_since_open += 1;
        self.move_ref(expected_tip, commit, message)?;
        self.after_commit();
        tracing::debug!(commit = %commit, "ledger committed to git in parts");
        Ok(Some(commit))
    }

    /// The objects of [`GitStore::commit_in_parts`], part by part into `pack`; the commit, or
    /// `None` when the tree did not change.
    fn write_parts<E: From<GitError>>(
        &mut self,
        expected_tip: Option<ObjectId>,
        part: &mut dyn FnMut(usize) -> Result<Part, E>,
        message: &str,
        pack: &mut pack::PackWriter,
    ) -> Result<Option<ObjectId>, E> {
        let pack_dir = self.pack_dir();
        let mut flush = |store: &mut GitStore| -> Result<(), GitError> {
            let mut objects = store.repo.objects.take_object_memory().unwrap_or_default();
            store.repo.objects.enable_object_memory();
            pack.add(
                std::mem::take(&mut *objects)
                    .into_iter()
                    .map(|(id, (kind, data))| (id, kind, data)),
            )
            .map_err(GitError::io("write a pack of ledger objects", &pack_dir))
        };
        let base_tree = match expected_tip {
            Some(tip) => Some(self.tree_of(tip)?),
            None => None,
        };
        let mut any_put = false;
        // (top shard directory, its new tree or `None` when it is gone).
        let mut tops: Vec<(String, Option<ObjectId>)> = Vec::new();
        for p in 0..16 {
            let Part { changes, stored } = part(p)?;
            if changes.is_empty() && stored.is_empty() {
                continue;
            }
            changes.iter().try_for_each(layout::validate_change)?;
            stored
                .iter()
                .try_for_each(|(id, _)| layout::validate_id(id))?;
            any_put |= !stored.is_empty();
            any_put |= changes.iter().any(|c| matches!(c, Change::Put { .. }));
            let dir = format!("{}/{p:x}", layout::ISSUES_DIR);
            let top = match base_tree {
                // Nothing to edit: the part's trees straight from its sorted entries.
                None => self.write_fresh_top(&changes, &stored)?,
                Some(_) => {
                    let tree = self.write_tree(base_tree, &changes, &stored)?;
                    self.repo
                        .find_tree(tree)
                        .map_err(self.gix_err("read a ledger tree"))?
                        .lookup_entry_by_path(&dir)
                        .map_err(self.gix_err("read a ledger tree"))?
                        .map(|e| e.object_id())
                }
            };
            drop(changes);
            tops.push((dir, top));
            flush(self)?;
        }
        // The root and `issues/` trees by hand: the new top trees are in the pack already, out
        // of the object database's sight, so no editor may look into them.
        let read_tree = |id: ObjectId| -> Result<gix::objs::Tree, GitError> {
            Ok(self
                .repo
                .find_tree(id)
                .map_err(self.gix_err("read a ledger tree"))?
                .decode()
                .map_err(|e| self.gix_err("read a ledger tree")(e))?
                .into_owned())
        };
        let mut root = match base_tree {
            Some(id) => read_tree(id)?,
            None => gix::objs::Tree::empty(),
        };
        let issues_at = root
            .entries
            .iter()
            .position(|e| e.filename == layout::ISSUES_DIR);
        let mut issues = match issues_at {
            Some(at) => read_tree(root.entries[at].oid)?,
            None => gix::objs::Tree::empty(),
        };
        for (dir, top) in tops {
            let name = dir.rsplit('/').next().unwrap_or_default().to_string();
            issues.entries.retain(|e| e.filename != name.as_str());
            if let Some(oid) = top {
                issues.entries.push(gix::objs::tree::Entry {
                    mode: gix::objs::tree::EntryKind::Tree.into(),
                    filename: name.into(),
                    oid,
                });
            }
        }
        issues.entries.sort();
        root.entries.retain(|e| e.filename != layout::ISSUES_DIR);
        if !issues.entries.is_empty() {
            let oid = self
                .repo
                .write_object(&issues)
                .map_err(self.gix_err("write the ledger trees"))?
                .detach();
            root.entries.push(gix::objs::tree::Entry {
                mode: gix::objs::tree::EntryKind::Tree.into(),
                filename: layout::ISSUES_DIR.into(),
                oid,
            });
        }
        if !root
            .entries
            .iter()
            .any(|e| e.filename == layout::README_NAME)
        {
            let oid = self
                .repo
                .write_blob(layout::README_TEXT)
                .map_err(self.gix_err("write the ledger README"))?
                .detach();
            root.entries.push(gix::objs::tree::Entry {
                mode: gix::objs::tree::EntryKind::Blob.into(),
                filename: layout::README_NAME.into(),
                oid,
            });
        }
        root.entries.sort();
        let tree = self
            .repo
            .write_object(&root)
            .map_err(self.gix_err("write the ledger trees"))?
            .detach();
        let unchanged = match base_tree {
            Some(base) => base == tree,
            None => !any_put,
        };
        if unchanged {
            return Ok(None);
        }
        let commit = self.write_commit(tree, expected_tip, message)?;
        flush(self)?;
        Ok(Some(commit))
    }

    /// The tree of one top shard directory holding the beads `changes` puts (removals of what
    /// is not there are nothing) and no others: blobs, then the four levels of shard trees
    /// bottom up, each from its sorted entries. The same trees the tree editor writes for a
    /// fresh ledger, without its per-path lookups. `None` when nothing is put.
    fn write_fresh_top(
        &self,
        changes: &[Change],
        stored: &[(String, ObjectId)],
    ) -> Result<Option<ObjectId>, GitError> {
        use gix::objs::tree::{Entry, EntryKind};
        let mut files: Vec<(u16, String, ObjectId)> =
            Vec::with_capacity(changes.len() + stored.len());
        for (id, blob) in stored {
            files.push((
                layout::shard_bits(id),
                format!("{id}{}", layout::BEAD_SUFFIX),
                *blob,
            ));
        }
        for change in changes {
            if let Change::Put { id, line } = change {
                let blob = self
                    .repo
                    .write_blob(layout::file_content(line))
                    .map_err(self.gix_err("write a bead blob"))?
                    .detach();
                files.push((
                    layout::shard_bits(id),
                    format!("{id}{}", layout::BEAD_SUFFIX),
                    blob,
                ));
            }
        }
        files.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        // One level: (shard bits of the directory, its entries) -> the trees written.
        let write = |dirs: Vec<(u16, Vec<Entry>)>| -> Result<Vec<(u16, ObjectId)>, GitError> {
            dirs.into_iter()
                .map(|(bits, entries)| {
                    let id = self
                        .repo
                        .write_object(&gix::objs::Tree { entries })
                        .map_err(self.gix_err("write the ledger trees"))?
                        .detach();
                    Ok((bits, id))
                })
                .collect()
        };
        // Group sorted (bits, entry) by `bits >> shift`; the entry's name is given.
        let group = |items: Vec<(u16, Entry)>, shift: u32| -> Vec<(u16, Vec<Entry>)> {
            let mut out: Vec<(u16, Vec<Entry>)> = Vec::new();
            for (bits, entry) in items {
                let key = bits >> shift;
                match out.last_mut() {
                    Some((k, entries)) if *k == key => entries.push(entry),
                    _ => out.push((key, vec![entry])),
                }
            }
            out
        };
        let digit = |bits: u16| format!("{:x}", bits & 0xf);
        let leaves: Vec<(u16, Entry)> = files
            .into_iter()
            .map(|(bits, name, oid)| {
                let entry = Entry {
                    mode: EntryKind::Blob.into(),
                    filename: name.into(),
                    oid,
                };
                (bits, entry)
            })
            .collect();
        // Leaf directories h1/h2/h3/h4 (all 16 bits), then up one hex digit at a time.
        let mut level = write(group(leaves, 0))?;
        for _ in 1..layout::SHARD_LEVELS {
            let items: Vec<(u16, Entry)> = level
                .into_iter()
                .map(|(bits, oid)| {
                    let entry = Entry {
                        mode: EntryKind::Tree.into(),
                        filename: digit(bits).into(),
                        oid,
                    };
                    (bits, entry)
                })
                .collect();
            level = write(group(items, 4))?;
        }
        Ok(level.into_iter().next().map(|(_, oid)| oid))
    }

    /// Every bead at commit `at`, as (id, JSON line without '\n'), sorted by id.
    pub fn read_all(&self, at: ObjectId) -> Result<Vec<(String, String)>, GitError> {
        walk::read_all(self, at)
    }

    /// The beads that differ between commits `from` and `to`: `Put` with the line at `to` for
    /// beads added or changed, `Delete` for beads gone; sorted by id. `from = None` means every
    /// bead at `to`. Only subtrees whose ids differ are read.
    pub fn changed_between(
        &self,
        from: Option<ObjectId>,
        to: ObjectId,
    ) -> Result<Vec<Change>, GitError> {
        walk::changed_between(self, from, to)
    }

    /// The line of bead `id` at commit `at`, or `None` when it is not there (reads only the
    /// trees on its path).
    pub fn read_bead(&self, at: ObjectId, id: &str) -> Result<Option<String>, GitError> {
        walk::read_bead(self, at, id)
    }

    /// Merge the ledger commit `theirs` (another town's, fetched) into the ref, which must be at
    /// `ours`; `base` is their merge base (`None`: no common history). Bead by bead with
    /// [`crate::merge::merge_line`]: beads only they changed are taken, beads both changed are
    /// merged field by field, a collision of two beads under one id re-keys one of them and
    /// rewrites the references to it on its side. Writes a merge commit with both parents
    /// (plain git tools show what happened) and moves the ref with a compare-and-swap from
    /// `ours` ([`GitError::TipMoved`] if it moved). When `theirs` is already in `ours`, nothing
    /// is written; when `ours` is in `theirs`, the ref fast-forwards. A commit of theirs that is
    /// not a ledger (wrong layout) fails with [`GitError::Malformed`] and changes nothing.
    pub fn merge(
        &mut self,
        ours: Option<ObjectId>,
        theirs: ObjectId,
        base: Option<ObjectId>,
    ) -> Result<MergeDone, GitError> {
        self.refuse_if_checked_out()?;
        let actual = self.tip()?;
        if actual != ours {
            return Err(self.tip_moved(ours, actual));
        }
        if ours == Some(theirs) || base == Some(theirs) {
            return Ok(MergeDone::default());
        }
        walk::check_ledger_root(self, theirs)?;
        let their_changes = self.changed_between(base, theirs)?;
        if base == ours {
            self.move_ref(ours, theirs, "fast-forward to the remote's ledger")?;
            self.after_commit();
            return Ok(MergeDone {
                tip: Some(theirs),
                fast_forward: true,
                taken: their_changes.iter().map(|c| c.id().to_string()).collect(),
                ..MergeDone::default()
            });
        }
        let Some(ours_commit) = ours else {
            return Err(GitError::Malformed {
                commit: theirs,
                path: String::new(),
                reason: "a merge base was given but there is no ledger here to merge into"
                    .to_string(),
            });
        };
        let our_changes = self.changed_between(base, ours_commit)?;
        let plan = merge_plan::plan(self, base, theirs, &our_changes, &their_changes)?;
        let message = plan.message(theirs);
        self.repo.objects.enable_object_memory();
        let written = (|| {
            let tree = self.write_tree(Some(self.tree_of(ours_commit)?), &plan.changes, &[])?;
            self.write_commit_with(tree, vec![ours_commit, theirs], &message)
        })();
        let objects = self.repo.objects.take_object_memory().unwrap_or_default();
        let commit = written?;
        self.write_pack(objects)?;
        self.packs_since_open += 1;
        self.move_ref(ours, commit, &message)?;
        self.after_commit();
        Ok(MergeDone {
            tip: Some(commit),
            fast_forward: false,
            taken: plan.taken,
            merged: plan.merged,
            kept_edits: plan.kept_edits,
            rekeyed: plan.rekeyed,
        })
    }

    /// Write the tree and the commit object (not the ref); `None` when the tree would not change.
    fn write_tree_and_commit(
        &self,
        expected_tip: Option<ObjectId>,
        changes: &[Change],
        message: &str,
    ) -> Result<Option<ObjectId>, GitError> {
        let base_tree = match expected_tip {
            Some(tip) => Some(self.tree_of(tip)?),
            None => None,
        };
        let tree = self.write_tree(base_tree, changes, &[])?;
        let unchanged = match base_tree {
            Some(base) => base == tree,
            None => !changes.iter().any(|c| matches!(c, Change::Put { .. })),
        };
        if unchanged {
            return Ok(None);
        }
        self.write_commit(tree, expected_tip, message).map(Some)
    }

    /// The tree of commit `commit`.
    fn tree_of(&self, commit: ObjectId) -> Result<ObjectId, GitError> {
        let commit = self
            .repo
            .find_commit(commit)
            .map_err(self.gix_err("read a ledger commit"))?;
        commit
            .tree_id()
            .map(|id| id.detach())
            .map_err(self.gix_err("read a ledger commit's tree"))
    }

    /// Apply `changes` to `base` (or to an empty tree) and write the blobs and changed trees;
    /// the beads of `stored` have their blobs in the object database already.
    fn write_tree(
        &self,
        base: Option<ObjectId>,
        changes: &[Change],
        stored: &[(String, ObjectId)],
    ) -> Result<ObjectId, GitError> {
        let base = base.unwrap_or_else(|| ObjectId::empty_tree(self.repo.object_hash()));
        let mut editor = self
            .repo
            .edit_tree(base)
            .map_err(self.gix_err("read the ledger tree"))?;
        for change in changes {
            let path = layout::bead_path(change.id());
            match change {
                Change::Put { line, .. } => {
                    let blob = self
                        .repo
                        .write_blob(layout::file_content(line))
                        .map_err(self.gix_err("write a bead blob"))?;
                    editor.upsert(&path, gix::object::tree::EntryKind::Blob, blob.detach())
                }
                Change::Delete { .. } => editor.remove_leaf(&path),
            }
            .map_err(self.gix_err("edit the ledger tree"))?;
        }
        for (id, blob) in stored {
            editor
                .upsert(
                    layout::bead_path(id),
                    gix::object::tree::EntryKind::Blob,
                    *blob,
                )
                .map_err(self.gix_err("edit the ledger tree"))?;
        }
        if editor.get(layout::README_NAME).is_none() {
            let readme = self
                .repo
                .write_blob(layout::README_TEXT)
                .map_err(self.gix_err("write the ledger README"))?;
            editor
                .upsert(
                    layout::README_NAME,
                    gix::object::tree::EntryKind::Blob,
                    readme.detach(),
                )
                .map_err(self.gix_err("edit the ledger tree"))?;
        }
        // Written without gix's check that every entry of every changed tree exists: that is a
        // lookup per entry in the pack index, so its cost grew with the ledger (a sync of k
        // beads at 1M beads paid for the siblings of every changed bead). Every entry here is
        // either read from an existing tree or a blob written just above.
        let mut editor = editor.detach();
        editor
            .write(|tree| self.repo.write_object(tree).map(|id| id.detach()))
            .map_err(self.gix_err("write the ledger trees"))
    }

    /// Write the commit object (the ref is moved separately, with compare-and-swap).
    fn write_commit(
        &self,
        tree: ObjectId,
        parent: Option<ObjectId>,
        message: &str,
    ) -> Result<ObjectId, GitError> {
        self.write_commit_with(tree, parent.into_iter().collect(), message)
    }

    /// Write a commit object with these parents (two for a merge).
    fn write_commit_with(
        &self,
        tree: ObjectId,
        parents: Vec<ObjectId>,
        message: &str,
    ) -> Result<ObjectId, GitError> {
        let signature = self.signature();
        let commit = gix::objs::Commit {
            tree,
            parents: parents.into_iter().collect(),
            author: signature.clone(),
            committer: signature,
            encoding: None,
            message: message.into(),
            extra_headers: Vec::new(),
        };
        let id = self
            .repo
            .write_object(&commit)
            .map_err(self.gix_err("write a ledger commit"))?;
        Ok(id.detach())
    }

    /// Move the ref from `expected` to `new`, failing with `TipMoved` if someone got there first.
    fn move_ref(
        &self,
        expected: Option<ObjectId>,
        new: ObjectId,
        message: &str,
    ) -> Result<(), GitError> {
        let previous = match expected {
            Some(tip) => PreviousValue::MustExistAndMatch(Target::Object(tip)),
            None => PreviousValue::MustNotExist,
        };
        let summary = message.lines().next().unwrap_or_default();
        let edit = RefEdit {
            change: gix::refs::transaction::Change::Update {
                log: LogChange {
                    mode: RefLog::AndReference,
                    force_create_reflog: false,
                    message: format!("gastown ledger: {summary}").into(),
                },
                expected: previous,
                new: Target::Object(new),
            },
            name: self.git_ref.clone(),
            deref: false,
        };
        let signature = self.signature();
        let mut time = gix::date::parse::TimeBuf::default();
        let result = self
            .repo
            .edit_references_as([edit], Some(signature.to_ref(&mut time)));
        if let Err(source) = result {
            // The transaction checked the previous value under the ref's lock: if the ref moved,
            // say so plainly; anything else is a real git failure.
            let actual = self.tip()?;
            if actual != expected {
                return Err(self.tip_moved(expected, actual));
            }
            return Err(self.gix_err("move the ledger ref")(source));
        }
        Ok(())
    }

    /// Refuse to write while `HEAD` of the town's work tree is the ledger branch.
    fn refuse_if_checked_out(&self) -> Result<(), GitError> {
        let head = self.repo.head_name().map_err(self.gix_err("read HEAD"))?;
        if head.as_ref() == Some(&self.git_ref) {
            return Err(GitError::RefCheckedOut {
                git_ref: self.cfg.git_ref.clone(),
            });
        }
        Ok(())
    }

    /// Author and committer of a commit made now.
    fn signature(&self) -> gix::actor::Signature {
        gix::actor::Signature {
            name: self.cfg.author_name.as_str().into(),
            email: self.cfg.author_email.as_str().into(),
            time: gix::date::Time::now_utc(),
        }
    }

    fn tip_moved(&self, expected: Option<ObjectId>, actual: Option<ObjectId>) -> GitError {
        GitError::TipMoved {
            git_ref: self.cfg.git_ref.clone(),
            expected,
            actual,
        }
    }

    fn gix_err(&self, action: &'static str) -> impl FnOnce(gix::Error) -> GitError {
        GitError::gix(action, &self.cfg.repo_path)
    }
}

/// `GitStore` lives inside the supervisor's ledger actor, which may move between threads: this
/// fails to compile if it ever stops being `Send`.
const _: fn() = || {
    fn is_send<T: Send>() {}
    is_send::<GitStore>();
};
