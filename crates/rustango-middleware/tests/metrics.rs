//! `Metrics` and `MetricsLayer` through the test client.
#![cfg(feature = "metrics")]

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use rustango_http::RouterExt as _;
use rustango_http::test_client::TestClient;
use rustango_middleware::metrics::Metrics;
use rustango_middleware::prelude::*;

// ANCHOR: router
fn app(metrics: &Metrics) -> Router {
    Router::new()
        .route("/notes/{id}", get(|| async { "note" }))
        .route(
            "/fail",
            post(|| async { (http::StatusCode::UNPROCESSABLE_ENTITY, "no") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .with_problem_defaults()
        .metrics(metrics)
        .merge(metrics.router())
}
// ANCHOR_END: router

/// The value of one sample line, by its exact series text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn counts_by_route_template_and_status() {
    let metrics = Metrics::new();
    let client = TestClient::new(app(&metrics));
    for id in 0..5 {
        assert_eq!(client.get(format!("/notes/{id}")).send().await.status, 200);
    }
    assert_eq!(client.post("/fail").send().await.status, 422);
    assert_eq!(client.get("/nowhere/at/all").send().await.status, 404);
    assert_eq!(client.get("/other/404").send().await.status, 404);

    let response = client.get("/metrics").send().await;
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = response.text();
    assert_eq!(
        sample(
            &text,
            r#"http_requests_total{method="GET",route="/notes/{id}",status="200"}"#
        ),
        Some(5.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"http_requests_total{method="POST",route="/fail",status="422"}"#
        ),
        Some(1.0)
    );
    // Unknown paths share one series: no label per crawled URL.
    assert_eq!(
        sample(
            &text,
            r#"http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        Some(2.0)
    );
    assert!(!text.contains("/nowhere"), "{text}");
    assert!(!text.contains("/notes/3"), "{text}");
    assert_eq!(
        sample(
            &text,
            r#"http_request_duration_seconds_count{method="GET",route="/notes/{id}",status="200"}"#
        ),
        Some(5.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"http_request_duration_seconds_bucket{method="GET",route="/notes/{id}",status="200",le="+Inf"}"#
        ),
        Some(5.0)
    );
}

#[tokio::test]
async fn every_metric_has_help_and_type() {
    let metrics = Metrics::new();
    let client = TestClient::new(app(&metrics));
    client.get("/notes/1").send().await;
    let text = client.get("/metrics").send().await.text();
    for name in [
        "http_requests_total",
        "http_request_duration_seconds",
        "http_requests_in_flight",
    ] {
        let help = format!("# HELP {name} ");
        let help_line = text.lines().find(|l| l.starts_with(&help));
        assert!(
            help_line.is_some_and(|l| l.len() > help.len() + 10),
            "no HELP text for {name} in\n{text}"
        );
        assert!(text.contains(&format!("# TYPE {name} ")), "{text}");
    }
}

#[tokio::test]
async fn in_flight_rises_during_a_request_and_falls_when_it_is_dropped() {
    let metrics = Metrics::new();
    let client = TestClient::new(app(&metrics));
    let in_flight = |m: &Metrics| sample(&m.render(), "http_requests_in_flight").unwrap();

    let slow = {
        let client = client.clone();
        tokio::spawn(async move { client.get("/slow").send().await.status })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(in_flight(&metrics), 1.0);
    assert_eq!(slow.await.unwrap(), 200);
    assert_eq!(in_flight(&metrics), 0.0);

    // A client that goes away mid-request: the future is dropped, the gauge falls and
    // nothing is counted for the route.
    let abandoned = {
        let client = client.clone();
        tokio::spawn(async move { client.get("/slow").send().await.status })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(in_flight(&metrics), 1.0);
    abandoned.abort();
    let _ = abandoned.await;
    assert_eq!(in_flight(&metrics), 0.0);
    let text = metrics.render();
    assert_eq!(
        sample(
            &text,
            r#"http_requests_total{method="GET",route="/slow",status="200"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn apps_have_separate_registries_and_own_metrics() {
    let a = Metrics::new();
    let b = Metrics::new();
    let custom = rustango_middleware::metrics::prometheus::IntCounter::new(
        "notes_created_total",
        "Notes created.",
    )
    .unwrap();
    a.register(Box::new(custom.clone())).unwrap();
    custom.inc_by(3);
    // The same name twice is a typed error, not a panic.
    assert!(
        a.register(Box::new(
            rustango_middleware::metrics::prometheus::IntCounter::new(
                "notes_created_total",
                "Again."
            )
            .unwrap()
        ))
        .is_err()
    );

    let client_a = TestClient::new(app(&a));
    client_a.get("/notes/1").send().await;
    let text_a = client_a.get("/metrics").send().await.text();
    let text_b = b.render();
    assert_eq!(sample(&text_a, "notes_created_total"), Some(3.0));
    assert!(text_a.contains(r#"route="/notes/{id}""#));
    assert!(!text_b.contains("notes_created_total"));
    assert!(!text_b.contains(r#"route="/notes/{id}""#));
}

#[tokio::test]
async fn odd_methods_share_one_label() {
    let metrics = Metrics::new();
    let app = Router::new()
        .route("/x", axum::routing::any(|| async { "any" }))
        .metrics(&metrics);
    let client = TestClient::new(app);
    for m in ["PROPFIND", "BREW", "X-CUSTOM"] {
        let method = http::Method::from_bytes(m.as_bytes()).unwrap();
        assert_eq!(client.request(method, "/x").send().await.status, 200);
    }
    let text = metrics.render();
    assert_eq!(
        sample(
            &text,
            r#"http_requests_total{method="OTHER",route="/x",status="200"}"#
        ),
        Some(3.0)
    );
}
