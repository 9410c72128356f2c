//! The deacon's mechanical parts: the patrol timer and Boot, the watchdog of the patrol.
//!
//! The patrol ticks on a timer, records when it last ticked and starts its checks (given by the
//! binary as [`PatrolArgs::checks`]: stranded convoys, stale hooks, …) on a task of their own,
//! one round at a time, so a slow check never stops the ticking; it records when its last round
//! finished too. Boot asks the patrol for its [`PatrolHealth`]; a patrol that stopped answering,
//! stopped ticking, or whose rounds stopped finishing (a check that hangs) is killed, so its
//! supervisor starts a fresh one — the hung round is aborted with the old patrol. Mechanical
//! work: no tokens spent. Times are tokio's clock, so tests run them on paused time.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// One round of the patrol's checks.
pub type Checks = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// When the last round finished and how many have: shared with the round's task.
#[derive(Debug)]
struct Rounds {
    /// The last round's end (the patrol's start before any round ended).
    last_end: Instant,
    finished: u64,
}

/// Ends a round however it ends (a panic included): clears the "checking" flag and records
/// the round's end.
struct Done {
    checking: Arc<AtomicBool>,
    rounds: Arc<Mutex<Rounds>>,
}

impl Drop for Done {
    fn drop(&mut self) {
        let mut rounds = self.rounds.lock().unwrap_or_else(|e| e.into_inner());
        rounds.last_end = Instant::now();
        rounds.finished += 1;
        drop(rounds);
        self.checking.store(false, Ordering::SeqCst);
    }
}

/// Aborts the running round when the patrol's state goes (the patrol was killed or stopped), so
/// a hung round never outlives its patrol nor runs beside the next one's.
struct AbortOnDrop(Option<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(round) = self.0.take() {
            round.abort();
        }
    }
}

/// What the patrol runs with.
#[derive(Clone)]
pub struct PatrolArgs {
    pub interval: Duration,
    /// The checks of each tick (none: it only ticks).
    pub checks: Option<Checks>,
}

/// The registry name of the deacon's patrol, so Boot can find it across restarts.
pub const PATROL_NAME: &str = "gastown-deacon-patrol";

/// The patrol timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Patrol;

pub enum PatrolMsg {
    /// Run one patrol (sent by the actor to itself on its interval).
    Tick,
    /// How the patrol is doing.
    LastRun(RpcReplyPort<PatrolHealth>),
}

/// How the patrol is doing, as Boot asks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatrolHealth {
    /// Since its last tick (or its start).
    pub since_tick: Duration,
    /// Ticks so far.
    pub ticks: u64,
    /// Since its last round of checks finished (or its start); `None` when it has no checks.
    pub since_round: Option<Duration>,
    /// Rounds finished so far.
    pub rounds: u64,
    /// A round is running now.
    pub checking: bool,
}

pub struct PatrolState {
    interval: Duration,
    last_tick: Instant,
    ticks: u64,
    checks: Option<Checks>,
    /// A round of checks is running.
    checking: Arc<AtomicBool>,
    rounds: Arc<Mutex<Rounds>>,
    /// The running round's task.
    round: AbortOnDrop,
}

impl Actor for Patrol {
    type Msg = PatrolMsg;
    type State = PatrolState;
    type Arguments = PatrolArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<PatrolMsg>,
        args: PatrolArgs,
    ) -> Result<PatrolState, ActorProcessingErr> {
        myself.send_interval(args.interval, || PatrolMsg::Tick);
        let now = Instant::now();
        Ok(PatrolState {
            interval: args.interval,
            last_tick: now,
            ticks: 0,
            checks: args.checks,
            checking: Arc::new(AtomicBool::new(false)),
            rounds: Arc::new(Mutex::new(Rounds {
                last_end: now,
                finished: 0,
            })),
            round: AbortOnDrop(None),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<PatrolMsg>,
        msg: PatrolMsg,
        state: &mut PatrolState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PatrolMsg::Tick => {
                state.ticks += 1;
                state.last_tick = Instant::now();
                tracing::debug!(runs = state.ticks, interval = ?state.interval, "deacon patrol");
                if let Some(checks) = &state.checks
                    && !state.checking.swap(true, Ordering::SeqCst)
                {
                    let round = checks();
                    let done = Done {
                        checking: Arc::clone(&state.checking),
                        rounds: Arc::clone(&state.rounds),
                    };
                    let task = tokio::spawn(async move {
                        let _done = done;
                        round.await;
                    });
                    state.round = AbortOnDrop(Some(task.abort_handle()));
                }
            }
            PatrolMsg::LastRun(reply) => {
                let rounds = state.rounds.lock().unwrap_or_else(|e| e.into_inner());
                let health = PatrolHealth {
                    since_tick: state.last_tick.elapsed(),
                    ticks: state.ticks,
                    since_round: state.checks.is_some().then(|| rounds.last_end.elapsed()),
                    rounds: rounds.finished,
                    checking: state.checking.load(Ordering::SeqCst),
                };
                drop(rounds);
                let _ = reply.send(health);
            }
        }
        Ok(())
    }
}

