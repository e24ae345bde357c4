//! The pure cryptography of rustango: passwords, API keys, TOTP, signed URLs, webhook
//! signatures and Django-style signing.
//!
//! Each area is a module behind a cargo feature of the same name (the facade's feature
//! names): [`passwords`], [`api_keys`], [`totp`], [`signed_url`], [`webhook`] and
//! [`signing`]; `full` turns them all on. Nothing is on by default.
//!
//! The crate holds to a few rules, so callers do not have to:
//!
//! - secrets and MACs are compared in constant time (`subtle`);
//! - no `Debug` impl prints a secret ([`totp::TotpSecret`] and [`signing::Signer`]
//!   print `***`);
//! - bad input is a typed error (one `#[non_exhaustive]` enum per module), never a
//!   panic: the parsers of untrusted input are property-tested on arbitrary strings;
//! - slow work (argon2) has async wrappers that run on tokio's blocking pool.
//!
//! This crate never performs network I/O, never touches a database and never depends
//! on the HTTP stack (tier 2 of CONVENTIONS §2).
//!
//! ```
//! # #[cfg(feature = "signing")] {
//! use rustango_crypto::signing;
//!
//! let key = b"a secret key of at least 32 bytes!!";
//! let token = signing::dumps(&vec![1, 2, 3], key, "cart")?;
//! let back: Vec<u32> = signing::loads(&token, key, "cart", None)?;
//! assert_eq!(back, [1, 2, 3]);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod util;

#[cfg(any(feature = "passwords", feature = "api_keys"))]
mod phc;

#[cfg(feature = "api_keys")]
pub mod api_keys;
#[cfg(feature = "passwords")]
pub mod passwords;
#[cfg(feature = "signed_url")]
pub mod signed_url;
#[cfg(feature = "signing")]
pub mod signing;
#[cfg(feature = "totp")]
pub mod totp;
#[cfg(feature = "webhook")]
pub mod webhook;

/// `bytes` as lowercase hex (digests kept as text: API key hashes, webhook signatures,
/// idempotency fingerprints, session and rate-limit keys).
///
/// ```
/// assert_eq!(rustango_crypto::hex_encode(&[0x00, 0x7f, 0xff]), "007fff");
/// ```
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Compares two byte strings in constant time (for equal lengths).
///
/// The lengths are not secret: strings of different lengths compare unequal at once.
/// Use it for any comparison of a secret or a MAC; `==` returns at the first
/// differing byte and leaks its position through timing.
///
/// ```
/// assert!(rustango_crypto::constant_time_eq(b"token", b"token"));
/// assert!(!rustango_crypto::constant_time_eq(b"token", b"tokex"));
/// ```
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    util::ct_eq(a, b)
}
