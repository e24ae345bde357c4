//! [`RateLimitLayer`]: at most `n` requests per window, per client address, per user
//! or per any key (cargo feature `rate-limit`).
//!
//! Counting is a fixed window ([`rustango_cache::fixed_window`]): one atomic
//! increment of a counter that expires with its window. By default the counters live
//! in the process, shared by the clones of one layer (a map from client key to the
//! current window's count, checked synchronously, with nothing allocated per request
//! for a per-IP limit; user ids and keys are held as a keyed 128-bit hash, and the map
//! holds at most [`MAX_LOCAL_KEYS`] keys); give every instance of the app the same
//! Redis store (`rustango_cache::redis_backend::RedisCache`, cargo feature `redis`)
//! and the limit holds across all of them. Windows are aligned to the Unix epoch and
//! counters never outlive their window, so no key is left without an expiry. Up to
//! `2 * n` requests can pass around a window boundary; that is the price of one round
//! trip per request.
//!
//! Every limited response carries the IETF draft headers
//! (`draft-ietf-httpapi-ratelimit-headers`):
//!
//! ```text
//! RateLimit-Policy: "default";q=100;w=60
//! RateLimit: "default";r=42;t=17
//! ```
//!
//! (`q` the quota, `w` the window in seconds, `r` the requests left, `t` the seconds
//! until the window resets). A request over the limit gets a `429 Too Many Requests`
//! problem with `Retry-After: <t>` and never reaches the inner service.
//!
//! If the store fails (Redis down), requests are let through with a `tracing`
//! warning (at most one per 10 seconds) and only the `RateLimit-Policy` header (*fail open*: a broken limiter does
//! not take the site down). [`fail_closed`](RateLimitLayer::fail_closed) refuses them
//! with a 503 problem instead.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Duration;
//!
//! use axum::{Router, routing::get};
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::rate_limit::RateLimitLayer;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = Router::new()
//!     .route("/", get(|| async { "hi" }))
//!     .layer(RateLimitLayer::per_ip(2, Duration::from_secs(3600)));
//! let client = TestClient::new(app).with_peer_addr("192.0.2.1:5000".parse::<SocketAddr>()?);
//!
//! let first = client.get("/").send().await;
//! assert_eq!(first.status, 200);
//! assert_eq!(first.header("ratelimit-policy"), Some("\"default\";q=2;w=3600"));
//! assert!(first.header("ratelimit").unwrap().starts_with("\"default\";r=1;t="));
//!
//! assert_eq!(client.get("/").send().await.status, 200);
//! let refused = client.get("/").send().await;
//! assert_eq!(refused.status, 429);
//! assert!(refused.header("retry-after").unwrap().parse::<u64>()? >= 1);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher as _, Hasher as _, RandomState};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::{IntoResponse, Response};
use http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use http::request::Parts;
use http::{Request, StatusCode};
use rustango_cache::{BoxedCache, FixedWindow, fixed_window};
use rustango_http::Problem;
use tower::{Layer, Service};

use crate::future::{DecidedFuture, Finish};
use crate::real_ip::{self, TrustedProxies};

/// Store failures are logged once per 10 seconds, not once per request.
static STORE_FAILED: crate::log_throttle::LogThrottle = crate::log_throttle::LogThrottle::new();

/// The `RateLimit-Policy` header name (IETF draft).
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The `RateLimit` header name (IETF draft).
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// The key prefix used unless [`key_prefix`](RateLimitLayer::key_prefix) sets one.
pub const DEFAULT_KEY_PREFIX: &str = "ratelimit:";

type KeyFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

#[derive(Clone)]
enum KeyKind {
    /// The client address.
    Ip,
    /// The key function's value, else the client address.
    User(KeyFn),
    /// The key function's value, else no limit.
    Key(KeyFn),
}

