//! [`TrailingSlashLayer`]: one canonical URL per page, without the trailing slash.
//!
//! - [`redirect`](TrailingSlashLayer::redirect) answers `/posts/?page=2` with
//!   `308 Permanent Redirect` to `/posts?page=2` (308 keeps the method and body, so a
//!   form posted to the slashed URL still works);
//! - [`strip`](TrailingSlashLayer::strip) serves `/posts/` as `/posts` directly,
//!   rewriting the request's URI.
//!
//! `/` itself is left alone. Runs of trailing slashes go (`/a//` → `/a`), and leading
//! runs of `/` or `\` become a single `/`, so `//evil.example/` redirects to the
//! relative `/evil.example`, never to another host.
//!
//! **Wrap the router, do not `.layer()` it.** A layer added with `Router::layer` runs
//! after the router has picked the route, so a rewritten URI would come too late (and
//! `/posts/` would already be a 404). Wrap the whole router as a service instead, and
//! serve it with `axum::ServiceExt::into_make_service` (or, inside another router, as
//! its `fallback_service`). `redirect` works either way, since it answers by itself,
//! but wrapping also redirects URLs the router does not know.
//!
//! ```
//! use axum::{Router, routing::get};
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::trailing_slash::TrailingSlashLayer;
//! use tower::Layer as _;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let routes = Router::new().route("/posts", get(|| async { "posts" }));
//!
//! // Serving: `axum::serve(listener, axum::ServiceExt::<axum::extract::Request>::into_make_service(app))`.
//! let app = TrailingSlashLayer::strip().layer(routes.clone());
//! // Here, as the fallback of an empty router, which the test client accepts.
//! let client = TestClient::new(Router::new().fallback_service(app));
//! assert_eq!(client.get("/posts/").send().await.text(), "posts");
//!
//! let app = TrailingSlashLayer::redirect().layer(routes);
//! let client = TestClient::new(Router::new().fallback_service(app));
//! let response = client.get("/posts/?page=2").send().await;
//! assert_eq!(response.status, 308);
//! assert_eq!(response.header("location"), Some("/posts?page=2"));
//! # });
//! ```

use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use futures_util::future::{Either, ready};
use http::header::{self, HeaderValue};
use http::uri::{PathAndQuery, Uri};
use http::{Request, StatusCode};
use tower::{Layer, Service};

/// What [`TrailingSlashLayer`] does with a slashed path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Redirect,
    Strip,
}

/// Redirects or rewrites paths ending in `/`; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct TrailingSlashLayer {
    mode: Mode,
}

impl TrailingSlashLayer {
    /// Answers `308 Permanent Redirect` to the path without the trailing slash (the
    /// query is kept).
    pub fn redirect() -> Self {
        TrailingSlashLayer {
            mode: Mode::Redirect,
        }
    }

    /// Rewrites the request's URI to the path without the trailing slash before the
    /// wrapped service sees it.
    pub fn strip() -> Self {
        TrailingSlashLayer { mode: Mode::Strip }
    }
}

impl<S> Layer<S> for TrailingSlashLayer {
    type Service = TrailingSlash<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrailingSlash {
            inner,
            mode: self.mode,
        }
    }
}

/// The service made by [`TrailingSlashLayer`].
#[derive(Debug, Clone)]
pub struct TrailingSlash<S> {
    inner: S,
    mode: Mode,
}

/// The response future of [`TrailingSlash`]: the inner service's future, or the ready
/// redirect.
pub type ResponseFuture<F, E> = crate::future::ShortCircuit<F, E>;

impl<S, B> Service<Request<B>> for TrailingSlash<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let Some(target) = canonical(req.uri()) else {
            return Either::Left(self.inner.call(req));
        };
        match self.mode {
            Mode::Redirect => match HeaderValue::try_from(target.as_str()) {
                Ok(location) => {
                    let mut response = Response::new(Body::empty());
                    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
                    response.headers_mut().insert(header::LOCATION, location);
                    Either::Right(ready(Ok(response)))
                }
                Err(_) => Either::Left(self.inner.call(req)),
            },
            Mode::Strip => {
                if let Ok(pq) = PathAndQuery::try_from(target.as_str()) {
                    let mut parts = req.uri().clone().into_parts();
                    parts.path_and_query = Some(pq);
                    if let Ok(uri) = Uri::from_parts(parts) {
                        *req.uri_mut() = uri;
                    }
                }
                Either::Left(self.inner.call(req))
            }
        }
    }
}

/// The path (and query) without the trailing slash, if `uri`'s path has one and is
/// not `/`; leading runs of `/` and `\` are reduced to one `/`.
fn canonical(uri: &Uri) -> Option<String> {
    let path = uri.path();
    if path == "/" || !path.ends_with('/') {
        return None;
    }
    let trimmed = path.trim_end_matches('/');
    let rest = trimmed.trim_start_matches(['/', '\\']);
    let mut target = String::with_capacity(path.len());
    target.push('/');
    target.push_str(rest);
    if let Some(query) = uri.query() {
        target.push('?');
        target.push_str(query);
    }
    Some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(uri: &str) -> Option<String> {
        canonical(&uri.parse::<Uri>().unwrap())
    }

    #[test]
    fn canonical_paths() {
        assert_eq!(c("/"), None);
        assert_eq!(c("/a"), None);
        assert_eq!(c("/a?x=/"), None);
        assert_eq!(c("/a/").as_deref(), Some("/a"));
        assert_eq!(c("/a/b//?q=1").as_deref(), Some("/a/b?q=1"));
        assert_eq!(c("//").as_deref(), Some("/"));
        assert_eq!(c("//evil.com/").as_deref(), Some("/evil.com"));
        assert_eq!(c("///evil.com//").as_deref(), Some("/evil.com"));
        assert_eq!(c("/\\evil.com/").as_deref(), Some("/evil.com"));
        assert_eq!(c("http://host/a/?b").as_deref(), Some("/a?b"));
    }
}
