//! Observability against real peers: `/metrics` parsed by PyPI `prometheus-client`,
//! and request spans exported to a real OTLP/HTTP receiver built on PyPI
//! `opentelemetry-proto`. Run with `cargo xtask test-peers` (which installs both);
//! without them these tests fail, they never pass by skipping.
#![cfg(feature = "__test-peers")]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use rustango_config::{Settings, Sources};
use rustango_http::test_client::TestClient;
use rustango_server::Builder;
use tracing::Instrument as _;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rustango-peers-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn settings(dir: &Path) -> Settings {
    let mut vars = std::collections::BTreeMap::new();
    vars.insert(
        "DATABASE_URL".to_owned(),
        format!("sqlite://{}?mode=rwc", dir.join("db.sqlite3").display()),
    );
    Settings::load(Sources {
        dir: dir.to_owned(),
        vars,
    })
    .unwrap()
}

/// Fails the test, with the fix, when a Python module is missing.
fn require_python_module(module: &str, package: &str) {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 cannot import `{module}`: run `pip install {package}` \
         (or `cargo xtask test-peers`, which does)"
    );
}

// ANCHOR: child_span
async fn show(axum::extract::Path(id): axum::extract::Path<u32>) -> String {
    let span = tracing::info_span!("load_note", note.id = id);
    async move {
        tracing::info!("loading");
        format!("note {id}")
    }
    .instrument(span)
    .await
}
// ANCHOR_END: child_span

fn routes() -> Router {
    Router::new()
        .route("/notes/{id}", get(show))
        .route("/boom", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
}

const PARSE: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
text = sys.stdin.read()
for family in text_string_to_metric_families(text):
    if not family.documentation.strip():
        sys.exit(f"no HELP text for {family.name}")
    print(family.name, family.type, len(family.samples))
"#;

#[tokio::test]
async fn metrics_text_parses_with_prometheus_client() {
    require_python_module("prometheus_client", "prometheus-client");
    let dir = temp_dir("metrics");
    let app = Builder::from_settings(settings(&dir))
        .await
        .unwrap()
        .api(routes())
        .into_router();
    let client = TestClient::new(app);
    for id in 0..3 {
        client.get(format!("/notes/{id}")).send().await;
    }
    client.get("/boom").send().await;
    client.get("/ready").send().await;
    let text = client.get("/metrics").send().await.text();

    let mut child = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "prometheus_client refused the text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The parser names counters without `_total`.
    for family in [
        "http_requests counter",
        "http_request_duration_seconds histogram",
        "http_requests_in_flight gauge",
        "db_pool_connections gauge",
        "db_pool_max_connections gauge",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(family)),
            "{family} not parsed:\n{stdout}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The incoming trace the second request continues.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

#[test]
fn spans_reach_a_real_otlp_receiver() {
    // Re-run by itself as the app process (see below): be that process.
    if let Some(dir) = std::env::var_os("RUSTANGO_OTLP_CHILD") {
        return otlp_child(PathBuf::from(dir));
    }
    require_python_module("opentelemetry.proto", "opentelemetry-proto");
    let dir = temp_dir("otlp");
    let out_file = dir.join("spans.jsonl");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/otlp_receiver.py");
    let mut receiver = Command::new("python3")
        .arg(&script)
        .arg(&out_file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start the OTLP receiver");
    let mut port = String::new();
    BufReader::new(receiver.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let port: u16 = port.trim().parse().expect("the receiver's port");

    // The app runs in a child process of its own: the exporter is set up from the
    // environment, once per process, as in production.
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "spans_reach_a_real_otlp_receiver", "--nocapture"])
        .env("RUSTANGO_OTLP_CHILD", &dir)
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .env("OTEL_SERVICE_NAME", "peers-test")
        .env("RUSTANGO_LOG", "info")
        .status()
        .unwrap();
    let _ = receiver.kill();
    let _ = receiver.wait();
    assert!(status.success(), "the app process failed: {status}");

    let text = std::fs::read_to_string(&out_file).expect("no spans arrived at the receiver");
    let spans: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |pred: &dyn Fn(&serde_json::Value) -> bool| -> Vec<&serde_json::Value> {
        spans.iter().filter(|s| pred(s)).collect()
    };
    let attr = |s: &serde_json::Value, key: &str| s["attributes"][key].clone();

    // One server span per request, named by the route template.
    let requests = find(&|s| s["name"] == "GET /notes/{id}");
    assert_eq!(requests.len(), 2, "{text}");
    for span in &requests {
        assert_eq!(span["service"], "peers-test");
        assert_eq!(span["kind"], 2, "SPAN_KIND_SERVER: {span}");
        assert_eq!(attr(span, "http.route"), "/notes/{id}");
        assert_eq!(attr(span, "http.response.status_code"), 200);
        assert_eq!(attr(span, "method"), "GET");
    }
    let first = requests
        .iter()
        .find(|s| attr(s, "request_id") == "otlp-first")
        .expect("the request id is an attribute");
    assert_eq!(attr(first, "path"), "/notes/7");
    assert_eq!(first["parent_span_id"], "", "a root span: {first}");

    // The handler's span is a child of its request's span, in the same trace.
    let loads = find(&|s| s["name"] == "load_note");
    assert_eq!(loads.len(), 2, "{text}");
    for request in &requests {
        assert!(
            loads
                .iter()
                .any(|l| l["parent_span_id"] == request["span_id"]
                    && l["trace_id"] == request["trace_id"]),
            "no child span for {request}"
        );
    }

    // A `traceparent` from the caller: the request span continues that trace.
    let continued = requests
        .iter()
        .find(|s| attr(s, "request_id") == "otlp-second")
        .unwrap();
    assert_eq!(continued["trace_id"], TRACE_ID);
    assert_eq!(continued["parent_span_id"], PARENT_ID);

    // A 5xx marks the span as an error.
    let boom = find(&|s| s["name"] == "GET /boom");
    assert_eq!(boom.len(), 1, "{text}");
    assert_eq!(boom[0]["status"], 2, "STATUS_CODE_ERROR: {}", boom[0]);
    assert_eq!(attr(boom[0], "http.response.status_code"), 500);

    let _ = std::fs::remove_dir_all(dir);
}

/// The app process of [`spans_reach_a_real_otlp_receiver`]: this test binary run
/// again with `RUSTANGO_OTLP_CHILD` set.
fn otlp_child(dir: PathBuf) {
    let guard = rustango_server::init_tracing();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let app = Builder::from_settings(settings(&dir))
                .await
                .unwrap()
                .api(routes())
                .into_router();
            let client = TestClient::new(app);
            let r = client
                .get("/notes/7")
                .header("x-request-id", "otlp-first")
                .send()
                .await;
            assert_eq!(r.status, 200);
            let r = client
                .get("/notes/8")
                .header("x-request-id", "otlp-second")
                .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
                .send()
                .await;
            assert_eq!(r.status, 200);
            assert_eq!(client.get("/boom").send().await.status, 500);
        });
    // Flushes the batch to the receiver.
    drop(guard);
}
