use rustango_crypto::api_keys::{
    self, ApiKeyError, generate_key, hash_secret, split_token, verify_key,
};

#[test]
fn generated_keys_have_the_documented_shape() {
    let (token, prefix, hash) = generate_key().unwrap();
    assert_eq!(prefix.len(), api_keys::PREFIX_LEN);
    assert!(
        prefix
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()),
        "{prefix}"
    );
    let (p, secret) = split_token(&token).expect("own tokens split");
    assert_eq!(p, prefix);
    assert_eq!(secret.len(), 43, "256 bits in base64url without padding");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert!(hash.starts_with("sha256$"));
    assert_eq!(hash.len(), 7 + 64);
    assert_eq!(hash, hash_secret(secret));
    assert!(!hash.contains(secret));
}

#[test]
fn generated_keys_are_unique() {
    let mut prefixes = std::collections::HashSet::new();
    let mut tokens = std::collections::HashSet::new();
    for _ in 0..200 {
        let (token, prefix, _) = generate_key().unwrap();
        assert!(tokens.insert(token));
        prefixes.insert(prefix);
    }
    assert!(prefixes.len() >= 199, "prefix collisions are rare");
}

#[test]
fn verify_accepts_the_secret_only() {
    let (token, _, hash) = generate_key().unwrap();
    let (_, secret) = split_token(&token).unwrap();
    assert!(verify_key(secret, &hash).unwrap());
    assert!(
        !verify_key(&token, &hash).unwrap(),
        "the full token is not the secret"
    );
    assert!(!verify_key("", &hash).unwrap());
    let mut flipped = secret.to_owned();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    assert!(!verify_key(&flipped, &hash).unwrap());
    // Stored hex in upper case still verifies.
    let upper = format!("sha256${}", hash[7..].to_ascii_uppercase());
    assert!(verify_key(secret, &upper).unwrap());
}

#[test]
fn sha256_vector() {
    // sha256("abc")
    assert_eq!(
        hash_secret("abc"),
        "sha256$ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn split_token_rejects_malformed_input() {
    let long_prefix = format!("{}.secret", "p".repeat(api_keys::MAX_PREFIX_LEN + 1));
    let long_secret = format!("prefix.{}", "s".repeat(api_keys::MAX_SECRET_LEN + 1));
    for bad in [
        "",
        ".",
        "abc",
        "abc.",
        ".abc",
        "a.b.c",
        "a..b",
        "ab cd.efg",
        "abcd.ef g",
        " abcd.efg",
        "abcd.efg\n",
        "abcd.efg=",
        "ab+d.efg",
        "ab/d.efg",
        "äbcd.efg",
        "abcd.ef%41",
        "abcd.ef\0",
        long_prefix.as_str(),
        long_secret.as_str(),
    ] {
        assert_eq!(split_token(bad), None, "{bad:?}");
    }
    assert_eq!(split_token("Ab-_9.x-Y_z"), Some(("Ab-_9", "x-Y_z")));
    let max = format!(
        "{}.{}",
        "p".repeat(api_keys::MAX_PREFIX_LEN),
        "s".repeat(api_keys::MAX_SECRET_LEN)
    );
    assert!(split_token(&max).is_some());
}

#[test]
fn malformed_or_foreign_hashes_are_errors() {
    for bad in [
        "",
        "sha256$",
        "sha256$zz",
        "sha256$ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
        "sha256$ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adff",
        "nodollar",
        "$argon2id$junk",
        "$",
    ] {
        assert!(
            matches!(verify_key("abc", bad), Err(ApiKeyError::MalformedHash)),
            "{bad:?}: {:?}",
            verify_key("abc", bad)
        );
    }
    let err = verify_key("abc", "md5$900150983cd24fb0d6963f7d28e17f72").unwrap_err();
    assert!(
        matches!(&err, ApiKeyError::UnsupportedScheme { scheme } if scheme == "md5"),
        "{err:?}"
    );
    let err = verify_key(
        "abc",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
    )
    .unwrap_err();
    assert!(matches!(&err, ApiKeyError::UnsupportedScheme { scheme } if scheme == "scrypt"));
}

#[test]
fn needs_rehash_flags_anything_but_sha256() {
    let (_, _, hash) = generate_key().unwrap();
    assert!(!api_keys::needs_rehash(&hash));
    assert!(api_keys::needs_rehash("$argon2id$v=19$m=64,t=1,p=1$x$y"));
    assert!(api_keys::needs_rehash("sha256$short"));
    assert!(api_keys::needs_rehash(""));
}

/// Keys hashed the spec's way (argon2 PHC of the secret) keep verifying.
#[cfg(feature = "passwords")]
#[test]
fn argon2_phc_hashes_still_verify() {
    use rustango_crypto::passwords::PasswordHasher;
    let (token, _, _) = generate_key().unwrap();
    let (_, secret) = split_token(&token).unwrap();
    let phc = PasswordHasher::new(64, 1, 1).unwrap().hash(secret).unwrap();
    assert!(verify_key(secret, &phc).unwrap());
    assert!(!verify_key("wrong", &phc).unwrap());
    assert!(api_keys::needs_rehash(&phc));
    // Absurd stored costs are refused, not attempted.
    let expensive = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA";
    assert!(matches!(
        verify_key(secret, expensive),
        Err(ApiKeyError::TooExpensive)
    ));
}
