//! `gastown config agent check <name>`: can this town run that agent runtime? Its program must
//! be on `PATH` (or an executable path), and started the way a session starts it — in a real PTY,
//! through the session actor, with the runtime's arguments and environment — it must reach its
//! prompt (its ready marker on the screen and output quiet; with no marker known, output quiet
//! for the runtime's quiet period) within the timeout. As before a session, the CLI's own state
//! is prepared first (`runtimes::start_clean`: onboarding, trust of the directory, API-key
//! answers, Codex's login from `OPENAI_API_KEY`) and its environment gets what gastown adds
//! (`IS_SANDBOX=1` for Claude Code as root); the runtime's dialog patterns are watched, so a
//! dialog nobody may answer (login, onboarding, …) is reported `blocked: <dialog>: <its line>`,
//! not taken for the prompt even when it shows the ready marker. The report says what was seen:
//! the program's path, how long it took, and the last lines of its screen.

use crate::output;
use anyhow::{Context, Result, bail};
use gastown_actors::session::{
    DIALOG_ESCALATE_AFTER, EndNotice, Session, SessionArgs, SessionEnd, client,
};
use gastown_town::runtimes::{self, spec::Runtime};
use gastown_town::text;
use gastown_town::town::Town;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Screen lines shown in the report.
const SCREEN_LINES: usize = 25;
/// How often the session is looked at while it starts.
const POLL: Duration = Duration::from_millis(100);

/// How the check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its ready marker is on the screen and output went quiet: it waits at its prompt.
    Ready,
    /// No ready marker is known; output went quiet, which is what gastown takes as ready.
    Quiet,
    /// The program is missing or not executable.
    Missing,
    /// It could not be started in a PTY.
    SpawnFailed,
    /// It exited before reaching its prompt.
    Exited,
    /// It did not reach its prompt within the timeout.
    Timeout,
    /// A dialog nobody may answer for it (login, onboarding, a usage limit, …) is on its
    /// screen: a session would wait there, shown blocked.
    Blocked,
}

/// What `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub agent: String,
    /// The account it was started under, for a runtime with accounts.
    pub account: Option<String>,
    pub command: Vec<String>,
    /// Where the program was found.
    pub program_path: Option<PathBuf>,
    pub ready_marker: Option<String>,
    pub outcome: Outcome,
    /// One sentence on what was seen.
    pub detail: String,
    /// From the start to the verdict.
    pub elapsed_ms: u64,
    /// The last lines of its screen (control characters escaped).
    pub screen: String,
}

/// How to check (`gastown config agent check` options).
pub struct Options {
    /// How long it may take to reach its prompt.
    pub timeout: Duration,
    /// Where to start it (default: an empty temporary directory).
    pub dir: Option<PathBuf>,
    /// Which of its accounts to start it under (default: the first usable one).
    pub account: Option<String>,
    pub json: bool,
}

