//! The sharded tree layout of the ledger branch: where a bead's file lives, what a bead file
//! holds, the README at the root, and the default commit message.
//!
//! ```text
//! README.md                               what this branch is (written once, kept)
//! issues/<h1>/<h2>/<h3>/<h4>/<id>.jsonl   one bead: its JSON line + '\n'
//! ```
//! `h1`…`h4` are the first four hex digits of SHA-256(id), one directory level each. Four levels
//! of 16 keep every tree tiny (≤ 16 entries above the leaves, ~1.5 files per leaf at 100k beads,
//! ~150 at 10M), so a commit that touches k beads rewrites k blobs, at most 4k trees of ≤ 16
//! entries and the root, whatever the total. (Two levels of 256 — `aa/bb` — cost about 2× the time
//! and 4–5× more repository growth per commit: every touched tree holds 256 entries.)

use super::{Change, GitError};
use sha2::{Digest, Sha256};

/// The directory at the root of the ledger tree that holds the shards.
pub(crate) const ISSUES_DIR: &str = "issues";
/// The file name suffix of a bead file.
pub(crate) const BEAD_SUFFIX: &str = ".jsonl";
/// The README at the root of the ledger tree.
pub(crate) const README_NAME: &str = "README.md";
/// The longest id we accept (git itself allows far longer names; ids are 3–8 chars + children).
const MAX_ID_LEN: usize = 200;

/// What `README.md` at the root of the ledger branch says.
pub(crate) const README_TEXT: &str = "\
# Gas Town ledger (beads)

This branch is written by gastown, never checked out: it is the durable history of the town's
beads (issues, mail, molecules, agents). Do not commit to it by hand while a gastown runs.

Layout: one file per bead, holding the bead's JSON line (the classic beads JSONL schema):

    issues/<h1>/<h2>/<h3>/<h4>/<id>.jsonl

where `<h1>`..`<h4>` are the first four hex digits of SHA-256 of the bead id (`gt-abc` lives
at `issues/e/4/d/a/gt-abc.jsonl`). The four levels of 16 shards keep every git tree small, so a
commit that changes a few beads costs the same at one thousand beads as at one million.

To get one classic `issues.jsonl` (sorted by id) that the classic `bd` reads, run:

    gastown bead export -o issues.jsonl
";

/// How many levels of 16 shard directories lie between `issues/` and the bead files.
pub(crate) const SHARD_LEVELS: usize = 4;

/// The path of bead `id`'s file: `issues/<h1>/<h2>/<h3>/<h4>/<id>.jsonl` (the id holds no '/').
pub(crate) fn bead_path(id: &str) -> String {
    format!("{ISSUES_DIR}/{}/{id}{BEAD_SUFFIX}", shard(id))
}

/// Which of the 16 top shard directories (`issues/<h1>`) bead `id` lives under: the first hex
/// digit of SHA-256(id), 0–15. A large commit is written one part per top shard
/// ([`super::GitStore::commit_in_parts`]).
pub fn top_shard(id: &str) -> usize {
    usize::from(Sha256::digest(id.as_bytes())[0] >> 4)
}

/// The first 16 bits of SHA-256(id): its four shard directories, one hex digit each.
pub(crate) fn shard_bits(id: &str) -> u16 {
    let digest = Sha256::digest(id.as_bytes());
    u16::from_be_bytes([digest[0], digest[1]])
}

/// The shard directories of `id`: the first four hex digits of SHA-256(id), one per level
/// (`e/4/d/a` for `gt-abc`).
pub(crate) fn shard(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let hex = format!("{:02x}{:02x}", digest[0], digest[1]);
    let mut dirs = String::with_capacity(2 * SHARD_LEVELS);
    for (i, digit) in hex.chars().take(SHARD_LEVELS).enumerate() {
        if i > 0 {
            dirs.push('/');
        }
        dirs.push(digit);
    }
    dirs
}

