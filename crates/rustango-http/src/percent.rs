//! Percent-decoding (RFC 3986 `%XX` escapes), in the three flavours the framework
//! needs, so that every layer reads a URL or a form the same way:
//!
//! - [`decode`]: `%XX` becomes the byte and a malformed escape stays as it is
//!   (WHATWG's URL parser does the same), for paths and redirect targets;
//! - [`decode_form`]: the same plus `+` as a space, for
//!   `application/x-www-form-urlencoded` names and values (query strings, form
//!   bodies), as a form extractor reads them;
//! - [`decode_strict`]: `None` for a malformed escape, where a request that has one
//!   cannot mean anything (a static file's path);
//!
//! and [`encode_form`], the encoding browsers use for forms.
//!
//! None of them checks UTF-8: callers that need text choose between
//! `String::from_utf8` (refuse) and `String::from_utf8_lossy` (replace).
//!
//! ```
//! use rustango_http::percent;
//!
//! assert_eq!(percent::decode(b"/a%2Fb+c%zz"), b"/a/b+c%zz");
//! assert_eq!(percent::decode_form(b"a+b%26c"), b"a b&c");
//! assert_eq!(percent::decode_strict(b"/%41%4"), None);
//! assert_eq!(
//!     percent::parse_form("q=caf%C3%A9&x"),
//!     vec![("q".to_owned(), "café".to_owned()), ("x".to_owned(), String::new())]
//! );
//! ```

/// The value of one hexadecimal digit, either case.
pub fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes once; a `%` not followed by two hex digits is kept as it is.
/// `+` is left alone (see [`decode_form`]).
pub fn decode(input: &[u8]) -> Vec<u8> {
    decode_with(input, false, false).unwrap_or_default()
}

/// Decodes one `application/x-www-form-urlencoded` name or value: `+` is a space,
/// `%XX` a byte, a malformed escape is kept as it is.
pub fn decode_form(input: &[u8]) -> Vec<u8> {
    decode_with(input, true, false).unwrap_or_default()
}

/// Decodes `%XX` escapes once, or `None` if a `%` is not followed by two hex digits.
/// `+` is left alone.
pub fn decode_strict(input: &[u8]) -> Option<Vec<u8>> {
    decode_with(input, false, true)
}

/// Appends `s` form-encoded (`application/x-www-form-urlencoded`, as browsers send
/// it): bytes outside `A-Z a-z 0-9 * - . _` become `%XX`, spaces `+`.
pub fn encode_form(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
}

/// Splits a query string or form body (`a=1&b=%20x+y`) into decoded pairs, in order:
/// empty parts are skipped, a part without `=` has an empty value, invalid UTF-8 is
/// replaced with U+FFFD.
pub fn parse_form(input: &str) -> Vec<(String, String)> {
    let text = |s: &str| String::from_utf8_lossy(&decode_form(s.as_bytes())).into_owned();
    input
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            (text(name), text(value))
        })
        .collect()
}

fn decode_with(input: &[u8], plus_is_space: bool, strict: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let high = input.get(i + 1).copied().and_then(hex_value);
                let low = input.get(i + 2).copied().and_then(hex_value);
                if let (Some(high), Some(low)) = (high, low) {
                    out.push((high << 4) | low);
                    i += 3;
                    continue;
                }
                if strict {
                    return None;
                }
                out.push(b'%');
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient() {
        assert_eq!(decode(b"/a%2Fb%zz%4"), b"/a/b%zz%4");
        assert_eq!(decode(b"%41%6a"), b"Aj");
        assert_eq!(decode(b"100%"), b"100%");
        assert_eq!(decode(b"a+b"), b"a+b");
        // One round only.
        assert_eq!(decode(b"%2541"), b"%41");
        // Not UTF-8 is fine here.
        assert_eq!(decode(b"%ff"), [0xff]);
    }

    #[test]
    fn form() {
        assert_eq!(decode_form(b"a+b%20c%2fd"), b"a b c/d");
        assert_eq!(decode_form(b"%5Fmethod"), b"_method");
        assert_eq!(decode_form(b"%zz%4"), b"%zz%4");
        assert_eq!(decode_form(b"%2B"), b"+");
        assert_eq!(
            parse_form("&a=1&&b=%20x+y&c&=v&d=%ff"),
            [
                ("a", "1"),
                ("b", " x y"),
                ("c", ""),
                ("", "v"),
                ("d", "\u{fffd}")
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert!(parse_form("").is_empty());
    }

    #[test]
    fn form_encoding_round_trips() {
        let mut out = String::new();
        encode_form("a b&c=d/é*~", &mut out);
        assert_eq!(out, "a+b%26c%3Dd%2F%C3%A9*%7E");
        assert_eq!(decode_form(out.as_bytes()), "a b&c=d/é*~".as_bytes());
    }

    #[test]
    fn strict() {
        assert_eq!(decode_strict(b"/a%20b").as_deref(), Some(&b"/a b"[..]));
        assert_eq!(decode_strict(b"/%2e%2E/x").as_deref(), Some(&b"/../x"[..]));
        assert_eq!(decode_strict(b"/%2"), None);
        assert_eq!(decode_strict(b"/%zz"), None);
        assert_eq!(decode_strict(b"%"), None);
        assert_eq!(decode_strict(b"a+b").as_deref(), Some(&b"a+b"[..]));
    }
}
