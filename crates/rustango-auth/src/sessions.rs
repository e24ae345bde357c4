//! Sessions: Django's `request.session`, on [tower-sessions] 0.15 with rustango's own
//! stores.
//!
//! A [`SessionManagerLayer`] (built by [`SessionConfig::layer`]) gives every request a
//! [`Session`] (an axum extractor): a map of JSON values kept server-side in a
//! [`SessionStore`] and found again through the `sessionid` cookie. The session is
//! loaded on first use and saved after the handler only if it changed.
//!
//! Stores, all implementing [`SessionStore`]:
//!
//! | store | where sessions live | expiry |
//! |---|---|---|
//! | [`MemorySessionStore`] | this process (tests, development, one instance) | expired records are never loaded and are pruned while writing |
//! | [`DbSessionStore`] | the `auth_session` table ([`StoredSession`]), SQLite or PostgreSQL | never loaded; rows removed by [`DbSessionStore::delete_expired`] / [`spawn_delete_expired`] |
//! | [`CacheSessionStore`] | a [`rustango_cache`] cache: Redis for several instances | every key has a TTL equal to the time left, so Redis drops it |
//!
//! The cookie ([`SessionConfig`]) is the one Django sets: `sessionid`, `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, `Max-Age` two weeks from the last change
//! (`SESSION_COOKIE_AGE`), and `Secure` outside the `dev` and `test` environments.
//!
//! Two helpers carry the security rules of the auth flows:
//! - [`rotate`] at login: a new session id, same data, the old id deleted from the
//!   store, so an id planted before login (session fixation) is worthless after it;
//! - [`clear`] at logout: data and record deleted, cookie removed.
//!
//! The database and cache stores never store the session id itself, only its SHA-256
//! (hex), so a leaked table, dump or `KEYS` listing holds no usable cookie value, and
//! cache errors (which name keys) never log one.
//!
//! # Example
//!
//! ```
//! use axum::{Router, routing::{get, post}};
//! use rustango_auth::sessions::{self, MemorySessionStore, Session, SessionConfig};
//! use rustango_http::test_client::TestClient;
//!
//! async fn visit(session: Session) -> String {
//!     let visits: u32 = session.get("visits").await.unwrap().unwrap_or(0) + 1;
//!     session.insert("visits", visits).await.unwrap();
//!     visits.to_string()
//! }
//!
//! async fn login(session: Session) {
//!     // (check the credentials first)
//!     sessions::rotate(&session).await.unwrap(); // new id, same data
//!     session.insert("user_id", 42).await.unwrap();
//! }
//!
//! async fn logout(session: Session) {
//!     sessions::clear(&session).await.unwrap(); // record deleted, cookie removed
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = MemorySessionStore::new();
//! let app = Router::new()
//!     .route("/", get(visit))
//!     .route("/login", post(login))
//!     .route("/logout", post(logout))
//!     .layer(SessionConfig::new(false).layer(store.clone()));
//! let client = TestClient::new(app);
//!
//! let first = client.get("/").send().await;
//! assert!(first.header("set-cookie").unwrap().contains("HttpOnly"));
//! let anonymous_id = client.cookie("sessionid").unwrap();
//!
//! client.post("/login").send().await;
//! assert_ne!(client.cookie("sessionid").unwrap(), anonymous_id);
//! assert_eq!(client.get("/").send().await.text(), "2"); // data kept across login
//!
//! client.post("/logout").send().await;
//! assert_eq!(client.cookie("sessionid"), None);
//! assert_eq!(store.len(), 0);
//! # });
//! ```
//!
//! With several instances, share sessions through Redis (feature `redis`):
//!
//! ```no_run
//! # async fn demo(settings: rustango_config::Settings) -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "redis")] {
//! use std::sync::Arc;
//! use rustango_auth::sessions::{CacheSessionStore, SessionConfig};
//! use rustango_cache::redis_backend::RedisCache;
//!
//! let url = settings.redis_url.as_deref().unwrap_or("redis://127.0.0.1/");
//! let store = CacheSessionStore::new(Arc::new(RedisCache::new(url).await?));
//! let layer = SessionConfig::from_settings(&settings)?.layer(store);
//! let app: axum::Router = axum::Router::new().layer(layer);
//! # }
//! # Ok(()) }
//! ```
//!
//! or through the database (the `auth_session` table comes with the `auth` app's
//! migrations), deleting expired rows every hour:
//!
//! ```no_run
//! # async fn demo(settings: rustango_config::Settings, pool: rustango_orm::Pool) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use rustango_auth::sessions::{self, DbSessionStore, SessionConfig};
//!
//! let store = DbSessionStore::new(pool);
//! sessions::spawn_delete_expired(store.clone(), Duration::from_secs(3600));
//! let layer = SessionConfig::from_settings(&settings)?.layer(store);
//! let app: axum::Router = axum::Router::new().layer(layer);
//! # Ok(()) }
//! ```
//!
//! [tower-sessions]: https://docs.rs/tower-sessions/0.15

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

mod cache;
mod config;
mod db;
mod memory;

