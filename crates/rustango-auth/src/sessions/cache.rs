//! [`CacheSessionStore`]: sessions in a [`rustango_cache`] cache (Redis).

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rustango_cache::{BoxedCache, CacheError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions::session_store;

use super::{
    CREATE_ATTEMPTS, Id, KEY_PREFIX, Record, SessionStore, StoreError, hashed_id, time_left,
    to_chrono, to_time,
};

/// What a cache value holds (JSON): the data and the expiry, not the id.
#[derive(Serialize)]
struct Entry<'a> {
    data: &'a HashMap<String, serde_json::Value>,
    expires_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct OwnedEntry {
    data: HashMap<String, serde_json::Value>,
    expires_at: DateTime<Utc>,
}

/// Sessions in a [`BoxedCache`]: with `rustango_cache::redis_backend::RedisCache`,
/// shared by every instance of the site; with
/// [`InMemoryCache`](rustango_cache::InMemoryCache), a process-local store.
///
/// Each session is one key, `session:<SHA-256 of the id, hex>` (under the cache's own
/// prefix, if any), holding JSON `{"data": …, "expires_at": …}`. Every key is written
/// with a TTL equal to the time the session has left, so none lives forever and Redis
/// removes expired sessions itself: there is nothing to clean up. `create` uses
/// `SET NX` ([`Cache::set_if_absent`](rustango_cache::Cache::set_if_absent)) and takes
/// a fresh id when the key exists; saving an already expired record deletes its key.
///
/// Clones share the cache. `Debug` does not show the cache.
#[derive(Clone)]
pub struct CacheSessionStore {
    cache: BoxedCache,
}

impl CacheSessionStore {
    /// A store on `cache`.
    pub fn new(cache: BoxedCache) -> Self {
        Self { cache }
    }

    /// The cache the store uses.
    pub fn cache(&self) -> &BoxedCache {
        &self.cache
    }

    /// The cache key of a session: [`KEY_PREFIX`] and the SHA-256 of the id in hex.
    pub fn key(id: &Id) -> String {
        format!("{KEY_PREFIX}{}", hashed_id(id))
    }
}

impl fmt::Debug for CacheSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheSessionStore").finish_non_exhaustive()
    }
}

/// A cache error as a store error (cache messages name the key, a hash; never values).
fn backend(e: CacheError) -> StoreError {
    StoreError::Backend(format!("session cache: {e}"))
}

fn encode(record: &Record) -> Result<String, StoreError> {
    serde_json::to_string(&Entry {
        data: &record.data,
        expires_at: to_chrono(record.expiry_date),
    })
    .map_err(|e| StoreError::Encode(format!("session data: {e}")))
}

#[async_trait]
impl SessionStore for CacheSessionStore {
    /// Stores the record only if its key is free (`SET NX` with the TTL), taking a
    /// fresh id, which ends up in `record.id`, when it is not. An already expired
    /// record is not stored.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let Some(ttl) = time_left(record.expiry_date) else {
            return Ok(());
        };
        let value = encode(record)?;
        for _ in 0..CREATE_ATTEMPTS {
            let key = Self::key(&record.id);
            if self
                .cache
                .set_if_absent(&key, &value, Some(ttl))
                .await
                .map_err(backend)?
            {
                return Ok(());
            }
            tracing::warn!("session id collision: trying a fresh id");
            record.id = Id::default();
        }
        Err(StoreError::Backend(
            "no free session id found: is the random number generator broken?".into(),
        ))
    }

    /// Replaces the value and its TTL; deletes the key of an already expired record.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let key = Self::key(&record.id);
        match time_left(record.expiry_date) {
            Some(ttl) => self
                .cache
                .set(&key, &encode(record)?, Some(ttl))
                .await
                .map_err(backend),
            None => self.cache.delete(&key).await.map(drop).map_err(backend),
        }
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let Some(text) = self
            .cache
            .get(&Self::key(session_id))
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let entry: OwnedEntry = serde_json::from_str(&text)
            .map_err(|e| StoreError::Decode(format!("session data: {e}")))?;
        let expiry_date = to_time(entry.expires_at)?;
        // The cache rounds TTLs to milliseconds: do not serve the last fraction.
        if expiry_date <= OffsetDateTime::now_utc() {
            return Ok(None);
        }
        Ok(Some(Record {
            id: *session_id,
            data: entry.data,
            expiry_date,
        }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.cache
            .delete(&Self::key(session_id))
            .await
            .map(drop)
            .map_err(backend)
    }
}
