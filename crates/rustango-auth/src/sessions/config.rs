//! [`SessionConfig`]: the session cookie, as Django sets it.

use rustango_config::{ConfigError, Env, Settings};
use serde::Deserialize;

use super::{COOKIE_AGE, COOKIE_NAME, Expiry, SameSite, SessionManagerLayer, SessionStore};

/// The settings section [`SessionConfig::from_settings`] reads.
const SECTION: &str = "session";

/// How the session cookie is set; [`layer`](Self::layer) turns it into the
/// [`SessionManagerLayer`] for a store.
///
/// The defaults are Django's:
///
/// | | default | Django setting |
/// |---|---|---|
/// | name | `sessionid` | `SESSION_COOKIE_NAME` |
/// | lifetime | two weeks after the last change (`Max-Age=1209600`) | `SESSION_COOKIE_AGE` |
/// | `HttpOnly` | always | `SESSION_COOKIE_HTTPONLY` |
/// | `SameSite` | `Lax` | `SESSION_COOKIE_SAMESITE` |
/// | `Secure` | outside the `dev` and `test` environments | `SESSION_COOKIE_SECURE` |
/// | `Path` | `/` | `SESSION_COOKIE_PATH` |
/// | `Domain` | none (this host only) | `SESSION_COOKIE_DOMAIN` |
/// | cookie gone when the browser closes | no | `SESSION_EXPIRE_AT_BROWSER_CLOSE` |
/// | saved on every request | no (only when changed) | `SESSION_SAVE_EVERY_REQUEST` |
///
/// The session is saved, and its expiry pushed back, only when a request changes it
/// (unless [`with_save_every_request`](Self::with_save_every_request)), so "two weeks after the
/// last change" is the inactivity limit, as in Django.
///
/// The cookie holds only the session id, 128 random bits that the store must know, so
/// it is not signed: a forged or guessed value finds no session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    cookie_name: String,
    cookie_age: time::Duration,
    cookie_path: String,
    cookie_domain: Option<String>,
    secure: bool,
    same_site: SameSite,
    expire_at_browser_close: bool,
    save_every_request: bool,
}

/// The `[session]` settings section (`RUSTANGO_SESSION__<KEY>` variables).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Section {
    cookie_name: Option<String>,
    /// Seconds.
    cookie_age: Option<u64>,
    cookie_path: Option<String>,
    cookie_domain: Option<String>,
    cookie_secure: Option<bool>,
    expire_at_browser_close: Option<bool>,
    save_every_request: Option<bool>,
}

impl SessionConfig {
    /// Django's defaults (see the table above), with `Secure` set as `secure` says.
    pub fn new(secure: bool) -> Self {
        Self {
            cookie_name: COOKIE_NAME.to_owned(),
            cookie_age: COOKIE_AGE,
            cookie_path: "/".to_owned(),
            cookie_domain: None,
            secure,
            same_site: SameSite::Lax,
            expire_at_browser_close: false,
            save_every_request: false,
        }
    }

