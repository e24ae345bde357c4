//! The sign-in flows as JSON endpoints: session login and logout, the current user,
//! password change and reset, JWT token pairs, and TOTP two-factor enrolment.
//!
//! [`AuthRoutes::router`] returns the routes; mount them under a prefix of your
//! choice (`app.nest("/auth", routes)`) inside the session layer
//! ([`crate::sessions::SessionConfig::layer`]).
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `POST /login` | `{username, password, otp?}` | `200 {user}`, session started |
//! | `POST /logout` | | `204`, session cleared |
//! | `GET /me` | | `200 {user}` or `401` |
//! | `GET /csrf` | | `200 {csrf_token}`, and the `csrftoken` cookie when missing (for scripts; see `rustango_middleware::csrf`) |
//! | `POST /password/change` | `{old_password, new_password}` | `204` |
//! | `POST /password/reset` | `{email}` | `202`, whether or not the account exists |
//! | `POST /password/reset/confirm` | `{uid, token, new_password}` | `204` |
//! | `POST /token` | `{username, password, otp?}` | `200 {access, refresh, …}` |
//! | `POST /token/refresh` | `{refresh}` | `200 {access, refresh, …}` |
//! | `POST /token/revoke` | `{token}` | `204` |
//! | `POST /totp/enroll` | | `200 {secret, otpauth_url}` |
//! | `POST /totp/confirm` | `{otp}` | `204`, two-factor sign-in on |
//! | `POST /totp/disable` | `{password}` | `204` |
//!
//! Defences built in:
//! - **Fixation:** the session id changes at login and at password change; logout
//!   deletes the session.
//! - **Enumeration:** unknown user, wrong password and inactive account give the same
//!   `401` after the same work; a reset request answers the same `202` for every
//!   email.
//! - **Guessing:** failed sign-ins count per account and per client address
//!   (`Throttle`); over the limit, `429` with `Retry-After` before any password is
//!   checked.
//! - **Reset links** are single-use by construction (they sign the password hash, the
//!   last login and the email, so any of those changing voids them) and expire.
//! - **TOTP codes** cannot be replayed: the last accepted time step is stored.
//! - **Other sessions** of a user end when the password changes.

// Handlers answer `Result<_, Problem>`: a problem is the error response itself, built
// once per failed request, so its size on the stack does not matter.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use http::StatusCode;
use rustango_cache::{BoxedCache, Cache as _};
use rustango_core::Column as _;
use rustango_crypto::signing::Signer;
use rustango_crypto::totp::{self, TotpSecret};
use rustango_http::Problem;
use rustango_http::extract::Json;
use rustango_orm::Pool;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::backends::{SESSION_USER_HASH, SESSION_USER_ID, session_hash};
use crate::html::{self, Input};
use crate::jwt_lifecycle::JwtLifecycle;
use crate::models::User;
use crate::sessions::{self, Session};
use crate::signals::{self, AuthEvent};
use crate::{AuthError, users};

/// Sends a password-reset link (by email, usually). The link is yours to build: it
/// should lead to a page that posts `uid`, `token` and the new password to
/// `/password/reset/confirm`.
#[async_trait::async_trait]
pub trait ResetSender: Send + Sync {
    /// Sends `uid` and `token` to `user` (whose email is not empty).
    async fn send(&self, user: &User, uid: &str, token: &str);
}

/// Failed sign-ins allowed per account and per client address in a window.
#[derive(Clone)]
pub struct Throttle {
    cache: BoxedCache,
    per_account: u64,
    per_address: u64,
    window: Duration,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("per_account", &self.per_account)
            .field("per_address", &self.per_address)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    /// 5 failures per account and 20 per address in 15 minutes, counted in `cache`
    /// (a Redis cache makes the limits hold across instances).
    pub fn new(cache: BoxedCache) -> Throttle {
        Throttle {
            cache,
            per_account: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
        }
    }

    /// Sets the limits.
    pub fn limits(mut self, per_account: u64, per_address: u64, window: Duration) -> Throttle {
        self.per_account = per_account.max(1);
        self.per_address = per_address.max(1);
        self.window = window.max(Duration::from_secs(1));
        self
    }

