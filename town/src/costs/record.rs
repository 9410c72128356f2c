//! Usage in the ledger: the collector that reads each session's transcript and records its
//! tokens, and the rows `gastown costs` groups.
//!
//! Each agent bead keeps a `usage` field: a list of [`UsageEntry`] (runtime, model, UTC day,
//! bead, tokens) that only ever grows by addition. The collector ([`collect`], [`collect_agent`])
//! reads what each session's transcript gained since its cursor (kept on the session record,
//! `sessions[].cursor`) and writes the moved cursors and the added tokens in **one** write of
//! the agent bead — so a crash between reading and writing loses nothing and counts nothing
//! twice: the next run reads from the old cursor again. Tokens go to the bead on the agent's
//! hook when they are collected (else to the agent bead itself); `gastown done` collects before
//! it clears the hook, so a finished bead gets its work's tokens.

use super::usage::{Reading, Tokens, read_claude, read_codex};
use crate::agents::{self, AgentRecord};
use anyhow::Result;
use gastown_beads::{IssueType, Ledger, ListFilter};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who the collector acts as in the audit trail.
const COLLECTOR: &str = "deacon/dogs/costs";

/// Tokens of one runtime and model on one UTC day, attributed to one bead (an entry of an agent
/// bead's `usage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageEntry {
    pub runtime: String,
    pub model: String,
    /// `YYYY-MM-DD`, UTC, when the tokens were collected.
    pub day: String,
    /// The bead on the agent's hook when they were collected, else the agent bead.
    pub bead: String,
    #[serde(flatten)]
    pub tokens: Tokens,
}

/// Add `tokens` to the entry of (runtime, model, day, bead), making it when there is none.
pub fn add_entry(
    usage: &mut Vec<UsageEntry>,
    runtime: &str,
    model: &str,
    day: &str,
    bead: &str,
    tokens: &Tokens,
) {
    let found = usage
        .iter_mut()
        .find(|e| e.runtime == runtime && e.model == model && e.day == day && e.bead == bead);
    match found {
        Some(entry) => entry.tokens.add(tokens),
        None => usage.push(UsageEntry {
            runtime: runtime.to_string(),
            model: model.to_string(),
            day: day.to_string(),
            bead: bead.to_string(),
            tokens: *tokens,
        }),
    }
}

/// What a collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collected {
    /// Agent beads written.
    pub agents: usize,
    /// Tokens added, all kinds together.
    pub tokens: u64,
    /// What could not be read, one line each (a missing transcript, a line that is not JSON).
    pub problems: Vec<String>,
}

impl Collected {
    /// The dog's outcome line.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} token(s) collected from {} agent(s)",
            self.tokens, self.agents
        );
        if !self.problems.is_empty() {
            text.push_str(&format!("; {} problem(s): ", self.problems.len()));
            text.push_str(&self.problems.join("; "));
        }
        text
    }
}

/// Collect the new usage of every open agent's sessions (the `costs` dog; `gastown costs` before
/// it prints). `today` is the UTC day (`YYYY-MM-DD`) the tokens are recorded under.
pub fn collect(ledger: &mut Ledger, today: &str) -> Result<Collected> {
    let beads = ledger.list(&ListFilter {
        issue_type: Some(IssueType::Agent),
        ..ListFilter::default()
    })?;
    let mut done = Collected::default();
    for bead in beads.iter().filter(|b| agents::is_live(b)) {
        let record = AgentRecord::from_bead(bead)?;
        collect_record(ledger, record, today, &mut done)?;
    }
    Ok(done)
}

/// Collect the new usage of one agent's sessions (`gastown done`, before its hook is cleared).
pub fn collect_agent(ledger: &mut Ledger, address: &str, today: &str) -> Result<Collected> {
    let mut done = Collected::default();
    if let Some(record) = agents::find(ledger, address)? {
        collect_record(ledger, record, today, &mut done)?;
    }
    Ok(done)
}

