//! `TrailingSlashLayer` wrapping a router (as the fallback service of an outer router,
//! which the test client accepts), and called directly with `oneshot`.
#![cfg(feature = "trailing-slash")]

use axum::Router;
use axum::body::Body;
use axum::extract::OriginalUri;
use axum::routing::{get, post};
use http::Request;
use rustango_http::test_client::TestClient;
use rustango_middleware::trailing_slash::TrailingSlashLayer;
use tower::{Layer as _, ServiceExt as _};

fn routes() -> Router {
    Router::new()
        .route("/", get(|| async { "root" }))
        .route(
            "/posts",
            get(|uri: http::Uri| async move { format!("posts {uri}") }),
        )
        .route("/evil.com", get(|| async { "local" }))
        .route("/form", post(|body: String| async move { body }))
}

fn client(layer: TrailingSlashLayer) -> TestClient {
    TestClient::new(Router::new().fallback_service(layer.layer(routes())))
}

#[tokio::test]
async fn redirects_to_the_path_without_the_slash() {
    let client = client(TrailingSlashLayer::redirect());
    for (from, to) in [
        ("/posts/", "/posts"),
        ("/posts/?page=2&q=a/", "/posts?page=2&q=a/"),
        ("/posts///", "/posts"),
        ("/a/b/", "/a/b"),
        ("//", "/"),
        // Never to another host.
        ("//evil.com/", "/evil.com"),
        ("///evil.com//", "/evil.com"),
        ("/\\evil.com/", "/evil.com"),
    ] {
        let r = client.get(from).send().await;
        assert_eq!(r.status, 308, "{from}");
        assert_eq!(r.header("location"), Some(to), "{from}");
        assert!(r.body.is_empty());
    }
    // Untouched.
    assert_eq!(client.get("/").send().await.text(), "root");
    assert_eq!(client.get("/posts").send().await.text(), "posts /posts");
    assert_eq!(client.get("/nope").send().await.status, 404);
    // 308 keeps the method.
    let r = client.post("/form/").body("a=1").send().await;
    assert_eq!((r.status, r.header("location")), (308, Some("/form")));
}

#[tokio::test]
async fn strip_serves_the_route() {
    let client = client(TrailingSlashLayer::strip());
    assert_eq!(client.get("/posts/").send().await.text(), "posts /posts");
    assert_eq!(
        client.get("/posts//?page=2").send().await.text(),
        "posts /posts?page=2"
    );
    assert_eq!(client.get("/").send().await.text(), "root");
    assert_eq!(client.get("//evil.com/").send().await.text(), "local");
    assert_eq!(client.post("/form/").body("a=1").send().await.text(), "a=1");
    assert_eq!(client.get("/nope/").send().await.status, 404);
}

#[tokio::test]
async fn strip_with_oneshot() {
    let service = TrailingSlashLayer::strip().layer(Router::new().route(
        "/posts",
        get(|OriginalUri(uri): OriginalUri| async move { uri.to_string() }),
    ));
    let request = Request::get("http://example.com/posts/?x=1")
        .body(Body::empty())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"http://example.com/posts?x=1");
}

#[tokio::test]
async fn layered_on_the_router_redirect_still_works() {
    // `.layer()` runs after routing: redirect still answers matched-or-not paths
    // (the fallback 404 is wrapped too), though `strip` could not.
    let client = TestClient::new(routes().layer(TrailingSlashLayer::redirect()));
    let r = client.get("/posts/").send().await;
    assert_eq!((r.status, r.header("location")), (308, Some("/posts")));
}
