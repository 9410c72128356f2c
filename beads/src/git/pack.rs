//! Writing a commit's new objects as one pack (`.pack` + `.idx` v2) instead of hundreds of loose
//! object files, and rolling small packs up geometrically so their number stays logarithmic.
//!
//! Why: a loose object costs a file (an inode, a rename, a directory entry); a commit of 100 beads
//! at 100k makes ~300 objects, and creating 300 files dominated the commit time. One pack per
//! commit costs two files whatever k is. Packs are written like git writes them (no deltas,
//! zlib level 1, `pack-<checksum>.{pack,idx}`, synced before they become visible, the index last),
//! so git and gix read them as usual, and `git gc` may repack them at will.

use gix::ObjectId;
use gix::objs::Kind;
use gix::zlib::stream::deflate::{Compress, FlushCompress};
use gix::zlib::{Compression, Status};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An object to pack: its id, kind and uncompressed data.
pub(crate) type PackObject = (ObjectId, Kind, Vec<u8>);

/// Roll packs up when a pack is less than this many times bigger than the ones below it.
const GEOMETRIC_FACTOR: u64 = 2;
/// Leave packs alone until there are more than this many: most commits then write one pack and
/// stop, and the roll-up work comes in fewer, larger batches.
const PACKS_BEFORE_ROLL_UP: usize = 8;

/// Write `objects` as one pack in `pack_dir` and return the path of its index; nothing is
/// written for no objects.
pub(crate) fn write_pack(
    pack_dir: &Path,
    objects: &mut [PackObject],
    hash: gix::hash::Kind,
) -> io::Result<Option<PathBuf>> {
    if objects.is_empty() {
        return Ok(None);
    }
    objects.sort_unstable_by_key(|a| a.0);
    let (pack, entries) = encode_pack(objects, hash)?;
    let checksum = &pack[pack.len() - hash.len_in_bytes()..];
    let index = encode_index(&entries, checksum, hash)?;
    let name = format!("pack-{}", hex(checksum));
    fs::create_dir_all(pack_dir)?;
    // Both files are synced at the same time: a sync is mostly waiting for the disk.
    let (pack_temp, index_temp) = std::thread::scope(|scope| {
        let pack_writer = scope.spawn(|| write_synced(pack_dir, &format!("{name}.pack"), &pack));
        let index_temp = write_synced(pack_dir, &format!("{name}.idx"), &index);
        let pack_temp = pack_writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (pack_temp, index_temp)
    });
    let (pack_temp, index_temp) = (pack_temp?, index_temp?);
    // The pack first, its index last: readers only look for packs through their index.
    fs::rename(&pack_temp, pack_dir.join(format!("{name}.pack")))?;
    let index_path = pack_dir.join(format!("{name}.idx"));
    fs::rename(&index_temp, &index_path)?;
    fs::File::open(pack_dir)?.sync_all()?;
    Ok(Some(index_path))
}

/// One pack written to disk as its objects come, in as many batches as the caller likes, for a
/// commit too large to hold its objects in memory (the first commit of a million imported
/// beads): memory holds one batch and an entry (id, offset, CRC) per object. The same format as
/// [`write_pack`]; the object count in the header is filled in at the end, and the checksum
/// computed then by reading the file back.
pub(crate) struct PackWriter {
    dir: PathBuf,
    temp_path: PathBuf,
    /// `None` once finished.
    file: Option<io::BufWriter<fs::File>>,
    offset: u64,
    entries: Vec<PackEntry>,
    /// Ids already in the pack (a batch may repeat an object an earlier one had).
    seen: std::collections::HashSet<ObjectId>,
    zlib: Compress,
    entry: Vec<u8>,
}

impl PackWriter {
    /// Start a pack in `pack_dir` (a temporary file until [`PackWriter::finish`]).
    pub(crate) fn create(pack_dir: &Path) -> io::Result<PackWriter> {
        PackWriter::create_named(pack_dir, "streamed")
    }