/// `gastown config agent check <name> [--timeout D] [--dir DIR] [--account A] [--json]`.
pub fn check(town: &Town, exe: &Path, name: &str, opts: Options) -> Result<()> {
    let Options {
        timeout,
        dir,
        account,
        json,
    } = opts;
    let runtime = under_account(runtimes::by_name(town, name, exe)?, account.as_deref())?;
    let report = match runtimes::check_program(&runtime) {
        Err(e) => report(&runtime, None, Outcome::Missing, e.to_string(), 0, ""),
        Ok(path) => {
            let scratch = match dir {
                Some(_) => None,
                None => Some(Scratch::new()?),
            };
            let cwd = match (&dir, &scratch) {
                (Some(dir), _) => dir.clone(),
                (None, Some(scratch)) => scratch.0.clone(),
                (None, None) => bail!("no directory to start the agent in"),
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            // What a session's start does first: the CLI's own state, so it reaches its prompt
            // with no dialog a session would not see either.
            let setup = runtimes::SessionSetup::current(exe.to_path_buf()).with_env(&runtime.env);
            runtimes::start_clean(&cwd, &runtime, &setup)
                .context("cannot prepare the CLI's state for a clean start")?;
            rt.block_on(start_and_watch(&runtime, path, &cwd, timeout))
        }
    };
    if json {
        let text = serde_json::to_string_pretty(&report).context("cannot render JSON")?;
        output::line(text)?;
    } else {
        output::text(&render(&report))?;
    }
    match report.outcome {
        Outcome::Ready | Outcome::Quiet => Ok(()),
        Outcome::Missing => bail!("agent {name} cannot run here: {}", report.detail),
        Outcome::Blocked => bail!(
            "agent {name} is {}: answer it once by hand (`{}` in a terminal), then check again",
            report.detail,
            shell_words::join(&report.command)
        ),
        _ => bail!("agent {name} did not reach its prompt: {}", report.detail),
    }
}

/// `runtime` as a session of it starts: under `account` when named, else (a runtime with
/// accounts) under its first account whose key variable is set, as `gastown run` would.
fn under_account(runtime: Runtime, account: Option<&str>) -> Result<Runtime> {
    let var = |name: &str| std::env::var(name).ok();
    let names = || {
        let names: Vec<&str> = runtime.accounts.iter().map(|a| a.name.as_str()).collect();
        if names.is_empty() {
            "it has none".to_string()
        } else {
            format!("its accounts are {}", names.join(", "))
        }
    };
    let chosen = match account {
        Some(wanted) => Some(
            runtime
                .accounts
                .iter()
                .find(|a| a.name == wanted)
                .with_context(|| {
                    format!(
                        "runtime {} has no account {wanted:?}: {}",
                        runtime.name,
                        names()
                    )
                })?,
        ),
        None if runtime.accounts.is_empty() => None,
        None => Some(
            runtime
                .accounts
                .iter()
                .find(|a| runtimes::accounts::unusable(a, &var).is_none())
                .with_context(|| {
                    format!(
                        "no account of runtime {} can take a session here (set the key \
                         variable each names): {}",
                        runtime.name,
                        names()
                    )
                })?,
        ),
    };
    match chosen {
        Some(account) => runtime
            .under_account(account, &var)
            .map_err(anyhow::Error::msg),
        None => Ok(runtime),
    }
}

/// An empty directory of its own to start the agent in, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "gastown-agent-check-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir(&dir)
            .with_context(|| format!("cannot make {} to start the agent in", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn report(
    runtime: &Runtime,
    path: Option<PathBuf>,
    outcome: Outcome,
    detail: String,
    elapsed_ms: u64,
    screen: &str,
) -> Report {
    Report {
        agent: runtime.name.clone(),
        account: runtime.account.clone(),
        command: runtime.command(),
        program_path: path,
        ready_marker: runtime.ready_marker.clone(),
        outcome,
        detail,
        elapsed_ms,
        screen: text::paragraph(screen.trim_end()).into_owned(),
    }
}

/// Start the runtime in a session actor in `cwd`, watch it until it is ready, exits or the
/// timeout passes, then stop it.
async fn start_and_watch(
    runtime: &Runtime,
    path: PathBuf,
    cwd: &Path,
    timeout: Duration,
) -> Report {
    let ended: Arc<Mutex<Option<SessionEnd>>> = Arc::default();
    let mut args = SessionArgs::new(runtime.program.clone(), cwd);
    args.args = runtime.args.clone();
    args.env = runtime.env.clone();
    args.env.extend(runtimes::clean_start::session_env(
        runtime,
        &|key| std::env::var(key).ok(),
        runtimes::clean_start::running_as_root(),
    ));
    args.ready_marker = runtime.ready_marker.clone();
    args.quiet_period = runtime.quiet_period;
    let dialogs = runtimes::dialogs::dialogs(runtime);
    args.dialogs = dialogs.to_vec();
    let seen = ended.clone();
    args.on_end = Some(EndNotice(Arc::new(move |end| {
        if let Ok(mut slot) = seen.lock() {
            *slot = Some(end);
        }
    })));
    let stop_timeout = args.stop_timeout;
    let start = Instant::now();
    let elapsed = |start: Instant| u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (session, handle) = match ractor::Actor::spawn(None, Session, args).await {
        Ok(spawned) => spawned,
        Err(e) => {
            let detail = format!("cannot start `{}` in a PTY: {e}", runtime.program);
            return report(runtime, Some(path), Outcome::SpawnFailed, detail, 0, "");
        }
    };
    let mut screen = String::new();
    let mut blocked_since: Option<Instant> = None;
    let (outcome, detail) = loop {
        if let Ok(text) = client::peek(&session, None).await {
            screen = last_lines(&text);
        }
        match client::snapshot(&session).await {
            Ok(snap) if snap.exit.is_some() => {
                let exit = snap.exit.map(|e| e.to_string()).unwrap_or_default();
                break (
                    Outcome::Exited,
                    format!("it exited before reaching its prompt: {exit}"),
                );
            }
            // A dialog with a safe answer (trust of this directory) the session answers
            // itself; any other waits for a human, as it would in a session — once it stays up
            // as long as a session waits before escalating (a CLI may flash one as it starts),
            // or until the timeout.
            Ok(snap)
                if snap.blocked.as_deref().is_some_and(|b| {
                    let since = *blocked_since.get_or_insert_with(Instant::now);
                    start.elapsed() >= timeout
                        || (!answered_by_the_session(dialogs, b)
                            && since.elapsed() >= DIALOG_ESCALATE_AFTER)
                }) =>
            {
                let dialog = snap.blocked.unwrap_or_default();
                break (Outcome::Blocked, format!("blocked: {dialog}"));
            }
            Ok(snap) if snap.blocked.is_none() && blocked_since.take().is_some() => {}
            // Quiet with nothing drawn yet is a CLI still loading, not one at its prompt.
            Ok(snap) if snap.idle && !screen.trim().is_empty() => break verdict(runtime, start),
            Ok(snap) if start.elapsed() >= timeout => {
                break (Outcome::Timeout, not_ready(runtime, timeout, snap.ready));
            }
            Ok(_) => {}
            Err(_) => {
                let end = ended.lock().ok().and_then(|slot| slot.clone());
                let how = end.map_or_else(|| "its session ended".to_string(), |e| e.to_string());
                break (
                    Outcome::Exited,
                    format!("it exited before reaching its prompt: {how}"),
                );
            }
        }
        tokio::time::sleep(POLL).await;
    };
    let took = elapsed(start);
    let _ = client::terminate(&session, stop_timeout).await;
    let _ = handle.await;
    report(runtime, Some(path), outcome, detail, took, &screen)
}

/// Whether the dialog a snapshot shows (`trust: <its line>`) is one the session answers.
fn answered_by_the_session(dialogs: &[runtimes::dialogs::Dialog], blocked: &str) -> bool {
    let name = blocked.split(": ").next().unwrap_or(blocked);
    dialogs.iter().any(|d| d.name == name && d.answer.is_some())
}

/// The last [`SCREEN_LINES`] lines of a screen with text, without its blank bottom.
fn last_lines(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let end = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    lines[end.saturating_sub(SCREEN_LINES)..end].join("\n")
}

fn verdict(runtime: &Runtime, start: Instant) -> (Outcome, String) {
    let secs = start.elapsed().as_secs_f64();
    match &runtime.ready_marker {
        Some(marker) => (
            Outcome::Ready,
            format!("it reached its prompt in {secs:.1}s (ready marker {marker:?} on the screen)"),
        ),
        None => (
            Outcome::Quiet,
            format!(
                "its output went quiet for {} after {secs:.1}s, which gastown takes as ready (no \
                 ready marker is known for it): make sure the screen below is its prompt, not a \
                 login or trust dialog",
                humantime::format_duration(runtime.quiet_period)
            ),
        ),
    }
}

fn not_ready(runtime: &Runtime, timeout: Duration, marker_seen: bool) -> String {
    let limit = humantime::format_duration(timeout);
    match &runtime.ready_marker {
        Some(marker) if marker_seen => format!(
            "its ready marker {marker:?} is on the screen but its output never stayed quiet for \
             {} within {limit}",
            humantime::format_duration(runtime.quiet_period)
        ),
        Some(marker) => format!(
            "no ready marker {marker:?} on its screen within {limit}: a dialog (login, trust, \
             update) may be waiting — the screen below shows what it showed"
        ),
        None => format!("it never drew something and then went quiet within {limit}"),
    }
}

fn render(r: &Report) -> String {
    let account = r
        .account
        .as_deref()
        .map(|a| format!(" (account {a})"))
        .unwrap_or_default();
    let mut s = format!(
        "agent {}{account}: `{}`\n  program: {}\n  marker:  {}\n  result:  {} — {}\n",
        r.agent,
        shell_words::join(&r.command),
        r.program_path
            .as_ref()
            .map_or_else(|| "not found".to_string(), |p| p.display().to_string()),
        r.ready_marker
            .as_deref()
            .unwrap_or("(none: quiet output means ready)"),
        match r.outcome {
            Outcome::Ready => "ok",
            Outcome::Quiet => "ok (quiet)",
            Outcome::Missing => "missing",
            Outcome::SpawnFailed => "cannot start",
            Outcome::Exited => "exited",
            Outcome::Timeout => "not ready",
            Outcome::Blocked => "blocked",
        },
        r.detail
    );
    if !r.screen.trim().is_empty() {
        s.push_str("  screen (last lines):\n");
        for line in r.screen.lines() {
            s.push_str(&format!("    | {line}\n"));
        }
    }
    s
}

/// A check's timeout from the command line.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{e}: use a duration like \"30s\" or \"2m\""))
}
