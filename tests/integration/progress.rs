//! Progress where a person waits (`src/progress.rs`): `rig add`, `bead import`, `mq process` and
//! `demo` run in a
//! real terminal (a PTY) show their bars and still do their work; the same commands with stdout
//! and stderr piped print exactly their plain output, with no bar, no spinner and no carriage
//! return; `--quiet`, `GASTOWN_NO_PROGRESS=1` and `TERM=dumb` turn the bars off in a terminal.

use crate::util::{TestTown, stderr, stdout};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a command printed in a terminal: every byte, and the screen it left.
struct InTerminal {
    ok: bool,
    raw: String,
    screen: String,
}

/// Run `gastown <args>` in `cwd` inside a real PTY (80 columns is what most people have), with
/// `env` on top of a clean gastown environment; wait for it and read everything it printed.
fn in_terminal(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> InTerminal {
    in_terminal_answering(cwd, args, env, None)
}

/// [`in_terminal`], typing `keys` once the output shows `when` (a person pressing Ctrl-C).
fn in_terminal_answering(
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    answer: Option<(&str, &[u8])>,
) -> InTerminal {
    let (rows, cols) = (50, 100);
    let pair = native_pty_system()
        .openpty(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pty");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gastown"));
    cmd.args(args);
    cmd.cwd(cwd);
    for var in ["GASTOWN_TOWN", "GASTOWN_AGENT", "GASTOWN_NO_PROGRESS"] {
        cmd.env_remove(var);
    }
    cmd.env("TERM", "xterm-256color");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = pair
        .slave
        .spawn_command(cmd)
        .expect("gastown starts in the pty");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("the pty's reader");
    let so_far = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&so_far);
    // Read on a thread: the child blocks once the pty's buffer is full.
    let reading = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        // EIO once the child and every copy of the slave side are gone: the end.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().expect("output").extend_from_slice(&buf[..n]);
        }
    });
    let status = match answer {
        None => child.wait().expect("gastown ends"),
        Some((when, keys)) => {
            let mut writer = pair.master.take_writer().expect("the pty's writer");
            let mut typed = false;
            crate::running::wait_for(
                "the command in the terminal ends",
                std::time::Duration::from_secs(300),
                || {
                    if let Some(status) = child.try_wait().expect("waitable") {
                        return Some(status);
                    }
                    if !typed {
                        let out = so_far.lock().expect("output");
                        if String::from_utf8_lossy(&out).contains(when) {
                            std::io::Write::write_all(&mut writer, keys).expect("typed");
                            typed = true;
                        }
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    None
                },
            )
        }
    };
    reading.join().expect("the reader thread");
    let bytes = std::mem::take(&mut *so_far.lock().expect("output"));
    drop(pair.master);
    let size = |n: u16| std::num::NonZeroU16::new(n).expect("a terminal has a size");
    let mut parser = vt100::Parser::new(size(rows), size(cols), 0);
    parser.process(&bytes);
    InTerminal {
        ok: status.success(),
        raw: String::from_utf8_lossy(&bytes).into_owned(),
        screen: parser.screen().contents(),
    }
}

/// What a progress bar or spinner leaves in the bytes: a carriage return that is not the
/// terminal's own end of line (`\r\n`), or the cursor moving up to redraw.
fn drew_progress(raw: &str) -> bool {
    raw.replace("\r\n", "\n").contains('\r') || raw.contains("\x1b[1A") || raw.contains("\x1b[2K")
}

/// The same command with stdout and stderr piped (as in a script or CI).
fn piped(cwd: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(cwd)
        .env_remove("GASTOWN_TOWN")
        .env_remove("GASTOWN_AGENT")
        .env_remove("GASTOWN_NO_PROGRESS")
        .env("TERM", "xterm-256color")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("gastown runs");
    (out.status.success(), stdout(&out), stderr(&out))
}

/// Nothing a bar would draw: no carriage return, no escape sequence, no bar or spinner.
fn assert_plain(what: &str, text: &str) {
    assert!(
        !text.contains('\r') && !text.contains('\x1b'),
        "{what}: {text:?}"
    );
    assert!(
        !text.contains("=>") && !text.contains("[="),
        "{what}: {text:?}"
    );
}

