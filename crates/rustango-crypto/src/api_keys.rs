//! API keys of the form `{prefix}.{secret}`.
//!
//! [`generate_key`] returns the full token (shown to the user once), its public
//! prefix (stored in clear and indexed, to find the key's row) and the hash of its
//! secret (stored instead of the secret). On a request, [`split_token`] takes the
//! token apart, the caller looks the row up by prefix, and [`verify_key`] compares the
//! secret with the stored hash in constant time.
//!
//! - The prefix is 8 random characters of `[0-9a-z]` (~41 bits): enough to make
//!   collisions rare (keep a unique index on it and retry on conflict), short enough to
//!   show in a key list.
//! - The secret is 256 random bits, base64url without padding (43 characters).
//!
//! # Why SHA-256 and not argon2
//!
//! Slow hashes exist to make guessing *low-entropy* secrets (passwords) expensive. An
//! API key secret has 256 bits of entropy: nobody will brute-force it, slow hash or
//! not, so argon2 buys nothing. What argon2 would cost is real: ~20 ms of CPU and
//! 19 MiB of memory per request, and anyone who knows (or guesses) a valid prefix
//! could make the server spend that on every bogus request, a cheap denial of
//! service. So the stored hash is `sha256$<hex>` of the secret, which takes well under
//! a microsecond, and a leaked database still reveals no usable key.
//!
//! For compatibility with keys hashed the spec's way, [`verify_key`] also accepts
//! argon2 PHC strings (`$argon2id$...`) of the secret part; [`needs_rehash`] tells
//! when to replace one with [`hash_secret`]'s cheaper form after a successful check.
//! Until then those keys cost a full argon2 run per request, so migrate them.
//!
//! ```
//! use rustango_crypto::api_keys::{generate_key, split_token, verify_key};
//!
//! let (token, prefix, hash) = generate_key()?;
//! // Show `token` once; store `prefix` and `hash`.
//!
//! // On a request carrying `Authorization: Bearer <token>`:
//! let (inbound_prefix, secret) = split_token(&token).expect("well-formed token");
//! assert_eq!(inbound_prefix, prefix); // look the row up by prefix
//! assert!(verify_key(secret, &hash)?);
//! assert!(!verify_key("not-the-secret", &hash)?);
//! # Ok::<(), rustango_crypto::api_keys::ApiKeyError>(())
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use crate::phc::{self, PhcError};
use crate::util::{BoxError, ct_eq, hex_decode_array, hex_encode, random_array};

/// Length of generated prefixes.
pub const PREFIX_LEN: usize = 8;
/// Random bytes in a generated secret (256 bits).
pub const SECRET_BYTES: usize = 32;
/// Longest prefix [`split_token`] accepts.
pub const MAX_PREFIX_LEN: usize = 32;
/// Longest secret [`split_token`] accepts.
pub const MAX_SECRET_LEN: usize = 128;
/// The scheme tag of [`hash_secret`]'s output.
pub const SHA256_SCHEME: &str = "sha256$";