    /// The configuration for `settings`: `Secure` unless the environment is `dev` or
    /// `test`, then the optional `[session]` section (or `RUSTANGO_SESSION__*`
    /// variables):
    ///
    /// ```toml
    /// [session]
    /// cookie_name = "sessionid"        # letters, digits and !#$%&'*+-.^_`|~
    /// cookie_age = 1209600             # seconds, at least 1
    /// cookie_path = "/"
    /// cookie_domain = "example.com"    # share the cookie with subdomains
    /// cookie_secure = true             # overrides the environment's choice
    /// expire_at_browser_close = false
    /// save_every_request = false
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::Section`] for an unknown key, a value of the wrong type, a cookie
    /// name that is not an HTTP token, or an age of zero or beyond 100 years.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let mut config = Self::new(!matches!(settings.env, Env::Dev | Env::Test));
        let Some(section) = settings.section::<Section>(SECTION)? else {
            return Ok(config);
        };
        let invalid = |message: String| ConfigError::Section {
            section: SECTION.to_owned(),
            message,
        };
        if let Some(name) = section.cookie_name {
            if !is_token(&name) {
                return Err(invalid(format!(
                    "`cookie_name` {name:?} is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~)"
                )));
            }
            config.cookie_name = name;
        }
        if let Some(age) = section.cookie_age {
            const MAX: u64 = 100 * 365 * 24 * 60 * 60;
            if age == 0 || age > MAX {
                return Err(invalid(format!(
                    "`cookie_age` must be between 1 and {MAX} seconds, not {age}"
                )));
            }
            config.cookie_age = time::Duration::seconds(i64::try_from(age).unwrap_or(i64::MAX));
        }
        if let Some(path) = section.cookie_path {
            if !path.starts_with('/') || path.contains([';', ',']) {
                return Err(invalid(format!(
                    "`cookie_path` {path:?} must start with `/` and contain no `;` or `,`"
                )));
            }
            config.cookie_path = path;
        }
        if let Some(domain) = section.cookie_domain {
            if domain.is_empty() || domain.contains([';', ',', ' ']) {
                return Err(invalid(format!(
                    "`cookie_domain` {domain:?} is not a domain name"
                )));
            }
            config.cookie_domain = Some(domain);
        }
        if let Some(secure) = section.cookie_secure {
            if !secure && settings.env.is_prod() {
                tracing::warn!(
                    "session cookies without `Secure` in production: [session] cookie_secure = false"
                );
            }
            config.secure = secure;
        }
        if let Some(close) = section.expire_at_browser_close {
            config.expire_at_browser_close = close;
        }
        if let Some(every) = section.save_every_request {
            config.save_every_request = every;
        }
        Ok(config)
    }

    /// The cookie's name (default `sessionid`).
    ///
    /// # Panics
    /// If `name` is not an HTTP token (letters, digits and ``!#$%&'*+-.^_`|~``).
    pub fn with_cookie_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        assert!(is_token(&name), "{name:?} is not a valid cookie name");
        self.cookie_name = name;
        self
    }

    /// How long a session lives after its last change (default two weeks); the
    /// cookie's `Max-Age`.
    pub fn with_cookie_age(mut self, age: time::Duration) -> Self {
        self.cookie_age = age;
        self
    }

    /// The cookie's `Path` (default `/`).
    pub fn with_cookie_path(mut self, path: impl Into<String>) -> Self {
        self.cookie_path = path.into();
        self
    }

    /// The cookie's `Domain` (default none: this host only).
    pub fn with_cookie_domain(mut self, domain: impl Into<String>) -> Self {
        self.cookie_domain = Some(domain.into());
        self
    }

    /// Whether the cookie is `Secure` (sent over HTTPS only).
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The cookie's `SameSite` (default `Lax`). `None` requires `Secure` in browsers.
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Whether the cookie has no `Max-Age`, so the browser drops it when it closes
    /// (default `false`). The stored session still expires after
    /// [`COOKIE_AGE`](super::COOKIE_AGE): tower-sessions uses two weeks for such
    /// sessions whatever [`with_cookie_age`](Self::with_cookie_age) says.
    pub fn with_expire_at_browser_close(mut self, yes: bool) -> Self {
        self.expire_at_browser_close = yes;
        self
    }

    /// Whether every request that has a session saves it (pushing its expiry back and
    /// resending the cookie), not only the requests that change it (default `false`).
    pub fn with_save_every_request(mut self, yes: bool) -> Self {
        self.save_every_request = yes;
        self
    }

    /// The cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// How long a session lives after its last change.
    pub fn cookie_age(&self) -> time::Duration {
        self.cookie_age
    }

    /// Whether the cookie is `Secure`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The expiry the layer gives sessions.
    pub fn expiry(&self) -> Expiry {
        if self.expire_at_browser_close {
            Expiry::OnSessionEnd
        } else {
            Expiry::OnInactivity(self.cookie_age)
        }
    }

    /// The session layer for `store`, setting the cookie as configured (always
    /// `HttpOnly`). Add it to the router with `Router::layer`; handlers then take a
    /// [`Session`](super::Session) argument.
    pub fn layer<S: SessionStore>(&self, store: S) -> SessionManagerLayer<S> {
        let layer = SessionManagerLayer::new(store)
            .with_name(self.cookie_name.clone())
            .with_http_only(true)
            .with_same_site(self.same_site)
            .with_secure(self.secure)
            .with_path(self.cookie_path.clone())
            .with_expiry(self.expiry())
            .with_always_save(self.save_every_request);
        match &self.cookie_domain {
            Some(domain) => layer.with_domain(domain.clone()),
            None => layer,
        }
    }
}

/// Whether `name` is an RFC 9110 token, as a cookie name must be.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_names_are_tokens() {
        assert!(is_token("sessionid"));
        assert!(is_token("__Host-sid"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token("a=b"));
        assert!(!is_token("a;b"));
    }
}
