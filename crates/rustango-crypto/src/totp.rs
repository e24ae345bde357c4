//! Time-based one-time passwords (RFC 6238) for two-factor authentication, and the
//! counter-based HOTP (RFC 4226) they are built on.
//!
//! Enrollment: [`TotpSecret::generate`] makes a 160-bit secret; store
//! [`TotpSecret::to_base32`] with the user and show [`otpauth_url`] as a QR code.
//! Login: [`verify`] checks the code the user typed, accepting one step of clock skew
//! either way by default.
//!
//! A code stays valid for its whole window (up to 90 s with a skew of 1), and RFC 6238
//! §5.2 says it must be accepted only once. [`verify_step`] returns the time step the
//! code matched: store the last accepted step per user and refuse any step not greater
//! than it.
//!
//! The defaults (SHA-1, 6 digits, 30-second steps) are what every authenticator app
//! supports. [`Totp`] selects SHA-256 or SHA-512, 7 or 8 digits and other step
//! lengths, but many apps silently ignore those settings and compute SHA-1 codes,
//! which then never match.
//!
//! Codes are computed by the `totp-rs` crate; this module adds the parameter checks
//! (so no input can panic), constant-time comparison over the whole window, replay
//! detection and a redacted secret type.
//!
//! ```
//! use rustango_crypto::totp::{self, TotpSecret};
//!
//! // Enrollment
//! let secret = TotpSecret::generate();
//! let stored = secret.to_base32();
//! let url = totp::otpauth_url("MyApp", "alice@example.com", &secret);
//! assert!(url.starts_with("otpauth://totp/MyApp:alice%40example.com?secret="));
//!
//! // Login
//! let secret = TotpSecret::from_base32(&stored)?;
//! let code = totp::generate(&secret); // what the user's app shows now
//! assert!(totp::verify(&secret, &code, 30, 6, 1));
//!
//! // Replay protection: refuse a step already used.
//! let mut last_step: Option<u64> = None;
//! let step = totp::verify_step(&secret, &code, 30, 6, 1).expect("valid code");
//! assert!(last_step.is_none_or(|last| step > last));
//! last_step = Some(step);
//! let again = totp::verify_step(&secret, &code, 30, 6, 1).expect("still in window");
//! assert!(!last_step.is_none_or(|last| again > last)); // the reuse is refused
//! # Ok::<(), rustango_crypto::totp::TotpError>(())
//! ```

use std::fmt;

use subtle::ConstantTimeEq as _;
use zeroize::{Zeroize as _, Zeroizing};

use crate::util::{BoxError, random_array, unix_now};

/// Length of generated secrets in bytes (160 bits, RFC 4226's recommendation).
pub const SECRET_LEN: usize = 20;
/// Shortest secret accepted, in bytes (128 bits, RFC 4226 §4 requirement R6).
pub const MIN_SECRET_LEN: usize = 16;
/// Longest secret accepted, in bytes.
pub const MAX_SECRET_LEN: usize = 1024;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TotpError {
    /// The text is not RFC 4648 base32 (spaces, dashes, padding and lowercase are
    /// tolerated).
    #[error("the TOTP secret is not valid base32")]
    InvalidBase32,
    /// The secret is shorter than [`MIN_SECRET_LEN`] or longer than
    /// [`MAX_SECRET_LEN`] bytes.
    #[error("the TOTP secret has {bits} bits; between 128 and 8192 are accepted")]
    SecretLength {
        /// Length of the secret given, in bits.
        bits: usize,
    },
    /// Codes have 6, 7 or 8 digits (RFC 4226 §5.3).
    #[error("a TOTP code has 6 to 8 digits, not {digits}")]
    InvalidDigits {
        /// The number asked for.
        digits: u8,
    },
    /// A step of zero seconds.
    #[error("the TOTP step must be at least one second")]
    InvalidStep,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random {
        /// The cause.
        #[source]
        source: BoxError,
    },
}

