//! `gastown bench …`: the supervisor's performance figures, measured on real processes.
//!
//! - `socket`: the socket round trip from an in-process client, and a whole `gastown` CLI call
//!   (process start, connect, handshake, request) against a running supervisor;
//! - `sessions --count N`: N sim sessions under one `gastown run`: the supervisor's RSS and its
//!   idle CPU over a window;
//! - `restart --rounds N`: crash of a session (SIGKILL) → a new session back at its prompt;
//! - `mail --clients N --mails M [--to a,b] [--running <town>]`: durable mails through the socket
//!   from N connections at once; client `i`'s `n`th mail has subject `bench i/n` and goes to the
//!   `(i + n) mod len`th address of `--to`, so a test can check every one arrived exactly once.
//!
//! Each sub-benchmark makes a throw-away town (or, for `mail --running`, uses a running one), starts `gastown run` as a child process and stops
//! it with SIGTERM at the end. Figures go to stdout; `docs/benchmarks.md` records them.

use crate::client;
use crate::protocol::{ActorNode, TownReply, TownRequest};
use crate::socket::Client;
use anyhow::{Context, Result, bail};
use gastown_town::town::{self, InstallOptions, Town};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Socket round trip in-process, and a whole CLI call.
    Socket {
        /// Round trips to time.
        #[arg(long, default_value = "2000")]
        iterations: usize,
    },
    /// Many sim sessions under one supervisor: RSS and idle CPU.
    Sessions {
        /// Sim sessions to start.
        #[arg(long, default_value = "200")]
        count: usize,
        /// How long to watch idle CPU.
        #[arg(long, default_value = "10s")]
        window: humantime::Duration,
    },
    /// Durable mail through the socket from many clients at once (group commit).
    Mail {
        /// Socket clients sending at once.
        #[arg(long, default_value = "16")]
        clients: usize,
        /// Mails in all.
        #[arg(long, default_value = "20000")]
        mails: usize,
        /// Recipients, taken in turn.
        #[arg(long, value_delimiter = ',', default_value = "mayor")]
        to: Vec<String>,
        /// Send to the supervisor already running for this town instead of a throw-away one.
        #[arg(long, value_name = "TOWN")]
        running: Option<std::path::PathBuf>,
    },
    /// The event stream: `mail send` and `bead create` latency with no subscriber, then with
    /// one that stopped reading after a flood of events, and with many reading at once.
    Events {
        /// Operations of each kind timed in each phase.
        #[arg(long, default_value = "300")]
        ops: usize,
        /// Events flooded at the stalled subscriber before the second phase.
        #[arg(long, default_value = "5000")]
        flood: usize,
        /// Reading subscribers in the third phase.
        #[arg(long, default_value = "100")]
        readers: usize,
    },
    /// Crash → new session back at its prompt.
    Restart {
        /// Crashes to time.
        #[arg(long, default_value = "30")]
        rounds: usize,
    },
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Socket { iterations } => socket(iterations),
        BenchCommand::Sessions { count, window } => sessions(count, window.into()),
        BenchCommand::Restart { rounds } => restart(rounds),
        BenchCommand::Mail {
            clients,
            mails,
            to,
            running,
        } => mail(clients, mails, &to, running.as_deref()),
        BenchCommand::Events {
            ops,
            flood,
            readers,
        } => events(ops, flood, readers),
    }
}

/// What `gastown bench events` times through the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `mail send` (a `mail.sent` event each).
    MailSend,
    /// `bead create` (a `bead.created` event each).
    BeadCreate,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::MailSend => "mail send",
            Op::BeadCreate => "bead create",
        }
    }

    fn request(self, tag: &str, n: usize) -> TownRequest {
        use gastown_town::command::bead::{BeadRequest, CreateRequest};
        use gastown_town::command::mail::{MailRequest, SendRequest};
        match self {
            Op::MailSend => TownRequest::Mail(MailRequest::Send(SendRequest {
                address: "mayor".to_string(),
                subject: format!("{tag} {n}"),
                message: Some("x".to_string()),
                urgent: false,
                reply_to: None,
            })),
            Op::BeadCreate => TownRequest::Bead(BeadRequest::Create(CreateRequest {
                title: format!("{tag} {n}"),
                issue_type: "task".to_string(),
                priority: "2".to_string(),
                description: String::new(),
                design: String::new(),
                acceptance: String::new(),
                notes: String::new(),
                assignee: String::new(),
                labels: Vec::new(),
                deps: Vec::new(),
                parent: None,
                rig: None,
            })),
        }
    }
}

