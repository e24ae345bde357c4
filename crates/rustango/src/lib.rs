//! **rustango** is a Django-shaped, batteries-included web framework for Rust.
//!
//! This crate is the facade: it re-exports the subsystem crates behind cargo features,
//! under the paths the documentation uses (`rustango::sql`, `rustango::core`,
//! `rustango::signals`, …). Depend on it alone; generated code finds everything it
//! needs here, so your crate needs no `[features]` of its own.
//!
//! ```
//! use rustango::{Auto, Model};
//!
//! #[derive(Model, Clone)]
//! #[rustango(table = "notes")]
//! pub struct Note {
//!     #[rustango(primary_key)]
//!     pub id: Auto<i64>,
//!     #[rustango(max_length = 80)]
//!     pub text: String,
//! }
//!
//! # async fn demo() -> Result<(), rustango::sql::Error> {
//! let pool = rustango::sql::Pool::connect("sqlite::memory:").await?;
//! rustango::sql::create_tables(&pool, &[Note::SCHEMA]).await?;
//! let mut n = Note { id: Auto::default(), text: "hello".into() };
//! n.save_on(&pool).await?;
//! assert_eq!(n.id.get(), Some(&1));
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
//! ```
#![deny(missing_docs)]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!(
    "rustango needs a database backend: enable the `sqlite` and/or `postgres` feature of the `rustango` dependency"
);

pub use rustango_core::{Auto, Model};
pub use rustango_macros::Model;

/// Model metadata, values and typed columns (`rustango::core::Column`).
pub mod core {
    pub use rustango_core::*;
}

/// SQL statements as data and the per-backend writers.
pub mod query {
    pub use rustango_query::*;
}

/// The ORM: pools, query sets, mutations, transactions, relations and DDL.
pub mod sql {
    pub use rustango_orm::{
        Agg, Conn, Error, Executor, ForeignKey, GroupedQuery, ManyToMany, Pool, PoolOptions,
        PrefetchQuerySet, Prefetched, QuerySet, Target, Tx, UpdateQuery, create_statements,
        create_tables, drop_tables, schema_transaction, transaction,
    };
    pub use rustango_orm::{Fetcher, raw};
    pub use rustango_query::DialectKind;
}

/// Model signals (`pre_save`, `post_save`, `pre_delete`, `post_delete`).
#[cfg(feature = "signals")]
pub mod signals {
    pub use rustango_orm::signals::*;
}

/// Migrations: snapshots, operations, the autodetector, migration files and the runner
/// (see the book's "Migrations" chapter).
#[cfg(feature = "migrate")]
pub mod migrate {
    pub use rustango_macros::embed_migrations;
    pub use rustango_migrate::*;
}

/// The `manage` commands, for a project's `src/bin/manage.rs`:
/// `rustango::manage::Manage::new().main()`.
#[cfg(feature = "manage")]
pub mod manage {
    pub use rustango_cli::*;
}

/// The server: `Builder::from_env().await?.migrate(".").await?.api(router).serve(addr)`.
#[cfg(feature = "server")]
pub mod server {
    /// OpenTelemetry export of the request spans over OTLP/HTTP.
    #[cfg(feature = "otel")]
    pub use rustango_server::telemetry;
    pub use rustango_server::{
        Builder, Error, Stack, TracingGuard, init_tracing, json_log, serve_on, shutdown_signal,
        stack, welcome_router,
    };
}

/// Prometheus metrics: one registry per app, request series by route template, served
/// at `/metrics` by the server's default stack.
#[cfg(feature = "middleware")]
pub mod metrics {
    pub use rustango_middleware::metrics::*;
}

/// `/health` and `/ready`.
#[cfg(feature = "server")]
pub mod health {
    pub use rustango_server::health::*;
}

/// HTTP building blocks: `Problem` (RFC 7807 problem+json), extractors whose
/// rejections are problems, `RouterExt`.
#[cfg(feature = "server")]
pub mod http {
    pub use rustango_http::*;
}

/// The in-process test client: `TestClient::new(router).get("/").send().await`.
#[cfg(feature = "server")]
pub mod test_client {
    pub use rustango_http::test_client::*;
}

