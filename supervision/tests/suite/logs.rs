//! Every supervision event is also a `tracing` event carrying the supervisor, the child, the OTP
//! context and the reason; checked with a small recording subscriber.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use gastown_supervision::{EventKind, Intensity, Strategy, Supervisor, SupervisorSpec};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use crate::common::{Command, Exit, Journal, send, wait_kind, worker};

/// The fields of one recorded event, by name.
type Fields = BTreeMap<String, String>;

/// A subscriber that keeps the fields of every event with the message "supervision".
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Fields>>>);

/// Collects fields as text.
struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        if fields.get("message").map(String::as_str) == Some("supervision") {
            fields.insert("level".into(), event.metadata().level().to_string());
            self.0.lock().expect("recorder lock").push(fields);
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[tokio::test(start_paused = true)]
async fn every_event_is_also_a_tracing_event() {
    let recorder = Recorder::default();
    // The test runtime is single-threaded: every actor runs on this thread, under this default.
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let journal = Journal::default();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .with_intensity(Intensity::new(0, std::time::Duration::from_secs(5)))
        .child(worker("w", &journal));
    let supervisor = Supervisor::spawn("logged", spec).await.expect("starts");
    let mut events = supervisor.subscribe();
    send(&supervisor, "w", Command::Exit(Exit::Abnormal)).await;
    wait_kind(&mut events, EventKind::GaveUp, "w").await;
    supervisor.wait().await;

    let logged = recorder.0.lock().expect("recorder lock").clone();
    let summary: Vec<(String, String, String, String)> = logged
        .iter()
        .map(|fields| {
            let get = |name: &str| fields.get(name).cloned().unwrap_or_default();
            (
                get("level"),
                get("supervisor"),
                get("child"),
                get("context"),
            )
        })
        .collect();
    let expected = [
        ("DEBUG", "logged", "w", "Progress"),
        ("WARN", "logged", "w", "ChildTerminated"),
        ("ERROR", "logged", "w", "ReachedMaxRestartIntensity"),
    ];
    let expected: Vec<(String, String, String, String)> = expected
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(summary, expected);
    assert_eq!(logged[1]["reason"], "w crashed");
    assert!(
        logged[2]["reason"].contains("reached_max_restart_intensity"),
        "{:?}",
        logged[2]
    );
}
