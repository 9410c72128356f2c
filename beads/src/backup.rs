//! Reading a current `bd` backup directory (`.beads/backup/`): the Dolt tables of a `bd`
//! database written one row a line, as `bd`'s JSONL backup writes them.
//!
//! ```text
//! issues.jsonl         every column of the issues table (required)
//! dependencies.jsonl   issue_id, depends_on_id, type, created_at, created_by, metadata, …
//! labels.jsonl         issue_id, label
//! comments.jsonl       id, issue_id, author, text, created_at
//! events.jsonl         id, issue_id, event_type, actor, old_value, new_value, comment, created_at
//! config.jsonl         key, value
//! ```
//!
//! Rows are SQL rows marshalled by Go: keys sorted, `null` for a NULL column (`"assignee":null`),
//! `0`/`1` for booleans, JSON columns (`metadata`) as strings, times RFC 3339 (or SQL's
//! `2026-01-12 02:16:51`). [`bead_from_row`] turns an issues row into a [`Bead`]: a null is an
//! absent field, empty and zero columns are dropped as Go's `omitempty` would, `timeout_ns`
//! becomes `timeout`, booleans become booleans; every other column is kept as an `extra` field.
//!
//! [`read_backup`] reads the whole directory and attaches the rows of the other files to their
//! beads. The rules (docs/ledger.md, "Importing a bd backup directory"):
//! - a directory without `issues.jsonl` is an error naming what was expected; a missing
//!   optional file is reported, not an error;
//! - any malformed line in any file (not JSON, a missing field, a bad id, an issue twice) is an
//!   error listing every such line with its file: nothing is imported;
//! - a backup is one `bd` database: a dependency, label, comment or event of an issue that is not
//!   in `issues.jsonl`, and a dependency on a bead that is not there (`bd`'s wisps and `external:`
//!   references are never in a backup), are skipped and reported with file, line and why;
//! - of `config.jsonl` only `issue_prefix` is read (reported); every other key is reported as
//!   ignored.

use crate::id;
use crate::jsonl::{self, ImportRecord};
use crate::model::{Bead, Comment, Dependency, Event, EventKind};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The one required file of a backup directory.
pub const ISSUES: &str = "issues.jsonl";
pub const DEPENDENCIES: &str = "dependencies.jsonl";
pub const LABELS: &str = "labels.jsonl";
pub const COMMENTS: &str = "comments.jsonl";
pub const EVENTS: &str = "events.jsonl";
pub const CONFIG: &str = "config.jsonl";
/// The optional files, in the order they are read.
pub const OPTIONAL: [&str; 5] = [DEPENDENCIES, LABELS, COMMENTS, EVENTS, CONFIG];

/// The `config.jsonl` keys the import reads.
const READ_KEYS: &[&str] = &["issue_prefix"];

/// Most malformed lines listed in an error (then how many more).
const SHOWN_LINES: usize = 20;

/// Why a backup directory could not be read. Nothing was imported when one of these is returned.
#[derive(Debug, Error)]
pub enum BackupError {
    #[error(
        "{} is not a bd backup directory: it has no issues.jsonl. Point at the directory bd's \
         backup wrote (usually .beads/backup/), which holds issues.jsonl and optionally \
         dependencies.jsonl, labels.jsonl, comments.jsonl, events.jsonl and config.jsonl; \
         for a single JSONL file give the file itself",
        dir.display()
    )]
    NoIssues { dir: PathBuf },
    #[error("cannot read {}: {source}; check that it is readable", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} has {} malformed line{}, so nothing was imported:\n{}\nfix or remove these lines and \
         import again",
        dir.display(),
        lines.len(),
        if lines.len() == 1 { "" } else { "s" },
        list(lines)
    )]
    Malformed { dir: PathBuf, lines: Vec<BadLine> },
}

/// A malformed line of a backup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// The file's name (`labels.jsonl`).
    pub file: &'static str,
    /// 1-based.
    pub line: usize,
    pub what: String,
}

fn list(lines: &[BadLine]) -> String {
    let mut out: Vec<String> = lines
        .iter()
        .take(SHOWN_LINES)
        .map(|l| format!("  {}:{}: {}", l.file, l.line, l.what))
        .collect();
    if lines.len() > SHOWN_LINES {
        out.push(format!("  … and {} more", lines.len() - SHOWN_LINES));
    }
    out.join("\n")
}

