//! The command line: one clap tree, one file per command family.
//!
//! The grammar, the same everywhere: a command that names an agent takes its address
//! (`alpha/polecats/nux`, `mayor`, `deacon/dogs/rex`); every reading command takes `--json`;
//! every argument has help text (a test walks the tree); `--town` is offered where a town is
//! acted on, not by `install`, `demo` or `completions`.

mod agent_check;
mod agents;
mod args;
pub mod bead;
mod checkpoint;
mod config;
mod convoy;
mod costs;
mod doctor;
mod dog;
pub mod escalate;
mod feed;
pub mod formula;
mod install;
mod mail;
mod mol;
mod mq;
mod rig;
mod routed;
mod status;
mod sync;
mod updown;
mod work;

use anyhow::{Result, bail};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use gastown_town::command::mail::MailRequest;
use gastown_town::town::Town;
use gastown_town::work::WorkCommand;
use std::path::PathBuf;

/// `gastown --version`: the package version and the commit it was built from.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("GASTOWN_COMMIT"), ")");

/// Gas Town: run many coding-agent sessions in parallel without losing track of who does what.
#[derive(Debug, Parser)]
#[command(name = "gastown", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    /// The town to act on (default: GASTOWN_TOWN, else the town containing the working directory).
    #[arg(long, global = true, env = "GASTOWN_TOWN", value_name = "DIR")]
    pub town: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// Keeps the global `--town` out of a command it means nothing for: clap does not hand a
