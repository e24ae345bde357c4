//! What each layer of the default middleware stack costs per request, against the bare
//! router in the same run.
//!
//! ```bash
//! cargo bench -p rustango-server --bench stack
//! BENCH_ONLY=csrf cargo bench -p rustango-server --bench stack     # cases containing "csrf"
//! ```
//!
//! Every case is a router with the two benchmark routes (`/plaintext`, `/json`) and one
//! layer of the default stack (or the whole [`Stack`], or everything the [`Builder`]
//! adds), called in-process with a `GET /plaintext` shaped like `wrk`'s (a `Host`
//! header, no cookie, no `Accept-Encoding`; `ConnectInfo` set as `serve_on` sets it),
//! its body read to the end. No socket, no HTTP parsing: the figures are the layers'
//! own work.
//!
//! Each router is finished with `with_state(())` first, as `axum::serve` does, so its
//! handlers and layers are put together once and not on every call (which would
//! count each layer's `Layer::layer` per request).
//!
//! The router is called through `axum::routing::any_service(router)` and axum's
//! `Handler::call` (the crate has no `tower` dependency to call `ServiceExt::oneshot`
//! with); that adds the same fixed cost to every case, the baseline included, so the
//! deltas are the layers' cost.
//!
//! Cases ending in `+log` run with the subscriber `init_tracing` installs in production
//! (an `info` filter, JSON lines) writing to `io::sink`: the cost of formatting the
//! access-log line and of the request span, without the cost of the terminal or file it
//! goes to. The other cases run with no subscriber at all.
//!
//! After criterion's output the bench prints, for each case, the median over interleaved
//! rounds of the time per request, of the baseline's (the bare router, with the same
//! subscriber) and of the difference.
//!
//! Instruction counts, which a busy machine does not blur: with `STACK_CALLGRIND_CALLS=N`
//! the bench skips criterion and makes `N` calls to each selected case (baselines
//! included: `bare plaintext`, `bare json`, `bare plaintext +log`) inside
//! `measured_calls`, so that valgrind counts only those:
//!
//! ```bash
//! BIN=$(cargo bench -p rustango-server --bench stack --no-run 2>&1 | grep -o 'target/release/deps/stack-[0-9a-f]*')
//! STACK_CALLGRIND_CALLS=2000 BENCH_CASE=csrf valgrind --tool=callgrind \
//!     --toggle-collect='*measured_calls*' --callgrind-out-file=/tmp/cg.%p $BIN
//! # instructions per request = the `Collected` total / 2000 (BENCH_CASE: one case,
//! # by its exact name, e.g. `bare plaintext`, `stack +log`)
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::handler::Handler as _;
use axum::http::{Request, header};
use axum::routing::{MethodRouter, any_service, get};
use criterion::{Criterion, criterion_group};
use rustango_config::{Settings, Sources};
use rustango_middleware::access_log::AccessLogLayer;
use rustango_middleware::body_limit::BodyLimitLayer;
use rustango_middleware::compression::CompressionLayer;
use rustango_middleware::csrf::CsrfLayer;
use rustango_middleware::metrics::Metrics;
use rustango_middleware::prelude::*;
use rustango_middleware::rate_limit::RateLimitLayer;
use rustango_middleware::request_id::RequestIdLayer;
use rustango_middleware::security_headers::SecurityHeadersLayer;
use rustango_server::{Builder, Stack};

const SECRET: &str = "a-benchmark-secret-key-that-is-long-enough-0123456789";
/// High enough never to refuse, so every request pays for the count.
const RATE_LIMIT: u64 = 1_000_000_000;

#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
}

fn routes() -> Router {
    Router::new()
        .route("/plaintext", get(|| async { "Hello, World!" }))
        .route(
            "/json",
            get(|| async {
                axum::Json(Message {
                    message: "Hello, World!",
                })
            }),
        )
}

