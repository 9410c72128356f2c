//! `gastown run` with real processes, real PTYs and the sim runtime: sessions come back after
//! `kill -9` and are told their hook again, a crashing agent backs off and gives up without
//! taking the town down, SIGTERM leaves no process behind, and peek / nudge / attach work.

use crate::running::{RunningTown, find, group_alive, wait_for};
use crate::util::{gastown, stderr};
use std::time::{Duration, Instant};

const CREW: &str = "town/rigs/alpha/crew/max";

fn spawn_max(t: &RunningTown) {
    t.town
        .ok(&["agent", "spawn", "alpha/crew/max", "--runtime", "sim"]);
}

#[test]
fn a_killed_session_restarts_and_is_told_its_hook_again() {
    let t = RunningTown::start();
    let bead = t.town.create(&["Fix the parser"]);
    t.town.ok(&[
        "bead",
        "update",
        &bead,
        "--status",
        "hooked",
        "--assignee",
        "alpha/crew/max",
    ]);
    spawn_max(&t);
    let first = wait_for("a first session", Duration::from_secs(20), || {
        t.session_pid(CREW)
    });
    let hook_line = format!("HOOK: {bead} Fix the parser");
    wait_for("the hook on screen", Duration::from_secs(20), || {
        t.town
            .ok(&["peek", "alpha/crew/max"])
            .contains(&hook_line)
            .then_some(())
    });

    // SAFETY: killing the agent process the test started through the supervisor.
    unsafe { libc::kill(first as i32, libc::SIGKILL) };
    let second = wait_for("a new session", Duration::from_secs(20), || {
        t.session_pid(CREW).filter(|p| *p != first)
    });
    assert!(!group_alive(first), "the old process group is gone");
    // The new session got the GUPP prompt and read its hook again.
    wait_for("the hook told again", Duration::from_secs(20), || {
        let screen = t.town.ok(&["peek", "alpha/crew/max"]);
        (screen.contains("Your hook:") && screen.contains(&hook_line)).then_some(())
    });
    let session = t.node(&format!("{CREW}/session")).expect("session node");
    assert_eq!(session["restarts_total"], 1, "{session}");
    assert!(
        session["last_failure"]
            .as_str()
            .unwrap_or("")
            .contains("signal 9"),
        "{session}"
    );

    // `gastown kill` does the same through the CLI.
    t.town.ok(&["kill", "alpha/crew/max"]);
    wait_for("a third session", Duration::from_secs(20), || {
        t.session_pid(CREW).filter(|p| *p != second)
    });
    let detail = t.town.ok(&["actor", &format!("{CREW}/session"), "--json"]);
    let detail: serde_json::Value = serde_json::from_str(&detail).expect("json");
    assert_eq!(detail["actor"]["restarts_total"], 2);
    assert!(detail["events"].as_array().expect("events").len() >= 3);
}

#[test]
fn an_agent_that_dies_at_once_backs_off_gives_up_and_the_town_keeps_running() {
    let t = RunningTown::start();
    spawn_max(&t);
    t.town.ok(&[
        "agent",
        "spawn",
        "alpha/crew/crash",
        "--runtime",
        "sim",
        "--env",
        "GASTOWN_SIM_CRASH_AFTER=0s",
    ]);
    // The crashing agent's role gives up (intensity exceeded) and, being temporary under its
    // dynamic supervisor, leaves the tree; the others keep running.
    wait_for(
        "the crashing agent to be given up",
        Duration::from_secs(30),
        || t.node("town/rigs/alpha/crew/crash").is_none().then_some(()),
    );
    let detail: serde_json::Value =
        serde_json::from_str(&t.town.ok(&["actor", "town/rigs/alpha/crew", "--json"]))
            .expect("json");
    let events = detail["events"].as_array().expect("events").clone();
    let of_crash = |kind: &str| -> Vec<serde_json::Value> {
        let mut found: Vec<serde_json::Value> = events
            .iter()
            .filter(|e| {
                e["kind"] == kind
                    && e["supervisor"]
                        .as_str()
                        .unwrap_or("")
                        .ends_with("/crew/crash")
            })
            .cloned()
            .collect();
        found.reverse(); // oldest first
        found
    };
    assert!(!of_crash("gave_up").is_empty(), "{events:?}");
    let delays: Vec<u64> = of_crash("backing_off")
        .iter()
        .filter_map(|e| e["delay_ms"].as_u64())
        .collect();
    assert!(delays.len() >= 2, "backed off more than once: {events:?}");
    assert!(
        delays.windows(2).all(|w| w[1] > w[0]),
        "each delay is longer than the one before: {delays:?}"
    );
    assert!(
        t.session_pid(CREW).is_some(),
        "the healthy agent still runs"
    );
    let id = t.town.create(&["still serving"]);
    assert!(t.town.ok(&["bead", "show", &id]).contains("still serving"));
}