/// Boot: the watchdog of the deacon's patrol.
#[derive(Debug, Clone, Copy, Default)]
pub struct Boot;

pub enum BootMsg {
    Check,
}

/// How Boot watches.
#[derive(Debug, Clone, Copy)]
pub struct BootArgs {
    /// The registered name of the patrol it watches ([`PATROL_NAME`] in a town).
    pub patrol: &'static str,
    /// How often Boot checks.
    pub every: Duration,
    /// A patrol that has not ticked for longer than this is stale.
    pub stale_after: Duration,
    /// A patrol whose rounds of checks have not finished for longer than this is stale: a
    /// check hangs. Longer than `stale_after`, as one round may do slow work (a rig restart).
    pub round_stale_after: Duration,
}

impl BootArgs {
    /// Why a patrol of this `health` is stale, if it is (`None`: it did not answer).
    pub fn stale(&self, health: Option<PatrolHealth>) -> Option<String> {
        let Some(health) = health else {
            return Some("it does not answer".to_string());
        };
        if health.since_tick > self.stale_after {
            return Some(format!("it has not ticked for {:?}", health.since_tick));
        }
        match health.since_round {
            Some(since) if since > self.round_stale_after => Some(format!(
                "its rounds of checks have not finished for {since:?} (one hangs)"
            )),
            _ => None,
        }
    }
}

