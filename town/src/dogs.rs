//! The Deacon's dogs: mechanical chores on timers of their own (`docs/dogs.md`). This file is
//! their domain side: `[dogs.<name>]` in town.toml, the chores themselves, and the report each
//! dog gives (`gastown dog list`). `gastown run` runs each dog as an actor under `deacon/dogs`
//! (`src/run/dogs.rs`); without it `gastown dog run <name>` runs a chore once, in the CLI.
//!
//! Dogs so far:
//! - `checkpoint` — every polecat worktree with uncommitted work is saved as a checkpoint
//!   (`crate::checkpoint`), so a crash or a lost worktree never loses it.
//! - `reaper` — closed wisps (handled protocol mail, burned-through molecule steps) closed longer
//!   than [`REAP_AFTER`] ago are removed from the ledger's local tables ([`reap`]); open wisps and
//!   beads that go to git are never touched.
//! - `compactor` — persistent molecules closed longer than `older_than` ago (default
//!   [`COMPACT_AFTER`]) are squashed into their digests and their step beads leave the live
//!   ledger (`crate::molecule::compact`; git's history keeps them).
//! - `doctor` — the doctor's checks (`crate::doctor`, never `--fix`); each finding is raised as
//!   an escalation once (the same finding again folds into the open one).
//! - `costs` — the tokens each open agent's sessions used since the last run, read from their
//!   transcripts and added to the agent bead's `usage` (`crate::costs::collect`).
//! - `sync` — `gastown sync` (pull and push, `crate::sync`) when the town repository has a
//!   remote ([`sync_chore`]); with none its outcome is "no remote: nothing to do". It runs as
//!   [`LedgerSteps`](crate::steps::LedgerSteps): under `gastown run` each ledger step is one
//!   operation of the ledger actor and the network stays outside it.

use crate::duration::HumanDuration;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The dogs there are, with their default period.
pub const KNOWN: &[(&str, Duration)] = &[
    ("checkpoint", Duration::from_secs(5 * 60)),
    ("compactor", Duration::from_secs(6 * 60 * 60)),
    // A minute: `gastown costs` and the collector's reports stay current.
    ("costs", Duration::from_secs(60)),
    ("doctor", Duration::from_secs(60 * 60)),
    ("reaper", Duration::from_secs(60 * 60)),
    // A minute: another machine's work shows up here while it is still news, and a sync with
    // nothing new is a fetch of one ref.
    ("sync", Duration::from_secs(60)),
];

