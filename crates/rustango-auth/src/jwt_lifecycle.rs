//! JWT access and refresh tokens with rotation, reuse detection and revocation
//! (`rustango::auth::jwt_lifecycle`).
//!
//! A [`JwtLifecycle`] issues a pair at login: a short-lived **access** token sent with
//! every request, and a long-lived **refresh** token exchanged for a new pair. Both
//! carry the user id (`sub`) and the application's custom claims (roles, tenant,
//! scope…), so a request needs no database lookup to know who is calling.
//!
//! ```
//! use rustango_auth::jwt_lifecycle::{JwtError, JwtLifecycle};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = [7u8; 32]; // 32 random bytes from the settings in a real application
//! let jwt = JwtLifecycle::new(&secret).with_access_ttl(900).with_refresh_ttl(7 * 86400);
//!
//! // Login: embed roles and tenant in the tokens.
//! let custom = json!({ "roles": ["admin", "editor"], "tenant": "acme" });
//! let pair = jwt.issue_pair_with(42, custom.as_object().unwrap().clone())?;
//!
//! // Every request: verify the access token.
//! let claims = jwt.verify_access(&pair.access).await.expect("a valid token");
//! assert_eq!(claims.user_id_as::<i64>(), Some(42));
//! let roles: Vec<String> = claims.get_custom("roles").unwrap();
//! assert_eq!(roles, ["admin", "editor"]);
//!
//! // Refresh: a new pair with the same custom claims; the old refresh token is used up.
//! let next = jwt.refresh(&pair.refresh).await.expect("a fresh pair");
//! assert!(jwt.verify_access(&next.access).await.is_some());
//!
//! // Presenting the old refresh token again is a reuse: the whole family is revoked,
//! // the pair it was exchanged for included.
//! assert!(matches!(jwt.refresh_detailed(&pair.refresh).await, Err(JwtError::Reused)));
//! assert!(jwt.verify_access(&next.access).await.is_none());
//!
//! // Logout: revoking the refresh token ends its family, access token included.
//! let pair = jwt.issue_pair(42)?;
//! jwt.revoke(&pair.refresh).await?;
//! assert!(jwt.verify_access(&pair.access).await.is_none());
//! # Ok(())
//! # }
//! ```
//!
//! # What is checked
//!
//! Every token is verified with the key its header's `kid` names, with **that key's
//! algorithm** (the header's `alg` must equal it; `none` never does), then:
//! `exp`, `nbf` and `iat` (integers; a string such as `"nbf": "9999999999"` is refused,
//! not ignored) with a small leeway for clock skew, `aud` and `iss` when configured
//! (and required then; a token carrying an `aud` is refused when none is configured),
//! the token type (`typ`: an access token is no refresh token and the reverse), and
//! the revocation store (the token's `jti` and its family `fam`). Tokens longer than
//! 8 KiB, and headers with `crit` extensions, are refused.
//!
//! # Rotation and reuse detection
//!
//! [`refresh`](JwtLifecycle::refresh) consumes the refresh token atomically in the
//! store ([`RevocationStore::consume`]) and returns a new pair of the same **family**
//! (the `fam` claim, shared by every token descending from one login). A refresh token
//! presented a second time means it leaked (or two clients raced): the whole family is
//! revoked, the legitimate holder's newest tokens included, and the caller gets
//! [`JwtError::Reused`] (OAuth 2.0 Security BCP §4.14). Two concurrent refreshes of one
//! token therefore leave exactly one winner, whose pair is revoked as well.
//!
//! # Stores
//!
//! Revocations live in a [`RevocationStore`]: [`MemoryRevocationStore`] (the default,
//! one process), [`CacheRevocationStore`] over a `rustango-cache` cache (Redis: every
//! instance sees every revocation) or [`DbRevocationStore`] (table
//! `auth_jwt_revocation`). Entries expire with the tokens they revoke. When a store
//! fails, tokens are refused ([`JwtError::Store`]): revocation fails closed.
//!
//! Verification, refresh and revocation are `async` for that reason (the spec's
//! `verify_access(..)` is `verify_access(..).await` here). Instances sharing a store
//! should share their TTL and leeway settings, which decide how long revocations are
//! kept.
//!
//! # Keys
//!
//! [`JwtLifecycle::new`] signs with HS256. [`JwtLifecycle::with_keys`] takes a
//! [`KeySet`] of [`JwtKey`]s (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384,
//! EdDSA) with key ids: one signing key plus verification keys for rotation.
//! [`KeySet::jwks`] publishes the public keys.
//!
//! # Reserved claims
//!
//! `sub`, `exp`, `jti`, `typ`, `iat`, `nbf`, `iss`, `aud` and `fam` are set by the
//! lifecycle; a custom claim with one of these names is refused with
//! [`JwtIssueError::ReservedClaim`] ([`RESERVED_CLAIMS`]).

