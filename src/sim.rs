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
//! | `GASTOWN_SIM_HANG_BUSY=1` | when it hangs, it hangs busy: the screen is cleared to `working…`, no prompt |
//! | `GASTOWN_SIM_IGNORE_INPUT=1` | read input but never answer |
//! | `GASTOWN_SIM_FLOOD=<bytes>` | print that many bytes of noise at start |
//! | `GASTOWN_SIM_HEARTBEAT=<duration>` | heartbeat interval (default 5s, `0s` off) |
//! | `GASTOWN_SIM_WORK=0` | read the hook but do not work it |
//! | `GASTOWN_SIM_CHAOS=<percent>` | at each step of work: crash with that chance, or hang a while |
//! | `GASTOWN_SIM_CRASH_IN_STEP=<step id>` | exit 70 just before closing that molecule step (once per agent) |
//! | `GASTOWN_SIM_TURN_TIME=<duration>` | each turn works that long (prints `working…`) before answering |
//! | `GASTOWN_SIM_LIMIT=<reset>` | the first time it would work its hook (once per agent), hit a usage limit instead (once per town): show `[sim limit: usage limit reached · try again in <reset>]` and take nothing typed as a turn (the session must be started again) |
//! | `GASTOWN_SIM_DIALOG=trust\|login` | start behind a blocking dialog, as real CLIs do: `trust` goes away on Enter, `login` never; text typed into one is swallowed |
//!
//! When its working directory has `.claude/settings.json` (a runtime with hooks), it runs their
//! SessionStart hooks at its start with a `session_id` on stdin, and their UserPromptSubmit hooks
//! before each prompt, as Claude Code does.
//!
//! Like Claude Code it keeps a transcript (JSONL, `<town>/.runtime/sim-transcripts/<id>.jsonl`):
//! one assistant line per step it takes (each answered prompt, each molecule step, the commit,
//! `gastown done`), with model `sim` and a small fixed usage ([`SIM_USAGE`]) — a real record of
//! its scripted turns for `gastown costs`. It announces the path as Claude does, in the
//! SessionStart hook input (`transcript_path`); without hooks it tells the supervisor itself
//! (`RuntimeSession` over the socket).
//!
//! Its keyboard is a raw-mode CLI's (`keyboard.rs`): only an Enter on its own submits; text and
//! Enter in one write, or a bracketed paste, stay in the input line, as in Claude Code and Codex.
//! Input typed while it works is echoed and queued for the next turn.
//!
//! Working a hook: walk the attached molecule's steps in order, closing each (`gastown mol step
//! done`) — after a crash a new session resumes at the first open step, never redoing a closed
//! one; make the change (run the description's fenced `sh` block in the worktree, or write a small
//! deterministic file); commit; run `gastown done`.

use crate::client;
use crate::protocol::{TownReply, TownRequest};
use crate::socket::Client;
use anyhow::{Context, Result};
use gastown_town::runtimes::spec::SIM_PROMPT;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

mod keyboard;

/// Exit status of a simulated crash.
const CRASH_STATUS: i32 = 70;

/// The usage each step records in the transcript: input, output, cache write, cache read.
pub const SIM_USAGE: (u64, u64, u64, u64) = (120, 30, 0, 400);

/// This session's id and transcript, set at its start.
static SESSION: OnceLock<(String, PathBuf)> = OnceLock::new();

/// This session's id and the transcript it writes (`<town>/.runtime/sim-transcripts/<id>.jsonl`,
/// outside the worktree, so its commits never carry it).
fn session() -> &'static (String, PathBuf) {
    SESSION.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let id = format!("sim-{}-{nanos}", std::process::id());
        let dir = match std::env::var_os("GASTOWN_TOWN") {
            Some(town) => PathBuf::from(town).join(".runtime"),
            None => std::env::temp_dir(),
        };
        let path = dir.join("sim-transcripts").join(format!("{id}.jsonl"));
        (id, std::path::absolute(&path).unwrap_or(path))
    })
}

