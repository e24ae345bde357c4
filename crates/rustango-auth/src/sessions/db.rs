//! [`DbSessionStore`]: sessions in the `auth_session` table.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rustango_macros::Model;
use rustango_orm::{Column as _, Pool};
use time::OffsetDateTime;
use tower_sessions::session_store;

use super::{
    CREATE_ATTEMPTS, ExpiredDeletion, Id, Record, SessionStore, StoreError, decode_data,
    encode_data, hashed_id, to_chrono, to_time,
};

/// One session in the database: a row of `auth_session` (Django's
/// `django_session`), written and read by [`DbSessionStore`].
///
/// `Debug` leaves the data out.
#[derive(Model, Clone)]
#[rustango(table = "auth_session", app = "auth")]
pub struct StoredSession {
    /// The SHA-256 of the session id (the cookie value), in hex: the table never holds
    /// a usable cookie value.
    #[rustango(primary_key, max_length = 64)]
    pub id: String,
    /// The session's data: a JSON object.
    pub data: String,
    /// When the session expires; expired rows are never loaded.
    #[rustango(index)]
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("id", &self.id)
            .field("data", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl StoredSession {
    fn from_record(record: &Record) -> Result<Self, StoreError> {
        Ok(Self {
            id: hashed_id(&record.id),
            data: encode_data(record)?,
            expires_at: to_chrono(record.expiry_date),
        })
    }
}

/// Sessions in the database behind a [`Pool`] (SQLite or PostgreSQL), in the
/// `auth_session` table of the `auth` app ([`StoredSession`]).
///
/// Every instance of the site sees the same sessions. Rows are keyed by the SHA-256 of
/// the session id. `create` inserts and, if the id is taken (a unique violation), tries
/// again with a fresh id; `save` is one upsert. Expired rows are never loaded; remove
/// them with [`delete_expired`](Self::delete_expired), e.g. from
/// [`spawn_delete_expired`](super::spawn_delete_expired) or a scheduled job (Django's
/// `clearsessions`).
///
/// Clones share the pool.
#[derive(Clone, Debug)]
pub struct DbSessionStore {
    pool: Pool,
}

impl DbSessionStore {
    /// A store on `pool`, whose database has the `auth_session` table.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Deletes every expired row; returns how many.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the database fails.
    pub async fn delete_expired(&self) -> Result<u64, StoreError> {
        StoredSession::objects()
            .where_(StoredSession::expires_at.lte(Utc::now()))
            .delete(&self.pool)
            .await
            .map_err(backend)
    }
}

/// An ORM error as a store error. ORM messages name tables and constraints, never
/// values (and the key is a hash anyway).
fn backend(e: rustango_orm::Error) -> StoreError {
    StoreError::Backend(format!("session table: {e}"))
}

#[async_trait]
impl SessionStore for DbSessionStore {
    /// Inserts the row; on a unique violation (the id is taken), tries again with a
    /// fresh id, which ends up in `record.id`.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        for _ in 0..CREATE_ATTEMPTS {
            let row = StoredSession::from_record(record)?;
            match StoredSession::bulk_insert_on(&self.pool, vec![row]).await {
                Ok(_) => return Ok(()),
                Err(rustango_orm::Error::UniqueViolation { .. }) => {
                    tracing::warn!("session id collision: trying a fresh id");
                    record.id = Id::default();
                }
                Err(e) => return Err(backend(e)),
            }
        }
        Err(StoreError::Backend(
            "no free session id found: is the random number generator broken?".into(),
        ))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let mut row = StoredSession::from_record(record)?;
        row.upsert_on(&self.pool, &["id"]).await.map_err(backend)
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let row = StoredSession::objects()
            .where_(StoredSession::id.eq(hashed_id(session_id)))
            .where_(StoredSession::expires_at.gt(Utc::now()))
            .first(&self.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let expiry_date = to_time(row.expires_at)?;
        // It may have expired since the query.
        if expiry_date <= OffsetDateTime::now_utc() {
            return Ok(None);
        }
        Ok(Some(Record {
            id: *session_id,
            data: decode_data(&row.data)?,
            expiry_date,
        }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        StoredSession::objects()
            .where_(StoredSession::id.eq(hashed_id(session_id)))
            .delete(&self.pool)
            .await
            .map(drop)
            .map_err(backend)
    }
}

#[async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        DbSessionStore::delete_expired(self).await.map(drop)
    }
}
