//! `gastown dog list [--json]` and `gastown dog run <name>`: the deacon's dogs, mechanical chores
//! on timers of their own, and the dog sessions that work beads slung to `deacon/dogs/<name>`
//! (`docs/dogs.md`; `list` shows both, a session's entry with its `session` object). With `gastown run` up the running dogs answer (their
//! last runs and outcomes) and `run` asks the dog itself; without it `list` shows the
//! configuration and `run` runs the chore here, once.

use super::routed::{self, unexpected};
use crate::client;
use crate::output;
use crate::protocol::{TownReply, TownRequest};
use anyhow::Result;
use clap::Subcommand;
use gastown_town::dogs::{self, DogReport};
use gastown_town::town::Town;

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum DogCommand {
    /// Every dog: a chore's period, last run and outcome; a dog session's runtime, state and hook.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Run one dog's chore now and wait for it (overseer, mayor, deacon).
    Run {
        /// The dog, e.g. checkpoint.
        name: String,
        /// Print the dog's report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `gastown dog …`.
pub fn run(town: &Town, cmd: DogCommand) -> Result<()> {
    let text = match cmd {
        DogCommand::List { json } => {
            let reports = match client::connect(town)? {
                Some(mut supervisor) => match client::call(&mut supervisor, TownRequest::Dogs)? {
                    TownReply::Dogs(reports) => reports,
                    other => return Err(unexpected(&other)),
                },
                None => {
                    let mut reports: Vec<DogReport> = dogs::names()
                        .into_iter()
                        .filter_map(|name| {
                            dogs::config_of(&town.config.dogs, name)
                                .map(|config| DogReport::configured(name, &config, false))
                        })
                        .collect();
                    // The dog sessions the ledger knows; none runs without `gastown run`.
                    let ledger = town.open_ledger()?;
                    let known = gastown_town::dog_sessions::known(&ledger);
                    ledger.close_ledger()?;
                    reports.extend(
                        known?
                            .iter()
                            .map(|record| gastown_town::dog_sessions::report(record, false)),
                    );
                    reports
                }
            };
            if json {
                format!("{}\n", serde_json::to_string_pretty(&reports)?)
            } else {
                reports.iter().map(line).collect()
            }
        }
        DogCommand::Run { name, json } => {
            let report = match client::connect(town)? {
                Some(mut supervisor) => {
                    match client::call(&mut supervisor, TownRequest::DogRun { name })? {
                        TownReply::DogRan(report) => report,
                        other => return Err(unexpected(&other)),
                    }
                }
                None => {
                    gastown_town::authz::run_dog(&routed::caller_from_env()?)?;
                    let config = dogs::config_of(&town.config.dogs, &name).ok_or_else(|| {
                        anyhow::anyhow!(
                            "there is no dog {name:?}; the dogs are {}",
                            dogs::names().join(", ")
                        )
                    })?;
                    let mut report = DogReport::configured(&name, &config, false);
                    let outcome = dogs::run_chore(town, &name, false);
                    report.runs = 1;
                    report.last_run = Some(gastown_beads::time::now_rfc3339());
                    report.last_ok = Some(outcome.is_ok());
                    report.last_outcome = Some(match &outcome {
                        Ok(done) => done.summary.clone(),
                        Err(e) => format!("{e:#}"),
                    });
                    report.failures_in_a_row = u32::from(outcome.is_err());
                    report
                }
            };
            let text = if json {
                format!("{}\n", serde_json::to_string_pretty(&report)?)
            } else {
                line(&report)
            };
            if report.last_ok == Some(false) {
                output::text(&text)?;
                anyhow::bail!(
                    "the {} dog's chore failed: {}",
                    report.name,
                    report.last_outcome.as_deref().unwrap_or("?")
                );
            }
            text
        }
    };
    output::text(&text)?;
    Ok(())
}

fn line(r: &DogReport) -> String {
    if let Some(session) = &r.session {
        return format!(
            "{:<12} session  {:<12} {:<10} hook {}\n",
            r.name,
            session.runtime.as_deref().unwrap_or("-"),
            session.state,
            session.hook.as_deref().unwrap_or("-")
        );
    }
    let state = match (r.enabled, r.running) {
        (false, _) => "disabled",
        (true, true) => "running",
        (true, false) => "idle (no gastown run)",
    };
    let last = match (&r.last_run, &r.last_outcome, r.last_ok) {
        (Some(at), Some(outcome), Some(true)) => format!("last {at}: {outcome}"),
        (Some(at), Some(outcome), _) => format!(
            "last {at}: FAILED ({} in a row): {outcome}",
            r.failures_in_a_row
        ),
        _ => "never run".to_string(),
    };
    format!(
        "{:<12} every {:<8} {:<22} runs {:<4} {last}\n",
        r.name, r.every, state, r.runs
    )
}
