//! Introspection and control of the live tree: `gastown actors`, `actor`, `peek`, `attach`,
//! `nudge`, `restart`, `kill`, `agent spawn`. All of them need `gastown run`; every one that names
//! an agent takes its address.

use super::routed::unexpected;
use crate::client;
use crate::output;
use crate::protocol::{TownReply, TownRequest};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gastown_town::town::Town;
use serde_json::Value;
use std::io::{Read, Write};
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ActorsArgs {
    /// Print the tree as JSON (the socket's node carries its counters).
    #[arg(long)]
    pub json: bool,
    /// Redraw every second until interrupted.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Put an agent under supervision: `gastown agent spawn <rig>/crew/<name> --runtime sim`.
    Spawn {
        /// `<rig>/crew/<name>` or `<rig>/polecats/<name>` of a rig that exists.
        address: String,
        /// Its runtime, recorded for every later start (default: the one recorded for it, else
        /// the rig's, else the town's default agent).
        #[arg(long)]
        runtime: Option<String>,
        /// Extra environment for the session, `KEY=VALUE` (e.g. the sim's fault knobs).
        #[arg(long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
    },
}

/// What a command on one session prints: the supervisor's typed answer, in words.
fn said(reply: &TownReply) -> Result<String> {
    Ok(match reply {
        TownReply::Nudged { agent } => format!("nudged {agent}\n"),
        TownReply::Restarted { agent } => format!("restarted {agent}'s session\n"),
        TownReply::Killed { agent, pid } => {
            let pid = pid
                .map(|p| format!(" (process group {p})"))
                .unwrap_or_default();
            format!("killed {agent}'s session{pid}; its supervisor restarts it\n")
        }
        TownReply::Spawned { text } => text.clone(),
        TownReply::Done => String::new(),
        other => return Err(unexpected(other)),
    })
}

/// The socket's counters (accepted, refused by kind, …), as JSON.
fn socket_stats(c: &mut crate::socket::Client) -> Result<Value> {
    match c.call(crate::socket::RequestBody::Stats)? {
        crate::socket::ReplyBody::Stats(stats) => Ok(serde_json::to_value(stats)?),
        other => bail!("unexpected reply: {other:?}"),
    }
}

pub fn actors(town: &Town, args: ActorsArgs) -> Result<()> {
    let mut c = client::require(town)?;
    loop {
        let tree = match client::call(&mut c, TownRequest::Actors)? {
            TownReply::Tree(tree) => tree,
            other => return Err(unexpected(&other)),
        };
        let mut tree = serde_json::to_value(tree)?;
        let stats = socket_stats(&mut c)?;
        if args.json {
            // The socket's node carries its counters: bad input is counted here.
            if let Some(children) = tree["children"].as_array_mut()
                && let Some(socket) = children.iter_mut().find(|n| n["role"] == "socket")
            {
                socket["stats"] = stats;
            }
            output::line(serde_json::to_string_pretty(&tree)?)?;
        } else {
            if args.watch {
                // The terminal's own control sequence: the one raw write.
                output::bytes(b"\x1b[H\x1b[2J")?;
            }
            let mut lines = vec![format!(
                "{:<44} {:<11} {:>8} {:>9} {:>8}  {}",
                "PATH", "STATE", "PID", "UPTIME", "RESTARTS", "LAST FAILURE"
            )];
            render(&tree, 0, &mut lines);
            lines.push(format!(
                "socket: {} accepted, {} active; refused: {} other uid, {} bad frame, {} oversized, {} wrong version, {} unknown token, {} revoked token, {} idle, {} slow frame, {} over capacity, {} over per-peer cap, {} unidentified; {} requests forbidden; {} token mismatches",
                stats["accepted"], stats["active"], stats["rejected_uid"], stats["bad_frame"],
                stats["oversized"], stats["version_mismatch"], stats["unknown_token"],
                stats["revoked_token"], stats["idle_closed"], stats["slow_frame"],
                stats["over_capacity"], stats["over_peer_cap"], stats["unidentified"],
                stats["forbidden"], stats["token_mismatch"]
            ));
            output::line(lines.join("\n"))?;
        }
        if !args.watch {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn render(node: &Value, depth: usize, lines: &mut Vec<String>) {
    let path = node["path"].as_str().unwrap_or("?");
    let name = path.rsplit('/').next().unwrap_or(path);
    let uptime = node["uptime_ms"]
        .as_u64()
        .map(|ms| humantime::format_duration(Duration::from_secs(ms / 1000)).to_string())
        .unwrap_or_else(|| "-".to_string());
    let pid = node["pid"]
        .as_u64()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "-".into());
    let restarts = format!(
        "{}/{}",
        node["restarts_recent"].as_u64().unwrap_or(0),
        node["restarts_total"].as_u64().unwrap_or(0)
    );
    lines.push(format!(
        "{:<44} {:<11} {:>8} {:>9} {:>8}  {}",
        format!("{}{}", "  ".repeat(depth), name),
        node["state"].as_str().unwrap_or("?"),
        pid,
        uptime,
        restarts,
        node["last_failure"].as_str().unwrap_or("")
    ));
    if let Some(note) = node["note"].as_str() {
        lines.push(format!("{}  {note}", "  ".repeat(depth + 1)));
    }
    if let Some(children) = node["children"].as_array() {
        for child in children {
            render(child, depth + 1, lines);
        }
    }
}

/// `gastown actor <target>`: an agent's address (its role), an address and a child
/// (`alpha/crew/max/session`), or a tree path (`town/ledger`).
pub fn actor(town: &Town, target: String, as_json: bool) -> Result<()> {
    let mut c = client::require(town)?;
    let detail = match client::call(&mut c, TownRequest::Actor { target })? {
        TownReply::Actor(detail) => detail,
        other => return Err(unexpected(&other)),
    };
    let is_socket = detail.actor.role == "socket";
    let mut detail = serde_json::to_value(detail)?;
    if is_socket {
        detail["socket_stats"] = socket_stats(&mut c)?;
    }
    if as_json {
        return Ok(output::line(serde_json::to_string_pretty(&detail)?)?);
    }
    let a = &detail["actor"];
    let mut out = format!(
        "{}\n  role: {}  kind: {}  state: {}  pid: {}\n  uptime: {} ms  restarts: {} recent, {} total\n  last failure: {}\n  recent events:\n",
        a["path"].as_str().unwrap_or("?"),
        a["role"].as_str().unwrap_or("?"),
        a["kind"].as_str().unwrap_or("?"),
        a["state"].as_str().unwrap_or("?"),
        a["pid"],
        a["uptime_ms"],
        a["restarts_recent"],
        a["restarts_total"],
        a["last_failure"].as_str().unwrap_or("none"),
    );
    if is_socket {
        out.push_str(&format!("  socket counters: {}\n", detail["socket_stats"]));
    }
    for e in detail["events"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "    {} {} {}/{} {}\n",
            e["at"].as_str().unwrap_or(""),
            e["kind"].as_str().unwrap_or(""),
            e["supervisor"].as_str().unwrap_or(""),
            e["child"].as_str().unwrap_or(""),
            e["reason"].as_str().unwrap_or("")
        ));
    }
    output::text(&out)?;
    Ok(())
}

