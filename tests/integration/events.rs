//! The event stream under `gastown run`, read through `gastown feed`: a sling to landing is
//! told once per change, numbered without gaps, in order; a polecat the witness judges stalled,
//! the refinery's gates and a rework are told; a session's crash, restart and clean exit, mail
//! delivered, a bead updated and an escalation's raise, ack and close are each told once, in
//! order; a subscriber that stops reading does not hold up the town (the others get every
//! event); a hundred subscribers at once each get the events; a bad filter and a feed without a
//! supervisor say what to do.

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

/// Wait until `check` finds what it wants in the events so far; on time out, say what came.
fn wait_events<T>(
    feed: &Feed,
    what: &str,
    limit: Duration,
    mut check: impl FnMut(&[Value]) -> Option<T>,
) -> T {
    let start = std::time::Instant::now();
    loop {
        let events = feed.seen();
        if let Some(v) = check(&events) {
            return v;
        }
        if start.elapsed() > limit {
            let told: Vec<String> = events
                .iter()
                .map(|e| format!("{} {} {}", e["kind"], e["subject"], e["text"]))
                .collect();
            panic!(
                "timed out after {limit:?} waiting for {what}; told:\n{}",
                told.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The kinds of `events` about `subject` whose kind starts with `family`.
fn story<'a>(events: &'a [Value], subject: &str, family: &str) -> Vec<&'a str> {
    kinds_about(events, subject)
        .into_iter()
        .filter(|k| k.starts_with(family))
        .collect()
}

/// No kind follows itself: each is told once per change.
fn once_per_change(story: &[&str]) {
    assert!(
        story.windows(2).all(|w| w[0] != w[1]),
        "a state told twice in a row: {story:?}"
    );
}

#[test]
fn a_stalled_polecat_its_gates_and_its_rework_are_told_once_per_change() {
    let town = crate::refinery::town();
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    // Reads its hook, then sits at its prompt: the witness judges it stalled.
    text.push_str(&crate::witness::sim_runtime(
        "idler",
        "GASTOWN_SIM_WORK = \"0\", GASTOWN_SIM_HEARTBEAT = \"0s\"",
    ));
    std::fs::write(&config, text).expect("write town.toml");
    crate::refinery::configure(
        &town,
        1,
        "merge",
        "test = \"if [ -f bad.txt ]; then echo 'bad.txt is bad'; exit 1; fi\"",
    );
    // No nudge and no restart: it is escalated at once and left as it is, stalled.
    crate::witness::witness_knobs(
        &town,
        "patrol_every = \"300ms\"\nstart_after = \"1m\"\nstall_after = \"1s\"\nhung_after = \"1m\"\nnudges = 0\nrestarts = 0",
    );
    let t = RunningTown::start_in(town);
    let feed = Feed::start(&t.town, &[]);
    feed.wait_subscribed(&t.town);
    let bead = t.town.create(&["Break it"]);
    let nux = "alpha/polecats/nux";
    t.town.ok(&[
        "sling",
        &bead,
        nux,
        "--runtime",
        "idler",
        "--no-formula",
        "--no-convoy",
    ]);
    // Quiet at its prompt with work on its hook: stalled, on the stream and in status.
    wait_events(
        &feed,
        "session.stalled told",
        Duration::from_secs(60),
        |events| {
            story(events, nux, "session.")
                .contains(&"session.stalled")
                .then_some(())
        },
    );
    wait_for("status shows it stalled", Duration::from_secs(60), || {
        let status: Value =
            serde_json::from_str(&t.town.ok(&["status", "--json"])).expect("status JSON");
        let agent = status["agents"]
            .as_array()?
            .iter()
            .find(|a| a["address"] == nux)?
            .clone();
        let rig = status["rigs"]
            .as_array()?
            .iter()
            .find(|r| r["name"] == "alpha")?
            .clone();
        (agent["session"]
            .as_str()
            .is_some_and(|s| s.starts_with("stalled"))
            && rig["stalled"] == 1)
            .then_some(())
    });
    // Another polecat's work fails the test gate: gated, then sent back.
    let bad = t.town.create(&[
        "Break the gate",
        "-d",
        "Break it.\n\n```sh\necho bad > bad.txt\n```\n",
    ]);
    t.town.ok(&["sling", &bad, "alpha", "--no-convoy"]);
    let (mr, events) = wait_events(
        &feed,
        "the rework told",
        Duration::from_secs(90),
        |events| {
            let mr = events.iter().find(|e| {
                e["kind"] == "mq.queued" && e["text"].as_str().is_some_and(|t| t.contains(&bad))
            })?["subject"]
                .as_str()?
                .to_string();
            story(events, &mr, "mq.")
                .contains(&"mq.rework")
                .then(|| (mr, events.to_vec()))
        },
    );
    // Queued, each gate run (on the candidate, then on the target alone to see whose fault
    // it is), then sent back.
    let mq = story(&events, &mr, "mq.");
    let rework = mq.iter().position(|k| *k == "mq.rework").expect("rework");
    assert_eq!(mq[0], "mq.queued", "{mq:?}");
    assert!(
        rework >= 2 && mq[1..rework].iter().all(|k| *k == "mq.gating"),
        "{mq:?}"
    );
    let gating = events
        .iter()
        .find(|e| e["kind"] == "mq.gating")
        .expect("gating");
    assert_eq!(gating["rig"], "alpha");
    assert!(
        gating["text"]
            .as_str()
            .is_some_and(|t| t.contains(&bad) && t.contains("gate test")),
        "{gating}"
    );
    // The polecat's session: first seen as it was, then each change once.
    let sessions = story(&events, nux, "session.");
    assert!(
        ["session.starting", "session.working", "session.idle"].contains(&sessions[0]),
        "{sessions:?}"
    );
    once_per_change(&sessions);
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "gaps: {seqs:?}");
}

#[test]
fn a_crash_a_restart_an_exit_mail_delivered_a_bead_updated_and_an_escalation_are_each_told() {
    let t = RunningTown::start();
    t.town.ok(&[
        "config",
        "agent",
        "set",
        "--ready-marker",
        "READY",
        "echoer",
        "sh -c 'echo READY; exec cat'",
    ]);
    let feed = Feed::start(&t.town, &[]);
    feed.wait_subscribed(&t.town);
    let max = "alpha/crew/max";
    t.town.ok(&["agent", "spawn", max, "--runtime", "echoer"]);
    let session_path = "town/rigs/alpha/crew/max/session";
    let supervision = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["subject"] == session_path)
            .filter_map(|e| e["kind"].as_str())
            .filter(|k| k.starts_with("supervision."))
            .map(str::to_string)
            .collect()
    };
    wait_for("max's session ready", Duration::from_secs(30), || {
        crate::util::stdout(&t.town.run(&["peek", max]))
            .contains("READY")
            .then_some(())
    });
    // Killed: a crash, and the tree starts it again.
    t.town.ok(&["kill", max]);
    wait_for("the crash and the restart", Duration::from_secs(30), || {
        supervision(&feed.seen())
            .contains(&"supervision.restarted".to_string())
            .then_some(())
    });
    wait_for("max's session ready again", Duration::from_secs(30), || {
        let screen = crate::util::stdout(&t.town.run(&["peek", max]));
        screen.contains("READY").then_some(())
    });
    // Mail to a running agent is typed into its session: delivered.
    let sent = t
        .town
        .ok(&["mail", "send", max, "-s", "hello", "-m", "read this"]);
    // An agent that ends by itself with status 0: an exit, no crash, and started again.
    t.town.ok(&[
        "config",
        "agent",
        "set",
        "--ready-marker",
        "READY",
        "quitter",
        "sh -c 'echo READY; sleep 1; exit 0'",
    ]);
    t.town
        .ok(&["agent", "spawn", "alpha/crew/ann", "--runtime", "quitter"]);
    let ann = "town/rigs/alpha/crew/ann/session";
    let events = wait_events(
        &feed,
        "the mail delivered, ann's clean exit and its restart",
        Duration::from_secs(60),
        |events| {
            let delivered = events.iter().any(|e| e["kind"] == "mail.delivered");
            let told = story(events, ann, "supervision.");
            let exited = told.iter().position(|k| *k == "supervision.exited");
            let again = told.iter().rposition(|k| *k == "supervision.restarted");
            (delivered && exited.is_some() && again > exited).then(|| events.to_vec())
        },
    );
    assert!(
        !story(&events, ann, "supervision.").contains(&"supervision.crashed"),
        "a clean exit is no crash"
    );
    // max's killed session: one crash, then its restart.
    let told = supervision(&events);
    let crashed: Vec<usize> = told
        .iter()
        .enumerate()
        .filter(|(_, k)| *k == "supervision.crashed")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(crashed.len(), 1, "{told:?}");
    assert_eq!(
        told.get(crashed[0] + 1).map(String::as_str),
        Some("supervision.restarted"),
        "{told:?}"
    );
    let mail: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("mail.")))
        .filter(|e| e["text"].as_str().is_some_and(|t| t.contains("hello")))
        .collect();
    let mail_kinds: Vec<&str> = mail.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(
        mail_kinds[..2],
        ["mail.sent", "mail.delivered"],
        "{sent}: {mail:#?}"
    );
    assert_eq!(mail[0]["subject"], mail[1]["subject"]);

    // A bead updated, an escalation raised, acked and closed: each once, in order.
    let bead = t.town.create(&["Old title"]);
    t.town
        .ok(&["bead", "update", &bead, "--title", "New title"]);
    t.town.ok(&["escalate", "-s", "high", "the gate is slow"]);
    let id = serde_json::from_str::<Value>(&t.town.ok(&["escalate", "list", "--json"]))
        .expect("json")
        .as_array()
        .and_then(|a| a.first().cloned())
        .and_then(|e| e["id"].as_str().map(str::to_string))
        .expect("the escalation");
    t.town.ok(&["escalate", "ack", &id]);
    t.town.ok(&["escalate", "close", &id, "--reason", "fixed"]);
    let events = wait_for("the escalation closed", Duration::from_secs(30), || {
        let events = feed.seen();
        events
            .iter()
            .any(|e| e["kind"] == "escalation.closed")
            .then_some(events)
    });
    assert_eq!(
        story(&events, &bead, "bead."),
        ["bead.created", "bead.updated"],
        "{events:#?}"
    );
    assert_eq!(
        story(&events, &id, "escalation."),
        ["escalation.raised", "escalation.acked", "escalation.closed"]
    );
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "gaps: {seqs:?}");
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
