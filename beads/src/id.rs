//! Bead ids: `prefix-<base36 hash>` whose hash length adapts to the size of the ledger, child ids
//! `parent.N`, and the validation of both prefixes and ids.
//!
//! The shape of an id, as the classic `bd` writes them (every id of the real corpus passes):
//!
//! ```text
//! bd-0088   bd-00pel   bd-0134cc5a   bd-mol-pjc   bd-beads-crew-dave   bd-xyz.1.2
//! ```
//!
//! - a base: segments of `[a-z0-9]` joined by single `-`, the first segment (the prefix) starting
//!   with a lowercase letter, at least two segments (so a prefix is always there); segments after
//!   the prefix may also hold uppercase letters, because current `bd` ledgers have mixed-case ids
//!   (`gt-gastown-polecat-Toast`): they are kept exactly as written, never lowercased, and
//!   `gt-a-Toast` and `gt-a-toast` are two ids (ids this ledger makes are always lowercase);
//! - then zero or more child numbers `.N` (decimal, no leading zeros);
//! - 64 bytes at most.
//!
//! New ids are `prefix-<hash>` where the hash is [`hash_id`]'s base36 text of a SHA-256, as long
//! as [`id_length_for`] says for the number of beads. A collision is retried with the next
//! nonce ([`generate_id`]), never overwritten.

use sha2::{Digest, Sha256};
use thiserror::Error;

/// Longest prefix accepted by [`validate_prefix`].
pub const MAX_PREFIX_LEN: usize = 16;
/// Longest id accepted by [`validate_id`].
pub const MAX_ID_LEN: usize = 64;
/// Shortest and longest hash that [`id_length_for`] chooses.
pub const MIN_HASH_LEN: usize = 3;
pub const MAX_HASH_LEN: usize = 8;

/// A prefix or an id that is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    #[error(
        "invalid prefix {prefix:?}: {why}; a prefix is 1 to 16 characters of a-z, 0-9 and '-', \
         starts with a lowercase letter and does not end with '-' (e.g. \"gt\", \"my-proj\")"
    )]
    InvalidPrefix { prefix: String, why: &'static str },
    #[error(
        "invalid bead id {id:?}: {why}; an id is prefix-hash with optional child numbers, \
         letters, digits, single '-' and '.N' only, the prefix lowercase (e.g. \"gt-a3f\", \
         \"gt-a3f.1.2\")"
    )]
    InvalidId { id: String, why: &'static str },
}

/// Check a ledger prefix: `[a-z][a-z0-9-]{0,15}`, no trailing `-` and no `--` (which would
/// make ids with an empty segment).
pub fn validate_prefix(p: &str) -> Result<(), IdError> {
    let bad = |why| {
        Err(IdError::InvalidPrefix {
            prefix: p.to_string(),
            why,
        })
    };
    if p.is_empty() {
        return bad("it is empty");
    }
    if p.len() > MAX_PREFIX_LEN {
        return bad("it is longer than 16 characters");
    }
    if !p.as_bytes()[0].is_ascii_lowercase() {
        return bad("it does not start with a lowercase letter");
    }
    if !p.bytes().all(|b| is_base36(b) || b == b'-') {
        return bad("it has a character other than a-z, 0-9 and '-'");
    }
    if p.ends_with('-') {
        return bad("it ends with '-'");
    }
    if p.contains("--") {
        return bad("it has '--'");
    }
    Ok(())
}

/// Check a bead id: `prefix-<base36>[.N]*` (see the module documentation for the exact shape).
pub fn validate_id(id: &str) -> Result<(), IdError> {
    let bad = |why| {
        Err(IdError::InvalidId {
            id: id.to_string(),
            why,
        })
    };
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.len() > MAX_ID_LEN {
        return bad("it is longer than 64 characters");
    }
    let mut parts = id.split('.');
    let base = parts.next().unwrap_or_default();
    if let Some(why) = base_problem(base) {
        return bad(why);
    }
    for child in parts {
        if child.is_empty() {
            return bad("it has an empty child number ('..' or a trailing '.')");
        }
        if !child.bytes().all(|b| b.is_ascii_digit()) {
            return bad("a child number after '.' is not a decimal number");
        }
        if child.len() > 1 && child.starts_with('0') {
            return bad("a child number has a leading zero");
        }
    }
    Ok(())
}

/// What is wrong with the part of an id before the first `.`, if anything.
fn base_problem(base: &str) -> Option<&'static str> {
    if base.is_empty() {
        return Some("it has nothing before the first '.'");
    }
    if !base
        .bytes()
        .all(|b| is_base36(b) || b.is_ascii_uppercase() || b == b'-')
    {
        return Some("it has a character other than a-z, A-Z, 0-9, '-' and '.'");
    }
    let mut segments = base.split('-');
    let first = segments.next().unwrap_or_default();
    if first.is_empty() || !first.as_bytes()[0].is_ascii_lowercase() {
        return Some("it does not start with a prefix beginning with a lowercase letter");
    }
    if first.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some("its prefix (before the first '-') has an uppercase letter");
    }
    let mut rest = 0;
    for seg in segments {
        if seg.is_empty() {
            return Some("it has an empty segment ('--' or a trailing '-')");
        }
        rest += 1;
    }
    if rest == 0 {
        return Some("it has no '-' between the prefix and the hash");
    }
    None
}

