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
//! **The ledger may be unavailable; the town goes on.** The actor never fails because its
//! ledger cannot be reached, so its supervisor never gives up on it and the sessions live on:
//! - another process holds the ledger's lock, or the index cannot be opened: the actor runs
//!   without a ledger and answers every operation at once with the reason ("locked by process
//!   N"), trying to open it again with backoff (`LEDGER_RETRY_START` doubling up to
//!   `LEDGER_RETRY_MAX`);
//! - the disk is (nearly) full: before each operation it looks at the free space of the index's
//!   disk, and below `LEDGER_FREE_SPACE_RESERVE` the ledger refuses every change with the
//!   reason while reads go on, and git commits wait; so no write fails inside redb;
//! - a group's durable commit fails anyway (an I/O error, the disk filled within one group): the
//!   index cannot be trusted for reads either, so the actor drops the ledger and reopens it
//!   with backoff. Whether the group was stored is known only then — redb may have made it
//!   durable before reporting the error — so its replies are held: stored (the reopened
//!   ledger's change sequence reached the group's) is answered as done, anything else as not
//!   stored. A caller never hears "failed" for a change that was stored; after
//!   `LEDGER_UNCERTAIN_WAIT` without a ledger it hears that this is not known yet.
//!
//! Callers go through a [`LedgerHandle`] (async) or a [`BlockingLedger`] (blocking threads).

mod handle;

pub use handle::{BlockingLedger, LEDGER_NAME, LedgerCallError, LedgerHandle};

use gastown_beads::{
    CommitDone, CommitJob, CommitOutcome, Ledger, LedgerChange, LedgerConfig, LedgerError,
};
use gastown_town::defaults::{
    LEDGER_FREE_SPACE_RESERVE, LEDGER_RETRY_MAX, LEDGER_RETRY_START, LEDGER_UNCERTAIN_WAIT,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::borrow::Cow;
use std::path::Path;
use std::time::{Duration, Instant};

/// An operation that holds the ledger longer than this is named in a warning (the reason is with
/// the value, in `gastown_town::defaults`).
pub use gastown_town::defaults::SLOW_LEDGER_OPERATION as SLOW_OPERATION;

/// One operation on the ledger, run inside the actor.
pub struct LedgerOp {
    /// What it is (`sling: hook`, `bead command`): a slow one is named in the log by it.
    pub name: Cow<'static, str>,
    /// The work, given the ledger (or, while there is none, why); it returns its reply.
    pub run: Work,
}

/// An operation's work: given the ledger (or, while there is none, why), it returns its reply.
pub type Work = Box<dyn FnOnce(Result<&mut Ledger, &str>) -> Reply + Send>;

/// A held reply: `Ok(())` sends an operation's result (it is durable); `Err(reason)` tells its
/// caller the ledger was unavailable and the operation's changes were not stored (or, said in
/// the reason, that this is not known yet).
pub type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

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
    /// A git commit running on a blocking thread is done (for the ledger opened `generation`th).
    Committed(CommitDone, u64),
    /// Try to open the unavailable ledger again (sent by the actor to itself).
    Reopen,
}

/// Arguments of [`LedgerActor`]: where the ledger is.
#[derive(Clone)]
pub struct LedgerArgs {
    pub config: LedgerConfig,
    /// Where the ledger's changes go once durable (the supervisor's event stream), if anywhere.
    pub changes: Option<ChangeSink>,
}

impl std::fmt::Debug for LedgerArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerArgs")
            .field("config", &self.config)
            .field("changes", &self.changes.as_ref().map(|_| "sink"))
            .finish()
    }
}

/// Takes each group of durable changes, in order, with the ledger to read around them and how
/// many changes were dropped before them (a feed that overflowed). It runs inside the ledger
/// actor: it must be quick and never block.
pub type ChangeSink = std::sync::Arc<dyn Fn(&Ledger, Vec<LedgerChange>, usize) + Send + Sync>;

