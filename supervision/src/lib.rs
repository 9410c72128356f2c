//! Erlang/OTP-style supervision on [ractor]. Generic: it knows nothing of the program that uses it.
//!
//! ractor links actors but restarts nothing: its default `handle_supervisor_evt` stops the parent
//! when any child exits, a parent's stop kills children without their `post_stop`, and a child's
//! `pre_start` failure only reaches whoever spawned it. This crate is the missing layer:
//!
//! - **child specs** ([`ChildSpec`]): an id, a *factory* the supervisor calls again on every
//!   restart, a [`Restart`] type, a [`Shutdown`], a [`ChildKind`];
//! - **strategies** ([`Strategy`]): one_for_one, one_for_all, rest_for_one, and dynamic
//!   (OTP's simple_one_for_one) with a `max_children` bound;
//! - **intensity** ([`Intensity`]): more restarts than allowed within a sliding period and the
//!   supervisor stops its children in reverse order and fails to its parent with a
//!   `reached_max_restart_intensity` reason ([`GaveUp`]);
//! - **backoff** ([`Backoff`]): per child, jittered exponential delays with a cap and a reset,
//!   retried through the supervisor's own mailbox so it keeps answering;
//! - **ordered shutdown**: reverse start order, each child its timeout then a kill; every child's
//!   `post_stop` runs unless it had to be killed;
//! - **introspection**: [`SupervisorRef::snapshot`] of a whole subtree and a stream of
//!   [`SupervisorEvent`]s (also logged through `tracing`), all serializable.
//!
//! Every default lives in [`defaults`], with its reason. `docs/supervision.md` in the repository
//! states the guarantees and where they differ from OTP.
//!
//! # Example
//!
//! ```
//! use gastown_supervision::{
//!     ChildSpec, EventKind, Intensity, Restart, Strategy, Supervisor, SupervisorSpec,
//! };
//! use ractor::{Actor, ActorProcessingErr, ActorRef};
//!
//! /// A worker that fails on request.
//! #[derive(Clone)]
//! struct Flaky;
//!
//! impl Actor for Flaky {
//!     type Msg = &'static str;
//!     type State = ();
//!     type Arguments = ();
//!
//!     async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<(), ActorProcessingErr> {
//!         Ok(())
//!     }
//!
//!     async fn handle(&self, _: ActorRef<Self::Msg>, msg: Self::Msg, _: &mut ()) -> Result<(), ActorProcessingErr> {
//!         Err(msg.into())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let spec = SupervisorSpec::new(Strategy::OneForOne)
//!     .with_intensity(Intensity::parse(3, "5s")?)
//!     // The short form: a clone of the actor, started with fresh arguments each time.
//!     .child(ChildSpec::actor("flaky", Flaky, || ()))
//!     // The general form: any async factory that spawns linked to `ctx.supervisor()`.
//!     .child(
//!         ChildSpec::worker("helper", |ctx| async move { ctx.spawn(Flaky, ()).await })
//!             .with_restart(Restart::Transient),
//!     )
//!     // A nested supervisor: its events join this tree's stream, its snapshot this snapshot.
//!     .child(ChildSpec::supervisor("pool", SupervisorSpec::new(Strategy::Dynamic)));
//! let root = Supervisor::spawn("app", spec).await?;
//! let mut events = root.subscribe();
//!
//! // Crash the worker: the supervisor restarts it.
//! let flaky = root.child("flaky").await?.expect("flaky runs");
//! flaky.send_message("boom")?;
//! loop {
//!     let event = events.recv().await?;
//!     if event.kind == EventKind::Restarted && event.child == "flaky" {
//!         break;
//!     }
//! }
//!
//! let snapshot = root.snapshot().await?;
//! assert_eq!(snapshot.children[0].restarts_total, 1);
//! assert_eq!(snapshot.children[0].last_failure.as_ref().map(|f| f.reason.as_str()), Some("boom"));
//! assert_eq!(snapshot.children[2].supervisor.as_ref().map(|s| s.path.as_str()), Some("app/pool"));
//!
//! // Add a worker to the nested dynamic supervisor at run time.
//! let pool = root.child_supervisor("pool").await?.expect("pool runs");
//! pool.start_child(ChildSpec::actor("job-1", Flaky, || ())).await?;
//! assert_eq!(pool.which_children().await?.len(), 1);
//!
//! // Stops `pool` (and its job), then `helper`, then `flaky`, each waited for.
//! root.shutdown().await;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod defaults;

mod backoff;
mod child;
mod error;
mod event;
mod handle;
mod snapshot;
mod spec;
mod supervisor;
mod window;

pub use backoff::Backoff;
pub use child::{ChildContext, ChildSpec, MailboxProbe, StartFn, StartFuture, StartedChild};
pub use error::{GaveUp, SpecError, SupervisorError};
pub use event::{Context, EventKind, ExitKind, SupervisorEvent};
pub use handle::SupervisorRef;
pub use snapshot::{ChildInfo, ChildSnapshot, ChildState, Failure, SupervisorSnapshot};
pub use spec::{ChildKind, Intensity, Restart, Shutdown, Strategy, SupervisorSpec};
pub use supervisor::{Supervisor, SupervisorArgs, SupervisorMsg, SupervisorState};
