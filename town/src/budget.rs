//! Budgets (issue 20): how many dollars the agents may spend, per scope — the town (`[budget]`
//! in town.toml), a rig (`[budget]` in its rig.toml) and a convoy (on its bead, `gastown convoy
//! budget`) — each `daily` (the UTC day) and/or `total` (all time), and the gate that stops new
//! dispatch to a scope that spent its budget.
//!
//! Spend is what `gastown costs` aggregates ([`crate::costs::record::rows`], priced by the town's
//! price table): a rig's is its agents' usage, a convoy's the usage of the beads it tracks.
//!
//! - [`assess`] reads every budget and what its scope spent ([`BudgetUse`]): `ok`, `warning` (80 %
//!   or more of a budget spent) or `paused` (100 %; a budget of 0 is always paused: nothing may be
//!   dispatched).
//! - [`enforce`] raises one escalation per scope, period and threshold — low at 80 %, high at
//!   100 % — never again for the same ones (the mark is kept on the escalation bead,
//!   `budget_mark`; a raised budget is a new threshold). The `costs` dog runs it after each
//!   collection, and a sling to a paused scope runs it too.
//! - [`gate`] is the seam the sling asks: why new work for a rig (and the convoy tracking the bead)
//!   may not go out now. A paused sling is queued in the rig's dispatch queue with the reason
//!   `budget` (never refused, never lost) and goes out by itself once the budget allows: the
//!   dispatch queue is drained each refinery round, and the gate reads the budgets in effect
//!   (town.toml's as of the last start or SIGHUP — [`reloaded`] —, rig.toml's and the convoy's as
//!   they are now) and the UTC day of the check. Running sessions are never stopped.
//!
//! Usage limits of runtimes (pausing a runtime's sessions) are another gate: by runtime, not by
//! scope, and not here.

use crate::costs::prices::PriceTable;
use crate::costs::record::{UsageRow, rows};
use crate::escalation::{self, Escalation, Raise, Severity, routing::Outside};
use crate::town::Town;
use anyhow::{Result, bail};
use gastown_beads::{Bead, ExtraPatch, IssueType, Ledger, ListFilter};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

/// Who raises budget escalations (their `source`).
pub const SOURCE: &str = "budget";
/// The escalation field that says which threshold it was raised for.
const MARK: &str = "budget_mark";
/// A convoy bead's daily budget (dollars).
pub const CONVOY_DAILY: &str = "budget_daily";
/// A convoy bead's total budget (dollars).
pub const CONVOY_TOTAL: &str = "budget_total";
/// The share of a budget at which a warning is raised.
pub const WARN_AT: f64 = 0.8;

/// `[budget]` in town.toml or rig.toml; a convoy's, from its bead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Dollars per UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<f64>,
    /// Dollars in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
}

impl BudgetConfig {
    /// Neither set.
    pub fn is_unset(&self) -> bool {
        self.daily.is_none() && self.total.is_none()
    }

    /// A negative or non-finite amount is refused, naming the key (`budget.daily`).
    pub fn check(&self) -> std::result::Result<(), String> {
        for (key, value) in [("budget.daily", self.daily), ("budget.total", self.total)] {
            if let Some(value) = value {
                check_dollars(key, value)?;
            }
        }
        Ok(())
    }

    /// A convoy's budget, from its bead.
    pub fn of_convoy(bead: &Bead) -> BudgetConfig {
        let read = |field: &str| bead.extra.get(field).and_then(serde_json::Value::as_f64);
        BudgetConfig {
            daily: read(CONVOY_DAILY),
            total: read(CONVOY_TOTAL),
        }
    }
}

/// A budget is dollars, 0 or more.
pub fn check_dollars(key: &str, value: f64) -> std::result::Result<(), String> {
    if !value.is_finite() || value < 0.0 {
        return Err(format!(
            "`{key}` is {value}: a budget is dollars, 0 or more (0: nothing may be dispatched)"
        ));
    }
    Ok(())
}

/// Dollars as a person types them (`25`, `2.50`, `$10`); anything else is refused saying what to
/// give.
pub fn parse_dollars(key: &str, text: &str) -> Result<f64> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix('$').unwrap_or(trimmed);
    let Ok(value) = digits.parse::<f64>() else {
        bail!(
            "bad value {text:?} for `{key}`: not a number; give dollars like 25 or 2.50 (0: nothing may be dispatched)"
        );
    };
    check_dollars(key, value).map_err(anyhow::Error::msg)?;
    Ok(value)
}

