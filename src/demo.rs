//! `gastown demo`: the whole system on the built-in sim runtime, in a throw-away town.
//!
//! It makes a town and a sample rig (a real git project whose test gate checks every item file),
//! files M beads — each says, in a fenced `sh` block, which item to add — tracks them in a convoy,
//! starts `gastown run`, slings the beads to the rig (N polecats at most; the rest wait in the
//! dispatch queue), and shows progress while the sim polecats work their molecules, commit and
//! submit, and the refinery merges, gates and lands each merge request. It ends when the convoy
//! lands, with a summary; exit 0 only then. `--chaos` makes the sims crash and hang at random:
//! the supervision tree restarts them and the work still lands, each bead merged exactly once.
//!
//! At its start it prints the commands that watch it from another terminal (`gastown --town
//! <dir>/town status|feed|dashboard`). When stdout is a terminal, or with `--stay`, the town keeps
//! running after the convoy landed, for those views, until Ctrl-C; in a pipe it stops at once.

use crate::client;
use crate::progress::{self, Mode, ProgressArgs, Style};
use crate::protocol::{ActorNode, TownReply, TownRequest};
use crate::socket::Client;
use anyhow::{Context, Result, bail};
use gastown_beads::{Bead, DepKind, IssueType, NewBead, Status};
use gastown_town::Caller;
use gastown_town::command::bead::{BeadOutcome, BeadRequest, ListRequest};
use gastown_town::command::convoy::{ConvoyOutcome, ConvoyRequest};
use gastown_town::rig::{self, AddOptions};
use gastown_town::town::{self, InstallOptions, Town};
use gastown_town::work::WorkCommand;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Options of `gastown demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Polecats working at once.
    #[arg(long, default_value = "4")]
    pub agents: usize,
    /// Beads to land.
    #[arg(long, default_value = "12")]
    pub beads: usize,
    /// Sim agents crash and hang at random; the demo still lands.
    #[arg(long)]
    pub chaos: bool,
    /// Keep the town in this directory (it must not exist yet) for inspection.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Give up after this long.
    #[arg(long, default_value = "10m")]
    pub timeout: humantime::Duration,
    /// Keep the town running after the convoy landed, until Ctrl-C (the default when stdout is
    /// a terminal), for `gastown status`, `feed` and `dashboard` in another terminal.
    #[arg(long)]
    pub stay: bool,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

/// The sample project's test gate: every item file says ok.
const CHECK_SH: &str = "#!/bin/sh\n# The sample rig's test gate: every item must say ok.\nset -e\nfor f in items/*.txt; do\n  [ -e \"$f\" ] || continue\n  grep -qx ok \"$f\" || { echo \"$f is not ok\"; exit 1; }\ndone\n";

pub fn run(args: DemoArgs) -> Result<()> {
    if args.agents == 0 || args.beads == 0 {
        bail!("--agents and --beads must be at least 1");
    }
    let (root, _keep) = match &args.dir {
        Some(dir) => {
            if dir.exists() {
                bail!("{} exists: give --dir a new directory", dir.display());
            }
            std::fs::create_dir_all(dir)?;
            (dir.canonicalize()?, None)
        }
        None => {
            let tmp = TempDir::new()?;
            (tmp.0.clone(), Some(tmp))
        }
    };
    let start = Instant::now();
    let town = setup(&root, &args)?;
    let mut supervisor = Supervisor::start(&town, args.chaos)?;
    say(watch_commands(&town.root));
    let result = drive(&town, &args, start);
    let stay = args.stay || std::io::IsTerminal::is_terminal(&std::io::stdout());
    if stay && result.is_ok() {
        say(format!(
            "the town keeps running at {} for status, feed and dashboard: Ctrl-C stops it",
            town.root.display()
        ));
        stay_until_interrupted(&mut supervisor)?;
        say("stopping the town");
    }
    supervisor.stop();
    if args.dir.is_some() || result.is_err() {
        eprintln!("the demo town is at {}", town.root.display());
        if args.dir.is_none() {
            // Keep a failed run's town for inspection.
            if let Some(tmp) = _keep {
                std::mem::forget(tmp);
            }
        }
    }
    result
}

/// What to run in another terminal to watch the demo's town.
fn watch_commands(town: &Path) -> String {
    let dir = shell_word(&town.to_string_lossy());
    let mut out = String::from("watch it from another terminal:\n");
    for (command, what) in [
        ("status", "the town at a glance"),
        ("feed", "the town's events as they happen"),
        ("dashboard", "the town in a web page that updates live"),
    ] {
        out.push_str(&format!("  gastown --town {dir} {command:<9}  # {what}\n"));
    }
    out.pop();
    out
}

/// `word` as one shell word: as it is when it needs no quoting, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Wait for Ctrl-C (or SIGTERM, SIGHUP), or for `gastown run` to end by itself.
fn stay_until_interrupted(supervisor: &mut Supervisor) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
        let mut look = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = interrupt.recv() => return Ok(()),
                _ = terminate.recv() => return Ok(()),
                _ = hangup.recv() => return Ok(()),
                _ = look.tick() => {
                    if supervisor.ended() {
                        say("gastown run stopped");
                        return Ok(());
                    }
                }
            }
        }
    })
}

fn say(text: impl AsRef<str>) {
    eprintln!("{}", text.as_ref());
}

fn setup(root: &Path, args: &DemoArgs) -> Result<Town> {
    let source = root.join("sample-src");
    make_sample_project(&source)?;
    let town = town::install(
        &root.join("town"),
        &InstallOptions {
            prefix: "gt".to_string(),
            name: Some("demo".to_string()),
            agent: gastown_town::town::DefaultAgent::Named("sim".to_string()),
        },
    )?;
    say(format!("town: {}", town.root.display()));
    let rig = rig::add_rig(
        &town,
        &AddOptions {
            name: "sample".to_string(),
            source: source.to_string_lossy().into_owned(),
            branch: Some("main".to_string()),
            runtime: Some("sim".to_string()),
            prefix: Some("sm".to_string()),
            no_push: false,
        },
    )?;
    let mut config = rig.config.clone();
    config.max_polecats = args.agents;
    config.gates.test = Some("sh check.sh".to_string());
    config.write(&rig.config_path())?;
    say(format!(
        "rig: sample (test gate `sh check.sh`, {} polecats at most)",
        args.agents
    ));
    let mut ledger = town.open_ledger()?;
    let mut ids = Vec::new();
    for i in 1..=args.beads {
        let new = NewBead {
            title: format!("Add item {i}"),
            description: format!(
                "Add item {i} to the sample project.\n\n```sh\nmkdir -p items && echo ok > items/{i:03}.txt\n```\n"
            ),
            acceptance_criteria: format!("items/{i:03}.txt exists and the test gate passes"),
            priority: 2,
            // Work filed for the sample rig carries its prefix, as `bead create --rig` would.
            prefix: Some(rig.config.prefix.clone()),
            ..NewBead::default()
        };
        ids.push(ledger.create(new, Caller::Overseer.name())?.id);
    }
    let convoy = NewBead {
        title: format!("Demo: {} items", args.beads),
        issue_type: IssueType::Convoy,
        priority: 2,
        deps: ids.iter().map(|id| (DepKind::Tracks, id.clone())).collect(),
        labels: vec!["notify".to_string()],
        prefix: Some(rig.config.prefix.clone()),
        ..NewBead::default()
    };
    let convoy = ledger.create(convoy, Caller::Overseer.name())?;
    ledger.close_ledger()?;
    say(format!(
        "{} beads filed, tracked by convoy {}",
        ids.len(),
        convoy.id
    ));
    Ok(town)
}

fn make_sample_project(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir.join("items"))?;
    std::fs::write(dir.join("check.sh"), CHECK_SH)?;
    std::fs::write(dir.join("items/.keep"), "")?;
    std::fs::write(
        dir.join("README.md"),
        "# sample\n\nA project Gas Town's demo polecats add items to.\n",
    )?;
    let git = |args: &[&str]| -> Result<()> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=gastown",
                "-c",
                "user.email=gastown@localhost",
            ])
            .args(args)
            .output()
            .context("cannot run git: is it installed?")?;
        if !out.status.success() {
            bail!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    };
    git(&["init", "--quiet", "--initial-branch=main"])?;
    // The demo's own throw-away source keeps `main` checked out; let the refinery push landed
    // work into it (its work tree follows), as a bare remote would accept it.
    git(&["config", "receive.denyCurrentBranch", "updateInstead"])?;
    git(&["add", "."])?;
    git(&["commit", "--quiet", "-m", "sample project"])
}

/// `gastown run` as a child process for the demo's life.
struct Supervisor {
    child: Option<Child>,
}

impl Supervisor {
    fn start(town: &Town, chaos: bool) -> Result<Supervisor> {
        let log = std::fs::File::create(town.runtime_dir().join("demo-run.log"))?;
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("--town")
            .arg(&town.root)
            .args(["run", "--log-format", "json"])
            .env("GASTOWN_LOG", "info")
            .env("GASTOWN_SIM_HEARTBEAT", "0s")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if chaos {
            cmd.env("GASTOWN_SIM_CHAOS", "8");
        }
        let child = cmd.spawn().context("cannot start gastown run")?;
        let sup = Supervisor { child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while client::connect(town)?.is_none() {
            if Instant::now() > deadline {
                bail!(
                    "gastown run did not come up; see {}",
                    town.runtime_dir().join("demo-run.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(sup)
    }

    /// Whether `gastown run` ended by itself.
    fn ended(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop();
    }
}

fn drive(town: &Town, args: &DemoArgs, start: Instant) -> Result<()> {
    let mut c = client::require(town)?;
    let beads = bead_ids(&mut c)?;
    for id in &beads {
        let reply = client::call(
            &mut c,
            TownRequest::Work(WorkCommand::Sling {
                bead: id.clone(),
                target: "sample".to_string(),
                force: false,
                runtime: None,
                formula: None,
                no_formula: false,
                no_convoy: true,
            }),
        )?;
        if let TownReply::Work { text } = reply
            && let Some(last) = text
                .lines()
                .find(|l| l.starts_with("slung") || l.contains("queue"))
        {
            say(format!("  {last}"));
        }
    }
    let deadline = start + Duration::from(args.timeout);
    // On a terminal a bar of beads landed; elsewhere a plain line every two seconds.
    let mode = args.progress.mode();
    let bar = progress::bar(
        mode,
        Style::Count,
        "landed",
        beads.len() as u64,
        "| starting".to_string(),
    );
    let mut last_print = Instant::now() - Duration::from_secs(10);
    let mut restarts = Restarts::default();
    loop {
        let p = progress(&mut c, &mut restarts)?;
        if mode == Mode::Bars {
            progress::show(
                &bar,
                p.total as u64,
                p.closed as u64,
                bar_words(&p, args.chaos),
            );
        } else if last_print.elapsed() >= Duration::from_secs(2) {
            eprintln!(
                "[{:>5.1}s] merged {}/{} | working {} | queued {} | in review {} | restarts {}",
                start.elapsed().as_secs_f64(),
                p.closed,
                p.total,
                p.working,
                p.queued,
                p.in_review,
                p.restarts
            );
            last_print = Instant::now();
        }
        if p.convoy_closed {
            // Read again: a bead may have closed between the two listings above.
            let p = progress(&mut c, &mut restarts)?;
            progress::show(
                &bar,
                p.total as u64,
                p.closed as u64,
                bar_words(&p, args.chaos),
            );
            bar.finish();
            return summary(&mut c, town, &p, start);
        }
        if Instant::now() > deadline {
            bar.abandon();
            let held = match client::call(
                &mut c,
                TownRequest::Convoy(ConvoyRequest::List { all: false }),
            ) {
                Ok(TownReply::Convoy(ConvoyOutcome::Listed { convoys, .. })) => convoys
                    .iter()
                    .flat_map(|p| p.holders())
                    .map(|t| {
                        format!(
                            "\n  held by {} ({})",
                            t.id,
                            t.held.as_deref().unwrap_or("open")
                        )
                    })
                    .collect(),
                _ => String::new(),
            };
            bail!(
                "the convoy did not land within {}: {}/{} merged{held}",
                args.timeout,
                p.closed,
                p.total,
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// What the demo's bar says beside `landed 3/12`: what the rest are doing, and, under
/// `--chaos` (or once any happened), how many sessions crashed or hung and were restarted.
fn bar_words(p: &Progress, chaos: bool) -> String {
    let mut words = format!(
        "| working {} | queued {} | in review {}",
        p.working, p.queued, p.in_review
    );
    if chaos || p.restarts > 0 {
        words.push_str(&format!(" | restarts {}", p.restarts));
    }
    words
}

fn list(c: &mut Client, filter: ListRequest) -> Result<Vec<Bead>> {
    match client::call(c, TownRequest::Bead(BeadRequest::List(filter)))? {
        TownReply::Bead(BeadOutcome::Listed(beads)) => Ok(beads),
        _ => bail!("the supervisor did not answer `bead list`: restart `gastown run`"),
    }
}

fn list_args(issue_type: Option<&str>, status: Option<&str>) -> ListRequest {
    ListRequest {
        status: status.map(str::to_string),
        issue_type: issue_type.map(str::to_string),
        assignee: None,
        label: None,
        all: true,
    }
}

/// The demo's work items.
fn is_item(bead: &Bead) -> bool {
    bead.title.starts_with("Add item")
}

fn bead_ids(c: &mut Client) -> Result<Vec<String>> {
    let tasks = list(c, list_args(Some("task"), Some("open")))?;
    Ok(tasks.into_iter().filter(is_item).map(|b| b.id).collect())
}

#[derive(Debug, Default)]
struct Progress {
    total: usize,
    closed: usize,
    working: usize,
    queued: usize,
    in_review: usize,
    restarts: u64,
    convoy_closed: bool,
}

/// Session restarts seen so far. A merged polecat's role is stopped and its counters go with
/// it, and a reused name starts a new role from zero: the demo keeps the last count it saw of
/// every session path, and banks it when the path's count starts over.
#[derive(Debug, Default)]
struct Restarts {
    /// The last count seen per session path.
    last: std::collections::HashMap<String, u64>,
    /// Counts of earlier incarnations of a path.
    banked: u64,
}

impl Restarts {
    /// Take in the tree's counters; the total of every session ever seen.
    fn update(&mut self, node: &ActorNode) -> u64 {
        self.visit(node);
        self.total()
    }

    fn total(&self) -> u64 {
        self.banked + self.last.values().sum::<u64>()
    }

    fn visit(&mut self, node: &ActorNode) {
        if node.role == "session" {
            let last = self.last.entry(node.path.clone()).or_default();
            if node.restarts_total < *last {
                self.banked += *last;
            }
            *last = node.restarts_total;
        }
        for child in &node.children {
            self.visit(child);
        }
    }
}

fn progress(c: &mut Client, seen: &mut Restarts) -> Result<Progress> {
    let tasks: Vec<Bead> = list(c, list_args(Some("task"), None))?
        .into_iter()
        .filter(is_item)
        .collect();
    let count = |status: Status| tasks.iter().filter(|b| b.status == status).count();
    let convoys = list(c, list_args(Some("convoy"), None))?;
    let restarts = match client::call(c, TownRequest::Actors)? {
        TownReply::Tree(tree) => seen.update(&tree),
        _ => seen.total(),
    };
    Ok(Progress {
        total: tasks.len(),
        closed: count(Status::Closed),
        working: count(Status::Hooked),
        queued: tasks
            .iter()
            .filter(|b| {
                b.status == Status::Open && b.labels.iter().any(|l| l.contains("dispatch:"))
            })
            .count(),
        in_review: count(Status::InProgress),
        restarts,
        convoy_closed: convoys
            .iter()
            .any(|cv| cv.title.starts_with("Demo:") && cv.status == Status::Closed),
    })
}

fn summary(c: &mut Client, town: &Town, p: &Progress, start: Instant) -> Result<()> {
    let bare = town.root.join("sample").join(".repo.git");
    let git = |args: &[&str]| -> String {
        Command::new("git")
            .arg("-C")
            .arg(&bare)
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let commits = git(&["rev-list", "--count", "main"])
        .trim()
        .parse::<usize>()
        .unwrap_or(0);
    let trailers = git(&["log", "main", "--format=%B"])
        .matches("Gastown-MR:")
        .count();
    let mails = list(c, list_args(Some("message"), None))?.len();
    let mut out = std::io::stdout().lock();
    writeln!(out, "Convoy landed.")?;
    writeln!(out, "  beads merged:     {}/{}", p.closed, p.total)?;
    writeln!(
        out,
        "  merge trailers:   {trailers} (each bead merged exactly once)"
    )?;
    writeln!(out, "  commits on main:  {commits}")?;
    writeln!(out, "  mails sent:       {mails}")?;
    writeln!(out, "  session restarts: {}", p.restarts)?;
    writeln!(
        out,
        "  wall time:        {:.1}s",
        start.elapsed().as_secs_f64()
    )?;
    if trailers != p.total {
        bail!(
            "{trailers} merge trailers for {} beads: a bead merged other than once",
            p.total
        );
    }
    Ok(())
}

/// A temp dir removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("gastown-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str, role: &str, restarts: u64, children: Vec<ActorNode>) -> ActorNode {
        ActorNode {
            path: path.to_string(),
            role: role.to_string(),
            kind: String::new(),
            state: "running".to_string(),
            pid: None,
            uptime_ms: None,
            restarts_total: restarts,
            restarts_recent: 0,
            last_failure: None,
            mailbox_depth: None,
            strategy: None,
            children,
            note: None,
        }
    }

    fn town(sessions: &[(&str, u64)]) -> ActorNode {
        let roles = sessions
            .iter()
            .map(|(name, n)| {
                let role = format!("town/rigs/sample/polecats/{name}");
                let session = node(&format!("{role}/session"), "session", *n, vec![]);
                node(&role, "polecat", 0, vec![session])
            })
            .collect();
        node("town", "town", 0, roles)
    }

    #[test]
    fn the_watch_commands_name_the_town_as_one_shell_word() {
        let said = watch_commands(Path::new("/tmp/my demo/town"));
        for command in ["status", "feed", "dashboard"] {
            assert!(
                said.contains(&format!("gastown --town '/tmp/my demo/town' {command}")),
                "{said}"
            );
        }
        assert_eq!(shell_word("/tmp/d/town"), "/tmp/d/town");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_bar_says_what_the_rest_do_and_restarts_under_chaos() {
        let mut p = Progress {
            total: 12,
            closed: 3,
            working: 4,
            queued: 2,
            in_review: 1,
            ..Progress::default()
        };
        assert_eq!(bar_words(&p, false), "| working 4 | queued 2 | in review 1");
        assert_eq!(
            bar_words(&p, true),
            "| working 4 | queued 2 | in review 1 | restarts 0"
        );
        p.restarts = 2;
        assert!(bar_words(&p, false).ends_with("| restarts 2"));
    }

    #[test]
    fn restarts_of_a_role_stopped_after_its_merge_still_count() {
        let mut seen = Restarts::default();
        assert_eq!(seen.update(&town(&[("nux", 1), ("slit", 0)])), 1);
        assert_eq!(seen.update(&town(&[("nux", 2), ("slit", 1)])), 3);
        // nux merged: its role was stopped and left the tree with its counters.
        assert_eq!(seen.update(&town(&[("slit", 1)])), 3);
        // A new nux (a reused name) starts from zero: the old count stays, new ones add to it.
        assert_eq!(seen.update(&town(&[("nux", 0), ("slit", 1)])), 3);
        assert_eq!(seen.update(&town(&[("nux", 1), ("slit", 1)])), 4);
    }
}
