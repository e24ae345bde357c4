//! RS256, EdDSA and ES256 keys, key ids and rotation.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use rustango_auth::jwt_lifecycle::{JwtError, JwtKey, JwtKeyError, JwtLifecycle, KeySet};
use serde_json::json;

use crate::assert_refused;
use crate::keys::*;
use crate::support::*;

fn rsa(private: &str, kid: &str) -> JwtKey {
    JwtKey::rs256_pem(private.as_bytes()).unwrap().with_kid(kid)
}

fn ed(private: &str, kid: &str) -> JwtKey {
    JwtKey::eddsa_pem(private.as_bytes()).unwrap().with_kid(kid)
}

async fn round_trip(jwt: &JwtLifecycle) {
    let pair = jwt
        .issue_pair_with(3, json!({"r": 1}).as_object().unwrap().clone())
        .unwrap();
    let claims = jwt.verify_access_detailed(&pair.access).await.unwrap();
    assert_eq!(claims.get_custom::<i64>("r"), Some(1));
    let next = jwt.refresh_detailed(&pair.refresh).await.unwrap();
    jwt.verify_access_detailed(&next.access).await.unwrap();
    jwt.revoke(&next.refresh).await.unwrap();
    assert_refused!(verify(jwt, &next.access).await, JwtError::Revoked);
}

#[tokio::test]
async fn rs256_eddsa_and_es256_pairs_work() {
    for (key, alg, public, decoding) in [
        (
            rsa(RSA1_PRIVATE, "r1"),
            "RS256",
            RSA1_PUBLIC,
            DecodingKey::from_rsa_pem(RSA1_PUBLIC.as_bytes()).unwrap(),
        ),
        (
            ed(ED1_PRIVATE, "e1"),
            "EdDSA",
            ED1_PUBLIC,
            DecodingKey::from_ed_pem(ED1_PUBLIC.as_bytes()).unwrap(),
        ),
        (
            JwtKey::from_private_pem(Algorithm::ES256, EC1_PRIVATE.as_bytes())
                .unwrap()
                .with_kid("p1"),
            "ES256",
            EC1_PUBLIC,
            DecodingKey::from_ec_pem(EC1_PUBLIC.as_bytes()).unwrap(),
        ),
    ] {
        let algorithm = key.algorithm();
        let kid = key.kid().unwrap().to_owned();
        let jwt = JwtLifecycle::with_keys(KeySet::new(key).unwrap());
        round_trip(&jwt).await;

        let pair = jwt.issue_pair(9).unwrap();
        assert_eq!(
            decode_header(&pair.access),
            json!({"alg": alg, "kid": kid, "typ": "JWT"})
        );
        // An independent verifier with only the public key agrees.
        let mut v = Validation::new(algorithm);
        v.validate_nbf = true;
        let data = jsonwebtoken::decode::<serde_json::Value>(&pair.access, &decoding, &v).unwrap();
        assert_eq!(data.claims["sub"], "9");
        // And so does a lifecycle holding only the public key.
        let verifier = JwtLifecycle::with_keys(
            KeySet::new(rsa(RSA2_PRIVATE, "unused"))
                .unwrap()
                .with_verification_key(
                    JwtKey::from_public_pem(algorithm, public.as_bytes())
                        .unwrap()
                        .with_kid(kid),
                )
                .unwrap(),
        );
        verifier.verify_access_detailed(&pair.access).await.unwrap();
    }
}

