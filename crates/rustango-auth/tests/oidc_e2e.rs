//! OpenID Connect end to end against a real provider: npm `oidc-provider`
//! (`tests/oidc/provider.mjs`, devInteractions on), started by each test.
//!
//! Needs Node.js and `npm ci --prefix crates/rustango-auth/tests/oidc` (done by
//! `cargo xtask test-peers`); fails loudly when they are missing.
//!
//! A cookie-keeping HTTP client plays the browser: our `/oidc/login`, the provider's
//! authorization endpoint, its login form (any username and password) and consent
//! form, then our `/oidc/callback`.
#![cfg(feature = "__test-peers")]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::Json;
use rustango_auth::models::{Group, Permission, User};
use rustango_auth::oidc::{
    CallbackParams, LinkPolicy, OidcClient, OidcConfig, OidcError, OidcRoutes, SocialAccount,
};
use rustango_orm::Pool;
use rustango_orm::testing::TestDb;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const CLIENT_ID: &str = "rustango-test";
const CLIENT_SECRET: &str = "rustango-test-secret";
const COOKIE_SECRET: &[u8] = b"a test secret key of at least 32 bytes";
const REFETCH_INTERVAL: Duration = Duration::from_secs(3);

fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// A running `provider.mjs`.
struct Provider {
    child: Child,
    port: u16,
    issuer: String,
    kids: Vec<String>,
}

impl Provider {
    async fn start(port: u16, redirect_uri: &str, keys_file: &Path, rotate: bool) -> Provider {
        let dir = provider_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "npm `oidc-provider` is not installed: run `npm ci --prefix crates/rustango-auth/tests/oidc` \
             (or `cargo xtask test-peers`, which does it)"
        );
        let mut command = Command::new("node");
        command
            .current_dir(&dir)
            .arg("provider.mjs")
            .args(["--port", &port.to_string()])
            .args(["--redirect-uri", redirect_uri])
            .arg("--keys-file")
            .arg(keys_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if rotate {
            command.arg("--rotate");
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `node` (is Node.js installed?): {e}"));
        let stderr = child.stderr.take().expect("piped stderr");
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if !line.starts_with("oidc-provider ") {
                    eprintln!("provider: {line}");
                }
            }
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the provider did not start within 30 s")
            .expect("read the provider's output")
            .expect("the provider exited before listening");
        let info: Value = serde_json::from_str(&line).expect("the provider's JSON line");
        // Keep reading: a closed pipe would kill the provider at its next log line.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if !line.starts_with("oidc-provider ") {
                    eprintln!("provider: {line}");
                }
            }
        });
        Provider {
            child,
            port: u16::try_from(info["port"].as_u64().unwrap()).unwrap(),
            issuer: info["issuer"].as_str().unwrap().to_owned(),
            kids: info["kids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_owned())
                .collect(),
        }
    }

    async fn stop(&mut self) {
        self.child.kill().await.expect("stop the provider");
    }
}

/// Our app (the OIDC routes on a real socket), the provider and the database.
struct Setup {
    provider: Provider,
    client: OidcClient,
    db: TestDb,
    app_base: String,
    redirect_uri: String,
    keys_file: PathBuf,
}

impl Setup {
    async fn new() -> Setup {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app_base = format!("http://{}", listener.local_addr().unwrap());
        let redirect_uri = format!("{app_base}/oidc/callback");
        let keys_file =
            std::env::temp_dir().join(format!("rustango-oidc-keys-{}.json", uuid::Uuid::new_v4()));
        let provider = Provider::start(0, &redirect_uri, &keys_file, false).await;

        let mut config = OidcConfig::new(
            provider.issuer.clone(),
            CLIENT_ID,
            Some(CLIENT_SECRET),
            redirect_uri.clone(),
        );
        config.jwks_min_refetch_interval = REFETCH_INTERVAL;
        let client = OidcClient::discover_with(config).await.expect("discovery");

        let db = TestDb::sqlite().await;
        rustango_orm::create_tables(
            &db.pool,
            &[
                User::SCHEMA,
                Group::SCHEMA,
                Permission::SCHEMA,
                SocialAccount::SCHEMA,
            ],
        )
        .await
        .expect("create tables");

        let routes = OidcRoutes::new(client.clone(), db.pool.clone(), COOKIE_SECRET)
            .unwrap()
            .link_policy(LinkPolicy::default())
            .secure_cookie(false)
            .on_login(|login| async move {
                Json(json!({
                    "user_id": login.user.pk(),
                    "username": login.user.username,
                    "email": login.user.email,
                    "subject": login.identity.subject,
                    "identity_email": login.identity.email,
                    "name": login.identity.name,
                    "next": login.next,
                }))
            });
        let app: axum::Router = axum::Router::new().nest("/oidc", routes.into_router());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        Setup {
            provider,
            client,
            db,
            app_base,
            redirect_uri,
            keys_file,
        }
    }

