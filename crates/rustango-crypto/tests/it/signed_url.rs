use std::time::Duration;

use rustango_crypto::signed_url::{self, MalformedReason, SignedUrlError, sign_at, verify_at};

const KEY: &[u8] = b"signed-url test key, 32 bytes or more";
const NOW: u64 = 1_700_000_000;
const HOUR: Option<Duration> = Some(Duration::from_secs(3600));

fn signed(url: &str) -> String {
    sign_at(url, KEY, HOUR, NOW)
}

fn malformed(reason: MalformedReason) -> Result<(), SignedUrlError> {
    Err(SignedUrlError::Malformed { reason })
}

/// The signature value of a signed URL.
fn sig_of(url: &str) -> &str {
    url.rsplit_once("signature=").unwrap().1
}

// ANCHOR: signed_url
#[test]
fn round_trip_absolute_and_path_only() {
    let url = signed("https://app.example.com/login?email=alice@x.com");
    assert!(
        url.starts_with(&format!(
            "https://app.example.com/login?email=alice@x.com&expires={}&signature=",
            NOW + 3600
        )),
        "{url}"
    );
    assert_eq!(verify_at(&url, KEY, NOW), Ok(()));
    // What a server sees as the request target.
    let target = url.strip_prefix("https://app.example.com").unwrap();
    assert_eq!(verify_at(target, KEY, NOW), Ok(()));
    // Signing a path works the same.
    let path = signed("/files/report.pdf");
    assert!(path.starts_with("/files/report.pdf?expires="));
    assert_eq!(verify_at(&path, KEY, NOW), Ok(()));
    assert_eq!(
        verify_at(&format!("http://other.example:8080{path}"), KEY, NOW),
        Ok(()),
        "the host is not signed (documented)"
    );
}
// ANCHOR_END: signed_url

#[test]
fn current_clock_wrappers() {
    let url = signed_url::sign("/x?a=1", KEY, Some(Duration::from_secs(60)));
    assert_eq!(signed_url::verify(&url, KEY), Ok(()));
    let forever = signed_url::sign("/x", KEY, None);
    assert_eq!(signed_url::verify(&forever, KEY), Ok(()));
}

#[test]
fn without_ttl_there_is_no_expiry() {
    let url = sign_at("/download/42", KEY, None, NOW);
    assert!(!url.contains("expires="), "{url}");
    assert_eq!(verify_at(&url, KEY, u64::MAX), Ok(()));
}

#[test]
fn expiry() {
    let url = signed("/magic?user=7");
    let expires = NOW + 3600;
    assert_eq!(verify_at(&url, KEY, expires - 1), Ok(()));
    assert_eq!(
        verify_at(&url, KEY, expires),
        Err(SignedUrlError::Expired {
            expired_at: expires
        })
    );
    assert_eq!(
        verify_at(&url, KEY, u64::MAX),
        Err(SignedUrlError::Expired {
            expired_at: expires
        })
    );
    // A fractional TTL is rounded up.
    let url = sign_at("/m", KEY, Some(Duration::from_millis(1500)), NOW);
    assert!(url.contains(&format!("expires={}", NOW + 2)), "{url}");
    // Saturates instead of overflowing.
    let url = sign_at("/m", KEY, Some(Duration::from_secs(u64::MAX)), NOW);
    assert!(url.contains(&format!("expires={}", u64::MAX)), "{url}");
    assert_eq!(verify_at(&url, KEY, NOW), Ok(()));
}

#[test]
fn expired_is_only_reported_for_authentic_links() {
    let url = signed("/magic?user=7").replace("user=7", "user=8");
    assert_eq!(
        verify_at(&url, KEY, u64::MAX),
        Err(SignedUrlError::BadSignature)
    );
}