mod cache_store;
mod claims;
mod db_store;
mod error;
mod keys;
mod store;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Header, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

pub use cache_store::CacheRevocationStore;
pub use claims::{JwtClaims, JwtTokenPair, RESERVED_CLAIMS, TokenType};
pub use db_store::{DbRevocationStore, JwtRevocation};
pub use error::{JwtError, JwtIssueError, JwtKeyError};
/// The signature algorithms (from `jsonwebtoken`), for [`JwtKey`] constructors.
pub use jsonwebtoken::Algorithm;
pub use keys::{JwtKey, KeySet};
pub use store::{MemoryRevocationStore, RevocationStore, RevocationStoreError};

use claims::{InClaims, OutClaims, valid_id};

/// The access-token lifetime unless set: 15 minutes.
pub const DEFAULT_ACCESS_TTL: u64 = 900;
/// The refresh-token lifetime unless set: 7 days.
pub const DEFAULT_REFRESH_TTL: u64 = 7 * 24 * 3600;
/// The clock-skew allowance on `exp`, `nbf` and `iat` unless set: 30 seconds.
pub const DEFAULT_LEEWAY: u64 = 30;
/// The longest token lifetime accepted by the builders: 10 years.
pub const MAX_TTL: u64 = 10 * 365 * 24 * 3600;
/// The largest leeway accepted by [`JwtLifecycle::with_leeway`]: 5 minutes.
pub const MAX_LEEWAY: u64 = 300;
/// Tokens longer than this many bytes are refused before any parsing.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Extra time a family revocation is kept beyond the longest token lifetime, so that a
/// pair issued while the family was being revoked is covered too.
const FAMILY_MARGIN: u64 = 60;

/// Issues, verifies, refreshes (with rotation and reuse detection) and revokes JWT
/// pairs. See the [module docs](self) for the whole lifecycle.
///
/// Cheap to clone (keys and store are shared): keep one in the application state.
#[derive(Clone)]
pub struct JwtLifecycle {
    ring: Arc<Ring>,
    store: Arc<dyn RevocationStore>,
    access_ttl: u64,
    refresh_ttl: u64,
    leeway: u64,
    issuer: Option<Arc<str>>,
    audience: Option<Arc<str>>,
}

/// The keys with what verifying and signing with them needs, built once per setting.
struct Ring {
    keys: KeySet,
    /// One per key, pinned to the key's algorithm.
    validations: Vec<Validation>,
    /// The header of new tokens (the signing key's algorithm and `kid`).
    header: Header,
}

/// The header fields read before the signature is checked (to pick the key).
#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

