//! [`LoginState`]: what a login remembers between the redirect to the provider and
//! the callback; random values and PKCE.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::OidcError;

/// What one login attempt must remember from [`begin_login`] to [`complete_login`]:
/// keep it where only this browser can give it back (the login routes put it in a
/// signed, `HttpOnly`, short-lived cookie; a server-side session works too).
///
/// `state`, `nonce` and `pkce_verifier` are 256-bit random values (43 base64url
/// characters). It is `Serialize`/`Deserialize`; `Debug` prints no secret.
///
/// [`begin_login`]: super::OidcClient::begin_login
/// [`complete_login`]: super::OidcClient::complete_login
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    /// The `state` sent to the provider; the callback must bring it back.
    pub state: String,
    /// The `nonce` sent to the provider; the id_token must carry it.
    pub nonce: String,
    /// The PKCE `code_verifier` whose S256 challenge was sent to the provider.
    pub pkce_verifier: String,
    /// Where to go after the login: a target already checked by
    /// [`crate::redirects`], or `None`.
    pub next: Option<String>,
    /// When the login started.
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for LoginState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginState")
            .field("state", &"***")
            .field("nonce", &"***")
            .field("pkce_verifier", &"***")
            .field("next", &self.next)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl LoginState {
    /// A fresh state with random `state`, `nonce` and PKCE verifier.
    ///
    /// # Errors
    /// [`OidcError::Random`] if the random number generator fails.
    pub fn new(next: Option<String>) -> Result<Self, OidcError> {
        Ok(LoginState {
            state: random_token()?,
            nonce: random_token()?,
            pkce_verifier: random_token()?,
            next,
            created_at: Utc::now(),
        })
    }

    /// The PKCE `code_challenge` (method `S256`) for [`pkce_verifier`](Self::pkce_verifier).
    #[must_use]
    pub fn pkce_challenge(&self) -> String {
        pkce_challenge(&self.pkce_verifier)
    }
}

/// 32 random bytes.
pub(crate) fn random_bytes() -> Result<[u8; 32], OidcError> {
    let mut buf = [0u8; 32];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut buf)
        .map_err(|_| OidcError::Random)?;
    Ok(buf)
}

/// 256 random bits in base64url without padding (43 characters).
pub(crate) fn random_token() -> Result<String, OidcError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes()?))
}

/// `BASE64URL(SHA256(verifier))` (RFC 7636 §4.2).
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn states_are_random_and_secret() {
        let a = LoginState::new(Some("/next".into())).unwrap();
        let b = LoginState::new(None).unwrap();
        assert_eq!(a.state.len(), 43);
        assert_eq!(a.pkce_verifier.len(), 43);
        assert_ne!(a.state, b.state);
        assert_ne!(a.state, a.nonce);
        assert_ne!(a.nonce, a.pkce_verifier);
        let debug = format!("{a:?}");
        assert!(!debug.contains(&a.state) && !debug.contains(&a.nonce));
        assert!(!debug.contains(&a.pkce_verifier));
        assert!(debug.contains("/next"));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<LoginState>(&json).unwrap(), a);
    }
}