/// Limits each client, user or key to `n` requests per window; see the
/// [module docs](self).
///
/// Built with [`per_ip`](Self::per_ip), [`per_user`](Self::per_user) or
/// [`per_key`](Self::per_key), then configured with [`store`](Self::store),
/// [`trusted_proxies`](Self::trusted_proxies), [`key_prefix`](Self::key_prefix) and
/// [`fail_closed`](Self::fail_closed). Clones (and the services made for every route)
/// share one store.
///
/// The window is counted in whole seconds: it is rounded up, to at least one second.
/// A limit of 0 refuses every request that has a key.
#[derive(Clone)]
pub struct RateLimitLayer {
    limit: u64,
    window: Duration,
    kind: KeyKind,
    store: Store,
    trusted: TrustedProxies,
    prefix: String,
    fail_closed: bool,
}

impl RateLimitLayer {
    fn new(limit: u64, window: Duration, kind: KeyKind) -> Self {
        Self {
            limit,
            window: Duration::from_secs(whole_secs(window)),
            kind,
            store: Store::Local(Arc::new(LocalCounters::default())),
            trusted: TrustedProxies::none(),
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            fail_closed: false,
        }
    }

    /// `limit` requests per `window` for each client address (see
    /// [`trusted_proxies`](Self::trusted_proxies) for clients behind proxies). IPv6
    /// clients are counted by their /64 network, which one subscriber (or attacker)
    /// holds whole; IPv4 clients by their address.
    pub fn per_ip(limit: u64, window: Duration) -> Self {
        Self::new(limit, window, KeyKind::Ip)
    }

    /// `limit` requests per `window` for each user, as named by `user`; requests it
    /// returns `None` for (anonymous ones) are limited per client address.
    ///
    /// `user` reads what authentication left on the request, typically an extension,
    /// so the authentication layer must run first (be added *after* this one with
    /// `Router::layer`). The value ends up in cache keys and logs: use an id, never a
    /// token.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rustango_middleware::rate_limit::RateLimitLayer;
    ///
    /// #[derive(Clone)]
    /// struct UserId(i64); // inserted by the auth middleware
    ///
    /// let layer = RateLimitLayer::per_user(1000, Duration::from_secs(3600), |parts| {
    ///     parts.extensions.get::<UserId>().map(|u| u.0.to_string())
    /// });
    /// ```
    pub fn per_user<F>(limit: u64, window: Duration, user: F) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    {
        Self::new(limit, window, KeyKind::User(Arc::new(user)))
    }

    /// `limit` requests per `window` for each value of `key`; requests it returns `None`
    /// for are not limited (and get no rate-limit headers).
    ///
    /// ```
    /// use std::time::Duration;
    /// use rustango_middleware::rate_limit::RateLimitLayer;
    ///
    /// // Ten login attempts a minute per account name; other requests are not limited.
    /// let layer = RateLimitLayer::per_key(10, Duration::from_secs(60), |parts| {
    ///     (parts.uri.path() == "/login")
    ///         .then(|| parts.headers.get("x-login")?.to_str().ok().map(str::to_owned))
    ///         .flatten()
    /// });
    /// ```
    pub fn per_key<F>(limit: u64, window: Duration, key: F) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    {
        Self::new(limit, window, KeyKind::Key(Arc::new(key)))
    }

    /// Counts in `store` instead of a private in-memory cache: a Redis cache shared by
    /// every instance of the app makes the limit hold across them.
    pub fn store(mut self, store: BoxedCache) -> Self {
        self.store = Store::Shared(store);
        self
    }

    /// Reads client addresses from the forwarding headers of these proxies (by default
    /// none is trusted and the peer address counts).
    pub fn trusted_proxies(mut self, trusted: TrustedProxies) -> Self {
        self.trusted = trusted;
        self
    }

    /// Starts every counter key with `prefix` (default [`DEFAULT_KEY_PREFIX`]); give
    /// each limit sharing a store its own prefix. Keys are
    /// `<prefix>ip:<address>:<window>`, `<prefix>user:<id>:<window>` and
    /// `<prefix>key:<SHA-256 of the key, hex>:<window>`.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Refuses requests with a `503 Service Unavailable` problem when the store fails,
    /// instead of letting them through (the default, *fail open*). Either way the error
    /// is logged.
    pub fn fail_closed(mut self) -> Self {
        self.fail_closed = true;
        self
    }