/// A record of an optional file that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub file: &'static str,
    pub line: usize,
    pub why: String,
}

/// What a backup directory held and what of it is imported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupReport {
    pub issues: usize,
    /// Records attached to their beads.
    pub dependencies: usize,
    pub labels: usize,
    pub comments: usize,
    pub events: usize,
    /// Optional files that are not in the directory.
    pub missing: Vec<&'static str>,
    /// Records not imported, in file order.
    pub skipped: Vec<Skipped>,
    /// `config.jsonl` keys read, with their values.
    pub config_read: Vec<(String, String)>,
    /// `config.jsonl` keys ignored.
    pub config_ignored: Vec<String>,
}

impl fmt::Display for BackupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bd backup: {} issues, {} dependencies, {} labels, {} comments, {} events",
            self.issues, self.dependencies, self.labels, self.comments, self.events
        )?;
        if !self.missing.is_empty() {
            write!(f, "\nnot in the directory: {}", self.missing.join(", "))?;
        }
        if !self.config_read.is_empty() {
            let read: Vec<String> = self
                .config_read
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            write!(f, "\nconfig read: {}", read.join(", "))?;
        }
        if !self.config_ignored.is_empty() {
            write!(f, "\nconfig ignored: {}", self.config_ignored.join(", "))?;
        }
        if !self.skipped.is_empty() {
            write!(f, "\nskipped {}:", self.skipped.len())?;
            for s in &self.skipped {
                write!(f, "\n  {}:{}: {}", s.file, s.line, s.why)?;
            }
        }
        Ok(())
    }
}

/// A backup directory read: its beads with their dependencies, labels and comments attached
/// (lines are `issues.jsonl`'s), the audit trail of each, and the report.
#[derive(Debug, Clone)]
pub struct Backup {
    pub records: Vec<ImportRecord>,
    /// Every event of the backup's beads, oldest first.
    pub events: Vec<Event>,
    pub report: BackupReport,
}

/// True for a row of current `bd`'s issues table (every column, so `timeout_ns` and
/// `is_template`, which no export record carries).
pub fn looks_like_row(obj: &Map<String, Value>) -> bool {
    obj.contains_key("timeout_ns") && obj.contains_key("is_template")
}

/// A row of an optional file with its 1-based line.
type Row = (usize, Map<String, Value>);

/// Boolean columns of the issues table.
const BOOL_COLUMNS: &[&str] = &["ephemeral", "pinned", "is_template", "no_history"];
/// Time columns of the issues table.
const TIME_COLUMNS: &[&str] = &[
    "created_at",
    "updated_at",
    "closed_at",
    "compacted_at",
    "defer_until",
    "due_at",
    "last_activity",
    "started_at",
];
/// Columns kept even when empty (a bead needs them; validation names what is wrong).
const REQUIRED: &[&str] = &["id", "title", "created_at", "status", "issue_type"];

/// A bead from a row of the issues table (see the module documentation), or what is wrong.
pub fn bead_from_row(mut row: Map<String, Value>) -> Result<Bead, String> {
    row.retain(|k, v| !v.is_null() && (!is_empty(v) || REQUIRED.contains(&k.as_str())));
    if let Some(ns) = row.shift_remove("timeout_ns")
        && ns.as_i64() != Some(0)
    {
        row.insert("timeout".into(), ns);
    }
    for key in BOOL_COLUMNS {
        if let Some(v) = row.get(*key) {
            let b = jsonl::int_bool(v)
                .or(v.as_bool())
                .ok_or_else(|| format!("{key}: expected 0, 1, true or false, found {v}"))?;
            if b {
                row.insert((*key).to_string(), Value::Bool(true));
            } else {
                row.shift_remove(*key);
            }
        }
    }
    normalize_times(&mut row, TIME_COLUMNS);
    json_column(&mut row, "metadata");
    serde_json::from_value::<Bead>(Value::Object(row)).map_err(|e| e.to_string())
}

/// Empty strings, zeros and `{}` strings: what Go's `omitempty` leaves out.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty() || s == "{}",
        Value::Number(n) => n.as_i64() == Some(0),
        _ => false,
    }
}

