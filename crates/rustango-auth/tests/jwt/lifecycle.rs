//! Issue, verify, refresh and revoke as an application uses them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rustango_auth::jwt_lifecycle::{
    JwtError, JwtIssueError, JwtKeyError, JwtLifecycle, RESERVED_CLAIMS, RevocationStore,
    RevocationStoreError, TokenType,
};
use serde_json::{Map, Value, json};

use crate::assert_refused;
use crate::support::*;

fn custom(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[tokio::test]
async fn a_pair_carries_user_custom_claims_and_expiries() {
    let jwt = jwt().with_access_ttl(600).with_refresh_ttl(86_400);
    let before = Utc::now().timestamp();
    let pair = jwt
        .issue_pair_with(
            42,
            custom(json!({"roles": ["admin", "editor"], "tenant": "acme", "scope": "read:posts"})),
        )
        .unwrap();
    let after = Utc::now().timestamp();
    let access_exp = pair.access_expires_at.timestamp();
    assert!((before + 600..=after + 600).contains(&access_exp));
    let refresh_exp = pair.refresh_expires_at.timestamp();
    assert!((before + 86_400..=after + 86_400).contains(&refresh_exp));

    let claims = jwt.verify_access(&pair.access).await.expect("valid");
    assert_eq!(claims.user_id(), "42");
    assert_eq!(claims.user_id_as::<i64>(), Some(42));
    assert_eq!(claims.user_id_as::<uuid::Uuid>(), None);
    let roles: Vec<String> = claims.get_custom("roles").unwrap();
    assert_eq!(roles, ["admin", "editor"]);
    assert_eq!(
        claims.get_custom::<String>("tenant").as_deref(),
        Some("acme")
    );
    assert_eq!(claims.get_custom::<i64>("tenant"), None, "wrong type");
    assert_eq!(claims.get_custom::<String>("missing"), None);
    assert_eq!(claims.custom().len(), 3);
    assert_eq!(claims.expires_at(), pair.access_expires_at);
    assert!(claims.issued_at() <= Utc::now());
    assert_eq!(claims.not_before(), claims.issued_at());
    assert_eq!(claims.token_type(), TokenType::Access);
    assert_eq!(claims.jti().len(), 32);
    assert_eq!(claims.issuer(), None);

    // Both tokens of a pair share the family, not the id.
    let raw_access = decode_payload(&pair.access);
    let raw_refresh = decode_payload(&pair.refresh);
    assert_eq!(raw_access["fam"], raw_refresh["fam"]);
    assert_eq!(raw_access["fam"], json!(claims.family()));
    assert_ne!(raw_access["jti"], raw_refresh["jti"]);
    assert_eq!(raw_refresh["typ"], "refresh");
    assert_eq!(raw_refresh["tenant"], "acme");
    assert_eq!(
        decode_header(&pair.access),
        json!({"alg": "HS256", "typ": "JWT"})
    );
}

#[tokio::test]
async fn a_pair_serializes_for_a_json_response_and_hides_its_tokens_from_logs() {
    let pair = jwt().issue_pair("u-1").unwrap();
    let body = serde_json::to_value(&pair).unwrap();
    let mut fields: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "access",
            "access_expires_at",
            "refresh",
            "refresh_expires_at"
        ]
    );
    assert_eq!(body["access"], json!(pair.access));
    let debug = format!("{pair:?}");
    assert!(!debug.contains(&pair.access) && !debug.contains(&pair.refresh));
    let back: rustango_auth::jwt_lifecycle::JwtTokenPair = serde_json::from_value(body).unwrap();
    assert_eq!(back, pair);
}

#[tokio::test]
async fn reserved_claims_cannot_be_custom() {
    let jwt = jwt();
    for name in [
        "sub", "exp", "jti", "typ", "iat", "nbf", "iss", "aud", "fam",
    ] {
        assert!(RESERVED_CLAIMS.contains(&name));
        let mut c = custom(json!({"roles": []}));
        c.insert(name.to_owned(), json!("x"));
        match jwt.issue_pair_with(1, c.clone()) {
            Err(JwtIssueError::ReservedClaim(n)) => assert_eq!(n, name),
            other => panic!("{name}: {other:?}"),
        }
        let pair = jwt.issue_pair(1).unwrap();
        match jwt.refresh_with(&pair.refresh, c).await {
            Err(JwtError::ReservedClaim(n)) => assert_eq!(n, name),
            other => panic!("{name}: {other:?}"),
        }
        // The refused refresh consumed nothing.
        jwt.refresh_detailed(&pair.refresh).await.unwrap();
    }
    // Similar names are fine.
    jwt.issue_pair_with(1, custom(json!({"Sub": 1, "subject": 2, "exp_at": 3})))
        .unwrap();
}