    fn keys(username: &str, address: &str) -> [String; 2] {
        // Hashed: usernames in cache keys could be anything the client typed.
        let h = |s: &str| {
            let d = Sha256::digest(s.as_bytes());
            d.iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        [
            format!("auth:fail:user:{}", h(&username.to_lowercase())),
            format!("auth:fail:addr:{}", h(address)),
        ]
    }

    /// Counts a sign-in attempt for the account and the address *before* any password
    /// is checked (so parallel guesses cannot all slip under the limit), and returns
    /// the seconds to wait when either is over its limit.
    pub(crate) async fn attempt(
        &self,
        username: &str,
        address: &str,
    ) -> Result<Option<u64>, AuthError> {
        let [user_key, addr_key] = Self::keys(username, address);
        let mut wait = None;
        for (key, limit) in [(user_key, self.per_account), (addr_key, self.per_address)] {
            let count = self.cache.incr(&key, 1, self.window).await?;
            if u64::try_from(count).unwrap_or(u64::MAX) > limit {
                let left = match self.cache.ttl(&key).await? {
                    rustango_cache::KeyTtl::ExpiresIn(d) => d.as_secs().max(1),
                    _ => self.window.as_secs(),
                };
                wait = Some(wait.map_or(left, |w: u64| w.max(left)));
            }
        }
        Ok(wait)
    }

    /// A sign-in succeeded: the account's count starts over, and the attempt does not
    /// count against the address.
    pub(crate) async fn succeeded(&self, username: &str, address: &str) -> Result<(), AuthError> {
        let [user_key, addr_key] = Self::keys(username, address);
        self.cache.delete(&user_key).await?;
        self.cache.incr(&addr_key, -1, self.window).await?;
        Ok(())
    }
}

/// How the endpoints behave; build it, then call [`router`](Self::router).
#[derive(Clone)]
pub struct AuthRoutes {
    pool: Pool,
    throttle: Throttle,
    jwt: Option<Arc<JwtLifecycle>>,
    reset: Option<(Arc<Signer>, Duration, Arc<dyn ResetSender>)>,
    totp_issuer: String,
}

impl std::fmt::Debug for AuthRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRoutes")
            .field("throttle", &self.throttle)
            .field("jwt", &self.jwt.is_some())
            .field("reset", &self.reset.is_some())
            .finish_non_exhaustive()
    }
}

/// The salt of reset tokens.
const RESET_SALT: &str = "rustango.auth.password_reset";
/// The session key of a TOTP secret being enrolled.
const SESSION_TOTP_PENDING: &str = "_auth_totp_pending";

impl AuthRoutes {
    /// Endpoints on `pool`, with failed sign-ins counted in `throttle_cache`.
    pub fn new(pool: Pool, throttle_cache: BoxedCache) -> AuthRoutes {
        AuthRoutes {
            pool,
            throttle: Throttle::new(throttle_cache),
            jwt: None,
            reset: None,
            totp_issuer: "rustango".to_owned(),
        }
    }

    /// Replaces the sign-in limits.
    pub fn throttle(mut self, throttle: Throttle) -> AuthRoutes {
        self.throttle = throttle;
        self
    }

    /// Turns on `/token`, `/token/refresh` and `/token/revoke`.
    pub fn jwt(mut self, jwt: Arc<JwtLifecycle>) -> AuthRoutes {
        self.jwt = Some(jwt);
        self
    }

    /// Turns on password reset: tokens signed with `secret` (your `SECRET_KEY`),
    /// valid for `timeout` (Django's default is 3 days), sent by `sender`.
    pub fn password_reset(
        mut self,
        secret: &[u8],
        timeout: Duration,
        sender: Arc<dyn ResetSender>,
    ) -> AuthRoutes {
        self.reset = Some((Arc::new(Signer::new(secret, RESET_SALT)), timeout, sender));
        self
    }

    /// The issuer name authenticator apps show next to the account.
    pub fn totp_issuer(mut self, issuer: impl Into<String>) -> AuthRoutes {
        self.totp_issuer = issuer.into();
        self
    }

    /// A reset token for `user` (what the reset endpoint sends), for tests and for
    /// admin tools that hand out links.
    pub fn reset_token(&self, user: &User) -> Option<(String, String)> {
        let (signer, _, _) = self.reset.as_ref()?;
        let uid = user.pk()?.to_string();
        let token = signer
            .dumps(&ResetClaims {
                uid: uid.clone(),
                state: reset_state(user),
            })
            .ok()?;
        Some((uid, token))
    }

