//! Import and export of `bd` JSONL files (one JSON object a line).
//!
//! [`parse_export`] reads what the classic `bd` writes (`.beads/issues.jsonl`: one bead a line)
//! and what current `bd` exports add around it:
//! - blank lines (and a `\r` before the `\n`, and a byte-order mark) are skipped;
//! - header and metadata lines are skipped: an object with a `_schema` key, an object whose
//!   `_type` is anything but `"issue"` (`{"_type":"header",…}`, `{"_type":"meta","count":3}`),
//!   and an object without `id` that carries a count (`{"count":3}`, `{"issue_count":3}`);
//! - `{"_type":"issue",…}` is a bead: the `_type` key is dropped, everything else is kept
//!   (classic lines carry no `_type`, so they come back exactly as they were read);
//! - comment ids may be integers (classic) or strings (current) and are kept as written;
//! - tombstones (`"status":"tombstone"` with `deleted_at`, …) are beads like any other;
//! - a record without `status` is `open` and one without `issue_type` a `task`, as `bd` reads
//!   them (current `bd` writes both with Go's `omitempty`); `id`, `title` and `created_at` are
//!   required;
//! - other record types of current exports (`{"_type":"memory",…}`, `{"_type":"gate",…}`) are
//!   skipped like headers: they are not beads;
//! - `null` in a field this ledger knows means the field is absent (`"assignee": null`), and
//!   `ephemeral`/`pinned` may be `0`/`1` (current `bd` writes them from SQL): such a line is
//!   read as if the field were missing or `false`/`true` (a line that needs none of this is read
//!   exactly as written, so classic lines still round-trip byte for byte);
//! - a row of current `bd`'s issues table (what `.beads/backup/issues.jsonl` holds: every column,
//!   sorted keys, nulls, integer booleans) is read through [`crate::backup::bead_from_row`].
//!
//! [`detect_format`] tells which of the three a file is (by its first record).
//!
//! It is all or nothing: the first malformed line, invalid id or repeated id is an error that
//! names the file and the 1-based line, and no bead is returned.
//!
//! [`write_export`] writes one `issues.jsonl` the classic `bd` reads: sorted by id, one compact
//! object a line, `closed_at` present exactly when the status is `closed`, every comment id an
//! integer (a UUID of current `bd` gets the next free number). Lines are written as
//! `bd` writes them ([`write_bead_line`]): the real 3,003-bead corpus comes back byte for byte.

use crate::id::{self, IdError};
use crate::model::{Bead, Status};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// One bead read from an export, with the 1-based line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRecord {
    pub bead: Bead,
    pub line: usize,
}

/// Why an export could not be read. Nothing was imported when one of these is returned.
#[derive(Debug, Error)]
pub enum JsonlError {
    #[error(
        "{}:{line}:{column}: not a bead record: {what}; fix or remove this line and import \
         again (nothing was imported)",
        path.display()
    )]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        what: String,
    },
    #[error(
        "{}:{line}: bead {id} is already on line {first_line}; keep one of the two lines and \
         import again (nothing was imported)",
        path.display()
    )]
    DuplicateId {
        path: PathBuf,
        id: String,
        first_line: usize,
        line: usize,
    },
    #[error("{}:{line}: {source} (nothing was imported)", path.display())]
    InvalidId {
        path: PathBuf,
        line: usize,
        #[source]
        source: IdError,
    },
    #[error("cannot read {}: {source}; check that the file exists and is readable", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl JsonlError {
    /// The 1-based line the error is about (`None` when the file could not be read at all).
    pub fn line(&self) -> Option<usize> {
        match self {
            JsonlError::Malformed { line, .. }
            | JsonlError::DuplicateId { line, .. }
            | JsonlError::InvalidId { line, .. } => Some(*line),
            JsonlError::Read { .. } => None,
        }
    }
}

/// Where an import is, for a person waiting on a large file (`gastown bead import` draws it
/// on a terminal): reported by [`read_export_watched`] and `Ledger::import_file_watched`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStep {
    /// Parsing: `bytes` of the file's `total` read, in `lines` lines.
    Reading {
        bytes: u64,
        total: u64,
        lines: usize,
    },
    /// Every record parsed; checking them and their links against the ledger.
    Checking { records: usize },
    /// Writing the records that changed into the ledger in one transaction.
    Writing { records: usize },
}