fn is_base36(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// `prefix-<hash>`: the hash is SHA-256 of `seed` followed by the nonce (4 bytes, little
/// endian), read as a number and written in base36, exactly `len` characters (zero padded).
/// `len` is clamped to 1..=12 (12 base36 digits still fit the 64 bits taken from the digest).
/// The same inputs always give the same id; a collision is retried with `nonce + 1`.
pub fn hash_id(prefix: &str, seed: &str, nonce: u32, len: usize) -> String {
    let len = len.clamp(1, 12);
    let mut h = Sha256::new();
    h.update(seed.as_bytes());
    h.update(nonce.to_le_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 36^len <= 36^12 < 2^64; for the lengths ids use (<= 8) 2^64 / 36^len > 6 million, so
    // the modulo bias is below 1e-6.
    let mut v = u64::from_be_bytes(first) % 36u64.pow(len as u32);
    let mut digits = vec![b'0'; len];
    for d in digits.iter_mut().rev() {
        *d = BASE36[(v % 36) as usize];
        v /= 36;
    }
    let hash = String::from_utf8(digits).expect("base36 digits are ASCII");
    format!("{prefix}-{hash}")
}

/// How many base36 characters a new id gets when the ledger holds `count` beads: the smallest
/// length in 3..=8 for which the next id collides with an existing one with probability
/// `count / 36^len` below 1%. (Over the whole ledger the birthday bound then keeps the expected
/// number of retried nonces per id below 0.01; a collision costs one retry, never an overwrite.)
///
/// | beads (`count`)          | length | 36^length       |
/// |--------------------------|--------|-----------------|
/// | 0 – 466                  | 3      | 46,656          |
/// | 467 – 16,796             | 4      | 1,679,616       |
/// | 16,797 – 604,661         | 5      | 60,466,176      |
/// | 604,662 – 21,767,823     | 6      | 2,176,782,336   |
/// | 21,767,824 – 783,641,640 | 7      | 78,364,164,096  |
/// | 783,641,641 and more     | 8      | 2,821,109,907,456 |
///
/// The real 3,003-bead `bd` corpus gets 4, as the classic `bd` chose for most of its ids.
pub fn id_length_for(count: usize) -> usize {
    let count = count as u128;
    (MIN_HASH_LEN..MAX_HASH_LEN)
        .find(|&len| count * 100 < 36u128.pow(len as u32))
        .unwrap_or(MAX_HASH_LEN)
}

/// The `n`th child of `parent`: `parent.n` (children are numbered from 1).
pub fn child_id(parent: &str, n: u32) -> String {
    format!("{parent}.{n}")
}

/// The parent of a child id (`bd-xyz.1.2` -> `bd-xyz.1`); `None` for a top-level id.
pub fn parent_of(id: &str) -> Option<&str> {
    id.rsplit_once('.').map(|(parent, _)| parent)
}

/// Was `id` (or its top-level parent, for a child `x.N`) made with `prefix`: exactly
/// `prefix-<hash>`, the hash one segment? `alpha-x-3f` is not `alpha`'s but `alpha-x`'s.
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    let base = id.split('.').next().unwrap_or_default();
    base.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hash| !hash.is_empty() && !hash.contains('-'))
}

/// The prefix a generated id was made with: everything before the last `-` of its top-level
/// part (`alpha-3f.2` -> `alpha`); `None` when that is not a valid prefix.
pub fn prefix_of(id: &str) -> Option<&str> {
    let base = id.split('.').next().unwrap_or_default();
    let (prefix, _) = base.rsplit_once('-')?;
    validate_prefix(prefix).ok().map(|()| prefix)
}

