//! [`MaintenanceLayer`]: take the app offline for everyone but you.
//!
//! While maintenance is on, requests get a `503 Service Unavailable` problem with
//! `Retry-After` (and `Cache-Control: no-store`, so no cache keeps the outage), except
//!
//! - paths listed in [`except_paths`](MaintenanceLayer::except_paths) (health checks:
//!   exact matches),
//! - clients in [`allow_ips`](MaintenanceLayer::allow_ips) (the office, the VPN; the
//!   address is read behind [`trusted_proxies`](MaintenanceLayer::trusted_proxies) as
//!   in [`crate::real_ip`]),
//! - requests carrying the [`bypass_header`](MaintenanceLayer::bypass_header) with its
//!   secret (compared in constant time).
//!
//! It is on from [`new`](MaintenanceLayer::new) unless [`enabled(false)`](
//! MaintenanceLayer::enabled) says otherwise, and can be flipped while the app runs
//! through a [`MaintenanceSwitch`], shared by every clone of the layer:
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use http::HeaderName;
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::maintenance::MaintenanceLayer;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let layer = MaintenanceLayer::new()
//!     .enabled(false)
//!     .retry_after(Duration::from_secs(600))
//!     .except_paths(["/health"])
//!     .allow_ips(["10.0.0.0/8"])
//!     .bypass_header(HeaderName::from_static("x-maintenance-bypass"), "s3cret");
//! let switch = layer.switch();
//! let app = Router::new()
//!     .route("/", get(|| async { "home" }))
//!     .route("/health", get(|| async { "ok" }))
//!     .layer(layer);
//! let client = TestClient::new(app).with_peer_addr("203.0.113.9:5000".parse().unwrap());
//!
//! assert_eq!(client.get("/").send().await.status, 200);
//!
//! switch.enable();
//! let response = client.get("/").send().await;
//! assert_eq!(response.status, 503);
//! assert_eq!(response.header("retry-after"), Some("600"));
//! assert_eq!(client.get("/health").send().await.status, 200);
//! let admin = client.get("/").header("x-maintenance-bypass", "s3cret").send().await;
//! assert_eq!(admin.status, 200);
//! let office = client.get("/").peer_addr("10.1.2.3:4000".parse().unwrap()).send().await;
//! assert_eq!(office.status, 200);
//!
//! switch.disable();
//! assert_eq!(client.get("/").send().await.status, 200);
//! # });
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse as _, Response};
use futures_util::future::{Either, ready};
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, StatusCode};
use rustango_http::Problem;
use tower::{Layer, Service};

use crate::real_ip::{self, Cidr, CidrError, TrustedProxies};

/// The default `Retry-After`: 120 seconds.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Turns maintenance on and off while the app runs; clones share the state. Get the
/// one of a layer with [`MaintenanceLayer::switch`], or give a layer one with
/// [`MaintenanceLayer::with_switch`] (from an `Arc<AtomicBool>` you already share, if
/// you like).
#[derive(Debug, Clone, Default)]
pub struct MaintenanceSwitch(Arc<AtomicBool>);

impl MaintenanceSwitch {
    /// A switch in the given state.
    pub fn new(on: bool) -> Self {
        MaintenanceSwitch(Arc::new(AtomicBool::new(on)))
    }

    /// Turns maintenance on.
    pub fn enable(&self) {
        self.set(true);
    }

    /// Turns maintenance off.
    pub fn disable(&self) {
        self.set(false);
    }

    /// Turns maintenance on or off.
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }

    /// Whether maintenance is on.
    pub fn is_enabled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl From<Arc<AtomicBool>> for MaintenanceSwitch {
    fn from(flag: Arc<AtomicBool>) -> Self {
        MaintenanceSwitch(flag)
    }
}

/// Answers 503 while maintenance is on; see the [module docs](self).
#[derive(Clone)]
pub struct MaintenanceLayer {
    switch: MaintenanceSwitch,
    retry_after: Duration,
    allow: Arc<[Cidr]>,
    bypass: Option<(HeaderName, Arc<[u8]>)>,
    trusted: TrustedProxies,
    except_paths: Arc<[String]>,
}

impl std::fmt::Debug for MaintenanceLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bypass secret is not printed.
        f.debug_struct("MaintenanceLayer")
            .field("enabled", &self.switch.is_enabled())
            .field("retry_after", &self.retry_after)
            .field("allow", &self.allow)
            .field("bypass_header", &self.bypass.as_ref().map(|(name, _)| name))
            .field("trusted", &self.trusted)
            .field("except_paths", &self.except_paths)
            .finish()
    }
}

impl Default for MaintenanceLayer {
    fn default() -> Self {
        MaintenanceLayer {
            switch: MaintenanceSwitch::new(true),
            retry_after: DEFAULT_RETRY_AFTER,
            allow: Arc::new([]),
            bypass: None,
            trusted: TrustedProxies::none(),
            except_paths: Arc::new([]),
        }
    }
}

impl MaintenanceLayer {
    /// Maintenance on, `Retry-After: 120`, no exceptions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Turns maintenance on or off (on the layer's switch, so clones and
    /// [`switch`](Self::switch) handles see it too).
    pub fn enabled(self, on: bool) -> Self {
        self.switch.set(on);
        self
    }

    /// A handle to turn maintenance on and off at run time.
    pub fn switch(&self) -> MaintenanceSwitch {
        self.switch.clone()
    }

