//! Password hashing with argon2id, and a password strength check.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) made with
//! the OWASP parameters (19 MiB of memory, 2 passes, 1 lane) and a 16-byte random
//! salt. [`verify_password`] reads the parameters from the stored hash, so hashes made
//! with older parameters keep verifying; [`needs_rehash`] tells when to store a fresh
//! hash after a successful login. A malformed hash is a [`PasswordError`], never a
//! panic, and a hash asking for absurd costs (more than 256 MiB, 64 passes or 64 lanes)
//! is refused before any work is done.
//!
//! One hash takes ~20 ms of CPU in an optimised build (far more in an unoptimised
//! one): in async code use [`hash_password_async`] and [`verify_password_async`],
//! which run on tokio's blocking pool instead of stalling a runtime worker.
//!
//! [`check_strength`] is Django's four validators in one call: minimum length, a list
//! of common passwords, similarity to the user's own attributes and all-numeric
//! passwords. [`PasswordPolicy`] changes the rules.
//!
//! ```
//! use rustango_crypto::passwords::{self, PasswordHasher, StrengthProblem};
//!
//! // Tests may use cheap parameters; production code calls `passwords::hash_password`.
//! let hasher = PasswordHasher::new(64, 1, 1)?;
//! let phc = hasher.hash("correct horse battery staple")?;
//! assert!(passwords::verify_password("correct horse battery staple", &phc)?);
//! assert!(!passwords::verify_password("Tr0ub4dor&3", &phc)?);
//! assert!(passwords::needs_rehash(&phc)); // not the OWASP parameters
//!
//! assert!(passwords::check_strength("correct horse battery staple", &["alice"]).is_ok());
//! let problems = passwords::check_strength("alice2024", &["alice", "alice@example.com"])
//!     .unwrap_err();
//! assert!(problems.iter().any(|p| matches!(p, StrengthProblem::TooSimilar { .. })));
//! # Ok::<(), rustango_crypto::passwords::PasswordError>(())
//! ```

mod strength;

pub use strength::{PasswordPolicy, StrengthProblem, check_strength, is_common_password};

use argon2::{Argon2, Params, PasswordHasher as _};

use crate::phc::{self, PhcError};
use crate::util::{BoxError, random_array};

/// Length of the random salt, in bytes (the PHC recommendation).
pub const SALT_LEN: usize = 16;
/// Length of the hash output, in bytes (argon2's default).
pub const OUTPUT_LEN: usize = 32;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The stored value is not a well-formed argon2 PHC string.
    #[error("the stored password hash is not a well-formed argon2 PHC string")]
    MalformedHash,
    /// The stored value is a PHC string of an algorithm this module does not verify.
    #[error("unsupported password hash algorithm `{algorithm}`")]
    UnsupportedAlgorithm {
        /// The algorithm identifier found in the hash (e.g. `pbkdf2-sha256`).
        algorithm: String,
    },
    /// The stored hash asks for more memory, passes or lanes than this module allows.
    #[error(
        "the stored password hash asks for too much work (m={m_cost} KiB, t={t_cost}, p={p_cost})"
    )]
    TooExpensive {
        /// Memory cost in KiB.
        m_cost: u32,
        /// Number of passes.
        t_cost: u32,
        /// Degree of parallelism.
        p_cost: u32,
    },
    /// [`PasswordHasher::new`] was given parameters argon2 or this module refuses.
    #[error("invalid argon2 parameters (m={m_cost} KiB, t={t_cost}, p={p_cost})")]
    InvalidParams {
        /// Memory cost in KiB.
        m_cost: u32,
        /// Number of passes.
        t_cost: u32,
        /// Degree of parallelism.
        p_cost: u32,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random {
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// argon2 itself failed (e.g. out of memory).
    #[error("argon2 failed to hash the password")]
    Hash {
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The blocking task of an `_async` function panicked or was cancelled.
    #[error("the blocking password hashing task failed")]
    Task {
        /// The cause.
        #[source]
        source: BoxError,
    },
}

impl From<PhcError> for PasswordError {
    fn from(e: PhcError) -> Self {
        match e {
            PhcError::Malformed => Self::MalformedHash,
            PhcError::Unsupported(algorithm) => Self::UnsupportedAlgorithm { algorithm },
            PhcError::TooExpensive(p) => Self::TooExpensive {
                m_cost: p.m_cost(),
                t_cost: p.t_cost(),
                p_cost: p.p_cost(),
            },
        }
    }
}

/// Argon2id parameters: what [`hash_password`] uses, made configurable.
///
/// [`PasswordHasher::OWASP`] (the [`Default`]) is m=19456 KiB, t=2, p=1, the OWASP
/// Password Storage Cheat Sheet's first argon2id configuration. Tests can use cheap
/// parameters (`PasswordHasher::new(64, 1, 1)`) to keep suites fast; the hashes they
/// make still verify with [`verify_password`], which reads parameters from the hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordHasher {
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::OWASP
    }
}