/// Append one assistant line for a step (`what` it did) to the transcript. Best effort: a
/// transcript that cannot be written costs `gastown costs` that step, not the work.
fn record_step(what: &str) {
    static STEP: AtomicU64 = AtomicU64::new(0);
    let (id, path) = session();
    let n = STEP.fetch_add(1, Ordering::Relaxed) + 1;
    let (input, output, cache_write, cache_read) = SIM_USAGE;
    let line = serde_json::json!({
        "type": "assistant",
        "sessionId": id,
        "uuid": format!("{id}-u{n}"),
        "timestamp": gastown_beads::time::now_rfc3339(),
        "message": {
            "id": format!("{id}-m{n}"),
            "role": "assistant",
            "model": "sim",
            "content": [{"type": "text", "text": what}],
            "usage": {
                "input_tokens": input,
                "output_tokens": output,
                "cache_creation_input_tokens": cache_write,
                "cache_read_input_tokens": cache_read,
            },
        },
    });
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(format!("{line}\n").as_bytes());
    }
}

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
    // A raw-mode keyboard, like the CLIs the sim stands for (`keyboard.rs`).
    let mut lines = keyboard::start(Arc::clone(&hung))?.into_iter();
    if let Ok(dialog) = std::env::var("GASTOWN_SIM_DIALOG")
        && !dialog.is_empty()
    {
        show_dialog(&mut out, &dialog, &mut lines)?;
    }
    writeln!(out, "Gas Town sim agent — {agent} ({role})")?;
    session_start_hooks(&mut out)?;
    if let Some(bytes) = env_number("GASTOWN_SIM_FLOOD")? {
        flood(&mut out, bytes)?;
    }
    write!(out, "{SIM_PROMPT}")?;
    out.flush()?;
    let turn_time = env_duration("GASTOWN_SIM_TURN_TIME")?;
    let mut step = 0u64;
    for line in lines {
        step += 1;
        if crash_at == Some(step) {
            std::process::exit(CRASH_STATUS);
        }
        if ignore || hung.load(Ordering::SeqCst) {
            continue;
        }
        if LIMITED.load(Ordering::SeqCst) {
            writeln!(out, "[sim] typed while limited: {}", line.trim())?;
            out.flush()?;
            continue;
        }
        if line.trim().is_empty() {
            // Like Claude Code: an empty Enter is no turn.
            continue;
        }
        if let Some(busy) = turn_time {
            writeln!(out, "working…")?;
            out.flush()?;
            std::thread::sleep(busy);
        }
        // Like Claude Code: the UserPromptSubmit hooks of `.claude/settings.json` run before
        // each prompt, and what they print joins the prompt (held mail, for one).
        for hooked in prompt_hooks() {
            writeln!(out, "HOOK: {hooked}")?;
        }
        record_step(&format!("answered: {}", line.trim()));
        for reply in respond(&line) {
            writeln!(out, "{reply}")?;
        }
        write!(out, "{SIM_PROMPT}")?;
        out.flush()?;
    }
    Ok(())
}

