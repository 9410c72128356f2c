//! The `gastown` binary: parses the command line and runs one command.
//!
//! Exit codes follow ripgrep's habit: 0 success, 1 an error the command reported, 2 a usage error
//! (clap's). A closed stdout (`gastown bead list | head`) counts as success.

mod bench;
mod cli;
mod client;
mod convoy;
mod demo;
mod git_cli;
mod mail;
mod molecule;
mod output;
mod refinery;
mod rig;
mod run;
mod runtimes;
mod sim;
mod socket;
mod town;
mod work;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = <cli::Cli as clap::Parser>::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(1)
        }
    }
}
