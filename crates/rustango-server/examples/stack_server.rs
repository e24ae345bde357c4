//! The HTTP stack benchmark's server (`cargo xtask bench-http` starts it).
//!
//! ```bash
//! cargo run --release -p rustango-server --example stack_server -- <bare|full> <port> [--no-subscriber]
//! ```
//!
//! Serves `GET /plaintext` (`Hello, World!`) and `GET /json`
//! (`{"message":"Hello, World!"}`) on `127.0.0.1:<port>`:
//!
//! - `bare`: the two routes on a plain `axum::Router`, served with `axum::serve`;
//! - `bare-headers`: `bare`, answering with the nine headers `full` adds to these
//!   responses (fixed values, set by one `map_response`): what the bytes alone cost;
//! - `full`: the same routes through [`Builder`]'s full default stack, production
//!   settings (strict security headers, `Secure` CSRF cookie), served by
//!   [`serve_on`](rustango_server::serve_on) as `Builder::serve` does. The only
//!   setting changed is `[middleware] rate_limit_per_minute = 1000000000`, so a load
//!   generator on one address is never refused while every request still pays for the
//!   count.
//!
//! Log output: by default [`init_tracing`](rustango_server::init_tracing) installs the
//! subscriber an application gets from `#[rustango::main]` (one access-log line per
//! request, written to stdout: redirect it to `/dev/null`). It reads `RUSTANGO_LOG` and
//! `RUSTANGO_LOG_FORMAT` from the process environment, not from the settings `full`
//! builds: set `RUSTANGO_LOG_FORMAT=json` for production's format (`cargo xtask
//! bench-http` does). `--no-subscriber` installs none, so log events cost only their
//! level check.
//!
//! `STACK_WITHOUT=csrf,rate_limit` leaves those layers out of `full` (names as the
//! fields of [`Stack`](rustango_server::Stack)), to see what one layer costs over HTTP.
//!
//! Stops on SIGINT or SIGTERM and removes its temporary directory.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::routing::get;
use rustango_config::{Settings, Sources};
use rustango_server::Builder;

#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
}

async fn plaintext() -> &'static str {
    "Hello, World!"
}

async fn json() -> axum::Json<Message> {
    axum::Json(Message {
        message: "Hello, World!",
    })
}

fn routes() -> Router {
    Router::new()
        .route("/plaintext", get(plaintext))
        .route("/json", get(json))
}

const USAGE: &str = "usage: stack_server <bare|bare-headers|full> <port> [--no-subscriber]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, port, subscriber) = match args.as_slice() {
        [mode, port] => (mode.as_str(), port, true),
        [mode, port, flag] if flag == "--no-subscriber" => (mode.as_str(), port, false),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("stack_server: `{port}` is not a port\n{USAGE}");
        return ExitCode::from(2);
    };
    let _guard = subscriber.then(rustango_server::init_tracing);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let result = match mode {
        "bare" => bare(addr).await,
        "bare-headers" => bare_headers(addr).await,
        "full" => full(addr).await,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stack_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The baseline: the routes on bare axum, nothing else.
async fn bare(addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, routes())
        .with_graceful_shutdown(rustango_server::shutdown_signal())
        .await?;
    Ok(())
}

/// Bare axum answering with the nine headers the full stack adds to these responses,
/// with fixed values and no logic: what those bytes alone cost the server and the
/// client.
async fn bare_headers(addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    use axum::http::{HeaderName, HeaderValue};
    const HEADERS: [(&str, &str); 9] = [
        ("ratelimit-policy", "\"default\";q=1000000000;w=60"),
        ("ratelimit", "\"default\";r=999999999;t=43"),
        (
            "strict-transport-security",
            "max-age=63072000; includeSubDomains",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("x-request-id", "70befdba-5083-4b89-85ba-3013576d96a2"),
    ];
    // Names and values made once, as the stack's layers make theirs: each response
    // pays for the inserts and the bytes only.
    let headers: std::sync::Arc<[(HeaderName, HeaderValue)]> = HEADERS
        .iter()
        .map(|&(name, value)| {
            (
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            )
        })
        .collect();
    let app = routes().layer(axum::middleware::map_response(
        move |mut response: axum::response::Response| {
            let map = response.headers_mut();
            map.reserve(headers.len());
            for (name, value) in headers.iter() {
                map.insert(name.clone(), value.clone());
            }
            std::future::ready(response)
        },
    ));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(rustango_server::shutdown_signal())
        .await?;
    Ok(())
}

/// The routes inside everything the Builder adds by default.
async fn full(addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("rustango-stack-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = serve_full(addr, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn serve_full(
    addr: SocketAddr,
    dir: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::write(
        dir.join("rustango.toml"),
        "[middleware]\nrate_limit_per_minute = 1000000000\n",
    )?;
    let settings = Settings::load(
        Sources::new(dir)
            .var(
                "DATABASE_URL",
                format!("sqlite://{}?mode=rwc", dir.join("db.sqlite3").display()),
            )
            .var("RUSTANGO_ENV", "prod")
            .var(
                "SECRET_KEY",
                "a-benchmark-secret-key-that-is-long-enough-0123456789",
            )
            .var("RUSTANGO_ALLOWED_HOSTS", "127.0.0.1"),
    )?;
    let without = std::env::var("STACK_WITHOUT").unwrap_or_default();
    let mut dropped = Vec::new();
    let app = Builder::from_settings(settings)
        .await?
        .api(routes())
        .configure_stack(|s| {
            for name in without.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let known = match name {
                    "request_id" => s.request_id.take().is_some(),
                    "metrics" => s.metrics.take().is_some(),
                    "access_log" => s.access_log.take().is_some(),
                    "security_headers" => s.security_headers.take().is_some(),
                    "rate_limit" => s.rate_limit.take().is_some(),
                    "body_limit" => s.body_limit.take().is_some(),
                    "csrf" => s.csrf.take().is_some(),
                    "compression" => s.compression.take().is_some(),
                    _ => false,
                };
                dropped.push((name.to_owned(), known));
            }
        })
        .into_router();
    if let Some((name, _)) = dropped.iter().find(|(_, known)| !known) {
        return Err(format!("STACK_WITHOUT: `{name}` is not a layer of the default stack").into());
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    rustango_server::serve_on(listener, app, rustango_server::shutdown_signal()).await?;
    Ok(())
}
