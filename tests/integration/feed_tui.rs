//! The full-screen `gastown feed` in a real PTY, its screen read with vt100: the agents pane
//! shows a crew member and the polecat a sling starts, the log the bead's events; `r` and `f`
//! filter, `p` shows the peeked screen, Enter attaches and comes back, a resize to a tiny
//! terminal says it is too small, and `q` exits 0 with the normal screen back. Bad input
//! (an unknown rig) is refused naming the rigs there are.

use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, stderr, town_with_rig};
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ROWS: u16 = 40;
const COLS: u16 = 160;

/// `gastown feed` on a PTY of its own, everything it prints parsed into a screen.
struct FeedTui {
    child: Box<dyn Child + Send + Sync>,
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser>>,
}

impl FeedTui {
    fn start(town: &TestTown, args: &[&str]) -> FeedTui {
        let pair = native_pty_system()
            .openpty(size(ROWS, COLS))
            .expect("a PTY");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gastown"));
        cmd.cwd(&town.root);
        cmd.env_remove("GASTOWN_TOWN");
        cmd.env_remove("GASTOWN_AGENT");
        cmd.env_remove("GASTOWN_TOKEN");
        cmd.env("TERM", "xterm-256color");
        cmd.arg("feed");
        cmd.args(args);
        let child = pair.slave.spawn_command(cmd).expect("gastown feed starts");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("the PTY's reader");
        let writer = pair.master.take_writer().expect("the PTY's writer");
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            nonzero(ROWS),
            nonzero(COLS),
            0,
        )));
        let sink = Arc::clone(&parser);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock().expect("parser").process(&buf[..n]);
            }
        });
        FeedTui {
            child,
            master: pair.master,
            writer,
            parser,
        }
    }

    fn screen(&self) -> String {
        self.parser.lock().expect("parser").screen().contents()
    }

    fn alternate(&self) -> bool {
        self.parser
            .lock()
            .expect("parser")
            .screen()
            .alternate_screen()
    }

    /// Poll the parsed screen until `check` holds.
    fn wait(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(what, Duration::from_secs(60), || {
                let screen = self.screen();
                let ok = check(&screen);
                last = screen.clone();
                ok.then_some(screen)
            })
        }));
        found.unwrap_or_else(|_| panic!("timed out waiting for {what}; the screen:\n{last}"))
    }

    fn keys(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("typing into the PTY");
        self.writer.flush().expect("typing into the PTY");
    }

    fn resize(&self, rows: u16, cols: u16) {
        self.parser
            .lock()
            .expect("parser")
            .set_size(nonzero(rows), nonzero(cols));
        self.master
            .resize(size(rows, cols))
            .expect("resize the PTY");
    }
}

impl Drop for FeedTui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn size(rows: u16, cols: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

fn nonzero(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).expect("a size above zero")
}

/// The header line (the screen's first).
fn header(screen: &str) -> &str {
    screen.lines().next().unwrap_or("")
}

