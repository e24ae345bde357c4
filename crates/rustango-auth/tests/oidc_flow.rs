//! OpenID Connect against an in-process mock provider (no Node.js needed): id_token
//! validation rules, JWKS rotation and rate limiting, the login routes, token
//! endpoint authentication and account linking policies.
//!
//! The keys in `tests/oidc/keys/` are throwaway test keys.
#![cfg(feature = "oidc")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustango_auth::models::{Group, Permission, User};
use rustango_auth::oidc::{
    CallbackParams, LinkPolicy, LoginState, OidcClient, OidcConfig, OidcError, OidcIdentity,
    OidcRoutes, SocialAccount, TokenEndpointAuth, link_or_create_user,
};
use rustango_http::test_client::TestClient;
use rustango_orm::testing::TestDb;
use rustango_orm::{Column as _, Pool};
use serde_json::{Map, Value, json};
use sha2::Digest as _;

const CLIENT_ID: &str = "rustango-test";
const CLIENT_SECRET: &str = "rustango-test-secret";
const REDIRECT_URI: &str = "http://app.test/oidc/callback";
const COOKIE_SECRET: &[u8] = b"a test secret key of at least 32 bytes";

/// A signing key with its public JWK.
struct Key {
    encoding: EncodingKey,
    alg: Algorithm,
    kid: String,
    jwk: Value,
}

fn key(pem: &str, alg: Algorithm, kid: &str) -> Arc<Key> {
    let encoding = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        _ => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    };
    let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    Arc::new(Key {
        encoding,
        alg,
        kid: kid.to_owned(),
        jwk: serde_json::to_value(jwk).unwrap(),
    })
}

fn ec_a() -> Arc<Key> {
    key(include_str!("oidc/keys/ec-a.pem"), Algorithm::ES256, "ec-a")
}
fn ec_b() -> Arc<Key> {
    key(include_str!("oidc/keys/ec-b.pem"), Algorithm::ES256, "ec-b")
}
fn rsa_a() -> Arc<Key> {
    key(
        include_str!("oidc/keys/rsa-a.pem"),
        Algorithm::RS256,
        "rsa-a",
    )
}

fn sign(key: &Key, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
    sub: String,
}

/// What the mock provider does; tests change it between requests.
struct Mock {
    issuer: String,
    published: Vec<Arc<Key>>,
    signing: Arc<Key>,
    grants: HashMap<String, Grant>,
    tokens: HashMap<String, String>,
    /// Merged into id_token claims (`null` removes a claim).
    patch: Map<String, Value>,
    /// The `sub` the next authorization is for.
    sub: String,
    email: String,
    email_verified: bool,
    userinfo_sub: Option<String>,
    auth_method: TokenEndpointAuth,
}

type Shared = Arc<Mutex<Mock>>;

async fn discovery(State(mock): State<Shared>) -> Json<Value> {
    let issuer = mock.lock().unwrap().issuer.clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "authorization_response_iss_parameter_supported": true,
    }))
}

async fn jwks(State(mock): State<Shared>) -> Json<Value> {
    let keys: Vec<Value> = mock
        .lock()
        .unwrap()
        .published
        .iter()
        .map(|k| k.jwk.clone())
        .collect();
    Json(json!({ "keys": keys }))
}

