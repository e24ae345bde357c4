//! HMAC-SHA256 signed URLs: magic login links, download links, unsubscribe links.
//!
//! [`sign`] appends `expires=<unix seconds>` (when given a time to live) and
//! `signature=<base64url HMAC>` to a URL; [`verify`] checks the URL the server
//! received. The MAC covers the path and every query parameter, in order, so changing,
//! removing, reordering or adding any of them fails, and so does any change to
//! `expires`.
//!
//! # What is signed
//!
//! The path and the query, not the scheme or host: the same link verifies whether the
//! server sees an absolute URL or only the request target (`/path?query`), behind any
//! proxy. Use a different secret per site if one site must not accept another's links.
//! The fragment (`#...`) never reaches the server: [`sign`] keeps it at the end of the
//! URL, outside the MAC.
//!
//! Both sides first bring path and parameters to a canonical percent-encoding (RFC
//! 3986 §6.2.2: `%7e` and `~` are the same, `%2b` becomes `%2B`, spaces and non-ASCII
//! are encoded), so a browser or proxy re-encoding the link does not break it, while
//! `+` and `%2B`, or `/` and `%2F`, stay distinct.
//!
//! # What is refused
//!
//! [`verify`] answers with a distinct [`SignedUrlError`] for: no signature
//! ([`SignedUrlError::MissingSignature`]); a MAC that does not match
//! ([`SignedUrlError::BadSignature`]): tampered, removed, reordered or extra
//! parameters, a removed `expires`, another key; an authentic but expired link
//! ([`SignedUrlError::Expired`], only reported once the MAC matched); and
//! [`SignedUrlError::Malformed`] for parameter pollution that some framework could
//! read differently from us: a repeated `expires` or `signature`, look-alike names
//! (`expires[]`, `Signature`, `expires%20`), any parameter after `signature`, a
//! non-numeric expiry or an undecodable signature.
//!
//! ```
//! use rustango_crypto::signed_url::{self, SignedUrlError};
//! use std::time::Duration;
//!
//! let secret = b"a secret of at least 32 random bytes...";
//! let url = signed_url::sign(
//!     "https://app.example.com/login?email=alice@x.com",
//!     secret,
//!     Some(Duration::from_secs(3600)),
//! );
//! assert!(url.starts_with("https://app.example.com/login?email=alice@x.com&expires="));
//! assert_eq!(signed_url::verify(&url, secret), Ok(()));
//!
//! // The server may only see the request target:
//! let target = url.trim_start_matches("https://app.example.com");
//! assert_eq!(signed_url::verify(target, secret), Ok(()));
//!
//! let forged = url.replace("alice", "mallory");
//! assert_eq!(signed_url::verify(&forged, secret), Err(SignedUrlError::BadSignature));
//! ```

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::util::{ct_eq, hmac_sha256, unix_now};

/// Name of the expiry parameter.
pub const EXPIRES_PARAM: &str = "expires";
/// Name of the signature parameter.
pub const SIGNATURE_PARAM: &str = "signature";
/// Longest URL [`verify`] looks at, in bytes.
pub const MAX_URL_LEN: usize = 16 * 1024;

/// Domain separation: a MAC made here is never valid for another module's format.
const DOMAIN: &[u8] = b"rustango.signed_url.v1\n";

/// Errors of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignedUrlError {
    /// The URL has no `signature` parameter.
    #[error("the URL is not signed")]
    MissingSignature,
    /// The signature does not match the URL: it was changed, or signed with
    /// another key.
    #[error("the URL signature does not match")]
    BadSignature,
    /// The URL is authentic but its `expires` time has passed.
    #[error("the signed URL expired at {expired_at} (unix time)")]
    Expired {
        /// The `expires` value, in seconds since 1970.
        expired_at: u64,
    },
    /// The URL is not shaped like one [`sign`] makes.
    #[error("malformed signed URL: {reason}")]
    Malformed {
        /// What is wrong.
        reason: MalformedReason,
    },
}

