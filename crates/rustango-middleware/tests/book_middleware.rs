//! The samples of the book's "Middleware" chapter (`book/src/middleware.md`), which
//! includes the `ANCHOR` regions of this file. Each sample is exercised by a test, so
//! the book never shows code that does not build or does not do what the prose says.
//!
//! The Redis sample is compiled and run by the Redis suite (`cargo xtask test-redis`).
#![cfg(feature = "full")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::response::{Html, IntoResponse};
use axum::routing::{delete, get, post};
use http::header::{self, HeaderName};
use http::{Method, StatusCode};
use rustango_cache::{BoxedCache, InMemoryCache};
use rustango_http::extract::Form;
use rustango_http::test_client::TestClient;
use rustango_middleware::access_log::AccessLogLayer;
use rustango_middleware::body_limit::BodyLimitLayer;
use rustango_middleware::compression::CompressionLayer;
use rustango_middleware::cors::CorsLayer;
use rustango_middleware::csrf::{CsrfLayer, CsrfSecretError, CsrfToken};
use rustango_middleware::idempotency::IdempotencyLayer;
use rustango_middleware::ip_filter::IpFilterLayer;
use rustango_middleware::method_override::MethodOverrideLayer;
use rustango_middleware::prelude::*;
use rustango_middleware::rate_limit::RateLimitLayer;
use rustango_middleware::real_ip::{CidrError, ClientIp, RealIpLayer, TrustedProxies};
use rustango_middleware::request_id::RequestIdLayer;
use rustango_middleware::security_headers::{
    CspBuilder, CspNonce, SecurityHeadersError, SecurityHeadersLayer,
};
use rustango_middleware::static_files::StaticFiles;
use rustango_middleware::timeout::TimeoutLayer;
use rustango_middleware::trailing_slash::TrailingSlashLayer;
use tower::Layer as _;

const SECRET: &[u8] = b"the SECRET_KEY of the settings, 32+ bytes";

async fn list_notes() -> &'static str {
    "[]"
}

async fn create_note() -> (StatusCode, &'static str) {
    (StatusCode::CREATED, "{}")
}

// ANCHOR: chain
/// The API with its layers. `Router::layer` (which every `XxxRouterExt` method is) puts
/// the new layer *outside* the previous ones: read the chain bottom-up to follow a
/// request, top-down to follow a response.
fn api() -> Router {
    Router::new()
        .route("/api/notes", get(list_notes).post(create_note))
        .compression(CompressionLayer::new())
        .body_limit(BodyLimitLayer::new(1024 * 1024))
        .timeout(TimeoutLayer::new(Duration::from_secs(10)))
        .rate_limit(RateLimitLayer::per_ip(600, Duration::from_secs(60)))
        .security_headers(SecurityHeadersLayer::strict())
        .access_log(AccessLogLayer::new())
        .request_id(RequestIdLayer::new())
}
// ANCHOR_END: chain

#[tokio::test]
async fn chain() {
    let client = TestClient::new(api());
    let response = client.get("/api/notes").send().await;
    assert_eq!(response.status, 200);
    assert!(response.header("x-request-id").is_some());
    assert!(response.header("strict-transport-security").is_some());
    assert!(response.header("ratelimit").is_some());

    // A refusal from an inner layer still passes the outer ones.
    let too_big = client
        .post("/api/notes")
        .header("content-length", "2097152")
        .body(vec![b'x'; 2 * 1024 * 1024])
        .send()
        .await;
    assert_eq!(too_big.status, 413);
    assert!(too_big.header("x-request-id").is_some());
    assert!(too_big.header("content-security-policy").is_some());
}

// ANCHOR: before_routing
/// Layers that change the path or the method must run before the router picks a
/// route, so they wrap the whole app instead of being `.layer()`ed into it. Give this
/// function to `Builder::middleware`, or call it on your router before serving.
fn before_routing(app: Router) -> Router {
    let app = TrailingSlashLayer::redirect().layer(MethodOverrideLayer::new().layer(app));
    Router::new().fallback_service(app)
}
// ANCHOR_END: before_routing

