//! Where an escalation goes: `[escalation]` in town.toml names, per severity, a list of
//! channels (see `docs/escalation.md`):
//!
//! - `mail:<address>`: urgent mail to the address, sent in the ledger (urgent mail is typed
//!   into a live session by `gastown run`'s router);
//! - `bell`: a BEL and a line on the terminal of the process that owns the ledger;
//! - `notify`: `notify_command`, run outside the ledger with the details in environment
//!   variables;
//! - `webhook`: an HTTP POST of the escalation as JSON to `webhook_url`, outside the ledger.
//!
//! [`route_in_ledger`] does the mail and returns the outside channels ([`Outside`]) for whoever
//! runs them: `gastown run`'s delivery task, or the CLI without a supervisor. A channel without
//! its setting (`notify` without `notify_command`) is skipped with a log line.
//!
//! **Judged first.** When the rig an escalation comes from runs a witness agent (`[roles]
//! witness`, see [`judge_of`]), routing holds it: only the witness agent is mailed (urgent, with
//! what to do), and the escalation records `judge` and `judge_until`. The witness agent closes
//! it (settled) or forwards it ([`forward`]); what it leaves past `[witness] judge_for` goes up
//! by itself ([`release_expired`]). Once released an escalation is never held again, and the
//! witness agent's own raises go up at once ([`route_up`]).

use super::{Escalation, Severity};
use crate::duration::HumanDuration;
use crate::mail::store::{self, Outgoing};
use crate::town::Town;
use anyhow::Result;
use gastown_beads::{ExtraPatch, Ledger};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// One place an escalation goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Channel {
    Mail(String),
    Bell,
    Notify,
    Webhook,
}

impl TryFrom<String> for Channel {
    type Error = String;
    fn try_from(text: String) -> Result<Channel, String> {
        match text.trim() {
            "bell" => Ok(Channel::Bell),
            "notify" => Ok(Channel::Notify),
            "webhook" => Ok(Channel::Webhook),
            other => match other.strip_prefix("mail:").map(str::trim) {
                Some(address) if !address.is_empty() => Ok(Channel::Mail(address.to_string())),
                _ => Err(format!(
                    "unknown escalation channel {text:?}: use \"mail:<address>\", \"bell\", \"notify\" or \"webhook\""
                )),
            },
        }
    }
}

impl From<Channel> for String {
    fn from(c: Channel) -> String {
        c.to_string()
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Mail(address) => write!(f, "mail:{address}"),
            Channel::Bell => f.write_str("bell"),
            Channel::Notify => f.write_str("notify"),
            Channel::Webhook => f.write_str("webhook"),
        }
    }
}

/// `[escalation]` in `town.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationSection {
    /// Channels per severity (absent: the defaults, [`default_channels`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<Vec<Channel>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<Vec<Channel>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<Vec<Channel>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<Vec<Channel>>,
    /// Run with `sh -c` in the town root for the `notify` channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_command: Option<String>,
    /// `http://host:port/path` the `webhook` channel posts to (https is not supported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// An unacknowledged escalation is raised again, a severity up, this long after it was
    /// last raised.
    #[serde(default = "default_stale_after")]
    pub stale_after: HumanDuration,
    /// The longest a notify command or one webhook attempt may take.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
}

fn default_stale_after() -> HumanDuration {
    HumanDuration(Duration::from_secs(30 * 60))
}

fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

impl Default for EscalationSection {
    fn default() -> EscalationSection {
        EscalationSection {
            low: None,
            medium: None,
            high: None,
            critical: None,
            notify_command: None,
            webhook_url: None,
            stale_after: default_stale_after(),
            timeout: default_timeout(),
        }
    }
}

impl EscalationSection {
    /// Nothing set: left out of a written town.toml.
    pub fn is_unset(&self) -> bool {
        *self == EscalationSection::default()
    }

    /// The channels of `severity`.
    pub fn channels(&self, severity: Severity) -> Vec<Channel> {
        let set = match severity {
            Severity::Low => &self.low,
            Severity::Medium => &self.medium,
            Severity::High => &self.high,
            Severity::Critical => &self.critical,
        };
        set.clone().unwrap_or_else(|| default_channels(severity))
    }

