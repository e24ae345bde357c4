//! `MethodOverrideLayer` wrapping a router (as the fallback service of an outer
//! router, which the test client accepts), and called directly with `oneshot`.
#![cfg(feature = "method-override")]

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Method, Request};
use rustango_http::test_client::TestClient;
use rustango_middleware::method_override::MethodOverrideLayer;
use tower::{Layer as _, ServiceExt as _};

const FORM: &str = "application/x-www-form-urlencoded";

fn routes() -> Router {
    Router::new().route(
        "/r",
        get(|| async { "GET" })
            .post(|body: String| async move { format!("POST {body}") })
            .put(|body: String| async move { format!("PUT {body}") })
            .patch(|| async { "PATCH" })
            .delete(|| async { "DELETE" }),
    )
}

fn client(layer: MethodOverrideLayer) -> TestClient {
    TestClient::new(Router::new().fallback_service(layer.layer(routes())))
}

#[tokio::test]
async fn form_field_overrides_post() {
    let client = client(MethodOverrideLayer::new());
    for (body, expected) in [
        ("_method=PUT&title=a+b", "PUT _method=PUT&title=a+b"),
        ("title=x&_method=patch", "PATCH"),
        ("_method=DELETE", "DELETE"),
        ("title=x", "POST title=x"),
        ("", "POST "),
    ] {
        let r = client
            .post("/r")
            .header("content-type", FORM)
            .body(body)
            .send()
            .await;
        assert_eq!(r.status, 200, "{body}");
        assert_eq!(r.text(), expected, "{body}");
    }
    // With a charset parameter.
    let r = client
        .post("/r")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body("_method=DELETE")
        .send()
        .await;
    assert_eq!(r.text(), "DELETE");
    // Not a form: the field is not read.
    let r = client
        .post("/r")
        .header("content-type", "text/plain")
        .body("_method=DELETE")
        .send()
        .await;
    assert_eq!(r.text(), "POST _method=DELETE");
}

#[tokio::test]
async fn header_overrides_post() {
    let client = client(MethodOverrideLayer::new());
    let r = client
        .post("/r")
        .header("x-http-method-override", "PUT")
        .body("raw")
        .send()
        .await;
    assert_eq!(r.text(), "PUT raw");
    let r = client
        .post("/r")
        .header("x-http-method-override", "TRACE")
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.problem().status(), 400);

    // A custom header; the default one is then ignored.
    let client = self::client(
        MethodOverrideLayer::new().header(Some(http::HeaderName::from_static("x-method"))),
    );
    let r = client.post("/r").header("x-method", "delete").send().await;
    assert_eq!(r.text(), "DELETE");
    let r = client
        .post("/r")
        .header("x-http-method-override", "DELETE")
        .send()
        .await;
    assert_eq!(r.text(), "POST ");

    // No header at all.
    let client = self::client(MethodOverrideLayer::new().header(None));
    let r = client
        .post("/r")
        .header("x-http-method-override", "DELETE")
        .send()
        .await;
    assert_eq!(r.text(), "POST ");
}

#[tokio::test]
async fn bad_values_are_400_problems() {
    let client = client(MethodOverrideLayer::new());
    for body in [
        "_method=TRACE",
        "_method=GET",
        "_method=CONNECT",
        "_method=",
        "_method",
        "_method=PUT%00",
    ] {
        let r = client
            .post("/r")
            .header("content-type", FORM)
            .body(body)
            .send()
            .await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.problem().status(), 400);
    }
    let r = client
        .post("/r")
        .header("content-type", FORM)
        .body(&b"_method=\xff\xfe"[..])
        .send()
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn huge_forms_are_413_problems() {
    let client = client(MethodOverrideLayer::new().max_body(1024));
    let huge = format!("_method=PUT&x={}", "a".repeat(100 * 1024));
    let r = client
        .post("/r")
        .header("content-type", FORM)
        .body(huge)
        .send()
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.problem().status(), 413);
    // Just under the limit is fine.
    let ok = format!("_method=PUT&x={}", "a".repeat(1000));
    let r = client
        .post("/r")
        .header("content-type", FORM)
        .body(ok.clone())
        .send()
        .await;
    assert_eq!(r.text(), format!("PUT {ok}"));
    // Default limit: 64 KiB.
    let client = self::client(MethodOverrideLayer::new());
    let r = client
        .post("/r")
        .header("content-type", FORM)
        .body("a".repeat(65 * 1024))
        .send()
        .await;
    assert_eq!(r.status, 413);
}

#[tokio::test]
async fn only_post_is_overridden() {
    let client = client(MethodOverrideLayer::new());
    let r = client
        .get("/r")
        .header("x-http-method-override", "DELETE")
        .send()
        .await;
    assert_eq!(r.text(), "GET");
    let r = client
        .put("/r")
        .header("content-type", FORM)
        .body("_method=DELETE")
        .send()
        .await;
    assert_eq!(r.text(), "PUT _method=DELETE");
}

#[tokio::test]
async fn oneshot_streamed_body_over_the_limit() {
    // No Content-Length: the limit applies while reading.
    let service = MethodOverrideLayer::new().max_body(16).layer(routes());
    let chunks = (0..10).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"aaaaaaaa")));
    let request = Request::builder()
        .method(Method::POST)
        .uri("/r")
        .header("content-type", FORM)
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 413);

    let request = Request::post("/r")
        .header("content-type", FORM)
        .body(Body::from("_method=PATCH"))
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    let body = axum::body::to_bytes(response.into_body(), 64)
        .await
        .unwrap();
    assert_eq!(&body[..], b"PATCH");
}
