//! Session actor tests on real PTYs, real processes and real signals, with `/bin/sh` scripts as
//! agents. A probe actor supervises each session and reports how it ended. No test sleeps for a
//! fixed time: every wait polls a condition against a deadline.

use std::time::{Duration, Instant};

use gastown_actors::session::{
    ExitInfo, MAX_COLS, MAX_PENDING_INPUT, MAX_ROWS, NudgeError, NudgeOptions, SUBMIT_ATTEMPTS,
    Session, SessionArgs, SessionCrashed, SessionMsg, WriteError, client, group_alive,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::mpsc;

/// Generous bound for anything that should happen "soon" on a loaded 2-core machine.
const SOON: Duration = Duration::from_secs(20);

/// How a supervised session ended, as its supervisor saw it.
#[derive(Debug)]
enum Ended {
    /// `ActorTerminated` with this reason.
    Normal(Option<String>),
    /// `ActorFailed`; `crash` is set when the error is a [`SessionCrashed`].
    Failed {
        message: String,
        crash: Option<ExitInfo>,
        /// The agent's pid, from the [`SessionCrashed`].
        pid: Option<u32>,
    },
}

/// A supervisor that only reports its children's exits.
struct Probe;

impl Actor for Probe {
    type Msg = ();
    type State = mpsc::UnboundedSender<Ended>;
    type Arguments = mpsc::UnboundedSender<Ended>;

    async fn pre_start(
        &self,
        _: ActorRef<()>,
        events: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(events)
    }

    async fn handle_supervisor_evt(
        &self,
        _: ActorRef<()>,
        event: SupervisionEvent,
        events: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let ended = match event {
            SupervisionEvent::ActorTerminated(_, _, reason) => Ended::Normal(reason),
            SupervisionEvent::ActorFailed(_, error) => Ended::Failed {
                crash: error
                    .downcast_ref::<SessionCrashed>()
                    .map(|crash| crash.exit.clone()),
                pid: error
                    .downcast_ref::<SessionCrashed>()
                    .map(|crash| crash.pid),
                message: error.to_string(),
            },
            _ => return Ok(()),
        };
        let _ = events.send(ended);
        Ok(())
    }
}

struct Harness {
    session: ActorRef<SessionMsg>,
    ended: mpsc::UnboundedReceiver<Ended>,
    probe: ActorRef<()>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(script: &str, configure: impl FnOnce(&mut SessionArgs)) -> Harness {
        let dir = tempfile::tempdir().expect("a temp dir for the session's cwd");
        let mut args = SessionArgs::new("/bin/sh", dir.path());
        args.args = vec!["-c".into(), script.into()];
        args.ready_marker = Some("READY".into());
        args.quiet_period = Duration::from_millis(100);
        args.stop_timeout = Duration::from_secs(2);
        args.nudge = NudgeOptions {
            idle_timeout: SOON,
            echo_timeout: Duration::from_secs(5),
            ..NudgeOptions::default()
        };
        configure(&mut args);
        let (events, ended) = mpsc::unbounded_channel();
        let (probe, _) = Actor::spawn(None, Probe, events)
            .await
            .expect("the probe starts");
        let (session, _) = Actor::spawn_linked(None, Session, args, probe.get_cell())
            .await
            .expect("the session starts");
        Harness {
            session,
            ended,
            probe,
            _dir: dir,
        }
    }

    async fn pid(&self) -> u32 {
        client::snapshot(&self.session).await.expect("snapshot").pid
    }

    async fn wait_screen(&self, needle: &str) -> String {
        let session = self.session.clone();
        let mut last = String::new();
        let found = poll(SOON, async || {
            last = client::peek(&session, Some(200)).await.unwrap_or_default();
            last.contains(needle)
        })
        .await;
        assert!(found, "{needle:?} never showed up; screen was:\n{last}");
        last
    }

    async fn ended(&mut self) -> Ended {
        let ended = tokio::time::timeout(SOON, self.ended.recv()).await;
        ended
            .expect("the session ends in time")
            .expect("the probe is alive")
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.session.stop(None);
        self.probe.stop(None);
    }
}

/// Polls `check` every 10 ms until it holds or `timeout` passes; returns whether it held.
async fn poll(timeout: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Live (non-zombie) members of process group `pgid`, from /proc.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .expect("/proc is mounted")
        .flatten()
    {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        if fields.len() > 2 && fields[2].parse() == Ok(pgid) && fields[0] != "Z" && fields[0] != "X"
        {
            members.push(pid);
        }
    }
    members
}

/// Whether `pid` is gone or a zombie.
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .is_some_and(|close| matches!(&stat[close + 2..close + 3], "Z" | "X")),
    }
}