/// town.toml's `[budget]` as re-read by `gastown run` on SIGHUP, by town root.
static RELOADED: Mutex<BTreeMap<PathBuf, BudgetConfig>> = Mutex::new(BTreeMap::new());

/// `gastown run` re-read town.toml (SIGHUP): its `[budget]` is the town's from now on, in every
/// part of the supervisor (they keep the town as it was at start otherwise).
pub fn reloaded(fresh: &Town) {
    if let Ok(mut map) = RELOADED.lock() {
        map.insert(fresh.root.clone(), fresh.config.budget);
    }
}

/// The town's budget in effect: as re-read on the last SIGHUP, else as `town` was loaded.
pub fn town_budget(town: &Town) -> BudgetConfig {
    RELOADED
        .lock()
        .ok()
        .and_then(|map| map.get(&town.root).copied())
        .unwrap_or(town.config.budget)
}

/// Dollars spent today and in all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    pub today: f64,
    pub total: f64,
}

/// What each scope spent, by `costs`' attribution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpendReport {
    /// The UTC day `today` is of (`YYYY-MM-DD`).
    pub day: String,
    pub town: Spend,
    pub rigs: BTreeMap<String, Spend>,
    pub convoys: BTreeMap<String, Spend>,
    /// Models with tokens and no price (they cost nothing here).
    pub unpriced: Vec<String>,
}

/// Price `rows` by scope; `day` is today (UTC, `YYYY-MM-DD`).
pub fn spend(rows: &[UsageRow], prices: &PriceTable, day: &str) -> SpendReport {
    let mut report = SpendReport {
        day: day.to_string(),
        ..SpendReport::default()
    };
    let mut unpriced = BTreeSet::new();
    for row in rows {
        let Some(dollars) = prices.cost(&row.entry.model, &row.entry.tokens) else {
            unpriced.insert(row.entry.model.clone());
            continue;
        };
        let today = if row.entry.day == day { dollars } else { 0.0 };
        let add = |s: &mut Spend| {
            s.today += today;
            s.total += dollars;
        };
        add(&mut report.town);
        if !row.rig.is_empty() {
            add(report.rigs.entry(row.rig.clone()).or_default());
        }
        if !row.convoy.is_empty() {
            add(report.convoys.entry(row.convoy.clone()).or_default());
        }
    }
    report.unpriced = unpriced.into_iter().collect();
    report
}

/// How far a scope is into its budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Under 80 % of every budget.
    #[default]
    Ok,
    /// 80 % or more of a budget spent.
    Warning,
    /// A budget spent (or 0): no new dispatch.
    Paused,
}

/// The level of `spent` against `limit` (a limit of 0 is always paused).
pub fn level(limit: f64, spent: f64) -> Level {
    if spent >= limit {
        Level::Paused
    } else if spent >= limit * WARN_AT {
        Level::Warning
    } else {
        Level::Ok
    }
}

/// A scope with a budget, what it spent and how far in it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetUse {
    /// `town`, `rig` or `convoy`.
    pub scope: String,
    /// The rig or convoy ("" for the town).
    pub name: String,
    pub daily: Option<f64>,
    pub total: Option<f64>,
    pub spent_today: f64,
    pub spent_total: f64,
    /// The worse of its budgets.
    pub level: Level,
    /// What is spent, said for a person (`the town's daily budget $1.00: $1.20 spent today`),
    /// when `level` is not `ok`.
    pub reason: Option<String>,
}

impl BudgetUse {
    fn new(scope: &str, name: &str, budget: BudgetConfig, spent: Spend) -> BudgetUse {
        let mut use_ = BudgetUse {
            scope: scope.to_string(),
            name: name.to_string(),
            daily: budget.daily,
            total: budget.total,
            spent_today: spent.today,
            spent_total: spent.total,
            level: Level::Ok,
            reason: None,
        };
        for (period, limit, spent) in use_.periods() {
            let level = level(limit, spent);
            if level > use_.level {
                use_.level = level;
                use_.reason = Some(use_.say(period, limit, spent));
            }
        }
        use_
    }

    /// `(period, limit, spent)` of each budget set.
    fn periods(&self) -> Vec<(&'static str, f64, f64)> {
        let mut out = Vec::new();
        if let Some(limit) = self.daily {
            out.push(("daily", limit, self.spent_today));
        }
        if let Some(limit) = self.total {
            out.push(("total", limit, self.spent_total));
        }
        out
    }

