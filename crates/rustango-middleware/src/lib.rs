//! Production middleware for rustango applications: one tower layer per cargo feature,
//! in tower-http's shape (a `Layer` with a builder, a `Service`, a response future).
//!
//! Every refusal is an RFC 7807 `application/problem+json` response made by
//! `rustango-http`; no layer answers a bad request with a 500.
#![deny(missing_docs)]

/// Defines `$trait`, the spec's chaining method for one layer on an axum `Router`
/// (`router.cors(layer)` for `CorsRouterExt`), in the invoking module.
#[allow(unused_macros)]
macro_rules! router_ext {
    ($(#[$doc:meta])* $trait:ident :: $method:ident($layer:ident)) => {
        #[doc = concat!(
            "`router.", stringify!($method), "(layer)`: adds a [`", stringify!($layer),
            "`] with `Router::layer`. All the chaining traits at once: ",
            "`use rustango_middleware::prelude::*`."
        )]
        pub trait $trait: Sized {
            $(#[$doc])*
            fn $method(self, layer: $layer) -> Self;
        }

        impl<S: Clone + Send + Sync + 'static> $trait for axum::Router<S> {
            fn $method(self, layer: $layer) -> Self {
                self.layer(layer)
            }
        }
    };
}

#[allow(unused_imports)]
pub(crate) use router_ext;

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
#[cfg(feature = "idempotency")]
pub mod idempotency;
#[cfg(feature = "ip-filter")]
pub mod ip_filter;
#[cfg(any(feature = "idempotency", feature = "rate-limit"))]
mod log_throttle;
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

/// The chaining traits of every enabled layer (`SecurityHeadersRouterExt`,
/// `CorsRouterExt`, …), for `use rustango_middleware::prelude::*`.
///
/// Each layer's module has its own trait with one method, as the spec imports them
/// (`use rustango::cors::{CorsLayer, CorsRouterExt}`). Each method is
/// `Router::layer` with that layer, so the last one added runs first on a request.
/// `TrailingSlashLayer` and `MethodOverrideLayer` have none: they change the path or
/// method, so they must wrap the router (run before routing) rather than be layered
/// inside it.
///
/// ```
/// use rustango_middleware::prelude::*;
/// # #[cfg(all(feature = "security-headers", feature = "request-id"))]
/// let app = axum::Router::<()>::new()
///     .route("/", axum::routing::get(|| async { "hi" }))
///     .security_headers(rustango_middleware::security_headers::SecurityHeadersLayer::strict())
///     .request_id(rustango_middleware::request_id::RequestIdLayer::new());
/// ```
pub mod prelude {
    #[cfg(feature = "access-log")]
    pub use crate::access_log::AccessLogRouterExt;
    #[cfg(feature = "body-limit")]
    pub use crate::body_limit::BodyLimitRouterExt;
    #[cfg(feature = "compression")]
    pub use crate::compression::CompressionRouterExt;
    #[cfg(feature = "cors")]
    pub use crate::cors::CorsRouterExt;
    #[cfg(feature = "csrf")]
    pub use crate::csrf::CsrfRouterExt;
    #[cfg(feature = "etag")]
    pub use crate::etag::EtagRouterExt;
    #[cfg(feature = "idempotency")]
    pub use crate::idempotency::IdempotencyRouterExt;
    #[cfg(feature = "ip-filter")]
    pub use crate::ip_filter::IpFilterRouterExt;
    #[cfg(feature = "maintenance")]
    pub use crate::maintenance::MaintenanceRouterExt;
    #[cfg(feature = "metrics")]
    pub use crate::metrics::MetricsRouterExt;
    #[cfg(feature = "rate-limit")]
    pub use crate::rate_limit::RateLimitRouterExt;
    #[cfg(feature = "real-ip")]
    pub use crate::real_ip::RealIpRouterExt;
    #[cfg(feature = "request-id")]
    pub use crate::request_id::RequestIdRouterExt;
    #[cfg(feature = "security-headers")]
    pub use crate::security_headers::SecurityHeadersRouterExt;
    #[cfg(feature = "server-timing")]
    pub use crate::server_timing::ServerTimingRouterExt;
    #[cfg(feature = "static-files")]
    pub use crate::static_files::StaticFilesRouterExt;
    #[cfg(feature = "timeout")]
    pub use crate::timeout::TimeoutRouterExt;
}
