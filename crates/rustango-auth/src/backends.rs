//! Auth backends: each one reads one kind of credential from a request and names the
//! user it belongs to. The guard ([`crate::guard`]) tries them in order.
//!
//! | backend | credential |
//! |---|---|
//! | [`SessionBackend`] | the session cookie of a user who signed in ([`crate::flows`]) |
//! | [`ModelBackend`] | `Authorization: Basic base64(username:password)` |
//! | [`ApiKeyBackend`] | `Authorization: Bearer <prefix>.<secret>` ([`ApiKey`] rows) |
//! | [`JwtBackend`] | `Authorization: Bearer <jwt>` ([`JwtLifecycle`] access tokens) |
//!
//! A backend answers `Ok(None)` for a request that carries none of its credentials, or
//! credentials that do not check out; only a failure of the database (or another
//! store) is an error.

use std::sync::Arc;

use base64::Engine as _;
use chrono::Utc;
use http::request::Parts;
use rustango_core::Column as _;
use rustango_crypto::api_keys;
use rustango_orm::Pool;
use sha2::{Digest as _, Sha256};

use crate::jwt_lifecycle::JwtLifecycle;
use crate::models::{ApiKey, User};
use crate::sessions::Session;
use crate::{AuthError, Result, users};

/// A way of recognising the user behind a request.
#[async_trait::async_trait]
pub trait AuthBackend: Send + Sync {
    /// A short name for logs (`"session"`, `"basic"`, `"api_key"`, `"jwt"`).
    fn name(&self) -> &'static str;

    /// The active user the request's credentials belong to, if any.
    async fn authenticate(&self, parts: &Parts, pool: &Pool) -> Result<Option<User>>;

    /// The `WWW-Authenticate` challenge this backend answers a 401 with, if any.
    fn challenge(&self) -> Option<&'static str> {
        None
    }
}

/// A shared backend, as the guard takes them.
pub type Backend = Arc<dyn AuthBackend>;

fn authorization<'a>(parts: &'a Parts, scheme: &str) -> Option<&'a str> {
    let value = parts
        .headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// `Authorization: Basic` with a username and password (for scripts and tools; the
/// browser sign-in is the session).
///
/// Attempts count against the same per-account and per-address limits as the sign-in
/// endpoint, in a process-wide in-memory counter ([`ThrottledModelBackend`] shares a
/// throttle, in Redis for instance, with the endpoints). Accounts with two-factor
/// sign-in are never authenticated this way: a password alone is not enough for them.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelBackend;

/// [`ModelBackend`] counting attempts in a throttle of your choice.
#[derive(Debug, Clone)]
pub struct ThrottledModelBackend {
    throttle: crate::flows::Throttle,
}

impl ThrottledModelBackend {
    /// Counts attempts in `throttle`.
    pub fn new(throttle: crate::flows::Throttle) -> ThrottledModelBackend {
        ThrottledModelBackend { throttle }
    }
}

fn default_throttle() -> &'static crate::flows::Throttle {
    static DEFAULT: std::sync::OnceLock<crate::flows::Throttle> = std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(|| crate::flows::Throttle::new(Arc::new(rustango_cache::InMemoryCache::new())))
}

const BASIC_CHALLENGE: &str = "Basic realm=\"rustango\", charset=\"UTF-8\"";

async fn basic(
    throttle: &crate::flows::Throttle,
    parts: &Parts,
    pool: &Pool,
) -> Result<Option<User>> {
    let Some(encoded) = authorization(parts, "Basic") else {
        return Ok(None);
    };
    // Anything malformed is simply not a credential.
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return Ok(None);
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return Ok(None);
    };
    let Some((username, password)) = decoded.split_once(':') else {
        return Ok(None);
    };
    let address = crate::flows::client_address(parts);
    if throttle.attempt(username, &address).await?.is_some() {
        return Ok(None);
    }
    match users::authenticate(pool, username, password).await? {
        Some(user) if !user.has_totp() => {
            throttle.succeeded(username, &address).await?;
            Ok(Some(user))
        }
        _ => {
            crate::signals::send(&crate::signals::AuthEvent::LoginFailed {
                username: username.to_owned(),
                address,
            });
            Ok(None)
        }
    }
}

#[async_trait::async_trait]
impl AuthBackend for ModelBackend {
    fn name(&self) -> &'static str {
        "basic"
    }

    async fn authenticate(&self, parts: &Parts, pool: &Pool) -> Result<Option<User>> {
        basic(default_throttle(), parts, pool).await
    }

    fn challenge(&self) -> Option<&'static str> {
        Some(BASIC_CHALLENGE)
    }
}

#[async_trait::async_trait]
impl AuthBackend for ThrottledModelBackend {
    fn name(&self) -> &'static str {
        "basic"
    }

    async fn authenticate(&self, parts: &Parts, pool: &Pool) -> Result<Option<User>> {
        basic(&self.throttle, parts, pool).await
    }

    fn challenge(&self) -> Option<&'static str> {
        Some(BASIC_CHALLENGE)
    }
}

/// `Authorization: Bearer <prefix>.<secret>`: an [`ApiKey`] that is not revoked or
/// expired, of an active user. Each lookup is one indexed query by prefix and one
/// SHA-256; the key's `last_used_at` is written at most once a minute.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiKeyBackend;

