//! [`MethodOverrideLayer`]: `PUT`, `PATCH` and `DELETE` from HTML forms, which can only
//! send `GET` and `POST`.
//!
//! A `POST` becomes the method named by
//!
//! - the `X-HTTP-Method-Override` header (the name is configurable, or the header can
//!   be ignored: [`header`](MethodOverrideLayer::header)), or else
//! - a `_method` field of an `application/x-www-form-urlencoded` body
//!   (`<input type="hidden" name="_method" value="DELETE">`).
//!
//! Only `PUT`, `PATCH` and `DELETE` (any letter case) are accepted; any other value is
//! a `400` problem (turning a `POST` into `GET`, `TRACE` or `CONNECT` would let a
//! cross-site form reach what forms cannot). Only `POST` is overridden: other methods
//! pass untouched. To read `_method`, the form body is buffered (up to
//! [`max_body`](MethodOverrideLayer::max_body), 64 KiB by default; larger is a `413`
//! problem) and then handed on unchanged, so `Form` extractors still see every field.
//!
//! **Wrap the router, do not `.layer()` it.** A layer added with `Router::layer` runs
//! after the router has picked the route by method, so the override would come too late.
//! Wrap the whole router as a service and serve it with
//! `axum::ServiceExt::into_make_service` (or as the `fallback_service` of another
//! router, as below).
//!
//! ```
//! use axum::{Router, routing::{delete, post}};
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::method_override::MethodOverrideLayer;
//! use tower::Layer as _;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let routes = Router::new()
//!     .route("/posts/1", delete(|body: String| async move { format!("deleted ({body})") }))
//!     .route("/posts/1", post(|| async { "posted" }));
//! let app = MethodOverrideLayer::new().layer(routes);
//! let client = TestClient::new(Router::new().fallback_service(app));
//!
//! let response = client
//!     .post("/posts/1")
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .body("_method=DELETE&confirm=yes")
//!     .send()
//!     .await;
//! assert_eq!(response.text(), "deleted (_method=DELETE&confirm=yes)");
//!
//! let response = client
//!     .post("/posts/1")
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .body("_method=TRACE")
//!     .send()
//!     .await;
//! assert_eq!(response.status, 400);
//! # });
//! ```

use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse as _, Response};
use http::header::{self, HeaderName};
use http::{Method, Request};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use rustango_http::Problem;
use tower::{Layer, Service};

use crate::future::BoxResponseFuture;

/// The default override header: `x-http-method-override`.
pub const X_HTTP_METHOD_OVERRIDE: HeaderName = HeaderName::from_static("x-http-method-override");

/// The default largest form body read: 64 KiB.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// The form field naming the method.
pub const FIELD: &str = "_method";

/// Turns form `POST`s into `PUT`, `PATCH` or `DELETE`; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct MethodOverrideLayer {
    header: Option<HeaderName>,
    max_body: usize,
}

