//! Webhook signatures: HMAC-SHA256 over the raw request body.
//!
//! Two header shapes cover most senders:
//!
//! - **plain**: the MAC of the body as hex or base64, optionally prefixed `sha256=`
//!   (GitHub's `X-Hub-Signature-256: sha256=<hex>`, Shopify's base64, many others).
//!   [`verify_signature`] accepts all of these.
//! - **timestamped**: `t=<unix seconds>,v1=<hex>[,v1=<hex>...]` (Stripe's shape), where
//!   the MAC covers `"{t}.{body}"`. [`verify_timestamped`] checks the MAC, then that
//!   `t` is within a tolerance of now, so a captured request cannot be replayed
//!   later. Several `v1` entries (the sender rotating its secret) pass if any matches;
//!   other schemes (`v0=...`) are ignored.
//!
//! Always verify the exact bytes received, before any JSON parsing. Comparisons are
//! constant-time. [`sign`], [`sign_base64`] and [`sign_timestamped`] produce the same
//! formats, for outbound webhooks and tests.
//!
//! ```
//! use rustango_crypto::webhook::{self, WebhookError};
//! use std::time::Duration;
//!
//! let secret = b"whsec_shared_with_the_sender";
//! let body = br#"{"event":"paid"}"#;
//!
//! let header = webhook::sign(secret, body); // "sha256=<hex>"
//! assert_eq!(webhook::verify_signature(secret, body, &header), Ok(()));
//!
//! let now = 1_700_000_000;
//! let header = webhook::sign_timestamped(secret, body, now);
//! let tolerance = Duration::from_secs(300);
//! assert_eq!(webhook::verify_timestamped(secret, body, &header, tolerance, now + 10), Ok(()));
//! assert!(matches!(
//!     webhook::verify_timestamped(secret, body, &header, tolerance, now + 3600),
//!     Err(WebhookError::OutsideTolerance { .. })
//! ));
//! ```

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use crate::util::{ct_eq, hex_decode_array, hex_encode, hmac_sha256, unix_now};

/// Stripe's default tolerance: five minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// Longest header value looked at, in bytes.
pub const MAX_HEADER_LEN: usize = 4096;
/// Most `v1` signatures looked at in one timestamped header.
pub const MAX_SIGNATURES: usize = 8;

/// Errors of this module.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The header is empty, or a timestamped header has no `v1` entry.
    #[error("the webhook signature is missing")]
    MissingSignature,
    /// The header cannot be parsed: not hex or base64 of 32 bytes, no or several
    /// `t=`, a non-numeric `t`, too long or too many signatures.
    #[error("the webhook signature header is malformed")]
    MalformedHeader,
    /// The MAC does not match the payload.
    #[error("the webhook signature does not match the payload")]
    BadSignature,
    /// The signature is authentic but its timestamp is too far from now: a replay,
    /// or badly skewed clocks.
    #[error("the webhook timestamp {timestamp} is outside the tolerance (now {now})")]
    OutsideTolerance {
        /// The `t` of the header.
        timestamp: u64,
        /// The time the check used.
        now: u64,
    },
}

/// Checks a plain signature header: hex or base64 (standard or url-safe, padded or
/// not) of HMAC-SHA256(`secret`, `payload`), optionally prefixed `sha256=`.
/// Surrounding whitespace is ignored.
///
/// # Errors
/// [`WebhookError::MissingSignature`], [`WebhookError::MalformedHeader`] or
/// [`WebhookError::BadSignature`].
pub fn verify_signature(secret: &[u8], payload: &[u8], header: &str) -> Result<(), WebhookError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(WebhookError::MalformedHeader);
    }
    let mut value = header.trim();
    if let Some(prefix) = value.get(..7)
        && prefix.eq_ignore_ascii_case("sha256=")
    {
        value = &value[7..];
    }
    if value.is_empty() {
        return Err(WebhookError::MissingSignature);
    }
    let given = decode_mac(value).ok_or(WebhookError::MalformedHeader)?;
    let expected = hmac_sha256(secret, &[payload]);
    if ct_eq(&expected, &given) {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

/// 64 hex digits, or base64 of 32 bytes in any of the four usual alphabets/paddings.
fn decode_mac(value: &str) -> Option<[u8; 32]> {
    if value.len() == 64 {
        return hex_decode_array(value);
    }
    if !(43..=44).contains(&value.len()) {
        return None;
    }
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(value).ok())
        .and_then(|bytes| bytes.try_into().ok())
}

