//! Problem responses for what no handler answers: unknown routes (404), known routes
//! with the wrong method (405), and panics (500).
//!
//! [`RouterExt::with_problem_defaults`] installs all three ([`fallback`] and
//! [`ProblemDefaultsLayer`]); the pieces are public for routers assembled by hand.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{OriginalUri, Request};
use axum::response::{IntoResponse, Response};
use http::header;
use http::{Method, StatusCode};
use tower::{Layer, Service};
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};

use crate::Problem;

/// The path the client asked for, before any nesting stripped a prefix.
fn request_path<B>(req: &http::Request<B>) -> String {
    match req.extensions().get::<OriginalUri>() {
        Some(OriginalUri(uri)) => uri.path().to_owned(),
        None => req.uri().path().to_owned(),
    }
}

/// A fallback handler: 404 problem whose `instance` is the request path.
///
/// ```
/// let app: axum::Router = axum::Router::new().fallback(rustango_http::fallback);
/// ```
pub async fn fallback(req: Request) -> Problem {
    let path = request_path(&req);
    Problem::not_found()
        .with_detail("No resource matches this URL.")
        .with_instance(path)
}

/// A layer that turns axum's bodiless 405 responses (a route that exists, called with a
/// method it does not handle) into 405 problems, keeping the `Allow` header.
///
/// A handler's own 405 with a body is left alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct MethodNotAllowedLayer;

impl MethodNotAllowedLayer {
    /// The layer.
    pub fn new() -> Self {
        MethodNotAllowedLayer
    }
}

impl<S> Layer<S> for MethodNotAllowedLayer {
    type Service = MethodNotAllowed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MethodNotAllowed { inner }
    }
}

/// The service of [`MethodNotAllowedLayer`].
#[derive(Debug, Clone)]
pub struct MethodNotAllowed<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for MethodNotAllowed<S>
where
    S: Service<http::Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = MethodNotAllowedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let (method, path) = method_and_uri(&req);
        MethodNotAllowedFuture {
            inner: self.inner.call(req),
            method,
            path: Some(path),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`MethodNotAllowed`].
    pub struct MethodNotAllowedFuture<F> {
        #[pin]
        inner: F,
        method: Method,
        path: Option<http::Uri>,
    }
}

impl<F> std::fmt::Debug for MethodNotAllowedFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MethodNotAllowedFuture")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<F, E> Future for MethodNotAllowedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(response)) => response,
        };
        Poll::Ready(Ok(problem_for_405(response, this.method, this.path)))
    }
}

/// The panic handler of [`catch_panic_layer`]: logs the panic message at error level
/// and answers with [`Problem::internal`], which never contains it.
#[derive(Debug, Clone, Copy, Default)]
pub struct PanicToProblem;

impl ResponseForPanic for PanicToProblem {
    type ResponseBody = Body;

    fn response_for_panic(&mut self, err: Box<dyn Any + Send + 'static>) -> Response<Body> {
        panic_response(&*err)
    }
}

/// Logs a panic's message at error level and answers with [`Problem::internal`],
/// which never contains it.
fn panic_response(err: &(dyn Any + Send)) -> Response {
    let message = if let Some(s) = err.downcast_ref::<String>() {
        s.as_str()
    } else if let Some(s) = err.downcast_ref::<&str>() {
        s
    } else {
        "(a panic payload that is not a string)"
    };
    tracing::error!(panic = message, "a handler panicked");
    Problem::internal().into_response()
}

/// tower-http's `CatchPanicLayer` answering a panic with a logged 500 problem.
pub fn catch_panic_layer() -> CatchPanicLayer<PanicToProblem> {
    CatchPanicLayer::custom(PanicToProblem)
}