impl Default for MethodOverrideLayer {
    fn default() -> Self {
        MethodOverrideLayer {
            header: Some(X_HTTP_METHOD_OVERRIDE),
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

impl MethodOverrideLayer {
    /// Reads `X-HTTP-Method-Override` and the `_method` form field; form bodies up to
    /// [`DEFAULT_MAX_BODY`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The override header to read, or `None` to read only the form field.
    pub fn header(mut self, name: Option<HeaderName>) -> Self {
        self.header = name;
        self
    }

    /// The largest form body (in bytes) buffered to find `_method`; a bigger one is
    /// refused with a 413 problem.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }
}

impl<S> Layer<S> for MethodOverrideLayer {
    type Service = MethodOverride<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MethodOverride {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`MethodOverrideLayer`].
#[derive(Debug, Clone)]
pub struct MethodOverride<S> {
    inner: S,
    layer: MethodOverrideLayer,
}

impl<S> Service<Request<Body>> for MethodOverride<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        if req.method() != Method::POST {
            return boxed(self.inner.call(req));
        }
        // The header wins over the body, and needs no buffering.
        if let Some(name) = &self.layer.header
            && let Some(value) = req.headers().get(name)
        {
            return match parse_method(value.as_bytes()) {
                Some(method) => {
                    *req.method_mut() = method;
                    boxed(self.inner.call(req))
                }
                None => refuse(Problem::bad_request(format!(
                    "The {name} header must be PUT, PATCH or DELETE."
                ))),
            };
        }
        if !crate::form::is_urlencoded(req.headers()) {
            return boxed(self.inner.call(req));
        }
        let max_body = self.layer.max_body;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > max_body as u64) {
            return refuse(Problem::payload_too_large());
        }
        // The service that was made ready goes into the future; a clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        BoxResponseFuture {
            inner: Box::pin(async move {
                let (mut parts, body) = req.into_parts();
                let bytes = match Limited::new(body, max_body).collect().await {
                    Ok(collected) => collected.to_bytes(),
                    Err(err) if err.is::<LengthLimitError>() => {
                        return Ok(Problem::payload_too_large().into_response());
                    }
                    Err(err) => {
                        tracing::debug!(error = %err, "reading a form body failed");
                        return Ok(Problem::bad_request("The request body could not be read.")
                            .into_response());
                    }
                };
                match form_method(&bytes) {
                    Ok(Some(method)) => parts.method = method,
                    Ok(None) => {}
                    Err(()) => {
                        return Ok(Problem::bad_request(
                            "The _method form field must be PUT, PATCH or DELETE.",
                        )
                        .into_response());
                    }
                }
                inner
                    .call(Request::from_parts(parts, Body::from(bytes)))
                    .await
            }),
        }
    }
}

fn boxed<F, E>(future: F) -> BoxResponseFuture<E>
where
    F: Future<Output = Result<Response, E>> + Send + 'static,
{
    BoxResponseFuture {
        inner: Box::pin(future),
    }
}

fn refuse<E: Send + 'static>(problem: Problem) -> BoxResponseFuture<E> {
    boxed(std::future::ready(Ok(problem.into_response())))
}

/// `PUT`, `PATCH` or `DELETE`, in any letter case.
fn parse_method(value: &[u8]) -> Option<Method> {
    let value = value.trim_ascii();
    [Method::PUT, Method::PATCH, Method::DELETE]
        .into_iter()
        .find(|m| value.eq_ignore_ascii_case(m.as_str().as_bytes()))
}

/// The method named by the first `_method` field of a form body (names and values
/// decoded as a form extractor would: `%5Fmethod`): `Ok(None)` without one, `Err` for a
/// value other than `PUT`, `PATCH` or `DELETE`.
fn form_method(body: &[u8]) -> Result<Option<Method>, ()> {
    match crate::form::field(body, FIELD) {
        None => Ok(None),
        Some(value) => parse_method(&value).map(Some).ok_or(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields() {
        assert_eq!(form_method(b"_method=PUT"), Ok(Some(Method::PUT)));
        assert_eq!(
            form_method(b"a=1&_method=delete&b"),
            Ok(Some(Method::DELETE))
        );
        assert_eq!(form_method(b"a=1&b=2"), Ok(None));
        assert_eq!(form_method(b""), Ok(None));
        assert_eq!(form_method(b"x_method=PUT"), Ok(None));
        // Encoded names and values, as a browser or a form extractor sees them.
        assert_eq!(form_method(b"%5Fmethod=PUT"), Ok(Some(Method::PUT)));
        assert_eq!(form_method(b"%5fmethod=%50atch"), Ok(Some(Method::PATCH)));
        assert_eq!(form_method(b"_method=+DELETE+"), Ok(Some(Method::DELETE)));
        assert_eq!(form_method(b"%5method=PUT"), Ok(None));
        for bad in [
            &b"_method=TRACE"[..],
            b"_method=GET",
            b"_method=",
            b"_method",
            b"_method=PUT%00",
            b"_method=\xff",
        ] {
            assert_eq!(form_method(bad), Err(()), "{bad:?}");
        }
    }
}
