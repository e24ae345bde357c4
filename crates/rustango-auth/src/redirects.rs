//! Safe redirect targets for `next=` parameters: same-origin paths only, unless the
//! host is explicitly allowed.
//!
//! After a login (or a logout, or any form), sites send the browser to the page named
//! by a `next` parameter. An attacker who can make a victim follow
//! `https://site.example/login?next=//evil.example` gets a login page on the real
//! site that ends on theirs: an *open redirect*, a staple of phishing. Browsers are
//! generous in what they treat as "another host": `//evil.example`, `/\evil.example`,
//! `\\evil.example`, `https:evil.example`, `/<TAB>/evil.example` all leave the site,
//! and a proxy or framework that percent-decodes once more turns `/%2F%2Fevil.example`
//! into one of them.
//!
//! [`safe_next`] accepts only what cannot leave the site, and returns it unchanged:
//!
//! - a path starting with exactly one `/`, followed by anything but `/` or `\`;
//! - made of printable ASCII only: no backslash anywhere, no whitespace, no control
//!   characters, nothing outside ASCII (percent-encode it: `/caf%C3%A9`);
//! - the same holds for every percent-decoded form of it (decoded up to
//!   [`MAX_DECODE_ROUNDS`] times, so double- and triple-encoded variants are refused
//!   too), where moreover no decoded byte may be a control character;
//! - at most [`MAX_NEXT_LEN`] bytes.
//!
//! [`safe_redirect_target`] also accepts absolute `http`/`https` URLs whose authority
//! (`host` or `host:port`, compared case-insensitively) is in an allowlist, never with
//! user information (`https://good.example@evil.example`).
//!
//! ```
//! use rustango_auth::redirects::{safe_next, safe_redirect_target};
//!
//! assert_eq!(safe_next("/dashboard?tab=2#top"), Some("/dashboard?tab=2#top"));
//! for evil in [
//!     "//evil.example",
//!     "/\\evil.example",
//!     "https:evil.example",
//!     "https://evil.example/",
//!     "javascript:alert(1)",
//!     "/%2F%2Fevil.example",
//!     "/%5Cevil.example",
//!     "/%252F%252Fevil.example",
//! ] {
//!     assert_eq!(safe_next(evil), None, "{evil}");
//! }
//!
//! let allowed = ["app.example", "admin.example:8443"];
//! assert!(safe_redirect_target("https://app.example/home", &allowed).is_some());
//! assert!(safe_redirect_target("https://admin.example:8443/", &allowed).is_some());
//! assert!(safe_redirect_target("https://app.example@evil.example/", &allowed).is_none());
//! assert!(safe_redirect_target("https://evil.example/", &allowed).is_none());
//! ```
//!
//! Use the answer, or a fixed default when it is `None`; never "fix up" a refused
//! value.

/// The longest `next` accepted, in bytes.
pub const MAX_NEXT_LEN: usize = 2048;

/// How many rounds of percent-decoding are checked; a value that still holds
/// escapes after that many rounds is refused.
pub const MAX_DECODE_ROUNDS: usize = 4;

/// `next` if it is a same-origin path that cannot leave the site (see the
/// [module docs](self)), else `None`.
///
/// ```
/// use rustango_auth::redirects::safe_next;
///
/// assert_eq!(safe_next("/"), Some("/"));
/// assert_eq!(safe_next("/a/b?c=%2F"), Some("/a/b?c=%2F"));
/// assert_eq!(safe_next("//evil.example"), None);
/// assert_eq!(safe_next("dashboard"), None); // relative to what? refused
/// ```
#[must_use]
pub fn safe_next(next: &str) -> Option<&str> {
    safe_redirect_target::<&str>(next, &[])
}

