//! The object-database side of [`GitStore`]: opening the repository, writing a commit's objects
//! as one pack, rolling small packs up, and reopening gix's handle before its pack slots run out.

use super::{GitError, GitStore, layout, pack};
use std::path::{Path, PathBuf};

/// Bead blobs hashed and compressed into a pack of their own before the commit that names them
/// (off the committing thread); unreferenced until that commit, so a crash first leaves objects
/// git ignores (and a temporary file the next open removes when unfinished).
pub(crate) struct BlobPack {
    writer: pack::PackWriter,
    hash: gix::hash::Kind,
    pack_dir: PathBuf,
}

impl BlobPack {
    /// Add the blob of the bead whose line is `line` (as [`GitStore::commit`] would write it);
    /// returns its id.
    pub(crate) fn add_line(&mut self, line: &str) -> Result<gix::ObjectId, GitError> {
        let content = layout::file_content(line);
        let id =
            gix::objs::compute_hash(self.hash, gix::objs::Kind::Blob, &content).map_err(|e| {
                GitError::io("hash a bead blob", &self.pack_dir)(std::io::Error::other(e))
            })?;
        self.writer
            .add([(id, gix::objs::Kind::Blob, content)])
            .map_err(GitError::io("write a pack of bead blobs", &self.pack_dir))?;
        Ok(id)
    }

    /// Complete the pack and its index (nothing for a pack without blobs).
    pub(crate) fn finish(self) -> Result<(), GitError> {
        let pack_dir = self.pack_dir;
        self.writer
            .finish(self.hash)
            .map_err(GitError::io("write a pack of bead blobs", &pack_dir))?;
        Ok(())
    }
}

/// Reopen the repository after this many packs were written or removed through it.
const REOPEN_AFTER_PACKS: usize = 16;

/// Open the town's repository with room for the packs that commits add between reopenings.
pub(super) fn open_repo(path: &Path) -> Result<gix::Repository, gix::Error> {
    let slots = gix::odb::store::init::Slots::AsNeededByDiskState {
        multiplier: 2.0,
        minimum: 64,
    };
    gix::open_opts(
        path,
        gix::open::Options::default().object_store_slots(slots),
    )
}

impl GitStore {
    /// Housekeeping once the ref moved; failures are logged, the commit stands.
    pub(super) fn after_commit(&mut self) {
        match self.roll_up_packs() {
            Ok(touched) => self.packs_since_open += touched,
            // Leftover small packs only cost read time until the next try.
            Err(err) => tracing::warn!(error = %err, "could not roll up the ledger's small packs"),
        }
        if self.packs_since_open >= REOPEN_AFTER_PACKS {
            match open_repo(&self.cfg.repo_path) {
                Ok(repo) => {
                    self.repo = repo;
                    self.packs_since_open = 0;
                }
                Err(err) => tracing::warn!(error = %err, "could not reopen the town repository"),
            }
        }
    }

    /// A pack of bead blobs written ahead of the commit that will name them (a streaming
    /// import compresses them while it fills the index): see [`BlobPack`].
    pub(crate) fn blob_pack(&self) -> Result<BlobPack, GitError> {
        let pack_dir = self.pack_dir();
        let writer = pack::PackWriter::create_named(&pack_dir, "blobs")
            .map_err(GitError::io("write a pack of bead blobs", &pack_dir))?;
        Ok(BlobPack {
            writer,
            hash: self.repo.object_hash(),
            pack_dir,
        })
    }

    /// Put a finished [`BlobPack`] in sight: gix looks for existing objects without rescanning
    /// the pack directory, so the repository is opened again. A commit writing the same blobs
    /// then finds them and leaves them out of its own pack.
    pub(crate) fn adopt_blob_pack(&mut self) -> Result<(), GitError> {
        self.repo =
            open_repo(&self.cfg.repo_path).map_err(self.gix_err("reopen the town repository"))?;
        self.packs_since_open = 0;
        Ok(())
    }

    /// The directory of the repository's packs.
    pub(super) fn pack_dir(&self) -> PathBuf {
        self.repo.objects.store_ref().path().join("pack")
    }

    /// Write the objects collected in memory as one pack.
    pub(super) fn write_pack(
        &self,
        mut objects: gix::odb::memory::Storage,
    ) -> Result<(), GitError> {
        let mut objects: Vec<pack::PackObject> = std::mem::take(&mut *objects)
            .into_iter()
            .map(|(id, (kind, data))| (id, kind, data))
            .collect();
        let pack_dir = self.pack_dir();
        pack::write_pack(&pack_dir, &mut objects, self.repo.object_hash())
            .map_err(GitError::io("write a pack of ledger objects", &pack_dir))?;
        Ok(())
    }

    /// Merge the smallest packs into one, as `git repack --geometric=2` would, so that one pack
    /// per commit leaves O(log n) packs. Returns how many packs were written or removed.
    fn roll_up_packs(&self) -> Result<usize, GitError> {
        use gix::objs::Find;
        let pack_dir = self.pack_dir();
        let io_err = || GitError::io("roll up the ledger's packs", &pack_dir);
        let packs = pack::packs_to_roll_up(&pack_dir).map_err(io_err())?;
        if packs.len() < 2 {
            return Ok(0);
        }
        let mut objects = Vec::new();
        let mut buf = Vec::new();
        for index in &packs {
            for id in pack::index_ids(index, self.repo.object_hash()).map_err(io_err())? {
                let found = self
                    .repo
                    .objects
                    .try_find(&id, &mut buf)
                    .map_err(self.gix_err("read a packed object"))?;
                let data = found.ok_or_else(|| {
                    io_err()(std::io::Error::other(format!(
                        "object {id} of {} is missing",
                        index.display()
                    )))
                })?;
                objects.push((id, data.kind, data.data.to_vec()));
            }
        }
        objects.sort_unstable_by_key(|a| a.0);
        objects.dedup_by(|a, b| a.0 == b.0);
        pack::write_pack(&pack_dir, &mut objects, self.repo.object_hash()).map_err(io_err())?;
        packs
            .iter()
            .try_for_each(|index| pack::remove_pack(index))
            .map_err(io_err())?;
        tracing::debug!(
            packs = packs.len(),
            objects = objects.len(),
            "rolled up ledger packs"
        );
        Ok(packs.len() + 1)
    }
}