#[async_trait::async_trait]
impl AuthBackend for ApiKeyBackend {
    fn name(&self) -> &'static str {
        "api_key"
    }

    async fn authenticate(&self, parts: &Parts, pool: &Pool) -> Result<Option<User>> {
        let Some(token) = authorization(parts, "Bearer") else {
            return Ok(None);
        };
        // JWTs have two dots; API keys one.
        let Some((prefix, secret)) = api_keys::split_token(token) else {
            return Ok(None);
        };
        let Some(mut key) = ApiKey::objects()
            .where_(ApiKey::prefix.eq(prefix))
            .first(pool)
            .await?
        else {
            return Ok(None);
        };
        if !api_keys::verify_key(secret, &key.hash).unwrap_or(false) {
            return Ok(None);
        }
        let now = Utc::now();
        if key.revoked || key.expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        let Some(user) = users::get_by_id(pool, *key.user.key()).await? else {
            return Ok(None);
        };
        if !user.is_active {
            return Ok(None);
        }
        if key
            .last_used_at
            .is_none_or(|at| now - at > chrono::Duration::minutes(1))
            && let Some(id) = key.id.get().copied()
        {
            // Only the one column: a key revoked meanwhile stays revoked.
            key.last_used_at = Some(now);
            ApiKey::objects()
                .where_(ApiKey::id.eq(id))
                .update()
                .set(ApiKey::last_used_at, Some(now))
                .execute_on(pool)
                .await?;
        }
        Ok(Some(user))
    }

    fn challenge(&self) -> Option<&'static str> {
        Some("Bearer")
    }
}

/// Makes an API key for `user`: returns the full token (show it once; it is not
/// stored) and the saved row.
pub async fn create_api_key(
    pool: &Pool,
    user: &User,
    name: &str,
    expires_at: Option<chrono::DateTime<Utc>>,
) -> Result<(String, ApiKey)> {
    let user_id = user.pk().ok_or(AuthError::Unsaved("user"))?;
    let (token, prefix, hash) = api_keys::generate_key()
        .map_err(|e| AuthError::Database(rustango_orm::Error::Other(Box::new(e))))?;
    let mut key = ApiKey {
        id: Default::default(),
        user: rustango_orm::ForeignKey::new(user_id),
        name: name.to_owned(),
        prefix,
        hash,
        expires_at,
        revoked: false,
        last_used_at: None,
        created_at: Default::default(),
    };
    key.save_on(pool).await?;
    Ok((token, key))
}

/// `Authorization: Bearer <jwt>`: an access token of `jwt` (not a refresh token, not
/// revoked), whose subject is an active user.
#[derive(Clone)]
pub struct JwtBackend {
    jwt: Arc<JwtLifecycle>,
}

impl std::fmt::Debug for JwtBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtBackend").finish_non_exhaustive()
    }
}

impl JwtBackend {
    /// Verifies tokens of an HS256 lifecycle with `secret`.
    pub fn new(secret: &[u8]) -> JwtBackend {
        JwtBackend::with(Arc::new(JwtLifecycle::new(secret)))
    }

    /// Verifies tokens of `jwt` (its keys, audience and revocation store).
    pub fn with(jwt: Arc<JwtLifecycle>) -> JwtBackend {
        JwtBackend { jwt }
    }
}

#[async_trait::async_trait]
impl AuthBackend for JwtBackend {
    fn name(&self) -> &'static str {
        "jwt"
    }

    async fn authenticate(&self, parts: &Parts, pool: &Pool) -> Result<Option<User>> {
        let Some(token) = authorization(parts, "Bearer") else {
            return Ok(None);
        };
        if token.bytes().filter(|b| *b == b'.').count() != 2 {
            return Ok(None);
        }
        let Some(claims) = self.jwt.verify_access(token).await else {
            return Ok(None);
        };
        let Ok(id) = claims.user_id().parse::<i64>() else {
            return Ok(None);
        };
        Ok(users::get_by_id(pool, id).await?.filter(|u| u.is_active))
    }

    fn challenge(&self) -> Option<&'static str> {
        Some("Bearer")
    }
}

/// The session keys of a signed-in user.
pub(crate) const SESSION_USER_ID: &str = "_auth_user_id";
pub(crate) const SESSION_USER_HASH: &str = "_auth_user_hash";

/// A digest of the user's password hash kept in the session: changing the password
/// changes it, which signs out every other session of the user.
pub(crate) fn session_hash(user: &User) -> String {
    let mut h = Sha256::new();
    h.update(b"rustango.auth.session:");
    h.update(user.password.as_bytes());
    let digest = h.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session of a user who signed in through [`crate::flows`] (needs the session
/// layer around the routes). A session whose user changed password since, was
/// deactivated or deleted no longer authenticates.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionBackend;

#[async_trait::async_trait]
impl AuthBackend for SessionBackend {
    fn name(&self) -> &'static str {
        "session"
    }

    async fn authenticate(&self, parts: &Parts, pool: &Pool) -> Result<Option<User>> {
        let Some(session) = parts.extensions.get::<Session>() else {
            return Ok(None);
        };
        let Ok(Some(id)) = session.get::<i64>(SESSION_USER_ID).await else {
            return Ok(None);
        };
        let Ok(Some(hash)) = session.get::<String>(SESSION_USER_HASH).await else {
            return Ok(None);
        };
        let Some(user) = users::get_by_id(pool, id).await? else {
            return Ok(None);
        };
        if !user.is_active
            || !rustango_crypto::constant_time_eq(hash.as_bytes(), session_hash(&user).as_bytes())
        {
            return Ok(None);
        }
        Ok(Some(user))
    }
}
