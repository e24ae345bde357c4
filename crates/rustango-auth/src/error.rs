//! The errors of the auth app.

use rustango_crypto::passwords::{PasswordError, StrengthProblem};

/// What can go wrong in the auth app (not counting refusals of credentials, which
/// are answers, not errors: `authenticate` returns `None`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] rustango_orm::Error),
    /// Hashing or reading a password hash failed.
    #[error("password hashing: {0}")]
    Password(#[from] PasswordError),
    /// A username outside 1-150 letters, digits and `@ . + - _`.
    #[error("a username is 1 to 150 letters, digits and @ . + - _")]
    BadUsername,
    /// The username is taken.
    #[error("a user with that username already exists")]
    UsernameTaken,
    /// The new password is too weak.
    #[error("the password is too weak: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    WeakPassword(Vec<StrengthProblem>),
    /// A permission codename that is not `<model>.<action>`.
    #[error("`{0}` is not a permission codename (`<model>.<action>`, lowercase)")]
    BadCodename(String),
    /// No permission has that codename.
    #[error("no permission has the codename `{0}`")]
    UnknownPermission(String),
    /// The row must be saved first.
    #[error("the {0} must be saved first")]
    Unsaved(&'static str),
    /// The cache (throttling counters) failed.
    #[error("cache: {0}")]
    Cache(#[from] rustango_cache::CacheError),
    /// The session store failed.
    #[error("session: {0}")]
    Session(String),
    /// Migrations of the auth app failed.
    #[error(transparent)]
    Migrate(#[from] rustango_migrate::Error),
}

/// The auth app's result.
pub type Result<T, E = AuthError> = std::result::Result<T, E>;
