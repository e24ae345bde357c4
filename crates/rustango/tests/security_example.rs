//! The spec's "Security middleware" example, through the facade's module paths and
//! `XxxRouterExt` names. One deliberate difference: `.csp(..)` validates the policy
//! and returns a `Result` (an invalid source would otherwise inject directives).
#![cfg(feature = "middleware")]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rustango::access_log::{AccessLogLayer, AccessLogRouterExt};
use rustango::cors::{CorsLayer, CorsRouterExt};
use rustango::etag::{EtagLayer, EtagRouterExt};
use rustango::ip_filter::{IpFilterLayer, IpFilterRouterExt};
use rustango::rate_limit::{RateLimitLayer, RateLimitRouterExt};
use rustango::request_id::{RequestIdLayer, RequestIdRouterExt};
use rustango::security_headers::{CspBuilder, SecurityHeadersLayer, SecurityHeadersRouterExt};
use rustango::test_client::TestClient;

async fn list_posts() -> &'static str {
    "[]"
}

async fn create_post() -> &'static str {
    "{}"
}

#[tokio::test]
async fn the_spec_security_example_builds_and_serves() -> Result<(), Box<dyn std::error::Error>> {
    let app = Router::new()
        .route("/api/posts", get(list_posts).post(create_post))
        .security_headers(SecurityHeadersLayer::strict().csp(CspBuilder::strict_starter())?)
        .cors(
            CorsLayer::new()
                .allow_origins(vec!["https://app.example.com"])
                .allow_methods(vec!["GET", "POST", "PUT", "DELETE"])
                .allow_credentials(true),
        )
        .rate_limit(RateLimitLayer::per_ip(60, Duration::from_secs(60)))
        .ip_filter(IpFilterLayer::block(vec!["203.0.113.42"]).unwrap())
        .request_id(RequestIdLayer::default())
        .access_log(AccessLogLayer::default())
        .etag(EtagLayer::default());
    let client = TestClient::new(app);

    let ok = client
        .get("/api/posts")
        .header("origin", "https://app.example.com")
        .send()
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.text(), "[]");
    assert!(ok.header("strict-transport-security").is_some());
    assert!(ok.header("content-security-policy").is_some());
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(ok.header("x-request-id").is_some());
    assert!(ok.header("ratelimit").is_some());
    let etag = ok.header("etag").expect("an ETag").to_owned();
    let again = client
        .get("/api/posts")
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(again.status, 304);

    let blocked: SocketAddr = "203.0.113.42:40000".parse()?;
    let refused = client.get("/api/posts").peer_addr(blocked).send().await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    Ok(())
}