// ANCHOR: jwt_refresh
#[tokio::test]
async fn refresh_keeps_custom_claims_and_refresh_with_replaces_them() {
    let jwt = jwt();
    let pair = jwt
        .issue_pair_with(7, custom(json!({"roles": ["admin"], "tenant": "acme"})))
        .unwrap();
    let first = jwt.verify_access(&pair.access).await.unwrap();

    let next = jwt.refresh(&pair.refresh).await.expect("refreshed");
    let claims = jwt.verify_access(&next.access).await.unwrap();
    assert_eq!(claims.user_id(), "7");
    assert_eq!(claims.custom(), first.custom());
    assert_eq!(claims.family(), first.family(), "same family");
    assert_ne!(claims.jti(), first.jti());

    let downgraded = jwt
        .refresh_with(&next.refresh, custom(json!({"roles": ["viewer"]})))
        .await
        .unwrap();
    let claims = jwt.verify_access(&downgraded.access).await.unwrap();
    assert_eq!(
        claims.get_custom::<Vec<String>>("roles").unwrap(),
        ["viewer"]
    );
    assert_eq!(
        claims.get_custom::<String>("tenant"),
        None,
        "replaced, not merged"
    );
    assert_eq!(claims.family(), first.family());
    // And the replacement sticks for later refreshes.
    let later = jwt.refresh(&downgraded.refresh).await.unwrap();
    let claims = jwt.verify_access(&later.access).await.unwrap();
    assert_eq!(
        claims.get_custom::<Vec<String>>("roles").unwrap(),
        ["viewer"]
    );
}
// ANCHOR_END: jwt_refresh

#[tokio::test]
async fn logout_revokes_the_family_and_leaves_other_sessions() {
    let jwt = jwt();
    let phone = jwt.issue_pair(42).unwrap();
    let laptop = jwt.issue_pair(42).unwrap();
    jwt.revoke(&phone.refresh).await.unwrap();
    assert_refused!(verify(&jwt, &phone.access).await, JwtError::Revoked);
    assert_refused!(
        jwt.refresh_detailed(&phone.refresh).await,
        JwtError::Revoked
    );
    verify(&jwt, &laptop.access).await.unwrap();
    jwt.refresh_detailed(&laptop.refresh).await.unwrap();
}

#[tokio::test]
async fn a_family_can_be_revoked_by_id() {
    let jwt = jwt();
    let pair = jwt.issue_pair(42).unwrap();
    let next = jwt.refresh(&pair.refresh).await.unwrap();
    let family = jwt
        .verify_access(&next.access)
        .await
        .unwrap()
        .family()
        .to_owned();
    jwt.revoke_family(&family).await.unwrap();
    assert_refused!(verify(&jwt, &next.access).await, JwtError::Revoked);
    assert_refused!(jwt.refresh_detailed(&next.refresh).await, JwtError::Revoked);
    assert_refused!(
        jwt.revoke_family("not a family!").await,
        JwtError::Malformed
    );
}

#[tokio::test]
async fn revoking_an_expired_token_is_a_no_op() {
    let jwt = jwt();
    let now = now();
    let old = payload_with(
        "refresh",
        json!({"iat": now - 9000, "nbf": now - 9000, "exp": now - 3600}),
    );
    jwt.revoke(&hs256(&old)).await.unwrap();
}

