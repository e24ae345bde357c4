//! `IdempotencyLayer` through the in-process test client; the Redis half (feature
//! `__test-redis`, test names containing `redis`) needs `REDIS_URL`.
#![cfg(feature = "idempotency")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::post;
use http::StatusCode;
use rustango_cache::{BoxedCache, Cache, InMemoryCache};
use rustango_http::test_client::TestClient;
use rustango_middleware::idempotency::IdempotencyLayer;
use tokio::sync::Notify;

/// A counting handler on `/charges` (POST, PATCH, PUT, GET): answers
/// `201 "run <n>: <method> <body>"` with a `Set-Cookie` and an `X-Run` header.
fn app(layer: IdempotencyLayer, runs: Arc<AtomicUsize>) -> Router {
    let handler = move |method: http::Method, body: String| {
        let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            (
                StatusCode::CREATED,
                [
                    ("set-cookie", "sid=secret".to_owned()),
                    ("x-run", n.to_string()),
                ],
                format!("run {n}: {method} {body}"),
            )
        }
    };
    Router::new()
        .route(
            "/charges",
            post(handler.clone())
                .patch(handler.clone())
                .put(handler.clone())
                .get(handler),
        )
        .layer(layer)
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

#[tokio::test]
async fn replay_returns_the_stored_response_and_runs_the_handler_once() {
    let runs = counter();
    let client = TestClient::new(app(IdempotencyLayer::in_memory(), runs.clone()));

    let first = client
        .post("/charges")
        .header("idempotency-key", "key-1")
        .body("10 EUR")
        .send()
        .await;
    assert_eq!(first.status, 201);
    assert_eq!(first.text(), "run 1: POST 10 EUR");
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(first.header("set-cookie"), Some("sid=secret"));

    for _ in 0..3 {
        let again = client
            .post("/charges")
            .header("idempotency-key", "key-1")
            .body("10 EUR")
            .send()
            .await;
        assert_eq!(again.status, 201);
        assert_eq!(again.body, first.body);
        assert_eq!(again.header("x-run"), Some("1"));
        assert_eq!(again.header("content-type"), first.header("content-type"));
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        // Cookies are never replayed.
        assert_eq!(again.header("set-cookie"), None);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // Another key is another request.
    let other = client
        .post("/charges")
        .header("idempotency-key", "key-2")
        .body("10 EUR")
        .send()
        .await;
    assert_eq!(other.text(), "run 2: POST 10 EUR");
}

#[tokio::test]
async fn patch_is_covered_and_put_is_not_by_default() {
    let runs = counter();
    let client = TestClient::new(app(IdempotencyLayer::in_memory(), runs.clone()));
    for _ in 0..2 {
        let r = client
            .patch("/charges")
            .header("idempotency-key", "p")
            .body("x")
            .send()
            .await;
        assert_eq!(r.text(), "run 1: PATCH x");
    }
    for n in 2..4 {
        let r = client
            .put("/charges")
            .header("idempotency-key", "q")
            .body("x")
            .send()
            .await;
        assert_eq!(r.text(), format!("run {n}: PUT x"));
        assert_eq!(r.header("idempotent-replayed"), None);
    }
}

#[tokio::test]
async fn same_key_with_another_body_or_path_is_422() {
    let runs = counter();
    let client = TestClient::new(app(IdempotencyLayer::in_memory(), runs.clone()));
    let first = client
        .post("/charges")
        .header("idempotency-key", "k")
        .body("10 EUR")
        .send()
        .await;
    assert_eq!(first.status, 201);

    let body = client
        .post("/charges")
        .header("idempotency-key", "k")
        .body("99 EUR")
        .send()
        .await;
    assert_eq!(body.status, 422);
    assert_eq!(body.problem().status(), 422);

    let path = client
        .post("/charges?currency=usd")
        .header("idempotency-key", "k")
        .body("10 EUR")
        .send()
        .await;
    assert_eq!(path.status, 422);

    let method = client
        .patch("/charges")
        .header("idempotency-key", "k")
        .body("10 EUR")
        .send()
        .await;
    assert_eq!(method.status, 422);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// A slow handler: signals `started`, then waits for `finish`.
fn slow_app(layer: IdempotencyLayer, runs: Arc<AtomicUsize>) -> (Router, Arc<Notify>, Arc<Notify>) {
    let started = Arc::new(Notify::new());
    let finish = Arc::new(Notify::new());
    let (s, f) = (started.clone(), finish.clone());
    let app = Router::new()
        .route(
            "/slow",
            post(move |body: String| {
                let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                let (s, f) = (s.clone(), f.clone());
                async move {
                    s.notify_one();
                    f.notified().await;
                    (StatusCode::CREATED, format!("slow {n}: {body}"))
                }
            }),
        )
        .layer(layer);
    (app, started, finish)
}

#[tokio::test]
async fn concurrent_duplicate_while_in_flight_is_409() {
    let runs = counter();
    let (app, started, finish) = slow_app(IdempotencyLayer::in_memory(), runs.clone());
    let client = TestClient::new(app);

    let first = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .post("/slow")
                .header("idempotency-key", "busy")
                .body("a")
                .send()
                .await
        }
    });
    started.notified().await;

    let duplicate = client
        .post("/slow")
        .header("idempotency-key", "busy")
        .body("a")
        .send()
        .await;
    assert_eq!(duplicate.status, 409);
    assert_eq!(duplicate.problem().status(), 409);

    finish.notify_one();
    let first = first.await.unwrap();
    assert_eq!((first.status, first.text().as_str()), (201, "slow 1: a"));

    let replay = client
        .post("/slow")
        .header("idempotency-key", "busy")
        .body("a")
        .send()
        .await;
    assert_eq!(replay.text(), "slow 1: a");
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_client_that_goes_away_still_gets_its_response_on_retry() {
    let runs = counter();
    let (app, started, finish) = slow_app(IdempotencyLayer::in_memory(), runs.clone());
    let client = TestClient::new(app);

    let first = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .post("/slow")
                .header("idempotency-key", "gone")
                .body("a")
                .send()
                .await
        }
    });
    started.notified().await;
    // The client goes away mid-request: its connection's future is dropped.
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());

    // The handler was not cancelled with it: it finishes, and its response is stored.
    let retry = || {
        client
            .post("/slow")
            .header("idempotency-key", "gone")
            .body("a")
            .send()
    };
    assert_eq!(retry().await.status, 409, "the handler is still running");
    finish.notify_one();
    let mut replayed = None;
    for _ in 0..100 {
        let response = retry().await;
        if response.status != 409 {
            replayed = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let replayed = replayed.expect("the response was never stored");
    assert_eq!(replayed.status, 201);
    assert_eq!(replayed.text(), "slow 1: a");
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the handler ran once");
}

#[tokio::test]
async fn a_panicking_handler_releases_its_key() {
    let runs = counter();
    let calls = runs.clone();
    let app = Router::new()
        .route(
            "/boom",
            post(move || {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    assert!(n > 1, "first call panics");
                    "ok"
                }
            }),
        )
        .layer(IdempotencyLayer::in_memory());
    let client = TestClient::new(app);

    let panicked = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .post("/boom")
                .header("idempotency-key", "p")
                .send()
                .await
        }
    })
    .await;
    assert!(panicked.unwrap_err().is_panic());

    let mut last = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        last = client
            .post("/boom")
            .header("idempotency-key", "p")
            .send()
            .await
            .status;
        if last != 409 {
            break;
        }
    }
    assert_eq!(last, 200);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn server_errors_are_not_stored_and_client_errors_are() {
    let runs = counter();
    let calls = runs.clone();
    let app = Router::new()
        .route(
            "/flaky",
            post(move |body: String| {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    match body.as_str() {
                        "fail-once" if n == 1 => {
                            (StatusCode::SERVICE_UNAVAILABLE, "down").into_response()
                        }
                        "invalid" => (StatusCode::BAD_REQUEST, format!("bad {n}")).into_response(),
                        _ => (StatusCode::CREATED, format!("ok {n}")).into_response(),
                    }
                }
            }),
        )
        .layer(IdempotencyLayer::in_memory());
    let client = TestClient::new(app);
    let send = |key: &'static str, body: &'static str| {
        client
            .post("/flaky")
            .header("idempotency-key", key)
            .body(body)
            .send()
    };

    assert_eq!(send("a", "fail-once").await.status, 503);
    // Released: the retry runs the handler, and its success is stored.
    let retry = send("a", "fail-once").await;
    assert_eq!((retry.status, retry.text().as_str()), (201, "ok 2"));
    assert_eq!(retry.header("idempotent-replayed"), None);
    let replay = send("a", "fail-once").await;
    assert_eq!((replay.status, replay.text().as_str()), (201, "ok 2"));
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));

    assert_eq!(send("b", "invalid").await.text(), "bad 3");
    let replay = send("b", "invalid").await;
    assert_eq!((replay.status, replay.text().as_str()), (400, "bad 3"));
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn bad_keys_are_400_problems() {
    let runs = counter();
    let client = TestClient::new(app(IdempotencyLayer::in_memory(), runs.clone()));
    for bad in ["a b".to_owned(), "k".repeat(256), "tab\tkey".to_owned()] {
        let r = client
            .post("/charges")
            .header("idempotency-key", bad.as_str())
            .body("x")
            .send()
            .await;
        assert_eq!(r.status, 400, "{bad:?}");
        assert_eq!(r.problem().status(), 400);
    }
    let empty = client
        .post("/charges")
        .header("idempotency-key", "")
        .send()
        .await;
    assert_eq!(empty.problem().status(), 400);
    let non_ascii = client
        .post("/charges")
        .header(
            "idempotency-key",
            http::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        )
        .send()
        .await;
    assert_eq!(non_ascii.problem().status(), 400);
    let twice = client
        .post("/charges")
        .header("idempotency-key", "a")
        .header("idempotency-key", "b")
        .send()
        .await;
    assert_eq!(twice.problem().status(), 400);
    // The longest valid key is fine.
    let longest = client
        .post("/charges")
        .header("idempotency-key", "k".repeat(255))
        .send()
        .await;
    assert_eq!(longest.status, 201);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn missing_key_passes_through_unless_required() {
    let runs = counter();
    let optional = TestClient::new(app(IdempotencyLayer::in_memory(), runs.clone()));
    for n in 1..=2 {
        let r = optional.post("/charges").body("x").send().await;
        assert_eq!(r.text(), format!("run {n}: POST x"));
        assert_eq!(r.header("set-cookie"), Some("sid=secret"));
    }

    let runs = counter();
    let required = TestClient::new(app(
        IdempotencyLayer::in_memory().required(true),
        runs.clone(),
    ));
    let missing = required.post("/charges").body("x").send().await;
    assert_eq!(missing.status, 400);
    assert!(
        missing
            .problem()
            .detail()
            .unwrap()
            .contains("Idempotency-Key")
    );
    let missing = required.patch("/charges").body("x").send().await;
    assert_eq!(missing.status, 400);
    // Methods the layer does not cover need no key.
    assert_eq!(required.put("/charges").send().await.status, 201);
    let keyed = required
        .post("/charges")
        .header("idempotency-key", "k")
        .body("x")
        .send()
        .await;
    assert_eq!(keyed.status, 201);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn get_is_untouched_even_with_a_key() {
    let runs = counter();
    let client = TestClient::new(app(
        IdempotencyLayer::in_memory().required(true),
        runs.clone(),
    ));
    for n in 1..=2 {
        let r = client
            .get("/charges")
            .header("idempotency-key", "g")
            .send()
            .await;
        assert_eq!(r.status, 201);
        assert_eq!(r.text(), format!("run {n}: GET "));
        assert_eq!(r.header("idempotent-replayed"), None);
    }
    // Even an invalid key is not looked at.
    let bad = client
        .get("/charges")
        .header("idempotency-key", "a b")
        .send()
        .await;
    assert_eq!(bad.status, 201);
}

#[tokio::test]
async fn body_over_max_is_413() {
    let runs = counter();
    let client = TestClient::new(app(
        IdempotencyLayer::in_memory().max_body(16),
        runs.clone(),
    ));
    let big = client
        .post("/charges")
        .header("idempotency-key", "big")
        .header("content-length", "17")
        .body(vec![b'x'; 17])
        .send()
        .await;
    assert_eq!(big.status, 413);
    assert_eq!(big.problem().status(), 413);
    // Without a Content-Length the limit applies while reading.
    let streamed = client
        .post("/charges")
        .header("idempotency-key", "big")
        .body(vec![b'x'; 1000])
        .send()
        .await;
    assert_eq!(streamed.status, 413);
    let fits = client
        .post("/charges")
        .header("idempotency-key", "big")
        .body(vec![b'x'; 16])
        .send()
        .await;
    assert_eq!(fits.status, 201);
    // Requests without a key are not this layer's business.
    let unkeyed = client.post("/charges").body(vec![b'x'; 1000]).send().await;
    assert_eq!(unkeyed.status, 201);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn stored_responses_expire_after_the_ttl() {
    let runs = counter();
    let store: BoxedCache = Arc::new(InMemoryCache::new());
    let layer = IdempotencyLayer::new(store.clone()).ttl(Duration::from_millis(300));
    let storage_key = layer.storage_key(None, "short");
    let client = TestClient::new(app(layer, runs.clone()));
    let send = || {
        client
            .post("/charges")
            .header("idempotency-key", "short")
            .body("x")
            .send()
    };

    assert_eq!(send().await.text(), "run 1: POST x");
    assert!(store.exists(&storage_key).await.unwrap());
    assert_eq!(send().await.header("idempotent-replayed"), Some("true"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = send().await;
    assert_eq!(after.text(), "run 2: POST x");
    assert_eq!(after.header("idempotent-replayed"), None);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn keys_are_per_scope() {
    let runs = counter();
    let layer = IdempotencyLayer::in_memory().scope_fn(|parts| {
        parts
            .headers
            .get("x-user")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    let client = TestClient::new(app(layer, runs.clone()));
    let send = |user: &'static str, body: &'static str| {
        client
            .post("/charges")
            .header("x-user", user)
            .header("idempotency-key", "same")
            .body(body)
            .send()
    };
    assert_eq!(send("alice", "a").await.text(), "run 1: POST a");
    // Bob's key does not collide with Alice's, even with another body.
    assert_eq!(send("bob", "b").await.text(), "run 2: POST b");
    assert_eq!(send("alice", "a").await.text(), "run 1: POST a");
    assert_eq!(send("bob", "b").await.text(), "run 2: POST b");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

/// A store that always fails, like Redis during an outage.
struct DownStore;

impl Cache for DownStore {
    fn get_bytes<'a>(
        &'a self,
        _: &'a str,
    ) -> futures_util::future::BoxFuture<'a, rustango_cache::Result<Option<Vec<u8>>>> {
        Box::pin(async { Err(rustango_cache::CacheError::ZeroTtl) })
    }
    fn set_bytes<'a>(
        &'a self,
        _: &'a str,
        _: &'a [u8],
        _: Option<Duration>,
    ) -> futures_util::future::BoxFuture<'a, rustango_cache::Result<()>> {
        Box::pin(async { Err(rustango_cache::CacheError::ZeroTtl) })
    }
    fn delete<'a>(
        &'a self,
        _: &'a str,
    ) -> futures_util::future::BoxFuture<'a, rustango_cache::Result<bool>> {
        Box::pin(async { Err(rustango_cache::CacheError::ZeroTtl) })
    }
    fn exists<'a>(
        &'a self,
        _: &'a str,
    ) -> futures_util::future::BoxFuture<'a, rustango_cache::Result<bool>> {
        Box::pin(async { Err(rustango_cache::CacheError::ZeroTtl) })
    }
    fn ttl<'a>(
        &'a self,
        _: &'a str,
    ) -> futures_util::future::BoxFuture<'a, rustango_cache::Result<rustango_cache::KeyTtl>> {
        Box::pin(async { Err(rustango_cache::CacheError::ZeroTtl) })
    }
    fn incr<'a>(
        &'a self,
        _: &'a str,
        _: i64,
        _: Duration,
    ) -> futures_util::future::BoxFuture<'a, rustango_cache::Result<i64>> {
        Box::pin(async { Err(rustango_cache::CacheError::ZeroTtl) })
    }
    fn set_if_absent<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Option<Duration>,
    ) -> futures_util::future::BoxFuture<'a, rustango_cache::Result<bool>> {
        Box::pin(async { Err(rustango_cache::CacheError::ZeroTtl) })
    }
    fn try_lock<'a>(
        &'a self,
        _: &'a str,
        _: Duration,
    ) -> futures_util::future::BoxFuture<
        'a,
        rustango_cache::Result<Option<rustango_cache::LockGuard>>,
    > {
        Box::pin(async { Err(rustango_cache::CacheError::ZeroTtl) })
    }
    fn unlock<'a>(
        &'a self,
        _: rustango_cache::LockGuard,
    ) -> futures_util::future::BoxFuture<'a, rustango_cache::Result<bool>> {
        Box::pin(async { Err(rustango_cache::CacheError::ZeroTtl) })
    }
    fn clear(&self) -> futures_util::future::BoxFuture<'_, rustango_cache::Result<()>> {
        Box::pin(async { Err(rustango_cache::CacheError::ZeroTtl) })
    }
}

