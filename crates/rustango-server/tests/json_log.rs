//! `json_log`: the JSON lines `init_tracing` writes in production, their format, their
//! batching and what happens when the destination fails or is stuck.
//!
//! Every test installs its own subscriber for its own thread(s), and every subscriber
//! here listens to every level, so tracing's per-call-site interest cache always says
//! yes.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rustango_server::json_log::{FlushHandle, JsonLayer, JsonLayerBuilder};
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt as _;

/// Long enough that no background flush happens during a test.
const NEVER: Duration = Duration::from_secs(3600);

/// A writer into memory that tests read; it can be told to fail.
#[derive(Clone, Default)]
struct Sink {
    bytes: Arc<Mutex<Vec<u8>>>,
    fail: Arc<AtomicBool>,
    writes: Arc<Mutex<usize>>,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        *self.writes.lock().unwrap() += 1;
        self.bytes.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn text(&self) -> String {
        String::from_utf8(self.bytes.lock().unwrap().clone()).expect("UTF-8 output")
    }

    /// Every line, parsed: fails the test on a line that is not one JSON object, or
    /// on output that does not end with a newline.
    fn lines(&self) -> Vec<Value> {
        let text = self.text();
        assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
        text.lines()
            .map(|line| {
                let value: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
                assert!(value.is_object(), "{line}");
                value
            })
            .collect()
    }

    /// Waits (up to 10 s) until `n` lines are out.
    fn wait_for_lines(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = self.lines();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A layer writing into a new [`Sink`], installed for this thread until the guard
/// drops.
fn install(builder: JsonLayerBuilder) -> (Sink, FlushHandle, tracing::subscriber::DefaultGuard) {
    let sink = Sink::default();
    let layer = builder.writer(sink.clone());
    let flush = layer.flush_handle();
    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    (sink, flush, guard)
}

/// The line without its timestamp, after checking the timestamp's shape
/// (`2026-11-27T14:20:19.123456Z`).
/// Spans without the `otel.*` members the `otel` feature adds.
fn without_otel(spans: &Value) -> Value {
    let mut spans = spans.clone();
    for span in spans.as_array_mut().expect("a list of spans") {
        span.as_object_mut()
            .expect("a span object")
            .retain(|key, _| !key.starts_with("otel."));
    }
    spans
}

fn without_timestamp(mut line: Value) -> Value {
    let ts = line["timestamp"].as_str().expect("a timestamp").to_owned();
    let b = ts.as_bytes();
    assert_eq!(b.len(), 27, "{ts}");
    for (i, &c) in b.iter().enumerate() {
        let ok = match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            26 => c == b'Z',
            _ => c.is_ascii_digit(),
        };
        assert!(ok, "{ts}");
    }
    line.as_object_mut().unwrap().remove("timestamp");
    line
}

/// A request id as `RequestIdLayer` records it (`request_id = %id`).
struct Id(&'static str);

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

#[test]
fn an_event_inside_a_request_span() {
    let (sink, flush, _guard) = install(JsonLayer::builder().flush_interval(NEVER));
    let route: Option<&str> = None;
    let span = tracing::info_span!(
        "request",
        request_id = %Id("req-1"),
        method = %http::Method::GET,
        path = %"/notes/7",
        http.route = route,
        http.response.status_code = tracing::field::Empty,
    );
    {
        let _entered = span.enter();
        tracing::info!(
            target: "rustango::access",
            method = "GET",
            path = "/notes/7",
            query = None::<&str>,
            status = 200u16,
            latency_ms = 0.25,
            bytes = Some(13u64),
            "GET {} {}",
            "/notes/7",
            200
        );
    }
    span.record("http.response.status_code", 200i64);
    // Recorded twice: the second value replaces the first.
    span.record("http.response.status_code", 404i64);
    span.in_scope(|| {
        let child = tracing::info_span!("db", table = "notes");
        child.in_scope(|| tracing::debug!(rows = 1, "query"));
    });
    flush.flush();

    let text = sink.text();
    let lines = sink.lines();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(
        without_timestamp(lines[0].clone()),
        json!({
            "level": "INFO",
            "target": "rustango::access",
            "message": "GET /notes/7 200",
            "method": "GET",
            "path": "/notes/7",
            "status": 200,
            "latency_ms": 0.25,
            "bytes": 13,
            "spans": [{
                "name": "request",
                "request_id": "req-1",
                "method": "GET",
                "path": "/notes/7",
            }],
        })
    );
    assert_eq!(
        without_timestamp(lines[1].clone()),
        json!({
            "level": "DEBUG",
            "target": "json_log",
            "message": "query",
            "rows": 1,
            "spans": [
                {
                    "name": "request",
                    "request_id": "req-1",
                    "method": "GET",
                    "path": "/notes/7",
                    "http.response.status_code": 404,
                },
                {"name": "db", "table": "notes"},
            ],
        })
    );
    // No member twice (serde_json would keep the last one silently).
    let second = text.lines().nth(1).unwrap();
    assert_eq!(second.matches("\"http.response.status_code\"").count(), 1);
    // The fixed keys come first, in order, then the message.
    assert!(text.starts_with("{\"timestamp\":\""), "{text}");
    assert!(
        second.contains("\",\"level\":\"DEBUG\",\"target\":\"json_log\",\"message\":\"query\",\"rows\":1,\"spans\":[{\"name\":\"request\","),
        "{second}"
    );
}

#[test]
fn an_event_outside_any_span_has_no_spans() {
    let (sink, flush, _guard) = install(JsonLayer::builder().flush_interval(NEVER));
    tracing::info!("alone");
    tracing::info!(n = 1);
    flush.flush();
    let lines = sink.lines();
    assert_eq!(
        without_timestamp(lines[0].clone()),
        json!({"level": "INFO", "target": "json_log", "message": "alone"})
    );
    assert_eq!(
        without_timestamp(lines[1].clone()),
        json!({"level": "INFO", "target": "json_log", "n": 1})
    );
}

#[derive(Debug)]
struct Failure;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("disk \"full\"")
    }
}