impl Actor for Boot {
    type Msg = BootMsg;
    type State = BootArgs;
    type Arguments = BootArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<BootMsg>,
        args: BootArgs,
    ) -> Result<BootArgs, ActorProcessingErr> {
        myself.send_interval(args.every, || BootMsg::Check);
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<BootMsg>,
        _msg: BootMsg,
        args: &mut BootArgs,
    ) -> Result<(), ActorProcessingErr> {
        let Some(cell) = ractor::registry::where_is(args.patrol) else {
            return Ok(()); // Between patrol incarnations: its supervisor is on it.
        };
        let patrol: ActorRef<PatrolMsg> = cell.clone().into();
        let answer = patrol
            .call(PatrolMsg::LastRun, Some(args.every))
            .await
            .ok()
            .and_then(|r| r.success_or(()).ok());
        if let Some(why) = args.stale(answer) {
            tracing::warn!("boot: the deacon's patrol is stale ({why}); killing it for a restart");
            cell.kill();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gastown_supervision::{
        Backoff, ChildSpec, Intensity, Strategy, Supervisor, SupervisorRef, SupervisorSpec,
    };
    use ractor::ActorCell;

    /// Boot checks every second; a patrol is stale after 3 s without a tick, or 10 s without a
    /// finished round.
    fn boot(patrol: &'static str) -> BootArgs {
        BootArgs {
            patrol,
            every: Duration::from_secs(1),
            stale_after: Duration::from_secs(3),
            round_stale_after: Duration::from_secs(10),
        }
    }

    /// A supervisor running a patrol (registered as `name`) and Boot watching it.
    async fn tree(name: &'static str, patrol: PatrolArgs) -> SupervisorRef {
        let spec = SupervisorSpec::new(Strategy::OneForOne)
            .with_intensity(Intensity::new(100, Duration::from_secs(3600)))
            .with_backoff(Backoff::none())
            .child(ChildSpec::actor("patrol", Patrol, move || patrol.clone()).with_name(name))
            .child(ChildSpec::actor("boot", Boot, move || boot(name)));
        Supervisor::spawn(format!("{name}-tree"), spec)
            .await
            .expect("the tree starts")
    }

    async fn patrol_cell(tree: &SupervisorRef) -> ActorCell {
        tree.child_actor::<PatrolMsg>("patrol")
            .await
            .expect("the supervisor answers")
            .expect("a patrol runs")
            .get_cell()
    }

    async fn health(cell: &ActorCell) -> PatrolHealth {
        let patrol: ActorRef<PatrolMsg> = cell.clone().into();
        ractor::call_t!(patrol, PatrolMsg::LastRun, 1_000).expect("the patrol answers")
    }

    /// Advance paused time second by second until the supervisor runs another patrol than
    /// `first`; returns the new one and the seconds it took.
    async fn next_incarnation(tree: &SupervisorRef, first: &ActorCell) -> (ActorCell, u64) {
        for second in 1..=60 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Ok(Some(now)) = tree.child_actor::<PatrolMsg>("patrol").await
                && now.get_id() != first.get_id()
            {
                return (now.get_cell(), second);
            }
        }
        panic!("Boot never had the patrol restarted");
    }

    #[test]
    fn stale_when_silent_not_ticking_or_its_rounds_stop_finishing() {
        let args = boot(PATROL_NAME);
        let healthy = PatrolHealth {
            since_tick: Duration::from_secs(1),
            ticks: 5,
            since_round: Some(Duration::from_secs(1)),
            rounds: 5,
            checking: false,
        };
        assert_eq!(args.stale(Some(healthy)), None);
        assert!(args.stale(None).is_some_and(|w| w.contains("answer")));
        let silent = PatrolHealth {
            since_tick: Duration::from_secs(4),
            ..healthy
        };
        assert!(
            args.stale(Some(silent))
                .is_some_and(|w| w.contains("ticked"))
        );
        // Ticking on, but a round has hung for longer than round_stale_after.
        let hung = PatrolHealth {
            since_round: Some(Duration::from_secs(11)),
            checking: true,
            ..healthy
        };
        assert!(args.stale(Some(hung)).is_some_and(|w| w.contains("hangs")));
        // A slow round within its bound is left alone; a patrol without checks has no rounds.
        let slow = PatrolHealth {
            since_round: Some(Duration::from_secs(9)),
            ..hung
        };
        assert_eq!(args.stale(Some(slow)), None);
        let no_checks = PatrolHealth {
            since_round: None,
            ..healthy
        };
        assert_eq!(args.stale(Some(no_checks)), None);
    }

    #[tokio::test(start_paused = true)]
    async fn boot_restarts_a_patrol_that_stopped_ticking() {
        // An interval far beyond the test: this patrol never ticks.
        let tree = tree(
            "test-boot-not-ticking",
            PatrolArgs {
                interval: Duration::from_secs(24 * 3600),
                checks: None,
            },
        )
        .await;
        let first = patrol_cell(&tree).await;
        assert_eq!(health(&first).await.ticks, 0);
        let (second, after) = next_incarnation(&tree, &first).await;
        // Killed once it had not ticked for more than stale_after (3 s), at Boot's next check.
        assert!((4..=5).contains(&after), "restarted after {after} s");
        assert_eq!(
            first.get_status(),
            ractor::ActorStatus::Stopped,
            "the old patrol is gone"
        );
        assert_eq!(health(&second).await.ticks, 0, "a fresh patrol");
        tree.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn boot_restarts_a_patrol_whose_round_hangs_while_it_keeps_ticking() {
        let started = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
        /// Counts the hung round's future dropped (aborted with its patrol).
        struct Dropped(Arc<std::sync::atomic::AtomicU64>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let (s, d) = (Arc::clone(&started), Arc::clone(&dropped));
        // The first round ever hangs; every later one finishes at once.
        let checks: Checks = Arc::new(move || {
            let n = s.fetch_add(1, Ordering::SeqCst);
            // Only the hung round counts its drop.
            let guard = (n == 0).then(|| Dropped(Arc::clone(&d)));
            Box::pin(async move {
                let _guard = guard;
                if n == 0 {
                    std::future::pending::<()>().await;
                }
            })
        });
        let tree = tree(
            "test-boot-hung-round",
            PatrolArgs {
                interval: Duration::from_secs(1),
                checks: Some(checks),
            },
        )
        .await;
        let first = patrol_cell(&tree).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let before = health(&first).await;
        assert!(before.ticks >= 4, "it keeps ticking: {before:?}");
        assert!(before.checking && before.rounds == 0, "{before:?}");
        assert_eq!(started.load(Ordering::SeqCst), 1, "one round at a time");
        let (second, after) = next_incarnation(&tree, &first).await;
        // Killed once its round had not finished for more than round_stale_after (10 s).
        assert!((5..=7).contains(&after), "restarted after {} s", after + 5);
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            1,
            "the hung round was aborted with its patrol"
        );
        // The fresh patrol's rounds finish again.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let fresh = health(&second).await;
        assert!(fresh.rounds >= 1 && !fresh.checking, "{fresh:?}");
        tree.shutdown().await;
    }
}
