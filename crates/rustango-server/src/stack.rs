//! The production middleware stack that [`Builder`](crate::Builder) puts around every
//! app, and the `/metrics` endpoint with database pool gauges.
//!
//! On a request, outermost first:
//!
//! 1. request id (the span every log line of the request is in),
//! 2. metrics (so refusals below are counted too),
//! 3. access log,
//! 4. security headers (`strict()` in production, `dev()` otherwise),
//! 5. rate limit per client IP (the IP behind `trusted_proxies` only; Redis when
//!    `REDIS_URL` is set and the `redis` feature is on, so instances share the count),
//! 6. request body limit (413 problem),
//! 7. CSRF for cookie-carrying unsafe requests (the key derives from `SECRET_KEY`),
//! 8. compression.
//!
//! Each piece is a public field of [`Stack`]: change or drop one with
//! [`Builder::configure_stack`](crate::Builder::configure_stack), or start from
//! [`Stack::none`]. The defaults can also be set in `rustango.toml`:
//!
//! ```toml
//! [middleware]
//! rate_limit_per_minute = 600     # 0 turns the limit off
//! body_limit_bytes = 2097152
//! csrf = true
//! csrf_trusted_origins = ["https://admin.example.com"]
//! csrf_ensure_cookie = false      # true: every response sets a missing csrftoken cookie
//! compression = true
//! security_headers = "strict"     # strict | relaxed | dev | off
//! metrics = true
//! ```

use std::time::Duration;

use axum::Router;
use rustango_config::{Env, Settings};
use rustango_middleware::access_log::AccessLogLayer;
use rustango_middleware::body_limit::BodyLimitLayer;
use rustango_middleware::compression::CompressionLayer;
use rustango_middleware::csrf::CsrfLayer;
use rustango_middleware::metrics::Metrics;
use rustango_middleware::metrics::prometheus::core::{Collector, Desc};
use rustango_middleware::metrics::prometheus::proto::MetricFamily;
use rustango_middleware::metrics::prometheus::{IntGauge, IntGaugeVec, Opts};
use rustango_middleware::rate_limit::RateLimitLayer;
use rustango_middleware::real_ip::TrustedProxies;
use rustango_middleware::request_id::RequestIdLayer;
use rustango_middleware::security_headers::SecurityHeadersLayer;
use rustango_orm::Pool;
use serde::Deserialize;

use crate::Error;

/// The `[middleware]` section of the settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct MiddlewareSettings {
    rate_limit_per_minute: u64,
    body_limit_bytes: usize,
    csrf: bool,
    csrf_trusted_origins: Vec<String>,
    csrf_ensure_cookie: bool,
    compression: bool,
    security_headers: Option<String>,
    metrics: bool,
}

impl Default for MiddlewareSettings {
    fn default() -> Self {
        MiddlewareSettings {
            rate_limit_per_minute: DEFAULT_RATE_LIMIT_PER_MINUTE,
            body_limit_bytes: DEFAULT_BODY_LIMIT,
            csrf: true,
            csrf_trusted_origins: Vec::new(),
            csrf_ensure_cookie: false,
            compression: true,
            security_headers: None,
            metrics: true,
        }
    }
}

/// Requests per minute per client IP unless the settings say otherwise.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u64 = 600;

/// The largest request body accepted unless the settings say otherwise: 2 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The layers around an app; `None` leaves one out. See the [module docs](self).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Stack {
    /// Request ids and the request span.
    pub request_id: Option<RequestIdLayer>,
    /// Request metrics, also served at `/metrics` with database pool gauges.
    pub metrics: Option<Metrics>,
    /// One log event per request.
    pub access_log: Option<AccessLogLayer>,
    /// Security headers and the CSP nonce.
    pub security_headers: Option<SecurityHeadersLayer>,
    /// Requests per client.
    pub rate_limit: Option<RateLimitLayer>,
    /// The request body limit.
    pub body_limit: Option<BodyLimitLayer>,
    /// CSRF checks.
    pub csrf: Option<CsrfLayer>,
    /// Response compression.
    pub compression: Option<CompressionLayer>,
}

