//! Issue 14 items 4 and 5 with real processes and signals: a shutdown during a five-minute gate
//! ends within the bound and leaves the merge request queued for the next run; a second signal
//! exits at once and frees the run lock; and after `kill -9` of `gastown run` (five times, with a
//! SIGHUP-ignoring agent, a process of it that left its session, and a running gate) no process
//! of the town survives the next start. Issue 14 item 9: a crash-looping agent is told to the
//! mayor and the overseer once per streak while its restarts back off, and the protocol wisps of
//! a polecat cycle are closed once handled, so they do not pile up.

use crate::durable::custom_runtime;
use crate::refinery::{configure, submit};
use crate::running::{RunningTown, wait_for};
use crate::util::TestTown;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// A process: pid and start time (`/proc/<pid>/stat` field 22), so a reused pid is not it.
pub(crate) type Proc = (u32, u64);

fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// Whether `p` still runs (a zombie awaiting its reaper counts as gone).
fn alive(p: Proc) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", p.0)) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 2..].chars().next())
        .unwrap_or('Z');
    start_time(p.0) == Some(p.1) && state != 'Z' && state != 'X'
}

/// Processes working inside `root` (by their current directory) whose command line starts
/// with `prefix`: the agents' and gates' `sleep`s of this town, not of another test's.
pub(crate) fn in_town(root: &Path, prefix: &str) -> Vec<Proc> {
    let root = root.canonicalize().expect("the town's root");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            cmd.starts_with(prefix)
                && std::fs::read_link(format!("/proc/{pid}/cwd"))
                    .is_ok_and(|d| d.starts_with(&root))
        })
        .filter_map(|pid| Some((pid, start_time(pid)?)))
        .collect()
}

/// A process's stat line and command line, for a failure message.
fn describe(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default();
    format!("{stat} | {cmd}")
}

/// Set `[run] shutdown_timeout` in town.toml.
pub(crate) fn shutdown_timeout(town: &TestTown, value: &str) {
    let path = town.root.join("town.toml");
    let text = std::fs::read_to_string(&path).expect("town.toml");
    let mut out = String::new();
    let mut done = false;
    for line in text.lines() {
        if line.trim_start().starts_with("shutdown_timeout") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.trim() == "[run]" {
            out.push_str(&format!("shutdown_timeout = \"{value}\"\n"));
            done = true;
        }
    }
    if !done {
        out.push_str(&format!("\n[run]\nshutdown_timeout = \"{value}\"\n"));
    }
    std::fs::write(&path, out).expect("write town.toml");
}

/// A town whose rig `alpha` gates every merge with a five-minute `sleep 300`, and one MR queued.
fn town_with_a_slow_gate() -> (TestTown, String, String) {
    let town = crate::refinery::town();
    configure(&town, 1, "merge", "test = \"sleep 300\"\ntimeout = \"10m\"");
    let (bead, mr) = submit(&town, "nux", "Slow to gate", &[("slow.txt", "x\n")]);
    assert_eq!(mr_state(&town, &mr), "queued");
    // Every run of these tests ends within seconds, gate or not.
    shutdown_timeout(&town, "8s");
    (town, bead, mr)
}

fn mr_state(town: &TestTown, mr: &str) -> String {
    let shown: serde_json::Value =
        serde_json::from_str(&town.ok(&["mq", "show", mr, "--json"])).expect("json");
    shown["state"].as_str().unwrap_or("").to_string()
}

fn signal(child: &std::process::Child, sig: libc::c_int) {
    // SAFETY: signalling the supervisor this test started.
    unsafe { libc::kill(child.id() as i32, sig) };
}

