//! Signed, timestamped tokens carrying a JSON value, after Django's `signing`.
//!
//! [`dumps`] turns any `Serialize` value into a URL- and cookie-safe token;
//! [`loads`] gives it back if the token was made with the same key and salt, and,
//! when asked, is not older than a maximum age. The value is readable by whoever holds
//! the token (base64 is not encryption): sign, do not hide.
//!
//! A token is `{payload}.{timestamp}.{signature}`: base64url JSON, the signing time
//! in base62 seconds, and base64url HMAC-SHA256 over the first two parts. The key is
//! first derived per salt, so a token made for one purpose (`"password-reset"`) is
//! never accepted for another (`"email-confirm"`), even with the same secret key.
//!
//! [`Signer`] holds the key and salt once, plus fallback keys: sign with the new key,
//! keep accepting tokens of the old ones while they age out.
//!
//! ```
//! use rustango_crypto::signing::{self, Signer, SigningError};
//! use std::time::Duration;
//!
//! let key = b"the project's SECRET_KEY, 32 bytes or more";
//! let token = signing::dumps(&("alice", 42), key, "password-reset")?;
//! let (user, id): (String, u32) =
//!     signing::loads(&token, key, "password-reset", Some(Duration::from_secs(3600)))?;
//! assert_eq!((user.as_str(), id), ("alice", 42));
//!
//! // Another salt, another namespace:
//! let err = signing::loads::<(String, u32)>(&token, key, "email-confirm", None).unwrap_err();
//! assert!(matches!(err, SigningError::BadSignature));
//!
//! // Key rotation:
//! let new_key = b"the new SECRET_KEY, also 32 bytes or more!";
//! let signer = Signer::new(new_key, "password-reset").with_fallback_keys([key]);
//! let (user, _): (String, u32) = signer.loads(&token, None)?;
//! assert_eq!(user, "alice");
//! # Ok::<(), SigningError>(())
//! ```

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::util::{BoxError, ct_eq, hmac_sha256, unix_now};

/// Longest token [`loads`] looks at, in bytes.
pub const MAX_TOKEN_LEN: usize = 1024 * 1024;

const KEY_DOMAIN: &[u8] = b"rustango.signing.v1\0";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// The token is not `{payload}.{timestamp}.{signature}` of the right alphabets
    /// and lengths.
    #[error("the signed token is malformed")]
    Malformed,
    /// The signature does not match: tampered, another key or another salt.
    #[error("the token signature does not match")]
    BadSignature,
    /// The token is authentic but older than the maximum age.
    #[error("the signed token is {age_secs} s old, more than the {max_age_secs} s allowed")]
    Expired {
        /// Age of the token in seconds.
        age_secs: u64,
        /// The maximum age given, in seconds.
        max_age_secs: u64,
    },
    /// The value could not be turned into JSON ([`dumps`]), or the authentic JSON is
    /// not of the type asked for ([`loads`]).
    #[error("the signed value could not be (de)serialized")]
    Json {
        /// The cause.
        #[source]
        source: BoxError,
    },
}

/// A key (plus fallback keys) and a salt: Django's `TimestampSigner` with JSON.
///
/// Only keys derived for the salt are kept, in memory zeroed on drop; `Debug` prints
/// the salt and the number of keys, never a key.
#[derive(Clone)]
pub struct Signer {
    salt: String,
    /// The derived current key first, then the fallbacks in order.
    keys: Vec<Zeroizing<[u8; 32]>>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("salt", &self.salt)
            .field("keys", &format_args!("[***; {}]", self.keys.len()))
            .finish()
    }
}

fn signer_key(key: &[u8], salt: &str) -> Zeroizing<[u8; 32]> {
    // `KEY_DOMAIN` has a fixed length and the salt is the rest of the message, so
    // (domain, salt) pairs never collide.
    Zeroizing::new(hmac_sha256(key, &[KEY_DOMAIN, salt.as_bytes()]))
}

impl Signer {
    /// A signer for `key` (the project's secret key: 32 random bytes or more) in the
    /// namespace `salt`.
    #[must_use]
    pub fn new(key: &[u8], salt: &str) -> Self {
        Self {
            keys: vec![signer_key(key, salt)],
            salt: salt.to_owned(),
        }
    }

