//! The event stream under `gastown run`, read through `gastown feed`: a sling to landing is
//! told once per change, numbered without gaps, in order; a subscriber that stops reading does
//! not hold up the town (the others get every event); a hundred subscribers at once each get
//! the events; a bad filter and a feed without a supervisor say what to do.

use crate::remote::town_on_origin;
use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, stderr, town_with_rig};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `gastown feed --json <args>` in the town, its lines collected as they come.
struct Feed {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Feed {
    fn start(town: &TestTown, args: &[&str]) -> Feed {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gastown"))
            .current_dir(&town.root)
            .env_remove("GASTOWN_TOWN")
            .env_remove("GASTOWN_AGENT")
            .args(["feed", "--json"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("gastown feed starts");
        let out = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                let value: Value = serde_json::from_str(&line).expect("each line is JSON");
                sink.lock().expect("lines").push(value);
            }
        });
        Feed { child, lines }
    }

    fn seen(&self) -> Vec<Value> {
        self.lines.lock().expect("lines").clone()
    }

    /// Create probe beads until the feed tells one: from then on it is subscribed.
    fn wait_subscribed(&self, town: &TestTown) {
        wait_for("the feed subscribed", Duration::from_secs(30), || {
            let probe = town.create(&["probe"]);
            std::thread::sleep(Duration::from_millis(100));
            self.seen()
                .iter()
                .any(|e| e["kind"] == "bead.created" && e["subject"] == probe.as_str())
                .then_some(())
        });
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kinds_about<'a>(events: &'a [Value], subject: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter(|e| e["subject"] == subject)
        .filter_map(|e| e["kind"].as_str())
        .collect()
}

#[test]
fn a_sling_to_landing_is_told_once_per_change_in_order_without_gaps() {
    let (town, _origin) = town_on_origin();
    let bead = town.create(&["Add a greeting"]);
    let t = RunningTown::start_in(town);
    let feed = Feed::start(&t.town, &[]);
    feed.wait_subscribed(&t.town);
    t.town.ok(&["sling", &bead, "alpha"]);
    let events = wait_for("the landing told", Duration::from_secs(90), || {
        let events = feed.seen();
        let landed = events.iter().any(|e| e["kind"] == "convoy.landed")
            && events.iter().any(|e| e["kind"] == "mq.landed");
        landed.then_some(events)
    });
    // Numbered from where the feed joined, one by one.
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "gaps: {seqs:?}");
    assert!(events.iter().all(|e| e["kind"] != "missed"));
    // The bead's own story, in order, each step once.
    let story = kinds_about(&events, &bead);
    let hook_set = story
        .iter()
        .position(|k| *k == "hook.set")
        .expect("hook.set");
    let cleared = story
        .iter()
        .position(|k| *k == "hook.cleared")
        .expect("hook.cleared");
    let closed = story
        .iter()
        .position(|k| *k == "bead.closed")
        .expect("bead.closed");
    assert!(hook_set < cleared && cleared < closed, "{story:?}");
    for once in ["hook.set", "hook.cleared", "bead.closed"] {
        assert_eq!(
            story.iter().filter(|k| **k == once).count(),
            1,
            "{once}: {story:?}"
        );
    }
    // The merge queue's: queued, then landed, each once, naming the bead.
    let mq: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("mq.")))
        .collect();
    let mq_kinds: Vec<&str> = mq.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(mq_kinds, ["mq.queued", "mq.landed"], "{mq:?}");
    assert!(
        mq.iter()
            .all(|e| e["text"].as_str().is_some_and(|t| t.contains(&bead)))
    );
    assert_eq!(mq[1]["rig"], "alpha");
    // Mail between the roles, the polecat's session and its supervision are told too.
    assert!(events.iter().any(|e| e["kind"] == "mail.sent"));
    let polecat = events
        .iter()
        .find(|e| e["kind"] == "hook.set")
        .and_then(|e| e["text"].as_str())
        .and_then(|t| t.split(" on ").nth(1))
        .and_then(|t| t.split("'s hook").next())
        .expect("the polecat's address")
        .to_string();
    assert!(
        events.iter().any(|e| e["kind"] == "supervision.started"
            && e["subject"].as_str().is_some_and(|s| s.ends_with(&format!(
                "{}/session",
                polecat.rsplit('/').next().unwrap_or("")
            )))),
        "its session's start: {events:#?}"
    );
    let convoy_at = events
        .iter()
        .position(|e| e["kind"] == "convoy.landed")
        .expect("landed");
    let closed_at = events
        .iter()
        .position(|e| e["kind"] == "bead.closed" && e["subject"] == bead.as_str())
        .expect("closed");
    assert!(
        closed_at < convoy_at,
        "the bead closes before its convoy lands"
    );
}

