//! [`mask_url`]: hide credentials in connection strings before they are printed.

/// Substrings that mark a query or keyword parameter as sensitive (matched
/// case-insensitively against the parameter name).
const SENSITIVE_PARAMS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "credential",
    "sig",
];

/// The mask that replaces hidden text.
const MASK: &str = "***";

/// Returns `url` with its password and sensitive parameters replaced by `***`.
///
/// Used by the `Debug` output of [`Settings`](crate::Settings) for the database and
/// Redis URLs, and meant for anyone who logs a connection string.
///
/// * `scheme://user:password@host/…` becomes `scheme://user:***@host/…`; a user name
///   without a password is kept.
/// * Query parameters whose name contains `pass`, `pwd`, `secret`, `token`, `key`,
///   `auth`, `credential` or `sig` keep their name and lose their value
///   (`?password=x&sslmode=require` → `?password=***&sslmode=require`).
/// * Strings without `://` (libpq keyword strings such as
///   `host=db password='a b'`) get the same parameter masking, and anything between a
///   `:` and a later `@` is masked too.
///
/// Malformed URLs are masked conservatively: a password that contains an unencoded
/// `@`, `/`, `?` or `#` is still hidden, at the price of sometimes hiding part of the
/// host or path as well. The function never fails.
///
/// ```
/// use rustango_config::mask_url;
/// assert_eq!(
///     mask_url("postgres://app:s3cret@db:5432/app?sslmode=require&password=s3cret"),
///     "postgres://app:***@db:5432/app?sslmode=require&password=***",
/// );
/// assert_eq!(mask_url("sqlite://rustango.db?mode=rwc"), "sqlite://rustango.db?mode=rwc");
/// ```
pub fn mask_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return mask_opaque(url);
    };
    let (head, rest) = url.split_at(scheme_end + 3);
    let mut out = String::with_capacity(url.len());
    out.push_str(head);

    let mut tail = rest;
    if let Some(at) = userinfo_end(rest) {
        let userinfo = &rest[..at];
        match userinfo.find(':') {
            Some(colon) => {
                out.push_str(&userinfo[..=colon]);
                out.push_str(MASK);
            }
            None => out.push_str(userinfo),
        }
        out.push('@');
        tail = &rest[at + 1..];
    }

    match tail.find('?') {
        Some(q) => {
            out.push_str(&tail[..=q]);
            out.push_str(&mask_params(&tail[q + 1..]));
        }
        None => out.push_str(tail),
    }
    out
}

/// The byte index in `rest` (the URL after `scheme://`) of the `@` that ends the user
/// information, if there is user information.
fn userinfo_end(rest: &str) -> Option<usize> {
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];

    if let Some(at) = authority.rfind('@') {
        // A password containing an unencoded `/` followed by `@` (`u:p@a/s@host`) would
        // otherwise leave `a/s` visible; a path with an `@` in it is rare enough that
        // over-masking it is the better trade.
        if authority[..at].contains(':') {
            let path_end = rest[authority_end..]
                .find(['?', '#'])
                .map_or(rest.len(), |i| authority_end + i);
            if let Some(later) = rest[authority_end..path_end].rfind('@') {
                return Some(authority_end + later);
            }
        }
        return Some(at);
    }

    // No `@` in the authority. `host:5432` is a port; `user:pa` followed by `/`, `?` or
    // `#` is a password containing one of them, so mask up to the last `@`, if any.
    let after_host = match authority.strip_prefix('[') {
        // IPv6 literal: its colons are not a userinfo separator.
        Some(v6) => v6.find(']').map_or("", |end| &v6[end + 1..]),
        None => authority,
    };
    let colon = after_host.find(':')?;
    let port = &after_host[colon + 1..];
    if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
        // `host:5432` is a port, unless an `@` follows that cannot be part of a path
        // or a query value: then `user:1234/a@host` or `:12?x@host` has a password of
        // digits and `/`, `?` or `#` (an `@` in the path is over-masked rather than a
        // password shown; `?name=me@host` is a query value and left alone).
        let after = &rest[authority_end..];
        let path_end = after.find(['?', '#']).unwrap_or(after.len());
        if let Some(at) = after[..path_end].rfind('@') {
            return Some(authority_end + at);
        }
        let query = after.get(path_end + 1..).unwrap_or_default();
        // The last `@` before any `=`: a password may hold `@` too (`:12?x@y@host`).
        let before_value = &query[..query.find('=').unwrap_or(query.len())];
        return before_value
            .rfind('@')
            .map(|at| authority_end + path_end + 1 + at);
    }
    rest.rfind('@')
}

/// Masks a string that is not a `scheme://` URL.
fn mask_opaque(s: &str) -> String {
    let masked = mask_params(s);
    // `user:password@host` without a scheme.
    if let Some(at) = masked.rfind('@')
        && let Some(colon) = masked[..at].find(':')
    {
        return format!("{}{MASK}{}", &masked[..=colon], &masked[at..]);
    }
    masked
}

fn is_separator(c: char) -> bool {
    c == '&' || c == ';' || c.is_whitespace()
}

fn is_sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SENSITIVE_PARAMS.iter().any(|s| name.contains(s))
}

