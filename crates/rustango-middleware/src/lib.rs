//! Production middleware for rustango applications: one tower layer per cargo feature,
//! in tower-http's shape (a `Layer` with a builder, a `Service`, a response future).
//!
//! Every refusal is an RFC 7807 `application/problem+json` response made by
//! `rustango-http`; no layer answers a bad request with a 500.
#![deny(missing_docs)]

mod future;
pub use future::BoxResponseFuture;

#[cfg(feature = "idempotency")]
pub mod idempotency;
#[cfg(feature = "ip-filter")]
pub mod ip_filter;
#[cfg(feature = "rate-limit")]
pub mod rate_limit;
#[cfg(feature = "real-ip")]
pub mod real_ip;
#[cfg(feature = "request-id")]
pub mod request_id;
#[cfg(feature = "security-headers")]
pub mod security_headers;

/// The spec's chaining style: `router.security_headers(SecurityHeadersLayer::strict())
/// .request_id(RequestIdLayer::new())…`. Each method is `Router::layer` with that
/// layer, so the last one added runs first on a request.
///
/// ```
/// use rustango_middleware::RouterExt as _;
/// # #[cfg(all(feature = "security-headers", feature = "request-id"))]
/// let app = axum::Router::<()>::new()
///     .route("/", axum::routing::get(|| async { "hi" }))
///     .security_headers(rustango_middleware::security_headers::SecurityHeadersLayer::strict())
///     .request_id(rustango_middleware::request_id::RequestIdLayer::new());
/// ```
pub trait RouterExt: Sized {
    /// Adds security headers (and a CSP nonce per request).
    #[cfg(feature = "security-headers")]
    fn security_headers(self, layer: security_headers::SecurityHeadersLayer) -> Self;
    /// Accepts or generates a request id, echoes it, and logs within its span.
    #[cfg(feature = "request-id")]
    fn request_id(self, layer: request_id::RequestIdLayer) -> Self;
    /// Limits requests per client, user or key.
    #[cfg(feature = "rate-limit")]
    fn rate_limit(self, layer: rate_limit::RateLimitLayer) -> Self;
    /// Admits or refuses clients by address.
    #[cfg(feature = "ip-filter")]
    fn ip_filter(self, layer: ip_filter::IpFilterLayer) -> Self;
    /// Puts the client's address behind trusted proxies in the request (`ClientIp`).
    #[cfg(feature = "real-ip")]
    fn real_ip(self, layer: real_ip::RealIpLayer) -> Self;
    /// Replays the stored response to a repeated `Idempotency-Key`.
    #[cfg(feature = "idempotency")]
    fn idempotency(self, layer: idempotency::IdempotencyLayer) -> Self;
}

impl<S: Clone + Send + Sync + 'static> RouterExt for axum::Router<S> {
    #[cfg(feature = "security-headers")]
    fn security_headers(self, layer: security_headers::SecurityHeadersLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "request-id")]
    fn request_id(self, layer: request_id::RequestIdLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "rate-limit")]
    fn rate_limit(self, layer: rate_limit::RateLimitLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "ip-filter")]
    fn ip_filter(self, layer: ip_filter::IpFilterLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "real-ip")]
    fn real_ip(self, layer: real_ip::RealIpLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "idempotency")]
    fn idempotency(self, layer: idempotency::IdempotencyLayer) -> Self {
        self.layer(layer)
    }
}