/// A command on one session (nudge, restart, kill, spawn): send it, print what happened.
pub fn simple(town: &Town, request: TownRequest) -> Result<()> {
    let mut c = client::require(town)?;
    output::text(&said(&client::call(&mut c, request)?)?)?;
    Ok(())
}

/// `gastown peek <agent>`: its screen (or last lines), as text or JSON.
pub fn peek(town: &Town, agent: String, lines: Option<usize>, json: bool) -> Result<()> {
    let mut c = client::require(town)?;
    let (agent, text) = match client::call(&mut c, TownRequest::Peek { agent, lines })? {
        TownReply::Screen { agent, text } => (agent, text),
        other => return Err(unexpected(&other)),
    };
    if json {
        let value = serde_json::json!({ "agent": agent, "screen": text });
        output::line(serde_json::to_string_pretty(&value)?)?;
    } else {
        output::text(&text)?;
    }
    Ok(())
}

pub fn agent(town: &Town, cmd: AgentCommand) -> Result<()> {
    match cmd {
        AgentCommand::Spawn {
            address,
            runtime,
            env,
        } => {
            let mut pairs = Vec::new();
            for kv in env {
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("bad --env {kv:?}: use KEY=VALUE"))?;
                pairs.push((k.to_string(), v.to_string()));
            }
            simple(
                town,
                TownRequest::Spawn {
                    address,
                    runtime,
                    env: pairs,
                },
            )
        }
    }
}

/// Ctrl-] detaches, as in telnet.
const DETACH_KEY: u8 = 0x1d;