impl Stack {
    /// No layers at all.
    pub fn none() -> Stack {
        Stack::default()
    }

    /// The default stack for `settings` (its environment, `SECRET_KEY`,
    /// `trusted_proxies`, `REDIS_URL` and `[middleware]` section).
    pub async fn for_settings(settings: &Settings) -> Result<Stack, Error> {
        let config: MiddlewareSettings = settings.section("middleware")?.unwrap_or_default();
        let prod = settings.env == Env::Prod;

        let security_headers = match config.security_headers.as_deref() {
            None if prod => Some(SecurityHeadersLayer::strict()),
            None => Some(SecurityHeadersLayer::dev()),
            Some("strict") => Some(SecurityHeadersLayer::strict()),
            Some("relaxed") => Some(SecurityHeadersLayer::relaxed()),
            Some("dev") => Some(SecurityHeadersLayer::dev()),
            Some("off") => None,
            Some(other) => {
                return Err(Error::Middleware {
                    setting: "middleware.security_headers",
                    reason: format!("`{other}` is not one of strict, relaxed, dev, off"),
                });
            }
        };

        let trusted = TrustedProxies::parse(settings.trusted_proxies.iter().map(String::as_str))
            .map_err(|e| Error::Middleware {
                setting: "trusted_proxies",
                reason: e.to_string(),
            })?;
        let rate_limit = if config.rate_limit_per_minute == 0 {
            None
        } else {
            let layer =
                RateLimitLayer::per_ip(config.rate_limit_per_minute, Duration::from_secs(60))
                    .trusted_proxies(trusted);
            Some(with_shared_store(layer, settings).await?)
        };

        let csrf = if config.csrf {
            let layer = match &settings.secret_key {
                // Development and test accept a short key (production refused it when
                // the settings were validated): stretched to the CSRF key's length, the
                // same at every start.
                Some(key) if !prod && key.expose().len() < rustango_middleware::csrf::MIN_SECRET_LEN => {
                    tracing::warn!(
                        "SECRET_KEY is shorter than {} bytes: fine for development, refused in production",
                        rustango_middleware::csrf::MIN_SECRET_LEN
                    );
                    CsrfLayer::try_new(rustango_middleware::csrf::hmac_sha256(
                        b"rustango: a short development SECRET_KEY",
                        key.expose().as_bytes(),
                    ))
                }
                Some(key) => CsrfLayer::try_new(key.expose().as_bytes()),
                // Development without a key: a key for this process only (tokens
                // stop working at a restart, which is harmless on a laptop).
                None => {
                    if settings.env != Env::Test {
                        tracing::warn!(
                            "SECRET_KEY is not set: CSRF tokens are signed with a random key \
                             for this process and stop working at a restart \
                             (set SECRET_KEY, e.g. in .env, to keep them)"
                        );
                    }
                    CsrfLayer::try_new(process_key())
                }
            }
            .map_err(|e| Error::Middleware {
                setting: "SECRET_KEY",
                reason: e.to_string(),
            })?;
            Some(
                layer
                    .secure(prod)
                    .ensure_cookie(config.csrf_ensure_cookie)
                    .trusted_origins(&config.csrf_trusted_origins),
            )
        } else {
            None
        };

        Ok(Stack {
            request_id: Some(RequestIdLayer::new()),
            metrics: config.metrics.then(Metrics::new),
            access_log: Some(AccessLogLayer::new()),
            security_headers,
            rate_limit,
            body_limit: (config.body_limit_bytes > 0)
                .then(|| BodyLimitLayer::new(config.body_limit_bytes)),
            csrf,
            compression: config.compression.then(CompressionLayer::new),
        })
    }

    /// Wraps `app` (whose routes, fallback included, are all in place) in the layers.
    ///
    /// The layers are composed into one tower stack and applied with a single
    /// `Router::layer`: each `Router::layer` boxes every route's service again, so
    /// eight of them cost eight clones and boxed futures per request.
    pub fn apply(&self, app: Router) -> Router {
        self.apply_inner(app, false)
    }

