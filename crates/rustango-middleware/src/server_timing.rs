//! [`ServerTimingLayer`]: how long the app took, in the `Server-Timing` response
//! header, which browsers show in their developer tools' network panel.
//!
//! Every response gets the metric `app;dur=<milliseconds, one decimal>`, measured from
//! the call of the wrapped service to its response (headers ready; a streamed body
//! may still be in flight). A `Server-Timing` value already on the response (from
//! the handler, say `db;dur=3.1`) is kept and `app` is appended to it:
//! `db;dur=3.1, app;dur=12.4`.
//!
//! The header tells the world how long requests take, which can hint at what the
//! server does (a cache hit or a miss, a user that exists or not): consider enabling
//! it only in development or for internal clients.
//!
//! ```
//! use axum::{Router, routing::get};
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::server_timing::ServerTimingLayer;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = Router::new()
//!     .route("/", get(|| async { "hi" }))
//!     .layer(ServerTimingLayer::new());
//! let response = TestClient::new(app).get("/").send().await;
//! let timing = response.header("server-timing").unwrap();
//! assert!(timing.starts_with("app;dur="), "{timing}");
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::header::{HeaderName, HeaderValue};
use http::{Request, Response};
use tower::{Layer, Service};

/// The `Server-Timing` header name.
pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// Adds `Server-Timing: app;dur=…` to every response; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct ServerTimingLayer {
    _private: (),
}

impl ServerTimingLayer {
    /// Times every request as the metric `app`.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for ServerTimingLayer {
    type Service = ServerTiming<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerTiming { inner }
    }
}

/// The service made by [`ServerTimingLayer`].
#[derive(Debug, Clone)]
pub struct ServerTiming<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ServerTiming<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let start = Instant::now();
        ResponseFuture {
            inner: Box::pin(self.inner.call(req)),
            start,
        }
    }
}

/// The response future of [`ServerTiming`].
pub struct ResponseFuture<F> {
    inner: Pin<Box<F>>,
    start: Instant,
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut response = match self.inner.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(response)) => response,
        };
        add_metric(response.headers_mut(), &metric(self.start.elapsed()));
        Poll::Ready(Ok(response))
    }
}

/// `app;dur=<ms with one decimal>`.
fn metric(elapsed: Duration) -> String {
    format!("app;dur={:.1}", elapsed.as_secs_f64() * 1000.0)
}

/// Appends `metric` to the `Server-Timing` values in `headers`, as one line when the
/// existing ones are text, as a line of its own otherwise.
fn add_metric(headers: &mut http::HeaderMap, metric: &str) {
    let existing: Option<Vec<&str>> = headers
        .get_all(&SERVER_TIMING)
        .iter()
        .map(|v| v.to_str().ok())
        .collect();
    let combined = match existing {
        Some(values) => {
            let mut parts: Vec<&str> = values
                .into_iter()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect();
            parts.push(metric);
            HeaderValue::try_from(parts.join(", ")).ok()
        }
        None => None,
    };
    match combined {
        Some(value) => {
            headers.insert(SERVER_TIMING, value);
        }
        None => {
            if let Ok(value) = HeaderValue::try_from(metric) {
                headers.append(SERVER_TIMING, value);
            }
        }
    }
}

crate::router_ext! {
    /// Adds the `Server-Timing` header.
    ServerTimingRouterExt::server_timing(ServerTimingLayer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(metric(Duration::from_micros(12_345)), "app;dur=12.3");
        assert_eq!(metric(Duration::ZERO), "app;dur=0.0");
    }

    #[test]
    fn appends() {
        let mut h = http::HeaderMap::new();
        add_metric(&mut h, "app;dur=1.0");
        assert_eq!(h.get(&SERVER_TIMING).unwrap(), "app;dur=1.0");

        let mut h = http::HeaderMap::new();
        h.append(SERVER_TIMING, HeaderValue::from_static("db;dur=3"));
        h.append(SERVER_TIMING, HeaderValue::from_static("cache;desc=hit"));
        add_metric(&mut h, "app;dur=1.0");
        assert_eq!(h.get_all(&SERVER_TIMING).iter().count(), 1);
        assert_eq!(
            h.get(&SERVER_TIMING).unwrap(),
            "db;dur=3, cache;desc=hit, app;dur=1.0"
        );

        let mut h = http::HeaderMap::new();
        h.append(SERVER_TIMING, HeaderValue::from_bytes(b"x\xff").unwrap());
        add_metric(&mut h, "app;dur=1.0");
        assert_eq!(h.get_all(&SERVER_TIMING).iter().count(), 2);
    }
}
