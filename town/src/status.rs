//! `gastown status`: the town at a glance — rigs, agents and their hooks, open convoys, the
//! merge queue, open escalations, the overseer's unread mail, and what needs the overseer first.
//!
//! [`gather`] reads what the ledger and the town's directories know; it runs in the supervisor
//! (the ledger's owner) when `gastown run` is up, else in the CLI. The supervisor then lays the
//! live tree over it ([`TownStatus::live`], each agent's [`AgentStatus::session`], each rig's
//! [`RigStatus::running`]) and calls [`TownStatus::find_attention`] again, so blocked sessions and
//! stopped rigs come first where they belong. The JSON shape is documented in `docs/status.md`
//! and kept stable: fields are only ever added.

use crate::agents::{AgentRecord, AgentState};
use crate::convoy;
use crate::escalation::{self, Severity};
use crate::mail::{OVERSEER, record::sender_of, store};
use crate::refinery::{MergeRequest, QueueState, open_merge_requests};
use crate::rig::Rig;
use crate::town::Town;
use anyhow::Result;
use gastown_beads::{IssueType, Ledger, ListFilter, Status, time};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many of the overseer's unread messages are listed (the count is always whole).
pub const MAIL_SHOWN: usize = 5;

/// The whole picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TownStatus {
    /// The town's directory.
    pub town: String,
    /// When this was gathered (RFC 3339).
    pub at: String,
    /// Whether `gastown run` answered: without it, sessions and rig supervisors are unknown and
    /// everything shown is what the ledger knows.
    pub live: bool,
    /// What needs the overseer, most urgent first.
    pub attention: Vec<Attention>,
    pub rigs: Vec<RigStatus>,
    pub agents: Vec<AgentStatus>,
    pub convoys: Vec<ConvoyStatus>,
    /// Every open merge request, in landing order per rig.
    pub merge_queue: Vec<QueuedMr>,
    /// Open escalations, most severe first.
    pub escalations: Vec<EscalationStatus>,
    pub mail: MailStatus,
    /// What the agents spent (today, UTC, and in all; per rig) and each budget's use (`None` from
    /// a supervisor older than spend in the status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend: Option<SpendStatus>,
    /// Runtimes at their usage limit, and until when (`crate::limits`).
    #[serde(default)]
    pub limits: Vec<LimitStatus>,
}

/// Dollars spent, as `gastown costs` counts them, and the budgets (`docs/costs.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendStatus {
    /// The UTC day `today` is of.
    pub day: String,
    pub today: f64,
    pub total: f64,
    /// Per rig that spent anything.
    pub rigs: Vec<RigSpend>,
    /// Every scope with a budget: its budgets, what it spent, `ok`, `warning` or `paused`.
    pub budgets: Vec<crate::budget::BudgetUse>,
    /// Models with tokens and no price (not in the dollars).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unpriced: Vec<String>,
}

/// One rig's spend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RigSpend {
    pub rig: String,
    pub today: f64,
    pub total: f64,
}

/// A runtime at its usage limit: nothing is typed into its sessions and new work for it waits
/// until the reset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitStatus {
    pub runtime: String,
    /// The runtime's account at its limit, for a runtime with accounts.
    #[serde(default)]
    pub account: Option<String>,
    /// Whether the runtime's work waits for it: true unless another account of the runtime
    /// can take sessions.
    #[serde(default = "yes")]
    pub waits: bool,
    /// The reset (RFC 3339).
    pub until: String,
    /// The screen line that said so.
    pub line: String,
}

fn yes() -> bool {
    true
}

/// One rig.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RigStatus {
    pub name: String,
    /// Why its `rig.toml` does not load, when it does not (the rest is then partial).
    pub problem: Option<String>,
    /// Polecats with a worktree.
    pub polecats: usize,
    /// Polecats with a bead on their hook (and not stalled).
    pub working: usize,
    /// Polecats with a bead on their hook that the rig's witness judged stalled (stalled, hung
    /// or starting-stalled); only `gastown run` knows (0 without it).
    #[serde(default)]
    pub stalled: usize,
    /// Polecats with an empty hook.
    pub idle: usize,
    /// Polecats that cannot start.
    pub stuck: usize,
    /// Beads waiting in its dispatch queue.
    pub queued: usize,
    /// Its open merge requests.
    pub merge_requests: usize,
    /// Its last landing: the merge request, its source bead and when.
    pub last_landing: Option<Landing>,
    /// Whether its supervisor runs (`None` without `gastown run`).
    pub running: Option<bool>,
    /// Of `queued`, the beads waiting because a budget is spent.
    #[serde(default)]
    pub queued_for_budget: usize,
    /// Why new work for it waits (a budget of the town or the rig is spent), when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
}

