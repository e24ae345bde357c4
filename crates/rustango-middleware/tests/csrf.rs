#![cfg(feature = "csrf")]
//! `CsrfLayer` through a router, via the in-process test client.

use axum::Router;
use axum::routing::{get, post};
use rustango_http::test_client::TestClient;
use rustango_middleware::csrf::{CsrfLayer, CsrfSecretError, CsrfToken, get_token, hmac_sha256};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const OTHER: &[u8] = b"fedcba9876543210fedcba9876543210";

fn app(layer: CsrfLayer) -> Router {
    Router::new()
        .route("/", get(|token: CsrfToken| async move { token.0 }))
        .route("/plain", get(|| async { "no form here" }))
        .route(
            "/twice",
            get(|parts: http::request::Parts| async move {
                let a = get_token(&parts.extensions).unwrap();
                let b = get_token(&parts.extensions).unwrap();
                format!("{a} {b}")
            }),
        )
        .route("/submit", post(|body: String| async move { body }))
        .layer(layer)
}

fn client() -> TestClient {
    TestClient::new(app(CsrfLayer::new(SECRET)))
}

/// A client holding a valid `csrftoken` cookie, and that token.
async fn primed() -> (TestClient, String) {
    let client = client();
    let r = client.get("/").send().await;
    assert_eq!(r.status, 200);
    let token = client.cookie("csrftoken").expect("the GET set the cookie");
    // Pages get a masked form of the token, never the cookie's own value.
    let page = r.text();
    assert_eq!(page.len(), 171);
    assert_ne!(page, token);
    (client, token)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn hmac_matches_rfc_4231_case_2() {
    assert_eq!(
        hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn short_secrets_are_a_typed_error() {
    assert_eq!(
        CsrfLayer::try_new([0u8; 31]).unwrap_err(),
        CsrfSecretError { len: 31 }
    );
    assert!(CsrfLayer::try_new([0u8; 32]).is_ok());
}

#[tokio::test]
async fn get_sets_the_cookie_once() {
    let client = client();
    let r = client.get("/").send().await;
    let set = r.header("set-cookie").expect("a cookie is issued");
    assert!(set.starts_with("csrftoken="), "{set}");
    for attr in ["Path=/", "SameSite=Lax", "Secure"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("HttpOnly"), "{set}");
    // A valid cookie is kept, not reissued.
    let first_page = r.text();
    let again = client.get("/").send().await;
    assert_eq!(again.header("set-cookie"), None);
    // A fresh mask on every response (BREACH), the same secret underneath.
    assert_ne!(again.text(), first_page);
    assert_ne!(again.text(), client.cookie("csrftoken").unwrap());
}

#[tokio::test]
async fn the_cookie_is_issued_only_when_the_token_is_asked_for() {
    let client = client();
    // A route that never asks: no cookie, no signature.
    let r = client.get("/plain").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("set-cookie"), None);
    assert!(client.cookie("csrftoken").is_none());
    // An API call without cookies passes and sets nothing either.
    let r = client
        .post("/submit")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("set-cookie"), None);

    // Asking twice in one request: one cookie, two masks of the same token.
    let r = client.get("/twice").send().await;
    assert_eq!(r.headers.get_all("set-cookie").iter().count(), 1);
    let text = r.text();
    let (a, b) = text.split_once(' ').unwrap();
    assert_ne!(a, b);
    let cookie = client.cookie("csrftoken").unwrap();
    for masked in [a, b] {
        let ok = client
            .post("/submit")
            .header("x-csrf-token", masked)
            .send()
            .await;
        assert_eq!(ok.status, 200, "{}", ok.text());
    }
    // The valid cookie is kept by routes that ask and by those that don't.
    assert_eq!(client.get("/").send().await.header("set-cookie"), None);
    assert_eq!(client.get("/plain").send().await.header("set-cookie"), None);
    assert_eq!(client.cookie("csrftoken").unwrap(), cookie);
}

#[tokio::test]
async fn an_invalid_cookie_is_replaced_only_when_the_token_is_asked_for() {
    let client = client();
    client.set_cookie("csrftoken", "A".repeat(86).as_str());
    assert_eq!(client.get("/plain").send().await.header("set-cookie"), None);
    let r = client.get("/").send().await;
    assert!(r.header("set-cookie").is_some());
    assert_ne!(client.cookie("csrftoken").unwrap(), "A".repeat(86));
}

#[tokio::test]
async fn every_cookie_header_is_tried_when_the_token_is_asked_for() {
    // HTTP/2 may send one `Cookie` header per cookie; a valid `csrftoken` in a later
    // one is found, and no new cookie is issued.
    let (_, token) = primed().await;
    let fresh = client();
    let r = fresh
        .get("/")
        .header("cookie", "csrftoken=not-a-valid-token")
        .header("cookie", format!("csrftoken={token}"))
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("set-cookie"), None, "the valid cookie was missed");
    // With only the bad one, a new cookie comes with the token.
    let r = fresh
        .get("/")
        .header("cookie", "csrftoken=not-a-valid-token")
        .header("cookie", "other=1")
        .send()
        .await;
    assert!(
        r.header("set-cookie")
            .is_some_and(|c| c.starts_with("csrftoken="))
    );
}

