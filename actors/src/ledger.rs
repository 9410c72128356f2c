//! The ledger actor: the single writer of the town's ledger while `gastown run` is up.
//!
//! It owns the [`Ledger`] (and with it the ledger's pid lock) and runs every operation in its own
//! mailbox order, so operations from the socket, the role actors and the patrols never race.
//!
//! Two group commits:
//! - **durability** (redb): operations run with the fsync deferred, and their replies are held;
//!   after the first one the actor sends itself a `Flush`, which queues behind every operation
//!   that arrived meanwhile. The flush makes them all durable with one fsync, then replies. So
//!   nothing is acknowledged before it is durable, and concurrent callers share the fsync (one
//!   4 ms fsync per batch instead of per operation);
//! - **git**: after a mutation it schedules a tick for when the oldest pending change is due. The
//!   tick prepares the commit ([`Ledger::begin_commit`]) and runs it on a blocking thread, so
//!   hashing and packing thousands of beads never stalls the operations behind it; the result
//!   comes back as a message ([`Ledger::finish_commit`]). One commit is out at a time. An explicit
//!   sync runs its commit the same way and is answered when it is done (one that arrives while
//!   another commit runs waits for it, then has the rest committed). On stop it flushes to git.
//!
//! No slow work runs here: every operation holds the whole town's ledger, so git, gates and the
//! network run outside (commands with such work between their ledger writes run in steps from a
//! blocking thread: [`BlockingLedger`], `gastown_town::steps`). Every operation has a name and
//! is timed; one that takes longer than [`SLOW_OPERATION`] is named in a warning, so a slow one
//! is found by reading the log.
//!
//! Callers go through a [`LedgerHandle`] (async) or a [`BlockingLedger`] (blocking threads).

mod handle;

pub use handle::{BlockingLedger, LEDGER_NAME, LedgerCallError, LedgerHandle};

use gastown_beads::{CommitDone, CommitJob, CommitOutcome, Ledger, LedgerConfig};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// An operation that holds the ledger longer than this is named in a warning (the reason is with
/// the value, in `gastown_town::defaults`).
pub use gastown_town::defaults::SLOW_LEDGER_OPERATION as SLOW_OPERATION;

/// One operation on the ledger, run inside the actor.
pub struct LedgerOp {
    /// What it is (`sling: hook`, `bead command`): a slow one is named in the log by it.
    pub name: Cow<'static, str>,
    /// The work; it returns its reply, which the actor sends only once the operation is durable.
    pub run: Box<dyn FnOnce(&mut Ledger) -> Reply + Send>,
}

/// A held reply: sends an operation's result to its caller.
pub type Reply = Box<dyn FnOnce() + Send>;

/// Where an explicit sync's outcome goes.
type SyncReply = RpcReplyPort<Result<Option<CommitOutcome>, String>>;

/// An explicit sync waiting for its git commit.
struct PendingSync {
    reply: SyncReply,
    /// Its commit failed once and is being tried again (someone else may have moved the ref:
    /// the next commit takes their commits in first); a second failure is answered.
    retried: bool,
}

/// The ledger actor.
#[derive(Debug, Clone, Copy, Default)]
pub struct LedgerActor;

/// Messages of [`LedgerActor`].
pub enum LedgerMsg {
    /// Run an operation; the closure carries its own reply channel.
    Run(LedgerOp),
    /// Commit to git if the oldest pending change is due (sent by the actor to itself).
    Tick,
    /// Commit pending changes to git now.
    Sync(SyncReply),
    /// Make the operations run since the last flush durable, then send their replies.
    Flush,
    /// A git commit running on a blocking thread is done.
    Committed(CommitDone),
}

/// Arguments of [`LedgerActor`]: where the ledger is.
#[derive(Debug, Clone)]
pub struct LedgerArgs {
    pub config: LedgerConfig,
}

