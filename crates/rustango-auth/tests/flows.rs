//! The sign-in flows and the guards over HTTP (the in-process test client), on SQLite
//! and, with `__test-pg`, PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rustango_auth::APP;
use rustango_auth::backends::{
    ApiKeyBackend, Backend, JwtBackend, SessionBackend, ThrottledModelBackend, create_api_key,
};
use rustango_auth::flows::{AuthRoutes, ResetSender, Throttle};
use rustango_auth::guard::{CurrentUser, RouterAuthExt};
use rustango_auth::jwt_lifecycle::JwtLifecycle;
use rustango_auth::models::{Group, User};
use rustango_auth::sessions::{MemorySessionStore, Session, SessionConfig};
use rustango_auth::signals::{self, AuthEvent};
use rustango_auth::{permissions, users};
use rustango_cache::InMemoryCache;
use rustango_core::Auto;
use rustango_http::test_client::TestClient;
use rustango_migrate::{MigrationSet, Runner, Target};
use rustango_orm::{Error, Pool};
use serde_json::{Value, json};

fn err(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string().into())
}

async fn install(pool: &Pool) -> Result<(), Error> {
    let set = MigrationSet::default().with_apps(&[APP]).map_err(err)?;
    Runner::new(pool, &set)
        .migrate(&Target::Latest)
        .await
        .map_err(err)?;
    APP.post_migrate(pool).await.map_err(err)?;
    Ok(())
}

/// Collects reset tokens instead of sending mail.
#[derive(Default)]
struct Outbox(Mutex<Vec<(String, String, String)>>);

#[async_trait::async_trait]
impl ResetSender for Outbox {
    async fn send(&self, user: &User, uid: &str, token: &str) {
        self.0
            .lock()
            .unwrap()
            .push((user.email.clone(), uid.to_owned(), token.to_owned()));
    }
}