    /// What the types cannot say; the error names the key.
    pub fn check(&self) -> Result<()> {
        if self.stale_after.0.is_zero() || self.timeout.0.is_zero() {
            anyhow::bail!(
                "`escalation.stale_after` and `escalation.timeout` must not be 0: give a duration like \"30m\""
            );
        }
        if let Some(url) = &self.webhook_url
            && !url.starts_with("http://")
        {
            anyhow::bail!(
                "`escalation.webhook_url` is {url:?}: only http:// URLs are supported (https is not; post to a local relay)"
            );
        }
        Ok(())
    }
}

/// The channels of a severity when town.toml names none: low and medium mail the mayor; high
/// also mails the overseer and rings the bell; critical adds the notify command and webhook.
pub fn default_channels(severity: Severity) -> Vec<Channel> {
    let mayor = Channel::Mail("mayor".to_string());
    match severity {
        Severity::Low | Severity::Medium => vec![mayor],
        Severity::High => vec![mayor, Channel::Mail("overseer".to_string()), Channel::Bell],
        Severity::Critical => vec![
            mayor,
            Channel::Mail("overseer".to_string()),
            Channel::Bell,
            Channel::Notify,
            Channel::Webhook,
        ],
    }
}

/// A channel outside the ledger, with what it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outside {
    Bell,
    Notify { command: String },
    Webhook { url: String },
}

/// Route `e` by its severity as `who`: send its mail now; return where it went (one word per
/// channel, for the caller) and the outside channels to run. An escalation of a rig with a
/// witness agent goes to that agent first (see the module's docs).
pub fn route_in_ledger(
    ledger: &mut Ledger,
    town: &Town,
    e: &Escalation,
    who: &str,
) -> Result<(Vec<String>, Vec<Outside>)> {
    if let Some(judge) = judge_of(town, e) {
        return hold(ledger, e, who, &judge);
    }
    route(ledger, town, e, who, true)
}

/// Route `e` by its severity past any judge: a witness agent's own raise, a forward, a hold
/// that ran out.
pub fn route_up(
    ledger: &mut Ledger,
    town: &Town,
    e: &Escalation,
    who: &str,
) -> Result<(Vec<String>, Vec<Outside>)> {
    route(ledger, town, e, who, true)
}

/// Who judges an escalation first, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judge {
    /// `<rig>/witness`.
    pub address: String,
    pub judge_for: Duration,
}

/// The witness agent that judges `e` before it goes up: the rig of `e`'s source runs one
/// (`[roles] witness` in its rig.toml or town.toml) and `e` was never released by one.
pub fn judge_of(town: &Town, e: &Escalation) -> Option<Judge> {
    if e.judge_released.is_some() {
        return None;
    }
    let rig = crate::identity::AgentIdentity::parse(&e.source).ok()?.rig?;
    let config = crate::rig::Rig::load(town, &rig).ok()?.config;
    crate::witness::agent_runtime(town, &config)?;
    Some(Judge {
        address: format!("{rig}/witness"),
        judge_for: config.witness.judge_for.0,
    })
}

/// Hold `e` for `judge`: record it (a hold already running keeps its time), mail the judge.
fn hold(
    ledger: &mut Ledger,
    e: &Escalation,
    who: &str,
    judge: &Judge,
) -> Result<(Vec<String>, Vec<Outside>)> {
    let now = gastown_beads::time::now_unix_nanos();
    let running = e
        .judge_until
        .as_deref()
        .and_then(gastown_beads::time::parse_rfc3339)
        .filter(|until| e.judge.as_deref() == Some(judge.address.as_str()) && *until > now);
    let until = running.unwrap_or_else(|| {
        now.saturating_add(i128::try_from(judge.judge_for.as_nanos()).unwrap_or(i128::MAX))
    });
    let until = gastown_beads::time::format_unix_nanos(until);
    ExtraPatch::default()
        .set("judge", judge.address.as_str())
        .set("judge_until", until.as_str())
        .write(ledger, &e.id, who)?;
    let out = Outgoing {
        to: judge.address.clone(),
        subject: format!(
            "ESCALATION {} [{}] from {}: yours to judge first",
            e.id, e.severity, e.source
        ),
        body: judge_body(e, &until),
        urgent: true,
        reply_to: None,
    };
    let routed = match store::send(ledger, who, &out) {
        Ok(_) => format!("mail:{} (judges it first, until {until})", judge.address),
        Err(err) => {
            tracing::warn!(escalation = %e.id, "cannot mail {}: {err:#}", judge.address);
            format!("mail:{} failed ({err})", judge.address)
        }
    };
    tracing::info!(escalation = %e.id, judge = %judge.address, %until, "escalation held for the rig's witness agent");
    Ok((vec![routed], Vec::new()))
}

