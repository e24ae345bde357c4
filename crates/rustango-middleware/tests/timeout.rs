//! `TimeoutLayer` through a router, via the in-process test client.
#![cfg(feature = "timeout")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rustango_http::test_client::TestClient;
use rustango_middleware::timeout::TimeoutLayer;

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn slow_handler_gets_a_503_problem_and_is_dropped() {
    let dropped = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let (d, f) = (dropped.clone(), finished.clone());
    let app = Router::new()
        .route(
            "/slow",
            get(move || {
                let (d, f) = (d.clone(), f.clone());
                async move {
                    let _guard = SetOnDrop(d);
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    f.store(true, Ordering::SeqCst);
                    "late"
                }
            }),
        )
        .route("/fast", get(|| async { "quick" }))
        .layer(TimeoutLayer::new(Duration::from_millis(50)));
    let client = TestClient::new(app);

    let started = std::time::Instant::now();
    let r = client.get("/slow").send().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(r.status, 503);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let problem = r.problem();
    assert_eq!(problem.status(), 503);
    assert_eq!(problem.detail(), Some("the request took too long"));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the handler future was not dropped"
    );
    assert!(!finished.load(Ordering::SeqCst));

    let r = client.get("/fast").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "quick");
}

#[tokio::test]
async fn within_the_limit_passes() {
    let app = Router::new()
        .route(
            "/",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                "made it"
            }),
        )
        .layer(TimeoutLayer::new(Duration::from_secs(1)));
    let r = TestClient::new(app).get("/").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "made it");
}
