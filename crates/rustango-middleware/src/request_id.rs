//! [`RequestIdLayer`]: give every request an id, hand it to handlers as
//! [`RequestId`], echo it on the response, and record it in a `tracing` span so every
//! log line of the request carries it.
//!
//! A client (or the proxy in front) may send its own id in `X-Request-Id`; it is kept
//! when it is 1 to 128 characters of `A-Z a-z 0-9 . _ : -` and replaced by a fresh
//! UUID v4 otherwise, so logs never receive spaces, quotes, control bytes or
//! kilobytes of text from the outside. Turn that off with
//! [`trust_incoming(false)`](RequestIdLayer::trust_incoming) when nothing in front of
//! the app sets ids.
//!
//! Put it outermost, so the span covers the other layers, and every response,
//! including 404 and other problem responses, carries the id:
//!
//! ```
//! use axum::{Router, routing::get};
//! use rustango_http::RouterExt;
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::request_id::{RequestId, RequestIdLayer};
//!
//! async fn show(id: RequestId) -> String {
//!     tracing::info!("handling"); // logged inside span `request{request_id=…}`
//!     format!("your request is {id}")
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = Router::new()
//!     .route("/", get(show))
//!     .with_problem_defaults()
//!     .layer(RequestIdLayer::new());
//! let client = TestClient::new(app);
//!
//! // Generated: a UUID v4, also given to the handler.
//! let response = client.get("/").send().await;
//! let id = response.header("x-request-id").unwrap();
//! assert_eq!(id.len(), 36);
//! assert_eq!(response.text(), format!("your request is {id}"));
//!
//! // A well-formed incoming id is kept, on 404 problems too.
//! let response = client.get("/nope").header("x-request-id", "lb-42.7").send().await;
//! assert_eq!(response.status, 404);
//! assert_eq!(response.header("x-request-id"), Some("lb-42.7"));
//!
//! // A malformed one is replaced.
//! let response = client.get("/").header("x-request-id", "<script>").send().await;
//! assert_ne!(response.header("x-request-id"), Some("<script>"));
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{HeaderName, HeaderValue};
use http::{Request, Response};
use tower::{Layer, Service};
use tracing::Instrument as _;
use tracing::instrument::Instrumented;

/// The default header: `x-request-id`.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming id accepted.
pub const MAX_LEN: usize = 128;

/// The id of the current request: a request extension set by [`RequestIdLayer`], and
/// an extractor (`id: RequestId` in a handler's arguments). Its
/// [`Display`](fmt::Display) is the bare id.
///
/// Extracting it from a request the layer did not see is a server mistake: the
/// rejection is a 500 problem, logged. Take `Option<RequestId>` to make it optional.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(pub String);

