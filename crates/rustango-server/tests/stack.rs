//! The default middleware stack the Builder puts around every app, its settings, and
//! `/metrics` with database pool gauges.

use axum::Router;
use axum::routing::{get, post};
use rustango_config::{Settings, Sources};
use rustango_http::test_client::TestClient;
use rustango_middleware::csrf::CsrfToken;
use rustango_server::{Builder, Error};

struct Project {
    dir: std::path::PathBuf,
}

impl Project {
    fn new(toml: &str) -> Project {
        let dir = std::env::temp_dir().join(format!(
            "rustango-stack-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("rustango.toml"), toml).unwrap();
        Project { dir }
    }

    fn settings(&self, extra: &[(&str, &str)]) -> Result<Settings, rustango_config::ConfigError> {
        let mut vars = std::collections::BTreeMap::new();
        vars.insert(
            "DATABASE_URL".to_owned(),
            format!(
                "sqlite://{}?mode=rwc",
                self.dir.join("db.sqlite3").display()
            ),
        );
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        Settings::load(Sources {
            dir: self.dir.clone(),
            vars,
        })
    }

    async fn app(&self, extra: &[(&str, &str)]) -> Router {
        Builder::from_settings(self.settings(extra).unwrap())
            .await
            .unwrap()
            .api(routes())
            .into_router()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn routes() -> Router {
    Router::new()
        .route("/notes/{id}", get(|| async { "a note" }))
        .route(
            "/notes",
            post(|body: axum::body::Bytes| async move { format!("created {}", body.len()) }),
        )
        .route("/big", get(|| async { "x".repeat(10_000) }))
        // A page with a form: asking for the token is what sets the CSRF cookie.
        .route(
            "/form",
            get(|token: Option<CsrfToken>| async move {
                token.map_or_else(|| "no CSRF layer".to_owned(), |t| t.0)
            }),
        )
}

const SECRET: &str = "a-production-secret-key-that-is-long-enough-0123456789";

#[tokio::test]
async fn every_response_passes_through_the_default_layers() {
    let p = Project::new("");
    let client = TestClient::new(p.app(&[]).await);

    let r = client
        .get("/notes/1")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(r.status, 200);
    // Request id, security headers (development preset), rate-limit headers.
    assert_eq!(r.header("x-request-id").map(str::len), Some(36));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("content-security-policy-report-only").is_some());
    assert!(r.header("strict-transport-security").is_none());
    assert!(r.header("ratelimit").is_some(), "{:?}", r.headers);
    // No CSRF cookie on a response that did not ask for the token...
    assert_eq!(r.header("set-cookie"), None);
    // ...and one for a page with a form, not `Secure` on a development server.
    let r = client.get("/form").send().await;
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.starts_with("csrftoken="), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");

    // Compression for bodies worth it.
    let r = client
        .get("/big")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));

    // Problems for unknown routes pass through the layers too.
    let r = client.get("/nope").send().await;
    assert_eq!(r.status, 404);
    assert!(r.header("x-request-id").is_some());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
}

#[tokio::test]
async fn csrf_guards_cookie_requests_only() {
    let p = Project::new("");
    let client = TestClient::new(p.app(&[]).await);

    // No cookies: an API client, not checked.
    assert_eq!(client.post("/notes").send().await.status, 200);

    // Once the browser-like client holds the cookie, the token is required.
    client.get("/form").send().await;
    let token = client.cookie("csrftoken").expect("the CSRF cookie");
    let refused = client.post("/notes").send().await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    let ok = client
        .post("/notes")
        .header("x-csrf-token", token.as_str())
        .send()
        .await;
    assert_eq!(ok.status, 200);
    let cross = client
        .post("/notes")
        .header("x-csrf-token", token.as_str())
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(cross.status, 403);
}

#[tokio::test]
async fn a_short_development_key_starts_and_its_tokens_survive_a_restart() {
    let p = Project::new("");
    // Production refuses this key; development takes it, stretched the same way at
    // every start, so a token issued before a restart still passes after it.
    let client = TestClient::new(p.app(&[("SECRET_KEY", "dev")]).await);
    client.get("/form").send().await;
    let token = client.cookie("csrftoken").expect("the CSRF cookie");
    let restarted = TestClient::new(p.app(&[("SECRET_KEY", "dev")]).await);
    let ok = restarted
        .post("/notes")
        .header("cookie", format!("csrftoken={token}"))
        .header("x-csrf-token", token.as_str())
        .send()
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    // Another short key signs differently.
    let other = TestClient::new(p.app(&[("SECRET_KEY", "other")]).await);
    let refused = other
        .post("/notes")
        .header("cookie", format!("csrftoken={token}"))
        .header("x-csrf-token", token.as_str())
        .send()
        .await;
    assert_eq!(refused.status, 403);
    // Production still refuses it, when the Builder validates the settings.
    let prod = p
        .settings(&[("RUSTANGO_ENV", "prod"), ("SECRET_KEY", "dev")])
        .unwrap();
    let Err(err) = Builder::from_settings(prod).await else {
        panic!("production started with a 3-byte SECRET_KEY");
    };
    assert!(err.to_string().contains("SECRET_KEY"), "{err}");
}

#[tokio::test]
async fn csrf_ensure_cookie_sets_the_cookie_on_every_response() {
    let p = Project::new("[middleware]\ncsrf_ensure_cookie = true\n");
    let client = TestClient::new(p.app(&[]).await);
    let r = client.get("/notes/1").send().await;
    assert!(
        r.header("set-cookie")
            .is_some_and(|c| c.starts_with("csrftoken="))
    );
    let token = client.cookie("csrftoken").unwrap();
    assert_eq!(
        client.get("/notes/1").send().await.header("set-cookie"),
        None
    );
    let ok = client
        .post("/notes")
        .header("x-csrf-token", token.as_str())
        .send()
        .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn bodies_over_the_limit_are_a_413_problem() {
    let p = Project::new("[middleware]\nbody_limit_bytes = 1024\n");
    let client = TestClient::new(p.app(&[]).await);
    let r = client
        .post("/notes")
        .header("content-type", "text/plain")
        .body(vec![b'x'; 4096])
        .send()
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(r.header("x-request-id").is_some());
}

#[tokio::test]
async fn the_rate_limit_comes_from_the_settings() {
    let p = Project::new("[middleware]\nrate_limit_per_minute = 3\n");
    let client = TestClient::new(p.app(&[]).await);
    for _ in 0..3 {
        assert_eq!(client.get("/notes/1").send().await.status, 200);
    }
    let r = client.get("/notes/1").send().await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());

    // Zero turns the limit off.
    let off = Project::new("[middleware]\nrate_limit_per_minute = 0\n");
    let client = TestClient::new(off.app(&[]).await);
    for _ in 0..20 {
        assert_eq!(client.get("/notes/1").send().await.status, 200);
    }
}

#[tokio::test]
async fn production_uses_the_strict_headers_and_secure_cookies() {
    let p = Project::new("");
    let client = TestClient::new(
        p.app(&[("RUSTANGO_ENV", "prod"), ("SECRET_KEY", SECRET)])
            .await,
    );
    let r = client.get("/notes/1").send().await;
    assert!(
        r.header("strict-transport-security")
            .is_some_and(|h| h.starts_with("max-age=")),
        "{:?}",
        r.headers
    );
    assert!(r.header("content-security-policy").is_some());
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    let r = client.get("/form").send().await;
    assert!(r.header("set-cookie").unwrap().contains("Secure"));
}

// ANCHOR: app_metrics
#[tokio::test]
async fn metrics_count_routes_and_show_the_pool() {
    let p = Project::new("");
    let builder = Builder::from_settings(p.settings(&[]).unwrap())
        .await
        .unwrap()
        .api(routes());
    // The app's own metric, in the same registry.
    let created = rustango_middleware::metrics::prometheus::IntCounter::new(
        "notes_created_total",
        "Notes created through the API.",
    )
    .unwrap();
    builder
        .metrics()
        .unwrap()
        .register(Box::new(created.clone()))
        .unwrap();
    created.inc();
    let client = TestClient::new(builder.into_router());
    for id in 0..3 {
        client.get(format!("/notes/{id}")).send().await;
    }
    client.get("/health").send().await;
    client.get("/ready").send().await;

    let r = client.get("/metrics").send().await;
    assert_eq!(r.status, 200);
    let text = r.text();
    for line in [
        r#"http_requests_total{method="GET",route="/notes/{id}",status="200"} 3"#,
        r#"http_requests_total{method="GET",route="/health",status="200"} 1"#,
        "notes_created_total 1",
        "# HELP db_pool_connections ",
        "# HELP db_pool_max_connections ",
        "# HELP http_requests_in_flight ",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let max = text
        .lines()
        .find_map(|l| l.strip_prefix("db_pool_max_connections "))
        .unwrap();
    assert!(max.parse::<u32>().unwrap() >= 1, "{max}");
    assert!(
        text.contains(r#"db_pool_connections{state="idle"}"#),
        "{text}"
    );
}
// ANCHOR_END: app_metrics

#[tokio::test]
async fn each_app_has_its_own_registry() {
    let a = Project::new("");
    let b = Project::new("");
    let client_a = TestClient::new(a.app(&[]).await);
    let client_b = TestClient::new(b.app(&[]).await);
    for _ in 0..4 {
        client_a.get("/notes/1").send().await;
    }
    let text_b = client_b.get("/metrics").send().await.text();
    assert!(!text_b.contains(r#"route="/notes/{id}""#), "{text_b}");
}

#[tokio::test]
async fn the_stack_can_be_changed_or_dropped() {
    let p = Project::new("[middleware]\nmetrics = false\ncsrf = false\n");
    let client = TestClient::new(p.app(&[]).await);
    assert_eq!(client.get("/metrics").send().await.status, 404);
    assert_eq!(client.get("/form").send().await.text(), "no CSRF layer");
    assert!(client.cookie("csrftoken").is_none());

    let p = Project::new("");
    let app = Builder::from_settings(p.settings(&[]).unwrap())
        .await
        .unwrap()
        .api(routes())
        .configure_stack(|s| *s = rustango_server::Stack::none())
        .into_router();
    let r = TestClient::new(app).get("/notes/1").send().await;
    assert_eq!(r.status, 200);
    assert!(r.header("x-request-id").is_none());
    assert!(r.header("x-content-type-options").is_none());

    // Sections can be set from the environment too.
    let p = Project::new("");
    let client = TestClient::new(p.app(&[("RUSTANGO_MIDDLEWARE__CSRF", "false")]).await);
    assert_eq!(client.get("/form").send().await.text(), "no CSRF layer");
    assert!(client.cookie("csrftoken").is_none());
    assert_eq!(client.get("/metrics").send().await.status, 200);
}

#[tokio::test]
async fn bad_middleware_settings_are_typed_errors() {
    for (toml, setting) in [
        (
            "[middleware]\nsecurity_headers = \"loose\"\n",
            "middleware.security_headers",
        ),
        ("trusted_proxies = [\"10.0.0.0/33\"]\n", "trusted_proxies"),
    ] {
        let p = Project::new(toml);
        match Builder::from_settings(p.settings(&[]).unwrap()).await {
            Err(Error::Middleware { setting: s, reason }) => {
                assert_eq!(s, setting, "{reason}");
            }
            other => panic!("{toml}: {other:?}"),
        }
    }
    // An unknown key in the section is refused, not ignored.
    let p = Project::new("[middleware]\nrate_limit = 5\n");
    let err = Builder::from_settings(p.settings(&[]).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("rate_limit"), "{err}");
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn an_unreachable_redis_says_why_without_its_password() {
    let p = Project::new("");
    // Nothing listens on port 1.
    let settings = p
        .settings(&[("REDIS_URL", "redis://:hunter2-secret@127.0.0.1:1/")])
        .unwrap();
    // One attempt, not the reconnection back-off (~9 s): a wrong URL fails at once.
    let built = tokio::time::timeout(
        std::time::Duration::from_secs(6),
        Builder::from_settings(settings),
    )
    .await
    .expect("an unreachable Redis should fail after one attempt, not after the retries");
    match built {
        Err(Error::Middleware { setting, reason }) => {
            assert_eq!(setting, "REDIS_URL");
            // The cause, not only "cannot reach Redis".
            assert!(reason.contains("refused"), "{reason}");
            assert!(!reason.contains("hunter2"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
