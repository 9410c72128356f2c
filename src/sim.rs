//! The `sim` runtime: a scripted agent that behaves like an agent CLI in a PTY.
//!
//! It prints a banner and a prompt, waits for input, answers nudges, reads its hook over the
//! socket when told to prime (or when it gets the GUPP startup prompt), and heartbeats. Fault
//! knobs come from its environment, so tests and `--chaos` demos can make it misbehave:
//!
//! | variable | effect |
//! |---|---|
//! | `GASTOWN_SIM_CRASH_AFTER=<duration>` | exit with status 70 after that long |
//! | `GASTOWN_SIM_EXIT_AFTER=<duration>` | exit 0 after that long |
//! | `GASTOWN_SIM_CRASH_AT_STEP=<n>` | exit 70 when the n-th input arrives |
//! | `GASTOWN_SIM_HANG_AFTER=<duration>` | stop printing and answering after that long |
//! | `GASTOWN_SIM_IGNORE_INPUT=1` | read input but never answer |
//! | `GASTOWN_SIM_FLOOD=<bytes>` | print that many bytes of noise at start |
//! | `GASTOWN_SIM_HEARTBEAT=<duration>` | heartbeat interval (default 5s, `0s` off) |

use crate::client;
use crate::run::protocol::{TownReply, TownRequest};
use crate::socket::Client;
use anyhow::{Context, Result};
use gastown_actors::runtime::SIM_PROMPT;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Exit status of a simulated crash.
const CRASH_STATUS: i32 = 70;

fn env_duration(key: &str) -> Result<Option<Duration>> {
    match std::env::var(key) {
        Ok(text) if !text.is_empty() => humantime::parse_duration(&text)
            .map(Some)
            .with_context(|| format!("bad {key}={text:?}: use a duration like 2s or 150ms")),
        _ => Ok(None),
    }
}

fn env_number(key: &str) -> Result<Option<u64>> {
    match std::env::var(key) {
        Ok(text) if !text.is_empty() => text
            .parse()
            .map(Some)
            .with_context(|| format!("bad {key}={text:?}: use a whole number")),
        _ => Ok(None),
    }
}

/// Run the sim agent on stdin/stdout (its PTY).
pub fn run() -> Result<()> {
    let agent = std::env::var("GASTOWN_AGENT").unwrap_or_else(|_| "unknown".to_string());
    let role = std::env::var("GASTOWN_ROLE").unwrap_or_default();
    let hung = Arc::new(AtomicBool::new(false));
    start_timers(Arc::clone(&hung))?;
    start_heartbeat(env_duration("GASTOWN_SIM_HEARTBEAT")?.unwrap_or(Duration::from_secs(5)));
    let crash_at = env_number("GASTOWN_SIM_CRASH_AT_STEP")?;
    let ignore = std::env::var("GASTOWN_SIM_IGNORE_INPUT").is_ok_and(|v| v == "1");

    let mut out = std::io::stdout();
    writeln!(out, "Gas Town sim agent — {agent} ({role})")?;
    if let Some(bytes) = env_number("GASTOWN_SIM_FLOOD")? {
        flood(&mut out, bytes)?;
    }
    write!(out, "{SIM_PROMPT}")?;
    out.flush()?;
    let stdin = std::io::stdin();
    let mut step = 0u64;
    for line in stdin.lock().lines() {
        let line = line.context("reading input")?;
        step += 1;
        if crash_at == Some(step) {
            std::process::exit(CRASH_STATUS);
        }
        if ignore || hung.load(Ordering::SeqCst) {
            continue;
        }
        for reply in respond(&line) {
            writeln!(out, "{reply}")?;
        }
        write!(out, "{SIM_PROMPT}")?;
        out.flush()?;
    }
    Ok(())
}

fn start_timers(hung: Arc<AtomicBool>) -> Result<()> {
    if let Some(after) = env_duration("GASTOWN_SIM_CRASH_AFTER")? {
        std::thread::spawn(move || {
            std::thread::sleep(after);
            std::process::exit(CRASH_STATUS);
        });
    }
    if let Some(after) = env_duration("GASTOWN_SIM_EXIT_AFTER")? {
        std::thread::spawn(move || {
            std::thread::sleep(after);
            std::process::exit(0);
        });
    }
    if let Some(after) = env_duration("GASTOWN_SIM_HANG_AFTER")? {
        std::thread::spawn(move || {
            std::thread::sleep(after);
            hung.store(true, Ordering::SeqCst);
        });
    }
    Ok(())
}

fn flood(out: &mut impl Write, bytes: u64) -> Result<()> {
    let line = "flood flood flood flood flood flood flood flood flood flood flood flood\n";
    let mut written = 0u64;
    while written < bytes {
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    Ok(())
}

fn start_heartbeat(every: Duration) {
    if every.is_zero() {
        return;
    }
    std::thread::spawn(move || {
        loop {
            if let Some(mut c) = connect() {
                let _ = client::call(&mut c, TownRequest::Heartbeat);
            }
            std::thread::sleep(every);
        }
    });
}

fn connect() -> Option<Client> {
    let path = PathBuf::from(std::env::var_os("GASTOWN_SOCKET")?);
    let token = std::env::var("GASTOWN_TOKEN").ok();
    Client::connect(&path, token.as_deref(), "sim-agent").ok()
}

/// What the sim says to one line of input.
fn respond(line: &str) -> Vec<String> {
    let lower = line.to_lowercase();
    if lower.contains("prime") || lower.contains("hook") {
        return hook_lines();
    }
    vec![format!("ack: {}", line.trim())]
}

fn hook_lines() -> Vec<String> {
    let Some(mut c) = connect() else {
        return vec!["HOOK: unknown (no supervisor socket)".to_string()];
    };
    match client::call(&mut c, TownRequest::Hook) {
        Ok(TownReply::Json(json)) => {
            let beads: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap_or_default();
            if beads.is_empty() {
                return vec!["HOOK: empty".to_string()];
            }
            beads
                .iter()
                .map(|b| {
                    format!(
                        "HOOK: {} {}",
                        b["id"].as_str().unwrap_or("?"),
                        b["title"].as_str().unwrap_or("")
                    )
                })
                .collect()
        }
        Ok(other) => vec![format!("HOOK: unexpected reply {other:?}")],
        Err(e) => vec![format!("HOOK: error {e:#}")],
    }
}
