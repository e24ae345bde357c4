//! The errors of the JWT lifecycle.

use super::store::RevocationStoreError;

/// A boxed third-party cause.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a token pair could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtIssueError {
    /// A custom claim uses a name the lifecycle sets itself (`sub`, `exp`, `jti`, `typ`,
    /// `iat`, `nbf`, `iss`, `aud`, `fam`).
    #[error("`{0}` is a reserved claim and cannot be set as a custom claim")]
    ReservedClaim(String),
    /// The signing key refused to sign (a broken key; never caused by the claims).
    #[error("cannot sign the token")]
    Signing(#[source] BoxError),
}

/// Why a token was refused (or could not be refreshed or revoked).
///
/// The variants say what an operator needs in logs; a client should only ever see
/// "401 Unauthorized", whatever the variant (telling an attacker *why* a forged token
/// failed helps them).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// `exp` (plus the leeway) is past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` (minus the leeway) is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The signature does not match the token.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// The header's `alg` is not the algorithm of the key that verifies it (`none`, or
    /// HS256 presented to an RS256 key, …).
    #[error("the token's algorithm is not the one of its key")]
    WrongAlgorithm,
    /// The header names no known key (`kid`), or names none while several keys exist.
    #[error("the token's key is unknown")]
    UnknownKey,
    /// `aud` is missing or is not this application's audience.
    #[error("the token is meant for another audience")]
    WrongAudience,
    /// `iss` is missing or is not this application's issuer.
    #[error("the token comes from another issuer")]
    WrongIssuer,
    /// An access token where a refresh token was expected, or the reverse.
    #[error("the token is of the wrong type")]
    WrongType,
    /// The token, or its whole family, has been revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// A refresh token was presented a second time: its whole family is now revoked.
    #[error("the refresh token was already used; its token family has been revoked")]
    Reused,
    /// Not a JWT of this application's shape: bad encoding, missing or mistyped claims,
    /// an unsupported critical header, or too long.
    #[error("the token is malformed")]
    Malformed,
    /// A custom claim uses a reserved name (see [`JwtIssueError::ReservedClaim`]).
    #[error("`{0}` is a reserved claim and cannot be set as a custom claim")]
    ReservedClaim(String),
    /// The signing key refused to sign the new pair.
    #[error("cannot sign the token")]
    Signing(#[source] BoxError),
    /// The revocation store could not answer; the token is refused (fail closed).
    #[error("the revocation store failed")]
    Store(#[from] RevocationStoreError),
}

impl From<JwtIssueError> for JwtError {
    fn from(e: JwtIssueError) -> Self {
        match e {
            JwtIssueError::ReservedClaim(name) => JwtError::ReservedClaim(name),
            JwtIssueError::Signing(source) => JwtError::Signing(source),
        }
    }
}

/// Why a key or key set could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtKeyError {
    /// An HMAC secret shorter than its hash output (RFC 7518 §3.2: 32 bytes for HS256).
    #[error("an {algorithm} secret needs at least {min} bytes, got {len}")]
    WeakSecret {
        /// The algorithm.
        algorithm: &'static str,
        /// The minimum length in bytes.
        min: usize,
        /// The length given.
        len: usize,
    },
    /// An RSA key shorter than 2048 bits.
    #[error("RSA keys need at least 2048 bits, got {bits}")]
    WeakRsaKey {
        /// The modulus size given.
        bits: usize,
    },
    /// The PEM is not a key of the algorithm's family, or not of the expected kind
    /// (private where a signing key is built, public where a verification key is).
    #[error("invalid {algorithm} key: {reason}")]
    InvalidKey {
        /// The algorithm.
        algorithm: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The algorithm cannot be used with this constructor.
    #[error("{0} is not supported here")]
    UnsupportedAlgorithm(&'static str),
    /// The signing key of a key set can only verify (it is a public key).
    #[error("the signing key of a key set needs its private part")]
    CannotSign,
    /// Two keys of a key set share a `kid`.
    #[error("two keys have the key id `{0}`")]
    DuplicateKid(String),
    /// A key set with several keys has a key without `kid`.
    #[error("every key of a key set with several keys needs a key id (`kid`)")]
    MissingKid,
}