/// Median and 99th percentile of `ops` durable `op`s, one after the other.
fn latency(c: &mut Client, op: Op, ops: usize, tag: &str) -> Result<(Duration, Duration)> {
    let mut times = Vec::with_capacity(ops);
    for n in 0..ops.max(1) {
        let request = op.request(tag, n);
        let start = Instant::now();
        client::call(c, request)?;
        times.push(start.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Ok((at(0.5), at(0.99)))
}

/// Both timed operations' figures in one line.
fn phase(c: &mut Client, ops: usize, tag: &str, what: &str) -> Result<()> {
    for op in [Op::MailSend, Op::BeadCreate] {
        let (median, p99) = latency(c, op, ops, tag)?;
        crate::output::line(format!(
            "{:<11} {what}: median {median:?}, p99 {p99:?} ({ops} ops)",
            op.name()
        ))?;
    }
    Ok(())
}

/// `gastown bench events`: what a subscriber costs the town, for `mail send` and `bead create`.
fn events(ops: usize, flood: usize, readers: usize) -> Result<()> {
    let sup = Supervised::start()?;
    let mut c = sup.client()?;
    phase(&mut c, ops, "quiet", "no subscriber")?;
    // A subscriber that never reads, then a flood far past its socket buffer and the bus's.
    let _stalled = client::subscribe(&sup.town, crate::protocol::EventFilter::default())?;
    let start = Instant::now();
    let _ = latency(&mut c, Op::MailSend, flood, "flood")?;
    let flooded = start.elapsed();
    crate::output::line(format!(
        "(one subscriber stalled, then {flood} mails flooded at it in {flooded:?})"
    ))?;
    phase(&mut c, ops, "stalled", "one subscriber stalled")?;
    // Many reading at once, each on its own thread.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut threads = Vec::new();
    for _ in 0..readers {
        let mut stream = client::subscribe(&sup.town, crate::protocol::EventFilter::default())?;
        let stop = std::sync::Arc::clone(&stop);
        threads.push(std::thread::spawn(move || {
            let mut seen = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match stream.next() {
                    Ok(Some(batch)) => seen += batch.len(),
                    _ => break,
                }
            }
            seen
        }));
    }
    phase(
        &mut c,
        ops,
        "readers",
        &format!("{readers} subscribers reading (and one stalled)"),
    )?;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    // One more event wakes every reader so it sees the stop.
    let _ = latency(&mut c, Op::MailSend, 1, "stop")?;
    let seen: usize = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    crate::output::line(format!(
        "the {readers} readers saw {seen} events in all ({} ops each)",
        2 * ops + 1
    ))?;
    Ok(())
}

/// A throw-away town with `gastown run` up.
struct Supervised {
    _dir: tempfile_dir::TempDir,
    town: Town,
    child: Child,
}

mod tempfile_dir {
    //! A temp dir removed on drop (the binary has no tempfile dependency).
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> std::io::Result<TempDir> {
            let path = std::env::temp_dir().join(format!(
                "gastown-bench-{}-{}",
                std::process::id(),
                super::now_nanos()
            ));
            std::fs::create_dir_all(&path)?;
            Ok(TempDir(path))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl Supervised {
    fn start() -> Result<Supervised> {
        let dir = tempfile_dir::TempDir::new().context("cannot make a temp dir")?;
        let root = dir.path().join("town");
        let town = town::install(
            &root,
            &InstallOptions {
                prefix: "gt".to_string(),
                name: Some("bench".to_string()),
                agent: gastown_town::town::DefaultAgent::Named("sim".to_string()),
            },
        )?;
        add_bench_rig(&town, &dir.path().join("source"))?;
        let child = Command::new(std::env::current_exe()?)
            .arg("--town")
            .arg(&town.root)
            .arg("run")
            .env("GASTOWN_LOG", "warn")
            // The mail bench opens up to hundreds of connections from this one process.
            .env("GASTOWN_SOCKET_PER_PEER", "256")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start gastown run")?;
        let sup = Supervised {
            _dir: dir,
            town,
            child,
        };
        wait_until(Duration::from_secs(30), || {
            Ok(client::connect(&sup.town)?.is_some())
        })?;
        Ok(sup)
    }

    fn client(&self) -> Result<Client> {
        client::require(&self.town)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// The rig `bench` whose crew the benchmarks spawn (agents are spawned only into rigs that
/// exist), from a one-commit source repository at `source`.
fn add_bench_rig(town: &Town, source: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(source)?;
    std::fs::write(source.join("README.md"), "# bench\n")?;
    gastown_town::git_cli::git(source, &["init", "--quiet", "--initial-branch=main"])?;
    gastown_town::git_cli::commit_all(source, "bench source")?;
    gastown_town::rig::add_rig(
        town,
        &gastown_town::rig::AddOptions {
            name: "bench".to_string(),
            source: source.to_string_lossy().into_owned(),
            branch: None,
            runtime: None,
            prefix: None,
            // The benchmarks measure the town, not pushes to the source (a checked-out repo).
            no_push: true,
        },
    )?;
    Ok(())
}

/// Make the crew clones the spawned sims work in beforehand, so the figures are the sessions'.
fn prepare_crew(town: &Town, names: impl IntoIterator<Item = String>) -> Result<()> {
    let rig = gastown_town::rig::Rig::load(town, "bench")?;
    for name in names {
        gastown_town::rig::ensure_crew_clone(&rig, &name)?;
    }
    Ok(())
}

fn wait_until(limit: Duration, mut check: impl FnMut() -> Result<bool>) -> Result<()> {
    let start = Instant::now();
    while !check()? {
        if start.elapsed() > limit {
            bail!("timed out after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn socket(iterations: usize) -> Result<()> {
    let rt =
        crate::socket::bench::bench_round_trip(iterations).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::output::line(format!(
        "socket round trip (in-process client, {} pings): median {:?}, p99 {:?}, min {:?}; connect+handshake+ping median {:?}",
        rt.iterations, rt.median, rt.p99, rt.min, rt.connect_ping_median
    ))?;
    let sup = Supervised::start()?;
    let exe = std::env::current_exe()?;
    let mut times = Vec::new();
    for _ in 0..100 {
        let start = Instant::now();
        let out = Command::new(&exe)
            .arg("--town")
            .arg(&sup.town.root)
            .args(["bead", "list", "--json"])
            .output()?;
        times.push(start.elapsed());
        if !out.status.success() {
            bail!(
                "gastown bead list failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    crate::output::line(format!(
        "whole CLI call through the supervisor (`gastown bead list --json`, process start included, 100 runs): median {:?}",
        median(times)
    ))?;
    Ok(())
}

fn spawn_sims(c: &mut Client, count: usize, extra: &[(String, String)]) -> Result<()> {
    for i in 0..count {
        client::call(
            c,
            TownRequest::Spawn {
                address: format!("bench/crew/s{i}"),
                runtime: Some("sim".to_string()),
                env: extra.to_vec(),
            },
        )?;
    }
    Ok(())
}

fn running_sessions(c: &mut Client) -> Result<usize> {
    fn count(node: &ActorNode) -> usize {
        let own = usize::from(node.role == "session" && node.state == "running");
        own + node.children.iter().map(count).sum::<usize>()
    }
    Ok(count(&tree(c)?))
}

/// The live tree.
fn tree(c: &mut Client) -> Result<ActorNode> {
    match client::call(c, TownRequest::Actors)? {
        TownReply::Tree(tree) => Ok(tree),
        _ => bail!("the supervisor did not answer with its tree: restart `gastown run`"),
    }
}

/// Resident set of a process, in KiB, and its CPU ticks (user + system).
fn proc_stats(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit(')').next().context("bad stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = fields
        .get(11)
        .and_then(|u| u.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
    Ok((rss, ticks))
}

fn sessions(count: usize, window: Duration) -> Result<()> {
    let sup = Supervised::start()?;
    let mut c = sup.client()?;
    prepare_crew(&sup.town, (0..count).map(|i| format!("s{i}")))?;
    let (rss0, _) = proc_stats(sup.pid())?;
    let start = Instant::now();
    // Heartbeats off: they are the agents' doing, not the supervisor's idle cost.
    spawn_sims(
        &mut c,
        count,
        &[("GASTOWN_SIM_HEARTBEAT".into(), "0s".into())],
    )?;
    wait_until(Duration::from_secs(120), || {
        Ok(running_sessions(&mut c)? == count)
    })?;
    crate::output::line(format!("{count} sim sessions up in {:?}", start.elapsed()))?;
    std::thread::sleep(Duration::from_secs(2));
    let (rss1, t0) = proc_stats(sup.pid())?;
    std::thread::sleep(window);
    let (_, t1) = proc_stats(sup.pid())?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu = (t1 - t0) as f64 / hz / window.as_secs_f64() * 100.0;
    crate::output::line(format!(
        "supervisor RSS: {} MiB with {count} sessions ({} MiB before spawning); idle CPU over {:?}: {cpu:.2}% of one core",
        rss1 / 1024,
        rss0 / 1024,
        window
    ))?;
    Ok(())
}

fn session_pid(c: &mut Client, path: &str) -> Result<Option<u64>> {
    Ok(find_pid(&tree(c)?, path))
}

fn find_pid(node: &ActorNode, path: &str) -> Option<u64> {
    if node.path == path {
        return node.pid.map(u64::from);
    }
    node.children.iter().find_map(|c| find_pid(c, path))
}

/// `clients` threads, each with its own socket connection, send `mails` mails in all; every
/// reply comes after the mail is durable in the ledger.
fn mail(
    clients: usize,
    mails: usize,
    to: &[String],
    running: Option<&std::path::Path>,
) -> Result<()> {
    use gastown_town::command::mail::{MailRequest, SendRequest};
    if to.is_empty() {
        bail!("--to needs at least one address");
    }
    let (_sup, town) = match running {
        Some(root) => (None, Town::load(root)?),
        None => {
            let sup = Supervised::start()?;
            let town = sup.town.clone();
            (Some(sup), town)
        }
    };
    let clients = clients.max(1);
    let per_client = mails.div_ceil(clients);
    // Every connection first, so that the clock measures mail, not handshakes.
    let connections = (0..clients)
        .map(|_| client::require(&town))
        .collect::<Result<Vec<Client>>>()
        .with_context(|| {
            format!(
                "cannot open {clients} connections from this one process: the supervisor allows 32 per process unless started with GASTOWN_SOCKET_PER_PEER (e.g. GASTOWN_SOCKET_PER_PEER={} gastown run)",
                clients.min(256)
            )
        })?;
    let start = Instant::now();
    let threads: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            let to = to.to_vec();
            std::thread::spawn(move || -> Result<usize> {
                for n in 0..per_client {
                    let send = MailRequest::Send(SendRequest {
                        address: to[(i + n) % to.len()].clone(),
                        subject: format!("bench {i}/{n}"),
                        message: Some("x".to_string()),
                        urgent: false,
                        reply_to: None,
                    });
                    client::call(&mut c, TownRequest::Mail(send))?;
                }
                Ok(per_client)
            })
        })
        .collect();
    let mut sent = 0;
    for t in threads {
        sent += t
            .join()
            .map_err(|_| anyhow::anyhow!("a sender panicked"))??;
    }
    let elapsed = start.elapsed();
    crate::output::line(format!(
        "{sent} durable mails from {clients} socket clients in {elapsed:?}: {:.0} mails/s",
        sent as f64 / elapsed.as_secs_f64()
    ))?;
    // Each group of mails waits for one fsync: the figure depends on the disk, so say how fast
    // it is right now.
    crate::output::line(format!(
        "the disk under the ledger: one 4 KiB write + fdatasync, median of 50: {:?}",
        fsync_floor(&town.runtime_dir())?
    ))?;
    Ok(())
}

/// Median time of a 4 KiB write + `fdatasync` in `dir` (the floor of one durable commit).
fn fsync_floor(dir: &std::path::Path) -> Result<Duration> {
    use std::io::Write;
    let path = dir.join(format!("fsync-probe-{}", std::process::id()));
    let mut file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let block = [0u8; 4096];
    let mut times = Vec::new();
    for _ in 0..50 {
        let start = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        times.push(start.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(median(times))
}

/// Each round crashes a fresh, healthy agent once: the figure is the cost of a restart, not of
fn restart(rounds: usize) -> Result<()> {
    let sup = Supervised::start()?;
    let mut c = sup.client()?;
    let quiet = [("GASTOWN_SIM_HEARTBEAT".to_string(), "0s".to_string())];
    prepare_crew(&sup.town, (0..rounds).map(|r| format!("r{r}")))?;
    let mut times = Vec::new();
    for round in 0..rounds {
        let agent = format!("bench/crew/r{round}");
        client::call(
            &mut c,
            TownRequest::Spawn {
                address: agent.clone(),
                runtime: Some("sim".to_string()),
                env: quiet.to_vec(),
            },
        )?;
        let identity = gastown_town::identity::AgentIdentity::parse(&agent)?;
        let path = format!("{}/session", gastown_town::names::tree_path(&identity));
        let mut old = None;
        wait_until(Duration::from_secs(30), || {
            old = session_pid(&mut c, &path)?;
            Ok(old.is_some() && at_prompt(&mut c, &agent))
        })?;
        let old = old.context("a session pid")?;
        let start = Instant::now();
        // SAFETY: killing the agent process group the bench started.
        unsafe { libc::kill(-(old as i32), libc::SIGKILL) };
        wait_until(Duration::from_secs(30), || {
            let now = session_pid(&mut c, &path)?;
            Ok(now.is_some() && now != Some(old) && at_prompt(&mut c, &agent))
        })?;
        times.push(start.elapsed());
    }
    crate::output::line(format!(
        "crash (SIGKILL) -> new session at its prompt, {rounds} rounds: median {:?}, min {:?}",
        median(times.clone()),
        times.iter().min().copied().unwrap_or_default()
    ))?;
    Ok(())
}

fn at_prompt(c: &mut Client, agent: &str) -> bool {
    matches!(
        client::call(c, TownRequest::Peek { agent: agent.to_string(), lines: Some(2) }),
        Ok(TownReply::Screen { text, .. }) if text.contains("sim>")
    )
}
