//! Test harness: a `Worker` actor that journals its starts and stops and exits on command in
//! every way a child can (normal, shutdown, Err, panic, hang), and helpers that wait for events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gastown_supervision::{ChildSpec, EventKind, SupervisorEvent, SupervisorRef};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::broadcast;

/// How a worker is told to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `myself.stop(None)`.
    Normal,
    /// `myself.stop(Some("shutdown"))`.
    Shutdown,
    /// An `Err` from `handle`.
    Abnormal,
    /// A panic in `handle`.
    Panic,
}

/// Messages a worker understands.
pub enum Command {
    /// End as told.
    Exit(Exit),
    /// Block inside `handle` forever, so a stop is never seen.
    Hang,
    /// `myself.stop(reason)` with any reason.
    StopWith(Option<String>),
}

/// Shared, ordered record of `start <id>` and `stop <id>` lines.
#[derive(Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    fn push(&self, line: String) {
        self.0.lock().expect("journal lock").push(line);
    }

    /// All lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().expect("journal lock").clone()
    }

    /// Lines starting with `prefix ` (e.g. "stop"), as child ids.
    pub fn ids(&self, prefix: &str) -> Vec<String> {
        let prefix = format!("{prefix} ");
        self.lines()
            .iter()
            .filter_map(|line| line.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }

    /// How often `id` started.
    pub fn starts(&self, id: &str) -> usize {
        self.ids("start")
            .iter()
            .filter(|started| *started == id)
            .count()
    }

    /// How often `id`'s post_stop ran.
    pub fn stops(&self, id: &str) -> usize {
        self.ids("stop")
            .iter()
            .filter(|stopped| *stopped == id)
            .count()
    }
}

/// A switch that makes a worker's `pre_start` fail while on.
#[derive(Clone, Default)]
pub struct Switch(Arc<AtomicBool>);

impl Switch {
    /// Turns it on or off.
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::SeqCst);
    }

    fn is_on(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The test worker.
#[derive(Clone)]
pub struct Worker {
    /// Its child id, written into the journal.
    pub id: String,
    /// Where it journals.
    pub journal: Journal,
    /// While on, `pre_start` fails.
    pub refuse_start: Switch,
    /// `pre_start` panics instead of returning an error.
    pub panic_on_start: bool,
}

impl Actor for Worker {
    type Msg = Command;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Command>, _: ()) -> Result<(), ActorProcessingErr> {
        if self.refuse_start.is_on() {
            if self.panic_on_start {
                panic!("{} panicked while starting", self.id);
            }
            return Err(format!("{} refused to start", self.id).into());
        }
        self.journal.push(format!("start {}", self.id));
        Ok(())
    }

    async fn post_stop(&self, _: ActorRef<Command>, _: &mut ()) -> Result<(), ActorProcessingErr> {
        self.journal.push(format!("stop {}", self.id));
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Command>,
        command: Command,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match command {
            Command::Exit(Exit::Normal) => myself.stop(None),
            Command::Exit(Exit::Shutdown) => myself.stop(Some("shutdown".to_string())),
            Command::Exit(Exit::Abnormal) => return Err(format!("{} crashed", self.id).into()),
            Command::Exit(Exit::Panic) => panic!("{} panicked", self.id),
            Command::Hang => std::future::pending::<()>().await,
            Command::StopWith(reason) => myself.stop(reason),
        }
        Ok(())
    }
}

/// A worker spec journaling into `journal`.
pub fn worker(id: &str, journal: &Journal) -> ChildSpec {
    worker_with(id, journal, &Switch::default())
}

/// A worker spec whose start fails while `refuse_start` is on.
pub fn worker_with(id: &str, journal: &Journal, refuse_start: &Switch) -> ChildSpec {
    let worker = Worker {
        id: id.to_string(),
        journal: journal.clone(),
        refuse_start: refuse_start.clone(),
        panic_on_start: false,
    };
    ChildSpec::actor(id, worker, || ())
}

/// Sends `command` to child `id` of `supervisor`.
pub async fn send(supervisor: &SupervisorRef, id: &str, command: Command) {
    let cell = supervisor
        .child(id)
        .await
        .expect("supervisor answers")
        .expect("child runs");
    cell.send_message(command).expect("child accepts messages");
}

/// Waits (on paused time, so instantly unless something hangs) for an event matching `wanted`.
pub async fn wait_for(
    events: &mut broadcast::Receiver<SupervisorEvent>,
    wanted: impl Fn(&SupervisorEvent) -> bool,
) -> SupervisorEvent {
    let found = tokio::time::timeout(Duration::from_secs(3600), async {
        loop {
            let event = events.recv().await.expect("event stream open");
            if wanted(&event) {
                return event;
            }
        }
    });
    found
        .await
        .expect("the awaited supervision event came within an hour of virtual time")
}

/// Waits for event `kind` about `child`.
pub async fn wait_kind(
    events: &mut broadcast::Receiver<SupervisorEvent>,
    kind: EventKind,
    child: &str,
) -> SupervisorEvent {
    wait_for(events, |event| event.kind == kind && event.child == child).await
}
