//! Which runtimes are limited, and until when: `<town>/.runtime/limits.json`, keyed by runtime
//! name (`<runtime>/<account>` for an account of a runtime with accounts), written atomically,
//! so a supervisor restart keeps every limit and its reset. A limit whose reset has passed
//! stays in the file (with `resumed`) so the next limit in a row backs
//! off longer; [`Limits::take_due`] hands each passed reset out once, for resuming its sessions.

use super::reset::{BACKOFF_CAP, reset_after};
use crate::runtimes::accounts::account_key;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The file, in the town's runtime dir.
pub const FILE: &str = "limits.json";

/// One runtime's limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// When it resets (Unix seconds): nothing is sent to the runtime's sessions before.
    pub until: u64,
    /// When it was seen (Unix seconds).
    pub since: u64,
    /// The screen line that said so (`usage limit: API Error: Request rejected (429) · …`).
    pub line: String,
    /// Limits in a row (0 for the first): the backoff of an unknown reset doubles with it.
    pub streak: u32,
    /// The reset passed and the runtime's sessions were told their hooks again.
    #[serde(default)]
    pub resumed: bool,
}

impl Limit {
    /// Whether the limit still holds at `now`.
    pub fn holds(&self, now: SystemTime) -> bool {
        unix(now) < self.until
    }

    /// The reset as a time.
    pub fn until_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.until)
    }
}

/// Every runtime's limit, as the file holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// By runtime name.
    pub runtimes: BTreeMap<String, Limit>,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(FILE)
}

impl Limits {
    /// The file's limits; none when there is no file. A file that is not valid JSON is an error
    /// naming it (delete it to forget every limit).
    pub fn load(runtime_dir: &Path) -> Result<Limits> {
        let file = path(runtime_dir);
        match std::fs::read_to_string(&file) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not valid: delete it to forget every usage limit",
                    file.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Limits::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", file.display())),
        }
    }

    fn save(&self, runtime_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(runtime_dir)
            .with_context(|| format!("cannot create {}", runtime_dir.display()))?;
        let mut temp = tempfile::NamedTempFile::new_in(runtime_dir)
            .with_context(|| format!("cannot write in {}", runtime_dir.display()))?;
        serde_json::to_writer_pretty(&mut temp, self).context("usage limits as JSON")?;
        temp.persist(path(runtime_dir))
            .with_context(|| format!("cannot replace {}", path(runtime_dir).display()))?;
        Ok(())
    }

    /// The limit holding for `runtime` at `now`, if any.
    pub fn holding(&self, runtime: &str, now: SystemTime) -> Option<&Limit> {
        self.runtimes.get(runtime).filter(|l| l.holds(now))
    }

    /// The limit holding for `runtime` at `now`: with `accounts` (the names of those that can
    /// take a session), only when every one of them is limited, and then the one ending first.
    pub fn runtime_holding(
        &self,
        runtime: &str,
        accounts: &[String],
        now: SystemTime,
    ) -> Option<&Limit> {
        if accounts.is_empty() {
            return self.holding(runtime, now);
        }
        let mut first: Option<&Limit> = None;
        for account in accounts {
            let limit = self.holding(&account_key(runtime, account), now)?;
            if first.is_none_or(|f| limit.until < f.until) {
                first = Some(limit);
            }
        }
        first
    }

    /// Every limit holding at `now`.
    pub fn active(&self, now: SystemTime) -> impl Iterator<Item = (&String, &Limit)> {
        self.runtimes.iter().filter(move |(_, l)| l.holds(now))
    }
}

/// The limit holding for `runtime` now, read from the file (the gate every sender asks: a
/// missing or unreadable file limits nothing).
pub fn limited(runtime_dir: &Path, runtime: &str, now: SystemTime) -> Option<Limit> {
    Limits::load(runtime_dir)
        .ok()?
        .holding(runtime, now)
        .cloned()
}

