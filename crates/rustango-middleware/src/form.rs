//! `application/x-www-form-urlencoded` bodies, as the CSRF and method-override layers
//! read them (one field, before the handler's extractor sees the body).

use rustango_http::percent::decode_form;

/// Whether the body is `application/x-www-form-urlencoded` (parameters ignored).
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
pub(crate) fn field(body: &[u8], name: &str) -> Option<Vec<u8>> {
    body.split(|&b| b == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &[][..]),
        };
        (decode_form(key) == name.as_bytes()).then(|| decode_form(value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
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