/// A blocking dialog like a real CLI's first start: its own line (the pattern the sim runtime
/// knows, `runtimes::dialogs`) and, like Claude's trust dialog, the ready marker before the
/// selected option — so only dialog detection keeps gastown from typing into it. `trust` is
/// answered by Enter (an empty line); `login` by nothing. Other text typed into it is
/// swallowed, and the screen says so (what a test looks for).
fn show_dialog(
    out: &mut impl Write,
    which: &str,
    lines: &mut impl Iterator<Item = String>,
) -> Result<()> {
    let question = match which {
        "trust" => "Do you trust the files in this folder?",
        "login" => "Log in to continue.",
        other => anyhow::bail!("bad GASTOWN_SIM_DIALOG={other:?}: use trust or login"),
    };
    writeln!(out, "[sim dialog: {which}] {question}")?;
    write!(out, "{SIM_PROMPT}1. Yes  2. No (Enter to confirm)")?;
    out.flush()?;
    for line in lines {
        if which == "trust" && line.trim().is_empty() {
            // Answered: the dialog goes, as a CLI redraws its screen.
            write!(out, "\x1b[2J\x1b[H")?;
            return Ok(());
        }
        if !line.trim().is_empty() {
            writeln!(out)?;
            writeln!(out, "[sim] typed into the dialog: {}", line.trim())?;
        }
        writeln!(out, "[sim dialog: {which}] {question}")?;
        write!(out, "{SIM_PROMPT}1. Yes  2. No (Enter to confirm)")?;
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
        let busy = std::env::var("GASTOWN_SIM_HANG_BUSY").is_ok_and(|v| v == "1");
        std::thread::spawn(move || {
            std::thread::sleep(after);
            hung.store(true, Ordering::SeqCst);
            if busy {
                // Hung mid-work: no prompt on the screen (a tool call that never returns).
                let mut out = std::io::stdout();
                let _ = write!(out, "\x1b[2J\x1b[Hworking…");
                let _ = out.flush();
            }
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
    if let Some(id) = mail_id(line) {
        return read_mail(&id);
    }
    if lower.contains("prime") || lower.contains("hook") {
        let (mut lines, hooked) = hook_lines();
        let work = std::env::var("GASTOWN_SIM_WORK").map_or(true, |v| v != "0");
        if work && let Some(bead) = hooked.first() {
            if let Some(reset) = limit_once() {
                return vec![format!(
                    "[sim limit: usage limit reached · try again in {reset}]"
                )];
            }
            lines.extend(work_hook(bead));
        }
        return lines;
    }
    vec![format!("ack: {}", line.trim())]
}

/// Run the UserPromptSubmit hook commands of `.claude/settings.json` in the working directory
/// (present when the runtime has hooks); their output lines. `gastown …` runs this binary.
fn prompt_hooks() -> Vec<String> {
    run_hooks("UserPromptSubmit", None)
}

/// Like Claude Code at its start: run the SessionStart hooks with the hook's JSON on stdin (a
/// `session_id` of this session), and say so in one line (their output is context, not shown).
fn session_start_hooks(out: &mut impl Write) -> Result<()> {
    let (id, transcript) = session();
    let cwd = std::env::current_dir().unwrap_or_default();
    let input = serde_json::json!({
        "session_id": id,
        "transcript_path": transcript,
        "cwd": cwd,
        "hook_event_name": "SessionStart",
        "source": "startup",
    });
    if has_hooks("SessionStart") {
        let lines = run_hooks("SessionStart", Some(input.to_string()));
        let failed: Vec<&String> = lines.iter().filter(|l| l.starts_with("hook ")).collect();
        writeln!(out, "SESSION START {id}: {} lines of context", lines.len())?;
        for line in failed {
            writeln!(out, "{line}")?;
        }
    } else if let Some(mut c) = connect() {
        // No hooks to tell it: say it to the supervisor directly.
        let request = TownRequest::RuntimeSession {
            id: id.clone(),
            transcript: Some(transcript.to_string_lossy().into_owned()),
        };
        if let Err(e) = client::call(&mut c, request) {
            writeln!(out, "transcript not recorded: {e:#}")?;
        }
    }
    Ok(())
}

fn claude_settings() -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(".claude/settings.json").ok()?;
    Some(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

fn has_hooks(event: &str) -> bool {
    claude_settings().is_some_and(|s| {
        let mut commands = Vec::new();
        hook_commands(&s["hooks"][event], &mut commands);
        !commands.is_empty()
    })
}

/// Run the `event` hook commands of `.claude/settings.json`, each with `stdin` as its input;
/// their output lines.
fn run_hooks(event: &str, stdin: Option<String>) -> Vec<String> {
    let Some(settings) = claude_settings() else {
        return Vec::new();
    };
    if settings.is_null() {
        return vec!["cannot parse .claude/settings.json".to_string()];
    }
    let mut commands = Vec::new();
    hook_commands(&settings["hooks"][event], &mut commands);
    let mut lines = Vec::new();
    for command in commands {
        match run_hook(&command, stdin.as_deref()) {
            Ok(text) => lines.extend(text.lines().map(str::to_string)),
            Err(e) => lines.push(format!("hook {command:?} failed: {e:#}")),
        }
    }
    lines
}

/// One hook command (`gastown …` runs this binary, anything else `sh -c`), `stdin` piped in.
fn run_hook(command: &str, stdin: Option<&str>) -> Result<String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let mut cmd = match words.split_first() {
        Some((&"gastown", args)) => {
            let mut cmd = std::process::Command::new(
                std::env::current_exe().context("cannot find this executable")?,
            );
            cmd.args(args);
            cmd
        }
        _ => {
            let mut cmd = std::process::Command::new("sh");
            cmd.args(["-c", command]);
            cmd
        }
    };
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().context("cannot run the hook")?;
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.unwrap_or("").as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        anyhow::bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `command` strings of a hooks entry (`[{"hooks": [{"type": "command", "command": …}]}]`).
fn hook_commands(entry: &serde_json::Value, out: &mut Vec<String>) {
    match entry {
        serde_json::Value::Array(items) => items.iter().for_each(|i| hook_commands(i, out)),
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(c)) = map.get("command") {
                out.push(c.clone());
            }
            if let Some(nested) = map.get("hooks") {
                hook_commands(nested, out);
            }
        }
        _ => {}
    }
}

/// The id in a "run `gastown mail read <id>`" notice.
fn mail_id(line: &str) -> Option<String> {
    let rest = line.split("gastown mail read ").nth(1)?;
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// Read a mail and act on it: REWORK means the hook needs work again; HANDOFF and anything
/// else are read and acknowledged.
fn read_mail(id: &str) -> Vec<String> {
    match gastown(&["mail", "read", id]) {
        Ok(text) => {
            let mut lines: Vec<String> = text.lines().map(|l| format!("MAIL: {l}")).collect();
            if text.contains("REWORK") {
                lines.extend(respond("prime"));
            }
            lines
        }
        Err(e) => vec![format!("MAIL: cannot read {id}: {e:#}")],
    }
}

/// Run this binary as a CLI command in the session's environment; its output lines.
fn gastown(args: &[&str]) -> Result<String> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let out = std::process::Command::new(exe)
        .args(args)
        .output()
        .context("cannot run gastown")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        anyhow::bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(text)
}

fn git(args: &[&str]) -> Result<String> {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=gastown-sim",
            "-c",
            "user.email=sim@gastown.invalid",
        ])
        .args(args)
        .output()
        .context("cannot run git")?;
    if !out.status.success() {
        anyhow::bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Work the hooked bead to the end; the lines to show.
fn work_hook(bead: &serde_json::Value) -> Vec<String> {
    let id = bead["id"].as_str().unwrap_or("").to_string();
    match work(&id, bead) {
        Ok(mut lines) => {
            lines.push(format!("WORKED: {id}"));
            lines
        }
        Err(e) => vec![format!("WORK FAILED: {id}: {e:#}")],
    }
}

fn work(id: &str, bead: &serde_json::Value) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    if let Some(mol) = bead.get("molecule").and_then(|m| m.as_str()) {
        walk_molecule(mol, &mut lines)?;
    }
    let description = bead["description"].as_str().unwrap_or("");
    match sh_block(description) {
        Some(script) => {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .output()?;
            if !out.status.success() {
                anyhow::bail!(
                    "the sh block failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            lines.push(format!("ran the sh block of {id}"));
        }
        None => {
            std::fs::create_dir_all("gastown-sim")?;
            let title = bead["title"].as_str().unwrap_or("");
            std::fs::write(
                format!("gastown-sim/{id}.md"),
                format!("# {title}\n\nDone by the sim agent for {id}.\n"),
            )?;
            lines.push(format!("wrote gastown-sim/{id}.md"));
        }
    }
    git(&["add", "-A"])?;
    if !git(&["status", "--porcelain"])?.trim().is_empty() {
        let title = bead["title"].as_str().unwrap_or("");
        record_step(&format!("commit the work on {id}"));
        git(&["commit", "--quiet", "-m", &format!("{id}: {title}")])?;
        lines.push("committed".to_string());
    }
    chaos_point();
    record_step(&format!("gastown done for {id}"));
    let done = gastown(&["done"])?;
    lines.extend(done.lines().map(str::to_string));
    Ok(lines)
}

/// Close the molecule's steps in order; a restarted session starts at the first open one.
fn walk_molecule(mol: &str, lines: &mut Vec<String>) -> Result<()> {
    let crash_in = std::env::var("GASTOWN_SIM_CRASH_IN_STEP").ok();
    for _ in 0..1000 {
        let current: serde_json::Value =
            serde_json::from_str(&gastown(&["mol", "current", mol, "--json"])?)?;
        let Some(step) = current["step"].as_str() else {
            return Ok(());
        };
        let step_bead = current["bead"].as_str().unwrap_or(step).to_string();
        lines.push(format!("STEP: {step}"));
        record_step(&format!("step {step}"));
        chaos_point();
        if crash_in.as_deref() == Some(step) {
            // Die mid-step, once per agent: the marker (outside the worktree) lets the next
            // session, resumed at this same open step, finish it.
            let marker = crash_marker(step);
            if !marker.exists() {
                let _ = std::fs::write(&marker, "");
                std::process::exit(CRASH_STATUS);
            }
        }
        gastown(&["mol", "step", "done", &step_bead])?;
    }
    anyhow::bail!("molecule {mol} did not finish in 1000 steps")
}

/// `GASTOWN_SIM_CHAOS=<p>`: crash with p% chance, else hang 1–2 s with p% chance.
fn chaos_point() {
    let Some(p) = std::env::var("GASTOWN_SIM_CHAOS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    let roll = random_below(100);
    if roll < p {
        std::process::exit(CRASH_STATUS);
    }
    if roll < 2 * p {
        std::thread::sleep(Duration::from_millis(1000 + random_below(1000)));
    }
}

/// A small xorshift draw seeded from the clock and the pid (chaos needs no better).
fn random_below(n: u64) -> u64 {
    use std::sync::atomic::AtomicU64;
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        x = nanos ^ (u64::from(std::process::id()) << 32) | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    x % n.max(1)
}

/// `GASTOWN_SIM_LIMIT=<reset>`: the reset to show, the first time in the town only (a marker in
/// its runtime dir, so the session started at the reset, and every other, works). After it the sim is limited: it
/// answers nothing more (`LIMITED`).
fn limit_once() -> Option<String> {
    let reset = std::env::var("GASTOWN_SIM_LIMIT")
        .ok()
        .filter(|r| !r.is_empty())?;
    let marker = std::env::var_os("GASTOWN_TOWN")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".runtime/sim-usage-limit");
    if marker.exists() {
        return None;
    }
    let _ = std::fs::write(&marker, b"limited\n");
    LIMITED.store(true, Ordering::SeqCst);
    Some(reset)
}

/// Set once the sim showed its usage limit: every later input is swallowed, as a CLI at its limit
/// takes no turn.
static LIMITED: AtomicBool = AtomicBool::new(false);

/// Where the sim notes that it crashed in a step (the town's runtime dir, not the worktree).
fn crash_marker(step: &str) -> PathBuf {
    let town = std::env::var_os("GASTOWN_TOWN")
        .map(PathBuf::from)
        .unwrap_or_default();
    let agent = std::env::var("GASTOWN_AGENT")
        .unwrap_or_default()
        .replace('/', "-");
    town.join(".runtime")
        .join(format!("sim-crashed-{agent}-{step}"))
}

/// The first fenced ```sh block of a description.
fn sh_block(description: &str) -> Option<String> {
    let start = description.find("```sh\n")? + "```sh\n".len();
    let end = description[start..].find("```")? + start;
    Some(description[start..end].to_string())
}

fn hook_lines() -> (Vec<String>, Vec<serde_json::Value>) {
    let Some(mut c) = connect() else {
        return (
            vec!["HOOK: unknown (no supervisor socket)".to_string()],
            Vec::new(),
        );
    };
    match client::call(&mut c, TownRequest::Hook { agent: None }) {
        Ok(TownReply::Hook(hook)) => {
            // The work steps read the bead's JSON fields (its description, its molecule).
            let beads: Vec<serde_json::Value> = hook
                .beads
                .iter()
                .filter_map(|b| serde_json::to_value(b).ok())
                .collect();
            if beads.is_empty() {
                return (vec!["HOOK: empty".to_string()], beads);
            }
            let lines = beads
                .iter()
                .map(|b| {
                    format!(
                        "HOOK: {} {}",
                        b["id"].as_str().unwrap_or("?"),
                        b["title"].as_str().unwrap_or("")
                    )
                })
                .collect();
            (lines, beads)
        }
        Ok(_) => (
            vec!["HOOK: unexpected reply (restart `gastown run`)".to_string()],
            Vec::new(),
        ),
        Err(e) => (vec![format!("HOOK: error {e:#}")], Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::sh_block;

    #[test]
    fn sh_blocks_are_found() {
        assert_eq!(
            sh_block("do it\n```sh\necho hi > x\n```\n").as_deref(),
            Some("echo hi > x\n")
        );
        assert_eq!(sh_block("no block here"), None);
    }
}
