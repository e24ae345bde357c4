//! `/health` (the process answers) and `/ready` (it can serve: the database answers and
//! every migration is applied), for load balancers and orchestrators.
//!
//! `/ready` answers `200 {"status": "ready", "checks": {...}}` or
//! `503 application/problem+json` with the same `checks` as an extension member, so a
//! probe needs only the status code and a human sees which check failed.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rustango_migrate::{MigrationSet, Runner};
use rustango_orm::Pool;
use serde_json::{Value, json};

/// How long `/ready` waits for the database (and the migration check) in all before
/// calling it unreachable.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
struct HealthState {
    pool: Pool,
    migrations: Option<Arc<MigrationSet>>,
}

/// `/health` and `/ready`, checking that the database answers.
pub fn health_router(pool: Pool) -> Router {
    router(HealthState {
        pool,
        migrations: None,
    })
}

/// [`health_router`] whose `/ready` also requires every migration of `migrations` to
/// be applied.
pub fn health_router_with(pool: Pool, migrations: Arc<MigrationSet>) -> Router {
    router(HealthState {
        pool,
        migrations: Some(migrations),
    })
}

fn router(state: HealthState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(state)
}

async fn health() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

async fn ready(State(state): State<HealthState>) -> Response {
    let mut checks = serde_json::Map::new();
    let mut ok = true;
    // One deadline for the whole probe: a pool with no free connection must not hold
    // the migration check for the pool's own acquire timeout.
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    let db = tokio::time::timeout_at(
        deadline,
        rustango_orm::raw::fetch(
            &state.pool,
            "SELECT CAST(1 AS BIGINT)",
            Vec::new(),
            &[rustango_core::ValueKind::I64],
        ),
    )
    .await;
    match db {
        Ok(Ok(_)) => {
            checks.insert("database".into(), Value::from("ok"));
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            checks.insert("database".into(), Value::from("unreachable"));
            ok = false;
        }
        Err(_) => {
            checks.insert("database".into(), Value::from("timeout"));
            ok = false;
        }
    }
    if let Some(set) = &state.migrations {
        if ok {
            match tokio::time::timeout_at(deadline, Runner::new(&state.pool, set).pending()).await {
                Ok(Ok(p)) if p.is_empty() => {
                    checks.insert("migrations".into(), Value::from("ok"));
                }
                Ok(Ok(p)) => {
                    checks.insert("migrations".into(), json!({ "pending": p }));
                    ok = false;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "readiness: migration check failed");
                    checks.insert("migrations".into(), Value::from("error"));
                    ok = false;
                }
                Err(_) => {
                    checks.insert("migrations".into(), Value::from("timeout"));
                    ok = false;
                }
            }
        } else {
            checks.insert("migrations".into(), Value::from("unknown"));
        }
    }
    if ok {
        axum::Json(json!({ "status": "ready", "checks": checks })).into_response()
    } else {
        rustango_http::Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_detail("not ready to serve")
            .with_extension("checks", Value::Object(checks))
            .into_response()
    }
}
