//! [`Metrics`]: Prometheus metrics for an app, and [`MetricsLayer`], which counts and
//! times every request by **route template** (`/notes/{id}`, never `/notes/42`, so a
//! crawler cannot blow up the number of series).
//!
//! Each [`Metrics`] owns its own registry rather than the process-global one, so two
//! apps (or two tests) in one process never see each other's numbers. Every metric
//! carries HELP text. The series:
//!
//! | name | type | labels |
//! |---|---|---|
//! | `http_requests_total` | counter | `method`, `route`, `status` |
//! | `http_request_duration_seconds` | histogram | `method`, `route`, `status` |
//! | `http_requests_in_flight` | gauge | |
//!
//! plus whatever else is [registered](Metrics::register) (the server adds database
//! pool gauges). The route is the template axum matched, read from
//! [`MatchedPath`](axum::extract::MatchedPath), so add the layer with `Router::layer`
//! (or [`MetricsRouterExt::metrics`]) after the routes; requests
//! that match no route are counted under `route="unmatched"`. Methods outside the
//! standard nine are counted as `OTHER`. The duration runs until the response head is
//! ready; a request whose client goes away first leaves the in-flight gauge and is not
//! counted.
//!
//! ```
//! use axum::{Router, routing::get};
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::prelude::*;
//! use rustango_middleware::metrics::Metrics;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let metrics = Metrics::new();
//! let app = Router::new()
//!     .route("/notes/{id}", get(|| async { "a note" }))
//!     .metrics(&metrics)
//!     .merge(metrics.router());
//! let client = TestClient::new(app);
//!
//! client.get("/notes/1").send().await;
//! client.get("/notes/2").send().await;
//!
//! let text = client.get("/metrics").send().await.text();
//! assert!(text.contains(
//!     r#"http_requests_total{method="GET",route="/notes/{id}",status="200"} 2"#
//! ));
//! # });
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, Method, Request, StatusCode};
use prometheus::core::Collector;
use prometheus::{
    Encoder as _, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};
use tower::{Layer, Service};

/// The `prometheus` crate, for the app's own counters and gauges, at the version the
/// registry uses.
pub use prometheus;

/// The label for requests no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The histogram buckets (seconds) unless [`Metrics::with_buckets`] says otherwise:
/// 1 ms to 10 s, dense where web requests usually fall.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What can go wrong while setting metrics up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// A collector was refused: a name already registered, a bad name, or bad buckets.
    #[error("metrics registration failed: {0}")]
    Registration(#[source] prometheus::Error),
    /// Histogram buckets must be finite, non-empty and strictly increasing.
    #[error("histogram buckets must be finite, non-empty and strictly increasing")]
    BadBuckets,
}

/// One app's metrics: a registry and the HTTP series. Cloning is cheap and shares them.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    in_flight: IntGauge,
    /// The two series of each (route, method, status) seen so far, found with one
    /// lookup instead of two label hashes into the vectors per request.
    series: Mutex<HashMap<Box<str>, Vec<Series>>>,
}

/// The counter and histogram of one label set.
struct Series {
    method: &'static str,
    status: u16,
    requests: IntCounter,
    duration: Histogram,
}

impl Inner {
    fn record(&self, method: &'static str, route: &str, status: StatusCode, seconds: f64) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let for_route = match series.get_mut(route) {
            Some(list) => list,
            None => series.entry(route.into()).or_default(),
        };
        let code = status.as_u16();
        let found = match for_route
            .iter()
            .position(|s| s.method == method && s.status == code)
        {
            Some(i) => &for_route[i],
            None => {
                let labels = [method, route, status.as_str()];
                for_route.push(Series {
                    method,
                    status: code,
                    requests: self.requests.with_label_values(&labels),
                    duration: self.duration.with_label_values(&labels),
                });
                &for_route[for_route.len() - 1]
            }
        };
        found.requests.inc();
        found.duration.observe(seconds);
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

const LABELS: &[&str] = &["method", "route", "status"];

impl Metrics {
    /// A fresh registry with the HTTP series and [`DEFAULT_BUCKETS`].
    pub fn new() -> Self {
        Metrics::with_buckets(DEFAULT_BUCKETS.to_vec())
            .expect("the built-in series and buckets are valid")
    }

