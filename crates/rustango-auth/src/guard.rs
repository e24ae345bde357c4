//! Guards: who may call a route. `.require_auth(backends, pool)` answers `401` unless
//! one of the [backends](crate::backends) recognises the caller, and hands the user
//! to handlers as [`CurrentUser`]; `.require_perm("post.add", pool)` answers `403`
//! unless that user holds the permission. `.authenticate(backends, pool)` recognises
//! the caller without refusing anyone.
//!
//! Like every `Router::layer`, a guard covers the routes added before it, and the
//! guard added last runs first: put `require_perm` before the `require_auth` that
//! recognises the caller, and give routes with different rules routers of their own:
//!
//! ```ignore
//! let signed_in = Router::new()
//!     .route("/me", get(profile))
//!     .require_auth(backends.clone(), pool.clone());
//! let editors = Router::new()
//!     .route("/posts/new", post(create_post))
//!     .require_perm("post.add", pool.clone())
//!     .require_auth(backends, pool);
//! let app = signed_in.merge(editors);
//! ```
//!
//! Refusals are problem+json: `401` with `WWW-Authenticate` naming the schemes the
//! backends accept, `403` naming the missing permission. A failure of the database
//! while checking is a logged `500` problem without details.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Request};
use rustango_http::Problem;
use rustango_orm::Pool;
use tower::{Layer, Service};

use crate::backends::Backend;
use crate::models::User;
use crate::permissions;

/// The user a guard recognised (`None` when the route is only under
/// [`authenticate`](RouterAuthExt::authenticate) and nobody was). As an extractor,
/// a route without any guard gets `CurrentUser(None)`.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Option<User>);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .unwrap_or(CurrentUser(None)))
    }
}

/// The signed-in user, or a `401` problem: for handlers that only make sense with a
/// user.
#[derive(Debug, Clone)]
pub struct RequireUser(pub User);

impl<S: Send + Sync> FromRequestParts<S> for RequireUser {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<CurrentUser>() {
            Some(CurrentUser(Some(user))) => Ok(RequireUser(user.clone())),
            _ => Err(unauthorized_problem()),
        }
    }
}

fn unauthorized_problem() -> Problem {
    Problem::new(http::StatusCode::UNAUTHORIZED)
        .with_detail("authentication credentials were not provided or are not valid")
}

/// `require_auth`, `require_perm` and `authenticate` on routers.
pub trait RouterAuthExt: Sized {
    /// Refuses callers no backend recognises with `401`.
    fn require_auth(self, backends: Vec<Backend>, pool: Pool) -> Self;
    /// Recognises callers when it can; never refuses.
    fn authenticate(self, backends: Vec<Backend>, pool: Pool) -> Self;
    /// Refuses a recognised caller without `codename` with `403` (and an unrecognised
    /// one with `401`); must be inside a `require_auth` or `authenticate`.
    fn require_perm(self, codename: &str, pool: Pool) -> Self;
}

impl<S: Clone + Send + Sync + 'static> RouterAuthExt for axum::Router<S> {
    fn require_auth(self, backends: Vec<Backend>, pool: Pool) -> Self {
        self.layer(AuthLayer::new(backends, pool, true))
    }

    fn authenticate(self, backends: Vec<Backend>, pool: Pool) -> Self {
        self.layer(AuthLayer::new(backends, pool, false))
    }

    fn require_perm(self, codename: &str, pool: Pool) -> Self {
        self.layer(PermLayer {
            codename: Arc::from(codename),
            pool,
        })
    }
}

/// The layer of `require_auth` / `authenticate`.
#[derive(Clone)]
pub struct AuthLayer {
    backends: Arc<[Backend]>,
    pool: Pool,
    required: bool,
    challenge: Option<HeaderValue>,
}

impl std::fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLayer")
            .field(
                "backends",
                &self.backends.iter().map(|b| b.name()).collect::<Vec<_>>(),
            )
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl AuthLayer {
    /// A guard over `backends`; `required` refuses unrecognised callers.
    pub fn new(backends: Vec<Backend>, pool: Pool, required: bool) -> AuthLayer {
        let mut schemes: Vec<&str> = backends.iter().filter_map(|b| b.challenge()).collect();
        schemes.dedup();
        let challenge = (!schemes.is_empty())
            .then(|| HeaderValue::from_str(&schemes.join(", ")).ok())
            .flatten();
        AuthLayer {
            backends: backends.into(),
            pool,
            required,
            challenge,
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<Request<Body>> for AuthService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The ready clone serves this request (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            // An outer guard already recognised the caller: nothing to do twice.
            if !matches!(
                parts.extensions.get::<CurrentUser>(),
                Some(CurrentUser(Some(_)))
            ) {
                let mut found = None;
                for backend in layer.backends.iter() {
                    match backend.authenticate(&parts, &layer.pool).await {
                        Ok(Some(user)) => {
                            tracing::debug!(backend = backend.name(), user = %user.username, "authenticated");
                            found = Some(user);
                            break;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::error!(backend = backend.name(), error = %e, "authentication failed");
                            return Ok(Problem::internal().into_response());
                        }
                    }
                }
                if found.is_none() && layer.required {
                    let mut response = unauthorized_problem().into_response();
                    if let Some(challenge) = &layer.challenge {
                        response
                            .headers_mut()
                            .insert(http::header::WWW_AUTHENTICATE, challenge.clone());
                    }
                    return Ok(response);
                }
                parts.extensions.insert(CurrentUser(found));
            }
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

/// The layer of `require_perm`.
#[derive(Clone, Debug)]
pub struct PermLayer {
    codename: Arc<str>,
    pool: Pool,
}

impl<S> Layer<S> for PermLayer {
    type Service = PermService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PermService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`PermLayer`].
#[derive(Clone, Debug)]
pub struct PermService<S> {
    inner: S,
    layer: PermLayer,
}

impl<S> Service<Request<Body>> for PermService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let user = match req.extensions().get::<CurrentUser>() {
                Some(CurrentUser(Some(user))) => user.clone(),
                Some(CurrentUser(None)) => return Ok(unauthorized_problem().into_response()),
                None => {
                    // A wiring mistake: no guard feeds this check. Refuse, loudly.
                    tracing::error!(
                        permission = %layer.codename,
                        "require_perm runs without require_auth or authenticate around it"
                    );
                    return Ok(Problem::internal().into_response());
                }
            };
            match permissions::has_perm(&layer.pool, &user, &layer.codename).await {
                Ok(true) => inner.call(req).await,
                Ok(false) => Ok(Problem::new(http::StatusCode::FORBIDDEN)
                    .with_detail(format!("this needs the permission `{}`", layer.codename))
                    .into_response()),
                Err(e) => {
                    tracing::error!(error = %e, "permission check failed");
                    Ok(Problem::internal().into_response())
                }
            }
        })
    }
}