    /// `town`, `rig alpha`, `convoy gt-c1`.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.scope.clone()
        } else {
            format!("{} {}", self.scope, self.name)
        }
    }

    fn say(&self, period: &str, limit: f64, spent: f64) -> String {
        let when = if period == "daily" { " today" } else { "" };
        if limit == 0.0 {
            format!(
                "the {} {period} budget is $0: nothing may be dispatched",
                self.label()
            )
        } else {
            format!(
                "the {} {period} budget is ${limit:.2}: ${spent:.2} spent{when} ({:.0} %)",
                self.label(),
                spent / limit * 100.0
            )
        }
    }

    /// How to raise this budget.
    pub fn raise_command(&self) -> String {
        match self.scope.as_str() {
            "rig" => format!(
                "gastown rig config {} set budget.daily <dollars>",
                self.name
            ),
            "convoy" => format!("gastown convoy budget {} <dollars> --daily", self.name),
            _ => "edit [budget] in town.toml, then `kill -HUP` gastown run".to_string(),
        }
    }
}

/// Every scope with a budget, and what every scope spent, on `day` (UTC).
pub fn assess(ledger: &Ledger, town: &Town, day: &str) -> Result<(SpendReport, Vec<BudgetUse>)> {
    let prices = town.config.price_table()?;
    let report = spend(&rows(ledger, None)?, &prices, day);
    let mut uses = Vec::new();
    let budget = town_budget(town);
    if !budget.is_unset() {
        uses.push(BudgetUse::new("town", "", budget, report.town));
    }
    for (name, rig) in crate::rig::Rig::list_each(town)? {
        let Ok(rig) = rig else { continue };
        if !rig.config.budget.is_unset() {
            let spent = report.rigs.get(&name).copied().unwrap_or_default();
            uses.push(BudgetUse::new("rig", &name, rig.config.budget, spent));
        }
    }
    for convoy in crate::convoy::convoys(ledger, false)? {
        let budget = BudgetConfig::of_convoy(&convoy);
        if !budget.is_unset() {
            let spent = report.convoys.get(&convoy.id).copied().unwrap_or_default();
            uses.push(BudgetUse::new("convoy", &convoy.id, budget, spent));
        }
    }
    Ok((report, uses))
}

/// Why new work for `rig` may not go out now (the town, the rig, or an open convoy tracking
/// `bead` spent its budget); `None`: it may.
pub fn paused_for(uses: &[BudgetUse], rig: &str, convoys: &[String]) -> Option<String> {
    uses.iter()
        .filter(|u| u.level == Level::Paused)
        .find(|u| match u.scope.as_str() {
            "town" => true,
            "rig" => u.name == rig,
            _ => convoys.contains(&u.name),
        })
        .and_then(|u| u.reason.clone())
}

/// Of `beads` (waiting in `rig`'s dispatch queue), those a spent budget holds on `day`: the
/// town's, the rig's, or an open convoy's that tracks the bead. Empty at once when no budget is
/// set anywhere.
pub fn held(
    ledger: &Ledger,
    town: &Town,
    rig: &str,
    beads: &[String],
    day: &str,
) -> Result<Vec<String>> {
    let any_convoy_budget = crate::convoy::convoys(ledger, false)?
        .iter()
        .any(|c| !BudgetConfig::of_convoy(c).is_unset());
    let rig_budget = crate::rig::Rig::load(town, rig)
        .map(|r| r.config.budget)
        .unwrap_or_default();
    if town_budget(town).is_unset() && rig_budget.is_unset() && !any_convoy_budget {
        return Ok(Vec::new());
    }
    let (_, uses) = assess(ledger, town, day)?;
    let mut out = Vec::new();
    for bead in beads {
        let convoys: Vec<String> = crate::convoy::convoys_tracking(ledger, bead)?
            .into_iter()
            .map(|c| c.id)
            .collect();
        if paused_for(&uses, rig, &convoys).is_some() {
            out.push(bead.clone());
        }
    }
    Ok(out)
}

/// What a gate check found: why the work waits (none: it may go), and the escalations it raised
/// (recorded and mailed; their outside channels still to run).
#[derive(Debug, Default)]
pub struct GateCheck {
    pub paused: Option<String>,
    pub raised: Vec<(Escalation, Vec<Outside>)>,
}

