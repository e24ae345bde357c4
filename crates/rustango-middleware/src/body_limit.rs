//! [`BodyLimitLayer`]: refuse request bodies over a size with a `413` problem.
//!
//! A `Content-Length` over the limit is refused before the handler runs. Otherwise
//! the body is wrapped in [`http_body_util::Limited`], so a streamed (chunked) body
//! fails once it passes the limit, and axum's own default limit (2 MiB for `Json`,
//! `Bytes`, `String`, `Form`) is raised to the same value when it is higher (a lower
//! limit needs nothing from axum: the layer holds bodies to it by itself). Whatever
//! refuses the body, the extractor or the layer, the answer is
//! [`Problem::payload_too_large()`]: a plain-text `413` from an inner extractor is
//! replaced.
//!
//! ```
//! use axum::{Router, routing::post};
//! use bytes::Bytes;
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::body_limit::BodyLimitLayer;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = Router::new()
//!     .route("/upload", post(|body: Bytes| async move { body.len().to_string() }))
//!     .layer(BodyLimitLayer::new(1024));
//! let client = TestClient::new(app);
//!
//! assert_eq!(client.post("/upload").body(vec![0; 1024]).send().await.text(), "1024");
//!
//! let refused = client.post("/upload").body(vec![0; 1025]).send().await;
//! assert_eq!(refused.status, 413);
//! assert_eq!(refused.header("content-type"), Some("application/problem+json"));
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use http::{Request, StatusCode, header};
use rustango_http::Problem;
use tower::{BoxError, Layer, Service};

/// Limits request bodies; see the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitLayer {
    limit: usize,
}

impl BodyLimitLayer {
    /// Refuses bodies of more than `bytes` bytes.
    pub fn new(bytes: usize) -> Self {
        BodyLimitLayer { limit: bytes }
    }

    /// The limit in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let inner = if self.limit > AXUM_DEFAULT_LIMIT {
            Inner::Raise(DefaultBodyLimit::max(self.limit).layer(inner))
        } else {
            Inner::Plain(inner)
        };
        BodyLimitService {
            inner,
            limit: self.limit,
        }
    }
}

/// The limit of axum's extractors when no layer sets one.
const AXUM_DEFAULT_LIMIT: usize = 2 * 1024 * 1024;

/// The service of [`BodyLimitLayer`].
#[derive(Clone)]
pub struct BodyLimitService<S> {
    inner: Inner<S>,
    limit: usize,
}

/// The inner service, behind axum's service that raises its extractors' limit when
/// ours is higher (it puts the limit in every request's extensions).
#[derive(Clone)]
enum Inner<S> {
    Raise(<DefaultBodyLimit as Layer<S>>::Service),
    Plain(S),
}

impl<S> fmt::Debug for BodyLimitService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyLimitService")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody> Service<Request<ReqBody>> for BodyLimitService<S>
where
    S: Service<Request<Body>, Response = Response>,
    ReqBody: HttpBody<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match &mut self.inner {
            Inner::Raise(inner) => inner.poll_ready(cx),
            Inner::Plain(inner) => inner.poll_ready(cx),
        }
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.limit as u64) {
            tracing::debug!(limit = self.limit, "refusing a request body over the limit");
            return ResponseFuture { inner: None };
        }
        let limit = self.limit;
        // A body whose length is known (a declared `Content-Length`, which the HTTP
        // layer holds it to, or no body at all) cannot exceed the limit: only bodies
        // of unknown length are wrapped and counted.
        let bounded = req
            .body()
            .size_hint()
            .upper()
            .is_some_and(|upper| upper <= limit as u64);
        let req = if bounded {
            // `Body::new` of an axum `Body` is that body, not boxed again.
            req.map(Body::new)
        } else {
            req.map(|body| Body::new(http_body_util::Limited::new(body, limit)))
        };
        ResponseFuture {
            inner: Some(match &mut self.inner {
                Inner::Raise(inner) => inner.call(req),
                Inner::Plain(inner) => inner.call(req),
            }),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`BodyLimitService`].
    pub struct ResponseFuture<F> {
        // `None`: refused up front.
        #[pin]
        inner: Option<F>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("refused", &self.inner.is_none())
            .finish_non_exhaustive()
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(inner) = self.project().inner.as_pin_mut() else {
            return Poll::Ready(Ok(Problem::payload_too_large().into_response()));
        };
        let response = match inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(response)) => response,
        };
        let is_problem = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
        if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_problem {
            // axum's plain-text rejection of a body over the limit.
            return Poll::Ready(Ok(Problem::payload_too_large().into_response()));
        }
        Poll::Ready(Ok(response))
    }
}

crate::router_ext! {
    /// Refuses request bodies over a size with a 413 problem.
    BodyLimitRouterExt::body_limit(BodyLimitLayer)
}
