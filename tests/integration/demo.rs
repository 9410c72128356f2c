//! `gastown demo`, the README's first command: it lands its convoy, also under chaos, with every
//! bead merged exactly once and no protocol wisp of its polecat cycles left open. It says at its
//! start how to watch it from another terminal, and with `--stay` its town keeps running after
//! the landing (for `status`, `feed`, `dashboard`) until Ctrl-C.

use crate::util::gastown;

fn check(args: &[&str]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let town = dir.path().join("demo");
    let mut full = vec![
        "demo",
        "--dir",
        town.to_str().expect("utf-8"),
        "--timeout",
        "5m",
    ];
    full.extend_from_slice(args);
    let out = gastown(dir.path(), &full);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Convoy landed."), "{stdout}");
    let beads: usize = args
        .windows(2)
        .find(|w| w[0] == "--beads")
        .map(|w| w[1].parse().expect("a number"))
        .unwrap_or(12);
    assert!(
        stdout.contains(&format!("beads merged:     {beads}/{beads}")),
        "{stdout}"
    );
    // Count the trailers ourselves: each bead merged exactly once.
    let log = std::process::Command::new("git")
        .arg("-C")
        .arg(town.join("town/sample/.repo.git"))
        .args(["log", "main", "--format=%B"])
        .output()
        .expect("git");
    let trailers = String::from_utf8_lossy(&log.stdout)
        .matches("Gastown-MR:")
        .count();
    assert_eq!(trailers, beads);
    // Every polecat cycle's protocol wisps were handled and closed (issue 14): none pile up.
    let listed = gastown(
        &town.join("town"),
        &["bead", "list", "--type", "message", "--json"],
    );
    let open: Vec<serde_json::Value> =
        serde_json::from_slice(&listed.stdout).expect("bead list --json");
    let piling: Vec<String> = open
        .iter()
        .filter(|m| {
            ["MERGE_READY", "POLECAT_DONE", "MERGED"].contains(&m["title"].as_str().unwrap_or(""))
        })
        .map(|m| format!("{} to {}", m["title"], m["assignee"]))
        .collect();
    assert!(
        piling.is_empty(),
        "open protocol wisps after {beads} cycles: {piling:?}"
    );
}

#[test]
fn demo_lands_its_convoy() {
    check(&["--agents", "2", "--beads", "4"]);
}

#[test]
fn demo_lands_under_chaos_with_each_bead_merged_once() {
    check(&["--agents", "3", "--beads", "6", "--chaos"]);
}

#[test]
fn demo_says_how_to_watch_it_and_with_stay_runs_on_until_ctrl_c() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("temp dir");
    let demo_dir = dir.path().join("demo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(dir.path())
        .env_remove("GASTOWN_TOWN")
        .env_remove("GASTOWN_AGENT")
        .args([
            "demo",
            "--agents",
            "2",
            "--beads",
            "2",
            "--stay",
            "--timeout",
            "5m",
        ])
        .arg("--dir")
        .arg(&demo_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gastown demo starts");
    // Stopped (with its town) should an assertion fail while it stays.
    struct Stop(u32);
    impl Drop for Stop {
        fn drop(&mut self) {
            // SAFETY: signalling our own child (gone already when the test passed).
            unsafe { libc::kill(self.0 as i32, libc::SIGTERM) };
        }
    }
    let stop = Stop(child.id());
    let said = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&said);
    let err = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { return };
            let mut said = sink.lock().expect("said");
            said.push_str(&line);
            said.push('\n');
        }
    });
    let town = dir
        .path()
        .canonicalize()
        .expect("the temp dir")
        .join("demo/town");
    let town_arg = town.to_str().expect("utf-8").to_string();
    let said = crate::running::wait_for(
        "the demo stays after landing",
        Duration::from_secs(300),
        || {
            assert_eq!(
                child.try_wait().expect("wait"),
                None,
                "the demo ended early"
            );
            let said = said.lock().expect("said").clone();
            said.contains("Ctrl-C stops it").then_some(said)
        },
    );
    // The commands it printed at its start work as printed, now that it landed.
    for command in ["status", "feed", "dashboard"] {
        assert!(
            said.contains(&format!("gastown --town {town_arg} {command}")),
            "{said}"
        );
    }
    let announced = said.find("gastown --town").expect("announced");
    let landed = said.find("Ctrl-C stops it").expect("staying");
    assert!(announced < landed, "the commands come first: {said}");
    let status = crate::util::gastown(dir.path(), &["--town", &town_arg, "status", "--json"]);
    assert!(status.status.success(), "{}", crate::util::stderr(&status));
    let shown: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(shown["live"], true, "the town still runs after its landing");
    assert!(
        shown["convoys"].as_array().is_some_and(|c| c.is_empty()),
        "the convoy landed: {shown}"
    );
    // Ctrl-C: the demo stops its town and ends well.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let code = crate::running::wait_for("the demo ends", Duration::from_secs(60), || {
        child.try_wait().expect("wait")
    });
    std::mem::forget(stop); // Reaped: its pid is no longer ours to signal.
    assert!(code.success(), "{code:?}");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("stdout");
    assert!(out.contains("Convoy landed."), "{out}");
    let status = crate::util::gastown(dir.path(), &["--town", &town_arg, "status", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(shown["live"], false, "the town stopped with the demo");
}