impl PasswordHasher {
    /// m=19456 KiB, t=2, p=1 (OWASP).
    pub const OWASP: Self = Self {
        m_cost: 19 * 1024,
        t_cost: 2,
        p_cost: 1,
    };

    /// Custom parameters: memory in KiB, passes, lanes.
    ///
    /// # Errors
    /// [`PasswordError::InvalidParams`] when argon2 refuses them (`m_cost < 8 * p_cost`,
    /// `t_cost == 0`, `p_cost == 0`) or they exceed what [`verify_password`] accepts
    /// (256 MiB, 64 passes, 64 lanes), since such hashes could never be verified.
    pub fn new(m_cost: u32, t_cost: u32, p_cost: u32) -> Result<Self, PasswordError> {
        let invalid = PasswordError::InvalidParams {
            m_cost,
            t_cost,
            p_cost,
        };
        if m_cost > phc::MAX_M_COST || t_cost > phc::MAX_T_COST || p_cost > phc::MAX_P_COST {
            return Err(invalid);
        }
        Params::new(m_cost, t_cost, p_cost, Some(OUTPUT_LEN)).map_err(|_| invalid)?;
        Ok(Self {
            m_cost,
            t_cost,
            p_cost,
        })
    }

    /// Memory cost in KiB.
    #[must_use]
    pub const fn m_cost(&self) -> u32 {
        self.m_cost
    }

    /// Number of passes.
    #[must_use]
    pub const fn t_cost(&self) -> u32 {
        self.t_cost
    }

    /// Degree of parallelism (lanes).
    #[must_use]
    pub const fn p_cost(&self) -> u32 {
        self.p_cost
    }

    fn context(&self) -> Result<Argon2<'static>, PasswordError> {
        let params =
            Params::new(self.m_cost, self.t_cost, self.p_cost, Some(OUTPUT_LEN)).map_err(|_| {
                PasswordError::InvalidParams {
                    m_cost: self.m_cost,
                    t_cost: self.t_cost,
                    p_cost: self.p_cost,
                }
            })?;
        Ok(Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }

