//! `gastown attach` in a real terminal (a PTY): the session's output arrives as a stream, the
//! terminal's size follows it when the window changes (SIGWINCH, no polling), and Ctrl-]
//! detaches cleanly.

use crate::running::{RunningTown, wait_for};
use crate::util::stdout;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn attach_in_a_terminal_streams_follows_resizes_and_detaches() {
    let t = RunningTown::start();
    crate::bounds::shell_session(&t);

    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 30,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pty");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gastown"));
    cmd.args(["attach", "alpha/crew/max"]);
    cmd.cwd(&t.town.root);
    cmd.env_remove("GASTOWN_TOWN");
    let mut child = pty.slave.spawn_command(cmd).expect("attach starts");
    drop(pty.slave);
    let seen = Arc::new(Mutex::new(String::new()));
    let mut reader = pty.master.try_clone_reader().expect("a reader");
    let sink = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            sink.lock().expect("not poisoned").push_str(&text);
        }
    });
    let shown = |what: &str| seen.lock().expect("not poisoned").contains(what);
    let mut keys = pty.master.take_writer().expect("a writer");
    wait_for("attached", Duration::from_secs(20), || {
        shown("attached to alpha/crew/max").then_some(())
    });

    // Output streams back as the shell writes it, at the terminal's size.
    keys.write_all(b"stty size; echo got-$((20+1))\r")
        .expect("typed");
    wait_for("the shell's answer", Duration::from_secs(20), || {
        (shown("got-21") && shown("30 100")).then_some(())
    });

    // The window grows: the session follows.
    pty.master
        .resize(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("resized");
    // Asked again about once a second until the new size shows (the resize travels from the
    // kernel's SIGWINCH through the supervisor to the session's PTY).
    let mut tries = 0u32;
    wait_for("the session resized", Duration::from_secs(20), || {
        if tries.is_multiple_of(40) {
            keys.write_all(b"stty size\r").expect("typed");
        }
        tries += 1;
        shown("40 120").then_some(())
    });

    // Ctrl-] detaches; the command ends by itself.
    keys.write_all(&[0x1d]).expect("detach key");
    let status = wait_for("attach exits", Duration::from_secs(20), || {
        child.try_wait().expect("waitable")
    });
    assert!(status.success(), "{}", seen.lock().expect("not poisoned"));
    assert!(shown("detached from alpha/crew/max"));
    // The shell is still there for the next one.
    assert!(
        stdout(&t.town.run(&["peek", "alpha/crew/max"])).contains("got-21"),
        "the session lives on after a detach"
    );
}