/// A bare repository with `commits` commits on `main` (one file each), made fast with
/// `git fast-import`.
fn big_repo(dir: &Path, commits: usize) -> PathBuf {
    let repo = dir.join("big.git");
    let init = Command::new("git")
        .args(["init", "--quiet", "--bare", "--initial-branch=main"])
        .arg(&repo)
        .output()
        .expect("git init");
    assert!(init.status.success(), "{}", stderr(&init));
    let mut stream = String::new();
    for i in 1..=commits {
        let body = format!("file {i}\n");
        let msg = format!("commit {i}\n");
        stream.push_str("commit refs/heads/main\n");
        stream.push_str(&format!("committer t <t@t> {} +0000\n", 1_700_000_000 + i));
        stream.push_str(&format!("data {}\n{msg}", msg.len()));
        if i == 1 {
            stream.push_str("from 0000000000000000000000000000000000000000\n");
        }
        stream.push_str(&format!(
            "M 100644 inline f{i}.txt\ndata {}\n{body}\n",
            body.len()
        ));
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    std::io::Write::write_all(
        child.stdin.as_mut().expect("fast-import's stdin"),
        stream.as_bytes(),
    )
    .expect("feed fast-import");
    drop(child.stdin.take());
    assert!(child.wait().expect("fast-import ends").success());
    repo
}

#[test]
fn rig_add_shows_the_clone_in_a_terminal_and_nothing_in_a_pipe() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = big_repo(dir.path(), 300);
    // A file:// URL goes through git's pack transfer, which counts the objects it receives.
    let url = format!("file://{}", repo.display());

    let town = TestTown::new();
    let shown = in_terminal(&town.root, &["rig", "add", "big", &url], &[]);
    assert!(shown.ok, "rig add failed in a terminal:\n{}", shown.screen);
    assert!(drew_progress(&shown.raw), "no bar drawn: {:?}", shown.raw);
    assert!(shown.raw.contains("rig add"), "{:?}", shown.raw);
    assert!(shown.raw.contains("receiving objects"), "{:?}", shown.raw);
    assert!(shown.screen.contains("Added rig big"), "{}", shown.screen);
    let commits = crate::util::git_in(
        &town.root.join("big/.repo.git"),
        &["rev-list", "--count", "main"],
    );
    assert_eq!(commits, "300");

    let other = TestTown::new();
    let (ok, out, err) = piped(&other.root, &["rig", "add", "big", &url]);
    assert!(ok, "rig add failed in a pipe: {err}");
    // Today's output: the summary on stdout, nothing on stderr.
    assert!(out.starts_with("Added rig big at "), "{out}");
    assert_eq!(err, "");
    assert_plain("rig add's stdout", &out);
    let commits = crate::util::git_in(
        &other.root.join("big/.repo.git"),
        &["rev-list", "--count", "main"],
    );
    assert_eq!(commits, "300");
}

/// `lines` beads as one `bd` JSONL export.
fn big_export(dir: &Path, lines: usize) -> PathBuf {
    let file = dir.join("big.jsonl");
    let text: String = (1..=lines)
        .map(|i| {
            format!(
                r#"{{"id":"gt-p{i}","title":"Imported bead {i}","status":"open","priority":2,"issue_type":"task","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}}"#
            ) + "\n"
        })
        .collect();
    std::fs::write(&file, text).expect("write the export");
    file
}

#[test]
fn bead_import_of_a_large_file_shows_bytes_and_lines_in_a_terminal_and_nothing_in_a_pipe() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = big_export(dir.path(), 20_000);
    let file = file.to_str().expect("utf-8");

    let town = TestTown::new();
    let shown = in_terminal(&town.root, &["bead", "import", file], &[]);
    assert!(shown.ok, "import failed in a terminal:\n{}", shown.screen);
    assert!(drew_progress(&shown.raw), "no bar drawn: {:?}", shown.raw);
    assert!(shown.raw.contains("import"), "{:?}", shown.raw);
    assert!(
        shown.raw.contains(" lines"),
        "no lines count: {:?}",
        shown.raw
    );
    assert!(shown.raw.contains("KiB"), "no bytes: {:?}", shown.raw);
    let done = format!("Imported {file}: 20000 created, 0 updated, 0 unchanged (0 wisps)");
    assert!(shown.screen.contains(&done), "{}", shown.screen);
    let last = town.ok(&["bead", "show", "gt-p20000", "--json"]);
    assert!(last.contains("Imported bead 20000"), "{last}");

    let other = TestTown::new();
    let (ok, out, err) = piped(&other.root, &["bead", "import", file]);
    assert!(ok, "import failed in a pipe: {err}");
    assert_eq!(out, format!("{done}\n"));
    assert_eq!(err, "");
}

/// Variables set on top of a command's environment.
type Env<'a> = &'a [(&'a str, &'a str)];

