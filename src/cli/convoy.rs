//! `gastown convoy create|list|show|add|close|refresh`: delivery units tracking beads across rigs
//! (see `docs/convoys.md`).
//!
//! `list`, `show` and `refresh` first land every convoy whose beads are all closed (a bead closed
//! by hand lands its convoy the next time anyone looks), so what they print is never stale.

use anyhow::{Result, bail};
use clap::Subcommand;
use gastown_beads::Ledger;
use gastown_town::convoy::{self, Progress};
use gastown_town::town::Town;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
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
        #[arg(long)]
        json: bool,
    },
    /// Open convoys with their progress (closed / tracked beads).
    List {
        /// Closed (landed) convoys too.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// One convoy: each tracked bead, and for an open convoy what holds it.
    Show {
        /// The convoy (optional when exactly one is open).
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Track more beads in an open convoy.
    Add {
        convoy: String,
        #[arg(required = true)]
        beads: Vec<String>,
    },
    /// Close a convoy by hand (its beads stay as they are).
    Close {
        convoy: String,
        #[arg(long, short = 'r')]
        reason: Option<String>,
    },
    /// Land every open convoy whose beads are all closed (list and show do this too).
    Refresh,
}

/// Run one convoy command against the ledger as `who`.
pub fn apply(ledger: &mut Ledger, town: &Town, cmd: ConvoyCommand, who: &str) -> Result<String> {
    match cmd {
        ConvoyCommand::Create {
            name,
            beads,
            notify,
            json,
        } => {
            // A convoy of one rig's beads is that rig's record; across rigs it is the town's.
            let prefix = gastown_town::rig::shared_rig_prefix(town, &beads)?;
            let created = convoy::create(ledger, &name, &beads, notify, prefix, who)?;
            let p = convoy::progress(ledger, &created.id)?;
            if json {
                return to_json(&p);
            }
            Ok(format!(
                "created convoy {} ({}) tracking {} bead(s){}\n",
                p.id,
                p.name,
                p.total,
                if notify { ", notify on landing" } else { "" }
            ))
        }
        ConvoyCommand::List { all, json } => {
            let mut out = settle(ledger, town, who)?;
            let list = convoy::convoys(ledger, all)?
                .iter()
                .map(|c| convoy::progress(ledger, &c.id))
                .collect::<Result<Vec<_>>>()?;
            if json {
                return to_json(&list);
            }
            if list.is_empty() {
                out.push_str(if all {
                    "no convoys\n"
                } else {
                    "no open convoys (--all shows landed ones)\n"
                });
            }
            for p in &list {
                out.push_str(&list_line(p));
            }
            Ok(out)
        }
        ConvoyCommand::Show { id, json } => {
            let mut out = settle(ledger, town, who)?;
            let id = match id {
                Some(id) => id,
                None => only_open(ledger)?,
            };
            let p = convoy::progress(ledger, &id)?;
            if json {
                return to_json(&p);
            }
            out.push_str(&show_text(&p));
            Ok(out)
        }
        ConvoyCommand::Add { convoy, beads } => {
            let (c, added) = convoy::add(ledger, &convoy, &beads, who)?;
            let total = convoy::tracked_ids(&c).len();
            let mut out = format!(
                "added {} bead(s) to convoy {} ({}): now tracking {total}\n",
                added.len(),
                c.id,
                c.title
            );
            // A convoy whose new beads are already closed may land at once.
            out.push_str(&settle(ledger, town, who)?);
            Ok(out)
        }
        ConvoyCommand::Close { convoy, reason } => {
            let c = convoy::close(ledger, &convoy, reason.as_deref(), who)?;
            Ok(format!("closed convoy {} ({})\n", c.id, c.title))
        }
        ConvoyCommand::Refresh => {
            let out = settle(ledger, town, who)?;
            Ok(if out.is_empty() {
                "no convoy landed\n".to_string()
            } else {
                out
            })
        }
    }
}

/// Land what can land, ring for it, and say so.
fn settle(ledger: &mut Ledger, town: &Town, who: &str) -> Result<String> {
    let landed = convoy::sweep(ledger, town, who)?;
    convoy::announce(town, &landed);
    let mut out = String::new();
    for l in &landed {
        let _ = writeln!(
            out,
            "convoy {} ({}) landed: all {} beads closed; the overseer was mailed",
            l.id,
            l.name,
            l.beads.len()
        );
    }
    Ok(out)
}

fn only_open(ledger: &Ledger) -> Result<String> {
    let open = convoy::convoys(ledger, false)?;
    match open.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => bail!("no open convoy: name one (`gastown convoy list --all` shows landed ones)"),
        many => bail!(
            "{} convoys are open, name one: {}",
            many.len(),
            many.iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
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

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}