/// Refuse ids that cannot be a single, ordinary file name in a git tree.
pub(crate) fn validate_id(id: &str) -> Result<(), GitError> {
    let reason = if id.is_empty() {
        Some("it is empty")
    } else if id.len() > MAX_ID_LEN {
        Some("it is longer than 200 bytes")
    } else if id.starts_with('.') {
        Some("it starts with '.'")
    } else if id
        .bytes()
        .any(|b| b == b'/' || b == b'\\' || b.is_ascii_control())
    {
        Some("it contains '/', '\\' or a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(GitError::InvalidId {
            id: id.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Check a change before anything is written.
pub(crate) fn validate_change(change: &Change) -> Result<(), GitError> {
    validate_id(change.id())?;
    if let Change::Put { id, line } = change
        && (line.contains('\n') || line.contains('\r'))
    {
        return Err(GitError::MultiLine { id: id.clone() });
    }
    Ok(())
}

/// The bytes of a bead file: the line and one '\n'.
pub(crate) fn file_content(line: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len() + 1);
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
    out
}

/// The line held by a bead file, or why the file is not a bead file.
pub(crate) fn parse_content(data: &[u8]) -> Result<String, &'static str> {
    let text = std::str::from_utf8(data).map_err(|_| "it is not UTF-8")?;
    let line = text.strip_suffix('\n').unwrap_or(text);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim().is_empty() {
        return Err("it is empty");
    }
    if line.contains('\n') {
        return Err("it holds more than one line");
    }
    Ok(line.to_owned())
}

/// The bead id a file name stands for, if it is a bead file name.
pub(crate) fn id_of_file(name: &str) -> Option<&str> {
    name.strip_suffix(BEAD_SUFFIX).filter(|id| !id.is_empty())
}

/// The default commit message: `ledger: 3 beads (gt-abc, gt-def, gt-ghi)`, listing at most five ids.
pub fn commit_message(changes: &[Change]) -> String {
    let mut ids: Vec<&str> = changes.iter().map(Change::id).collect();
    ids.sort_unstable();
    ids.dedup();
    commit_message_of(&ids)
}

/// [`commit_message`] for the ids of the changes, sorted and without repeats.
pub fn commit_message_of(ids: &[&str]) -> String {
    const SHOWN: usize = 5;
    let noun = if ids.len() == 1 { "bead" } else { "beads" };
    let mut shown = ids
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        shown.push_str(", …");
    }
    format!("ledger: {} {noun} ({shown})", ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(id: &str) -> Change {
        Change::Put {
            id: id.to_owned(),
            line: "{}".to_owned(),
        }
    }

    #[test]
    fn shard_is_pinned() {
        // SHA-256("gt-abc") = e4da…: pinned so the layout of existing branches never drifts.
        assert_eq!(shard("gt-abc"), "e/4/d/a");
        assert_eq!(bead_path("gt-abc"), "issues/e/4/d/a/gt-abc.jsonl");
    }

    #[test]
    fn bad_ids_are_refused() {
        for id in ["", ".hidden", "a/b", "a\\b", "a\nb", &"x".repeat(201)] {
            assert!(
                matches!(validate_id(id), Err(GitError::InvalidId { .. })),
                "{id:?}"
            );
        }
        for id in ["gt-abc", "gt-abc.1.2", "hq-zz9"] {
            assert!(validate_id(id).is_ok(), "{id:?}");
        }
    }

    #[test]
    fn multi_line_put_is_refused() {
        let change = Change::Put {
            id: "gt-a".to_owned(),
            line: "{}\n{}".to_owned(),
        };
        assert!(matches!(
            validate_change(&change),
            Err(GitError::MultiLine { .. })
        ));
    }

    #[test]
    fn content_round_trips_and_rejects_junk() {
        assert_eq!(
            parse_content(&file_content(r#"{"id":"gt-a"}"#)),
            Ok(r#"{"id":"gt-a"}"#.to_owned())
        );
        assert_eq!(parse_content(b"{}"), Ok("{}".to_owned()));
        assert_eq!(parse_content(b"\n"), Err("it is empty"));
        assert_eq!(
            parse_content(b"{}\n{}\n"),
            Err("it holds more than one line")
        );
        assert_eq!(parse_content(&[0xff, b'\n']), Err("it is not UTF-8"));
    }

    #[test]
    fn file_names_map_to_ids() {
        assert_eq!(id_of_file("gt-a.1.jsonl"), Some("gt-a.1"));
        assert_eq!(id_of_file(".jsonl"), None);
        assert_eq!(id_of_file("notes.txt"), None);
    }

    #[test]
    fn commit_message_lists_a_few_ids() {
        assert_eq!(
            commit_message(&[put("gt-b"), put("gt-a")]),
            "ledger: 2 beads (gt-a, gt-b)"
        );
        assert_eq!(commit_message(&[put("gt-a")]), "ledger: 1 bead (gt-a)");
        let many: Vec<Change> = (0..7).map(|i| put(&format!("gt-{i}"))).collect();
        assert_eq!(
            commit_message(&many),
            "ledger: 7 beads (gt-0, gt-1, gt-2, gt-3, gt-4, …)"
        );
    }
}