/// SQL's `2026-01-12 02:16:51[.frac]` as RFC 3339 UTC (`2026-01-12T02:16:51Z`).
fn normalize_times(row: &mut Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(Value::String(s)) = row.get_mut(*key) {
            let b = s.as_bytes();
            let sql = b.len() >= 19
                && b[10] == b' '
                && !s.ends_with('Z')
                && !s[19..].contains(['+', '-']);
            if sql {
                *s = format!("{}T{}Z", &s[..10], &s[11..]);
            }
        }
    }
}

/// A JSON column written as a string (`"metadata":"{\"k\":1}"`) as the JSON it holds.
fn json_column(row: &mut Map<String, Value>, key: &str) {
    if let Some(Value::String(s)) = row.get(key)
        && let Ok(v) = serde_json::from_str::<Value>(s)
    {
        row.insert(key.to_string(), v);
    }
}

/// Read the backup directory `dir` (see the module documentation for the rules).
pub fn read_backup(dir: &Path) -> Result<Backup, BackupError> {
    let issues_path = dir.join(ISSUES);
    if !issues_path.is_file() {
        return Err(BackupError::NoIssues {
            dir: dir.to_path_buf(),
        });
    }
    let mut bad: Vec<BadLine> = Vec::new();
    let mut report = BackupReport::default();
    let records = read_issues(&issues_path, &mut bad)?;
    let mut files: HashMap<&'static str, Vec<Row>> = HashMap::new();
    for name in OPTIONAL {
        let path = dir.join(name);
        if !path.exists() {
            report.missing.push(name);
            continue;
        }
        files.insert(name, read_rows(&path, name, &mut bad)?);
    }
    if !bad.is_empty() {
        bad.sort_by_key(|b| (file_order(b.file), b.line));
        return Err(BackupError::Malformed {
            dir: dir.to_path_buf(),
            lines: bad,
        });
    }
    let mut take = |name| files.remove(name).unwrap_or_default();
    let (deps, labels, comments, events, config) = (
        take(DEPENDENCIES),
        take(LABELS),
        take(COMMENTS),
        take(EVENTS),
        take(CONFIG),
    );
    let mut backup = Backup {
        records,
        events: Vec::new(),
        report,
    };
    backup.report.issues = backup.records.len();
    // Each row was checked in read_rows; attaching only decides orphans.
    attach(&mut backup, deps, labels, comments, events).map_err(|lines| {
        BackupError::Malformed {
            dir: dir.to_path_buf(),
            lines,
        }
    })?;
    for (_, row) in config {
        let key = str_field(&row, "key").unwrap_or_default();
        if READ_KEYS.contains(&key.as_str()) {
            let value = match row.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            };
            backup.report.config_read.push((key, value));
        } else {
            backup.report.config_ignored.push(key);
        }
    }
    Ok(backup)
}

fn file_order(file: &str) -> usize {
    std::iter::once(ISSUES)
        .chain(OPTIONAL)
        .position(|f| f == file)
        .unwrap_or(usize::MAX)
}

/// The text of `path`; text that is not UTF-8 is a malformed line (the line of the first bad
/// byte) and reads as nothing.
fn read_text(
    path: &Path,
    file: &'static str,
    bad: &mut Vec<BadLine>,
) -> Result<String, BackupError> {
    let bytes = std::fs::read(path).map_err(|source| BackupError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            bad.push(BadLine {
                file,
                line: 1 + good.iter().filter(|&&b| b == b'\n').count(),
                what: "the text is not UTF-8".to_string(),
            });
            Ok(String::new())
        }
    }
}

/// The beads of `issues.jsonl`; malformed lines (including a bad or repeated id) go to `bad`.
fn read_issues(path: &Path, bad: &mut Vec<BadLine>) -> Result<Vec<ImportRecord>, BackupError> {
    let text = read_text(path, ISSUES, bad)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let mut fail = |what: String| {
            bad.push(BadLine {
                file: ISSUES,
                line,
                what,
            })
        };
        match jsonl::parse_line(raw) {
            Ok(None) => {}
            Ok(Some(bead)) => {
                if let Err(e) = id::validate_id(&bead.id) {
                    fail(e.to_string());
                } else if let Some(first) = seen.get(&bead.id) {
                    fail(format!("issue {} is already on line {first}", bead.id));
                } else {
                    seen.insert(bead.id.clone(), line);
                    out.push(ImportRecord { bead, line });
                }
            }
            Err((column, what)) => fail(format!("column {column}: {what}")),
        }
    }
    Ok(out)
}

