//! Issue 14 items 2 and 3 against a real `gastown run`, over its real socket: a client cannot
//! exhaust the supervisor (a 65535×65535 attach is clamped and memory stays flat; 300 idle
//! connections from one process do not lock another process out; a request dripped byte by byte
//! is dropped) and a reply of any size arrives (`bead list --all --json` of 20,000 beads).
//!
//! Requests are encoded by hand, as in `protocol.rs` (bincode 2, standard config), so these
//! tests can send what the CLI never would.

use crate::protocol::{frame, read_frame, socket_of, string, varint};
use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, stderr, stdout};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// `RequestBody::Town` (variant 3 of `RequestBody`).
const TOWN: u8 = 3;
/// `TownRequest` variants used here (their index in the enum, pinned by the golden record).
const ATTACH_START: u8 = 18;
const ATTACH_OUTPUT: u8 = 19;
const ATTACH_INPUT: u8 = 20;
const ATTACH_RESIZE: u8 = 21;
const ATTACH_END: u8 = 22;
const PEEK: u8 = 12;

/// The protocol version the running supervisor speaks, read from its refusal of version 0
/// ("… speaks protocol N, …"), so this file needs no edit when the version moves.
pub fn protocol_of(socket: &Path) -> u64 {
    let mut stream = UnixStream::connect(socket).expect("the socket listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    let hello = frame(&[varint(0), vec![0], string("bounds test")].concat());
    stream.write_all(&hello).expect("hello sent");
    let refusal = read_frame(&mut stream).expect("a refusal");
    let text = String::from_utf8_lossy(&refusal).into_owned();
    let after = text
        .split("speaks protocol ")
        .nth(1)
        .unwrap_or_else(|| panic!("a version refusal: {text}"));
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("a version number")
}

/// A handshaken overseer connection.
fn handshaken(socket: &Path, protocol: u64) -> UnixStream {
    let mut stream = UnixStream::connect(socket).expect("the socket listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a timeout");
    let hello = frame(&[varint(protocol), vec![0], string("bounds test")].concat());
    stream.write_all(&hello).expect("hello sent");
    let welcome = read_frame(&mut stream).expect("a welcome");
    assert_eq!(welcome[0], 0, "ServerFrame::Welcome: {welcome:?}");
    stream
}

/// Sends `Request { id, body: Town(<variant> <fields>) }` and returns the response payload.
fn town_call(stream: &mut UnixStream, id: u64, variant: u8, fields: &[u8]) -> Vec<u8> {
    let request = [varint(id), vec![TOWN, variant], fields.to_vec()].concat();
    stream.write_all(&frame(&request)).expect("request sent");
    let response = read_frame(stream).expect("a response");
    // ServerFrame::Response (1), then the id.
    assert_eq!(response[0], 1, "a whole response: {response:?}");
    response
}

/// Resident memory of process `pid`, in KiB (`VmRSS` in `/proc/<pid>/status`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process alive");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// The socket's counters from `gastown actors --json`.
fn socket_stats(town: &TestTown) -> serde_json::Value {
    let tree: serde_json::Value =
        serde_json::from_str(&town.ok(&["actors", "--json"])).expect("JSON");
    tree["children"]
        .as_array()
        .and_then(|children| children.iter().find(|n| n["role"] == "socket"))
        .map(|socket| socket["stats"].clone())
        .expect("the socket's node carries its counters")
}

#[test]
fn a_65535_by_65535_attach_is_clamped_and_the_supervisor_stays_small() {
    let t = RunningTown::start();
    shell_session(&t);
    let supervisor = t.child.as_ref().expect("running").id();
    let before = rss_kib(supervisor);
    let socket = socket_of(&t.town);
    let protocol = protocol_of(&socket);
    let mut stream = handshaken(&socket, protocol);

    let huge = [string("alpha/crew/max"), varint(65535), varint(65535)].concat();
    let attached = town_call(&mut stream, 1, ATTACH_START, &huge);
    // Response, id 1, Ok (0), ReplyBody::Town (3), TownReply::Attached (17), then its id.
    assert_eq!(&attached[..5], &[1, 1, 0, 3, 17], "attached: {attached:?}");
    let attachment = attached[5];
    assert!(attachment < 251, "a one-byte attachment id");
    let resized = town_call(
        &mut stream,
        2,
        ATTACH_RESIZE,
        &[vec![attachment], varint(65535), varint(65535)].concat(),
    );
    assert_eq!(&resized[..4], &[1, 2, 0, 3], "resize answered: {resized:?}");

    // The shell sees the clamped size.
    let typed = b"stty size\r".to_vec();
    let input = [vec![attachment], varint(typed.len() as u64), typed].concat();
    town_call(&mut stream, 3, ATTACH_INPUT, &input);
    // The output streams on a connection of its own, reply after reply, under one request id.
    let mut output = handshaken(&socket, protocol);
    let request = [varint(1), vec![TOWN, ATTACH_OUTPUT], vec![attachment]].concat();
    output.write_all(&frame(&request)).expect("request sent");
    let mut seen = Vec::new();
    let started = Instant::now();
    while !String::from_utf8_lossy(&seen).contains("500 1000") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the shell never printed its clamped size: {}",
            String::from_utf8_lossy(&seen)
        );
        let reply = read_frame(&mut output).expect("the next output");
        assert_eq!(&reply[..3], &[1, 1, 0], "a streamed reply: {reply:?}");
        seen.extend_from_slice(&reply);
    }
    let id = 4;

    let after = rss_kib(supervisor);
    assert!(
        after < before + 150 * 1024,
        "the supervisor's memory stays bounded: {before} KiB before, {after} KiB after"
    );
    // Still serving everyone, sessions included.
    let peek = town_call(
        &mut stream,
        id,
        PEEK,
        &[string("alpha/crew/max"), vec![0]].concat(),
    );
    assert_eq!(&peek[2..4], &[0, 3], "peek answered: {peek:?}");
    t.town.ok(&["actors"]);
}

