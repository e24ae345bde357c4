//! `application/x-www-form-urlencoded` text, as the CSRF and method-override layers
//! read a body (one field, before the handler's extractor sees it) and the access log
//! reads query parameter names.

/// Whether the body is `application/x-www-form-urlencoded` (parameters ignored).
#[cfg(any(feature = "csrf", feature = "method-override"))]
pub(crate) fn is_urlencoded(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The value of the first field named `name` (compared after decoding) in a form
/// body, decoded; `None` without one.
#[cfg(any(feature = "csrf", feature = "method-override"))]
pub(crate) fn field(body: &[u8], name: &str) -> Option<Vec<u8>> {
    body.split(|&b| b == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &[][..]),
        };
        (decode(key) == name.as_bytes()).then(|| decode(value))
    })
}

/// Decodes one name or value: `+` is a space, `%XX` a byte; a malformed escape is kept
/// as it is.
pub(crate) fn decode(input: &[u8]) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => match (hex(input[i + 1]), hex(input[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h << 4) | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(decode(b"a+b%20c%2fd"), b"a b c/d");
        assert_eq!(decode(b"%5Fmethod"), b"_method");
        // Malformed or cut escapes stay as they are.
        assert_eq!(decode(b"%zz%4"), b"%zz%4");
        assert_eq!(decode(b"100%"), b"100%");
        assert_eq!(decode(b"%41"), b"A");
    }

    #[test]
    #[cfg(any(feature = "csrf", feature = "method-override"))]
    fn fields() {
        assert_eq!(
            field(b"a=1&%5Fmethod=PUT", "_method"),
            Some(b"PUT".to_vec())
        );
        assert_eq!(field(b"a=1&b", "b"), Some(Vec::new()));
        assert_eq!(field(b"a=1", "b"), None);
        assert_eq!(field(b"x=1&x=2", "x"), Some(b"1".to_vec()));
    }
}
