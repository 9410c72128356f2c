//! Escalations: problems raised for the mayor and the overseer, as records of their own.
//!
//! An escalation is a bead of type `escalation` (see `docs/escalation.md`). Its title is a
//! one-line summary, its description the message; its state lives in `extra` under the field
//! names below (this file is their one owner, as `record.rs` describes):
//!
//! | field | meaning |
//! |---|---|
//! | `severity` | `low`, `medium`, `high` or `critical` |
//! | `source` | who raised it: an agent's address, `overseer`, `witness <rig>`, `supervisor`, … |
//! | `about_bead` | the bead it is about (optional; it existed when raised) |
//! | `count` | how many raises were folded into it (1 for a single raise) |
//! | `raised_at` | when it was first raised (RFC 3339) |
//! | `last_raised_at` | when it was last raised, folded or re-raised for being stale |
//! | `acked_by`, `acked_at` | who acknowledged it, and when |
//! | `judge`, `judge_until` | the rig's witness agent judging it first, and until when |
//! | `judge_released` | when it left its judge (forwarded, or the time ran out) |
//! | `judge_note` | what the judge said when it forwarded it |
//!
//! The state is open, acked (open with `acked_by`), or closed (the bead closed, with its close
//! reason). [`raise`] folds a duplicate of an open escalation — same source, same bead, same
//! message once case and spacing are ignored — into it (`count` + 1, the higher severity
//! kept) instead of creating another. [`stale`] finds unacknowledged escalations not raised
//! for a while; [`reraise`] raises such one a severity up.

pub mod routing;

use crate::record::RecordError;
use anyhow::{Result, bail};
use gastown_beads::{Bead, ExtraPatch, Fields, IssueType, Ledger, ListFilter, NewBead};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The longest message, in bytes: an escalation says what is wrong, the detail goes in a bead.
pub const MAX_MESSAGE: usize = 4096;
/// The longest title (the message's first line, cut).
const MAX_TITLE: usize = 120;

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// One severity up (critical stays critical).
    pub fn up(self) -> Severity {
        match self {
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Severity> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                anyhow::anyhow!("unknown severity {s:?}: use low, medium, high or critical")
            })
    }
}

/// Where an escalation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Open,
    Acked,
    Closed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Acked => "acked",
            State::Closed => "closed",
        }
    }
}

/// An escalation bead as Gas Town reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    pub id: String,
    pub severity: Severity,
    pub source: String,
    /// `about_bead`.
    pub bead: Option<String>,
    pub message: String,
    pub state: State,
    pub count: u64,
    pub raised_at: String,
    pub last_raised_at: String,
    pub acked_by: Option<String>,
    pub acked_at: Option<String>,
    /// The close reason, once closed.
    pub closed_reason: Option<String>,
    /// The rig's witness agent that judges it before it goes up (see `routing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<String>,
    /// Until when the judge has it (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_until: Option<String>,
    /// When it left its judge (forwarded, or `judge_until` passed): it is never held again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_released: Option<String>,
    /// What the judge said when it forwarded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_note: Option<String>,
}

impl Escalation {
    /// Read an escalation bead; a bead of another type, or a field of the wrong type, is an error
    /// that names it.
    pub fn from_bead(bead: &Bead) -> Result<Escalation, RecordError> {
        if bead.issue_type != IssueType::Escalation {
            return Err(RecordError::WrongKind {
                bead: bead.id.clone(),
                actual: bead.issue_type.to_string(),
                expected: "an escalation",
                hint: "`gastown escalate list --all` shows the escalations",
            });
        }
        let f = Fields::of(bead);
        let severity = f
            .parsed::<Severity>("severity", "low, medium, high or critical")?
            .unwrap_or(Severity::Medium);
        let acked_by = f.non_empty("acked_by")?.map(str::to_string);
        let state = if bead.is_closed() {
            State::Closed
        } else if acked_by.is_some() {
            State::Acked
        } else {
            State::Open
        };
        let raised_at = f
            .text("raised_at")?
            .map(str::to_string)
            .unwrap_or_else(|| bead.created_at.clone());
        Ok(Escalation {
            id: bead.id.clone(),
            severity,
            source: f.text("source")?.unwrap_or("").to_string(),
            bead: f.non_empty("about_bead")?.map(str::to_string),
            message: bead.description.clone(),
            state,
            count: f.count("count")?.unwrap_or(1),
            last_raised_at: f
                .text("last_raised_at")?
                .map(str::to_string)
                .unwrap_or_else(|| raised_at.clone()),
            raised_at,
            acked_by,
            acked_at: f.non_empty("acked_at")?.map(str::to_string),
            closed_reason: bead.is_closed().then(|| bead.close_reason.clone()),
            judge: f.non_empty("judge")?.map(str::to_string),
            judge_until: f.non_empty("judge_until")?.map(str::to_string),
            judge_released: f.non_empty("judge_released")?.map(str::to_string),
            judge_note: f.non_empty("judge_note")?.map(str::to_string),
        })
    }