#[test]
fn the_full_screen_feed_shows_the_town_filters_peeks_attaches_and_gives_the_terminal_back() {
    let t = RunningTown::start();
    t.town
        .ok(&["agent", "spawn", "alpha/crew/max", "--runtime", "sim"]);
    wait_for("the crew member's session", Duration::from_secs(30), || {
        t.town
            .run(&["peek", "alpha/crew/max"])
            .status
            .success()
            .then_some(())
    });
    let mut feed = FeedTui::start(&t.town, &[]);
    feed.wait("the full screen", |s| {
        s.contains(" agents (") && s.contains("q quit")
    });
    assert!(feed.alternate(), "on the alternate screen");
    feed.wait("the crew member in the agents pane", |s| {
        s.contains("alpha/crew/max")
    });

    // A sling: the polecat it starts appears, and the bead's events in the log.
    let bead = t.town.create(&["Say hi"]);
    t.town.ok(&["sling", &bead, "alpha"]);
    let screen = feed.wait("the polecat and the bead's events", |s| {
        s.contains("alpha/polecats/") && s.contains("hook.set") && s.contains(&bead)
    });
    assert!(screen.contains(" events "), "{screen}");

    // A town bead (no rig): shown with every rig, hidden with the rig filter.
    let probe = "a town probe";
    t.town.create(&[probe]);
    feed.wait("the town bead's event", |s| s.contains(probe));
    feed.keys(b"r");
    feed.wait("rig alpha's events only", |s| {
        header(s).contains("rig: alpha") && !s.contains(probe)
    });
    feed.keys(b"r");
    feed.wait("every rig again", |s| {
        header(s).contains("rig: all") && s.contains(probe)
    });

    // Select the crew member, then filter the log by it.
    for _ in 0..20 {
        if header(&feed.screen()).contains("selected: alpha/crew/max") {
            break;
        }
        let before = header(&feed.screen()).to_string();
        feed.keys(b"\t");
        feed.wait("the selection to move", |s| header(s) != before);
    }
    assert!(header(&feed.screen()).contains("selected: alpha/crew/max"));
    feed.keys(b"f");
    let screen = feed.wait("the log filtered by the crew member", |s| {
        header(s).contains("log: alpha/crew/max") && !s.contains(probe)
    });
    assert!(!screen.contains("hook.set"), "the polecat's hook: {screen}");
    feed.keys(b"f");
    feed.wait("the whole log again", |s| {
        header(s).contains("log: all agents") && s.contains(probe)
    });

    // Peek: its screen over the panes; Esc closes it.
    feed.keys(b"p");
    feed.wait("the peeked screen", |s| {
        s.contains("peek alpha/crew/max") && s.contains("Gas Town sim agent — alpha/crew/max")
    });
    feed.keys(b"\x1b");
    feed.wait("the peek closed", |s| {
        !s.contains("peek alpha/crew/max") && s.contains(" agents (")
    });

    // Enter attaches on the normal screen; Ctrl-] comes back to the full screen.
    feed.keys(b"\r");
    wait_for("the attachment", Duration::from_secs(30), || {
        (!feed.alternate() && feed.screen().contains("Gas Town sim agent")).then_some(())
    });
    feed.keys(b"\x1d");
    feed.wait("back from the attachment", |s| {
        header(s).contains("back from alpha/crew/max")
    });
    assert!(feed.alternate(), "on the alternate screen again");
    // Nothing of the attachment is left reading the keyboard: the very next key is the feed's.
    feed.keys(b"?");
    feed.wait("the help", |s| s.contains("cycle the rig filter"));
    feed.keys(b"\x1b");
    feed.wait("the help closed", |s| !s.contains("cycle the rig filter"));

    // Too small a terminal: one line saying so; big again: the panes.
    feed.resize(5, 20);
    feed.wait("the too-small line", |s| {
        s.starts_with("terminal too small")
    });
    feed.resize(ROWS, COLS);
    feed.wait("the panes again", |s| s.contains(" agents ("));

    // q: exit 0 with the normal screen back.
    feed.keys(b"q");
    let status = wait_for("the feed to exit", Duration::from_secs(20), || {
        feed.child.try_wait().expect("wait")
    });
    assert!(status.success(), "{status:?}");
    wait_for("the normal screen", Duration::from_secs(10), || {
        (!feed.alternate()).then_some(())
    });
}

#[test]
fn the_full_screen_feed_says_why_it_ends_when_the_supervisor_goes_away() {
    let mut t = RunningTown::start();
    let mut feed = FeedTui::start(&t.town, &[]);
    feed.wait("the full screen", |s| s.contains(" agents ("));
    t.stop();
    let status = wait_for("the feed to exit", Duration::from_secs(30), || {
        feed.child.try_wait().expect("wait")
    });
    assert!(status.success(), "{status:?}");
    let screen = feed.wait("the reason on the normal screen", |s| {
        s.contains("gastown run stopped: the feed ends")
    });
    assert!(!feed.alternate(), "{screen}");
}

#[test]
fn sigterm_and_sighup_give_the_terminal_back() {
    let t = RunningTown::start();
    for signal in [libc::SIGTERM, libc::SIGHUP] {
        let mut feed = FeedTui::start(&t.town, &[]);
        feed.wait("the full screen", |s| s.contains(" agents ("));
        let pid = feed.child.process_id().expect("a pid") as i32;
        // SAFETY: signalling the child this test started.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        wait_for("the feed to exit", Duration::from_secs(30), || {
            feed.child.try_wait().expect("wait")
        });
        let screen = feed.wait("the reason on the normal screen", |s| {
            s.contains("stopped by a signal")
        });
        assert!(!feed.alternate(), "signal {signal}: {screen}");
    }
}

#[test]
fn an_unknown_rig_is_refused_naming_the_rigs() {
    let t = RunningTown::start_in(town_with_rig());
    let out = t.town.run(&["feed", "--rig", "nosuch"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no rig \"nosuch\"") && err.contains("the rigs are alpha"),
        "{err}"
    );
}
