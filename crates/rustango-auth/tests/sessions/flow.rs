//! Sessions through an axum app: fixation defence at login, logout, cookie flags.

use axum::Router;
use axum::routing::{get, post};
use rustango_auth::sessions::{
    self, DbSessionStore, Id, MemorySessionStore, Session, SessionConfig, SessionStore,
    StoredSession,
};
use rustango_config::{Env, Settings, Sources};
use rustango_http::extract::Json;
use rustango_http::test_client::TestClient;
use rustango_orm::create_tables;
use serde_json::{Value, json};

async fn visit(session: Session) -> String {
    let visits: u32 = session.get("visits").await.unwrap().unwrap_or(0) + 1;
    session.insert("visits", visits).await.unwrap();
    visits.to_string()
}

async fn login(session: Session) {
    sessions::rotate(&session).await.unwrap();
    session.insert("user_id", 42).await.unwrap();
}

async fn whoami(session: Session) -> Json<Value> {
    Json(json!({
        "user_id": session.get::<i64>("user_id").await.unwrap(),
        "visits": session.get::<u32>("visits").await.unwrap(),
    }))
}

async fn logout(session: Session) {
    sessions::clear(&session).await.unwrap();
}

fn app<S: SessionStore + Clone>(config: &SessionConfig, store: S) -> Router {
    Router::new()
        .route("/visit", get(visit))
        .route("/login", post(login))
        .route("/whoami", get(whoami))
        .route("/logout", post(logout))
        .layer(config.layer(store))
}

fn session_id(client: &TestClient) -> Id {
    client
        .cookie("sessionid")
        .expect("a session cookie")
        .parse()
        .expect("the cookie holds a session id")
}

/// A client that presents `id` as its session cookie (an attacker who planted or
/// stole it).
fn holding(router: &Router, id: Id) -> TestClient {
    let client = TestClient::new(router.clone());
    client.set_cookie("sessionid", id.to_string());
    client
}

/// Visit, log in, look, log out; checks the id rotation and the clean-up against the
/// store. `between` runs while logged in (the Redis test looks at the keys there).
async fn flow<S, F, Fut>(store: S, config: SessionConfig, between: F)
where
    S: SessionStore + Clone,
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let router = app(&config, store.clone());
    let client = TestClient::new(router.clone());

    // An anonymous visit starts a session.
    let response = client.get("/visit").send().await;
    assert_eq!(response.text(), "1");
    let anonymous = session_id(&client);
    assert!(store.load(&anonymous).await.unwrap().is_some());

    // Login: a new id, the same data; the old id is dead.
    let response = client.post("/login").send().await;
    assert_eq!(response.status, 200);
    assert!(
        response.header("set-cookie").is_some(),
        "login sets the cookie"
    );
    let logged_in = session_id(&client);
    assert_ne!(logged_in, anonymous, "the session id changes at login");
    let me: Value = client.get("/whoami").send().await.json();
    assert_eq!(me, json!({"user_id": 42, "visits": 1}));
    assert!(store.load(&anonymous).await.unwrap().is_none());
    let attacker: Value = holding(&router, anonymous)
        .get("/whoami")
        .send()
        .await
        .json();
    assert_eq!(attacker, json!({"user_id": null, "visits": null}));

    // Reading does not resend the cookie; a change does, with the same id.
    let response = client.get("/whoami").send().await;
    assert!(response.header("set-cookie").is_none());
    assert_eq!(client.get("/visit").send().await.text(), "2");
    assert_eq!(session_id(&client), logged_in);

    between().await;

    // Logout: record deleted, cookie removed.
    let response = client.post("/logout").send().await;
    assert_eq!(response.status, 200);
    let removal = response
        .header("set-cookie")
        .expect("logout removes the cookie");
    assert!(removal.starts_with("sessionid="), "{removal}");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert_eq!(client.cookie("sessionid"), None);
    assert!(store.load(&logged_in).await.unwrap().is_none());
    let stale: Value = holding(&router, logged_in)
        .get("/whoami")
        .send()
        .await
        .json();
    assert_eq!(stale, json!({"user_id": null, "visits": null}));

    // The next visit starts afresh.
    assert_eq!(client.get("/visit").send().await.text(), "1");
    assert_ne!(session_id(&client), logged_in);
}

#[tokio::test]
async fn login_rotates_and_logout_clears_on_the_memory_store() {
    let store = MemorySessionStore::new();
    flow(store.clone(), SessionConfig::new(false), || async {}).await;
    assert_eq!(store.len(), 1, "only the last anonymous session is left");
}

rustango_orm::backend_test! {
    async fn login_rotates_and_logout_clears_on_the_db_store(pool) {
        create_tables(&pool, &[StoredSession::SCHEMA]).await?;
        let store = DbSessionStore::new(pool.clone());
        flow(store, SessionConfig::new(false), || async {}).await;
        assert_eq!(StoredSession::objects().count(&pool).await?, 1);
        Ok(())
    }
}