/// A shell session under `alpha/crew/max`, at its prompt.
pub fn shell_session(t: &RunningTown) {
    t.town.ok(&[
        "config",
        "agent",
        "set",
        "--ready-marker",
        "READY",
        "shell",
        "sh -c 'echo READY; exec sh'",
    ]);
    t.town
        .ok(&["agent", "spawn", "alpha/crew/max", "--runtime", "shell"]);
    wait_for("the shell session", Duration::from_secs(20), || {
        stdout(&t.town.run(&["peek", "alpha/crew/max"]))
            .contains("READY")
            .then_some(())
    });
}

#[test]
fn an_attachments_output_streams_once_and_detaching_ends_the_stream() {
    let t = RunningTown::start();
    shell_session(&t);
    let socket = socket_of(&t.town);
    let protocol = protocol_of(&socket);
    let mut control = handshaken(&socket, protocol);
    let size = [string("alpha/crew/max"), varint(24), varint(80)].concat();
    let attached = town_call(&mut control, 1, ATTACH_START, &size);
    assert_eq!(&attached[..5], &[1, 1, 0, 3, 17], "attached: {attached:?}");
    let attachment = attached[5];

    // Typed before the stream opens: the output is still there (taken at AttachStart).
    let typed = b"echo streamed-$((6*7))\r".to_vec();
    let input = [vec![attachment], varint(typed.len() as u64), typed].concat();
    town_call(&mut control, 2, ATTACH_INPUT, &input);

    let open = |id: u64| {
        let mut stream = handshaken(&socket, protocol);
        let request = [varint(id), vec![TOWN, ATTACH_OUTPUT], vec![attachment]].concat();
        stream.write_all(&frame(&request)).expect("request sent");
        stream
    };
    let mut output = open(7);
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("streamed-42") {
        let reply = read_frame(&mut output).expect("output streams until the shell answers");
        // Response, the request's id on every reply, Ok.
        assert_eq!(&reply[..3], &[1, 7, 0], "a streamed reply: {reply:?}");
        seen.extend_from_slice(&reply);
    }

    // One stream per attachment: a second is refused, saying what to do.
    let mut second = open(8);
    let refused = read_frame(&mut second).expect("a refusal");
    assert_eq!(&refused[..3], &[1, 8, 1], "an error reply: {refused:?}");
    assert!(
        String::from_utf8_lossy(&refused).contains("already streams its output"),
        "{}",
        String::from_utf8_lossy(&refused)
    );

    // Detaching ends the stream: the output connection is closed, not left hanging.
    let ended = town_call(&mut control, 3, ATTACH_END, &[attachment]);
    assert_eq!(&ended[..4], &[1, 3, 0, 3], "detached: {ended:?}");
    output
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a timeout");
    while let Some(reply) = read_frame(&mut output) {
        assert_eq!(
            &reply[..3],
            &[1, 7, 0],
            "only output before the end: {reply:?}"
        );
    }
    // And the attachment is gone for everyone.
    let after = town_call(&mut control, 4, ATTACH_INPUT, &input);
    assert_eq!(
        after[2], 1,
        "input to an ended attachment is refused: {after:?}"
    );
}

#[test]
fn three_hundred_idle_connections_from_one_process_do_not_lock_out_another() {
    let t = RunningTown::start();
    let socket = socket_of(&t.town);
    let protocol = protocol_of(&socket);
    let hello = frame(&[varint(protocol), vec![0], string("idle hog")].concat());
    let mut held = Vec::new();
    for _ in 0..300 {
        let mut stream = UnixStream::connect(&socket).expect("the socket accepts");
        // The server may already have refused and closed: that is the point.
        let _ = stream.write_all(&hello);
        held.push(stream);
    }
    // Another process (the CLI) still gets in, again and again.
    for _ in 0..3 {
        let out = t.town.run(&["actors"]);
        assert!(out.status.success(), "{}", stderr(&out));
        t.town.ok(&["bead", "list"]);
    }
    let stats = socket_stats(&t.town);
    let refused = stats["over_peer_cap"].as_u64().expect("a counter");
    assert!(
        refused >= 300 - 32,
        "this process got at most 32 connections: {stats}"
    );
    assert_eq!(
        stats["over_capacity"], 0,
        "the global cap was never hit: {stats}"
    );
    drop(held);
}

