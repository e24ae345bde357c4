//! `EtagLayer` through a router, via the in-process test client.
#![cfg(feature = "etag")]

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::header::HeaderValue;
use rustango_http::test_client::TestClient;
use rustango_middleware::etag::EtagLayer;

async fn cached() -> Response {
    (
        [
            ("cache-control", "max-age=60"),
            ("vary", "accept"),
            ("set-cookie", "csrftoken=abc; Path=/"),
        ],
        "hello world",
    )
        .into_response()
}

async fn tagged() -> Response {
    ([("etag", "\"v1\"")], "own tag").into_response()
}

async fn streamed() -> Body {
    Body::from_stream(futures_util::stream::iter([Ok::<_, std::io::Error>(
        bytes::Bytes::from_static(b"chunk"),
    )]))
}

async fn missing() -> (http::StatusCode, &'static str) {
    (http::StatusCode::NOT_FOUND, "nope")
}

fn client(layer: EtagLayer) -> TestClient {
    TestClient::new(
        Router::new()
            .route("/", get(cached))
            .route("/tagged", get(tagged))
            .route("/big", get(|| async { "x".repeat(2048) }))
            .route("/stream", get(streamed))
            .route("/missing", get(missing))
            .route("/post", post(|| async { "posted" }))
            .layer(layer),
    )
}

#[tokio::test]
async fn tags_and_answers_304() {
    let client = client(EtagLayer::new());
    let first = client.get("/").send().await;
    assert_eq!(first.status, 200);
    let etag = first.header("etag").unwrap().to_owned();
    assert!(
        etag.starts_with("W/\"") && etag.len() == 2 + 2 + 16,
        "{etag}"
    );
    // Stable: the same body, the same tag.
    assert_eq!(client.get("/").send().await.header("etag"), Some(&*etag));

    let strong = etag.trim_start_matches("W/");
    for condition in [
        etag.clone(),
        strong.to_owned(),
        "*".to_owned(),
        format!("\"other\", {etag}"),
    ] {
        let r = client
            .get("/")
            .header("if-none-match", condition.as_str())
            .send()
            .await;
        assert_eq!(r.status, 304, "{condition}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some(&*etag));
        assert_eq!(r.header("cache-control"), Some("max-age=60"));
        assert_eq!(r.header("vary"), Some("accept"));
        // A cookie the page sets is not lost to the cache.
        assert_eq!(r.header("set-cookie"), Some("csrftoken=abc; Path=/"));
        assert_eq!(r.header("content-type"), None);
    }

    let r = client
        .get("/")
        .header("if-none-match", "\"other\"")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello world");
}

#[tokio::test]
async fn malformed_if_none_match_is_no_match() {
    let client = client(EtagLayer::new());
    let etag = client
        .get("/")
        .send()
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let unquoted = etag.trim_start_matches("W/").trim_matches('"').to_owned();
    let cases = vec![
        HeaderValue::from_str(&unquoted).unwrap(),
        HeaderValue::from_static(""),
        HeaderValue::from_static("\""),
        HeaderValue::from_static("W/"),
        HeaderValue::from_static(",,,"),
        HeaderValue::from_str(&format!("{etag}, garbage")).unwrap(),
        HeaderValue::from_str(&"\"a\",".repeat(5000)).unwrap(),
        HeaderValue::from_bytes(b"\"\xff\xfe\"").unwrap(),
    ];
    for condition in cases {
        let r = client
            .get("/")
            .header("if-none-match", condition.clone())
            .send()
            .await;
        assert_eq!(r.status, 200, "{condition:?}");
        assert_eq!(r.text(), "hello world");
    }
}

#[tokio::test]
async fn head_gets_the_same_tag() {
    let client = client(EtagLayer::new());
    let etag = client
        .get("/")
        .send()
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let head = client.head("/").send().await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("etag"), Some(&*etag));
    let head = client
        .head("/")
        .header("if-none-match", etag.as_str())
        .send()
        .await;
    assert_eq!(head.status, 304);
}

#[tokio::test]
async fn existing_tags_are_kept_and_compared() {
    let client = client(EtagLayer::new());
    let r = client.get("/tagged").send().await;
    assert_eq!(r.header("etag"), Some("\"v1\""));
    let r = client
        .get("/tagged")
        .header("if-none-match", "W/\"v1\"")
        .send()
        .await;
    assert_eq!(r.status, 304);
}

#[tokio::test]
async fn skipped_responses() {
    let client = client(EtagLayer::new().max_body(1024));
    // Too big, streamed, not 200, not GET: untagged, untouched.
    let r = client.get("/big").send().await;
    assert_eq!(
        (r.status, r.header("etag"), r.body.len()),
        (200, None, 2048)
    );
    let r = client.get("/stream").send().await;
    assert_eq!((r.status, r.header("etag")), (200, None));
    assert_eq!(r.text(), "chunk");
    let r = client
        .get("/missing")
        .header("if-none-match", "*")
        .send()
        .await;
    assert_eq!((r.status, r.header("etag")), (404, None));
    let r = client
        .post("/post")
        .header("if-none-match", "*")
        .send()
        .await;
    assert_eq!((r.status, r.header("etag")), (200, None));
    assert_eq!(r.text(), "posted");
}