    /// [`PackWriter::create`] with its temporary file told apart by `tag`, for two packs
    /// written at once.
    pub(crate) fn create_named(pack_dir: &Path, tag: &str) -> io::Result<PackWriter> {
        use std::os::unix::fs::OpenOptionsExt;
        fs::create_dir_all(pack_dir)?;
        let temp_path = pack_dir.join(format!("{TEMP_PREFIX}{}-{tag}.pack", std::process::id()));
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&temp_path)?;
        let mut file = io::BufWriter::with_capacity(1 << 20, file);
        file.write_all(b"PACK")?;
        file.write_all(&2u32.to_be_bytes())?;
        file.write_all(&0u32.to_be_bytes())?;
        Ok(PackWriter {
            dir: pack_dir.to_path_buf(),
            temp_path,
            file: Some(file),
            offset: 12,
            entries: Vec::new(),
            seen: std::collections::HashSet::new(),
            zlib: Compress::new(Compression::BEST_SPEED),
            entry: Vec::new(),
        })
    }

    /// Append a batch of objects (one already in the pack is left out).
    pub(crate) fn add(&mut self, objects: impl IntoIterator<Item = PackObject>) -> io::Result<()> {
        for (id, kind, data) in objects {
            if !self.seen.insert(id) {
                continue;
            }
            self.entry.clear();
            entry_header(&mut self.entry, pack_type(kind), data.len());
            if kind == Kind::Tree {
                stored_zlib(&data, &mut self.entry);
            } else {
                deflate(&mut self.zlib, &data, &mut self.entry)?;
            }
            self.file
                .as_mut()
                .ok_or_else(|| io::Error::other("the pack is finished"))?
                .write_all(&self.entry)?;
            self.entries.push(PackEntry {
                id,
                offset: self.offset,
                crc32: crc32(&self.entry),
            });
            self.offset += self.entry.len() as u64;
        }
        Ok(())
    }

    /// Complete the pack and its index, synced, and move both into place (the index last, as
    /// [`write_pack`] does); returns the index's path. Nothing for a pack without objects.
    pub(crate) fn finish(mut self, hash: gix::hash::Kind) -> io::Result<Option<PathBuf>> {
        use std::io::{Read, Seek, SeekFrom};
        use std::os::unix::fs::PermissionsExt;
        let Some(mut file) = self.file.take() else {
            return Err(io::Error::other("the pack is finished"));
        };
        if self.entries.is_empty() {
            return Ok(None); // the temporary file goes with `self`
        }
        let count = u32::try_from(self.entries.len())
            .map_err(|_| io::Error::other("too many objects for one pack"))?;
        file.flush()?;
        let mut file = file.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(8))?;
        file.write_all(&count.to_be_bytes())?;
        file.seek(SeekFrom::Start(0))?;
        let mut hasher = gix::hash::hasher(hash);
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            hasher.update(&chunk[..n]);
        }
        let checksum = hasher.try_finalize().map_err(io::Error::other)?;
        file.seek(SeekFrom::End(0))?;
        file.write_all(checksum.as_bytes())?;
        file.set_permissions(fs::Permissions::from_mode(0o444))?;
        file.sync_data()?;
        drop(file);
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_unstable_by_key(|e| e.id);
        let index = encode_index(&entries, checksum.as_bytes(), hash)?;
        let name = format!("pack-{}", hex(checksum.as_bytes()));
        let index_temp = write_synced(&self.dir, &format!("{name}.idx"), &index)?;
        fs::rename(&self.temp_path, self.dir.join(format!("{name}.pack")))?;
        let index_path = self.dir.join(format!("{name}.idx"));
        fs::rename(&index_temp, &index_path)?;
        fs::File::open(&self.dir)?.sync_all()?;
        Ok(Some(index_path))
    }
}

impl Drop for PackWriter {
    /// A pack given up (an error on the way) leaves no temporary file behind; a finished one
    /// was renamed already.
    fn drop(&mut self) {
        if self.temp_path.exists() {
            let _ = fs::remove_file(&self.temp_path);
        }
    }
}

/// Where an object landed in a pack: its id, offset and the CRC-32 of its entry bytes.
struct PackEntry {
    id: ObjectId,
    offset: u64,
    crc32: u32,
}

