//! `RateLimitLayer` through the test client, with different peer addresses.
//!
//! The Redis test (compiled with the crate feature `__test-redis`) needs `REDIS_URL`:
//! `REDIS_URL=redis://127.0.0.1:6379 cargo test -p rustango-middleware --features
//! __test-redis --test rate_limit redis`. It fails, never skips, without it.
#![cfg(feature = "rate-limit")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use futures_util::future::BoxFuture;
use rustango_cache::{BoxedCache, Cache, CacheError, KeyTtl, LockGuard};
use rustango_http::test_client::{TestClient, TestResponse};
use rustango_middleware::rate_limit::RateLimitLayer;
use rustango_middleware::real_ip::{CidrError, ForwardedHeader, TrustedProxies};

/// An hour: windows are aligned to the epoch, so a test must not straddle a boundary.
const WINDOW: Duration = Duration::from_secs(3600);

/// Waits for the next window if the current one ends within a few seconds, so the
/// counts a test sees all fall into one window.
async fn away_from_window_edge(window: Duration) {
    let window_ms = window.as_millis();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let left = window_ms - now_ms % window_ms;
    if left < 5_000 {
        tokio::time::sleep(Duration::from_millis(left as u64 + 50)).await;
    }
}

fn app(layer: RateLimitLayer) -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(layer)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

async fn get_from(client: &TestClient, peer: &str) -> TestResponse {
    client.get("/").peer_addr(addr(peer)).send().await
}

async fn get_via(client: &TestClient, peer: &str, xff: &str) -> TestResponse {
    client
        .get("/")
        .peer_addr(addr(peer))
        .header("x-forwarded-for", xff)
        .send()
        .await
}

/// `r` and `t` of a `RateLimit` header.
fn remaining_and_reset(response: &TestResponse) -> (u64, u64) {
    let value = response.header("ratelimit").expect("a RateLimit header");
    let rest = value
        .strip_prefix("\"default\";r=")
        .unwrap_or_else(|| panic!("unexpected RateLimit header {value:?}"));
    let (r, t) = rest.split_once(";t=").expect("a t parameter");
    (r.parse().unwrap(), t.parse().unwrap())
}

#[tokio::test]
async fn limit_is_enforced_per_ip_with_counting_down_headers() {
    away_from_window_edge(WINDOW).await;
    let client = TestClient::new(app(RateLimitLayer::per_ip(3, WINDOW)));

    for expected_remaining in [2, 1, 0] {
        let response = get_from(&client, "192.0.2.1:1000").await;
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "ok");
        assert_eq!(
            response.header("ratelimit-policy"),
            Some("\"default\";q=3;w=3600")
        );
        let (remaining, reset) = remaining_and_reset(&response);
        assert_eq!(remaining, expected_remaining);
        assert!((1..=3600).contains(&reset), "t={reset}");
    }

    let refused = get_from(&client, "192.0.2.1:2000").await; // another port, same client
    assert_eq!(refused.status, 429);
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=3600).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some("\"default\";q=3;w=3600")
    );
    let (remaining, reset) = remaining_and_reset(&refused);
    assert_eq!(remaining, 0);
    assert_eq!(reset, retry_after);
    let problem = refused.problem();
    assert_eq!(problem.status(), 429);
    assert!(problem.detail().is_some());
}

#[tokio::test]
async fn two_ips_are_independent() {
    away_from_window_edge(WINDOW).await;
    let client = TestClient::new(app(RateLimitLayer::per_ip(2, WINDOW)));
    for _ in 0..2 {
        assert_eq!(get_from(&client, "192.0.2.1:1").await.status, 200);
    }
    assert_eq!(get_from(&client, "192.0.2.1:1").await.status, 429);
    // Another IPv4 client and an IPv6 client still have their whole quota.
    for peer in ["192.0.2.2:1", "[2001:db8::1]:1"] {
        let response = get_from(&client, peer).await;
        assert_eq!(response.status, 200, "{peer}");
        assert_eq!(remaining_and_reset(&response).0, 1);
    }
}