#[test]
fn tampering_fails_with_bad_signature() {
    let url = signed("https://app.example.com/login?email=alice@x.com&next=/home");
    let expires = format!("expires={}", NOW + 3600);
    let later = format!("expires={}", NOW + 999_999);
    let sig = sig_of(&url).to_owned();
    let cases = [
        // a value
        url.replace("alice", "mallory"),
        // a name
        url.replace("next=", "nxt="),
        // the path
        url.replace("/login", "/admin"),
        url.replace("/login", "/login/"),
        // the expiry, pushed back
        url.replace(&expires, &later),
        // the expiry, removed
        url.replace(&format!("{expires}&"), ""),
        // a parameter, removed
        url.replace("&next=/home", ""),
        // parameters, reordered
        url.replace(
            "email=alice@x.com&next=/home",
            "next=/home&email=alice@x.com",
        ),
        // a parameter inserted before the signature
        url.replace("&signature=", "&admin=1&signature="),
        // an empty value turned into a missing one
        url.replace("next=/home", "next"),
        // encoded differently in a way that changes meaning (+ is not %2B)
        url.replace("alice@", "alice+@"),
        // another signature
        url.replace(&sig, &"A".repeat(43)),
    ];
    for (i, case) in cases.iter().enumerate() {
        assert_ne!(case, &url, "case {i} changed nothing");
        assert_eq!(
            verify_at(case, KEY, NOW),
            Err(SignedUrlError::BadSignature),
            "case {i}: {case}"
        );
    }
    // The right URL with the wrong key.
    assert_eq!(
        verify_at(&url, b"another key", NOW),
        Err(SignedUrlError::BadSignature)
    );
}

#[test]
fn parameter_pollution_is_malformed() {
    let url = signed("/reset?user=7");
    let exp = format!("expires={}", NOW + 3600);
    let sig = format!("signature={}", sig_of(&url));
    let cases = [
        // appended after signing
        (
            format!("{url}&user=8"),
            MalformedReason::ParameterAfterSignature,
        ),
        (
            format!("{url}&utm_source=mail"),
            MalformedReason::ParameterAfterSignature,
        ),
        // repeated expiry, before or after the original
        (
            url.replace(&exp, &format!("{exp}&expires=99999999999")),
            MalformedReason::RepeatedParameter { name: "expires" },
        ),
        (
            url.replace("?user=7", "?expires=99999999999&user=7"),
            MalformedReason::RepeatedParameter { name: "expires" },
        ),
        // repeated signature
        (
            format!("{url}&{sig}"),
            MalformedReason::RepeatedParameter { name: "signature" },
        ),
        // array-shaped and other look-alike names
        (
            url.replace("?user=7", "?user=7&expires[]=99999999999"),
            MalformedReason::LookalikeParameter { name: "expires" },
        ),
        (
            url.replace("?user=7", "?user=7&expires%5B0%5D=9"),
            MalformedReason::LookalikeParameter { name: "expires" },
        ),
        (
            url.replace("?user=7", "?user=7&Expires=9"),
            MalformedReason::LookalikeParameter { name: "expires" },
        ),
        (
            url.replace("?user=7", "?user=7&signature[]=x"),
            MalformedReason::LookalikeParameter { name: "signature" },
        ),
        (
            format!("{url}&SIGNATURE=x"),
            MalformedReason::LookalikeParameter { name: "signature" },
        ),
        // values that are not what we write
        (
            url.replace(&exp, "expires=soon"),
            MalformedReason::InvalidExpiry,
        ),
        (
            url.replace(&exp, "expires=-1"),
            MalformedReason::InvalidExpiry,
        ),
        (url.replace(&exp, "expires"), MalformedReason::InvalidExpiry),
        (
            url.replace(&exp, "expires=99999999999999999999999"),
            MalformedReason::InvalidExpiry,
        ),
        (
            url.replace(&sig, "signature="),
            MalformedReason::InvalidSignature,
        ),
        (
            url.replace(&sig, "signature=abc"),
            MalformedReason::InvalidSignature,
        ),
        (
            url.replace(&sig, &format!("{sig}AA")),
            MalformedReason::InvalidSignature,
        ),
        (
            url.replace(&sig, &format!("signature={}", "!".repeat(43))),
            MalformedReason::InvalidSignature,
        ),
    ];
    for (case, reason) in cases {
        assert_eq!(verify_at(&case, KEY, NOW), malformed(reason), "{case}");
    }
    let long = format!("/x?a={}", "b".repeat(signed_url::MAX_URL_LEN));
    assert_eq!(
        verify_at(&long, KEY, NOW),
        malformed(MalformedReason::TooLong)
    );
}

