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
    let builder = Builder::from_settings(settings)
        .await
        .unwrap()
        .migrate_embedded(site::MIGRATIONS)
        .await
        .unwrap();
    let routes = site::routes(builder.pool().clone());
    let pool = builder.pool().clone();
    App {
        client: TestClient::new(builder.api(routes).into_router()).with_pool(pool),
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
    assert_eq!(
        c.delete(format!("/api/notes/{id}")).send().await.status,
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
    let cases = [
        c.post("/api/notes")
            .body("{not json")
            .header("content-type", "application/json"),
        c.post("/api/notes").json(&json!({"body": "no title"})),
        c.post("/api/notes").json(&json!({"title": "   "})),
        c.post("/api/notes")
            .json(&json!({"title": "x".repeat(201)})),
        c.post("/api/notes").body("title=x"),
        c.get("/api/notes/abc"),
        c.get("/api/notes/999"),
        c.put("/api/notes"),
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
