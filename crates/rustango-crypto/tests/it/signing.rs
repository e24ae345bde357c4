use std::time::Duration;

use rustango_crypto::signing::{self, Signer, SigningError};
use serde::{Deserialize, Serialize};

const KEY: &[u8] = b"signing test key, 32 bytes or more!!";
const NOW: u64 = 1_700_000_000;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Reset {
    user_id: u64,
    email: String,
    scopes: Vec<String>,
}

fn reset() -> Reset {
    Reset {
        user_id: 7,
        email: "alice@example.com".into(),
        scopes: vec!["password".into()],
    }
}

#[test]
fn round_trip() {
    let token = signing::dumps(&reset(), KEY, "reset").unwrap();
    assert_eq!(token.matches('.').count(), 2);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
        "URL- and cookie-safe: {token}"
    );
    let back: Reset = signing::loads(&token, KEY, "reset", None).unwrap();
    assert_eq!(back, reset());
    let back: Reset = signing::loads(&token, KEY, "reset", Some(Duration::from_secs(60))).unwrap();
    assert_eq!(back, reset());
}

#[test]
fn scalars_strings_and_unicode() {
    let signer = Signer::new(KEY, "misc");
    for value in [
        serde_json::json!(null),
        serde_json::json!(42),
        serde_json::json!("héllo \u{1f600} . : $"),
        serde_json::json!({"nested": [1, 2, {"a": true}]}),
    ] {
        let token = signer.dumps(&value).unwrap();
        let back: serde_json::Value = signer.loads(&token, None).unwrap();
        assert_eq!(back, value);
    }
}

#[test]
fn salt_namespaces_tokens() {
    let token = signing::dumps(&reset(), KEY, "reset").unwrap();
    for salt in ["confirm", "", "reset ", "Reset"] {
        assert!(
            matches!(
                signing::loads::<Reset>(&token, KEY, salt, None),
                Err(SigningError::BadSignature)
            ),
            "{salt:?}"
        );
    }
}

#[test]
fn wrong_key_and_tampering() {
    let signer = Signer::new(KEY, "s");
    let token = signer.dumps_at(&reset(), NOW).unwrap();
    assert!(matches!(
        Signer::new(b"another key", "s").loads::<Reset>(&token, None),
        Err(SigningError::BadSignature)
    ));
    let (payload, rest) = token.split_once('.').unwrap();
    let (timestamp, signature) = rest.split_once('.').unwrap();

    // Another payload under the old signature.
    let forged_payload = Signer::new(b"attacker key", "s")
        .dumps_at(
            &Reset {
                user_id: 1,
                ..reset()
            },
            NOW,
        )
        .unwrap();
    let other_payload = forged_payload.split_once('.').unwrap().0;
    // A fresher timestamp under the old signature.
    let later = Signer::new(KEY, "s")
        .dumps_at(&reset(), NOW + 10_000)
        .unwrap();
    let later_ts = later.split('.').nth(1).unwrap();
    assert_ne!(later_ts, timestamp);
    let cases = [
        format!("{other_payload}.{timestamp}.{signature}"),
        format!("{payload}.{later_ts}.{signature}"),
        format!("{payload}.{timestamp}.{}", "A".repeat(43)),
        format!("{payload}x.{timestamp}.{signature}"),
    ];
    for case in cases {
        assert!(
            matches!(
                signer.loads_at::<Reset>(&case, None, NOW),
                Err(SigningError::BadSignature)
            ),
            "{case}"
        );
    }
}

#[test]
fn malformed_tokens() {
    let signer = Signer::new(KEY, "s");
    let token = signer.dumps(&1).unwrap();
    let long = "a".repeat(signing::MAX_TOKEN_LEN + 1);
    for bad in [
        "",
        ".",
        "..",
        "a",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        &format!("x.{token}"),
        &format!("{token}A"),
        &format!("{token}="),
        &token[..token.len() - 1],
        "e30.1.!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        long.as_str(),
    ] {
        assert!(
            matches!(
                signer.loads::<serde_json::Value>(bad, None),
                Err(SigningError::Malformed)
            ),
            "{bad:?}: {:?}",
            signer.loads::<serde_json::Value>(bad, None)
        );
    }
}