async fn authorize(
    State(mock): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut mock = mock.lock().unwrap();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let code = uuid::Uuid::new_v4().to_string();
    let grant = Grant {
        nonce: q["nonce"].clone(),
        challenge: q["code_challenge"].clone(),
        redirect_uri: q["redirect_uri"].clone(),
        sub: mock.sub.clone(),
    };
    mock.grants.insert(code.clone(), grant);
    let url = reqwest::Url::parse_with_params(
        &q["redirect_uri"],
        &[
            ("code", code.as_str()),
            ("state", q["state"].as_str()),
            ("iss", mock.issuer.as_str()),
        ],
    )
    .unwrap();
    Redirect::to(url.as_str()).into_response()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

async fn token(State(mock): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let mut mock = mock.lock().unwrap();
    let form: HashMap<String, String> = reqwest::Url::parse(&format!("http://x/?{body}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let authenticated = match mock.auth_method {
        TokenEndpointAuth::ClientSecretBasic => {
            let expected = format!(
                "Basic {}",
                STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
            );
            headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&expected)
                && !form.contains_key("client_secret")
        }
        _ => {
            headers.get("authorization").is_none()
                && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        }
    };
    if !authenticated {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let Some(grant) = form.get("code").and_then(|c| mock.grants.remove(c)) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    if challenge != grant.challenge || form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let access_token = format!("at-{}", uuid::Uuid::new_v4());
    let digest = sha2::Sha256::digest(access_token.as_bytes());
    let mut claims = json!({
        "iss": mock.issuer,
        "aud": CLIENT_ID,
        "sub": grant.sub,
        "nonce": grant.nonce,
        "iat": now(),
        "exp": now() + 300,
        "at_hash": URL_SAFE_NO_PAD.encode(&digest[..16]),
    });
    for (k, v) in &mock.patch {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    let id_token = sign(&mock.signing, &claims);
    mock.tokens.insert(access_token.clone(), grant.sub);
    Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

async fn userinfo(State(mock): State<Shared>, headers: HeaderMap) -> Response {
    let mock = mock.lock().unwrap();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let Some(sub) = mock.tokens.get(token) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    Json(json!({
        "sub": mock.userinfo_sub.clone().unwrap_or_else(|| sub.clone()),
        "email": mock.email,
        "email_verified": mock.email_verified,
        "name": "Ann Example",
        "given_name": "Ann",
        "family_name": "Example",
        // userinfo cannot override id_token-only claims
        "iss": "https://evil.example",
    }))
    .into_response()
}

/// Starts a mock provider publishing `keys` and signing with the first.
async fn mock_provider(keys: Vec<Arc<Key>>) -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let shared = Arc::new(Mutex::new(Mock {
        issuer,
        signing: keys[0].clone(),
        published: keys,
        grants: HashMap::new(),
        tokens: HashMap::new(),
        patch: Map::new(),
        sub: "ann-sub".into(),
        email: "ann@example.test".into(),
        email_verified: true,
        userinfo_sub: None,
        auth_method: TokenEndpointAuth::ClientSecretBasic,
    }));
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/auth", get(authorize))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo))
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    shared
}

fn issuer(mock: &Shared) -> String {
    mock.lock().unwrap().issuer.clone()
}

fn config(mock: &Shared) -> OidcConfig {
    let mut config = OidcConfig::new(issuer(mock), CLIENT_ID, Some(CLIENT_SECRET), REDIRECT_URI);
    config.jwks_min_refetch_interval = Duration::from_secs(60);
    config
}

async fn client(mock: &Shared) -> OidcClient {
    OidcClient::discover_with(config(mock)).await.unwrap()
}

fn claims(mock: &Shared, nonce: &str) -> Value {
    json!({
        "iss": issuer(mock),
        "aud": CLIENT_ID,
        "sub": "ann-sub",
        "nonce": nonce,
        "iat": now(),
        "exp": now() + 300,
    })
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

#[track_caller]
fn assert_claim(result: Result<Map<String, Value>, OidcError>, expected: &str) {
    match result {
        Err(OidcError::InvalidClaim { claim, .. }) if claim == expected => {}
        other => panic!("expected an invalid `{expected}`, got {other:?}"),
    }
}

#[tokio::test]
async fn id_token_validation_rules() {
    let (a, rsa) = (ec_a(), rsa_a());
    let mock = mock_provider(vec![a.clone(), rsa.clone()]).await;
    let client = client(&mock).await;
    let base = claims(&mock, "n");
    let check = |token: String| {
        let client = client.clone();
        async move { client.validate_id_token(&token, "n").await }
    };

    // Valid tokens, ES256 and RS256; without a kid every usable key is tried.
    let ok = check(sign(&a, &base)).await.unwrap();
    assert_eq!(ok["sub"], "ann-sub");
    check(sign(&rsa, &base)).await.unwrap();
    let unkeyed = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &base, &a.encoding).unwrap();
    check(unkeyed).await.unwrap();
    assert_eq!(client.jwks_fetches(), 1, "the JWKS is cached");

    // iss, aud, azp
    assert_claim(
        check(sign(
            &a,
            &with(base.clone(), json!({"iss": "https://evil.example"})),
        ))
        .await,
        "iss",
    );
    assert_claim(
        check(sign(&a, &with(base.clone(), json!({"iss": null})))).await,
        "iss",
    );
    assert_claim(
        check(sign(
            &a,
            &with(base.clone(), json!({"aud": "someone-else"})),
        ))
        .await,
        "aud",
    );
    assert_claim(
        check(sign(&a, &with(base.clone(), json!({"aud": null})))).await,
        "aud",
    );
    let two = json!({"aud": [CLIENT_ID, "other"]});
    assert_claim(
        check(sign(&a, &with(base.clone(), two.clone()))).await,
        "azp",
    );
    check(sign(
        &a,
        &with(base.clone(), with(two.clone(), json!({"azp": CLIENT_ID}))),
    ))
    .await
    .unwrap();
    assert_claim(
        check(sign(
            &a,
            &with(base.clone(), with(two, json!({"azp": "other"}))),
        ))
        .await,
        "azp",
    );
    assert_claim(
        check(sign(&a, &with(base.clone(), json!({"azp": "other"})))).await,
        "azp",
    );

    // exp, iat, nbf, sub (leeway 30 s)
    assert_claim(
        check(sign(&a, &with(base.clone(), json!({"exp": now() - 120})))).await,
        "exp",
    );
    assert_claim(
        check(sign(&a, &with(base.clone(), json!({"exp": null})))).await,
        "exp",
    );
    check(sign(&a, &with(base.clone(), json!({"exp": now() - 10}))))
        .await
        .unwrap();
    assert_claim(
        check(sign(&a, &with(base.clone(), json!({"iat": now() + 3600})))).await,
        "iat",
    );
    assert_claim(
        check(sign(&a, &with(base.clone(), json!({"iat": null})))).await,
        "iat",
    );
    assert_claim(
        check(sign(&a, &with(base.clone(), json!({"nbf": now() + 3600})))).await,
        "nbf",
    );
    assert_claim(
        check(sign(&a, &with(base.clone(), json!({"sub": null})))).await,
        "sub",
    );
    assert_claim(
        check(sign(&a, &with(base.clone(), json!({"sub": ""})))).await,
        "sub",
    );

    // nonce
    for nonce in [json!("other"), json!(null), json!(""), json!(7)] {
        let err = check(sign(&a, &with(base.clone(), json!({"nonce": nonce}))))
            .await
            .unwrap_err();
        assert!(matches!(err, OidcError::NonceMismatch), "{err:?}");
    }

    // Signature: another payload under a valid signature.
    let good = sign(&a, &base);
    let forged_payload = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&with(base.clone(), json!({"sub": "admin"}))).unwrap());
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    assert!(matches!(
        check(forged).await.unwrap_err(),
        OidcError::InvalidSignature
    ));
    // A token signed by a key of the same type that is not the published one.
    let b_as_a = {
        let b = ec_b();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("ec-a".into());
        jsonwebtoken::encode(&header, &base, &b.encoding).unwrap()
    };
    assert!(matches!(
        check(b_as_a).await.unwrap_err(),
        OidcError::InvalidSignature
    ));

    // alg `none` and HS256 signed with the provider's public key are refused.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"ec-a"}"#),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&base).unwrap())
    );
    assert!(matches!(
        check(none).await.unwrap_err(),
        OidcError::UnsupportedAlgorithm { .. }
    ));
    let public_pem = include_str!("oidc/keys/rsa-a.pub.pem");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-a".into());
    let confused = jsonwebtoken::encode(
        &header,
        &base,
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    assert!(matches!(
        check(confused).await.unwrap_err(),
        OidcError::UnsupportedAlgorithm { .. }
    ));
    // An RS256 header naming the EC key: no key fits.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("ec-a".into());
    let mismatched = jsonwebtoken::encode(&header, &base, &rsa.encoding).unwrap();
    assert!(matches!(
        check(mismatched).await.unwrap_err(),
        OidcError::UnknownKey { .. }
    ));

    // Malformed tokens.
    for bad in ["", "a.b", "a.b.c.d.e", "!!!.e30.x", "e30.e30.e30"] {
        assert!(
            matches!(
                check(bad.to_owned()).await.unwrap_err(),
                OidcError::MalformedIdToken { .. }
            ),
            "{bad}"
        );
    }
    assert_eq!(client.jwks_fetches(), 1, "bad tokens never hammer the JWKS");
}

#[tokio::test]
async fn jwks_rotation_is_rate_limited() {
    let (a, b) = (ec_a(), ec_b());
    let mock = mock_provider(vec![a.clone()]).await;
    let mut config = config(&mock);
    config.jwks_min_refetch_interval = Duration::from_millis(400);
    let client = OidcClient::discover_with(config).await.unwrap();
    let base = claims(&mock, "n");

    client
        .validate_id_token(&sign(&a, &base), "n")
        .await
        .unwrap();
    assert_eq!(client.jwks_fetches(), 1);

    // The provider rotates to key B (A still published).
    mock.lock().unwrap().published = vec![b.clone(), a.clone()];
    // Right after a fetch: refused without fetching again.
    let err = client
        .validate_id_token(&sign(&b, &base), "n")
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::UnknownKey { .. }), "{err:?}");
    assert_eq!(client.jwks_fetches(), 1);
    // Later: one refetch, then B is known.
    tokio::time::sleep(Duration::from_millis(450)).await;
    client
        .validate_id_token(&sign(&b, &base), "n")
        .await
        .unwrap();
    client
        .validate_id_token(&sign(&a, &base), "n")
        .await
        .unwrap();
    assert_eq!(client.jwks_fetches(), 2);

    // An unknown kid: one refetch per interval at most, then refused.
    let ghost = {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("ghost".into());
        jsonwebtoken::encode(&header, &base, &b.encoding).unwrap()
    };
    tokio::time::sleep(Duration::from_millis(450)).await;
    for _ in 0..5 {
        let err = client.validate_id_token(&ghost, "n").await.unwrap_err();
        assert!(
            matches!(&err, OidcError::UnknownKey { kid: Some(k) } if k == "ghost"),
            "{err:?}"
        );
    }
    assert_eq!(client.jwks_fetches(), 3);

    // Concurrent logins with a new kid coalesce into one fetch.
    let rsa = rsa_a();
    mock.lock().unwrap().published = vec![rsa.clone(), b.clone(), a.clone()];
    tokio::time::sleep(Duration::from_millis(450)).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let client = client.clone();
        let token = sign(&rsa, &base);
        tasks.spawn(async move { client.validate_id_token(&token, "n").await });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(client.jwks_fetches(), 4, "one fetch for eight logins");
}