/// A merge that landed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Landing {
    pub mr: String,
    pub bead: String,
    pub at: String,
}

/// One agent identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    pub address: String,
    pub role: String,
    pub rig: String,
    /// What the ledger says it does: `idle`, `working`, `stuck`, `escalated`.
    pub state: String,
    /// Why it cannot start, while stuck.
    pub stuck: Option<String>,
    /// The bead on its hook, with its title.
    pub hook: Option<Hooked>,
    /// Its runtime (`claude`, `codex`, `sim`, …), when recorded.
    pub runtime: Option<String>,
    /// Its unread mail.
    pub unread: usize,
    pub dnd: bool,
    /// Its session under `gastown run`: `working`, `idle`, `blocked: <dialog>`, `backing_off`,
    /// `not running`, … (`None` without `gastown run`).
    pub session: Option<String>,
    /// When its runtime's usage limit resets (RFC 3339), while it holds.
    #[serde(default)]
    pub limited_until: Option<String>,
}

/// A bead on a hook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hooked {
    pub id: String,
    pub title: String,
    /// The step of its molecule the agent is on (`implement (3/7)`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

/// An open convoy and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvoyStatus {
    pub id: String,
    pub name: String,
    pub closed: usize,
    pub total: usize,
}

/// An open merge request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedMr {
    pub id: String,
    pub rig: String,
    pub bead: String,
    pub worker: String,
    /// `queued`, `rework`, `escalated`.
    pub state: String,
    /// Rework rounds so far.
    pub retries: u64,
}

/// An open escalation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationStatus {
    pub id: String,
    pub severity: String,
    /// `open` or `acked`.
    pub state: String,
    pub source: String,
    pub message: String,
    pub raised_at: String,
    /// Times raised (repeats fold into one).
    pub count: u64,
}

/// The overseer's mail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailStatus {
    pub unread: usize,
    /// The newest unread, at most [`MAIL_SHOWN`], newest first.
    pub latest: Vec<MailLine>,
}

/// One message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailLine {
    pub id: String,
    pub from: String,
    pub subject: String,
}

/// One thing the overseer should look at, and the command that does it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attention {
    /// `critical`, `high`, `medium`, `low`: how urgent.
    pub level: String,
    pub what: String,
    pub command: String,
}