/// Why there is no ledger, since when, and when the next attempt to open it is.
struct Down {
    reason: String,
    since: Instant,
    retry_in: Duration,
}

/// The replies of a group whose durable commit failed: whether it was stored is known once the
/// ledger reopens (its change sequence reached `last_seq`, or not).
struct Uncertain {
    last_seq: u64,
    replies: Vec<Reply>,
    reason: String,
    since: Instant,
}

/// State of [`LedgerActor`].
pub struct LedgerState {
    config: LedgerConfig,
    /// Where durable changes go.
    changes: Option<ChangeSink>,
    /// The open ledger; `None` while it is unavailable (see `down`) or closing.
    ledger: Option<Ledger>,
    /// Why the ledger is unavailable, while it is.
    down: Option<Down>,
    /// How many times a ledger was opened: a commit of an earlier one is not finished on a
    /// later one (its reconcile took the commit in already).
    generation: u64,
    /// Whether a `Tick` is already on its way, so mutations do not pile up timers.
    tick_scheduled: bool,
    /// Replies of operations not yet durable (sent by the next `Flush`).
    held: Vec<Reply>,
    /// Groups whose durable commit failed, answered once the ledger reopens.
    uncertain: Vec<Uncertain>,
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
        let mut state = LedgerState {
            config: args.config,
            changes: args.changes,
            ledger: None,
            down: None,
            generation: 0,
            tick_scheduled: false,
            held: Vec::new(),
            uncertain: Vec::new(),
            committing: false,
            covered_syncs: Vec::new(),
            waiting_syncs: Vec::new(),
        };
        // A ledger that cannot be opened now is tried again later; the town starts anyway.
        reopen(&myself, &mut state);
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
            LedgerMsg::Run(op) => run(&myself, state, op)?,
            LedgerMsg::Flush => timed("flush (fsync)", || flush(&myself, state)),
            LedgerMsg::Tick => timed("git commit: prepare", || tick(&myself, state)),
            LedgerMsg::Sync(reply) => {
                let pending = PendingSync {
                    reply,
                    retried: false,
                };
                if state.committing {
                    state.waiting_syncs.push(pending);
                } else {
                    timed("sync: prepare", || sync(&myself, state, vec![pending]));
                }
            }
            LedgerMsg::Committed(done, generation) => timed("git commit: finish", || {
                committed(&myself, state, done, generation)
            }),
            LedgerMsg::Reopen => timed("reopen the ledger", || reopen(&myself, state)),
        }
        schedule_tick(&myself, state);
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<LedgerMsg>,
        state: &mut LedgerState,
    ) -> Result<(), ActorProcessingErr> {
        flush(&myself, state);
        let stopping = "gastown run stopped before the ledger was back; whether this change was \
                        stored is not known: check with `gastown bead list`"
            .to_string();
        for group in std::mem::take(&mut state.uncertain) {
            for reply in group.replies {
                reply(Err(stopping.clone()));
            }
        }
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

/// Run one operation: on the ledger (its reply held for the next flush), or, while there is
/// none, answered at once with the reason.
fn run(
    myself: &ActorRef<LedgerMsg>,
    state: &mut LedgerState,
    op: LedgerOp,
) -> Result<(), ActorProcessingErr> {
    let Some(ledger) = state.ledger.as_mut() else {
        let reason = unavailable_now(state);
        let reply = (op.run)(Err(&reason));
        reply(Err(reason));
        return Ok(());
    };
    check_space(ledger);
    let reply = timed(&op.name, || (op.run)(Ok(ledger)));
    if state.held.is_empty() {
        // Queued behind whatever arrives meanwhile: they share its fsync.
        myself.send_message(LedgerMsg::Flush)?;
    }
    state.held.push(reply);
    Ok(())
}

/// Why there is no ledger now.
fn unavailable_now(state: &LedgerState) -> String {
    state.down.as_ref().map_or_else(
        || "the ledger is closed: gastown run is stopping".to_string(),
        |down| down.reason.clone(),
    )
}

/// Open the ledger (again). On success the groups whose commit failed are answered (stored or
/// not); on failure the reason is kept for the callers and another attempt is scheduled.
fn reopen(myself: &ActorRef<LedgerMsg>, state: &mut LedgerState) {
    if state.ledger.is_some() {
        return;
    }
    let keep_changes = state.changes.is_some();
    let opened = Ledger::open(state.config.clone()).and_then(|mut ledger| {
        ledger.set_deferred_durability(true)?;
        ledger.keep_changes(keep_changes);
        Ok(ledger)
    });
    match opened {
        Ok(ledger) => {
            if let Some(down) = state.down.take() {
                tracing::info!(
                    after_ms = down.since.elapsed().as_millis() as u64,
                    "the ledger is available again"
                );
            }
            let seq = ledger.change_seq();
            for group in std::mem::take(&mut state.uncertain) {
                let outcome = if group.last_seq <= seq {
                    Ok(())
                } else {
                    Err(format!(
                        "{}; this change was not stored, so try it again",
                        group.reason
                    ))
                };
                for reply in group.replies {
                    reply(outcome.clone());
                }
            }
            state.generation += 1;
            state.ledger = Some(ledger);
        }
        Err(e) => {
            let reason = unavailable_reason(&e, &state.config);
            let retry_in = match &state.down {
                Some(down) => (down.retry_in * 2).min(LEDGER_RETRY_MAX),
                None => LEDGER_RETRY_START,
            };
            let since = match &state.down {
                Some(down) if down.reason == reason => down.since,
                _ => {
                    tracing::warn!(
                        "the ledger is unavailable: {reason}; sessions keep running, and the \
                         ledger is tried again every few seconds"
                    );
                    state.down.as_ref().map_or_else(Instant::now, |d| d.since)
                }
            };
            state.down = Some(Down {
                reason,
                since,
                retry_in,
            });
            answer_overdue(state);
            myself.send_after(retry_in, || LedgerMsg::Reopen);
        }
    }
}

/// Groups that have waited [`LEDGER_UNCERTAIN_WAIT`] for the ledger are told that whether their
/// change was stored is not known yet (never that it failed).
fn answer_overdue(state: &mut LedgerState) {
    let reason = unavailable_now(state);
    let (overdue, waiting): (Vec<Uncertain>, Vec<Uncertain>) = std::mem::take(&mut state.uncertain)
        .into_iter()
        .partition(|g| g.since.elapsed() >= LEDGER_UNCERTAIN_WAIT);
    state.uncertain = waiting;
    for group in overdue {
        let message = format!(
            "{reason}; whether this change was stored is not known until the ledger is back: \
             check with `gastown bead list` then, before trying it again"
        );
        for reply in group.replies {
            reply(Err(message.clone()));
        }
    }
}

/// Drop the ledger (its index cannot be trusted after a failed commit) and try to open it again
/// shortly. A running git commit finishes on its own; its result is not taken (the reopened
/// ledger reconciles with git).
fn go_down(myself: &ActorRef<LedgerMsg>, state: &mut LedgerState, reason: String) {
    tracing::error!(
        "the ledger failed: {reason}; reopening it (sessions keep running, nothing acknowledged \
         was lost)"
    );
    state.ledger = None;
    state.committing = false;
    let syncs: Vec<PendingSync> = std::mem::take(&mut state.covered_syncs)
        .into_iter()
        .chain(std::mem::take(&mut state.waiting_syncs))
        .collect();
    answer(syncs, Err(reason.clone()));
    state.down = Some(Down {
        reason,
        since: Instant::now(),
        retry_in: LEDGER_RETRY_START,
    });
    myself.send_after(LEDGER_RETRY_START, || LedgerMsg::Reopen);
}

/// What a caller is told when the ledger cannot be opened or written: who holds the lock, or
/// that the disk is full, or the ledger's own message.
fn unavailable_reason(e: &LedgerError, config: &LedgerConfig) -> String {
    match e {
        LedgerError::Locked { pid, path } => format!(
            "the ledger is locked by process {pid} ({}): another gastown process is using this \
             town; the supervisor takes the ledger over by itself once that process exits (stop \
             it, e.g. `kill {pid}`, if it should not run); nothing acknowledged was lost",
            path.display()
        ),
        e if is_disk_full(e) => disk_full(index_dir(config)),
        other => format!("{other}"),
    }
}

/// ENOSPC or EDQUOT, however deep in the error.
fn is_disk_full(e: &LedgerError) -> bool {
    let text = e.to_string();
    text.contains("No space left on device")
        || text.contains("os error 28")
        || text.contains("Disk quota exceeded")
        || text.contains("os error 122")
}

fn index_dir(config: &LedgerConfig) -> &Path {
    config
        .index_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The reason a full disk gives.
fn disk_full(dir: &Path) -> String {
    let free = free_bytes(dir)
        .map(|b| format!("{} free", mib(b)))
        .unwrap_or_else(|| "its free space unknown".to_string());
    format!(
        "the disk holding {} is full ({free}; the ledger keeps {} in reserve): free some space \
         there and the ledger takes changes again by itself; reads still work, and nothing \
         acknowledged was lost",
        dir.display(),
        mib(LEDGER_FREE_SPACE_RESERVE)
    )
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Free bytes for an unprivileged writer on the filesystem of `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the struct we own from a NUL-terminated path; zeroed is a valid
    // bit pattern for this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Refuse changes while the index's disk has less than the reserve free; take them again once
/// it has more. Logged when it turns.
fn check_space(ledger: &mut Ledger) {
    let dir = index_dir(ledger.config()).to_path_buf();
    let low = free_bytes(&dir).is_some_and(|free| free < LEDGER_FREE_SPACE_RESERVE);
    match (low, ledger.refusing().is_some()) {
        (true, false) => {
            let reason = disk_full(&dir);
            tracing::warn!("refusing ledger changes: {reason}");
            ledger.refuse_changes(Some(reason));
        }
        (true, true) => ledger.refuse_changes(Some(disk_full(&dir))),
        (false, true) => {
            tracing::info!("the ledger's disk has room again; taking changes");
            ledger.refuse_changes(None);
        }
        (false, false) => {}
    }
}

/// A git commit that ran on a blocking thread is done: take its result, answer the syncs it
/// covered, and commit again for the syncs that arrived meanwhile (and a failed one's retry).
fn committed(
    myself: &ActorRef<LedgerMsg>,
    state: &mut LedgerState,
    done: CommitDone,
    generation: u64,
) {
    if generation != state.generation {
        return; // Of a ledger since dropped: the reopened one reconciled with git itself.
    }
    let Some(ledger) = state.ledger.as_mut() else {
        return;
    };
    state.committing = false;
    let outcome = ledger.finish_commit(done).map_err(|e| e.to_string());
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
        sync(myself, state, again);
    }
}

/// One fsync for every operation since the last flush, then their replies. If the fsync fails,
/// whether the group was stored is not known until the ledger is reopened: its replies wait
/// for that (see the module documentation), and the actor goes on without a ledger meanwhile.
fn flush(myself: &ActorRef<LedgerMsg>, state: &mut LedgerState) {
    if state.held.is_empty() {
        return;
    }
    let Some(ledger) = state.ledger.as_mut() else {
        let reason = unavailable_now(state);
        for reply in state.held.drain(..) {
            reply(Err(reason.clone()));
        }
        return;
    };
    let last_seq = ledger.change_seq();
    match ledger.make_durable() {
        Ok(()) => {
            if let Some(sink) = &state.changes {
                let (changes, dropped) = ledger.take_changes();
                if !changes.is_empty() || dropped > 0 {
                    sink(ledger, changes, dropped);
                }
            }
            for reply in state.held.drain(..) {
                reply(Ok(()));
            }
        }
        Err(e) => {
            let reason = unavailable_reason(&e, &state.config);
            state.uncertain.push(Uncertain {
                last_seq,
                replies: std::mem::take(&mut state.held),
                reason: reason.clone(),
                since: Instant::now(),
            });
            go_down(myself, state, reason);
        }
    }
}

/// Commit everything pending to git on a blocking thread, and answer `syncs` when it is done
/// (at once when there is nothing to commit, preparing the commit failed, or the ledger takes
/// no changes now).
fn sync(myself: &ActorRef<LedgerMsg>, state: &mut LedgerState, syncs: Vec<PendingSync>) {
    flush(myself, state);
    let Some(ledger) = state.ledger.as_mut() else {
        let reason = unavailable_now(state);
        return answer(syncs, Err(reason));
    };
    check_space(ledger);
    if let Some(reason) = ledger.refusing() {
        let reason = reason.to_string();
        return answer(syncs, Err(reason));
    }
    let job = match ledger.begin_commit() {
        Ok(Some(job)) => job,
        Ok(None) => return answer(syncs, Ok(None)),
        Err(e) => return answer(syncs, Err(e.to_string())),
    };
    state.covered_syncs.extend(syncs);
    run_commit(myself, state, job);
}

fn answer(syncs: Vec<PendingSync>, outcome: Result<Option<CommitOutcome>, String>) {
    for pending in syncs {
        let _ = pending.reply.send(outcome.clone());
    }
}

/// Run a prepared git commit on a blocking thread; its result comes back as `Committed`.
fn run_commit(myself: &ActorRef<LedgerMsg>, state: &mut LedgerState, job: CommitJob) {
    state.committing = true;
    let myself = myself.clone();
    let generation = state.generation;
    tokio::task::spawn_blocking(move || {
        let done = job.run();
        // If the actor is gone, its ledger was closed and committed everything itself.
        let _ = myself.send_message(LedgerMsg::Committed(done, generation));
    });
}

/// When the oldest pending change is due, start its git commit on a blocking thread.
fn tick(myself: &ActorRef<LedgerMsg>, state: &mut LedgerState) {
    state.tick_scheduled = false;
    if state.committing {
        return; // The commit's result schedules the next tick.
    }
    let Some(ledger) = state.ledger.as_mut() else {
        return; // The reopened ledger schedules its own.
    };
    if !ledger.commit_due_in().is_some_and(|d| d.is_zero()) {
        return;
    }
    check_space(ledger);
    if ledger.refusing().is_some() {
        // Git needs room too: the commit waits for it (the journal keeps every change).
        retry_tick_later(myself, state);
        return;
    }
    // Preparing makes the group durable: the replies it covers can go now.
    flush(myself, state);
    let Some(ledger) = state.ledger.as_mut() else {
        return;
    };
    match ledger.begin_commit() {
        Ok(Some(job)) => run_commit(myself, state, job),
        Ok(None) => {}
        // Git could not be read (the journal keeps every change): try again later.
        Err(e @ LedgerError::Git(_)) => {
            tracing::warn!(error = %e, "cannot prepare the ledger's git commit; will retry");
            retry_tick_later(myself, state);
        }
        // The index failed while folding or reading: reopen it.
        Err(e) => {
            let reason = unavailable_reason(&e, &state.config);
            go_down(myself, state, reason);
        }
    }
}

/// Another tick in a while (not at once: a due commit would otherwise spin).
fn retry_tick_later(myself: &ActorRef<LedgerMsg>, state: &mut LedgerState) {
    state.tick_scheduled = true;
    myself.send_after(LEDGER_RETRY_MAX, || LedgerMsg::Tick);
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