    /// [`apply`](Self::apply), with the problem defaults (`405` problems, panics as
    /// `500` problems) innermost in the same composite layer: what the Builder does.
    /// One `Router::layer` call wraps every route once; each extra call would box
    /// every request's service and future again.
    pub(crate) fn apply_inner(&self, app: Router, problem_defaults: bool) -> Router {
        // Outermost first.
        let stack = tower::ServiceBuilder::new()
            .option_layer(self.request_id.clone())
            .option_layer(self.metrics.as_ref().map(Metrics::layer))
            .option_layer(self.access_log.clone())
            .option_layer(self.security_headers.clone())
            .option_layer(self.rate_limit.clone())
            .option_layer(self.body_limit)
            .option_layer(self.csrf.clone())
            // Answers with axum's `Body`, like the layers around it.
            .option_layer(self.compression.clone())
            .option_layer(problem_defaults.then_some(rustango_http::ProblemDefaultsLayer))
            // The route's future holds the whole request until it is first polled; in
            // one box, each layer above moves a pointer instead of copying it again.
            .map_future(|future| -> RouteFuture { Box::pin(future) })
            .into_inner();
        app.layer(stack)
    }
}

/// A route's response future, boxed once inside the stack.
type RouteFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<axum::response::Response, std::convert::Infallible>>
            + Send,
    >,
>;

#[cfg(feature = "redis")]
async fn with_shared_store(
    layer: RateLimitLayer,
    settings: &Settings,
) -> Result<RateLimitLayer, Error> {
    match &settings.redis_url {
        Some(url) => {
            let cache = rustango_cache::redis_backend::RedisCache::new(url)
                .await
                .map_err(|e| Error::Middleware {
                    setting: "REDIS_URL",
                    // The causes (refused, authentication failed), never the URL.
                    reason: rustango_http::mapping::error_chain(&e),
                })?;
            Ok(layer.store(std::sync::Arc::new(cache)))
        }
        None => Ok(layer),
    }
}

#[cfg(not(feature = "redis"))]
async fn with_shared_store(
    layer: RateLimitLayer,
    settings: &Settings,
) -> Result<RateLimitLayer, Error> {
    if settings.redis_url.is_some() {
        tracing::warn!(
            "REDIS_URL is set but rustango-server is built without its `redis` feature: \
             the rate limit counts per instance"
        );
    }
    Ok(layer)
}

/// 32 random bytes for this process (two v4 UUIDs: 244 random bits).
fn process_key() -> Vec<u8> {
    let mut key = Vec::with_capacity(32);
    key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    key
}

/// Database pool gauges, read at each scrape.
pub struct PoolCollector {
    pool: Pool,
    connections: IntGaugeVec,
    max: IntGauge,
}

impl std::fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolCollector").finish_non_exhaustive()
    }
}

impl PoolCollector {
    /// Gauges for `pool`: `db_pool_connections{state="idle"|"in_use"}` and
    /// `db_pool_max_connections`.
    pub fn new(pool: Pool) -> PoolCollector {
        let connections = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Open database connections in the pool, by state (idle or in_use).",
            ),
            &["state"],
        )
        .expect("a valid metric name and label");
        let max = IntGauge::new(
            "db_pool_max_connections",
            "The most connections the database pool opens.",
        )
        .expect("a valid metric name");
        PoolCollector {
            pool,
            connections,
            max,
        }
    }
}

impl Collector for PoolCollector {
    fn desc(&self) -> Vec<&Desc> {
        let mut d = self.connections.desc();
        d.extend(self.max.desc());
        d
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let stats = self.pool.stats();
        self.connections
            .with_label_values(&["idle"])
            .set(i64::from(stats.idle));
        self.connections
            .with_label_values(&["in_use"])
            .set(i64::from(stats.open.saturating_sub(stats.idle)));
        self.max.set(i64::from(stats.max));
        let mut families = self.connections.collect();
        families.extend(self.max.collect());
        families
    }
}