    fn pool(&self) -> &Pool {
        &self.db.pool
    }

    /// Restarts the provider on the same port with a new signing key first.
    async fn rotate_keys(&mut self) {
        let port = self.provider.port;
        self.provider.stop().await;
        self.provider = Provider::start(port, &self.redirect_uri, &self.keys_file, true).await;
    }

    async fn cleanup(mut self) {
        self.provider.stop().await;
        let _ = std::fs::remove_file(&self.keys_file);
        self.db.cleanup().await;
    }
}

/// A cookie-keeping browser that follows redirects by hand.
struct Browser {
    http: reqwest::Client,
    /// Cookies per `host:port`.
    jar: HashMap<String, BTreeMap<String, String>>,
}

struct Page {
    url: String,
    status: u16,
    content_type: String,
    location: Option<String>,
    body: String,
}

impl Browser {
    fn new() -> Browser {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            jar: HashMap::new(),
        }
    }

    fn authority(url: &reqwest::Url) -> String {
        format!(
            "{}:{}",
            url.host_str().unwrap(),
            url.port_or_known_default().unwrap()
        )
    }

    fn cookie(&self, url: &str, name: &str) -> Option<&String> {
        let url = reqwest::Url::parse(url).unwrap();
        self.jar.get(&Self::authority(&url))?.get(name)
    }

    async fn request(&mut self, method: &str, url: &str, form: &[(&str, &str)]) -> Page {
        let parsed = reqwest::Url::parse(url).unwrap();
        let authority = Self::authority(&parsed);
        let mut request = match method {
            "GET" => self.http.get(url),
            _ => {
                let body = reqwest::Url::parse_with_params("http://form.invalid/", form)
                    .unwrap()
                    .query()
                    .unwrap_or("")
                    .to_owned();
                self.http
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
            }
        };
        if let Some(cookies) = self.jar.get(&authority).filter(|c| !c.is_empty()) {
            let header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("cookie", header.join("; "));
        }
        let response = request.send().await.unwrap();
        let jar = self.jar.entry(authority).or_default();
        for value in response.headers().get_all("set-cookie") {
            let value = value.to_str().unwrap();
            let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
            let (name, cookie) = pair.trim().split_once('=').unwrap();
            let attributes = attributes.to_ascii_lowercase();
            if cookie.is_empty() || attributes.contains("max-age=0") || attributes.contains("1970")
            {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), cookie.to_owned());
            }
        }
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let location = header("location").map(|l| parsed.join(&l).unwrap().to_string());
        let content_type = header("content-type").unwrap_or_default();
        Page {
            url: url.to_owned(),
            status,
            content_type,
            location,
            body: response.text().await.unwrap(),
        }
    }

    /// Follows redirects from `url` and fills in the provider's login and consent
    /// forms as `username`, until a redirect to a URL starting with `stop_at` (the
    /// callback), which is returned without being requested.
    async fn through_provider(&mut self, url: &str, username: &str, stop_at: &str) -> String {
        let mut page = self.request("GET", url, &[]).await;
        for _ in 0..30 {
            if let Some(location) = page.location.clone() {
                if location.starts_with(stop_at) {
                    return location;
                }
                page = self.request("GET", &location, &[]).await;
                continue;
            }
            assert_eq!(page.status, 200, "at {}: {}", page.url, page.body);
            let action = form_action(&page.body)
                .unwrap_or_else(|| panic!("no form at {}: {}", page.url, page.body));
            let action = reqwest::Url::parse(&page.url)
                .unwrap()
                .join(&action)
                .unwrap()
                .to_string();
            page = if page.body.contains("name=\"login\"") {
                self.request(
                    "POST",
                    &action,
                    &[
                        ("prompt", "login"),
                        ("login", username),
                        ("password", "any password"),
                    ],
                )
                .await
            } else if page.body.contains("value=\"consent\"") {
                self.request("POST", &action, &[("prompt", "consent")])
                    .await
            } else {
                panic!("unexpected page at {}: {}", page.url, page.body);
            };
        }
        panic!("too many steps through the provider");
    }

    /// The whole login through our routes; returns our callback's response.
    async fn login(&mut self, setup: &Setup, username: &str, next: &str) -> Page {
        let start = format!(
            "{}/oidc/login?next={}",
            setup.app_base,
            next.replace('%', "%25").replace('/', "%2F")
        );
        let callback = self
            .through_provider(&start, username, &setup.redirect_uri)
            .await;
        self.request("GET", &callback, &[]).await
    }
}

