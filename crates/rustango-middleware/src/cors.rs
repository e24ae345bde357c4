//! [`CorsLayer`]: Cross-Origin Resource Sharing, tower-http's `CorsLayer` with the
//! spec's presets and a configuration that cannot panic while serving.
//!
//! - [`CorsLayer::permissive()`] is for development: any origin, the common methods,
//!   any request header, no credentials.
//! - [`CorsLayer::new()`] allows nothing; add an explicit allowlist with
//!   [`allow_origins`](CorsLayer::allow_origins) (or
//!   [`try_allow_origins`](CorsLayer::try_allow_origins), which returns a typed
//!   [`CorsError`] for an origin that is not a valid header value), then methods,
//!   headers, credentials and the preflight cache lifetime.
//!
//! Browsers ignore `Access-Control-Allow-Credentials` next to a wildcard, so
//! "any origin + credentials" is refused with [`CorsError::CredentialsWithAnyOrigin`];
//! with credentials on, "any method" and "any header" are answered by echoing the
//! preflight's request, which is what the wildcard means without credentials.
//! A request from an origin that is not allowed gets no `Access-Control-*` header.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use http::{Method, header};
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::cors::CorsLayer;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let cors = CorsLayer::new()
//!     .allow_origins(["https://app.example.com"])
//!     .allow_methods([Method::GET, Method::POST])
//!     .allow_headers([header::CONTENT_TYPE])
//!     .allow_credentials(true)
//!     .max_age(Duration::from_secs(600));
//! let app = Router::new().route("/api", get(|| async { "ok" })).layer(cors);
//! let client = TestClient::new(app);
//!
//! let preflight = client
//!     .options("/api")
//!     .header("origin", "https://app.example.com")
//!     .header("access-control-request-method", "POST")
//!     .send()
//!     .await;
//! assert_eq!(
//!     preflight.header("access-control-allow-origin"),
//!     Some("https://app.example.com")
//! );
//! assert_eq!(preflight.header("access-control-allow-credentials"), Some("true"));
//!
//! // Typed errors instead of panics.
//! assert!(CorsLayer::new().try_allow_origins(["bad\norigin"]).is_err());
//! assert!(CorsLayer::permissive().try_allow_credentials(true).is_err());
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Response};
use tower::{Layer, Service};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, Any};

/// A CORS configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorsError {
    /// An allowed origin is not a valid header value.
    #[error("invalid CORS origin {origin:?}")]
    InvalidOrigin {
        /// The origin as given.
        origin: String,
    },
    /// An allowed method is not a valid method name.
    #[error("invalid CORS method {method:?}")]
    InvalidMethod {
        /// The method as given.
        method: String,
    },
    /// Credentials were allowed together with any origin.
    #[error("CORS credentials cannot be allowed for any origin: list the origins")]
    CredentialsWithAnyOrigin,
}

/// The method named `name`: the Fetch standard's "normalize a method" first (`delete`,
/// `get`, `head`, `options`, `post` and `put` in any case are upper-cased; any other
/// name is case-sensitive).
fn method_named(name: &str) -> Result<Method, CorsError> {
    const NORMALIZED: [Method; 6] = [
        Method::DELETE,
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::POST,
        Method::PUT,
    ];
    if let Some(method) = NORMALIZED
        .iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(name))
    {
        return Ok(method.clone());
    }
    Method::from_bytes(name.as_bytes()).map_err(|_| CorsError::InvalidMethod {
        method: name.to_owned(),
    })
}

#[derive(Debug, Clone)]
enum Origins {
    List(Vec<HeaderValue>),
    Any,
}

/// Which methods or headers a preflight may ask for.
#[derive(Debug, Clone)]
enum Allow<T> {
    List(Vec<T>),
    Any,
}

/// The methods [`CorsLayer::permissive`] allows.
pub const COMMON_METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// CORS; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct CorsLayer {
    origins: Origins,
    methods: Allow<Method>,
    headers: Allow<HeaderName>,
    credentials: bool,
    max_age: Option<Duration>,
}

impl Default for CorsLayer {
    fn default() -> Self {
        CorsLayer {
            origins: Origins::List(Vec::new()),
            methods: Allow::List(Vec::new()),
            headers: Allow::List(Vec::new()),
            credentials: false,
            max_age: None,
        }
    }
}