/// global argument to a command that has one of the same id, so this one stands in for it,
/// hidden from help (and refused when given, by [`run`]).
#[derive(Debug, Args)]
pub struct NoTown {
    /// Not used by this command: it acts on no existing town.
    #[arg(long = "town", id = "town", hide = true, value_name = "DIR")]
    town: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a town: git repository, town.toml, ledger, runtime dir, role homes.
    Install {
        #[command(flatten)]
        args: install::InstallArgs,
        #[command(flatten)]
        no_town: NoTown,
    },
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
        /// The bead to put on the hook.
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
        /// What to do with the hook.
        #[arg(value_enum)]
        action: Option<args::HookActionArg>,
        /// The bead, for `attach`.
        bead: Option<String>,
        /// Whose hook, by address (the overseer must say; an agent defaults to itself).
        #[arg(long)]
        agent: Option<String>,
        /// For `attach`: move the bead even if another agent holds it.
        #[arg(long)]
        force: bool,
        /// For `show`: print the hook as JSON.
        #[arg(long)]
        json: bool,
    },
    /// What a fresh session reads first: role, hook, current step, unread mail, commands.
    Prime,
    /// A polecat finishes its hooked bead: submitted for merge, escalated or put back.
    ///
    /// Run by a polecat from its session (GASTOWN_AGENT). Whatever the status, a bead waiting
    /// in the rig's dispatch queue may then go out to a free polecat.
    Done {
        /// How the work ended.
        #[arg(long, value_enum, default_value = "completed")]
        status: args::DoneStatusArg,
        /// The note sent with the HELP of `--status escalated` (unused by the other statuses).
        #[arg(long, short = 'm')]
        message: Option<String>,
    },
    /// Hand over to a fresh session on the same hook (mail to self, new session).
    Handoff {
        /// A note for the successor (default: "Handing off to a fresh session.").
        #[arg(long, short = 'm')]
        message: Option<String>,
    },
    /// An identity's earlier sessions, and how to resume one.
    Seance {
        /// The agent's address.
        agent: String,
        /// Print the sessions as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The refinery's merge queue.
    #[command(subcommand)]
    Mq(mq::MqCommand),
    /// Convoys: delivery units tracking beads across rigs.
    #[command(subcommand)]
    Convoy(convoy::ConvoyCommand),
    /// Raise an escalation for the mayor and the overseer, or list, show, ack and close them.
    Escalate(escalate::EscalateArgs),
    /// Polecats' uncommitted work saved as checkpoints: list, show, save, restore.
    #[command(subcommand)]
    Checkpoint(checkpoint::CheckpointCommand),
    /// The deacon's dogs: chores on timers (list them, run one now).
    #[command(subcommand)]
    Dog(dog::DogCommand),
    /// Check the town's health: configs, ledger, stale files, runtimes, origins, disk, git.
    /// Exit status 0 all ok, 1 warnings, 2 errors.
    Doctor {
        /// Also repair what can be repaired without losing work (the overseer only).
        #[arg(long)]
        fix: bool,
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Do not disturb: hold your mail instead of having it typed into your session.
    Dnd {
        /// on: hold mail; off: deliver it into the session again.
        #[arg(value_parser = ["on", "off"])]
        state: String,
        /// The agent, by address (the overseer may set anyone's; an agent only its own).
        #[arg(long)]
        agent: Option<String>,
    },
    /// The whole system on the built-in sim agents, in a throw-away town: beads, a convoy,
    /// polecats, the refinery; ends when the convoy lands.
    Demo {
        #[command(flatten)]
        args: crate::demo::DemoArgs,
        #[command(flatten)]
        no_town: NoTown,
    },
    /// Run the town's supervisor in the foreground (Ctrl-C stops it).
    Run(crate::run::RunArgs),
    /// Start the town's supervisor detached (`gastown run` in the background, its output in
    /// .runtime/logs/run.out) and wait until it answers.
    Up(updown::UpArgs),
    /// Stop the town's detached supervisor in order (SIGTERM) and wait until it is gone.
    Down(updown::DownArgs),
    /// The town at a glance: what needs you first, rigs, agents and their hooks, convoys, the
    /// merge queue, escalations, your mail (with or without `gastown run`).
    Status {
        /// Print it as JSON (stable: fields are only ever added; see docs/status.md).
        #[arg(long)]
        json: bool,
    },
    /// What the agents' tokens cost: per agent, bead, convoy, rig, runtime, model or day, and a
    /// total (collects the sessions' new usage first; prices from town.toml's `[prices]`).
    Costs(costs::CostsArgs),
    /// The town's events as they happen: sessions, beads, hooks, mail, the merge queue,
    /// convoys, escalations, supervision (needs `gastown run`).
    Feed(feed::FeedArgs),
    /// The town in a web page: agents, convoys, the merge queue, escalations (ack them there),
    /// mail and a live activity log (needs `gastown run`; loopback only unless given a token).
    Dashboard(crate::dashboard::DashboardArgs),
    /// The live supervision tree.
    Actors(agents::ActorsArgs),
    /// One actor and its recent supervision events.
    Actor {
        /// An agent's address (its role: `alpha/crew/max`), an address and a child
        /// (`alpha/crew/max/session`), or a path `gastown actors` shows (`town/ledger`).
        target: String,
        /// Print the actor and its events as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A session's screen, or its last N lines.
    Peek {
        /// The agent's address.
        agent: String,
        /// Only the last N lines of its output.
        #[arg(short = 'n', long)]
        lines: Option<usize>,
        /// Print the screen as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Join a session's terminal (Ctrl-] detaches).
    Attach {
        /// The agent's address.
        agent: String,
    },
    /// Type text into a session once it is idle, press Enter, and check it landed.
    Nudge {
        /// The agent's address.
        agent: String,
        /// What to type.
        text: String,
    },
    /// Restart a session (its identity and hook stay).
    Restart {
        /// The agent's address.
        agent: String,
    },
    /// SIGKILL a session's process group; the tree restarts it.
    Kill {
        /// The agent's address.
        agent: String,
    },
    /// Agents under supervision.
    #[command(subcommand)]
    Agent(agents::AgentCommand),
    /// Measure the supervisor: socket, sessions, restarts (see docs/benchmarks.md).
    #[command(subcommand, hide = true)]
    Bench(crate::bench::BenchCommand),
    /// The built-in scripted agent (the `sim` runtime); run by sessions, not by people.
    #[command(hide = true)]
    SimAgent,
    /// Commit pending ledger changes to git now and, with a remote, fetch, merge and push the
    /// ledger (one ledger for towns on several machines).
    Sync(sync::SyncArgs),
    /// The town repository's remotes, through which `gastown sync` shares the ledger.
    #[command(subcommand)]
    Remote(sync::RemoteCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
        #[command(flatten)]
        no_town: NoTown,
    },
}

/// Parse the command line (exiting with clap's usage error, status 2, on a bad one).
pub fn parse() -> (Cli, ArgMatches) {
    let matches = Cli::command().get_matches();
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => (cli, matches),
        Err(e) => e.exit(),
    }
}

/// Run one parsed command line; `matches` says where `--town` came from.
pub fn run(cli: Cli, matches: &ArgMatches) -> Result<()> {
    let town_typed = matches.value_source("town") == Some(ValueSource::CommandLine);
    match cli.command {
        Command::Install { .. } | Command::Demo { .. } | Command::Completions { .. }
            if town_typed =>
        {
            bail!(
                "--town means nothing for `gastown {}`: it acts on no existing town; leave it out",
                matches.subcommand_name().unwrap_or("this command")
            )
        }
        Command::Install { args, .. } => install::run(args),
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
            WorkCommand::Sling {
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
            json,
        } => {
            let town = find_town(&cli.town)?;
            if action == Some(args::HookActionArg::SessionStart) {
                return work::session_start(&town);
            }
            match action.and_then(args::HookActionArg::change) {
                None => work::show_hook(&town, agent, json),
                Some(action) => work::run(
                    &town,
                    WorkCommand::Hook {
                        action,
                        agent,
                        bead,
                        force,
                    },
                ),
            }
        }
        Command::Prime => work::run(&find_town(&cli.town)?, WorkCommand::Prime),
        Command::Done { status, message } => work::run(
            &find_town(&cli.town)?,
            WorkCommand::Done {
                status: status.into(),
                message,
            },
        ),
        Command::Handoff { message } => {
            work::run(&find_town(&cli.town)?, WorkCommand::Handoff { message })
        }
        Command::Seance { agent, json } => work::seance(&find_town(&cli.town)?, agent, json),
        Command::Mq(cmd) => mq::run(&find_town(&cli.town)?, cmd),
        Command::Convoy(cmd) => convoy::run(&find_town(&cli.town)?, cmd),
        Command::Escalate(args) => escalate::run(&find_town(&cli.town)?, args),
        Command::Checkpoint(cmd) => checkpoint::run(&find_town(&cli.town)?, cmd),
        Command::Dog(cmd) => dog::run(&find_town(&cli.town)?, cmd),
        Command::Doctor { fix, json } => {
            let code = doctor::run(cli.town.as_deref(), fix, json)?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        Command::Dnd { state, agent } => mail::run_request(
            &find_town(&cli.town)?,
            MailRequest::Dnd {
                on: state == "on",
                agent,
            },
            false,
        ),
        Command::Demo { args, .. } => crate::demo::run(args),
        Command::Run(args) => crate::run::run(find_town(&cli.town)?, args),
        Command::Up(args) => updown::up(cli.town.as_deref(), args),
        Command::Down(args) => updown::down(cli.town.as_deref(), args),
        Command::Status { json } => status::run(&find_town(&cli.town)?, json),
        Command::Costs(args) => costs::run(&find_town(&cli.town)?, args),
        Command::Feed(args) => feed::run(&find_town(&cli.town)?, args),
        Command::Dashboard(args) => crate::dashboard::run(find_town(&cli.town)?, args),
        Command::Actors(args) => agents::actors(&find_town(&cli.town)?, args),
        Command::Actor { target, json } => agents::actor(&find_town(&cli.town)?, target, json),
        Command::Peek { agent, lines, json } => {
            agents::peek(&find_town(&cli.town)?, agent, lines, json)
        }
        Command::Attach { agent } => agents::attach(&find_town(&cli.town)?, agent),
        Command::Nudge { agent, text } => agents::simple(
            &find_town(&cli.town)?,
            crate::protocol::TownRequest::Nudge { agent, text },
        ),
        Command::Restart { agent } => agents::simple(
            &find_town(&cli.town)?,
            crate::protocol::TownRequest::Restart { agent },
        ),
        Command::Kill { agent } => agents::simple(
            &find_town(&cli.town)?,
            crate::protocol::TownRequest::Kill { agent },
        ),
        Command::Agent(cmd) => agents::agent(&find_town(&cli.town)?, cmd),
        Command::SimAgent => crate::sim::run(),
        Command::Bench(cmd) => crate::bench::run(cmd),
        Command::Sync(args) => sync::run(&find_town(&cli.town)?, args),
        Command::Remote(command) => sync::remote(&find_town(&cli.town)?, command),
        Command::Completions { shell, .. } => {
            let mut cmd = Cli::command();
            crate::output::generated(|buf| {
                clap_complete::generate(shell, &mut cmd, "gastown", buf)
            })?;
            Ok(())
        }
    }
}

/// The town the command runs in; warns (once per process) when other users can read it.
fn find_town(explicit: &Option<PathBuf>) -> Result<Town> {
    let town = Town::find(explicit.as_deref())?;
    static WARNED: std::sync::Once = std::sync::Once::new();
    if let Some(warning) = gastown_town::town::exposure_warning(&town.root) {
        WARNED.call_once(|| {
            eprintln!("{warning}");
        });
    }
    Ok(town)
}

#[cfg(test)]
mod tests;
