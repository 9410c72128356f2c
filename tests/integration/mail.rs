//! `gastown mail …` end to end: the real binary on a real ledger, directly and through a running
//! supervisor's socket (concurrent senders, `kill -9` during a burst).

use crate::running::{RunningTown, wait_for};
use crate::util::as_agent;
use crate::util::{TestTown, stderr, stdout};
use std::collections::HashMap;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn ok_as(town: &TestTown, who: &str, args: &[&str]) -> String {
    let out = as_agent(town, who, args);
    assert!(
        out.status.success(),
        "{who}: gastown {args:?} failed:\n{}",
        stderr(&out)
    );
    stdout(&out)
}

fn fails_as(town: &TestTown, who: &str, args: &[&str]) -> String {
    let out = as_agent(town, who, args);
    assert!(
        !out.status.success(),
        "{who}: gastown {args:?} should fail but printed:\n{}",
        stdout(&out)
    );
    stderr(&out)
}

/// Make a rig exist the way the town sees rigs: `<town>/<name>/rig.toml`.
fn add_rig(town: &TestTown, name: &str) {
    let dir = town.root.join(name);
    std::fs::create_dir_all(&dir).expect("rig dir");
    std::fs::write(dir.join("rig.toml"), "").expect("rig.toml");
}

/// The id printed by `mail send` to one inbox (`sent <id> to <address>`).
fn sent_id(text: &str) -> String {
    text.split_whitespace()
        .nth(1)
        .expect("sent <id> to …")
        .to_string()
}

/// An inbox as JSON (as the overseer).
fn inbox_json(town: &TestTown, address: &str, all: bool) -> Vec<serde_json::Value> {
    let mut args = vec!["mail", "inbox", address, "--json", "--limit", "0"];
    if all {
        args.push("--all");
    }
    let v: serde_json::Value = serde_json::from_str(&town.ok(&args)).expect("inbox --json is JSON");
    v.as_array().expect("an array").clone()
}

fn titles(mail: &[serde_json::Value]) -> Vec<String> {
    mail.iter()
        .map(|m| m["title"].as_str().expect("title").to_string())
        .collect()
}

#[test]
fn send_inbox_read_reply_thread_search_ack_and_archive() {
    let t = TestTown::new();
    let id = sent_id(&t.ok(&[
        "mail",
        "send",
        "mayor",
        "-s",
        "Plan for today",
        "-m",
        "Ship the parser.",
    ]));
    let inbox = ok_as(&t, "mayor", &["mail", "inbox"]);
    assert!(
        inbox.contains(&id) && inbox.contains("overseer") && inbox.contains("Plan for today"),
        "{inbox}"
    );

    let mail = inbox_json(&t, "mayor", false);
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["issue_type"], "message");
    assert_eq!(mail[0]["sender"], "overseer");
    assert_eq!(mail[0]["created_by"], "overseer");
    assert_eq!(mail[0]["assignee"], "mayor");
    assert_eq!(mail[0]["description"], "Ship the parser.");

    let read = ok_as(&t, "mayor", &["mail", "read", &id]);
    assert!(
        read.contains("From: overseer") && read.contains("Ship the parser."),
        "{read}"
    );
    assert_eq!(
        ok_as(&t, "mayor", &["mail", "inbox"]),
        "mayor: no unread mail\n"
    );
    assert!(ok_as(&t, "mayor", &["mail", "inbox", "--all"]).contains(&id));

    let reply = ok_as(&t, "mayor", &["mail", "reply", &id, "-m", "On it."]);
    assert!(reply.contains("to overseer: Re: Plan for today"), "{reply}");
    let reply_id = sent_id(&reply);
    let mine = inbox_json(&t, "overseer", false);
    assert_eq!(titles(&mine), vec!["Re: Plan for today"]);
    assert_eq!(mine[0]["sender"], "mayor");
    assert_eq!(mine[0]["dependencies"][0]["type"], "replies-to");
    assert_eq!(mine[0]["dependencies"][0]["depends_on_id"], id.as_str());

    let thread = t.ok(&["mail", "thread", &reply_id]);
    let (first, second) = (
        thread.find("Ship the parser.").expect("root"),
        thread.find("On it.").expect("reply"),
    );
    assert!(first < second, "root first:\n{thread}");

    assert!(ok_as(&t, "mayor", &["mail", "search", "PARSER"]).contains(&id));
    assert_eq!(
        ok_as(&t, "deacon", &["mail", "search", "parser"]),
        "no mail\n"
    );

    t.ok(&["mail", "mark-unread", &reply_id]);
    t.ok(&["mail", "ack", &reply_id]);
    assert!(inbox_json(&t, "overseer", false).is_empty());
    t.ok(&["mail", "archive", &reply_id]);
    assert!(
        inbox_json(&t, "overseer", true).is_empty(),
        "archived mail leaves the inbox"
    );
    assert!(
        t.ok(&["mail", "search", "On it"]).contains(&reply_id),
        "and stays searchable"
    );
    t.ok(&["mail", "mark-unread", &reply_id]);
    assert_eq!(
        titles(&inbox_json(&t, "overseer", false)),
        vec!["Re: Plan for today"]
    );
}

