//! `gastown costs [--today|--since <day>] [--by agent|bead|convoy|rig|runtime|model|day]
//! [--json]`: what the agents' tokens cost (`docs/costs.md`). The ledger's owner (the supervisor,
//! else the CLI) first collects what the sessions' transcripts gained, then hands every usage
//! row over; they are grouped and priced here with town.toml's `[prices]`.

use super::routed::{self, unexpected};
use crate::output;
use crate::protocol::{TownReply, TownRequest};
use anyhow::Result;
use gastown_town::costs::record::{self, CostLine, CostReport, GroupBy};
use gastown_town::town::Town;
use std::fmt::Write;

/// `gastown costs`.
#[derive(Debug, clap::Args)]
pub struct CostsArgs {
    /// Only today's usage (UTC).
    #[arg(long, conflicts_with = "since")]
    pub today: bool,
    /// Only usage from this UTC day on (YYYY-MM-DD).
    #[arg(long, value_name = "DAY")]
    pub since: Option<String>,
    /// Group by agent, bead, convoy, rig, runtime, model or day.
    #[arg(long, default_value = "agent", value_name = "GROUP")]
    pub by: String,
    /// Print it as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `gastown costs`.
pub fn run(town: &Town, args: CostsArgs) -> Result<()> {
    let by = GroupBy::parse(&args.by)?;
    let since = if args.today {
        Some(record::today())
    } else {
        args.since
    };
    if let Some(day) = &since {
        record::check_day(day)?;
    }
    let prices = town.config.price_table()?;
    let request = TownRequest::Costs {
        since: since.clone(),
    };
    let reply = routed::run(town, request, |ledger, _| {
        record::view(ledger, since.as_deref()).map(|v| TownReply::Costs(Box::new(v)))
    })?;
    let TownReply::Costs(view) = reply else {
        return Err(unexpected(&reply));
    };
    let report = record::report(&view.rows, by, &prices);
    for problem in &view.problems {
        eprintln!("gastown costs: {problem}");
    }
    let text = if args.json {
        format!("{}\n", serde_json::to_string_pretty(&report)?)
    } else {
        render(&report)
    };
    output::text(&text)?;
    Ok(())
}

fn dollars(line: &CostLine) -> String {
    if line.unpriced.is_empty() {
        format!("${:.2}", line.dollars)
    } else if line.dollars > 0.0 {
        format!(
            "${:.2} + no price for {}",
            line.dollars,
            line.unpriced.join(", ")
        )
    } else {
        format!("no price ({})", line.unpriced.join(", "))
    }
}

/// The report as a person reads it: a line per group, then the total.
fn render(report: &CostReport) -> String {
    if report.groups.is_empty() {
        return "no usage recorded yet\n".to_string();
    }
    let width = report
        .groups
        .iter()
        .map(|g| g.key.len())
        .max()
        .unwrap_or(0)
        .max(report.by.len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:width$}  {:>12} {:>10} {:>12} {:>12}  cost",
        report.by, "input", "output", "cache write", "cache read"
    );
    for line in report.groups.iter().chain(std::iter::once(&report.total)) {
        let t = &line.tokens;
        let _ = writeln!(
            out,
            "{:width$}  {:>12} {:>10} {:>12} {:>12}  {}",
            line.key,
            t.input,
            t.output,
            t.cache_write,
            t.cache_read,
            dollars(line)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gastown_town::costs::usage::Tokens;

    #[test]
    fn a_model_without_a_price_shows_its_tokens_and_no_price() {
        let line = |key: &str, dollars: f64, unpriced: &[&str]| CostLine {
            key: key.to_string(),
            tokens: Tokens {
                input: 10,
                ..Tokens::default()
            },
            dollars,
            unpriced: unpriced.iter().map(|s| s.to_string()).collect(),
        };
        let report = CostReport {
            by: "model".to_string(),
            groups: vec![line("local", 0.0, &["local"]), line("sonnet", 1.5, &[])],
            total: line("total", 1.5, &["local"]),
        };
        let text = render(&report);
        assert!(text.contains("no price (local)"), "{text}");
        assert!(text.contains("$1.50\n"), "{text}");
        assert!(text.contains("$1.50 + no price for local"), "{text}");
        assert_eq!(render(&CostReport::default()), "no usage recorded yet\n");
    }
}