/// The seam the sling asks before new work goes to `rig`: the budgets on `day`, enforced (see
/// [`enforce`]), and why `bead` must wait, if it must.
pub fn gate(
    ledger: &mut Ledger,
    town: &Town,
    rig: &str,
    bead: &str,
    day: &str,
    who: &str,
) -> Result<GateCheck> {
    let convoys = crate::convoy::convoys_tracking(ledger, bead)?;
    let rig_budget = crate::rig::Rig::load(town, rig)
        .map(|r| r.config.budget)
        .unwrap_or_default();
    // No budget over this work: nothing to price (the common case stays cheap).
    if town_budget(town).is_unset()
        && rig_budget.is_unset()
        && convoys
            .iter()
            .all(|c| BudgetConfig::of_convoy(c).is_unset())
    {
        return Ok(GateCheck::default());
    }
    let (_, uses) = assess(ledger, town, day)?;
    if uses.iter().all(|u| u.level == Level::Ok) {
        return Ok(GateCheck::default());
    }
    let convoys: Vec<String> = convoys.into_iter().map(|c| c.id).collect();
    let raised = enforce(ledger, town, &uses, day, who)?;
    Ok(GateCheck {
        paused: paused_for(&uses, rig, &convoys),
        raised,
    })
}

/// Raise what `uses` call for and was not raised yet: for each scope, period (the UTC day for a
/// daily budget) and budget amount, one low escalation at 80 % and one high at 100 %. Each is
/// routed by its severity as `who` (mail now; the outside channels are returned).
pub fn enforce(
    ledger: &mut Ledger,
    town: &Town,
    uses: &[BudgetUse],
    day: &str,
    who: &str,
) -> Result<Vec<(Escalation, Vec<Outside>)>> {
    let mut due = Vec::new();
    for use_ in uses {
        for (period, limit, spent) in use_.periods() {
            let when = if period == "daily" { day } else { "all" };
            let level = level(limit, spent);
            for (reached, severity, pct) in [
                (Level::Warning, Severity::Low, 80),
                (Level::Paused, Severity::High, 100),
            ] {
                if level < reached {
                    continue;
                }
                let mark = format!(
                    "{} {period} {when} ${limit} {pct}%",
                    use_.label().replace(' ', ":")
                );
                let what = use_.say(period, limit, spent);
                let message = if reached == Level::Paused {
                    format!(
                        "{what}. New work for the {} waits in the dispatch queue (reason: budget); running sessions finish what they do. To go on: {}",
                        use_.label(),
                        use_.raise_command()
                    )
                } else {
                    format!(
                        "{what}: {pct} % of it is spent; at 100 % no new work goes out to the {}",
                        use_.label()
                    )
                };
                due.push((mark, severity, message));
            }
        }
    }
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let marked: BTreeSet<String> = ledger
        .list(&ListFilter {
            issue_type: Some(IssueType::Escalation),
            all: true,
            ..ListFilter::default()
        })?
        .iter()
        .filter_map(|b| {
            b.extra
                .get(MARK)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .collect();
    let mut out = Vec::new();
    for (mark, severity, message) in due {
        if marked.contains(&mark) {
            continue;
        }
        let raised = escalation::raise(
            ledger,
            &Raise {
                severity,
                source: SOURCE,
                bead: None,
                message: &message,
            },
            who,
        )?;
        ExtraPatch::default()
            .set(MARK, mark.as_str())
            .write(ledger, &raised.escalation.id, who)?;
        if raised.route {
            let (_, outside) =
                escalation::routing::route_in_ledger(ledger, town, &raised.escalation, who)?;
            out.push((raised.escalation, outside));
        }
    }
    Ok(out)
}

/// `gastown convoy budget <id> <dollars> [--daily]`: set the convoy's total (or daily) budget.
pub fn set_convoy_budget(
    ledger: &mut Ledger,
    convoy: &str,
    dollars: f64,
    daily: bool,
    who: &str,
) -> Result<(Bead, BudgetConfig)> {
    let bead = crate::convoy::get_convoy(ledger, convoy)?;
    let (field, key) = if daily {
        (CONVOY_DAILY, "daily")
    } else {
        (CONVOY_TOTAL, "total")
    };
    check_dollars(key, dollars).map_err(anyhow::Error::msg)?;
    let bead = ExtraPatch::default()
        .set(field, dollars)
        .write(ledger, &bead.id, who)?;
    let budget = BudgetConfig::of_convoy(&bead);
    Ok((bead, budget))
}

#[cfg(test)]
mod tests;
