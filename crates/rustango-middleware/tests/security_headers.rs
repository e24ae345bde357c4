//! `SecurityHeadersLayer` through a router, via the in-process test client.
#![cfg(feature = "security-headers")]

use std::time::Duration;

use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use rustango_http::RouterExt;
use rustango_http::test_client::{TestClient, TestResponse};
use rustango_middleware::security_headers::{
    CspBuilder, CspNonce, FrameOptions, ReferrerPolicy, SecurityHeadersError, SecurityHeadersLayer,
    csp_nonce,
};

/// What `strict()` sends to a page that did not take the nonce.
const STRICT_WITHOUT_NONCE: &str = "default-src 'self'; script-src 'strict-dynamic'; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
/// What every preset sends to responses that are not documents.
const SHORT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

async fn page(nonce: CspNonce) -> Html<String> {
    Html(format!("<script nonce=\"{nonce}\"></script>"))
}

async fn framed() -> impl IntoResponse {
    (
        [
            ("x-frame-options", "ALLOWALL"),
            ("content-security-policy", "frame-ancestors *"),
        ],
        "embed me",
    )
}

async fn optional(nonce: Option<CspNonce>) -> String {
    format!("{}", nonce.is_some())
}

async fn json() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true }))
}

/// A page without scripts: it never asks for the nonce.
async fn plain_page() -> Html<&'static str> {
    Html("<h1>Hello</h1>")
}

/// The body as `application/problem+json`, or without any `Content-Type`, or with the
/// one given by the `type` query parameter.
async fn typed(axum::extract::RawQuery(query): axum::extract::RawQuery) -> impl IntoResponse {
    let mut response = "<p>typed</p>".into_response();
    response.headers_mut().remove(CONTENT_TYPE);
    if let Some(value) = query.as_deref().and_then(|q| q.strip_prefix("type=")) {
        let value = value.replace("%20", " ").replace("%3B", ";");
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::try_from(value).unwrap());
    }
    response
}

/// Asks through the extractor and twice through `csp_nonce`, and shows all three.
async fn twice(first: CspNonce, request: axum::extract::Request) -> Html<String> {
    let second = csp_nonce(request.extensions()).unwrap();
    let third = csp_nonce(request.extensions()).unwrap();
    Html(format!("{first} {second} {third}"))
}

fn client(layer: SecurityHeadersLayer) -> TestClient {
    let app = Router::new()
        .route("/", get(page))
        .route("/framed", get(framed))
        .route("/optional", get(optional))
        .route("/json", get(json))
        .route("/plain", get(plain_page))
        .route("/typed", get(typed))
        .route("/twice", get(twice))
        .with_problem_defaults()
        .layer(layer);
    TestClient::new(app)
}

fn nonce_in(csp: &str) -> &str {
    csp.split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {csp:?}"))
}

