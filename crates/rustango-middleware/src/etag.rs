//! [`EtagLayer`]: a weak `ETag` on `GET` and `HEAD` responses, and `304 Not Modified`
//! when the client's `If-None-Match` already names it.
//!
//! For a `200 OK` answer to `GET` or `HEAD` without an `ETag`, the layer reads the
//! body (when its size is known and at most [`max_body`](EtagLayer::max_body), 1 MiB by
//! default; bigger or streaming bodies pass through untagged), hashes it with 64-bit
//! FNV-1a (stable across Rust versions and restarts, so caches keep working after a
//! deploy) and sets `ETag: W/"<16 hex digits>"`. The tag is weak: it says "the same
//! content", not "the same bytes on the wire" (compression may change those).
//!
//! When the request's `If-None-Match` matches the tag (`*`, one tag, or a list, with
//! the weak comparison of RFC 9110 §13.1.2), the answer is `304 Not Modified` with an
//! empty body, keeping `ETag`, `Cache-Control`, `Content-Location`, `Date`, `Expires`,
//! `Vary`, `Last-Modified` and (as Django does) `Set-Cookie`. A response that already
//! has an `ETag` (set by the handler) is not hashed, but its tag is still compared. A
//! malformed `If-None-Match` matches nothing: the full response is sent.
//!
//! `HEAD` is passed on as `GET` (axum answers `HEAD` with the `GET` handler and drops
//! the body before a layer could hash it), and the body is dropped here, so a `HEAD`
//! carries the same tag as the `GET`.
//!
//! ```
//! use axum::{Router, routing::get};
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::etag::EtagLayer;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(EtagLayer::new());
//! let client = TestClient::new(app);
//!
//! let first = client.get("/").send().await;
//! let etag = first.header("etag").unwrap().to_owned();
//! assert!(etag.starts_with("W/\""));
//!
//! // The client revalidates: nothing changed, nothing is sent.
//! let again = client.get("/").header("if-none-match", etag.as_str()).send().await;
//! assert_eq!(again.status, 304);
//! assert!(again.body.is_empty());
//! assert_eq!(again.header("etag"), Some(etag.as_str()));
//! # });
//! ```

use std::task::{Context, Poll};

use axum::body::{Body, HttpBody as _};
use axum::response::{IntoResponse as _, Response};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use rustango_http::Problem;
use tower::{Layer, Service};

use crate::future::BoxResponseFuture;

/// The default largest body hashed: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// The headers a `304 Not Modified` keeps: those of RFC 9110 §15.4.5, `Last-Modified`,
/// and, as Django does, `Set-Cookie` (a cookie the full response would have set, a CSRF
/// or refreshed session cookie, must not be lost because the page was cached).
const KEPT_ON_304: [header::HeaderName; 8] = [
    header::ETAG,
    header::CACHE_CONTROL,
    header::CONTENT_LOCATION,
    header::DATE,
    header::EXPIRES,
    header::VARY,
    header::LAST_MODIFIED,
    header::SET_COOKIE,
];

/// Tags `GET`/`HEAD` responses and answers conditional requests; see the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct EtagLayer {
    max_body: usize,
}

impl Default for EtagLayer {
    fn default() -> Self {
        EtagLayer {
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

impl EtagLayer {
    /// Hashes bodies up to [`DEFAULT_MAX_BODY`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The largest body (in bytes) read and hashed; bigger ones pass through untagged.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }
}

impl<S> Layer<S> for EtagLayer {
    type Service = Etag<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Etag {
            inner,
            max_body: self.max_body,
        }
    }
}

/// The service made by [`EtagLayer`].
#[derive(Debug, Clone)]
pub struct Etag<S> {
    inner: S,
    max_body: usize,
}

impl<S, B> Service<Request<B>> for Etag<S>
where
    S: Service<Request<B>, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let is_head = req.method() == Method::HEAD;
        if !(is_head || req.method() == Method::GET) {
            let future = self.inner.call(req);
            return BoxResponseFuture {
                inner: Box::pin(future),
            };
        }
        if is_head {
            *req.method_mut() = Method::GET;
        }
        let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
        let max_body = self.max_body;
        let future = self.inner.call(req);
        BoxResponseFuture {
            inner: Box::pin(async move {
                let response = future.await?;
                Ok(finish(response, if_none_match, is_head, max_body).await)
            }),
        }
    }
}