#[test]
fn sigterm_with_twenty_sessions_leaves_no_process_and_exits_zero() {
    let mut t = RunningTown::start();
    for i in 0..20 {
        t.town.ok(&[
            "agent",
            "spawn",
            &format!("alpha/crew/c{i}"),
            "--runtime",
            "sim",
        ]);
    }
    let pids: Vec<u32> = wait_for("20 sessions", Duration::from_secs(60), || {
        let tree = t.tree();
        let pids: Vec<u32> = (0..20)
            .filter_map(|i| {
                find(&tree, &format!("town/rigs/alpha/crew/c{i}/session"))
                    .and_then(|n| n["pid"].as_u64())
                    .map(|p| p as u32)
            })
            .collect();
        (pids.len() == 20).then_some(pids)
    });
    let start = Instant::now();
    let status = t.stop();
    assert!(status.success(), "exit status {status}: {}", t.log());
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "within the shutdown bound"
    );
    for pid in pids {
        assert!(!group_alive(pid), "process group {pid} survived");
    }
    assert!(
        !t.town.root.join(".runtime/socket").exists(),
        "socket removed"
    );
}

#[test]
fn peek_nudge_and_attach_against_a_sim_session() {
    let t = RunningTown::start();
    spawn_max(&t);
    wait_for("the prompt", Duration::from_secs(20), || {
        t.town
            .ok(&["peek", "alpha/crew/max"])
            .contains("sim>")
            .then_some(())
    });
    t.town
        .ok(&["nudge", "alpha/crew/max", "please check the build"]);
    wait_for("the nudge answered", Duration::from_secs(20), || {
        t.town
            .ok(&["peek", "alpha/crew/max", "-n", "5"])
            .contains("ack: please check the build")
            .then_some(())
    });

    // Attach without a terminal: keystrokes go in, output comes out, Ctrl-] detaches.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&t.town.root)
        .args(["attach", "alpha/crew/max"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("attach starts");
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().expect("stdin");
        stdin.write_all(b"typed through attach").expect("write");
        stdin.flush().expect("flush");
    }
    // Enter on its own, as a human presses it: text and Enter in one write are a paste to a
    // raw-mode CLI (and to the sim), which does not submit it.
    wait_for("attach input echoed", Duration::from_secs(20), || {
        t.town
            .ok(&["peek", "alpha/crew/max", "-n", "5"])
            .contains("typed through attach")
            .then_some(())
    });
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().expect("stdin");
        stdin.write_all(b"\r").expect("enter");
        stdin.flush().expect("flush");
    }
    wait_for("attach input answered", Duration::from_secs(20), || {
        t.town
            .ok(&["peek", "alpha/crew/max", "-n", "5"])
            .contains("ack: typed through attach")
            .then_some(())
    });
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().expect("stdin");
        stdin.write_all(&[0x1d]).expect("detach key");
    }
    let out = child.wait_with_output().expect("attach exits");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sim>"),
        "attach painted the screen"
    );
    assert!(stderr(&out).contains("detached"), "{}", stderr(&out));
}

#[test]
fn ledger_commands_go_through_the_supervisor_and_a_second_run_is_refused() {
    let t = RunningTown::start();
    let a = t.town.create(&["through the socket"]);
    let b = t.town.create(&["blocked one", "--deps", &a]);
    let ready = t.town.ok(&["bead", "ready", "--json"]);
    assert!(ready.contains(&a) && !ready.contains(&b), "{ready}");
    t.town.ok(&["sync"]);
    let log = t.town.git(&["log", "refs/heads/beads", "-p"]);
    assert!(log.contains(&a), "synced to git while run is up");

    let second = gastown(&t.town.root, &["run"]);
    assert!(!second.status.success());
    let pid = t.child.as_ref().expect("running").id().to_string();
    assert!(
        stderr(&second).contains(&pid),
        "names the holder: {}",
        stderr(&second)
    );

    // Bad input on the socket is counted in introspection.
    {
        use std::io::Write;
        // Where the supervisor says its socket is (a long temp path falls back elsewhere).
        let recorded =
            std::fs::read_to_string(t.town.root.join(".runtime/socket.path")).expect("socket.path");
        let socket = std::path::PathBuf::from(recorded.trim());
        let mut garbage = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
        garbage
            .write_all(b"\x00\x00\x00\x05hello")
            .expect("write garbage");
        let _ = std::io::Read::read(&mut garbage, &mut [0u8; 64]);
    }
    let tree: serde_json::Value =
        serde_json::from_str(&t.town.ok(&["actors", "--json"])).expect("json");
    let socket = crate::running::find(&tree, "town/socket").expect("socket node");
    let refused: u64 = ["bad_frame", "version_mismatch", "oversized"]
        .iter()
        .map(|k| socket["stats"][k].as_u64().unwrap_or(0))
        .sum();
    assert!(refused >= 1, "the garbage was counted: {socket}");

    // Commands that need the supervisor say so when it is not there.
    let other = crate::util::TestTown::new();
    let err = other.fails(&["actors"]);
    assert!(err.contains("gastown run"), "{err}");
}
