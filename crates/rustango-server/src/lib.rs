//! The rustango server: [`Builder`] reads the settings, opens the database, applies
//! migrations, mounts the application's routes and serves them, finishing in-flight
//! requests when the process is asked to stop.
//!
//! ```no_run
//! use rustango_server::Builder;
//!
//! # async fn run() -> Result<(), rustango_server::Error> {
//! let app = axum::Router::new().route("/hello", axum::routing::get(|| async { "hi" }));
//! Builder::from_env()
//!     .await?
//!     .migrate(".")
//!     .await?
//!     .api(app)
//!     .serve("127.0.0.1:8080")
//!     .await
//! # }
//! ```
//!
//! Without a `DATABASE_URL`, the database is the SQLite file `rustango.db` in the
//! working directory, so a bare `cargo run` works. Until the application mounts its own
//! `/`, a welcome page answers there; every other unknown path is a 404
//! `application/problem+json`.
#![deny(missing_docs)]

pub mod health;
pub mod json_log;
pub mod stack;
#[cfg(feature = "otel")]
pub mod telemetry;

pub use stack::Stack;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::response::{Html, IntoResponse, Response};
use rustango_config::Settings;
use rustango_migrate::{App, EmbeddedFile, MigrationSet, Runner, Target};
use rustango_orm::Pool;

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("settings", &self.settings)
            .field("pool", &self.pool)
            .field(
                "migrations",
                &self.migrations.as_ref().map(|m| m.files().len()),
            )
            .field("admin_title", &self.admin_title)
            .field("stack", &self.stack)
            .field("middleware", &MiddlewareFns(&self.middleware))
            .finish_non_exhaustive()
    }
}

/// Errors of starting and running a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The settings could not be read or are not valid for this environment.
    #[error(transparent)]
    Config(#[from] rustango_config::ConfigError),
    /// The database could not be opened or refused a statement.
    #[error("database: {0}")]
    Database(#[from] rustango_orm::Error),
    /// Migrations could not be read or applied.
    #[error(transparent)]
    Migrate(#[from] rustango_migrate::Error),
    /// The seed function failed.
    #[error("seeding failed: {0}")]
    Seed(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The address to serve on is not valid.
    #[error("cannot serve on `{address}`: {reason}")]
    BadAddress {
        /// What was given.
        address: String,
        /// Why it is refused.
        reason: String,
    },
    /// Binding or serving failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    /// A setting of the middleware stack is not valid.
    #[error("setting `{setting}`: {reason}")]
    Middleware {
        /// The setting (`trusted_proxies`, `middleware.security_headers`, …).
        setting: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// Tracing could not be set up (the OpenTelemetry exporter).
    #[error("tracing: {0}")]
    Tracing(String),
}

/// Builds and serves a rustango application.
pub struct Builder {
    settings: Settings,
    pool: Pool,
    routes: Router,
    migrations: Option<Arc<MigrationSet>>,
    admin_title: Option<String>,
    middleware: Vec<MiddlewareFn>,
    stack: Stack,
    apps: Vec<App>,
    grace: std::time::Duration,
}

/// A function that wraps the finished router in layers (see [`Builder::middleware`]).
type MiddlewareFn = Box<dyn FnOnce(Router) -> Router + Send>;

impl std::fmt::Debug for MiddlewareFns<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} middleware function(s)", self.0.len())
    }
}

struct MiddlewareFns<'a>(&'a [MiddlewareFn]);

impl Builder {
    /// Reads the settings (defaults, `rustango.toml`, `rustango.<env>.toml`, the
    /// environment), checks them for the environment (production refuses a missing or
    /// short `SECRET_KEY`) and opens the database.
    pub async fn from_env() -> Result<Builder, Error> {
        Self::from_settings(Settings::from_env()?).await
    }

