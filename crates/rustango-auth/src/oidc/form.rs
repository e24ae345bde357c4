//! `application/x-www-form-urlencoded`, both ways (the token request body, the
//! callback's query string, HTTP Basic credentials).

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
        encode_component(k, &mut out);
        out.push('=');
        encode_component(v, &mut out);
    }
    out
}

/// Form-encodes one component into `out`.
pub(crate) fn encode_component(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
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

/// Decodes `a=1&b=%20x+y` into pairs (`+` is a space, malformed escapes are kept
/// as they are, invalid UTF-8 is replaced).
pub(crate) fn decode(query: &str) -> Vec<(String, String)> {
    rustango_http::percent::parse_form(query)
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
        let decoded = decode(&encoded);
        assert_eq!(decoded.len(), 3);
        for ((k, v), (dk, dv)) in pairs.iter().zip(&decoded) {
            assert_eq!((*k, *v), (dk.as_str(), dv.as_str()));
        }
    }

    #[test]
    fn lenient_decoding() {
        let pairs = decode("a=%zz&b&&c=%4&d=%41%42");
        assert_eq!(get(&pairs, "a"), Some("%zz"));
        assert_eq!(get(&pairs, "b"), Some(""));
        assert_eq!(get(&pairs, "c"), Some("%4"));
        assert_eq!(get(&pairs, "d"), Some("AB"));
        assert_eq!(get(&pairs, "e"), None);
    }
}
