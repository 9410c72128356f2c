//! `gastown feed`: the town's event stream as it happens (`docs/events.md`), one line per event
//! — `time  kind  text` — or one JSON object per line with `--json`; filtered by kind or
//! family, rig and agent. It needs `gastown run` and ends when the supervisor stops (or after
//! `--limit` events).

use crate::client;
use crate::protocol::{EventFilter, TownEvent};
use anyhow::Result;
use clap::Args;
use gastown_town::town::Town;
use std::io::Write;

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
    /// Only this rig's events.
    #[arg(long)]
    pub rig: Option<String>,
    /// Only events about or by this agent (its address).
    #[arg(long)]
    pub agent: Option<String>,
    /// Stop after this many events.
    #[arg(long)]
    pub limit: Option<usize>,
}

/// `gastown feed`.
pub fn run(town: &Town, args: FeedArgs) -> Result<()> {
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
    eprintln!("gastown run stopped: the feed ends");
    Ok(())
}

/// One event as a line: its time of day, kind and text.
pub fn line(event: &TownEvent) -> String {
    let time = event
        .at
        .get(11..23)
        .filter(|t| t.len() == 12)
        .unwrap_or(&event.at);
    format!("{time}  {:<22} {}", event.kind, event.text)
}
