use rustango_crypto::totp::{self, Algorithm, Totp, TotpError, TotpSecret};

const SEED_SHA1: &[u8] = b"12345678901234567890";
const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

/// RFC 6238 appendix B: (time, SHA1, SHA256, SHA512), 8 digits, 30 s steps.
const RFC6238: &[(u64, &str, &str, &str)] = &[
    (59, "94287082", "46119246", "90693936"),
    (1_111_111_109, "07081804", "68084774", "25091201"),
    (1_111_111_111, "14050471", "67062674", "99943326"),
    (1_234_567_890, "89005924", "91819424", "93441116"),
    (2_000_000_000, "69279037", "90698825", "38618901"),
    (20_000_000_000, "65353130", "77737706", "47863826"),
];

/// (algorithm, seed, [(time, expected code)]).
type RfcCase = (Algorithm, TotpSecret, Vec<(u64, &'static str)>);

fn rfc_cases() -> Vec<RfcCase> {
    vec![
        (
            Algorithm::Sha1,
            TotpSecret::from_bytes(SEED_SHA1).unwrap(),
            RFC6238.iter().map(|c| (c.0, c.1)).collect(),
        ),
        (
            Algorithm::Sha256,
            TotpSecret::from_bytes(SEED_SHA256).unwrap(),
            RFC6238.iter().map(|c| (c.0, c.2)).collect(),
        ),
        (
            Algorithm::Sha512,
            TotpSecret::from_bytes(SEED_SHA512).unwrap(),
            RFC6238.iter().map(|c| (c.0, c.3)).collect(),
        ),
    ]
}

#[test]
fn rfc6238_appendix_b_vectors() {
    for (algorithm, secret, vectors) in rfc_cases() {
        let totp = Totp::new().with_algorithm(algorithm).with_digits(8);
        for (time, expected) in vectors {
            assert_eq!(
                totp.generate_at(&secret, time).unwrap(),
                expected,
                "{algorithm} at {time}"
            );
            assert_eq!(
                totp.verify_step_at(&secret, expected, time),
                Some(time / 30),
                "{algorithm} at {time}"
            );
        }
    }
}

#[test]
fn rfc6238_vectors_in_six_digits_through_the_free_functions() {
    let secret = TotpSecret::from_bytes(SEED_SHA1).unwrap();
    for &(time, sha1, _, _) in RFC6238 {
        // 6 digits are the last 6 of the 8-digit code (same truncation, mod 10^6).
        assert_eq!(totp::generate_at(&secret, time), &sha1[2..]);
    }
}

#[test]
fn rfc4226_hotp_vectors() {
    let secret = TotpSecret::from_bytes(SEED_SHA1).unwrap();
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    for (counter, code) in expected.iter().enumerate() {
        assert_eq!(
            totp::hotp(&secret, counter as u64, 6, Algorithm::Sha1).unwrap(),
            *code,
            "counter {counter}"
        );
    }
}

#[test]
fn skew_window() {
    let secret = TotpSecret::generate();
    let totp = Totp::new();
    let t = 1_700_000_000;
    let code = totp.generate_at(&secret, t).unwrap();
    let step = t / 30;
    assert_eq!(totp.verify_step_at(&secret, &code, t), Some(step));
    assert_eq!(totp.verify_step_at(&secret, &code, t + 30), Some(step));
    assert_eq!(totp.verify_step_at(&secret, &code, t - 30), Some(step));
    assert_eq!(totp.verify_step_at(&secret, &code, t + 60), None);
    assert_eq!(totp.verify_step_at(&secret, &code, t - 60), None);
    let strict = totp.with_skew(0);
    assert_eq!(strict.verify_step_at(&secret, &code, t + 30), None);
    let loose = totp.with_skew(2);
    assert_eq!(loose.verify_step_at(&secret, &code, t + 60), Some(step));
}

#[test]
fn reuse_is_detected_through_the_matched_step() {
    let secret = TotpSecret::generate();
    let totp = Totp::new();
    let t = 1_700_000_005;
    let mut last_accepted: Option<u64> = None;
    let mut accept = |code: &str, now: u64| -> bool {
        match totp.verify_step_at(&secret, code, now) {
            Some(step) if last_accepted.is_none_or(|last| step > last) => {
                last_accepted = Some(step);
                true
            }
            _ => false,
        }
    };
    let first = totp.generate_at(&secret, t).unwrap();
    assert!(accept(&first, t));
    assert!(!accept(&first, t + 1), "same code again in the same window");
    assert!(
        !accept(&first, t + 31),
        "same code again in the next window"
    );
    let next = totp.generate_at(&secret, t + 30).unwrap();
    assert!(accept(&next, t + 31), "the next step's code is fresh");
    let previous = totp.generate_at(&secret, t - 30).unwrap();
    assert!(
        !accept(&previous, t + 31),
        "an older step is refused even if it were in the window"
    );
}

#[test]
fn current_time_helpers() {
    let secret = TotpSecret::generate();
    let code = totp::generate(&secret);
    assert_eq!(code.len(), 6);
    assert!(totp::verify(&secret, &code, 30, 6, 1));
    assert!(totp::verify_step(&secret, &code, 30, 6, 1).is_some());
    assert!(Totp::new().verify_step(&secret, &code).is_some());
    assert_eq!(Totp::new().generate(&secret).unwrap().len(), 6);
}

#[test]
fn code_format_is_strict_apart_from_spaces() {
    let secret = TotpSecret::from_bytes(SEED_SHA1).unwrap();
    let totp = Totp::new();
    let t = 59;
    let code = totp.generate_at(&secret, t).unwrap();
    assert_eq!(code, "287082");
    assert!(totp.verify_at(&secret, "287 082", t));
    assert!(totp.verify_at(&secret, " 287082\n", t));
    for bad in [
        "",
        "28708",
        "2870820",
        "+87082",
        "-87082",
        "28708a",
        "２８７０８２",
        "287082\0",
        "0287082",
    ] {
        assert!(!totp.verify_at(&secret, bad, t), "{bad:?}");
    }
    assert!(!totp.verify_at(&secret, &"1".repeat(10_000), t));
}

#[test]
fn invalid_parameters_never_panic() {
    let secret = TotpSecret::generate();
    for digits in [0, 5, 9, 10, 255] {
        assert!(matches!(
            Totp::new().with_digits(digits).generate_at(&secret, 0),
            Err(TotpError::InvalidDigits { .. })
        ));
        assert!(!totp::verify(&secret, "123456", 30, digits, 1));
        assert!(totp::hotp(&secret, 0, digits, Algorithm::Sha1).is_err());
    }
    assert!(matches!(
        Totp::new().with_step_secs(0).generate_at(&secret, 0),
        Err(TotpError::InvalidStep)
    ));
    assert!(!totp::verify(&secret, "123456", 0, 6, 1));
    // Extremes of time and skew.
    for step in [1, 30, u64::MAX] {
        let totp = Totp::new().with_step_secs(step).with_skew(u8::MAX);
        for t in [0, 1, u64::MAX - 1, u64::MAX] {
            let code = totp.generate_at(&secret, t).unwrap();
            assert!(totp.verify_at(&secret, &code, t), "step {step}, t {t}");
        }
    }
}

#[test]
fn seven_and_eight_digits() {
    let secret = TotpSecret::from_bytes(SEED_SHA1).unwrap();
    assert_eq!(
        Totp::new().with_digits(7).generate_at(&secret, 59).unwrap(),
        "4287082"
    );
    assert_eq!(
        Totp::new().with_digits(8).generate_at(&secret, 59).unwrap(),
        "94287082"
    );
}

#[test]
fn base32_round_trip_and_tolerance() {
    let secret = TotpSecret::from_bytes(SEED_SHA1).unwrap();
    assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    for text in [
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
        "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
        "GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ",
        " GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n",
    ] {
        assert_eq!(TotpSecret::from_base32(text).unwrap(), secret, "{text:?}");
    }
    // 21 bytes needs padding in RFC 4648; both forms parse.
    let odd = TotpSecret::from_bytes(b"123456789012345678901").unwrap();
    let b32 = odd.to_base32();
    assert!(!b32.contains('='));
    assert_eq!(TotpSecret::from_base32(&b32).unwrap(), odd);
    assert_eq!(TotpSecret::from_base32(&format!("{b32}===")).unwrap(), odd);

    let generated = TotpSecret::generate();
    assert_eq!(generated.as_bytes().len(), totp::SECRET_LEN);
    assert_eq!(
        TotpSecret::from_base32(&generated.to_base32()).unwrap(),
        generated
    );
}

#[test]
fn bad_base32_and_lengths_are_errors() {
    for bad in [
        "",
        "====",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
        "GEZDGNBVGY3TQOJQ!",
        "Ä",
    ] {
        assert!(
            matches!(TotpSecret::from_base32(bad), Err(TotpError::InvalidBase32)),
            "{bad:?}"
        );
    }
    // 80-bit secrets (old Google Authenticator style) are below RFC 4226's 128 bits.
    assert!(matches!(
        TotpSecret::from_base32("JBSWY3DPEHPK3PXP"),
        Err(TotpError::SecretLength { bits: 80 })
    ));
    assert!(matches!(
        TotpSecret::from_bytes(&[0; 15]),
        Err(TotpError::SecretLength { bits: 120 })
    ));
    assert!(TotpSecret::from_bytes(&[0; 16]).is_ok());
    assert!(TotpSecret::from_bytes(&[0; totp::MAX_SECRET_LEN + 1]).is_err());
    assert!(TotpSecret::from_base32(&"A".repeat(100_000)).is_err());
}

#[test]
fn debug_never_prints_the_secret() {
    let secret = TotpSecret::from_bytes(SEED_SHA1).unwrap();
    let printed = format!("{secret:?} {:?}", Some(&secret));
    assert_eq!(printed, "TotpSecret(***) Some(TotpSecret(***))");
    assert!(!printed.contains("GEZD"));
    assert!(!printed.contains("1234"));
}

#[test]
fn otpauth_urls() {
    let secret = TotpSecret::from_bytes(SEED_SHA1).unwrap();
    assert_eq!(
        totp::otpauth_url("My App", "alice@example.com", &secret),
        "otpauth://totp/My%20App:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &issuer=My%20App&algorithm=SHA1&digits=6&period=30"
    );
    let url = Totp::new()
        .with_algorithm(Algorithm::Sha256)
        .with_digits(8)
        .with_step_secs(60)
        .otpauth_url("A:B&C", "x?y#z", &secret);
    assert_eq!(
        url,
        "otpauth://totp/A%3AB%26C:x%3Fy%23z?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &issuer=A%3AB%26C&algorithm=SHA256&digits=8&period=60"
    );
}

#[test]
fn algorithm_names() {
    assert_eq!(Algorithm::default(), Algorithm::Sha1);
    assert_eq!(Algorithm::Sha256.to_string(), "SHA256");
    assert_eq!(Algorithm::Sha512.as_str(), "SHA512");
    let t = Totp::default();
    assert_eq!(
        (t.algorithm(), t.digits(), t.step_secs(), t.skew()),
        (Algorithm::Sha1, 6, 30, 1)
    );
}
