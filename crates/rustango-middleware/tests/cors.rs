//! `CorsLayer` through a router, via the in-process test client.
#![cfg(feature = "cors")]

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use http::{Method, header};
use rustango_http::test_client::{TestClient, TestResponse};
use rustango_middleware::cors::{CorsError, CorsLayer};

const APP: &str = "https://app.example.com";

fn client(layer: CorsLayer) -> TestClient {
    TestClient::new(
        Router::new()
            .route("/api", get(|| async { "ok" }))
            .layer(layer),
    )
}

fn allowlist() -> CorsLayer {
    CorsLayer::new()
        .allow_origins([APP, "https://admin.example.com"])
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .max_age(Duration::from_secs(600))
}

async fn preflight(client: &TestClient, origin: &str) -> TestResponse {
    client
        .options("/api")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
}

fn cors_headers(r: &TestResponse) -> Vec<String> {
    r.headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn preflight_from_allowed_origin() {
    let client = client(allowlist());
    let r = preflight(&client, APP).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    let methods = r.header("access-control-allow-methods").unwrap();
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );
    let headers = r.header("access-control-allow-headers").unwrap();
    assert!(headers.contains("content-type"), "{headers}");
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(r.header("access-control-allow-credentials"), None);

    let r = preflight(&client, "https://admin.example.com").await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://admin.example.com")
    );

    // A simple request is answered by the handler, with the origin.
    let r = client.get("/api").header("origin", APP).send().await;
    assert_eq!(r.text(), "ok");
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
}

#[tokio::test]
async fn disallowed_origin_gets_no_cors_headers() {
    let client = client(allowlist().allow_credentials(true));
    for origin in [
        "https://evil.example.com",
        "https://app.example.com.evil",
        "null",
    ] {
        let r = preflight(&client, origin).await;
        assert!(cors_headers(&r).is_empty(), "{origin}: {:?}", r.headers);
        let r = client.get("/api").header("origin", origin).send().await;
        assert!(cors_headers(&r).is_empty(), "{origin}: {:?}", r.headers);
    }
    // Nothing allowed by default.
    let r = preflight(&client_default(), APP).await;
    assert!(cors_headers(&r).is_empty(), "{:?}", r.headers);
}

fn client_default() -> TestClient {
    client(CorsLayer::new())
}

#[tokio::test]
async fn credentials_only_when_enabled() {
    let off = client(allowlist());
    assert_eq!(
        preflight(&off, APP)
            .await
            .header("access-control-allow-credentials"),
        None
    );
    let on = client(allowlist().allow_credentials(true));
    let r = preflight(&on, APP).await;
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    let r = on.get("/api").header("origin", APP).send().await;
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
}

#[tokio::test]
async fn credentials_with_any_method_and_header_mirror_the_request() {
    let on = client(
        CorsLayer::new()
            .allow_origins([APP])
            .allow_any_method()
            .allow_any_header()
            .allow_credentials(true),
    );
    let r = preflight(&on, APP).await;
    assert_eq!(r.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type")
    );
}

#[tokio::test]
async fn permissive() {
    let client = client(CorsLayer::permissive());
    let r = preflight(&client, "http://localhost:5173").await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let methods = r.header("access-control-allow-methods").unwrap();
    for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    assert_eq!(r.header("access-control-allow-credentials"), None);
}

#[test]
fn configuration_errors_are_typed() {
    for bad in ["", "*", "https://a.example\n", "https://*.example.com"] {
        assert!(
            matches!(
                CorsLayer::new().try_allow_origins([bad]),
                Err(CorsError::InvalidOrigin { ref origin }) if origin == bad
            ),
            "{bad:?}"
        );
    }
    assert_eq!(
        CorsLayer::permissive()
            .try_allow_credentials(true)
            .unwrap_err(),
        CorsError::CredentialsWithAnyOrigin
    );
    assert!(CorsLayer::permissive().try_allow_credentials(false).is_ok());
    assert!(CorsLayer::new().allow_any_origin().validate().is_ok());
}

#[tokio::test]
async fn methods_by_name_as_the_spec_writes_them() {
    let layer = CorsLayer::new()
        .allow_origins(vec![APP])
        .allow_methods(vec!["GET", "POST", "put", "Delete"])
        .allow_credentials(true);
    let r = preflight(&client(layer), APP).await;
    assert_eq!(r.status, 200);
    let methods = r.header("access-control-allow-methods").unwrap();
    // The six standard names are upper-cased, as browsers do before asking.
    assert_eq!(methods, "GET,POST,PUT,DELETE");
    // Any other name is case-sensitive and kept as written.
    let layer = CorsLayer::new()
        .allow_origins([APP])
        .allow_methods(["PATCH", "purge"]);
    let r = preflight(&client(layer), APP).await;
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("PATCH,purge")
    );
}

#[test]
fn an_invalid_method_name_is_a_typed_error() {
    assert_eq!(
        CorsLayer::new()
            .try_allow_methods(["GET", "NO SPACES"])
            .unwrap_err(),
        CorsError::InvalidMethod {
            method: "NO SPACES".into()
        }
    );
    assert!(CorsLayer::new().try_allow_methods([Method::GET]).is_ok());
    // Names from configuration, borrowed.
    let configured: Vec<String> = vec!["GET".into(), "patch".into()];
    assert!(CorsLayer::new().try_allow_methods(&configured).is_ok());
    let names: &[&str] = &["GET"];
    assert!(CorsLayer::new().try_allow_methods(names).is_ok());
}