pub use cache::CacheSessionStore;
pub use config::SessionConfig;
pub use db::{DbSessionStore, StoredSession};
pub use memory::MemorySessionStore;

pub use tower_sessions::cookie::SameSite;
pub use tower_sessions::session::{Error as SessionError, Id, Record};
pub use tower_sessions::session_store::Error as StoreError;
pub use tower_sessions::{ExpiredDeletion, Expiry, Session, SessionManagerLayer, SessionStore};

/// The session cookie's default name (Django's `SESSION_COOKIE_NAME`).
pub const COOKIE_NAME: &str = "sessionid";

/// How long a session lives after its last change, by default: two weeks (Django's
/// `SESSION_COOKIE_AGE`).
pub const COOKIE_AGE: time::Duration = time::Duration::weeks(2);

/// The prefix of [`CacheSessionStore`] keys: `session:<sha256 of the id, hex>`.
pub const KEY_PREFIX: &str = "session:";

/// How many fresh ids `create` tries when the stored ones collide before giving up.
///
/// Ids are 128 random bits, so even a second attempt is astronomically rare; the bound
/// only turns a broken random source or store into an error instead of a loop.
const CREATE_ATTEMPTS: usize = 8;

/// Gives the session a new id and keeps its data: call it when privileges change,
/// above all at login (the defence against session fixation).
///
/// The old record is deleted from the store at once, so the id the browser held before
/// (which an attacker may have planted) no longer loads anything. The new record is
/// created and its cookie set when the response leaves the session layer; until then
/// [`Session::id`] is `None`. Thin wrapper over [`Session::cycle_id`].
///
/// # Errors
/// [`SessionError::Store`] when loading the session or deleting the old record fails.
pub async fn rotate(session: &Session) -> Result<(), SessionError> {
    session.cycle_id().await
}

/// Ends the session: removes its data, deletes its record from the store, and makes
/// the session layer remove the cookie from the browser. Call it at logout. Thin
/// wrapper over [`Session::flush`].
///
/// A later write in the same request starts a new, empty session with a new id.
///
/// # Errors
/// [`SessionError::Store`] when deleting the record fails.
pub async fn clear(session: &Session) -> Result<(), SessionError> {
    session.flush().await
}

/// Spawns a task that calls [`ExpiredDeletion::delete_expired`] on `store` every
/// `period` (the first time after one period), for stores whose records do not expire
/// by themselves ([`DbSessionStore`]; [`MemorySessionStore`] also prunes while
/// writing). Failures are logged and retried at the next tick. Abort the returned
/// handle to stop it.
///
/// Must be called inside a Tokio runtime.
pub fn spawn_delete_expired<S>(store: S, period: Duration) -> tokio::task::JoinHandle<()>
where
    S: ExpiredDeletion + Clone,
{
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await; // The first tick is immediate.
        loop {
            interval.tick().await;
            if let Err(error) = ExpiredDeletion::delete_expired(&store).await {
                tracing::warn!(%error, "deleting expired sessions failed");
            }
        }
    })
}

/// The key a session is stored under outside this process: the SHA-256 of the cookie
/// value, in lowercase hex (64 characters).
fn hashed_id(id: &Id) -> String {
    rustango_crypto::hex_encode(&Sha256::digest(id.to_string().as_bytes()))
}

/// How long `expiry` is ahead of now; `None` once it has passed.
fn time_left(expiry: OffsetDateTime) -> Option<Duration> {
    let left = expiry - OffsetDateTime::now_utc();
    if left <= time::Duration::ZERO {
        return None;
    }
    Duration::try_from(left).ok()
}

/// `time` to `chrono` (every `OffsetDateTime` fits).
fn to_chrono(t: OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()).unwrap_or(if t.year() < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// `chrono` to `time`; fails for dates `time` cannot hold (beyond ±9999 years).
fn to_time(t: DateTime<Utc>) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(t.timestamp())
        .and_then(|at| at.replace_nanosecond(t.timestamp_subsec_nanos()))
        .map_err(|e| StoreError::Decode(format!("session expiry out of range: {e}")))
}

/// The record's data as JSON text.
fn encode_data(record: &Record) -> Result<String, StoreError> {
    serde_json::to_string(&record.data)
        .map_err(|e| StoreError::Encode(format!("session data: {e}")))
}

/// Session data from JSON text.
fn decode_data(
    text: &str,
) -> Result<std::collections::HashMap<String, serde_json::Value>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Decode(format!("session data: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_ids_are_sha256_hex_of_the_cookie_value() {
        let id = Id(0);
        let hashed = hashed_id(&id);
        assert_eq!(hashed.len(), 64);
        assert!(hashed.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            hashed,
            hashed_id(&"AAAAAAAAAAAAAAAAAAAAAA".parse().unwrap())
        );
        assert_ne!(hashed, hashed_id(&Id(1)));
    }

    #[test]
    fn times_convert_both_ways() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(to_time(to_chrono(now)).unwrap(), now);
        assert!(time_left(now - time::Duration::seconds(1)).is_none());
        let left = time_left(now + time::Duration::minutes(5)).unwrap();
        assert!(left > Duration::from_secs(290) && left <= Duration::from_secs(300));
    }
}