fn page_nonce(response: &TestResponse) -> String {
    let body = response.text();
    body.split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn strict_preset() {
    let r = client(SecurityHeadersLayer::strict()).get("/").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=63072000; includeSubDomains")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(
        r.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    assert_eq!(r.header("cross-origin-opener-policy"), Some("same-origin"));
    assert_eq!(
        r.header("cross-origin-resource-policy"),
        Some("same-origin")
    );
    let permissions = r.header("permissions-policy").unwrap();
    assert!(permissions.contains("camera=()") && permissions.contains("geolocation=()"));
    let csp = r.header("content-security-policy").unwrap();
    let nonce = nonce_in(csp);
    assert_eq!(
        csp,
        format!(
            "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        )
    );
    assert!(r.header("content-security-policy-report-only").is_none());
}

#[tokio::test]
async fn relaxed_preset() {
    let r = client(SecurityHeadersLayer::relaxed())
        .get("/")
        .send()
        .await;
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        r.header("cross-origin-opener-policy"),
        Some("same-origin-allow-popups")
    );
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
    assert!(csp.contains("style-src 'self' 'unsafe-inline'"), "{csp}");
    assert_eq!(nonce_in(csp), page_nonce(&r));
}

#[tokio::test]
async fn dev_preset() {
    let r = client(SecurityHeadersLayer::dev()).get("/").send().await;
    assert!(r.header("strict-transport-security").is_none());
    assert!(r.header("content-security-policy").is_none());
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let report_only = r.header("content-security-policy-report-only").unwrap();
    assert!(report_only.contains("'strict-dynamic'"));
    assert_eq!(nonce_in(report_only), page_nonce(&r));
}

#[tokio::test]
async fn empty_preset_and_builders() {
    let r = client(SecurityHeadersLayer::empty()).get("/").send().await;
    for name in [
        "strict-transport-security",
        "x-frame-options",
        "x-content-type-options",
        "content-security-policy",
        "referrer-policy",
        "permissions-policy",
    ] {
        assert!(r.header(name).is_none(), "{name} sent by empty()");
    }
    // The nonce is still there for templates (128 bits of base64).
    assert_eq!(page_nonce(&r).len(), 24);

    let layer = SecurityHeadersLayer::empty()
        .hsts(Duration::from_secs(63_072_000), true, true)
        .frame_options(FrameOptions::SameOrigin)
        .referrer_policy(ReferrerPolicy::NoReferrer)
        .header(
            HeaderName::from_static("reporting-endpoints"),
            HeaderValue::from_static("csp=\"/csp-reports\""),
        )
        .permissions_policy("camera=(self)")
        .unwrap()
        .csp(
            CspBuilder::new()
                .default_src(["'none'"])
                .style_src([CspBuilder::NONCE])
                .report_to("csp"),
        )
        .unwrap();
    let r = client(layer).get("/").send().await;
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=63072000; includeSubDomains; preload")
    );
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("permissions-policy"), Some("camera=(self)"));
    assert_eq!(
        r.header("reporting-endpoints"),
        Some("csp=\"/csp-reports\"")
    );
    let nonce = page_nonce(&r);
    assert_eq!(
        r.header("content-security-policy"),
        Some(format!("default-src 'none'; style-src 'nonce-{nonce}'; report-to csp").as_str())
    );
}

#[tokio::test]
async fn overrides_and_removals() {
    let layer = SecurityHeadersLayer::strict()
        .no_hsts()
        .no_frame_options()
        .no_content_type_options()
        .remove(&HeaderName::from_static("permissions-policy"))
        .csp_report_only(CspBuilder::strict_starter().script_src(["'self'"]))
        .unwrap();
    let r = client(layer).get("/").send().await;
    assert!(r.header("strict-transport-security").is_none());
    assert!(r.header("x-frame-options").is_none());
    assert!(r.header("x-content-type-options").is_none());
    assert!(r.header("permissions-policy").is_none());
    // Both policies: the enforced one kept its nonce, the report-only one has none.
    assert!(
        r.header("content-security-policy")
            .unwrap()
            .contains("'nonce-")
    );
    assert!(
        r.header("content-security-policy-report-only")
            .unwrap()
            .contains("script-src 'self';")
    );

    let r = client(SecurityHeadersLayer::strict().no_csp())
        .get("/")
        .send()
        .await;
    assert!(r.header("content-security-policy").is_none());
    assert!(r.header("content-security-policy-report-only").is_none());
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
}

#[tokio::test]
async fn nonce_is_fresh_per_request_and_matches_the_header() {
    let client = client(SecurityHeadersLayer::strict());
    let mut seen = std::collections::HashSet::new();
    for _ in 0..5 {
        let r = client.get("/").send().await;
        let nonce = page_nonce(&r);
        assert_eq!(
            nonce_in(r.header("content-security-policy").unwrap()),
            nonce
        );
        // 128 bits of base64.
        assert_eq!(nonce.len(), 24);
        assert!(seen.insert(nonce), "a nonce was reused");
    }
}

#[tokio::test]
async fn handler_headers_are_kept() {
    let r = client(SecurityHeadersLayer::strict())
        .get("/framed")
        .send()
        .await;
    assert_eq!(r.header("x-frame-options"), Some("ALLOWALL"));
    assert_eq!(
        r.header("content-security-policy"),
        Some("frame-ancestors *")
    );
    // The others are still added.
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn problem_responses_get_headers_too() {
    let r = client(SecurityHeadersLayer::strict())
        .get("/missing")
        .send()
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.problem().status(), 404);
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    // A problem is `application/problem+json`: not a document.
    assert_eq!(r.header("content-security-policy"), Some(SHORT_POLICY));
    assert!(r.header("permissions-policy").is_none());
}