fn now_secs() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn to_time(secs: u64) -> DateTime<Utc> {
    i64::try_from(secs)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn check_reserved(custom: &Map<String, Value>) -> Result<(), JwtIssueError> {
    match RESERVED_CLAIMS.iter().find(|r| custom.contains_key(**r)) {
        Some(name) => Err(JwtIssueError::ReservedClaim((*name).to_owned())),
        None => Ok(()),
    }
}

fn map_decode_error(e: &jsonwebtoken::errors::Error) -> JwtError {
    match e.kind() {
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_) => JwtError::BadSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm => JwtError::WrongAlgorithm,
        ErrorKind::InvalidAudience => JwtError::WrongAudience,
        ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(c) if c == "aud" => JwtError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) if c == "iss" => JwtError::WrongIssuer,
        _ => JwtError::Malformed,
    }
}

impl JwtLifecycle {
    /// A lifecycle signing with HS256 under `secret`, with the default TTLs (15 minutes
    /// and 7 days), leeway (30 s) and an in-memory revocation store.
    ///
    /// # Panics
    /// When `secret` is shorter than 32 bytes (RFC 7518 §3.2); use
    /// [`try_new`](JwtLifecycle::try_new) to get an error instead.
    #[track_caller]
    pub fn new(secret: &[u8]) -> Self {
        match Self::try_new(secret) {
            Ok(jwt) => jwt,
            Err(e) => panic!("JwtLifecycle::new: {e}"),
        }
    }

    /// [`new`](JwtLifecycle::new), returning [`JwtKeyError::WeakSecret`] for a secret
    /// shorter than 32 bytes.
    pub fn try_new(secret: &[u8]) -> Result<Self, JwtKeyError> {
        Ok(Self::with_keys(KeySet::new(JwtKey::hs256(secret)?)?))
    }

    /// A lifecycle signing with the signing key of `keys` and verifying with any of its
    /// keys (RS256, EdDSA, key rotation…); defaults as [`new`](JwtLifecycle::new).
    pub fn with_keys(keys: KeySet) -> Self {
        let mut jwt = Self {
            ring: Arc::new(Ring {
                keys,
                validations: Vec::new(),
                header: Header::default(),
            }),
            store: Arc::new(MemoryRevocationStore::new()),
            access_ttl: DEFAULT_ACCESS_TTL,
            refresh_ttl: DEFAULT_REFRESH_TTL,
            leeway: DEFAULT_LEEWAY,
            issuer: None,
            audience: None,
        };
        jwt.rebuild();
        jwt
    }

    /// Rebuilds the per-key validations and the header after a setting changed.
    fn rebuild(&mut self) {
        let keys = self.ring.keys.clone();
        let validations = keys
            .keys()
            .iter()
            .map(|key| {
                // Never from the token header: one algorithm, the key's.
                let mut v = Validation::new(key.algorithm());
                v.leeway = self.leeway;
                v.validate_exp = true;
                v.validate_nbf = true; // off by default in jsonwebtoken
                v.validate_aud = true;
                let mut required = vec!["exp", "nbf", "sub"];
                if let Some(aud) = &self.audience {
                    v.set_audience(&[&**aud]);
                    required.push("aud");
                }
                if let Some(iss) = &self.issuer {
                    v.set_issuer(&[&**iss]);
                    required.push("iss");
                }
                v.set_required_spec_claims(&required);
                v
            })
            .collect();
        let signing = keys.signing_key();
        let mut header = Header::new(signing.algorithm());
        header.kid = signing.kid().map(str::to_owned);
        self.ring = Arc::new(Ring {
            keys,
            validations,
            header,
        });
    }

    /// Sets the access-token lifetime in seconds (default 900).
    ///
    /// # Panics
    /// When `secs` is 0 or over [`MAX_TTL`].
    #[track_caller]
    pub fn with_access_ttl(mut self, secs: u64) -> Self {
        assert!(
            (1..=MAX_TTL).contains(&secs),
            "the access TTL must be between 1 s and 10 years"
        );
        self.access_ttl = secs;
        self
    }