/// The HMAC hash function of the codes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC-SHA-1: the default, and the only one every authenticator app supports.
    /// (SHA-1's collision weakness does not affect HMAC.)
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in `otpauth://` URLs: `SHA1`, `SHA256`, `SHA512`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    const fn to_totp_rs(self) -> totp_rs::Algorithm {
        match self {
            Self::Sha1 => totp_rs::Algorithm::SHA1,
            Self::Sha256 => totp_rs::Algorithm::SHA256,
            Self::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A TOTP shared secret. Its `Debug` prints `TotpSecret(***)`, its memory is zeroed
/// on drop, and equality is constant-time.
#[derive(Clone)]
pub struct TotpSecret(totp_rs::Secret);

impl TotpSecret {
    /// A fresh random 160-bit secret.
    ///
    /// # Panics
    /// Only if the operating system's random number generator fails, which it does
    /// not on supported platforms; [`TotpSecret::try_generate`] returns that as an
    /// error instead.
    #[must_use]
    pub fn generate() -> Self {
        Self::try_generate().expect("the operating system's random number generator failed")
    }

    /// A fresh random 160-bit secret.
    ///
    /// # Errors
    /// [`TotpError::Random`] if the OS RNG fails.
    pub fn try_generate() -> Result<Self, TotpError> {
        let mut bytes: [u8; SECRET_LEN] = random_array().map_err(|e| TotpError::Random {
            source: Box::new(e),
        })?;
        let secret = totp_rs::Secret::from(bytes.to_vec());
        bytes.zeroize();
        Ok(Self(secret))
    }

    /// A secret from raw bytes, [`MIN_SECRET_LEN`] to [`MAX_SECRET_LEN`] long.
    ///
    /// # Errors
    /// [`TotpError::SecretLength`] outside those bounds.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TotpError> {
        check_len(bytes)?;
        Ok(Self(totp_rs::Secret::from(bytes.to_vec())))
    }

    /// Parses the base32 form of a secret (RFC 4648 alphabet). Case, spaces, dashes
    /// and `=` padding are tolerated, since people copy secrets by hand.
    ///
    /// # Errors
    /// [`TotpError::InvalidBase32`] or [`TotpError::SecretLength`].
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        // Base32 of MAX_SECRET_LEN bytes is < 2 KiB; refuse anything much longer
        // before allocating.
        if text.len() > 8 * MAX_SECRET_LEN {
            return Err(TotpError::InvalidBase32);
        }
        let mut clean: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        while clean.ends_with('=') {
            clean.pop();
        }
        let valid_chars = clean
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
        // Lengths 1, 3 and 6 (mod 8) cannot end a base32 string.
        if clean.is_empty() || !valid_chars || matches!(clean.len() % 8, 1 | 3 | 6) {
            return Err(TotpError::InvalidBase32);
        }
        let secret = totp_rs::Secret::try_from_base32(clean.as_str())
            .map_err(|_| TotpError::InvalidBase32)?;
        check_len(secret.as_bytes())?;
        Ok(Self(secret))
    }

    /// The base32 form (uppercase, no padding), as authenticator apps show it.
    #[must_use]
    pub fn to_base32(&self) -> String {
        self.0.to_base32()
    }

    /// The raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

fn check_len(bytes: &[u8]) -> Result<(), TotpError> {
    if (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&bytes.len()) {
        Ok(())
    } else {
        Err(TotpError::SecretLength {
            bits: bytes.len().saturating_mul(8),
        })
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

impl PartialEq for TotpSecret {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.as_bytes().ct_eq(other.as_bytes()))
    }
}

impl Eq for TotpSecret {}

/// TOTP parameters: algorithm, digits, step length and accepted skew.
///
/// The [`Default`] (also [`Totp::new`]) is SHA-1, 6 digits, 30 s, skew 1: what the
/// free functions of this module use.
///
/// ```
/// use rustango_crypto::totp::{Algorithm, Totp, TotpSecret};
///
/// let secret = TotpSecret::from_bytes(b"12345678901234567890123456789012")?;
/// let totp = Totp::new().with_algorithm(Algorithm::Sha256).with_digits(8);
/// let code = totp.generate_at(&secret, 59)?;
/// assert_eq!(code, "46119246"); // RFC 6238 appendix B
/// assert_eq!(totp.verify_step_at(&secret, &code, 59), Some(1));
/// # Ok::<(), rustango_crypto::totp::TotpError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totp {
    algorithm: Algorithm,
    digits: u8,
    step_secs: u64,
    skew: u8,
}

