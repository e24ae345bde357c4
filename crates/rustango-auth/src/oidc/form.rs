//! `application/x-www-form-urlencoded` pairs for the token request body and URLs
//! (decoding, and single components, are `rustango_http::percent`'s).

/// Encodes `pairs` as `a=1&b=2`: bytes outside `A-Z a-z 0-9 * - . _` become `%XX`,
/// spaces `+`.
pub(crate) fn encode<'a, I>(pairs: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        rustango_http::percent::encode_form(k, &mut out);
        out.push('=');
        rustango_http::percent::encode_form(v, &mut out);
    }
    out
}

/// The first value of `name` in a decoded query.
pub(crate) fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let pairs = [
            ("code", "a b+c&d=e/f?g%h"),
            ("redirect_uri", "http://127.0.0.1:8080/cb"),
            ("é", "ü"),
        ];
        let encoded = encode(pairs);
        assert_eq!(
            encoded,
            "code=a+b%2Bc%26d%3De%2Ff%3Fg%25h&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcb&%C3%A9=%C3%BC"
        );
        let decoded = rustango_http::percent::parse_form(&encoded);
        assert_eq!(decoded.len(), 3);
        for ((k, v), (dk, dv)) in pairs.iter().zip(&decoded) {
            assert_eq!((*k, *v), (dk.as_str(), dv.as_str()));
        }
    }

    #[test]
    fn lenient_decoding() {
        let pairs = rustango_http::percent::parse_form("a=%zz&b&&c=%4&d=%41%42");
        assert_eq!(get(&pairs, "a"), Some("%zz"));
        assert_eq!(get(&pairs, "b"), Some(""));
        assert_eq!(get(&pairs, "c"), Some("%4"));
        assert_eq!(get(&pairs, "d"), Some("AB"));
        assert_eq!(get(&pairs, "e"), None);
    }
}