/// Today's UTC day, `YYYY-MM-DD`.
pub fn today() -> String {
    gastown_beads::time::now_rfc3339()
        .chars()
        .take(10)
        .collect()
}

fn collect_record(
    ledger: &mut Ledger,
    record: AgentRecord,
    today: &str,
    done: &mut Collected,
) -> Result<()> {
    let bead = record.hook.clone().unwrap_or_else(|| record.id.clone());
    let mut sessions = record.sessions.clone();
    let mut usage = record.usage.clone();
    let mut moved = false;
    let mut added = 0;
    for session in sessions.iter_mut() {
        let Some(transcript) = session.transcript.clone() else {
            continue;
        };
        let runtime = session
            .runtime
            .clone()
            .or_else(|| record.runtime.clone())
            .unwrap_or_else(|| "unknown".to_string());
        let mut cursor = session.cursor.clone().unwrap_or_default();
        let path = std::path::Path::new(&transcript);
        let read: std::io::Result<Reading> = if runtime == "codex" {
            read_codex(path, &mut cursor)
        } else {
            // Claude Code, the sim, and any runtime that writes Claude's format.
            read_claude(path, &mut cursor)
        };
        let read = match read {
            Ok(read) => read,
            Err(e) => {
                done.problems
                    .push(format!("{}: cannot read {transcript}: {e}", record.address));
                continue;
            }
        };
        if read.missing {
            done.problems.push(format!(
                "{}: transcript {transcript} is missing (its usage so far is kept)",
                record.address
            ));
        }
        for (line, why) in &read.skipped {
            done.problems.push(format!(
                "{}: {transcript} line {line} skipped: {why}",
                record.address
            ));
        }
        for model in &read.usage {
            add_entry(
                &mut usage,
                &runtime,
                &model.model,
                today,
                &bead,
                &model.tokens,
            );
            added += model.tokens.total();
        }
        if session.cursor.as_ref() != Some(&cursor) {
            session.cursor = Some(cursor);
            moved = true;
        }
    }
    if moved {
        // The cursors and the tokens they read: one write.
        AgentRecord::sessions_and_usage_fields(&sessions, &usage)
            .write(ledger, &record.id, COLLECTOR)?;
        done.agents += 1;
        done.tokens += added;
    }
    Ok(())
}

/// One usage entry with who and where: what `gastown costs` groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRow {
    pub agent: String,
    /// The agent's rig ("" for the town's own roles).
    pub rig: String,
    /// The open or landed convoy tracking the bead ("" when none does).
    pub convoy: String,
    pub entry: UsageEntry,
}

/// Every usage entry of every agent bead (closed ones too: their history still cost), on days
/// from `since` (`YYYY-MM-DD`) on.
pub fn rows(ledger: &Ledger, since: Option<&str>) -> Result<Vec<UsageRow>> {
    let mut convoy_of: BTreeMap<String, String> = BTreeMap::new();
    for convoy in crate::convoy::convoys(ledger, true)? {
        for tracked in crate::convoy::tracked_ids(&convoy) {
            convoy_of
                .entry(tracked)
                .or_insert_with(|| convoy.id.clone());
        }
    }
    let beads = ledger.list(&ListFilter {
        issue_type: Some(IssueType::Agent),
        all: true,
        ..ListFilter::default()
    })?;
    let mut rows = Vec::new();
    for bead in &beads {
        let record = AgentRecord::from_bead(bead)?;
        for entry in record.usage {
            if since.is_some_and(|since| entry.day.as_str() < since) {
                continue;
            }
            rows.push(UsageRow {
                agent: record.address.clone(),
                rig: record.rig.clone(),
                convoy: convoy_of.get(&entry.bead).cloned().unwrap_or_default(),
                entry,
            });
        }
    }
    Ok(rows)
}

/// What `gastown costs` gets from the ledger: every usage row (from `since` on) after a
/// collection, and what that collection could not read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostsView {
    pub rows: Vec<UsageRow>,
    pub problems: Vec<String>,
}

