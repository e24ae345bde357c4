//! Forged, altered, stale and misused tokens are refused.

use jsonwebtoken::{Algorithm, EncodingKey};
use rustango_auth::jwt_lifecycle::{JwtError, JwtKey, JwtLifecycle, KeySet};
use serde_json::json;

use crate::assert_refused;
use crate::keys::*;
use crate::support::*;

#[tokio::test]
async fn the_hand_made_tokens_are_well_formed() {
    // The baseline every attack below alters: a hand-made token is accepted as is.
    let jwt = jwt();
    let claims = jwt
        .verify_access_detailed(&hs256(&payload("access")))
        .await
        .unwrap();
    assert_eq!(claims.user_id(), "42");
}

#[tokio::test]
async fn alg_none_is_refused() {
    let jwt = jwt();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
        let body = b64(payload("access").to_string().as_bytes());
        for signature in ["", "AAAA"] {
            let token = format!("{header}.{body}.{signature}");
            assert_refused!(
                jwt.verify_access_detailed(&token).await,
                JwtError::WrongAlgorithm
            );
        }
        let refresh = format!(
            "{header}.{}.",
            b64(payload("refresh").to_string().as_bytes())
        );
        assert_refused!(
            jwt.refresh_detailed(&refresh).await,
            JwtError::WrongAlgorithm
        );
        assert_refused!(jwt.revoke(&refresh).await, JwtError::WrongAlgorithm);
    }
    // Even with the right HMAC appended, `none` is not the key's algorithm.
    let valid = hs256(&payload("access"));
    let (_, body, signature) = parts(&valid);
    let header = b64(br#"{"alg":"none"}"#);
    assert_refused!(
        verify(&jwt, &format!("{header}.{body}.{signature}")).await,
        JwtError::WrongAlgorithm
    );
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    // The classic algorithm confusion: the server's RSA public key (public knowledge)
    // used as an HMAC secret by the attacker.
    let keys = KeySet::new(JwtKey::rs256_pem(RSA1_PRIVATE.as_bytes()).unwrap()).unwrap();
    let jwt = JwtLifecycle::with_keys(keys);
    let forged = sign(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &payload("access"),
        &EncodingKey::from_secret(RSA1_PUBLIC.as_bytes()),
        Algorithm::HS256,
    );
    assert_refused!(verify(&jwt, &forged).await, JwtError::WrongAlgorithm);

    // Same with a kid naming the RSA key, and with the PEM without its final newline.
    let keys = KeySet::new(
        JwtKey::rs256_pem(RSA1_PRIVATE.as_bytes())
            .unwrap()
            .with_kid("rsa"),
    )
    .unwrap();
    let jwt = JwtLifecycle::with_keys(keys);
    for secret in [RSA1_PUBLIC, RSA1_PUBLIC.trim_end()] {
        let forged = sign(
            &json!({"alg": "HS256", "kid": "rsa"}),
            &payload("access"),
            &EncodingKey::from_secret(secret.as_bytes()),
            Algorithm::HS256,
        );
        assert_refused!(verify(&jwt, &forged).await, JwtError::WrongAlgorithm);
    }

    // The same claims signed with the RSA key itself are fine.
    let genuine = sign(
        &json!({"alg": "RS256", "kid": "rsa"}),
        &payload("access"),
        &EncodingKey::from_rsa_pem(RSA1_PRIVATE.as_bytes()).unwrap(),
        Algorithm::RS256,
    );
    verify(&jwt, &genuine).await.unwrap();
    // And an RS256 header in front of an HS256 key is refused the other way round.
    let rs256 = sign(
        &json!({"alg": "RS256"}),
        &payload("access"),
        &EncodingKey::from_rsa_pem(RSA1_PRIVATE.as_bytes()).unwrap(),
        Algorithm::RS256,
    );
    assert_refused!(
        verify(&crate::support::jwt(), &rs256).await,
        JwtError::WrongAlgorithm
    );
    // With a kid the HS256 key does not have, the key is unknown before anything else.
    assert_refused!(
        verify(&crate::support::jwt(), &genuine).await,
        JwtError::UnknownKey
    );
}

