//! The runtime an identity was started with is durable (issue 12): a bead slung to a custom
//! runtime is resumed under that runtime after a `kill -9` of `gastown run`, an agent whose
//! runtime dies at once or does not exist is stuck (hook kept, the mayor and the overseer told)
//! and never started under another runtime, and a sling with a new `--runtime` restarts a
//! running agent under it. Every session's end is recorded on that session.

use crate::running::{RunningTown, group_alive, wait_for};
use crate::util::{TestTown, town_with_rig};
use std::path::{Path, PathBuf};
use std::time::Duration;

const NUX: &str = "town/rigs/alpha/polecats/nux";
const MAX: &str = "town/rigs/alpha/crew/max";

/// An executable shell script `name` in `dir` running `body`.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// Define the custom runtime `name` running `body` (the prompt comes as an argument, ignored).
pub fn custom_runtime(town: &TestTown, name: &str, body: &str) -> PathBuf {
    let dir = town.root.parent().expect("the town has a parent");
    let path = script(dir, &format!("{name}-agent"), body);
    town.ok(&[
        "config",
        "agent",
        "set",
        "--prompt",
        "argument",
        name,
        path.to_str().expect("utf-8 path"),
    ]);
    path
}

/// The open agent bead of `address`, as JSON.
pub fn agent_bead(town: &TestTown, address: &str) -> Option<serde_json::Value> {
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&town.ok(&["bead", "list", "-t", "agent", "--json"])).expect("json");
    all.into_iter()
        .find(|b| b["address"] == address || (b["address"].is_null() && b["title"] == address))
}

