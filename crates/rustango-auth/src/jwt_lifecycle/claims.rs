//! The claims of a verified token, the token pair, and the claims as they travel.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The claims the lifecycle sets itself; a custom claim may not use these names.
pub const RESERVED_CLAIMS: &[&str] = &[
    "sub", "exp", "jti", "typ", "iat", "nbf", "iss", "aud", "fam",
];

/// What a token is for (its `typ` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// A short-lived token sent with every request.
    Access,
    /// A long-lived token exchanged once for a new pair.
    Refresh,
}

/// An access and a refresh token, with their expiry times: what a login or refresh
/// endpoint returns (it serializes to JSON as is).
///
/// `Debug` does not show the tokens: they are credentials and must stay out of logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtTokenPair {
    /// The access token, for `Authorization: Bearer …`.
    pub access: String,
    /// The refresh token, for [`JwtLifecycle::refresh`](super::JwtLifecycle::refresh).
    pub refresh: String,
    /// When the access token expires.
    pub access_expires_at: DateTime<Utc>,
    /// When the refresh token expires.
    pub refresh_expires_at: DateTime<Utc>,
}

impl fmt::Debug for JwtTokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtTokenPair")
            .field("access", &"<redacted>")
            .field("refresh", &"<redacted>")
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish()
    }
}

/// The claims of a verified token: who it is for, when it expires, its ids, and the
/// application's custom claims.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JwtClaims {
    pub(crate) sub: String,
    pub(crate) iat: u64,
    pub(crate) nbf: u64,
    pub(crate) exp: u64,
    pub(crate) jti: String,
    pub(crate) typ: TokenType,
    pub(crate) fam: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) aud: Option<Value>,
    #[serde(flatten)]
    pub(crate) custom: Map<String, Value>,
}

fn time(secs: u64) -> DateTime<Utc> {
    i64::try_from(secs)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl JwtClaims {
    /// The user the token was issued to (`sub`), as given to
    /// [`issue_pair`](super::JwtLifecycle::issue_pair).
    pub fn user_id(&self) -> &str {
        &self.sub
    }

    /// The user id parsed as `T` (`claims.user_id_as::<i64>()`); `None` if it does not
    /// parse.
    pub fn user_id_as<T: std::str::FromStr>(&self) -> Option<T> {
        self.sub.parse().ok()
    }

    /// The custom claim `name` as `T`; `None` if it is missing or not a `T`.
    pub fn get_custom<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        T::deserialize(self.custom.get(name)?).ok()
    }

    /// Every custom claim.
    pub fn custom(&self) -> &Map<String, Value> {
        &self.custom
    }

    /// When the token expires (`exp`).
    pub fn expires_at(&self) -> DateTime<Utc> {
        time(self.exp)
    }

    /// When the token was issued (`iat`).
    pub fn issued_at(&self) -> DateTime<Utc> {
        time(self.iat)
    }

    /// When the token starts being valid (`nbf`).
    pub fn not_before(&self) -> DateTime<Utc> {
        time(self.nbf)
    }

    /// The token's unique id (`jti`), what [`revoke`](super::JwtLifecycle::revoke)
    /// records.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// The token family (`fam`): every token descending from one login by refreshes.
    /// [`revoke_family`](super::JwtLifecycle::revoke_family) ends them all.
    pub fn family(&self) -> &str {
        &self.fam
    }

    /// Access or refresh token.
    pub fn token_type(&self) -> TokenType {
        self.typ
    }

    /// The issuer (`iss`), when the lifecycle sets one.
    pub fn issuer(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// The audience (`aud`: a string, or an array from other issuers), when set.
    pub fn audience(&self) -> Option<&Value> {
        self.aud.as_ref()
    }
}

/// The claims of a token as it is signed.
#[derive(Serialize)]
pub(crate) struct OutClaims<'a> {
    pub sub: &'a str,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: &'a str,
    pub typ: TokenType,
    pub fam: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<&'a str>,
    #[serde(flatten)]
    pub custom: &'a Map<String, Value>,
}

/// The claims of a token as it is read: every registered claim strictly typed (times
/// are integers, never strings), the rest kept as custom claims.
#[derive(Deserialize)]
pub(crate) struct InClaims {
    pub sub: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: String,
    pub typ: TokenType,
    pub fam: String,
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub aud: Option<Value>,
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

impl From<InClaims> for JwtClaims {
    fn from(c: InClaims) -> Self {
        JwtClaims {
            sub: c.sub,
            iat: c.iat,
            nbf: c.nbf,
            exp: c.exp,
            jti: c.jti,
            typ: c.typ,
            fam: c.fam,
            iss: c.iss,
            aud: c.aud,
            custom: c.custom,
        }
    }
}

/// Whether `id` is a usable token or family id: 1 to 64 characters of
/// `A-Z a-z 0-9 - _`, safe in every store's keys.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