impl std::error::Error for Failure {}

#[test]
fn field_kinds() {
    let (sink, flush, _guard) = install(JsonLayer::builder().flush_interval(NEVER));
    let error = Failure;
    tracing::info!(
        neg = -5i64,
        big = u64::MAX,
        wide = i128::MIN,
        wider = u128::MAX,
        half = 0.5f64,
        nan = f64::NAN,
        inf = f64::INFINITY,
        yes = true,
        list = ?vec![1, 2],
        shown = %"text",
        error = &error as &(dyn std::error::Error + 'static),
        bytes = &b"\x01\xff"[..],
    );
    flush.flush();
    let text = sink.text();
    let line = &sink.lines()[0];
    assert_eq!(line["neg"], -5);
    assert_eq!(line["big"], u64::MAX);
    // Beyond 64 bits: still a JSON number, in the text.
    assert!(text.contains(&format!("\"wide\":{}", i128::MIN)), "{text}");
    assert!(text.contains(&format!("\"wider\":{}", u128::MAX)), "{text}");
    assert_eq!(line["half"], 0.5);
    assert_eq!(line["nan"], Value::Null);
    assert_eq!(line["inf"], Value::Null);
    assert_eq!(line["yes"], true);
    assert_eq!(line["list"], "[1, 2]");
    assert_eq!(line["shown"], "text");
    assert_eq!(line["error"], "disk \"full\"");
    assert!(line["bytes"].is_string(), "{line}");
}

#[test]
fn escaping() {
    let (sink, flush, _guard) = install(JsonLayer::builder().flush_interval(NEVER));
    let nasty = "a \"quote\", a \\ backslash,\na newline, \r\t\u{0}\u{1b}[31m\u{7f}, caf\u{e9} \u{1F600} \u{2028}";
    let span = tracing::info_span!("request", path = nasty);
    span.in_scope(|| {
        tracing::info!(field = nasty, debug = ?nasty, "message: {nasty}");
    });
    flush.flush();
    let text = sink.text();
    // One line: the newlines inside are escaped.
    assert_eq!(text.matches('\n').count(), 1, "{text}");
    assert!(
        !text.contains('\u{0}') && !text.contains('\u{1b}'),
        "{text}"
    );
    let line = &sink.lines()[0];
    assert_eq!(line["message"], format!("message: {nasty}"));
    assert_eq!(line["field"], nasty);
    assert_eq!(line["debug"], format!("{nasty:?}"));
    assert_eq!(line["spans"][0]["path"], nasty);
}

#[test]
fn names_that_collide_with_the_fixed_keys_are_prefixed() {
    let (sink, flush, _guard) = install(JsonLayer::builder().flush_interval(NEVER));
    let span = tracing::info_span!("job", name = "nightly");
    span.in_scope(|| {
        tracing::warn!(
            timestamp = 1,
            level = "debug",
            target = "elsewhere",
            spans = 3,
            "collisions"
        );
    });
    flush.flush();
    let text = sink.text();
    let line = &sink.lines()[0];
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["target"], "json_log");
    assert_eq!(line["message"], "collisions");
    assert_eq!(line["fields.timestamp"], 1);
    assert_eq!(line["fields.level"], "debug");
    assert_eq!(line["fields.target"], "elsewhere");
    assert_eq!(line["fields.spans"], 3);
    assert_eq!(
        line["spans"],
        json!([{"name": "job", "fields.name": "nightly"}])
    );
    for key in ["timestamp", "level", "target", "spans", "name"] {
        assert_eq!(
            text.matches(&format!("\"{key}\":")).count(),
            1,
            "{key}: {text}"
        );
    }
}