impl Default for Totp {
    fn default() -> Self {
        Self::new()
    }
}

impl Totp {
    /// SHA-1, 6 digits, 30-second steps, one step of skew.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            algorithm: Algorithm::Sha1,
            digits: 6,
            step_secs: 30,
            skew: 1,
        }
    }

    /// Sets the hash function.
    #[must_use]
    pub const fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Sets the number of digits (6 to 8).
    #[must_use]
    pub const fn with_digits(mut self, digits: u8) -> Self {
        self.digits = digits;
        self
    }

    /// Sets the step length in seconds (at least 1).
    #[must_use]
    pub const fn with_step_secs(mut self, step_secs: u64) -> Self {
        self.step_secs = step_secs;
        self
    }

    /// Sets how many steps before and after the current one are accepted.
    #[must_use]
    pub const fn with_skew(mut self, skew: u8) -> Self {
        self.skew = skew;
        self
    }

    /// The hash function.
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of digits.
    #[must_use]
    pub const fn digits(&self) -> u8 {
        self.digits
    }

    /// The step length in seconds.
    #[must_use]
    pub const fn step_secs(&self) -> u64 {
        self.step_secs
    }

    /// The accepted skew in steps.
    #[must_use]
    pub const fn skew(&self) -> u8 {
        self.skew
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`TotpError::InvalidDigits`] or [`TotpError::InvalidStep`].
    pub fn validate(&self) -> Result<(), TotpError> {
        if !(6..=8).contains(&self.digits) {
            return Err(TotpError::InvalidDigits {
                digits: self.digits,
            });
        }
        if self.step_secs == 0 {
            return Err(TotpError::InvalidStep);
        }
        Ok(())
    }

    /// A totp-rs generator with step 1, so that its "time" is our counter.
    fn counter_generator(&self, secret: &TotpSecret) -> totp_rs::Totp {
        totp_rs::Builder::new()
            .with_algorithm(self.algorithm.to_totp_rs())
            .with_digits(self.digits)
            .with_step_duration(1)
            .with_skew(0)
            .with_secret(secret.0.clone())
            .build_noncompliant()
    }

    /// The code for `unix_time` (seconds since 1970).
    ///
    /// # Errors
    /// Invalid parameters ([`Totp::validate`]).
    pub fn generate_at(&self, secret: &TotpSecret, unix_time: u64) -> Result<String, TotpError> {
        self.validate()?;
        let counter = unix_time / self.step_secs;
        Ok(self.counter_generator(secret).generate(counter).to_string())
    }

    /// The code for now.
    ///
    /// # Errors
    /// Invalid parameters ([`Totp::validate`]).
    pub fn generate(&self, secret: &TotpSecret) -> Result<String, TotpError> {
        self.generate_at(secret, unix_now())
    }

    /// Checks `code` at `unix_time` and returns the time step it matched
    /// (`unix_time / step_secs`, give or take the skew), or `None`.
    ///
    /// Spaces in `code` are ignored ("123 456"); anything else that is not exactly
    /// `digits` ASCII digits fails. Every step of the window is computed and compared
    /// in constant time, whichever matches. Invalid parameters never match.
    #[must_use]
    pub fn verify_step_at(&self, secret: &TotpSecret, code: &str, unix_time: u64) -> Option<u64> {
        self.validate().ok()?;
        // Normalise without allocating for absurd inputs.
        if code.len() > 64 {
            return None;
        }
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != usize::from(self.digits) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let generator = self.counter_generator(secret);
        let origin = unix_time / self.step_secs;
        let skew = u64::from(self.skew);
        let mut matched = None;
        for counter in origin.saturating_sub(skew)..=origin.saturating_add(skew) {
            let candidate = generator.generate(counter).to_string();
            if bool::from(candidate.as_bytes().ct_eq(code.as_bytes())) && matched.is_none() {
                matched = Some(counter);
            }
        }
        matched
    }

    /// [`Totp::verify_step_at`] at the current time.
    #[must_use]
    pub fn verify_step(&self, secret: &TotpSecret, code: &str) -> Option<u64> {
        self.verify_step_at(secret, code, unix_now())
    }

    /// Whether `code` is valid at `unix_time`.
    #[must_use]
    pub fn verify_at(&self, secret: &TotpSecret, code: &str, unix_time: u64) -> bool {
        self.verify_step_at(secret, code, unix_time).is_some()
    }

    /// The `otpauth://totp/...` enrollment URL for these parameters (see
    /// [`otpauth_url`]); `digits`, `period` and `algorithm` are included.
    #[must_use]
    pub fn otpauth_url(&self, issuer: &str, account: &str, secret: &TotpSecret) -> String {
        let issuer = percent_encode(issuer);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm={alg}&digits={digits}&period={period}",
            account = percent_encode(account),
            secret = secret.to_base32(),
            alg = self.algorithm.as_str(),
            digits = self.digits,
            period = self.step_secs,
        )
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so `:` `@` `&` `?`
/// `#` and spaces in issuer or account names cannot break the URL.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `otpauth://totp/Issuer:account?secret=...&issuer=Issuer` URL that
/// authenticator apps read from a QR code (Google's Key URI format), with the default
/// parameters. Issuer and account are percent-encoded.
#[must_use]
pub fn otpauth_url(issuer: &str, account: &str, secret: &TotpSecret) -> String {
    Totp::new().otpauth_url(issuer, account, secret)
}