impl CorsLayer {
    /// Allows nothing: add origins, methods and headers with the builder methods.
    pub fn new() -> Self {
        CorsLayer::default()
    }

    /// For development: any origin, [`COMMON_METHODS`], any request header, no
    /// credentials.
    pub fn permissive() -> Self {
        CorsLayer {
            origins: Origins::Any,
            methods: Allow::List(COMMON_METHODS.to_vec()),
            headers: Allow::Any,
            ..CorsLayer::default()
        }
    }

    /// Allows exactly these origins (`scheme://host[:port]`), replacing earlier ones.
    ///
    /// # Panics
    ///
    /// When an origin is not a valid header value (at configuration time, never
    /// while serving); [`try_allow_origins`](Self::try_allow_origins) returns the error.
    #[track_caller]
    pub fn allow_origins<I, O>(self, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: AsRef<str>,
    {
        match self.try_allow_origins(origins) {
            Ok(layer) => layer,
            Err(e) => panic!("{e}"),
        }
    }

    /// Allows exactly these origins, or says which one is not a valid header value (or
    /// is empty or a wildcard: use [`allow_any_origin`](Self::allow_any_origin)).
    pub fn try_allow_origins<I, O>(mut self, origins: I) -> Result<Self, CorsError>
    where
        I: IntoIterator<Item = O>,
        O: AsRef<str>,
    {
        let list = origins
            .into_iter()
            .map(|o| {
                let o = o.as_ref();
                let invalid = || CorsError::InvalidOrigin {
                    origin: o.to_owned(),
                };
                let trimmed = o.trim_end_matches('/');
                if trimmed.is_empty() || trimmed.contains('*') {
                    return Err(invalid());
                }
                HeaderValue::from_str(trimmed).map_err(|_| invalid())
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.origins = Origins::List(list);
        Ok(self)
    }

    /// Allows any origin (`Access-Control-Allow-Origin: *`).
    ///
    /// # Panics
    ///
    /// When credentials are allowed; see [`validate`](Self::validate).
    #[track_caller]
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = Origins::Any;
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        self
    }

    /// The methods a preflight may ask for, replacing earlier ones: [`Method`]s or
    /// names (`"GET"`; `delete`, `get`, `head`, `options`, `post` and `put` in any
    /// case, which the Fetch standard upper-cases before a preflight).
    ///
    /// # Panics
    ///
    /// When a name is not a valid method (at configuration time, never while
    /// serving); [`try_allow_methods`](Self::try_allow_methods) returns the error.
    #[track_caller]
    pub fn allow_methods<I, M>(self, methods: I) -> Self
    where
        I: IntoIterator<Item = M>,
        M: AsRef<str>,
    {
        match self.try_allow_methods(methods) {
            Ok(layer) => layer,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`allow_methods`](Self::allow_methods), or says which name is not a
    /// valid method.
    pub fn try_allow_methods<I, M>(mut self, methods: I) -> Result<Self, CorsError>
    where
        I: IntoIterator<Item = M>,
        M: AsRef<str>,
    {
        let list = methods
            .into_iter()
            .map(|m| method_named(m.as_ref()))
            .collect::<Result<_, _>>()?;
        self.methods = Allow::List(list);
        Ok(self)
    }

    /// Any method a preflight asks for.
    pub fn allow_any_method(mut self) -> Self {
        self.methods = Allow::Any;
        self
    }

    /// The request headers a preflight may ask for, replacing earlier ones.
    pub fn allow_headers<I: IntoIterator<Item = HeaderName>>(mut self, headers: I) -> Self {
        self.headers = Allow::List(headers.into_iter().collect());
        self
    }

    /// Any request header a preflight asks for.
    pub fn allow_any_header(mut self) -> Self {
        self.headers = Allow::Any;
        self
    }

    /// Whether cookies and `Authorization` may be sent
    /// (`Access-Control-Allow-Credentials: true`); default `false`.
    ///
    /// # Panics
    ///
    /// When `true` and any origin is allowed;
    /// [`try_allow_credentials`](Self::try_allow_credentials) returns the error.
    #[track_caller]
    pub fn allow_credentials(self, allow: bool) -> Self {
        match self.try_allow_credentials(allow) {
            Ok(layer) => layer,
            Err(e) => panic!("{e}"),
        }
    }

    /// Whether credentials may be sent, or [`CorsError::CredentialsWithAnyOrigin`].
    pub fn try_allow_credentials(mut self, allow: bool) -> Result<Self, CorsError> {
        self.credentials = allow;
        self.validate()?;
        Ok(self)
    }

    /// How long browsers may cache a preflight answer (`Access-Control-Max-Age`).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Whether the configuration can be used: credentials need listed origins.
    pub fn validate(&self) -> Result<(), CorsError> {
        if self.credentials && matches!(self.origins, Origins::Any) {
            return Err(CorsError::CredentialsWithAnyOrigin);
        }
        Ok(())
    }

    /// The tower-http layer: never one whose `poll_ready` asserts.
    fn to_tower_http(&self) -> tower_http::cors::CorsLayer {
        let mut layer = tower_http::cors::CorsLayer::new().allow_credentials(self.credentials);
        layer = match (&self.origins, self.credentials) {
            (Origins::List(list), _) => layer.allow_origin(AllowOrigin::list(list.clone())),
            (Origins::Any, false) => layer.allow_origin(Any),
            // Unreachable through the builder; allow nothing rather than panic.
            (Origins::Any, true) => layer.allow_origin(AllowOrigin::list([])),
        };
        layer = match (&self.methods, self.credentials) {
            (Allow::List(list), _) => layer.allow_methods(list.clone()),
            (Allow::Any, false) => layer.allow_methods(Any),
            (Allow::Any, true) => layer.allow_methods(AllowMethods::mirror_request()),
        };
        layer = match (&self.headers, self.credentials) {
            (Allow::List(list), _) => layer.allow_headers(list.clone()),
            (Allow::Any, false) => layer.allow_headers(Any),
            (Allow::Any, true) => layer.allow_headers(AllowHeaders::mirror_request()),
        };
        if let Some(max_age) = self.max_age {
            layer = layer.max_age(max_age);
        }
        layer
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = CorsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CorsService {
            inner: self.to_tower_http().layer(inner),
        }
    }
}

/// The service of [`CorsLayer`]: tower-http's, with the `Access-Control-*` headers
/// removed from answers to origins that are not allowed.
#[derive(Debug, Clone)]
pub struct CorsService<S> {
    inner: tower_http::cors::Cors<S>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CorsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        ResponseFuture {
            inner: Box::pin(self.inner.call(req)),
        }
    }
}

/// The response future of [`CorsService`].
pub struct ResponseFuture<F> {
    inner: Pin<Box<tower_http::cors::ResponseFuture<F>>>,
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut response = match self.inner.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(response)) => response,
        };
        let headers = response.headers_mut();
        if !headers.contains_key(http::header::ACCESS_CONTROL_ALLOW_ORIGIN) {
            let names: Vec<HeaderName> = headers
                .keys()
                .filter(|name| name.as_str().starts_with("access-control-"))
                .cloned()
                .collect();
            for name in names {
                headers.remove(name);
            }
        }
        Poll::Ready(Ok(response))
    }
}

crate::router_ext! {
    /// Answers cross-origin requests and preflights per the allowlist.
    CorsRouterExt::cors(CorsLayer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors() {
        assert_eq!(
            CorsLayer::new()
                .try_allow_origins(["https://ok.example", "bad\u{7f}"])
                .unwrap_err(),
            CorsError::InvalidOrigin {
                origin: "bad\u{7f}".into()
            }
        );
        assert_eq!(
            CorsLayer::permissive()
                .try_allow_credentials(true)
                .unwrap_err(),
            CorsError::CredentialsWithAnyOrigin
        );
        assert!(
            CorsLayer::new()
                .allow_origins(["https://a.example"])
                .try_allow_credentials(true)
                .is_ok()
        );
    }

    #[test]
    #[should_panic(expected = "credentials")]
    fn any_origin_after_credentials_panics_at_configuration() {
        let _ = CorsLayer::new().allow_credentials(true).allow_any_origin();
    }
}