impl RequestId {
    /// A fresh id: a hyphenated UUID v4.
    pub fn generate() -> Self {
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        // Encoded in place: no formatting machinery on every request.
        RequestId(
            uuid::Uuid::new_v4()
                .hyphenated()
                .encode_lower(&mut text)
                .to_owned(),
        )
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `value` is acceptable as an incoming id: 1 to [`MAX_LEN`] bytes of
    /// ASCII letters, digits, `.`, `_`, `:` and `-`.
    pub fn is_valid(value: &[u8]) -> bool {
        (1..=MAX_LEN).contains(&value.len())
            && value
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::future::extension_extractor!(RequestId, "RequestIdLayer");

/// Assigns request ids; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct RequestIdLayer {
    header_name: HeaderName,
    trust_incoming: bool,
}

impl Default for RequestIdLayer {
    fn default() -> Self {
        RequestIdLayer {
            header_name: X_REQUEST_ID,
            trust_incoming: true,
        }
    }
}

impl RequestIdLayer {
    /// Reads and writes `x-request-id`, keeping well-formed incoming ids.
    pub fn new() -> Self {
        RequestIdLayer::default()
    }

    /// The header to read the incoming id from and write the id to (e.g.
    /// `x-correlation-id`).
    pub fn header_name(mut self, name: HeaderName) -> Self {
        self.header_name = name;
        self
    }

    /// Whether a well-formed incoming id is kept (default `true`); when `false`
    /// every request gets a fresh one.
    pub fn trust_incoming(mut self, trust: bool) -> Self {
        self.trust_incoming = trust;
        self
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService {
            inner,
            header_name: self.header_name.clone(),
            trust_incoming: self.trust_incoming,
        }
    }
}

/// The service of [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct RequestIdService<S> {
    inner: S,
    header_name: HeaderName,
    trust_incoming: bool,
}

impl<S> RequestIdService<S> {
    /// The incoming id if it is to be kept.
    fn incoming<B>(&self, req: &Request<B>) -> Option<RequestId> {
        if !self.trust_incoming {
            return None;
        }
        let mut values = req.headers().get_all(&self.header_name).iter();
        let value = values.next()?;
        if values.next().is_some() {
            // Two ids: neither is the id.
            return None;
        }
        let bytes = value.as_bytes();
        if !RequestId::is_valid(bytes) {
            tracing::debug!(
                len = bytes.len(),
                "replacing a malformed incoming request id"
            );
            return None;
        }
        // Checked: ASCII only.
        std::str::from_utf8(bytes)
            .ok()
            .map(|s| RequestId(s.to_owned()))
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequestIdService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let id = self.incoming(&req).unwrap_or_else(RequestId::generate);
        let value = HeaderValue::try_from(id.as_str()).ok();
        if let Some(value) = &value {
            // Handlers and further proxies reading the header see the same id.
            req.headers_mut()
                .insert(self.header_name.clone(), value.clone());
        }
        // The route template when axum has matched one (the layer sits inside the
        // router): spans then group by `/notes/{id}`, not by every id.
        let route = req
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|p| p.as_str());
        // The path only: query strings can carry tokens. The status is recorded when
        // the response is ready.
        #[cfg(not(feature = "otel"))]
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = %req.uri().path(),
            http.route = route,
            http.response.status_code = tracing::field::Empty,
        );
        // With an OpenTelemetry exporter, `otel.*` name and classify the span too.
        #[cfg(feature = "otel")]
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = %req.uri().path(),
            http.route = route,
            http.response.status_code = tracing::field::Empty,
            otel.name = match route {
                Some(route) => format!("{} {route}", req.method()),
                None => req.method().to_string(),
            },
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
        );
        #[cfg(feature = "otel")]
        crate::otel::adopt_remote_parent(&span, req.headers());
        req.extensions_mut().insert(id);
        let future = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        ResponseFuture {
            inner: future.instrument(span),
            header: value.map(|v| (self.header_name.clone(), v)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RequestIdService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        header: Option<(HeaderName, HeaderValue)>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut inner = this.inner;
        let mut response = match inner.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(response)) => response,
        };
        let status = response.status();
        let span = inner.span();
        span.record("http.response.status_code", i64::from(status.as_u16()));
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
        if let Some((name, value)) = this.header.take() {
            // A handler that set its own id (forwarding a downstream one) wins.
            if !response.headers().contains_key(&name) {
                response.headers_mut().insert(name, value);
            }
        }
        Poll::Ready(Ok(response))
    }
}

crate::router_ext! {
    /// Accepts or generates a request id, echoes it, and logs within its span.
    RequestIdRouterExt::request_id(RequestIdLayer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity() {
        for ok in ["a", "lb-42.7", "trace:1_2", &"x".repeat(128)] {
            assert!(RequestId::is_valid(ok.as_bytes()), "{ok:?}");
        }
        for bad in [
            "",
            "a b",
            "<script>",
            "a\tb",
            "a\nb",
            "caf\u{e9}",
            "x;y",
            &"x".repeat(129),
        ] {
            assert!(!RequestId::is_valid(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_are_uuids() {
        let id = RequestId::generate();
        assert!(RequestId::is_valid(id.as_str().as_bytes()));
        assert_eq!(
            uuid::Uuid::parse_str(id.as_str())
                .unwrap()
                .get_version_num(),
            4
        );
        assert_ne!(id, RequestId::generate());
    }
}
