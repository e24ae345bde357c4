//! A small rustango web service: one model, JSON routes written by hand, its migrations
//! compiled in. `main.rs` serves it with the Builder; the tests drive the same router
//! through the in-process test client.

use chrono::{DateTime, Utc};
use rustango::core::Column as _;
use rustango::http::Problem;
use rustango::http::extract::{Json, Path};
use rustango::sql::Pool;
use rustango::{Auto, Model};
use serde::{Deserialize, Serialize};

// ANCHOR: model
/// A note: the one model of the service.
#[derive(Model, Clone, Debug, Serialize)]
#[rustango(table = "notes")]
pub struct Note {
    /// Key.
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    /// Title, up to 200 characters.
    #[rustango(max_length = 200)]
    pub title: String,
    /// Text.
    pub body: String,
    /// When it was written.
    #[rustango(auto_now_add)]
    pub created_at: Auto<DateTime<Utc>>,
}
// ANCHOR_END: model

/// The files of `migrations/`, compiled in.
pub const MIGRATIONS: &[rustango::migrate::EmbeddedFile] =
    rustango::migrate::embed_migrations!("migrations");

/// What a client sends to create a note.
#[derive(Debug, Deserialize)]
pub struct NewNote {
    /// Title.
    pub title: String,
    /// Text.
    #[serde(default)]
    pub body: String,
}

// ANCHOR: app
/// The whole site on a `Builder`: the auth app installed and the site's migrations
/// applied, the notes API, the sign-in endpoints under `/auth` with sessions in the
/// database, and `/api/me` for any signed-in caller (session, API key or JWT).
pub async fn app(
    builder: rustango::server::Builder,
) -> Result<rustango::server::Builder, Box<dyn std::error::Error>> {
    use rustango::auth::backends::{ApiKeyBackend, Backend, JwtBackend, SessionBackend};
    use rustango::auth::guard::{CurrentUser, RouterAuthExt as _};
    use std::sync::Arc;

    let builder = builder
        .install(rustango::auth::APP)
        .await?
        .migrate_embedded(MIGRATIONS)
        .await?;
    let pool = builder.pool().clone();
    let settings = builder.settings();
    let secret: Vec<u8> = match &settings.secret_key {
        Some(key) => key.expose().as_bytes().to_vec(),
        // Development without a key: tokens last as long as the process.
        None => (0..2)
            .flat_map(|_| *uuid::Uuid::new_v4().as_bytes())
            .collect(),
    };
    // A key of its own for tokens, derived from the settings secret.
    let jwt_key = rustango::signing::derive_key(&secret, "site.jwt");
    let jwt = Arc::new(rustango::auth::jwt_lifecycle::JwtLifecycle::try_new(
        &jwt_key,
    )?);
    let sign_in = rustango::auth::flows::AuthRoutes::new(
        pool.clone(),
        Arc::new(rustango::cache::InMemoryCache::new()),
    )
    .jwt(jwt.clone())
    .totp_issuer("rustango site");
    let backends: Vec<Backend> = vec![
        Arc::new(SessionBackend),
        Arc::new(ApiKeyBackend),
        Arc::new(JwtBackend::with(jwt)),
    ];
    let me = axum::Router::new()
        .route(
            "/api/me",
            axum::routing::get(|CurrentUser(user): CurrentUser| async move {
                axum::Json(serde_json::json!({
                    "username": user.map(|u| u.username),
                }))
            }),
        )
        .require_auth(backends, pool.clone());
    let sessions = rustango::auth::sessions::SessionConfig::from_settings(settings)?
        .layer(rustango::auth::sessions::DbSessionStore::new(pool.clone()));
    Ok(builder
        .api(routes(pool))
        .api(axum::Router::new().nest("/auth", sign_in.router()))
        .api(me)
        .middleware(move |app| app.layer(sessions)))
}
// ANCHOR_END: app

// ANCHOR: routes
/// The JSON routes, for `Builder::api`.
pub fn routes(pool: Pool) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/api/notes", get(list).post(create))
        .route("/api/notes/{id}", get(detail).delete(remove))
        .with_state(pool)
}

async fn list(state: axum::extract::State<Pool>) -> Result<Json<Vec<Note>>, Problem> {
    Ok(Json(Note::objects().limit(100).fetch(&*state).await?))
}

async fn create(
    state: axum::extract::State<Pool>,
    Json(new): Json<NewNote>,
) -> Result<(axum::http::StatusCode, Json<Note>), Problem> {
    if new.title.trim().is_empty() {
        return Err(Problem::unprocessable("`title` may not be empty"));
    }
    let mut note = Note {
        id: Auto::default(),
        title: new.title,
        body: new.body,
        created_at: Auto::default(),
    };
    note.save_on(&*state).await?; // a title over 200 characters is a 422 problem
    Ok((axum::http::StatusCode::CREATED, Json(note)))
}

async fn detail(
    state: axum::extract::State<Pool>,
    Path(id): Path<i64>,
) -> Result<Json<Note>, Problem> {
    // No such note: `DoesNotExist`, which is a 404 problem.
    Ok(Json(
        Note::objects().where_(Note::id.eq(id)).get(&*state).await?,
    ))
}

async fn remove(
    state: axum::extract::State<Pool>,
    Path(id): Path<i64>,
) -> Result<axum::http::StatusCode, Problem> {
    let note = Note::objects().where_(Note::id.eq(id)).get(&*state).await?;
    note.delete_on(&*state).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
// ANCHOR_END: routes
