//! Production middleware for rustango applications: one tower layer per cargo feature,
//! in tower-http's shape (a `Layer` with a builder, a `Service`, a response future).
//!
//! Every refusal is an RFC 7807 `application/problem+json` response made by
//! `rustango-http`; no layer answers a bad request with a 500.
#![deny(missing_docs)]

mod future;
#[cfg(any(feature = "csrf", feature = "rate-limit"))]
pub use future::DecidedFuture;
pub use future::{BoxResponseFuture, ShortCircuit};

#[cfg(feature = "access-log")]
pub mod access_log;
#[cfg(feature = "body-limit")]
pub mod body_limit;
#[cfg(feature = "compression")]
pub mod compression;
#[cfg(feature = "cors")]
pub mod cors;
#[cfg(feature = "csrf")]
pub mod csrf;
#[cfg(feature = "etag")]
pub mod etag;
#[cfg(any(feature = "csrf", feature = "method-override"))]
mod form;
#[cfg(any(feature = "idempotency", feature = "rate-limit"))]
mod hex;
#[cfg(feature = "idempotency")]
pub mod idempotency;
#[cfg(feature = "ip-filter")]
pub mod ip_filter;
#[cfg(feature = "maintenance")]
pub mod maintenance;
#[cfg(feature = "method-override")]
pub mod method_override;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "otel")]
mod otel;
#[cfg(feature = "rate-limit")]
pub mod rate_limit;
#[cfg(feature = "real-ip")]
pub mod real_ip;
#[cfg(feature = "request-id")]
pub mod request_id;
#[cfg(feature = "security-headers")]
pub mod security_headers;
#[cfg(feature = "server-timing")]
pub mod server_timing;
#[cfg(feature = "static-files")]
pub mod static_files;
#[cfg(feature = "timeout")]
pub mod timeout;
#[cfg(feature = "trailing-slash")]
pub mod trailing_slash;

/// The spec's chaining style: `router.security_headers(SecurityHeadersLayer::strict())
/// .request_id(RequestIdLayer::new())…`. Each method is `Router::layer` with that
/// layer, so the last one added runs first on a request. `TrailingSlashLayer` and
/// `MethodOverrideLayer` are not here: they change the path or method, so they must
/// wrap the router (run before routing) rather than be layered inside it.
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
    /// Answers cross-origin requests and preflights per the allowlist.
    #[cfg(feature = "cors")]
    fn cors(self, layer: cors::CorsLayer) -> Self;
    /// Compresses responses (gzip, deflate, br) per `Accept-Encoding`.
    #[cfg(feature = "compression")]
    fn compression(self, layer: compression::CompressionLayer) -> Self;
    /// Refuses request bodies over a size with a 413 problem.
    #[cfg(feature = "body-limit")]
    fn body_limit(self, layer: body_limit::BodyLimitLayer) -> Self;
    /// Answers a 503 problem when a handler takes too long.
    #[cfg(feature = "timeout")]
    fn timeout(self, layer: timeout::TimeoutLayer) -> Self;
    /// Tags GET responses and answers `304 Not Modified` on `If-None-Match`.
    #[cfg(feature = "etag")]
    fn etag(self, layer: etag::EtagLayer) -> Self;
    /// Adds the `Server-Timing` header.
    #[cfg(feature = "server-timing")]
    fn server_timing(self, layer: server_timing::ServerTimingLayer) -> Self;
    /// Answers a 503 problem while maintenance is on.
    #[cfg(feature = "maintenance")]
    fn maintenance(self, layer: maintenance::MaintenanceLayer) -> Self;
    /// Logs one line per request, secrets redacted.
    #[cfg(feature = "access-log")]
    fn access_log(self, layer: access_log::AccessLogLayer) -> Self;
    /// Refuses cross-site unsafe requests that ride on cookies.
    #[cfg(feature = "csrf")]
    fn csrf(self, layer: csrf::CsrfLayer) -> Self;
    /// Counts and times requests by route template into `metrics`' registry.
    #[cfg(feature = "metrics")]
    fn metrics(self, metrics: &metrics::Metrics) -> Self;
    /// Serves the files of `files` under the path prefix `mount` (e.g. `/static`); at
    /// `/`, as the router's fallback.
    #[cfg(feature = "static-files")]
    fn static_files(self, mount: &str, files: static_files::StaticFiles) -> Self;
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
    #[cfg(feature = "cors")]
    fn cors(self, layer: cors::CorsLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "compression")]
    fn compression(self, layer: compression::CompressionLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "body-limit")]
    fn body_limit(self, layer: body_limit::BodyLimitLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "timeout")]
    fn timeout(self, layer: timeout::TimeoutLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "etag")]
    fn etag(self, layer: etag::EtagLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "server-timing")]
    fn server_timing(self, layer: server_timing::ServerTimingLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "maintenance")]
    fn maintenance(self, layer: maintenance::MaintenanceLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "access-log")]
    fn access_log(self, layer: access_log::AccessLogLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "csrf")]
    fn csrf(self, layer: csrf::CsrfLayer) -> Self {
        self.layer(layer)
    }
    #[cfg(feature = "metrics")]
    fn metrics(self, metrics: &metrics::Metrics) -> Self {
        self.layer(metrics.layer())
    }
    #[cfg(feature = "static-files")]
    fn static_files(self, mount: &str, files: static_files::StaticFiles) -> Self {
        // axum refuses to nest at the root: there the files answer what no route does.
        match mount.trim_end_matches('/') {
            "" => self.fallback_service(files.into_service()),
            mount => self.nest_service(mount, files.into_service()),
        }
    }
}
