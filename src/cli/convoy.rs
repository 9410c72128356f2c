//! `gastown convoy create|list|show|add|close|refresh`: delivery units tracking beads across rigs
//! (see `docs/convoys.md`).
//!
//! The command runs in the domain (`gastown_town::command::convoy`); this file turns the
//! arguments into its request and renders its outcome. `list`, `show`, `add` and `refresh`
//! first land every convoy whose beads are all closed, and say so in text.

use super::routed::{self, unexpected};
use crate::output;
use crate::protocol::{TownReply, TownRequest};
use anyhow::Result;
use clap::Subcommand;
use gastown_town::command::convoy::{self as domain, ConvoyOutcome, ConvoyRequest};
use gastown_town::convoy::{ConvoyLanded, Progress};
use gastown_town::town::Town;
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum ConvoyCommand {
    /// Create a convoy tracking beads (from any rig).
    Create {
        /// Its name, e.g. "Feature X".
        name: String,
        /// The beads it tracks (more can be added later with `convoy add`).
        beads: Vec<String>,
        /// Ring the bell on `gastown run`'s terminal and run `[convoy] notify_command` when it
        /// lands (the overseer is mailed either way).
        #[arg(long)]
        notify: bool,
        /// Print the new convoy's progress as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open convoys with their progress (closed / tracked beads).
    List {
        /// Closed (landed) convoys too.
        #[arg(long)]
        all: bool,
        /// Print a JSON array of the convoys' progress.
        #[arg(long)]
        json: bool,
    },
    /// One convoy: each tracked bead, and for an open convoy what holds it.
    Show {
        /// The convoy (optional when exactly one is open).
        id: Option<String>,
        /// Print the convoy's progress as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Track more beads in an open convoy.
    Add {
        /// The convoy.
        convoy: String,
        /// The beads to track.
        #[arg(required = true)]
        beads: Vec<String>,
    },
    /// Close a convoy by hand (its beads stay as they are).
    Close {
        /// The convoy.
        convoy: String,
        /// Why it was closed.
        #[arg(long, short = 'r')]
        reason: Option<String>,
    },
    /// Land every open convoy whose beads are all closed (list and show do this too).
    Refresh,
    /// Set what the convoy's work may spend (`docs/costs.md`): its total budget, or with
    /// `--daily` its budget per UTC day. At 100 % new slings of its beads wait in the dispatch
    /// queue (reason: budget); raising it lets them go.
    Budget {
        /// The convoy.
        convoy: String,
        /// Dollars, 0 or more (0: nothing of it may be dispatched).
        dollars: String,
        /// A budget per UTC day instead of in all.
        #[arg(long)]
        daily: bool,
    },
}

/// `gastown convoy …`.
pub fn run(town: &Town, cmd: ConvoyCommand) -> Result<()> {
    let (request, json) = match cmd {
        ConvoyCommand::Create {
            name,
            beads,
            notify,
            json,
        } => (
            ConvoyRequest::Create {
                name,
                beads,
                notify,
            },
            json,
        ),
        ConvoyCommand::List { all, json } => (ConvoyRequest::List { all }, json),
        ConvoyCommand::Show { id, json } => (ConvoyRequest::Show { id }, json),
        ConvoyCommand::Add { convoy, beads } => (ConvoyRequest::Add { convoy, beads }, false),
        ConvoyCommand::Close { convoy, reason } => (ConvoyRequest::Close { convoy, reason }, false),
        ConvoyCommand::Refresh => (ConvoyRequest::Refresh, false),
        ConvoyCommand::Budget {
            convoy,
            dollars,
            daily,
        } => {
            let key = if daily { "--daily budget" } else { "budget" };
            let dollars = gastown_town::budget::parse_dollars(key, &dollars)?;
            (
                ConvoyRequest::Budget {
                    convoy,
                    dollars,
                    daily,
                },
                false,
            )
        }
    };
    let reply = routed::run(
        town,
        TownRequest::Convoy(request.clone()),
        |ledger, caller| domain::apply(ledger, town, request, caller).map(TownReply::Convoy),
    )?;
    let TownReply::Convoy(outcome) = reply else {
        return Err(unexpected(&reply));
    };
    output::text(&render(&outcome, json)?)?;
    Ok(())
}

fn pretty<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}

/// What a convoy command prints on stdout.
pub fn render(outcome: &ConvoyOutcome, json: bool) -> Result<String> {
    Ok(match outcome {
        ConvoyOutcome::Created { progress, .. } if json => pretty(progress)?,
        ConvoyOutcome::Created {
            progress: p,
            notify,
        } => format!(
            "created convoy {} ({}) tracking {} bead(s){}\n",
            p.id,
            p.name,
            p.total,
            if *notify { ", notify on landing" } else { "" }
        ),
        ConvoyOutcome::Listed { convoys, .. } if json => pretty(convoys)?,
        ConvoyOutcome::Listed {
            landed,
            all,
            convoys,
        } => {
            let mut out = landed_lines(landed);
            if convoys.is_empty() {
                out.push_str(if *all {
                    "no convoys\n"
                } else {
                    "no open convoys (--all shows landed ones)\n"
                });
            }
            for p in convoys {
                out.push_str(&list_line(p));
            }
            out
        }
        ConvoyOutcome::Shown { progress, .. } if json => pretty(progress)?,
        ConvoyOutcome::Shown { landed, progress } => landed_lines(landed) + &show_text(progress),
        ConvoyOutcome::Added {
            id,
            title,
            added,
            total,
            landed,
        } => {
            format!("added {added} bead(s) to convoy {id} ({title}): now tracking {total}\n")
                + &landed_lines(landed)
        }
        ConvoyOutcome::Closed { id, title } => format!("closed convoy {id} ({title})\n"),
        ConvoyOutcome::Refreshed { landed } if landed.is_empty() => {
            "no convoy landed\n".to_string()
        }
        ConvoyOutcome::Refreshed { landed } => landed_lines(landed),
        ConvoyOutcome::Budgeted {
            id,
            title,
            daily,
            total,
        } => {
            let show =
                |b: &Option<f64>| b.map_or_else(|| "none".to_string(), |d| format!("${d:.2}"));
            format!(
                "convoy {id} ({title}) budget: daily {}, total {}\n",
                show(daily),
                show(total)
            )
        }
    })
}

/// One line per convoy that just landed.
fn landed_lines(landed: &[ConvoyLanded]) -> String {
    let mut out = String::new();
    for l in landed {
        let _ = writeln!(
            out,
            "convoy {} ({}) landed: all {} beads closed; the overseer was mailed",
            l.id,
            l.name,
            l.beads.len()
        );
    }
    out
}

fn list_line(p: &Progress) -> String {
    let state = if p.status == "closed" {
        "landed".to_string()
    } else {
        match p.holders().next() {
            Some(h) if p.total > 0 => format!("held by {}", h.id),
            _ => "tracks nothing yet".to_string(),
        }
    };
    format!(
        "{}  {}/{}  {}  ({state})\n",
        p.id, p.closed, p.total, p.name
    )
}

fn show_text(p: &Progress) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "convoy {} \"{}\" · {} · {}/{} closed{}",
        p.id,
        p.name,
        p.status,
        p.closed,
        p.total,
        if p.notify { " · notify" } else { "" }
    );
    if !p.close_reason.is_empty() {
        let _ = writeln!(out, "  {}", p.close_reason);
    }
    for t in &p.beads {
        let mark = if t.done { "✓" } else { "○" };
        let _ = write!(out, "  {mark} {} [{}] {}", t.id, t.status, t.title);
        if !t.assignee.is_empty() {
            let _ = write!(out, " ({})", t.assignee);
        }
        out.push('\n');
    }
    if p.status != "closed" {
        for t in p.holders() {
            let _ = writeln!(
                out,
                "held by {} ({})",
                t.id,
                t.held.as_deref().unwrap_or("open")
            );
        }
        if p.total == 0 {
            out.push_str("tracks no beads yet: `gastown convoy add` adds some\n");
        }
    }
    out
}