/// A request like wrk's.
fn request(path: &'static str) -> Request<Body> {
    let mut req = Request::get(path)
        .header(header::HOST, "127.0.0.1:8080")
        .body(Body::empty())
        .expect("a valid request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    req
}

/// One request through `app`, its body read.
async fn call(app: &MethodRouter, path: &'static str) {
    let response = app.clone().call(request(path), ()).await;
    assert!(response.status().is_success(), "{}", response.status());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body");
    std::hint::black_box(body);
}

/// The subscriber `rustango_server::init_tracing` installs in production (an `info`
/// filter, [`JsonLayer`](rustango_server::json_log::JsonLayer) with its default
/// batching), writing nowhere.
fn subscriber() -> impl tracing::Subscriber + Send + Sync {
    use rustango_server::json_log::JsonLayer;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::layer::SubscriberExt as _;
    tracing_subscriber::registry()
        .with(EnvFilter::new("info"))
        .with(JsonLayer::builder().writer(std::io::sink()))
}

/// Production settings as in the `stack_server` example (strict security headers,
/// `Secure` CSRF cookie, a rate limit that never refuses), files in `dir`.
fn settings(dir: &std::path::Path) -> Settings {
    std::fs::create_dir_all(dir).expect("temp dir");
    std::fs::write(
        dir.join("rustango.toml"),
        format!("[middleware]\nrate_limit_per_minute = {RATE_LIMIT}\n"),
    )
    .expect("rustango.toml");
    Settings::load(
        Sources::new(dir)
            .var(
                "DATABASE_URL",
                format!("sqlite://{}?mode=rwc", dir.join("db.sqlite3").display()),
            )
            .var("RUSTANGO_ENV", "prod")
            .var("SECRET_KEY", SECRET)
            .var("RUSTANGO_ALLOWED_HOSTS", "127.0.0.1"),
    )
    .expect("settings")
}

/// The router as `axum::serve` runs it: handlers and layers put together once.
fn finished(app: Router) -> Router {
    app.with_state(())
}

struct Case {
    name: String,
    app: MethodRouter,
    path: &'static str,
    log: bool,
}

fn cases(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> Vec<Case> {
    let settings = settings(dir);
    let stack = rt
        .block_on(Stack::for_settings(&settings))
        .expect("the default stack");
    let builder = || {
        let app = rt
            .block_on(Builder::from_settings(settings.clone()))
            .expect("the builder")
            .api(routes())
            .into_router();
        any_service(finished(app))
    };
    let one = |name: &str, app: Router| (name.to_owned(), any_service(finished(app)));
    let layers = vec![
        one("request_id", routes().request_id(RequestIdLayer::new())),
        one("metrics", routes().metrics(&Metrics::new())),
        one("access_log", routes().access_log(AccessLogLayer::new())),
        one(
            "security_headers",
            routes().security_headers(SecurityHeadersLayer::strict()),
        ),
        one(
            "rate_limit",
            routes().rate_limit(RateLimitLayer::per_ip(RATE_LIMIT, Duration::from_secs(60))),
        ),
        one(
            "body_limit",
            routes().body_limit(BodyLimitLayer::new(
                rustango_server::stack::DEFAULT_BODY_LIMIT,
            )),
        ),
        one("csrf", routes().csrf(CsrfLayer::new(SECRET).secure(true))),
        one("compression", routes().compression(CompressionLayer::new())),
        one("stack", stack.apply(routes())),
        ("builder".to_owned(), builder()),
    ];
    let mut all = Vec::new();
    for (name, app) in layers {
        all.push(Case {
            name,
            app,
            path: "/plaintext",
            log: false,
        });
    }
    all.push(Case {
        name: "builder json".to_owned(),
        app: builder(),
        path: "/json",
        log: false,
    });
    for (name, app) in [
        (
            "request_id",
            any_service(finished(routes().request_id(RequestIdLayer::new()))),
        ),
        (
            "access_log",
            any_service(finished(routes().access_log(AccessLogLayer::new()))),
        ),
        ("stack", any_service(finished(stack.apply(routes())))),
        ("builder", builder()),
    ] {
        all.push(Case {
            name: format!("{name} +log"),
            app,
            path: "/plaintext",
            log: true,
        });
    }
    all
}

/// Mean time of one call over `iters` calls, after a tenth as many unmeasured.
fn time(
    rt: &tokio::runtime::Runtime,
    app: &MethodRouter,
    path: &'static str,
    log: bool,
    iters: u32,
) -> Duration {
    let _guard = log.then(|| tracing::subscriber::set_default(subscriber()));
    rt.block_on(async {
        for _ in 0..iters / 10 {
            call(app, path).await;
        }
        let start = Instant::now();
        for _ in 0..iters {
            call(app, path).await;
        }
        start.elapsed() / iters
    })
}

/// `calls` calls of `app`, the only code callgrind counts in `STACK_CALLGRIND_CALLS`
/// mode (`--toggle-collect='*measured_calls*'`).
#[inline(never)]
fn measured_calls(
    rt: &tokio::runtime::Runtime,
    app: &MethodRouter,
    path: &'static str,
    calls: u32,
) {
    rt.block_on(async {
        for _ in 0..calls {
            call(app, path).await;
        }
    });
}

/// The `STACK_CALLGRIND_CALLS` mode: each case (after 100 calls of warm-up) then
/// `calls` calls inside [`measured_calls`], one case after the other.
fn callgrind(rt: &tokio::runtime::Runtime, all: &[Case], calls: u32) {
    for case in all {
        let _guard = case
            .log
            .then(|| tracing::subscriber::set_default(subscriber()));
        rt.block_on(async {
            for _ in 0..100 {
                call(&case.app, case.path).await;
            }
        });
        measured_calls(rt, &case.app, case.path, calls);
        eprintln!("callgrind: {} x {calls}", case.name);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn benches(c: &mut Criterion) {
    // One thread: the subscriber of `+log` cases is the thread's default.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("rustango-bench-stack-{}", std::process::id()));
    let mut all = cases(&rt, &dir);
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        all.retain(|c| c.name.contains(only.as_str()));
    }
    let bare = any_service(finished(routes()));
    let bare_json = any_service(finished(routes()));

    if let Some(calls) = std::env::var("STACK_CALLGRIND_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        let mut with_baselines = vec![
            Case {
                name: "bare plaintext".to_owned(),
                app: bare.clone(),
                path: "/plaintext",
                log: false,
            },
            Case {
                name: "bare json".to_owned(),
                app: bare.clone(),
                path: "/json",
                log: false,
            },
            Case {
                name: "bare plaintext +log".to_owned(),
                app: bare.clone(),
                path: "/plaintext",
                log: true,
            },
        ];
        if let Ok(only) = std::env::var("BENCH_ONLY") {
            with_baselines.retain(|c| c.name.contains(only.as_str()));
        }
        with_baselines.append(&mut all);
        // `BENCH_CASE=name`: that case only (exact name), one valgrind run per case.
        if let Ok(exact) = std::env::var("BENCH_CASE") {
            with_baselines.retain(|c| c.name == exact);
        }
        callgrind(&rt, &with_baselines, calls);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    let mut group = c.benchmark_group("stack");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    for (log, path) in [
        (false, "/plaintext"),
        (false, "/json"),
        (true, "/plaintext"),
    ] {
        if !all.iter().any(|c| c.log == log && c.path == path) {
            continue;
        }
        let name = format!("bare {}{}", &path[1..], if log { " +log" } else { "" });
        let _guard = log.then(|| tracing::subscriber::set_default(subscriber()));
        group.bench_function(name, |b| b.to_async(&rt).iter(|| call(&bare, path)));
    }
    for case in &all {
        let _guard = case
            .log
            .then(|| tracing::subscriber::set_default(subscriber()));
        group.bench_function(case.name.as_str(), |b| {
            b.to_async(&rt).iter(|| call(&case.app, case.path))
        });
    }
    group.finish();

    // Interleaved rounds in alternating order, so drift on a shared machine hits the
    // case and its baseline alike.
    const ROUNDS: usize = 7;
    const ITERS: u32 = 20_000;
    let mut rows = Vec::new();
    for case in &all {
        let baseline = if case.path == "/json" {
            &bare_json
        } else {
            &bare
        };
        let (mut with, mut without, mut delta) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let (w, b) = if round % 2 == 0 {
                let b = time(&rt, baseline, case.path, case.log, ITERS);
                (time(&rt, &case.app, case.path, case.log, ITERS), b)
            } else {
                let w = time(&rt, &case.app, case.path, case.log, ITERS);
                (w, time(&rt, baseline, case.path, case.log, ITERS))
            };
            let (w, b) = (w.as_secs_f64() * 1e9, b.as_secs_f64() * 1e9);
            with.push(w);
            without.push(b);
            delta.push(w - b);
        }
        rows.push((
            case.name.as_str(),
            median(with),
            median(without),
            median(delta),
        ));
    }
    println!(
        "\nPer request, median of {ROUNDS} interleaved rounds of {ITERS} calls \
         (baseline: the bare router, same subscriber):"
    );
    println!(
        "  {:<20} {:>10} {:>10} {:>10}",
        "case", "ns", "bare ns", "delta ns"
    );
    for (name, with, without, delta) in rows {
        println!("  {name:<20} {with:>10.0} {without:>10.0} {delta:>+10.0}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(stack_benches, benches);

fn main() {
    stack_benches();
    Criterion::default().configure_from_args().final_summary();
}