    /// Adds older keys whose tokens are still accepted (never used to sign).
    #[must_use]
    pub fn with_fallback_keys<I, K>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        let salt = self.salt.clone();
        self.keys
            .extend(keys.into_iter().map(|k| signer_key(k.as_ref(), &salt)));
        self
    }

    /// The salt (namespace).
    #[must_use]
    pub fn salt(&self) -> &str {
        &self.salt
    }

    fn signature(key: &[u8; 32], signed: &str) -> [u8; 32] {
        hmac_sha256(key, &[signed.as_bytes()])
    }

    /// Signs `value` as JSON, timestamped now.
    ///
    /// # Errors
    /// [`SigningError::Json`] if `value` cannot be serialized as JSON.
    pub fn dumps<T: Serialize + ?Sized>(&self, value: &T) -> Result<String, SigningError> {
        self.dumps_at(value, unix_now())
    }

    /// [`Signer::dumps`] with an explicit clock (seconds since 1970), for tests.
    ///
    /// # Errors
    /// As [`Signer::dumps`].
    pub fn dumps_at<T: Serialize + ?Sized>(
        &self,
        value: &T,
        now_unix: u64,
    ) -> Result<String, SigningError> {
        let json = serde_json::to_vec(value).map_err(|e| SigningError::Json {
            source: Box::new(e),
        })?;
        let mut token = URL_SAFE_NO_PAD.encode(json);
        token.push('.');
        push_base62(&mut token, now_unix);
        let signature = Self::signature(&self.keys[0], &token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    /// Checks `token` and returns its value, refusing tokens older than `max_age`
    /// (any age when `None`).
    ///
    /// # Errors
    /// [`SigningError::Malformed`], [`SigningError::BadSignature`],
    /// [`SigningError::Expired`] (only for an authentic token) or
    /// [`SigningError::Json`] (authentic, but not a `T`).
    pub fn loads<T: DeserializeOwned>(
        &self,
        token: &str,
        max_age: Option<Duration>,
    ) -> Result<T, SigningError> {
        self.loads_at(token, max_age, unix_now())
    }

    /// [`Signer::loads`] with an explicit clock (seconds since 1970), for tests.
    ///
    /// # Errors
    /// As [`Signer::loads`].
    pub fn loads_at<T: DeserializeOwned>(
        &self,
        token: &str,
        max_age: Option<Duration>,
        now_unix: u64,
    ) -> Result<T, SigningError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(SigningError::Malformed);
        }
        let (signed, signature) = token.rsplit_once('.').ok_or(SigningError::Malformed)?;
        let (payload, timestamp) = signed.split_once('.').ok_or(SigningError::Malformed)?;
        if timestamp.contains('.') || signature.len() != 43 {
            return Err(SigningError::Malformed);
        }
        let given = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| SigningError::Malformed)?;

        // Compare against every key, without stopping at the first match.
        let matched = self.keys.iter().fold(false, |any, key| {
            ct_eq(&Self::signature(key, signed), &given) | any
        });
        if !matched {
            return Err(SigningError::BadSignature);
        }

        // Authentic from here on: what follows only fails for a foreign format.
        let signed_at = parse_base62(timestamp).ok_or(SigningError::Malformed)?;
        if let Some(max_age) = max_age {
            let age_secs = now_unix.saturating_sub(signed_at);
            if age_secs > max_age.as_secs() {
                return Err(SigningError::Expired {
                    age_secs,
                    max_age_secs: max_age.as_secs(),
                });
            }
        }
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| SigningError::Malformed)?;
        serde_json::from_slice(&json).map_err(|e| SigningError::Json {
            source: Box::new(e),
        })
    }
}

fn push_base62(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 11];
    let mut len = 0;
    loop {
        digits[len] = BASE62[usize::try_from(n % 62).unwrap_or(0)];
        len += 1;
        n /= 62;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[..len].iter().rev().map(|&d| char::from(d)));
}

fn parse_base62(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 11 {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A' + 10,
            b'a'..=b'z' => b - b'a' + 36,
            _ => return None,
        };
        acc.checked_mul(62)?.checked_add(u64::from(digit))
    })
}

/// Signs `value` as JSON under `key` in the namespace `salt`, timestamped now.
///
/// # Errors
/// [`SigningError::Json`] if `value` cannot be serialized as JSON.
pub fn dumps<T: Serialize + ?Sized>(
    value: &T,
    key: &[u8],
    salt: &str,
) -> Result<String, SigningError> {
    Signer::new(key, salt).dumps(value)
}

/// Checks a token made by [`dumps`] with the same `key` and `salt`, not older than
/// `max_age` (when given), and returns its value.
///
/// # Errors
/// See [`Signer::loads`].
pub fn loads<T: DeserializeOwned>(
    token: &str,
    key: &[u8],
    salt: &str,
    max_age: Option<Duration>,
) -> Result<T, SigningError> {
    Signer::new(key, salt).loads(token, max_age)
}

/// A 32-byte key for one `purpose`, derived from an application secret with
/// HMAC-SHA256, so one `SECRET_KEY` can sign several kinds of things (sessions, JWTs,
/// reset links) without a token of one kind ever verifying as another.
///
/// ```
/// let jwt = rustango_crypto::signing::derive_key(b"the app's SECRET_KEY", "myapp.jwt");
/// let csrf = rustango_crypto::signing::derive_key(b"the app's SECRET_KEY", "myapp.csrf");
/// assert_ne!(jwt, csrf);
/// ```
#[must_use]
pub fn derive_key(secret: &[u8], purpose: &str) -> [u8; 32] {
    // A domain of its own: never the key a `Signer` derives for the same text.
    hmac_sha256(secret, &[b"rustango.derive_key:", purpose.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_round_trip() {
        for n in [0, 1, 61, 62, 1_700_000_000, u64::MAX] {
            let mut s = String::new();
            push_base62(&mut s, n);
            assert_eq!(parse_base62(&s), Some(n), "{n} -> {s}");
        }
        let mut s = String::new();
        push_base62(&mut s, 61);
        assert_eq!(s, "z");
        assert_eq!(parse_base62("zzzzzzzzzzz"), None, "overflow");
        assert_eq!(parse_base62("a-b"), None);
        assert_eq!(parse_base62(""), None);
    }
}
