//! The login routes: `GET /login` and `GET /callback`, and the one mapping from
//! [`OidcError`] to problem responses.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{StatusCode, Uri};
use rustango_crypto::signing::Signer;
use rustango_http::Problem;
use rustango_orm::Pool;

use super::client::{CallbackParams, OidcClient, OidcIdentity};
use super::link::{LinkPolicy, link_or_create_user};
use super::state::LoginState;
use super::{OidcError, form};
use crate::models::User;

/// The salt of the login-state cookie's signature: a token signed for anything else
/// with the same secret is never accepted here.
const COOKIE_SALT: &str = "rustango.auth.oidc.login-state";
/// The shortest cookie secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// A finished login, handed to the [`OidcRoutes::on_login`] hook.
#[derive(Debug)]
#[non_exhaustive]
pub struct LoginSuccess {
    /// The linked (or new) active user.
    pub user: User,
    /// Who the provider says logged in.
    pub identity: OidcIdentity,
    /// Where to go now: the login's safe `next`, or the default.
    pub next: String,
    /// The callback request: headers, extensions (a session, axum's `OriginalUri`),
    /// and the URI as the nested router sees it.
    pub request: Parts,
}

type Hook =
    Arc<dyn Fn(LoginSuccess) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

/// The login routes of one provider, as an axum [`Router`]:
///
/// - `GET /login?next=/path`: starts a login ([`OidcClient::begin_login`]), keeps its
///   [`LoginState`] in a signed (`rustango_crypto::signing`), `HttpOnly`,
///   `SameSite=Lax`, short-lived cookie, and redirects (303) to the provider;
/// - `GET /callback`: reads and clears the cookie, completes the login
///   ([`OidcClient::complete_login`]), finds or creates the user
///   ([`link_or_create_user`]), then calls the [`on_login`](Self::on_login) hook,
///   or without one redirects (303) to the safe `next` (default `/`).
///
/// Every failure is an `application/problem+json` response with a `code` member
/// ([`OidcError::code`]): 400 for a bad, forged or expired callback, 401 when the
/// provider's answer authenticates no one, 403 for inactive users and closed
/// sign-up, 409 for an ambiguous email, 502 when the provider is unreachable, 500
/// only for our own failures.
///
/// The hook is where the user is signed in, typically by putting the user id in the
/// session (the session layer's extension is in [`LoginSuccess::request`]).
///
/// ```no_run
/// use axum::response::{IntoResponse, Redirect};
/// use rustango_auth::oidc::{LinkPolicy, OidcClient, OidcRoutes};
///
/// # async fn demo(pool: rustango_orm::Pool) -> Result<(), rustango_auth::oidc::OidcError> {
/// let client = OidcClient::discover(
///     "https://id.example.com",
///     "my-app",
///     Some("s3cret"),
///     "https://app.example.com/oidc/callback",
/// )
/// .await?;
/// let secret = b"the project's SECRET_KEY, 32 bytes or more";
/// let routes = OidcRoutes::new(client, pool, secret)?
///     .link_policy(LinkPolicy { link_verified_email: true, create_users: false })
///     .on_login(|login| async move {
///         // sign `login.user` in here (session, JWT, ...)
///         Redirect::to(&login.next)
///     });
/// let app: axum::Router = axum::Router::new().nest("/oidc", routes.into_router());
/// # let _ = app;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OidcRoutes {
    client: OidcClient,
    pool: Pool,
    signer: Signer,
    policy: LinkPolicy,
    hook: Option<Hook>,
    cookie_name: String,
    cookie_path: String,
    secure: bool,
    default_next: String,
}

impl fmt::Debug for OidcRoutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcRoutes")
            .field("client", &self.client)
            .field("policy", &self.policy)
            .field("hook", &self.hook.is_some())
            .field("cookie_name", &self.cookie_name)
            .field("cookie_path", &self.cookie_path)
            .field("secure", &self.secure)
            .field("default_next", &self.default_next)
            .finish_non_exhaustive()
    }
}

