//! Every layer chained with its `XxxRouterExt` method, as an application stacks them.
#![cfg(feature = "full")]

use std::time::Duration;

use rustango_http::test_client::TestClient;
use rustango_middleware::body_limit::BodyLimitLayer;
use rustango_middleware::compression::CompressionLayer;
use rustango_middleware::cors::CorsLayer;
use rustango_middleware::etag::EtagLayer;
use rustango_middleware::idempotency::IdempotencyLayer;
use rustango_middleware::ip_filter::IpFilterLayer;
use rustango_middleware::maintenance::MaintenanceLayer;
use rustango_middleware::prelude::*;
use rustango_middleware::rate_limit::RateLimitLayer;
use rustango_middleware::request_id::RequestIdLayer;
use rustango_middleware::security_headers::SecurityHeadersLayer;
use rustango_middleware::server_timing::ServerTimingLayer;
use rustango_middleware::timeout::TimeoutLayer;

#[tokio::test]
async fn the_whole_stack_answers_and_refuses_with_problems() {
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async { "hi" }).post(|| async { "made" }),
        )
        .idempotency(IdempotencyLayer::in_memory())
        .etag(EtagLayer::new())
        .timeout(TimeoutLayer::new(Duration::from_secs(5)))
        .body_limit(BodyLimitLayer::new(64 * 1024))
        .compression(CompressionLayer::new())
        .server_timing(ServerTimingLayer::new())
        .maintenance(MaintenanceLayer::new().enabled(false))
        .cors(CorsLayer::new().allow_origins(["https://app.example.com"]))
        .rate_limit(RateLimitLayer::per_ip(4, Duration::from_secs(60)))
        .ip_filter(IpFilterLayer::block(["203.0.113.0/24"]).unwrap())
        .request_id(RequestIdLayer::new())
        .security_headers(SecurityHeadersLayer::strict());
    let client = TestClient::new(app);
    let r = client.get("/").send().await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-security-policy").is_some());
    assert!(r.header("x-request-id").is_some());
    assert!(r.header("ratelimit").is_some());
    assert!(r.header("server-timing").is_some());
    assert!(r.header("etag").is_some());
    // A declared length over the limit is refused before the handler runs.
    let too_big = client
        .post("/")
        .header("content-length", "102400")
        .body(vec![b'x'; 100 * 1024])
        .send()
        .await;
    assert_eq!(too_big.status, 413);
    let r = client
        .post("/")
        .header("idempotency-key", "k1")
        .send()
        .await;
    assert_eq!(r.status, 200);
    let again = client
        .post("/")
        .header("idempotency-key", "k1")
        .send()
        .await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let limited = client.get("/").send().await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited.header("content-type"),
        Some("application/problem+json")
    );
    assert!(
        limited.header("x-request-id").is_some(),
        "refusals carry the id too"
    );

    let blocked = client
        .get("/")
        .peer_addr(([203, 0, 113, 9], 1234).into())
        .send()
        .await;
    assert_eq!(blocked.status, 403);
}