#[tokio::test]
async fn issuer_and_audience_are_written_and_checked() {
    let jwt = jwt()
        .with_issuer("https://auth.example")
        .with_audience("api");
    let pair = jwt.issue_pair(1).unwrap();
    let raw = decode_payload(&pair.access);
    assert_eq!(raw["iss"], "https://auth.example");
    assert_eq!(raw["aud"], "api");
    let claims = jwt.verify_access(&pair.access).await.unwrap();
    assert_eq!(claims.issuer(), Some("https://auth.example"));
    assert_eq!(claims.audience(), Some(&json!("api")));
    let next = jwt.refresh(&pair.refresh).await.unwrap();
    assert_eq!(decode_payload(&next.refresh)["aud"], "api");
    // A lifecycle with another issuer refuses them.
    let other = crate::support::jwt()
        .with_issuer("https://other.example")
        .with_audience("api");
    assert_refused!(verify(&other, &next.access).await, JwtError::WrongIssuer);
}

#[test]
fn short_secrets_are_refused() {
    match JwtLifecycle::try_new(b"secret") {
        Err(JwtKeyError::WeakSecret {
            min: 32, len: 6, ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(JwtLifecycle::try_new(&[0; 31]).is_err());
    assert!(JwtLifecycle::try_new(&[0; 32]).is_ok());
}

#[test]
#[should_panic(expected = "JwtLifecycle::new: an HS256 secret needs at least 32 bytes, got 6")]
fn new_panics_on_a_short_secret() {
    let _ = JwtLifecycle::new(b"secret");
}

#[test]
#[should_panic(expected = "access TTL")]
fn a_zero_ttl_is_a_configuration_error() {
    let _ = jwt().with_access_ttl(0);
}

#[test]
#[should_panic(expected = "leeway")]
fn a_huge_leeway_is_a_configuration_error() {
    let _ = jwt().with_leeway(3600);
}

#[test]
fn the_lifecycle_debug_output_shows_no_secret() {
    let jwt = jwt().with_issuer("i");
    let debug = format!("{jwt:?}");
    assert!(debug.contains("HS256") && debug.contains("MemoryRevocationStore"));
    assert!(!debug.contains("0123456789abcdef"), "{debug}");
    assert!(!debug.contains("[48, 49"), "{debug}");
}

/// A store that is down.
#[derive(Debug)]
struct DownStore;

#[async_trait]
impl RevocationStore for DownStore {
    async fn revoke(&self, _: &str, _: DateTime<Utc>) -> Result<(), RevocationStoreError> {
        Err(RevocationStoreError::Other("down".into()))
    }
    async fn is_revoked(&self, _: &str) -> Result<bool, RevocationStoreError> {
        Err(RevocationStoreError::Other("down".into()))
    }
    async fn revoke_family(&self, _: &str, _: DateTime<Utc>) -> Result<(), RevocationStoreError> {
        Err(RevocationStoreError::Other("down".into()))
    }
    async fn is_family_revoked(&self, _: &str) -> Result<bool, RevocationStoreError> {
        Err(RevocationStoreError::Other("down".into()))
    }
    async fn consume(&self, _: &str, _: DateTime<Utc>) -> Result<bool, RevocationStoreError> {
        Err(RevocationStoreError::Other("down".into()))
    }
}

#[tokio::test]
async fn a_failing_store_fails_closed() {
    let jwt = jwt().with_store(Arc::new(DownStore));
    let pair = jwt.issue_pair(1).unwrap(); // issuing needs no store
    assert_refused!(verify(&jwt, &pair.access).await, JwtError::Store(_));
    assert!(jwt.verify_access(&pair.access).await.is_none());
    assert!(jwt.refresh(&pair.refresh).await.is_none());
    assert_refused!(jwt.revoke(&pair.access).await, JwtError::Store(_));
    // The signature is still checked first: a forged token is refused as such.
    assert_refused!(
        verify(&jwt, &pair.access.replace('.', ".x")).await,
        JwtError::Malformed | JwtError::BadSignature
    );
}

#[tokio::test]
async fn lifecycles_are_cheap_to_share_between_tasks() {
    let jwt = jwt();
    let pair = jwt.issue_pair(5).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let jwt = jwt.clone();
        let token = pair.access.clone();
        tasks.push(tokio::spawn(async move {
            jwt.verify_access(&token).await.is_some()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap());
    }
    // Clones share the store: a revocation on one is seen by the other.
    jwt.clone().revoke(&pair.access).await.unwrap();
    assert!(jwt.verify_access(&pair.access).await.is_none());
}