/// How long a closed wisp is kept before the reaper removes it (a day: long enough to read what
/// happened yesterday).
pub const REAP_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a molecule stays closed before the compactor squashes it into its digest (a week:
/// its steps stay at hand for `mol status` while anyone may still look back at them).
pub const COMPACT_AFTER: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The dogs whose chore runs in the ledger (the ledger actor under `gastown run`).
pub const IN_LEDGER: &[&str] = &["compactor", "costs", "reaper"];

/// The dogs whose chore runs as ledger steps with outside work between them (the ledger actor's
/// steps under `gastown run`, `LedgerHandle::in_steps`), never inside one ledger operation.
pub const IN_STEPS: &[&str] = &["sync"];

/// The sync dog's outcome when the town repository has no remote.
pub const NO_REMOTE: &str = "no remote: nothing to do";

/// Who the compactor acts as in the audit trail.
const COMPACTOR: &str = "deacon/dogs/compactor";
/// Who the costs dog acts as.
const COSTS: &str = "deacon/dogs/costs";

/// Run the chore of dog `name`, one of [`IN_LEDGER`], on `ledger` (the CLI's own, or in the
/// supervisor's ledger actor) at `now_nanos`.
pub fn run_in_ledger(
    town: &crate::town::Town,
    name: &str,
    ledger: &mut gastown_beads::Ledger,
    now_nanos: i128,
) -> Result<ChoreOutcome> {
    let section = &town.config.dogs;
    match name {
        "reaper" => reap(ledger, now_nanos, REAP_AFTER).map(ChoreOutcome::from),
        "costs" => costs_chore(town, ledger, &crate::costs::record::today()),
        "compactor" => {
            let older_than = config_of(section, name)
                .and_then(|c| c.older_than)
                .map_or(COMPACT_AFTER, |d| d.0);
            let done = crate::molecule::compact(ledger, now_nanos, older_than, COMPACTOR)?;
            let summary = done.summary();
            if done.failed.is_empty() {
                Ok(summary.into())
            } else {
                bail!("{summary}")
            }
        }
        other => bail!("the {other} dog does not run in the ledger"),
    }
}

/// The costs dog on `day` (UTC): collect the sessions' new usage, then enforce the budgets
/// (`crate::budget::enforce`: an escalation at 80 % and at 100 %, once each).
pub fn costs_chore(
    town: &crate::town::Town,
    ledger: &mut gastown_beads::Ledger,
    day: &str,
) -> Result<ChoreOutcome> {
    let done = crate::costs::collect(ledger, day)?;
    let mut summary = done.summary();
    let (_, uses) = crate::budget::assess(ledger, town, day)?;
    let raised = crate::budget::enforce(ledger, town, &uses, day, COSTS)?;
    let paused: Vec<String> = uses
        .iter()
        .filter(|u| u.level == crate::budget::Level::Paused)
        .map(crate::budget::BudgetUse::label)
        .collect();
    if !paused.is_empty() {
        summary.push_str(&format!("; paused by budget: {}", paused.join(", ")));
    }
    Ok(ChoreOutcome {
        summary,
        findings: Vec::new(),
        raised,
    })
}

/// The sync dog: `gastown sync` (commit, fetch, merge, push) with the remote
/// [`crate::sync::choose_remote`] picks; [`NO_REMOTE`] when the town repository has none. An
/// unreachable remote, a rewritten remote ledger or a refused push is the chore's error.
pub fn sync_chore<S: crate::steps::LedgerSteps>(
    steps: &mut S,
    town: &crate::town::Town,
) -> Result<String> {
    if crate::sync::choose_remote(town, None)?.is_none() {
        return Ok(NO_REMOTE.to_string());
    }
    let report = crate::sync::sync(steps, town, &crate::sync::SyncOptions::default())?;
    Ok(report.summary())
}

/// The reaper: burn every wisp closed at least `after` before `now_nanos`; returns how many.
pub fn reap(
    ledger: &mut gastown_beads::Ledger,
    now_nanos: i128,
    after: Duration,
) -> Result<String> {
    let after = i128::try_from(after.as_nanos()).unwrap_or(i128::MAX);
    let closed = ledger.list(&gastown_beads::ListFilter {
        status: Some(gastown_beads::Status::Closed),
        all: true,
        ..gastown_beads::ListFilter::default()
    })?;
    let expired: Vec<String> = closed
        .into_iter()
        .filter(|b| b.ephemeral)
        .filter(|b| {
            b.closed_at
                .as_deref()
                .and_then(gastown_beads::time::parse_rfc3339)
                .is_some_and(|at| now_nanos.saturating_sub(at) >= after)
        })
        .map(|b| b.id)
        .collect();
    for id in &expired {
        ledger.burn_wisp(id)?;
    }
    Ok(format!("{} expired wisp(s) reaped", expired.len()))
}

/// What a chore did: its summary line, and findings to escalate (severity, message).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChoreOutcome {
    pub summary: String,
    pub findings: Vec<(crate::escalation::Severity, String)>,
    /// Escalations the chore raised and routed in the ledger itself (the budgets'), with their
    /// outside channels still to run.
    pub raised: Vec<(
        crate::escalation::Escalation,
        Vec<crate::escalation::routing::Outside>,
    )>,
}

impl From<String> for ChoreOutcome {
    fn from(summary: String) -> ChoreOutcome {
        ChoreOutcome {
            summary,
            findings: Vec::new(),
            raised: Vec::new(),
        }
    }
}

