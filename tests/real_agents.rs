//! The real agent CLIs — Claude Code and Codex, from npm — driven through `gastown run` against
//! a scripted model on loopback (`support/fake_model`): a polecat is slung a bead, primes, edits,
//! commits, runs `gastown done`, and the refinery lands the work on the rig's origin; it takes a
//! nudge as a turn; killed mid-turn, its next session resumes the hook and lands; a human's
//! conflicting push to origin sends its work back (REWORK), and its next session reads why,
//! rebases resolving the conflict and lands both changes; `gastown handoff` gives the hook and
//! the note to a fresh session, which lands; behind a dialog nobody may answer, it is shown
//! blocked and escalated; `gastown seance` resumes an ended session by the runtime's own id;
//! mail to an idle, a busy (Claude Code: held for its hook; Codex: told once the turn is over)
//! and, urgent, an idle crew member arrives as turns; Codex without an API key is blocked at its
//! login (and `config agent check` says so); the model's 429s (a gate on the CLI's API key) put the runtime at its usage
//! limit, nothing is typed into the session until the reset, and then it starts afresh and
//! lands. Each scenario runs under both CLIs unless it is about a Claude Code hook or dialog.
//!
//! Run them alone with `cargo test --test real_agents` (the 18 take about two and a half minutes once built,
//! two at a time on two cores; each is a few seconds to a minute alone). They need the CLIs in
//! the agent cache (`support/agent_clis.rs`: installed with npm when missing; skipped, saying
//! why, when that cannot be done — failed instead under `GASTOWN_REQUIRE_AGENTS=1`, as in CI).
//! As root each test runs in its own network namespace.

#[allow(dead_code)]
#[path = "support/agent_clis.rs"]
mod agent_clis;
#[allow(dead_code)]
#[path = "support/fake_model/mod.rs"]
mod fake_model;
#[allow(dead_code)]
#[path = "integration/running.rs"]
mod running;
#[allow(dead_code)]
#[path = "integration/util.rs"]
mod util;

use fake_model::{Caller, Conversation, FakeModel, Gate, RateLimited, Reply, Script};
use running::RunningTown;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use util::{TestTown, git_in};

/// How long a whole polecat cycle may take (CLI start, a handful of turns, the refinery).
const CYCLE: Duration = Duration::from_secs(150);

/// The bead every test slings.
const TITLE: &str = "Add a greeting file";

/// The polecat every test uses.
const POLECAT: &str = "alpha/polecats/nux";

/// The crew member the nudge tests use.
const CREW: &str = "alpha/crew/max";

/// What the polecat's work writes to `greeting.txt`.
const GREETING: &str = "hello from the polecat\n";

/// The command that does the work: edit, commit, and show the commit.
const WORK: &str = "printf 'hello from the polecat\\n' > greeting.txt && git add greeting.txt \
                    && git commit -q -m 'Add a greeting file' && git log --oneline -1";

/// The API keys the CLIs send the model.
const CLAUDE_KEY: &str = "sk-ant-test-0123456789abcdefghijklmnop";
const CODEX_KEY: &str = "sk-test-0123456789";

/// What a nudge asks and how the script answers it.
const NUDGE: &str = "PING-7f3a: say pong";
const PONG: &str = "PONG-7f3a";

/// The polecat's script, deciding each step from what the last command printed:
/// - a nudge (the conversation ends with the user saying PING-…) is answered with PONG-…;
/// - nothing run yet: prime (`gastown prime`: role, hook, mail);
/// - prime shows the bead on the hook: do the work (edit, commit); an empty hook: say so and stop;
/// - the commit is made (or there was nothing left to commit, on a resumed session): `gastown
///   done`; it failed: stop and say why;
/// - `gastown done` ran: say so and stop.
///
/// `hang_once`: the first time the work would start, run a command that never ends instead (a
/// turn in flight, for `gastown kill`).
fn polecat_script(hang_once: Option<Arc<AtomicBool>>) -> Script {
    Arc::new(move |conversation: &Conversation| {
        if conversation.aux {
            return Reply::Text(r#"{"title":"Greeting file"}"#.to_string());
        }
        if conversation
            .new_user_text()
            .is_some_and(|t| t.contains("PING-7f3a"))
        {
            return Reply::Text(PONG.to_string());
        }
        let Some((command, output)) = conversation.last_call() else {
            return Reply::Shell("gastown prime".to_string());
        };
        if command == "gastown prime" {
            if !output.contains(TITLE) {
                return Reply::Text(format!("My hook is empty: {output}"));
            }
            if let Some(hang) = &hang_once
                && !hang.swap(true, Ordering::SeqCst)
            {
                return Reply::Shell("echo working on it; sleep 600".to_string());
            }
            return Reply::Shell(WORK.to_string());
        }
        if command == WORK {
            let committed = output.contains("Add a greeting file")
                || output.contains("nothing to commit")
                || output.contains("nothing added to commit");
            return if committed {
                Reply::Shell("gastown done".to_string())
            } else {
                Reply::Text(format!("The commit failed: {output}"))
            };
        }
        if command == "gastown done" {
            return Reply::Text(format!("Done: {output}"));
        }
        Reply::Text("Nothing more to do.".to_string())
    })
}

/// A real CLI's town: a rig `alpha` on a fresh origin, `gastown run` up with the CLIs on PATH
/// and their state in the test's directory.
struct AgentTown {
    running: RunningTown,
    origin: PathBuf,
    model: FakeModel,
    /// The environment `gastown run` was started with (a user's shell).
    env: Vec<(String, String)>,
}

/// Which CLI a test runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cli {
    Claude,
    Codex,
}

impl Cli {
    fn runtime(self) -> &'static str {
        match self {
            Cli::Claude => "claude",
            Cli::Codex => "codex",
        }
    }
}

/// Point the town's `codex` at the fake model the way a user would point it at a proxy: by
/// command (`gastown config agent set codex --args …`), the preset's arguments kept and Codex's
/// `openai_base_url` added (Codex 0.171 reads no base-URL variable). Nothing else of Codex is
/// written by hand: it is logged in with `OPENAI_API_KEY` from the environment by gastown's
/// clean start, as a new user's would be.
fn point_codex_at(town: &TestTown, model: &FakeModel) {
    let listed: serde_json::Value =
        serde_json::from_str(&town.ok(&["config", "agent", "list", "--json"])).expect("JSON");
    let codex = listed
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["name"] == "codex")
        .unwrap_or_else(|| panic!("codex among the runtimes: {listed}"));
    // `command`: the program, then its arguments.
    let mut args: Vec<String> = codex["command"]
        .as_array()
        .unwrap_or_else(|| panic!("codex's command: {codex}"))
        .iter()
        .skip(1)
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    args.push("-c".to_string());
    args.push(format!("openai_base_url=\"{}/v1\"", model.url()));
    town.ok(&[
        "config",
        "agent",
        "set",
        "codex",
        "--args",
        &shell_words::join(&args),
    ]);
}

impl AgentTown {
    fn start(cli: Cli, bin: &Path, script: Script) -> AgentTown {
        AgentTown::start_with(cli, bin, script, |_, _| {})
    }

    /// [`AgentTown::start`], with `before` given the town and Claude Code's config dir to write
    /// into first.
    fn start_with(
        cli: Cli,
        bin: &Path,
        script: Script,
        before: impl FnOnce(&TestTown, &Path),
    ) -> AgentTown {
        AgentTown::start_gated(cli, bin, FakeModel::start(script), &[], before)
    }

