//! `ServerTimingLayer` through a router, via the in-process test client.
#![cfg(feature = "server-timing")]

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rustango_http::test_client::TestClient;
use rustango_middleware::server_timing::ServerTimingLayer;

fn dur(value: &str) -> f64 {
    let metric = value.rsplit(", ").next().unwrap();
    let ms = metric.strip_prefix("app;dur=").unwrap();
    let (_, decimals) = ms.split_once('.').unwrap();
    assert_eq!(decimals.len(), 1, "{value}");
    ms.parse().unwrap()
}

#[tokio::test]
async fn times_every_response() {
    let app = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(30)).await;
                "slow"
            }),
        )
        .route(
            "/db",
            get(|| async { ([("server-timing", "db;dur=3.1")], "db") }),
        )
        .layer(ServerTimingLayer::new());
    let client = TestClient::new(app);

    let r = client.get("/slow").send().await;
    let ms = dur(r.header("server-timing").unwrap());
    assert!(ms >= 30.0, "{ms}");

    // 404s are timed too.
    let r = client.get("/nope").send().await;
    assert_eq!(r.status, 404);
    assert!(dur(r.header("server-timing").unwrap()) >= 0.0);

    // An existing value is kept, and `app` appended.
    let r = client.get("/db").send().await;
    let value = r.header("server-timing").unwrap();
    assert!(value.starts_with("db;dur=3.1, app;dur="), "{value}");
    assert_eq!(r.headers.get_all("server-timing").iter().count(), 1);
}
