//! The command line: one clap tree, one file per command family.

mod agents;
mod args;
pub mod bead;
mod config;
pub mod convoy;
pub mod formula;
mod install;
pub mod mail;
pub mod mol;
pub mod mq;
mod rig;
pub mod routed;
mod work;

use crate::run::protocol::TownRequest;
use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};
use gastown_town::town::Town;
use std::path::PathBuf;

/// Gas Town: run many coding-agent sessions in parallel without losing track of who does what.
#[derive(Debug, Parser)]
#[command(name = "gastown", version, about, propagate_version = true)]
pub struct Cli {
    /// The town to act on (default: GASTOWN_TOWN, else the town containing the working directory).
    #[arg(long, global = true, env = "GASTOWN_TOWN", value_name = "DIR")]
    pub town: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a town: git repository, town.toml, ledger, runtime dir, role homes.
    Install(install::InstallArgs),
    /// The beads ledger: create, show, list, update, close and link beads.
    #[command(subcommand)]
    Bead(bead::BeadCommand),
    /// Formulas: list, show and cook workflow templates.
    #[command(subcommand)]
    Formula(formula::FormulaCommand),
    /// Molecules: pour formulas into the ledger and walk their steps.
    #[command(subcommand)]
    Mol(mol::MolCommand),
    /// Rigs: the git projects the town manages.
    #[command(subcommand)]
    Rig(rig::RigCommand),
    /// Mail between agents and the overseer.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Town configuration: agent runtimes and the default one.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Put a bead on an agent's hook and get a session working on it.
    Sling {
        bead: String,
        /// `<rig>`, `<rig>/polecats/<name>`, `<rig>/crew/<name>`, `mayor` or `deacon/dogs/<name>`.
        target: String,
        /// Move the bead even if another agent holds it (the old holder is told).
        #[arg(long)]
        force: bool,
        /// The agent runtime for a new session (default: the rig's, then the town's, then sim).
        #[arg(long)]
        runtime: Option<String>,
        /// The work formula to attach (default: mol-polecat-work for polecats).
        #[arg(long)]
        formula: Option<String>,
        /// Attach no formula.
        #[arg(long, conflicts_with = "formula")]
        no_formula: bool,
        /// Do not add the bead to a convoy (by default one is created unless one tracks it).
        #[arg(long)]
        no_convoy: bool,
    },
    /// Show or change an agent's hook (`show` by default; your own inside a session).
    Hook {
        #[arg(value_enum)]
        action: Option<args::HookActionArg>,
        /// The bead, for `attach`.
        bead: Option<String>,
        /// Whose hook (the overseer must say; an agent defaults to itself).
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        force: bool,
    },
    /// What a fresh session reads first: role, hook, current step, unread mail, commands.
    Prime,
    /// A polecat finishes its hooked bead: submitted for merge, escalated or put back.
    ///
    /// Run by a polecat from its session (GASTOWN_AGENT). Whatever the status, a bead waiting
    /// in the rig's dispatch queue may then go out to a free polecat.
    Done {
        #[arg(long, value_enum, default_value = "completed")]
        status: args::DoneStatusArg,
        /// The note sent with the HELP of `--status escalated` (unused by the other statuses).
        #[arg(long, short = 'm')]
        message: Option<String>,
    },
    /// Hand over to a fresh session on the same hook (mail to self, new session).
    Handoff {
        #[arg(long, short = 'm')]
        message: Option<String>,
    },
    /// An identity's earlier sessions, and how to resume one.
    Seance { agent: String },
    /// The refinery's merge queue.
    #[command(subcommand)]
    Mq(mq::MqCommand),
    /// Convoys: delivery units tracking beads across rigs.
    #[command(subcommand)]
    Convoy(convoy::ConvoyCommand),
    /// Do not disturb: hold your mail instead of having it typed into your session.
    Dnd {
        #[arg(value_parser = ["on", "off"])]
        state: String,
        /// The agent (the overseer may set anyone's; an agent only its own).
        #[arg(long)]
        agent: Option<String>,
    },
    /// The whole system on the built-in sim agents, in a throw-away town: beads, a convoy,
    /// polecats, the refinery; ends when the convoy lands.
    Demo(crate::demo::DemoArgs),
    /// Run the town's supervisor in the foreground (Ctrl-C stops it).
    Run(crate::run::RunArgs),
    /// The live supervision tree.
    Actors(agents::ActorsArgs),
    /// One actor and its recent supervision events.
    Actor {
        /// Its path, as `gastown actors` shows it (e.g. town/mayor/session).
        path: String,
        #[arg(long)]
        json: bool,
    },
    /// A session's screen, or its last N lines.
    Peek {
        agent: String,
        #[arg(short = 'n', long)]
        lines: Option<usize>,
    },
    /// Join a session's terminal (Ctrl-] detaches).
    Attach { agent: String },
    /// Type text into a session once it is idle, press Enter, and check it landed.
    Nudge { agent: String, text: String },
    /// Restart a session (its identity and hook stay).
    Restart { agent: String },
    /// SIGKILL a session's process group; the tree restarts it.
    Kill { agent: String },
    /// Agents under supervision.
    #[command(subcommand)]
    Agent(agents::AgentCommand),
    /// Measure the supervisor: socket, sessions, restarts (see docs/benchmarks.md).
    #[command(subcommand, hide = true)]
    Bench(crate::bench::BenchCommand),
    /// The built-in scripted agent (the `sim` runtime); run by sessions, not by people.
    #[command(hide = true)]
    SimAgent,
    /// Commit pending ledger changes to git now (they are committed within a second anyway).
    Sync,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

/// Run one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Install(args) => install::run(args),
        Command::Bead(cmd) => bead::run(&find_town(&cli.town)?, cmd),
        Command::Formula(cmd) => formula::run(cli.town.as_deref(), cmd),
        Command::Mol(cmd) => mol::run(&find_town(&cli.town)?, cmd),
        Command::Rig(cmd) => rig::run(&find_town(&cli.town)?, cmd),
        Command::Mail(cmd) => mail::run(&find_town(&cli.town)?, cmd),
        Command::Config(cmd) => config::run(&find_town(&cli.town)?, cmd),
        Command::Sling {
            bead,
            target,
            force,
            runtime,
            formula,
            no_formula,
            no_convoy,
        } => work::run(
            &find_town(&cli.town)?,
            gastown_town::work::WorkCommand::Sling {
                bead,
                target,
                force,
                runtime,
                formula,
                no_formula,
                no_convoy,
            },
        ),
        Command::Hook {
            action,
            bead,
            agent,
            force,
        } => work::hook(
            &find_town(&cli.town)?,
            action.map(Into::into),
            bead,
            agent,
            force,
        ),
        Command::Prime => work::run(
            &find_town(&cli.town)?,
            gastown_town::work::WorkCommand::Prime,
        ),
        Command::Done { status, message } => {
            work::done(&find_town(&cli.town)?, status.into(), message)
        }
        Command::Handoff { message } => work::run(
            &find_town(&cli.town)?,
            gastown_town::work::WorkCommand::Handoff { message },
        ),
        Command::Seance { agent } => work::run(
            &find_town(&cli.town)?,
            gastown_town::work::WorkCommand::Seance { agent },
        ),
        Command::Mq(mq::MqCommand::AcceptOrigin { rig }) => {
            // Git only, and it waits on the network: never in the supervisor's ledger actor.
            let town = find_town(&cli.town)?;
            let who = crate::cli::bead::actor();
            crate::output::text(&mq::accept_origin(&town, &rig, &who)?)?;
            Ok(())
        }
        Command::Mq(cmd) => {
            let town = find_town(&cli.town)?;
            let request = TownRequest::Mq(cmd.clone());
            routed::run(&town, request, |l, who| mq::apply(l, &town, cmd, who))
        }
        Command::Convoy(cmd) => {
            let town = find_town(&cli.town)?;
            let request = TownRequest::Convoy(cmd.clone());
            routed::run(&town, request, |l, who| convoy::apply(l, &town, cmd, who))
        }
        Command::Dnd { state, agent } => {
            let town = find_town(&cli.town)?;
            let on = state == "on";
            let request = TownRequest::Dnd {
                on,
                agent: agent.clone(),
            };
            routed::run(&town, request, |l, who| {
                dnd_for(l, who, agent.as_deref(), on)
            })
        }
        Command::Demo(args) => crate::demo::run(args),
        Command::Run(args) => crate::run::run(find_town(&cli.town)?, args),
        Command::Actors(args) => agents::actors(&find_town(&cli.town)?, args),
        Command::Actor { path, json } => agents::actor(&find_town(&cli.town)?, path, json),
        Command::Peek { agent, lines } => {
            agents::simple(&find_town(&cli.town)?, TownRequest::Peek { agent, lines })
        }
        Command::Attach { agent } => agents::attach(&find_town(&cli.town)?, agent),
        Command::Nudge { agent, text } => {
            agents::simple(&find_town(&cli.town)?, TownRequest::Nudge { agent, text })
        }
        Command::Restart { agent } => {
            agents::simple(&find_town(&cli.town)?, TownRequest::Restart { agent })
        }
        Command::Kill { agent } => {
            agents::simple(&find_town(&cli.town)?, TownRequest::Kill { agent })
        }
        Command::Agent(cmd) => agents::agent(&find_town(&cli.town)?, cmd),
        Command::SimAgent => crate::sim::run(),
        Command::Bench(cmd) => crate::bench::run(cmd),
        Command::Sync => bead::sync(&find_town(&cli.town)?),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            crate::output::generated(|buf| {
                clap_complete::generate(shell, &mut cmd, "gastown", buf)
            })?;
            Ok(())
        }
    }
}

/// `gastown dnd` for `agent` (default: the caller); only the overseer acts for someone else.
pub fn dnd_for(
    ledger: &mut gastown_beads::Ledger,
    who: &str,
    agent: Option<&str>,
    on: bool,
) -> Result<String> {
    match agent {
        Some(target) if target != who && who != "overseer" => {
            anyhow::bail!(
                "{who} cannot set do-not-disturb for {target}: only its own, or the overseer"
            )
        }
        Some(target) => gastown_town::mail::dnd(ledger, target, on),
        None => gastown_town::mail::dnd(ledger, who, on),
    }
}

fn find_town(explicit: &Option<PathBuf>) -> Result<Town> {
    Town::find(explicit.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
