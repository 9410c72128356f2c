//! `gastown status [--json]`: the town at a glance (`docs/status.md`). With `gastown run` up the
//! supervisor answers, the live tree laid over the ledger (rigs running, each session working,
//! idle or blocked); without it the CLI reads the ledger itself and says so. The JSON is the
//! domain's [`TownStatus`], stable: fields are only ever added.

use super::routed::{self, unexpected};
use crate::output;
use crate::protocol::{TownReply, TownRequest};
use anyhow::Result;
use gastown_town::Caller;
use gastown_town::convoy::ago;
use gastown_town::status::{self, TownStatus};
use gastown_town::town::Town;
use std::fmt::Write;

/// Width of a convoy's progress bar.
const BAR: usize = 20;

/// `gastown status`.
pub fn run(town: &Town, json: bool) -> Result<()> {
    let reply = routed::run(town, TownRequest::Status, |ledger, caller| {
        let mut status = status::gather(ledger, town)?;
        if !matches!(caller, Caller::Overseer) {
            status.mail.latest.clear();
        }
        Ok(TownReply::Status(Box::new(status)))
    })?;
    let TownReply::Status(status) = reply else {
        return Err(unexpected(&reply));
    };
    let text = if json {
        format!("{}\n", serde_json::to_string_pretty(&status)?)
    } else {
        render(&status, gastown_beads::time::now_unix_nanos())
    };
    output::text(&text)?;
    Ok(())
}

/// Spend today (UTC) and in all, per rig, and each budget's use.
fn render_spend(out: &mut String, spend: &gastown_town::status::SpendStatus) {
    let _ = writeln!(
        out,
        "\nSpend: ${:.2} today ({} UTC), ${:.2} in all",
        spend.today, spend.day, spend.total
    );
    for r in &spend.rigs {
        let _ = writeln!(
            out,
            "  {:<12} ${:.2} today, ${:.2} in all",
            r.rig, r.today, r.total
        );
    }
    if !spend.unpriced.is_empty() {
        let _ = writeln!(
            out,
            "  not priced (tokens only): {}",
            spend.unpriced.join(", ")
        );
    }
    if spend.budgets.is_empty() {
        out.push_str(
            "  no budget set ([budget] in town.toml or rig.toml, `gastown convoy budget`)\n",
        );
    }
    for b in &spend.budgets {
        let mut limits = Vec::new();
        if let Some(daily) = b.daily {
            limits.push(format!(
                "daily ${:.2} ({})",
                daily,
                percent(b.spent_today, daily)
            ));
        }
        if let Some(total) = b.total {
            limits.push(format!(
                "total ${:.2} ({})",
                total,
                percent(b.spent_total, total)
            ));
        }
        let state = match b.level {
            gastown_town::budget::Level::Ok => "ok".to_string(),
            gastown_town::budget::Level::Warning => {
                format!("WARNING: {}", b.reason.as_deref().unwrap_or(""))
            }
            gastown_town::budget::Level::Paused => {
                format!("PAUSED by budget: {}", b.reason.as_deref().unwrap_or(""))
            }
        };
        let _ = writeln!(
            out,
            "  budget {:<18} {}  {state}",
            b.label(),
            limits.join(", ")
        );
    }
}

/// `spent` as a share of `limit` (a limit of 0: nothing may be dispatched).
fn percent(spent: f64, limit: f64) -> String {
    if limit == 0.0 {
        "0: nothing may be dispatched".to_string()
    } else {
        format!("{:.0} % used", spent / limit * 100.0)
    }
}