#[tokio::test]
async fn ensure_cookie_sets_it_on_every_response_without_a_valid_one() {
    let client = TestClient::new(app(CsrfLayer::new(SECRET).ensure_cookie(true)));
    let r = client.get("/plain").send().await;
    let set = r.header("set-cookie").expect("ensure_cookie issues one");
    assert!(set.starts_with("csrftoken="), "{set}");
    let token = client.cookie("csrftoken").unwrap();
    // Kept afterwards, and usable.
    assert_eq!(client.get("/plain").send().await.header("set-cookie"), None);
    let ok = client
        .post("/submit")
        .header("x-csrf-token", token.as_str())
        .send()
        .await;
    assert_eq!(ok.status, 200);
    // A handler asking gets the same token (masked), no second cookie.
    let r = client.get("/").send().await;
    assert_eq!(r.header("set-cookie"), None);
}

#[tokio::test]
async fn masked_tokens_from_pages_pass_and_tampered_ones_do_not() {
    let (client, cookie) = primed().await;
    let page = client.get("/").send().await.text();
    let form = |token: &str| format!("csrfmiddlewaretoken={token}&x=1");
    let post = |body: String| {
        client
            .post("/submit")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    assert_eq!(post(form(&page)).send().await.status, 200);
    // The header takes either form: the masked one from a page, or the cookie's.
    for token in [page.as_str(), cookie.as_str()] {
        let r = client
            .post("/submit")
            .header("x-csrf-token", token)
            .send()
            .await;
        assert_eq!(r.status, 200, "{token}");
    }
    // Flip one character of the masked part: refused.
    let mut tampered = page.clone().into_bytes();
    let last = tampered.len() - 5;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(post(form(&tampered)).send().await.status, 403);
    // A masked token of another client is no good either.
    let (_, _) = primed().await;
    let other = client_page_of_other().await;
    assert_eq!(post(form(&other)).send().await.status, 403);
    // Wrong lengths are refused, not a panic.
    for junk in ["", "x", &"A".repeat(170), &"A".repeat(172)] {
        assert_eq!(post(form(junk)).send().await.status, 403, "{junk}");
    }
}

async fn client_page_of_other() -> String {
    let other = client();
    other.get("/").send().await.text()
}

#[tokio::test]
async fn http2_requests_are_checked_against_the_uri_authority() {
    use tower::ServiceExt as _;
    let (_, token) = primed().await;
    // As hyper hands over an HTTP/2 request: no Host header, the authority in the URI.
    let request = |origin: &str| {
        http::Request::post("https://example.com/submit")
            .version(http::Version::HTTP_2)
            .header("origin", origin)
            .header("cookie", format!("csrftoken={token}"))
            .header("x-csrf-token", token.as_str())
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let app = app(CsrfLayer::new(SECRET));
    let ok = app
        .clone()
        .oneshot(request("https://example.com"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let refused = app.oneshot(request("https://evil.example")).await.unwrap();
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn insecure_cookie_has_no_secure_flag() {
    let client = TestClient::new(app(CsrfLayer::new(SECRET).secure(false)));
    let r = client.get("/").send().await;
    assert!(!r.header("set-cookie").unwrap().contains("Secure"));
}

#[tokio::test]
async fn post_with_matching_header_passes() {
    let (client, token) = primed().await;
    let r = client
        .post("/submit")
        .header("x-csrf-token", token.as_str())
        .body("payload")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "payload");
    for method in ["put", "patch", "delete"] {
        let r = client
            .request(method.to_uppercase().parse().unwrap(), "/submit")
            .send()
            .await;
        // No route for these methods, but the check runs first: 403.
        assert_eq!(r.status, 403, "{method}");
    }
}

#[tokio::test]
async fn post_without_token_is_403() {
    let (client, _) = primed().await;
    let r = client.post("/submit").body("x").send().await;
    assert_eq!(r.status, 403);
    let problem = r.problem();
    assert_eq!(problem.status(), 403);
    assert!(problem.detail().unwrap().contains("no CSRF token"));
}

#[tokio::test]
async fn mismatched_header_is_403_without_the_token() {
    let (client, token) = primed().await;
    let r = client
        .post("/submit")
        .header("x-csrf-token", "wrong")
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert!(r.problem().detail().unwrap().contains("does not match"));
    assert!(!r.text().contains(&token));
}

#[tokio::test]
async fn forged_cookie_is_403() {
    // A well-formed token signed with another key.
    let other = TestClient::new(app(CsrfLayer::new(OTHER)));
    other.get("/").send().await;
    let forged = other.cookie("csrftoken").unwrap();

    let client = client();
    client.set_cookie("csrftoken", forged.as_str());
    let r = client
        .post("/submit")
        .header("x-csrf-token", forged.as_str())
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert!(r.problem().detail().unwrap().contains("signature"));
    // A fresh, valid cookie replaces it.
    assert_ne!(client.cookie("csrftoken").unwrap(), forged);
}

#[tokio::test]
async fn missing_cookie_with_other_cookies_is_403() {
    let client = client();
    client.set_cookie("sessionid", "abc");
    let r = client
        .post("/submit")
        .header("x-csrf-token", "x")
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert!(r.problem().detail().unwrap().contains("missing"));
}

#[tokio::test]
async fn form_field_passes_and_body_is_intact() {
    let (client, token) = primed().await;
    let form = [
        ("name", "Ada & co"),
        ("csrfmiddlewaretoken", token.as_str()),
    ];
    let expected = format!("name=Ada+%26+co&csrfmiddlewaretoken={token}");
    let r = client.post("/submit").form(&form).send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), expected);

    let r = client
        .post("/submit")
        .form(&[("csrfmiddlewaretoken", "nope")])
        .send()
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn oversized_form_is_413() {
    let (client, token) = primed().await;
    let big = "a".repeat(70 * 1024);
    let r = client
        .post("/submit")
        .form(&[
            ("big", big.as_str()),
            ("csrfmiddlewaretoken", token.as_str()),
        ])
        .send()
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.problem().status(), 413);
}

#[tokio::test]
async fn cross_site_origin_is_403() {
    let (client, token) = primed().await;
    let r = client
        .post("/submit")
        .header("x-csrf-token", token.as_str())
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert!(r.problem().detail().unwrap().contains("Origin"));

    // The request's own origin, and a trusted one, pass.
    let ok = client
        .post("/submit")
        .header("x-csrf-token", token.as_str())
        .header("origin", "https://localhost")
        .send()
        .await;
    assert_eq!(ok.status, 200);
    let http = client
        .post("/submit")
        .header("x-csrf-token", token.as_str())
        .header("origin", "http://localhost")
        .send()
        .await;
    assert_eq!(http.status, 403, "the scheme counts");
}

#[tokio::test]
async fn trusted_origins_pass() {
    let client = TestClient::new(app(
        CsrfLayer::new(SECRET).trusted_origins(["https://admin.example.com/"])
    ));
    client.get("/").send().await;
    let token = client.cookie("csrftoken").unwrap();
    let r = client
        .post("/submit")
        .header("x-csrf-token", token.as_str())
        .header("origin", "https://ADMIN.example.com:443")
        .send()
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn sec_fetch_site_cross_site_is_403() {
    let (client, token) = primed().await;
    let r = client
        .post("/submit")
        .header("x-csrf-token", token.as_str())
        .header("sec-fetch-site", "cross-site")
        .send()
        .await;
    assert_eq!(r.status, 403);
    for site in ["same-origin", "same-site", "none"] {
        let r = client
            .post("/submit")
            .header("x-csrf-token", token.as_str())
            .header("sec-fetch-site", site)
            .send()
            .await;
        assert_eq!(r.status, 200, "{site}");
    }
}

#[tokio::test]
async fn same_site_can_be_refused() {
    let client = TestClient::new(app(CsrfLayer::new(SECRET).allow_same_site(false)));
    client.get("/").send().await;
    let token = client.cookie("csrftoken").unwrap();
    let r = client
        .post("/submit")
        .header("x-csrf-token", token.as_str())
        .header("sec-fetch-site", "same-site")
        .send()
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn bearer_without_cookies_is_exempt() {
    let client = client();
    let r = client
        .post("/submit")
        .bearer("api-key")
        .body("x")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "x");
    // With cookies, a bearer token does not exempt.
    client.set_cookie("sessionid", "abc");
    let r = client.post("/submit").bearer("api-key").send().await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn malformed_input_is_never_a_500() {
    let (client, token) = primed().await;
    client.clear_cookies();
    let cases: Vec<(String, String)> = vec![
        ("cookie".into(), "csrftoken=%%%; =;;; csrftoken".into()),
        ("cookie".into(), format!("csrftoken={}", "A".repeat(86))),
        ("cookie".into(), format!("csrftoken={}", "x".repeat(60_000))),
        ("cookie".into(), format!("csrftoken=\"{token}\"")),
    ];
    for (name, value) in &cases {
        let r = client
            .post("/submit")
            .header(name.as_str(), value.as_str())
            .header("x-csrf-token", "y".repeat(50_000).as_str())
            .send()
            .await;
        assert!(
            matches!(r.status, 400 | 403),
            "{} {}",
            r.status,
            &value[..20]
        );
        assert!(r.problem().status() >= 400);
        client.clear_cookies();
    }
    // Non-UTF-8 bytes in the cookie and origin headers.
    let r = client
        .post("/submit")
        .header(
            "cookie",
            http::HeaderValue::from_bytes(b"csrftoken=\xff\xfe").unwrap(),
        )
        .header(
            "origin",
            http::HeaderValue::from_bytes(b"https://\xff").unwrap(),
        )
        .send()
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn cookie_less_cross_site_forms_are_refused_but_api_calls_pass() {
    // Login CSRF: a cross-site form posts to the sign-in endpoint, with no cookies.
    let client = client();
    client.clear_cookies();
    let r = client
        .post("/submit")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body("username=attacker&password=x")
        .send()
        .await;
    assert_eq!(r.status, 403);
    client.clear_cookies();
    let r = client
        .post("/submit")
        .header("content-type", "text/plain")
        .header("sec-fetch-site", "cross-site")
        .body("x")
        .send()
        .await;
    assert_eq!(r.status, 403);
    // The same form from the site itself passes (no token needed without cookies).
    client.clear_cookies();
    let r = client
        .post("/submit")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://localhost")
        .body("username=me")
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A JSON API call from another origin carries no ambient credential: it passes.
    client.clear_cookies();
    let r = client
        .post("/submit")
        .header("content-type", "application/json")
        .header("origin", "https://spa.example")
        .header("authorization", "Bearer abc")
        .body("{}")
        .send()
        .await;
    assert_eq!(r.status, 200);
}