const PREFIX_ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyError {
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random {
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The stored hash is neither `sha256$<64 hex digits>` nor a well-formed argon2
    /// PHC string.
    #[error("the stored API key hash is malformed")]
    MalformedHash,
    /// The stored hash names a scheme this module does not know.
    #[error("unsupported API key hash scheme `{scheme}`")]
    UnsupportedScheme {
        /// The scheme found (at most 32 characters of it).
        scheme: String,
    },
    /// The stored argon2 hash asks for more work than this crate allows.
    #[error("the stored API key hash asks for too much work")]
    TooExpensive,
}

impl From<PhcError> for ApiKeyError {
    fn from(e: PhcError) -> Self {
        match e {
            PhcError::Malformed => Self::MalformedHash,
            PhcError::Unsupported(scheme) => Self::UnsupportedScheme {
                scheme: truncate(&scheme),
            },
            PhcError::TooExpensive(_) => Self::TooExpensive,
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

/// Makes a new key: `(full_token, prefix, hash)`.
///
/// `full_token` is `{prefix}.{secret}`: give it to the user once and never store it.
/// Store `prefix` (unique, indexed) and `hash` (`sha256$<hex>`).
///
/// # Errors
/// [`ApiKeyError::Random`] if the OS RNG fails.
pub fn generate_key() -> Result<(String, String, String), ApiKeyError> {
    let random = |e: getrandom::Error| ApiKeyError::Random {
        source: Box::new(e),
    };
    let mut prefix = String::with_capacity(PREFIX_LEN);
    while prefix.len() < PREFIX_LEN {
        let bytes: [u8; 16] = random_array().map_err(random)?;
        for b in bytes {
            // Rejection sampling: 252 = 7 * 36, so every character is equally likely.
            if b < 252 && prefix.len() < PREFIX_LEN {
                prefix.push(char::from(PREFIX_ALPHABET[usize::from(b % 36)]));
            }
        }
    }
    let secret_bytes: [u8; SECRET_BYTES] = random_array().map_err(random)?;
    let secret = URL_SAFE_NO_PAD.encode(secret_bytes);
    let hash = hash_secret(&secret);
    let token = format!("{prefix}.{secret}");
    Ok((token, prefix, hash))
}

/// The stored form of a secret: `sha256$<64 lowercase hex digits>`.
#[must_use]
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    format!("{SHA256_SCHEME}{}", hex_encode(&digest))
}

fn is_url_safe(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Splits `{prefix}.{secret}` into its parts, or `None` if malformed.
///
/// Malformed means: not exactly one `.`, an empty part, a prefix longer than
/// [`MAX_PREFIX_LEN`] or a secret longer than [`MAX_SECRET_LEN`], or any character
/// outside `[A-Za-z0-9_-]` (which also rules out whitespace: trim the header value
/// yourself). A `None` is a 401, without a database lookup.
#[must_use]
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let (prefix, secret) = token.split_once('.')?;
    let ok = !prefix.is_empty()
        && !secret.is_empty()
        && prefix.len() <= MAX_PREFIX_LEN
        && secret.len() <= MAX_SECRET_LEN
        && is_url_safe(prefix)
        && is_url_safe(secret);
    ok.then_some((prefix, secret))
}

/// Checks `secret` (the part after the dot) against a stored hash.
///
/// `hash` is `sha256$<hex>` ([`hash_secret`]) or an argon2 PHC string. Returns
/// `Ok(false)` for a wrong secret; comparisons are constant-time.
///
/// # Errors
/// [`ApiKeyError::MalformedHash`], [`ApiKeyError::UnsupportedScheme`] or
/// [`ApiKeyError::TooExpensive`] when the stored value cannot be checked: a data
/// problem, not a wrong key.
pub fn verify_key(secret: &str, hash: &str) -> Result<bool, ApiKeyError> {
    if let Some(hex) = hash.strip_prefix(SHA256_SCHEME) {
        let expected: [u8; 32] = hex_decode_array(hex).ok_or(ApiKeyError::MalformedHash)?;
        let actual = Sha256::digest(secret.as_bytes());
        return Ok(ct_eq(&actual, &expected));
    }
    if hash.starts_with('$') {
        return Ok(phc::verify(secret.as_bytes(), hash)?);
    }
    match hash.split_once('$') {
        Some((scheme, _)) if !scheme.is_empty() => Err(ApiKeyError::UnsupportedScheme {
            scheme: truncate(scheme),
        }),
        _ => Err(ApiKeyError::MalformedHash),
    }
}

/// Whether a stored hash is in an older form (argon2, or anything but
/// `sha256$<hex>`) and should be replaced by [`hash_secret`] after a successful
/// [`verify_key`].
#[must_use]
pub fn needs_rehash(hash: &str) -> bool {
    hash.strip_prefix(SHA256_SCHEME)
        .and_then(hex_decode_array::<32>)
        .is_none()
}