    /// The number of requests allowed per window.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The window (whole seconds).
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The counter's key in the process-local store (`None` if the request is not
    /// limited): the address itself for an IP, no string made; a keyed hash of a user
    /// id or key, so an entry stays small however long the id.
    fn local_key_for(&self, counters: &LocalCounters, parts: &Parts) -> Option<LocalKey> {
        let ip = || {
            client_bucket(real_ip::resolve(
                &parts.extensions,
                &parts.headers,
                &self.trusted,
            ))
        };
        Some(match &self.kind {
            KeyKind::Ip => LocalKey::Ip(ip()),
            KeyKind::User(user) => match user(parts) {
                Some(id) => counters.hashed(b'u', &id),
                None => LocalKey::Ip(ip()),
            },
            KeyKind::Key(key) => counters.hashed(b'k', &key(parts)?),
        })
    }

    /// The counter key for a request in a shared store, without the window number;
    /// `None` if the request is not limited. A free-form key (`per_key`: an API key, a
    /// login name) is stored as its SHA-256: of fixed length, and not readable by
    /// whoever can list the store's keys.
    fn key_for(&self, parts: &Parts) -> Option<String> {
        let ip = || {
            let bucket = client_bucket(real_ip::resolve(
                &parts.extensions,
                &parts.headers,
                &self.trusted,
            ));
            match bucket {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("{v6}/64"),
            }
        };
        let (kind, id) = match &self.kind {
            KeyKind::Ip => ("ip", ip()),
            KeyKind::User(user) => match user(parts) {
                Some(id) => ("user", id),
                None => ("ip", ip()),
            },
            KeyKind::Key(key) => ("key", sha256_hex(key(parts)?.as_bytes())),
        };
        Some(format!("{}{kind}:{id}", self.prefix))
    }
}

impl fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            KeyKind::Ip => "per_ip",
            KeyKind::User(_) => "per_user",
            KeyKind::Key(_) => "per_key",
        };
        f.debug_struct("RateLimitLayer")
            .field("kind", &kind)
            .field("limit", &self.limit)
            .field("window", &self.window)
            .field("trusted", &self.trusted)
            .field("prefix", &self.prefix)
            .field("fail_closed", &self.fail_closed)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let policy = header_value(format!(
            "\"default\";q={};w={}",
            self.limit,
            self.window.as_secs()
        ));
        RateLimit {
            inner,
            config: Arc::new(Config {
                layer: self.clone(),
                policy,
            }),
        }
    }
}

struct Config {
    layer: RateLimitLayer,
    /// The `RateLimit-Policy` value, made once.
    policy: HeaderValue,
}

/// The service made by [`RateLimitLayer`].
pub struct RateLimit<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S: Clone> Clone for RateLimit<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for RateLimit<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("layer", &self.config.layer)
            .finish()
    }
}