/// Collect, then read the rows (`gastown costs`, in the ledger's owner).
pub fn view(ledger: &mut Ledger, since: Option<&str>) -> Result<CostsView> {
    if let Some(since) = since {
        check_day(since)?;
    }
    let collected = collect(ledger, &today())?;
    Ok(CostsView {
        rows: rows(ledger, since)?,
        problems: collected.problems,
    })
}

/// A day is `YYYY-MM-DD`.
pub fn check_day(day: &str) -> Result<()> {
    let b = day.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && (1..=12).contains(&day[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&day[8..10].parse::<u32>().unwrap_or(0));
    if !ok {
        anyhow::bail!("{day:?} is not a day: give it as YYYY-MM-DD (UTC), e.g. 2026-01-31");
    }
    Ok(())
}

/// What `gastown costs` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupBy {
    Agent,
    Bead,
    Convoy,
    Rig,
    Runtime,
    Model,
    Day,
}

impl GroupBy {
    /// The words `--by` takes.
    pub const WORDS: &'static [&'static str] =
        &["agent", "bead", "convoy", "rig", "runtime", "model", "day"];

    /// Parse `--by`; a word it does not know is an error listing those it does.
    pub fn parse(word: &str) -> Result<GroupBy> {
        Ok(match word {
            "agent" => GroupBy::Agent,
            "bead" => GroupBy::Bead,
            "convoy" => GroupBy::Convoy,
            "rig" => GroupBy::Rig,
            "runtime" => GroupBy::Runtime,
            "model" => GroupBy::Model,
            "day" => GroupBy::Day,
            other => anyhow::bail!(
                "cannot group costs by {other:?}: use one of {}",
                Self::WORDS.join(", ")
            ),
        })
    }

    fn key(self, row: &UsageRow) -> String {
        let or = |s: &str, none: &str| {
            if s.is_empty() {
                none.to_string()
            } else {
                s.to_string()
            }
        };
        match self {
            GroupBy::Agent => row.agent.clone(),
            GroupBy::Bead => row.entry.bead.clone(),
            GroupBy::Convoy => or(&row.convoy, "(no convoy)"),
            GroupBy::Rig => or(&row.rig, "(town)"),
            GroupBy::Runtime => row.entry.runtime.clone(),
            GroupBy::Model => row.entry.model.clone(),
            GroupBy::Day => row.entry.day.clone(),
        }
    }
}

/// One group's tokens and what they cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostLine {
    pub key: String,
    pub tokens: Tokens,
    /// Dollars for the tokens of priced models.
    pub dollars: f64,
    /// Models with tokens here and no price (their tokens cost nothing in `dollars`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpriced: Vec<String>,
}

impl CostLine {
    fn add(&mut self, row: &UsageRow, prices: &super::prices::PriceTable) {
        self.tokens.add(&row.entry.tokens);
        match prices.cost(&row.entry.model, &row.entry.tokens) {
            Some(dollars) => self.dollars += dollars,
            None => {
                if !self.unpriced.contains(&row.entry.model) {
                    self.unpriced.push(row.entry.model.clone());
                }
            }
        }
    }
}

/// The groups (by key) and the total.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostReport {
    pub by: String,
    pub groups: Vec<CostLine>,
    pub total: CostLine,
}

/// Group `rows` by `by` and price them with `prices`.
pub fn report(rows: &[UsageRow], by: GroupBy, prices: &super::prices::PriceTable) -> CostReport {
    let mut groups: BTreeMap<String, CostLine> = BTreeMap::new();
    let mut total = CostLine {
        key: "total".to_string(),
        ..CostLine::default()
    };
    for row in rows {
        let key = by.key(row);
        groups
            .entry(key.clone())
            .or_insert_with(|| CostLine {
                key,
                ..CostLine::default()
            })
            .add(row, prices);
        total.add(row, prices);
    }
    CostReport {
        by: GroupBy::WORDS[by as usize].to_string(),
        groups: groups.into_values().collect(),
        total,
    }
}

#[cfg(test)]
mod tests;