#[test]
fn a_stalled_subscriber_holds_nothing_up_and_a_hundred_subscribers_each_get_events() {
    let town = town_with_rig();
    let t = RunningTown::start_in(town);
    // A subscriber whose output nobody reads: its pipe and then its socket fill up.
    let mut stalled = Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&t.town.root)
        .env_remove("GASTOWN_TOWN")
        .args(["feed", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("gastown feed starts");
    let reading = Feed::start(&t.town, &["--kind", "bead.created"]);
    reading.wait_subscribed(&t.town);
    // Far more than a pipe and a socket buffer hold: 3,000 beads in one import.
    let file = t.town.root.join("many.jsonl");
    let lines: String = (0..3000)
        .map(|i| {
            format!(
                "{{\"id\":\"gt-ev{i:04}\",\"title\":\"Imported {i}\",\"status\":\"open\",\"priority\":2,\"issue_type\":\"task\",\"created_at\":\"2026-01-01T00:00:00Z\",\"updated_at\":\"2026-01-01T00:00:00Z\"}}\n"
            )
        })
        .collect();
    std::fs::write(&file, lines).expect("write");
    t.town
        .ok(&["bead", "import", file.to_str().expect("utf-8")]);
    // The town goes on while the stalled subscriber reads nothing.
    for i in 0..20 {
        t.town.create(&[&format!("after {i}")]);
    }
    let seen = wait_for(
        "the reading subscriber got them all",
        Duration::from_secs(60),
        || {
            let seen = reading.seen();
            let imported = seen
                .iter()
                .filter(|e| {
                    e["subject"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("gt-ev"))
                })
                .count();
            let after = seen
                .iter()
                .filter(|e| e["text"].as_str().is_some_and(|s| s.starts_with("after ")))
                .count();
            (imported + after == 3020 || seen.iter().any(|e| e["kind"] == "missed")).then_some(seen)
        },
    );
    let imported = seen
        .iter()
        .filter(|e| {
            e["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("gt-ev"))
        })
        .count();
    let missed = seen.iter().filter(|e| e["kind"] == "missed").count();
    assert!(
        imported == 3000 || missed > 0,
        "every event, or a marker saying how many were skipped: {imported} and {missed} markers"
    );
    assert_eq!(
        stalled.try_wait().expect("wait"),
        None,
        "the stalled feed still waits"
    );
    let _ = stalled.kill();
    let _ = stalled.wait();

    // A hundred subscribers at once, each told of a bead created after it joined.
    let mut feeds: Vec<Child> = (0..100)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_gastown"))
                .current_dir(&t.town.root)
                .env_remove("GASTOWN_TOWN")
                .args(["feed", "--plain", "--kind", "bead.created", "--limit", "1"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("gastown feed starts")
        })
        .collect();
    wait_for("all hundred told", Duration::from_secs(120), || {
        t.town.create(&["for the hundred"]);
        std::thread::sleep(Duration::from_millis(200));
        feeds
            .iter_mut()
            .all(|f| f.try_wait().expect("wait").is_some())
            .then_some(())
    });
    for f in feeds {
        let out = f.wait_with_output().expect("output");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("bead.created"), "{text}");
        assert_eq!(text.lines().count(), 1, "--limit 1: {text}");
    }
}

#[test]
fn a_bad_filter_or_no_supervisor_says_what_to_do() {
    let town = town_with_rig();
    let out = town.run(&["feed"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("gastown run"), "{}", stderr(&out));
    let t = RunningTown::start_in(town);
    let out = t.town.run(&["feed", "--kind", "mqq"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no event kind \"mqq\"") && err.contains("mq.landed"),
        "{err}"
    );
}
