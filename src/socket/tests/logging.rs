//! Each bad connection is logged exactly once, at warn, inside its connection's span.
//!
//! A tiny subscriber records warn events with the name of the span they happened in. The server
//! runs on a current-thread runtime inside `with_default`, so every server event reaches it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use super::*;

/// Records warn events and the span each happened in.
#[derive(Default)]
struct WarnRecorder {
    /// Span names by id.
    spans: Mutex<HashMap<u64, &'static str>>,
    /// Entered spans, innermost last (one thread, so one stack).
    stack: Mutex<Vec<u64>>,
    /// The next span id.
    next_id: AtomicU64,
    /// For each warn event: the current span's name, or "" outside any span.
    warns: Arc<Mutex<Vec<&'static str>>>,
}

impl Subscriber for WarnRecorder {
    fn enabled(&self, _metadata: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.spans
            .lock()
            .expect("lock")
            .insert(id, attributes.metadata().name());
        Id::from_u64(id)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        if *event.metadata().level() == Level::WARN {
            let current = self.stack.lock().expect("lock").last().copied();
            let spans = self.spans.lock().expect("lock");
            let name = current.and_then(|id| spans.get(&id).copied()).unwrap_or("");
            self.warns.lock().expect("lock").push(name);
        }
    }

    fn enter(&self, span: &Id) {
        self.stack.lock().expect("lock").push(span.into_u64());
    }

    fn exit(&self, _span: &Id) {
        self.stack.lock().expect("lock").pop();
    }
}

#[test]
fn each_bad_connection_is_logged_once_in_its_connection_span() {
    let recorder = WarnRecorder::default();
    let warns = Arc::clone(&recorder.warns);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tracing::subscriber::with_default(recorder, || {
        // Other tests in this binary hit the same callsites on other threads with no
        // subscriber; one of them may have cached a callsite's interest as "never" while this
        // recorder was being registered (seen: no warn at all recorded). Recompute every
        // callsite's interest now that the recorder is in the dispatcher list.
        tracing::callsite::rebuild_interest_cache();
        runtime.block_on(async {
            let server = TestServer::start(config()).await;
            let bad_inputs: [&[u8]; 4] = [
                &[0, 0, 0, 4, 1, 9, 9, 9],
                b"GET / HTTP/1.1\r\n\r\n",
                &hello_frame(PROTOCOL_VERSION + 1, None),
                &hello_frame(PROTOCOL_VERSION, Some("feedface")),
            ];
            for input in bad_inputs {
                let frames = raw_exchange(&server.path, input, false).await;
                assert!(
                    matches!(frames.as_slice(), [ServerFrame::Error(_)]),
                    "{frames:?}"
                );
            }
            let mut good = handshaken(&server.path).await;
            assert!(matches!(
                async_ping(&mut good, 1).await,
                ServerFrame::Response(_)
            ));
            drop(good);
            server.stop().await;
        });
    });
    let warns = warns.lock().expect("lock");
    assert_eq!(
        *warns, ["socket_conn"; 4],
        "one warn per bad connection, none for the good one"
    );
}