    /// Hashes `password` with a fresh random salt into a PHC string.
    ///
    /// # Errors
    /// [`PasswordError::Random`] if the OS RNG fails, [`PasswordError::Hash`] if argon2
    /// fails (out of memory).
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let salt: [u8; SALT_LEN] = random_array().map_err(|e| PasswordError::Random {
            source: Box::new(e),
        })?;
        let hash = self
            .context()?
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map_err(|e| PasswordError::Hash {
                source: Box::new(e),
            })?;
        Ok(hash.to_string())
    }

    /// Checks `password` against a stored PHC string (see [`verify_password`]).
    ///
    /// # Errors
    /// As [`verify_password`].
    pub fn verify(&self, password: &str, phc: &str) -> Result<bool, PasswordError> {
        verify_password(password, phc)
    }

    /// Whether `phc` should be replaced by a fresh hash made with these parameters:
    /// true when it is malformed, not argon2id v19, or its memory, passes, lanes, salt
    /// or output length differ from this hasher's. Django's rule: any difference, even
    /// towards stronger parameters, since the configured ones are the policy.
    #[must_use]
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = phc::parse(phc) else {
            return true;
        };
        let salt_len = parsed.hash.salt.as_ref().map_or(0, |s| s.len());
        let output_len = parsed.hash.hash.as_ref().map_or(0, |h| h.len());
        parsed.algorithm != argon2::Algorithm::Argon2id
            || parsed.hash.version != Some(argon2::Version::V0x13 as u32)
            || parsed.params.m_cost() != self.m_cost
            || parsed.params.t_cost() != self.t_cost
            || parsed.params.p_cost() != self.p_cost
            || salt_len < SALT_LEN
            || output_len != OUTPUT_LEN
    }

    /// Runs an equivalent amount of work for a user that does not exist, so a login
    /// form does not reveal which usernames exist by answering faster for unknown ones.
    /// The result is always `false`.
    pub fn dummy_verify(&self, password: &str) -> bool {
        // Hashing with our parameters costs what verifying one of our hashes costs.
        let _ = self.hash(password);
        false
    }

    /// [`PasswordHasher::hash`] on tokio's blocking pool.
    ///
    /// # Errors
    /// As [`PasswordHasher::hash`], plus [`PasswordError::Task`] if the task fails.
    pub async fn hash_async(&self, password: String) -> Result<String, PasswordError> {
        let hasher = *self;
        run_blocking(move || hasher.hash(&password)).await
    }
}

async fn run_blocking<T, F>(f: F) -> Result<T, PasswordError>
where
    F: FnOnce() -> Result<T, PasswordError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PasswordError::Task {
            source: Box::new(e),
        })?
}

/// Hashes `password` with argon2id and the OWASP parameters into a PHC string.
///
/// Takes ~20 ms of CPU: in async code prefer [`hash_password_async`].
///
/// # Errors
/// [`PasswordError::Random`] or [`PasswordError::Hash`]; see [`PasswordHasher::hash`].
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    PasswordHasher::OWASP.hash(password)
}

/// Checks `password` against a stored argon2 PHC string (argon2id, argon2i or
/// argon2d, any parameters within the module's limits).
///
/// Returns `Ok(false)` for a wrong password; the comparison is constant-time.
///
/// # Errors
/// [`PasswordError::MalformedHash`], [`PasswordError::UnsupportedAlgorithm`] or
/// [`PasswordError::TooExpensive`] when the stored value cannot be checked: that is a
/// data problem to log, not a wrong password.
pub fn verify_password(password: &str, phc: &str) -> Result<bool, PasswordError> {
    Ok(phc::verify(password.as_bytes(), phc)?)
}

/// Whether `phc` differs from what [`hash_password`] makes now (see
/// [`PasswordHasher::needs_rehash`]); call it after a successful login and store a
/// fresh hash when it says so.
#[must_use]
pub fn needs_rehash(phc: &str) -> bool {
    PasswordHasher::OWASP.needs_rehash(phc)
}

/// [`hash_password`] on tokio's blocking pool.
///
/// # Errors
/// As [`hash_password`], plus [`PasswordError::Task`] if the task fails.
pub async fn hash_password_async(password: String) -> Result<String, PasswordError> {
    PasswordHasher::OWASP.hash_async(password).await
}

/// [`verify_password`] on tokio's blocking pool.
///
/// # Errors
/// As [`verify_password`], plus [`PasswordError::Task`] if the task fails.
pub async fn verify_password_async(password: String, phc: String) -> Result<bool, PasswordError> {
    run_blocking(move || verify_password(&password, &phc)).await
}