#[tokio::test]
async fn pkcs1_rsa_keys_work() {
    let jwt = JwtLifecycle::with_keys(
        KeySet::new(JwtKey::rs256_pem(RSA1_PRIVATE_PKCS1.as_bytes()).unwrap()).unwrap(),
    );
    let pair = jwt.issue_pair(1).unwrap();
    // Same key as the PKCS#8 one: its lifecycle verifies the token.
    let pkcs8 = JwtLifecycle::with_keys(
        KeySet::new(JwtKey::rs256_pem(RSA1_PRIVATE.as_bytes()).unwrap()).unwrap(),
    );
    pkcs8.verify_access_detailed(&pair.access).await.unwrap();
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_until_the_old_key_is_dropped() {
    let before = JwtLifecycle::with_keys(KeySet::new(rsa(RSA1_PRIVATE, "2026-05")).unwrap());
    let old = before.issue_pair(1).unwrap();

    // Rotate: sign with the new key, still verify with the old one.
    let during = JwtLifecycle::with_keys(
        KeySet::new(ed(ED1_PRIVATE, "2026-06"))
            .unwrap()
            .with_verification_key(rsa(RSA1_PRIVATE, "2026-05"))
            .unwrap(),
    );
    during.verify_access_detailed(&old.access).await.unwrap();
    let new = during.issue_pair(1).unwrap();
    assert_eq!(decode_header(&new.access)["kid"], "2026-06");
    // Refreshing an old token yields a pair signed with the new key.
    let refreshed = during.refresh_detailed(&old.refresh).await.unwrap();
    assert_eq!(decode_header(&refreshed.access)["kid"], "2026-06");
    assert_eq!(decode_header(&refreshed.access)["alg"], "EdDSA");

    // Drop the old key: its tokens are refused, the new ones still pass.
    let after = JwtLifecycle::with_keys(KeySet::new(ed(ED1_PRIVATE, "2026-06")).unwrap());
    assert_refused!(verify(&after, &old.access).await, JwtError::UnknownKey);
    after.verify_access_detailed(&new.access).await.unwrap();
}

#[tokio::test]
async fn a_kid_pins_both_the_key_and_its_algorithm() {
    let jwt = JwtLifecycle::with_keys(
        KeySet::new(ed(ED1_PRIVATE, "ed"))
            .unwrap()
            .with_verification_key(rsa(RSA1_PRIVATE, "rsa"))
            .unwrap()
            .with_verification_key(JwtKey::hs256(&[5; 32]).unwrap().with_kid("hs"))
            .unwrap(),
    );
    let claims = payload("access");
    // Signed by the right key but announced with another key's kid.
    let token = sign(
        &json!({"alg": "EdDSA", "kid": "rsa"}),
        &claims,
        &EncodingKey::from_ed_pem(ED1_PRIVATE.as_bytes()).unwrap(),
        Algorithm::EdDSA,
    );
    assert_refused!(verify(&jwt, &token).await, JwtError::WrongAlgorithm);
    // Signed by another Ed25519 key under the Ed kid.
    let token = sign(
        &json!({"alg": "EdDSA", "kid": "ed"}),
        &claims,
        &EncodingKey::from_ed_pem(ED2_PRIVATE.as_bytes()).unwrap(),
        Algorithm::EdDSA,
    );
    assert_refused!(verify(&jwt, &token).await, JwtError::BadSignature);
    // HS256 with the RSA public key under the RSA kid (algorithm confusion).
    let token = sign(
        &json!({"alg": "HS256", "kid": "rsa"}),
        &claims,
        &EncodingKey::from_secret(RSA1_PUBLIC.as_bytes()),
        Algorithm::HS256,
    );
    assert_refused!(verify(&jwt, &token).await, JwtError::WrongAlgorithm);
    // HS256 with the Ed public key bytes under the HS kid.
    let token = sign(
        &json!({"alg": "HS256", "kid": "hs"}),
        &claims,
        &EncodingKey::from_secret(ED1_PUBLIC.as_bytes()),
        Algorithm::HS256,
    );
    assert_refused!(verify(&jwt, &token).await, JwtError::BadSignature);
    // Genuine HS256 token under the HS kid passes.
    let token = sign(
        &json!({"alg": "HS256", "kid": "hs"}),
        &claims,
        &EncodingKey::from_secret(&[5; 32]),
        Algorithm::HS256,
    );
    verify(&jwt, &token).await.unwrap();
    // Several keys and no kid: refused rather than guessed.
    let token = sign(
        &json!({"alg": "EdDSA"}),
        &claims,
        &EncodingKey::from_ed_pem(ED1_PRIVATE.as_bytes()).unwrap(),
        Algorithm::EdDSA,
    );
    assert_refused!(verify(&jwt, &token).await, JwtError::UnknownKey);
}

#[test]
fn key_sets_check_their_keys() {
    // A public key cannot sign.
    let public = JwtKey::from_public_pem(Algorithm::RS256, RSA1_PUBLIC.as_bytes()).unwrap();
    assert!(!public.can_sign());
    assert!(matches!(KeySet::new(public), Err(JwtKeyError::CannotSign)));
    // Several keys need distinct kids.
    let set = KeySet::new(rsa(RSA1_PRIVATE, "a")).unwrap();
    assert!(matches!(
        set.clone().with_verification_key(ed(ED1_PRIVATE, "a")),
        Err(JwtKeyError::DuplicateKid(k)) if k == "a"
    ));
    assert!(matches!(
        set.clone()
            .with_verification_key(JwtKey::eddsa_pem(ED1_PRIVATE.as_bytes()).unwrap()),
        Err(JwtKeyError::MissingKid)
    ));
    assert!(matches!(
        KeySet::new(JwtKey::hs256(&[1; 32]).unwrap())
            .unwrap()
            .with_verification_key(ed(ED1_PRIVATE, "e")),
        Err(JwtKeyError::MissingKid)
    ));
    assert_eq!(set.keys().len(), 1);
    assert_eq!(set.signing_key().kid(), Some("a"));
}

#[test]
fn bad_keys_are_refused_when_built() {
    assert!(matches!(
        JwtKey::rs256_pem(RSA_WEAK_PRIVATE.as_bytes()),
        Err(JwtKeyError::WeakRsaKey { bits: 1024 })
    ));
    // Private where public is expected and the reverse.
    assert!(matches!(
        JwtKey::from_public_pem(Algorithm::RS256, RSA1_PRIVATE.as_bytes()),
        Err(JwtKeyError::InvalidKey { .. })
    ));
    assert!(matches!(
        JwtKey::rs256_pem(RSA1_PUBLIC.as_bytes()),
        Err(JwtKeyError::InvalidKey { .. })
    ));
    // A key of another family.
    assert!(matches!(
        JwtKey::rs256_pem(ED1_PRIVATE.as_bytes()),
        Err(JwtKeyError::InvalidKey { .. })
    ));
    assert!(matches!(
        JwtKey::eddsa_pem(RSA1_PRIVATE.as_bytes()),
        Err(JwtKeyError::InvalidKey { .. })
    ));
    assert!(matches!(
        JwtKey::from_public_pem(Algorithm::EdDSA, RSA1_PUBLIC.as_bytes()),
        Err(JwtKeyError::InvalidKey { .. })
    ));
    // Garbage.
    assert!(
        JwtKey::rs256_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .is_err()
    );
    assert!(
        JwtKey::from_public_pem(
            Algorithm::EdDSA,
            b"-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----\n"
        )
        .is_err()
    );
    assert!(JwtKey::eddsa_pem(b"").is_err());
    // HMAC through PEM constructors, and PEM algorithms through hmac().
    assert!(matches!(
        JwtKey::from_private_pem(Algorithm::HS256, RSA1_PRIVATE.as_bytes()),
        Err(JwtKeyError::UnsupportedAlgorithm("HS256"))
    ));
    assert!(matches!(
        JwtKey::hmac(Algorithm::RS256, &[0; 64]),
        Err(JwtKeyError::UnsupportedAlgorithm("RS256"))
    ));
    // HMAC secrets as long as the hash.
    assert!(JwtKey::hmac(Algorithm::HS384, &[0; 47]).is_err());
    assert!(JwtKey::hmac(Algorithm::HS384, &[0; 48]).is_ok());
    assert!(JwtKey::hmac(Algorithm::HS512, &[0; 63]).is_err());
    assert!(JwtKey::hmac(Algorithm::HS512, &[0; 64]).is_ok());
}

#[test]
fn the_jwks_publishes_public_keys_only() {
    let set = KeySet::new(rsa(RSA1_PRIVATE, "r"))
        .unwrap()
        .with_verification_key(ed(ED1_PRIVATE, "e"))
        .unwrap()
        .with_verification_key(JwtKey::hs256(&[1; 32]).unwrap().with_kid("h"))
        .unwrap();
    let jwks = set.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "the HMAC secret is not published: {jwks}");
    assert_eq!(keys[0]["kid"], "r");
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["use"], "sig");
    assert!(keys[0]["n"].is_string() && keys[0]["e"].is_string());
    assert_eq!(keys[1]["kid"], "e");
    assert_eq!(keys[1]["kty"], "OKP");
    assert_eq!(keys[1]["crv"], "Ed25519");
    for k in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(k.get(private).is_none(), "{private} leaked: {k}");
        }
    }
    // The published keys verify our tokens.
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(keys[0].clone()).unwrap();
    let jwt = JwtLifecycle::with_keys(set);
    let token = jwt.issue_pair(1).unwrap().access;
    let key = DecodingKey::from_jwk(&jwk).unwrap();
    jsonwebtoken::decode::<serde_json::Value>(&token, &key, &Validation::new(Algorithm::RS256))
        .unwrap();
}
