//! The request-id span, in a test binary of its own: tracing caches per call site
//! whether anyone listens, and other tests running the same layer at the same time
//! without a subscriber would make that cache say no.
#![cfg(feature = "request-id")]

use std::fmt;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use rustango_http::test_client::TestClient;
use rustango_middleware::request_id::RequestIdLayer;

// --- the span ---------------------------------------------------------------------

/// The recorded fields of one span, by name.
type SpanFields = Vec<(String, String)>;

/// A subscriber that records the fields of `request` spans and which span each event
/// was logged in.
#[derive(Default, Clone)]
struct Recorder {
    spans: Arc<Mutex<Vec<SpanFields>>>,
    metadata: Arc<Mutex<Vec<&'static tracing::Metadata<'static>>>>,
    events: Arc<Mutex<Vec<Option<u64>>>>,
    current: Arc<Mutex<Vec<u64>>>,
}

struct Fields<'a>(&'a mut SpanFields);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = vec![("name".to_owned(), attrs.metadata().name().to_owned())];
        attrs.record(&mut Fields(&mut fields));
        self.metadata.lock().unwrap().push(attrs.metadata());
        let mut spans = self.spans.lock().unwrap();
        spans.push(fields);
        tracing::span::Id::from_u64(spans.len() as u64)
    }

    fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut spans = self.spans.lock().unwrap();
        let fields = &mut spans[span.into_u64() as usize - 1];
        values.record(&mut Fields(fields));
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, _: &tracing::Event<'_>) {
        let current = self.current.lock().unwrap().last().copied();
        self.events.lock().unwrap().push(current);
    }

    fn enter(&self, span: &tracing::span::Id) {
        self.current.lock().unwrap().push(span.into_u64());
    }

    fn exit(&self, _: &tracing::span::Id) {
        self.current.lock().unwrap().pop();
    }

    // `Span::current()` (what `in_current_span` captures) asks for this.
    fn current_span(&self) -> tracing_core::span::Current {
        match self.current.lock().unwrap().last() {
            Some(&id) => tracing_core::span::Current::new(
                tracing::span::Id::from_u64(id),
                self.metadata.lock().unwrap()[id as usize - 1],
            ),
            None => tracing_core::span::Current::none(),
        }
    }
}

/// Runs `work` on a current-thread runtime with `recorder` as the subscriber.
fn with_recorder(recorder: &Recorder, work: impl std::future::Future<Output = ()>) {
    tracing::subscriber::with_default(recorder.clone(), || {
        // Another test of this binary may have reached the span's callsite first, with
        // no subscriber interested; make tracing ask again.
        tracing::callsite::rebuild_interest_cache();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(work);
    });
}

#[test]
fn span_carries_the_id() {
    let recorder = Recorder::default();
    let handler = || async {
        tracing::info!("inside the handler");
        "ok"
    };
    let client = TestClient::new(
        Router::new()
            .route("/things/{id}", get(handler))
            .layer(RequestIdLayer::new()),
    );
    with_recorder(&recorder, async {
        let r = client
            .get("/things/7?token=secret")
            .header("x-request-id", "span-test-1")
            .send()
            .await;
        assert_eq!(r.status, 200);
    });
    let spans = recorder.spans.lock().unwrap();
    let (index, fields) = spans
        .iter()
        .enumerate()
        .find(|(_, f)| f.contains(&("name".into(), "request".into())))
        .expect("no `request` span");
    assert!(
        fields.contains(&("request_id".into(), "span-test-1".into())),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("method".into(), "GET".into())),
        "{fields:?}"
    );
    // The path, never the query string.
    assert!(
        fields.contains(&("path".into(), "/things/7".into())),
        "{fields:?}"
    );
    // The route template and the status (and with `otel`, the span's name and kind
    // for OpenTelemetry).
    let mut expected = vec![
        ("http.route", "\"/things/{id}\""),
        ("http.response.status_code", "200"),
    ];
    if cfg!(feature = "otel") {
        expected.push(("otel.name", "\"GET /things/{id}\""));
        expected.push(("otel.kind", "\"server\""));
    }
    for (name, value) in expected {
        assert!(
            fields.contains(&(name.into(), value.into())),
            "{name}: {fields:?}"
        );
    }
    let span_id = index as u64 + 1;
    let events = recorder.events.lock().unwrap();
    assert!(
        events.contains(&Some(span_id)),
        "the handler's event was not inside the request span: {events:?}"
    );
}

#[cfg(feature = "idempotency")]
#[test]
fn a_handler_behind_idempotency_logs_inside_the_request_span() {
    use rustango_middleware::idempotency::IdempotencyLayer;
    // The idempotency layer runs the handler in a task of its own; the task must
    // carry the request's span.
    let recorder = Recorder::default();
    let client = TestClient::new(
        Router::new()
            .route(
                "/charges",
                axum::routing::post(|| async {
                    tracing::info!("charging");
                    "charged"
                }),
            )
            .layer(IdempotencyLayer::in_memory())
            .layer(RequestIdLayer::new()),
    );
    with_recorder(&recorder, async {
        let r = client
            .post("/charges")
            .header("idempotency-key", "k-1")
            .header("x-request-id", "span-test-2")
            .send()
            .await;
        assert_eq!(r.text(), "charged");
    });
    let spans = recorder.spans.lock().unwrap();
    let index = spans
        .iter()
        .position(|f| f.contains(&("request_id".into(), "span-test-2".into())))
        .expect("no request span");
    let events = recorder.events.lock().unwrap();
    assert!(
        events.contains(&Some(index as u64 + 1)),
        "the handler's event was not inside the request span: {events:?}"
    );
}