/// Tags `response` if it qualifies, then answers 304 if `if_none_match` matches.
async fn finish(
    response: Response,
    if_none_match: Option<HeaderValue>,
    is_head: bool,
    max_body: usize,
) -> Response {
    let (mut parts, body) = response.into_parts();
    let mut body = if parts.status != StatusCode::OK || parts.headers.contains_key(header::ETAG) {
        body
    } else {
        match body.size_hint().upper() {
            Some(len) if len <= max_body as u64 => match body.collect().await {
                Ok(collected) => {
                    let bytes = collected.to_bytes();
                    parts.headers.insert(header::ETAG, weak_etag(&bytes));
                    Body::from(bytes)
                }
                Err(err) => {
                    tracing::error!(error = %err, "reading the response body to tag it failed");
                    return Problem::internal().into_response();
                }
            },
            _ => body,
        }
    };
    if parts.status == StatusCode::OK {
        let matched = match (&if_none_match, parts.headers.get(header::ETAG)) {
            (Some(condition), Some(etag)) => if_none_match_matches(condition.as_bytes(), etag),
            _ => false,
        };
        if matched {
            return not_modified(&parts.headers);
        }
    }
    if is_head {
        body = Body::empty();
    }
    Response::from_parts(parts, body)
}

fn not_modified(headers: &HeaderMap) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    for name in KEPT_ON_304 {
        for value in headers.get_all(&name) {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    response
}

/// The weak tag of `body`: `W/"<FNV-1a 64 in hex>"`.
pub fn weak_etag(body: &[u8]) -> HeaderValue {
    let value = format!("W/\"{:016x}\"", fnv1a_64(body));
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""))
}

/// 64-bit FNV-1a: tiny, and the same in every Rust version (unlike `DefaultHasher`).
fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

/// The opaque part of an entity tag (`"…"`, without `W/`), if well formed.
fn opaque_tag(tag: &[u8]) -> Option<&[u8]> {
    let tag = tag.strip_prefix(b"W/").unwrap_or(tag);
    let inner = tag.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    // etagc = %x21 / %x23-7E / obs-text
    inner
        .iter()
        .all(|&b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
        .then_some(inner)
}

/// Whether an `If-None-Match` value matches `etag` (weak comparison). A malformed
/// value matches nothing.
pub fn if_none_match_matches(condition: &[u8], etag: &HeaderValue) -> bool {
    let condition = condition.trim_ascii();
    if condition == b"*" {
        return true;
    }
    let Some(current) = opaque_tag(etag.as_bytes().trim_ascii()) else {
        return false;
    };
    let mut matched = false;
    for candidate in condition.split(|&b| b == b',') {
        let candidate = candidate.trim_ascii();
        if candidate.is_empty() {
            // Empty list elements are allowed (RFC 9110 §5.6.1).
            continue;
        }
        match opaque_tag(candidate) {
            Some(opaque) => matched |= opaque == current,
            None => return false,
        }
    }
    matched
}

crate::router_ext! {
    /// Tags GET responses and answers `304 Not Modified` on `If-None-Match`.
    EtagRouterExt::etag(EtagLayer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_vectors() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn matching() {
        let tag = HeaderValue::from_static("W/\"abc\"");
        for yes in [
            "*",
            "\"abc\"",
            "W/\"abc\"",
            " \"x\", W/\"abc\" ",
            "\"x\",,\"abc\"",
        ] {
            assert!(if_none_match_matches(yes.as_bytes(), &tag), "{yes:?}");
        }
        for no in [
            "",
            "abc",
            "\"abd\"",
            "\"abc",
            "w/\"abc\"",
            "\"a\"bc\"",
            "*, \"abc\"",
            "\"abc\", garbage",
            "W/ \"abc\"",
        ] {
            assert!(!if_none_match_matches(no.as_bytes(), &tag), "{no:?}");
        }
    }
}
