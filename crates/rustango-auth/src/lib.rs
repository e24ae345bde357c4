//! Authentication and permissions for rustango applications: Django's
//! `django.contrib.auth` (users, groups, permissions, password hashing and reset,
//! sessions) plus what Django leaves to packages (JWT with rotation and revocation,
//! API keys, TOTP two-factor sign-in, OpenID Connect login).
//!
//! Install the app so its tables exist and permission codenames are created:
//! `Builder::from_env().await?.install(rustango_auth::APP).await?` in the server, and
//! `Manage::new().install(rustango_auth::APP)` in `src/bin/manage.rs`.
#![deny(missing_docs)]

pub mod backends;
mod error;
pub mod flows;
pub mod guard;
mod html;
pub mod permissions;
pub mod signals;
mod sql;
pub mod users;

pub use error::{AuthError, Result};

pub mod jwt_lifecycle;
pub mod models;
#[cfg(feature = "oidc")]
pub mod oidc;
pub mod redirects;
pub mod sessions;

/// The auth app's migrations, compiled in (`migrations/auth/`).
pub const MIGRATIONS: &[rustango_migrate::EmbeddedFile] =
    rustango_macros::embed_migrations!("migrations");

/// The auth app, for `Builder::install` and `Manage::install`: its migrations, and
/// [`permissions::sync_permissions`] after every `migrate`.
pub const APP: rustango_migrate::App = rustango_migrate::App {
    label: "auth",
    migrations: MIGRATIONS,
    post_migrate: Some(post_migrate),
};

fn post_migrate(
    pool: &rustango_orm::Pool,
) -> futures_util::future::BoxFuture<'_, Result<(), Box<dyn std::error::Error + Send + Sync>>> {
    Box::pin(async move {
        let created = permissions::sync_permissions(pool).await?;
        if created > 0 {
            tracing::info!(created, "permission codenames created");
        }
        Ok(())
    })
}