/// The rows of an optional file, each checked for the fields its kind needs; malformed lines
/// go to `bad`.
fn read_rows(
    path: &Path,
    file: &'static str,
    bad: &mut Vec<BadLine>,
) -> Result<Vec<Row>, BackupError> {
    let text = read_text(path, file, bad)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() {
            continue;
        }
        let checked = match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(mut row)) => {
                row.retain(|_, v| !v.is_null());
                check_row(file, &row).map(|()| row)
            }
            Ok(_) => Err("expected a JSON object".to_string()),
            Err(e) => Err(describe(&e)),
        };
        match checked {
            Ok(row) => out.push((line, row)),
            Err(what) => bad.push(BadLine { file, line, what }),
        }
    }
    Ok(out)
}

/// The string fields each kind of row needs.
fn required(file: &str) -> &'static [&'static str] {
    match file {
        DEPENDENCIES => &["issue_id", "depends_on_id"],
        LABELS => &["issue_id", "label"],
        COMMENTS => &["issue_id", "text"],
        EVENTS => &["issue_id", "event_type"],
        CONFIG => &["key"],
        _ => &[],
    }
}

fn check_row(file: &str, row: &Map<String, Value>) -> Result<(), String> {
    for key in required(file) {
        match row.get(*key) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(other) => {
                return Err(format!("{key}: expected a non-empty string, found {other}"));
            }
            None => return Err(format!("missing field `{key}`")),
        }
    }
    for key in ["created_at", "created_by", "author", "actor", "type"] {
        if let Some(v) = row.get(key)
            && !v.is_string()
        {
            return Err(format!("{key}: expected a string, found {v}"));
        }
    }
    Ok(())
}

fn str_field(row: &Map<String, Value>, key: &str) -> Option<String> {
    row.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Attach the optional files' rows to their beads; orphans go to the report.
fn attach(
    backup: &mut Backup,
    deps: Vec<Row>,
    labels: Vec<Row>,
    comments: Vec<Row>,
    events: Vec<Row>,
) -> Result<(), Vec<BadLine>> {
    let index: HashMap<String, usize> = backup
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.bead.id.clone(), i))
        .collect();
    let report = &mut backup.report;
    let records = &mut backup.records;
    let mut bad = Vec::new();
    let orphan = |file, line, id: &str| Skipped {
        file,
        line,
        why: format!("issue {id} is not in issues.jsonl"),
    };

    for (line, mut row) in deps {
        let issue = str_field(&row, "issue_id").unwrap_or_default();
        let target = str_field(&row, "depends_on_id").unwrap_or_default();
        let Some(&i) = index.get(&issue) else {
            report.skipped.push(orphan(DEPENDENCIES, line, &issue));
            continue;
        };
        if !index.contains_key(&target) {
            report.skipped.push(Skipped {
                file: DEPENDENCIES,
                line,
                why: format!(
                    "{issue} depends on {target}, which is not in issues.jsonl (bd's wisps and \
                     external references are not in a backup)"
                ),
            });
            continue;
        }
        row.retain(|k, v| !(is_empty(v) && k != "issue_id" && k != "depends_on_id"));
        row.entry("type").or_insert_with(|| Value::from("blocks"));
        normalize_times(&mut row, &["created_at"]);
        json_column(&mut row, "metadata");
        let dep: Dependency = match serde_json::from_value(Value::Object(row)) {
            Ok(d) => d,
            Err(e) => {
                bad.push(BadLine {
                    file: DEPENDENCIES,
                    line,
                    what: e.to_string(),
                });
                continue;
            }
        };
        let bead = &mut records[i].bead;
        if bead
            .dependencies
            .iter()
            .any(|d| d.depends_on_id == dep.depends_on_id)
        {
            report.skipped.push(Skipped {
                file: DEPENDENCIES,
                line,
                why: format!("{issue} already depends on {target}"),
            });
            continue;
        }
        bead.dependencies.push(dep);
        report.dependencies += 1;
    }

    for (line, row) in labels {
        let issue = str_field(&row, "issue_id").unwrap_or_default();
        let label = str_field(&row, "label").unwrap_or_default();
        let Some(&i) = index.get(&issue) else {
            report.skipped.push(orphan(LABELS, line, &issue));
            continue;
        };
        let bead = &mut records[i].bead;
        if !bead.labels.contains(&label) {
            bead.labels.push(label);
            report.labels += 1;
        }
    }

    let mut touched: HashSet<usize> = HashSet::new();
    for (line, mut row) in comments {
        let issue = str_field(&row, "issue_id").unwrap_or_default();
        let Some(&i) = index.get(&issue) else {
            report.skipped.push(orphan(COMMENTS, line, &issue));
            continue;
        };
        normalize_times(&mut row, &["created_at"]);
        let comment: Comment = match serde_json::from_value(Value::Object(row)) {
            Ok(c) => c,
            Err(e) => {
                bad.push(BadLine {
                    file: COMMENTS,
                    line,
                    what: e.to_string(),
                });
                continue;
            }
        };
        records[i].bead.comments.push(comment);
        touched.insert(i);
        report.comments += 1;
    }
    for i in touched {
        // bd orders a backup's comments by their (random) UUIDs: put them in time order.
        records[i]
            .bead
            .comments
            .sort_by(|a, b| a.created_at.cmp(&b.created_at));
    }

    for (line, mut row) in events {
        let issue = str_field(&row, "issue_id").unwrap_or_default();
        if !index.contains_key(&issue) {
            report.skipped.push(orphan(EVENTS, line, &issue));
            continue;
        }
        normalize_times(&mut row, &["created_at"]);
        backup.events.push(event_from_row(&row));
        report.events += 1;
    }
    backup.events.sort_by(|a, b| a.at.cmp(&b.at));
    if bad.is_empty() { Ok(()) } else { Err(bad) }
}

