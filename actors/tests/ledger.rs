//! The ledger actor against real redb files, real git and real gates: every operation is timed
//! and a slow one is named in the log; a command run in steps (`mq process`) keeps its gate out
//! of the actor, so other callers go on while the gate runs. No fixed sleeps: waits poll a
//! condition against a deadline.

use gastown_actors::ledger::{LedgerActor, LedgerArgs, LedgerHandle};
use gastown_beads::{LedgerConfig, NewBead};
use gastown_town::refinery::{ProcessOptions, process_rig};
use gastown_town::rig::{AddOptions, add_rig};
use gastown_town::town::{DefaultAgent, InstallOptions, Town, install};
use gastown_town::work::{self, DoneStatus, WorkCommand};
use ractor::Actor;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Generous bound for anything that should happen "soon" on a loaded 2-core machine.
const SOON: Duration = Duration::from_secs(30);

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=test", "-c", "user.email=test@localhost"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn task(title: &str) -> NewBead {
    NewBead {
        title: title.to_string(),
        priority: 2,
        ..NewBead::default()
    }
}

/// The log lines written while it is the default subscriber.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

/// Start a ledger actor on `config`, registered under `name`.
async fn start(
    name: &str,
    config: LedgerConfig,
) -> (
    ractor::ActorRef<gastown_actors::ledger::LedgerMsg>,
    tokio::task::JoinHandle<()>,
    LedgerHandle,
) {
    let (actor, join) = Actor::spawn(
        Some(name.to_string()),
        LedgerActor,
        LedgerArgs {
            config,
            changes: None,
        },
    )
    .await
    .expect("the ledger actor starts");
    (actor, join, LedgerHandle::named(name))
}

#[tokio::test]
async fn a_slow_ledger_operation_is_named_in_the_log_and_a_quick_one_is_not() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    // A current-thread runtime: the actor's task logs through this thread's subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().expect("temp dir");
    git(dir.path(), &["init", "--quiet", "--initial-branch=main"]);
    let config = LedgerConfig {
        repo_path: dir.path().to_path_buf(),
        index_path: dir.path().join(".runtime/ledger.redb"),
        lock_path: dir.path().join(".runtime/ledger.lock"),
        prefix: "gt".to_string(),
        git_ref: "refs/heads/beads".to_string(),
        commit_delay: Duration::from_secs(3600),
        author_name: "test".to_string(),
        author_email: "test@localhost".to_string(),
    };
    let (actor, join, ledger) = start("test-ledger-slow-op", config).await;
    ledger
        .call("test: nothing", |_| ())
        .await
        .expect("a quick op");
    // Real work that holds the ledger: beads created one by one for 80 ms.
    let created = ledger
        .call("test: create beads for 80 ms", |l| {
            let started = Instant::now();
            let mut n = 0;
            while started.elapsed() < Duration::from_millis(80) {
                l.create(task(&format!("bead {n}")), "test")
                    .expect("create");
                n += 1;
            }
            n
        })
        .await
        .expect("a slow op");
    assert!(created > 0);
    actor.stop(None);
    join.await.expect("the actor stops");
    let text = logs.text();
    assert!(
        text.contains("slow ledger operation: `test: create beads for 80 ms` held the ledger for"),
        "{text}"
    );
    assert!(
        text.contains("operation=\"test: create beads for 80 ms\""),
        "{text}"
    );
    assert!(
        !text.contains("test: nothing"),
        "a quick op is not reported: {text}"
    );
}

/// A town with rig `r` (pushing nowhere) and one merge request in its queue, whose `test` gate
/// writes `started` and waits until `release` exists.
struct QueuedMerge {
    _dir: tempfile::TempDir,
    town: Town,
    started: PathBuf,
    release: PathBuf,
}