/// The bytes of a version 2 pack holding `objects` undeltified, with its trailing checksum.
fn encode_pack(
    objects: &[PackObject],
    hash: gix::hash::Kind,
) -> io::Result<(Vec<u8>, Vec<PackEntry>)> {
    let mut pack =
        Vec::with_capacity(objects.iter().map(|o| o.2.len() / 2 + 16).sum::<usize>() + 64);
    pack.extend_from_slice(b"PACK");
    pack.extend_from_slice(&2u32.to_be_bytes());
    let count = u32::try_from(objects.len())
        .map_err(|_| io::Error::other("too many objects for one pack"))?;
    pack.extend_from_slice(&count.to_be_bytes());
    let mut zlib = Compress::new(Compression::BEST_SPEED);
    let mut entries = Vec::with_capacity(objects.len());
    for (id, kind, data) in objects {
        let offset = pack.len();
        entry_header(&mut pack, pack_type(*kind), data.len());
        if *kind == Kind::Tree {
            // Trees are mostly object ids, which do not compress: store them.
            stored_zlib(data, &mut pack);
        } else {
            deflate(&mut zlib, data, &mut pack)?;
        }
        entries.push(PackEntry {
            id: *id,
            offset: offset as u64,
            crc32: crc32(&pack[offset..]),
        });
    }
    let checksum = digest(hash, &[&pack])?;
    pack.extend_from_slice(checksum.as_bytes());
    Ok((pack, entries))
}

/// A version 2 pack index for `entries` (sorted by id) of the pack with `checksum`.
fn encode_index(
    entries: &[PackEntry],
    checksum: &[u8],
    hash: gix::hash::Kind,
) -> io::Result<Vec<u8>> {
    let mut index = Vec::with_capacity(8 + 1024 + entries.len() * (hash.len_in_bytes() + 8) + 64);
    index.extend_from_slice(&[0xff, b't', b'O', b'c']);
    index.extend_from_slice(&2u32.to_be_bytes());
    let mut fanout = [0u32; 256];
    for entry in entries {
        fanout[entry.id.as_bytes()[0] as usize] += 1;
    }
    let mut running = 0u32;
    for count in fanout {
        running += count;
        index.extend_from_slice(&running.to_be_bytes());
    }
    entries
        .iter()
        .for_each(|e| index.extend_from_slice(e.id.as_bytes()));
    entries
        .iter()
        .for_each(|e| index.extend_from_slice(&e.crc32.to_be_bytes()));
    let mut large = Vec::new();
    for entry in entries {
        let small = match u32::try_from(entry.offset) {
            Ok(offset) if offset < 0x8000_0000 => offset,
            _ => {
                large.push(entry.offset);
                0x8000_0000 | (large.len() as u32 - 1)
            }
        };
        index.extend_from_slice(&small.to_be_bytes());
    }
    large
        .iter()
        .for_each(|offset| index.extend_from_slice(&offset.to_be_bytes()));
    index.extend_from_slice(checksum);
    let own = digest(hash, &[&index])?;
    index.extend_from_slice(own.as_bytes());
    Ok(index)
}

/// The packs of `pack_dir` to roll up into one: the smallest ones, up to where the remaining
/// packs grow geometrically (each at least twice the sum below it), like `git repack --geometric=2`.
/// Returns the index paths; fewer than two means nothing to do.
pub(crate) fn packs_to_roll_up(pack_dir: &Path) -> io::Result<Vec<PathBuf>> {
    if pack_dir.join("multi-pack-index").exists() {
        return Ok(Vec::new()); // leave repositories maintained by `git multi-pack-index` alone
    }
    let mut packs = Vec::new();
    for entry in fs::read_dir(pack_dir)? {
        let path = entry?.path();
        let is_index = path.extension().is_some_and(|e| e == "idx");
        if is_index && !path.with_extension("keep").exists() {
            packs.push((object_count(&path)?, path));
        }
    }
    if packs.len() <= PACKS_BEFORE_ROLL_UP {
        return Ok(Vec::new());
    }
    packs.sort();
    let sizes: Vec<u64> = packs.iter().map(|p| p.0).collect();
    let split = geometric_split(&sizes);
    Ok(packs.into_iter().take(split).map(|p| p.1).collect())
}