#[tokio::test]
async fn a_failing_store_passes_requests_through() {
    let runs = counter();
    let client = TestClient::new(app(
        IdempotencyLayer::new(Arc::new(DownStore)),
        runs.clone(),
    ));
    for n in 1..=2 {
        let r = client
            .post("/charges")
            .header("idempotency-key", "k")
            .body("x")
            .send()
            .await;
        assert_eq!(r.status, 201);
        assert_eq!(r.text(), format!("run {n}: POST x"));
    }
}

#[cfg(feature = "__test-redis")]
mod redis_store {
    use rustango_cache::KeyTtl;
    use rustango_cache::redis_backend::RedisCache;

    use super::*;

    fn redis_url() -> String {
        std::env::var("REDIS_URL").unwrap_or_else(|_| {
            panic!(
                "REDIS_URL is not set: the Redis tests need a server (e.g. redis://127.0.0.1:6379)"
            )
        })
    }

    async fn redis_store() -> BoxedCache {
        Arc::new(
            RedisCache::new(&redis_url())
                .await
                .expect("cannot connect to REDIS_URL"),
        )
    }

    #[tokio::test]
    async fn redis_two_instances_share_keys() {
        let runs = counter();
        let prefix = format!(
            "rustango-test:idempotency:{}:",
            uuid::Uuid::new_v4().simple()
        );
        // Two app instances, each with its own connection, sharing one Redis.
        let layer_a = IdempotencyLayer::new(redis_store().await)
            .key_prefix(prefix.clone())
            .ttl(Duration::from_secs(30));
        let layer_b = IdempotencyLayer::new(redis_store().await)
            .key_prefix(prefix.clone())
            .ttl(Duration::from_secs(30));
        let storage_key = layer_a.storage_key(None, "shared");
        let a = TestClient::new(app(layer_a, runs.clone()));
        let b = TestClient::new(app(layer_b, runs.clone()));

        let first = a
            .post("/charges")
            .header("idempotency-key", "shared")
            .body("10 EUR")
            .send()
            .await;
        assert_eq!(first.status, 201);
        assert_eq!(first.header("idempotent-replayed"), None);

        let replay = b
            .post("/charges")
            .header("idempotency-key", "shared")
            .body("10 EUR")
            .send()
            .await;
        assert_eq!(replay.status, 201);
        assert_eq!(replay.body, first.body);
        assert_eq!(replay.header("idempotent-replayed"), Some("true"));
        assert_eq!(replay.header("set-cookie"), None);

        let mismatch = b
            .post("/charges")
            .header("idempotency-key", "shared")
            .body("99 EUR")
            .send()
            .await;
        assert_eq!(mismatch.status, 422);
        assert_eq!(runs.load(Ordering::SeqCst), 1);

        // The stored record expires.
        let inspect = redis_store().await;
        match inspect.ttl(&storage_key).await.unwrap() {
            KeyTtl::ExpiresIn(left) => {
                assert!(left <= Duration::from_secs(30) && left > Duration::from_secs(20));
            }
            other => panic!("the stored key should expire, got {other:?}"),
        }
        inspect.delete(&storage_key).await.unwrap();
    }

