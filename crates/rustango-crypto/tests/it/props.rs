//! Property tests: the parsers of untrusted input never panic, and what we sign we
//! verify.

use std::time::Duration;

use proptest::prelude::*;
use rustango_crypto::{api_keys, passwords, signed_url, signing, totp, webhook};

const KEY: &[u8] = b"property test key, 32 bytes or more";

/// Strings rich in the characters the parsers care about.
fn url_like() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "(https?://[a-z.:0-9]{0,12})?[/a-zA-Z0-9%~+ é\\[\\]]{0,16}(\\?([a-zA-Z0-9%=&\\[\\]+. é-]|expires|signature){0,12})?(#.{0,4})?",
    )
    .expect("valid regex")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn split_token_never_panics_and_only_returns_clean_parts(s in any::<String>()) {
        if let Some((prefix, secret)) = api_keys::split_token(&s) {
            prop_assert_eq!(format!("{prefix}.{secret}"), s.clone());
            prop_assert!(!prefix.is_empty() && !secret.is_empty());
            prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        }
    }

    #[test]
    fn split_token_on_near_misses(s in "[a-z0-9._ -]{0,40}") {
        let _ = api_keys::split_token(&s);
    }

    #[test]
    fn verify_key_never_panics(secret in any::<String>(), hash in any::<String>()) {
        let _ = api_keys::verify_key(&secret, &hash);
        let _ = api_keys::needs_rehash(&hash);
    }

    #[test]
    fn verify_key_on_near_misses(hash in "(sha256\\$|\\$argon2id\\$|\\$)[0-9a-fv=,$mtp]{0,70}") {
        let _ = api_keys::verify_key("secret", &hash);
    }

    #[test]
    fn password_verify_never_panics(phc in any::<String>()) {
        let _ = passwords::verify_password("pw", &phc);
        let _ = passwords::needs_rehash(&phc);
    }

    #[test]
    fn strength_check_never_panics(pw in any::<String>(), attr in any::<String>()) {
        let _ = passwords::check_strength(&pw, &[&attr, ""]);
    }

    #[test]
    fn signed_url_verify_never_panics(url in any::<String>()) {
        let _ = signed_url::verify_at(&url, KEY, 0);
    }

    #[test]
    fn signed_url_verify_on_url_like_input(url in url_like()) {
        let _ = signed_url::verify_at(&url, KEY, 0);
    }

    #[test]
    fn signed_url_round_trip(url in url_like(), ttl in proptest::option::of(1u64..100_000)) {
        let now = 1_700_000_000;
        let signed = signed_url::sign_at(&url, KEY, ttl.map(Duration::from_secs), now);
        prop_assert_eq!(signed_url::verify_at(&signed, KEY, now), Ok(()), "{}", signed);
        prop_assert_eq!(
            signed_url::verify_at(&signed, b"other key", now),
            Err(signed_url::SignedUrlError::BadSignature)
        );
    }

    #[test]
    fn webhook_parsers_never_panic(header in any::<String>(), now in any::<u64>()) {
        let _ = webhook::verify_signature(KEY, b"payload", &header);
        let _ = webhook::verify_timestamped(KEY, b"payload", &header, Duration::from_secs(300), now);
    }

    #[test]
    fn webhook_timestamped_near_misses(header in "[tv01=, a-f0-9]{0,120}", now in any::<u64>()) {
        let _ = webhook::verify_timestamped(KEY, b"payload", &header, Duration::from_secs(300), now);
    }

    #[test]
    fn webhook_round_trip(payload in any::<Vec<u8>>(), t in any::<u64>()) {
        let header = webhook::sign_timestamped(KEY, &payload, t);
        prop_assert_eq!(
            webhook::verify_timestamped(KEY, &payload, &header, Duration::ZERO, t),
            Ok(())
        );
        prop_assert_eq!(webhook::verify_signature(KEY, &payload, &webhook::sign(KEY, &payload)), Ok(()));
    }

    #[test]
    fn signing_loads_never_panics(token in any::<String>(), now in any::<u64>()) {
        let signer = signing::Signer::new(KEY, "salt");
        let _ = signer.loads_at::<serde_json::Value>(&token, Some(Duration::from_secs(1)), now);
    }

    #[test]
    fn signing_loads_on_near_misses(token in "[A-Za-z0-9_.=-]{0,80}") {
        let _ = signing::loads::<serde_json::Value>(&token, KEY, "salt", None);
    }

    #[test]
    fn signing_round_trip(value in any::<(String, i64, Vec<bool>)>(), now in any::<u64>()) {
        let signer = signing::Signer::new(KEY, "salt");
        let token = signer.dumps_at(&value, now).unwrap();
        let back: (String, i64, Vec<bool>) = signer.loads_at(&token, None, now).unwrap();
        prop_assert_eq!(back, value);
    }

    #[test]
    fn totp_parsers_never_panic(text in any::<String>(), code in any::<String>(), t in any::<u64>()) {
        let _ = totp::TotpSecret::from_base32(&text);
        let secret = totp::TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        let _ = totp::Totp::new().verify_step_at(&secret, &code, t);
    }

    #[test]
    fn totp_base32_near_misses(text in "[A-Za-z2-7= -]{0,40}") {
        let _ = totp::TotpSecret::from_base32(&text);
    }
}