impl<S, B> Service<Request<B>> for RateLimit<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let layer = &self.config.layer;
        if let Store::Local(counters) = &layer.store {
            // In-process counters: the verdict is known now, so nothing waits and the
            // inner service is called directly.
            let Some(key) = layer.local_key_for(counters, &parts) else {
                return DecidedFuture::passthrough(
                    self.inner.call(Request::from_parts(parts, body)),
                );
            };
            let hit = counters.hit(key, layer.limit, layer.window);
            let state = self.config.state(&hit);
            let policy = self.config.policy.clone();
            if !hit.allowed {
                tracing::debug!("rate limit exceeded");
                let mut response =
                    Problem::too_many_requests(whole_secs(hit.reset_after)).into_response();
                set_headers(&mut response, policy, state);
                return DecidedFuture::answer(response);
            }
            let future = self.inner.call(Request::from_parts(parts, body));
            return DecidedFuture::inner(
                future,
                Finish::Headers([(RATELIMIT_POLICY, policy), (RATELIMIT, state)]),
            );
        }

        let key = layer.key_for(&parts);
        let req = Request::from_parts(parts, body);
        let Some(key) = key else {
            return DecidedFuture::passthrough(self.inner.call(req));
        };
        // The clone is not ready; the service that was polled ready handles this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        DecidedFuture::waiting(Box::pin(async move {
            let layer = &config.layer;
            let Store::Shared(store) = &layer.store else {
                unreachable!("the local store is handled above")
            };
            match fixed_window(&**store, &key, layer.limit, layer.window).await {
                Ok(hit) => {
                    let hit = Hit::from(&hit);
                    let state = config.state(&hit);
                    let mut response = if hit.allowed {
                        inner.call(req).await?
                    } else {
                        // The key is not logged: it may be an API key or a login.
                        tracing::debug!("rate limit exceeded");
                        Problem::too_many_requests(whole_secs(hit.reset_after)).into_response()
                    };
                    set_headers(&mut response, config.policy.clone(), state);
                    Ok(response)
                }
                Err(err) if layer.fail_closed => {
                    if STORE_FAILED.admit() {
                        tracing::error!(
                            error = &err as &dyn std::error::Error,
                            "rate-limit store failed; refusing requests (fail closed)"
                        );
                    }
                    Ok(Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                        .with_detail("The service is temporarily unavailable.")
                        .with_header(RETRY_AFTER, HeaderValue::from(1u64))
                        .into_response())
                }
                Err(err) => {
                    if STORE_FAILED.admit() {
                        tracing::warn!(
                            error = &err as &dyn std::error::Error,
                            "rate-limit store failed; letting requests through (fail open)"
                        );
                    }
                    let mut response = inner.call(req).await?;
                    response
                        .headers_mut()
                        .insert(RATELIMIT_POLICY, config.policy.clone());
                    Ok(response)
                }
            }
        }))
    }
}

impl Config {
    /// The `RateLimit` header for one hit.
    fn state(&self, hit: &Hit) -> HeaderValue {
        let mut value = Vec::with_capacity(48);
        value.extend_from_slice(b"\"default\";r=");
        push_decimal(&mut value, hit.remaining);
        value.extend_from_slice(b";t=");
        push_decimal(&mut value, whole_secs(hit.reset_after));
        HeaderValue::from_maybe_shared(bytes::Bytes::from(value))
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// Appends `n` in decimal (without the formatting machinery on every response).
fn push_decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn set_headers(response: &mut Response, policy: HeaderValue, state: HeaderValue) {
    let headers = response.headers_mut();
    headers.insert(RATELIMIT_POLICY, policy);
    headers.insert(RATELIMIT, state);
}

/// The address a client is counted under: an IPv4 address itself (IPv4-mapped IPv6
/// included), an IPv6 address's /64 network. One subscriber, or one attacker, gets a
/// whole /64 and could otherwise spread over 2^64 counters.
fn client_bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(std::net::Ipv6Addr::from(network))
        }
        v4 => v4,
    }
}

/// One counted request: its verdict and what the headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hit {
    allowed: bool,
    remaining: u64,
    reset_after: Duration,
}

impl Hit {
    /// The `count`th hit of a window that resets in `reset_ms`.
    fn new(count: u64, limit: u64, reset_ms: u64) -> Hit {
        Hit {
            allowed: count <= limit,
            remaining: limit.saturating_sub(count),
            reset_after: Duration::from_millis(reset_ms),
        }
    }
}

impl From<&FixedWindow> for Hit {
    fn from(hit: &FixedWindow) -> Hit {
        Hit {
            allowed: hit.allowed,
            remaining: hit.remaining(),
            reset_after: hit.reset_after,
        }
    }
}

/// Where the counts live.
#[derive(Clone)]
enum Store {
    /// In this process, for the clones of one layer.
    Local(Arc<LocalCounters>),
    /// A cache, possibly shared with other instances (Redis).
    Shared(BoxedCache),
}