#[test]
fn a_request_dripped_byte_by_byte_is_dropped_at_the_frame_timeout() {
    let t = RunningTown::start();
    let socket = socket_of(&t.town);
    let protocol = protocol_of(&socket);
    let mut stream = handshaken(&socket, protocol);
    let agent = "alpha/crew/".to_string() + &"x".repeat(200);
    let request = [varint(1), vec![TOWN, PEEK], string(&agent), vec![0]].concat();
    let bytes = frame(&request);
    let mut reader = stream.try_clone().expect("a second handle");
    let answer = std::thread::spawn(move || read_frame(&mut reader));
    let started = Instant::now();
    for byte in &bytes {
        if stream.write_all(&[*byte]).is_err() || answer.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let refusal = answer.join().expect("reader").expect("an error frame");
    let elapsed = started.elapsed();
    // ServerFrame::Error (2), ErrorCode::IdleTimeout (7).
    assert_eq!(&refusal[..2], &[2, 7], "{refusal:?}");
    let text = String::from_utf8_lossy(&refusal);
    assert!(text.contains("of its first byte"), "{text}");
    assert!(
        elapsed >= Duration::from_secs(4) && elapsed < Duration::from_secs(15),
        "dropped at the frame timeout (5 s), not before nor much later: {elapsed:?}"
    );
    assert_eq!(socket_stats(&t.town)["slow_frame"], 1);
}

#[test]
fn listing_twenty_thousand_beads_through_the_supervisor_returns_them_all() {
    const BEADS: usize = 20_000;
    let town = TestTown::new();
    let file = town.root.join("many.jsonl");
    let mut jsonl = String::new();
    for n in 0..BEADS {
        let line = serde_json::json!({
            "id": format!("gt-many{n:05}"),
            "title": format!("bead {n} of a large town, with a title of an ordinary length"),
            "status": "open",
            "priority": 2,
            "issue_type": "task",
            "created_at": "2026-12-04T15:25:48Z",
            "created_by": "overseer",
            "updated_at": "2026-12-04T15:25:48Z",
        });
        jsonl.push_str(&line.to_string());
        jsonl.push('\n');
    }
    std::fs::write(&file, jsonl).expect("write the import");
    town.ok(&["bead", "import", file.to_str().expect("utf-8")]);
    let t = RunningTown::start_in(town);
    let started = Instant::now();
    let listed = t.town.ok(&["bead", "list", "--all", "--json"]);
    let took = started.elapsed();
    let beads: Vec<serde_json::Value> = serde_json::from_str(&listed).expect("JSON");
    assert_eq!(beads.len(), BEADS, "every bead, in a reply of several MiB");
    eprintln!("listed {BEADS} beads through the supervisor in {took:?}");
}

#[test]
fn a_session_takes_at_most_eight_attachments_and_a_detach_frees_one() {
    const ATTACH_END: u8 = 22;
    let t = RunningTown::start();
    t.town
        .ok(&["agent", "spawn", "alpha/crew/max", "--runtime", "sim"]);
    wait_for("the sim session", Duration::from_secs(20), || {
        t.town
            .run(&["peek", "alpha/crew/max"])
            .status
            .success()
            .then_some(())
    });
    let socket = socket_of(&t.town);
    let protocol = protocol_of(&socket);
    let mut stream = handshaken(&socket, protocol);
    let start = [string("alpha/crew/max"), varint(24), varint(80)].concat();
    let mut ids = Vec::new();
    for id in 1..=8u8 {
        let attached = town_call(&mut stream, id.into(), ATTACH_START, &start);
        assert_eq!(&attached[..5], &[1, id, 0, 3, 17], "attached: {attached:?}");
        ids.push(attached[5]);
    }
    // The ninth: Err(WireError { code: Unavailable (11), message }).
    let refused = town_call(&mut stream, 9, ATTACH_START, &start);
    assert_eq!(&refused[..4], &[1, 9, 1, 11], "refused: {refused:?}");
    let text = String::from_utf8_lossy(&refused);
    assert!(text.contains("maximum per session"), "{text}");
    // Detaching one lets the next in.
    town_call(&mut stream, 10, ATTACH_END, &[ids[0]]);
    let attached = town_call(&mut stream, 11, ATTACH_START, &start);
    assert_eq!(&attached[..5], &[1, 11, 0, 3, 17], "attached: {attached:?}");
}
