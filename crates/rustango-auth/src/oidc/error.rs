//! [`OidcError`]: everything that can go wrong in an OpenID Connect login.

use std::fmt;

/// A boxed third-party error kept as the `source` of an [`OidcError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The provider endpoint a request went to, named in [`OidcError`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// `/.well-known/openid-configuration`.
    Discovery,
    /// The token endpoint (code exchange).
    Token,
    /// The JSON Web Key Set (`jwks_uri`).
    Jwks,
    /// The userinfo endpoint.
    Userinfo,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endpoint::Discovery => "discovery document",
            Endpoint::Token => "token endpoint",
            Endpoint::Jwks => "JWKS endpoint",
            Endpoint::Userinfo => "userinfo endpoint",
        })
    }
}

/// Errors of the OpenID Connect relying party ([`super::OidcClient`], account
/// linking and the login routes).
///
/// Messages never hold a token, a code, a secret or a key. [`OidcError::code`] gives
/// a stable machine-readable name; the routes turn errors into
/// `application/problem+json` responses (400 for a bad or forged callback, 401 when
/// the provider's answer does not authenticate anyone, 403 for accounts that may not
/// sign in, 502 when the provider cannot be reached, 500 only for our own failures).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The relying party's own configuration is not usable (a URL that does not
    /// parse, no token endpoint authentication method in common, ...).
    #[error("invalid OpenID Connect configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// A provider URL is plain `http` on a host that is not a loopback address (and
    /// `allow_insecure_http` is off).
    #[error("`{url}` must use https (plain http is allowed for loopback hosts only)")]
    InsecureUrl {
        /// The URL.
        url: String,
    },
    /// A request to the provider could not be made or its body not read.
    #[error("the request to the provider's {endpoint} failed")]
    Http {
        /// Which endpoint.
        endpoint: Endpoint,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The provider answered with an unexpected HTTP status.
    #[error("the provider's {endpoint} answered HTTP {status}")]
    ProviderStatus {
        /// Which endpoint.
        endpoint: Endpoint,
        /// The status code.
        status: u16,
    },
    /// The provider's answer is not what the protocol says it must be.
    #[error("the provider's {endpoint} response is invalid: {reason}")]
    InvalidResponse {
        /// Which endpoint.
        endpoint: Endpoint,
        /// What is wrong with it.
        reason: String,
    },
    /// The discovery document, or the callback's `iss` parameter (RFC 9207), names
    /// another issuer than the one configured.
    #[error("the provider calls itself `{found}`, not `{expected}`")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The issuer found.
        found: String,
    },
    /// The provider sent the browser back with an error (`?error=access_denied`).
    #[error("the provider refused the login: {error}")]
    Provider {
        /// The OAuth 2.0 error code.
        error: String,
        /// The provider's human-readable description, if any.
        description: Option<String>,
    },
    /// The callback lacks a parameter it must have.
    #[error("the callback has no `{name}` parameter")]
    MissingParameter {
        /// The parameter.
        name: &'static str,
    },
    /// The callback's `state` is not the one this login started with (forged or
    /// crossed requests).
    #[error("the callback's state does not match the login's")]
    StateMismatch,
    /// The login was started too long ago.
    #[error("the login was started {age_secs} s ago, more than the {max_age_secs} s allowed")]
    LoginExpired {
        /// Age of the login, in seconds.
        age_secs: u64,
        /// The maximum age, in seconds.
        max_age_secs: u64,
    },
    /// The login-state cookie is missing, tampered with or too old.
    #[error("the login state is missing, tampered with or expired")]
    LoginStateInvalid,
    /// The token endpoint refused the code (`invalid_grant`: reused, expired, wrong
    /// PKCE verifier, ...).
    #[error("the token endpoint refused the code: {error}")]
    TokenRejected {
        /// The OAuth 2.0 error code.
        error: String,
        /// The provider's human-readable description, if any.
        description: Option<String>,
    },
    /// The token response has no `id_token` (was the `openid` scope asked for?).
    #[error("the token response has no id_token")]
    MissingIdToken,
    /// The id_token is not a well-formed signed JWT.
    #[error("the id_token is malformed: {reason}")]
    MalformedIdToken {
        /// What is wrong with it.
        reason: String,
    },
    /// The id_token is signed with an algorithm that is not allowed (`none`, any
    /// `HS*`, or one left out of the configuration or the provider's metadata).
    #[error("the id_token algorithm `{alg}` is not allowed")]
    UnsupportedAlgorithm {
        /// The `alg` of the token header.
        alg: String,
    },
    /// No key of the provider's JWKS, even fetched again, can verify the id_token.
    #[error("no key of the provider's JWKS matches the id_token (kid {kid:?})")]
    UnknownKey {
        /// The `kid` of the token header.
        kid: Option<String>,
    },
    /// The id_token signature does not verify.
    #[error("the id_token signature is invalid")]
    InvalidSignature,
    /// A claim of the id_token is missing or wrong (`iss`, `aud`, `azp`, `exp`,
    /// `iat`, `nbf`, `sub`, `at_hash`).
    #[error("the id_token claim `{claim}` is invalid: {reason}")]
    InvalidClaim {
        /// The claim.
        claim: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The id_token's `nonce` is not the one this login started with (a replayed or
    /// injected token).
    #[error("the id_token nonce does not match the login's")]
    NonceMismatch,
    /// The userinfo response is about another subject than the id_token.
    #[error("the userinfo subject does not match the id_token's")]
    SubjectMismatch,
    /// The account linked to the identity is inactive.
    #[error("the account is inactive")]
    InactiveUser,
    /// No account is linked to the identity and the policy does not allow creating
    /// one.
    #[error("no account is linked to this identity and sign-up is closed")]
    SignupClosed,
    /// The identity's verified email belongs to more than one account, so it cannot
    /// be linked to any of them.
    #[error("more than one account has this identity's email address")]
    AmbiguousEmail,
    /// The database failed while linking the account.
    #[error("database error while linking the account")]
    Database(#[from] rustango_orm::Error),
    /// The operating system's random number generator failed.
    #[error("the random number generator failed")]
    Random,
}

impl OidcError {
    /// A stable, machine-readable name for the error (`"state_mismatch"`, ...),
    /// sent as the `code` member of problem responses.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::Config { .. } => "config",
            OidcError::InsecureUrl { .. } => "insecure_url",
            OidcError::Http { .. } => "provider_unreachable",
            OidcError::ProviderStatus { .. } => "provider_status",
            OidcError::InvalidResponse { .. } => "invalid_provider_response",
            OidcError::IssuerMismatch { .. } => "issuer_mismatch",
            OidcError::Provider { .. } => "provider_error",
            OidcError::MissingParameter { .. } => "missing_parameter",
            OidcError::StateMismatch => "state_mismatch",
            OidcError::LoginExpired { .. } => "login_expired",
            OidcError::LoginStateInvalid => "login_state_invalid",
            OidcError::TokenRejected { .. } => "token_rejected",
            OidcError::MissingIdToken => "missing_id_token",
            OidcError::MalformedIdToken { .. } => "malformed_id_token",
            OidcError::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            OidcError::UnknownKey { .. } => "unknown_key",
            OidcError::InvalidSignature => "invalid_signature",
            OidcError::InvalidClaim { .. } => "invalid_claim",
            OidcError::NonceMismatch => "nonce_mismatch",
            OidcError::SubjectMismatch => "subject_mismatch",
            OidcError::InactiveUser => "inactive_user",
            OidcError::SignupClosed => "signup_closed",
            OidcError::AmbiguousEmail => "ambiguous_email",
            OidcError::Database(_) => "database",
            OidcError::Random => "random",
        }
    }
}