/// A client's key in the process-local store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum LocalKey {
    Ip(IpAddr),
    /// A user id or a free-form key, as a 128-bit hash keyed with this process's
    /// random keys (a client cannot aim a collision at another's counter).
    Hashed(u128),
    /// One of the [`OVERFLOW_COUNTERS`] of a full store.
    Overflow(u16),
}

/// The most keys the process-local store holds (about 50 MB). Past that, a key first
/// seen in the current window is counted, until the window ends, in one of
/// [`OVERFLOW_COUNTERS`] counters shared by such keys (chosen by the key's hash):
/// clients spraying made-up keys cannot grow the map without bound, keys already
/// counted keep their own limit, and the keys crowded out are limited too strictly
/// rather than not at all.
pub const MAX_LOCAL_KEYS: usize = 500_000;

/// The shared counters of keys that found the process-local store full.
pub const OVERFLOW_COUNTERS: u16 = 4096;

/// The in-process fixed windows: per key, the current window's number and count.
/// Stale windows are swept out as new keys arrive, so memory follows the clients of
/// the current window, up to [`MAX_LOCAL_KEYS`].
struct LocalCounters {
    state: Mutex<LocalState>,
    /// Two independently keyed SipHash states: 128 bits for [`LocalKey::Hashed`].
    hashers: (RandomState, RandomState),
    max_keys: usize,
}

impl Default for LocalCounters {
    fn default() -> Self {
        LocalCounters::with_max_keys(MAX_LOCAL_KEYS)
    }
}

#[derive(Default)]
struct LocalState {
    counts: HashMap<LocalKey, (u64, u64)>,
    inserts_since_sweep: usize,
    /// The window in which the full map was last swept (a full map is swept once per
    /// window, not on every new key).
    full_swept_in: Option<u64>,
    /// The window in which the "full" warning was last logged.
    full_warned_in: Option<u64>,
}

impl LocalCounters {
    fn with_max_keys(max_keys: usize) -> Self {
        LocalCounters {
            state: Mutex::default(),
            hashers: (RandomState::new(), RandomState::new()),
            max_keys,
        }
    }

    /// The key for the id `id` of kind `kind` (`u`ser or `k`ey).
    fn hashed(&self, kind: u8, id: &str) -> LocalKey {
        let half = |state: &RandomState| {
            let mut hasher = state.build_hasher();
            hasher.write_u8(kind);
            hasher.write(id.as_bytes());
            hasher.finish()
        };
        LocalKey::Hashed(
            u128::from(half(&self.hashers.0)) << 64 | u128::from(half(&self.hashers.1)),
        )
    }

    fn hit(&self, key: LocalKey, limit: u64, window: Duration) -> Hit {
        self.hit_at(key, limit, window, SystemTime::now())
    }

    fn hit_at(&self, key: LocalKey, limit: u64, window: Duration, now: SystemTime) -> Hit {
        // Windows aligned to the Unix epoch, as `fixed_window` aligns them.
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let now_ms = u64::try_from(
            now.duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(u64::MAX);
        let index = now_ms / window_ms;
        let reset_ms = (index + 1).saturating_mul(window_ms).saturating_sub(now_ms);
        let count = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            match state.counts.get_mut(&key) {
                Some(slot) if slot.0 == index => {
                    slot.1 = slot.1.saturating_add(1);
                    slot.1
                }
                Some(slot) => {
                    *slot = (index, 1);
                    1
                }
                None => {
                    state.inserts_since_sweep += 1;
                    let full = state.counts.len() >= self.max_keys;
                    if (full && state.full_swept_in != Some(index))
                        || state.inserts_since_sweep >= state.counts.len().max(1024)
                    {
                        state.counts.retain(|_, slot| slot.0 == index);
                        state.inserts_since_sweep = 0;
                        if full {
                            state.full_swept_in = Some(index);
                        }
                    }
                    if state.counts.len() < self.max_keys {
                        state.counts.insert(key, (index, 1));
                        return Hit::new(1, limit, reset_ms);
                    }
                    if state.full_warned_in != Some(index) {
                        state.full_warned_in = Some(index);
                        tracing::warn!(
                            keys = state.counts.len(),
                            "rate limit: the in-process store is full for this window; \
                             new clients share {OVERFLOW_COUNTERS} counters until it ends"
                        );
                    }
                    let overflow = state
                        .counts
                        .entry(self.overflow(&key))
                        .or_insert((index, 0));
                    if overflow.0 != index {
                        *overflow = (index, 0);
                    }
                    overflow.1 = overflow.1.saturating_add(1);
                    overflow.1
                }
            }
        };
        Hit::new(count, limit, reset_ms)
    }