#[cfg(feature = "__test-redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_rotates_and_logout_clears_on_redis() {
    use std::sync::Arc;

    use rustango_auth::sessions::CacheSessionStore;
    use rustango_cache::Cache as _;

    let redis = crate::support::redis_cache().await;
    let cache: rustango_cache::BoxedCache = Arc::new(redis.clone());
    let store = CacheSessionStore::new(cache.clone());
    let config = SessionConfig::new(false).with_cookie_age(time::Duration::minutes(10));
    flow(store, config, || async {
        // Logged in: the session key (the anonymous one is gone) has a TTL.
        let keys = crate::support::redis_keys_with_ttl(&redis).await;
        assert_eq!(keys.len(), 1, "{keys:?}");
        for (key, ttl) in &keys {
            assert!(*ttl > 0 && *ttl <= 600, "{key} has TTL {ttl}");
        }
    })
    .await;
    // After the flow: one anonymous session, with a TTL.
    let keys = crate::support::redis_keys_with_ttl(&redis).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys.iter().all(|(_, ttl)| *ttl > 0), "{keys:?}");
    cache.clear().await.unwrap();
}

/// The `Set-Cookie` header of a first visit under `config`.
async fn first_cookie(config: SessionConfig) -> String {
    let client = TestClient::new(app(&config, MemorySessionStore::new()));
    let response = client.get("/visit").send().await;
    response
        .header("set-cookie")
        .expect("a new session sets the cookie")
        .to_owned()
}

fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_owned())
        .collect()
}

#[tokio::test]
async fn cookie_flags_in_production() {
    let config = SessionConfig::from_settings(&Settings::defaults(Env::Prod)).unwrap();
    assert!(config.is_secure());
    let cookie = first_cookie(config).await;
    let attributes = attributes(&cookie);
    assert!(cookie.starts_with("sessionid="), "{cookie}");
    for expected in [
        "HttpOnly",
        "SameSite=Lax",
        "Secure",
        "Path=/",
        "Max-Age=1209600",
    ] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{expected} missing from {cookie}"
        );
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("Domain")),
        "{cookie}"
    );
}

#[tokio::test]
async fn cookie_flags_in_dev_and_test() {
    for env in [Env::Dev, Env::Test] {
        let config = SessionConfig::from_settings(&Settings::defaults(env)).unwrap();
        assert!(!config.is_secure());
        let cookie = first_cookie(config).await;
        let attributes = attributes(&cookie);
        assert!(attributes.iter().any(|a| a == "HttpOnly"), "{cookie}");
        assert!(attributes.iter().any(|a| a == "SameSite=Lax"), "{cookie}");
        assert!(!attributes.iter().any(|a| a == "Secure"), "{env}: {cookie}");
    }
}

fn settings(vars: &[(&str, &str)]) -> Settings {
    let dir = std::env::temp_dir().join("rustango-sessions-no-settings-files");
    let mut sources = Sources::new(dir);
    for (name, value) in vars {
        sources = sources.var(*name, *value);
    }
    Settings::load(sources).unwrap()
}

#[tokio::test]
async fn the_session_section_configures_the_cookie() {
    let config = SessionConfig::from_settings(&settings(&[
        ("RUSTANGO_ENV", "prod"),
        ("RUSTANGO_SESSION__COOKIE_NAME", "sid"),
        ("RUSTANGO_SESSION__COOKIE_AGE", "3600"),
        ("RUSTANGO_SESSION__COOKIE_DOMAIN", "example.com"),
    ]))
    .unwrap();
    assert_eq!(config.cookie_name(), "sid");
    assert_eq!(config.cookie_age(), time::Duration::hours(1));
    let cookie = {
        let client = TestClient::new(
            Router::new()
                .route("/visit", get(visit))
                .layer(config.layer(MemorySessionStore::new())),
        );
        let response = client.get("/visit").send().await;
        response.header("set-cookie").unwrap().to_owned()
    };
    let attributes = attributes(&cookie);
    assert!(cookie.starts_with("sid="), "{cookie}");
    for expected in ["Max-Age=3600", "Domain=example.com", "Secure", "HttpOnly"] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{expected} missing from {cookie}"
        );
    }

    // Browser-session cookies have no Max-Age.
    let config = SessionConfig::from_settings(&settings(&[(
        "RUSTANGO_SESSION__EXPIRE_AT_BROWSER_CLOSE",
        "true",
    )]))
    .unwrap();
    let cookie = first_cookie(config).await;
    assert!(!cookie.contains("Max-Age"), "{cookie}");

    // An explicit `cookie_secure` wins over the environment.
    let config = SessionConfig::from_settings(&settings(&[
        ("RUSTANGO_ENV", "prod"),
        ("RUSTANGO_SESSION__COOKIE_SECURE", "false"),
    ]))
    .unwrap();
    assert!(!config.is_secure());
}

#[test]
fn the_session_section_rejects_mistakes() {
    for (key, value) in [
        ("RUSTANGO_SESSION__COOKIE_NAME", "a b"),
        ("RUSTANGO_SESSION__COOKIE_AGE", "0"),
        ("RUSTANGO_SESSION__COOKIE_AGE", "soon"),
        ("RUSTANGO_SESSION__COOKIE_PATH", "relative"),
        ("RUSTANGO_SESSION__COOKIE_AEG", "60"),
    ] {
        let error = SessionConfig::from_settings(&settings(&[(key, value)]))
            .expect_err(&format!("{key}={value} is refused"));
        assert!(error.to_string().contains("session"), "{error}");
    }
}

#[tokio::test]
async fn save_every_request_resends_the_cookie() {
    let config = SessionConfig::new(false).with_save_every_request(true);
    let client = TestClient::new(app(&config, MemorySessionStore::new()));
    client.get("/visit").send().await;
    let response = client.get("/whoami").send().await;
    assert!(response.header("set-cookie").is_some());
}