#[test]
fn an_agent_reads_only_its_own_inbox_and_mail() {
    let t = TestTown::new();
    let id = sent_id(&t.ok(&[
        "mail",
        "send",
        "mayor",
        "-s",
        "secret",
        "-m",
        "for the mayor",
    ]));
    let err = fails_as(&t, "deacon", &["mail", "inbox", "mayor"]);
    assert!(
        err.contains("deacon may not read mayor's inbox") && err.contains("the overseer"),
        "{err}"
    );
    let err = fails_as(&t, "deacon", &["mail", "read", &id]);
    assert!(err.contains("not its mail"), "{err}");
    let err = fails_as(&t, "deacon", &["mail", "archive", &id]);
    assert!(err.contains("it is mayor's"), "{err}");
    // The overseer reading someone's mail does not mark it read for them.
    assert!(t.ok(&["mail", "read", &id]).contains("for the mayor"));
    assert_eq!(titles(&inbox_json(&t, "mayor", false)), vec!["secret"]);
}

#[test]
fn a_body_over_the_size_limit_is_refused_naming_the_limit() {
    let t = TestTown::new();
    let big = "x".repeat(64 * 1024 + 1);
    let err = t.fails(&["mail", "send", "mayor", "-s", "big", "-m", &big]);
    assert!(
        err.contains("64 KiB") && err.contains("65536 bytes"),
        "{err}"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&t.root)
        .env_remove("GASTOWN_TOWN")
        .args(["mail", "send", "mayor", "-s", "big"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gastown runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let _ = stdin.write_all(big.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().expect("exits");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("64 KiB"), "{}", stderr(&out));
    assert!(
        inbox_json(&t, "mayor", true).is_empty(),
        "nothing was stored"
    );
    // Exactly at the limit is fine.
    t.ok(&["mail", "send", "mayor", "-s", "edge", "-m", &big[1..]]);
}

#[test]
fn a_body_on_stdin_travels_with_the_command() {
    let t = TestTown::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&t.root)
        .env_remove("GASTOWN_TOWN")
        .args(["mail", "send", "deacon", "-s", "from stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gastown runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"line one\nline two\n")
        .expect("write");
    let out = child.wait_with_output().expect("exits");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        inbox_json(&t, "deacon", false)[0]["description"],
        "line one\nline two\n"
    );
}

#[test]
fn an_empty_subject_is_refused() {
    let t = TestTown::new();
    let err = t.fails(&["mail", "send", "mayor", "-s", "  ", "-m", "body"]);
    assert!(err.contains("subject is empty"), "{err}");
    assert!(inbox_json(&t, "mayor", true).is_empty());
}

#[test]
fn an_unknown_address_is_refused_with_the_closest_real_ones() {
    let t = TestTown::new();
    add_rig(&t, "alpha");
    let err = t.fails(&["mail", "send", "mayr", "-s", "hi", "-m", "x"]);
    assert!(
        err.contains("unknown address \"mayr\"") && err.contains("mayor"),
        "{err}"
    );
    let err = t.fails(&["mail", "send", "alpha/witnes", "-s", "hi", "-m", "x"]);
    assert!(err.contains("alpha/witness"), "{err}");
    let err = t.fails(&["mail", "send", "beta/witness", "-s", "hi", "-m", "x"]);
    assert!(
        err.contains("no such identity") && err.contains("alpha/witness"),
        "{err}"
    );
    let err = t.fails(&["mail", "send", "@witneses", "-s", "hi", "-m", "x"]);
    assert!(err.contains("@witnesses"), "{err}");
    let err = t.fails(&["mail", "send", "queue:work", "-s", "hi", "-m", "x"]);
    assert!(err.contains("no such queue"), "{err}");
}

#[test]
fn a_queue_item_claimed_twice_is_refused_naming_the_claimant() {
    let t = TestTown::new();
    add_rig(&t, "alpha");
    t.ok(&["mail", "queue", "create", "builds"]);
    let id = sent_id(&t.ok(&["mail", "send", "queue:builds", "-s", "build #1", "-m", "x"]));
    let claimed = ok_as(&t, "alpha/refinery", &["mail", "queue", "claim", "builds"]);
    assert!(claimed.contains(&id), "{claimed}");
    let err = fails_as(&t, "alpha/witness", &["mail", "queue", "claim", &id]);
    assert!(err.contains("already claimed by alpha/refinery"), "{err}");
    let err = fails_as(&t, "alpha/witness", &["mail", "queue", "claim", "builds"]);
    assert!(err.contains("no unclaimed item"), "{err}");
    let err = fails_as(&t, "alpha/witness", &["mail", "queue", "release", &id]);
    assert!(err.contains("claimed by alpha/refinery"), "{err}");
    ok_as(&t, "alpha/refinery", &["mail", "queue", "release", &id]);
    assert!(ok_as(&t, "alpha/witness", &["mail", "queue", "claim", &id]).contains(&id));
    assert!(
        t.ok(&["mail", "queue", "list", "builds"])
            .contains("alpha/witness")
    );
}

#[test]
fn groups_and_channels_put_each_mail_once_in_each_inbox() {
    let t = TestTown::new();
    add_rig(&t, "alpha");
    add_rig(&t, "beta");
    let out = t.ok(&["mail", "send", "@witnesses", "-s", "patrol", "-m", "x"]);
    assert!(out.contains("2 inboxes"), "{out}");
    for w in ["alpha/witness", "beta/witness"] {
        assert_eq!(titles(&inbox_json(&t, w, false)), vec!["patrol"]);
    }
    t.ok(&[
        "mail",
        "group",
        "create",
        "leads",
        "mayor",
        "alpha/witness",
        "@alpha",
    ]);
    t.ok(&["mail", "send", "@leads", "-s", "sync", "-m", "x"]);
    for a in ["mayor", "alpha/witness", "alpha/refinery"] {
        let mail = inbox_json(&t, a, false);
        assert_eq!(
            titles(&mail).iter().filter(|s| *s == "sync").count(),
            1,
            "{a}"
        );
    }
    assert!(
        t.ok(&["mail", "group", "list", "leads"])
            .contains("alpha/refinery")
    );
    t.ok(&["mail", "group", "remove", "leads", "@alpha"]);
    assert!(
        !t.ok(&["mail", "group", "list", "leads"])
            .contains("alpha/refinery")
    );

    t.ok(&["mail", "channel", "create", "news"]);
    ok_as(&t, "mayor", &["mail", "channel", "subscribe", "news"]);
    t.ok(&["mail", "channel", "subscribe", "news", "beta/refinery"]);
    let err = fails_as(
        &t,
        "deacon",
        &["mail", "channel", "subscribe", "news", "mayor"],
    );
    assert!(err.contains("only (un)subscribe itself"), "{err}");
    ok_as(
        &t,
        "mayor",
        &["mail", "send", "channel:news", "-s", "extra", "-m", "x"],
    );
    assert_eq!(
        titles(&inbox_json(&t, "beta/refinery", false)),
        vec!["extra"]
    );
    assert!(
        !titles(&inbox_json(&t, "mayor", false)).contains(&"extra".to_string()),
        "not to the sender"
    );
}

#[test]
fn check_prints_nothing_without_mail_and_inject_tells_each_mail_once() {
    let t = TestTown::new();
    let out = as_agent(&t, "mayor", &["mail", "check", "--inject"]);
    assert!(out.status.success());
    assert!(
        out.stdout.is_empty(),
        "no mail, no output: {:?}",
        stdout(&out)
    );
    assert!(ok_as(&t, "mayor", &["mail", "check"]).is_empty());

    t.ok(&["mail", "send", "mayor", "-s", "calm", "-m", "later"]);
    t.ok(&[
        "mail", "send", "mayor", "-s", "fire", "-m", "now", "--urgent",
    ]);
    let check = ok_as(&t, "mayor", &["mail", "check"]);
    assert!(
        check.contains("2 unread") && check.contains("fire"),
        "{check}"
    );
    let inject = ok_as(&t, "mayor", &["mail", "check", "--inject"]);
    assert!(
        inject.starts_with("<system-reminder>")
            && inject.trim_end().ends_with("</system-reminder>"),
        "{inject}"
    );
    assert!(
        inject.find("fire").expect("urgent") < inject.find("calm").expect("calm"),
        "urgent first:\n{inject}"
    );
    assert!(
        ok_as(&t, "mayor", &["mail", "check", "--inject"]).is_empty(),
        "told once"
    );
    assert!(
        ok_as(&t, "mayor", &["mail", "check"]).contains("2 unread"),
        "still unread"
    );
}

#[test]
fn dnd_is_kept_on_the_agent_bead() {
    let t = TestTown::new();
    assert!(ok_as(&t, "mayor", &["mail", "dnd", "on"]).contains("do-not-disturb is on"));
    let agents = t.ok(&["bead", "list", "--type", "agent", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&agents).expect("json");
    assert_eq!(v[0]["title"], "mayor");
    assert_eq!(v[0]["labels"][0], "dnd");
    assert!(ok_as(&t, "mayor", &["mail", "dnd", "off"]).contains("is off"));
    let v: serde_json::Value =
        serde_json::from_str(&t.ok(&["bead", "list", "--type", "agent", "--json"])).expect("json");
    assert_eq!(
        v.as_array().expect("array").len(),
        1,
        "one agent bead, reused"
    );
    assert!(v[0]["labels"].as_array().is_none_or(|l| l.is_empty()));
    assert!(t.fails(&["mail", "dnd", "on"]).contains("agent sessions"));
}

#[test]
fn mail_to_an_identity_whose_actor_is_down_waits_in_its_inbox() {
    let t = TestTown::new();
    add_rig(&t, "alpha");
    let running = RunningTown::start_in(t);
    // No actor runs for alpha/witness (nobody spawned it): the mail is stored all the same.
    let id =
        sent_id(
            &running
                .town
                .ok(&["mail", "send", "alpha/witness", "-s", "wake up", "-m", "x"]),
        );
    let mail = inbox_json(&running.town, "alpha/witness", false);
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["id"], id.as_str());
}

/// Send `subject` to `to` through whatever runs; true when the CLI acknowledged it (exit 0).
fn send(town: &TestTown, to: &str, subject: &str) -> bool {
    town.run(&["mail", "send", to, "-s", subject, "-m", "burst"])
        .status
        .success()
}

/// Every recipient's inbox (read and unread) must hold each expected subject exactly once.
fn assert_exactly_once(town: &TestTown, expected: &HashMap<String, Vec<String>>) {
    for (to, subjects) in expected {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for t in titles(&inbox_json(town, to, true)) {
            *counts.entry(t).or_default() += 1;
        }
        for s in subjects {
            assert_eq!(counts.get(s), Some(&1), "{s} in {to}'s inbox");
        }
        let dupes: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(dupes.is_empty(), "doubled in {to}'s inbox: {dupes:?}");
    }
}

/// The ledger holds exactly `n` message beads: nothing extra beside the inboxes checked.
fn assert_message_beads(town: &TestTown, n: usize) {
    let all: serde_json::Value =
        serde_json::from_str(&town.ok(&["bead", "list", "--type", "message", "--json"]))
            .expect("json");
    assert_eq!(
        all.as_array().expect("array").len(),
        n,
        "nothing extra in the ledger"
    );
}

const RECIPIENTS: [&str; 3] = ["mayor", "deacon", "alpha/witness"];

#[test]
fn concurrent_senders_over_the_socket_put_every_mail_exactly_once() {
    let t = TestTown::new();
    add_rig(&t, "alpha");
    let running = RunningTown::start_in(t);
    let (senders, each) = (50, 20);
    let expected: Mutex<HashMap<String, Vec<String>>> = Mutex::new(HashMap::new());
    std::thread::scope(|s| {
        for sender in 0..senders {
            let (town, expected) = (&running.town, &expected);
            s.spawn(move || {
                for i in 0..each {
                    let to = RECIPIENTS[(sender + i) % RECIPIENTS.len()];
                    let subject = format!("m-{sender}-{i}");
                    assert!(send(town, to, &subject), "send {subject} failed");
                    expected
                        .lock()
                        .expect("lock")
                        .entry(to.to_string())
                        .or_default()
                        .push(subject);
                }
            });
        }
    });
    let expected = expected.into_inner().expect("lock");
    assert_eq!(
        expected.values().map(Vec::len).sum::<usize>(),
        senders * each
    );
    assert_exactly_once(&running.town, &expected);
    assert_message_beads(&running.town, senders * each);
}

/// The full size: 50 socket connections × 200 mails each, all at once, through the
/// running supervisor (`gastown bench mail --running`, which holds one connection per client
/// and rotates the recipients), then every inbox is checked: each mail exactly once.
#[test]
fn fifty_socket_clients_times_two_hundred_mails_each_land_exactly_once() {
    let t = TestTown::new();
    add_rig(&t, "alpha");
    // 50 connections from the one bench process: above the default per-process cap (32).
    let running = RunningTown::start_with_env(t, &[("GASTOWN_SOCKET_PER_PEER", "64")]);
    let (clients, each) = (50, 200);
    let root = running.town.root.display().to_string();
    let out = running.town.ok(&[
        "bench",
        "mail",
        "--clients",
        &clients.to_string(),
        "--mails",
        &(clients * each).to_string(),
        "--to",
        &RECIPIENTS.join(","),
        "--running",
        &root,
    ]);
    assert!(
        out.contains("10000 durable mails from 50 socket clients"),
        "{out}"
    );
    // Read back from the ledger itself: stopping first also proves a clean stop keeps them all.
    let mut running = running;
    assert!(running.stop().success());
    let mut expected: HashMap<String, Vec<String>> = HashMap::new();
    for i in 0..clients {
        for n in 0..each {
            expected
                .entry(RECIPIENTS[(i + n) % RECIPIENTS.len()].to_string())
                .or_default()
                .push(format!("bench {i}/{n}"));
        }
    }
    assert_exactly_once(&running.town, &expected);
    assert_message_beads(&running.town, clients * each);
}

fn spawn_run(town: &TestTown) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(town.root.join(".runtime").join("run.stderr"))
        .expect("log file");
    Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&town.root)
        .env_remove("GASTOWN_TOWN")
        .arg("run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("gastown run starts")
}

#[test]
fn kill_9_during_a_burst_loses_no_acknowledged_mail_and_doubles_none() {
    let t = TestTown::new();
    add_rig(&t, "alpha");
    let mut running = RunningTown::start_in(t);
    let stop = AtomicBool::new(false);
    let acked: Mutex<HashMap<String, Vec<String>>> = Mutex::new(HashMap::new());
    let count = Mutex::new(0usize);
    std::thread::scope(|s| {
        for sender in 0..8 {
            let (town, stop, acked, count) = (&running.town, &stop, &acked, &count);
            s.spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let to = RECIPIENTS[(sender + i) % RECIPIENTS.len()];
                    let subject = format!("k-{sender}-{i}");
                    if send(town, to, &subject) {
                        acked
                            .lock()
                            .expect("lock")
                            .entry(to.to_string())
                            .or_default()
                            .push(subject);
                        *count.lock().expect("lock") += 1;
                    }
                    i += 1;
                }
            });
        }
        wait_for("100 acknowledged sends", Duration::from_secs(60), || {
            (*count.lock().expect("lock") >= 100).then_some(())
        });
        let mut child = running.child.take().expect("running");
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().expect("reaped");
        stop.store(true, Ordering::SeqCst);
    });
    running.child = Some(spawn_run(&running.town));
    wait_for("the restarted supervisor", Duration::from_secs(20), || {
        running
            .town
            .run(&["actors", "--json"])
            .status
            .success()
            .then_some(())
    });
    let acked = acked.into_inner().expect("lock");
    assert!(acked.values().map(Vec::len).sum::<usize>() >= 100);
    assert_exactly_once(&running.town, &acked);
}