/// How many of the ascending `sizes` to roll up so that the rest form a geometric progression.
fn geometric_split(sizes: &[u64]) -> usize {
    // From the top: the largest packs that already grow geometrically stay.
    let mut split = sizes.len();
    while split >= 2 && sizes[split - 1] >= GEOMETRIC_FACTOR * sizes[split - 2] {
        split -= 1;
    }
    if split <= 1 {
        return 0;
    }
    // Then every pack too small next to the rolled-up sum joins it.
    let mut rolled: u64 = sizes[..split].iter().sum();
    while split < sizes.len() && sizes[split] < GEOMETRIC_FACTOR * rolled {
        rolled += sizes[split];
        split += 1;
    }
    split
}

/// The object ids listed in the pack index at `index_path` (version 2).
pub(crate) fn index_ids(index_path: &Path, hash: gix::hash::Kind) -> io::Result<Vec<ObjectId>> {
    let data = fs::read(index_path)?;
    let count = count_in_index(&data, index_path)? as usize;
    let len = hash.len_in_bytes();
    let names = data
        .get(8 + 1024..8 + 1024 + count * len)
        .ok_or_else(|| bad_index(index_path, "it is truncated"))?;
    Ok(names
        .chunks_exact(len)
        .map(ObjectId::from_bytes_or_panic)
        .collect())
}

/// Remove a rolled-up pack: its index first (so no reader picks it up), then the rest.
pub(crate) fn remove_pack(index_path: &Path) -> io::Result<()> {
    fs::remove_file(index_path)?;
    for ext in ["pack", "rev", "bitmap", "mtimes"] {
        match fs::remove_file(index_path.with_extension(ext)) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
    }
    Ok(())
}

fn object_count(index_path: &Path) -> io::Result<u64> {
    let mut header = vec![0u8; 8 + 1024];
    let mut file = fs::File::open(index_path)?;
    io::Read::read_exact(&mut file, &mut header)?;
    count_in_index(&header, index_path).map(u64::from)
}

fn count_in_index(data: &[u8], index_path: &Path) -> io::Result<u32> {
    if data.len() < 8 + 1024
        || data[..4] != [0xff, b't', b'O', b'c']
        || data[4..8] != 2u32.to_be_bytes()
    {
        return Err(bad_index(index_path, "it is not a version 2 pack index"));
    }
    let last = &data[8 + 1020..8 + 1024];
    Ok(u32::from_be_bytes(last.try_into().expect("four bytes")))
}

fn bad_index(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {why}", path.display()),
    )
}

/// The prefix of the temporary files a pack is written to before it is renamed into place.
const TEMP_PREFIX: &str = ".tmp-gastown-";