#[test]
fn errors_are_written_at_once_info_and_warn_wait() {
    let (sink, flush, _guard) = install(JsonLayer::builder().flush_interval(NEVER));
    tracing::info!("first");
    tracing::debug!("second");
    tracing::warn!("third");
    assert_eq!(sink.text(), "", "INFO and WARN wait for the interval");
    tracing::error!("fourth");
    // Everything buffered goes out with it, in order, in one write.
    let messages: Vec<Value> = sink.lines().iter().map(|l| l["message"].clone()).collect();
    assert_eq!(messages, ["first", "second", "third", "fourth"]);
    assert_eq!(*sink.writes.lock().unwrap(), 1);
    tracing::error!("fifth");
    assert_eq!(sink.lines().len(), 5);
    assert_eq!(*sink.writes.lock().unwrap(), 2);
    assert_eq!(flush.dropped_lines(), 0);
}

#[test]
fn info_is_written_on_flush() {
    let (sink, flush, _guard) = install(JsonLayer::builder().flush_interval(NEVER));
    tracing::info!("waiting");
    assert_eq!(sink.text(), "");
    flush.flush();
    assert_eq!(sink.lines()[0]["message"], "waiting");
    // Nothing more to write: no empty write.
    flush.flush();
    assert_eq!(*sink.writes.lock().unwrap(), 1);
}

#[test]
fn info_is_written_after_the_interval() {
    let (sink, _flush, _guard) =
        install(JsonLayer::builder().flush_interval(Duration::from_millis(20)));
    tracing::info!("soon");
    let lines = sink.wait_for_lines(1);
    assert_eq!(lines.len(), 1, "not written within 10 s");
    assert_eq!(lines[0]["message"], "soon");
}

#[test]
fn a_zero_interval_writes_every_line_at_once() {
    let (sink, _flush, _guard) = install(JsonLayer::builder().flush_interval(Duration::ZERO));
    tracing::info!("one");
    assert_eq!(sink.lines().len(), 1);
    tracing::info!("two");
    assert_eq!(sink.lines().len(), 2);
}

#[test]
fn the_buffer_is_written_when_it_passes_the_threshold() {
    let (sink, _flush, _guard) = install(
        JsonLayer::builder()
            .flush_interval(NEVER)
            .flush_threshold(1000),
    );
    let mut n = 0;
    while sink.text().is_empty() {
        tracing::info!(n, "{}", "x".repeat(90));
        n += 1;
        assert!(n < 100, "never written");
    }
    // ~150 bytes a line: the tenth or so passes 1000 bytes.
    assert!((5..=12).contains(&n), "{n}");
    assert_eq!(sink.lines().len(), n);
}

#[test]
fn dropping_the_layer_writes_the_buffer() {
    let sink = Sink::default();
    let layer = JsonLayer::builder()
        .flush_interval(NEVER)
        .writer(sink.clone());
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || tracing::info!("last words"));
    assert_eq!(sink.lines()[0]["message"], "last words");
}

#[test]
fn the_flush_guard_writes_the_buffer() {
    let (sink, flush, _guard) = install(JsonLayer::builder().flush_interval(NEVER));
    let guard = flush.clone().guard();
    tracing::info!("at exit");
    assert_eq!(sink.text(), "");
    drop(guard);
    assert_eq!(sink.lines()[0]["message"], "at exit");
}