/// Record that `runtime`'s session showed `line` at `now`: limited until the reset the line says,
/// else backing off. A limit already holding is kept (the same limit seen again); one that
/// passed within the backoff cap makes this one the next in a streak.
pub fn mark(runtime_dir: &Path, runtime: &str, line: &str, now: SystemTime) -> Result<Limit> {
    let mut limits = Limits::load(runtime_dir)?;
    if let Some(holding) = limits.holding(runtime, now) {
        return Ok(holding.clone());
    }
    let streak = match limits.runtimes.get(runtime) {
        Some(last) if unix(now) < last.until + BACKOFF_CAP.as_secs() => last.streak + 1,
        _ => 0,
    };
    let until = unix(reset_after(line, now, streak)).max(unix(now) + 1);
    let limit = Limit {
        until,
        since: unix(now),
        line: line.to_string(),
        streak,
        resumed: false,
    };
    limits.runtimes.insert(runtime.to_string(), limit.clone());
    limits.save(runtime_dir)?;
    Ok(limit)
}

/// The runtimes whose limit reset by `now` and were not resumed yet, marked resumed: each
/// passed reset is handed out once, across supervisor restarts.
pub fn take_due(runtime_dir: &Path, now: SystemTime) -> Result<Vec<String>> {
    let mut limits = Limits::load(runtime_dir)?;
    let due: Vec<String> = limits
        .runtimes
        .iter()
        .filter(|(_, l)| !l.resumed && !l.holds(now))
        .map(|(name, _)| name.clone())
        .collect();
    if due.is_empty() {
        return Ok(due);
    }
    for name in &due {
        if let Some(limit) = limits.runtimes.get_mut(name) {
            limit.resumed = true;
        }
    }
    limits.save(runtime_dir)?;
    Ok(due)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::reset::BACKOFF_FIRST;

    #[test]
    fn a_limit_holds_until_its_reset_survives_a_reload_and_is_resumed_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let limit = mark(dir.path(), "claude", "usage limit: try again in 90s", now).expect("mark");
        assert_eq!(limit.until, 1_800_000_090);
        assert!(limited(dir.path(), "claude", now).is_some());
        assert!(limited(dir.path(), "codex", now).is_none(), "per runtime");
        let again =
            mark(dir.path(), "claude", "usage limit: try again in 9999s", now).expect("mark");
        assert_eq!(again, limit, "the same limit seen again");
        assert!(take_due(dir.path(), now).expect("due").is_empty());
        let after = now + Duration::from_secs(90);
        assert!(limited(dir.path(), "claude", after).is_none());
        assert_eq!(
            take_due(dir.path(), after).expect("due"),
            vec!["claude".to_string()]
        );
        assert!(take_due(dir.path(), after).expect("due").is_empty(), "once");
    }

    #[test]
    fn unknown_resets_in_a_row_back_off_longer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut waits = Vec::new();
        for _ in 0..3 {
            let limit = mark(
                dir.path(),
                "codex",
                "exceeded retry limit, last status: 429",
                now,
            )
            .expect("mark");
            waits.push(limit.until - limit.since);
            now = limit.until_time();
        }
        let first = BACKOFF_FIRST.as_secs();
        assert_eq!(waits, vec![first, first * 2, first * 4]);
    }

    #[test]
    fn a_runtime_with_accounts_is_limited_only_when_every_account_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let accounts = vec!["a".to_string(), "b".to_string()];
        mark(dir.path(), "claude/a", "usage limit: try again in 90s", now).expect("mark");
        let limits = Limits::load(dir.path()).expect("load");
        assert!(limits.runtime_holding("claude", &accounts, now).is_none());
        mark(dir.path(), "claude/b", "usage limit: try again in 30s", now).expect("mark");
        let limits = Limits::load(dir.path()).expect("load");
        let holding = limits
            .runtime_holding("claude", &accounts, now)
            .expect("both limited");
        assert_eq!(holding.until, 1_800_000_030, "the first to reset");
        assert!(
            limits.runtime_holding("claude", &[], now).is_none(),
            "by name"
        );
    }

    #[test]
    fn a_bad_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE), "not json").expect("write");
        let err = Limits::load(dir.path()).expect_err("bad file");
        assert!(format!("{err:#}").contains(FILE), "{err:#}");
        assert!(limited(dir.path(), "claude", SystemTime::now()).is_none());
    }
}
