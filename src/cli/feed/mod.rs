//! `gastown feed`: the town's event stream as it happens (`docs/events.md`, `docs/feed.md`).
//! On a terminal (stdin and stdout both) it is a full-screen view — agents, convoys, the merge
//! queue and the event log, with keys (`tui.rs`, `model.rs`, `keys.rs`, `view.rs`); otherwise,
//! or with `--plain`, `--json` or `--limit`, one line per event — `time  kind  text` — or one
//! JSON object per line, filtered by kind or family, rig and agent. It needs `gastown run` and
//! ends when the supervisor stops (or after `--limit` events).

mod keys;
mod model;
mod tui;
mod view;

use crate::client;
use crate::protocol::{EventFilter, TownEvent, events::KINDS};
use anyhow::{Result, bail};
use clap::Args;
use gastown_town::rig::Rig;
use gastown_town::town::Town;
use std::io::{IsTerminal, Write};

#[derive(Debug, Clone, PartialEq, Args)]
pub struct FeedArgs {
    /// Plain lines (what it prints when stdout is no terminal, too).
    #[arg(long)]
    pub plain: bool,
    /// One JSON object per line (seq, at, kind, source, subject, rig, text).
    #[arg(long, conflicts_with = "plain")]
    pub json: bool,
    /// Only these kinds or families (repeatable): e.g. `--kind mq --kind session.blocked`.
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// Only this rig's events (full screen: the rig filter it starts with; `r` changes it).
    #[arg(long)]
    pub rig: Option<String>,
    /// Only events about or by this agent, its address (full screen: the log's filter and the
    /// agent selected at the start; `f` toggles it).
    #[arg(long)]
    pub agent: Option<String>,
    /// Stop after this many events (plain lines: for scripts).
    #[arg(long)]
    pub limit: Option<usize>,
}

/// `gastown feed`.
pub fn run(town: &Town, args: FeedArgs) -> Result<()> {
    check_filters(town, &args)?;
    let full_screen = !args.plain
        && !args.json
        && args.limit.is_none()
        && std::io::stdout().is_terminal()
        && std::io::stdin().is_terminal();
    if full_screen {
        return tui::run(town, args);
    }
    plain(town, args)
}

/// Bad filters are refused before anything is shown: a kind no event has (the same words the
/// supervisor uses) and a rig the town does not have, naming the ones it has.
fn check_filters(town: &Town, args: &FeedArgs) -> Result<()> {
    let kinds = EventFilter {
        kinds: args.kinds.clone(),
        ..EventFilter::default()
    };
    if let Some(kind) = kinds.unknown_kind() {
        bail!(
            "no event kind {kind:?}: the kinds are {} (or their families, e.g. `mq`)",
            KINDS.join(", ")
        );
    }
    if let Some(rig) = &args.rig {
        let rigs: Vec<String> = Rig::list_each(town)?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        if !rigs.contains(rig) {
            let known = if rigs.is_empty() {
                "this town has none yet (add one with `gastown rig add <name> <git-url>`)".into()
            } else {
                format!("the rigs are {}", rigs.join(", "))
            };
            bail!(
                "no rig {rig:?} in the town at {}: {known}",
                town.root.display()
            );
        }
    }
    Ok(())
}

/// Plain lines or JSON, one per event, filtered by the supervisor.
fn plain(town: &Town, args: FeedArgs) -> Result<()> {
    let filter = EventFilter {
        kinds: args.kinds,
        rig: args.rig,
        agent: args.agent,
    };
    let mut events = client::subscribe(town, filter)?;
    let stdout = std::io::stdout();
    let mut shown = 0usize;
    while let Some(batch) = events.next()? {
        let mut out = stdout.lock();
        for event in batch {
            let line = if args.json {
                serde_json::to_string(&event)?
            } else {
                line(&event)
            };
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                return Ok(()); // The reader went away (a closed pipe): nothing more to say.
            }
            shown += 1;
            if args.limit.is_some_and(|limit| shown >= limit) {
                return Ok(());
            }
        }
    }
    eprintln!("{ENDED}");
    Ok(())
}

/// What the feed says when the supervisor stops.
const ENDED: &str = "gastown run stopped: the feed ends";

/// One event as a line: its time of day, kind and text.
pub fn line(event: &TownEvent) -> String {
    let time = event
        .at
        .get(11..23)
        .filter(|t| t.len() == 12)
        .unwrap_or(&event.at);
    format!("{time}  {:<22} {}", event.kind, event.text)
}
