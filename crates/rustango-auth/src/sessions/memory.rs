//! [`MemorySessionStore`]: sessions in this process.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use time::OffsetDateTime;
use tower_sessions::session_store;

use super::{CREATE_ATTEMPTS, ExpiredDeletion, Id, Record, SessionStore, StoreError};

/// How often, at most, a write also sweeps out expired records.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Sessions in a `HashMap` of this process: for tests, development and single-instance
/// deployments. Sessions are lost on restart and not shared between processes (use
/// [`CacheSessionStore`](super::CacheSessionStore) on Redis or
/// [`DbSessionStore`](super::DbSessionStore) for that).
///
/// Expired records are never loaded, and writes sweep them out at most once a minute
/// (or call [`delete_expired`](Self::delete_expired)), so memory does not grow with
/// abandoned sessions. Clones share the same sessions. `Debug` shows only the count.
#[derive(Clone)]
pub struct MemorySessionStore {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    records: HashMap<Id, Record>,
    last_prune: Instant,
}

impl Inner {
    /// Drops expired records; returns how many.
    fn prune(&mut self, now: OffsetDateTime) -> usize {
        let before = self.records.len();
        self.records.retain(|_, r| r.expiry_date > now);
        self.last_prune = Instant::now();
        before - self.records.len()
    }

    fn prune_if_due(&mut self, now: OffsetDateTime) {
        if self.last_prune.elapsed() >= PRUNE_EVERY {
            self.prune(now);
        }
    }
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                records: HashMap::new(),
                last_prune: Instant::now(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No code path panics while holding the lock with the map half-updated.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many records are held, expired ones not yet pruned included.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.lock().records.is_empty()
    }

    /// Removes every expired record now; returns how many.
    pub fn delete_expired(&self) -> usize {
        self.lock().prune(OffsetDateTime::now_utc())
    }
}

impl fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySessionStore")
            .field("sessions", &self.len())
            .finish()
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    /// Inserts the record under a fresh id if its id is taken by a live session.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let now = OffsetDateTime::now_utc();
        let mut inner = self.lock();
        inner.prune_if_due(now);
        for _ in 0..CREATE_ATTEMPTS {
            match inner.records.get(&record.id) {
                Some(taken) if taken.expiry_date > now => record.id = Id::default(),
                _ => {
                    inner.records.insert(record.id, record.clone());
                    return Ok(());
                }
            }
        }
        Err(StoreError::Backend(
            "no free session id found: is the random number generator broken?".into(),
        ))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let mut inner = self.lock();
        inner.prune_if_due(OffsetDateTime::now_utc());
        inner.records.insert(record.id, record.clone());
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let now = OffsetDateTime::now_utc();
        let mut inner = self.lock();
        match inner.records.get(session_id) {
            Some(record) if record.expiry_date > now => Ok(Some(record.clone())),
            Some(_) => {
                inner.records.remove(session_id);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.lock().records.remove(session_id);
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for MemorySessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        MemorySessionStore::delete_expired(self);
        Ok(())
    }
}