/// Why a signed URL is [`SignedUrlError::Malformed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedReason {
    /// Longer than [`MAX_URL_LEN`].
    #[error("the URL is too long")]
    TooLong,
    /// `expires` or `signature` appears more than once.
    #[error("the `{name}` parameter is repeated")]
    RepeatedParameter {
        /// `expires` or `signature`.
        name: &'static str,
    },
    /// A parameter whose name is not `expires`/`signature` but could be read as one
    /// (`expires[]`, `Expires`, `signature%20`, ...).
    #[error("a parameter name imitates `{name}`")]
    LookalikeParameter {
        /// `expires` or `signature`.
        name: &'static str,
    },
    /// A parameter comes after `signature`.
    #[error("a parameter follows the signature")]
    ParameterAfterSignature,
    /// `expires` is not a number of seconds.
    #[error("the `expires` parameter is not a unix time")]
    InvalidExpiry,
    /// `signature` is not 43 base64url characters.
    #[error("the `signature` parameter is not base64url HMAC-SHA256")]
    InvalidSignature,
}

impl From<MalformedReason> for SignedUrlError {
    fn from(reason: MalformedReason) -> Self {
        Self::Malformed { reason }
    }
}

/// Signs `url` with `secret`, valid for `ttl` from now (forever when `None`).
///
/// `url` is absolute (`https://host/path?query`) or a path (`/path?query`). Any
/// `expires` or `signature` parameter already present (or a look-alike, see the
/// module docs) is removed first, so signing a signed URL re-signs it. The result is
/// the canonical form of `url` plus `&expires=..&signature=..`.
///
/// `secret` should be at least 32 random bytes.
#[must_use]
pub fn sign(url: &str, secret: &[u8], ttl: Option<Duration>) -> String {
    sign_at(url, secret, ttl, unix_now())
}

/// [`sign`] with an explicit clock, for tests: `now_unix` is seconds since 1970.
#[must_use]
pub fn sign_at(url: &str, secret: &[u8], ttl: Option<Duration>, now_unix: u64) -> String {
    let parts = split_url(url);
    let path = canonical_path(parts.path);
    let mut params: Vec<String> = Vec::new();
    for segment in query_segments(parts.query) {
        let param = Param::parse(segment);
        if param.kind() == ParamKind::Plain {
            params.push(param.canonical);
        }
    }
    if let Some(ttl) = ttl {
        // Round a fractional TTL up: a link never dies earlier than asked.
        let secs = ttl
            .as_secs()
            .saturating_add(u64::from(ttl.subsec_nanos() > 0));
        params.push(format!("{EXPIRES_PARAM}={}", now_unix.saturating_add(secs)));
    }
    let mac = mac(secret, &path, params.iter().map(String::as_str));
    params.push(format!("{SIGNATURE_PARAM}={}", URL_SAFE_NO_PAD.encode(mac)));

    let mut out = String::with_capacity(url.len() + 80);
    out.push_str(parts.head);
    out.push_str(&path);
    out.push('?');
    out.push_str(&params.join("&"));
    if let Some(fragment) = parts.fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Checks a signed URL (absolute or path-only) against `secret`, now.
///
/// # Errors
/// See [`SignedUrlError`]: the signature is checked before the expiry, so
/// [`SignedUrlError::Expired`] means the link was authentic.
pub fn verify(url: &str, secret: &[u8]) -> Result<(), SignedUrlError> {
    verify_at(url, secret, unix_now())
}

/// [`verify`] with an explicit clock, for tests: `now_unix` is seconds since 1970.
/// A link is expired from its `expires` second on.
///
/// # Errors
/// As [`verify`].
pub fn verify_at(url: &str, secret: &[u8], now_unix: u64) -> Result<(), SignedUrlError> {
    if url.len() > MAX_URL_LEN {
        return Err(MalformedReason::TooLong.into());
    }
    let parts = split_url(url);
    let params: Vec<Param> = query_segments(parts.query).map(Param::parse).collect();

    let mut expires: Option<&Param> = None;
    let mut signature: Option<(usize, &Param)> = None;
    for (index, param) in params.iter().enumerate() {
        match param.kind() {
            ParamKind::Plain => {}
            ParamKind::Expires => {
                if expires.replace(param).is_some() {
                    return Err(MalformedReason::RepeatedParameter {
                        name: EXPIRES_PARAM,
                    }
                    .into());
                }
            }
            ParamKind::Signature => {
                if signature.replace((index, param)).is_some() {
                    return Err(MalformedReason::RepeatedParameter {
                        name: SIGNATURE_PARAM,
                    }
                    .into());
                }
            }
            ParamKind::Lookalike(name) => {
                return Err(MalformedReason::LookalikeParameter { name }.into());
            }
        }
    }
    let Some((sig_index, sig_param)) = signature else {
        return Err(SignedUrlError::MissingSignature);
    };
    if sig_index + 1 != params.len() {
        return Err(MalformedReason::ParameterAfterSignature.into());
    }
    let given = decode_signature(sig_param.value()).ok_or(MalformedReason::InvalidSignature)?;
    let expires_at = match expires {
        None => None,
        Some(param) => Some(parse_unix(param.value()).ok_or(MalformedReason::InvalidExpiry)?),
    };

    let path = canonical_path(parts.path);
    let expected = mac(
        secret,
        &path,
        params[..sig_index].iter().map(|p| p.canonical.as_str()),
    );
    if !ct_eq(&expected, &given) {
        return Err(SignedUrlError::BadSignature);
    }
    match expires_at {
        Some(expired_at) if now_unix >= expired_at => Err(SignedUrlError::Expired { expired_at }),
        _ => Ok(()),
    }
}

fn mac<'a>(secret: &[u8], path: &str, params: impl Iterator<Item = &'a str>) -> [u8; 32] {
    let mut message = Vec::with_capacity(DOMAIN.len() + path.len() + 256);
    message.extend_from_slice(DOMAIN);
    message.extend_from_slice(path.as_bytes());
    message.push(b'\n');
    for (i, param) in params.enumerate() {
        if i > 0 {
            message.push(b'&');
        }
        message.extend_from_slice(param.as_bytes());
    }
    hmac_sha256(secret, &[&message])
}

