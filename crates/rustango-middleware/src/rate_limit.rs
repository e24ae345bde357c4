//! [`RateLimitLayer`]: at most `n` requests per window, per client address, per user
//! or per any key (cargo feature `rate-limit`).
//!
//! Counting is a fixed window ([`rustango_cache::fixed_window`]): one atomic
//! increment of a counter that expires with its window, in a [`BoxedCache`]. The
//! default store is an [`InMemoryCache`] shared by the clones of one layer (one
//! process); give every instance of the app the same Redis store
//! (`rustango_cache::redis_backend::RedisCache`, cargo feature `redis`) and the limit
//! holds across all of them. Windows are aligned to the Unix epoch and counters never
//! outlive their window, so no key is left without an expiry. Up to `2 * n` requests
//! can pass around a window boundary; that is the price of one round trip per request.
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
//! warning and only the `RateLimit-Policy` header (*fail open*: a broken limiter does
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

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use http::request::Parts;
use http::{Request, StatusCode};
use rustango_cache::{BoxedCache, InMemoryCache, fixed_window};
use rustango_http::Problem;
use tower::{Layer, Service};

use crate::real_ip::{self, TrustedProxies};

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
    store: BoxedCache,
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
            store: Arc::new(InMemoryCache::new()),
            trusted: TrustedProxies::none(),
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            fail_closed: false,
        }
    }

    /// `limit` requests per `window` for each client address (see
    /// [`trusted_proxies`](Self::trusted_proxies) for clients behind proxies).
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
        self.store = store;
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
    /// `<prefix>key:<key>:<window>`.
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

    /// The counter key for a request, without the window number; `None` if the request
    /// is not limited.
    fn key_for(&self, parts: &Parts) -> Option<String> {
        let ip = || real_ip::resolve(&parts.extensions, &parts.headers, &self.trusted);
        let (kind, id) = match &self.kind {
            KeyKind::Ip => ("ip", ip().to_string()),
            KeyKind::User(user) => match user(parts) {
                Some(id) => ("user", id),
                None => ("ip", ip().to_string()),
            },
            KeyKind::Key(key) => ("key", key(parts)?),
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
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The clone is not ready; the service that was polled ready handles this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        let (parts, body) = req.into_parts();
        let key = config.layer.key_for(&parts);
        let req = Request::from_parts(parts, body);
        let Some(key) = key else {
            return crate::BoxResponseFuture {
                inner: Box::pin(inner.call(req)),
            };
        };
        crate::BoxResponseFuture {
            inner: Box::pin(async move {
                let layer = &config.layer;
                match fixed_window(&*layer.store, &key, layer.limit, layer.window).await {
                    Ok(hit) => {
                        let reset = whole_secs(hit.reset_after);
                        let state =
                            header_value(format!("\"default\";r={};t={reset}", hit.remaining()));
                        let mut response = if hit.allowed {
                            inner.call(req).await?
                        } else {
                            tracing::debug!(key, "rate limit exceeded");
                            Problem::too_many_requests(reset).into_response()
                        };
                        let headers = response.headers_mut();
                        headers.insert(RATELIMIT_POLICY, config.policy.clone());
                        headers.insert(RATELIMIT, state);
                        Ok(response)
                    }
                    Err(err) if layer.fail_closed => {
                        tracing::error!(
                            error = &err as &dyn std::error::Error,
                            "rate-limit store failed; refusing the request (fail closed)"
                        );
                        Ok(Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                            .with_detail("The service is temporarily unavailable.")
                            .with_header(RETRY_AFTER, HeaderValue::from(1u64))
                            .into_response())
                    }
                    Err(err) => {
                        tracing::warn!(
                            error = &err as &dyn std::error::Error,
                            "rate-limit store failed; letting the request through (fail open)"
                        );
                        let mut response = inner.call(req).await?;
                        response
                            .headers_mut()
                            .insert(RATELIMIT_POLICY, config.policy.clone());
                        Ok(response)
                    }
                }
            }),
        }
    }
}

/// The response future of the rate limiter.
pub type ResponseFuture<E> = crate::BoxResponseFuture<E>;

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
}