async fn database() -> TestDb {
    with_tables(TestDb::sqlite().await).await
}

async fn with_tables(db: TestDb) -> TestDb {
    rustango_orm::create_tables(
        &db.pool,
        &[
            <User as rustango_orm::Model>::SCHEMA,
            <Group as rustango_orm::Model>::SCHEMA,
            <Permission as rustango_orm::Model>::SCHEMA,
            <SocialAccount as rustango_orm::Model>::SCHEMA,
        ],
    )
    .await
    .unwrap();
    db
}

fn app(client: OidcClient, pool: Pool) -> TestClient {
    let routes = OidcRoutes::new(client, pool.clone(), COOKIE_SECRET)
        .unwrap()
        .secure_cookie(false)
        .cookie_path("/oidc")
        .on_login(|login| async move {
            Json(json!({
                "user_id": login.user.pk(),
                "username": login.user.username,
                "email": login.user.email,
                "first_name": login.user.first_name,
                "subject": login.identity.subject,
                "iss_claim": login.identity.claims["iss"],
                "next": login.next,
                "path": login.request.uri.path(),
            }))
        });
    TestClient::new(axum::Router::new().nest("/oidc", routes.into_router()))
}

/// `/oidc/login?next=...` → the provider → back; returns the callback's
/// path and query.
async fn to_callback(app: &TestClient, login: &str) -> String {
    let start = app.get(login).send().await;
    assert_eq!(start.status, 303, "{}", start.text());
    let authorize = start.header("location").unwrap().to_owned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = http.get(&authorize).send().await.unwrap();
    assert_eq!(back.status(), 303);
    let location = back.headers()["location"].to_str().unwrap().to_owned();
    location.strip_prefix("http://app.test").unwrap().to_owned()
}