/// A parsed `t=..,v1=..` header.
struct Timestamped {
    timestamp: u64,
    signatures: Vec<[u8; 32]>,
}

fn parse_timestamped(header: &str) -> Result<Timestamped, WebhookError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(WebhookError::MalformedHeader);
    }
    let header = header.trim();
    if header.is_empty() {
        return Err(WebhookError::MissingSignature);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    let mut v1_seen = 0usize;
    for item in header.split(',') {
        let Some((key, value)) = item.split_once('=') else {
            return Err(WebhookError::MalformedHeader);
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "t" => {
                let valid = !value.is_empty()
                    && value.len() <= 20
                    && value.bytes().all(|b| b.is_ascii_digit());
                let t: u64 = valid
                    .then(|| value.parse().ok())
                    .flatten()
                    .ok_or(WebhookError::MalformedHeader)?;
                if timestamp.replace(t).is_some() {
                    return Err(WebhookError::MalformedHeader);
                }
            }
            "v1" => {
                v1_seen += 1;
                if v1_seen > MAX_SIGNATURES {
                    return Err(WebhookError::MalformedHeader);
                }
                // An undecodable entry cannot match; others may still.
                if let Some(mac) = hex_decode_array(value) {
                    signatures.push(mac);
                }
            }
            // Other schemes (Stripe's test-mode `v0`) are not ours to check.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::MalformedHeader)?;
    if v1_seen == 0 {
        return Err(WebhookError::MissingSignature);
    }
    Ok(Timestamped {
        timestamp,
        signatures,
    })
}

fn timestamped_mac(secret: &[u8], payload: &[u8], timestamp: u64) -> [u8; 32] {
    hmac_sha256(secret, &[timestamp.to_string().as_bytes(), b".", payload])
}

/// Checks a `t=<unix>,v1=<hex>[,v1=<hex>...]` header: some `v1` must be
/// HMAC-SHA256(`secret`, `"{t}.{payload}"`), and `t` must be within `tolerance` of
/// `now_unix`, in either direction.
///
/// # Errors
/// [`WebhookError::MissingSignature`], [`WebhookError::MalformedHeader`],
/// [`WebhookError::BadSignature`], or [`WebhookError::OutsideTolerance`] (reported
/// only for an authentic signature).
pub fn verify_timestamped(
    secret: &[u8],
    payload: &[u8],
    header: &str,
    tolerance: Duration,
    now_unix: u64,
) -> Result<(), WebhookError> {
    let parsed = parse_timestamped(header)?;
    let expected = timestamped_mac(secret, payload, parsed.timestamp);
    // Compare with every entry (no early exit), then decide.
    let matched = parsed
        .signatures
        .iter()
        .fold(false, |any, given| ct_eq(&expected, given) | any);
    if !matched {
        return Err(WebhookError::BadSignature);
    }
    if parsed.timestamp.abs_diff(now_unix) > tolerance.as_secs() {
        return Err(WebhookError::OutsideTolerance {
            timestamp: parsed.timestamp,
            now: now_unix,
        });
    }
    Ok(())
}

/// [`verify_timestamped`] against the system clock.
///
/// # Errors
/// As [`verify_timestamped`].
pub fn verify_timestamped_now(
    secret: &[u8],
    payload: &[u8],
    header: &str,
    tolerance: Duration,
) -> Result<(), WebhookError> {
    verify_timestamped(secret, payload, header, tolerance, unix_now())
}

/// `sha256=<hex>` of HMAC-SHA256(`secret`, `payload`) (GitHub's format).
#[must_use]
pub fn sign(secret: &[u8], payload: &[u8]) -> String {
    format!("sha256={}", hex_encode(&hmac_sha256(secret, &[payload])))
}

/// Standard padded base64 of HMAC-SHA256(`secret`, `payload`) (Shopify's format).
#[must_use]
pub fn sign_base64(secret: &[u8], payload: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(secret, &[payload]))
}

/// `t=<timestamp>,v1=<hex>` over `"{timestamp}.{payload}"` (Stripe's format).
#[must_use]
pub fn sign_timestamped(secret: &[u8], payload: &[u8], timestamp: u64) -> String {
    format!(
        "t={timestamp},v1={}",
        hex_encode(&timestamped_mac(secret, payload, timestamp))
    )
}