/// State of [`LedgerActor`].
pub struct LedgerState {
    /// The open ledger; `None` only while closing.
    ledger: Option<Ledger>,
    /// Whether a `Tick` is already on its way, so mutations do not pile up timers.
    tick_scheduled: bool,
    /// Replies of operations not yet durable (sent by the next `Flush`).
    held: Vec<Reply>,
    /// A git commit is running on a blocking thread.
    committing: bool,
    /// Syncs the running commit covers: answered with its outcome.
    covered_syncs: Vec<PendingSync>,
    /// Syncs that arrived while a commit was running: committed again once it is done.
    waiting_syncs: Vec<PendingSync>,
}

impl Actor for LedgerActor {
    type Msg = LedgerMsg;
    type State = LedgerState;
    type Arguments = LedgerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<LedgerMsg>,
        args: LedgerArgs,
    ) -> Result<LedgerState, ActorProcessingErr> {
        let mut ledger = Ledger::open(args.config)?;
        ledger.set_deferred_durability(true)?;
        let mut state = LedgerState {
            ledger: Some(ledger),
            tick_scheduled: false,
            held: Vec::new(),
            committing: false,
            covered_syncs: Vec::new(),
            waiting_syncs: Vec::new(),
        };
        // Reconciliation at open may have left work for the group commit.
        schedule_tick(&myself, &mut state);
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<LedgerMsg>,
        msg: LedgerMsg,
        state: &mut LedgerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            LedgerMsg::Run(op) => {
                let ledger = open(state)?;
                let reply = timed(&op.name, || (op.run)(ledger));
                if state.held.is_empty() {
                    // Queued behind whatever arrives meanwhile: they share its fsync.
                    myself.send_message(LedgerMsg::Flush)?;
                }
                state.held.push(reply);
            }
            LedgerMsg::Flush => timed("flush (fsync)", || flush(state))?,
            LedgerMsg::Tick => timed("git commit: prepare", || tick(&myself, state))?,
            LedgerMsg::Sync(reply) => {
                let pending = PendingSync {
                    reply,
                    retried: false,
                };
                if state.committing {
                    state.waiting_syncs.push(pending);
                } else {
                    timed("sync: prepare", || sync(&myself, state, vec![pending]))?;
                }
            }
            LedgerMsg::Committed(done) => {
                timed("git commit: finish", || committed(&myself, state, done))?
            }
        }
        schedule_tick(&myself, state);
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<LedgerMsg>,
        state: &mut LedgerState,
    ) -> Result<(), ActorProcessingErr> {
        flush(state)?;
        // A commit still running holds the git store: closing waits for it, then commits all
        // that is left (what it covered again, which git makes a no-op).
        if let Some(ledger) = state.ledger.take() {
            ledger.close_ledger()?;
        }
        Ok(())
    }
}

/// Run `f`, and name it in a warning when it held the ledger longer than [`SLOW_OPERATION`].
fn timed<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    if took > SLOW_OPERATION {
        let took_ms = took.as_millis();
        tracing::warn!(
            operation = name,
            took_ms,
            "slow ledger operation: `{name}` held the ledger for {took_ms} ms and every other \
             ledger user waited; slow work (git, gates, the network) belongs outside the ledger actor"
        );
    }
    out
}

/// A git commit that ran on a blocking thread is done: take its result, answer the syncs it
/// covered, and commit again for the syncs that arrived meanwhile (and a failed one's retry).
fn committed(
    myself: &ActorRef<LedgerMsg>,
    state: &mut LedgerState,
    done: CommitDone,
) -> Result<(), ActorProcessingErr> {
    state.committing = false;
    let outcome = open(state)?.finish_commit(done).map_err(|e| e.to_string());
    if let Err(e) = &outcome {
        // The journal keeps every change: the next tick commits them again. Someone else
        // moving the ref is expected (the next tick takes their commits in first); anything
        // else is worth a warning.
        tracing::warn!(error = %e, "git commit of the ledger failed; will retry");
    }
    let mut again = std::mem::take(&mut state.waiting_syncs);
    for pending in std::mem::take(&mut state.covered_syncs) {
        if outcome.is_err() && !pending.retried {
            again.push(PendingSync {
                retried: true,
                ..pending
            });
        } else {
            let _ = pending.reply.send(outcome.clone());
        }
    }
    if !again.is_empty() {
        sync(myself, state, again)?;
    }
    Ok(())
}