#[test]
fn missing_signature() {
    for url in [
        "/reset?user=7",
        "/reset",
        "",
        "https://h.example/",
        "/reset?user=7&expires=99999999999",
    ] {
        assert_eq!(
            verify_at(url, KEY, NOW),
            Err(SignedUrlError::MissingSignature),
            "{url}"
        );
    }
}

#[test]
fn fragments_are_kept_and_not_signed() {
    let url = signed("/docs?page=2#section-3");
    assert!(url.ends_with("#section-3"), "{url}");
    assert_eq!(verify_at(&url, KEY, NOW), Ok(()));
    let without = url.split_once('#').unwrap().0;
    assert_eq!(verify_at(without, KEY, NOW), Ok(()));
}

#[test]
fn re_encoding_by_clients_does_not_break_links() {
    let url = signed("/search?q=caf%c3%a9&tag=a~b&sp=a b");
    // Canonical output: upper-case escapes, spaces encoded.
    assert!(url.contains("q=caf%C3%A9&tag=a~b&sp=a%20b"), "{url}");
    // A client decoding unreserved escapes or lowering hex still verifies.
    let variants = [
        url.replace("a~b", "a%7Eb"),
        url.replace("a~b", "a%7eb"),
        url.replace("%C3%A9", "%c3%a9"),
        url.replace("%C3%A9", "é"),
        url.replace("a%20b", "a b"),
    ];
    for variant in variants {
        assert_eq!(verify_at(&variant, KEY, NOW), Ok(()), "{variant}");
    }
    // Raw non-ASCII input is encoded when signing.
    let url = signed("/search?q=café");
    assert!(url.contains("q=caf%C3%A9"), "{url}");
    assert_eq!(verify_at(&url, KEY, NOW), Ok(()));
}

#[test]
fn empty_paths_and_queries() {
    let url = signed("https://h.example");
    assert!(url.starts_with("https://h.example/?expires="), "{url}");
    assert_eq!(verify_at(&url, KEY, NOW), Ok(()));
    assert_eq!(
        verify_at("/?signature=x", KEY, NOW),
        malformed(MalformedReason::InvalidSignature)
    );
    let url = signed("/a?&&b=1&");
    assert!(url.starts_with("/a?b=1&expires="), "{url}");
    assert_eq!(verify_at(&url, KEY, NOW), Ok(()));
}

#[test]
fn signing_a_signed_url_re_signs_it() {
    let first = sign_at("/r?user=7", KEY, Some(Duration::from_secs(60)), NOW);
    let second = sign_at(&first, KEY, HOUR, NOW + 10);
    assert_eq!(second.matches("expires=").count(), 1);
    assert_eq!(second.matches("signature=").count(), 1);
    assert!(second.contains(&format!("expires={}", NOW + 10 + 3600)));
    assert_eq!(verify_at(&second, KEY, NOW + 1000), Ok(()));
    // Look-alikes in the input are dropped too.
    let url = sign_at("/r?user=7&expires[]=1&Signature=2", KEY, None, NOW);
    assert!(url.starts_with("/r?user=7&signature="), "{url}");
}

#[test]
fn errors_read_well() {
    assert_eq!(
        SignedUrlError::Expired { expired_at: 5 }.to_string(),
        "the signed URL expired at 5 (unix time)"
    );
    assert_eq!(
        SignedUrlError::from(MalformedReason::RepeatedParameter { name: "expires" }).to_string(),
        "malformed signed URL: the `expires` parameter is repeated"
    );
}