/// An audit-trail entry from an events row. `bd`'s event types are this ledger's kinds; one it
/// does not have (`compacted`, …) is an `updated` entry whose `new` names it.
fn event_from_row(row: &Map<String, Value>) -> Event {
    let bd_type = str_field(row, "event_type").unwrap_or_default();
    let kind = match bd_type.as_str() {
        "created" => Some(EventKind::Created),
        "updated" => Some(EventKind::Updated),
        "status_changed" => Some(EventKind::StatusChanged),
        "closed" => Some(EventKind::Closed),
        "reopened" => Some(EventKind::Reopened),
        "dependency_added" => Some(EventKind::DependencyAdded),
        "dependency_removed" => Some(EventKind::DependencyRemoved),
        "label_added" => Some(EventKind::LabelAdded),
        "label_removed" => Some(EventKind::LabelRemoved),
        "commented" => Some(EventKind::Commented),
        "deleted" => Some(EventKind::Deleted),
        _ => None,
    };
    let value = |key| {
        row.get(key).and_then(|v| match v {
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        })
    };
    let new = value("new_value").or_else(|| value("comment"));
    Event {
        issue_id: str_field(row, "issue_id").unwrap_or_default(),
        kind: kind.unwrap_or(EventKind::Updated),
        actor: str_field(row, "actor").unwrap_or_else(|| "bd".to_string()),
        at: str_field(row, "created_at").unwrap_or_default(),
        old: value("old_value"),
        new: match kind {
            Some(_) => new,
            None => Some(match new {
                Some(n) => format!("bd {bd_type}: {n}"),
                None => format!("bd {bd_type}"),
            }),
        },
    }
}

/// serde's message as "column N: what" (the line is the file's, given apart).
fn describe(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let what = msg.strip_suffix(&suffix).unwrap_or(&msg);
    format!("column {}: {what}", e.column().max(1))
}