/// Gather what the ledger and the town's directories know (nothing live).
pub fn gather(ledger: &Ledger, town: &Town) -> Result<TownStatus> {
    let agents = agents(ledger)?;
    let merge_queue: Vec<MergeRequest> = open_merge_requests(ledger)?;
    let landings = last_landings(ledger)?;
    let mut rigs = Vec::new();
    for (name, rig) in Rig::list_each(town)? {
        rigs.push(rig_status(
            ledger,
            &name,
            rig,
            &agents,
            &merge_queue,
            &landings,
        )?);
    }
    let mut convoys = Vec::new();
    for bead in convoy::convoys(ledger, false)? {
        let p = convoy::progress(ledger, &bead.id)?;
        convoys.push(ConvoyStatus {
            id: p.id,
            name: p.name,
            closed: p.closed,
            total: p.total,
        });
    }
    let mut escalations: Vec<EscalationStatus> = escalation::escalations(ledger, false)?
        .into_iter()
        .filter(|e| e.is_open())
        .map(|e| EscalationStatus {
            id: e.id,
            severity: e.severity.as_str().to_string(),
            state: e.state.as_str().to_string(),
            source: e.source,
            message: e.message,
            raised_at: e.raised_at,
            count: e.count,
        })
        .collect();
    escalations.sort_by(|a, b| {
        (severity_rank(&b.severity), &a.raised_at).cmp(&(severity_rank(&a.severity), &b.raised_at))
    });
    let spend = spend_status(ledger, town, &mut rigs)?;
    let unread = store::unread_for(ledger, OVERSEER)?;
    let mail = MailStatus {
        unread: unread.len(),
        latest: unread
            .iter()
            .rev()
            .take(MAIL_SHOWN)
            .map(|b| MailLine {
                id: b.id.clone(),
                from: sender_of(b),
                subject: b.title.clone(),
            })
            .collect(),
    };
    let now = std::time::SystemTime::now();
    // An unreadable limits file limits nothing (the supervisor says so in its log).
    let limits = crate::limits::Limits::load(&town.runtime_dir()).unwrap_or_default();
    // An agent is limited by its runtime's limit, or by the account its latest session ran
    // under.
    let limited_until = |record: &crate::agents::AgentRecord| {
        let runtime = record.runtime.as_deref()?;
        let key = match record.sessions.last().and_then(|s| s.account.as_deref()) {
            Some(account) => crate::runtimes::accounts::account_key(runtime, account),
            None => runtime.to_string(),
        };
        let limit = limits.holding(&key, now)?;
        Some(humantime::format_rfc3339_seconds(limit.until_time()).to_string())
    };
    let mut status = TownStatus {
        town: town.root.display().to_string(),
        at: time::now_rfc3339(),
        live: false,
        attention: Vec::new(),
        rigs,
        agents: agents
            .into_iter()
            .map(|(record, hook, unread)| AgentStatus {
                stuck: record.stuck().map(str::to_string),
                limited_until: limited_until(&record),
                address: record.address,
                role: record.role,
                rig: record.rig,
                state: record.state.as_str().to_string(),
                hook,
                runtime: record.runtime,
                unread,
                dnd: record.dnd,
                session: None,
            })
            .collect(),
        convoys,
        merge_queue: merge_queue
            .iter()
            .map(|mr| QueuedMr {
                id: mr.id.clone(),
                rig: mr.rig.clone(),
                bead: mr.source_bead.clone(),
                worker: mr.worker.clone(),
                state: queue_state(mr.state).to_string(),
                retries: mr.retry_count,
            })
            .collect(),
        escalations,
        mail,
        spend: Some(spend),
        limits: limits
            .active(now)
            .map(|(key, limit)| {
                let (runtime, account) = match key.split_once('/') {
                    Some((runtime, account)) => (runtime.to_string(), Some(account.to_string())),
                    None => (key.clone(), None),
                };
                LimitStatus {
                    waits: account.is_none()
                        || crate::limits::runtime_limited(town, &runtime).is_some(),
                    runtime,
                    account,
                    until: humantime::format_rfc3339_seconds(limit.until_time()).to_string(),
                    line: limit.line.clone(),
                }
            })
            .collect(),
    };
    status.find_attention();
    Ok(status)
}

/// What was spent and each budget's use (on today's UTC day); the rigs a budget pauses say so.
fn spend_status(ledger: &Ledger, town: &Town, rigs: &mut [RigStatus]) -> Result<SpendStatus> {
    let (report, budgets) = crate::budget::assess(ledger, town, &crate::costs::record::today())?;
    for rig in rigs.iter_mut() {
        rig.paused = crate::budget::paused_for(&budgets, &rig.name, &[]);
    }
    Ok(SpendStatus {
        day: report.day,
        today: report.town.today,
        total: report.town.total,
        rigs: report
            .rigs
            .into_iter()
            .map(|(rig, s)| RigSpend {
                rig,
                today: s.today,
                total: s.total,
            })
            .collect(),
        budgets,
        unpriced: report.unpriced,
    })
}

type AgentRow = (AgentRecord, Option<Hooked>, usize);

/// Every open agent bead, by address, with its hooked bead's title and its unread mail.
fn agents(ledger: &Ledger) -> Result<Vec<AgentRow>> {
    let beads = ledger.list(&ListFilter {
        issue_type: Some(IssueType::Agent),
        ..ListFilter::default()
    })?;
    let mut rows = BTreeMap::new();
    for bead in beads {
        let record = match AgentRecord::from_bead(&bead) {
            Ok(record) if !record.closed => record,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(bead = %bead.id, "an agent bead that does not read is left out of the status: {e}");
                continue;
            }
        };
        let hook = record.hook.as_ref().map(|id| {
            let work = ledger.get(id).ok().flatten();
            Hooked {
                id: id.clone(),
                title: work.as_ref().map(|b| b.title.clone()).unwrap_or_default(),
                step: work.as_ref().and_then(|b| molecule_step(ledger, b)),
            }
        });
        let unread = store::unread_for(ledger, &record.address)?.len();
        rows.insert(record.address.clone(), (record, hook, unread));
    }
    Ok(rows.into_values().collect())
}

