//! The deacon's dogs under `gastown run`: one actor per chore under `town/deacon/dogs`, each on
//! its own timer (`[dogs.<name>] every` in town.toml; `docs/dogs.md`). A chore runs on a
//! blocking thread, never in the actor, so `gastown dog list` is answered while one runs; the
//! reaper's and the compactor's work is one operation of the ledger actor, the sync dog's a
//! sequence of its steps with the network between them (`LedgerHandle::in_steps`).
//!
//! A chore that fails backs its dog off (the period doubles per failure in a row, at most an
//! hour) and, at the third failure in a row, raises one escalation (`deacon/dogs/<name>` as its
//! source; repeats fold into it). A success resets both. One dog's failures never touch another.

use gastown_actors::ledger::LedgerHandle;
use gastown_town::dogs::{self, DogConfig, DogReport};
use gastown_town::escalation::Severity;
use gastown_town::town::Town;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::time::{Duration, Instant};

/// Failures in a row at which a dog escalates (once per streak).
pub const ESCALATE_AT: u32 = 3;
/// The longest a failing dog waits between runs.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The registered name of dog `name`, for `gastown dog list|run`.
pub fn registered_name(name: &str) -> String {
    format!("gastown-dog-{name}")
}

/// The dogs' child specs, for the deacon's `dogs` supervisor: one per known dog, disabled ones
/// included (they answer `dog list` and `dog run`, and their timer never fires).
pub fn children(town: &Town) -> Vec<gastown_supervision::ChildSpec> {
    dogs::names()
        .into_iter()
        .filter_map(|name| {
            let config = dogs::config_of(&town.config.dogs, name)?;
            let args = DogArgs {
                name: name.to_string(),
                config,
                town: town.clone(),
                ledger: LedgerHandle::default(),
            };
            Some(
                gastown_supervision::ChildSpec::actor(name, DogActor, move || args.clone())
                    .with_name(registered_name(name)),
            )
        })
        .collect()
}

#[derive(Debug, Clone, Copy, Default)]
pub struct DogActor;

#[derive(Clone)]
pub struct DogArgs {
    pub name: String,
    pub config: DogConfig,
    pub town: Town,
    pub ledger: LedgerHandle,
}

pub enum DogMsg {
    /// The timer.
    Tick,
    /// Run the chore now (`gastown dog run`); answered when it ends.
    RunNow(RpcReplyPort<DogReport>),
    /// The dog's report as it stands.
    Report(RpcReplyPort<DogReport>),
    /// A chore ended (sent by its task).
    Finished(Result<dogs::ChoreOutcome, String>),
}

pub struct DogState {
    args: DogArgs,
    report: DogReport,
    busy: bool,
    next_due: Instant,
    waiting: Vec<RpcReplyPort<DogReport>>,
}

impl Actor for DogActor {
    type Msg = DogMsg;
    type State = DogState;
    type Arguments = DogArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<DogMsg>,
        args: DogArgs,
    ) -> Result<DogState, ActorProcessingErr> {
        if args.config.enabled {
            myself.send_interval(args.config.every.0, || DogMsg::Tick);
        }
        Ok(DogState {
            report: DogReport::configured(&args.name, &args.config, true),
            next_due: Instant::now() + args.config.every.0,
            args,
            busy: false,
            waiting: Vec::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<DogMsg>,
        msg: DogMsg,
        state: &mut DogState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DogMsg::Tick => {
                if !state.busy && Instant::now() >= state.next_due {
                    start(&myself, state);
                }
            }
            DogMsg::RunNow(reply) => {
                state.waiting.push(reply);
                if !state.busy {
                    start(&myself, state);
                }
            }
            DogMsg::Report(reply) => {
                let _ = reply.send(state.report.clone());
            }
            DogMsg::Finished(outcome) => finished(state, outcome).await,
        }
        Ok(())
    }
}

/// Start the chore on a blocking thread; its end comes back as [`DogMsg::Finished`].
fn start(myself: &ActorRef<DogMsg>, state: &mut DogState) {
    state.busy = true;
    let (town, name) = (state.args.town.clone(), state.args.name.clone());
    let me = myself.clone();
    let ledger = state.args.ledger.clone();
    tokio::spawn(async move {
        let outcome = if dogs::IN_LEDGER.contains(&name.as_str()) {
            // The reaper's and the compactor's work is the ledger's: it runs there, between
            // other writes.
            ledger
                .call(format!("dog: {name}"), move |l| {
                    dogs::run_in_ledger(&town, &name, l, gastown_beads::time::now_unix_nanos())
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| format!("{e:#}")))
        } else if dogs::IN_STEPS.contains(&name.as_str()) {
            // The sync dog: each ledger step in the ledger actor, the network on a blocking
            // thread between them, as `gastown sync` through the socket.
            ledger
                .in_steps(move |steps| dogs::sync_chore(steps, &town))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    r.map(dogs::ChoreOutcome::from)
                        .map_err(|e| format!("{e:#}"))
                })
        } else if name == "doctor" {
            doctor_chore(town, ledger).await
        } else {
            tokio::task::spawn_blocking(move || dogs::run_chore(&town, &name, true))
                .await
                .map_err(|e| format!("the chore panicked or was cancelled: {e}"))
                .and_then(|r| r.map_err(|e| format!("{e:#}")))
        };
        let _ = me.send_message(DogMsg::Finished(outcome));
    });
}

/// The doctor dog under `gastown run`: the file checks on a blocking thread, then the ledger's
/// ([`ledger_findings`]).
async fn doctor_chore(town: Town, ledger: LedgerHandle) -> Result<dogs::ChoreOutcome, String> {
    let files = town.clone();
    let mut checks = tokio::task::spawn_blocking(move || dogs::doctor_checks(&files, true))
        .await
        .map_err(|e| format!("the doctor's checks panicked or were cancelled: {e}"))?;
    checks.extend(ledger_findings(town, &ledger, false).await?);
    Ok(dogs::doctor_outcome(checks))
}

