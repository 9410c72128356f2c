//! `gastown escalate [-s low|medium|high|critical] [--bead ID] "what is wrong"`, and `escalate
//! list|show|ack|forward|close` (see `docs/escalation.md`).
//!
//! The command runs in the domain (`gastown_town::command::escalation`); this file turns the
//! arguments into its request, renders its outcome and — without a supervisor — runs the
//! outside channels (bell, notify, webhook) itself before returning.

use super::routed::{self, unexpected};
use crate::output;
use crate::protocol::{TownReply, TownRequest};
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use gastown_town::command::escalation::{self as domain, EscalateOutcome, EscalateRequest};
use gastown_town::escalation::routing::Outside;
use gastown_town::escalation::{Escalation, Severity};
use gastown_town::text::one_line;
use gastown_town::town::Town;
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EscalateArgs {
    #[command(subcommand)]
    pub cmd: Option<EscalateCommand>,
    /// How bad it is: low, medium, high or critical.
    #[arg(short = 's', long, default_value = "medium")]
    pub severity: String,
    /// The bead it is about.
    #[arg(long)]
    pub bead: Option<String>,
    /// Print the escalation as JSON.
    #[arg(long)]
    pub json: bool,
    /// What is wrong.
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum EscalateCommand {
    /// Open and acknowledged escalations.
    List {
        /// Closed ones too.
        #[arg(long)]
        all: bool,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// One escalation.
    Show {
        /// The escalation's id.
        id: String,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an escalation: someone is on it, stop re-raising it (mayor, overseer).
    Ack {
        /// The escalation's id.
        id: String,
    },
    /// Send an escalation the rig's witness agent holds up to the mayor and the overseer now
    /// (that witness agent, mayor, overseer).
    Forward {
        /// The escalation's id.
        id: String,
        /// What you found, added to the mail that goes up.
        #[arg(long, short = 'n')]
        note: Option<String>,
    },
    /// Close an escalation (mayor, overseer; the witness agent judging it).
    Close {
        /// The escalation's id.
        id: String,
        /// Why (default "resolved").
        #[arg(long, short = 'r')]
        reason: Option<String>,
    },
}

/// `gastown escalate …`.
pub fn run(town: &Town, args: EscalateArgs) -> Result<()> {
    let (request, json) = match args.cmd {
        Some(EscalateCommand::List { all, json }) => (EscalateRequest::List { all }, json),
        Some(EscalateCommand::Show { id, json }) => (EscalateRequest::Show { id }, json),
        Some(EscalateCommand::Ack { id }) => (EscalateRequest::Ack { id }, false),
        Some(EscalateCommand::Close { id, reason }) => {
            (EscalateRequest::Close { id, reason }, false)
        }
        Some(EscalateCommand::Forward { id, note }) => {
            (EscalateRequest::Forward { id, note }, false)
        }
        None => {
            let Some(message) = args.message else {
                bail!(
                    "say what is wrong: `gastown escalate [-s high] [--bead ID] \"what is wrong\"` (or `escalate list`)"
                );
            };
            let severity: Severity = args.severity.parse()?;
            (
                EscalateRequest::Raise {
                    severity,
                    bead: args.bead,
                    message,
                },
                args.json,
            )
        }
    };
    let reply = routed::run(
        town,
        TownRequest::Escalate(request.clone()),
        |ledger, caller| domain::apply(ledger, town, request, caller).map(TownReply::Escalation),
    )?;
    let TownReply::Escalation(mut outcome) = reply else {
        return Err(unexpected(&reply));
    };
    // Without a supervisor the outside channels come back here (with one, it ran them and
    // sends none).
    if let EscalateOutcome::Raised {
        escalation,
        outside,
        ..
    }
    | EscalateOutcome::Forwarded {
        escalation,
        outside,
        ..
    } = &mut outcome
        && !outside.is_empty()
    {
        let outside = std::mem::take(outside);
        deliver_now(town, escalation.clone(), outside)?;
    }
    output::text(&render(&outcome, json)?)?;
    Ok(())
}

/// Without a supervisor: run an escalation's outside channels here, to the end (each bounded).
pub fn deliver_now(town: &Town, escalation: Escalation, outside: Vec<Outside>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(crate::run::escalation::deliver(
        town.root.clone(),
        town.config.escalation.timeout.0,
        escalation,
        outside,
    ));
    Ok(())
}

fn pretty<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}

fn line(e: &Escalation) -> String {
    let count = if e.count > 1 {
        format!(" ×{}", e.count)
    } else {
        String::new()
    };
    format!(
        "{}  {:<8} {:<6} {}{count}  {}\n",
        e.id,
        e.severity.as_str(),
        e.state.as_str(),
        e.source,
        one_line(e.message.lines().next().unwrap_or(""))
    )
}

fn detail(e: &Escalation) -> Result<String> {
    let mut out = String::new();
    writeln!(out, "{} [{}] {}", e.id, e.severity, e.state.as_str())?;
    writeln!(out, "source:    {}", e.source)?;
    if let Some(bead) = &e.bead {
        writeln!(out, "bead:      {bead}")?;
    }
    writeln!(
        out,
        "raised:    {} (×{}, last {})",
        e.raised_at, e.count, e.last_raised_at
    )?;
    if let Some(by) = &e.acked_by {
        writeln!(
            out,
            "acked:     by {by} at {}",
            e.acked_at.as_deref().unwrap_or("?")
        )?;
    }
    if let Some(judge) = &e.judge {
        match &e.judge_released {
            Some(at) => writeln!(out, "judged:    by {judge}, went up at {at}")?,
            None => writeln!(
                out,
                "judged:    by {judge} until {}",
                e.judge_until.as_deref().unwrap_or("?")
            )?,
        }
    }
    if let Some(note) = &e.judge_note {
        writeln!(out, "note:      {}", one_line(note))?;
    }
    if let Some(reason) = &e.closed_reason {
        writeln!(out, "closed:    {}", one_line(reason))?;
    }
    writeln!(out, "\n{}", e.message)?;
    Ok(out)
}

/// What an escalation command prints on stdout.
pub fn render(outcome: &EscalateOutcome, json: bool) -> Result<String> {
    Ok(match outcome {
        EscalateOutcome::Raised { escalation, .. } if json => pretty(escalation)?,
        EscalateOutcome::Raised {
            escalation: e,
            folded,
            routed,
            ..
        } => {
            let what = if *folded {
                format!("folded into {} (raised {} times)", e.id, e.count)
            } else {
                format!("raised {}", e.id)
            };
            let to = if routed.is_empty() {
                String::new()
            } else {
                format!("; sent to {}", routed.join(", "))
            };
            format!("{what} [{}]{to}\n", e.severity)
        }
        EscalateOutcome::Listed { escalations, .. } if json => pretty(escalations)?,
        EscalateOutcome::Listed { escalations, all } => {
            if escalations.is_empty() {
                if *all {
                    "no escalations\n".to_string()
                } else {
                    "no open escalations (`--all` shows closed ones)\n".to_string()
                }
            } else {
                escalations.iter().map(line).collect()
            }
        }
        EscalateOutcome::Shown(e) if json => pretty(e)?,
        EscalateOutcome::Shown(e) => detail(e)?,
        EscalateOutcome::Acked(e) => format!(
            "acknowledged {} (by {})\n",
            e.id,
            e.acked_by.as_deref().unwrap_or("?")
        ),
        EscalateOutcome::Forwarded {
            escalation: e,
            routed,
            ..
        } => format!(
            "forwarded {} [{}]; sent to {}\n",
            e.id,
            e.severity,
            if routed.is_empty() {
                "nobody (no channel for its severity)".to_string()
            } else {
                routed.join(", ")
            }
        ),
        EscalateOutcome::Closed(e) => format!(
            "closed {}: {}\n",
            e.id,
            one_line(e.closed_reason.as_deref().unwrap_or(""))
        ),
    })
}