/// The step of the molecule attached to `work` that is next to be worked, with the count done.
fn molecule_step(ledger: &Ledger, work: &gastown_beads::model::Bead) -> Option<String> {
    let mol_id = crate::molecule::record::attached_molecule(work)
        .ok()
        .flatten()?;
    let molecule = crate::molecule::load(ledger, mol_id).ok()?;
    let total = molecule.steps.len();
    let step = molecule.current()?;
    Some(format!("{} ({}/{total})", step.step, molecule.done() + 1))
}

/// Per rig: its latest merged merge request.
fn last_landings(ledger: &Ledger) -> Result<BTreeMap<String, Landing>> {
    let closed = ledger.list(&ListFilter {
        issue_type: Some(IssueType::MergeRequest),
        status: Some(Status::Closed),
        all: true,
        ..ListFilter::default()
    })?;
    let mut out: BTreeMap<String, Landing> = BTreeMap::new();
    for bead in closed {
        let Ok(mr) = MergeRequest::from_bead(&bead) else {
            continue;
        };
        if mr.merge_commit.is_none() {
            continue; // Rejected or failed: not a landing.
        }
        let at = bead.closed_at.clone().unwrap_or_default();
        if out.get(&mr.rig).is_none_or(|l| l.at < at) {
            out.insert(
                mr.rig.clone(),
                Landing {
                    mr: mr.id,
                    bead: mr.source_bead,
                    at,
                },
            );
        }
    }
    Ok(out)
}

fn rig_status(
    ledger: &Ledger,
    name: &str,
    rig: Result<Rig, crate::rig::RigError>,
    agents: &[AgentRow],
    mrs: &[MergeRequest],
    landings: &BTreeMap<String, Landing>,
) -> Result<RigStatus> {
    let (polecats, problem) = match &rig {
        Ok(rig) => (rig.polecats_present().unwrap_or_default(), None),
        Err(e) => (Vec::new(), Some(format!("{e:#}"))),
    };
    let prefix = format!("{name}/polecats/");
    let records: Vec<&AgentRecord> = agents
        .iter()
        .map(|(r, _, _)| r)
        .filter(|r| r.address.starts_with(&prefix))
        .filter(|r| polecats.iter().any(|p| r.address[prefix.len()..] == **p))
        .collect();
    let stuck = records
        .iter()
        .filter(|r| r.state == AgentState::Stuck)
        .count();
    let working = records
        .iter()
        .filter(|r| r.state != AgentState::Stuck && r.hook.is_some())
        .count();
    let queued = crate::work::queued_beads(ledger, name)?;
    Ok(RigStatus {
        name: name.to_string(),
        problem,
        polecats: polecats.len(),
        working,
        stalled: 0,
        idle: polecats.len().saturating_sub(working + stuck),
        stuck,
        queued: queued.len(),
        queued_for_budget: queued
            .iter()
            .filter(|b| {
                b.extra.get(crate::work::DISPATCH_REASON)
                    == Some(&serde_json::json!(crate::work::REASON_BUDGET))
            })
            .count(),
        paused: None,
        merge_requests: mrs.iter().filter(|mr| mr.rig == name).count(),
        last_landing: landings.get(name).cloned(),
        running: None,
    })
}

fn queue_state(state: QueueState) -> &'static str {
    match state {
        QueueState::Queued => "queued",
        QueueState::Rework => "rework",
        QueueState::Escalated => "escalated",
        QueueState::Closed => "closed",
    }
}

fn severity_rank(word: &str) -> usize {
    Severity::ALL
        .iter()
        .position(|s| s.as_str() == word)
        .unwrap_or(0)
}