/// Remove temporary pack files left by writers that died (`kill -9` mid-commit). Only files of
/// processes that no longer exist are touched; without `/proc` nothing is.
pub(crate) fn remove_stale_temp_files(pack_dir: &Path) -> io::Result<usize> {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() || !pack_dir.is_dir() {
        return Ok(0);
    }
    let mut removed = 0;
    for entry in fs::read_dir(pack_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEMP_PREFIX)?.split('-').next())
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !proc.join(pid).exists() {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Write `data` to a temporary file in `dir` (read-only, like git's packs) and sync it to disk;
/// returns the temporary path. The caller renames it into place.
fn write_synced(dir: &Path, name: &str, data: &[u8]) -> io::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let temp_path = dir.join(format!("{TEMP_PREFIX}{}-{name}", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o444)
        .open(&temp_path)?;
    file.write_all(data)?;
    file.sync_data()?;
    Ok(temp_path)
}

/// The pack type number of an object kind.
fn pack_type(kind: Kind) -> u8 {
    match kind {
        Kind::Commit => 1,
        Kind::Tree => 2,
        Kind::Blob => 3,
        Kind::Tag => 4,
    }
}

/// A pack entry header: the type and the uncompressed size, little-endian base-128.
fn entry_header(out: &mut Vec<u8>, kind: u8, size: usize) {
    let mut size = size as u64;
    let mut byte = (kind << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size > 0 {
        out.push(byte | 0x80);
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    out.push(byte);
}

/// Append the zlib stream of `data` to `out`.
fn deflate(zlib: &mut Compress, data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    zlib.reset();
    let mut chunk = [0u8; 16 * 1024];
    let mut input = data;
    loop {
        let (before_in, before_out) = (zlib.total_in(), zlib.total_out());
        let status = zlib
            .compress(input, &mut chunk, FlushCompress::Finish)
            .map_err(io::Error::other)?;
        let consumed = (zlib.total_in() - before_in) as usize;
        let written = (zlib.total_out() - before_out) as usize;
        out.extend_from_slice(&chunk[..written]);
        input = &input[consumed..];
        if matches!(status, Status::StreamEnd) {
            return Ok(());
        }
        if consumed == 0 && written == 0 {
            return Err(io::Error::other(
                "zlib made no progress compressing an object",
            ));
        }
    }
}

/// Append `data` as a zlib stream of stored (uncompressed) deflate blocks.
fn stored_zlib(data: &[u8], out: &mut Vec<u8>) {
    const BLOCK: usize = 65_535;
    out.extend_from_slice(&[0x78, 0x01]);
    let mut blocks = data.chunks(BLOCK).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]); // one empty final block
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
}

fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5_552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

fn digest(hash: gix::hash::Kind, parts: &[&[u8]]) -> io::Result<ObjectId> {
    let mut hasher = gix::hash::hasher(hash);
    parts.iter().for_each(|p| hasher.update(p));
    hasher.try_finalize().map_err(io::Error::other)
}

/// CRC-32 (IEEE), as pack indexes record it for each entry; slicing-by-8 tables.
fn crc32(data: &[u8]) -> u32 {
    static TABLES: std::sync::OnceLock<[[u32; 256]; 8]> = std::sync::OnceLock::new();
    let t = TABLES.get_or_init(|| {
        let mut t = [[0u32; 256]; 8];
        for (i, slot) in t[0].iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        for i in 0..256 {
            for k in 1..8 {
                t[k][i] = (t[k - 1][i] >> 8) ^ t[0][(t[k - 1][i] & 0xff) as usize];
            }
        }
        t
    });
    let mut crc = !0u32;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        crc = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    for &b in chunks.remainder() {
        crc = t[0][((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn stored_zlib_inflates_back() {
        for data in [
            Vec::new(),
            b"tree".to_vec(),
            (0..200_000u32).map(|i| (i % 251) as u8).collect(),
        ] {
            let mut stream = Vec::new();
            stored_zlib(&data, &mut stream);
            let mut out = vec![0u8; data.len() + 16];
            let (status, consumed, written) = gix::zlib::Inflate::default()
                .once(&stream, &mut out)
                .expect("a valid zlib stream");
            assert!(matches!(status, Status::StreamEnd), "{} bytes", data.len());
            assert_eq!((consumed, &out[..written]), (stream.len(), &data[..]));
        }
    }

    #[test]
    fn entry_header_encodes_type_and_size() {
        let mut out = Vec::new();
        entry_header(&mut out, 3, 5);
        assert_eq!(out, [0x35]);
        out.clear();
        entry_header(&mut out, 2, 300); // 300 = 0b1_0010_1100
        assert_eq!(out, [0x80 | 0x20 | 0x0c, 0x12]);
    }

    #[test]
    fn geometric_split_rolls_up_only_the_small_packs() {
        let check = |sizes: &[u64], expected: usize| {
            assert_eq!(geometric_split(sizes), expected, "{sizes:?}")
        };
        check(&[], 0);
        check(&[100], 0);
        check(&[10, 100], 0); // already geometric
        check(&[10, 12], 2);
        check(&[300, 300, 300, 100_000], 3);
        check(&[1, 2, 4, 8, 16], 0);
        check(&[300, 300, 500, 2_000, 100_000], 4);
    }
}