#[test]
fn max_age() {
    let signer = Signer::new(KEY, "age");
    let token = signer.dumps_at(&"v", NOW).unwrap();
    let minute = Some(Duration::from_secs(60));
    assert_eq!(
        signer.loads_at::<String>(&token, minute, NOW + 60).unwrap(),
        "v"
    );
    let err = signer
        .loads_at::<String>(&token, minute, NOW + 61)
        .unwrap_err();
    assert!(
        matches!(
            err,
            SigningError::Expired {
                age_secs: 61,
                max_age_secs: 60
            }
        ),
        "{err:?}"
    );
    // No max age: any age.
    assert_eq!(
        signer.loads_at::<String>(&token, None, u64::MAX).unwrap(),
        "v"
    );
    // A timestamp from the future (skewed clocks) has age zero.
    assert_eq!(signer.loads_at::<String>(&token, minute, 0).unwrap(), "v");
}

#[test]
fn expired_is_only_reported_for_authentic_tokens() {
    let signer = Signer::new(KEY, "age");
    let token = signer.dumps_at(&"v", NOW).unwrap();
    let tampered = format!("{}.{}", "InciIg", token.split_once('.').unwrap().1);
    assert!(matches!(
        signer.loads_at::<String>(&tampered, Some(Duration::ZERO), u64::MAX),
        Err(SigningError::BadSignature)
    ));
}

#[test]
fn key_rotation_with_fallback_keys() {
    let old_key = b"old key, 32 bytes or more.........";
    let older_key = b"older key, 32 bytes or more.......";
    let new_key = b"new key, 32 bytes or more.........";
    let old_token = signing::dumps(&reset(), old_key, "reset").unwrap();
    let older_token = signing::dumps(&reset(), older_key, "reset").unwrap();

    let signer = Signer::new(new_key, "reset").with_fallback_keys([old_key, older_key]);
    assert_eq!(signer.loads::<Reset>(&old_token, None).unwrap(), reset());
    assert_eq!(signer.loads::<Reset>(&older_token, None).unwrap(), reset());

    // New tokens use the new key only.
    let new_token = signer.dumps(&reset()).unwrap();
    assert_eq!(
        signing::loads::<Reset>(&new_token, new_key, "reset", None).unwrap(),
        reset()
    );
    assert!(matches!(
        signing::loads::<Reset>(&new_token, old_key, "reset", None),
        Err(SigningError::BadSignature)
    ));
    // Fallbacks are derived for the signer's salt.
    let other_salt = signing::dumps(&reset(), old_key, "confirm").unwrap();
    assert!(matches!(
        signer.loads::<Reset>(&other_salt, None),
        Err(SigningError::BadSignature)
    ));
}

#[test]
fn wrong_type_is_a_json_error() {
    let token = signing::dumps(&"a string", KEY, "t").unwrap();
    let err = signing::loads::<u32>(&token, KEY, "t", None).unwrap_err();
    assert!(matches!(err, SigningError::Json { .. }), "{err:?}");
    // Values JSON cannot represent.
    let mut map = std::collections::HashMap::new();
    map.insert((1, 2), 3);
    assert!(matches!(
        signing::dumps(&map, KEY, "t"),
        Err(SigningError::Json { .. })
    ));
}

#[test]
fn debug_hides_keys() {
    let signer = Signer::new(b"super-secret-key", "my-salt").with_fallback_keys([b"old-secret"]);
    let printed = format!("{signer:?}");
    assert_eq!(printed, r#"Signer { salt: "my-salt", keys: [***; 2] }"#);
    assert_eq!(signer.salt(), "my-salt");
}
