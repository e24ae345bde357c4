//! The notes API through the in-process test client, on a fresh SQLite file migrated
//! from the embedded migrations, as `main.rs` builds it.

use rustango::config::{Settings, Sources};
use rustango::server::Builder;
use rustango::test_client::TestClient;
use serde_json::{Value, json};

struct App {
    client: TestClient,
    dir: std::path::PathBuf,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn app() -> App {
    let dir = std::env::temp_dir().join(format!(
        "rustango-site-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let settings = Settings::load(Sources::new(&dir).var(
        "DATABASE_URL",
        format!("sqlite://{}?mode=rwc", dir.join("db.sqlite3").display()),
    ))
    .unwrap();
    let builder = site::app(Builder::from_settings(settings).await.unwrap())
        .await
        .unwrap();
    let pool = builder.pool().clone();
    App {
        client: TestClient::new(builder.into_router()).with_pool(pool),
        dir,
    }
}

// ANCHOR: test
#[tokio::test]
async fn create_list_get_delete() {
    let app = app().await;
    let c = &app.client;
    let r = c
        .post("/api/notes")
        .json(&json!({"title": "Hi", "body": "first"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let note: Value = r.json();
    let id = note["id"].as_i64().unwrap();
    assert_eq!(note["title"], "Hi");
    assert!(
        note["created_at"].is_string(),
        "the server's timestamp is written back"
    );

    let list: Vec<Value> = c.get("/api/notes").send().await.json();
    assert_eq!(list.len(), 1);
    let r = c.get(format!("/api/notes/{id}")).send().await;
    assert_eq!(r.status, 200);
    r.assert_max_queries(1);
    // None of the API's answers set a CSRF cookie: it comes from the endpoint a page's
    // script asks for the token. From now on the client's unsafe requests send the
    // token back, as that script would.
    assert!(c.cookie("csrftoken").is_none());
    let r = c.get("/auth/csrf").send().await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let token = c.cookie("csrftoken").unwrap();
    let masked = r.json::<Value>()["csrf_token"].as_str().unwrap().to_owned();
    assert_ne!(masked, token, "scripts get a masked form");
    assert_eq!(
        c.delete(format!("/api/notes/{id}"))
            .header("x-csrf-token", token.as_str())
            .send()
            .await
            .status,
        204
    );
    let r = c.get(format!("/api/notes/{id}")).send().await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
}
// ANCHOR_END: test

#[tokio::test]
async fn bad_input_is_a_problem_never_a_500() {
    let app = app().await;
    let c = &app.client;
    // A browser-like client: it holds the CSRF cookie and sends the token back, so
    // what is checked below is the input, not the CSRF layer.
    c.get("/auth/csrf").send().await;
    let token = c.cookie("csrftoken").unwrap();
    let t = token.as_str();
    let cases = [
        c.post("/api/notes")
            .body("{not json")
            .header("content-type", "application/json")
            .header("x-csrf-token", t),
        c.post("/api/notes")
            .json(&json!({"body": "no title"}))
            .header("x-csrf-token", t),
        c.post("/api/notes")
            .json(&json!({"title": "   "}))
            .header("x-csrf-token", t),
        c.post("/api/notes")
            .json(&json!({"title": "x".repeat(201)}))
            .header("x-csrf-token", t),
        c.post("/api/notes")
            .body("title=x")
            .header("x-csrf-token", t),
        c.get("/api/notes/abc"),
        c.get("/api/notes/999"),
        c.put("/api/notes").header("x-csrf-token", t),
        c.get("/nowhere"),
    ];
    let mut statuses = Vec::new();
    for req in cases {
        let r = req.send().await;
        assert_eq!(
            r.header("content-type"),
            Some("application/problem+json"),
            "{}",
            r.text()
        );
        let problem: Value = r.json();
        assert_eq!(problem["status"], r.status);
        statuses.push(r.status);
    }
    assert_eq!(statuses, [400, 422, 422, 422, 415, 400, 404, 405, 404]);
}

#[tokio::test]
async fn health_and_readiness() {
    let app = app().await;
    assert_eq!(app.client.get("/health").send().await.status, 200);
    let r = app.client.get("/ready").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body: Value = r.json();
    assert_eq!(body["checks"]["migrations"], "ok");
}

#[tokio::test]
async fn the_production_stack_wraps_the_api() {
    let app = app().await;
    let c = &app.client;
    // An API client without cookies is not subject to CSRF.
    let r = c
        .post("/api/notes")
        .json(&json!({"title": "from a script"}))
        .send()
        .await;
    assert_eq!(r.status, 201);
    assert!(r.header("x-request-id").is_some());
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("ratelimit-policy").is_some());

    // Once it holds the cookie, an unsafe request without the token is refused.
    c.get("/auth/csrf").send().await;
    assert!(c.cookie("csrftoken").is_some());
    let r = c
        .post("/api/notes")
        .json(&json!({"title": "forged"}))
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));

    // Request bodies over 2 MiB are a 413 problem.
    let r = c
        .post("/api/notes")
        .header("x-csrf-token", c.cookie("csrftoken").unwrap().as_str())
        .json(&json!({"title": "big", "body": "x".repeat(3 * 1024 * 1024)}))
        .send()
        .await;
    assert_eq!(r.status, 413);

    // The metrics count the API by route template.
    let text = c.get("/metrics").send().await.text();
    assert!(
        text.contains(r#"http_requests_total{method="POST",route="/api/notes",status="201"} 1"#),
        "{text}"
    );
    assert!(text.contains("db_pool_connections"), "{text}");
}