const ECHO_AGENT: &str = r#"echo READY; while read l; do echo "got:$l"; done"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_captured_and_peek_shows_it() {
    let harness = Harness::start(
        "echo READY; echo second line; while read l; do :; done",
        |_| {},
    )
    .await;
    let screen = harness.wait_screen("second line").await;
    assert!(
        screen.starts_with("READY\nsecond line"),
        "screen: {screen:?}"
    );
    assert_eq!(
        client::peek(&harness.session, Some(1)).await.expect("peek"),
        "second line"
    );
    let snapshot = client::snapshot(&harness.session).await.expect("snapshot");
    assert!(snapshot.pid > 1);
    assert!(
        snapshot.bytes_out >= "READY\r\nsecond line\r\n".len() as u64,
        "{snapshot:?}"
    );
    assert!(snapshot.last_output_at_ms.is_some() && snapshot.exit.is_none() && snapshot.ready);
    assert_eq!((snapshot.rows, snapshot.cols), (40, 120));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nudge_waits_for_idle_types_and_verifies() {
    let harness = Harness::start(ECHO_AGENT, |_| {}).await;
    client::nudge(&harness.session, "hello world", NudgeOptions::default())
        .await
        .expect("the nudge lands");
    harness.wait_screen("got:hello world").await;
    let snapshot = client::snapshot(&harness.session).await.expect("snapshot");
    assert_eq!(snapshot.bytes_in, "hello world\r".len() as u64);
    assert!(snapshot.last_input_at_ms.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_nudges_never_interleave() {
    let harness = Harness::start(ECHO_AGENT, |_| {}).await;
    let texts: Vec<String> = (0..4)
        .map(|i| format!("nudge-{i}-{}", "abcdefghij".repeat(3)))
        .collect();
    let nudge = |i: usize| client::nudge(&harness.session, &texts[i], NudgeOptions::default());
    // `join!` polls in order, so the requests reach the session in order, all at once.
    let results = tokio::join!(nudge(0), nudge(1), nudge(2), nudge(3));
    for result in [results.0, results.1, results.2, results.3] {
        result.expect("every nudge lands");
    }
    let screen = harness.wait_screen(&format!("got:{}", texts[3])).await;
    let got: Vec<&str> = screen
        .lines()
        .filter(|line| line.starts_with("got:"))
        .collect();
    let expected: Vec<String> = texts.iter().map(|text| format!("got:{text}")).collect();
    assert_eq!(
        got, expected,
        "whole lines, in order, each once; screen:\n{screen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nudge_reports_not_idle_and_not_echoed() {
    // Ticks every 20 ms against a 1 s quiet period: idle only if the machine stalls for a second.
    let busy = Harness::start(
        "echo READY; while :; do echo tick; sleep 0.02; done",
        |args| args.quiet_period = Duration::from_secs(1),
    )
    .await;
    let options = NudgeOptions {
        idle_timeout: Duration::from_millis(1500),
        echo_timeout: Duration::from_secs(1),
        ..NudgeOptions::default()
    };
    let error = client::nudge(&busy.session, "hi", options)
        .await
        .expect_err("a busy session is never idle");
    assert!(matches!(error, NudgeError::NotIdle { .. }), "{error:?}");

    let deaf = Harness::start("stty -echo; echo READY; while read l; do :; done", |_| {}).await;
    let options = NudgeOptions {
        idle_timeout: SOON,
        echo_timeout: Duration::from_millis(300),
        ..NudgeOptions::default()
    };
    let error = client::nudge(&deaf.session, "hi", options)
        .await
        .expect_err("nothing echoes");
    assert!(matches!(error, NudgeError::NotEchoed { .. }), "{error:?}");
}

/// Echoes every byte but Enter, which it swallows (backspace erases): like a runtime that took
/// text and Enter as one paste, or a dialog; the typed text never leaves its input line.
const ENTER_SWALLOWER: &str = r#"stty -icanon -echo -icrnl; echo READY; cr=$(printf '\r'); del=$(printf '\177'); while :; do c=$(dd bs=1 count=1 2>/dev/null); if [ "$c" = "$cr" ]; then :; elif [ "$c" = "$del" ]; then printf '\b \b'; else printf '%s' "$c"; fi; done"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nudge_whose_enter_is_never_taken_fails_after_bounded_retries() {
    let harness = Harness::start(ENTER_SWALLOWER, |_| {}).await;
    let options = NudgeOptions {
        turn_timeout: Duration::from_millis(300),
        ..NudgeOptions::default()
    };
    let error = client::nudge(&harness.session, "hello", options)
        .await
        .expect_err("the text stays on the input line");
    assert!(
        matches!(error, NudgeError::NotTaken { attempts, .. } if attempts == SUBMIT_ATTEMPTS),
        "{error:?}"
    );
    let snapshot = client::snapshot(&harness.session).await.expect("snapshot");
    assert_eq!(
        snapshot.bytes_in,
        2 * "hello".len() as u64 + u64::from(SUBMIT_ATTEMPTS),
        "the text once, one Enter per attempt (each its own write), one backspace per character"
    );
    let session = harness.session.clone();
    let erased = poll(SOON, async || {
        let screen = client::peek(&session, None).await.unwrap_or_default();
        screen.contains("READY") && !screen.contains('h')
    })
    .await;
    assert!(erased, "the text is erased from the input line again");
}

/// Swallows the first Enter (a runtime still busy redrawing), takes the second as the turn.
const FIRST_ENTER_LOST: &str = r#"stty -icanon -echo -icrnl; echo READY; cr=$(printf '\r'); n=0; while :; do c=$(dd bs=1 count=1 2>/dev/null); if [ "$c" = "$cr" ]; then n=$((n+1)); if [ $n -ge 2 ]; then printf '\r\ntaken\r\n'; fi; else printf '%s' "$c"; fi; done"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enter_that_was_not_taken_is_pressed_again() {
    let harness = Harness::start(FIRST_ENTER_LOST, |_| {}).await;
    let options = NudgeOptions {
        turn_timeout: Duration::from_millis(500),
        ..NudgeOptions::default()
    };
    client::nudge(&harness.session, "hello", options)
        .await
        .expect("the second Enter is taken");
    harness.wait_screen("taken").await;
    let snapshot = client::snapshot(&harness.session).await.expect("snapshot");
    assert_eq!(snapshot.bytes_in, "hello".len() as u64 + 2, "two Enters");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urgent_nudge_does_not_wait_for_idle() {
    // Never idle (it ticks), but reads its input: an urgent nudge is typed anyway.
    let harness = Harness::start(
        r#"echo READY; (while :; do echo tick; sleep 0.02; done) & while read l; do echo "got:$l"; done"#,
        |args| args.quiet_period = Duration::from_secs(1),
    )
    .await;
    let options = NudgeOptions {
        idle_timeout: Duration::from_millis(200),
        wait_idle: false,
        ..NudgeOptions::default()
    };
    client::nudge(&harness.session, "urgent one", options)
        .await
        .expect("typed without waiting for idle");
    harness.wait_screen("got:urgent one").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystrokes_pass_a_nudge_that_waits_for_idle() {
    let harness = Harness::start(
        "echo READY; while :; do echo tick; sleep 0.02; done",
        |args| args.quiet_period = Duration::from_secs(1),
    )
    .await;
    harness.wait_screen("tick").await;
    let options = NudgeOptions {
        idle_timeout: Duration::from_secs(3),
        echo_timeout: Duration::from_secs(1),
        ..NudgeOptions::default()
    };
    let nudge = async {
        let result = client::nudge(&harness.session, "later", options).await;
        (result, Instant::now())
    };
    let keystroke = async {
        // Sent after the nudge (join! polls in order), so it queues behind it in the mailbox.
        let result = client::write(&harness.session, b"x".to_vec()).await;
        (result, Instant::now())
    };
    let ((nudged, nudge_done), (written, write_done)) = tokio::join!(nudge, keystroke);
    assert!(
        matches!(nudged, Err(NudgeError::NotIdle { .. })),
        "{nudged:?}"
    );
    written.expect("the keystroke is written");
    assert!(
        write_done < nudge_done,
        "the keystroke waited for the nudge's idle timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_zero_stops_normally() {
    let mut harness = Harness::start("echo READY; echo bye; exit 0", |_| {}).await;
    match harness.ended().await {
        Ended::Normal(Some(reason)) => assert!(reason.contains("exit code 0"), "{reason}"),
        other => panic!("exit 0 must be a normal stop, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_exit_three_fails_the_actor() {
    let mut harness = Harness::start("echo READY; exit 3", |_| {}).await;
    match harness.ended().await {
        Ended::Failed {
            crash: Some(exit),
            message,
            ..
        } => {
            assert_eq!(
                exit,
                ExitInfo {
                    code: Some(3),
                    signal: None
                }
            );
            assert!(message.contains("exit code 3"), "{message}");
        }
        other => panic!("exit 3 must fail the actor, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_cleans_up_the_rest_of_the_group() {
    // The sleep ignores SIGHUP (the tty hangup at the leader's exit), so only the session's
    // cleanup can end it.
    let mut harness = Harness::start("trap '' HUP; sleep 1000 & echo READY; exit 3", |_| {}).await;
    let Ended::Failed { pid: Some(pid), .. } = harness.ended().await else {
        panic!("exit 3 must fail the actor with SessionCrashed");
    };
    assert!(
        group_members(pid).is_empty(),
        "left behind: {:?}",
        group_members(pid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_from_outside_fails_the_actor() {
    let mut harness = Harness::start(ECHO_AGENT, |_| {}).await;
    harness.wait_screen("READY").await;
    let pid = harness.pid().await;
    // SAFETY: signalling our own test child.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    match harness.ended().await {
        Ended::Failed {
            crash: Some(exit), ..
        } => assert_eq!(exit.signal, Some(libc::SIGKILL)),
        other => panic!("kill -9 must fail the actor, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_request_sigkills_the_group_and_fails_the_actor() {
    let mut harness = Harness::start("sleep 1000 & echo READY; wait", |_| {}).await;
    harness.wait_screen("READY").await;
    let pid = harness.pid().await;
    client::kill(&harness.session)
        .await
        .expect("kill is answered");
    match harness.ended().await {
        Ended::Failed {
            crash: Some(exit), ..
        } => assert_eq!(exit.signal, Some(libc::SIGKILL)),
        other => panic!("a kill must fail the actor, got {other:?}"),
    }
    assert!(
        group_members(pid).is_empty() && !group_alive(pid),
        "group {pid} left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_kills_the_whole_process_group() {
    let mut harness = Harness::start("sleep 1000 & sleep 1000 & echo READY; wait", |_| {}).await;
    harness.wait_screen("READY").await;
    let pid = harness.pid().await;
    let members = group_members(pid);
    assert!(
        members.len() >= 3,
        "leader and two sleeps expected in group {pid}: {members:?}"
    );
    let exit = client::terminate(&harness.session, Duration::from_secs(2))
        .await
        .expect("terminate answers");
    assert_eq!(exit.and_then(|exit| exit.signal), Some(libc::SIGTERM));
    assert!(
        members.iter().all(|&member| dead(member)),
        "members left: {:?}",
        group_members(pid)
    );
    assert!(!group_alive(pid));
    match harness.ended().await {
        Ended::Normal(Some(reason)) => assert_eq!(reason, "shutdown: terminated"),
        other => panic!("terminate must be a shutdown, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_stop_runs_post_stop_and_kills_the_group() {
    let harness = Harness::start("sleep 1000 & echo READY; wait", |_| {}).await;
    harness.wait_screen("READY").await;
    let pid = harness.pid().await;
    let members = group_members(pid);
    assert!(members.len() >= 2, "{members:?}");
    harness
        .session
        .stop_and_wait(None, Some(SOON))
        .await
        .expect("the session stops");
    assert!(
        members.iter().all(|&member| dead(member)),
        "members left: {:?}",
        group_members(pid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_actor_still_leaves_no_process_behind() {
    let harness = Harness::start("sleep 1000 & echo READY; wait", |_| {}).await;
    harness.wait_screen("READY").await;
    let pid = harness.pid().await;
    let members = group_members(pid);
    harness
        .session
        .kill_and_wait(Some(SOON))
        .await
        .expect("the actor dies");
    let gone = poll(SOON, async || members.iter().all(|&member| dead(member))).await;
    assert!(
        gone,
        "members left after the actor was killed: {:?}",
        group_members(pid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ignoring_agent_is_sigkilled_after_the_timeout() {
    let stop_timeout = Duration::from_millis(400);
    let mut harness = Harness::start("trap '' TERM; sleep 1000 & echo READY; wait", |args| {
        args.stop_timeout = stop_timeout
    })
    .await;
    harness.wait_screen("READY").await;
    let pid = harness.pid().await;
    let members = group_members(pid);
    let started = Instant::now();
    let exit = client::terminate(&harness.session, stop_timeout)
        .await
        .expect("terminate answers");
    assert!(
        started.elapsed() >= stop_timeout,
        "SIGKILL came before the timeout"
    );
    assert_eq!(exit.and_then(|exit| exit.signal), Some(libc::SIGKILL));
    assert!(
        members.iter().all(|&member| dead(member)),
        "members left: {:?}",
        group_members(pid)
    );
    assert!(matches!(harness.ended().await, Ended::Normal(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resize_reaches_the_pty_and_the_screen() {
    let harness = Harness::start("echo READY; while read l; do stty size; done", |_| {}).await;
    harness.wait_screen("READY").await;
    client::resize(&harness.session, 30, 100)
        .await
        .expect("resize");
    client::write(&harness.session, b"\r".to_vec())
        .await
        .expect("write");
    harness.wait_screen("30 100").await;
    let snapshot = client::snapshot(&harness.session).await.expect("snapshot");
    assert_eq!((snapshot.rows, snapshot.cols), (30, 100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_flood_is_bounded_and_the_actor_stays_responsive() {
    let ring_bytes = 64 * 1024;
    // 8 MiB here (128 times the ring); the 50 MiB flood runs in the release-mode benchmark, since
    // an unoptimised vt100 parses only about 1 MiB/s.
    let harness = Harness::start(
        "echo READY; yes | head -c 8M; echo FLOOD-DONE; while read l; do :; done",
        |args| {
            args.ring_bytes = ring_bytes;
        },
    )
    .await;
    let rss_before = rss_bytes();
    let mut slowest = Duration::ZERO;
    let mut max_retained = 0;
    let done = poll(Duration::from_secs(300), async || {
        let asked = Instant::now();
        let snapshot = client::snapshot(&harness.session)
            .await
            .expect("snapshot during the flood");
        slowest = slowest.max(asked.elapsed());
        max_retained = max_retained.max(snapshot.retained_bytes);
        snapshot.bytes_out >= 12 * 1024 * 1024 // 8 MiB of "y\n", each "\n" sent as "\r\n"
    })
    .await;
    assert!(done, "the flood never finished");
    harness.wait_screen("FLOOD-DONE").await;
    assert!(max_retained <= ring_bytes, "ring grew to {max_retained}");
    assert!(
        slowest < Duration::from_secs(2),
        "a snapshot took {slowest:?} during the flood"
    );
    let grown = rss_bytes().saturating_sub(rss_before);
    assert!(
        grown < 64 * 1024 * 1024,
        "RSS grew by {grown} bytes during an 8 MiB flood"
    );
}

/// Resident set size of this process.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_input_is_typed_after_the_ready_marker() {
    let script = r#"echo booting; sleep 0.5; echo READY; read l; echo "started:$l"; while read l; do :; done"#;
    let harness = Harness::start(script, |args| {
        args.startup_input = Some("you are nux, run prime".into())
    })
    .await;
    let screen = harness.wait_screen("started:you are nux, run prime").await;
    let lines: Vec<&str> = screen.lines().collect();
    assert_eq!(
        lines,
        [
            "booting",
            "READY",
            "you are nux, run prime",
            "started:you are nux, run prime"
        ],
        "the startup input must come after READY"
    );
}

/// A runtime without a ready marker that loads silently (node CLIs take seconds to draw): quiet
/// before its first draw is not a prompt, so the startup input waits for something on the screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_marker_startup_input_waits_for_the_first_draw() {
    let script = r#"sleep 0.6; echo drawn; read l; echo "started:$l"; while read l; do :; done"#;
    let harness = Harness::start(script, |args| {
        args.ready_marker = None;
        args.startup_input = Some("run prime".into());
    })
    .await;
    let screen = harness.wait_screen("started:run prime").await;
    let lines: Vec<&str> = screen.lines().collect();
    assert_eq!(
        lines,
        ["drawn", "run prime", "started:run prime"],
        "the startup input was typed into a blank, loading screen"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_subscription_sees_the_screen_then_live_output() {
    let harness = Harness::start(ECHO_AGENT, |_| {}).await;
    harness.wait_screen("READY").await;
    let mut attachment = client::subscribe(&harness.session)
        .await
        .expect("subscribe");
    assert!(String::from_utf8_lossy(&attachment.screen).contains("READY"));
    client::write(&harness.session, b"typed\r".to_vec())
        .await
        .expect("write");
    let mut seen = Vec::new();
    let found = tokio::time::timeout(SOON, async {
        while let Ok(chunk) = attachment.output.recv().await {
            seen.extend_from_slice(&chunk);
            if String::from_utf8_lossy(&seen).contains("got:typed") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        found,
        Ok(true),
        "live output: {:?}",
        String::from_utf8_lossy(&seen)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_fails_cleanly_for_a_missing_cwd_or_program() {
    let (events, _ended) = mpsc::unbounded_channel();
    let (probe, _) = Actor::spawn(None, Probe, events)
        .await
        .expect("the probe starts");
    let missing_cwd = SessionArgs::new("/bin/sh", "/nonexistent/gastown-test-dir");
    let error = Actor::spawn_linked(None, Session, missing_cwd, probe.get_cell())
        .await
        .expect_err("no such cwd");
    assert!(error.to_string().contains("is not a directory"), "{error}");
    let missing_program = SessionArgs::new("/nonexistent/agent", "/");
    let error = Actor::spawn_linked(None, Session, missing_program, probe.get_cell())
        .await
        .expect_err("no program");
    assert!(error.to_string().contains("could not start"), "{error}");
    probe.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_an_exited_session_say_so() {
    let mut harness = Harness::start("echo READY; exit 0", |_| {}).await;
    assert!(matches!(harness.ended().await, Ended::Normal(_)));
    let error = client::nudge(&harness.session, "late", NudgeOptions::default())
        .await
        .expect_err("gone");
    assert!(
        matches!(error, NudgeError::Call(_) | NudgeError::Exited),
        "{error:?}"
    );
}

/// A session's end notice (`SessionArgs::on_end`) is told once, however the session ended:
/// the agent's own exit carries its status, a stop from outside says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_notice_is_told_once_with_how_the_session_ended() {
    use gastown_actors::session::{EndNotice, SessionEnd};
    use std::sync::Arc;
    let notice = |tx: mpsc::UnboundedSender<SessionEnd>| {
        Some(EndNotice(Arc::new(move |end: SessionEnd| {
            let _ = tx.send(end);
        })))
    };
    let (tx, mut ends) = mpsc::unbounded_channel();
    let mut crashed = Harness::start("echo READY; exit 3", |a| a.on_end = notice(tx.clone())).await;
    crashed.ended().await;
    let end = tokio::time::timeout(SOON, ends.recv())
        .await
        .expect("told in time")
        .expect("told");
    assert!(!end.stopped);
    assert_eq!(end.to_string(), "exit code 3");

    let stopped = Harness::start("sleep 1000 & echo READY; wait", |a| {
        a.on_end = notice(tx.clone())
    })
    .await;
    stopped.wait_screen("READY").await;
    stopped
        .session
        .stop_and_wait(None, Some(SOON))
        .await
        .expect("the session stops");
    let end = tokio::time::timeout(SOON, ends.recv())
        .await
        .expect("told in time")
        .expect("told");
    assert!(end.stopped, "{end:?}");
    assert_eq!(end.to_string(), "stopped by the supervisor");
    drop(crashed);
    drop(stopped);
    assert!(ends.try_recv().is_err(), "each session told once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_resize_is_clamped_for_the_pty_and_the_screen() {
    let harness = Harness::start("echo READY; while read l; do stty size; done", |args| {
        args.rows = u16::MAX;
        args.cols = u16::MAX;
    })
    .await;
    harness.wait_screen("READY").await;
    let started = client::snapshot(&harness.session).await.expect("snapshot");
    assert_eq!((started.rows, started.cols), (MAX_ROWS, MAX_COLS));
    client::resize(&harness.session, u16::MAX, u16::MAX)
        .await
        .expect("resize");
    client::write(&harness.session, b"\r".to_vec())
        .await
        .expect("write");
    harness.wait_screen("500 1000").await;
    let snapshot = client::snapshot(&harness.session).await.expect("snapshot");
    assert_eq!((snapshot.rows, snapshot.cols), (MAX_ROWS, MAX_COLS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_input_beyond_the_backlog_is_refused_while_the_agent_reads_nothing() {
    let harness = Harness::start("echo READY; exec sleep 1000", |_| {}).await;
    harness.wait_screen("READY").await;
    let chunk = vec![b'a'; MAX_PENDING_INPUT / 2 + 1];
    let first = tokio::spawn({
        let session = harness.session.clone();
        let chunk = chunk.clone();
        async move { client::write(&session, chunk).await }
    });
    let second = tokio::spawn({
        let session = harness.session.clone();
        async move { client::write(&session, chunk).await }
    });
    // One of the two is queued behind the agent that reads nothing; the other must be refused
    // at once rather than queued as well.
    let refused = tokio::select! {
        done = first => done,
        done = second => done,
    }
    .expect("the write task runs");
    assert!(
        matches!(refused, Err(WriteError::Backlog { max, .. }) if max == MAX_PENDING_INPUT),
        "{refused:?}"
    );
}
