//! `gastown up` / `gastown down` on real processes (a detached `gastown run`, stale pid files
//! naming a dead pid and a live stranger), and SIGHUP restarting exactly the role sessions
//! whose runtime town.toml changed.

use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// Whether `pid` runs (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat.get(i + 2..))
        .and_then(|rest| rest.chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

fn pid_file(town: &TestTown) -> PathBuf {
    town.root.join(".runtime").join("run.pid")
}

/// The pid `gastown run` recorded, if it did.
fn recorded_pid(town: &TestTown) -> Option<u32> {
    std::fs::read_to_string(pid_file(town))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Kills a detached supervisor a failed test left behind (its sessions die with it: their
/// group leaders watch it).
struct Detached<'a>(&'a TestTown);

impl Drop for Detached<'_> {
    fn drop(&mut self) {
        if let Some(pid) = recorded_pid(self.0).filter(|pid| alive(*pid)) {
            // SAFETY: signalling the supervisor this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

#[test]
fn up_answers_is_idempotent_and_down_stops_it_leaving_nothing() {
    let town = TestTown::new();
    let _guard = Detached(&town);
    let up = town.ok(&["up"]);
    let pid = recorded_pid(&town).expect("gastown run wrote its pid file");
    assert!(up.contains(&format!("(pid {pid})")), "{up}");
    for next in [
        "gastown status",
        "gastown feed",
        "gastown dashboard",
        "gastown down",
    ] {
        assert!(up.contains(next), "{next} missing from:\n{up}");
    }
    assert!(up.contains(".runtime/logs/run.out"), "{up}");
    let socket = town.root.join(".runtime").join("gastown.sock");
    assert!(up.contains(&socket.display().to_string()), "{up}");
    // It answers: the live tree needs the supervisor.
    let tree = town.ok(&["actors", "--json"]);
    assert!(tree.contains("town/ledger"), "{tree}");
    assert!(alive(pid));

    let again = town.ok(&["up"]);
    assert!(again.contains("already running"), "{again}");
    assert!(again.contains(&format!("pid {pid}")), "{again}");
    assert_eq!(recorded_pid(&town), Some(pid), "no second supervisor");

    let down = town.ok(&["down"]);
    assert!(down.contains(&format!("pid {pid}")), "{down}");
    assert!(down.contains("stopped"), "{down}");
    assert!(!alive(pid), "the supervisor is gone once down returns");
    assert!(!socket.exists(), "the socket is gone");
    assert!(!pid_file(&town).exists(), "the pid file is removed on exit");
    let log = std::fs::read_to_string(town.root.join(".runtime/logs/run.out")).expect("run.out");
    assert!(log.contains("gastown run is up"), "{log}");
    assert!(log.contains("stopped"), "an orderly shutdown: {log}");
}

/// A session that ignores SIGTERM holds the orderly shutdown for `[run] stop_timeout`: `down`
/// with a shorter timeout says so and offers `--force`, which stops everything at once.
#[test]
fn down_past_its_timeout_offers_force_which_stops_everything_at_once() {
    let town = crate::util::town_with_rig();
    let _guard = Detached(&town);
    crate::durable::custom_runtime(&town, "stubborn", "trap '' TERM\nsleep 1000");
    town.ok(&["up"]);
    let pid = recorded_pid(&town).expect("gastown run wrote its pid file");
    town.ok(&["agent", "spawn", "alpha/crew/max", "--runtime", "stubborn"]);
    let session = wait_for("max's session", LIMIT, || {
        let tree: serde_json::Value =
            serde_json::from_str(&town.ok(&["actors", "--json"])).expect("actors --json");
        crate::running::find(&tree, "town/rigs/alpha/crew/max/session")?["pid"]
            .as_u64()
            .map(|p| p as u32)
    });
    let err = town.fails(&["down", "--timeout", "100ms"]);
    assert!(err.contains("still stopping"), "{err}");
    assert!(err.contains("gastown down --force"), "{err}");
    assert!(alive(pid), "still in its orderly shutdown");
    let forced = town.ok(&["down", "--force"]);
    assert!(forced.contains("stopped"), "{forced}");
    assert!(!alive(pid));
    assert!(
        !alive(session),
        "the stubborn session was killed with everything"
    );
    let log = std::fs::read_to_string(town.root.join(".runtime/logs/run.out")).expect("run.out");
    assert!(log.contains("second signal"), "{log}");
}

#[test]
fn down_when_nothing_runs_says_so() {
    let town = TestTown::new();
    let down = town.ok(&["down"]);
    assert!(down.contains("not running"), "{down}");
}

/// A pid file naming a dead process, or a live one that is not `gastown run`, is cleaned up and
/// that process never signalled.
#[test]
fn down_never_signals_the_stranger_a_stale_pid_file_names() {
    let town = TestTown::new();
    let mut exited = Command::new("true").spawn().expect("true runs");
    let dead = exited.id();
    exited.wait().expect("true exits");
    std::fs::write(pid_file(&town), format!("{dead} 1\n")).expect("pid file");
    let down = town.ok(&["down"]);
    assert!(down.contains("stale"), "{down}");
    assert!(down.contains(&format!("{dead} is gone")), "{down}");
    assert!(!pid_file(&town).exists(), "removed");

    let mut stranger = Command::new("sleep")
        .arg("300")
        .spawn()
        .expect("sleep runs");
    std::fs::write(pid_file(&town), format!("{}\n", stranger.id())).expect("pid file");
    let down = town.ok(&["down"]);
    let still_running = stranger.try_wait().expect("try_wait").is_none();
    let _ = stranger.kill();
    let _ = stranger.wait();
    assert!(still_running, "the stranger was signalled: {down}");
    assert!(down.contains("not a gastown run"), "{down}");
    assert!(down.contains("not running"), "{down}");
    assert!(!pid_file(&town).exists(), "removed");
}

#[test]
fn up_with_a_broken_town_toml_fails_with_the_supervisors_error() {
    let town = TestTown::new();
    let _guard = Detached(&town);
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str("\nbroken = [\n");
    std::fs::write(&config, text).expect("town.toml written");
    let out = town.run(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("exited"), "{err}");
    assert!(
        err.contains("not a valid town config"),
        "the log's error: {err}"
    );
    assert!(!pid_file(&town).exists());
}

/// The environment of process `pid`, one `KEY=VALUE` per entry.
fn environ(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| {
            env.split(|b| *b == 0)
                .map(|kv| String::from_utf8_lossy(kv).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn hangup(running: &RunningTown) {
    let pid = running.child.as_ref().expect("running").id();
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
}

/// How many reloads the log reports as done.
fn reloads(running: &RunningTown) -> usize {
    running
        .log()
        .matches("role sessions checked against the new configuration")
        .count()
}

fn set_roles(root: &Path, roles: &str) {
    let path = root.join("town.toml");
    let text = std::fs::read_to_string(&path).expect("town.toml");
    let start = text.find("[roles]").expect("a [roles] table");
    let end = text[start + 1..]
        .find("\n[")
        .map(|i| start + 1 + i)
        .unwrap_or(text.len());
    let text = format!("{}[roles]\n{roles}{}", &text[..start], &text[end..]);
    std::fs::write(&path, text).expect("town.toml written");
}

#[test]
fn sighup_restarts_exactly_the_sessions_whose_runtime_changed() {
    let town = crate::util::town_with_rig();
    let exe = env!("CARGO_BIN_EXE_gastown");
    // Runtime A: the sim under another name, its sessions marked by their environment.
    town.ok(&[
        "config",
        "agent",
        "set",
        "--prompt",
        "typed",
        "--ready-marker",
        "sim>",
        "--env",
        "SIMX_MARK=a",
        "--env",
        "GASTOWN_SIM_WORK=0",
        "simx",
        exe,
        "sim-agent",
    ]);
    let running = RunningTown::start_in(town);
    let town = &running.town;
    // Max has work on his hook (which the sim only reads: GASTOWN_SIM_WORK=0).
    let bead = town.create(&["Long job"]);
    town.ok(&["sling", &bead, "alpha/crew/max", "--runtime", "simx"]);
    town.ok(&["agent", "spawn", "alpha/crew/ann", "--runtime", "sim"]);
    let max = "town/rigs/alpha/crew/max";
    let ann = "town/rigs/alpha/crew/ann";
    let max_a = wait_for("max's session", LIMIT, || running.session_pid(max));
    let ann_pid = wait_for("ann's session", LIMIT, || running.session_pid(ann));
    assert!(
        environ(max_a).contains(&"SIMX_MARK=a".to_string()),
        "runtime A: {:?}",
        environ(max_a)
    );
    assert!(
        running.session_pid("town/mayor").is_none(),
        "no [roles] mayor yet"
    );

    // Runtime B: the same agent with another environment; the mayor and the rig's witness
    // newly configured.
    town.ok(&["config", "agent", "set", "--env", "SIMX_MARK=b", "simx"]);
    set_roles(&town.root, "mayor = \"sim\"\nwitness = \"sim\"\n");
    hangup(&running);
    let max_b = wait_for("max restarted with runtime B", LIMIT, || {
        running
            .session_pid(max)
            .filter(|pid| *pid != max_a && environ(*pid).contains(&"SIMX_MARK=b".to_string()))
    });
    assert!(!alive(max_a), "the old session is gone");
    let hook = format!("GASTOWN_HOOK={bead}");
    assert!(
        environ(max_b).contains(&hook),
        "GUPP: the new session is told its hook: {:?}",
        environ(max_b)
    );
    let mayor = wait_for("the mayor's new session", LIMIT, || {
        running.session_pid("town/mayor")
    });
    let witness = wait_for("the witness's new session", LIMIT, || {
        running.session_pid("town/rigs/alpha/witness")
    });
    wait_for("the reload to finish", LIMIT, || {
        (reloads(&running) >= 1).then_some(())
    });
    assert_eq!(
        running.session_pid(ann),
        Some(ann_pid),
        "ann's runtime did not change"
    );
    let log = running.log();
    assert!(log.contains("SIGHUP: session restarted"), "{log}");
    assert!(log.contains("runtime simx's env changed"), "{log}");
    assert!(log.contains("SIGHUP: session started"), "{log}");
    // The tree's restart path ran: its `restarted` event (on the event stream too).
    let detail: serde_json::Value =
        serde_json::from_str(&town.ok(&["actor", "alpha/crew/max/session", "--json"]))
            .expect("actor --json is JSON");
    let restarted = detail["events"].as_array().is_some_and(|events| {
        events
            .iter()
            .any(|e| e["kind"] == "restarted" && e["child"] == "session")
    });
    assert!(restarted, "{detail}");

    // Nothing changed: nothing is touched.
    hangup(&running);
    wait_for("the second reload", LIMIT, || {
        (reloads(&running) >= 2).then_some(())
    });
    assert_eq!(running.session_pid(max), Some(max_b));
    assert_eq!(running.session_pid("town/mayor"), Some(mayor));
    assert_eq!(
        running.session_pid("town/rigs/alpha/witness"),
        Some(witness)
    );

    // A town.toml that does not parse: logged, nothing changes.
    let config = town.root.join("town.toml");
    let good = std::fs::read_to_string(&config).expect("town.toml");
    std::fs::write(&config, format!("{good}\nbroken = [\n")).expect("town.toml written");
    hangup(&running);
    wait_for("the bad file reported", LIMIT, || {
        running
            .log()
            .contains("keeping the running configuration")
            .then_some(())
    });
    // The CLI needs a town.toml that parses too; the supervisor is not told of this one.
    std::fs::write(&config, good).expect("town.toml written");
    assert_eq!(running.session_pid(max), Some(max_b));
    assert_eq!(running.session_pid(ann), Some(ann_pid));
    assert_eq!(running.session_pid("town/mayor"), Some(mayor));

    // The mayor's runtime removed: its session stops, the role stays; the witness runs another.
    set_roles(&town.root, "witness = \"simx\"\n");
    hangup(&running);
    wait_for("the mayor's session stopped", LIMIT, || {
        running.node("town/mayor/session").is_none().then_some(())
    });
    assert!(!alive(mayor), "its process is gone");
    assert!(
        running.node("town/mayor/agent").is_some(),
        "the role runs on"
    );
    assert_eq!(running.session_pid(max), Some(max_b));
    assert_eq!(running.session_pid(ann), Some(ann_pid));
    assert!(running.log().contains("SIGHUP: session stopped"));
    let witness_b = wait_for("the witness restarted with simx", LIMIT, || {
        running
            .session_pid("town/rigs/alpha/witness")
            .filter(|pid| *pid != witness && environ(*pid).contains(&"SIMX_MARK=b".to_string()))
    });
    assert!(!alive(witness), "the witness's old session is gone");
    assert!(alive(witness_b));
}
