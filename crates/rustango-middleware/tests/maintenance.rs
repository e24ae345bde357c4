//! `MaintenanceLayer` through a router, via the in-process test client.
#![cfg(feature = "maintenance")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use http::HeaderName;
use http::header::HeaderValue;
use rustango_http::test_client::TestClient;
use rustango_middleware::maintenance::{MaintenanceLayer, MaintenanceSwitch};
use rustango_middleware::real_ip::{CidrError, TrustedProxies};

const BYPASS: HeaderName = HeaderName::from_static("x-bypass");

fn client(layer: MaintenanceLayer) -> TestClient {
    let app = Router::new()
        .route("/", get(|| async { "home" }))
        .route("/health", get(|| async { "ok" }))
        .layer(layer);
    TestClient::new(app).with_peer_addr("203.0.113.9:5000".parse().unwrap())
}

fn peer(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn refuses_with_a_503_problem() {
    let client = client(MaintenanceLayer::new().retry_after(Duration::from_secs(30)));
    let r = client.get("/").send().await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("30"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.problem().status(), 503);
    // Every method and path, unknown ones too.
    assert_eq!(client.post("/nope").send().await.status, 503);
    assert_eq!(client.get("/health").send().await.status, 503);
}

#[tokio::test]
async fn except_paths_are_exact() {
    let client = client(MaintenanceLayer::new().except_paths(["/health", "/ready"]));
    assert_eq!(client.get("/health").send().await.text(), "ok");
    assert_eq!(client.get("/health?x=1").send().await.status, 200);
    for path in ["/", "/health/", "//health", "/healthz", "/HEALTH"] {
        assert_eq!(client.get(path).send().await.status, 503, "{path}");
    }
}

#[tokio::test]
async fn switch_flips_at_run_time() {
    let layer = MaintenanceLayer::new().enabled(false);
    let switch = layer.switch();
    let client = client(layer);
    assert_eq!(client.get("/").send().await.status, 200);
    switch.enable();
    assert!(switch.is_enabled());
    assert_eq!(client.get("/").send().await.status, 503);
    switch.set(false);
    assert_eq!(client.get("/").send().await.status, 200);

    // A shared flag of the app's own.
    let flag = Arc::new(AtomicBool::new(true));
    let client2 = self::client(MaintenanceLayer::new().with_switch(flag.clone()));
    assert_eq!(client2.get("/").send().await.status, 503);
    flag.store(false, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(client2.get("/").send().await.status, 200);
    let _ = MaintenanceSwitch::new(false);
}

#[tokio::test]
async fn bypass_header_needs_the_exact_secret() {
    let client = client(MaintenanceLayer::new().bypass_header(BYPASS, "s3cret"));
    let r = client.get("/").header(BYPASS, "s3cret").send().await;
    assert_eq!(r.status, 200);
    let wrong = vec![
        HeaderValue::from_static("s3creT"),
        HeaderValue::from_static("s3cre"),
        HeaderValue::from_static("s3crett"),
        HeaderValue::from_static(""),
        HeaderValue::from_static(" s3cret"),
        HeaderValue::from_bytes(b"s3cret\xff").unwrap(),
    ];
    for value in wrong {
        let r = client.get("/").header(BYPASS, value.clone()).send().await;
        assert_eq!(r.status, 503, "{value:?}");
    }
    // Twice is not once.
    let r = client
        .get("/")
        .header(BYPASS, "s3cret")
        .header(BYPASS, "s3cret")
        .send()
        .await;
    assert_eq!(r.status, 503);
}

#[test]
#[should_panic(expected = "secret is empty")]
fn empty_secret_is_refused() {
    let _ = MaintenanceLayer::new().bypass_header(BYPASS, "");
}

#[tokio::test]
async fn allowed_ips_behind_trusted_proxies() {
    let client = client(
        MaintenanceLayer::new()
            .allow_ips(["10.0.0.0/8", "2001:db8::/32"])
            .trusted_proxies(TrustedProxies::parse(["192.168.0.0/16"]).unwrap()),
    );
    assert_eq!(client.get("/").send().await.status, 503);
    for ok in ["10.1.2.3:1", "[2001:db8::1]:1", "[::ffff:10.0.0.1]:1"] {
        let r = client.get("/").peer_addr(peer(ok)).send().await;
        assert_eq!(r.status, 200, "{ok}");
    }
    // A forged header from an untrusted peer is ignored…
    let r = client
        .get("/")
        .header("x-forwarded-for", "10.0.0.1")
        .send()
        .await;
    assert_eq!(r.status, 503);
    // …but believed from a trusted proxy.
    let r = client
        .get("/")
        .peer_addr(peer("192.168.1.1:1"))
        .header("x-forwarded-for", "10.0.0.1")
        .send()
        .await;
    assert_eq!(r.status, 200);
    let r = client
        .get("/")
        .peer_addr(peer("192.168.1.1:1"))
        .header("x-forwarded-for", "garbage")
        .send()
        .await;
    assert_eq!(r.status, 503);
}

#[test]
fn bad_cidrs() {
    let err = MaintenanceLayer::new()
        .try_allow_ips(["10.0.0.0/8", "10.0.0.0/33"])
        .unwrap_err();
    assert!(matches!(
        err,
        CidrError::InvalidPrefixLength { max: 32, .. }
    ));
    assert!(matches!(
        MaintenanceLayer::new().try_allow_ips(["nope"]),
        Err(CidrError::InvalidAddress { .. })
    ));
}

#[test]
#[should_panic(expected = "MaintenanceLayer::allow_ips")]
fn bad_cidr_panics() {
    let _ = MaintenanceLayer::new().allow_ips(["1.2.3.4/99"]);
}