#[tokio::test]
async fn wrapping_the_router() {
    let routes = Router::new()
        .route("/notes", get(|| async { "notes" }))
        .route("/notes/{id}", delete(|| async { "deleted" }));
    let client = TestClient::new(before_routing(routes));

    let slashed = client.get("/notes/?page=2").send().await;
    assert_eq!(slashed.status, 308);
    assert_eq!(slashed.header("location"), Some("/notes?page=2"));

    let form = client
        .post("/notes/7")
        .form(&[("_method", "DELETE")])
        .send()
        .await;
    assert_eq!(form.text(), "deleted");
}

// ANCHOR: security_headers
async fn page(nonce: CspNonce) -> Html<String> {
    // The same nonce is in this request's `Content-Security-Policy`.
    Html(format!(r#"<script nonce="{nonce}">startApp()</script>"#))
}

/// One view loads a payment script from another host: its own header wins.
async fn checkout() -> impl IntoResponse {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self' https://js.payments.example; \
             frame-ancestors 'none'",
        )],
        Html("<h1>Checkout</h1>"),
    )
}

fn pages() -> Result<Router, SecurityHeadersError> {
    let headers = SecurityHeadersLayer::strict()
        // Checked here: a `;` smuggled into a source is an error, not a broken header.
        .csp(CspBuilder::strict_starter().img_src(["'self'", "https://cdn.example.com"]))?;
    Ok(Router::new()
        .route("/", get(page))
        .route("/checkout", get(checkout))
        .security_headers(headers))
}
// ANCHOR_END: security_headers

#[tokio::test]
async fn security_headers() {
    let client = TestClient::new(pages().unwrap());
    let home = client.get("/").send().await;
    let csp = home.header("content-security-policy").unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(home.text().contains(nonce));
    assert!(csp.contains("img-src 'self' https://cdn.example.com"));
    assert_eq!(home.header("x-frame-options"), Some("DENY"));

    let checkout = client.get("/checkout").send().await;
    let csp = checkout.header("content-security-policy").unwrap();
    assert!(csp.contains("https://js.payments.example"), "{csp}");
    // The other headers still come from the layer.
    assert_eq!(checkout.header("x-content-type-options"), Some("nosniff"));
}

// ANCHOR: proxies
/// Behind a load balancer in 10.0.0.0/8: the client is whoever it says it talked to,
/// and only it may say so.
fn behind_proxies() -> Result<Router, CidrError> {
    let trusted = TrustedProxies::parse(["10.0.0.0/8"])?;

    // Per-route layers: only the admin is filtered, only the login strictly limited.
    let admin = Router::new()
        .route("/admin", get(|| async { "admin" }))
        .ip_filter(IpFilterLayer::allow(["192.0.2.0/24"])?.trusted_proxies(trusted.clone()));
    let login = Router::new()
        .route("/login", post(|| async { "welcome" }))
        .rate_limit(
            RateLimitLayer::per_ip(5, Duration::from_secs(60))
                .key_prefix("ratelimit:login:")
                .trusted_proxies(trusted.clone()),
        );

    Ok(Router::new()
        .route(
            "/",
            get(|ClientIp(ip): ClientIp| async move { format!("hello {ip}") }),
        )
        .merge(admin)
        .merge(login)
        .rate_limit(
            RateLimitLayer::per_ip(600, Duration::from_secs(60)).trusted_proxies(trusted.clone()),
        )
        .real_ip(RealIpLayer::new().trusted_proxies(trusted)))
}
// ANCHOR_END: proxies

#[tokio::test]
async fn proxies() {
    let client = TestClient::new(behind_proxies().unwrap())
        .with_peer_addr("10.0.0.1:40000".parse().unwrap());
    let via = |path: &'static str, client_ip: &'static str| {
        client.get(path).header("x-forwarded-for", client_ip).send()
    };
    assert_eq!(via("/", "198.51.100.4").await.text(), "hello 198.51.100.4");
    assert_eq!(via("/admin", "192.0.2.7").await.status, 200);
    assert_eq!(via("/admin", "198.51.100.4").await.status, 403);

    // A client talking to the app directly cannot claim an address.
    let forged = client
        .get("/admin")
        .peer_addr("203.0.113.5:5000".parse().unwrap())
        .header("x-forwarded-for", "192.0.2.7")
        .send()
        .await;
    assert_eq!(forged.status, 403);

    for _ in 0..5 {
        let ok = client
            .post("/login")
            .header("x-forwarded-for", "198.51.100.4");
        assert_eq!(ok.send().await.status, 200);
    }
    let refused = client
        .post("/login")
        .header("x-forwarded-for", "198.51.100.4")
        .send()
        .await;
    assert_eq!(refused.status, 429);
    assert!(refused.header("retry-after").is_some());
    // Another client, and the rest of the site, are not affected.
    assert_eq!(via("/", "198.51.100.4").await.status, 200);
    let other = client
        .post("/login")
        .header("x-forwarded-for", "198.51.100.5");
    assert_eq!(other.send().await.status, 200);
}