/// Lines parsed between two [`ImportStep::Reading`] reports (and one at the end).
const REPORT_EVERY_LINES: usize = 512;

/// Read the file at `path` and [`parse_export`] it. Text that is not UTF-8 is reported as a
/// malformed line (the line of the first bad byte).
pub fn read_export(path: &Path) -> Result<Vec<ImportRecord>, JsonlError> {
    read_export_watched(path, &mut |_| {})
}

/// [`read_export`], telling `watch` how far the parse is every few hundred lines. The file is
/// read line by line ([`scan_export`]), never held whole.
pub fn read_export_watched(
    path: &Path,
    watch: &mut dyn FnMut(ImportStep),
) -> Result<Vec<ImportRecord>, JsonlError> {
    let mut records = Vec::new();
    scan_export(path, watch, &mut |rec, _| {
        records.push(rec);
        Ok::<(), JsonlError>(())
    })?;
    no_duplicate(path, &records)?;
    Ok(records)
}

/// The records, refused with the first id that appears twice.
fn no_duplicate(path: &Path, records: &[ImportRecord]) -> Result<(), JsonlError> {
    match first_duplicate(records) {
        Some((id, first_line, line)) => Err(JsonlError::DuplicateId {
            path: path.to_path_buf(),
            id,
            first_line,
            line,
        }),
        None => Ok(()),
    }
}