#[test]
fn sigterm_during_a_five_minute_gate_ends_within_the_bound_and_the_mr_stays_queued() {
    let (town, bead, mr) = town_with_a_slow_gate();
    let mut t = RunningTown::start_in(town);
    let gate = wait_for("the gate running", Duration::from_secs(60), || {
        in_town(&t.town.root, "sleep 300").first().copied()
    });
    let start = Instant::now();
    let status = t.stop();
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "shutdown took {took:?} against a bound of 8 s: {}",
        t.log()
    );
    assert!(status.success(), "exit status {status}: {}", t.log());
    assert!(!alive(gate), "the gate survived the shutdown");
    assert!(
        in_town(&t.town.root, "sleep").is_empty(),
        "no gate process survives"
    );
    assert_eq!(mr_state(&t.town, &mr), "queued", "not failed, not rework");
    let records = std::fs::read_dir(t.town.root.join(".runtime/groups"))
        .expect("the group records' directory")
        .count();
    assert_eq!(
        records, 0,
        "every group's record is removed once it is gone"
    );

    // The next run processes it (with a gate that passes now).
    configure(&t.town, 1, "merge", "test = \"true\"");
    let town = std::mem::replace(&mut t.town, TestTown::new());
    drop(t);
    let t = RunningTown::start_in(town);
    wait_for(
        "the MR merged by the next run",
        Duration::from_secs(60),
        || (mr_state(&t.town, &mr) == "closed").then_some(()),
    );
    let shown: serde_json::Value =
        serde_json::from_str(&t.town.ok(&["bead", "show", &bead, "--json"])).expect("json");
    assert!(
        shown["close_reason"]
            .as_str()
            .unwrap_or("")
            .contains("merged in"),
        "{shown}"
    );
    // The live refinery closes the wisps it handled too (MERGE_READY, POLECAT_DONE, MERGED).
    wait_for("the handled wisps closed", Duration::from_secs(30), || {
        open_protocol_wisps(&t.town).is_empty().then_some(())
    });
}

#[test]
fn a_second_sigint_exits_at_once_and_frees_the_run_lock() {
    let (town, _, mr) = town_with_a_slow_gate();
    let mut t = RunningTown::start_in(town);
    let gate = wait_for("the gate running", Duration::from_secs(60), || {
        in_town(&t.town.root, "sleep 300").first().copied()
    });
    let mut child = t.child.take().expect("running");
    signal(&child, libc::SIGINT);
    wait_for("the shutdown to begin", Duration::from_secs(10), || {
        t.log().contains("shutting down").then_some(())
    });
    let start = Instant::now();
    signal(&child, libc::SIGINT);
    let status = wait_for("the exit", Duration::from_secs(5), || {
        child.try_wait().expect("wait")
    });
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        !status.success(),
        "a forced exit is not a clean one: {status}"
    );
    assert!(t.log().contains("second signal"), "{}", t.log());
    wait_for("the gate gone", Duration::from_secs(5), || {
        (!alive(gate)).then_some(())
    });
    assert_eq!(mr_state(&t.town, &mr), "queued");
    // The lock is free: a new run starts.
    let town = std::mem::replace(&mut t.town, TestTown::new());
    drop(t);
    let t = RunningTown::start_in(town);
    assert!(t.child.is_some());
}

#[test]
fn after_five_kill_dash_nine_of_run_no_process_of_the_town_survives_the_next_start() {
    let (town, _, _) = town_with_a_slow_gate();
    // Ignores SIGHUP, and starts a process that leaves its session and group (only its
    // environment says whose it is).
    custom_runtime(&town, "hup", "trap '' HUP\nsetsid sleep 1001 &\nsleep 1000");
    let mut town = town;
    let mut seen: HashSet<Proc> = HashSet::new();
    for round in 0..5 {
        let mut t = RunningTown::start_in(town);
        t.town
            .ok(&["agent", "spawn", "alpha/crew/max", "--runtime", "hup"]);
        let fresh = |prefix: &str, seen: &HashSet<Proc>| {
            in_town(&t.town.root, prefix)
                .into_iter()
                .filter(|p| !seen.contains(p))
                .collect::<Vec<_>>()
        };
        let found = wait_for(
            &format!("round {round}: the agent, its escaped child and the gate"),
            Duration::from_secs(60),
            || {
                let (a, b, c) = (
                    fresh("sleep 1000", &seen),
                    fresh("sleep 1001", &seen),
                    fresh("sleep 300", &seen),
                );
                (!a.is_empty() && !b.is_empty() && !c.is_empty()).then(|| [a, b, c].concat())
            },
        );
        let escaped: Vec<Proc> = in_town(&t.town.root, "sleep 1001")
            .into_iter()
            .filter(|p| found.contains(p))
            .collect();
        seen.extend(found.iter().copied());
        let mut child = t.child.take().expect("running");
        signal(&child, libc::SIGKILL);
        let _ = child.wait();
        // The agent (SIGHUP ignored) and the gate die with the supervisor, at once...
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left: Vec<String> = found
                .iter()
                .filter(|p| !escaped.contains(p) && alive(**p))
                .map(|p| describe(p.0))
                .collect();
            if left.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: still alive after run died: {left:?}\n{}",
                t.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        // ... the process that left its session lives on until the next start ends it.
        assert!(
            escaped.iter().all(|p| alive(*p)),
            "round {round}: {escaped:?}"
        );
        town = std::mem::replace(&mut t.town, TestTown::new());
    }
    let t = RunningTown::start_in(town);
    wait_for(
        "every process of the earlier runs gone",
        Duration::from_secs(10),
        || seen.iter().all(|p| !alive(*p)).then_some(()),
    );
    assert!(
        t.log().contains("ended a process left behind"),
        "the escaped processes were ended by the new start: {}",
        t.log()
    );
}