/// The doctor's checks that need the ledger the supervisor holds — stale hooks, duplicate agent
/// beads, and what the orphans and worktrees checks need — as one operation of the ledger actor,
/// then the orphans' and worktrees' git work on a blocking thread. Run by the doctor dog and for
/// `gastown doctor` while a supervisor is up (`fix` only for the overseer's `--fix`). The on-disk
/// findings are only reported here, never tidied: a worktree the supervisor is making right now
/// for a new polecat would look like a clean orphan to claims read a moment before.
pub async fn ledger_findings(
    town: Town,
    ledger: &LedgerHandle,
    fix: bool,
) -> Result<Vec<gastown_town::doctor::Check>, String> {
    let inside = town.clone();
    let (mut checks, claims) = ledger
        .call("doctor: ledger checks", move |l| {
            gastown_town::doctor::ledger_checks(&inside, l, fix)
        })
        .await
        .map_err(|e| format!("the doctor's ledger checks could not run: {e}"))?;
    let on_disk = tokio::task::spawn_blocking(move || {
        [
            gastown_town::doctor::orphans(&town, &claims, false),
            gastown_town::doctor::worktrees(&town, &claims, false),
        ]
    })
    .await
    .map_err(|e| format!("the doctor's orphans check panicked or was cancelled: {e}"))?;
    checks.extend(on_disk);
    Ok(checks)
}

async fn finished(state: &mut DogState, outcome: Result<dogs::ChoreOutcome, String>) {
    state.busy = false;
    let name = state.args.name.clone();
    let report = &mut state.report;
    report.runs += 1;
    report.last_run = Some(gastown_beads::time::now_rfc3339());
    let every = state.args.config.every.0;
    match outcome {
        Ok(outcome) => {
            let summary = outcome.summary;
            tracing::info!(dog = %name, "{summary}");
            for (severity, message) in &outcome.findings {
                raise(&state.args, *severity, message).await;
            }
            // Raised and mailed in the ledger already (the budgets'): their outside channels.
            for (escalation, outside) in outcome.raised {
                if !outside.is_empty() {
                    let town = &state.args.town;
                    tokio::spawn(super::escalation::deliver(
                        town.root.clone(),
                        town.config.escalation.timeout.0,
                        escalation,
                        outside,
                    ));
                }
            }
            let report = &mut state.report;
            report.last_outcome = Some(summary);
            report.last_ok = Some(true);
            report.failures_in_a_row = 0;
            state.next_due = Instant::now() + every;
        }
        Err(error) => {
            let report = &mut state.report;
            report.failures_in_a_row += 1;
            let n = report.failures_in_a_row;
            let wait = every
                .saturating_mul(1u32 << n.min(16))
                .min(MAX_BACKOFF.max(every));
            tracing::warn!(dog = %name, failures = n, next_in = %humantime::format_duration(wait), "dog's chore failed: {error}");
            report.last_outcome = Some(error.clone());
            report.last_ok = Some(false);
            state.next_due = Instant::now() + wait;
            if n == ESCALATE_AT {
                escalate(&state.args, &error).await;
            }
        }
    }
    for reply in state.waiting.drain(..) {
        let _ = reply.send(state.report.clone());
    }
}

/// One escalation for a dog whose chore keeps failing (a repeat folds into the open one).
async fn escalate(args: &DogArgs, error: &str) {
    let message = format!(
        "the {name} dog failed {ESCALATE_AT} times in a row and backs off; the last error: {error}\n\nRun it by hand with `gastown dog run {name}` to see it fail, and `gastown doctor` for what else may be wrong.",
        name = args.name
    );
    raise(args, Severity::Medium, &message).await;
}

/// Raise an escalation from `deacon/dogs/<name>` (folded into an open one it repeats, and then
/// not routed again).
async fn raise(args: &DogArgs, severity: Severity, message: &str) {
    super::escalation::raise_from_supervisor(
        &args.ledger,
        &args.town,
        severity,
        &format!("deacon/dogs/{}", args.name),
        super::escalation::About::Nothing,
        message.to_string(),
    )
    .await;
}

/// Every dog's report from the running dogs (a dog between incarnations shows as configured).
pub async fn reports(town: &Town) -> Vec<DogReport> {
    let mut out = Vec::new();
    for name in dogs::names() {
        let Some(config) = dogs::config_of(&town.config.dogs, name) else {
            continue;
        };
        let running = ractor::registry::where_is(registered_name(name))
            .map(|cell| -> ActorRef<DogMsg> { cell.into() });
        let report = match running {
            Some(dog) => ractor::call_t!(dog, DogMsg::Report, 2000).ok(),
            None => None,
        };
        out.push(report.unwrap_or_else(|| DogReport::configured(name, &config, false)));
    }
    out
}

/// Run dog `name` now and wait for its report; `Err` when there is no such dog running.
pub async fn run_now(name: &str, wait: Duration) -> Result<DogReport, String> {
    if !dogs::names().contains(&name) {
        return Err(format!(
            "there is no dog {name:?}; the dogs are {}",
            dogs::names().join(", ")
        ));
    }
    let dog: ActorRef<DogMsg> = ractor::registry::where_is(registered_name(name))
        .ok_or_else(|| format!("the {name} dog is not running (it is being restarted): try again"))?
        .into();
    let millis = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    ractor::call_t!(dog, DogMsg::RunNow, millis).map_err(|e| {
        format!(
            "the {name} dog did not finish in {}: {e}",
            humantime::format_duration(wait)
        )
    })
}