/// Read the export at `path` line by line (the file is never held whole) and hand each bead
/// record, with its id checked, to `each` in file order; `watch` hears how far it is every few
/// hundred lines. Errors as [`read_export`] reports them, in the same precedence: text that is
/// not UTF-8 anywhere in the file wins over a malformed line or an invalid id, and of those the
/// first one wins; after one, `each` is called no more (the rest is only checked for UTF-8).
/// Repeated ids are the caller's to find. An error of `each` stops the scan and is returned.
/// With each record comes where its line's text lies in the file (newline and a byte-order mark
/// left out), for a caller that reads it again ([`read_line_at`]).
pub fn scan_export<E: From<JsonlError>>(
    path: &Path,
    watch: &mut dyn FnMut(ImportStep),
    each: &mut dyn FnMut(ImportRecord, LineSpan) -> Result<(), E>,
) -> Result<(), E> {
    let read_err = |source| JsonlError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let total = file.metadata().map_err(read_err)?.len();
    let mut reader = io::BufReader::with_capacity(1 << 20, file);
    let mut buf: Vec<u8> = Vec::new();
    let mut read = 0u64;
    let mut lines = 0;
    let mut line = 0;
    let mut first_err: Option<JsonlError> = None;
    loop {
        buf.clear();
        let n = io::BufRead::read_until(&mut reader, b'\n', &mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        line += 1;
        let mut start = read;
        read = (read + n as u64).min(total);
        let mut raw: &[u8] = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if line == 1
            && let Some(rest) = raw.strip_prefix("\u{feff}".as_bytes())
        {
            raw = rest;
            start += 3;
        }
        let span = LineSpan {
            line,
            offset: start,
            len: raw.len(),
        };
        let raw = std::str::from_utf8(raw).map_err(|e| JsonlError::Malformed {
            path: path.to_path_buf(),
            line,
            column: 1 + e.valid_up_to(),
            what: "the text is not UTF-8".to_string(),
        })?;
        if !raw.is_empty() {
            lines = line;
        }
        if line.is_multiple_of(REPORT_EVERY_LINES) {
            watch(ImportStep::Reading {
                bytes: read,
                total,
                lines: line,
            });
        }
        if first_err.is_some() {
            continue;
        }
        let bead = match parse_line(raw) {
            Ok(Some(bead)) => bead,
            Ok(None) => continue,
            Err((column, what)) => {
                first_err = Some(JsonlError::Malformed {
                    path: path.to_path_buf(),
                    line,
                    column,
                    what,
                });
                continue;
            }
        };
        if let Err(source) = id::validate_id(&bead.id) {
            first_err = Some(JsonlError::InvalidId {
                path: path.to_path_buf(),
                line,
                source,
            });
            continue;
        }
        each(ImportRecord { bead, line }, span)?;
    }
    watch(ImportStep::Reading {
        bytes: total,
        total,
        lines,
    });
    match first_err {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Where the text of one line of an export lies: its 1-based number, first byte and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSpan {
    pub line: usize,
    pub offset: u64,
    pub len: usize,
}

/// The bead record on the line at `span` of `file` (the export at `path`, read by
/// [`scan_export`] before), parsed and its id checked exactly as the scan did; `buf` is reused.
/// `Ok(None)` when the line holds no bead (it changed since).
pub fn read_line_at(
    path: &Path,
    file: &std::fs::File,
    span: LineSpan,
    buf: &mut Vec<u8>,
) -> Result<Option<Bead>, JsonlError> {
    use std::os::unix::fs::FileExt;
    buf.resize(span.len, 0);
    file.read_exact_at(buf, span.offset)
        .map_err(|source| JsonlError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let malformed = |column, what| JsonlError::Malformed {
        path: path.to_path_buf(),
        line: span.line,
        column,
        what,
    };
    let raw = std::str::from_utf8(buf)
        .map_err(|e| malformed(1 + e.valid_up_to(), "the text is not UTF-8".to_string()))?;
    let Some(bead) = parse_line(raw).map_err(|(column, what)| malformed(column, what))? else {
        return Ok(None);
    };
    id::validate_id(&bead.id).map_err(|source| JsonlError::InvalidId {
        path: path.to_path_buf(),
        line: span.line,
        source,
    })?;
    Ok(Some(bead))
}

/// Parse a whole `bd` export (classic or current; see the module documentation). `path` is only
/// used to name the file in errors. All or nothing: any bad line is an error and nothing is
/// returned.
pub fn parse_export(path: &Path, text: &str) -> Result<Vec<ImportRecord>, JsonlError> {
    parse_watched(path, text, &mut |_| {})
}

fn parse_watched(
    path: &Path,
    text: &str,
    watch: &mut dyn FnMut(ImportStep),
) -> Result<Vec<ImportRecord>, JsonlError> {
    let total = text.len() as u64;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::with_capacity(text.len() / 512 + 1);
    let mut read = total - text.len() as u64;
    let mut lines = 0;
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        read = (read + raw.len() as u64 + 1).min(total);
        if !raw.is_empty() {
            lines = line;
        }
        if line.is_multiple_of(REPORT_EVERY_LINES) {
            watch(ImportStep::Reading {
                bytes: read,
                total,
                lines: line,
            });
        }
        let Some(bead) = parse_line(raw).map_err(|(column, what)| JsonlError::Malformed {
            path: path.to_path_buf(),
            line,
            column,
            what,
        })?
        else {
            continue;
        };
        id::validate_id(&bead.id).map_err(|source| JsonlError::InvalidId {
            path: path.to_path_buf(),
            line,
            source,
        })?;
        records.push(ImportRecord { bead, line });
    }
    watch(ImportStep::Reading {
        bytes: total,
        total,
        lines,
    });
    no_duplicate(path, &records)?;
    Ok(records)
}

/// The earliest line whose id an earlier line already has: `(id, first line, that line)`.
fn first_duplicate(records: &[ImportRecord]) -> Option<(String, usize, usize)> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(records.len());
    for r in records {
        if let Some(&first) = seen.get(r.bead.id.as_str()) {
            return Some((r.bead.id.clone(), first, r.line));
        }
        seen.insert(&r.bead.id, r.line);
    }
    None
}

/// One line: `Ok(Some(bead))`, `Ok(None)` for a blank, header or count line, or
/// `Err((column, what is wrong))`.
pub(crate) fn parse_line(raw: &str) -> Result<Option<Bead>, (usize, String)> {
    let line = raw.strip_suffix('\r').unwrap_or(raw);
    if line.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Bead>(line) {
        Ok(bead) if crate::backup::looks_like_row(&bead.extra) => {
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(obj)) => crate::backup::bead_from_row(obj)
                    .map(Some)
                    .map_err(|what| (1, what)),
                _ => Ok(Some(bead)),
            }
        }
        Ok(bead) => Ok(keep_issue(bead)),
        Err(bead_err) => match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(obj)) if is_meta(&obj) => Ok(None),
            Ok(Value::Object(obj)) if crate::backup::looks_like_row(&obj) => {
                crate::backup::bead_from_row(obj)
                    .map(Some)
                    .map_err(|what| (1, what))
            }
            Ok(Value::Object(mut obj)) => {
                if tolerate(&mut obj)
                    && let Ok(bead) = serde_json::from_value::<Bead>(Value::Object(obj))
                {
                    return Ok(keep_issue(bead));
                }
                Err(describe(&bead_err))
            }
            Ok(other) => Err((1, format!("expected a JSON object, found {}", kind(&other)))),
            Err(syntax) => Err(describe(&syntax)),
        },
    }
}