    #[tokio::test]
    async fn redis_in_flight_claim_has_the_lock_ttl_and_blocks_the_other_instance() {
        let runs = counter();
        let prefix = format!(
            "rustango-test:idempotency:{}:",
            uuid::Uuid::new_v4().simple()
        );
        let layer_a = IdempotencyLayer::new(redis_store().await)
            .key_prefix(prefix.clone())
            .lock_ttl(Duration::from_secs(10));
        let layer_b = IdempotencyLayer::new(redis_store().await).key_prefix(prefix.clone());
        let storage_key = layer_a.storage_key(None, "busy");
        let (app_a, started, finish) = slow_app(layer_a, runs.clone());
        let (app_b, _, _) = slow_app(layer_b, runs.clone());
        let a = TestClient::new(app_a);
        let b = TestClient::new(app_b);

        let first = tokio::spawn({
            let a = a.clone();
            async move {
                a.post("/slow")
                    .header("idempotency-key", "busy")
                    .body("x")
                    .send()
                    .await
            }
        });
        started.notified().await;

        let inspect = redis_store().await;
        match inspect.ttl(&storage_key).await.unwrap() {
            KeyTtl::ExpiresIn(left) => assert!(left <= Duration::from_secs(10)),
            other => panic!("the claim should expire, got {other:?}"),
        }
        let duplicate = b
            .post("/slow")
            .header("idempotency-key", "busy")
            .body("x")
            .send()
            .await;
        assert_eq!(duplicate.status, 409);

        finish.notify_one();
        assert_eq!(first.await.unwrap().status, 201);
        // Now stored with the full TTL (24 h by default).
        match inspect.ttl(&storage_key).await.unwrap() {
            KeyTtl::ExpiresIn(left) => assert!(left > Duration::from_secs(60 * 60)),
            other => panic!("the stored key should expire, got {other:?}"),
        }
        let replay = b
            .post("/slow")
            .header("idempotency-key", "busy")
            .body("x")
            .send()
            .await;
        assert_eq!(replay.header("idempotent-replayed"), Some("true"));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        inspect.delete(&storage_key).await.unwrap();
    }
}

