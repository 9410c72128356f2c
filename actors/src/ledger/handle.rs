//! Calling the ledger actor: [`LedgerHandle`] from async code, [`BlockingLedger`] from a blocking
//! thread (the [`LedgerSteps`] of a command that runs git or gates between its ledger steps).
//!
//! Every call names its operation (`ledger.call("sling: hook", |l| …)`): the actor times each
//! one and names a slow one in its log.

use super::{LedgerMsg, LedgerOp};
use gastown_beads::{CommitOutcome, Ledger, LedgerError};
use gastown_town::steps::{self, LedgerSteps};
use ractor::ActorRef;
use std::borrow::Cow;
use tokio::sync::oneshot;

/// Why a ledger call did not run.
#[derive(Debug, thiserror::Error)]
pub enum LedgerCallError {
    #[error("the ledger actor is not running: is `gastown run` shutting down?")]
    Unavailable,
    /// The ledger actor runs but cannot reach its ledger (locked by another process, the disk
    /// full, the index damaged): the reason, with what to do. Nothing acknowledged was lost.
    #[error("the ledger is unavailable: {0}")]
    LedgerUnavailable(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("git commit of the ledger failed: {0}")]
    Commit(String),
    /// The blocking thread running a command's steps panicked or was cancelled.
    #[error("the command stopped before it finished ({0}): see the supervisor's log")]
    Steps(String),
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

    /// Send `f` to the actor as the operation `name`; the receiver gets its result once it is
    /// durable.
    fn send<R, F>(
        &self,
        name: Cow<'static, str>,
        f: F,
    ) -> Result<oneshot::Receiver<Result<R, String>>, LedgerCallError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Ledger) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<R, String>>();
        let op = LedgerOp {
            name,
            run: Box::new(move |ledger| match ledger {
                Ok(ledger) => {
                    let result = f(ledger);
                    Box::new(move |durable: Result<(), String>| {
                        let _ = tx.send(durable.map(|()| result));
                    })
                }
                Err(_) => Box::new(move |refused: Result<(), String>| {
                    let _ = tx.send(Err(refused.err().unwrap_or_default()));
                }),
            }),
        };
        self.actor()?
            .send_message(LedgerMsg::Run(op))
            .map_err(|_| LedgerCallError::Unavailable)?;
        Ok(rx)
    }

    /// Run `f` against the ledger in the actor as the operation `name` (`"mail: inbox"`) and
    /// return its result. `f` holds the whole town's ledger: nothing slow in it.
    pub async fn call<R, F>(
        &self,
        name: impl Into<Cow<'static, str>>,
        f: F,
    ) -> Result<R, LedgerCallError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Ledger) -> R + Send + 'static,
    {
        let rx = self.send(name.into(), f)?;
        rx.await
            .map_err(|_| LedgerCallError::Unavailable)?
            .map_err(LedgerCallError::LedgerUnavailable)
    }

    /// Like [`LedgerHandle::call`] for operations that return a ledger result.
    pub async fn try_call<R, F>(
        &self,
        name: impl Into<Cow<'static, str>>,
        f: F,
    ) -> Result<R, LedgerCallError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Ledger) -> Result<R, LedgerError> + Send + 'static,
    {
        Ok(self.call(name, f).await??)
    }

    /// Like [`LedgerHandle::call`], waiting on this thread: for blocking threads only (on an
    /// async worker it would block the worker).
    pub fn blocking_call<R, F>(
        &self,
        name: impl Into<Cow<'static, str>>,
        f: F,
    ) -> Result<R, LedgerCallError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Ledger) -> R + Send + 'static,
    {
        let rx = self.send(name.into(), f)?;
        rx.blocking_recv()
            .map_err(|_| LedgerCallError::Unavailable)?
            .map_err(LedgerCallError::LedgerUnavailable)
    }

    /// Run a command written against [`LedgerSteps`] (`sling`, `done`, `mq process`) on a
    /// blocking thread: its git and gates run there, each of its ledger steps in the actor.
    pub async fn in_steps<R, F>(&self, f: F) -> Result<R, LedgerCallError>
    where
        R: Send + 'static,
        F: FnOnce(&mut BlockingLedger) -> R + Send + 'static,
    {
        let mut steps = BlockingLedger {
            handle: self.clone(),
        };
        tokio::task::spawn_blocking(move || f(&mut steps))
            .await
            .map_err(|e| LedgerCallError::Steps(e.to_string()))
    }

    /// Force the git commit now.
    pub async fn sync(&self) -> Result<Option<CommitOutcome>, LedgerCallError> {
        let actor = self.actor()?;
        let outcome =
            ractor::call!(actor, LedgerMsg::Sync).map_err(|_| LedgerCallError::Unavailable)?;
        outcome.map_err(LedgerCallError::Commit)
    }
}

/// The ledger actor as the [`LedgerSteps`] of a command running on a blocking thread: each step
/// is one operation of the actor, waited for on that thread. Made by [`LedgerHandle::in_steps`].
#[derive(Debug, Clone)]
pub struct BlockingLedger {
    handle: LedgerHandle,
}

impl LedgerSteps for BlockingLedger {
    type Error = LedgerCallError;

    fn step<R, F>(&mut self, name: &'static str, f: F) -> Result<R, LedgerCallError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Ledger) -> R + Send + 'static,
    {
        steps::fault_point(name);
        self.handle.blocking_call(name, f)
    }
}