/// Inserted by the authentication layer (not part of this sample).
#[derive(Clone)]
struct UserId(i64);

async fn pay(body: String) -> (StatusCode, String) {
    static PAYMENTS: AtomicUsize = AtomicUsize::new(0);
    let n = PAYMENTS.fetch_add(1, Ordering::SeqCst) + 1;
    (StatusCode::CREATED, format!("payment {n}: {body}"))
}

// ANCHOR: shared_store
/// One store for both stateful layers; each gets its own key prefix.
fn payments(store: BoxedCache) -> Router {
    Router::new()
        .route("/api/payments", post(pay))
        .idempotency(
            IdempotencyLayer::new(store.clone())
                .key_prefix("shop:idempotency:")
                // Keys are per user, so one client cannot replay another's.
                .scope_fn(|parts| parts.extensions.get::<UserId>().map(|u| u.0.to_string())),
        )
        .rate_limit(
            RateLimitLayer::per_ip(100, Duration::from_secs(60))
                .store(store)
                .key_prefix("shop:ratelimit:"),
        )
}
// ANCHOR_END: shared_store

#[cfg(feature = "__test-redis")]
// ANCHOR: redis
/// In production: every instance connects to the same Redis (`REDIS_URL`).
async fn payments_on_redis(redis_url: &str) -> Result<Router, rustango_cache::CacheError> {
    let redis = rustango_cache::redis_backend::RedisCache::new(redis_url).await?;
    Ok(payments(Arc::new(redis)))
}
// ANCHOR_END: redis

#[tokio::test]
async fn shared_store() {
    let store: BoxedCache = Arc::new(InMemoryCache::new());
    // Two instances of the app, one store.
    let a = TestClient::new(payments(store.clone()));
    let b = TestClient::new(payments(store));
    let first = a
        .post("/api/payments")
        .header("idempotency-key", "order-42")
        .body("10 EUR")
        .send()
        .await;
    assert_eq!(first.status, 201);
    let retry = b
        .post("/api/payments")
        .header("idempotency-key", "order-42")
        .body("10 EUR")
        .send()
        .await;
    assert_eq!(retry.text(), first.text());
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
}

#[cfg(feature = "__test-redis")]
#[tokio::test]
async fn redis_shared_store() {
    let url = std::env::var("REDIS_URL").expect(
        "REDIS_URL is not set: the Redis suite needs a server \
         (e.g. REDIS_URL=redis://127.0.0.1:6379, or run `cargo xtask test-redis`)",
    );
    let key = format!("book-{}", uuid_like());
    let a = TestClient::new(payments_on_redis(&url).await.unwrap());
    let b = TestClient::new(payments_on_redis(&url).await.unwrap());
    let first = a
        .post("/api/payments")
        .header("idempotency-key", key.as_str())
        .body("10 EUR")
        .send()
        .await;
    assert_eq!(first.status, 201);
    let retry = b
        .post("/api/payments")
        .header("idempotency-key", key.as_str())
        .body("10 EUR")
        .send()
        .await;
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.text(), first.text());
}

#[cfg(feature = "__test-redis")]
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

// ANCHOR: csrf_form
async fn new_comment(token: CsrfToken) -> Html<String> {
    Html(format!(
        r#"<form method="post" action="/comments">
  <input type="hidden" name="csrfmiddlewaretoken" value="{token}">
  <textarea name="body"></textarea>
  <button>Send</button>
</form>"#
    ))
}

async fn create_comment(Form(form): Form<HashMap<String, String>>) -> String {
    format!("thanks for {:?}", form["body"])
}

fn comments(secret: &[u8]) -> Result<Router, CsrfSecretError> {
    let csrf = CsrfLayer::try_new(secret)?.secure(false); // plain HTTP in development
    Ok(Router::new()
        .route("/comments/new", get(new_comment))
        .route("/comments", post(create_comment))
        .csrf(csrf))
}
// ANCHOR_END: csrf_form

