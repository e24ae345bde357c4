//! Small helpers shared by the modules: constant-time comparison, randomness, hex,
//! HMAC-SHA256 and the clock. Each is compiled only when a feature uses it.

use subtle::ConstantTimeEq as _;

/// Constant-time equality for equal lengths; different lengths are unequal at once.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `N` bytes from the operating system's CSPRNG.
#[cfg(any(feature = "passwords", feature = "api_keys", feature = "totp"))]
pub(crate) fn random_array<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)?;
    Ok(buf)
}

/// Boxes a third-party error as the `source` of one of our errors.
#[cfg(any(
    feature = "passwords",
    feature = "api_keys",
    feature = "totp",
    feature = "signing"
))]
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Seconds since the Unix epoch; 0 if the clock is set before 1970 (never a panic).
#[cfg(any(
    feature = "totp",
    feature = "signed_url",
    feature = "webhook",
    feature = "signing"
))]
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(any(feature = "api_keys", feature = "webhook"))]
pub(crate) use crate::hex_encode;

/// Decodes exactly `2 * N` hex digits (either case) into `N` bytes.
#[cfg(any(feature = "api_keys", feature = "webhook"))]
pub(crate) fn hex_decode_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
#[cfg(any(feature = "signed_url", feature = "webhook", feature = "signing"))]
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{KeyInit as _, Mac as _};
    // HMAC takes keys of any length (long keys are hashed first): this cannot fail.
    let mut mac =
        <hmac::Hmac<sha2::Sha256>>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ct_eq_lengths() {
        assert!(super::ct_eq(b"", b""));
        assert!(!super::ct_eq(b"a", b""));
        assert!(!super::ct_eq(b"ab", b"ac"));
    }

    #[cfg(any(feature = "api_keys", feature = "webhook"))]
    #[test]
    fn hex_round_trip() {
        let bytes = [0u8, 1, 0x7f, 0x80, 0xfe, 0xff];
        let hex = super::hex_encode(&bytes);
        assert_eq!(hex, "00017f80feff");
        assert_eq!(super::hex_decode_array::<6>(&hex), Some(bytes));
        assert_eq!(super::hex_decode_array::<6>("00017F80FEFF"), Some(bytes));
        assert_eq!(super::hex_decode_array::<6>("00017f80fef"), None);
        assert_eq!(super::hex_decode_array::<6>("00017f80feg0"), None);
        assert_eq!(super::hex_decode_array::<1>("é"), None);
    }

    #[cfg(any(feature = "signed_url", feature = "webhook", feature = "signing"))]
    #[test]
    fn hmac_rfc4231_case_2() {
        let mac = super::hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            mac[..4],
            [0x5b, 0xdc, 0xc1, 0x46],
            "RFC 4231 test case 2 (5bdcc146bf60754e...)"
        );
    }
}