/// The mayor's runtime exits at once: it is restarted forever (town-level roles never give up),
/// but the mayor and the overseer are told once, and the restarts slow down.
#[test]
fn a_crash_looping_mayor_is_told_once_to_mayor_and_overseer_and_backs_off() {
    let town = crate::util::town_with_rig();
    custom_runtime(&town, "die", "exit 3");
    let path = town.root.join("town.toml");
    let text = std::fs::read_to_string(&path).expect("town.toml");
    std::fs::write(
        &path,
        text.replace("[roles]\n", "[roles]\nmayor = \"die\"\n"),
    )
    .expect("write town.toml");
    let t = RunningTown::start_in(town);
    let told = |who: &str| -> usize {
        let mail: Vec<serde_json::Value> =
            serde_json::from_str(&t.town.ok(&["mail", "inbox", who, "--all", "--json"]))
                .expect("json");
        mail.iter()
            .filter(|m| {
                m["title"]
                    .as_str()
                    .is_some_and(|s| s.contains("mayor keeps failing to start"))
            })
            .count()
    };
    wait_for("the escalation", Duration::from_secs(30), || {
        (told("mayor") == 1 && told("overseer") == 1).then_some(())
    });
    // Keep failing well past the streak: still one mail each, and each wait longer.
    let delays = wait_for("several more restarts", Duration::from_secs(60), || {
        let detail: serde_json::Value =
            serde_json::from_str(&t.town.ok(&["actor", "town/mayor", "--json"])).expect("json");
        let mut delays: Vec<u64> = detail["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["kind"] == "backing_off")
            .filter_map(|e| e["delay_ms"].as_u64())
            .collect();
        delays.reverse(); // oldest first
        (delays.len() >= 6).then_some(delays)
    });
    assert!(
        delays.windows(2).all(|w| w[1] > w[0]),
        "each restart waits longer than the one before: {delays:?}"
    );
    assert_eq!(told("mayor"), 1, "told once per streak");
    assert_eq!(told("overseer"), 1, "told once per streak");
    // And one escalation record of it, raised by the supervisor (its mail is the one above).
    let escalations: serde_json::Value =
        serde_json::from_str(&t.town.ok(&["escalate", "list", "--json"])).expect("json");
    let escalations = escalations.as_array().expect("array");
    assert_eq!(escalations.len(), 1, "{escalations:?}");
    assert_eq!(escalations[0]["source"], "supervisor");
    assert_eq!(escalations[0]["severity"], "high");
    assert_eq!(escalations[0]["message"], "mayor keeps failing to start");
    assert!(
        t.log().contains("sessions keep failing at startup"),
        "{}",
        t.log()
    );
}

/// Open protocol wisps (POLECAT_DONE, MERGE_READY, MERGED, …) in the town.
fn open_protocol_wisps(town: &TestTown) -> Vec<String> {
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&town.ok(&["bead", "list", "--type", "message", "--json"]))
            .expect("json");
    all.iter()
        .filter(|b| b["status"] != "closed")
        .filter(|b| {
            b["labels"].as_array().is_some_and(|l| {
                l.iter()
                    .any(|l| l.as_str().is_some_and(|l| l.starts_with("protocol:")))
            })
        })
        .map(|b| format!("{} to {}", b["title"], b["assignee"]))
        .collect()
}

#[test]
fn protocol_wisps_of_polecat_cycles_are_closed_once_handled() {
    let town = crate::refinery::town();
    let mut counts = Vec::new();
    for cycle in 0..4 {
        submit(
            &town,
            "nux",
            &format!("Cycle {cycle}"),
            &[(&format!("c{cycle}.txt"), "x\n")],
        );
        assert!(
            !open_protocol_wisps(&town).is_empty(),
            "done sent MERGE_READY and POLECAT_DONE"
        );
        let summary = crate::refinery::process(&town);
        assert_eq!(summary["merged"], 1, "{summary}");
        counts.push(open_protocol_wisps(&town));
    }
    assert!(
        counts.iter().all(|open| open.len() == counts[0].len()),
        "open protocol wisps do not grow with the cycles: {counts:?}"
    );
    assert!(
        counts[0].is_empty(),
        "every wisp of a merged cycle is handled: {counts:?}"
    );
}
