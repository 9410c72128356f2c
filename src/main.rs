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
mod dashboard;
mod demo;
mod output;
mod progress;
mod protocol;
mod run;
mod sim;
mod socket;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The group leader shim (`gastown_town::groups::shim`): no clap, no logging, just the shim.
    let mut argv = std::env::args_os().skip(1);
    if argv
        .next()
        .is_some_and(|a| a == gastown_town::groups::shim::ARG)
    {
        let code = gastown_town::groups::shim::main(argv.collect());
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    // Every session and gate this process starts leads its group through that shim, so none
    // outlives this process. `/proc/self/exe` is this very binary even after an upgrade replaced
    // (or removed) the file it was started from, so sessions still start then.
    let this_binary = std::path::PathBuf::from("/proc/self/exe");
    if this_binary.exists() {
        gastown_town::groups::use_shim(this_binary);
    } else if let Ok(exe) = std::env::current_exe() {
        gastown_town::groups::use_shim(exe);
    }
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