    /// The routes (see the [module docs](self)).
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new()
            .route("/login", get(login_form).post(login))
            .route("/logout", post(logout))
            .route("/me", get(me))
            .route("/csrf", get(csrf))
            .route(
                "/password/change",
                get(password_change_form).post(password_change),
            )
            .route(
                "/password/reset",
                get(password_reset_form).post(password_reset),
            )
            .route(
                "/password/reset/confirm",
                get(password_reset_confirm_form).post(password_reset_confirm),
            )
            .route("/token", post(token))
            .route("/token/refresh", post(token_refresh))
            .route("/token/revoke", post(token_revoke))
            .route("/totp/enroll", post(totp_enroll))
            .route("/totp/confirm", post(totp_confirm))
            .route("/totp/disable", post(totp_disable))
            .with_state(Arc::new(self))
    }
}

type Routes = State<Arc<AuthRoutes>>;

/// What the endpoints say about a user.
#[derive(Debug, Serialize)]
struct UserOut<'a> {
    id: Option<i64>,
    username: &'a str,
    email: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    is_staff: bool,
    is_superuser: bool,
    two_factor: bool,
}

fn user_json(user: &User) -> serde_json::Value {
    json!({
        "user": UserOut {
            id: user.pk(),
            username: &user.username,
            email: &user.email,
            first_name: &user.first_name,
            last_name: &user.last_name,
            is_staff: user.is_staff,
            is_superuser: user.is_superuser,
            two_factor: user.has_totp(),
        }
    })
}

fn server_error(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "auth endpoint failed");
    Problem::internal()
}

fn invalid_credentials() -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED).with_detail("invalid username or password")
}

pub(crate) fn client_address(parts: &http::request::Parts) -> String {
    #[allow(unused_mut)]
    let mut found = None;
    if let Some(ip) = parts
        .extensions
        .get::<rustango_middleware::real_ip::ClientIp>()
    {
        found = Some(ip.0.to_string());
    }
    found
        .or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The request's address and session, read by hand (the session is a wiring
/// requirement: its absence is a logged 500).
struct Ctx {
    address: String,
    session: Option<Session>,
    csrf: Option<String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Ctx {
            address: client_address(parts),
            session: parts.extensions.get::<Session>().cloned(),
            csrf: rustango_middleware::csrf::get_token(&parts.extensions).map(|t| t.0),
        })
    }
}

fn require_session(ctx: &Ctx) -> Result<&Session, Problem> {
    ctx.session.as_ref().ok_or_else(|| {
        tracing::error!("auth routes are mounted outside the session layer");
        Problem::internal()
    })
}

#[derive(Debug, Deserialize)]
struct Credentials {
    username: String,
    password: String,
    #[serde(default)]
    otp: Option<String>,
    /// Where a form sign-in goes next (a same-origin path).
    #[serde(default)]
    next: Option<String>,
}

/// Checks credentials (throttled) and the second factor; the user on success.
async fn check_credentials(
    routes: &AuthRoutes,
    address: &str,
    creds: &Credentials,
) -> Result<User, Problem> {
    if creds.username.len() > 300 || creds.password.len() > 4096 {
        return Err(invalid_credentials());
    }
    if let Some(wait) = routes
        .throttle
        .attempt(&creds.username, address)
        .await
        .map_err(server_error)?
    {
        return Err(Problem::too_many_requests(wait)
            .with_detail("too many failed sign-ins; try again later"));
    }
    let user = users::authenticate(&routes.pool, &creds.username, &creds.password)
        .await
        .map_err(server_error)?;
    let Some(mut user) = user else {
        signals::send(&AuthEvent::LoginFailed {
            username: creds.username.clone(),
            address: address.to_owned(),
        });
        return Err(invalid_credentials());
    };
    if user.has_totp() {
        let ok = match creds.otp.as_deref() {
            Some(code) => accept_totp(&routes.pool, &mut user, code)
                .await
                .map_err(server_error)?,
            None => {
                return Err(Problem::new(StatusCode::UNAUTHORIZED)
                    .with_detail("a one-time code is required")
                    .with_extension("otp_required", true));
            }
        };
        if !ok {
            signals::send(&AuthEvent::LoginFailed {
                username: creds.username.clone(),
                address: address.to_owned(),
            });
            return Err(Problem::new(StatusCode::UNAUTHORIZED)
                .with_detail("the one-time code is not valid")
                .with_extension("otp_required", true));
        }
    }
    routes
        .throttle
        .succeeded(&creds.username, address)
        .await
        .map_err(server_error)?;
    Ok(user)
}