/// `[dogs.<name>]` in `town.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DogConfig {
    /// How often the chore runs.
    pub every: HumanDuration,
    /// `false` keeps the dog in its kennel (listed, never run by the timer).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The compactor only: how long a molecule stays closed before it is compacted (default
    /// [`COMPACT_AFTER`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than: Option<HumanDuration>,
}

fn yes() -> bool {
    true
}

/// `[dogs]` in `town.toml`: one table per dog to change from its defaults.
pub type DogsSection = BTreeMap<String, DogConfig>;

/// Refuse unknown dogs and zero periods; the error names the key.
pub fn check(section: &DogsSection) -> Result<()> {
    for (name, config) in section {
        if !KNOWN.iter().any(|(known, _)| known == name) {
            bail!(
                "`[dogs.{name}]`: there is no dog {name:?}; the dogs are {}",
                names().join(", ")
            );
        }
        if config.every.0.is_zero() {
            bail!("`dogs.{name}.every` is 0: give it a duration like \"5m\"");
        }
        if config.older_than.is_some() && name != "compactor" {
            bail!(
                "`dogs.{name}.older_than`: only the compactor takes `older_than`; remove it from [dogs.{name}]"
            );
        }
    }
    Ok(())
}

/// Every dog's name.
pub fn names() -> Vec<&'static str> {
    KNOWN.iter().map(|(name, _)| *name).collect()
}

/// The settings of dog `name` (its defaults unless town.toml says otherwise); `None` for a name
/// that is no dog.
pub fn config_of(section: &DogsSection, name: &str) -> Option<DogConfig> {
    let (_, every) = KNOWN.iter().find(|(known, _)| *known == name)?;
    Some(section.get(name).cloned().unwrap_or(DogConfig {
        every: HumanDuration(*every),
        enabled: true,
        older_than: None,
    }))
}

/// What `gastown dog list` shows of one dog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DogReport {
    pub name: String,
    /// Its period, humantime.
    pub every: String,
    pub enabled: bool,
    /// Whether `gastown run` runs it (false: only configured).
    pub running: bool,
    /// Chores run so far (since `gastown run` started).
    pub runs: u64,
    /// When the last one ended (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<String>,
    /// What the last one did, or its error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<String>,
    /// Whether the last one succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ok: Option<bool>,
    /// Failures since the last success (the dog backs off, and escalates once at 3).
    pub failures_in_a_row: u32,
    /// Set for a dog session (judgement work slung to `deacon/dogs/<name>`) instead of a chore:
    /// its chore fields are empty (`crate::dog_sessions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<crate::dog_sessions::DogSession>,
}

impl DogReport {
    /// A dog as configured, before any run.
    pub fn configured(name: &str, config: &DogConfig, running: bool) -> DogReport {
        DogReport {
            name: name.to_string(),
            every: humantime::format_duration(config.every.0).to_string(),
            enabled: config.enabled,
            running,
            runs: 0,
            last_run: None,
            last_outcome: None,
            last_ok: None,
            failures_in_a_row: 0,
            session: None,
        }
    }
}

/// Run dog `name`'s chore once (`supervised`: under `gastown run`, which holds the ledger).
pub fn run_chore(town: &crate::town::Town, name: &str, supervised: bool) -> Result<ChoreOutcome> {
    match name {
        "checkpoint" => checkpoint_all(town).map(ChoreOutcome::from),
        "doctor" => Ok(doctor(town, supervised)),
        name if (IN_LEDGER.contains(&name) || IN_STEPS.contains(&name)) && supervised => {
            bail!("the {name} dog runs in the ledger: ask the supervisor")
        }
        "sync" => {
            let mut ledger = town.open_ledger()?;
            let done = sync_chore(&mut ledger, town);
            ledger.close_ledger()?;
            done.map(ChoreOutcome::from)
        }
        name if IN_LEDGER.contains(&name) => {
            let mut ledger = town.open_ledger()?;
            let done = run_in_ledger(
                town,
                name,
                &mut ledger,
                gastown_beads::time::now_unix_nanos(),
            );
            ledger.close_ledger()?;
            done
        }
        other => bail!(
            "there is no dog {other:?}; the dogs are {}",
            names().join(", ")
        ),
    }
}