impl OidcRoutes {
    /// Routes for `client`, linking users in `pool`, signing the login-state cookie
    /// with `cookie_secret` (the project's secret key: at least [`MIN_SECRET_LEN`]
    /// bytes). Defaults: [`LinkPolicy::default`], cookie `rustango_oidc` on path `/`,
    /// `Secure`, `next` defaulting to `/`, no hook.
    ///
    /// # Errors
    /// [`OidcError::Config`] when the secret is shorter than [`MIN_SECRET_LEN`].
    pub fn new(client: OidcClient, pool: Pool, cookie_secret: &[u8]) -> Result<Self, OidcError> {
        if cookie_secret.len() < MIN_SECRET_LEN {
            return Err(OidcError::Config {
                reason: format!("the cookie secret must be at least {MIN_SECRET_LEN} bytes"),
            });
        }
        Ok(OidcRoutes {
            client,
            pool,
            signer: Signer::new(cookie_secret, COOKIE_SALT),
            policy: LinkPolicy::default(),
            hook: None,
            cookie_name: "rustango_oidc".to_owned(),
            cookie_path: "/".to_owned(),
            secure: true,
            default_next: "/".to_owned(),
        })
    }

    /// What to do with identities that are not linked yet.
    #[must_use]
    pub fn link_policy(mut self, policy: LinkPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The function called after a successful login; its response is sent (with
    /// the login-state cookie cleared).
    #[must_use]
    pub fn on_login<F, Fut, R>(mut self, hook: F) -> Self
    where
        F: Fn(LoginSuccess) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoResponse,
    {
        let hook = Arc::new(hook);
        self.hook = Some(Arc::new(move |login| {
            let hook = hook.clone();
            Box::pin(async move { hook(login).await.into_response() })
        }));
        self
    }

    /// The login-state cookie's name (default `rustango_oidc`).
    #[must_use]
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// The login-state cookie's path (default `/`); set it to where the routes are
    /// mounted to keep the cookie off other requests.
    #[must_use]
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.cookie_path = path.into();
        self
    }

    /// Whether the cookie is `Secure` (default `true`); turn it off for plain-http
    /// development servers only.
    #[must_use]
    pub fn secure_cookie(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Where to go when the login has no (safe) `next` (default `/`).
    #[must_use]
    pub fn default_next(mut self, next: impl Into<String>) -> Self {
        self.default_next = next.into();
        self
    }

    /// The router with `GET /login` and `GET /callback`; nest it where the
    /// provider's redirect URI points (`/oidc` for `https://app/oidc/callback`).
    pub fn into_router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new()
            .route("/login", get(login))
            .route("/callback", get(callback))
            .with_state(Arc::new(self))
    }

    fn cookie(&self, value: &str, max_age: u64) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::try_from(format!(
            "{}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
            self.cookie_name, self.cookie_path
        ))
        .ok()
    }

    fn read_state(&self, headers: &HeaderMap) -> Result<LoginState, OidcError> {
        let max_age = self.client.config().login_max_age;
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == self.cookie_name)
            .find_map(|(_, value)| self.signer.loads::<LoginState>(value, Some(max_age)).ok())
            .ok_or(OidcError::LoginStateInvalid)
    }
}

/// The routes with the defaults of [`OidcRoutes::new`]: no hook (the callback only
/// links the user and redirects to `next`). See [`OidcRoutes`] to sign users in.
///
/// # Errors
/// [`OidcError::Config`] when the secret is shorter than [`MIN_SECRET_LEN`].
pub fn router<S: Clone + Send + Sync + 'static>(
    client: OidcClient,
    pool: Pool,
    cookie_secret: &[u8],
) -> Result<Router<S>, OidcError> {
    Ok(OidcRoutes::new(client, pool, cookie_secret)?.into_router())
}