#[tokio::test]
async fn csrf_form() {
    let client = TestClient::new(comments(SECRET).unwrap());
    let form = client.get("/comments/new").send().await.text();
    let token = form
        .split(r#"value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    // The page carries a masked form of the cookie's token, new on every response.
    assert_eq!(token.len(), 171);
    assert_ne!(client.cookie("csrftoken").as_deref(), Some(token.as_str()));

    let sent = client
        .post("/comments")
        .form(&[("csrfmiddlewaretoken", token.as_str()), ("body", "hi")])
        .send()
        .await;
    assert_eq!(sent.text(), r#"thanks for "hi""#);

    let forged = client
        .post("/comments")
        .form(&[("body", "hi")])
        .send()
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(forged.problem().status(), 403);
}

// ANCHOR: csrf_js
/// The JSON API of a single-page app served from https://app.example.com, calling
/// https://api.example.com with the session cookie (`credentials: "include"`).
fn spa_api(secret: &[u8]) -> Result<Router, CsrfSecretError> {
    let csrf = CsrfLayer::try_new(secret)?.trusted_origins(["https://app.example.com"]);
    let cors = CorsLayer::new()
        .allow_origins(["https://app.example.com"])
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static("x-csrf-token"),
        ])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600));
    Ok(Router::new()
        // The app cannot read another host's cookie: it asks for the token once.
        .route(
            "/api/csrf",
            get(|token: CsrfToken| async move { token.to_string() }),
        )
        .route("/api/notes", get(list_notes).post(create_note))
        .csrf(csrf)
        .cors(cors))
}
// ANCHOR_END: csrf_js

#[tokio::test]
async fn csrf_js() {
    let app = spa_api(SECRET).unwrap();
    let browser = TestClient::new(app.clone());
    let origin = "https://app.example.com";
    let token = browser
        .get("/api/csrf")
        .header("origin", origin)
        .send()
        .await
        .text();

    let preflight = browser
        .options("/api/notes")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, x-csrf-token",
        )
        .send()
        .await;
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(origin)
    );

    let created = browser
        .post("/api/notes")
        .header("origin", origin)
        .header("sec-fetch-site", "same-site")
        .header("x-csrf-token", token.as_str())
        .json(&serde_json::json!({"title": "hi"}))
        .send()
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.header("access-control-allow-credentials"),
        Some("true")
    );

    let evil = browser
        .post("/api/notes")
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .header("x-csrf-token", token.as_str())
        .send()
        .await;
    assert_eq!(evil.status, 403);

    // A token-authenticated client sends no cookies: CSRF does not apply.
    let script = TestClient::new(app);
    let created = script
        .post("/api/notes")
        .bearer("api-token")
        .json(&serde_json::json!({"title": "from cron"}))
        .send()
        .await;
    assert_eq!(created.status, 201);
}

// ANCHOR: static_files
fn site(static_root: &Path) -> Router {
    Router::new()
        .route("/", get(|| async { Html("<h1>Home</h1>") }))
        .static_files("/static", StaticFiles::new(static_root).precompressed())
        // Added after the mount, so they wrap the static files too.
        .compression(CompressionLayer::new())
        .security_headers(SecurityHeadersLayer::strict())
}
// ANCHOR_END: static_files

#[tokio::test]
async fn static_files() {
    let dir = TempDir::new();
    dir.write("app.3f2a9c1b.css", "body { margin: 0 }");
    dir.write("app.3f2a9c1b.css.gz", "pretend this is gzip");
    dir.write("robots.txt", "User-agent: *\nDisallow: /admin/\n".repeat(4));
    let client = TestClient::new(site(&dir.0));

    let css = client
        .get("/static/app.3f2a9c1b.css")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-encoding"), Some("gzip"));
    assert_eq!(css.text(), "pretend this is gzip");
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(css.header("x-content-type-options"), Some("nosniff"));

    // No precompressed variant: the compression layer compresses on the fly.
    let robots = client
        .get("/static/robots.txt")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(robots.header("content-encoding"), Some("gzip"));
    assert_eq!(robots.header("cache-control"), Some("public, max-age=3600"));

    assert_eq!(client.get("/static/missing.js").send().await.status, 404);
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "rustango-book-middleware-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn write(&self, name: &str, contents: impl AsRef<[u8]>) {
        std::fs::write(self.0.join(name), contents).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