fn queued_merge() -> QueuedMerge {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = dir.path().join("seed");
    std::fs::create_dir(&seed).expect("mkdir");
    git(&seed, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(seed.join("README.md"), "one\n").expect("write");
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "--quiet", "-m", "first"]);
    let town = install(
        &dir.path().join("town"),
        &InstallOptions {
            prefix: "gt".to_string(),
            name: None,
            agent: DefaultAgent::Named("sim".to_string()),
        },
    )
    .expect("install");
    let rig = add_rig(
        &town,
        &AddOptions {
            name: "r".to_string(),
            source: seed.to_string_lossy().into_owned(),
            branch: None,
            runtime: None,
            prefix: None,
            no_push: true,
        },
    )
    .expect("rig add");
    let mut ledger = town.open_ledger().expect("ledger");
    let bead = ledger.create(task("work"), "overseer").expect("create").id;
    let sling = WorkCommand::Sling {
        bead: bead.clone(),
        target: "r/polecats/nux".to_string(),
        force: false,
        runtime: None,
        formula: None,
        no_formula: true,
        no_convoy: true,
    };
    work::apply(&mut ledger, &town, sling, &gastown_town::Caller::Overseer).expect("sling");
    std::fs::write(rig.polecat_worktree("nux").join("work.md"), "work\n").expect("write");
    let done = WorkCommand::Done {
        status: DoneStatus::Completed,
        message: None,
    };
    let nux = gastown_town::Caller::from_name("r/polecats/nux").expect("an address");
    work::apply(&mut ledger, &town, done, &nux).expect("done");
    ledger.close_ledger().expect("close");
    let (started, release) = (dir.path().join("started"), dir.path().join("release"));
    let gate = format!(
        "touch '{}'; while [ ! -f '{}' ]; do sleep 0.02; done",
        started.display(),
        release.display()
    );
    let path = town.root.join("r/rig.toml");
    let text = std::fs::read_to_string(&path).expect("rig.toml");
    let text = text.replace("[gates]\n", &format!("[gates]\ntest = \"{gate}\"\n"));
    std::fs::write(&path, text).expect("write rig.toml");
    QueuedMerge {
        _dir: dir,
        town,
        started,
        release,
    }
}

/// Releases the gate when dropped, so a failing test does not leave it waiting forever.
struct ReleaseOnDrop(PathBuf);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, "go");
    }
}

// Two workers: were the gate run inside the ledger actor, it would block one of them, and the
// test's deadlines must still fire on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_of_mq_process_leaves_the_ledger_actor_to_everyone_else() {
    let fx = queued_merge();
    let _release = ReleaseOnDrop(fx.release.clone());
    let config = fx.town.ledger_config().expect("ledger config");
    let (actor, join, ledger) = start("test-ledger-gate", config).await;
    let town = fx.town.clone();
    let rig = gastown_town::rig::Rig::load(&town, "r").expect("rig");
    let steps = ledger.clone();
    let processing = tokio::spawn(async move {
        steps
            .in_steps(move |steps| {
                process_rig(steps, &town, &rig, &ProcessOptions::default(), "r/refinery")
                    .map_err(|e| format!("{e:#}"))
            })
            .await
    });
    let deadline = Instant::now() + SOON;
    while !fx.started.exists() {
        assert!(Instant::now() < deadline, "the gate never started");
        assert!(
            !processing.is_finished(),
            "mq process ended before its gate ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The gate waits for `release`: a write and a read through the actor complete meanwhile.
    let created = tokio::time::timeout(
        SOON,
        ledger.try_call("test: create while a gate runs", |l| {
            l.create(task("filed during the gate"), "overseer")
        }),
    )
    .await
    .expect("the ledger actor answered while the gate ran")
    .expect("created");
    let read = tokio::time::timeout(
        SOON,
        ledger.try_call("test: read while a gate runs", move |l| l.get(&created.id)),
    )
    .await
    .expect("the ledger actor answered while the gate ran")
    .expect("read");
    assert!(read.is_some());
    assert!(
        !processing.is_finished(),
        "the gate is still waiting for its release"
    );
    std::fs::write(&fx.release, "go").expect("release the gate");
    let summary = tokio::time::timeout(SOON, processing)
        .await
        .expect("mq process finished once released")
        .expect("its task")
        .expect("its steps ran")
        .expect("it landed");
    assert_eq!((summary.merged, summary.gate_runs), (1, 1), "{summary:?}");
    actor.stop(None);
    join.await.expect("the actor stops");
}