#[tokio::test]
async fn nonce_extractor() {
    // Optional: present under the layer…
    let r = client(SecurityHeadersLayer::empty())
        .get("/optional")
        .send()
        .await;
    assert_eq!(r.text(), "true");
    // …absent without it; the required extractor then answers with a 500 problem.
    let bare = TestClient::new(
        Router::new()
            .route("/", get(page))
            .route("/optional", get(optional)),
    );
    assert_eq!(bare.get("/optional").send().await.text(), "false");
    let r = bare.get("/").send().await;
    assert_eq!(r.status, 500);
    assert_eq!(r.problem().status(), 500);
}

#[test]
fn bad_builder_values_are_typed_errors() {
    let cases: Vec<(CspBuilder, &str)> = vec![
        (
            CspBuilder::new().script_src(["'self'; img-src *"]),
            "semicolon",
        ),
        (CspBuilder::new().script_src(["'self'\n"]), "newline"),
        (CspBuilder::new().script_src(["a\r\nx-evil: 1"]), "CRLF"),
        (
            CspBuilder::new().img_src(["caf\u{e9}.example"]),
            "non-ASCII",
        ),
        (CspBuilder::new().connect_src(["wss://a,b"]), "comma"),
        (CspBuilder::new().default_src(["self"]), "unquoted keyword"),
        (CspBuilder::new().report_uri("/r e"), "space"),
    ];
    for (builder, what) in cases {
        let err = SecurityHeadersLayer::strict()
            .csp(builder.clone())
            .expect_err(what);
        assert!(
            matches!(err, SecurityHeadersError::InvalidSource { .. }),
            "{what}: {err:?}"
        );
        assert!(
            SecurityHeadersLayer::dev()
                .csp_report_only(builder)
                .is_err(),
            "{what}"
        );
    }
    assert!(matches!(
        SecurityHeadersLayer::strict().csp(CspBuilder::new().font_src([CspBuilder::NONCE])),
        Err(SecurityHeadersError::NonceNotAllowed { .. })
    ));
    assert!(matches!(
        SecurityHeadersLayer::strict().csp(CspBuilder::new()),
        Err(SecurityHeadersError::EmptyPolicy)
    ));
    assert!(matches!(
        SecurityHeadersLayer::strict().permissions_policy("camera=()\r\nset-cookie: a=b"),
        Err(SecurityHeadersError::InvalidHeaderValue { .. })
    ));
    assert!(matches!(
        SecurityHeadersLayer::strict().try_header("bad name", "x"),
        Err(SecurityHeadersError::InvalidHeaderName { .. })
    ));
    // The error says what and where.
    let err = CspBuilder::new()
        .script_src(["'self';"])
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("script-src"), "{err}");
}

#[tokio::test]
async fn json_gets_the_lean_set() {
    let r = client(SecurityHeadersLayer::strict())
        .get("/json")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-security-policy"), Some(SHORT_POLICY));
    assert!(r.header("content-security-policy-report-only").is_none());
    assert!(r.header("permissions-policy").is_none());
    assert!(r.header("cross-origin-opener-policy").is_none());
    // The rest of the configured set is still there.
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=63072000; includeSubDomains")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(
        r.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    assert_eq!(
        r.header("cross-origin-resource-policy"),
        Some("same-origin")
    );
}

#[tokio::test]
async fn a_page_without_the_nonce_gets_the_policy_without_it() {
    let r = client(SecurityHeadersLayer::strict())
        .get("/plain")
        .send()
        .await;
    let csp = r.header("content-security-policy").unwrap();
    assert_eq!(csp, STRICT_WITHOUT_NONCE);
    assert!(!csp.contains("'nonce-"), "{csp}");
    // A document keeps the document-only headers.
    assert!(r.header("permissions-policy").is_some());
    assert_eq!(r.header("cross-origin-opener-policy"), Some("same-origin"));
}

#[tokio::test]
async fn a_page_that_takes_the_nonce_gets_it_in_the_policy() {
    let client = client(SecurityHeadersLayer::strict());
    let first = client.get("/").send().await;
    let second = client.get("/").send().await;
    let mut nonces = Vec::new();
    for r in [&first, &second] {
        let nonce = page_nonce(r);
        assert_eq!(
            r.header("content-security-policy"),
            Some(
                format!(
                    "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic'; \
                     object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
                )
                .as_str()
            )
        );
        assert!(r.text().contains(&format!("nonce=\"{nonce}\"")));
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1]);
}