    /// Sets the refresh-token lifetime in seconds (default 7 days). Each refresh issues
    /// a refresh token valid this long again (a sliding session).
    ///
    /// # Panics
    /// When `secs` is 0 or over [`MAX_TTL`].
    #[track_caller]
    pub fn with_refresh_ttl(mut self, secs: u64) -> Self {
        assert!(
            (1..=MAX_TTL).contains(&secs),
            "the refresh TTL must be between 1 s and 10 years"
        );
        self.refresh_ttl = secs;
        self
    }

    /// Sets the issuer (`iss`): written into every token, and required and checked on
    /// every token verified.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into().into());
        self.rebuild();
        self
    }

    /// Sets the audience (`aud`): written into every token, and required and checked on
    /// every token verified. Without it, tokens carrying an `aud` are refused.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into().into());
        self.rebuild();
        self
    }

    /// Sets the clock-skew allowance on `exp`, `nbf` and `iat` in seconds (default 30).
    /// Keep it small: an expired or revoked-and-forgotten token lives this much longer.
    ///
    /// # Panics
    /// When `secs` is over [`MAX_LEEWAY`] (5 minutes).
    #[track_caller]
    pub fn with_leeway(mut self, secs: u64) -> Self {
        assert!(secs <= MAX_LEEWAY, "the leeway must be at most 300 s");
        self.leeway = secs;
        self.rebuild();
        self
    }

    /// Sets where revocations are kept (default: a new [`MemoryRevocationStore`]).
    /// Instances that must see each other's revocations share one store.
    pub fn with_store(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.store = store;
        self
    }

    /// The access-token lifetime in seconds.
    pub fn access_ttl(&self) -> u64 {
        self.access_ttl
    }

    /// The refresh-token lifetime in seconds.
    pub fn refresh_ttl(&self) -> u64 {
        self.refresh_ttl
    }

    /// The clock-skew allowance in seconds.
    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// The keys.
    pub fn keys(&self) -> &KeySet {
        &self.ring.keys
    }

    /// The revocation store.
    pub fn store(&self) -> &Arc<dyn RevocationStore> {
        &self.store
    }

    // ----- issuing -----

    /// Issues a pair for `user_id` without custom claims.
    pub fn issue_pair(&self, user_id: impl fmt::Display) -> Result<JwtTokenPair, JwtIssueError> {
        self.issue(&user_id.to_string(), &Map::new(), None)
    }

    /// Issues a pair for `user_id` carrying `custom` claims in both tokens (refreshes
    /// keep them).
    ///
    /// Fails with [`JwtIssueError::ReservedClaim`] if `custom` uses one of
    /// [`RESERVED_CLAIMS`].
    pub fn issue_pair_with(
        &self,
        user_id: impl fmt::Display,
        custom: Map<String, Value>,
    ) -> Result<JwtTokenPair, JwtIssueError> {
        check_reserved(&custom)?;
        self.issue(&user_id.to_string(), &custom, None)
    }

    fn issue(
        &self,
        sub: &str,
        custom: &Map<String, Value>,
        family: Option<&str>,
    ) -> Result<JwtTokenPair, JwtIssueError> {
        let now = now_secs();
        let new_family;
        let fam = match family {
            Some(f) => f,
            None => {
                new_family = new_id();
                &new_family
            }
        };
        let access_exp = now.saturating_add(self.access_ttl);
        let refresh_exp = now.saturating_add(self.refresh_ttl);
        let mut claims = OutClaims {
            sub,
            iat: now,
            nbf: now,
            exp: access_exp,
            jti: &new_id(),
            typ: TokenType::Access,
            fam,
            iss: self.issuer.as_deref(),
            aud: self.audience.as_deref(),
            custom,
        };
        let access = self.sign(&claims)?;
        let refresh_jti = new_id();
        claims.jti = &refresh_jti;
        claims.typ = TokenType::Refresh;
        claims.exp = refresh_exp;
        let refresh = self.sign(&claims)?;
        Ok(JwtTokenPair {
            access,
            refresh,
            access_expires_at: to_time(access_exp),
            refresh_expires_at: to_time(refresh_exp),
        })
    }

    fn sign(&self, claims: &OutClaims<'_>) -> Result<String, JwtIssueError> {
        let key = self
            .ring
            .keys
            .signing_key()
            .encoding()
            .ok_or_else(|| JwtIssueError::Signing("the signing key cannot sign".into()))?;
        jsonwebtoken::encode(&self.ring.header, claims, key)
            .map_err(|e| JwtIssueError::Signing(Box::new(e)))
    }

    // ----- verifying -----

    /// Checks signature, algorithm, times, audience, issuer and shape (not the type,
    /// not the store).
    fn decode(&self, token: &str) -> Result<JwtClaims, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::Malformed);
        }
        let index = self.select_key(token)?;
        let key = &self.ring.keys.keys()[index];
        let data =
            jsonwebtoken::decode::<InClaims>(token, key.decoding(), &self.ring.validations[index])
                .map_err(|e| map_decode_error(&e))?;
        let c = data.claims;
        let now = now_secs();
        // jsonwebtoken checked exp and nbf; checking again costs nothing and keeps the
        // rule here should its defaults change. It does not check iat at all.
        if c.exp.saturating_add(self.leeway) < now {
            return Err(JwtError::Expired);
        }
        if c.nbf > now.saturating_add(self.leeway) || c.iat > now.saturating_add(self.leeway) {
            return Err(JwtError::NotYetValid);
        }
        if !valid_id(&c.jti) || !valid_id(&c.fam) {
            return Err(JwtError::Malformed);
        }
        Ok(c.into())
    }

    /// The index of the key that verifies `token`: the one its `kid` names, whose
    /// algorithm must be the header's `alg`.
    fn select_key(&self, token: &str) -> Result<usize, JwtError> {
        let encoded = token.split('.').next().unwrap_or_default();
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| JwtError::Malformed)?;
        let header: RawHeader<'_> =
            serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)?;
        if header.crit.is_some() {
            // No header extension is understood here (RFC 7515 §4.1.11).
            return Err(JwtError::Malformed);
        }
        let index = self
            .ring
            .keys
            .find(header.kid.as_deref())
            .ok_or(JwtError::UnknownKey)?;
        if header.alg != self.ring.keys.keys()[index].alg_name() {
            return Err(JwtError::WrongAlgorithm);
        }
        Ok(index)
    }

    /// Verifies an access token: `Some(claims)` if it is valid, of type access, and
    /// neither it nor its family is revoked. See
    /// [`verify_access_detailed`](JwtLifecycle::verify_access_detailed) for the reason
    /// of a refusal.
    pub async fn verify_access(&self, token: &str) -> Option<JwtClaims> {
        self.verify_access_detailed(token)
            .await
            .map_err(|e| log_refusal("access token", &e))
            .ok()
    }

    /// Verifies an access token, saying why it is refused.
    pub async fn verify_access_detailed(&self, token: &str) -> Result<JwtClaims, JwtError> {
        let claims = self.decode(token)?;
        if claims.typ != TokenType::Access {
            return Err(JwtError::WrongType);
        }
        if self
            .store
            .is_token_revoked(&claims.jti, &claims.fam)
            .await?
        {
            return Err(JwtError::Revoked);
        }
        Ok(claims)
    }

    // ----- refreshing -----

    /// Exchanges a refresh token for a new pair with the same user, custom claims and
    /// family; `None` if the token is refused. See
    /// [`refresh_detailed`](JwtLifecycle::refresh_detailed).
    pub async fn refresh(&self, refresh_token: &str) -> Option<JwtTokenPair> {
        self.refresh_detailed(refresh_token)
            .await
            .map_err(|e| log_refusal("refresh token", &e))
            .ok()
    }

    /// Exchanges a refresh token for a new pair, saying why it is refused.
    ///
    /// The token is consumed: presenting it again fails with [`JwtError::Reused`] and
    /// revokes its whole family.
    pub async fn refresh_detailed(&self, refresh_token: &str) -> Result<JwtTokenPair, JwtError> {
        self.rotate(refresh_token, None).await
    }

    /// Exchanges a refresh token for a new pair whose custom claims are `custom`
    /// instead of the old ones (permissions re-evaluated at refresh).
    ///
    /// A reserved name in `custom` fails with [`JwtError::ReservedClaim`] before the
    /// token is consumed.
    pub async fn refresh_with(
        &self,
        refresh_token: &str,
        custom: Map<String, Value>,
    ) -> Result<JwtTokenPair, JwtError> {
        check_reserved(&custom)?;
        self.rotate(refresh_token, Some(custom)).await
    }

    async fn rotate(
        &self,
        token: &str,
        custom: Option<Map<String, Value>>,
    ) -> Result<JwtTokenPair, JwtError> {
        let claims = self.decode(token)?;
        if claims.typ != TokenType::Refresh {
            return Err(JwtError::WrongType);
        }
        if self.store.is_family_revoked(&claims.fam).await? {
            return Err(JwtError::Revoked);
        }
        if !self
            .store
            .consume(&claims.jti, self.entry_until(claims.exp))
            .await?
        {
            self.store
                .revoke_family(&claims.fam, self.family_until())
                .await?;
            tracing::warn!(
                user = %claims.sub,
                family = %claims.fam,
                "a refresh token was presented twice: its token family is revoked"
            );
            return Err(JwtError::Reused);
        }
        let custom = custom.unwrap_or(claims.custom);
        Ok(self.issue(&claims.sub, &custom, Some(&claims.fam))?)
    }

    // ----- revoking -----

    /// Revokes `token` (access or refresh) until it expires. Revoking a refresh token
    /// also revokes its family: every access and refresh token descending from the same
    /// login (logout).
    ///
    /// The token must verify (signature, issuer, audience); an expired token needs no
    /// revoking and succeeds.
    pub async fn revoke(&self, token: &str) -> Result<(), JwtError> {
        let claims = match self.decode(token) {
            Ok(c) => c,
            Err(JwtError::Expired) => return Ok(()),
            Err(e) => return Err(e),
        };
        self.store
            .revoke(&claims.jti, self.entry_until(claims.exp))
            .await?;
        if claims.typ == TokenType::Refresh {
            self.store
                .revoke_family(&claims.fam, self.family_until())
                .await?;
        }
        Ok(())
    }

    /// Revokes every token of the family `family` ([`JwtClaims::family`]): the tokens
    /// of one login and its refreshes.
    pub async fn revoke_family(&self, family: &str) -> Result<(), JwtError> {
        if !valid_id(family) {
            return Err(JwtError::Malformed);
        }
        self.store
            .revoke_family(family, self.family_until())
            .await?;
        Ok(())
    }

    /// Until when a token expiring at `exp` must stay revoked.
    fn entry_until(&self, exp: u64) -> DateTime<Utc> {
        to_time(exp.saturating_add(self.leeway).saturating_add(1))
    }

    /// Until when a family revoked now must stay revoked: past the expiry of any token
    /// issued in it so far.
    fn family_until(&self) -> DateTime<Utc> {
        to_time(
            now_secs()
                .saturating_add(self.access_ttl.max(self.refresh_ttl))
                .saturating_add(self.leeway)
                .saturating_add(FAMILY_MARGIN),
        )
    }
}

/// Logs why a token was refused (never the token).
fn log_refusal(what: &str, e: &JwtError) {
    match e {
        JwtError::Store(source) => {
            tracing::warn!(error = %source, "{what} refused: the revocation store failed");
        }
        other => tracing::debug!(reason = %other, "{what} refused"),
    }
}

impl fmt::Debug for JwtLifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtLifecycle")
            .field("keys", &self.ring.keys)
            .field("store", &self.store)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("leeway", &self.leeway)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}