    /// [`AgentTown::start_with`] against `model` (a gated one, say), with `extra` added to the
    /// supervisor's environment (so to every session's).
    fn start_gated(
        cli: Cli,
        bin: &Path,
        model: FakeModel,
        extra: &[(&str, &str)],
        before: impl FnOnce(&TestTown, &Path),
    ) -> AgentTown {
        let town = util::town_with_rig();
        let scratch = town
            .root
            .parent()
            .expect("the test directory")
            .to_path_buf();
        let origin = scratch.join("source");
        let home = scratch.join("home");
        let claude = scratch.join("claude-config");
        let codex = scratch.join("codex-home");
        for dir in [&home, &claude, &codex] {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        point_codex_at(&town, &model);
        before(&town, &claude);
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let (home, claude, codex) = (s(&home), s(&claude), s(&codex));
        let url = model.url();
        let mut env: Vec<(&str, &str)> = vec![
            ("PATH", &path),
            // Nothing of the developer's: the CLIs' state lives in the test's directory.
            ("HOME", &home),
            ("CLAUDE_CONFIG_DIR", &claude),
            ("CODEX_HOME", &codex),
            ("GIT_AUTHOR_NAME", "polecat"),
            ("GIT_AUTHOR_EMAIL", "polecat@localhost"),
            ("GIT_COMMITTER_NAME", "polecat"),
            ("GIT_COMMITTER_EMAIL", "polecat@localhost"),
            ("ANTHROPIC_BASE_URL", &url),
            ("ANTHROPIC_API_KEY", CLAUDE_KEY),
            ("OPENAI_API_KEY", CODEX_KEY),
            // No telemetry, update checks or other traffic but the model's.
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
            ("DISABLE_TELEMETRY", "1"),
            ("DISABLE_ERROR_REPORTING", "1"),
            // No IS_SANDBOX: gastown sets it for Claude Code's bypass flag when run as root.
        ];
        env.extend_from_slice(extra);
        let running = RunningTown::start_with_env(town, &env);
        let _ = cli;
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AgentTown {
            running,
            origin,
            model,
            env,
        }
    }

    fn town(&self) -> &TestTown {
        &self.running.town
    }

    /// Sling the bead to the polecat under `cli`; returns the bead id.
    fn sling(&self, cli: Cli) -> String {
        let bead = self.town().create(&[TITLE]);
        self.town().ok(&[
            "sling",
            &bead,
            POLECAT,
            "--runtime",
            cli.runtime(),
            "--no-formula",
        ]);
        bead
    }

    /// Wait until `check` holds for the model's log; after `limit`, fail with what the model
    /// saw, `who`'s screen and session state, and the supervisor's log.
    fn wait_model(
        &self,
        what: &str,
        who: &str,
        limit: Duration,
        check: impl Fn(&[fake_model::Logged]) -> bool,
    ) {
        if self.model.holds_within(limit, check) {
            return;
        }
        let session = format!("town/rigs/{who}/session");
        panic!(
            "timed out after {limit:?} waiting for {what}; the model saw:\n{}\n{who}'s screen:\n{}\n\
             its session: {:?}\nthe supervisor:\n{}",
            self.model.transcript(),
            util::stdout(&self.town().run(&["peek", who])),
            self.running.node(&session).map(|n| n["state"].clone()),
            tail(&self.running.log(), 60)
        );
    }

    /// Wait until the greeting is on origin's main, then check it is there once.
    fn wait_landed(&self) {
        self.wait_landed_as(GREETING, CYCLE);
    }

    /// Wait until the ledger says `bead` is closed. The refinery pushes first and closes the
    /// bead after, so the landing is seen on origin a moment before the ledger says closed.
    fn wait_closed(&self, bead: &str) {
        running::wait_for(&format!("{bead} closed"), Duration::from_secs(30), || {
            let now: serde_json::Value =
                serde_json::from_str(&self.town().ok(&["bead", "show", bead, "--json"])).ok()?;
            (now["status"] == "closed").then_some(())
        });
    }

    /// Wait (up to `limit`) until the polecat's commit is on origin's main, then check it is
    /// there once and that origin's greeting reads `greeting`.
    fn wait_landed_as(&self, greeting: &str, limit: Duration) {
        let origin = self.origin.clone();
        let landed = || git_in(&origin, &["log", "main", "--format=%s"]);
        let peek = || util::stdout(&self.town().run(&["peek", POLECAT]));
        let start = std::time::Instant::now();
        while !landed().contains(TITLE) {
            assert!(
                start.elapsed() < limit,
                "not landed after {limit:?}; origin:\n{}\nthe model saw:\n{}\nthe screen:\n{}\n\
                 the supervisor:\n{}",
                landed(),
                self.model.transcript(),
                peek(),
                tail(&self.running.log(), 60)
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        assert_eq!(
            std::fs::read_to_string(self.origin.join("greeting.txt")).expect("on origin"),
            greeting
        );
        let commits = landed().lines().filter(|s| *s == TITLE).count();
        assert_eq!(commits, 1, "the work is on origin once: {}", landed());
    }
}

/// Every shell command the model asked for, in order.
fn shell_calls(model: &FakeModel) -> Vec<String> {
    model
        .replies()
        .into_iter()
        .filter_map(|r| match r {
            Reply::Shell(command) => Some(command),
            Reply::Text(_) => None,
        })
        .collect()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `gastown costs` adds up exactly what the fake model reported (100 input and 20 output tokens
/// per answer) for every turn of the polecat: by agent, by rig, and by bead (the bead's own
/// turns up to `done`, the rest on the agent bead). Polled: the CLI writes its transcript's last
/// line a moment after the model answered.
fn costs_add_up(t: &AgentTown, bead: &str) {
    let costs = |by: &str| -> serde_json::Value {
        serde_json::from_str(&t.town().ok(&["costs", "--by", by, "--json"])).expect("costs --json")
    };
    let tokens = |group: &serde_json::Value| {
        (
            group["tokens"]["input"].as_u64().unwrap_or(0),
            group["tokens"]["output"].as_u64().unwrap_or(0),
        )
    };
    let group = |all: &serde_json::Value, key: &str| {
        all["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["key"] == key)
            .map(tokens)
    };
    let start = std::time::Instant::now();
    loop {
        let turns = t.model.turns().len() as u64;
        let expected = (100 * turns, 20 * turns);
        let by_agent = costs("agent");
        let agent = group(&by_agent, POLECAT);
        if agent == Some(expected) {
            assert_eq!(group(&costs("rig"), "alpha"), Some(expected), "by rig");
            let by_bead = costs("bead");
            let own = group(&by_bead, bead).expect("the bead has tokens");
            let rest = by_bead["groups"]
                .as_array()
                .expect("groups")
                .iter()
                .filter(|g| g["key"] != bead)
                .map(tokens)
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            assert!(
                own.0 > 0 && own.0 % 100 == 0,
                "whole turns on the bead: {by_bead}"
            );
            assert_eq!(
                (own.0 + rest.0, own.1 + rest.1),
                expected,
                "by bead: {by_bead}"
            );
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "costs by agent {agent:?}, expected {expected:?} for {turns} turns:\n{by_agent}\n{}",
            t.model.transcript()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The whole cycle with no human: the session starts clean (no dialog answered by hand), its
/// SessionStart hook or startup prompt gives it the hook, and the work lands.
fn cycle_lands(cli: Cli, test: &str) {
    let Some(bin) = agent_clis::agent_bin() else {
        return;
    };
    if agent_clis::ran_isolated(test) {
        return;
    }
    let t = AgentTown::start(cli, &bin, polecat_script(None));
    let bead = t.sling(cli);
    t.wait_landed();
    // What the model asked the CLI to run (the last call's result may still be on its way).
    let calls = shell_calls(&t.model);
    for expected in ["gastown prime", WORK, "gastown done"] {
        assert!(
            calls.iter().any(|c| c == expected),
            "{expected} ran: {}",
            t.model.transcript()
        );
    }
    let first = t.model.turns().into_iter().next().expect("a first turn");
    assert!(
        first.user_text().contains(&bead),
        "the first turn knows the hook: {}",
        first.user_text()
    );
    if cli == Cli::Claude {
        // The SessionStart hook ran `gastown prime` (by absolute path): its context reached
        // the model.
        assert!(
            first
                .user_text()
                .contains(&format!("# Gas Town: you are {POLECAT}")),
            "prime's context in the first turn: {}",
            first.user_text()
        );
    }
    t.wait_closed(&bead);
    if cli == Cli::Claude {
        costs_add_up(&t, &bead);
    }
    seance_resumes_the_ended_session(&t, cli);

    // A nudge to an idle agent (a crew member with nothing on its hook) is a turn of its own.
    t.town()
        .ok(&["agent", "spawn", CREW, "--runtime", cli.runtime()]);
    t.wait_model(
        "the crew member idle",
        CREW,
        Duration::from_secs(60),
        |log| {
            log.iter().any(|r| {
                r.conversation
                    .as_ref()
                    .is_some_and(|c| c.user_text().contains(CREW))
                    && matches!(&r.reply, Some(Reply::Text(t)) if t.starts_with("My hook is empty"))
            })
        },
    );
    t.town().ok(&["nudge", CREW, NUDGE]);
    t.wait_model(
        "the nudge as a turn",
        CREW,
        Duration::from_secs(60),
        |log| {
            log.iter()
                .any(|r| r.reply == Some(Reply::Text(PONG.to_string())))
        },
    );
}

/// After the landed polecat's session ended, `gastown seance` knows the runtime's own id of it
/// (Claude's from its SessionStart hook, Codex's from its session files) — the id the CLI keeps
/// that session's transcript under — and prints the command that resumes it.
fn seance_resumes_the_ended_session(t: &AgentTown, cli: Cli) {
    let last = running::wait_for(
        "the polecat's session ended, with its runtime session id",
        Duration::from_secs(60),
        || {
            let seance: serde_json::Value =
                serde_json::from_str(&t.town().ok(&["seance", POLECAT, "--json"])).ok()?;
            let last = seance["sessions"].as_array()?.last()?.clone();
            (last["ended_at"] != "-" && last["runtime_session"] != "-").then_some(last)
        },
    );
    let id = last["runtime_session"].as_str().unwrap_or_default();
    let scratch = t.town().root.parent().expect("the test directory");
    let transcripts = files_containing(scratch, id);
    assert!(
        transcripts
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "jsonl")),
        "the CLI keeps its session {id} in a transcript of that name: {last}"
    );
    // Merged: the polecat's worktree, where its sessions ran, is gone.
    let worktree = t.town().root.join("alpha/polecats/nux");
    running::wait_for(
        "the merged worktree removed",
        Duration::from_secs(30),
        || (!worktree.exists()).then_some(()),
    );
    // `gastown seance` in the shell `gastown run` was started from.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&t.town().root)
        .env_remove("GASTOWN_TOWN")
        .env_remove("GASTOWN_AGENT")
        .envs(t.env.iter().map(|(k, v)| (k, v)))
        .args(["seance", POLECAT])
        .output()
        .expect("gastown seance runs");
    let text = util::stdout(&out);
    let command = text
        .lines()
        .find_map(|l| l.strip_prefix("To talk to a predecessor: "))
        .unwrap_or_else(|| panic!("a resume command in:\n{text}"))
        .to_string();
    let (resume, config) = match cli {
        // By its transcript file: Claude looks an id up under the (removed) worktree's project.
        Cli::Claude => (format!("{id}.jsonl"), "CLAUDE_CONFIG_DIR="),
        Cli::Codex => (format!("codex resume {id}"), "CODEX_HOME="),
    };
    assert!(
        command.starts_with("cd ") && command.contains(&resume) && command.contains(config),
        "{resume} and {config} in: {command}"
    );
    resume_runs(t, cli, &command);
}

/// What the seance asks the resumed predecessor.
const SEANCE: &str = "SEANCE-4c1e: what did you do?";

/// Run the printed resume `command` (with a first prompt) in a real PTY — a session actor, as
/// a terminal would run it, the CLI's dialogs watched (a trust dialog for the directory it runs
/// in is answered, as a person would) — in the user's shell environment, and see the CLI take
/// up the ended conversation: a request to the model carries the predecessor's `gastown done`
/// and the new prompt.
fn resume_runs(t: &AgentTown, cli: Cli, command: &str) {
    use gastown_actors::session::{Session, SessionArgs, client};
    let line = format!("{command} {}", shell_words::quote(SEANCE));
    let preset = gastown_town::runtimes::spec::preset(cli.runtime()).expect("a preset");
    let mut args = SessionArgs::new("sh", &t.town().root);
    args.args = vec!["-c".to_string(), line];
    args.env = t.env.clone();
    args.dialogs = gastown_town::runtimes::dialogs::dialogs(&preset).to_vec();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (session, handle) = rt
        .block_on(ractor::Actor::spawn(None, Session, args))
        .expect("the command starts in a PTY");
    let resumed = t.model.holds_within(Duration::from_secs(90), |log| {
        log.iter().any(|r| {
            r.conversation.as_ref().is_some_and(|c| {
                !c.aux
                    && c.user_text().contains("SEANCE-4c1e")
                    && c.calls().contains(&"gastown done")
            })
        })
    });
    let screen = rt
        .block_on(client::peek(&session, None))
        .unwrap_or_default();
    let _ = rt.block_on(client::terminate(&session, Duration::from_secs(5)));
    let _ = rt.block_on(handle);
    assert!(
        resumed,
        "`{command}` resumed the conversation; the model saw:\n{}\nthe screen:\n{}",
        t.model.transcript(),
        tail(&screen, 40)
    );
}

/// Files under `dir` (symbolic links not followed) whose names contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                todo.push(entry.path());
            } else if kind.is_file() && entry.file_name().to_string_lossy().contains(needle) {
                found.push(entry.path());
            }
        }
    }
    found
}

/// Killed in the middle of a turn, the polecat's next session resumes its hook (GUPP) and lands.
fn killed_mid_turn_resumes_and_lands(cli: Cli, test: &str) {
    let Some(bin) = agent_clis::agent_bin() else {
        return;
    };
    if agent_clis::ran_isolated(test) {
        return;
    }
    let hung = Arc::new(AtomicBool::new(false));
    let t = AgentTown::start(cli, &bin, polecat_script(Some(Arc::clone(&hung))));
    t.sling(cli);
    t.model
        .wait_for("the turn in flight", Duration::from_secs(90), |log| {
            log.iter()
                .any(|r| matches!(&r.reply, Some(Reply::Shell(c)) if c.contains("sleep 600")))
        });
    t.town().ok(&["kill", POLECAT]);
    t.wait_landed();
    // Each session starts a conversation afresh: the killed one, and the one that landed.
    let fresh = t
        .model
        .turns()
        .iter()
        .filter(|c| c.user_text().contains(POLECAT) && c.calls().is_empty())
        .count();
    assert!(fresh >= 2, "a second session: {}", t.model.transcript());
}

/// What a human pushes to origin's `greeting.txt` while the polecat works: the same file, so
/// the polecat's branch no longer merges.
const HUMAN_GREETING: &str = "hello from a human\n";

/// The polecat's script for a merge conflict, on top of [`polecat_script`]:
/// - prime lists a REWORK mail among the unread (the refinery sent the work back): read it;
/// - the REWORK says `Rebase your branch onto <target>`: `git rebase <target>`;
/// - the rebase stops at `Merge conflict in <file>`: keep both sides — the target's version
///   first, then the polecat's own (`REBASE_HEAD`) — and continue the rebase;
/// - the rebase is done (the polecat's commit on top): `gastown done` again.
fn rework_script() -> Script {
    let base = polecat_script(None);
    Arc::new(move |conversation: &Conversation| {
        if conversation.aux {
            return base(conversation);
        }
        let Some((command, output)) = conversation.last_call() else {
            return base(conversation);
        };
        if command == "gastown prime" && output.contains(TITLE) {
            if let Some(id) = protocol_mail_in(output, "REWORK") {
                return Reply::Shell(format!("gastown mail read {id}"));
            }
            return base(conversation);
        }
        if command.starts_with("gastown mail read") {
            return match output
                .split("Rebase your branch onto ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
            {
                Some(target) => Reply::Shell(format!("git rebase {target}")),
                None => Reply::Text(format!(
                    "The REWORK says no target to rebase onto: {output}"
                )),
            };
        }
        if let Some(target) = command.strip_prefix("git rebase ") {
            let conflicted = output
                .split("Merge conflict in ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next());
            return match conflicted {
                Some(file) => Reply::Shell(format!(
                    "{{ git show {target}:{file}; git show REBASE_HEAD:{file}; }} > {file} \
                     && git add {file} && GIT_EDITOR=true git rebase --continue \
                     && git log --oneline -2"
                )),
                None if output.contains("Successfully rebased") => {
                    Reply::Shell("gastown done".to_string())
                }
                None => Reply::Text(format!("The rebase failed: {output}")),
            };
        }
        if command.contains("git rebase --continue") {
            return if output.contains(TITLE) {
                Reply::Shell("gastown done".to_string())
            } else {
                Reply::Text(format!("The rebase did not finish: {output}"))
            };
        }
        base(conversation)
    })
}

/// The id of the first unread protocol mail of `kind` (REWORK, HANDOFF) that `gastown prime`
/// lists (`- <id> from <sender>: <kind>`).
fn protocol_mail_in(prime: &str, kind: &str) -> Option<String> {
    prime.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix("- ")?;
        let (id, rest) = rest.split_once(" from ")?;
        (rest.trim_end().ends_with(&format!(": {kind}"))).then(|| id.to_string())
    })
}

/// A human changes the polecat's file on origin's main after the polecat's branch was cut, so
/// the refinery's merge conflicts: the work goes back to the polecat (REWORK), its next session
/// reads why, rebases onto the target resolving the conflict, runs `gastown done` again, and the
/// work lands on origin with both changes.
fn conflict_is_reworked_and_lands(cli: Cli, test: &str) {
    let Some(bin) = agent_clis::agent_bin() else {
        return;
    };
    if agent_clis::ran_isolated(test) {
        return;
    }
    let t = AgentTown::start(cli, &bin, rework_script());
    let bead = t.sling(cli);
    // The polecat's worktree is cut (the sling made it) and its session started: a human
    // pushes the same file to origin's main (a non-bare origin: a commit there is a push).
    std::fs::write(t.origin.join("greeting.txt"), HUMAN_GREETING).expect("the human's edit");
    git_in(&t.origin, &["add", "greeting.txt"]);
    git_in(&t.origin, &["commit", "-q", "-m", "A human's greeting"]);
    t.wait_landed_as(&format!("{HUMAN_GREETING}{GREETING}"), 2 * CYCLE);
    let calls = shell_calls(&t.model);
    let done = calls.iter().filter(|c| *c == "gastown done").count();
    assert!(
        done >= 2 && calls.iter().any(|c| c == "git rebase main"),
        "done, the REWORK read, a rebase onto main, done again: {calls:#?}"
    );
    // The conflict was the refinery's (the REWORK named the file), and the rebase met it.
    let saw = |needle: &str| {
        t.model.turns().iter().any(|c| {
            c.last_call()
                .is_some_and(|(_, output)| output.contains(needle))
        })
    };
    assert!(
        saw("conflicts in greeting.txt") && saw("Merge conflict in greeting.txt"),
        "{}",
        t.model.transcript()
    );
    // The REWORK re-slung the bead: a session of its own (not the conversation that made the
    // first commit) primed, read it and rebased.
    let reworked = t.model.turns().into_iter().any(|c| {
        let calls = c.calls();
        calls.first() == Some(&"gastown prime")
            && calls.contains(&"git rebase main")
            && !calls.contains(&WORK)
    });
    assert!(reworked, "{}", t.model.transcript());
    let log = git_in(&t.origin, &["log", "main", "--format=%s"]);
    assert!(
        log.contains("A human's greeting"),
        "the human's commit kept: {log}"
    );
    t.wait_closed(&bead);
}

#[test]
fn claude_code_conflict_is_reworked_and_lands() {
    conflict_is_reworked_and_lands(Cli::Claude, "claude_code_conflict_is_reworked_and_lands");
}

#[test]
fn codex_conflict_is_reworked_and_lands() {
    conflict_is_reworked_and_lands(Cli::Codex, "codex_conflict_is_reworked_and_lands");
}

/// The note the first session hands off with, and what marks it.
const HANDOFF_NOTE: &str = "HANDOFF-4c1e: context is full, the greeting is still to write";

/// The polecat's script for a handoff, on top of [`polecat_script`]:
/// - prime shows work on the hook and the session was handed the note in its prompt (Claude's
///   UserPromptSubmit hook brings the HANDOFF mail): work the hook;
/// - prime lists a HANDOFF mail but the prompt did not carry it (Codex: no hooks): read it;
/// - the HANDOFF read: work the hook (the note says it is still to do);
/// - prime shows work and no handoff: hand off with the note instead of working.
fn handoff_script() -> Script {
    let base = polecat_script(None);
    Arc::new(move |conversation: &Conversation| {
        if conversation.aux {
            return base(conversation);
        }
        let handed = conversation.user_text().contains("HANDOFF-4c1e");
        match conversation.last_call() {
            Some((command, output)) if command == "gastown prime" && output.contains(TITLE) => {
                if handed {
                    base(conversation)
                } else if let Some(id) = protocol_mail_in(output, "HANDOFF") {
                    Reply::Shell(format!("gastown mail read {id}"))
                } else {
                    Reply::Shell(format!("gastown handoff -m '{HANDOFF_NOTE}'"))
                }
            }
            Some((command, output))
                if command.starts_with("gastown mail read") && output.contains(HANDOFF_NOTE) =>
            {
                Reply::Shell(WORK.to_string())
            }
            Some((command, output)) if command.starts_with("gastown handoff") => {
                Reply::Text(format!("Handed off: {output}"))
            }
            _ => base(conversation),
        }
    })
}

/// `gastown handoff` ends the session and a fresh one of the same runtime takes the same hook
/// and the note — Claude Code's in its first prompt (the HANDOFF mail its UserPromptSubmit hook
/// brings), Codex's from the HANDOFF that `gastown prime` lists — and works the hook and lands.
fn hands_off_to_a_fresh_session(cli: Cli, test: &str) {
    let Some(bin) = agent_clis::agent_bin() else {
        return;
    };
    if agent_clis::ran_isolated(test) {
        return;
    }
    let t = AgentTown::start(cli, &bin, handoff_script());
    let bead = t.sling(cli);
    t.wait_landed();
    let turns = t.model.turns();
    let handoffs = shell_calls(&t.model)
        .iter()
        .filter(|c| c.starts_with("gastown handoff"))
        .count();
    assert_eq!(handoffs, 1, "one handoff: {}", t.model.transcript());
    if cli == Cli::Claude {
        // The successor's first prompt (a conversation with no call yet) carries the note and
        // the hook.
        let first = turns
            .iter()
            .find(|c| c.calls().is_empty() && c.user_text().contains("HANDOFF-4c1e"))
            .unwrap_or_else(|| panic!("no first prompt with the note: {}", t.model.transcript()));
        assert!(
            first.user_text().contains(HANDOFF_NOTE) && first.user_text().contains(&bead),
            "{}",
            first.user_text()
        );
    }
    // The session that did the work had the note (in its prompt, or read from its inbox) and
    // is not the one that handed off.
    let noted = |c: &Conversation| {
        c.user_text().contains(HANDOFF_NOTE)
            || c.turns
                .iter()
                .any(|t| matches!(t, fake_model::Turn::Result { output, .. } if output.contains(HANDOFF_NOTE)))
    };
    assert!(
        turns.iter().any(|c| noted(c)
            && c.calls().contains(&WORK)
            && !c
                .calls()
                .iter()
                .any(|call| call.starts_with("gastown handoff"))),
        "the successor worked the hook: {}",
        t.model.transcript()
    );
    // Two sessions on record: the one that handed off, and the one that landed.
    let seance: serde_json::Value =
        serde_json::from_str(&t.town().ok(&["seance", POLECAT, "--json"])).expect("JSON");
    let sessions = seance["sessions"].as_array().map_or(0, Vec::len);
    assert!(sessions >= 2, "{seance}");
}

#[test]
fn claude_code_hands_off_to_a_fresh_session() {
    hands_off_to_a_fresh_session(Cli::Claude, "claude_code_hands_off_to_a_fresh_session");
}

#[test]
fn codex_hands_off_to_a_fresh_session() {
    hands_off_to_a_fresh_session(Cli::Codex, "codex_hands_off_to_a_fresh_session");
}

#[test]
fn claude_code_lands_a_polecat_cycle_and_takes_a_nudge() {
    cycle_lands(
        Cli::Claude,
        "claude_code_lands_a_polecat_cycle_and_takes_a_nudge",
    );
}

/// A dialog nobody may answer for the agent (here: Claude Code's first-run screens, which the
/// test's user left undone on purpose — gastown never overrides an answer already given) blocks
/// the session: nothing is typed, `gastown actors` says so, and it is escalated.
#[test]
fn claude_code_behind_a_dialog_is_blocked_and_escalated() {
    let Some(bin) = agent_clis::agent_bin() else {
        return;
    };
    if agent_clis::ran_isolated("claude_code_behind_a_dialog_is_blocked_and_escalated") {
        return;
    }
    let t = AgentTown::start_with(Cli::Claude, &bin, polecat_script(None), |_, config| {
        std::fs::write(
            config.join(".claude.json"),
            r#"{"hasCompletedOnboarding":false}"#,
        )
        .expect("claude state");
    });
    t.town()
        .ok(&["agent", "spawn", CREW, "--runtime", "claude"]);
    let path = "town/rigs/alpha/crew/max/session";
    let state = running::wait_for("the blocked state", Duration::from_secs(60), || {
        let state = t.running.node(path)?["state"].as_str()?.to_string();
        state.starts_with("blocked: ").then_some(state)
    });
    let listed = running::wait_for("the escalation", Duration::from_secs(30), || {
        let listed = t.town().ok(&["escalate", "list"]);
        listed
            .contains("alpha/crew/max is blocked")
            .then_some(listed)
    });
    // `blocked: <dialog>: <line>`; the escalation names the same dialog.
    let dialog = state.split(':').nth(1).unwrap_or_default().trim();
    assert!(
        listed.contains("high") && listed.contains(&format!("{dialog}: ")),
        "{state}: {listed}"
    );
    assert!(
        t.model.turns().is_empty(),
        "{state}: the agent never got a turn: {}",
        t.model.transcript()
    );
}

#[test]
fn codex_lands_a_polecat_cycle_and_takes_a_nudge() {
    cycle_lands(Cli::Codex, "codex_lands_a_polecat_cycle_and_takes_a_nudge");
}

#[test]
fn codex_killed_mid_turn_resumes_its_hook_and_lands() {
    killed_mid_turn_resumes_and_lands(
        Cli::Codex,
        "codex_killed_mid_turn_resumes_its_hook_and_lands",
    );
}

#[test]
fn claude_code_killed_mid_turn_resumes_its_hook_and_lands() {
    killed_mid_turn_resumes_and_lands(
        Cli::Claude,
        "claude_code_killed_mid_turn_resumes_its_hook_and_lands",
    );
}

/// What the crew member is asked to do while busy, and the file that ends it.
const BUSY: &str = "BUSY-2b7d: wait for";

/// The crew member's script for the mail tests, on top of [`polecat_script`] (its first turn:
/// prime, an empty hook):
/// - `BUSY-… wait for <file>`: a command that runs until that file exists (a turn in flight);
/// - a prompt about mail (an urgent notice, or "you have mail" with the mail its hook added):
///   read it with `gastown mail read <id>`, the id from the prompt, else `gastown mail check`;
/// - the mail read: say so and stop.
fn crew_script() -> Script {
    let base = polecat_script(None);
    Arc::new(move |conversation: &Conversation| {
        if conversation.aux {
            return base(conversation);
        }
        if let Some(prompt) = conversation.prompt() {
            if prompt.contains("PING-7f3a") {
                return Reply::Text(PONG.to_string());
            }
            if let Some(rest) = prompt.split(BUSY).nth(1) {
                let file = rest.split_whitespace().next().unwrap_or_default();
                return Reply::Shell(format!(
                    "until [ -e {file} ]; do sleep 0.1; done; echo released"
                ));
            }
            if prompt.contains("you have mail") || prompt.contains("mail from") {
                return Reply::Shell(match mail_id_in(&prompt) {
                    Some(id) => format!("gastown mail read {id}"),
                    None => "gastown mail check".to_string(),
                });
            }
        }
        match conversation.last_call() {
            Some((command, output)) if command.starts_with("gastown mail") => {
                Reply::Text(format!("Mail read: {output}"))
            }
            Some((command, _)) if command.ends_with("echo released") => {
                Reply::Text("Released.".to_string())
            }
            _ => base(conversation),
        }
    })
}

/// The id of a mail a prompt tells of: the one an urgent notice says to read (`run `gastown mail
/// read <id>``), else the first one a `mail check --inject` block lists (`- <id> from …`).
fn mail_id_in(prompt: &str) -> Option<String> {
    let told = prompt
        .split("gastown mail read ")
        .skip(1)
        .filter_map(|rest| rest.split(['`', ' ', '\n']).next())
        .find(|id| !id.is_empty() && !id.starts_with('<'));
    let listed = || {
        prompt.lines().find_map(|line| {
            let rest = line.trim_start().strip_prefix("- ")?;
            let (id, _) = rest.split_once(' ')?;
            rest.contains(" from ").then(|| id.to_string())
        })
    };
    told.map(str::to_string).or_else(listed)
}

/// A crew member of `cli` idle at its prompt after its first turn (prime: an empty hook),
/// with `[run]` settings `run` added to town.toml.
fn idle_crew(cli: Cli, bin: &Path, run: &str) -> AgentTown {
    let t = AgentTown::start_with(cli, bin, crew_script(), |town, _| {
        if !run.is_empty() {
            let path = town.root.join("town.toml");
            let text = std::fs::read_to_string(&path).expect("town.toml");
            let text = if text.lines().any(|l| l.trim() == "[run]") {
                text.replacen("[run]\n", &format!("[run]\n{run}\n"), 1)
            } else {
                format!("{text}\n[run]\n{run}\n")
            };
            std::fs::write(&path, text).expect("write town.toml");
        }
    });
    t.town()
        .ok(&["agent", "spawn", CREW, "--runtime", cli.runtime()]);
    t.wait_model(
        "the crew member idle",
        CREW,
        Duration::from_secs(60),
        |log| {
            log.iter().any(
                |r| matches!(&r.reply, Some(Reply::Text(t)) if t.starts_with("My hook is empty")),
            )
        },
    );
    t
}

/// `gastown mail send` from the overseer to the crew member; returns the mail's id.
fn send_mail(t: &AgentTown, extra: &[&str], subject: &str, body: &str) -> String {
    let mut args = vec!["mail", "send", CREW, "-s", subject, "-m", body];
    args.extend_from_slice(extra);
    let sent = t.town().ok(&args);
    sent.split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("`sent <id> to …`: {sent}"))
        .to_string()
}

/// The labels of mail `id` (`delivered` once its notice was taken as a turn).
fn mail_labels(t: &AgentTown, id: &str) -> String {
    let inbox: serde_json::Value =
        serde_json::from_str(&t.town().ok(&["mail", "inbox", CREW, "--all", "--json"]))
            .expect("JSON");
    inbox
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["id"] == id)
        .map(|m| m["labels"].to_string())
        .unwrap_or_default()
}

/// The requests whose new prompt contains `text`.
fn prompts_with(t: &AgentTown, text: &str) -> Vec<String> {
    t.model
        .turns()
        .iter()
        .filter_map(Conversation::prompt)
        .filter(|p| p.contains(text))
        .collect()
}

/// Wait until the model saw `gastown mail read` print `body` (the agent read its mail).
fn wait_mail_read(t: &AgentTown, body: &str) {
    t.model
        .wait_for("the mail read", Duration::from_secs(60), |log| {
            log.iter().any(|r| {
                r.conversation
                    .as_ref()
                    .and_then(Conversation::last_call)
                    .is_some_and(|(c, out)| {
                        c.starts_with("gastown mail read") && out.contains(body)
                    })
            })
        });
}

/// Mail to an idle Claude Code (a hook runtime: its mail waits for its UserPromptSubmit hook) is
/// announced after `[run] mail_announce_after`; that prompt is a turn, its hook brings the mail,
/// and the agent reads it.
#[test]
fn claude_code_idle_takes_mail_as_a_turn() {
    let Some(bin) = agent_clis::agent_bin() else {
        return;
    };
    if agent_clis::ran_isolated("claude_code_idle_takes_mail_as_a_turn") {
        return;
    }
    let t = idle_crew(Cli::Claude, &bin, "mail_announce_after = \"1s\"");
    let body = "MAILBODY-51d2: the standup moves to noon";
    let id = send_mail(&t, &[], "Standup", body);
    wait_mail_read(&t, body);
    let announced = prompts_with(&t, "you have mail: run `gastown mail check`");
    assert_eq!(
        announced.len(),
        1,
        "announced once: {}",
        t.model.transcript()
    );
    assert!(
        announced[0].contains(body) && announced[0].contains(&id),
        "the hook brought the mail with the announcement: {}",
        announced[0]
    );
    assert!(mail_labels(&t, &id).contains("delivered"));
}

/// Nudges the crew member into a turn that runs until a file exists, waits until that command
/// is running (the turn in flight), and returns the file that ends it.
fn start_busy_turn(t: &AgentTown) -> std::path::PathBuf {
    let release = t.town().root.join("release-the-turn");
    t.town()
        .ok(&["nudge", CREW, &format!("{BUSY} {}", release.display())]);
    t.model
        .wait_for("the turn in flight", Duration::from_secs(60), |log| {
            log.iter()
                .any(|r| matches!(&r.reply, Some(Reply::Shell(c)) if c.contains("until [ -e")))
        });
    release
}

/// Mail to a Claude Code crew member in the middle of a turn is not typed into it: it is held,
/// and its UserPromptSubmit hook brings it with the next prompt (here a nudge; announcements are
/// put off so that only the hook can deliver it).
#[test]
fn claude_code_busy_takes_mail_at_its_next_turn() {
    let Some(bin) = agent_clis::agent_bin() else {
        return;
    };
    if agent_clis::ran_isolated("claude_code_busy_takes_mail_at_its_next_turn") {
        return;
    }
    let t = idle_crew(Cli::Claude, &bin, "mail_announce_after = \"10m\"");
    let release = start_busy_turn(&t);
    let body = "MAILBODY-8e40: the build is green again";
    let id = send_mail(&t, &[], "Build", body);
    std::fs::write(&release, "").expect("release the turn");
    t.model
        .wait_for("the busy turn done", Duration::from_secs(60), |log| {
            log.iter()
                .any(|r| r.reply == Some(Reply::Text("Released.".to_string())))
        });
    assert!(
        !t.model
            .requests()
            .iter()
            .any(|r| r.body.to_string().contains("MAILBODY-8e40")),
        "nothing typed into the busy turn: {}",
        t.model.transcript()
    );
    assert!(!mail_labels(&t, &id).contains("delivered"));
    t.town().ok(&["nudge", CREW, NUDGE]);
    t.model
        .wait_for("the nudge as a turn", Duration::from_secs(60), |log| {
            log.iter()
                .any(|r| r.reply == Some(Reply::Text(PONG.to_string())))
        });
    let next = prompts_with(&t, "PING-7f3a");
    assert!(
        next.len() == 1 && next[0].contains(body),
        "the hook brought the mail with the next prompt: {next:?}"
    );
    assert!(mail_labels(&t, &id).contains("delivered"));
}

/// Mail to a Codex crew member in the middle of a turn is not typed into it (Codex has no hook
/// to bring it): it waits, and once the turn is over and the session idle, its notice is a turn
/// of its own, which the agent reads; `delivered` only after that turn.
#[test]
fn codex_busy_takes_mail_as_a_turn_once_idle() {
    let Some(bin) = agent_clis::agent_bin() else {
        return;
    };
    if agent_clis::ran_isolated("codex_busy_takes_mail_as_a_turn_once_idle") {
        return;
    }
    let t = idle_crew(Cli::Codex, &bin, "");
    let release = start_busy_turn(&t);
    let body = "MAILBODY-9a61: the build is green again";
    let id = send_mail(&t, &[], "Build", body);
    // While the turn runs, nothing is typed into it (its input line stays empty of the notice).
    let screen = util::stdout(&t.town().run(&["peek", CREW]));
    assert!(
        !screen.contains("mail from overseer: Build"),
        "nothing typed into the busy turn:\n{screen}"
    );
    assert!(!mail_labels(&t, &id).contains("delivered"));
    std::fs::write(&release, "").expect("release the turn");
    wait_mail_read(&t, body);
    let told = prompts_with(&t, "mail from overseer: Build");
    assert!(
        told.len() == 1 && told[0].contains(&format!("gastown mail read {id}")),
        "told once, after the busy turn, naming the mail: {}",
        t.model.transcript()
    );
    let released = t
        .model
        .requests()
        .iter()
        .position(|r| r.reply == Some(Reply::Text("Released.".to_string())));
    let notice = t.model.requests().iter().position(|r| {
        r.conversation
            .as_ref()
            .and_then(Conversation::prompt)
            .is_some_and(|p| p.contains("mail from overseer: Build"))
    });
    assert!(
        released.is_some() && notice > released,
        "the notice came after the busy turn ended: {}",
        t.model.transcript()
    );
    running::wait_for("the mail delivered", Duration::from_secs(30), || {
        mail_labels(&t, &id).contains("delivered").then_some(())
    });
}

/// Codex with no API key in its environment (so gastown writes no login) stops at its login
/// screen: the session is shown blocked by it and escalated, never typed into; and `gastown
/// config agent check codex`, started the same way, reports it blocked and fails.
#[test]
fn codex_without_a_key_is_blocked_at_its_login_and_escalated() {
    let Some(bin) = agent_clis::agent_bin() else {
        return;
    };
    if agent_clis::ran_isolated("codex_without_a_key_is_blocked_at_its_login_and_escalated") {
        return;
    }
    let t = AgentTown::start_gated(
        Cli::Codex,
        &bin,
        FakeModel::start(polecat_script(None)),
        &[("OPENAI_API_KEY", "")],
        |_, _| {},
    );
    t.town().ok(&["agent", "spawn", CREW, "--runtime", "codex"]);
    let path = "town/rigs/alpha/crew/max/session";
    let state = running::wait_for("the blocked state", Duration::from_secs(60), || {
        let state = t.running.node(path)?["state"].as_str()?.to_string();
        state.starts_with("blocked: login: ").then_some(state)
    });
    let listed = running::wait_for("the escalation", Duration::from_secs(30), || {
        let listed = t.town().ok(&["escalate", "list"]);
        listed
            .contains("alpha/crew/max is blocked")
            .then_some(listed)
    });
    assert!(listed.contains("login: "), "{state}: {listed}");
    assert!(
        t.model.turns().is_empty(),
        "{state}: the agent never got a turn: {}",
        t.model.transcript()
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&t.town().root)
        .env_remove("GASTOWN_TOWN")
        .env_remove("GASTOWN_AGENT")
        .envs(t.env.iter().map(|(k, v)| (k, v)))
        .args(["config", "agent", "check", "codex", "--json"])
        .output()
        .expect("gastown runs");
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON ({e}): {out:?}"));
    assert!(
        !out.status.success()
            && report["outcome"] == "blocked"
            && report["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("blocked: login: ")),
        "{report}"
    );
}

/// Mail to an idle Codex (no hooks: every notice is typed in) is a turn of its own once the
/// session is idle: one notice naming the mail, which the agent reads; `delivered` after that
/// turn.
#[test]
fn codex_idle_takes_mail_as_a_turn() {
    let Some(bin) = agent_clis::agent_bin() else {
        return;
    };
    if agent_clis::ran_isolated("codex_idle_takes_mail_as_a_turn") {
        return;
    }
    let t = idle_crew(Cli::Codex, &bin, "");
    let body = "MAILBODY-3f17: the standup moves to noon";
    let id = send_mail(&t, &[], "Standup", body);
    wait_mail_read(&t, body);
    let told = prompts_with(&t, "mail from overseer: Standup");
    assert!(
        told.len() == 1 && told[0].contains(&format!("gastown mail read {id}")),
        "told once, naming the mail: {}",
        t.model.transcript()
    );
    assert!(mail_labels(&t, &id).contains("delivered"));
}

/// Urgent mail to an idle agent is typed in as a turn of its own: the notice is submitted (not
/// left in the input line for the next input to be glued onto), once, and the mail is
/// `delivered` after that turn; a nudge after it is a turn of its own too.
fn urgent_mail_is_a_turn_of_its_own(cli: Cli, test: &str) {
    let Some(bin) = agent_clis::agent_bin() else {
        return;
    };
    if agent_clis::ran_isolated(test) {
        return;
    }
    let t = idle_crew(cli, &bin, "mail_announce_after = \"10m\"");
    let body = "MAILBODY-c90b: stop the deploy";
    let id = send_mail(&t, &["--urgent"], "Deploy", body);
    wait_mail_read(&t, body);
    let urgent = prompts_with(&t, "URGENT mail from overseer: Deploy");
    assert_eq!(urgent.len(), 1, "one turn: {}", t.model.transcript());
    assert!(mail_labels(&t, &id).contains("delivered"));
    t.town().ok(&["nudge", CREW, NUDGE]);
    t.model
        .wait_for("the nudge as a turn", Duration::from_secs(60), |log| {
            log.iter()
                .any(|r| r.reply == Some(Reply::Text(PONG.to_string())))
        });
    let nudged = prompts_with(&t, "PING-7f3a");
    assert!(
        nudged.len() == 1 && !nudged[0].contains("URGENT") && !urgent[0].contains("PING"),
        "nothing glued: {urgent:?} {nudged:?}"
    );
}

#[test]
fn claude_code_urgent_mail_is_a_turn_of_its_own() {
    urgent_mail_is_a_turn_of_its_own(Cli::Claude, "claude_code_urgent_mail_is_a_turn_of_its_own");
}

#[test]
fn codex_urgent_mail_is_a_turn_of_its_own() {
    urgent_mail_is_a_turn_of_its_own(Cli::Codex, "codex_urgent_mail_is_a_turn_of_its_own");
}

/// How long the model's rate limit lasts from its first refusal.
const LIMIT: Duration = Duration::from_secs(10);

/// What the model's 429 says: a reset gastown reads (`limits::reset`) and short enough that the
/// CLI's error line is not wrapped on the session's 120 columns.
const LIMIT_MESSAGE: &str = "Rate limit exceeded. Please try again in 10s.";

/// The shortest usage limit (Codex's): its reset is the first whole minute at least this far
/// from the first refusal, since Codex shows the reset to the minute.
const USAGE_LIMIT_MIN: Duration = Duration::from_secs(12);

/// A gate that refuses every request carrying `key` with a 429 until a reset fixed at its first
/// refusal, which the returned cell keeps; other keys pass. A rate limit ([`LIMIT_MESSAGE`],
/// [`LIMIT`] long), or with `usage` a usage limit (`usage_limit_reached`) resetting on the first
/// whole minute [`USAGE_LIMIT_MIN`] away.
fn limit_gate(key: &'static str, usage: bool) -> (Gate, Arc<Mutex<Option<SystemTime>>>) {
    let reset = Arc::new(Mutex::new(None::<SystemTime>));
    let kept = Arc::clone(&reset);
    let gate: Gate = Arc::new(move |caller: &Caller| {
        if caller.key != key {
            return None;
        }
        let mut reset = kept.lock().unwrap_or_else(|e| e.into_inner());
        let at = *reset.get_or_insert_with(|| {
            let now = SystemTime::now();
            if usage {
                let secs = unix(now + USAGE_LIMIT_MIN).div_ceil(60) * 60;
                UNIX_EPOCH + Duration::from_secs(secs)
            } else {
                now + LIMIT
            }
        });
        (SystemTime::now() < at).then(|| RateLimited {
            message: if usage {
                "The usage limit has been reached".to_string()
            } else {
                LIMIT_MESSAGE.to_string()
            },
            retry_after: None,
            resets_at: usage.then(|| unix(at)),
        })
    });
    (gate, reset)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The model answers the polecat's turn with 429s (Claude Code: a rate limit, retried once, then
/// shown with the API's message, which says when to try again; Codex: a usage limit, shown with
/// its reset): the session is shown blocked by the usage limit, the runtime is recorded limited
/// until the reset the line says (`gastown status`, the agent's row, `gastown actors`), a nudge
/// sent meanwhile is refused and nothing reaches the model until the reset, a bead
/// slung to the rig meanwhile waits in its dispatch queue (reason `limited`), and at the reset
/// the session is started again, told its hook, and the work lands — with no human.
fn usage_limit_pauses_and_resumes(cli: Cli, test: &str) {
    let Some(bin) = agent_clis::agent_bin() else {
        return;
    };
    if agent_clis::ran_isolated(test) {
        return;
    }
    let (key, extra): (&'static str, &[(&str, &str)]) = match cli {
        // Claude Code retries a 429 ten times by default, backing off from 0.5 s to 32 s (about
        // two and a half minutes); one retry keeps the test short and still shows it retrying.
        Cli::Claude => (CLAUDE_KEY, &[("CLAUDE_CODE_MAX_RETRIES", "1")]),
        // Codex shows the reset in local time; UTC here, so the test's own reset arithmetic holds.
        Cli::Codex => (CODEX_KEY, &[("TZ", "UTC")]),
    };
    let (gate, reset) = limit_gate(key, cli == Cli::Codex);
    let model = FakeModel::start_gated(polecat_script(None), gate);
    let t = AgentTown::start_gated(cli, &bin, model, extra, |_, _| {});
    let bead = t.sling(cli);
    let session = format!("town/rigs/{POLECAT}/session");
    let blocked = || {
        let state = t.running.node(&session)?["state"].as_str()?.to_string();
        state.starts_with("blocked: usage limit: ").then_some(state)
    };
    let start = Instant::now();
    let state = loop {
        if let Some(state) = blocked() {
            break state;
        }
        assert!(
            start.elapsed() < CYCLE,
            "not blocked by the limit after {CYCLE:?}; the screen:\n{}\nthe model saw:\n{}",
            util::stdout(&t.town().run(&["peek", POLECAT, "-n", "60"])),
            t.model.transcript()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Claude Code shows the API's message, and its reset; Codex its own usage-limit line, which
    // it wraps before the reset (`… or try again at 2:11 AM.`).
    let shown = match cli {
        Cli::Claude => LIMIT_MESSAGE,
        Cli::Codex => "try again at",
    };
    assert!(
        state.contains(shown),
        "{shown}: {state}\n{}",
        util::stdout(&t.town().run(&["peek", POLECAT, "-n", "60"]))
    );
    // Claude Code retried the turn's 429 (once, as told); Codex does not retry a 429 (its
    // rate limit too: `exceeded retry limit, last status: 429 Too Many Requests` at once).
    let refused = t
        .model
        .requests()
        .iter()
        .filter(|r| r.status == 429 && r.conversation.as_ref().is_some_and(|c| !c.aux))
        .count();
    let tries = match cli {
        Cli::Claude => 2,
        Cli::Codex => 1,
    };
    assert_eq!(refused, tries, "{}", t.model.transcript());
    // Recorded (after the line stayed 5 s), until the reset the line says.
    let status = running::wait_for("the runtime limited", Duration::from_secs(30), || {
        let status: serde_json::Value =
            serde_json::from_str(&t.town().ok(&["status", "--json"])).ok()?;
        let listed = status["limits"]
            .as_array()?
            .iter()
            .any(|l| l["runtime"] == cli.runtime());
        listed.then_some(status)
    });
    let limits: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.town().root.join(".runtime/limits.json")).expect("limits.json"),
    )
    .expect("limits.json is JSON");
    let limit = &limits["runtimes"][cli.runtime()];
    let (since, until) = (
        limit["since"].as_u64().expect("since"),
        limit["until"].as_u64().expect("until"),
    );
    let model_reset = unix(
        reset
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expect("a refusal"),
    );
    match cli {
        // Relative: from when the line was read.
        Cli::Claude => assert_eq!(until - since, LIMIT.as_secs(), "{limits}"),
        // Absolute, to the minute: the model's own reset.
        Cli::Codex => assert_eq!(until, model_reset, "{limits}"),
    }
    assert!(
        until >= model_reset,
        "not before the model's reset: {limits}"
    );
    let row = status["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .find(|a| a["address"] == POLECAT)
        .unwrap_or_else(|| panic!("the polecat's row: {status}"));
    assert!(row["limited_until"].is_string(), "{row}");
    let actors = t.town().ok(&["actors"]);
    assert!(actors.contains("blocked: usage limit: "), "{actors}");
    // While limited: a nudge waits, and new work for the rig waits in its queue.
    let nudged = t.town().run(&["nudge", POLECAT, NUDGE]);
    assert!(
        !nudged.status.success() && util::stderr(&nudged).contains("usage limit"),
        "the nudge is refused, saying why: {nudged:?}"
    );
    let second = t.town().create(&["Another task"]);
    let queued = t.town().ok(&[
        "sling",
        &second,
        "alpha",
        "--runtime",
        cli.runtime(),
        "--no-formula",
    ]);
    assert!(queued.contains("reason: limited"), "{queued}");
    // At the reset: started again, told its hook; the work lands.
    t.wait_landed();
    t.wait_closed(&bead);
    let log = t.model.requests();
    let early: Vec<String> = log
        .iter()
        .filter(|r| unix(r.at) >= since && unix(r.at) < until)
        .map(|r| format!("{} {}", r.path, r.status))
        .collect();
    assert!(
        early.is_empty(),
        "nothing reached the model while limited: {early:?}\n{}",
        t.model.transcript()
    );
    assert!(
        !log.iter()
            .any(|r| unix(r.at) < until && r.body.to_string().contains("PING-7f3a")),
        "the nudge was not typed in before the reset: {}",
        t.model.transcript()
    );
    // The session that landed is a fresh one, begun after the reset and told its hook.
    let fresh = log.iter().any(|r| {
        unix(r.at) >= until
            && r.refused.is_none()
            && r.conversation
                .as_ref()
                .is_some_and(|c| !c.aux && c.calls().is_empty() && c.user_text().contains(&bead))
    });
    assert!(
        fresh,
        "a fresh session told its hook: {}",
        t.model.transcript()
    );
    assert!(
        t.running.log().contains("usage limit reset"),
        "{}",
        tail(&t.running.log(), 60)
    );
}

#[test]
fn claude_code_usage_limit_pauses_and_resumes_at_the_reset() {
    usage_limit_pauses_and_resumes(
        Cli::Claude,
        "claude_code_usage_limit_pauses_and_resumes_at_the_reset",
    );
}

#[test]
fn codex_usage_limit_pauses_and_resumes_at_the_reset() {
    usage_limit_pauses_and_resumes(
        Cli::Codex,
        "codex_usage_limit_pauses_and_resumes_at_the_reset",
    );
}

/// Issue 20, accounts with a real CLI: Claude Code with two accounts, each its own API key
/// (`api_key_env`), and the model refusing the first key with a rate limit. The session on the
/// first account hits it, is started again at once on the second (not at the first's reset),
/// told its hook, and lands its bead with the second key; the limit is recorded for the account,
/// not the runtime.
#[test]
fn claude_code_limited_account_moves_its_session_to_the_other_account() {
    const TEST: &str = "claude_code_limited_account_moves_its_session_to_the_other_account";
    const KEY_A: &str = "sk-ant-test-account-a-0123456789abcdef";
    const KEY_B: &str = "sk-ant-test-account-b-0123456789abcdef";
    let Some(bin) = agent_clis::agent_bin() else {
        return;
    };
    if agent_clis::ran_isolated(TEST) {
        return;
    }
    let (gate, _reset) = limit_gate(KEY_A, false);
    let model = FakeModel::start_gated(polecat_script(None), gate);
    let accounts = "\n[agents.claude]\n\n[[agents.claude.accounts]]\nname = \"a\"\n\
                    api_key_env = \"GASTOWN_TEST_KEY_A\"\n\n[[agents.claude.accounts]]\n\
                    name = \"b\"\napi_key_env = \"GASTOWN_TEST_KEY_B\"\n";
    let extra = [
        ("CLAUDE_CODE_MAX_RETRIES", "1"),
        ("GASTOWN_TEST_KEY_A", KEY_A),
        ("GASTOWN_TEST_KEY_B", KEY_B),
    ];
    let t = AgentTown::start_gated(Cli::Claude, &bin, model, &extra, |town, _| {
        let config = town.root.join("town.toml");
        let mut text = std::fs::read_to_string(&config).expect("town.toml");
        text.push_str(accounts);
        std::fs::write(&config, text).expect("write town.toml");
    });
    let bead = t.sling(Cli::Claude);
    t.wait_landed();
    t.wait_closed(&bead);
    let limits: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.town().root.join(".runtime/limits.json")).expect("limits.json"),
    )
    .expect("limits.json is JSON");
    let keys: Vec<&String> = limits["runtimes"]
        .as_object()
        .expect("runtimes")
        .keys()
        .collect();
    assert_eq!(
        keys,
        vec!["claude/a"],
        "the account, not the runtime: {limits}"
    );
    let seance: serde_json::Value =
        serde_json::from_str(&t.town().ok(&["seance", POLECAT, "--json"])).expect("json");
    let ran: Vec<&str> = seance["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["account"].as_str().expect("account"))
        .collect();
    assert_eq!(ran, vec!["a", "b"], "{seance}");
    // The first key met only refusals; the turns that did the work carried the second.
    let log = t.model.requests();
    let (a, b) = (fake_model::key_hash(KEY_A), fake_model::key_hash(KEY_B));
    assert!(
        log.iter().any(|r| r.key == a && r.status == 429),
        "{}",
        t.model.transcript()
    );
    let worked: Vec<&str> = log
        .iter()
        .filter(|r| r.status == 200 && r.conversation.as_ref().is_some_and(|c| !c.aux))
        .map(|r| r.key.as_str())
        .collect();
    assert!(
        !worked.is_empty() && worked.iter().all(|k| *k == b),
        "every answered turn on the second account's key: {worked:?}\n{}",
        t.model.transcript()
    );
    assert!(
        t.running.log().contains("started again on another account"),
        "{}",
        tail(&t.running.log(), 60)
    );
}