/// Verifies a TOTP code of `user`, refusing a time step already used; stores the
/// step on success.
pub async fn accept_totp(pool: &Pool, user: &mut User, code: &str) -> Result<bool, AuthError> {
    let Some(secret) = user
        .totp_secret
        .as_deref()
        .and_then(|s| TotpSecret::from_base32(s).ok())
    else {
        return Ok(false);
    };
    let Some(step) = totp::verify_step(&secret, code.trim(), 30, 6, 1) else {
        return Ok(false);
    };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let Some(id) = user.pk() else {
        return Ok(false);
    };
    // One conditional UPDATE: of two concurrent sign-ins with the same code, only one
    // moves the step forward.
    let moved = User::objects()
        .where_(User::id.eq(id) & (User::totp_last_step.is_null() | User::totp_last_step.lt(step)))
        .update()
        .set(User::totp_last_step, Some(step))
        .execute_on(pool)
        .await?;
    if moved != 1 {
        return Ok(false);
    }
    user.totp_last_step = Some(step);
    Ok(true)
}

/// Signs `user` in on `session` as the sign-in endpoint does (new session id, the
/// user's key and password digest stored, `last_login` recorded, the `LoggedIn`
/// signal sent): for sign-in paths of your own, such as an OpenID Connect
/// `on_login` hook.
pub async fn login_session(
    pool: &Pool,
    session: &Session,
    user: &mut User,
    method: &'static str,
) -> Result<(), AuthError> {
    sessions::rotate(session)
        .await
        .map_err(|e| AuthError::Session(e.to_string()))?;
    session
        .insert(SESSION_USER_ID, user.pk().unwrap_or_default())
        .await
        .map_err(|e| AuthError::Session(e.to_string()))?;
    session
        .insert(SESSION_USER_HASH, session_hash(user))
        .await
        .map_err(|e| AuthError::Session(e.to_string()))?;
    users::record_login(pool, user).await?;
    signals::send(&AuthEvent::LoggedIn {
        user_id: user.pk().unwrap_or_default(),
        username: user.username.clone(),
        method,
    });
    Ok(())
}

async fn start_session(session: &Session, user: &User) -> Result<(), Problem> {
    sessions::rotate(session).await.map_err(server_error)?;
    session
        .insert(SESSION_USER_ID, user.pk().unwrap_or_default())
        .await
        .map_err(server_error)?;
    session
        .insert(SESSION_USER_HASH, session_hash(user))
        .await
        .map_err(server_error)?;
    Ok(())
}

async fn login(
    State(routes): Routes,
    ctx: Ctx,
    input: Input<Credentials>,
) -> Result<Response, Problem> {
    let (creds, form) = match input {
        Input::Json(c) => (c, false),
        Input::Form(c) => (c, true),
    };
    let session = require_session(&ctx)?;
    let mut user = match check_credentials(&routes, &ctx.address, &creds).await {
        Ok(user) => user,
        Err(problem) if form => {
            let message = problem.detail().unwrap_or("sign-in failed").to_owned();
            return Ok(html::respond(
                problem.status_code(),
                login_page(&ctx, Some(&message), &creds.username, creds.next.as_deref()),
            ));
        }
        Err(problem) => return Err(problem),
    };
    // The session store and the `last_login` write are independent: both at once.
    let mut recorded = user.clone();
    let (started, record) = tokio::join!(
        start_session(session, &user),
        users::record_login(&routes.pool, &mut recorded)
    );
    started?;
    record.map_err(server_error)?;
    user.last_login = recorded.last_login;
    signals::send(&AuthEvent::LoggedIn {
        user_id: user.pk().unwrap_or_default(),
        username: user.username.clone(),
        method: "session",
    });
    if form {
        return Ok(html::redirect_next(creds.next.as_deref()));
    }
    Ok(AxumJson(user_json(&user)).into_response())
}