#[tokio::test]
async fn login_routes() {
    let mock = mock_provider(vec![ec_a()]).await;
    let db = database().await;
    let app = app(client(&mock).await, db.pool.clone());

    let start = app.get("/oidc/login?next=%2Finbox%3Fp%3D2").send().await;
    assert_eq!(start.status, 303);
    assert_eq!(start.header("cache-control"), Some("no-store"));
    let cookie = start.header("set-cookie").unwrap();
    assert!(cookie.starts_with("rustango_oidc="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Max-Age=600", "Path=/oidc"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Secure"));

    let callback = to_callback(&app, "/oidc/login?next=%2Finbox%3Fp%3D2").await;
    let done = app.get(&callback).send().await;
    assert_eq!(done.status, 200, "{}", done.text());
    let body: Value = done.json();
    assert_eq!(body["subject"], "ann-sub");
    assert_eq!(body["username"], "ann");
    assert_eq!(body["email"], "ann@example.test");
    assert_eq!(body["first_name"], "Ann");
    assert_eq!(
        body["iss_claim"],
        issuer(&mock),
        "userinfo cannot override iss"
    );
    assert_eq!(body["next"], "/inbox?p=2");
    assert_eq!(
        body["path"], "/callback",
        "the path inside the nested router"
    );
    assert!(app.cookie("rustango_oidc").is_none(), "cookie cleared");

    // Replaying the callback: the cookie is gone.
    let replay = app.get(&callback).send().await;
    assert_eq!(replay.status, 400);
    assert_eq!(
        replay.problem().extension("code").unwrap(),
        "login_state_invalid"
    );

    // A forged cookie is refused.
    let callback = to_callback(&app, "/oidc/login").await;
    let genuine = app.cookie("rustango_oidc").unwrap();
    app.set_cookie("rustango_oidc", format!("{genuine}x"));
    assert_eq!(app.get(&callback).send().await.status, 400);

    // An open-redirect `next` falls back to `/`; no hook: a 303 there.
    let plain = TestClient::new(
        axum::Router::new().nest(
            "/oidc",
            OidcRoutes::new(client(&mock).await, db.pool.clone(), COOKIE_SECRET)
                .unwrap()
                .into_router(),
        ),
    );
    let callback = to_callback(&plain, "/oidc/login?next=%2F%5Cevil.example").await;
    let done = plain.get(&callback).send().await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(done.header("location"), Some("/"));

    // Errors at the provider: problem responses, never 500.
    mock.lock().unwrap().userinfo_sub = Some("someone-else".into());
    let callback = to_callback(&app, "/oidc/login").await;
    let refused = app.get(&callback).send().await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.problem().extension("code").unwrap(),
        "subject_mismatch"
    );
    mock.lock().unwrap().userinfo_sub = None;

    mock.lock().unwrap().patch = json!({"aud": "other"}).as_object().unwrap().clone();
    let callback = to_callback(&app, "/oidc/login").await;
    let refused = app.get(&callback).send().await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.problem().extension("code").unwrap(),
        "invalid_claim"
    );
    mock.lock().unwrap().patch = json!({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"})
        .as_object()
        .unwrap()
        .clone();
    let callback = to_callback(&app, "/oidc/login").await;
    assert_eq!(app.get(&callback).send().await.status, 401);
    mock.lock().unwrap().patch = Map::new();

    let callback = to_callback(&app, "/oidc/login").await;
    let denied = callback.replace("code=", "error=access_denied&ignored=");
    let refused = app.get(&denied).send().await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert_eq!(
        refused.problem().extension("code").unwrap(),
        "provider_error"
    );

    let callback = to_callback(&app, "/oidc/login").await;
    let (path, _) = callback.split_once('?').unwrap();
    let missing = app.get(path).send().await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.problem().extension("code").unwrap(),
        "missing_parameter"
    );

    db.cleanup().await;
}