/// The current 6-digit SHA-1 code for 30-second steps.
#[must_use]
pub fn generate(secret: &TotpSecret) -> String {
    generate_at(secret, unix_now())
}

/// The 6-digit SHA-1 code for 30-second steps at `unix_time`.
#[must_use]
pub fn generate_at(secret: &TotpSecret, unix_time: u64) -> String {
    // The default parameters are valid, so this cannot fail.
    Totp::new()
        .generate_at(secret, unix_time)
        .unwrap_or_default()
}

/// Whether `code` is valid now for SHA-1 codes of `digits` digits and `step_secs`
/// steps, accepting `skew` steps either way. Invalid parameters never verify.
///
/// Prefer [`verify_step`] at login to refuse a code used twice.
#[must_use]
pub fn verify(secret: &TotpSecret, code: &str, step_secs: u64, digits: u8, skew: u8) -> bool {
    verify_step(secret, code, step_secs, digits, skew).is_some()
}

/// As [`verify`], returning the matched time step: keep the last accepted step per
/// user and refuse a code whose step is not greater (RFC 6238 §5.2).
#[must_use]
pub fn verify_step(
    secret: &TotpSecret,
    code: &str,
    step_secs: u64,
    digits: u8,
    skew: u8,
) -> Option<u64> {
    Totp::new()
        .with_step_secs(step_secs)
        .with_digits(digits)
        .with_skew(skew)
        .verify_step(secret, code)
}

/// The RFC 4226 HOTP code for `counter`.
///
/// # Errors
/// [`TotpError::InvalidDigits`] outside 6 to 8.
pub fn hotp(
    secret: &TotpSecret,
    counter: u64,
    digits: u8,
    algorithm: Algorithm,
) -> Result<String, TotpError> {
    // HOTP(counter) is TOTP with one-second steps at time `counter`.
    Totp::new()
        .with_algorithm(algorithm)
        .with_digits(digits)
        .with_step_secs(1)
        .generate_at(secret, counter)
}