#[tokio::test]
async fn ipv6_clients_share_their_64() {
    away_from_window_edge(WINDOW).await;
    let client = TestClient::new(app(RateLimitLayer::per_ip(2, WINDOW)));
    // Two addresses of one /64: one quota.
    assert_eq!(get_from(&client, "[2001:db8:0:1::1]:1").await.status, 200);
    assert_eq!(
        get_from(&client, "[2001:db8:0:1:ffff::2]:1").await.status,
        200
    );
    assert_eq!(get_from(&client, "[2001:db8:0:1::3]:1").await.status, 429);
    // The next /64 is another client.
    assert_eq!(get_from(&client, "[2001:db8:0:2::1]:1").await.status, 200);
}

#[tokio::test]
async fn spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    away_from_window_edge(WINDOW).await;
    let client = TestClient::new(app(RateLimitLayer::per_ip(2, WINDOW).trusted_proxies(
        TrustedProxies::parse(["10.0.0.0/8"]).expect("valid proxy networks"),
    )));
    // A new forged address every time does not buy a new quota.
    let statuses = [
        get_via(&client, "203.0.113.9:1", "1.1.1.1").await.status,
        get_via(&client, "203.0.113.9:1", "2.2.2.2").await.status,
        get_via(&client, "203.0.113.9:1", "3.3.3.3, 10.0.0.1")
            .await
            .status,
    ];
    assert_eq!(statuses, [200, 200, 429]);
}

#[tokio::test]
async fn trusted_proxy_chain_is_honoured() {
    away_from_window_edge(WINDOW).await;
    let client = TestClient::new(app(RateLimitLayer::per_ip(1, WINDOW)
        .trusted_proxies(TrustedProxies::parse(["10.0.0.0/8", "fd00::/8"]).unwrap())));
    let balancer = "10.0.0.1:40000";
    // Two clients behind the same balancer (and an inner proxy) are counted apart.
    assert_eq!(
        get_via(&client, balancer, "198.51.100.1, 10.0.0.2")
            .await
            .status,
        200
    );
    assert_eq!(
        get_via(&client, balancer, "198.51.100.2, 10.0.0.2")
            .await
            .status,
        200
    );
    // Whatever a client prepends, the address the trusted hop saw is the one counted.
    assert_eq!(
        get_via(&client, balancer, "7.7.7.7, 198.51.100.1, 10.0.0.2")
            .await
            .status,
        429
    );
    // IPv6 hops.
    assert_eq!(
        get_via(&client, "[fd00::1]:1", "2001:db8::5, [fd00::2]:443")
            .await
            .status,
        200
    );
    assert_eq!(
        get_via(&client, "[fd00::1]:1", "2001:db8::5").await.status,
        429
    );
}

#[tokio::test]
async fn rfc7239_forwarded_header_when_configured() {
    away_from_window_edge(WINDOW).await;
    let client = TestClient::new(app(RateLimitLayer::per_ip(1, WINDOW).trusted_proxies(
        TrustedProxies::parse(["10.0.0.0/8"])
            .unwrap()
            .forwarded_header(ForwardedHeader::Forwarded),
    )));
    let send = |forwarded: &'static str| {
        let client = client.clone();
        async move {
            client
                .get("/")
                .peer_addr(addr("10.0.0.1:1"))
                .header("forwarded", forwarded)
                .send()
                .await
                .status
        }
    };
    assert_eq!(send("for=198.51.100.1;proto=https").await, 200);
    assert_eq!(send("for=\"[2001:db8::1]:4711\"").await, 200);
    assert_eq!(send("for=1.1.1.1, for=198.51.100.1").await, 429);
}