#[tokio::test]
async fn a_full_in_memory_store_degrades_to_at_least_once_never_to_a_500() {
    // Room for about one stored response: clients choose keys, memory stays bounded.
    let store = Arc::new(InMemoryCache::new().max_bytes(600));
    let runs = counter();
    let client = TestClient::new(app(IdempotencyLayer::new(store.clone()), runs.clone()));
    let post = |key: String| {
        client
            .post("/charges")
            .header("idempotency-key", key)
            .body("10 EUR")
            .send()
    };
    assert_eq!(post("first".into()).await.status, 201);
    for i in 0..20 {
        let response = post(format!("spray-{i}")).await;
        // Served by the handler, without idempotency once the store is full.
        assert_eq!(response.status, 201, "{}", response.text());
        assert_eq!(response.header("idempotent-replayed"), None);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 21);
    assert!(store.stored_bytes() <= 600, "{}", store.stored_bytes());
    // The response stored before the store filled up is still replayed.
    let again = post("first".into()).await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.text(), "run 1: POST 10 EUR");
    assert_eq!(runs.load(Ordering::SeqCst), 21);
    // A key that found the store full was not kept: its retry runs the handler again.
    let retry = post("spray-19".into()).await;
    assert_eq!(retry.header("idempotent-replayed"), None);
    assert_eq!(runs.load(Ordering::SeqCst), 22);
}