/// The checkpoint dog: a checkpoint of every polecat worktree with uncommitted work. One
/// polecat's failure does not stop the others, nor does a rig whose rig.toml cannot be read (the
/// good rigs are still checkpointed); any failure fails the run (after all of them).
pub fn checkpoint_all(town: &crate::town::Town) -> Result<String> {
    use crate::checkpoint::{Saved, save};
    let (mut saved, mut clean, mut unchanged) = (0, 0, 0);
    let mut failed = Vec::new();
    let mut restarted = Vec::new();
    for (name, rig) in crate::rig::Rig::list_each(town)? {
        let rig = match rig {
            Ok(rig) => rig,
            Err(e) => {
                failed.push(format!("rig {name}: {e:#}"));
                continue;
            }
        };
        let polecats = match rig.polecats_present() {
            Ok(p) => p,
            Err(e) => {
                failed.push(format!("rig {name}: {e:#}"));
                continue;
            }
        };
        for polecat in polecats {
            if !rig.polecat_worktree(&polecat).join(".git").exists() {
                continue;
            }
            let address = format!("{}/polecats/{polecat}", rig.name());
            let agent = match crate::identity::AgentIdentity::parse(&address) {
                Ok(agent) => agent,
                Err(e) => {
                    failed.push(format!("{address}: {e:#}"));
                    continue;
                }
            };
            match save(town, &agent) {
                Ok(Saved::Saved(c)) => {
                    tracing::info!(agent = %address, checkpoint = %c.commit, files = c.files.len(), "checkpoint taken");
                    saved += 1;
                }
                Ok(Saved::Restarted { checkpoint, broken }) => {
                    tracing::warn!(agent = %address, checkpoint = %checkpoint.commit, kept_at = %broken.kept_at, "checkpoint taken on a new chain: the previous one could not be read ({})", broken.why);
                    saved += 1;
                    restarted.push(format!(
                        "{address} (unreadable {} kept at {})",
                        broken.commit, broken.kept_at
                    ));
                }
                Ok(Saved::Unchanged(_)) => unchanged += 1,
                Ok(Saved::Clean) => clean += 1,
                Err(e) => failed.push(format!("{address}: {e:#}")),
            }
        }
    }
    let mut summary = format!("{saved} saved, {unchanged} unchanged, {clean} clean");
    if !restarted.is_empty() {
        summary.push_str(&format!("; new chain for {}", restarted.join(", ")));
    }
    if failed.is_empty() {
        Ok(summary)
    } else {
        bail!("{summary}, {} failed: {}", failed.len(), failed.join("; "))
    }
}

/// The doctor dog: every check that is not ok becomes a finding (a warning low, an error high),
/// worded the same each time so a repeat folds into the open escalation. `supervised`: the
/// ledger is the supervisor's, and its checks ([`crate::doctor::ledger_checks`]) are run in its
/// ledger actor and added with [`doctor_outcome`] (`src/run/dogs.rs`).
pub fn doctor(town: &crate::town::Town, supervised: bool) -> ChoreOutcome {
    doctor_outcome(doctor_checks(town, supervised))
}

/// The doctor's checks as the dog runs them (never `--fix`).
pub fn doctor_checks(town: &crate::town::Town, supervised: bool) -> Vec<crate::doctor::Check> {
    use crate::doctor::{Options, Places, examine};
    examine(
        &town.root,
        Options {
            fix: false,
            supervisor_running: supervised,
            remote_timeout: None,
        },
        &Places::default(),
    )
}