async fn login(State(routes): State<Arc<OidcRoutes>>, uri: Uri) -> Response {
    let pairs = rustango_http::percent::parse_form(uri.query().unwrap_or(""));
    let next = form::get(&pairs, "next");
    let (url, state) = match routes.client.begin_login(next) {
        Ok(started) => started,
        Err(e) => return error_response(&e),
    };
    let Ok(token) = routes.signer.dumps(&state) else {
        return error_response(&OidcError::Config {
            reason: "the login state cannot be signed".into(),
        });
    };
    let (Ok(location), Some(cookie)) = (
        HeaderValue::try_from(url),
        routes.cookie(&token, routes.client.config().login_max_age.as_secs()),
    ) else {
        return error_response(&OidcError::Config {
            reason: "the authorization URL or the cookie is not a valid header".into(),
        });
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.append(header::SET_COOKIE, cookie);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn callback(State(routes): State<Arc<OidcRoutes>>, parts: Parts) -> Response {
    let outcome = async {
        let login = routes.read_state(&parts.headers)?;
        let params = CallbackParams::from_query(parts.uri.query().unwrap_or(""));
        let identity = routes.client.complete_login(&login, &params).await?;
        let user = link_or_create_user(&routes.pool, &identity, &routes.policy).await?;
        Ok::<_, OidcError>((login, identity, user))
    }
    .await;
    let mut response = match outcome {
        Ok((login, identity, user)) => {
            let next = login
                .next
                .as_deref()
                .and_then(|n| {
                    crate::redirects::safe_redirect_target(
                        n,
                        &routes.client.config().allowed_redirect_hosts,
                    )
                })
                .unwrap_or(&routes.default_next)
                .to_owned();
            match &routes.hook {
                Some(hook) => {
                    hook(LoginSuccess {
                        user,
                        identity,
                        next,
                        request: parts,
                    })
                    .await
                }
                None => see_other(&next),
            }
        }
        Err(e) => error_response(&e),
    };
    if let Some(clear) = routes.cookie("", 0) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn see_other(location: &str) -> Response {
    match HeaderValue::try_from(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => error_response(&OidcError::Config {
            reason: "the redirect target is not a valid header".into(),
        }),
    }
}

fn error_response(e: &OidcError) -> Response {
    let problem = problem(e);
    if problem.status() >= 500 {
        tracing::error!(error = %e, source = ?std::error::Error::source(e), "OpenID Connect login failed");
    } else {
        tracing::info!(error = %e, "OpenID Connect login refused");
    }
    problem.into_response()
}

/// The status of each error: the one table of this module.
fn status(e: &OidcError) -> StatusCode {
    match e {
        OidcError::MissingParameter { .. }
        | OidcError::StateMismatch
        | OidcError::LoginExpired { .. }
        | OidcError::LoginStateInvalid
        | OidcError::IssuerMismatch { .. } => StatusCode::BAD_REQUEST,
        OidcError::Provider { .. }
        | OidcError::TokenRejected { .. }
        | OidcError::MissingIdToken
        | OidcError::MalformedIdToken { .. }
        | OidcError::UnsupportedAlgorithm { .. }
        | OidcError::UnknownKey { .. }
        | OidcError::InvalidSignature
        | OidcError::InvalidClaim { .. }
        | OidcError::NonceMismatch
        | OidcError::SubjectMismatch => StatusCode::UNAUTHORIZED,
        OidcError::InactiveUser | OidcError::SignupClosed => StatusCode::FORBIDDEN,
        OidcError::AmbiguousEmail => StatusCode::CONFLICT,
        OidcError::Http { .. }
        | OidcError::ProviderStatus { .. }
        | OidcError::InvalidResponse { .. } => StatusCode::BAD_GATEWAY,
        OidcError::Config { .. }
        | OidcError::InsecureUrl { .. }
        | OidcError::Database(_)
        | OidcError::Random => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The problem response for `e`: its status, its message as `detail` (a generic
/// one for 5xx, whose causes are logged, not sent) and [`OidcError::code`] as
/// `code`.
fn problem(e: &OidcError) -> Problem {
    let status = status(e);
    let problem = match status {
        StatusCode::INTERNAL_SERVER_ERROR => Problem::internal(),
        StatusCode::BAD_GATEWAY => Problem::new(status)
            .with_detail("The identity provider could not be reached or answered wrongly."),
        _ => Problem::new(status).with_detail(e.to_string()),
    };
    problem.with_extension("code", e.code())
}

impl From<OidcError> for Problem {
    fn from(e: OidcError) -> Self {
        problem(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(status(&OidcError::StateMismatch), StatusCode::BAD_REQUEST);
        assert_eq!(status(&OidcError::NonceMismatch), StatusCode::UNAUTHORIZED);
        assert_eq!(status(&OidcError::InactiveUser), StatusCode::FORBIDDEN);
        let p = Problem::from(OidcError::StateMismatch);
        assert_eq!(p.status(), 400);
        assert_eq!(p.extension("code").unwrap(), "state_mismatch");
        let p = Problem::from(OidcError::Random);
        assert_eq!(p.status(), 500);
        assert!(!p.detail().unwrap_or("").contains("random"));
    }
}
