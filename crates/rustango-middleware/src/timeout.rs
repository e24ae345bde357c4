//! [`TimeoutLayer`]: answer `503 Service Unavailable` (a problem, detail "the request
//! took too long") when the inner service takes longer than a duration. The inner
//! future is dropped at that moment, so the handler stops at its next `.await`.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::timeout::TimeoutLayer;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let app = Router::new()
//!     .route("/fast", get(|| async { "done" }))
//!     .route("/slow", get(|| async {
//!         tokio::time::sleep(Duration::from_secs(60)).await;
//!         "never"
//!     }))
//!     .layer(TimeoutLayer::new(Duration::from_millis(50)));
//! let client = TestClient::new(app);
//!
//! assert_eq!(client.get("/fast").send().await.text(), "done");
//! let response = client.get("/slow").send().await;
//! assert_eq!(response.status, 503);
//! assert_eq!(response.problem().detail(), Some("the request took too long"));
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse as _, Response};
use http::{Request, StatusCode};
use rustango_http::Problem;
use tokio::time::Sleep;
use tower::{Layer, Service};

/// The `detail` of the timeout problem.
pub const DETAIL: &str = "the request took too long";

/// Limits how long a request may take; see the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    duration: Duration,
}

impl TimeoutLayer {
    /// Answers 503 when the inner service takes longer than `duration`.
    pub fn new(duration: Duration) -> Self {
        TimeoutLayer { duration }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = TimeoutService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TimeoutService {
            inner,
            duration: self.duration,
        }
    }
}

/// The service of [`TimeoutLayer`].
#[derive(Debug, Clone)]
pub struct TimeoutService<S> {
    inner: S,
    duration: Duration,
}

impl<S, ReqBody> Service<Request<ReqBody>> for TimeoutService<S>
where
    S: Service<Request<ReqBody>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        ResponseFuture {
            inner: Some(Box::pin(self.inner.call(req))),
            sleep: Box::pin(tokio::time::sleep(self.duration)),
            duration: self.duration,
        }
    }
}

/// The response future of [`TimeoutService`].
pub struct ResponseFuture<F> {
    inner: Option<Pin<Box<F>>>,
    sleep: Pin<Box<Sleep>>,
    duration: Duration,
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("duration", &self.duration)
            .finish_non_exhaustive()
    }
}

fn timed_out() -> Response {
    Problem::new(StatusCode::SERVICE_UNAVAILABLE)
        .with_detail(DETAIL)
        .into_response()
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            // Polled again after timing out.
            return Poll::Ready(Ok(timed_out()));
        };
        if let Poll::Ready(result) = inner.as_mut().poll(cx) {
            this.inner = None;
            return Poll::Ready(result);
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            // Drop the handler's future now, not when this one is dropped.
            this.inner = None;
            tracing::warn!(timeout = ?this.duration, "request timed out");
            return Poll::Ready(Ok(timed_out()));
        }
        Poll::Pending
    }
}

crate::router_ext! {
    /// Answers a 503 problem when a handler takes too long.
    TimeoutRouterExt::timeout(TimeoutLayer)
}