fn form_action(html: &str) -> Option<String> {
    let start = html.find("<form")?;
    let rest = &html[start..];
    let at = rest.find("action=\"")? + "action=\"".len();
    let end = rest[at..].find('"')?;
    Some(rest[at..at + end].replace("&amp;", "&"))
}

fn query_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .query()
        .unwrap_or("")
        .to_owned()
}

async fn counts(pool: &Pool) -> (i64, i64) {
    (
        User::objects().count(pool).await.unwrap(),
        SocialAccount::objects().count(pool).await.unwrap(),
    )
}

#[tokio::test]
async fn full_login_linking_and_tampering() {
    let setup = Setup::new().await;

    // A full login with PKCE through our routes: a user is created and linked.
    let mut browser = Browser::new();
    let page = browser.login(&setup, "alice", "/dashboard?tab=1").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let first: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(first["subject"], "alice");
    assert_eq!(first["identity_email"], "alice@example.test");
    assert_eq!(
        first["email"], "alice@example.test",
        "verified email stored"
    );
    assert_eq!(first["username"], "alice");
    assert_eq!(first["name"], "User alice");
    assert_eq!(first["next"], "/dashboard?tab=1");
    assert!(
        browser.cookie(&setup.app_base, "rustango_oidc").is_none(),
        "the login-state cookie is cleared"
    );
    assert_eq!(counts(setup.pool()).await, (1, 1));
    let account = SocialAccount::objects()
        .first(setup.pool())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.issuer, setup.provider.issuer);
    assert_eq!(account.subject, "alice");
    assert!(account.last_login.is_some());

    // A second login (another browser) signs in as the same user.
    let page = Browser::new().login(&setup, "alice", "/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let second: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(second["user_id"], first["user_id"]);
    assert_eq!(counts(setup.pool()).await, (1, 1));

    // Another person gets another user; an open-redirect `next` is dropped.
    let page = Browser::new().login(&setup, "bob", "//evil.example").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let bob: Value = serde_json::from_str(&page.body).unwrap();
    assert_ne!(bob["user_id"], first["user_id"]);
    assert_eq!(bob["next"], "/");
    assert_eq!(counts(setup.pool()).await, (2, 2));

    // A tampered state is refused with a 400 problem.
    let mut browser = Browser::new();
    let start = format!("{}/oidc/login", setup.app_base);
    let callback = browser
        .through_provider(&start, "alice", &setup.redirect_uri)
        .await;
    let mut url = reqwest::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                format!("{v}x")
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let page = browser.request("GET", url.as_str(), &[]).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert_eq!(page.content_type, "application/problem+json");
    let problem: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(problem["code"], "state_mismatch");

    // A callback without the login-state cookie (another browser) is refused too.
    let page = Browser::new().request("GET", &callback, &[]).await;
    assert_eq!(page.status, 400, "{}", page.body);
    let problem: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(problem["code"], "login_state_invalid");

    // The same through the API: a login state whose nonce differs from the one
    // sent (a replayed or injected id_token) is refused after the code exchange.
    let client = &setup.client;
    let (url, state) = client.begin_login(None).unwrap();
    let callback = Browser::new()
        .through_provider(&url, "carol", &setup.redirect_uri)
        .await;
    let params = CallbackParams::from_query(&query_of(&callback));
    assert_eq!(params.iss.as_deref(), Some(setup.provider.issuer.as_str()));
    let mut tampered = state.clone();
    tampered.nonce = "a-nonce-this-login-never-sent".into();
    let err = client.complete_login(&tampered, &params).await.unwrap_err();
    assert!(matches!(err, OidcError::NonceMismatch), "{err:?}");
    // The code is spent: the genuine state cannot reuse it.
    let err = client.complete_login(&state, &params).await.unwrap_err();
    assert!(
        matches!(&err, OidcError::TokenRejected { error, .. } if error == "invalid_grant"),
        "{err:?}"
    );

    // A wrong PKCE verifier is refused by the provider.
    let (url, state) = client.begin_login(None).unwrap();
    let callback = Browser::new()
        .through_provider(&url, "carol", &setup.redirect_uri)
        .await;
    let params = CallbackParams::from_query(&query_of(&callback));
    let mut tampered = state.clone();
    tampered.pkce_verifier = rustango_auth::oidc::LoginState::new(None)
        .unwrap()
        .pkce_verifier;
    let err = client.complete_login(&tampered, &params).await.unwrap_err();
    assert!(matches!(err, OidcError::TokenRejected { .. }), "{err:?}");

    // A genuine login through the API.
    let (url, state) = client.begin_login(Some("/after")).unwrap();
    let callback = Browser::new()
        .through_provider(&url, "carol", &setup.redirect_uri)
        .await;
    let params = CallbackParams::from_query(&query_of(&callback));
    let identity = client.complete_login(&state, &params).await.unwrap();
    assert_eq!(identity.issuer, setup.provider.issuer);
    assert_eq!(identity.subject, "carol");
    assert_eq!(identity.email.as_deref(), Some("carol@example.test"));
    assert!(identity.email_verified);
    assert_eq!(identity.claim_str("family_name"), Some("carol"));
    assert_eq!(state.next.as_deref(), Some("/after"));

    // An error callback carrying the right state is the provider's refusal.
    let denied = CallbackParams {
        state: Some(state.state.clone()),
        error: Some("access_denied".into()),
        ..CallbackParams::default()
    };
    let err = client.complete_login(&state, &denied).await.unwrap_err();
    assert!(matches!(err, OidcError::Provider { .. }), "{err:?}");

    // An inactive user is refused with a 403.
    User::objects()
        .update()
        .set(User::is_active, false)
        .execute_on(setup.pool())
        .await
        .unwrap();
    let page = Browser::new().login(&setup, "alice", "/").await;
    assert_eq!(page.status, 403, "{}", page.body);

    setup.cleanup().await;
}