#[test]
fn many_threads_write_whole_lines() {
    const THREADS: usize = 8;
    const EACH: usize = 2000;
    let sink = Sink::default();
    // A small threshold and a short interval: flushes race with appends all along.
    let layer = JsonLayer::builder()
        .flush_interval(Duration::from_millis(1))
        .flush_threshold(4096)
        .writer(sink.clone());
    let flush = layer.flush_handle();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let dispatch = dispatch.clone();
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let span = tracing::info_span!("worker", t);
                    let _entered = span.enter();
                    for i in 0..EACH {
                        let pad = "y".repeat(i % 97);
                        if i % 250 == 0 {
                            tracing::warn!(t, i, pad, "line \"{i}\"\nof {t}");
                        } else {
                            tracing::info!(t, i, pad, "line \"{i}\"\nof {t}");
                        }
                    }
                });
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    flush.flush();
    let lines = sink.lines();
    assert_eq!(lines.len(), THREADS * EACH);
    assert_eq!(flush.dropped_lines(), 0);
    // Each thread's lines whole and in its order.
    let mut next = [0u64; THREADS];
    for line in &lines {
        let t = line["t"].as_u64().unwrap() as usize;
        let i = line["i"].as_u64().unwrap();
        assert_eq!(i, next[t], "{line}");
        assert_eq!(line["message"], format!("line \"{i}\"\nof {t}"));
        assert_eq!(line["spans"][0]["t"], t);
        next[t] += 1;
    }
}

#[test]
fn a_failing_writer_drops_the_batch_and_recovers() {
    let (sink, flush, _guard) = install(JsonLayer::builder().flush_interval(NEVER));
    sink.fail.store(true, Ordering::SeqCst);
    tracing::info!("lost 1");
    tracing::error!("lost 2");
    flush.flush();
    assert_eq!(flush.dropped_lines(), 2);
    sink.fail.store(false, Ordering::SeqCst);
    tracing::info!("kept");
    flush.flush();
    let lines = sink.lines();
    assert_eq!(lines.len(), 2, "{}", sink.text());
    assert_eq!(lines[0]["message"], "kept");
    // The report of what was lost, after the batch that went out.
    assert_eq!(lines[1]["level"], "WARN");
    assert_eq!(lines[1]["target"], "rustango::json_log");
    assert_eq!(lines[1]["dropped"], 2);
    // Reported once.
    tracing::info!("later");
    flush.flush();
    assert_eq!(sink.lines().len(), 3);
    assert_eq!(flush.dropped_lines(), 2);
}

#[test]
fn a_full_buffer_drops_new_lines_and_reports_them() {
    let (sink, flush, _guard) = install(
        JsonLayer::builder()
            .flush_interval(NEVER)
            .max_buffered(2048),
    );
    for i in 0..100 {
        tracing::info!(i, "{}", "z".repeat(100));
    }
    let dropped = flush.dropped_lines();
    assert!(dropped > 80, "{dropped}");
    flush.flush();
    let lines = sink.lines();
    let kept = lines.len() as u64 - 1;
    assert_eq!(kept + dropped, 100);
    // The oldest are kept.
    for (i, line) in lines[..kept as usize].iter().enumerate() {
        assert_eq!(line["i"], i);
    }
    let report = lines.last().unwrap();
    assert_eq!(report["target"], "rustango::json_log");
    assert_eq!(report["dropped"], dropped);
    assert!(sink.text().len() <= 2048 + 300);
}

/// A writer whose first write blocks until the test opens the gate.
struct Stuck {
    gate: Arc<(Mutex<(bool, bool)>, Condvar)>,
    sink: Sink,
}

impl Write for Stuck {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (lock, cond) = &*self.gate;
        let mut state = lock.lock().unwrap();
        state.0 = true; // entered
        cond.notify_all();
        while !state.1 {
            state = cond.wait(state).unwrap();
        }
        drop(state);
        self.sink.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_stuck_destination_blocks_no_one_else() {
    let sink = Sink::default();
    let gate = Arc::new((Mutex::new((false, false)), Condvar::new()));
    let layer = JsonLayer::builder()
        .flush_interval(NEVER)
        .max_buffered(64 * 1024)
        .flush_threshold(16 * 1024)
        .writer(Stuck {
            gate: gate.clone(),
            sink: sink.clone(),
        });
    let flush = layer.flush_handle();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    // A thread logs an error and is stuck writing it.
    let stuck = {
        let dispatch = dispatch.clone();
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || tracing::error!("stuck"));
        })
    };
    {
        let (lock, cond) = &*gate;
        let mut state = lock.lock().unwrap();
        while !state.0 {
            state = cond.wait(state).unwrap();
        }
    }
    // Everyone else goes on: warnings and full buffers included, nothing waits.
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..5000 {
            if i % 100 == 0 {
                tracing::warn!(i, "meanwhile");
            } else {
                tracing::info!(i, "meanwhile");
            }
        }
    });
    let dropped = flush.dropped_lines();
    assert!(dropped > 0, "the buffer is bounded");
    {
        let (lock, cond) = &*gate;
        lock.lock().unwrap().1 = true;
        cond.notify_all();
    }
    stuck.join().unwrap();
    flush.flush();
    let lines = sink.lines();
    assert_eq!(lines[0]["message"], "stuck");
    let report = lines.last().unwrap();
    assert_eq!(report["dropped"], dropped);
    // Every line but the first and the report is one of the 5000, in order.
    let kept: Vec<u64> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| l["i"].as_u64().unwrap())
        .collect();
    assert_eq!(kept.len() as u64 + dropped, 5000);
    assert!(kept.windows(2).all(|w| w[0] < w[1]));
}