/// What an import of the directory `dir` read, for the report printed after it (the
/// [`BackupReport`]); `None` for a file (its output stays the one line it always was) or a
/// directory that can no longer be read (the import itself already reported on it).
pub fn describe_source(dir: &Path) -> Option<String> {
    if !dir.is_dir() {
        return None;
    }
    read_backup(dir).ok().map(|b| b.report.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture backup directory of the import tests.
    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bd-backup")
    }

    /// A copy of the fixture in a temp dir, with `change` applied to its files.
    fn copy_with(change: impl FnOnce(&Path)) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in std::iter::once(ISSUES).chain(OPTIONAL) {
            std::fs::copy(fixture().join(name), dir.path().join(name)).expect("copy fixture");
        }
        change(dir.path());
        dir
    }

    fn bead<'a>(b: &'a Backup, id: &str) -> &'a Bead {
        &b.records
            .iter()
            .find(|r| r.bead.id == id)
            .unwrap_or_else(|| panic!("{id} imported"))
            .bead
    }

    #[test]
    fn fixture_reads_with_nulls_int_booleans_and_mixed_case_ids() {
        let b = read_backup(&fixture()).expect("the fixture reads");
        let r = &b.report;
        assert_eq!(
            (r.issues, r.dependencies, r.labels, r.comments, r.events),
            (4, 3, 3, 3, 5)
        );
        assert!(r.missing.is_empty(), "{r}");
        let a = bead(&b, "gt-a1b");
        assert_eq!(a.assignee, "gastown/polecats/Toast");
        assert_eq!(a.labels, ["auth", "p1"]);
        assert_eq!(a.comments.len(), 2);
        assert_eq!(a.comments[0].text, "Slung to Toast", "time order");
        assert_eq!(a.dependencies.len(), 2);
        assert!(!a.extra.contains_key("closed_at") && !a.extra.contains_key("ephemeral"));
        let c = bead(&b, "gt-c2d");
        assert!(c.pinned && !c.ephemeral);
        assert_eq!(c.closed_at.as_deref(), Some("2026-01-12T08:30:00Z"));
        assert_eq!(c.extra["metadata"]["source"], "triage");
        assert_eq!(c.extra["estimated_minutes"], 30);
        assert!(!c.extra.contains_key("compaction_level"), "zeros dropped");
        assert_eq!(c.dependencies[0].depends_on_id, "gt-gastown-polecat-Toast");
        assert_eq!(bead(&b, "gt-e3f").timeout, Some(1_800_000_000_000));
        let toast = bead(&b, "gt-gastown-polecat-Toast");
        assert_eq!(toast.labels, ["gt:agent"]);
        for rec in &b.records {
            assert!(
                crate::validate::check_bead(&rec.bead).is_empty(),
                "{}: {:?}",
                rec.bead.id,
                crate::validate::check_bead(&rec.bead)
            );
        }
        let compacted = b
            .events
            .iter()
            .find(|e| e.issue_id == "gt-e3f")
            .expect("event");
        assert_eq!(
            (compacted.kind, compacted.new.as_deref()),
            (EventKind::Updated, Some("bd compacted: level 1"))
        );
        let closed = b
            .events
            .iter()
            .find(|e| e.kind == EventKind::Closed)
            .expect("closed");
        assert_eq!(
            (closed.at.as_str(), closed.new.as_deref()),
            ("2026-01-12T08:30:00Z", Some("done"))
        );
        assert_eq!(
            r.config_read,
            [("issue_prefix".to_string(), "gt".to_string())]
        );
        assert_eq!(r.config_ignored, ["status.custom", "types.custom"]);
        let skipped: Vec<(&str, usize)> = r.skipped.iter().map(|s| (s.file, s.line)).collect();
        assert_eq!(skipped, [(DEPENDENCIES, 4), (LABELS, 4)]);
        assert!(r.skipped[0].why.contains("external:beads:bd-42"), "{r}");
        assert!(r.skipped[1].why.contains("gt-gone"), "{r}");
        let text = r.to_string();
        assert!(
            text.contains("labels.jsonl:4: issue gt-gone is not in issues.jsonl"),
            "{text}"
        );
    }

    #[test]
    fn malformed_lines_in_every_file_are_listed_with_file_and_line() {
        let dir = copy_with(|d| {
            for (name, bad) in [
                (ISSUES, "{\"id\":\"gt-x\""),
                (DEPENDENCIES, "[1]"),
                (LABELS, "{\"issue_id\":\"gt-a1b\"}"),
                (COMMENTS, "{\"issue_id\":\"gt-a1b\",\"text\":5}"),
                (EVENTS, "not json"),
                (CONFIG, "{\"value\":\"x\"}"),
            ] {
                let path = d.join(name);
                let mut text = std::fs::read_to_string(&path).expect("read copy");
                text.push_str(bad);
                text.push('\n');
                std::fs::write(&path, text).expect("write copy");
            }
        });
        let err = read_backup(dir.path()).expect_err("malformed lines");
        let BackupError::Malformed { lines, .. } = &err else {
            panic!("{err}");
        };
        let got: Vec<(&str, usize)> = lines.iter().map(|l| (l.file, l.line)).collect();
        assert_eq!(
            got,
            [
                (ISSUES, 5),
                (DEPENDENCIES, 5),
                (LABELS, 5),
                (COMMENTS, 4),
                (EVENTS, 6),
                (CONFIG, 4)
            ]
        );
        let msg = err.to_string();
        assert!(
            msg.contains("labels.jsonl:5: missing field `label`"),
            "{msg}"
        );
        assert!(msg.contains("nothing was imported"), "{msg}");
    }

    #[test]
    fn bad_and_repeated_ids_and_non_utf8_are_malformed() {
        let dir = copy_with(|d| {
            let path = d.join(ISSUES);
            let text = std::fs::read_to_string(&path).expect("read copy");
            let first = text.lines().next().expect("a line").to_string();
            let upper = first.replace("\"gt-a1b\"", "\"GT-a1b\"");
            std::fs::write(&path, format!("{text}{first}\n{upper}\n")).expect("write");
            std::fs::write(
                d.join(LABELS),
                b"{\"issue_id\":\"gt-a1b\",\"label\":\"\xff\"}\n",
            )
            .expect("write");
        });
        let err = read_backup(dir.path()).expect_err("bad ids");
        let msg = err.to_string();
        assert!(
            msg.contains("issues.jsonl:5: issue gt-a1b is already on line 1"),
            "{msg}"
        );
        assert!(
            msg.contains("issues.jsonl:6: invalid bead id \"GT-a1b\""),
            "{msg}"
        );
        assert!(
            msg.contains("labels.jsonl:1: the text is not UTF-8"),
            "{msg}"
        );
    }

    #[test]
    fn missing_optional_files_are_reported_and_no_issues_is_an_error() {
        let dir = copy_with(|d| {
            for name in [COMMENTS, EVENTS, CONFIG] {
                std::fs::remove_file(d.join(name)).expect("remove");
            }
        });
        let b = read_backup(dir.path()).expect("reads without them");
        assert_eq!(b.report.missing, [COMMENTS, EVENTS, CONFIG]);
        assert_eq!((b.report.issues, b.report.comments), (4, 0));
        assert!(
            b.report
                .to_string()
                .contains("not in the directory: comments.jsonl")
        );
        std::fs::remove_file(dir.path().join(ISSUES)).expect("remove");
        let err = read_backup(dir.path()).expect_err("no issues.jsonl");
        assert!(matches!(err, BackupError::NoIssues { .. }), "{err}");
        assert!(err.to_string().contains("has no issues.jsonl"), "{err}");
    }

    #[test]
    fn sql_times_and_strings_in_rows() {
        let mut row = Map::new();
        for (k, v) in [
            ("id", Value::from("gt-q")),
            ("title", Value::from("t")),
            ("created_at", Value::from("2026-01-12 02:16:51.5")),
            ("updated_at", Value::from("2026-01-12T02:16:51-08:00")),
            ("timeout_ns", Value::from(0)),
            ("is_template", Value::from(1)),
            ("ephemeral", Value::from(7)),
        ] {
            row.insert(k.into(), v);
        }
        let err = bead_from_row(row.clone()).expect_err("7 is not a boolean");
        assert!(err.contains("ephemeral"), "{err}");
        row.insert("ephemeral".into(), Value::from(1));
        let b = bead_from_row(row).expect("a row");
        assert_eq!(b.created_at, "2026-01-12T02:16:51.5Z");
        assert_eq!(b.updated_at, "2026-01-12T02:16:51-08:00");
        assert!(b.ephemeral && b.extra["is_template"] == Value::Bool(true));
        assert_eq!(b.timeout, None);
    }
}
