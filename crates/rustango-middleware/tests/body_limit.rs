//! `BodyLimitLayer` through a router, via the in-process test client.
#![cfg(feature = "body-limit")]

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use bytes::Bytes;
use rustango_http::extract::Json;
use rustango_http::test_client::{TestClient, TestResponse};
use rustango_middleware::body_limit::BodyLimitLayer;
use tower::ServiceExt as _;

async fn bytes(body: Bytes) -> String {
    body.len().to_string()
}

async fn json(Json(value): Json<serde_json::Value>) -> String {
    value.as_str().map(str::len).unwrap_or_default().to_string()
}

fn app(limit: usize) -> Router {
    Router::new()
        .route("/bytes", post(bytes))
        .route("/json", post(json))
        .layer(BodyLimitLayer::new(limit))
}

fn assert_problem_413(r: &TestResponse) {
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.problem().status(), 413);
}

#[tokio::test]
async fn under_and_at_the_limit_pass() {
    let client = TestClient::new(app(100));
    assert_eq!(
        client.post("/bytes").body(vec![1; 100]).send().await.text(),
        "100"
    );
    assert_eq!(client.post("/bytes").send().await.text(), "0");
    let r = client.post("/json").json(&"x".repeat(50)).send().await;
    assert_eq!(r.text(), "50");
}

#[tokio::test]
async fn over_the_limit_by_content_length() {
    let client = TestClient::new(app(100));
    assert_problem_413(&client.post("/bytes").body(vec![1; 101]).send().await);
    assert_problem_413(&client.post("/json").json(&"x".repeat(200)).send().await);
    // A declared length over the limit, whatever the route.
    let r = client
        .post("/nowhere")
        .header("content-length", "1000000")
        .body(vec![1; 1_000_000])
        .send()
        .await;
    assert_problem_413(&r);
}

/// A chunked body of unknown length: refused while streaming.
fn streamed(len: usize) -> http::Request<Body> {
    let chunks = (0..len / 10).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![1u8; 10])));
    http::Request::post("/bytes")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap()
}

#[tokio::test]
async fn over_the_limit_while_streaming() {
    let response = app(100).oneshot(streamed(200)).await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let ok = app(100).oneshot(streamed(100)).await.unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn raises_axums_default_limit_and_still_answers_problems() {
    // axum's extractors refuse 2 MiB by default; the layer's limit replaces it.
    let three_mib = 3 * 1024 * 1024;
    let client = TestClient::new(app(4 * 1024 * 1024));
    let r = client.post("/bytes").body(vec![1; three_mib]).send().await;
    assert_eq!(r.text(), three_mib.to_string());
    let r = client
        .post("/json")
        .json(&"x".repeat(three_mib))
        .send()
        .await;
    assert_eq!(r.text(), three_mib.to_string());

    // Without the layer, axum's own limit applies; `Json` answers a problem itself.
    let bare = TestClient::new(Router::new().route("/json", post(json)));
    assert_problem_413(&bare.post("/json").json(&"x".repeat(three_mib)).send().await);
}

#[tokio::test]
async fn at_and_just_over_axums_default_limit() {
    // The default stack's limit is axum's own (2 MiB): nothing of axum's is changed, and
    // the layer alone draws the line; one byte more and axum's limit is raised too.
    let two_mib = 2 * 1024 * 1024;
    let client = TestClient::new(app(two_mib));
    let r = client.post("/bytes").body(vec![1; two_mib]).send().await;
    assert_eq!(r.text(), two_mib.to_string());
    assert_problem_413(
        &client
            .post("/bytes")
            .body(vec![1; two_mib + 1])
            .send()
            .await,
    );

    let client = TestClient::new(app(two_mib + 1));
    let r = client
        .post("/bytes")
        .body(vec![1; two_mib + 1])
        .send()
        .await;
    assert_eq!(r.text(), (two_mib + 1).to_string());
    assert_problem_413(
        &client
            .post("/bytes")
            .body(vec![1; two_mib + 2])
            .send()
            .await,
    );

    // Below axum's default, a streamed body is held to the layer's limit.
    let client = TestClient::new(app(1024));
    let stream = futures_util::stream::iter(
        (0..4).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 512]))),
    );
    let response = app(1024)
        .oneshot(
            http::Request::post("/bytes")
                .body(Body::from_stream(stream))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let r = client.post("/bytes").body(vec![1; 1024]).send().await;
    assert_eq!(r.text(), "1024");
}
