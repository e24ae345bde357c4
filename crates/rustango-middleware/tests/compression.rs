//! `CompressionLayer` through a router, via the in-process test client.
#![cfg(feature = "compression")]

use axum::Router;
use axum::routing::get;
use http::header;
use rustango_http::test_client::TestClient;
use rustango_middleware::compression::CompressionLayer;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

fn client(layer: CompressionLayer) -> TestClient {
    TestClient::new(
        Router::new()
            .route("/big", get(|| async { "lorem ipsum ".repeat(200) }))
            .route("/tiny", get(|| async { "hi" }))
            .route(
                "/cors",
                get(|| async { ([(header::VARY, "Origin")], "lorem ipsum ".repeat(200)) }),
            )
            .route(
                "/zip",
                get(|| async { ([(header::CONTENT_TYPE, "application/zip")], vec![7u8; 4096]) }),
            )
            .route(
                "/png",
                get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![7u8; 4096]) }),
            )
            .layer(layer),
    )
}

fn varies_on_accept_encoding(r: &rustango_http::test_client::TestResponse) -> bool {
    r.headers.get_all(header::VARY).iter().any(|v| {
        v.to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding")
    })
}

#[tokio::test]
async fn gzip_when_accepted() {
    let client = client(CompressionLayer::new());
    let r = client
        .get("/big")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.body[..2], GZIP_MAGIC);
    assert!(r.body.len() < 2400, "{}", r.body.len());
    assert!(varies_on_accept_encoding(&r), "{:?}", r.headers);
}

#[tokio::test]
async fn other_encodings_by_preference() {
    let client = client(CompressionLayer::new());
    let r = client
        .get("/big")
        .header("accept-encoding", "br")
        .send()
        .await;
    assert_eq!(r.header("content-encoding"), Some("br"));
    let r = client
        .get("/big")
        .header("accept-encoding", "deflate")
        .send()
        .await;
    assert_eq!(r.header("content-encoding"), Some("deflate"));
    let r = client
        .get("/big")
        .header("accept-encoding", "gzip;q=0.5, br;q=1")
        .send()
        .await;
    assert_eq!(r.header("content-encoding"), Some("br"));
    // Brotli turned off: gzip instead.
    let client = self::client(CompressionLayer::new().br(false));
    let r = client
        .get("/big")
        .header("accept-encoding", "br, gzip")
        .send()
        .await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
}

#[tokio::test]
async fn no_encoding_without_accept_encoding() {
    let client = client(CompressionLayer::new());
    let r = client.get("/big").send().await;
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.text(), "lorem ipsum ".repeat(200));
    let r = client
        .get("/big")
        .header("accept-encoding", "identity")
        .send()
        .await;
    assert_eq!(r.header("content-encoding"), None);
}

#[tokio::test]
async fn skips_tiny_and_already_compressed() {
    let client = client(CompressionLayer::new());
    for path in ["/tiny", "/zip", "/png"] {
        let r = client
            .get(path)
            .header("accept-encoding", "gzip")
            .send()
            .await;
        assert_eq!(r.header("content-encoding"), None, "{path}");
        assert_ne!(r.body[..2], GZIP_MAGIC, "{path}");
    }
    assert_eq!(
        client
            .get("/tiny")
            .header("accept-encoding", "gzip")
            .send()
            .await
            .text(),
        "hi"
    );
    // A higher threshold skips the big body too.
    let client = self::client(CompressionLayer::new().min_size(100_000));
    let r = client
        .get("/big")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(r.header("content-encoding"), None);
}

#[tokio::test]
async fn without_accept_encoding_the_body_is_untouched_and_vary_still_set() {
    let client = client(CompressionLayer::new());
    // What a compressible response says to caches, whether or not this client
    // could take gzip: as tower-http does when it negotiates.
    let r = client.get("/big").send().await;
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.text(), "lorem ipsum ".repeat(200));
    assert!(varies_on_accept_encoding(&r), "{:?}", r.headers);
    assert_eq!(r.headers.get_all(header::VARY).iter().count(), 1);
    // Nothing to say for bodies that would never be compressed.
    for path in ["/tiny", "/zip", "/png"] {
        let r = client.get(path).send().await;
        assert!(!varies_on_accept_encoding(&r), "{path}: {:?}", r.headers);
    }
    // An existing Vary is kept and added to.
    let r = client.get("/cors").send().await;
    let vary: Vec<_> = r.headers.get_all(header::VARY).iter().collect();
    assert_eq!(vary.len(), 2, "{vary:?}");
    assert_eq!(vary[0], "Origin");
    assert!(varies_on_accept_encoding(&r));
    // And the same route compresses for a client that asks.
    let r = client
        .get("/cors")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(&r.body[..2], &GZIP_MAGIC);
}
