//! `gastown up` and `gastown down`: the town's supervisor run unattended (`docs/run.md`,
//! "Running unattended").
//!
//! `up` starts this very binary's `gastown run` detached — a session of its own (setsid), stdin
//! from /dev/null, stdout and stderr appended to `.runtime/logs/run.out` — and waits until it
//! answers on the socket. `down` finds it through `.runtime/run.pid` (never signalling a process
//! that is not the town's `gastown run`: see [`crate::run::pid_file`]), sends SIGTERM (the
//! orderly shutdown) and waits for it to exit; `--force` signals again, which stops everything at
//! once. Both find the town without reading its town.toml, so they work on a town whose config
//! is broken: `up` then reports the supervisor's own error from its log.

use crate::output;
use crate::run::pid_file::{self, Found};
use anyhow::{Context, Result, bail};
use gastown_town::town::{RUNTIME_DIR, Town};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How often `up` and `down` look again.
const POLL: Duration = Duration::from_millis(100);
/// How often `down --force` signals again until the supervisor is gone.
const RESIGNAL: Duration = Duration::from_millis(500);
/// How many lines of its log `up` shows when the supervisor died before answering.
const LOG_TAIL: usize = 20;
/// What `down` waits beyond `[run] shutdown_timeout` (the supervisor's own bound) by default.
const DOWN_MARGIN: Duration = Duration::from_secs(10);

/// Options of `gastown up`.
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// How long to wait for the supervisor to answer on its socket.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = super::agent_check::parse_timeout)]
    pub wait: Duration,
}

/// Options of `gastown down`.
#[derive(Debug, Clone, clap::Args)]
pub struct DownArgs {
    /// How long to wait for the supervisor to exit (default: the town's `[run] shutdown_timeout`
    /// plus 10s).
    #[arg(long, value_name = "DURATION", value_parser = super::agent_check::parse_timeout)]
    pub timeout: Option<Duration>,
    /// Stop everything at once: every session and gate is killed (a second SIGTERM), queued merge
    /// requests stay queued.
    #[arg(long)]
    pub force: bool,
}

/// Where a town's supervisor leaves its traces.
struct Place {
    root: PathBuf,
    runtime: PathBuf,
}

impl Place {
    fn find(explicit: Option<&Path>) -> Result<Place> {
        let root = Town::find_root(explicit)?;
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", root.display()))?;
        let runtime = root.join(RUNTIME_DIR);
        Ok(Place { root, runtime })
    }

    fn socket(&self) -> PathBuf {
        crate::socket::locate_socket(&self.runtime)
    }

    fn out_log(&self) -> PathBuf {
        self.runtime.join("logs").join("run.out")
    }

    /// Whether a supervisor answers on the town's socket (the handshake is its answer).
    fn answers(&self) -> bool {
        crate::socket::Client::connect(&self.socket(), None, "gastown up").is_ok()
    }

    /// The live supervisor's pid from the pid file; a stale or unreadable file is removed and
    /// said so (its process is never signalled).
    fn running_pid(&self) -> Result<Option<u32>> {
        match pid_file::find(&self.runtime) {
            Found::Running { pid } => Ok(Some(pid)),
            Found::Nothing => Ok(None),
            Found::Stale { pid, why } => {
                pid_file::remove(&self.runtime)?;
                output::line(format!(
                    "removed a stale pid file naming pid {pid}: {why} (not signalled)"
                ))?;
                Ok(None)
            }
            Found::Unreadable { why } => {
                pid_file::remove(&self.runtime)?;
                output::line(format!("removed an unreadable pid file: {why}"))?;
                Ok(None)
            }
        }
    }
}

/// `gastown up`.
pub fn up(explicit: Option<&Path>, args: UpArgs) -> Result<()> {
    let place = Place::find(explicit)?;
    if let Some(pid) = place.running_pid()? {
        output::line(format!(
            "gastown run is already running for {} (pid {pid}); `gastown down` stops it",
            place.root.display()
        ))?;
        return Ok(());
    }
    if place.answers() {
        output::line(format!(
            "a supervisor already answers on {} (it wrote no pid file: started by an older gastown?)",
            place.socket().display()
        ))?;
        return Ok(());
    }
    gastown_town::town::ensure_private_dir(&place.runtime)?;
    let log_path = place.out_log();
    let logs = log_path.parent().unwrap_or(&place.runtime);
    std::fs::create_dir_all(logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let start_of_this_run = log
        .metadata()
        .map(|m| m.len())
        .with_context(|| format!("cannot read {}", log_path.display()))?;
    let exe = std::env::current_exe().context("cannot find this executable to run")?;
    let mut command = Command::new(&exe);
    command
        .arg("--town")
        .arg(&place.root)
        .arg("run")
        .current_dir(&place.root)
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("cannot share the log file")?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent: the supervisor
    // gets a session of its own, so no terminal's hangup or Ctrl-C reaches it.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {} run", exe.display()))?;
    let pid = child.id();
    let deadline = Instant::now() + args.wait;
    loop {
        if let Some(status) = child.try_wait().context("cannot watch gastown run")? {
            let tail = log_tail(&log_path, start_of_this_run);
            bail!(
                "gastown run exited ({status}) before it answered; the last lines of {}:\n{tail}",
                log_path.display()
            );
        }
        if place.answers() {
            break;
        }
        if Instant::now() >= deadline {
            bail!(
                "gastown run (pid {pid}) does not answer on {} after {}; it is left running: see {}, \
                 or stop it with `gastown down`",
                place.socket().display(),
                humantime::format_duration(args.wait),
                log_path.display()
            );
        }
        std::thread::sleep(POLL);
    }
    output::text(&format!(
        "gastown run is up for {root} (pid {pid})\n\
         \x20 socket: {socket}\n\
         \x20 logs:   {out} (its output), {json}/ (JSON, daily)\n\
         next:\n\
         \x20 gastown status      the town at a glance\n\
         \x20 gastown feed        what happens, as it happens\n\
         \x20 gastown dashboard   the town in a web page\n\
         \x20 gastown down        stop it in order\n",
        root = place.root.display(),
        socket = place.socket().display(),
        out = log_path.display(),
        json = place.runtime.join("logs").display(),
    ))?;
    Ok(())
}

/// The last [`LOG_TAIL`] lines of `path` from byte `from` on (what this start wrote).
fn log_tail(path: &Path, from: u64) -> String {
    let mut text = String::new();
    let read = std::fs::File::open(path).and_then(|mut file| {
        file.seek(SeekFrom::Start(from))?;
        file.read_to_string(&mut text)
    });
    if let Err(e) = read {
        return format!("(cannot read it: {e})");
    }
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL)..];
    if tail.is_empty() {
        return "(it wrote nothing)".to_string();
    }
    tail.join("\n")
}