/// Through the real middleware: `RequestIdLayer` outside `AccessLogLayer`, as in the
/// default stack.
#[tokio::test]
async fn the_access_line_through_the_real_stack() {
    use axum::Router;
    use axum::routing::get;
    use rustango_http::test_client::TestClient;
    use rustango_middleware::access_log::AccessLogLayer;
    use rustango_middleware::request_id::RequestIdLayer;

    let (sink, flush, _guard) = install(JsonLayer::builder().flush_interval(NEVER));
    let app = Router::new()
        .route(
            "/notes/{id}",
            get(|| async {
                tracing::info!(user = "ann", "handling");
                "a note"
            }),
        )
        .layer(AccessLogLayer::new())
        .layer(RequestIdLayer::new());
    let client = TestClient::new(app);
    let response = client
        .get("/notes/7?page=2&token=abc")
        .header("x-request-id", "lb-42.7")
        .send()
        .await;
    assert_eq!(response.status, 200);
    let missing = client.get("/nope").send().await;
    assert_eq!(missing.status, 404);
    let missing_id = missing.header("x-request-id").unwrap().to_owned();
    // The 404 is logged at WARN, which waits for the batch like INFO.
    assert!(sink.lines().is_empty(), "{}", sink.text());
    flush.flush();
    let lines = sink.lines();
    assert_eq!(lines.len(), 3, "{}", sink.text());

    let handler = &lines[0];
    assert_eq!(handler["message"], "handling");
    assert_eq!(handler["user"], "ann");
    assert_eq!(handler["spans"][0]["request_id"], "lb-42.7");

    let access = without_timestamp(lines[1].clone());
    assert_eq!(access["target"], "rustango::access");
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["message"], "GET /notes/7 200");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["path"], "/notes/7");
    assert_eq!(access["status"], 200);
    assert_eq!(access["request_id"], "lb-42.7");
    assert!(access["latency_ms"].is_number(), "{access}");
    assert_eq!(access["query"], "page=2&token=***");
    // With the `otel` feature the span also names itself for OpenTelemetry.
    #[cfg(feature = "otel")]
    {
        assert_eq!(access["spans"][0]["otel.name"], "GET /notes/{id}");
        assert_eq!(access["spans"][0]["otel.kind"], "server");
    }
    assert_eq!(
        without_otel(&access["spans"]),
        json!([{
            "name": "request",
            "request_id": "lb-42.7",
            "method": "GET",
            "path": "/notes/7",
            "http.route": "/notes/{id}",
        }]),
        "the status code is recorded on the span after the access line"
    );

    let not_found = &lines[2];
    assert_eq!(not_found["level"], "WARN");
    assert_eq!(not_found["status"], 404);
    assert_eq!(not_found["path"], "/nope");
    assert!(not_found.get("query").is_none(), "{not_found}");
    assert_eq!(
        without_otel(&not_found["spans"]),
        json!([{
            "name": "request",
            "request_id": missing_id,
            "method": "GET",
            "path": "/nope",
        }]),
        "no route matched: `http.route` (None) is absent"
    );
}

// Compiled for the book, not called: installing a global subscriber here would catch
// the events of the other tests' threads.
#[allow(dead_code)]
// ANCHOR: custom_subscriber
/// A subscriber of your own with rustango's JSON lines: other limits, other layers.
fn install_logging() -> rustango_server::json_log::FlushGuard {
    use tracing_subscriber::util::SubscriberInitExt as _;

    let layer = JsonLayer::builder()
        .flush_interval(Duration::from_millis(250))
        .flush_threshold(256 * 1024)
        .max_buffered(32 * 1024 * 1024)
        .stdout(); // or .writer(file) for any `std::io::Write + Send`
    let guard = layer.flush_handle().guard(); // keep it until `main` ends
    let installed = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(layer)
        .try_init();
    if let Err(e) = installed {
        eprintln!("a subscriber was already installed: {e}");
    }
    guard
}
// ANCHOR_END: custom_subscriber