pub fn attach(town: &Town, agent: String) -> Result<()> {
    let mut starter = client::require(town)?;
    let mut writer = client::require(town)?;
    let (rows, cols) = window_size();
    let TownReply::Attached { id, screen } = client::call(
        &mut starter,
        TownRequest::AttachStart {
            agent: agent.clone(),
            rows,
            cols,
        },
    )?
    else {
        bail!("the supervisor did not attach");
    };
    // The session's output arrives on the starting connection as it is written.
    let mut output = match client::stream(starter, TownRequest::AttachOutput { id }) {
        Ok(output) => output,
        Err(e) => {
            let _ = client::call(&mut writer, TownRequest::AttachEnd { id });
            return Err(e.context(format!("cannot stream {agent}'s output")));
        }
    };
    let raw = RawMode::enter();
    eprint!("[attached to {agent}; Ctrl-] detaches]\r\n");
    let mut stdout = std::io::stdout();
    stdout.write_all(&screen)?;
    stdout.flush()?;

    let (tx, rx) = std::sync::mpsc::channel::<Happened>();
    let from_output = tx.clone();
    std::thread::spawn(move || {
        loop {
            let next = output.next();
            let last = !matches!(next, Ok(Some(TownReply::Output { ended: false, .. })));
            if from_output.send(Happened::Output(Box::new(next))).is_err() || last {
                return;
            }
        }
    });
    let stop = Wakeup::new()?;
    spawn_stdin_reader(tx.clone(), stop.watch());
    let resize_stop = spawn_resize_watcher(tx);

    let mut size = (rows, cols);
    let result = (|| -> Result<()> {
        loop {
            let Ok(happened) = rx.recv() else {
                return Ok(());
            };
            match happened {
                Happened::Input(bytes) => {
                    if let Some(pos) = bytes.iter().position(|b| *b == DETACH_KEY) {
                        if pos > 0 {
                            let bytes = bytes[..pos].to_vec();
                            client::call(&mut writer, TownRequest::AttachInput { id, bytes })?;
                        }
                        return Ok(());
                    }
                    client::call(&mut writer, TownRequest::AttachInput { id, bytes })?;
                }
                Happened::Resized => {
                    let now = window_size();
                    if now != size && now.0 > 0 {
                        size = now;
                        let (rows, cols) = now;
                        client::call(&mut writer, TownRequest::AttachResize { id, rows, cols })?;
                    }
                }
                Happened::Output(next) => match (*next)? {
                    Some(TownReply::Output { bytes, ended }) => {
                        stdout.write_all(&bytes)?;
                        stdout.flush()?;
                        if ended {
                            eprint!("\r\n[session ended]\r\n");
                            return Ok(());
                        }
                    }
                    Some(other) => return Err(unexpected(&other)),
                    None => {
                        eprint!(
                            "\r\n[the supervisor ended the attachment: is `gastown run` still up?]\r\n"
                        );
                        return Ok(());
                    }
                },
            }
        }
    })();
    // Ending the attachment ends its output stream (and the thread reading it); the stop pipe
    // and the dropped sender end the other two threads, so nothing is left reading the
    // terminal after a detach (`gastown feed` takes it back).
    let _ = client::call(&mut writer, TownRequest::AttachEnd { id });
    drop(stop);
    drop(resize_stop);
    drop(raw);
    eprintln!("\n[detached from {agent}]");
    result
}

/// What the attach loop waits for.
enum Happened {
    /// Keystrokes from the terminal.
    Input(Vec<u8>),
    /// The terminal changed size (SIGWINCH).
    Resized,
    /// The next reply of the output stream.
    Output(Box<Result<Option<TownReply>>>),
}

/// A pipe whose write end, dropped, wakes every `poll` on its read end: how the stdin reader
/// learns the attachment ended without another keystroke being taken from the terminal.
struct Wakeup {
    read: std::sync::Arc<std::os::fd::OwnedFd>,
    _write: std::os::fd::OwnedFd,
}

impl Wakeup {
    fn new() -> Result<Wakeup> {
        use std::os::fd::FromRawFd;
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 fills two descriptors we then own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error()).context("cannot make a pipe");
        }
        // SAFETY: both descriptors were just opened and are owned by nothing else.
        let (read, write) = unsafe {
            (
                std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                std::os::fd::OwnedFd::from_raw_fd(fds[1]),
            )
        };
        Ok(Wakeup {
            read: std::sync::Arc::new(read),
            _write: write,
        })
    }

    fn watch(&self) -> std::sync::Arc<std::os::fd::OwnedFd> {
        std::sync::Arc::clone(&self.read)
    }
}

/// Reads the terminal until it closes, the loop is gone, or `stop` wakes it.
fn spawn_stdin_reader(
    tx: std::sync::mpsc::Sender<Happened>,
    stop: std::sync::Arc<std::os::fd::OwnedFd>,
) {
    use std::os::fd::AsRawFd;
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 1024];
        loop {
            let mut fds = [
                libc::pollfd {
                    fd: libc::STDIN_FILENO,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: stop.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: poll on two descriptors we hold open, with no timeout.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            if fds[1].revents != 0 {
                return;
            }
            if fds[0].revents == 0 {
                continue;
            }
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send(Happened::Input(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// Says when the terminal changes size (SIGWINCH), until the returned sender is dropped.
fn spawn_resize_watcher(
    tx: std::sync::mpsc::Sender<Happened>,
) -> Option<tokio::sync::oneshot::Sender<()>> {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut winch) = signal(SignalKind::window_change()) else {
                return;
            };
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = winch.recv() => {
                        if tx.send(Happened::Resized).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    });
    Some(stop)
}

fn window_size() -> (u16, u16) {
    // SAFETY: TIOCGWINSZ fills a winsize we own; on failure we use no size.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    if rc == 0 {
        (ws.ws_row, ws.ws_col)
    } else {
        (0, 0)
    }
}

/// The terminal in raw mode until dropped (a no-op when stdin is not a terminal).
struct RawMode {
    saved: Option<libc::termios>,
}

impl RawMode {
    fn enter() -> RawMode {
        // SAFETY: tcgetattr/tcsetattr on stdin with termios structs we own.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut t) != 0 {
                return RawMode { saved: None };
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &t);
            RawMode { saved: Some(saved) }
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = self.saved {
            // SAFETY: restoring the attributes read in `enter`.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &saved) };
        }
    }
}