    /// The overflow counter of `key`.
    fn overflow(&self, key: &LocalKey) -> LocalKey {
        let bucket = self.hashers.0.hash_one(key) % u64::from(OVERFLOW_COUNTERS);
        LocalKey::Overflow(u16::try_from(bucket).unwrap_or_default())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .counts
            .len()
    }
}

/// The SHA-256 of `bytes` in lower-case hex.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    rustango_crypto::hex_encode(&sha2::Sha256::digest(bytes))
}

/// The response future of the rate limiter.
pub type ResponseFuture<F, E> = DecidedFuture<F, E>;

/// Whole seconds, rounded up, at least 1.
fn whole_secs(d: Duration) -> u64 {
    d.as_secs()
        .saturating_add(u64::from(d.subsec_nanos() > 0))
        .max(1)
}

/// A header value made of ASCII digits, letters, quotes and `;=`: always valid.
fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

crate::router_ext! {
    /// Limits requests per client, user or key.
    RateLimitRouterExt::rate_limit(RateLimitLayer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_round_up_to_whole_seconds() {
        let layer = RateLimitLayer::per_ip(1, Duration::from_millis(1500));
        assert_eq!(layer.window(), Duration::from_secs(2));
        let layer = RateLimitLayer::per_ip(1, Duration::ZERO);
        assert_eq!(layer.window(), Duration::from_secs(1));
        assert_eq!(whole_secs(Duration::from_millis(1)), 1);
        assert_eq!(whole_secs(Duration::from_secs(60)), 60);
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let v6 = |s: &str| client_bucket(s.parse().unwrap());
        assert_eq!(v6("2001:db8:1:2:aaaa::1"), v6("2001:db8:1:2:ffff:1:2:3"));
        assert_eq!(
            v6("2001:db8:1:2::9"),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_ne!(v6("2001:db8:1:2::1"), v6("2001:db8:1:3::1"));
        // IPv4, plain or mapped, is counted per address.
        assert_eq!(v6("192.0.2.7"), "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(
            v6("::ffff:192.0.2.7"),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
        assert_ne!(v6("192.0.2.7"), v6("192.0.2.8"));
    }

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 99, 1_000_000_007, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn local_windows_count_per_key_and_reset_on_the_epoch_grid() {
        let counters = LocalCounters::default();
        let window = Duration::from_secs(10);
        let a = || LocalKey::Ip("192.0.2.1".parse().unwrap());
        let b = || counters.hashed(b'u', "alice");
        // 3 s into a window: 7 s until it resets.
        let first = counters.hit_at(a(), 2, window, at(1_000_003_000));
        assert_eq!(
            first,
            Hit {
                allowed: true,
                remaining: 1,
                reset_after: Duration::from_secs(7)
            }
        );
        assert!(counters.hit_at(a(), 2, window, at(1_000_004_000)).allowed);
        let third = counters.hit_at(a(), 2, window, at(1_000_009_999));
        assert!(!third.allowed);
        assert_eq!(third.remaining, 0);
        assert_eq!(third.reset_after, Duration::from_millis(1));
        // Another key has its own count.
        assert!(counters.hit_at(b(), 2, window, at(1_000_009_999)).allowed);
        // The next window starts from zero.
        let next = counters.hit_at(a(), 2, window, at(1_000_010_000));
        assert!(next.allowed);
        assert_eq!(next.remaining, 1);
    }

    #[test]
    fn stale_windows_are_swept_as_new_keys_arrive() {
        let counters = LocalCounters::default();
        let window = Duration::from_secs(1);
        for i in 0..1000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            counters.hit_at(LocalKey::Ip(ip), 5, window, at(5_000));
        }
        assert_eq!(counters.len(), 1000);
        // A later window: the old keys go once enough new ones arrived.
        for i in 0..1100u32 {
            let ip = IpAddr::from((i + 1_000_000).to_be_bytes());
            counters.hit_at(LocalKey::Ip(ip), 5, window, at(9_000));
        }
        assert!(counters.len() < 2000, "{}", counters.len());
    }

    #[test]
    fn shared_store_keys_hide_free_form_keys() {
        let layer = RateLimitLayer::per_key(1, Duration::from_secs(60), |parts| {
            parts
                .headers
                .get("x-api-key")?
                .to_str()
                .ok()
                .map(str::to_owned)
        });
        let (parts, ()) = http::Request::builder()
            .header("x-api-key", "sk_live_secret")
            .body(())
            .unwrap()
            .into_parts();
        let key = layer.key_for(&parts).unwrap();
        assert_eq!(
            key,
            format!("{DEFAULT_KEY_PREFIX}key:{}", sha256_hex(b"sk_live_secret"))
        );
        assert!(!key.contains("secret"));
        // SHA-256 of "abc" (FIPS 180-2).
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hashed_keys_differ_by_kind_and_id() {
        let counters = LocalCounters::default();
        let long = "x".repeat(100_000);
        assert_eq!(counters.hashed(b'k', &long), counters.hashed(b'k', &long));
        assert_ne!(
            counters.hashed(b'k', "alice"),
            counters.hashed(b'u', "alice")
        );
        assert_ne!(
            counters.hashed(b'k', "alice"),
            counters.hashed(b'k', "alicf")
        );
        // Another process (other random keys) hashes differently.
        assert_ne!(
            counters.hashed(b'k', "alice"),
            LocalCounters::default().hashed(b'k', "alice")
        );
    }

    #[test]
    fn a_full_store_stops_growing_and_keeps_counting_known_keys() {
        let counters = LocalCounters::with_max_keys(100);
        let window = Duration::from_secs(10);
        let key = |i: u32| counters.hashed(b'k', &i.to_string());
        for i in 0..100 {
            counters.hit_at(key(i), 2, window, at(5_000));
        }
        assert_eq!(counters.len(), 100);
        // New keys in the same window share the overflow counters: the map grows by
        // those at most, and a new key is still limited.
        for i in 100..20_000 {
            counters.hit_at(key(i), 2, window, at(5_001));
        }
        assert!(
            counters.len() <= 100 + usize::from(OVERFLOW_COUNTERS),
            "{}",
            counters.len()
        );
        // (Its overflow counter may be shared with others or not, by hash: three hits
        // of its own are over the limit either way.)
        for _ in 0..2 {
            counters.hit_at(key(30_000), 2, window, at(5_001));
        }
        assert!(!counters.hit_at(key(30_000), 2, window, at(5_001)).allowed);
        // Known keys still reach their limit.
        assert!(counters.hit_at(key(7), 2, window, at(5_002)).allowed);
        assert!(!counters.hit_at(key(7), 2, window, at(5_003)).allowed);
        // The next window sweeps the old keys out and counts new ones on their own.
        assert!(counters.hit_at(key(30_000), 2, window, at(15_000)).allowed);
        assert_eq!(counters.len(), 1);
        assert!(counters.hit_at(key(30_000), 2, window, at(15_001)).allowed);
        assert!(!counters.hit_at(key(30_000), 2, window, at(15_002)).allowed);
    }
}