#[tokio::test]
async fn key_rotation() {
    let mut setup = Setup::new().await;
    let old_kids = setup.provider.kids.clone();
    assert_eq!(old_kids.len(), 1);

    let page = Browser::new().login(&setup, "dave", "/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let before: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(setup.client.jwks_fetches(), 1);

    // The provider now signs with a new key (new kid); the old one stays published.
    setup.rotate_keys().await;
    let kids = setup.provider.kids.clone();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[1], old_kids[0]);
    assert_ne!(kids[0], old_kids[0]);
    tokio::time::sleep(REFETCH_INTERVAL + Duration::from_millis(200)).await;

    // The id_token names a kid our cache does not hold: the JWKS is fetched again
    // and the login works, as the same user.
    let page = Browser::new().login(&setup, "dave", "/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let after: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(after["user_id"], before["user_id"]);
    assert_eq!(
        setup.client.jwks_fetches(),
        2,
        "one refetch for the new kid"
    );

    // Later logins use the cached new key.
    let page = Browser::new().login(&setup, "dave", "/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(setup.client.jwks_fetches(), 2);

    // A token signed by a key that is not in the JWKS is refused; right after a
    // fetch, without fetching again (rate limit) ...
    let rogue_url = format!(
        "{}/test/rogue-id-token?aud={CLIENT_ID}&sub=dave&nonce=n-1",
        setup.provider.issuer
    );
    let rogue = reqwest::get(&rogue_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let err = setup
        .client
        .validate_id_token(&rogue, "n-1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::UnknownKey { kid: Some(kid) } if kid == "rogue"),
        "{err:?}"
    );
    assert_eq!(setup.client.jwks_fetches(), 2, "rate limited");
    // ... and once the interval has passed, after fetching again.
    tokio::time::sleep(REFETCH_INTERVAL + Duration::from_millis(200)).await;
    let err = setup
        .client
        .validate_id_token(&rogue, "n-1")
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::UnknownKey { .. }), "{err:?}");
    assert_eq!(
        setup.client.jwks_fetches(),
        3,
        "fetched again, still unknown"
    );

    setup.cleanup().await;
}