    /// Uses `switch` (whose current state is kept) instead of the layer's own.
    pub fn with_switch(mut self, switch: impl Into<MaintenanceSwitch>) -> Self {
        self.switch = switch.into();
        self
    }

    /// The `Retry-After` sent with the 503, in whole seconds (rounded up).
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }

    /// Admits clients in these networks (`10.0.0.0/8`, `::1/128`, a bare address)
    /// during maintenance; adds to earlier calls.
    ///
    /// # Panics
    /// If a CIDR is invalid; [`try_allow_ips`](Self::try_allow_ips) returns the error.
    #[track_caller]
    pub fn allow_ips<I>(self, cidrs: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.try_allow_ips(cidrs)
            .unwrap_or_else(|err| panic!("MaintenanceLayer::allow_ips: {err}"))
    }

    /// Admits clients in these networks during maintenance, or returns the first
    /// invalid CIDR.
    pub fn try_allow_ips<I>(mut self, cidrs: I) -> Result<Self, CidrError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut all = self.allow.to_vec();
        for cidr in cidrs {
            all.push(Cidr::parse(cidr.as_ref())?);
        }
        self.allow = all.into();
        Ok(self)
    }

    /// Admits requests whose `name` header is exactly `secret` during maintenance.
    ///
    /// # Panics
    /// If `secret` is empty (it would admit anyone sending the header empty).
    #[track_caller]
    pub fn bypass_header(mut self, name: HeaderName, secret: impl Into<String>) -> Self {
        let secret = secret.into();
        assert!(
            !secret.is_empty(),
            "MaintenanceLayer::bypass_header: the secret is empty"
        );
        self.bypass = Some((name, Arc::from(secret.into_bytes())));
        self
    }

    /// Reads the client address for [`allow_ips`](Self::allow_ips) from the forwarding
    /// headers of these proxies (by default none is trusted: the peer address decides).
    pub fn trusted_proxies(mut self, trusted: TrustedProxies) -> Self {
        self.trusted = trusted;
        self
    }

    /// Paths served during maintenance (exact matches, such as `/health`); adds to
    /// earlier calls.
    pub fn except_paths<I>(mut self, paths: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let mut all = self.except_paths.to_vec();
        all.extend(paths.into_iter().map(Into::into));
        self.except_paths = all.into();
        self
    }

    /// Whether `req` is served (maintenance off, or an exception applies).
    fn admits<B>(&self, req: &Request<B>) -> bool {
        if !self.switch.is_enabled() {
            return true;
        }
        if self.except_paths.iter().any(|p| p == req.uri().path()) {
            return true;
        }
        if let Some((name, secret)) = &self.bypass {
            let mut values = req.headers().get_all(name).iter();
            if let (Some(value), None) = (values.next(), values.next())
                && rustango_config::constant_time_eq(value.as_bytes(), secret)
            {
                return true;
            }
        }
        if !self.allow.is_empty() {
            let ip = real_ip::resolve(req.extensions(), req.headers(), &self.trusted);
            if self.allow.iter().any(|c| c.contains(ip)) {
                return true;
            }
        }
        false
    }

    fn refusal(&self) -> Response {
        // Whole seconds, rounded up (saturating: a `retry_after` of `Duration::MAX`
        // must not overflow).
        let secs = self
            .retry_after
            .as_secs()
            .saturating_add(u64::from(self.retry_after.subsec_nanos() > 0));
        Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_detail("The service is down for maintenance; please retry later.")
            .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
            .with_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
            .into_response()
    }
}

impl<S> Layer<S> for MaintenanceLayer {
    type Service = Maintenance<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Maintenance {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`MaintenanceLayer`].
#[derive(Debug, Clone)]
pub struct Maintenance<S> {
    inner: S,
    layer: MaintenanceLayer,
}

/// The response future of [`Maintenance`]: the inner service's future, or the ready
/// 503.
pub type ResponseFuture<F, E> = crate::future::ShortCircuit<F, E>;

impl<S, B> Service<Request<B>> for Maintenance<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.layer.admits(&req) {
            Either::Left(self.inner.call(req))
        } else {
            Either::Right(ready(Ok(self.layer.refusal())))
        }
    }
}

crate::router_ext! {
    /// Answers a 503 problem while maintenance is on.
    MaintenanceRouterExt::maintenance(MaintenanceLayer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares() {
        assert!(rustango_config::constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!rustango_config::constant_time_eq(b"s3creT", b"s3cret"));
        assert!(!rustango_config::constant_time_eq(b"s3cre", b"s3cret"));
        assert!(!rustango_config::constant_time_eq(b"s3crett", b"s3cret"));
        assert!(!rustango_config::constant_time_eq(b"", b"s3cret"));
        assert!(!rustango_config::constant_time_eq(b"s3cret\0", b"s3cret"));
    }

    #[test]
    fn rounds_retry_after_up() {
        let layer = MaintenanceLayer::new().retry_after(Duration::from_millis(1500));
        assert_eq!(layer.refusal().headers()[header::RETRY_AFTER], "2");
        // The longest duration saturates instead of overflowing.
        let layer = MaintenanceLayer::new().retry_after(Duration::MAX);
        assert_eq!(
            layer.refusal().headers()[header::RETRY_AFTER],
            u64::MAX.to_string().as_str()
        );
    }
}
