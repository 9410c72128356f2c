//! The command line: one clap tree, one file per command family.

mod agents;
pub mod bead;
mod config;
mod formula;
mod install;
pub mod mail;
mod mol;
mod rig;

use crate::run::protocol::TownRequest;
use crate::town::Town;
use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};
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
            clap_complete::generate(shell, &mut cmd, "gastown", &mut std::io::stdout());
            Ok(())
        }
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