/// What the witness agent is told: the escalation, what it may do, and when it goes up.
fn judge_body(e: &Escalation, until: &str) -> String {
    let mut body = headline(e);
    body.push_str(&format!(
        ":\n\n{}\n\nYou are the rig's witness: this is yours to judge before it goes to the mayor \
         and the overseer. Look first (`gastown escalate show {id}`, `gastown peek <agent>`, \
         `gastown seance <agent>`), fix what you can (`gastown nudge <agent> \"…\"`, \
         `gastown restart <agent>`), then either\n\
         - close it when it is settled: `gastown escalate close {id} --reason \"what you did\"`, or\n\
         - send it up now: `gastown escalate forward {id} --note \"what you found\"`.\n\
         If you do neither by {until}, it goes up by itself.",
        e.message,
        id = e.id,
    ));
    body
}

/// Release `id` from its judge and route it up now, as `who`, with an optional note.
pub fn forward(
    ledger: &mut Ledger,
    town: &Town,
    id: &str,
    note: Option<&str>,
    who: &str,
) -> Result<(Escalation, Vec<String>, Vec<Outside>)> {
    let e = super::get(ledger, id)?;
    if !e.is_open() {
        anyhow::bail!("{id} is closed: only an open escalation is forwarded");
    }
    if e.judge.is_none() || e.judge_released.is_some() {
        anyhow::bail!(
            "{id} is not held by a witness agent: it went to the mayor and the overseer already (`gastown escalate show {id}`)"
        );
    }
    let note = note
        .map(crate::text::paragraph)
        .map(|n| n.trim().to_string());
    ExtraPatch::default()
        .set("judge_released", gastown_beads::time::now_rfc3339())
        .set_or_unset("judge_note", note.as_deref().filter(|n| !n.is_empty()))
        .write(ledger, id, who)?;
    let e = super::get(ledger, id)?;
    let (routed, outside) = route_up(ledger, town, &e, who)?;
    Ok((e, routed, outside))
}

/// Release every held escalation whose judge's time ran out, and route the open ones up (as
/// [`STALE_SENDER`]); returns each routed with its outside channels to run.
pub fn release_expired(
    ledger: &mut Ledger,
    town: &Town,
) -> Result<Vec<(Escalation, Vec<Outside>)>> {
    let now = gastown_beads::time::now_unix_nanos();
    let mut out = Vec::new();
    for e in super::escalations(ledger, false)? {
        if e.judge.is_none() || e.judge_released.is_some() || e.held_at(now) {
            continue;
        }
        ExtraPatch::default()
            .set("judge_released", gastown_beads::time::now_rfc3339())
            .write(ledger, &e.id, STALE_SENDER)?;
        let e = super::get(ledger, &e.id)?;
        tracing::warn!(
            escalation = %e.id,
            judge = e.judge.as_deref().unwrap_or_default(),
            "the witness agent did not settle the escalation in time: it goes up"
        );
        if e.state == super::State::Open {
            let (_, outside) = route_up(ledger, town, &e, STALE_SENDER)?;
            out.push((e, outside));
        }
    }
    Ok(out)
}

/// The outside channels of `e`'s severity only, for a caller that has mailed the mayor and the
/// overseer in its own words already (the supervisor's crash-loop mail).
pub fn outside_only(ledger: &mut Ledger, town: &Town, e: &Escalation) -> Result<Vec<Outside>> {
    Ok(route(ledger, town, e, STALE_SENDER, false)?.1)
}

