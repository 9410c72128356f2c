//! The `gastown` binary: parses the command line and runs one command.
//!
//! Exit codes follow ripgrep's habit: 0 success, 1 an error the command reported, 2 a usage error
//! (clap's). A closed stdout (`gastown bead list | head`) counts as success: every data write goes
//! through [`output`] and returns its error here, where a broken pipe becomes exit status 0.

// Data reaches stdout only through `output`, so a closed pipe is never a `println!` panic.
#![deny(clippy::print_stdout)]

mod bench;
mod cli;
mod client;
mod demo;
mod output;
mod protocol;
mod run;
mod sim;
mod socket;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let (args, matches) = cli::parse();
    match cli::run(args, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // Written without `eprintln!`, which would panic if stderr is a closed pipe too.
            // Messages quote titles and names: their control characters are shown, not sent.
            let inert = |text: String| gastown_town::text::paragraph(&text).into_owned();
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {}", inert(err.to_string()));
            for cause in err.chain().skip(1) {
                let _ = writeln!(stderr, "  caused by: {}", inert(cause.to_string()));
            }
            ExitCode::from(1)
        }
    }
}