    /// Held by its judge at `now_nanos`: judged, not released, and its time not run out.
    pub fn held_at(&self, now_nanos: i128) -> bool {
        self.judge.is_some()
            && self.judge_released.is_none()
            && self
                .judge_until
                .as_deref()
                .and_then(gastown_beads::time::parse_rfc3339)
                .is_some_and(|until| until > now_nanos)
    }

    /// Is it still waiting for someone (open or acked)?
    pub fn is_open(&self) -> bool {
        self.state != State::Closed
    }

    /// The identity duplicates share: source, bead, and the message without case or spacing.
    fn fold_key(&self) -> (String, Option<String>, String) {
        (
            self.source.clone(),
            self.bead.clone(),
            message_kind(&self.message),
        )
    }
}

/// A message's kind for folding: lower case, runs of white space as one space.
fn message_kind(message: &str) -> String {
    message
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// What to raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raise<'a> {
    pub severity: Severity,
    /// Who raises it (recorded as its `source`).
    pub source: &'a str,
    pub bead: Option<&'a str>,
    pub message: &'a str,
}

/// What [`raise`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raised {
    pub escalation: Escalation,
    /// Folded into an open escalation (`count` went up) rather than created.
    pub folded: bool,
    /// The severity went up (a new escalation, or a fold at a higher severity): route it.
    pub route: bool,
}

/// Check a message: not empty, not too long, no control characters but line feeds and tabs.
fn clean_message(message: &str) -> Result<String> {
    let message = message.trim();
    if message.is_empty() {
        bail!(
            "the escalation says nothing: say what is wrong, e.g. `gastown escalate \"tests hang on main\"`"
        );
    }
    if message.len() > MAX_MESSAGE {
        bail!(
            "the message is {} bytes, over the limit of {MAX_MESSAGE} bytes: put the detail in a bead and escalate with --bead",
            message.len()
        );
    }
    Ok(crate::text::paragraph(message).into_owned())
}

fn title_of(severity: Severity, message: &str) -> String {
    let first = message.lines().next().unwrap_or("");
    let mut title: String = first.chars().take(MAX_TITLE).collect();
    if title.len() < first.len() {
        title.push('…');
    }
    format!("[{severity}] {title}")
}

/// Raise an escalation as `who` (the ledger actor: normally the caller), or fold it into the
/// open one it duplicates.
pub fn raise(ledger: &mut Ledger, raise: &Raise<'_>, who: &str) -> Result<Raised> {
    let message = clean_message(raise.message)?;
    let source = raise.source.trim();
    if source.is_empty() {
        bail!("an escalation needs a source (who raises it)");
    }
    if let Some(bead) = raise.bead {
        match ledger.get(bead)? {
            Some(b) if b.issue_type == IssueType::Escalation => bail!(
                "{bead} is an escalation itself: escalate about the bead it is about, or ack/close it"
            ),
            Some(_) => {}
            None => bail!(
                "no bead {bead:?} in this town (nothing was raised): `gastown bead list` shows the ids"
            ),
        }
    }
    let key = (
        source.to_string(),
        raise.bead.map(str::to_string),
        message_kind(&message),
    );
    let now = gastown_beads::time::now_rfc3339();
    if let Some(open) = escalations(ledger, false)?
        .into_iter()
        .find(|e| e.fold_key() == key)
    {
        let severity = open.severity.max(raise.severity);
        let patch = ExtraPatch::default()
            .set("count", open.count + 1)
            .set("last_raised_at", now.as_str())
            .set("severity", severity.as_str());
        let bead = patch.write(ledger, &open.id, who)?;
        return Ok(Raised {
            route: severity > open.severity,
            escalation: Escalation::from_bead(&bead)?,
            folded: true,
        });
    }
    let extra = ExtraPatch::default()
        .set("severity", raise.severity.as_str())
        .set("source", source)
        .set_or_unset("about_bead", raise.bead)
        .set("count", 1)
        .set("raised_at", now.as_str())
        .set("last_raised_at", now.as_str())
        .into_extra();
    let bead = ledger.create(
        NewBead {
            title: title_of(raise.severity, &message),
            description: message,
            issue_type: IssueType::Escalation,
            priority: priority_of(raise.severity),
            extra,
            ..NewBead::default()
        },
        who,
    )?;
    Ok(Raised {
        escalation: Escalation::from_bead(&bead)?,
        folded: false,
        route: true,
    })
}