fn decode_signature(value: Option<&str>) -> Option<[u8; 32]> {
    let value = value?;
    if value.len() != 43 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
    bytes.try_into().ok()
}

fn parse_unix(value: Option<&str>) -> Option<u64> {
    let value = value?;
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// A URL cut into `head` (`scheme://authority`, or empty), path, query and fragment.
struct UrlParts<'a> {
    head: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

fn split_url(url: &str) -> UrlParts<'_> {
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority_start = if before_query.starts_with("//") {
        Some(2)
    } else {
        scheme_end(before_query).map(|end| end + 3)
    };
    let (head, path) = match authority_start {
        Some(start) => {
            let path_start = before_query[start..]
                .find('/')
                .map_or(before_query.len(), |i| start + i);
            before_query.split_at(path_start)
        }
        None => ("", before_query),
    };
    UrlParts {
        head,
        path,
        query,
        fragment,
    }
}

/// End of `scheme` in `scheme://...` (RFC 3986 §3.1), if `s` starts with one.
fn scheme_end(s: &str) -> Option<usize> {
    let colon = s.find("://")?;
    let scheme = &s.as_bytes()[..colon];
    let valid = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then_some(colon)
}

fn query_segments(query: Option<&str>) -> impl Iterator<Item = &str> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|segment| !segment.is_empty())
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Characters left as they are: unreserved, sub-delims, `:` `@` `/` `?`.
fn is_kept(b: u8) -> bool {
    is_unreserved(b) || b"!$&'()*+,;=:@/?".contains(&b)
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Canonical percent-encoding of one component (see the module docs).
fn canonicalize(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex_value),
                bytes.get(i + 2).copied().and_then(hex_value),
            )
        {
            let decoded = (hi << 4) | lo;
            if is_unreserved(decoded) {
                out.push(char::from(decoded));
            } else {
                out.push('%');
                out.push(char::from(HEX[usize::from(hi)]));
                out.push(char::from(HEX[usize::from(lo)]));
            }
            i += 3;
            continue;
        }
        if b != b'%' && is_kept(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        i += 1;
    }
}