impl TownStatus {
    /// Work out [`TownStatus::attention`] from the rest: escalations not yet acked, blocked
    /// sessions, stopped rigs, broken rig configs, stuck agents, escalated merge requests, and the
    /// overseer's unread mail — most urgent first.
    pub fn find_attention(&mut self) {
        let mut items: Vec<(usize, Attention)> = Vec::new();
        let mut push = |level: Severity, what: String, command: String| {
            items.push((
                severity_rank(level.as_str()),
                Attention {
                    level: level.as_str().to_string(),
                    what,
                    command,
                },
            ));
        };
        for e in self.escalations.iter().filter(|e| e.state == "open") {
            let level = Severity::ALL
                .into_iter()
                .find(|s| s.as_str() == e.severity)
                .unwrap_or(Severity::Medium);
            push(
                level,
                format!(
                    "escalation {} from {}: {}",
                    e.id,
                    e.source,
                    first_line(&e.message)
                ),
                format!("gastown escalate ack {}", e.id),
            );
        }
        for rig in &self.rigs {
            if let Some(problem) = &rig.problem {
                push(
                    Severity::High,
                    format!("rig {} does not load: {}", rig.name, first_line(problem)),
                    format!("gastown doctor   # then fix {}/rig.toml", rig.name),
                );
            } else if rig.running == Some(false) {
                push(
                    Severity::High,
                    format!("rig {} is not running (the deacon restarts it)", rig.name),
                    format!("gastown actor town/rigs/{}", rig.name),
                );
            }
        }
        for limit in &self.limits {
            let who = match &limit.account {
                Some(account) => format!("account {account} of runtime {}", limit.runtime),
                None => format!("runtime {}", limit.runtime),
            };
            if limit.waits {
                push(
                    Severity::Medium,
                    format!(
                        "{who} is at its usage limit until {} ({}): its sessions wait, new work queues",
                        limit.until, limit.line
                    ),
                    "nothing: it resumes at the reset by itself".to_string(),
                );
            } else {
                push(
                    Severity::Low,
                    format!(
                        "{who} is at its usage limit until {} ({}): its sessions moved to the \
                         runtime's other accounts",
                        limit.until, limit.line
                    ),
                    "nothing: the account is used again after its reset".to_string(),
                );
            }
        }
        for agent in &self.agents {
            if let Some(dialog) = agent
                .session
                .as_deref()
                .and_then(|s| s.strip_prefix("blocked: "))
                .filter(|d| !crate::limits::signals::is_limit(d))
            {
                push(
                    Severity::High,
                    format!("{} waits on a dialog: {dialog}", agent.address),
                    format!("gastown attach {}", agent.address),
                );
            } else if let Some(session) = agent
                .session
                .as_deref()
                .filter(|s| s.starts_with("stalled"))
            {
                push(
                    Severity::Medium,
                    format!(
                        "{} is {session}: its witness nudges it, then restarts it, then escalates",
                        agent.address
                    ),
                    format!("gastown peek {}", agent.address),
                );
            } else if let Some(reason) = &agent.stuck {
                push(
                    Severity::High,
                    format!("{} cannot start: {}", agent.address, first_line(reason)),
                    format!("gastown actor {}", agent.address),
                );
            }
        }
        for mr in self.merge_queue.iter().filter(|mr| mr.state == "escalated") {
            push(
                Severity::Medium,
                format!(
                    "merge request {} ({}) stopped after {} tries",
                    mr.id, mr.bead, mr.retries
                ),
                format!("gastown mq show {}", mr.id),
            );
        }
        if let Some(spend) = &self.spend {
            for b in &spend.budgets {
                let level = match b.level {
                    crate::budget::Level::Paused => Severity::High,
                    crate::budget::Level::Warning => Severity::Low,
                    crate::budget::Level::Ok => continue,
                };
                let what = match b.level {
                    crate::budget::Level::Paused => format!(
                        "{} is paused by budget: {}; new work waits in the dispatch queue",
                        b.label(),
                        b.reason.as_deref().unwrap_or("")
                    ),
                    _ => format!(
                        "{} nears its budget: {}",
                        b.label(),
                        b.reason.as_deref().unwrap_or("")
                    ),
                };
                push(level, what, b.raise_command());
            }
        }
        if self.mail.unread > 0 {
            push(
                Severity::Low,
                format!("{} unread message(s) for you", self.mail.unread),
                "gastown mail inbox".to_string(),
            );
        }
        // Most urgent first; the order found within one level.
        items.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
        self.attention = items.into_iter().map(|(_, a)| a).collect();
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests;
