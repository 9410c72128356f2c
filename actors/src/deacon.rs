//! The deacon's mechanical parts: the patrol timer and Boot, the watchdog of the patrol.
//!
//! The patrol ticks on a timer, records when it last ran and starts its checks (given by the
//! binary as [`PatrolArgs::checks`]: stranded convoys, stale hooks, …) on a task of their own,
//! one round at a time, so a slow check never stops the ticking Boot watches. Boot asks the
//! patrol when it last ran; a patrol that stopped answering or stopped ticking is killed, so its
//! supervisor starts a fresh one. Mechanical work: no tokens spent.

use crate::role::now_ms;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// One round of the patrol's checks.
pub type Checks = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Clears the "checking" flag when dropped.
struct Done(Arc<AtomicBool>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
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
    /// When the patrol last ran (ms since the epoch) and how many times.
    LastRun(RpcReplyPort<(u64, u64)>),
}

pub struct PatrolState {
    interval: Duration,
    last_run_ms: u64,
    runs: u64,
    checks: Option<Checks>,
    /// A round of checks is running.
    checking: Arc<AtomicBool>,
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
        Ok(PatrolState {
            interval: args.interval,
            last_run_ms: now_ms(),
            runs: 0,
            checks: args.checks,
            checking: Arc::new(AtomicBool::new(false)),
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
                state.runs += 1;
                state.last_run_ms = now_ms();
                tracing::debug!(runs = state.runs, interval = ?state.interval, "deacon patrol");
                if let Some(checks) = &state.checks
                    && !state.checking.swap(true, Ordering::SeqCst)
                {
                    let round = checks();
                    let checking = Arc::clone(&state.checking);
                    tokio::spawn(async move {
                        // Cleared however the round ends (a panic included).
                        let _done = Done(checking);
                        round.await;
                    });
                }
            }
            PatrolMsg::LastRun(reply) => {
                let _ = reply.send((state.last_run_ms, state.runs));
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
    /// How often Boot checks.
    pub every: Duration,
    /// A patrol whose last run is older than this is stale.
    pub stale_after: Duration,
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
        let Some(cell) = ractor::registry::where_is(PATROL_NAME) else {
            return Ok(()); // Between patrol incarnations: its supervisor is on it.
        };
        let patrol: ActorRef<PatrolMsg> = cell.clone().into();
        let answer = patrol
            .call(PatrolMsg::LastRun, Some(args.every))
            .await
            .ok()
            .and_then(|r| r.success_or(()).ok());
        let stale = match answer {
            Some((last_ms, _)) => {
                now_ms().saturating_sub(last_ms) > args.stale_after.as_millis() as u64
            }
            None => true,
        };
        if stale {
            tracing::warn!(
                "boot: the deacon's patrol is stale or unresponsive; killing it for a restart"
            );
            cell.kill();
        }
        Ok(())
    }
}
