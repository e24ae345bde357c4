//! The Builder's application: welcome page, problem responses, health and readiness,
//! migrations at start-up, and graceful shutdown over real TCP.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rustango_config::{Settings, Sources};
use rustango_http::test_client::TestClient;
use rustango_server::Builder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Project {
    dir: std::path::PathBuf,
}

impl Project {
    fn new() -> Project {
        let dir = std::env::temp_dir().join(format!(
            "rustango-server-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Project { dir }
    }

    fn settings(&self) -> Settings {
        let mut vars = std::collections::BTreeMap::new();
        vars.insert(
            "DATABASE_URL".to_owned(),
            format!(
                "sqlite://{}?mode=rwc",
                self.dir.join("db.sqlite3").display()
            ),
        );
        Settings::load(Sources {
            dir: self.dir.clone(),
            vars,
        })
        .unwrap()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn welcome_page_until_the_app_mounts_its_own_root() {
    let p = Project::new();
    let app = Builder::from_settings(p.settings())
        .await
        .unwrap()
        .into_router();
    let client = TestClient::new(app);
    let r = client.get("/").send().await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("rustango is running"));
    // Nothing inline for the strict Content Security Policy to block.
    for inline in ["<style", "style=", "<script"] {
        assert!(!r.text().contains(inline), "{inline}");
    }
    let r = client.get("/nope").send().await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let problem: serde_json::Value = r.json();
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["instance"], "/nope");

    let app = Builder::from_settings(p.settings())
        .await
        .unwrap()
        .api(Router::new().route("/", get(|| async { "mine" })))
        .into_router();
    let r = TestClient::new(app).get("/").send().await;
    assert_eq!(r.text(), "mine");
}

#[tokio::test]
async fn the_apps_own_health_and_metrics_routes_win_over_the_built_in_ones() {
    let p = Project::new();
    // Merging these into the built-in routes would panic (overlapping GET routes).
    let app = Builder::from_settings(p.settings())
        .await
        .unwrap()
        .api(
            Router::new()
                .route("/health", get(|| async { "my health" }))
                .route("/metrics", get(|| async { "my metrics" })),
        )
        .into_router();
    let client = TestClient::new(app);
    assert_eq!(client.get("/health").send().await.text(), "my health");
    assert_eq!(client.get("/metrics").send().await.text(), "my metrics");
    // The built-in routes the app does not have still answer, inside the stack.
    let ready = client.get("/ready").send().await;
    assert_eq!(ready.status, 200);
    assert!(ready.header("x-request-id").is_some());
    let missing = client.get("/nope").send().await;
    assert_eq!(missing.status, 404);
    assert!(missing.header("x-request-id").is_some());
    assert_eq!(client.get("/").send().await.status, 200);
    // Wrong methods are 405 problems with `Allow`, on the app's routes and on the
    // built-in ones alike.
    for (method, path) in [("DELETE", "/health"), ("POST", "/ready")] {
        let r = client.request(method.parse().unwrap(), path).send().await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(
            r.header("allow").is_some_and(|a| a.contains("GET")),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let p = Project::new();
    let app = Builder::from_settings(p.settings())
        .await
        .unwrap()
        .into_router();
    let client = TestClient::new(app);
    let r = client.get("/health").send().await;
    assert_eq!(r.status, 200);
    let r = client.get("/ready").send().await;
    assert_eq!(r.status, 200);
    let body: serde_json::Value = r.json();
    assert_eq!(body["checks"]["database"], "ok");
}

#[tokio::test]
async fn readiness_fails_while_migrations_are_pending_and_passes_after_migrate() {
    use rustango_migrate::{Migration, MigrationSet, Operation};
    let p = Project::new();
    let migration = Migration::new(
        "0001_notes",
        vec![Operation::RunSql {
            sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY)".into(),
            reverse_sql: Some("DROP TABLE notes".into()),
        }],
        Default::default(),
    );
    let dir = p.dir.join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("0001_notes.json"), migration.to_json()).unwrap();

    // Nothing applied yet: not ready, and the check says why.
    let builder = Builder::from_settings(p.settings()).await.unwrap();
    let set = std::sync::Arc::new(MigrationSet::from_dir(&dir).unwrap());
    let app = rustango_server::health::health_router_with(builder.pool().clone(), set);
    let r = TestClient::new(app).get("/ready").send().await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let body: serde_json::Value = r.json();
    assert_eq!(body["checks"]["migrations"]["pending"][0], "0001_notes");

    // The Builder applies them at start-up (`.migrate(".")` finds ./migrations).
    let app = builder.migrate(&p.dir).await.unwrap().into_router();
    let client = TestClient::new(app);
    let r = client.get("/ready").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn readiness_answers_within_its_deadline_when_no_connection_is_free() {
    use rustango_migrate::MigrationSet;
    use rustango_orm::{Pool, PoolOptions};
    let p = Project::new();
    // One connection, waited for up to 10 s (the default acquire timeout), and held
    // by someone else for the whole probe.
    let url = format!("sqlite://{}?mode=rwc", p.dir.join("busy.sqlite3").display());
    let pool = Pool::connect_with(&url, PoolOptions::default().max_connections(1))
        .await
        .unwrap();
    let held = pool.as_sqlite().unwrap().acquire().await.unwrap();
    let set = std::sync::Arc::new(MigrationSet::default());
    let app = rustango_server::health::health_router_with(pool.clone(), set);
    // `/ready` gives up after its own 2 s, not after the pool's 10 s.
    let r = tokio::time::timeout(
        Duration::from_secs(6),
        TestClient::new(app).get("/ready").send(),
    )
    .await
    .expect("/ready should answer within its own deadline");
    assert_eq!(r.status, 503, "{}", r.text());
    let body: serde_json::Value = r.json();
    assert_eq!(body["checks"]["database"], "timeout");
    assert_eq!(body["checks"]["migrations"], "unknown");
    drop(held);
}

#[tokio::test]
async fn a_bad_address_is_a_typed_error() {
    let p = Project::new();
    let err = Builder::from_settings(p.settings())
        .await
        .unwrap()
        .serve("not an address")
        .await
        .unwrap_err();
    assert!(
        matches!(err, rustango_server::Error::BadAddress { .. }),
        "{err}"
    );
}

async fn raw_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_refuses_new_ones() {
    let app = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            "finished"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(rustango_server::serve_on(listener, app, async {
        let _ = stopped.await;
    }));
    let in_flight = tokio::spawn(raw_get(addr, "/slow"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // New connections are no longer served.
    let late = raw_get(addr, "/slow").await;
    assert_eq!(
        late.as_ref().map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "{late:?}"
    );
    // The request that was running completes.
    let body = in_flight.await.unwrap().unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.ends_with("finished"), "{body}");
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn middleware_wraps_everything_health_and_problems_included() {
    let p = Project::new();
    let app = Builder::from_settings(p.settings())
        .await
        .unwrap()
        .middleware(|app| {
            app.layer(axum::middleware::map_response(
                |mut r: axum::response::Response| async move {
                    r.headers_mut()
                        .insert("x-wrapped", axum::http::HeaderValue::from_static("1"));
                    r
                },
            ))
        })
        .into_router();
    let client = TestClient::new(app);
    for path in ["/", "/health", "/ready", "/missing"] {
        let r = client.get(path).send().await;
        assert_eq!(r.header("x-wrapped"), Some("1"), "{path}");
    }
}

#[tokio::test]
async fn requests_still_running_after_the_grace_period_are_cut_off() {
    let app = Router::new().route(
        "/stream",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "too late"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(rustango_server::serve_on_with_grace(
        listener,
        app,
        async {
            let _ = stopped.await;
        },
        Duration::from_millis(300),
    ));
    let in_flight = tokio::spawn(raw_get(addr, "/stream"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    stop.send(()).unwrap();
    // The server returns after the grace period, not after the 30 s handler.
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops after its grace period")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    // `main` returns here and the process exits, closing what is still open; in this
    // test the connection task lives on in the test's runtime, so stop waiting for it.
    assert!(!in_flight.is_finished());
    in_flight.abort();
}