fn login_page(ctx: &Ctx, error: Option<&str>, username: &str, next: Option<&str>) -> String {
    let next = next.and_then(crate::redirects::safe_next).unwrap_or("");
    html::page(
        "Sign in",
        error,
        "",
        ctx.csrf.as_deref(),
        &[("next", next)],
        &[
            html::Field {
                name: "username",
                label: "Username",
                kind: "text",
                value: username,
                autocomplete: "username",
            },
            html::Field {
                name: "password",
                label: "Password",
                kind: "password",
                value: "",
                autocomplete: "current-password",
            },
            html::Field {
                name: "otp",
                label: "One-time code (if two-factor sign-in is on)",
                kind: "text",
                value: "",
                autocomplete: "one-time-code",
            },
        ],
        "Sign in",
    )
}

#[derive(Debug, Default, Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

async fn login_form(
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Response {
    html::respond(
        StatusCode::OK,
        login_page(&ctx, None, "", q.next.as_deref()),
    )
}

/// The session's user, if it still is one (see `SessionBackend`).
async fn session_user(routes: &AuthRoutes, session: &Session) -> Result<Option<User>, Problem> {
    let Ok(Some(id)) = session.get::<i64>(SESSION_USER_ID).await else {
        return Ok(None);
    };
    let Ok(Some(hash)) = session.get::<String>(SESSION_USER_HASH).await else {
        return Ok(None);
    };
    let user = users::get_by_id(&routes.pool, id)
        .await
        .map_err(server_error)?;
    Ok(user.filter(|u| {
        u.is_active
            && rustango_crypto::constant_time_eq(hash.as_bytes(), session_hash(u).as_bytes())
    }))
}

async fn signed_in(routes: &AuthRoutes, ctx: &Ctx) -> Result<User, Problem> {
    let session = require_session(ctx)?;
    session_user(routes, session)
        .await?
        .ok_or_else(|| Problem::new(StatusCode::UNAUTHORIZED).with_detail("not signed in"))
}

async fn logout(
    State(routes): Routes,
    ctx: Ctx,
    headers: http::HeaderMap,
) -> Result<Response, Problem> {
    let session = require_session(&ctx)?;
    if let Some(user) = session_user(&routes, session).await? {
        signals::send(&AuthEvent::LoggedOut {
            user_id: user.pk().unwrap_or_default(),
            username: user.username.clone(),
        });
    }
    sessions::clear(session).await.map_err(server_error)?;
    if is_form(&headers) {
        return Ok(html::redirect_next(None));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn is_form(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

async fn me(State(routes): Routes, ctx: Ctx) -> Result<Response, Problem> {
    let user = signed_in(&routes, &ctx).await?;
    Ok(AxumJson(user_json(&user)).into_response())
}

/// `GET /csrf`: the CSRF token for scripts (`{"csrf_token": …}`, to send back in
/// `X-CSRF-Token`); asking for it also sets the `csrftoken` cookie when the browser has
/// none. Never cached. A 404 problem when no CSRF layer wraps the routes.
async fn csrf(ctx: Ctx) -> Result<Response, Problem> {
    let token = ctx
        .csrf
        .ok_or_else(|| Problem::not_found().with_detail("CSRF protection is not installed."))?;
    let mut response = AxumJson(json!({ "csrf_token": token })).into_response();
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct PasswordChange {
    old_password: String,
    new_password: String,
}

fn weak(e: AuthError) -> Problem {
    match e {
        AuthError::WeakPassword(problems) => Problem::unprocessable("the new password is too weak")
            .with_extension(
                "problems",
                problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ),
        other => server_error(other),
    }
}

async fn password_change(
    State(routes): Routes,
    ctx: Ctx,
    input: Input<PasswordChange>,
) -> Result<Response, Problem> {
    let (body, form) = match input {
        Input::Json(b) => (b, false),
        Input::Form(b) => (b, true),
    };
    let result = change_password(&routes, &ctx, &body).await;
    match (result, form) {
        (Ok(()), false) => Ok(StatusCode::NO_CONTENT.into_response()),
        (Ok(()), true) => Ok(html::respond(
            StatusCode::OK,
            html::page("Password changed", None, "/", None, &[], &[], "Continue"),
        )),
        (Err(problem), true) => Ok(html::respond(
            problem.status_code(),
            password_change_page(&ctx, Some(&problem_text(&problem))),
        )),
        (Err(problem), false) => Err(problem),
    }
}

/// A problem's detail, with the reasons of a weak password.
fn problem_text(problem: &Problem) -> String {
    let mut text = problem.detail().unwrap_or("that did not work").to_owned();
    if let Some(reasons) = problem.extension("problems").and_then(|v| v.as_array()) {
        for r in reasons.iter().filter_map(|r| r.as_str()) {
            text.push_str(". ");
            text.push_str(r);
        }
    }
    text
}

async fn change_password(
    routes: &AuthRoutes,
    ctx: &Ctx,
    body: &PasswordChange,
) -> Result<(), Problem> {
    let mut user = signed_in(routes, ctx).await?;
    if !users::check_password(&user, &body.old_password)
        .await
        .map_err(server_error)?
    {
        return Err(Problem::bad_request("the current password is not correct"));
    }
    users::check_password_strength(&user, &body.new_password).map_err(weak)?;
    users::set_password(&routes.pool, &mut user, &body.new_password)
        .await
        .map_err(server_error)?;
    // This session continues under a new id with the new hash; every other session
    // of the user no longer matches and ends.
    start_session(require_session(ctx)?, &user).await?;
    Ok(())
}

fn password_change_page(ctx: &Ctx, error: Option<&str>) -> String {
    html::page(
        "Change password",
        error,
        "",
        ctx.csrf.as_deref(),
        &[],
        &[
            html::Field {
                name: "old_password",
                label: "Current password",
                kind: "password",
                value: "",
                autocomplete: "current-password",
            },
            html::Field {
                name: "new_password",
                label: "New password",
                kind: "password",
                value: "",
                autocomplete: "new-password",
            },
        ],
        "Change password",
    )
}

async fn password_change_form(
    State(routes): Routes,
    ctx: Ctx,
    axum::extract::OriginalUri(original): axum::extract::OriginalUri,
) -> Response {
    match signed_in(&routes, &ctx).await {
        Ok(_) => html::respond(StatusCode::OK, password_change_page(&ctx, None)),
        Err(_) => {
            let here = original.path();
            let prefix = here.strip_suffix("/password/change").unwrap_or("");
            axum::response::Redirect::to(&format!("{prefix}/login?next={here}")).into_response()
        }
    }
}

/// What a reset token signs: the user and a digest of what must not change.
#[derive(Debug, Serialize, Deserialize)]
struct ResetClaims {
    uid: String,
    state: String,
}

fn reset_state(user: &User) -> String {
    let mut h = Sha256::new();
    h.update(user.password.as_bytes());
    h.update(b"|");
    h.update(
        user.last_login
            .map(|t| t.timestamp_micros().to_string())
            .unwrap_or_default()
            .as_bytes(),
    );
    h.update(b"|");
    h.update(user.email.as_bytes());
    h.update(b"|");
    h.update(user.is_active.to_string().as_bytes());
    let d = h.finalize();
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Deserialize)]
struct ResetRequest {
    email: String,
}

async fn password_reset(
    State(routes): Routes,
    ctx: Ctx,
    input: Input<ResetRequest>,
) -> Result<Response, Problem> {
    let Some((_, _, sender)) = &routes.reset else {
        return Err(Problem::not_found());
    };
    let (body, form) = match input {
        Input::Json(b) => (b, false),
        Input::Form(b) => (b, true),
    };
    let email = body.email.trim();
    if !email.is_empty() && email.len() <= 254 {
        let matches = User::objects()
            .where_(User::email.iexact(email))
            .fetch(&routes.pool)
            .await
            .map_err(server_error)?;
        let links: Vec<(User, String, String)> = matches
            .into_iter()
            .filter(|u| u.is_active && u.has_usable_password())
            .filter_map(|u| {
                let (uid, token) = routes.reset_token(&u)?;
                Some((u, uid, token))
            })
            .collect();
        // Sent in the background: how long sending takes must not tell whether the
        // email has an account.
        let sender = sender.clone();
        tokio::spawn(async move {
            for (user, uid, token) in links {
                sender.send(&user, &uid, &token).await;
            }
        });
    }
    // The same answer whether or not an account has this email.
    let message = "if an account has this email, a reset link is on its way";
    if form {
        let _ = ctx;
        return Ok(html::respond(
            StatusCode::ACCEPTED,
            html::page(
                "Check your email",
                Some(message),
                "/",
                None,
                &[],
                &[],
                "Continue",
            ),
        ));
    }
    Ok((StatusCode::ACCEPTED, AxumJson(json!({"detail": message}))).into_response())
}

async fn password_reset_form(State(routes): Routes, ctx: Ctx) -> Result<Response, Problem> {
    if routes.reset.is_none() {
        return Err(Problem::not_found());
    }
    Ok(html::respond(
        StatusCode::OK,
        html::page(
            "Reset your password",
            None,
            "",
            ctx.csrf.as_deref(),
            &[],
            &[html::Field {
                name: "email",
                label: "Email",
                kind: "email",
                value: "",
                autocomplete: "email",
            }],
            "Send me a link",
        ),
    ))
}

#[derive(Debug, Deserialize)]
struct ResetConfirm {
    uid: String,
    token: String,
    new_password: String,
}

async fn password_reset_confirm(
    State(routes): Routes,
    ctx: Ctx,
    input: Input<ResetConfirm>,
) -> Result<Response, Problem> {
    let (body, form) = match input {
        Input::Json(b) => (b, false),
        Input::Form(b) => (b, true),
    };
    match (confirm_reset(&routes, &body).await, form) {
        (Ok(()), false) => Ok(StatusCode::NO_CONTENT.into_response()),
        (Ok(()), true) => Ok(html::respond(
            StatusCode::OK,
            html::page(
                "Password set",
                Some("you can sign in with the new password"),
                "login",
                None,
                &[],
                &[],
                "Sign in",
            ),
        )),
        (Err(problem), true) => Ok(html::respond(
            problem.status_code(),
            reset_confirm_page(&ctx, Some(&problem_text(&problem)), &body.uid, &body.token),
        )),
        (Err(problem), false) => Err(problem),
    }
}

async fn confirm_reset(routes: &AuthRoutes, body: &ResetConfirm) -> Result<(), Problem> {
    let Some((signer, timeout, _)) = &routes.reset else {
        return Err(Problem::not_found());
    };
    let invalid = || Problem::bad_request("the reset link is invalid or has expired");
    let claims: ResetClaims = signer
        .loads(&body.token, Some(*timeout))
        .map_err(|_| invalid())?;
    if claims.uid != body.uid {
        return Err(invalid());
    }
    let id: i64 = body.uid.parse().map_err(|_| invalid())?;
    let mut user = users::get_by_id(&routes.pool, id)
        .await
        .map_err(server_error)?
        .ok_or_else(invalid)?;
    if !user.is_active
        || !rustango_crypto::constant_time_eq(
            claims.state.as_bytes(),
            reset_state(&user).as_bytes(),
        )
    {
        return Err(invalid());
    }
    users::check_password_strength(&user, &body.new_password).map_err(weak)?;
    // The new hash voids this token and every other one issued before.
    users::set_password(&routes.pool, &mut user, &body.new_password)
        .await
        .map_err(server_error)?;
    Ok(())
}

fn reset_confirm_page(ctx: &Ctx, error: Option<&str>, uid: &str, token: &str) -> String {
    html::page(
        "Choose a new password",
        error,
        "",
        ctx.csrf.as_deref(),
        &[("uid", uid), ("token", token)],
        &[html::Field {
            name: "new_password",
            label: "New password",
            kind: "password",
            value: "",
            autocomplete: "new-password",
        }],
        "Set password",
    )
}

async fn password_reset_confirm_form(
    State(routes): Routes,
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Result<Response, Problem> {
    if routes.reset.is_none() {
        return Err(Problem::not_found());
    }
    Ok(html::respond(
        StatusCode::OK,
        reset_confirm_page(
            &ctx,
            None,
            q.uid.as_deref().unwrap_or(""),
            q.token.as_deref().unwrap_or(""),
        ),
    ))
}

fn jwt_of(routes: &AuthRoutes) -> Result<&JwtLifecycle, Problem> {
    routes.jwt.as_deref().ok_or_else(Problem::not_found)
}

async fn token(
    State(routes): Routes,
    ctx: Ctx,
    Json(creds): Json<Credentials>,
) -> Result<Response, Problem> {
    let jwt = jwt_of(&routes)?;
    let mut user = check_credentials(&routes, &ctx.address, &creds).await?;
    let pair = jwt
        .issue_pair(user.pk().unwrap_or_default())
        .map_err(server_error)?;
    users::record_login(&routes.pool, &mut user)
        .await
        .map_err(server_error)?;
    signals::send(&AuthEvent::LoggedIn {
        user_id: user.pk().unwrap_or_default(),
        username: user.username.clone(),
        method: "jwt",
    });
    Ok(AxumJson(pair).into_response())
}

#[derive(Debug, Deserialize)]
struct RefreshBody {
    refresh: String,
}

async fn token_refresh(
    State(routes): Routes,
    Json(body): Json<RefreshBody>,
) -> Result<Response, Problem> {
    let jwt = jwt_of(&routes)?;
    let refused =
        || Problem::new(StatusCode::UNAUTHORIZED).with_detail("the refresh token is not valid");
    let pair = jwt.refresh(&body.refresh).await.ok_or_else(refused)?;
    // The account may have been deactivated since the pair was issued.
    let claims = jwt.verify_access(&pair.access).await.ok_or_else(refused)?;
    let active = match claims.user_id_as::<i64>() {
        Some(id) => users::get_by_id(&routes.pool, id)
            .await
            .map_err(server_error)?
            .is_some_and(|u| u.is_active),
        None => false,
    };
    if !active {
        let _ = jwt.revoke_family(claims.family()).await;
        return Err(refused());
    }
    Ok(AxumJson(pair).into_response())
}

#[derive(Debug, Deserialize)]
struct RevokeBody {
    token: String,
}

async fn token_revoke(
    State(routes): Routes,
    Json(body): Json<RevokeBody>,
) -> Result<StatusCode, Problem> {
    let jwt = jwt_of(&routes)?;
    // Revoking a token that does not verify is not an error worth reporting: the
    // token is useless either way (RFC 7009 answers 200 too).
    let _ = jwt.revoke(&body.token).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn totp_enroll(State(routes): Routes, ctx: Ctx) -> Result<Response, Problem> {
    let user = signed_in(&routes, &ctx).await?;
    if user.has_totp() {
        return Err(Problem::conflict("two-factor sign-in is already on"));
    }
    let secret = TotpSecret::generate();
    let encoded = secret.to_base32();
    require_session(&ctx)?
        .insert(SESSION_TOTP_PENDING, &encoded)
        .await
        .map_err(server_error)?;
    let account = if user.email.is_empty() {
        &user.username
    } else {
        &user.email
    };
    Ok(AxumJson(json!({
        "secret": encoded,
        "otpauth_url": totp::otpauth_url(&routes.totp_issuer, account, &secret),
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
struct OtpBody {
    otp: String,
}

async fn totp_confirm(
    State(routes): Routes,
    ctx: Ctx,
    Json(body): Json<OtpBody>,
) -> Result<StatusCode, Problem> {
    let mut user = signed_in(&routes, &ctx).await?;
    let session = require_session(&ctx)?;
    let pending: Option<String> = session
        .get(SESSION_TOTP_PENDING)
        .await
        .map_err(server_error)?;
    let Some(pending) = pending else {
        return Err(Problem::bad_request("start with /totp/enroll"));
    };
    user.totp_secret = Some(pending);
    user.totp_last_step = None;
    let mut candidate = user.clone();
    // Checked on a copy: nothing is saved unless the code is right.
    let secret = candidate
        .totp_secret
        .as_deref()
        .and_then(|s| TotpSecret::from_base32(s).ok())
        .ok_or_else(|| Problem::bad_request("start with /totp/enroll"))?;
    let Some(step) = totp::verify_step(&secret, body.otp.trim(), 30, 6, 1) else {
        return Err(Problem::bad_request("the one-time code is not valid"));
    };
    candidate.totp_last_step = Some(i64::try_from(step).unwrap_or(i64::MAX));
    candidate
        .save_on(&routes.pool)
        .await
        .map_err(server_error)?;
    let _ = session.remove::<String>(SESSION_TOTP_PENDING).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct PasswordBody {
    password: String,
}

async fn totp_disable(
    State(routes): Routes,
    ctx: Ctx,
    Json(body): Json<PasswordBody>,
) -> Result<StatusCode, Problem> {
    let mut user = signed_in(&routes, &ctx).await?;
    if !users::check_password(&user, &body.password)
        .await
        .map_err(server_error)?
    {
        return Err(Problem::bad_request("the password is not correct"));
    }
    user.totp_secret = None;
    user.totp_last_step = None;
    user.save_on(&routes.pool).await.map_err(server_error)?;
    Ok(StatusCode::NO_CONTENT)
}