/// Problem-returning defaults for an axum [`Router`].
pub trait RouterExt {
    /// Sets [`fallback`] as the router's fallback (404 problem with `instance`),
    /// converts axum's empty 405 responses into 405 problems keeping `Allow`
    /// ([`MethodNotAllowedLayer`]), and turns panics into 500 problems
    /// ([`catch_panic_layer`]).
    ///
    /// Like [`Router::layer`], this applies to the routes added so far: call it after
    /// the last `route`/`nest`/`merge`. It replaces a fallback set before.
    #[must_use]
    fn with_problem_defaults(self) -> Self;
}

impl<S> RouterExt for Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn with_problem_defaults(self) -> Self {
        self.fallback(fallback).layer(ProblemDefaultsLayer)
    }
}

/// [`MethodNotAllowedLayer`] and [`catch_panic_layer`] in one service: axum's
/// bodiless 405 responses become 405 problems keeping `Allow`, and a panic in the
/// service (while it is called or while its future is polled) becomes a logged 500
/// problem that never contains the panic message.
///
/// One layer instead of two, and the response body is passed through as it is
/// instead of boxed again: the server's default stack uses it around every route.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemDefaultsLayer;

impl<S> Layer<S> for ProblemDefaultsLayer {
    type Service = ProblemDefaults<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProblemDefaults { inner }
    }
}

/// The service of [`ProblemDefaultsLayer`].
#[derive(Debug, Clone)]
pub struct ProblemDefaults<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for ProblemDefaults<S>
where
    S: Service<http::Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ProblemDefaultsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let (method, path) = method_and_uri(&req);
        let state = match catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(future) => State::Running { future },
            Err(err) => State::Panicked {
                response: Some(panic_response(&*err)),
            },
        };
        ProblemDefaultsFuture {
            state,
            method,
            path: Some(path),
        }
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running { #[pin] future: F },
        Panicked { response: Option<Response> },
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ProblemDefaults`].
    pub struct ProblemDefaultsFuture<F> {
        #[pin]
        state: State<F>,
        method: Method,
        path: Option<http::Uri>,
    }
}

impl<F> std::fmt::Debug for ProblemDefaultsFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProblemDefaultsFuture")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<F, E> Future for ProblemDefaultsFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = match this.state.project() {
            StateProj::Running { future } => {
                match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                    Ok(polled) => polled,
                    Err(err) => return Poll::Ready(Ok(panic_response(&*err))),
                }
            }
            StateProj::Panicked { response } => {
                let response = response
                    .take()
                    .unwrap_or_else(|| Problem::internal().into_response());
                return Poll::Ready(Ok(response));
            }
        };
        let response = match polled {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(response)) => response,
        };
        Poll::Ready(Ok(problem_for_405(response, this.method, this.path)))
    }
}

/// The request's method and the URI the client asked for (before nesting stripped a
/// prefix), kept for a 405 problem. The URI shares its bytes: the path is copied out
/// only when a 405 is answered.
fn method_and_uri<B>(req: &http::Request<B>) -> (Method, http::Uri) {
    let uri = match req.extensions().get::<OriginalUri>() {
        Some(OriginalUri(uri)) => uri.clone(),
        None => req.uri().clone(),
    };
    (req.method().clone(), uri)
}

/// `response` itself, or a 405 problem keeping its `Allow` when it is axum's bodiless
/// 405.
fn problem_for_405(response: Response, method: &Method, path: &mut Option<http::Uri>) -> Response {
    let bodiless = response.body().size_hint().exact() == Some(0)
        && !response.headers().contains_key(header::CONTENT_TYPE);
    if response.status() != StatusCode::METHOD_NOT_ALLOWED || !bodiless {
        return response;
    }
    let path = path.take().unwrap_or_default();
    let mut problem = Problem::new(StatusCode::METHOD_NOT_ALLOWED)
        .with_detail(format!("{method} is not allowed on this URL."))
        .with_instance(path.path());
    if let Some(allow) = response.headers().get(header::ALLOW) {
        problem = problem.with_header(header::ALLOW, allow.clone());
    }
    problem.into_response()
}