/// The doctor dog's outcome of `checks`: one finding per check that is not ok.
pub fn doctor_outcome(checks: Vec<crate::doctor::Check>) -> ChoreOutcome {
    use crate::doctor::Status;
    use crate::escalation::Severity;
    let findings: Vec<(Severity, String)> = checks
        .iter()
        .filter(|c| c.status != Status::Ok)
        .map(|c| {
            let severity = if c.status == Status::Error {
                Severity::High
            } else {
                Severity::Low
            };
            (
                severity,
                format!(
                    "the doctor finds a problem: {}\n\nRun `gastown doctor` for what it found and the fix ({}).",
                    c.name,
                    c.fix.as_deref().unwrap_or("see the check")
                ),
            )
        })
        .collect();
    ChoreOutcome {
        summary: format!("{} checks, {} finding(s)", checks.len(), findings.len()),
        findings,
        raised: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gastown_beads::NewBead;

    #[test]
    fn the_reaper_burns_a_thousand_expired_wisps_and_nothing_live() {
        let (_d, _town, mut ledger) = crate::testing::town();
        let make = |ledger: &mut gastown_beads::Ledger, ephemeral: bool| {
            ledger
                .create(
                    NewBead {
                        title: "w".to_string(),
                        ephemeral,
                        ..NewBead::default()
                    },
                    "overseer",
                )
                .expect("create")
                .id
        };
        let mut expired = Vec::new();
        for _ in 0..1000 {
            let id = make(&mut ledger, true);
            ledger.close(&id, "handled", "overseer").expect("close");
            expired.push(id);
        }
        let open_wisps: Vec<String> = (0..10).map(|_| make(&mut ledger, true)).collect();
        let closed_beads: Vec<String> = (0..10)
            .map(|_| {
                let id = make(&mut ledger, false);
                ledger.close(&id, "done", "overseer").expect("close");
                id
            })
            .collect();
        let day = Duration::from_secs(86_400);
        let now = gastown_beads::time::now_unix_nanos();
        // Not yet expired: nothing reaped.
        assert_eq!(
            reap(&mut ledger, now, day).expect("reap"),
            "0 expired wisp(s) reaped"
        );
        let later = now + i128::try_from(day.as_nanos()).expect("fits") + 1;
        assert_eq!(
            reap(&mut ledger, later, day).expect("reap"),
            "1000 expired wisp(s) reaped"
        );
        for id in &expired {
            assert!(ledger.get(id).expect("get").is_none(), "{id} reaped");
        }
        for id in open_wisps.iter().chain(&closed_beads) {
            assert!(ledger.get(id).expect("get").is_some(), "{id} kept");
        }
        assert_eq!(
            reap(&mut ledger, later, day).expect("reap"),
            "0 expired wisp(s) reaped"
        );
    }

    #[test]
    fn unknown_dogs_and_zero_periods_are_refused_naming_the_key() {
        let bad: DogsSection = toml::from_str("[fetch]\nevery = \"5m\"").expect("parses");
        let err = check(&bad).expect_err("unknown").to_string();
        assert!(
            err.contains("[dogs.fetch]") && err.contains("reaper"),
            "{err}"
        );
        let zero: DogsSection = toml::from_str("[reaper]\nevery = \"0s\"").expect("parses");
        assert!(
            check(&zero)
                .expect_err("zero")
                .to_string()
                .contains("dogs.reaper.every")
        );
        assert!(toml::from_str::<DogsSection>("[reaper]\nevery = \"soon\"").is_err());
        let misplaced: DogsSection =
            toml::from_str("[reaper]\nevery = \"1h\"\nolder_than = \"1d\"").expect("parses");
        let err = check(&misplaced)
            .expect_err("not the compactor")
            .to_string();
        assert!(
            err.contains("dogs.reaper.older_than") && err.contains("only the compactor"),
            "{err}"
        );
        let compactor: DogsSection =
            toml::from_str("[compactor]\nevery = \"1h\"\nolder_than = \"3d\"").expect("parses");
        check(&compactor).expect("the compactor takes older_than");
        assert_eq!(
            config_of(&compactor, "compactor").and_then(|c| c.older_than),
            Some(HumanDuration(Duration::from_secs(3 * 86_400)))
        );
    }
}