fn canonical_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 1);
    if path.is_empty() {
        out.push('/');
    } else {
        canonicalize(&mut out, path);
    }
    out
}

/// One query parameter: its canonical text and where its name ends in it.
struct Param {
    canonical: String,
    /// Length of the canonical name; `canonical[name_len]` is `=` when a value follows.
    name_len: usize,
    has_value: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ParamKind {
    Plain,
    Expires,
    Signature,
    Lookalike(&'static str),
}

impl Param {
    fn parse(segment: &str) -> Self {
        let (name, value) = match segment.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (segment, None),
        };
        let mut canonical = String::with_capacity(segment.len());
        canonicalize(&mut canonical, name);
        let name_len = canonical.len();
        if let Some(value) = value {
            canonical.push('=');
            canonicalize(&mut canonical, value);
        }
        Self {
            canonical,
            name_len,
            has_value: value.is_some(),
        }
    }

    fn name(&self) -> &str {
        &self.canonical[..self.name_len]
    }

    fn value(&self) -> Option<&str> {
        self.has_value.then(|| &self.canonical[self.name_len + 1..])
    }

    fn kind(&self) -> ParamKind {
        match self.name() {
            EXPIRES_PARAM => return ParamKind::Expires,
            SIGNATURE_PARAM => return ParamKind::Signature,
            _ => {}
        }
        // What a lenient parser could turn the name into: percent- and
        // plus-decoded, trimmed, lowercased, `[...]` suffix dropped.
        let decoded = decode_component(self.name());
        let mut loose = decoded.trim().to_ascii_lowercase();
        if let Some(bracket) = loose.find('[') {
            loose.truncate(bracket);
        }
        match loose.trim() {
            EXPIRES_PARAM => ParamKind::Lookalike(EXPIRES_PARAM),
            SIGNATURE_PARAM => ParamKind::Lookalike(SIGNATURE_PARAM),
            _ => ParamKind::Plain,
        }
    }
}

/// Form-style decoding (`+` is a space, `%XX` a byte), lossy on invalid UTF-8.
fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex_value),
                bytes.get(i + 2).copied().and_then(hex_value),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push((hi << 4) | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let canon = |s: &str| {
            let mut out = String::new();
            canonicalize(&mut out, s);
            out
        };
        assert_eq!(canon("a%7eb%7E"), "a~b~");
        assert_eq!(canon("%2b+%2F/"), "%2B+%2F/");
        assert_eq!(canon("a b"), "a%20b");
        assert_eq!(canon("é"), "%C3%A9");
        assert_eq!(canon("100%"), "100%25");
        assert_eq!(canon("%zz"), "%25zz");
        assert_eq!(canon("[x]"), "%5Bx%5D");
        assert_eq!(canon("alice@x.com"), "alice@x.com");
    }

    #[test]
    fn url_splitting() {
        let p = split_url("https://h.example:8443/a/b?x=1#frag");
        assert_eq!(
            (p.head, p.path, p.query, p.fragment),
            ("https://h.example:8443", "/a/b", Some("x=1"), Some("frag"))
        );
        let p = split_url("/a?x=1");
        assert_eq!((p.head, p.path, p.query), ("", "/a", Some("x=1")));
        let p = split_url("https://h.example?x=1");
        assert_eq!((p.head, p.path), ("https://h.example", ""));
        let p = split_url("//h.example/a");
        assert_eq!((p.head, p.path), ("//h.example", "/a"));
        let p = split_url("/redirect?to=https://other.example/");
        assert_eq!((p.head, p.path), ("", "/redirect"));
    }

    #[test]
    fn lookalikes() {
        for name in [
            "Expires",
            "expires[]",
            "expires%5B%5D",
            "expires%20",
            "expires+",
            "%20signature",
            "SIGNATURE[0]",
        ] {
            let kind = Param::parse(&format!("{name}=1")).kind();
            assert!(matches!(kind, ParamKind::Lookalike(_)), "{name}: {kind:?}");
        }
        assert_eq!(Param::parse("%65xpires=1").kind(), ParamKind::Expires);
        assert_eq!(Param::parse("expiresx=1").kind(), ParamKind::Plain);
    }
}
