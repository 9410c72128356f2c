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
//!   comes back as a message ([`Ledger::finish_commit`]). One commit is out at a time; an explicit
//!   sync waits for it, then commits the rest. On stop it flushes to git.
//!
//! Callers go through a [`LedgerHandle`].

use gastown_beads::{CommitDone, CommitOutcome, Ledger, LedgerConfig, LedgerError};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::time::Duration;
use tokio::sync::oneshot;

/// One operation on the ledger, run inside the actor; it returns its reply, which the actor
/// sends only once the operation is durable.
pub type LedgerOp = Box<dyn FnOnce(&mut Ledger) -> Reply + Send>;

/// A held reply: sends an operation's result to its caller.
pub type Reply = Box<dyn FnOnce() + Send>;

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
    Sync(RpcReplyPort<Result<Option<CommitOutcome>, String>>),
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
    /// Syncs that arrived while a commit was running: answered once it is done.
    waiting_syncs: Vec<RpcReplyPort<Result<Option<CommitOutcome>, String>>>,
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
                let reply = op(open(state)?);
                if state.held.is_empty() {
                    // Queued behind whatever arrives meanwhile: they share its fsync.
                    myself.send_message(LedgerMsg::Flush)?;
                }
                state.held.push(reply);
            }
            LedgerMsg::Flush => flush(state)?,
            LedgerMsg::Tick => tick(&myself, state)?,
            LedgerMsg::Sync(reply) => {
                if state.committing {
                    state.waiting_syncs.push(reply);
                } else {
                    sync(state, reply)?;
                }
            }
            LedgerMsg::Committed(done) => {
                state.committing = false;
                if let Err(e) = open(state)?.finish_commit(done) {
                    // The journal keeps every change: the next tick commits them again. Someone
                    // else moving the ref is expected (the next tick takes their commits in
                    // first); anything else is worth a warning.
                    tracing::warn!(error = %e, "git commit of the ledger failed; will retry");
                }
                for reply in std::mem::take(&mut state.waiting_syncs) {
                    sync(state, reply)?;
                }
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

/// Commit everything pending to git now, then answer.
fn sync(
    state: &mut LedgerState,
    reply: RpcReplyPort<Result<Option<CommitOutcome>, String>>,
) -> Result<(), ActorProcessingErr> {
    flush(state)?;
    let outcome = open(state)?.sync().map_err(|e| e.to_string());
    let _ = reply.send(outcome);
    Ok(())
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
    state.committing = true;
    let myself = myself.clone();
    tokio::task::spawn_blocking(move || {
        let done = job.run();
        // If the actor is gone, its ledger was closed and committed everything itself.
        let _ = myself.send_message(LedgerMsg::Committed(done));
    });
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

/// Why a ledger call did not run.
#[derive(Debug, thiserror::Error)]
pub enum LedgerCallError {
    #[error("the ledger actor is not running: is `gastown run` shutting down?")]
    Unavailable,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("git commit of the ledger failed: {0}")]
    Commit(String),
}

/// The ledger actor's registry name: callers find the current incarnation by name, so a
/// restarted ledger actor is picked up without anyone holding a stale reference.
pub const LEDGER_NAME: &str = "gastown-ledger";

/// A cloneable way to call the ledger actor (whichever incarnation is running).
#[derive(Debug, Clone)]
pub struct LedgerHandle {
    name: String,
}

impl Default for LedgerHandle {
    fn default() -> Self {
        LedgerHandle::named(LEDGER_NAME)
    }
}

impl LedgerHandle {
    /// The ledger actor registered under `name`.
    pub fn named(name: impl Into<String>) -> LedgerHandle {
        LedgerHandle { name: name.into() }
    }

    fn actor(&self) -> Result<ActorRef<LedgerMsg>, LedgerCallError> {
        ractor::registry::where_is(self.name.clone())
            .map(ActorRef::from)
            .ok_or(LedgerCallError::Unavailable)
    }

    /// Run `f` against the ledger in the actor and return its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, LedgerCallError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Ledger) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let op: LedgerOp = Box::new(move |ledger| {
            let result = f(ledger);
            Box::new(move || {
                let _ = tx.send(result);
            })
        });
        self.actor()?
            .send_message(LedgerMsg::Run(op))
            .map_err(|_| LedgerCallError::Unavailable)?;
        rx.await.map_err(|_| LedgerCallError::Unavailable)
    }

    /// Like [`LedgerHandle::call`] for operations that return a ledger result.
    pub async fn try_call<R, F>(&self, f: F) -> Result<R, LedgerCallError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Ledger) -> Result<R, LedgerError> + Send + 'static,
    {
        Ok(self.call(f).await??)
    }

    /// Force the git commit now.
    pub async fn sync(&self) -> Result<Option<CommitOutcome>, LedgerCallError> {
        let actor = self.actor()?;
        let outcome =
            ractor::call!(actor, LedgerMsg::Sync).map_err(|_| LedgerCallError::Unavailable)?;
        outcome.map_err(LedgerCallError::Commit)
    }
}