/// The bead priority of a severity (critical is P0).
fn priority_of(severity: Severity) -> u8 {
    match severity {
        Severity::Critical => 0,
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
    }
}

/// Escalations not closed (with `all`, closed ones too), oldest first.
pub fn escalations(ledger: &Ledger, all: bool) -> Result<Vec<Escalation>> {
    let mut found = ledger
        .list(&ListFilter {
            issue_type: Some(IssueType::Escalation),
            all,
            ..ListFilter::default()
        })?
        .iter()
        .map(Escalation::from_bead)
        .collect::<Result<Vec<_>, _>>()?;
    found.sort_by(|a, b| (&a.raised_at, &a.id).cmp(&(&b.raised_at, &b.id)));
    Ok(found)
}

/// The escalation `id`; an error that says what to do when there is none.
pub fn get(ledger: &Ledger, id: &str) -> Result<Escalation> {
    let Some(bead) = ledger.get(id)? else {
        bail!("no escalation {id:?} in this town: `gastown escalate list --all` shows them");
    };
    Ok(Escalation::from_bead(&bead)?)
}

/// Acknowledge an open escalation as `who`: someone is on it (it is no longer re-raised).
pub fn ack(ledger: &mut Ledger, id: &str, who: &str) -> Result<Escalation> {
    let e = get(ledger, id)?;
    match e.state {
        State::Closed => bail!("{id} is closed: there is nothing to acknowledge"),
        State::Acked => bail!(
            "{id} was already acknowledged by {} at {}",
            e.acked_by.as_deref().unwrap_or("?"),
            e.acked_at.as_deref().unwrap_or("?")
        ),
        State::Open => {}
    }
    let bead = ExtraPatch::default()
        .set("acked_by", who)
        .set("acked_at", gastown_beads::time::now_rfc3339())
        .write(ledger, id, who)?;
    Ok(Escalation::from_bead(&bead)?)
}

/// Close an escalation (open or acked) as `who`.
pub fn close(ledger: &mut Ledger, id: &str, reason: Option<&str>, who: &str) -> Result<Escalation> {
    let e = get(ledger, id)?;
    if e.state == State::Closed {
        bail!(
            "{id} is already closed ({})",
            e.closed_reason.as_deref().unwrap_or("")
        );
    }
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("resolved");
    let reason = crate::text::one_line(reason).into_owned();
    let bead = ledger.close(id, &reason, who)?;
    Ok(Escalation::from_bead(&bead)?)
}

/// Open, unacknowledged escalations last raised at least `stale_after` before `now_nanos`
/// (Unix nanoseconds).
pub fn stale(ledger: &Ledger, now_nanos: i128, stale_after: Duration) -> Result<Vec<Escalation>> {
    let after = i128::try_from(stale_after.as_nanos()).unwrap_or(i128::MAX);
    Ok(escalations(ledger, false)?
        .into_iter()
        .filter(|e| e.state == State::Open && !e.held_at(now_nanos))
        .filter(|e| {
            gastown_beads::time::parse_rfc3339(&e.last_raised_at)
                .is_some_and(|at| now_nanos.saturating_sub(at) >= after)
        })
        .collect())
}

/// Raise a stale escalation again, a severity up (its `last_raised_at` restarts the clock).
pub fn reraise(ledger: &mut Ledger, id: &str, who: &str) -> Result<Escalation> {
    let e = get(ledger, id)?;
    if e.state != State::Open {
        bail!(
            "{id} is {}: only an open escalation is re-raised",
            e.state.as_str()
        );
    }
    let severity = e.severity.up();
    ExtraPatch::default()
        .set("severity", severity.as_str())
        .set("last_raised_at", gastown_beads::time::now_rfc3339())
        .write(ledger, id, who)?;
    if severity != e.severity {
        ledger.update(
            id,
            gastown_beads::BeadPatch {
                title: Some(title_of(severity, &e.message)),
                priority: Some(priority_of(severity)),
                ..Default::default()
            },
            who,
        )?;
    }
    get(ledger, id)
}

#[cfg(test)]
mod tests;
