//! The town survives its ledger being unavailable (issue 14, item 6), with the real `gastown
//! run`: a ledger locked by another process leaves the supervisor up, answering with who holds
//! the lock until it is released; a full disk (a real, small tmpfs filled to the last byte)
//! leaves the sessions running and reads working, refuses creates with the reason, stores
//! nothing it refused, and takes changes again once there is room; a group commit that reports an
//! error is answered by what the reopened index holds (stored: done; not stored: said so).

use crate::running::{RunningTown, group_alive, wait_for};
use crate::util::{TestTown, source_repo, stderr};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

const MAX: &str = "town/rigs/alpha/crew/max";

/// The ledger's lock, held by this test process as another gastown process would hold it
/// (`flock` and its pid in the file); released when dropped.
struct HeldLock(#[allow(dead_code)] std::fs::File);

fn hold_ledger_lock(town: &Path) -> HeldLock {
    let path = town.join(".runtime").join("ledger.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .expect("open the ledger lock");
    // SAFETY: flock on a descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(rc, 0, "the lock is free before run starts");
    file.set_len(0).expect("truncate");
    writeln!(file, "{}", std::process::id()).expect("write pid");
    HeldLock(file)
}

fn names(list_json: &str) -> Vec<String> {
    let beads: Vec<serde_json::Value> = serde_json::from_str(list_json).expect("a JSON list");
    beads
        .iter()
        .map(|b| b["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn still_running(t: &mut RunningTown) -> bool {
    t.child
        .as_mut()
        .expect("started")
        .try_wait()
        .expect("wait")
        .is_none()
}

#[test]
fn a_ledger_locked_by_another_process_leaves_run_up_and_writes_wait_for_the_lock() {
    let town = crate::util::town_with_rig();
    town.create(&["Filed before"]);
    let held = hold_ledger_lock(&town.root);
    // Before: the ledger actor failed to start, its supervisor gave up and `gastown run`
    // exited, so the socket never answered and this start failed.
    let mut t = RunningTown::start_in(town);
    let pid = std::process::id();
    for _ in 0..3 {
        let err = t.town.fails(&["bead", "create", "While locked"]);
        assert!(
            err.contains(&format!("the ledger is locked by process {pid}")),
            "says who holds it: {err}"
        );
        assert!(err.contains("nothing acknowledged was lost"), "{err}");
        let err = t.town.fails(&["bead", "list"]);
        assert!(err.contains("locked by process"), "{err}");
    }
    assert!(still_running(&mut t), "gastown run stays up:\n{}", t.log());
    t.town.ok(&["actors", "--json"]);

    drop(held);
    wait_for(
        "a create once the lock is free",
        Duration::from_secs(20),
        || {
            t.town
                .run(&["bead", "create", "After the lock"])
                .status
                .success()
                .then_some(())
        },
    );
    let titles = names(&t.town.ok(&["bead", "list", "--json"]));
    assert!(titles.contains(&"Filed before".to_string()), "{titles:?}");
    assert!(titles.contains(&"After the lock".to_string()), "{titles:?}");
    assert!(!titles.contains(&"While locked".to_string()), "{titles:?}");
    assert!(still_running(&mut t));
    assert!(
        t.log().contains("the ledger is available again"),
        "{}",
        t.log()
    );
}

/// redb may report a commit error after the group is durable: the create is then reported done
/// (the reopened index has it), never failed.
#[test]
fn a_create_stored_though_its_commit_reported_an_error_is_reported_done() {
    let town = crate::util::town_with_rig();
    let t = RunningTown::start_with_env(
        town,
        &[("GASTOWN_LEDGER_FAULT", "commit-fails-after-durable")],
    );
    // Before: the failed flush crashed the ledger actor and the create was reported failed.
    t.town.create(&["Stored though the commit erred"]);
    let titles = names(&t.town.ok(&["bead", "list", "--json"]));
    assert!(
        titles.contains(&"Stored though the commit erred".to_string()),
        "{titles:?}"
    );
    assert!(t.log().contains("the ledger failed"), "{}", t.log());
    assert!(
        t.log().contains("the ledger is available again"),
        "{}",
        t.log()
    );
}

/// A commit that fails having stored nothing: the create is reported not stored, and it is not.
#[test]
fn a_create_whose_commit_stored_nothing_is_reported_not_stored() {
    let town = crate::util::town_with_rig();
    let mut t = RunningTown::start_with_env(
        town,
        &[("GASTOWN_LEDGER_FAULT", "commit-fails-before-durable")],
    );
    let err = t.town.fails(&["bead", "create", "Never stored"]);
    assert!(err.contains("this change was not stored"), "{err}");
    let titles = wait_for("a list", Duration::from_secs(20), || {
        let out = t.town.run(&["bead", "list", "--json"]);
        out.status
            .success()
            .then(|| names(&String::from_utf8_lossy(&out.stdout)))
    });
    assert!(!titles.contains(&"Never stored".to_string()), "{titles:?}");
    assert!(still_running(&mut t), "gastown run stays up:\n{}", t.log());
}

/// A tmpfs of `size` mounted on a fresh temp dir, unmounted when dropped; `None` when this
/// process may not mount (not root).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("temp dir");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fill the file system of `dir` to the last byte: `dir/filler` grows until the write fails
/// with ENOSPC.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("create the filler");
    let chunk = vec![0u8; 1 << 20];
    loop {
        if let Err(e) = file.write_all(&chunk) {
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
            break;
        }
    }
    let mut small = [0u8; 4096];
    while file.write_all(&small[..]).is_ok() {
        small[0] = small[0].wrapping_add(1);
    }
    path
}

#[test]
fn a_full_disk_keeps_sessions_and_reads_and_stores_nothing_it_refused() {
    let Some(tmpfs) = Tmpfs::mount("64m") else {
        // Mounting needs root (as in CI's container); say so where a person sees it.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED a_full_disk_keeps_sessions_and_reads_and_stores_nothing_it_refused: \
             cannot mount a tmpfs (not root)"
        );
        assert!(
            std::env::var_os("GASTOWN_REQUIRE_TMPFS").is_none(),
            "GASTOWN_REQUIRE_TMPFS is set but a tmpfs cannot be mounted"
        );
        return;
    };
    let outside = tempfile::tempdir().expect("temp dir");
    let src = source_repo(outside.path());
    let town = TestTown::install_at(outside, tmpfs.path().join("town"));
    town.ok(&["rig", "add", "alpha", &src]);
    town.create(&["Filed before"]);
    let mut t = RunningTown::start_in(town);
    t.town
        .ok(&["agent", "spawn", "alpha/crew/max", "--runtime", "sim"]);
    let session = wait_for("the sim session", Duration::from_secs(30), || {
        t.session_pid(MAX)
    });
    t.town.create(&["Acknowledged before the disk filled"]);

    let filler = fill(tmpfs.path());
    let err = t.town.fails(&["bead", "create", "Refused on a full disk"]);
    assert!(err.contains("is full"), "says the disk is full: {err}");
    assert!(err.contains("nothing acknowledged was lost"), "{err}");
    assert!(err.contains("free some space"), "says what to do: {err}");
    // Reads go on.
    let titles = names(&t.town.ok(&["bead", "list", "--json"]));
    assert!(titles.contains(&"Filed before".to_string()), "{titles:?}");
    assert!(
        titles.contains(&"Acknowledged before the disk filled".to_string()),
        "{titles:?}"
    );
    assert!(
        !titles.contains(&"Refused on a full disk".to_string()),
        "a refused create is not stored: {titles:?}"
    );
    // The session and the supervisor live on.
    assert_eq!(t.session_pid(MAX), Some(session), "the same session");
    assert!(group_alive(session));
    assert!(still_running(&mut t), "gastown run stays up:\n{}", t.log());

    std::fs::remove_file(&filler).expect("free the space");
    t.town.create(&["Filed once there is room"]);
    let titles = names(&t.town.ok(&["bead", "list", "--json"]));
    assert!(
        titles.contains(&"Filed once there is room".to_string()),
        "{titles:?}"
    );
    assert_eq!(t.session_pid(MAX), Some(session), "never restarted");

    // Everything acknowledged is there after a stop and a direct open; nothing refused is.
    let status = t.stop();
    assert!(status.success(), "run stops cleanly: {}", t.log());
    let out = t.town.run(&["bead", "list", "--all", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let titles = names(&String::from_utf8_lossy(&out.stdout));
    for title in [
        "Filed before",
        "Acknowledged before the disk filled",
        "Filed once there is room",
    ] {
        assert!(titles.contains(&title.to_string()), "{title}: {titles:?}");
    }
    assert!(!titles.contains(&"Refused on a full disk".to_string()));
    drop(t);
    drop(tmpfs);
}

/// Without a supervisor, on a full disk: reads work, a create is refused saying the disk is full
/// (not that the index is damaged, whose advice — delete it — would lose changes), and once
/// there is room everything works again.
#[test]
fn without_a_supervisor_a_full_disk_refuses_writes_and_reads_still_work() {
    let Some(tmpfs) = Tmpfs::mount("32m") else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED without_a_supervisor_a_full_disk_refuses_writes_and_reads_still_work: \
             cannot mount a tmpfs (not root)"
        );
        assert!(std::env::var_os("GASTOWN_REQUIRE_TMPFS").is_none());
        return;
    };
    let outside = tempfile::tempdir().expect("temp dir");
    let town = TestTown::install_at(outside, tmpfs.path().join("town"));
    let before = town.create(&["Filed before"]);
    let filler = fill(tmpfs.path());
    let err = town.fails(&["bead", "create", "Refused on a full disk"]);
    assert!(err.contains("is full"), "{err}");
    assert!(err.contains("nothing acknowledged was lost"), "{err}");
    assert!(!err.contains("delete the index file and reopen"), "{err}");
    let shown = town.ok(&["bead", "show", &before]);
    assert!(shown.contains("Filed before"), "{shown}");
    std::fs::remove_file(&filler).expect("free the space");
    town.create(&["Filed once there is room"]);
    let titles = names(&town.ok(&["bead", "list", "--json"]));
    assert!(
        titles.contains(&"Filed once there is room".to_string()),
        "{titles:?}"
    );
    assert!(
        !titles.contains(&"Refused on a full disk".to_string()),
        "{titles:?}"
    );
    drop(town);
    drop(tmpfs);
}

/// A streaming import that fills the disk (issue 19): refused saying the disk is full, nothing
/// stored (the ledger is as empty as before), no half-written pack of blobs left in the
/// repository, and once there is room the same import goes through.
#[test]
fn an_import_that_fills_the_disk_stores_nothing_and_leaves_no_pack_behind() {
    let Some(tmpfs) = Tmpfs::mount("8m") else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED an_import_that_fills_the_disk_stores_nothing_and_leaves_no_pack_behind: \
             cannot mount a tmpfs (not root)"
        );
        assert!(std::env::var_os("GASTOWN_REQUIRE_TMPFS").is_none());
        return;
    };
    let outside = tempfile::tempdir().expect("temp dir");
    let export = outside.path().join("big.jsonl");
    std::fs::write(
        &export,
        gastown_beads::testdata::synthetic_export(20_000, 0.3),
    )
    .expect("write the export");
    let town = TestTown::install_at(
        tempfile::tempdir().expect("temp dir"),
        tmpfs.path().join("town"),
    );
    let err = town.fails(&["bead", "import", export.to_str().expect("utf-8")]);
    assert!(err.contains("is full"), "{err}");
    assert!(err.contains("nothing acknowledged was lost"), "{err}");
    assert_eq!(
        names(&town.ok(&["bead", "list", "--all", "--json"])),
        Vec::<String>::new(),
        "nothing stored"
    );
    let pack_dir = town.root.join(".git/objects/pack");
    let left: Vec<String> = std::fs::read_dir(&pack_dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".tmp"))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "temporary packs left behind: {left:?}");
    // Room again (the town moved to a disk with space): the same import goes through.
    let roomy = tempfile::tempdir().expect("temp dir");
    let moved = roomy.path().join("town");
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(&town.root)
        .arg(&moved)
        .status()
        .expect("cp runs");
    assert!(copied.success());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&moved)
        .env_remove("GASTOWN_TOWN")
        .args(["bead", "import", export.to_str().expect("utf-8")])
        .output()
        .expect("gastown runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(town);
    drop(tmpfs);
}