fn route(
    ledger: &mut Ledger,
    town: &Town,
    e: &Escalation,
    who: &str,
    mail: bool,
) -> Result<(Vec<String>, Vec<Outside>)> {
    let section = &town.config.escalation;
    let mut routed = Vec::new();
    let mut outside = Vec::new();
    for channel in section.channels(e.severity) {
        match channel {
            Channel::Mail(_) if !mail => {}
            Channel::Mail(to) => {
                let out = Outgoing {
                    to: to.clone(),
                    subject: format!("ESCALATION {} [{}] from {}", e.id, e.severity, e.source),
                    body: mail_body(e),
                    urgent: true,
                    reply_to: None,
                };
                match store::send(ledger, who, &out) {
                    Ok(_) => routed.push(format!("mail:{to}")),
                    Err(err) => {
                        tracing::warn!(escalation = %e.id, "cannot mail {to}: {err:#}");
                        routed.push(format!("mail:{to} failed ({err})"));
                    }
                }
            }
            Channel::Bell => {
                outside.push(Outside::Bell);
                routed.push("bell".to_string());
            }
            Channel::Notify => match section.notify_command.as_deref().map(str::trim) {
                Some(command) if !command.is_empty() => {
                    outside.push(Outside::Notify {
                        command: command.to_string(),
                    });
                    routed.push("notify".to_string());
                }
                _ => {
                    tracing::info!(escalation = %e.id, "notify channel skipped: no [escalation] notify_command");
                }
            },
            Channel::Webhook => match section.webhook_url.as_deref() {
                Some(url) if !url.trim().is_empty() => {
                    outside.push(Outside::Webhook {
                        url: url.to_string(),
                    });
                    routed.push("webhook".to_string());
                }
                _ => {
                    tracing::info!(escalation = %e.id, "webhook channel skipped: no [escalation] webhook_url");
                }
            },
        }
    }
    Ok((routed, outside))
}

/// Who re-raises stale escalations (the sender of their mail).
pub const STALE_SENDER: &str = "supervisor";

/// Re-raise every stale escalation (open, unacknowledged, last raised `stale_after` ago or
/// more) a severity up and route it again: its mail is sent here; returns each with its outside
/// channels to run.
pub fn reraise_stale(
    ledger: &mut Ledger,
    town: &Town,
    stale_after: Duration,
) -> Result<Vec<(Escalation, Vec<Outside>)>> {
    let now = gastown_beads::time::now_unix_nanos();
    let mut out = Vec::new();
    for e in super::stale(ledger, now, stale_after)? {
        let up = super::reraise(ledger, &e.id, STALE_SENDER)?;
        tracing::warn!(
            escalation = %up.id,
            severity = %up.severity,
            "escalation not acknowledged for {}: raised again",
            humantime::format_duration(stale_after)
        );
        let (_, outside) = route_in_ledger(ledger, town, &up, STALE_SENDER)?;
        out.push((up, outside));
    }
    Ok(out)
}

/// "HIGH escalation gt-x from alpha/polecats/nux about gt-a": how every escalation mail starts.
fn headline(e: &Escalation) -> String {
    let mut line = format!(
        "{} escalation {} from {}",
        e.severity.as_str().to_uppercase(),
        e.id,
        e.source
    );
    if let Some(bead) = &e.bead {
        line.push_str(&format!(" about {bead}"));
    }
    line
}

/// The body of an escalation's mail.
fn mail_body(e: &Escalation) -> String {
    let mut body = headline(e);
    if e.count > 1 {
        body.push_str(&format!(" (raised {} times)", e.count));
    }
    if let (Some(judge), Some(_)) = (&e.judge, &e.judge_released) {
        match &e.judge_note {
            Some(note) => body.push_str(&format!(
                ", forwarded by the witness agent {judge}, who notes: {note}"
            )),
            None => body.push_str(&format!(
                ", which the witness agent {judge} had first and did not settle"
            )),
        }
    }
    body.push_str(&format!(
        ":\n\n{}\n\nAcknowledge with `gastown escalate ack {}`, close with `gastown escalate close {} --reason \"…\"`.",
        e.message, e.id, e.id
    ));
    body
}

/// The one line a bell prints (after the BEL).
pub fn bell_line(e: &Escalation) -> String {
    format!(
        "ESCALATION {} [{}] from {}: {}",
        e.id,
        e.severity,
        e.source,
        crate::text::one_line(e.message.lines().next().unwrap_or(""))
    )
}

/// The environment of the notify command.
pub fn notify_env(e: &Escalation) -> Vec<(&'static str, String)> {
    vec![
        ("GASTOWN_ESCALATION_ID", e.id.clone()),
        ("GASTOWN_ESCALATION_SEVERITY", e.severity.to_string()),
        ("GASTOWN_ESCALATION_MESSAGE", e.message.clone()),
        (
            "GASTOWN_ESCALATION_BEAD",
            e.bead.clone().unwrap_or_default(),
        ),
        ("GASTOWN_ESCALATION_SOURCE", e.source.clone()),
    ]
}
