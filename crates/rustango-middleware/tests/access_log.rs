#![cfg(feature = "access-log")]
//! `AccessLogLayer` through a router, in a test binary of its own: the tests install a
//! `tracing` subscriber, and tracing caches per call site whether anyone listens.

use std::fmt;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use rustango_http::test_client::TestClient;
use rustango_middleware::access_log::AccessLogLayer;

/// One recorded event: its level, target and fields by name.
#[derive(Debug, Clone)]
struct Event {
    level: tracing::Level,
    target: String,
    fields: Vec<(String, String)>,
}

impl Event {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A subscriber that records every event.
#[derive(Default, Clone)]
struct Recorder {
    events: Arc<Mutex<Vec<Event>>>,
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.events.lock().unwrap().push(Event {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields,
        });
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// Builds the layer and runs `requests` under a recording subscriber; returns the
/// access events.
fn record<F, Fut>(make_layer: impl FnOnce() -> AccessLogLayer, requests: F) -> Vec<Event>
where
    F: FnOnce(TestClient) -> Fut,
    Fut: Future<Output = ()>,
{
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        tracing::callsite::rebuild_interest_cache();
        let app = Router::new()
            .route("/things", get(|| async { "things" }))
            .route(
                "/boom",
                get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
            )
            .route(
                "/teapot",
                get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") }),
            )
            .layer(make_layer());
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(requests(TestClient::new(app)));
    });
    recorder.events.lock().unwrap().clone()
}

fn access(events: &[Event]) -> Vec<&Event> {
    events
        .iter()
        .filter(|e| e.target == "rustango::access" && e.get("status").is_some())
        .collect()
}

#[test]
fn redacts_the_query() {
    let events = record(AccessLogLayer::new, |client| async move {
        let r = client.get("/things?token=abc&page=2").send().await;
        assert_eq!(r.status, 200);
    });
    let access = access(&events);
    assert_eq!(access.len(), 1, "{events:?}");
    let e = access[0];
    assert_eq!(e.get("query"), Some("token=***&page=2"), "{e:?}");
    assert_eq!(e.get("path"), Some("/things"), "{e:?}");
    assert_eq!(e.get("method"), Some("GET"), "{e:?}");
    assert!(
        !format!("{events:?}").contains("abc"),
        "the secret leaked: {events:?}"
    );
}

#[test]
fn extra_params_are_redacted_and_referer_too() {
    let events = record(
        || AccessLogLayer::new().redact_params(["OTP"]),
        |client| async move {
            client
                .get("/things?otp=123456&q=rust")
                .header(
                    "referer",
                    "https://u:hunter2@ex.com/login?next=/x&api_key=k9",
                )
                .header("user-agent", "test-agent/1.0")
                .send()
                .await;
        },
    );
    let access = access(&events);
    let e = access[0];
    assert_eq!(e.get("query"), Some("otp=***&q=rust"), "{e:?}");
    assert_eq!(
        e.get("referer"),
        Some("https://ex.com/login?next=/x&api_key=***"),
        "{e:?}"
    );
    assert_eq!(e.get("user_agent"), Some("test-agent/1.0"), "{e:?}");
    let all = format!("{events:?}");
    assert!(!all.contains("123456") && !all.contains("hunter2") && !all.contains("k9"));
}

#[test]
fn credentials_are_never_logged() {
    let events = record(
        || {
            AccessLogLayer::new().redact_params(["otp"]).log_headers([
                "authorization",
                "x-trace",
                "Cookie",
                "x-api-key",
                "x-otp",
            ])
        },
        |client| async move {
            client
                .get("/things")
                .header("authorization", "Bearer sekrit-bearer")
                .header("cookie", "sessionid=sekrit-cookie")
                .header("proxy-authorization", "Basic sekrit-proxy")
                .header("x-trace", "trace-7")
                .header("x-api-key", "sekrit-api-key")
                .header("x-otp", "sekrit-otp")
                .send()
                .await;
        },
    );
    let all = format!("{events:?}");
    assert!(!all.contains("sekrit"), "a credential leaked: {all}");
    let access = access(&events);
    assert_eq!(access.len(), 1, "{events:?}");
    let headers = access[0].get("headers").expect("no headers field");
    let headers: serde_json::Value = serde_json::from_str(headers).unwrap();
    // Headers named like a secret (default fragments and added ones) are redacted.
    assert_eq!(
        headers,
        serde_json::json!({ "x-trace": "trace-7", "x-api-key": "***", "x-otp": "***" })
    );
    // The refusal was warned about, once, at configuration.
    let warnings: Vec<_> = events
        .iter()
        .filter(|e| e.level == tracing::Level::WARN && e.get("status").is_none())
        .collect();
    assert_eq!(warnings.len(), 1, "{events:?}");
}

#[test]
fn status_latency_bytes_and_levels() {
    let events = record(AccessLogLayer::new, |client| async move {
        client
            .get("/things")
            .header("x-request-id", "rid-1")
            .send()
            .await;
        client.get("/boom").send().await;
        client.get("/teapot").send().await;
    });
    let access = access(&events);
    assert_eq!(access.len(), 3, "{events:?}");

    let ok = access[0];
    assert_eq!(ok.level, tracing::Level::INFO);
    assert_eq!(ok.get("status"), Some("200"));
    let latency: f64 = ok.get("latency_ms").expect("no latency").parse().unwrap();
    assert!(latency >= 0.0);
    assert_eq!(ok.get("bytes"), Some("6"), "{ok:?}");
    assert_eq!(ok.get("request_id"), Some("rid-1"), "{ok:?}");
    assert_eq!(ok.get("query"), None, "{ok:?}");

    let boom = access[1];
    assert_eq!(boom.get("status"), Some("500"));
    assert_eq!(boom.level, tracing::Level::ERROR);

    let teapot = access[2];
    assert_eq!(teapot.get("status"), Some("418"));
    assert_eq!(teapot.level, tracing::Level::WARN);
}

#[test]
fn odd_headers_do_not_panic() {
    let events = record(
        || AccessLogLayer::new().log_headers(["x-raw"]),
        |client| async move {
            let r = client
                .get("/things?%ff=%&token")
                .header(
                    "user-agent",
                    axum::http::HeaderValue::from_bytes(b"bad\xffagent").unwrap(),
                )
                .header(
                    "x-raw",
                    axum::http::HeaderValue::from_bytes(b"\xfe\xfd").unwrap(),
                )
                .send()
                .await;
            assert_eq!(r.status, 200);
        },
    );
    let access = access(&events);
    assert_eq!(access[0].get("user_agent"), Some("bad\u{fffd}agent"));
    assert_eq!(access[0].get("query"), Some("%ff=%&token"));
}