/// The session history of `address`: (runtime, exit) per session, oldest first.
pub fn sessions(town: &TestTown, address: &str) -> Vec<(String, Option<String>)> {
    let Some(bead) = agent_bead(town, address) else {
        return Vec::new();
    };
    bead["sessions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            (
                s["runtime"].as_str().unwrap_or("").to_string(),
                s["exit"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// Subjects of the mail in `address`'s inbox.
pub fn inbox(town: &TestTown, address: &str) -> Vec<String> {
    let mail: Vec<serde_json::Value> =
        serde_json::from_str(&town.ok(&["mail", "inbox", address, "--all", "--json"]))
            .expect("json");
    mail.iter()
        .map(|m| m["title"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The bead's status.
pub fn status(town: &TestTown, bead: &str) -> String {
    let shown: serde_json::Value =
        serde_json::from_str(&town.ok(&["bead", "show", bead, "--json"])).expect("json");
    shown["status"].as_str().unwrap_or("").to_string()
}

/// Wait until `address` is stuck; returns its stuck reason.
pub fn wait_stuck(town: &TestTown, address: &str) -> String {
    wait_for(&format!("{address} stuck"), Duration::from_secs(60), || {
        agent_bead(town, address)
            .filter(|b| b["agent_state"] == "stuck")
            .map(|b| b["stuck_reason"].as_str().unwrap_or("").to_string())
    })
}

/// The mayor and the overseer were each told once that `address` is stuck.
pub fn assert_told_once(town: &TestTown, address: &str) {
    for who in ["mayor", "overseer"] {
        let told = inbox(town, who)
            .iter()
            .filter(|s| s.contains(&format!("{address} is stuck")))
            .count();
        assert_eq!(told, 1, "{who} told once: {:?}", inbox(town, who));
    }
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// The command line of session process `pid` once it has exec'd its program: right after the
/// fork it is still the supervisor's own (`gastown run`), and empty for a moment during the exec,
/// so a test that reads it at once sees one of those.
fn exec_cmdline(pid: u32) -> String {
    let start = std::time::Instant::now();
    loop {
        let line = cmdline(pid);
        let settled = !line.is_empty() && !line.contains("gastown run");
        if settled || start.elapsed() > Duration::from_secs(10) {
            return line;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Processes whose environment says they are `address`'s agent in `town` (other tests run other
/// towns with the same addresses), with their command lines.
fn agent_processes(town: &TestTown, address: &str) -> Vec<(u32, String)> {
    let wanted = format!("GASTOWN_AGENT={address}");
    let root = town.root.canonicalize().expect("the town's root");
    let in_town = format!("GASTOWN_TOWN={}", root.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                let has = |v: &str| env.split(|b| *b == 0).any(|kv| kv == v.as_bytes());
                has(&wanted) && has(&in_town)
            })
        })
        .map(|pid| (pid, cmdline(pid)))
        .collect()
}

/// The commits on the rig's default branch.
fn main_commits(town: &TestTown) -> usize {
    town.git(&["-C", "alpha/.repo.git", "rev-list", "--count", "main"])
        .trim()
        .parse()
        .expect("a count")
}

fn kill_group(pid: u32) {
    if group_alive(pid) {
        // SAFETY: killing a process group this test made through the supervisor.
        unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    }
}

#[test]
fn a_bead_slung_to_a_hanging_runtime_is_resumed_under_it_after_kill_dash_nine_of_run() {
    let town = town_with_rig();
    custom_runtime(&town, "hang", "sleep 1000");
    let bead = town.create(&["Hang on"]);
    let before = main_commits(&town);
    let mut t = RunningTown::start_in(town);
    let out = t.town.ok(&["sling", &bead, "alpha", "--runtime", "hang"]);
    assert!(out.contains("runs hang"), "{out}");
    let first = wait_for("the hang session", Duration::from_secs(30), || {
        t.session_pid(NUX)
    });
    let line = exec_cmdline(first);
    assert!(line.contains("hang-agent"), "{line}");

    // SAFETY: killing the supervisor this test started.
    let pid = t.child.as_ref().expect("running").id();
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let _ = t.child.take().expect("child").wait();
    kill_group(first);
    let town = std::mem::replace(&mut t.town, TestTown::new());
    drop(t);
    let t = RunningTown::start_in(town);
    let second = wait_for(
        "a session after the restart",
        Duration::from_secs(30),
        || t.session_pid(NUX).filter(|p| *p != first),
    );
    let line = exec_cmdline(second);
    assert!(line.contains("hang-agent"), "{line}");
    // What must not happen is something starting later (the GUPP patrol sweeps every 2 s):
    // nothing can be polled for, so watch a few sweeps go by.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(t.session_pid(NUX), Some(second), "not restarted meanwhile");
    let history = sessions(&t.town, "alpha/polecats/nux");
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(history.iter().all(|(rt, _)| rt == "hang"), "{history:?}");
    let processes = agent_processes(&t.town, "alpha/polecats/nux");
    assert!(
        processes
            .iter()
            .all(|(_, cmd)| cmd.contains("hang-agent") || cmd.contains("sleep 1000")),
        "only the hang runtime runs for nux: {processes:?}"
    );
    assert!(!processes.is_empty());
    assert_eq!(status(&t.town, &bead), "hooked");
    assert_eq!(main_commits(&t.town), before, "no commit landed");
    kill_group(second);
}

#[test]
fn a_runtime_that_dies_at_once_leaves_its_identity_stuck_and_is_never_replaced() {
    let town = town_with_rig();
    custom_runtime(&town, "die", "echo dying; exit 3");
    let bead = town.create(&["Doomed"]);
    let before = main_commits(&town);
    let t = RunningTown::start_in(town);
    t.town.ok(&["sling", &bead, "alpha", "--runtime", "die"]);
    let reason = wait_stuck(&t.town, "alpha/polecats/nux");
    // Stuck from its third failed start in a row (issue 14), or its supervisor's give-up,
    // whichever the ledger hears first; either way told once.
    assert!(
        reason.contains("failed at startup") || reason.contains("gave up"),
        "{reason}"
    );
    wait_for("the role given up", Duration::from_secs(30), || {
        t.node(NUX).is_none().then_some(())
    });
    assert_told_once(&t.town, "alpha/polecats/nux");
    let mail = t.town.ok(&["mail", "inbox", "mayor", "--all", "--json"]);
    assert!(mail.contains("die") && mail.contains(&bead), "{mail}");
    assert_eq!(status(&t.town, &bead), "hooked");
    let history = sessions(&t.town, "alpha/polecats/nux");
    assert!(
        history.len() >= 4,
        "restarted until it gave up: {history:?}"
    );
    assert!(history.iter().all(|(rt, _)| rt == "die"), "{history:?}");
    assert!(
        history.iter().all(|(_, exit)| exit.is_some()),
        "every end recorded: {history:?}"
    );
    assert!(agent_processes(&t.town, "alpha/polecats/nux").is_empty());
    assert!(t.node(NUX).is_none(), "given up, not replaced");
    assert_eq!(main_commits(&t.town), before, "no commit landed");
}

#[test]
fn a_runtime_whose_program_is_missing_is_refused_clearly_and_the_bead_stays_hooked() {
    let town = town_with_rig();
    town.ok(&[
        "config",
        "agent",
        "set",
        "ghost",
        "gastown-no-such-agent-cli",
    ]);
    let bead = town.create(&["Nobody home"]);
    let t = RunningTown::start_in(town);
    let out = t
        .town
        .ok(&["sling", &bead, "alpha/crew/max", "--runtime", "ghost"]);
    assert!(
        out.contains("gastown-no-such-agent-cli")
            && out.contains("PATH")
            && out.contains("install it")
            && out.contains("stuck"),
        "{out}"
    );
    let reason = wait_stuck(&t.town, "alpha/crew/max");
    assert!(reason.contains("gastown-no-such-agent-cli"), "{reason}");
    assert_told_once(&t.town, "alpha/crew/max");
    assert_eq!(status(&t.town, &bead), "hooked");
    assert!(
        sessions(&t.town, "alpha/crew/max").is_empty(),
        "never started"
    );
    assert!(t.node(MAX).is_none());
}

#[test]
fn sling_with_another_runtime_restarts_a_running_agent_under_it() {
    let town = town_with_rig();
    custom_runtime(&town, "hang", "sleep 1000");
    let bead = town.create(&["Switch runtimes"]);
    let t = RunningTown::start_in(town);
    t.town
        .ok(&["agent", "spawn", "alpha/crew/max", "--runtime", "sim"]);
    let sim = wait_for("the sim session", Duration::from_secs(30), || {
        t.session_pid(MAX)
    });
    let out = t
        .town
        .ok(&["sling", &bead, "alpha/crew/max", "--runtime", "hang"]);
    assert!(out.contains("runs hang"), "{out}");
    let hang = wait_for("the hang session", Duration::from_secs(30), || {
        t.session_pid(MAX).filter(|p| *p != sim)
    });
    let line = exec_cmdline(hang);
    assert!(line.contains("hang-agent"), "{line}");
    // Stopped before the new one started; its processes may still await reaping a moment.
    wait_for("the sim session gone", Duration::from_secs(10), || {
        (!group_alive(sim)).then_some(())
    });
    let bead_json = agent_bead(&t.town, "alpha/crew/max").expect("agent bead");
    assert_eq!(bead_json["runtime"], "hang");
    let history = wait_for("the sim session's end", Duration::from_secs(10), || {
        let h = sessions(&t.town, "alpha/crew/max");
        (h.len() == 2 && h[0].1.is_some()).then_some(h)
    });
    assert_eq!(history[0].0, "sim");
    assert_eq!(history[0].1.as_deref(), Some("stopped by the supervisor"));
    assert_eq!(history[1], ("hang".to_string(), None));
    kill_group(hang);
}

#[test]
fn seance_records_each_end_on_its_own_session() {
    let t = RunningTown::start();
    t.town
        .ok(&["agent", "spawn", "alpha/crew/max", "--runtime", "sim"]);
    let first = wait_for("a first session", Duration::from_secs(30), || {
        t.session_pid(MAX)
    });
    // SAFETY: killing the agent process the test started through the supervisor.
    unsafe { libc::kill(first as i32, libc::SIGKILL) };
    let second = wait_for("a second session", Duration::from_secs(30), || {
        t.session_pid(MAX).filter(|p| *p != first)
    });
    t.town.ok(&["restart", "alpha/crew/max"]);
    wait_for("a third session", Duration::from_secs(30), || {
        t.session_pid(MAX).filter(|p| *p != second)
    });
    let history = wait_for("both ends recorded", Duration::from_secs(10), || {
        let h = sessions(&t.town, "alpha/crew/max");
        (h.len() == 3 && h[1].1.is_some()).then_some(h)
    });
    assert!(
        history[0]
            .1
            .as_deref()
            .is_some_and(|e| e.contains("signal 9")),
        "the crash is on the first session: {history:?}"
    );
    assert_eq!(
        history[1].1.as_deref(),
        Some("stopped by the supervisor"),
        "the restart is on the second: {history:?}"
    );
    assert_eq!(
        history[2].1, None,
        "the running one has no end: {history:?}"
    );
    let seance = t.town.ok(&["seance", "alpha/crew/max"]);
    assert!(
        seance.contains("3 session(s)") && seance.contains("signal 9"),
        "{seance}"
    );
}

#[test]
fn a_queued_bead_is_dispatched_with_the_runtime_it_was_slung_with() {
    let town = town_with_rig();
    let config = town.root.join("alpha/rig.toml");
    let text = std::fs::read_to_string(&config).expect("rig.toml");
    std::fs::write(
        &config,
        text.replace("max_polecats = 4", "max_polecats = 1"),
    )
    .expect("write rig.toml");
    custom_runtime(&town, "hang", "sleep 1000");
    custom_runtime(&town, "wait", "sleep 1000");
    let first = town.create(&["First"]);
    let second = town.create(&["Second"]);
    town.ok(&[
        "sling",
        &first,
        "alpha",
        "--runtime",
        "hang",
        "--no-formula",
    ]);
    let out = town.ok(&[
        "sling",
        &second,
        "alpha",
        "--runtime",
        "wait",
        "--no-formula",
    ]);
    assert!(out.contains("dispatch queue"), "{out}");
    let queued: serde_json::Value =
        serde_json::from_str(&town.ok(&["bead", "show", &second, "--json"])).expect("json");
    assert_eq!(
        queued["runtime"], "wait",
        "the queued bead keeps its runtime"
    );
    // nux is free again; the refinery's dispatch hands it the queued bead.
    town.ok(&["hook", "clear", "--agent", "alpha/polecats/nux"]);
    let t = RunningTown::start_in(town);
    let pid = wait_for("the dispatched session", Duration::from_secs(30), || {
        t.session_pid(NUX)
    });
    let line = exec_cmdline(pid);
    assert!(line.contains("wait-agent"), "{line}");
    assert_eq!(status(&t.town, &second), "hooked");
    let nux = agent_bead(&t.town, "alpha/polecats/nux").expect("agent bead");
    assert_eq!(nux["runtime"], "wait");
    kill_group(pid);
}

/// Without a supervisor, sling still says at once that the runtime's program is missing; the
/// bead is hooked all the same and the runtime recorded (nothing else will be started for it).
#[test]
fn sling_without_a_supervisor_warns_that_the_program_is_missing() {
    let town = town_with_rig();
    town.ok(&["config", "agent", "set", "ghost", "/nonexistent/ghost-cli"]);
    let bead = town.create(&["Nobody home yet"]);
    let out = town.ok(&["sling", &bead, "alpha", "--runtime", "ghost"]);
    assert!(
        out.contains("warning:")
            && out.contains("/nonexistent/ghost-cli")
            && out.contains("does not exist"),
        "{out}"
    );
    assert_eq!(status(&town, &bead), "hooked");
    let nux = agent_bead(&town, "alpha/polecats/nux").expect("the polecat's agent bead");
    assert_eq!(nux["runtime"], "ghost");
}
