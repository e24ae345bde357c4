use std::time::Duration;

use rustango_crypto::webhook::{self, WebhookError, verify_signature, verify_timestamped};

const TOLERANCE: Duration = webhook::DEFAULT_TOLERANCE;

#[test]
fn github_documentation_vector() {
    // GitHub's "Validating webhook deliveries" example.
    let secret = b"It's a Secret to Everybody";
    let payload = b"Hello, World!";
    let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(webhook::sign(secret, payload), header);
    assert_eq!(verify_signature(secret, payload, header), Ok(()));
}

#[test]
fn plain_signature_encodings() {
    let secret = b"shpss_secret";
    let payload = br#"{"order":1}"#;
    let b64 = "yDVNpmxQCNEQC9dKCR/hodz9eTb2Z3NwQa93joRgIFc="; // Python hmac + base64
    assert_eq!(webhook::sign_base64(secret, payload), b64);
    let hex = webhook::sign(secret, payload)
        .strip_prefix("sha256=")
        .unwrap()
        .to_owned();
    let accepted = [
        hex.clone(),
        hex.to_ascii_uppercase(),
        format!("sha256={hex}"),
        format!("SHA256={hex}"),
        format!("  sha256={hex} \r\n"),
        b64.to_owned(),
        b64.trim_end_matches('=').to_owned(),
        b64.replace('/', "_"),
        b64.replace('/', "_").trim_end_matches('=').to_owned(),
        format!("sha256={b64}"),
    ];
    for header in &accepted {
        assert_eq!(
            verify_signature(secret, payload, header),
            Ok(()),
            "{header}"
        );
    }
}

#[test]
fn plain_signature_failures() {
    let secret = b"s3cret";
    let payload = b"payload";
    let good = webhook::sign(secret, payload);
    assert_eq!(
        verify_signature(b"other", payload, &good),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(
        verify_signature(secret, b"payload!", &good),
        Err(WebhookError::BadSignature)
    );
    for missing in ["", "   ", "sha256=", "sha256=  "] {
        assert_eq!(
            verify_signature(secret, payload, missing),
            Err(WebhookError::MissingSignature),
            "{missing:?}"
        );
    }
    let long = "a".repeat(webhook::MAX_HEADER_LEN + 1);
    for malformed in [
        "sha256=xyz",
        &good[..good.len() - 1],
        &format!("{good}0"),
        "sha1=0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33",
        "sha256=!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        "é",
        long.as_str(),
    ] {
        assert_eq!(
            verify_signature(secret, payload, malformed),
            Err(WebhookError::MalformedHeader),
            "{malformed:?}"
        );
    }
}

#[test]
fn timestamped_vector() {
    // Python: hmac.new(b"whsec_test", b'1700000000.{"id":"evt_1"}', sha256).hexdigest()
    let header = "t=1700000000,v1=c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925";
    let payload = br#"{"id":"evt_1"}"#;
    assert_eq!(
        webhook::sign_timestamped(b"whsec_test", payload, 1_700_000_000),
        header
    );
    assert_eq!(
        verify_timestamped(b"whsec_test", payload, header, TOLERANCE, 1_700_000_000),
        Ok(())
    );
}

#[test]
fn replay_window() {
    let secret = b"whsec_window";
    let payload = b"{}";
    let t = 1_700_000_000;
    let header = webhook::sign_timestamped(secret, payload, t);
    for now in [t, t + 1, t + 300, t - 300] {
        assert_eq!(
            verify_timestamped(secret, payload, &header, TOLERANCE, now),
            Ok(()),
            "now {now}"
        );
    }
    for now in [t + 301, t - 301, 0, u64::MAX] {
        assert_eq!(
            verify_timestamped(secret, payload, &header, TOLERANCE, now),
            Err(WebhookError::OutsideTolerance { timestamp: t, now }),
            "now {now}"
        );
    }
    // Refreshing `t` to replay an old delivery breaks the MAC.
    let replayed = header.replace(&format!("t={t}"), &format!("t={}", t + 3600));
    assert_eq!(
        verify_timestamped(secret, payload, &replayed, TOLERANCE, t + 3600),
        Err(WebhookError::BadSignature)
    );
    // The wall-clock wrapper refuses a 2023 timestamp.
    assert!(matches!(
        webhook::verify_timestamped_now(secret, payload, &header, TOLERANCE),
        Err(WebhookError::OutsideTolerance { .. })
    ));
}

#[test]
fn several_v1_signatures_for_key_rotation() {
    let payload = b"body";
    let t = 1_700_000_000;
    let old = webhook::sign_timestamped(b"old-secret", payload, t);
    let new = webhook::sign_timestamped(b"new-secret", payload, t);
    let old_v1 = old.split_once(",v1=").unwrap().1;
    let new_v1 = new.split_once(",v1=").unwrap().1;
    let both = format!("t={t},v1={old_v1},v1={new_v1},v0=deadbeef");
    assert_eq!(
        verify_timestamped(b"new-secret", payload, &both, TOLERANCE, t),
        Ok(())
    );
    assert_eq!(
        verify_timestamped(b"old-secret", payload, &both, TOLERANCE, t),
        Ok(())
    );
    assert_eq!(
        verify_timestamped(b"third-secret", payload, &both, TOLERANCE, t),
        Err(WebhookError::BadSignature)
    );
    // Spaces around items, undecodable entries next to a good one, order of items.
    let messy = format!(" v1=nothex , v1={new_v1} , t={t} ");
    assert_eq!(
        verify_timestamped(b"new-secret", payload, &messy, TOLERANCE, t),
        Ok(())
    );
}

#[test]
fn timestamped_header_errors() {
    let secret = b"k";
    let payload = b"p";
    let t = 1_700_000_000;
    let header = webhook::sign_timestamped(secret, payload, t);
    let v1 = header.split_once(",v1=").unwrap().1;
    let check = |h: &str| verify_timestamped(secret, payload, h, TOLERANCE, t);

    assert_eq!(check(""), Err(WebhookError::MissingSignature));
    assert_eq!(
        check(&format!("t={t}")),
        Err(WebhookError::MissingSignature)
    );
    assert_eq!(
        check(&format!("t={t},v0={v1}")),
        Err(WebhookError::MissingSignature)
    );
    for malformed in [
        format!("v1={v1}"),
        format!("t={t},t={t},v1={v1}"),
        format!("t=abc,v1={v1}"),
        format!("t=-5,v1={v1}"),
        format!("t=,v1={v1}"),
        format!("t=99999999999999999999999,v1={v1}"),
        format!("t={t},v1={v1},garbage"),
        format!("t={t};v1={v1}"),
        format!("t={t},{}", vec![format!("v1={v1}"); 9].join(",")),
        "x".repeat(webhook::MAX_HEADER_LEN + 1),
    ] {
        assert_eq!(
            check(&malformed),
            Err(WebhookError::MalformedHeader),
            "{malformed}"
        );
    }
    let flipped = format!(
        "{}{}",
        if v1.starts_with('0') { '1' } else { '0' },
        &v1[1..]
    );
    assert_eq!(
        check(&format!("t={t},v1={flipped}")),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(
        check(&format!("t={t},v1=zz")),
        Err(WebhookError::BadSignature),
        "only undecodable v1 entries: nothing matches"
    );
}