/// Layered settings (`rustango.toml`, `rustango.<env>.toml`, environment variables)
/// and secrets.
#[cfg(feature = "config")]
pub mod config {
    pub use rustango_config::*;
}

/// Caching: the `Cache` trait and its in-memory, null and (feature `cache-redis`)
/// Redis backends.
#[cfg(feature = "cache")]
pub mod cache {
    pub use rustango_cache::*;
}

/// Production middleware, one layer per concern, each chained with its `XxxRouterExt`
/// trait (all of them: `use rustango::middleware::prelude::*`).
#[cfg(feature = "middleware")]
pub mod middleware {
    pub use rustango_middleware::*;
}

/// One facade module per layer the spec's security example imports, each with its
/// `XxxRouterExt` chaining trait (`use rustango::cors::{CorsLayer, CorsRouterExt}`).
/// `use rustango::middleware::prelude::*` imports every chaining trait at once.
macro_rules! layer_modules {
    ($($(#[$doc:meta])* $module:ident if $feature:literal;)*) => {$(
        $(#[$doc])*
        #[cfg(feature = $feature)]
        pub mod $module {
            pub use rustango_middleware::$module::*;
        }
    )*};
}

layer_modules! {
    /// Security headers presets, `CspBuilder`, per-request CSP nonces and
    /// `SecurityHeadersRouterExt`.
    security_headers if "middleware";
    /// CORS (origin allowlists, methods, credentials, preflight) and `CorsRouterExt`.
    cors if "middleware";
    /// Rate limits per IP, user or key, in memory or Redis, and `RateLimitRouterExt`.
    rate_limit if "middleware";
    /// IP allow and block lists (CIDR), behind trusted proxies only, and
    /// `IpFilterRouterExt`.
    ip_filter if "middleware";
    /// Request ids (accepted or generated, echoed, in every log line) and
    /// `RequestIdRouterExt`.
    request_id if "middleware";
    /// One `tracing` event per request, secrets redacted, and `AccessLogRouterExt`.
    access_log if "middleware";
    /// `ETag`, `304 Not Modified` and `EtagRouterExt`.
    etag if "middleware";
    /// CSRF checks for cookie-authenticated unsafe requests and `CsrfRouterExt`.
    csrf if "csrf";
}

/// Authentication and permissions: `models::{User, Group, Permission, ApiKey}`,
/// `permissions::has_perm`, `sessions`, `jwt_lifecycle`, `backends`, `guard`
/// (`RouterAuthExt::require_auth`, `CurrentUser`), `flows` (sign-in endpoints) and
/// `APP` to install with `Builder::install` and `Manage::install`.
#[cfg(feature = "auth")]
pub mod auth {
    pub use rustango_auth::*;
}

/// Password hashing (argon2id) and strength checks.
#[cfg(feature = "passwords")]
pub mod passwords {
    pub use rustango_crypto::passwords::*;
}

/// API keys: `generate_key`, `split_token`, `verify_key`.
#[cfg(feature = "api_keys")]
pub mod api_keys {
    pub use rustango_crypto::api_keys::*;
}

/// RFC 6238 one-time codes: `TotpSecret`, `otpauth_url`, `generate`, `verify`.
#[cfg(feature = "totp")]
pub mod totp {
    pub use rustango_crypto::totp::*;
}

/// Signed URLs: `sign` and `verify`.
#[cfg(feature = "signed_url")]
pub mod signed_url {
    pub use rustango_crypto::signed_url::*;
}

/// Inbound webhook signatures.
#[cfg(feature = "webhook")]
pub mod webhook {
    pub use rustango_crypto::webhook::*;
}

/// Signed values with salt and maximum age (Django's `signing`).
#[cfg(feature = "signing")]
pub mod signing {
    pub use rustango_crypto::signing::*;
}

/// Runs `async fn main` on a multi-threaded runtime with logging installed.
#[cfg(feature = "server")]
pub use rustango_macros::main;

#[doc(hidden)]
pub mod __private {
    pub use rustango_orm::__private::*;
    #[cfg(feature = "server")]
    pub use rustango_server::init_tracing;
    #[cfg(feature = "server")]
    pub use tokio;
}
