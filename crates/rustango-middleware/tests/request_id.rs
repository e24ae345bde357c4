//! `RequestIdLayer` through a router, via the in-process test client.
#![cfg(feature = "request-id")]

use axum::Router;
use axum::routing::get;
use http::header::{HeaderName, HeaderValue};
use rustango_http::test_client::TestClient;
use rustango_http::{Problem, RouterExt};
use rustango_middleware::request_id::{RequestId, RequestIdLayer};

async fn echo(id: RequestId, headers: http::HeaderMap) -> String {
    // The request header is rewritten to the id in use.
    assert_eq!(
        headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        Some(id.as_str())
    );
    id.to_string()
}

async fn refuse() -> Problem {
    Problem::conflict("no")
}

async fn optional(id: Option<RequestId>) -> String {
    format!("{}", id.is_some())
}

fn app(layer: RequestIdLayer) -> Router {
    Router::new()
        .route("/", get(echo))
        .route("/refuse", get(refuse))
        .route("/optional", get(optional))
        .with_problem_defaults()
        .layer(layer)
}

fn is_uuid_v4(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok_and(|u| u.get_version_num() == 4)
}

#[tokio::test]
async fn generated_when_absent() {
    let client = TestClient::new(app(RequestIdLayer::new()));
    let a = client.get("/").send().await;
    let b = client.get("/").send().await;
    let id = a.header("x-request-id").unwrap();
    assert!(is_uuid_v4(id), "{id}");
    assert_eq!(a.text(), id);
    assert_ne!(Some(id), b.header("x-request-id"));
}

#[tokio::test]
async fn well_formed_incoming_is_kept() {
    let client = TestClient::new(app(RequestIdLayer::new()));
    let long = "a".repeat(128);
    for incoming in [
        "abc",
        "req-1.2_3:4",
        "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        &long,
    ] {
        let r = client
            .get("/")
            .header("x-request-id", incoming)
            .send()
            .await;
        assert_eq!(r.header("x-request-id"), Some(incoming));
        assert_eq!(r.text(), incoming);
    }
}

#[tokio::test]
async fn malformed_incoming_is_replaced() {
    let client = TestClient::new(app(RequestIdLayer::new()));
    let too_long = "a".repeat(129);
    let huge = "b".repeat(10 * 1024);
    let cases: Vec<HeaderValue> = vec![
        HeaderValue::from_str(&too_long).unwrap(),
        HeaderValue::from_str(&huge).unwrap(),
        HeaderValue::from_static(""),
        HeaderValue::from_static("has space"),
        HeaderValue::from_static("tab\there"),
        HeaderValue::from_static("<script>alert(1)</script>"),
        HeaderValue::from_static("a;b"),
        HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        HeaderValue::from_bytes(b"x\xff\x80").unwrap(),
    ];
    for incoming in cases {
        let r = client
            .get("/")
            .header("x-request-id", incoming.clone())
            .send()
            .await;
        assert_eq!(r.status, 200, "{incoming:?}");
        let id = r.header("x-request-id").unwrap();
        assert!(is_uuid_v4(id), "{incoming:?} gave {id}");
        assert_eq!(r.text(), id);
    }
    // Two ids are no id.
    let r = client
        .get("/")
        .header("x-request-id", "one")
        .header("x-request-id", "two")
        .send()
        .await;
    assert!(is_uuid_v4(r.header("x-request-id").unwrap()));
    assert_eq!(r.headers.get_all("x-request-id").iter().count(), 1);
}

#[tokio::test]
async fn untrusted_incoming_is_replaced() {
    let client = TestClient::new(app(RequestIdLayer::new().trust_incoming(false)));
    let r = client.get("/").header("x-request-id", "abc").send().await;
    assert!(is_uuid_v4(r.header("x-request-id").unwrap()));
}

#[tokio::test]
async fn custom_header_name() {
    let layer = RequestIdLayer::new().header_name(HeaderName::from_static("x-correlation-id"));
    let client = TestClient::new(
        Router::new()
            .route("/", get(|id: RequestId| async move { id.to_string() }))
            .layer(layer),
    );
    let r = client
        .get("/")
        .header("x-correlation-id", "corr-1")
        .header("x-request-id", "ignored")
        .send()
        .await;
    assert_eq!(r.header("x-correlation-id"), Some("corr-1"));
    assert_eq!(r.text(), "corr-1");
    assert!(r.header("x-request-id").is_none());
}

#[tokio::test]
async fn on_problem_responses_and_404s() {
    let client = TestClient::new(app(RequestIdLayer::new()));
    let r = client.get("/missing").send().await;
    assert_eq!(r.status, 404);
    assert_eq!(r.problem().instance(), Some("/missing"));
    assert!(is_uuid_v4(r.header("x-request-id").unwrap()));

    let r = client
        .get("/missing")
        .header("x-request-id", "trace-9")
        .send()
        .await;
    assert_eq!(r.header("x-request-id"), Some("trace-9"));

    let r = client.post("/").header("x-request-id", "m-1").send().await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("x-request-id"), Some("m-1"));

    let r = client.get("/refuse").send().await;
    assert_eq!(r.problem().status(), 409);
    assert!(r.header("x-request-id").is_some());

    // axum's own 404, without the problem fallback.
    let bare = TestClient::new(
        Router::new()
            .route("/", get(echo))
            .layer(RequestIdLayer::new()),
    );
    let r = bare.get("/nope").send().await;
    assert_eq!(r.status, 404);
    assert!(r.header("x-request-id").is_some());
}

#[tokio::test]
async fn extractor() {
    let client = TestClient::new(app(RequestIdLayer::new()));
    assert_eq!(client.get("/optional").send().await.text(), "true");
    let bare = TestClient::new(
        Router::new()
            .route("/", get(echo))
            .route("/optional", get(optional)),
    );
    assert_eq!(bare.get("/optional").send().await.text(), "false");
    let r = bare.get("/").send().await;
    assert_eq!(r.status, 500);
    assert_eq!(r.problem().status(), 500);
}