/// `next` if it is a same-origin path ([`safe_next`]) or an absolute `http`/`https`
/// URL whose authority (`host` or `host:port`) is one of `allowed_hosts`, compared
/// case-insensitively; else `None`.
///
/// An entry without a port matches only URLs without a port: list `host:port`
/// explicitly for other ports.
///
/// ```
/// use rustango_auth::redirects::safe_redirect_target;
///
/// let hosts = ["shop.example"];
/// assert!(safe_redirect_target("https://SHOP.example/cart", &hosts).is_some());
/// assert!(safe_redirect_target("https://shop.example:444/cart", &hosts).is_none());
/// assert!(safe_redirect_target("//shop.example/cart", &hosts).is_none());
/// assert!(safe_redirect_target("/cart", &hosts).is_some());
/// ```
#[must_use]
pub fn safe_redirect_target<'a, H: AsRef<str>>(
    next: &'a str,
    allowed_hosts: &[H],
) -> Option<&'a str> {
    if next.is_empty() || next.len() > MAX_NEXT_LEN {
        return None;
    }
    if !next.bytes().all(is_allowed_raw_byte) {
        return None;
    }
    if next.starts_with('/') {
        return is_safe_path(next.as_bytes()).then_some(next);
    }
    if allowed_hosts.is_empty() {
        return None;
    }
    let authority = absolute_authority(next)?;
    allowed_hosts
        .iter()
        .any(|h| h.as_ref().eq_ignore_ascii_case(authority))
        .then_some(next)
}

/// Printable ASCII except the backslash: no space, no control, no non-ASCII byte.
fn is_allowed_raw_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b'\\'
}

/// The raw path and each of its percent-decoded forms start with exactly one `/`
/// followed by no `/`, `\` or whitespace, hold no backslash and no control byte.
fn is_safe_path(raw: &[u8]) -> bool {
    let mut current = raw.to_vec();
    for round in 0..=MAX_DECODE_ROUNDS {
        if !has_safe_prefix(&current)
            || current.iter().any(|&b| b == b'\\' || b < 0x20 || b == 0x7f)
        {
            return false;
        }
        let decoded = rustango_http::percent::decode(&current);
        if decoded == current {
            return true;
        }
        if round == MAX_DECODE_ROUNDS {
            return false;
        }
        current = decoded;
    }
    false
}

fn has_safe_prefix(path: &[u8]) -> bool {
    match path {
        [b'/'] => true,
        [b'/', second, ..] => !matches!(second, b'/' | b'\\') && !second.is_ascii_whitespace(),
        _ => false,
    }
}