    /// A fresh registry whose latency histogram uses `buckets` (upper bounds in
    /// seconds, strictly increasing).
    pub fn with_buckets(buckets: Vec<f64>) -> Result<Self, MetricsError> {
        // prometheus checks buckets only when a label set is first used, by panicking:
        // check them here, once.
        if buckets.is_empty()
            || buckets.iter().any(|b| !b.is_finite())
            || buckets.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(MetricsError::BadBuckets);
        }
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by method, route template and status code.",
            ),
            LABELS,
        )
        .map_err(MetricsError::Registration)?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from receiving an HTTP request to its response head, in seconds.",
            )
            .buckets(buckets),
            LABELS,
        )
        .map_err(MetricsError::Registration)?;
        let in_flight = IntGauge::new(
            "http_requests_in_flight",
            "HTTP requests received whose response head is not ready yet.",
        )
        .map_err(MetricsError::Registration)?;
        for c in [
            Box::new(requests.clone()) as Box<dyn Collector>,
            Box::new(duration.clone()),
            Box::new(in_flight.clone()),
        ] {
            registry.register(c).map_err(MetricsError::Registration)?;
        }
        Ok(Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                duration,
                in_flight,
                series: Mutex::default(),
            }),
        })
    }

    /// The registry, to add the app's own metrics (`registry().register(..)`).
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Adds a collector (a counter of the app's own, a gauge read at scrape time…).
    pub fn register(&self, collector: Box<dyn Collector>) -> Result<(), MetricsError> {
        self.inner
            .registry
            .register(collector)
            .map_err(MetricsError::Registration)
    }

    /// The layer that counts and times requests into this registry.
    pub fn layer(&self) -> MetricsLayer {
        MetricsLayer {
            metrics: self.clone(),
        }
    }

    /// Everything in the registry in the Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> String {
        let families = self.inner.registry.gather();
        let mut out = Vec::with_capacity(4096);
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            // Only a collector returning inconsistent families gets here: serve what
            // was written and say why in the log.
            tracing::error!(error = %e, "encoding metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// A router answering `GET /metrics` with [`render`](Self::render).
    ///
    /// The endpoint has no access control of its own: in production, keep it off the
    /// public listener (the proxy in front can refuse `/metrics`) or wrap it in an IP
    /// filter.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        let metrics = self.clone();
        axum::Router::new().route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move { metrics.response() }
            }),
        )
    }

    /// The `/metrics` response: the text format with its content type.
    pub fn response(&self) -> Response {
        (
            [(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            self.render(),
        )
            .into_response()
    }
}

/// Counts and times requests; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    metrics: Metrics,
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service of [`MetricsLayer`].
#[derive(Debug, Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MetricsService<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // axum's `MatchedPath` shares its text: cloning it copies nothing.
        let route = req.extensions().get::<MatchedPath>().cloned();
        let method = method_label(req.method());
        self.metrics.inner.in_flight.inc();
        ResponseFuture {
            inner: self.inner.call(req),
            record: Some(Record {
                metrics: self.metrics.clone(),
                method,
                route,
                start: Instant::now(),
            }),
        }
    }
}

/// What to record when the response head is ready.
struct Record {
    metrics: Metrics,
    method: &'static str,
    route: Option<MatchedPath>,
    start: Instant,
}

pin_project_lite::pin_project! {
    /// The response future of [`MetricsService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // `Some` until the response is recorded; dropping it unrecorded only lowers
        // the in-flight gauge.
        record: Option<Record>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(record) = this.project().record.take() {
                record.metrics.inner.in_flight.dec();
            }
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Some(record) = this.record.take() {
            let inner = &record.metrics.inner;
            inner.in_flight.dec();
            if let Ok(response) = &result {
                let route = record.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
                inner.record(
                    record.method,
                    route,
                    response.status(),
                    record.start.elapsed().as_secs_f64(),
                );
            }
        }
        Poll::Ready(result)
    }
}

/// `router.metrics(&metrics)`: counts and times the router's requests by route
/// template into `metrics`' registry. All the chaining traits at once:
/// `use rustango_middleware::prelude::*`.
pub trait MetricsRouterExt: Sized {
    /// Counts and times requests by route template into `metrics`' registry.
    fn metrics(self, metrics: &Metrics) -> Self;
}

impl<S: Clone + Send + Sync + 'static> MetricsRouterExt for axum::Router<S> {
    fn metrics(self, metrics: &Metrics) -> Self {
        self.layer(metrics.layer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_buckets_are_an_error() {
        assert!(matches!(
            Metrics::with_buckets(vec![1.0, 0.5]),
            Err(MetricsError::BadBuckets)
        ));
        assert!(matches!(
            Metrics::with_buckets(vec![]),
            Err(MetricsError::BadBuckets)
        ));
        assert!(matches!(
            Metrics::with_buckets(vec![0.1, f64::NAN]),
            Err(MetricsError::BadBuckets)
        ));
        let m = Metrics::with_buckets(vec![0.1, 1.0]).unwrap();
        m.inner
            .duration
            .with_label_values(&["GET", "/", "200"])
            .observe(0.5);
        assert!(m.render().contains(r#"le="1""#));
    }

    #[test]
    fn registries_are_separate() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.inner.in_flight.inc();
        assert!(a.render().contains("http_requests_in_flight 1"));
        assert!(b.render().contains("http_requests_in_flight 0"));
    }
}