#[tokio::test]
async fn malformed_or_huge_forwarded_for_is_never_a_500() {
    away_from_window_edge(WINDOW).await;
    let client = TestClient::new(app(RateLimitLayer::per_ip(1000, WINDOW)
        .trusted_proxies(TrustedProxies::parse(["10.0.0.0/8"]).unwrap())));
    let huge_trusted = "10.1.2.3, ".repeat(10_000) + "10.1.2.3";
    let huge_untrusted = "198.51.100.1, ".repeat(10_000) + "garbage";
    let bad: Vec<&str> = vec![
        "garbage",
        "",
        ",,,",
        "1.2.3.4:99999",
        "[::1",
        "[zz::1]:80",
        "unknown",
        "1.2.3.4 5.6.7.8",
        "198.51.100.1, caf\u{e9}", // not ASCII: unreadable as text
        &huge_trusted,
        &huge_untrusted,
    ];
    for xff in bad {
        let response = get_via(&client, "10.0.0.1:1", xff).await;
        assert_eq!(response.status, 200, "X-Forwarded-For {:.40?}", xff);
    }
    // Every malformed chain fell back to the peer: one bucket for all of them, except
    // the all-trusted chain, which counts its leftmost hop.
    let response = get_from(&client, "10.0.0.1:1").await;
    let (remaining, _) = remaining_and_reset(&response);
    assert_eq!(remaining, 1000 - 10 - 1);
}

#[tokio::test]
async fn per_user_limits_users_apart_and_anonymous_requests_per_ip() {
    away_from_window_edge(WINDOW).await;
    // The user id as an auth layer would leave it; a header keeps the test short.
    let layer = RateLimitLayer::per_user(1, WINDOW, |parts| {
        parts
            .headers
            .get("x-user")?
            .to_str()
            .ok()
            .map(str::to_owned)
    });
    let client = TestClient::new(app(layer));
    let as_user = |user: &'static str, peer: &'static str| {
        let client = client.clone();
        async move {
            client
                .get("/")
                .peer_addr(addr(peer))
                .header("x-user", user)
                .send()
                .await
                .status
        }
    };
    assert_eq!(as_user("alice", "192.0.2.1:1").await, 200);
    // Changing address does not reset a user's quota.
    assert_eq!(as_user("alice", "192.0.2.2:1").await, 429);
    assert_eq!(as_user("bob", "192.0.2.1:1").await, 200);
    // Anonymous requests are counted per address.
    assert_eq!(get_from(&client, "192.0.2.1:1").await.status, 200);
    assert_eq!(get_from(&client, "192.0.2.1:1").await.status, 429);
    assert_eq!(get_from(&client, "192.0.2.3:1").await.status, 200);
}

#[tokio::test]
async fn per_key_leaves_keyless_requests_alone() {
    away_from_window_edge(WINDOW).await;
    let layer = RateLimitLayer::per_key(1, WINDOW, |parts| {
        let key = parts.headers.get("x-api-key")?.to_str().ok()?;
        Some(key.to_owned())
    })
    .key_prefix("test:");
    let client = TestClient::new(app(layer));
    for _ in 0..3 {
        let response = get_from(&client, "192.0.2.1:1").await;
        assert_eq!(response.status, 200);
        assert!(response.header("ratelimit").is_none());
    }
    let with_key = |key: &'static str| {
        let client = client.clone();
        async move { client.get("/").header("x-api-key", key).send().await.status }
    };
    assert_eq!(with_key("k1").await, 200);
    assert_eq!(with_key("k1").await, 429);
    assert_eq!(with_key("k2").await, 200);
}

/// A store whose every operation fails, like Redis during an outage.
struct DownCache;

fn down<T: Send + 'static>() -> BoxFuture<'static, rustango_cache::Result<T>> {
    Box::pin(async {
        Err(CacheError::Connection {
            source: Box::new(std::io::Error::other("connection refused")),
        })
    })
}

impl Cache for DownCache {
    fn get_bytes<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, rustango_cache::Result<Option<Vec<u8>>>> {
        down()
    }
    fn set_bytes<'a>(
        &'a self,
        _: &'a str,
        _: &'a [u8],
        _: Option<Duration>,
    ) -> BoxFuture<'a, rustango_cache::Result<()>> {
        down()
    }
    fn delete<'a>(&'a self, _: &'a str) -> BoxFuture<'a, rustango_cache::Result<bool>> {
        down()
    }
    fn exists<'a>(&'a self, _: &'a str) -> BoxFuture<'a, rustango_cache::Result<bool>> {
        down()
    }
    fn ttl<'a>(&'a self, _: &'a str) -> BoxFuture<'a, rustango_cache::Result<KeyTtl>> {
        down()
    }
    fn incr<'a>(
        &'a self,
        _: &'a str,
        _: i64,
        _: Duration,
    ) -> BoxFuture<'a, rustango_cache::Result<i64>> {
        down()
    }
    fn set_if_absent<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Option<Duration>,
    ) -> BoxFuture<'a, rustango_cache::Result<bool>> {
        down()
    }
    fn try_lock<'a>(
        &'a self,
        _: &'a str,
        _: Duration,
    ) -> BoxFuture<'a, rustango_cache::Result<Option<LockGuard>>> {
        down()
    }
    fn unlock<'a>(&'a self, _: LockGuard) -> BoxFuture<'a, rustango_cache::Result<bool>> {
        down()
    }
    fn clear(&self) -> BoxFuture<'_, rustango_cache::Result<()>> {
        down()
    }
}