#[tokio::test]
async fn other_algorithms_of_the_same_family_are_refused() {
    // HS512 with the right secret is still not the key's algorithm (HS256).
    let token = sign(
        &json!({"alg": "HS512"}),
        &payload("access"),
        &EncodingKey::from_secret(SECRET),
        Algorithm::HS512,
    );
    assert_refused!(verify(&jwt(), &token).await, JwtError::WrongAlgorithm);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let jwt = jwt();
    let now = now();
    let expired = payload_with(
        "access",
        json!({"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}),
    );
    assert_refused!(verify(&jwt, &hs256(&expired)).await, JwtError::Expired);
    let expired = payload_with(
        "refresh",
        json!({"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}),
    );
    assert_refused!(
        jwt.refresh_detailed(&hs256(&expired)).await,
        JwtError::Expired
    );
    // Just past the expiry, inside the leeway (30 s by default): still accepted.
    let recent = payload_with(
        "access",
        json!({"iat": now - 700, "nbf": now - 700, "exp": now - 5}),
    );
    verify(&jwt, &hs256(&recent)).await.unwrap();
    // Without leeway it is not.
    let strict = crate::support::jwt().with_leeway(0);
    assert_refused!(verify(&strict, &hs256(&recent)).await, JwtError::Expired);
}

#[tokio::test]
async fn a_token_expires_for_real() {
    let jwt = jwt().with_access_ttl(1).with_leeway(0);
    let pair = jwt.issue_pair(1).unwrap();
    jwt.verify_access_detailed(&pair.access).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_refused!(verify(&jwt, &pair.access).await, JwtError::Expired);
}

#[tokio::test]
async fn tokens_not_valid_yet_are_refused() {
    let jwt = jwt();
    let now = now();
    let future = payload_with("access", json!({"nbf": now + 3600}));
    assert_refused!(verify(&jwt, &hs256(&future)).await, JwtError::NotYetValid);
    // Inside the leeway it is accepted (clock skew between instances).
    let soon = payload_with("access", json!({"nbf": now + 10, "iat": now + 10}));
    verify(&jwt, &hs256(&soon)).await.unwrap();
    // `iat` in the future beyond the leeway: refused too (jsonwebtoken ignores iat).
    let issued_later = payload_with("access", json!({"iat": now + 3600}));
    assert_refused!(
        verify(&jwt, &hs256(&issued_later)).await,
        JwtError::NotYetValid
    );
}

#[tokio::test]
async fn time_claims_as_strings_are_refused_not_ignored() {
    let jwt = jwt();
    for claim in ["nbf", "exp", "iat"] {
        let p = payload_with("access", json!({ claim: "9999999999" }));
        assert_refused!(verify(&jwt, &hs256(&p)).await, JwtError::Malformed);
        // A numeric string that would pass as a time is no better.
        let p = payload_with("access", json!({ claim: now().to_string() }));
        assert_refused!(verify(&jwt, &hs256(&p)).await, JwtError::Malformed);
    }
    // Missing time claims are refused as well.
    for claim in ["nbf", "exp", "iat"] {
        let p = payload_with("access", json!({ claim: null }));
        assert_refused!(verify(&jwt, &hs256(&p)).await, JwtError::Malformed);
    }
    // And so are fractions, negative numbers and huge values.
    for bad in [json!(1.5), json!(-1), json!(1e300)] {
        let p = payload_with("access", json!({ "nbf": bad }));
        assert!(verify(&jwt, &hs256(&p)).await.is_err(), "nbf = {bad}");
    }
}

#[tokio::test]
async fn wrong_audience_or_issuer_is_refused() {
    let jwt = jwt()
        .with_audience("api")
        .with_issuer("https://auth.example");
    let good = json!({"aud": "api", "iss": "https://auth.example"});
    verify(&jwt, &hs256(&payload_with("access", good)))
        .await
        .unwrap();

    for aud in [
        json!("other"),
        json!(["other"]),
        json!([]),
        json!(null),
        json!(42),
    ] {
        let p = payload_with("access", json!({"aud": aud, "iss": "https://auth.example"}));
        let result = verify(&jwt, &hs256(&p)).await;
        assert!(
            matches!(result, Err(JwtError::WrongAudience | JwtError::Malformed)),
            "aud = {aud}: {result:?}"
        );
    }
    for iss in [json!("https://evil.example"), json!(null)] {
        let p = payload_with("access", json!({"aud": "api", "iss": iss}));
        assert_refused!(verify(&jwt, &hs256(&p)).await, JwtError::WrongIssuer);
    }
    // `iss` is one string (RFC 7519 §4.1.1): anything else is malformed.
    for iss in [json!(["https://auth.example"]), json!(1)] {
        let p = payload_with("access", json!({"aud": "api", "iss": iss}));
        assert_refused!(verify(&jwt, &hs256(&p)).await, JwtError::Malformed);
    }
    // A token minted by a sibling service sharing the secret but not the audience.
    let sibling = crate::support::jwt()
        .with_audience("billing")
        .with_issuer("https://auth.example");
    let pair = sibling.issue_pair(7).unwrap();
    assert_refused!(verify(&jwt, &pair.access).await, JwtError::WrongAudience);
    assert_refused!(
        jwt.refresh_detailed(&pair.refresh).await,
        JwtError::WrongAudience
    );
    // Without a configured audience, a token that names one is not for us.
    assert_refused!(
        verify(&crate::support::jwt(), &pair.access).await,
        JwtError::WrongAudience
    );
}

#[tokio::test]
async fn tampered_tokens_are_refused() {
    let jwt = jwt();
    let pair = jwt
        .issue_pair_with(
            42,
            json!({"roles": ["viewer"]}).as_object().unwrap().clone(),
        )
        .unwrap();
    let (header, _, signature) = parts(&pair.access);

    // Promote ourselves: same header and signature, edited payload.
    let mut claims = decode_payload(&pair.access);
    claims["roles"] = json!(["admin"]);
    let forged = format!(
        "{header}.{}.{signature}",
        b64(claims.to_string().as_bytes())
    );
    assert_refused!(verify(&jwt, &forged).await, JwtError::BadSignature);
    let mut claims = decode_payload(&pair.access);
    claims["sub"] = json!("1");
    let forged = format!(
        "{header}.{}.{signature}",
        b64(claims.to_string().as_bytes())
    );
    assert_refused!(verify(&jwt, &forged).await, JwtError::BadSignature);

    // A flipped bit in the signature.
    let mut sig = signature.into_bytes();
    sig[3] = if sig[3] == b'A' { b'B' } else { b'A' };
    let (h, p, _) = parts(&pair.access);
    let forged = format!("{h}.{p}.{}", String::from_utf8(sig).unwrap());
    assert_refused!(verify(&jwt, &forged).await, JwtError::BadSignature);

    // Signed with another secret.
    let other = JwtLifecycle::new(&[9; 32]).issue_pair(42).unwrap();
    assert_refused!(verify(&jwt, &other.access).await, JwtError::BadSignature);
    assert_refused!(
        jwt.refresh_detailed(&other.refresh).await,
        JwtError::BadSignature
    );
    assert_refused!(jwt.revoke(&other.refresh).await, JwtError::BadSignature);
}

#[tokio::test]
async fn truncated_and_garbage_tokens_are_refused() {
    let jwt = jwt();
    let token = jwt.issue_pair(42).unwrap().access;
    let (h, p, s) = parts(&token);
    let too_long = format!("{h}.{}.{s}", "A".repeat(10_000));
    let cases = [
        String::new(),
        ".".into(),
        "..".into(),
        "a.b.c".into(),
        "not a token".into(),
        "Bearer x.y.z".into(),
        h.clone(),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        token[..token.len() - 5].to_owned(),
        token[..token.len() / 2].to_owned(),
        format!("{h}.{p}.!!!"),
        format!("{h}.%%%.{s}"),
        format!("{}.{p}.{s}", b64(b"{not json")),
        format!("{}.{p}.{s}", b64(b"[]")),
        format!("{}.{p}.{s}", b64(br#"{"kid":"x"}"#)),
        format!("{h}.{}.{s}", b64(b"not json")),
        too_long,
        format!("{token}\u{0}"),
        " ".repeat(20),
        "\u{fffd}.\u{fffd}.\u{fffd}".into(),
    ];
    for case in &cases {
        let result = verify(&jwt, case).await;
        assert!(
            matches!(
                result,
                Err(JwtError::Malformed | JwtError::BadSignature | JwtError::UnknownKey)
            ),
            "{case:?}: {result:?}"
        );
        assert!(jwt.refresh(case).await.is_none());
        assert!(jwt.revoke(case).await.is_err());
    }
}

#[tokio::test]
async fn the_token_type_is_enforced() {
    let jwt = jwt();
    let pair = jwt.issue_pair(42).unwrap();
    // A refresh token is no access token (it lives for days).
    assert_refused!(verify(&jwt, &pair.refresh).await, JwtError::WrongType);
    // An access token cannot be exchanged for a new pair.
    assert_refused!(
        jwt.refresh_detailed(&pair.access).await,
        JwtError::WrongType
    );
    // ...and the failed attempts consumed nothing.
    jwt.refresh_detailed(&pair.refresh).await.unwrap();
    // Unknown or missing types are malformed.
    for typ in [json!("admin"), json!("ACCESS"), json!(null), json!(1)] {
        let p = payload_with("access", json!({ "typ": typ }));
        assert_refused!(verify(&jwt, &hs256(&p)).await, JwtError::Malformed);
    }
}

#[tokio::test]
async fn revoked_tokens_are_refused() {
    let jwt = jwt();
    let pair = jwt.issue_pair(42).unwrap();
    jwt.revoke(&pair.access).await.unwrap();
    assert_refused!(verify(&jwt, &pair.access).await, JwtError::Revoked);
    assert!(jwt.verify_access(&pair.access).await.is_none());
    // Revoking an access token leaves the session: the refresh token still works.
    let next = jwt.refresh_detailed(&pair.refresh).await.unwrap();
    verify(&jwt, &next.access).await.unwrap();
    // Revoking is idempotent.
    jwt.revoke(&pair.access).await.unwrap();
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_family() {
    let jwt = jwt();
    let first = jwt.issue_pair(42).unwrap();
    let second = jwt.refresh_detailed(&first.refresh).await.unwrap();
    let third = jwt.refresh_detailed(&second.refresh).await.unwrap();
    verify(&jwt, &third.access).await.unwrap();

    // The attacker replays the stolen first refresh token.
    assert_refused!(jwt.refresh_detailed(&first.refresh).await, JwtError::Reused);
    // Every token of the family is dead now, the newest pair included.
    for token in [&first.access, &second.access, &third.access] {
        assert_refused!(verify(&jwt, token).await, JwtError::Revoked);
    }
    assert_refused!(
        jwt.refresh_detailed(&third.refresh).await,
        JwtError::Revoked
    );
    assert_refused!(
        jwt.refresh_detailed(&second.refresh).await,
        JwtError::Revoked
    );
    // Other sessions of the same user are untouched.
    let other = jwt.issue_pair(42).unwrap();
    jwt.refresh_detailed(&other.refresh).await.unwrap();
}

#[tokio::test]
async fn the_second_use_is_detected_without_a_rotation_in_between() {
    let jwt = jwt();
    let first = jwt.issue_pair(42).unwrap();
    let second = jwt.refresh_detailed(&first.refresh).await.unwrap();
    assert_refused!(jwt.refresh_detailed(&first.refresh).await, JwtError::Reused);
    assert_refused!(
        jwt.refresh_detailed(&first.refresh).await,
        JwtError::Revoked
    );
    assert_refused!(verify(&jwt, &second.access).await, JwtError::Revoked);
}

#[tokio::test]
async fn unknown_headers_and_keys_are_refused() {
    let jwt = jwt();
    // A critical header extension nobody here understands.
    let token = sign(
        &json!({"alg": "HS256", "crit": ["b64"], "b64": false}),
        &payload("access"),
        &EncodingKey::from_secret(SECRET),
        Algorithm::HS256,
    );
    assert_refused!(verify(&jwt, &token).await, JwtError::Malformed);
    // A kid that names no key.
    let token = sign(
        &json!({"alg": "HS256", "kid": "other"}),
        &payload("access"),
        &EncodingKey::from_secret(SECRET),
        Algorithm::HS256,
    );
    assert_refused!(verify(&jwt, &token).await, JwtError::UnknownKey);
    // Keys offered by the token itself (jwk, jku) are never used.
    let token = sign(
        &json!({"alg": "HS256", "jku": "https://evil.example/jwks.json", "jwk": {"kty": "oct", "k": "AAAA"}}),
        &payload("access"),
        &EncodingKey::from_secret(b"attacker"),
        Algorithm::HS256,
    );
    assert!(verify(&jwt, &token).await.is_err());
}

#[tokio::test]
async fn ambiguous_or_odd_payloads_are_refused() {
    let jwt = jwt();
    let key = EncodingKey::from_secret(SECRET);
    let now = now();
    // Duplicate claims: a parser that keeps the first and one that keeps the last
    // would disagree on who this is.
    let raw = format!(
        r#"{{"sub":"42","sub":"1","iat":{now},"nbf":{now},"exp":{},"jti":"a","typ":"access","fam":"f"}}"#,
        now + 60
    );
    let token = sign_raw(r#"{"alg":"HS256"}"#, &raw, &key, Algorithm::HS256);
    assert_refused!(verify(&jwt, &token).await, JwtError::Malformed);
    // Ids that are not plain tokens (they end up in store keys).
    for id in [
        json!(""),
        json!("a:b"),
        json!("x".repeat(65)),
        json!("a b"),
        json!(5),
    ] {
        let p = payload_with("access", json!({ "jti": id }));
        assert_refused!(verify(&jwt, &hs256(&p)).await, JwtError::Malformed);
        let p = payload_with("access", json!({ "fam": id }));
        assert_refused!(verify(&jwt, &hs256(&p)).await, JwtError::Malformed);
    }
    // Missing subject.
    let p = payload_with("access", json!({ "sub": null }));
    assert_refused!(verify(&jwt, &hs256(&p)).await, JwtError::Malformed);
    // A payload that is not an object.
    let token = sign_raw(r#"{"alg":"HS256"}"#, "[1,2]", &key, Algorithm::HS256);
    assert_refused!(verify(&jwt, &token).await, JwtError::Malformed);
}