#[tokio::test]
async fn callback_checks_and_token_endpoint_auth() {
    let mock = mock_provider(vec![ec_a()]).await;
    let client = client(&mock).await;
    assert_eq!(
        client.token_endpoint_auth(),
        TokenEndpointAuth::ClientSecretBasic
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = |client: OidcClient| {
        let http = http.clone();
        async move {
            let (url, state) = client.begin_login(None).unwrap();
            let back = http.get(&url).send().await.unwrap();
            let location = back.headers()["location"].to_str().unwrap().to_owned();
            let query = location.split_once('?').unwrap().1.to_owned();
            (state, CallbackParams::from_query(&query))
        }
    };

    let (state, params) = authorize(client.clone()).await;
    client.complete_login(&state, &params).await.unwrap();

    // Too old a login.
    let (mut state, params) = authorize(client.clone()).await;
    state.created_at -= chrono::Duration::hours(1);
    assert!(matches!(
        client.complete_login(&state, &params).await.unwrap_err(),
        OidcError::LoginExpired { .. }
    ));
    // Another issuer in the callback (mix-up), or none though the provider sends it.
    let (state, mut params) = authorize(client.clone()).await;
    params.iss = Some("https://evil.example".into());
    assert!(matches!(
        client.complete_login(&state, &params).await.unwrap_err(),
        OidcError::IssuerMismatch { .. }
    ));
    params.iss = None;
    assert!(matches!(
        client.complete_login(&state, &params).await.unwrap_err(),
        OidcError::MissingParameter { name: "iss" }
    ));
    // A state from another login.
    let (_, params) = authorize(client.clone()).await;
    let other = LoginState::new(None).unwrap();
    assert!(matches!(
        client.complete_login(&other, &params).await.unwrap_err(),
        OidcError::StateMismatch
    ));

    // client_secret_post.
    mock.lock().unwrap().auth_method = TokenEndpointAuth::ClientSecretPost;
    let (state, params) = authorize(client.clone()).await;
    assert!(matches!(
        client.complete_login(&state, &params).await.unwrap_err(),
        OidcError::TokenRejected { .. }
    ));
    let mut post_config = config(&mock);
    post_config.token_endpoint_auth = Some(TokenEndpointAuth::ClientSecretPost);
    let post_client = OidcClient::discover_with(post_config).await.unwrap();
    let (state, params) = authorize(post_client.clone()).await;
    let identity = post_client.complete_login(&state, &params).await.unwrap();
    assert_eq!(identity.subject, "ann-sub");

    // Discovery refuses a document naming another issuer.
    let mut other = config(&mock);
    other.issuer = issuer(&mock).replace("127.0.0.1", "localhost");
    let err = OidcClient::discover_with(other).await.unwrap_err();
    assert!(matches!(err, OidcError::IssuerMismatch { .. }), "{err:?}");
}

fn identity(subject: &str, email: Option<&str>, verified: bool) -> OidcIdentity {
    OidcIdentity {
        issuer: "https://id.example".into(),
        subject: subject.into(),
        email: email.map(str::to_owned),
        email_verified: verified,
        name: None,
        claims: Map::new(),
    }
}

#[tokio::test]
async fn linking_policies() {
    linking_policies_on(database().await).await;
}

#[cfg(feature = "__test-pg")]
#[tokio::test]
async fn linking_policies_on_postgres() {
    linking_policies_on(with_tables(TestDb::postgres().await).await).await;
}

async fn linking_policies_on(db: TestDb) {
    let pool = &db.pool;
    // The default never takes over an existing account by email.
    assert_eq!(
        LinkPolicy::default(),
        LinkPolicy {
            link_verified_email: false,
            create_users: true
        }
    );
    let open = LinkPolicy {
        link_verified_email: true,
        create_users: true,
    };
    let closed = LinkPolicy {
        link_verified_email: true,
        create_users: false,
    };
    let no_email_link = LinkPolicy {
        link_verified_email: false,
        create_users: true,
    };

    let mut existing = User::new("existing", "Ann@Example.test");
    existing.save_on(pool).await.unwrap();

    // Verified email: linked to the existing user (case-insensitively).
    let user = link_or_create_user(
        pool,
        &identity("s1", Some("ann@example.TEST"), true),
        &closed,
    )
    .await
    .unwrap();
    assert_eq!(user.pk(), existing.pk());
    assert!(user.last_login.is_some());
    // The link is used from now on, even if the email changes.
    let again = link_or_create_user(
        pool,
        &identity("s1", Some("new@example.test"), false),
        &closed,
    )
    .await
    .unwrap();
    assert_eq!(again.pk(), existing.pk());
    let account = SocialAccount::objects().first(pool).await.unwrap().unwrap();
    assert_eq!(account.email, "new@example.test");

    // Unverified email, or linking by email off: a new user, no usable password.
    let created = link_or_create_user(
        pool,
        &identity("s2", Some("ann@example.test"), false),
        &open,
    )
    .await
    .unwrap();
    assert_ne!(created.pk(), existing.pk());
    assert_eq!(created.email, "", "an unverified email is not stored");
    assert_eq!(created.username, "ann");
    assert!(!created.has_usable_password());
    let created = link_or_create_user(
        pool,
        &identity("s3", Some("ann@example.test"), true),
        &no_email_link,
    )
    .await
    .unwrap();
    assert_ne!(created.pk(), existing.pk());
    assert!(created.username.starts_with("ann_"), "{}", created.username);
    assert_eq!(created.email, "ann@example.test");

    // Sign-up closed.
    let err = link_or_create_user(pool, &identity("s4", Some("x@example.test"), true), &closed)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::SignupClosed), "{err:?}");

    // Two users share the verified email: not linked to either.
    let err = link_or_create_user(pool, &identity("s5", Some("ann@example.test"), true), &open)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::AmbiguousEmail), "{err:?}");

    // Inactive users are refused, linked or found by email.
    User::objects()
        .where_(User::id.eq(existing.pk().unwrap()))
        .update()
        .set(User::is_active, false)
        .execute_on(pool)
        .await
        .unwrap();
    let err = link_or_create_user(pool, &identity("s1", None, false), &open)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::InactiveUser), "{err:?}");

    // No email at all: username `user`, then `user_xxxxxx`.
    let a = link_or_create_user(pool, &identity("s6", None, false), &open)
        .await
        .unwrap();
    let b = link_or_create_user(pool, &identity("s7", None, false), &open)
        .await
        .unwrap();
    assert_eq!(a.username, "user");
    assert!(b.username.starts_with("user_"));

    // Concurrent first logins of one identity end with one user.
    let id = identity("s8", Some("eve@example.test"), true);
    let (x, y) = tokio::join!(
        link_or_create_user(pool, &id, &open),
        link_or_create_user(pool, &id, &open)
    );
    assert_eq!(x.unwrap().pk(), y.unwrap().pk());
    let links = SocialAccount::objects()
        .where_(SocialAccount::subject.eq("s8"))
        .count(pool)
        .await
        .unwrap();
    assert_eq!(links, 1);

    db.cleanup().await;
}