/// Masks the values of sensitive `name=value` pairs separated by `&`, `;` or
/// whitespace. Values may be single-quoted with backslash escapes (libpq), and
/// whitespace around `=` is allowed (`password = x`).
fn mask_params(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let sep = rest.find(|c| !is_separator(c)).unwrap_or(rest.len());
        out.push_str(&rest[..sep]);
        rest = &rest[sep..];
        if rest.is_empty() {
            break;
        }

        let name_end = rest
            .find(|c| c == '=' || is_separator(c))
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        out.push_str(name);
        rest = &rest[name_end..];

        let ws = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        if !rest[ws..].starts_with('=') {
            continue;
        }
        out.push_str(&rest[..=ws]);
        rest = &rest[ws + 1..];
        let ws = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        out.push_str(&rest[..ws]);
        rest = &rest[ws..];

        let len = value_len(rest);
        if is_sensitive(name) {
            out.push_str(MASK);
        } else {
            out.push_str(&rest[..len]);
        }
        rest = &rest[len..];
    }
    out
}

/// Length in bytes of the value at the start of `s`: a single-quoted string (with
/// backslash escapes; unterminated means "to the end") or text up to a separator.
fn value_len(s: &str) -> usize {
    if let Some(quoted) = s.strip_prefix('\'') {
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '\'' => return i + 2,
                _ => {}
            }
        }
        return s.len();
    }
    s.find(is_separator).unwrap_or(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        assert_eq!(mask_url(input), expected, "input: {input}");
    }

    #[test]
    fn plain_urls_are_unchanged() {
        check(
            "sqlite://rustango.db?mode=rwc",
            "sqlite://rustango.db?mode=rwc",
        );
        check("sqlite::memory:", "sqlite::memory:");
        check("sqlite:rustango.db", "sqlite:rustango.db");
        check("postgres://db:5432/app", "postgres://db:5432/app");
        check("postgres://[::1]:5432/app", "postgres://[::1]:5432/app");
        check("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0");
        check("", "");
    }

    #[test]
    fn user_without_password_is_kept() {
        check("postgres://app@db/app", "postgres://app@db/app");
    }

    #[test]
    fn password_in_userinfo_is_masked() {
        check(
            "postgres://app:s3cret@db:5432/app",
            "postgres://app:***@db:5432/app",
        );
        check("redis://:s3cret@cache:6379", "redis://:***@cache:6379");
        check("postgres://app:@db/app", "postgres://app:***@db/app");
        check(
            "postgres://app:p%40ss@[::1]:5432/app",
            "postgres://app:***@[::1]:5432/app",
        );
    }

    #[test]
    fn unencoded_special_characters_in_passwords_stay_hidden() {
        // `@` inside the password.
        check("postgres://u:p@ss@db/app", "postgres://u:***@db/app");
        // `/`, `?` and `#` inside the password.
        check("postgres://u:pa/ss@db/app", "postgres://u:***@db/app");
        check("postgres://u:pa?ss@db/app", "postgres://u:***@db/app");
        check("postgres://u:pa#ss@db/app", "postgres://u:***@db/app");
        // `@` and `/` inside the password.
        check("postgres://u:p@a/s@db/app", "postgres://u:***@db/app");
        // A password of digits before its `/`, `?` or `#` looks like a port.
        check(
            "postgres://app:1234/abc@db/app",
            "postgres://app:***@db/app",
        );
        check("redis://:12?x@cache", "redis://:***@cache");
        check("redis://:12?x@y@cache", "redis://:***@cache");
        check("redis://:12#x@cache:6379", "redis://:***@cache:6379");
        check(
            "postgres://u:99/a@b@db/app?x=1",
            "postgres://u:***@db/app?x=1",
        );
        for url in [
            "postgres://u:p@ss@db/app",
            "postgres://u:pa/ss@db/app",
            "postgres://u:p@a/s@db/app",
            "mysql://u:x?y#z@db/app?email=a@b.c",
        ] {
            let masked = mask_url(url);
            for fragment in ["p@ss", "pa/ss", "a/s", "x?y#z", "ss@"] {
                assert!(!masked.contains(fragment), "{url} -> {masked}");
            }
        }
    }

    #[test]
    fn at_sign_in_the_query_does_not_expose_the_password() {
        check(
            "postgres://u:pw@db/app?application_name=me@host",
            "postgres://u:***@db/app?application_name=me@host",
        );
        check(
            "postgres://db:5432/app?application_name=me@host",
            "postgres://db:5432/app?application_name=me@host",
        );
    }

    #[test]
    fn sensitive_query_parameters_are_masked() {
        check(
            "postgres://db/app?sslmode=require&password=s3cret&PassWord=x",
            "postgres://db/app?sslmode=require&password=***&PassWord=***",
        );
        check(
            "redis://cache/0?token=abc;api_key=def&timeout=5",
            "redis://cache/0?token=***;api_key=***&timeout=5",
        );
        check(
            "postgres://u:pw@db/app?sslpassword=k&x",
            "postgres://u:***@db/app?sslpassword=***&x",
        );
        check(
            "postgres://db/app?password=",
            "postgres://db/app?password=***",
        );
    }

    #[test]
    fn keyword_strings_are_masked() {
        check(
            "host=db user=app password=s3cret dbname=app",
            "host=db user=app password=*** dbname=app",
        );
        check(
            "host=db password='it\\'s a secret' dbname=app",
            "host=db password=*** dbname=app",
        );
        check(
            "password = 's p a c e' port=5432",
            "password = *** port=5432",
        );
        check("password='unterminated", "password=***");
        check(
            "sqlite:data.db?mode=rwc&password=x",
            "sqlite:data.db?mode=rwc&password=***",
        );
    }

    #[test]
    fn userinfo_without_scheme_is_masked() {
        check("app:s3cret@db:5432", "app:***@db:5432");
        check("app@db", "app@db");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "://",
            "@",
            ":@",
            "a://@",
            "a://:",
            "a://[",
            "a://[::1",
            "=",
            "==",
            "'",
            "?",
            "a://?=",
            "ü://ü:ü@ü?ü=ü",
            "p=\\",
        ] {
            let _ = mask_url(s);
        }
    }
}