#[tokio::test]
async fn a_failing_store_fails_open_by_default() {
    let store: BoxedCache = Arc::new(DownCache);
    let client = TestClient::new(app(RateLimitLayer::per_ip(1, WINDOW).store(store)));
    for _ in 0..3 {
        let response = get_from(&client, "192.0.2.1:1").await;
        assert_eq!(response.status, 200);
        assert_eq!(
            response.header("ratelimit-policy"),
            Some("\"default\";q=1;w=3600")
        );
        assert!(response.header("ratelimit").is_none());
    }
}

#[tokio::test]
async fn a_failing_store_can_fail_closed_with_a_503_problem() {
    let store: BoxedCache = Arc::new(DownCache);
    let client = TestClient::new(app(RateLimitLayer::per_ip(1, WINDOW)
        .store(store)
        .fail_closed()));
    let response = get_from(&client, "192.0.2.1:1").await;
    assert_eq!(response.status, 503);
    assert_eq!(response.problem().status(), 503);
}

#[test]
fn invalid_cidr_in_config_is_a_typed_error() {
    let err = TrustedProxies::parse(["10.0.0.0/8", "10.0.0.0/33"]).unwrap_err();
    assert_eq!(
        err,
        CidrError::InvalidPrefixLength {
            input: "10.0.0.0/33".into(),
            max: 32
        }
    );
    assert!(err.to_string().contains("10.0.0.0/33"));
    let err = TrustedProxies::parse(["::1/128", "localhost"]).unwrap_err();
    assert!(matches!(err, CidrError::InvalidAddress { ref input } if input == "localhost"));
}

/// Two instances of the app, each with its own connection to the same Redis, admit no
/// more than the limit between them, and every counter key expires.
#[cfg(feature = "__test-redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_two_instances_share_one_limit() {
    use rustango_cache::redis_backend::{RedisCache, redis};

    let url = std::env::var("REDIS_URL").expect(
        "REDIS_URL is not set: the Redis suite needs a server \
         (e.g. REDIS_URL=redis://127.0.0.1:6379, or run `cargo xtask test-redis`)",
    );
    let prefix = format!("rustango-test:{}:", uuid::Uuid::new_v4().simple());
    let connect = || async {
        RedisCache::new(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to Redis at {url}: {e}"))
            .with_prefix(prefix.clone())
    };
    let (store_a, store_b) = (connect().await, connect().await);

    const LIMIT: u64 = 5;
    away_from_window_edge(WINDOW).await;
    let instance = |store: RedisCache| {
        let store: BoxedCache = Arc::new(store);
        TestClient::new(app(RateLimitLayer::per_ip(LIMIT, WINDOW).store(store)))
            .with_peer_addr(addr("192.0.2.77:1"))
    };
    let (a, b) = (instance(store_a.clone()), instance(store_b));

    let requests: Vec<_> = (0..3 * LIMIT)
        .map(|i| {
            let client = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { client.get("/").send().await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    let admitted = statuses.iter().filter(|&&s| s == 200).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!(admitted as u64, LIMIT, "statuses: {statuses:?}");
    assert_eq!(refused as u64, 2 * LIMIT, "statuses: {statuses:?}");

    let mut conn = store_a.connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty(), "no rate-limit key under {prefix}");
    for key in &keys {
        let pttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(pttl > 0, "{key} has PTTL {pttl}");
        assert!(pttl <= 3_600_000, "{key} has PTTL {pttl}");
    }
    store_a.clear().await.unwrap();
}