/// The next link sent (sending runs in the background, so wait for it a little).
async fn next_link(outbox: &Outbox) -> (String, String, String) {
    for _ in 0..200 {
        if let Some(link) = outbox.0.lock().unwrap().pop() {
            return link;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no reset link was sent");
}

const SECRET: &[u8] = b"a test secret key that is at least thirty-two bytes";

struct App {
    router: Router,
    outbox: Arc<Outbox>,
    jwt: Arc<JwtLifecycle>,
}

fn app(pool: &Pool, reset_timeout: Duration) -> App {
    let outbox = Arc::new(Outbox::default());
    let jwt = Arc::new(JwtLifecycle::new(SECRET));
    let routes = AuthRoutes::new(pool.clone(), Arc::new(InMemoryCache::new()))
        .throttle(Throttle::new(Arc::new(InMemoryCache::new())).limits(
            3,
            10,
            Duration::from_secs(60),
        ))
        .jwt(jwt.clone())
        .password_reset(SECRET, reset_timeout, outbox.clone())
        .totp_issuer("Tests");
    let backends: Vec<Backend> = vec![
        Arc::new(SessionBackend),
        Arc::new(ThrottledModelBackend::new(
            Throttle::new(Arc::new(InMemoryCache::new())).limits(3, 10, Duration::from_secs(60)),
        )),
        Arc::new(ApiKeyBackend),
        Arc::new(JwtBackend::with(jwt.clone())),
    ];
    // ANCHOR: guards
    let api =
        Router::new()
            .route(
                "/api/whoami",
                get(|CurrentUser(u): CurrentUser| async move {
                    u.map(|u| u.username).unwrap_or_default()
                }),
            )
            .require_auth(backends.clone(), pool.clone());
    let editors = Router::new()
        .route("/api/articles/new", get(|| async { "editor page" }))
        .require_perm("article.add", pool.clone())
        .require_auth(backends, pool.clone());
    // ANCHOR_END: guards
    let router = Router::new()
        .route(
            "/visit",
            get(|session: Session| async move {
                session.insert("visited", true).await.unwrap();
                "ok"
            }),
        )
        .nest("/auth", routes.router())
        .merge(api)
        .merge(editors)
        .layer(SessionConfig::new(false).layer(MemorySessionStore::new()));
    App {
        router,
        outbox,
        jwt,
    }
}

fn login_body(username: &str, password: &str) -> Value {
    json!({"username": username, "password": password})
}

rustango_orm::backend_test! {
    async fn session_login_logout_and_fixation(pool) {
        install(&pool).await?;
        users::create_user(&pool, "alice", "alice@example.com", Some("a long passphrase 1")).await.map_err(err)?;
        let app = app(&pool, Duration::from_secs(3600));
        let c = TestClient::new(app.router.clone());

        assert_eq!(c.get("/auth/me").send().await.status, 401);
        // An anonymous session first: its id must not survive the login.
        c.get("/visit").send().await;
        let before = c.cookie("sessionid").expect("a session cookie");

        let wrong = c.post("/auth/login").json(&login_body("alice", "nope")).send().await;
        let unknown = c.post("/auth/login").json(&login_body("mallory", "nope")).send().await;
        assert_eq!(wrong.status, 401);
        assert_eq!(unknown.status, 401);
        assert_eq!(wrong.json::<Value>()["detail"], unknown.json::<Value>()["detail"]);

        let r = c.post("/auth/login").json(&login_body("alice", "a long passphrase 1")).send().await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json::<Value>()["user"]["username"], "alice");
        let set_cookie = r.header("set-cookie").expect("a new session cookie");
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
        let after = c.cookie("sessionid").unwrap();
        assert_ne!(before, after, "the session id must change at login");
        assert_eq!(c.get("/auth/me").send().await.status, 200);
        assert_eq!(c.get("/api/whoami").send().await.text(), "alice");

        // The pre-login id is worthless now.
        let attacker = TestClient::new(app.router.clone());
        attacker.set_cookie("sessionid", before);
        assert_eq!(attacker.get("/auth/me").send().await.status, 401);

        // last_login is recorded.
        let alice = users::get_by_username(&pool, "alice").await.map_err(err)?.unwrap();
        assert!(alice.last_login.is_some());

        assert_eq!(c.post("/auth/logout").send().await.status, 204);
        assert_eq!(c.get("/auth/me").send().await.status, 401);
        // Replaying the logged-out session id does not sign in either.
        let replay = TestClient::new(app.router.clone());
        replay.set_cookie("sessionid", after);
        assert_eq!(replay.get("/auth/me").send().await.status, 401);
        Ok(())
    }
}

rustango_orm::backend_test! {
    async fn failed_sign_ins_are_throttled(pool) {
        install(&pool).await?;
        users::create_user(&pool, "bob", "", Some("a long passphrase 2")).await.map_err(err)?;
        let app = app(&pool, Duration::from_secs(3600));
        let c = TestClient::new(app.router.clone());
        for _ in 0..3 {
            assert_eq!(c.post("/auth/login").json(&login_body("bob", "guess")).send().await.status, 401);
        }
        // Over the limit: refused before the password is even checked.
        let r = c.post("/auth/login").json(&login_body("bob", "a long passphrase 2")).send().await;
        assert_eq!(r.status, 429);
        assert!(r.header("retry-after").is_some());
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        // The same limit guards the token endpoint.
        assert_eq!(c.post("/auth/token").json(&login_body("BOB", "a long passphrase 2")).send().await.status, 429);
        // Garbage bodies are problems, not 500s.
        assert_eq!(c.post("/auth/login").body("{").header("content-type", "application/json").send().await.status, 400);
        assert_eq!(c.post("/auth/login").json(&json!({"username": 5})).send().await.status, 422);
        Ok(())
    }
}

rustango_orm::backend_test! {
    async fn password_change_ends_other_sessions(pool) {
        install(&pool).await?;
        users::create_user(&pool, "carol", "", Some("a long passphrase 3")).await.map_err(err)?;
        let app = app(&pool, Duration::from_secs(3600));
        let laptop = TestClient::new(app.router.clone());
        let phone = TestClient::new(app.router.clone());
        for c in [&laptop, &phone] {
            assert_eq!(c.post("/auth/login").json(&login_body("carol", "a long passphrase 3")).send().await.status, 200);
        }
        let change = |old: &str, new: &str| json!({"old_password": old, "new_password": new});
        assert_eq!(laptop.post("/auth/password/change").json(&change("wrong", "another long phrase 9")).send().await.status, 400);
        let weak = laptop.post("/auth/password/change").json(&change("a long passphrase 3", "123456")).send().await;
        assert_eq!(weak.status, 422);
        assert!(weak.json::<Value>()["problems"].as_array().is_some_and(|p| !p.is_empty()));
        assert_eq!(laptop.post("/auth/password/change").json(&change("a long passphrase 3", "another long phrase 9")).send().await.status, 204);
        assert_eq!(laptop.get("/auth/me").send().await.status, 200, "this session continues");
        assert_eq!(phone.get("/auth/me").send().await.status, 401, "other sessions end");
        assert!(users::authenticate(&pool, "carol", "another long phrase 9").await.map_err(err)?.is_some());
        Ok(())
    }
}

rustango_orm::backend_test! {
    async fn password_reset_links_are_single_use_and_expire(pool) {
        install(&pool).await?;
        users::create_user(&pool, "dave", "dave@example.com", Some("a long passphrase 4")).await.map_err(err)?;
        let app = app(&pool, Duration::from_secs(2));
        let c = TestClient::new(app.router.clone());

        let known = c.post("/auth/password/reset").json(&json!({"email": "DAVE@Example.com"})).send().await;
        let unknown = c.post("/auth/password/reset").json(&json!({"email": "nobody@example.com"})).send().await;
        assert_eq!(known.status, 202);
        assert_eq!((unknown.status, unknown.text()), (known.status, known.text()), "no account enumeration");
        let (email, uid, token) = next_link(&app.outbox).await;
        assert_eq!(email, "dave@example.com");
        assert!(app.outbox.0.lock().unwrap().is_empty());

        let confirm = |uid: &str, token: &str, pw: &str| json!({"uid": uid, "token": token, "new_password": pw});
        // A wrong uid, a tampered token, a weak password: refused.
        assert_eq!(c.post("/auth/password/reset/confirm").json(&confirm("999", &token, "a new long phrase 5")).send().await.status, 400);
        let mut tampered = token.clone();
        tampered.replace_range(0..1, if tampered.starts_with('e') { "f" } else { "e" });
        assert_eq!(c.post("/auth/password/reset/confirm").json(&confirm(&uid, &tampered, "a new long phrase 5")).send().await.status, 400);
        assert_eq!(c.post("/auth/password/reset/confirm").json(&confirm(&uid, &token, "123")).send().await.status, 422);

        assert_eq!(c.post("/auth/password/reset/confirm").json(&confirm(&uid, &token, "a new long phrase 5")).send().await.status, 204);
        assert!(users::authenticate(&pool, "dave", "a new long phrase 5").await.map_err(err)?.is_some());
        // Single use: the password hash it signed has changed.
        assert_eq!(c.post("/auth/password/reset/confirm").json(&confirm(&uid, &token, "yet another phrase 6")).send().await.status, 400);

        // An email change voids a link too.
        c.post("/auth/password/reset").json(&json!({"email": "dave@example.com"})).send().await;
        let (_, uid, token) = next_link(&app.outbox).await;
        let mut dave = users::get_by_username(&pool, "dave").await.map_err(err)?.unwrap();
        dave.email = "dave@elsewhere.example".into();
        dave.save_on(&pool).await?;
        assert_eq!(c.post("/auth/password/reset/confirm").json(&confirm(&uid, &token, "yet another phrase 6")).send().await.status, 400);

        // And links expire.
        c.post("/auth/password/reset").json(&json!({"email": "dave@elsewhere.example"})).send().await;
        let (_, uid, token) = next_link(&app.outbox).await;
        tokio::time::sleep(Duration::from_millis(3100)).await;
        assert_eq!(c.post("/auth/password/reset/confirm").json(&confirm(&uid, &token, "yet another phrase 6")).send().await.status, 400);
        Ok(())
    }
}

rustango_orm::backend_test! {
    async fn totp_enrolment_and_sign_in(pool) {
        install(&pool).await?;
        users::create_user(&pool, "erin", "erin@example.com", Some("a long passphrase 7")).await.map_err(err)?;
        let app = app(&pool, Duration::from_secs(3600));
        let c = TestClient::new(app.router.clone());
        c.post("/auth/login").json(&login_body("erin", "a long passphrase 7")).send().await;

        let r = c.post("/auth/totp/enroll").send().await;
        assert_eq!(r.status, 200);
        let body: Value = r.json();
        let secret_text = body["secret"].as_str().unwrap().to_owned();
        assert!(body["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/Tests:erin%40example.com?"));
        let secret = rustango_crypto::totp::TotpSecret::from_base32(&secret_text).unwrap();
        assert_eq!(c.post("/auth/totp/confirm").json(&json!({"otp": "000000x"})).send().await.status, 400);
        let code = rustango_crypto::totp::generate(&secret);
        assert_eq!(c.post("/auth/totp/confirm").json(&json!({"otp": code})).send().await.status, 204);
        c.post("/auth/logout").send().await;

        // Now the password alone is not enough.
        let r = c.post("/auth/login").json(&login_body("erin", "a long passphrase 7")).send().await;
        assert_eq!(r.status, 401);
        assert_eq!(r.json::<Value>()["otp_required"], true);
        // The code used at enrolment cannot be replayed.
        let replay = json!({"username": "erin", "password": "a long passphrase 7", "otp": code});
        assert_eq!(c.post("/auth/login").json(&replay).send().await.status, 401);
        // The next step's code works once.
        let next = rustango_crypto::totp::generate_at(&secret, now() + 30);
        let good = json!({"username": "erin", "password": "a long passphrase 7", "otp": next});
        assert_eq!(c.post("/auth/login").json(&good).send().await.status, 200);
        c.post("/auth/logout").send().await;
        let r = c.post("/auth/login").json(&good).send().await;
        assert_eq!(r.status, 401, "a code is accepted once");
        Ok(())
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

rustango_orm::backend_test! {
    async fn jwt_pairs_through_the_endpoints(pool) {
        install(&pool).await?;
        users::create_user(&pool, "frank", "", Some("a long passphrase 8")).await.map_err(err)?;
        let app = app(&pool, Duration::from_secs(3600));
        let c = TestClient::new(app.router.clone());
        let r = c.post("/auth/token").json(&login_body("frank", "a long passphrase 8")).send().await;
        assert_eq!(r.status, 200, "{}", r.text());
        let pair: Value = r.json();
        let access = pair["access"].as_str().unwrap().to_owned();
        let refresh = pair["refresh"].as_str().unwrap().to_owned();

        let api = TestClient::new(app.router.clone());
        let bearer = |t: &str| format!("Bearer {t}");
        assert_eq!(api.get("/api/whoami").header("authorization", bearer(&access)).send().await.text(), "frank");

        let r = c.post("/auth/token/refresh").json(&json!({"refresh": refresh})).send().await;
        assert_eq!(r.status, 200);
        let second: Value = r.json();
        // Reusing the old refresh token revokes the family: the new pair dies too.
        assert_eq!(c.post("/auth/token/refresh").json(&json!({"refresh": refresh})).send().await.status, 401);
        let second_access = second["access"].as_str().unwrap();
        assert_eq!(api.get("/api/whoami").header("authorization", bearer(second_access)).send().await.status, 401);

        // Revoking an access token.
        let pair = app.jwt.issue_pair(users::get_by_username(&pool, "frank").await.map_err(err)?.unwrap().pk().unwrap()).map_err(err)?;
        assert_eq!(api.get("/api/whoami").header("authorization", bearer(&pair.access)).send().await.status, 200);
        assert_eq!(c.post("/auth/token/revoke").json(&json!({"token": pair.access})).send().await.status, 204);
        assert_eq!(api.get("/api/whoami").header("authorization", bearer(&pair.access)).send().await.status, 401);

        // A deactivated account cannot refresh.
        let mut frank = users::get_by_username(&pool, "frank").await.map_err(err)?.unwrap();
        frank.is_active = false;
        frank.save_on(&pool).await?;
        assert_eq!(c.post("/auth/token/refresh").json(&json!({"refresh": pair.refresh})).send().await.status, 401);
        Ok(())
    }
}

rustango_orm::backend_test! {
    async fn guards_and_backends(pool) {
        install(&pool).await?;
        let grace = users::create_user(&pool, "grace", "", Some("a long passphrase 9")).await.map_err(err)?;
        let app = app(&pool, Duration::from_secs(3600));
        let c = TestClient::new(app.router.clone());

        // Nobody: 401 with the schemes the backends accept.
        let r = c.get("/api/whoami").send().await;
        assert_eq!(r.status, 401);
        let challenge = r.header("www-authenticate").unwrap();
        assert!(challenge.contains("Basic") && challenge.contains("Bearer"), "{challenge}");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));

        // Basic.
        use base64::Engine as _;
        let basic = |u: &str, p: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")));
        assert_eq!(c.get("/api/whoami").header("authorization", basic("grace", "a long passphrase 9")).send().await.text(), "grace");
        assert_eq!(c.get("/api/whoami").header("authorization", basic("grace", "wrong")).send().await.status, 401);

        // API keys: valid, revoked, expired, malformed.
        let (token, mut key) = create_api_key(&pool, &grace, "ci", None).await.map_err(err)?;
        assert_eq!(c.get("/api/whoami").header("authorization", format!("Bearer {token}")).send().await.text(), "grace");
        let (prefix, _) = token.split_once('.').unwrap();
        assert_eq!(c.get("/api/whoami").header("authorization", format!("Bearer {prefix}.wrongsecret")).send().await.status, 401);
        key.revoked = true;
        key.save_on(&pool).await?;
        assert_eq!(c.get("/api/whoami").header("authorization", format!("Bearer {token}")).send().await.status, 401);
        let (expired, _) = create_api_key(&pool, &grace, "old", Some(chrono::Utc::now() - chrono::Duration::seconds(1))).await.map_err(err)?;
        assert_eq!(c.get("/api/whoami").header("authorization", format!("Bearer {expired}")).send().await.status, 401);
        for junk in ["Basic !!!", "Basic Z3JhY2U=", "Bearer", "Bearer a.b.c.d", "Bearer ...", "Negotiate abc", "Bearer \u{7f}"] {
            let r = c.get("/api/whoami").header("authorization", junk.replace('\u{7f}', "x")).send().await;
            assert_eq!(r.status, 401, "{junk}");
        }

        // A password alone never passes for an account with two-factor sign-in.
        let mut two_factor = users::create_user(&pool, "judy", "", Some("a long passphrase 12")).await.map_err(err)?;
        two_factor.totp_secret = Some(rustango_crypto::totp::TotpSecret::generate().to_base32());
        two_factor.save_on(&pool).await?;
        assert_eq!(c.get("/api/whoami").header("authorization", basic("judy", "a long passphrase 12")).send().await.status, 401);

        // Permissions: 403 until granted, directly or through a group.
        let auth = basic("grace", "a long passphrase 9");
        let r = c.get("/api/articles/new").header("authorization", auth.clone()).send().await;
        assert_eq!(r.status, 403);
        assert!(r.text().contains("article.add"));
        assert_eq!(c.get("/api/articles/new").send().await.status, 401);
        permissions::ensure_permission(&pool, "article.add", "Can add article").await.map_err(err)?;
        let mut writers = Group { id: Auto::default(), name: "writers".into() };
        writers.save_on(&pool).await?;
        permissions::grant_group(&pool, &writers, "article.add").await.map_err(err)?;
        permissions::add_to_group(&pool, &grace, &writers).await.map_err(err)?;
        let r = c.get("/api/articles/new").header("authorization", auth).send().await;
        assert_eq!((r.status, r.text()), (200, "editor page".to_owned()));

        // Guessing through Basic is throttled like the sign-in endpoint (3 per account).
        users::create_user(&pool, "kim", "", Some("a long passphrase 13")).await.map_err(err)?;
        for _ in 0..3 {
            c.get("/api/whoami").header("authorization", basic("kim", "guess")).send().await;
        }
        assert_eq!(c.get("/api/whoami").header("authorization", basic("kim", "a long passphrase 13")).send().await.status, 401);
        Ok(())
    }
}

#[tokio::test]
async fn signals_report_sign_ins() {
    let db = rustango_orm::testing::TestDb::sqlite().await;
    let pool = db.pool.clone();
    install(&pool).await.unwrap();
    users::create_user(&pool, "heidi", "", Some("a long passphrase 10"))
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let id = signals::connect(move |e| {
        let name = match e {
            AuthEvent::LoggedIn { username, .. } | AuthEvent::LoggedOut { username, .. } => {
                username
            }
            AuthEvent::LoginFailed { username, .. } => username,
            _ => return,
        };
        if name == "heidi" {
            sink.lock().unwrap().push(e.clone());
        }
    });
    let app = app(&pool, Duration::from_secs(3600));
    let c = TestClient::new(app.router);
    c.post("/auth/login")
        .json(&login_body("heidi", "wrong"))
        .send()
        .await;
    c.post("/auth/login")
        .json(&login_body("heidi", "a long passphrase 10"))
        .send()
        .await;
    c.post("/auth/logout").send().await;
    signals::disconnect(id);
    let seen: Vec<AuthEvent> = seen.lock().unwrap().clone();
    assert!(matches!(&seen[0], AuthEvent::LoginFailed { username, .. } if username == "heidi"));
    assert!(matches!(
        &seen[1],
        AuthEvent::LoggedIn {
            method: "session",
            ..
        }
    ));
    assert!(matches!(&seen[2], AuthEvent::LoggedOut { .. }));
    assert_eq!(seen.len(), 3);
    db.cleanup().await;
}

rustango_orm::backend_test! {
    async fn html_forms_sign_in_and_redirect_safely(pool) {
        install(&pool).await?;
        users::create_user(&pool, "ivan", "ivan@example.com", Some("a long passphrase 11")).await.map_err(err)?;
        let app = app(&pool, Duration::from_secs(3600));
        let c = TestClient::new(app.router.clone());

        let page = c.get("/auth/login?next=/notes").send().await;
        assert_eq!(page.status, 200);
        assert!(page.header("content-type").unwrap().starts_with("text/html"));
        let html = page.text();
        assert!(html.contains(r#"name="password""#) && html.contains(r#"value="/notes""#), "{html}");
        // An unsafe next is not even echoed into the form.
        let html = c.get("/auth/login?next=//evil.example").send().await.text();
        assert!(!html.contains("evil.example"), "{html}");

        // A failed form sign-in renders the form again, escaped, with the status.
        let r = c
            .post("/auth/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("username=%3Cscript%3Ealert(1)%3C%2Fscript%3E&password=x")
            .send()
            .await;
        assert_eq!(r.status, 401);
        let html = r.text();
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "{html}");

        // Success: a 303 to the safe next, or home for an unsafe one.
        for (next, location) in [("%2Fnotes%3Fpage%3D2", "/notes?page=2"), ("%2F%2Fevil.example", "/"), ("https%3A%2F%2Fevil.example", "/")] {
            c.clear_cookies();
            let r = c
                .post("/auth/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("username=ivan&password=a+long+passphrase+11&next={next}"))
                .send()
                .await;
            assert_eq!(r.status, 303, "{}", r.text());
            assert_eq!(r.header("location"), Some(location));
        }
        assert_eq!(c.get("/auth/me").send().await.status, 200);

        // The password change page needs a signed-in user; the form post works.
        assert_eq!(c.get("/auth/password/change").send().await.status, 200);
        let r = c
            .post("/auth/password/change")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("old_password=a+long+passphrase+11&new_password=123")
            .send()
            .await;
        assert_eq!(r.status, 422);
        assert!(r.text().contains("too weak"));

        // Logging out by form redirects.
        let r = c
            .post("/auth/logout")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("")
            .send()
            .await;
        assert_eq!(r.status, 303);
        assert_eq!(c.get("/auth/me").send().await.status, 401);

        // The reset-confirm page carries uid and token, escaped.
        let html = c.get("/auth/password/reset/confirm?uid=1&token=%22%3E%3Cb%3E").send().await.text();
        assert!(html.contains("&quot;&gt;&lt;b&gt;") && !html.contains("\"><b>"), "{html}");
        Ok(())
    }
}