#[test]
fn quiet_no_progress_and_a_dumb_terminal_draw_no_bar() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = big_export(dir.path(), 3_000);
    let file = file.to_str().expect("utf-8");
    let done = format!("Imported {file}: 3000 created, 0 updated, 0 unchanged (0 wisps)");
    let runs: [(&[&str], Env); 3] = [
        (&["bead", "import", file, "--quiet"], &[]),
        (&["bead", "import", file], &[("GASTOWN_NO_PROGRESS", "1")]),
        (&["bead", "import", file], &[("TERM", "dumb")]),
    ];
    for (args, env) in runs {
        let town = TestTown::new();
        let shown = in_terminal(&town.root, args, env);
        assert!(shown.ok, "{args:?} {env:?}:\n{}", shown.screen);
        assert!(
            !drew_progress(&shown.raw),
            "{args:?} {env:?} drew: {:?}",
            shown.raw
        );
        assert_eq!(
            shown.raw.replace("\r\n", "\n"),
            format!("{done}\n"),
            "{args:?} {env:?}"
        );
    }
}

#[test]
fn the_demo_shows_beads_landed_in_a_terminal_and_stays_until_ctrl_c_with_its_summary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let town = dir.path().join("demo");
    let args = [
        "demo",
        "--dir",
        town.to_str().expect("utf-8"),
        "--timeout",
        "5m",
        "--beads",
        "3",
        "--agents",
        "2",
    ];
    // On a terminal the town stays after the landing, for status, feed and dashboard in
    // another terminal, until Ctrl-C.
    let shown = in_terminal_answering(dir.path(), &args, &[], Some(("Ctrl-C stops it", b"\x03")));
    assert!(shown.ok, "the demo failed in a terminal:\n{}", shown.raw);
    assert!(
        shown.screen.contains("stopping the town"),
        "{}",
        shown.screen
    );
    assert!(
        shown.screen.contains(&format!(
            "gastown --town {} status",
            dir.path()
                .canonicalize()
                .expect("the temp dir")
                .join("demo/town")
                .display()
        )),
        "{}",
        shown.screen
    );
    assert!(drew_progress(&shown.raw), "no bar drawn: {:?}", shown.raw);
    assert!(shown.raw.contains("landed"), "{:?}", shown.raw);
    assert!(
        shown.raw.contains("3/3"),
        "the bar never reached 3/3: {:?}",
        shown.raw
    );
    assert!(shown.screen.contains("Convoy landed."), "{}", shown.screen);
    assert!(
        shown.screen.contains("beads merged:     3/3"),
        "{}",
        shown.screen
    );
}

/// A town with one merge request queued for rig `alpha`, whose test gate takes a moment.
fn town_with_a_queued_mr() -> (TestTown, String) {
    let town = crate::refinery::town();
    crate::refinery::configure(&town, 1, "merge", "test = \"sleep 0.5\"");
    let (_, mr) = crate::refinery::submit(&town, "nux", "Add a line", &[("new.txt", "new\n")]);
    (town, mr)
}

#[test]
fn mq_process_shows_each_merge_request_in_a_terminal_and_nothing_in_a_pipe() {
    let (town, mr) = town_with_a_queued_mr();
    let shown = in_terminal(&town.root, &["mq", "process", "alpha", "--all"], &[]);
    assert!(
        shown.ok,
        "mq process failed in a terminal:\n{}",
        shown.screen
    );
    assert!(
        drew_progress(&shown.raw),
        "no spinner drawn: {:?}",
        shown.raw
    );
    assert!(
        shown.raw.contains("landing the merge queue of alpha"),
        "{:?}",
        shown.raw
    );
    // The merge request's own line names it and the gate it ran, and stays with its result.
    assert!(shown.raw.contains("gate test"), "{:?}", shown.raw);
    assert!(shown.screen.contains(&mr), "{}", shown.screen);
    assert_eq!(crate::refinery::mq_show(&town, &mr)["state"], "closed");

    let (other, other_mr) = town_with_a_queued_mr();
    let (ok, out, err) = piped(&other.root, &["mq", "process", "alpha", "--all"]);
    assert!(ok, "mq process failed in a pipe: {err}");
    assert_plain("stdout", &out);
    assert_plain("stderr", &err);
    assert!(!err.contains("landing the merge queue"), "{err}");
    assert!(out.contains(&other_mr), "{out}");
    assert_eq!(
        crate::refinery::mq_show(&other, &other_mr)["state"],
        "closed"
    );
}