#[tokio::test]
async fn one_nonce_per_request_however_it_is_asked_for() {
    let r = client(SecurityHeadersLayer::strict())
        .get("/twice")
        .send()
        .await;
    let body = r.text();
    let values: Vec<&str> = body.split(' ').collect();
    assert_eq!(values.len(), 3, "{body}");
    assert_eq!(values[0], values[1]);
    assert_eq!(values[1], values[2]);
    assert_eq!(
        nonce_in(r.header("content-security-policy").unwrap()),
        values[0]
    );
}

#[tokio::test]
async fn the_full_set_everywhere_on_request() {
    let r = client(SecurityHeadersLayer::strict().same_headers_for_all_responses())
        .get("/json")
        .send()
        .await;
    assert_eq!(
        r.header("content-security-policy"),
        Some(STRICT_WITHOUT_NONCE)
    );
    assert!(r.header("permissions-policy").is_some());
    assert_eq!(r.header("cross-origin-opener-policy"), Some("same-origin"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
}

#[tokio::test]
async fn report_only_stays_report_only_on_json() {
    let r = client(SecurityHeadersLayer::dev())
        .get("/json")
        .send()
        .await;
    assert!(r.header("content-security-policy").is_none());
    assert_eq!(
        r.header("content-security-policy-report-only"),
        Some(SHORT_POLICY)
    );
    // No policy configured: none invented.
    let r = client(SecurityHeadersLayer::strict().no_csp())
        .get("/json")
        .send()
        .await;
    assert!(r.header("content-security-policy").is_none());
    assert!(r.header("content-security-policy-report-only").is_none());
}

#[tokio::test]
async fn what_counts_as_a_document() {
    let client = client(SecurityHeadersLayer::strict());
    for (query, document) in [
        ("?type=Text/HTML%3B%20charset=utf-8", true),
        ("", true),
        ("?type=image/svg+xml", true),
        ("?type=application/problem+json", false),
        ("?type=text/css", false),
    ] {
        let r = client.get(format!("/typed{query}")).send().await;
        let csp = r.header("content-security-policy").unwrap();
        if document {
            assert_eq!(csp, STRICT_WITHOUT_NONCE, "{query}");
            assert!(r.header("permissions-policy").is_some(), "{query}");
        } else {
            assert_eq!(csp, SHORT_POLICY, "{query}");
            assert!(r.header("permissions-policy").is_none(), "{query}");
        }
    }
}

#[tokio::test]
async fn a_nonce_only_directive_becomes_none() {
    let layer = SecurityHeadersLayer::empty()
        .csp(
            CspBuilder::new()
                .default_src(["'self'"])
                .script_src([CspBuilder::NONCE]),
        )
        .unwrap();
    let client = client(layer);
    let r = client.get("/plain").send().await;
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'self'; script-src 'none'")
    );
    let r = client.get("/").send().await;
    let nonce = page_nonce(&r);
    assert_eq!(
        r.header("content-security-policy"),
        Some(format!("default-src 'self'; script-src 'nonce-{nonce}'").as_str())
    );
}

#[tokio::test]
async fn user_headers_go_everywhere_but_permissions_policy() {
    let layer = SecurityHeadersLayer::empty()
        .header(
            HeaderName::from_static("reporting-endpoints"),
            HeaderValue::from_static("csp=\"/csp-reports\""),
        )
        .permissions_policy("camera=(self)")
        .unwrap()
        .try_header("content-security-policy", "default-src 'self'")
        .unwrap();
    let r = client(layer).get("/json").send().await;
    assert_eq!(
        r.header("reporting-endpoints"),
        Some("csp=\"/csp-reports\"")
    );
    // A fixed policy set as a header is the user's: sent as it is.
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'self'")
    );
    assert!(r.header("permissions-policy").is_none());
}

#[tokio::test]
async fn no_status_body_and_handler_headers() {
    // A handler's own CSP on a JSON response is kept, like anywhere else.
    let app = Router::new()
        .route(
            "/",
            get(|| async {
                (
                    [("content-security-policy", "sandbox")],
                    Json(serde_json::json!([])),
                )
            }),
        )
        .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
        .layer(SecurityHeadersLayer::strict());
    let client = TestClient::new(app);
    let r = client.get("/").send().await;
    assert_eq!(r.header("content-security-policy"), Some("sandbox"));
    // No Content-Type: treated as a document.
    let r = client.get("/empty").send().await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("content-security-policy"),
        Some(STRICT_WITHOUT_NONCE)
    );
}