    /// Like [`from_env`](Self::from_env), with settings made elsewhere (tests).
    pub async fn from_settings(settings: Settings) -> Result<Builder, Error> {
        settings.validate()?;
        for warning in settings.warnings() {
            tracing::warn!("settings: {warning}");
        }
        let stack = Stack::for_settings(&settings).await?;
        let pool = Pool::connect(&settings.database_url).await?;
        Ok(Builder {
            stack,
            apps: Vec::new(),
            grace: DEFAULT_SHUTDOWN_GRACE,
            settings,
            pool,
            routes: Router::new(),
            migrations: None,
            admin_title: None,
            middleware: Vec::new(),
        })
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The database pool (clone it into handlers' state).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Applies the pending migrations of `dir`: its `migrations/` subdirectory when
    /// there is one (`.migrate(".")` from the project root), else `dir` itself.
    pub async fn migrate(self, dir: impl AsRef<Path>) -> Result<Builder, Error> {
        let dir = dir.as_ref();
        let nested = dir.join("migrations");
        let set = MigrationSet::from_dir(if nested.is_dir() { &nested } else { dir })?;
        self.apply(set).await
    }

    /// Applies the pending migrations compiled into the binary with
    /// `embed_migrations!`.
    pub async fn migrate_embedded(self, files: &'static [EmbeddedFile]) -> Result<Builder, Error> {
        let set = MigrationSet::from_embedded(files)?;
        self.apply(set).await
    }

    /// Installs a reusable app with migrations of its own (`rustango::auth::APP`):
    /// applies its pending migrations and its post-migrate step now, and puts its
    /// migrations before the project's in later [`migrate`](Self::migrate) calls.
    pub async fn install(mut self, app: App) -> Result<Builder, Error> {
        if !self.apps.iter().any(|a| a.label == app.label) {
            self.apps.push(app);
        }
        match self.migrations.take() {
            // Already migrated: the project's files, now behind every app's.
            Some(set) => {
                let project = set.without_apps(&self.apps);
                self.apply(project).await
            }
            // Only the installed apps: the project's migrations (applied or not) are
            // for a later `migrate`.
            None => {
                let set = MigrationSet::only_apps(&self.apps)?;
                self.run(&set).await?;
                Ok(self)
            }
        }
    }

    async fn apply(mut self, set: MigrationSet) -> Result<Builder, Error> {
        let set = set.with_apps(&self.apps)?;
        self.run(&set).await?;
        self.migrations = Some(Arc::new(set));
        Ok(self)
    }

    /// Applies `set` and runs the apps' post-migrate steps.
    async fn run(&self, set: &MigrationSet) -> Result<(), Error> {
        let steps = Runner::new(&self.pool, set)
            .on_progress(|p| {
                if let rustango_migrate::Progress::Migration { migration, .. } = p {
                    tracing::info!(migration, "applying migration");
                }
            })
            .migrate(&Target::Latest)
            .await?;
        tracing::info!(applied = steps.len(), "migrations up to date");
        for app in &self.apps {
            app.post_migrate(&self.pool).await?;
        }
        Ok(())
    }

    /// Mounts the application's routes (several calls merge them).
    pub fn api(mut self, router: Router) -> Builder {
        self.routes = self.routes.merge(router);
        self
    }

    /// Runs `seed` once with the pool, after migrations (demo data, a first user).
    pub async fn seed_with<F, Fut, E>(self, seed: F) -> Result<Builder, Error>
    where
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        seed(self.pool.clone())
            .await
            .map_err(|e| Error::Seed(e.into()))?;
        Ok(self)
    }

    /// The title of the admin site (used when the admin is mounted).
    pub fn admin_title(mut self, title: impl Into<String>) -> Builder {
        self.admin_title = Some(title.into());
        self
    }

    /// Wraps the whole application (health endpoints and problem responses included)
    /// in layers: `.middleware(|app| app.security_headers(..).request_id(..))`.
    /// Several calls apply in order, the last one outermost.
    pub fn middleware(mut self, wrap: impl FnOnce(Router) -> Router + Send + 'static) -> Builder {
        self.middleware.push(Box::new(wrap));
        self
    }

    /// Changes the default middleware stack ([`Stack`]): drop a layer
    /// (`|s| s.csrf = None`), replace one, or start over with [`Stack::none`].
    pub fn configure_stack(mut self, configure: impl FnOnce(&mut Stack)) -> Builder {
        configure(&mut self.stack);
        self
    }

    /// How long requests in flight may run after SIGINT/SIGTERM before they are cut off
    /// (default [`DEFAULT_SHUTDOWN_GRACE`], 30 s; keep it under the orchestrator's own
    /// kill timeout).
    pub fn shutdown_grace(mut self, grace: std::time::Duration) -> Builder {
        self.grace = grace;
        self
    }

    /// The app's metrics registry (to register the app's own counters), unless the
    /// stack's metrics are off.
    pub fn metrics(&self) -> Option<&rustango_middleware::metrics::Metrics> {
        self.stack.metrics.as_ref()
    }

    /// The admin title set with [`admin_title`](Self::admin_title).
    pub fn admin_title_value(&self) -> Option<&str> {
        self.admin_title.as_deref()
    }

    /// The complete application: the mounted routes, `/health` and `/ready`,
    /// `/metrics`, the welcome page at `/` unless the application has its own,
    /// problem+json for unknown routes, wrong methods and panics, all inside the
    /// [middleware stack](stack), and that inside the [`middleware`](Self::middleware)
    /// functions.
    ///
    /// The application's routes come first: a path it mounts itself (its own
    /// `/health` or `/metrics`, say) is its own, and the built-in one is not served
    /// there.
    pub fn into_router(self) -> Router {
        let mut builtins = match &self.migrations {
            Some(set) => health::health_router_with(self.pool.clone(), set.clone()),
            None => health::health_router(self.pool.clone()),
        };
        if let Some(metrics) = &self.stack.metrics {
            if let Err(e) = metrics.register(Box::new(stack::PoolCollector::new(self.pool.clone())))
            {
                // Only when the app registered the same names itself.
                tracing::warn!(error = %e, "database pool gauges not registered");
            }
            builtins = builtins.merge(metrics.router());
        }
        // What the application's routes do not match goes to the built-in routes, then
        // to the welcome page (`/` only) or a 404 problem: no merge of the two, whose
        // overlapping paths would panic. Each router gets the stack on its own routes,
        // where axum has set the route template the layers label requests with; the
        // problem defaults go into the stack's one layer.
        let builtins = self.stack.apply_inner(builtins.fallback(fallback), true);
        let mut app = self
            .stack
            .apply_inner(self.routes, true)
            .fallback_service(builtins);
        for wrap in self.middleware {
            app = wrap(app);
        }
        app
    }

    /// Serves on `addr` (`"127.0.0.1:8080"`; `"settings"` or an empty string uses the
    /// configured `bind`) until SIGINT or SIGTERM, then stops accepting connections and
    /// lets in-flight requests finish.
    pub async fn serve(self, addr: &str) -> Result<(), Error> {
        let addr: SocketAddr = if addr.is_empty() || addr == "settings" {
            self.settings.bind
        } else {
            addr.parse()
                .map_err(|e: std::net::AddrParseError| Error::BadAddress {
                    address: addr.to_owned(),
                    reason: e.to_string(),
                })?
        };
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let grace = self.grace;
        serve_on_with_grace(listener, self.into_router(), shutdown_signal(), grace).await
    }
}

/// How long in-flight requests may run after a shutdown signal unless
/// [`Builder::shutdown_grace`] says otherwise.
pub const DEFAULT_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` completes, then finishes in-flight
/// requests (for at most [`DEFAULT_SHUTDOWN_GRACE`]) and returns. Handlers see the
/// peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    serve_on_with_grace(listener, app, shutdown, DEFAULT_SHUTDOWN_GRACE).await
}

/// [`serve_on`] with a grace period: once `shutdown` completes, no new connection is
/// accepted and requests in flight get `grace` to finish; then this returns even if
/// some still run (a long poll, a stream), so `main` ends and the process exits,
/// closing them: a deploy never waits forever.
pub async fn serve_on_with_grace(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: std::time::Duration,
) -> Result<(), Error> {
    let local = listener.local_addr()?;
    tracing::info!(%local, "serving");
    let (fired_tx, fired_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        let _ = fired_tx.send(());
    };
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown);
    let deadline = async move {
        if fired_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result?,
        () = deadline => {
            tracing::warn!(grace_secs = grace.as_secs_f64(), "requests still running after the shutdown grace period were cut off");
        }
    }
    tracing::info!("server stopped");
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}

async fn fallback(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    if uri.path() == "/"
        && (method == axum::http::Method::GET || method == axum::http::Method::HEAD)
    {
        welcome().await.into_response()
    } else {
        rustango_http::Problem::not_found()
            .with_instance(uri.path())
            .into_response()
    }
}

/// Installs rustango's log output (what `#[rustango::main]` calls first): the filter
/// of the `log` setting (`RUSTANGO_LOG`; default `info`, `tracing` filter syntax), JSON
/// lines when `log_format` is `json` (`RUSTANGO_LOG_FORMAT`; the default in
/// production), human-readable lines otherwise. With the `otel` feature
/// and `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are also exported over OTLP/HTTP (see
/// the `telemetry` module). Does nothing when a subscriber is already installed.
///
/// JSON lines come from [`json_log`]: buffered and written to stdout in batches, every
/// 100 ms (the `log_flush_ms` setting, `RUSTANGO_LOG_FLUSH_MS`; `0` writes each line
/// at once), and at once for `ERROR`.
///
/// Keep the returned guard alive until the program ends: dropping it writes out the
/// buffered log lines and flushes the spans not yet exported.
pub fn init_tracing() -> TracingGuard {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    // The same layers as the app's settings (`log` and `log_format` in
    // `rustango.toml`, `RUSTANGO_LOG`, `RUSTANGO_LOG_FORMAT`; JSON by default in
    // production). Settings that do not load leave the defaults: the Builder reports
    // the error itself a moment later, through this very subscriber.
    let (filter, json, flush_ms) = match Settings::from_env() {
        Ok(settings) => (
            settings.log.clone(),
            settings.log_format == rustango_config::LogFormat::Json,
            settings.log_flush_ms,
        ),
        // The same reading of the variables as the settings' (blank is unset), so the
        // startup error itself comes out as JSON in production.
        Err(_) => {
            use rustango_config::{Env, LogFormat, Origin};
            let var = |name: &str| {
                std::env::var(name)
                    .ok()
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
            };
            let env = var("RUSTANGO_ENV")
                .and_then(|e| Env::parse(&e, Origin::Code).ok())
                .unwrap_or(Env::Dev);
            let format = var("RUSTANGO_LOG_FORMAT")
                .and_then(|f| LogFormat::parse(&f, Origin::Code).ok())
                .unwrap_or_else(|| LogFormat::default_for(env));
            (
                var("RUSTANGO_LOG").unwrap_or_else(|| "info".to_owned()),
                format == LogFormat::Json,
                rustango_config::DEFAULT_LOG_FLUSH_MS,
            )
        }
    };
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let (plain, json) = if json {
        let builder = json_log::JsonLayer::builder()
            .flush_interval(std::time::Duration::from_millis(flush_ms));
        (None, Some(builder.stdout()))
    } else {
        (Some(tracing_subscriber::fmt::layer()), None)
    };
    let flush = json.as_ref().map(json_log::JsonLayer::flush_handle);
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(plain)
        .with(json);

    #[cfg(feature = "otel")]
    if telemetry::configured() {
        match telemetry::provider() {
            Ok(provider) => {
                let installed = registry
                    .with(telemetry::layer(&provider))
                    .try_init()
                    .is_ok();
                return TracingGuard {
                    _exporter: installed.then(|| telemetry::Exporter(provider)),
                    _log: flush
                        .filter(|_| installed)
                        .map(json_log::FlushHandle::guard),
                };
            }
            Err(e) => eprintln!("rustango: spans are not exported: {e}"),
        }
    }
    let installed = registry.try_init().is_ok();
    TracingGuard {
        #[cfg(feature = "otel")]
        _exporter: None,
        _log: flush
            .filter(|_| installed)
            .map(json_log::FlushHandle::guard),
    }
}

/// Returned by [`init_tracing`]: dropping it writes out the buffered JSON log lines and
/// flushes exported spans.
#[must_use = "dropping the guard at once writes the buffered log lines out and stops the span exporter"]
pub struct TracingGuard {
    // Dropped in this order: the exporter's shutdown may still log.
    #[cfg(feature = "otel")]
    _exporter: Option<telemetry::Exporter>,
    _log: Option<json_log::FlushGuard>,
}

impl std::fmt::Debug for TracingGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracingGuard").finish_non_exhaustive()
    }
}

/// A router with only the welcome page at `/` (the Builder serves it by itself until
/// the application mounts its own `/`).
pub fn welcome_router() -> Router {
    Router::new().route("/", axum::routing::get(welcome))
}

async fn welcome() -> Html<&'static str> {
    Html(WELCOME)
}

const WELCOME: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>rustango is running</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
</head>
<body>
<h1>rustango is running</h1>
<p>This page answers <code>/</code> until your application mounts its own route there.</p>
<ul>
<li><code>/health</code>: the process is up</li>
<li><code>/ready</code>: the database answers and the migrations are applied</li>
</ul>
<p>Next: define a model, run <code>cargo run --bin manage -- makemigrations</code> and
<code>migrate</code>, and mount your routes with <code>Builder::api</code>.</p>
</body>
</html>
"#;