fn open(state: &mut LedgerState) -> Result<&mut Ledger, ActorProcessingErr> {
    state
        .ledger
        .as_mut()
        .ok_or_else(|| ActorProcessingErr::from("the ledger is closed"))
}

/// One fsync for every operation since the last flush, then their replies. If the fsync fails
/// the actor fails: the held replies are dropped (their callers see the ledger unavailable),
/// nothing unacknowledged is reported done, and the supervisor reopens the ledger.
fn flush(state: &mut LedgerState) -> Result<(), ActorProcessingErr> {
    if state.held.is_empty() {
        return Ok(());
    }
    open(state)?.make_durable()?;
    for reply in state.held.drain(..) {
        reply();
    }
    Ok(())
}

/// Commit everything pending to git on a blocking thread, and answer `syncs` when it is done
/// (at once when there is nothing to commit, or preparing the commit failed).
fn sync(
    myself: &ActorRef<LedgerMsg>,
    state: &mut LedgerState,
    syncs: Vec<PendingSync>,
) -> Result<(), ActorProcessingErr> {
    flush(state)?;
    let job = match open(state)?.begin_commit() {
        Ok(Some(job)) => job,
        Ok(None) => return answer(syncs, Ok(None)),
        Err(e) => return answer(syncs, Err(e.to_string())),
    };
    state.covered_syncs.extend(syncs);
    run_commit(myself, state, job);
    Ok(())
}

fn answer(
    syncs: Vec<PendingSync>,
    outcome: Result<Option<CommitOutcome>, String>,
) -> Result<(), ActorProcessingErr> {
    for pending in syncs {
        let _ = pending.reply.send(outcome.clone());
    }
    Ok(())
}

/// Run a prepared git commit on a blocking thread; its result comes back as `Committed`.
fn run_commit(myself: &ActorRef<LedgerMsg>, state: &mut LedgerState, job: CommitJob) {
    state.committing = true;
    let myself = myself.clone();
    tokio::task::spawn_blocking(move || {
        let done = job.run();
        // If the actor is gone, its ledger was closed and committed everything itself.
        let _ = myself.send_message(LedgerMsg::Committed(done));
    });
}

/// When the oldest pending change is due, start its git commit on a blocking thread.
fn tick(myself: &ActorRef<LedgerMsg>, state: &mut LedgerState) -> Result<(), ActorProcessingErr> {
    state.tick_scheduled = false;
    if state.committing {
        return Ok(()); // The commit's result schedules the next tick.
    }
    let ledger = open(state)?;
    if !ledger.commit_due_in().is_some_and(|d| d.is_zero()) {
        return Ok(());
    }
    // Preparing makes the group durable: the replies it covers can go now.
    flush(state)?;
    // A failure here (reading the index, catching up with git) leaves the journal in redb:
    // nothing acknowledged is lost, and crashing the actor lets its supervisor reopen (and
    // reconcile) the ledger.
    let Some(job) = open(state)?.begin_commit()? else {
        return Ok(());
    };
    run_commit(myself, state, job);
    Ok(())
}

fn schedule_tick(myself: &ActorRef<LedgerMsg>, state: &mut LedgerState) {
    if state.tick_scheduled || state.committing {
        return;
    }
    let Some(ledger) = state.ledger.as_ref() else {
        return;
    };
    if let Some(due) = ledger.commit_due_in() {
        state.tick_scheduled = true;
        // A tiny floor keeps a due-now commit from starving the mailbox.
        let delay = due.max(Duration::from_millis(1));
        myself.send_after(delay, || LedgerMsg::Tick);
    }
}