/// The authority of an absolute `http(s)://authority/...` URL, if it is a plain
/// `host` or `host:port` (no user information, no escapes).
fn absolute_authority(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")) {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || authority.contains(['@', '%']) {
        return None;
    }
    Some(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Open-redirect payloads: every one must be refused.
    const REFUSED: &[&str] = &[
        "",
        "//evil.example",
        "//evil.example/",
        "///evil.example",
        "////evil.example",
        "/\\evil.example",
        "\\/evil.example",
        "\\\\evil.example",
        "/\\/evil.example",
        "/a\\b",
        "https:evil.example",
        "https:/evil.example",
        "https://evil.example",
        "https://evil.example/path",
        "HTTPS://evil.example",
        "http://evil.example",
        "//evil.example:443",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "evil.example",
        "dashboard",
        "?next=/x",
        "#top",
        " /dashboard",
        "/ /evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/dash board",
        "/x\u{0}",
        "/x\u{7f}",
        "/caf\u{e9}",
        "/\u{ff0f}evil.example",
        "/\u{2215}evil.example",
        // percent-encoded variants
        "%2F%2Fevil.example",
        "%2f%2fevil.example",
        "/%2F%2Fevil.example",
        "/%2fevil.example",
        "/%2F/evil.example",
        "/%5Cevil.example",
        "/%5cevil.example",
        "%5C%5Cevil.example",
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0D%0ALocation:%20https://evil.example",
        "/%00",
        "/%20/evil.example",
        "/a%5Cb",
        // double and deeper encodings
        "/%252F%252Fevil.example",
        "/%252fevil.example",
        "/%255Cevil.example",
        "/%25252F%25252Fevil.example",
        "/%2525252F",
        "/%252525252F",
        "/%25090",
    ];

    /// Same-origin paths that must be accepted unchanged.
    const ACCEPTED: &[&str] = &[
        "/",
        "/dashboard",
        "/dashboard/",
        "/a/b/c?x=1&y=2#frag",
        "/search?q=a%2Fb",
        "/files/a%20b",
        "/caf%C3%A9",
        "/100%",
        "/100%25",
        "/x?next=//evil.example",
        "/x?u=https://evil.example",
        "/x#//evil.example",
        "/?",
        "/#",
        "/.",
        "/..",
        "/.well-known/x",
        "/a//b",
        "/~user/",
        "/a:b",
    ];

    #[test]
    fn payloads_are_refused() {
        for payload in REFUSED {
            assert_eq!(safe_next(payload), None, "accepted {payload:?}");
            assert_eq!(
                safe_redirect_target(payload, &["app.example"]),
                None,
                "accepted {payload:?} with an allowlist"
            );
        }
    }

    #[test]
    fn same_origin_paths_are_accepted_unchanged() {
        for path in ACCEPTED {
            assert_eq!(safe_next(path), Some(*path), "refused {path:?}");
        }
    }

    #[test]
    fn length_is_bounded() {
        let long = format!("/{}", "a".repeat(MAX_NEXT_LEN - 1));
        assert_eq!(safe_next(&long), Some(long.as_str()));
        let too_long = format!("/{}", "a".repeat(MAX_NEXT_LEN));
        assert_eq!(safe_next(&too_long), None);
    }

    #[test]
    fn decoding_depth_is_bounded() {
        // `x` (`%78`) under three more layers of encoding: four decodings reach
        // it, accepted ...
        assert_eq!(safe_next("/%25252578"), Some("/%25252578"));
        // ... one layer more than we look at: refused.
        assert!(safe_next("/%2525252578").is_none());
    }

    #[test]
    fn allowlisted_hosts() {
        let hosts = ["app.example", "admin.example:8443"];
        for ok in [
            "https://app.example",
            "https://app.example/",
            "https://app.example/a?b=c#d",
            "http://app.example/a",
            "HTTPS://APP.EXAMPLE/x",
            "https://admin.example:8443/x",
            "https://app.example?x=1",
        ] {
            assert_eq!(safe_redirect_target(ok, &hosts), Some(ok), "refused {ok:?}");
        }
        for bad in [
            "https://app.example.evil.example/",
            "https://evil.example/app.example",
            "https://app.example@evil.example/",
            "https://evil.example@app.example/",
            "https://app.example:443/",
            "https://admin.example/",
            "https://app%2Eexample/",
            "https:app.example",
            "https:/app.example",
            "https:///app.example",
            "ftp://app.example/",
            "javascript://app.example/%0Aalert(1)",
            "//app.example/",
            "https://app.example\\@evil.example/",
            "https://app.example /",
        ] {
            assert_eq!(safe_redirect_target(bad, &hosts), None, "accepted {bad:?}");
        }
        // No allowlist: no absolute URL at all.
        assert_eq!(safe_next("https://app.example/"), None);
    }

    /// Every accepted path, joined with a base URL by a WHATWG URL parser (the one
    /// browsers implement), stays on the base's origin; so does each of its
    /// percent-decoded forms, as a proxy that decodes once more would send it.
    #[cfg(feature = "oidc")]
    #[test]
    fn accepted_targets_stay_on_origin_for_a_whatwg_parser() {
        let base = reqwest::Url::parse("https://app.example/base/page").unwrap();
        let pieces = [
            "/",
            "\\",
            "%2F",
            "%2f",
            "%5C",
            "%252F",
            "%255C",
            "%09",
            "%0A",
            "%20",
            "\t",
            " ",
            ":",
            "https:",
            "@",
            ".",
            "..",
            "%2E",
            "evil.example",
            "?",
            "#",
            "%",
        ];
        let mut candidates: Vec<String> = REFUSED
            .iter()
            .chain(ACCEPTED)
            .map(|s| (*s).to_owned())
            .collect();
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    candidates.push(format!("{a}{b}{c}evil.example"));
                    candidates.push(format!("/{a}{b}{c}"));
                }
            }
        }
        let mut accepted = 0;
        for candidate in &candidates {
            let Some(target) = safe_next(candidate) else {
                continue;
            };
            accepted += 1;
            let mut form = target.as_bytes().to_vec();
            for _ in 0..=MAX_DECODE_ROUNDS {
                let text = String::from_utf8_lossy(&form).into_owned();
                let joined = base.join(&text).unwrap();
                assert_eq!(
                    joined.origin(),
                    base.origin(),
                    "{candidate:?} (as {text:?}) leaves the site: {joined}"
                );
                form = rustango_http::percent::decode(&form);
            }
        }
        assert!(accepted > 100, "only {accepted} candidates accepted");
    }
}