/// `gastown down`.
pub fn down(explicit: Option<&Path>, args: DownArgs) -> Result<()> {
    let place = Place::find(explicit)?;
    let Some(pid) = place.running_pid()? else {
        if place.answers() {
            bail!(
                "a supervisor answers on {} but wrote no pid file (started by an older gastown?): \
                 stop it with Ctrl-C in its terminal, or `kill` the pid in {}",
                place.socket().display(),
                place.runtime.join("run.lock").display()
            );
        }
        output::line(format!(
            "gastown run is not running for {}",
            place.root.display()
        ))?;
        return Ok(());
    };
    let timeout = args.timeout.unwrap_or_else(|| {
        let shutdown = Town::load(&place.root)
            .map(|town| town.config.run.shutdown_timeout.0)
            .unwrap_or(gastown_town::defaults::SHUTDOWN_TIMEOUT);
        shutdown + DOWN_MARGIN
    });
    // The pid is checked again before every signal: once gone, it may be someone else's.
    let start = gastown_town::groups::start_time(pid);
    let signal = || -> bool {
        if pid_file::stale_because(pid, start).is_some() {
            return false;
        }
        // SAFETY: kill only reads its arguments; `pid` was just proven the town's supervisor.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) == 0 }
    };
    if !signal() {
        output::line(format!("gastown run (pid {pid}) already stopped"))?;
        return Ok(());
    }
    output::line(format!(
        "stopping gastown run (pid {pid}){}",
        if args.force {
            ": everything at once"
        } else {
            " in order"
        }
    ))?;
    let began = Instant::now();
    let mut signalled = began;
    while pid_file::alive(pid) {
        if began.elapsed() >= timeout {
            bail!(
                "gastown run (pid {pid}) is still stopping after {}{}",
                humantime::format_duration(timeout),
                if args.force {
                    ""
                } else {
                    ": `gastown down --force` stops everything at once (every session and gate \
                     killed; queued merge requests stay queued)"
                }
            );
        }
        if args.force && signalled.elapsed() >= RESIGNAL {
            // The first SIGTERM began the orderly shutdown; the next one cuts it short.
            signal();
            signalled = Instant::now();
        }
        std::thread::sleep(POLL);
    }
    output::line(format!(
        "gastown run (pid {pid}) stopped after {}",
        humantime::format_duration(Duration::from_millis(began.elapsed().as_millis() as u64))
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::DOWN_MARGIN;
    use std::time::Duration;

    const UNIT: &str = include_str!("../../docs/gastown.service");
    const RUN_MD: &str = include_str!("../../docs/run.md");

    /// The value of `key=` in the unit (the first one).
    fn setting<'a>(key: &str) -> &'a str {
        UNIT.lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("the unit sets no {key}="))
    }

    #[test]
    fn the_unit_in_the_docs_is_the_shipped_file() {
        let block = RUN_MD
            .split("```ini\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("docs/run.md shows the unit in an ini block");
        assert_eq!(block, UNIT, "docs/run.md and docs/gastown.service differ");
    }

    #[test]
    fn the_unit_stops_in_order_and_reloads_with_sighup() {
        assert_eq!(
            setting("ExecStart"),
            "%h/.cargo/bin/gastown run --town %h/town"
        );
        assert_eq!(setting("ExecReload"), "/bin/kill -HUP $MAINPID");
        assert_eq!(setting("KillSignal"), "SIGTERM");
        assert_eq!(setting("KillMode"), "mixed", "SIGTERM to gastown run alone");
        assert_eq!(setting("Restart"), "on-failure");
        let stop: u64 = setting("TimeoutStopSec").parse().expect("seconds");
        assert_eq!(
            Duration::from_secs(stop),
            gastown_town::defaults::SHUTDOWN_TIMEOUT + DOWN_MARGIN,
            "systemd waits as long as `gastown down` does"
        );
    }

    /// `systemd-analyze verify` where it exists and can start (a container without systemd's
    /// runtime dirs cannot: skipped); the program is swapped for one that exists here.
    #[test]
    fn systemd_accepts_the_unit_where_it_can_check_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let exe = std::env::current_exe().expect("this test's executable");
        let unit = UNIT.replace("%h/.cargo/bin/gastown", &exe.to_string_lossy());
        let path = dir.path().join("gastown.service");
        std::fs::write(&path, unit).expect("unit written");
        let Ok(out) = std::process::Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .output()
        else {
            return; // No systemd-analyze: optional.
        };
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if text.contains("Failed to initialize manager") {
            return; // It cannot run here.
        }
        assert!(out.status.success(), "systemd-analyze verify: {text}");
        assert!(!text.contains("gastown.service:"), "warnings: {text}");
    }
}