/// A new id that `exists` does not know: nonces 0, 1, … at [`id_length_for`]`(count)`; after
/// 16 collisions at one length the length grows by one (up to 12), so this always ends.
pub fn generate_id(
    prefix: &str,
    seed: &str,
    count: usize,
    mut exists: impl FnMut(&str) -> bool,
) -> String {
    let mut len = id_length_for(count);
    let mut nonce: u32 = 0;
    loop {
        for _ in 0..16 {
            let id = hash_id(prefix, seed, nonce, len);
            nonce = nonce.wrapping_add(1);
            if !exists(&id) {
                return id;
            }
        }
        len = (len + 1).min(12);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_an_id_was_made_with() {
        assert!(has_prefix("alpha-3f", "alpha"));
        assert!(has_prefix("alpha-3f.2.1", "alpha"));
        assert!(!has_prefix("alpha-x-3f", "alpha"));
        assert!(has_prefix("alpha-x-3f", "alpha-x"));
        assert!(!has_prefix("alphabet-3f", "alpha"));
        assert!(!has_prefix("alpha-", "alpha"));
        assert!(!has_prefix("gt-3f", "alpha"));
        assert_eq!(prefix_of("alpha-3f.2"), Some("alpha"));
        assert_eq!(prefix_of("my-proj-a1b"), Some("my-proj"));
        assert_eq!(prefix_of("gt-3f"), Some("gt"));
        assert_eq!(prefix_of("nohyphen"), None);
    }

    #[test]
    fn prefixes() {
        for ok in ["gt", "bd", "a", "my-proj", "x1", "abcdefghijklmnop"] {
            assert_eq!(validate_prefix(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "Gt",
            "1gt",
            "-gt",
            "gt-",
            "g t",
            "g.t",
            "g--t",
            "abcdefghijklmnopq",
            "gé",
        ] {
            assert!(validate_prefix(bad).is_err(), "{bad:?} must be refused");
        }
        let msg = validate_prefix("Gt").expect_err("uppercase").to_string();
        assert!(msg.contains("starts with a lowercase letter"), "{msg}");
    }

    #[test]
    fn ids() {
        for ok in [
            "bd-0088",
            "bd-0134cc5a",
            "bd-mol-pjc",
            "bd-00pel",
            "bd-xyz.1.2",
            "bd-3",
            "bd-beads-crew-gastown-dennis",
            "gt-a3f.10",
            "gt-gastown-polecat-Toast",
            "bd-X1",
        ] {
            assert_eq!(validate_id(ok), Ok(()), "{ok}");
        }
        for bad in [
            "", "bd", "abc", "-abc", "bd-", "bd--x", "BD-1", "bD-1", "Gt-x", "bd 1", "bd-1 ",
            "bd-1..2", "bd-1.", ".1", "bd-1.a", "bd-1.01", "1d-abc", "bd-1/2", "../etc", "bd-a\n",
        ] {
            assert!(validate_id(bad).is_err(), "{bad:?} must be refused");
        }
        let long = format!("bd-{}", "a".repeat(62));
        assert!(validate_id(&long).is_err());
        let msg = validate_id("bd-1..2").expect_err("empty child").to_string();
        assert!(
            msg.contains("bd-1..2") && msg.contains("gt-a3f.1.2"),
            "{msg}"
        );
    }

    #[test]
    fn hash_ids_are_deterministic_and_sized() {
        let a = hash_id("gt", "title|desc|2026-01-01T00:00:00Z", 0, 4);
        assert_eq!(a, hash_id("gt", "title|desc|2026-01-01T00:00:00Z", 0, 4));
        assert_ne!(a, hash_id("gt", "title|desc|2026-01-01T00:00:00Z", 1, 4));
        assert_eq!(a.len(), "gt-".len() + 4);
        for len in 1..=12 {
            let id = hash_id("bd", "seed", 7, len);
            assert_eq!(id.len(), 3 + len);
            assert_eq!(validate_id(&id), Ok(()), "{id}");
        }
        assert_eq!(hash_id("bd", "s", 0, 40).len(), 3 + 12);
        // The prefix of a longer hash is not the shorter hash (modulo differs) but both are valid.
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|n| hash_id("gt", "same", n, 5)).collect();
        assert!(ids.len() > 990, "nonces spread: {}", ids.len());
    }

    #[test]
    fn length_follows_the_table() {
        let cases = [
            (0, 3),
            (466, 3),
            (467, 4),
            (3003, 4),
            (16_796, 4),
            (16_797, 5),
            (100_000, 5),
            (604_661, 5),
            (604_662, 6),
            (21_767_823, 6),
            (21_767_824, 7),
            (783_641_640, 7),
            (783_641_641, 8),
            (usize::MAX, 8),
        ];
        for (count, len) in cases {
            assert_eq!(id_length_for(count), len, "count {count}");
        }
    }

    #[test]
    fn children_and_parents() {
        assert_eq!(child_id("bd-xyz", 1), "bd-xyz.1");
        assert_eq!(child_id("bd-xyz.1", 2), "bd-xyz.1.2");
        assert_eq!(parent_of("bd-xyz.1.2"), Some("bd-xyz.1"));
        assert_eq!(parent_of("bd-xyz"), None);
        assert_eq!(validate_id(&child_id("bd-xyz", 3)), Ok(()));
    }

    #[test]
    fn generate_retries_collisions_and_grows() {
        let first = generate_id("gt", "seed", 0, |_| false);
        assert_eq!(first, hash_id("gt", "seed", 0, 3));
        let second = generate_id("gt", "seed", 0, |id| id == first);
        assert_eq!(second, hash_id("gt", "seed", 1, 3));
        // Everything of length 3 is taken: the length grows after 16 tries.
        let grown = generate_id("gt", "seed", 0, |id| id.len() == "gt-".len() + 3);
        assert_eq!(grown.len(), "gt-".len() + 4);
    }
}