/// A parsed record: the bead (its `_type: "issue"` dropped), or `None` for another record type.
fn keep_issue(mut bead: Bead) -> Option<Bead> {
    if bead.extra.contains_key("_schema") {
        return None;
    }
    match bead.extra.get("_type") {
        None => Some(bead),
        Some(t) if t == "issue" => {
            bead.extra.shift_remove("_type");
            Some(bead)
        }
        Some(_) => None,
    }
}

/// The fields of [`Bead`] whose `null` means "absent" (and which would not parse as `null`).
const KNOWN_FIELDS: &[&str] = &[
    "title",
    "description",
    "design",
    "acceptance_criteria",
    "notes",
    "status",
    "priority",
    "issue_type",
    "assignee",
    "owner",
    "created_by",
    "updated_at",
    "closed_at",
    "close_reason",
    "defer_until",
    "external_ref",
    "labels",
    "dependencies",
    "comments",
    "deleted_at",
    "deleted_by",
    "delete_reason",
    "original_type",
    "sender",
    "ephemeral",
    "pinned",
    "await_type",
    "await_id",
    "timeout",
];

/// The fields of dependencies and comments whose `null` means "absent".
const NESTED_FIELDS: &[&str] = &["issue_id", "created_at", "created_by", "author", "id"];

/// Make a record that current `bd` wrote readable: `null` in a known field removed, `0`/`1` in
/// `ephemeral`/`pinned` made booleans (the same in dependencies and comments). True when
/// anything changed (only then is the record worth parsing again).
pub(crate) fn tolerate(obj: &mut Map<String, Value>) -> bool {
    let before = obj.len();
    obj.retain(|k, v| !(v.is_null() && KNOWN_FIELDS.contains(&k.as_str())));
    let mut changed = obj.len() != before;
    for key in ["ephemeral", "pinned"] {
        if let Some(v) = obj.get_mut(key)
            && let Some(b) = int_bool(v)
        {
            *v = Value::Bool(b);
            changed = true;
        }
    }
    for key in ["dependencies", "comments"] {
        if let Some(Value::Array(items)) = obj.get_mut(key) {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                let n = item.len();
                item.retain(|k, v| !(v.is_null() && NESTED_FIELDS.contains(&k.as_str())));
                changed |= item.len() != n;
            }
        }
    }
    changed
}

/// `0`/`1` (SQL's booleans) as a boolean; `None` for anything else (a boolean stays as it is).
pub(crate) fn int_bool(v: &Value) -> Option<bool> {
    match v.as_i64() {
        Some(0) => Some(false),
        Some(1) => Some(true),
        _ => None,
    }
}

/// Which `bd` JSONL a file is, told by its first record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The classic `bd`'s `issues.jsonl`: one bead a line, no `_type`.
    Classic,
    /// Current `bd export`: `{"_type":"issue",…}` records (and headers, memories).
    BdExport,
    /// Rows of current `bd`'s issues table, as its `.beads/backup/issues.jsonl` holds them.
    BackupTable,
}

impl Format {
    /// How the format is called in reports.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Classic => "classic bd JSONL",
            Format::BdExport => "current bd export",
            Format::BackupTable => "bd backup issues table",
        }
    }
}

/// The format of a `bd` JSONL text, by its first JSON object (`Classic` when there is none).
pub fn detect_format(text: &str) -> Format {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for line in text.lines() {
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        if obj.contains_key("_type") || obj.contains_key("_schema") {
            return Format::BdExport;
        }
        if crate::backup::looks_like_row(&obj) {
            return Format::BackupTable;
        }
        return Format::Classic;
    }
    Format::Classic
}

/// Header, metadata and count lines of current `bd` exports.
fn is_meta(obj: &Map<String, Value>) -> bool {
    if obj.contains_key("_schema") {
        return true;
    }
    if let Some(t) = obj.get("_type") {
        return t != "issue";
    }
    !obj.contains_key("id") && obj.keys().any(|k| k == "count" || k.ends_with("_count"))
}