/// The status as a person reads it.
pub fn render(s: &TownStatus, now: i128) -> String {
    let mut out = String::new();
    let since = |at: &str| {
        gastown_beads::time::parse_rfc3339(at).map_or_else(|| at.to_string(), |t| ago(now, t))
    };
    if s.live {
        let _ = writeln!(out, "Town {} (gastown run is up)", s.town);
    } else {
        let _ = writeln!(
            out,
            "Town {} — gastown run is not running: what the ledger knows (sessions unknown; start it with `gastown run`)",
            s.town
        );
    }
    out.push_str("\nNeeds you first:\n");
    if s.attention.is_empty() {
        out.push_str("  nothing: all quiet\n");
    }
    for a in &s.attention {
        let _ = writeln!(out, "  [{}] {}\n      → {}", a.level, a.what, a.command);
    }
    out.push_str("\nRigs:\n");
    if s.rigs.is_empty() {
        out.push_str("  none (add one with `gastown rig add <name> <git-url>`)\n");
    }
    for r in &s.rigs {
        if let Some(problem) = &r.problem {
            let _ = writeln!(out, "  {:<12} BROKEN: {problem}", r.name);
            continue;
        }
        let running = match r.running {
            Some(true) => "running",
            Some(false) => "STOPPED",
            None => "-",
        };
        let landing = r.last_landing.as_ref().map_or_else(
            || "nothing landed yet".to_string(),
            |l| format!("last landing {} {} ago", l.bead, since(&l.at)),
        );
        let queued = if r.queued_for_budget > 0 {
            format!("{} ({} for budget)", r.queued, r.queued_for_budget)
        } else {
            r.queued.to_string()
        };
        let stalled = if r.stalled > 0 {
            format!(", {} stalled", r.stalled)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {:<12} {running:<8} polecats {} ({} working{stalled}, {} idle, {} stuck)  queued {queued}  merge queue {}  {landing}",
            r.name, r.polecats, r.working, r.idle, r.stuck, r.merge_requests
        );
        if let Some(why) = &r.paused {
            let _ = writeln!(out, "  {:<12} PAUSED by budget: {why}", "");
        }
    }
    if let Some(spend) = &s.spend {
        render_spend(&mut out, spend);
    }
    out.push_str("\nAgents:\n");
    if s.agents.is_empty() {
        out.push_str("  none yet (`gastown sling <bead> <rig>` starts a polecat)\n");
    }
    let width = s.agents.iter().map(|a| a.address.len()).max().unwrap_or(0);
    for a in &s.agents {
        let hook = a.hook.as_ref().map_or_else(
            || "hook empty".to_string(),
            |h| match &h.step {
                Some(step) => format!("hook {} {:?}, step {step}", h.id, h.title),
                None => format!("hook {} {:?}", h.id, h.title),
            },
        );
        let mut extra = String::new();
        if let Some(session) = &a.session {
            let _ = write!(extra, "  session {session}");
        }
        if let Some(reason) = &a.stuck {
            let _ = write!(extra, "  stuck: {}", reason.lines().next().unwrap_or(""));
        }
        if let Some(until) = &a.limited_until {
            let _ = write!(extra, "  limited until {until}");
        }
        if a.unread > 0 {
            let _ = write!(extra, "  {} unread", a.unread);
        }
        if a.dnd {
            extra.push_str("  dnd");
        }
        let _ = writeln!(out, "  {:<width$}  {:<9} {hook}{extra}", a.address, a.state);
    }
    out.push_str("\nConvoys:\n");
    if s.convoys.is_empty() {
        out.push_str("  none open\n");
    }
    for c in &s.convoys {
        let filled = (c.closed * BAR).checked_div(c.total).unwrap_or(0);
        let _ = writeln!(
            out,
            "  {}  [{}{}] {}/{}  {}",
            c.id,
            "#".repeat(filled),
            "-".repeat(BAR - filled),
            c.closed,
            c.total,
            c.name
        );
    }
    out.push_str("\nMerge queue:\n");
    if s.merge_queue.is_empty() {
        out.push_str("  empty\n");
    }
    for mr in &s.merge_queue {
        let _ = writeln!(
            out,
            "  {}  {:<10} {:<10} {} by {} (tries {})",
            mr.id, mr.rig, mr.state, mr.bead, mr.worker, mr.retries
        );
    }
    out.push_str("\nEscalations:\n");
    if s.escalations.is_empty() {
        out.push_str("  none open\n");
    }
    for e in &s.escalations {
        let _ = writeln!(
            out,
            "  {}  {:<8} {:<5} {} ago  {}: {}{}",
            e.id,
            e.severity,
            e.state,
            since(&e.raised_at),
            e.source,
            e.message.lines().next().unwrap_or(""),
            if e.count > 1 {
                format!(" (×{})", e.count)
            } else {
                String::new()
            }
        );
    }
    let _ = writeln!(out, "\nMail for the overseer: {} unread", s.mail.unread);
    for m in &s.mail.latest {
        let _ = writeln!(out, "  {}  from {}: {}", m.id, m.from, m.subject);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// The keys of `value`, recursively (an array by its first item), as paths.
    fn keys(value: &Value, at: &str, out: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let path = format!("{at}.{k}");
                    out.insert(path.clone());
                    keys(v, &path, out);
                }
            }
            Value::Array(items) => {
                if let Some(first) = items.first() {
                    keys(first, &format!("{at}[]"), out);
                }
            }
            _ => {}
        }
    }

    /// `docs/status.md`'s JSON example names exactly the keys `status --json` writes (for a
    /// status with every part filled in): a field added to the code and not to the page, or
    /// the other way round, fails here.
    #[test]
    fn the_documented_json_has_exactly_the_keys_status_writes() {
        let page = include_str!("../../docs/status.md");
        let example = page
            .split("## The JSON")
            .nth(1)
            .and_then(|rest| rest.split("```json\n").nth(1))
            .and_then(|rest| rest.split("\n```").next())
            .expect("docs/status.md has a JSON example under `## The JSON`");
        let documented: Value =
            serde_json::from_str(example).expect("the documented example is JSON");
        let status = crate::protocol::samples::replies()
            .into_iter()
            .find_map(|r| match r {
                crate::protocol::TownReply::Status(s) => Some(s),
                _ => None,
            })
            .expect("a status sample");
        let written = serde_json::to_value(&*status).expect("status as JSON");
        let (mut doc_keys, mut code_keys) = Default::default();
        keys(&documented, "", &mut doc_keys);
        keys(&written, "", &mut code_keys);
        let undocumented: Vec<&String> = code_keys.difference(&doc_keys).collect();
        let unwritten: Vec<&String> = doc_keys.difference(&code_keys).collect();
        assert!(
            undocumented.is_empty() && unwritten.is_empty(),
            "written but not in docs/status.md: {undocumented:?}; documented but not written: {unwritten:?}"
        );
        // Every documented field is explained below the example or shown in it, and the
        // example's values have the types the code writes.
        for path in &doc_keys {
            let pointer: String = path.replace("[]", "/0").replace('.', "/");
            let (d, w) = (documented.pointer(&pointer), written.pointer(&pointer));
            if let (Some(d), Some(w)) = (d, w)
                && !d.is_null()
                && !w.is_null()
            {
                assert_eq!(
                    std::mem::discriminant(d),
                    std::mem::discriminant(w),
                    "{path}: documented {d}, written {w}"
                );
            }
        }
    }
}
