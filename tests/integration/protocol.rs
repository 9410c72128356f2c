//! Builds that speak different protocol versions: over a real socket, a `gastown run` refuses a
//! client of another version, and a CLI refuses a supervisor of another version, both with a
//! clear "restart `gastown run`" and never with garbage. Messages are encoded by hand here, as
//! another build would (bincode 2, standard config: varint integers, length-prefixed strings),
//! so the test does not lean on this build's own encoder.

use crate::running::RunningTown;
use crate::util::{TestTown, stderr, stdout};
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const RESTART: &str = "restart `gastown run`";

/// bincode's varint for an unsigned integer.
pub fn varint(n: u64) -> Vec<u8> {
    match n {
        0..=250 => vec![n as u8],
        251..=0xffff => [vec![251], (n as u16).to_le_bytes().to_vec()].concat(),
        0x1_0000..=0xffff_ffff => [vec![252], (n as u32).to_le_bytes().to_vec()].concat(),
        _ => [vec![253], n.to_le_bytes().to_vec()].concat(),
    }
}

pub fn string(text: &str) -> Vec<u8> {
    [varint(text.len() as u64), text.as_bytes().to_vec()].concat()
}

/// A frame: 4-byte big-endian length, then the payload.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    [
        (payload.len() as u32).to_be_bytes().to_vec(),
        payload.to_vec(),
    ]
    .concat()
}

/// A hello of protocol `version` from the overseer (no token).
fn hello(version: u64) -> Vec<u8> {
    frame(&[varint(version), vec![0], string("gastown of another build")].concat())
}

/// One frame's payload, or `None` when the peer closed first.
pub fn read_frame(stream: &mut UnixStream) -> Option<Vec<u8>> {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).ok()?;
    let mut payload = vec![0u8; u32::from_be_bytes(length) as usize];
    stream.read_exact(&mut payload).ok()?;
    Some(payload)
}

/// Where `gastown run` listens for `town` (its recorded path, else the default one).
pub fn socket_of(town: &TestTown) -> PathBuf {
    let runtime = town.root.join(".runtime");
    match std::fs::read_to_string(runtime.join("socket.path")) {
        Ok(path) if !path.trim().is_empty() => PathBuf::from(path.trim()),
        _ => runtime.join("gastown.sock"),
    }
}

#[test]
fn gastown_run_refuses_an_older_or_newer_client_saying_restart() {
    let t = RunningTown::start();
    // Every version but the one the supervisor speaks (read from its own refusal of version 0),
    // so a protocol bump needs no edit here.
    let current = crate::bounds::protocol_of(&socket_of(&t.town));
    let versions = [1, 2, current - 1, current + 1, 9999];
    for version in versions.into_iter().filter(|v| *v != current) {
        let mut stream = UnixStream::connect(socket_of(&t.town)).expect("the socket listens");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a timeout");
        stream.write_all(&hello(version)).expect("hello sent");
        let payload = read_frame(&mut stream).expect("an answer before the close");
        // ServerFrame::Error (variant 2) of WireError { code: VersionMismatch (2), message }:
        // a layout every version since the first reads.
        assert_eq!(&payload[..2], &[2, 2], "version {version}: {payload:?}");
        let message = String::from_utf8_lossy(&payload);
        assert!(message.contains(RESTART), "version {version}: {message}");
        assert!(
            message.contains(&format!("client protocol {version}")),
            "version {version}: {message}"
        );
        assert!(
            read_frame(&mut stream).is_none(),
            "the connection is closed after the refusal"
        );
    }
    // The town is unharmed.
    t.town.ok(&["bead", "list"]);
}

/// A fake supervisor that reads one hello and answers `answer`, on a socket of its own.
fn fake_supervisor(dir: &Path, answer: Vec<u8>) -> (PathBuf, std::thread::JoinHandle<u64>) {
    let path = dir.join("other-build.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("the CLI connects");
        let hello = read_frame(&mut stream).expect("a hello");
        stream.write_all(&answer).expect("answer sent");
        // The protocol version the CLI announced (a one-byte varint here).
        u64::from(hello[0])
    });
    (path, server)
}

fn cli_against(town: &TestTown, socket: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&town.root)
        .env_remove("GASTOWN_TOWN")
        .env("GASTOWN_SOCKET", socket)
        .args(args)
        .output()
        .expect("the gastown binary runs")
}

#[test]
fn a_cli_facing_a_supervisor_of_another_build_says_restart() {
    let town = TestTown::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let answers: [(&str, Vec<u8>); 3] = [
        // A version-2 `gastown run` refusing this client, in its own words.
        (
            "an older supervisor's refusal",
            frame(
                &[
                    vec![2, 2],
                    string(
                        "this supervisor speaks protocol 2, the client 3: use the same gastown \
                         build for the CLI and `gastown run`",
                    ),
                ]
                .concat(),
            ),
        ),
        // A newer one that welcomes with its own version (ServerFrame::Welcome, Overseer).
        ("a welcome of protocol 9", frame(&[0, 9, 0])),
        // One whose frames this build cannot decode (a variant it does not know).
        ("an unknown frame", frame(&[7, 1, 2, 3])),
    ];
    for (what, answer) in answers {
        let sub = dir.path().join(what.replace(' ', "-"));
        std::fs::create_dir(&sub).expect("dir");
        let (socket, server) = fake_supervisor(&sub, answer);
        let out = cli_against(&town, &socket, &["bead", "list"]);
        let announced = server.join().expect("the fake supervisor ran");
        assert!(!out.status.success(), "{what}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains(RESTART), "{what}: {err}");
        assert!(
            err.contains(&format!("speaks protocol {announced}")),
            "{what}: {err}"
        );
        assert!(stdout(&out).is_empty(), "{what}: nothing on stdout");
    }
}