/// serde's message without its "at line 1 column N" (the line is the file's, given apart).
fn describe(e: &serde_json::Error) -> (usize, String) {
    let msg = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let what = msg.strip_suffix(&suffix).unwrap_or(&msg).to_string();
    (e.column().max(1), what)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The form a bead is exported in: `closed_at` present exactly when the status is `closed`
/// (a stray `closed_at` on another status is dropped; a closed bead without one gets its
/// `updated_at`, or its `created_at` when that is empty too). Nothing else changes.
pub fn export_form(mut bead: Bead) -> Bead {
    if bead.status == Status::Closed {
        if bead.closed_at.is_none() {
            let at = if bead.updated_at.is_empty() {
                bead.created_at.clone()
            } else {
                bead.updated_at.clone()
            };
            bead.closed_at = Some(at);
        }
    } else {
        bead.closed_at = None;
    }
    bead
}

/// Write one `issues.jsonl` the classic `bd` reads: the beads sorted by id (byte order, as
/// `bd` sorts them), each in [`export_form`], one compact JSON object a line written as
/// [`write_bead_line`] does.
pub fn write_export<W: Write>(w: W, beads: impl Iterator<Item = Bead>) -> io::Result<()> {
    let mut beads: Vec<Bead> = beads.map(export_form).collect();
    beads.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    number_comments(&mut beads);
    let mut out = BufWriter::with_capacity(1 << 16, w);
    for bead in &beads {
        write_bead_line(&mut out, bead)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Give every comment whose id is not an integer (current `bd` writes UUIDs) an integer id,
/// since the classic `bd` reads comment ids as integers: the next numbers after the largest
/// integer id of the export, in the order the export writes them. Integer ids are kept.
fn number_comments(beads: &mut [Bead]) {
    let is_int = |v: &Value| v.is_i64() || v.is_u64();
    let mut next = beads
        .iter()
        .flat_map(|b| &b.comments)
        .filter_map(|c| c.id.as_i64())
        .max()
        .unwrap_or(0)
        .max(0);
    for comment in beads.iter_mut().flat_map(|b| b.comments.iter_mut()) {
        if !is_int(&comment.id) {
            next += 1;
            comment.id = Value::from(next);
        }
    }
}

/// One bead as compact JSON, byte for byte as `bd` (Go's `encoding/json`) writes it: the
/// fields in [`Bead`]'s order (which is `bd`'s), and `<`, `>`, `&`, U+2028, U+2029 inside
/// strings escaped as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`. No trailing newline.
pub fn write_bead_line<W: Write>(w: W, bead: &Bead) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(w, GoFormatter);
    serde::Serialize::serialize(bead, &mut ser).map_err(io::Error::other)
}

/// [`write_bead_line`] into a `String`.
pub fn bead_line(bead: &Bead) -> String {
    let mut out = Vec::with_capacity(512);
    write_bead_line(&mut out, bead).expect("a Bead always serializes into memory");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// serde_json's compact output plus Go's HTML-safe escapes.
struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let escape: Option<(&[u8], usize)> = match bytes[i] {
                b'<' => Some((b"\\u003c", 1)),
                b'>' => Some((b"\\u003e", 1)),
                b'&' => Some((b"\\u0026", 1)),
                0xE2 if bytes.get(i + 1) == Some(&0x80) => match bytes.get(i + 2) {
                    Some(0xA8) => Some((b"\\u2028", 3)),
                    Some(0xA9) => Some((b"\\u2029", 3)),
                    _ => None,
                },
                _ => None,
            };
            match escape {
                Some((text, width)) => {
                    writer.write_all(&bytes[start..i])?;
                    writer.write_all(text)?;
                    i += width;
                    start = i;
                }
                None => i += 1,
            }
        }
        writer.write_all(&bytes[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IssueType;

    const P: &str = "/tmp/in.jsonl";

    fn parse(text: &str) -> Result<Vec<ImportRecord>, JsonlError> {
        parse_export(Path::new(P), text)
    }

    #[test]
    fn a_watched_parse_reports_bytes_and_lines_up_to_the_whole_file() {
        let line = r#"{"id":"bd-1","title":"t","created_at":"2026-01-01T00:00:00Z"}"#;
        let text: String = (1..=1500)
            .map(|i| line.replace("bd-1", &format!("bd-{i}")) + "\n")
            .collect();
        let mut steps = Vec::new();
        let records = parse_watched(Path::new(P), &text, &mut |s| steps.push(s)).expect("parses");
        assert_eq!(records.len(), 1500);
        let total = text.len() as u64;
        let read: Vec<(u64, usize)> = steps
            .iter()
            .map(|s| match *s {
                ImportStep::Reading {
                    bytes,
                    total: t,
                    lines,
                } => {
                    assert_eq!(t, total);
                    (bytes, lines)
                }
                other => panic!("only reading steps while parsing: {other:?}"),
            })
            .collect();
        // Every 512 lines, then once at the end with the whole file.
        assert_eq!(read.len(), 3, "{read:?}");
        assert_eq!(read[0].1, 512);
        let first: usize = text.split_inclusive('\n').take(512).map(str::len).sum();
        assert_eq!(read[0].0, first as u64);
        assert!(read.windows(2).all(|w| w[0].0 < w[1].0), "{read:?}");
        assert_eq!(*read.last().expect("a last step"), (total, 1500));
    }

    fn bead(id: &str, status: &str, closed_at: Option<&str>) -> Bead {
        let mut b = Bead::new(id, "t");
        b.status = Status::from(status.to_string());
        b.updated_at = "2026-01-02T00:00:00Z".into();
        b.closed_at = closed_at.map(str::to_string);
        b
    }

    #[test]
    fn skips_blank_header_and_count_lines() {
        let text = "\u{feff}{\"_type\":\"header\",\"version\":\"0.50\"}\r\n\
            {\"_schema\":2}\n\
            \n   \n\
            {\"_type\":\"issue\",\"id\":\"bd-1\",\"title\":\"a\",\"status\":\"open\",\"created_at\":\"x\"}\n\
            {\"id\":\"bd-2\",\"title\":\"b\",\"status\":\"open\",\"created_at\":\"x\"}\r\n\
            {\"_type\":\"meta\",\"count\":2}\n\
            {\"count\":2}\n{\"issue_count\":2,\"exported_at\":\"y\"}\n";
        let recs = parse(text).expect("all lines are fine");
        let got: Vec<(&str, usize)> = recs.iter().map(|r| (r.bead.id.as_str(), r.line)).collect();
        assert_eq!(got, [("bd-1", 5), ("bd-2", 6)]);
        assert!(
            !recs[0].bead.extra.contains_key("_type"),
            "_type is dropped"
        );
    }

    #[test]
    fn current_bd_records_and_other_types() {
        let text = "{\"_type\":\"issue\",\"id\":\"sc-1\",\"title\":\"one\",\"created_at\":\"2026-05-01T00:00:00Z\"}\n\
            {\"_type\":\"memory\",\"key\":\"k\",\"value\":\"v\"}\n\
            {\"_type\":\"gate\",\"id\":\"g-1\"}\n";
        let recs = parse(text).expect("reads");
        assert_eq!(recs.len(), 1);
        let b = &recs[0].bead;
        assert_eq!(
            (b.status.clone(), b.issue_type.clone()),
            (Status::Open, IssueType::Task)
        );
        assert_eq!(b.priority, 2);
        let missing = parse(r#"{"_type":"issue","id":"sc-2","title":"no time"}"#);
        let msg = missing.expect_err("created_at is required").to_string();
        assert!(msg.contains("missing field `created_at`"), "{msg}");
    }

    #[test]
    fn malformed_line_names_file_line_and_problem() {
        let good = r#"{"id":"bd-1","title":"a","status":"open","created_at":"x"}"#;
        let cases = [
            ("{\"id\":\"bd-2\",\"title\":\"b\"", "EOF"),
            (
                r#"{"id":"bd-2","status":"open","created_at":"x"}"#,
                "missing field `title`",
            ),
            (r#"[1,2]"#, "expected a JSON object, found an array"),
            (
                r#"{"id":"bd-2","title":"b","status":"open","created_at":"x","priority":"high"}"#,
                "invalid type",
            ),
            (r#"{"_type":"issue","title":"b"}"#, "missing field `id`"),
        ];
        for (bad, expect) in cases {
            let text = format!("{good}\n\n{bad}\n{good}\n");
            let err = parse(&text).expect_err("a bad line fails the whole import");
            assert_eq!(err.line(), Some(3), "{err}");
            let msg = err.to_string();
            assert!(msg.starts_with("/tmp/in.jsonl:3:"), "{msg}");
            assert!(msg.contains(expect), "{msg} should say {expect}");
            assert!(!msg.contains("at line 1"), "{msg}");
        }
    }

    #[test]
    fn duplicates_and_bad_ids_are_refused() {
        let line =
            |id: &str| format!(r#"{{"id":"{id}","title":"a","status":"open","created_at":"x"}}"#);
        let text = [line("bd-1"), line("bd-2"), line("bd-1")].join("\n");
        let msg = parse(&text).expect_err("duplicate").to_string();
        assert!(
            msg.contains("bd-1 is already on line 1") && msg.contains(":3:"),
            "{msg}"
        );
        let err = parse(&line("BD 1")).expect_err("bad id");
        assert!(
            matches!(err, JsonlError::InvalidId { line: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn export_sorts_and_keeps_closed_at_iff_closed() {
        let beads = vec![
            bead("bd-b", "closed", None),
            bead("bd-a", "open", Some("2026-01-01T00:00:00Z")),
            bead("bd-c", "closed", Some("2026-01-03T00:00:00Z")),
            bead("bd-d", "tombstone", None),
        ];
        let mut out = Vec::new();
        write_export(&mut out, beads.into_iter()).expect("writes to a Vec");
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        let ids: Vec<&str> = lines
            .iter()
            .map(|v| v["id"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(ids, ["bd-a", "bd-b", "bd-c", "bd-d"]);
        assert!(lines[0].get("closed_at").is_none());
        assert_eq!(lines[1]["closed_at"], "2026-01-02T00:00:00Z");
        assert_eq!(lines[2]["closed_at"], "2026-01-03T00:00:00Z");
        assert!(lines[3].get("closed_at").is_none());
        assert!(text.ends_with("}\n") && !text.contains("\n\n"));
        let back = parse(&text).expect("an export reads back");
        assert_eq!(back.len(), 4);
    }

    #[test]
    fn lines_escape_like_go() {
        let mut b = Bead::new(
            "bd-1",
            "a <b> & c \u{2028}\u{2029} \u{e2}\u{80} \"q\" \\ \n\u{1}é",
        );
        b.created_at = "x".into();
        b.updated_at = String::new();
        let line = bead_line(&b);
        let want = concat!(
            r#""title":"a \u003cb\u003e \u0026 c \u2028\u2029 "#,
            "\u{e2}\u{80}",
            r#" \"q\" \\ \n\u0001é""#
        );
        assert!(line.contains(want), "{line}");
        let back: Bead = serde_json::from_str(&line).expect("reads back");
        assert_eq!(back.title, b.title);
        assert_eq!(b.to_json_line(), line);
    }

    #[test]
    fn formats_are_told_by_their_first_record() {
        assert_eq!(detect_format("\n{\"id\":\"bd-1\"}\n"), Format::Classic);
        assert_eq!(
            detect_format("{\"_type\":\"issue\",\"id\":\"bd-1\"}"),
            Format::BdExport
        );
        assert_eq!(
            detect_format("{\"id\":\"bd-1\",\"timeout_ns\":0,\"is_template\":0}"),
            Format::BackupTable
        );
        // A classic line keeps a null in a field this ledger does not know.
        let line = r#"{"id":"bd-1","title":"a","created_at":"2026-01-01T00:00:00Z","assignee":null,"ephemeral":1,"x":null}"#;
        let b = &parse(line).expect("nulls and 0/1 read")[0].bead;
        assert!(b.ephemeral && b.assignee.is_empty());
        assert_eq!(b.extra.get("x"), Some(&Value::Null));
    }

    #[test]
    fn non_utf8_file_names_the_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bad.jsonl");
        let mut bytes = br#"{"id":"bd-1","title":"a","status":"open","created_at":"x"}"#.to_vec();
        bytes.extend_from_slice(b"\n{\"id\":\"bd-2\",\"title\":\"\xff\"}\n");
        std::fs::write(&path, bytes).expect("write temp file");
        let err = read_export(&path).expect_err("not UTF-8");
        assert_eq!(err.line(), Some(2), "{err}");
        assert!(err.to_string().contains("bad.jsonl:2:"), "{err}");
        let missing = read_export(&dir.path().join("nope.jsonl")).expect_err("missing");
        assert!(matches!(missing, JsonlError::Read { .. }), "{missing}");
    }
}
