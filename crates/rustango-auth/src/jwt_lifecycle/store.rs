//! Where revocations live: the [`RevocationStore`] trait and the in-memory store.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Why a [`RevocationStore`] could not answer.
///
/// [`JwtLifecycle`](super::JwtLifecycle) fails closed on these: a token whose
/// revocation cannot be checked is refused ([`JwtError::Store`](super::JwtError::Store)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationStoreError {
    /// The cache (Redis, …) behind a [`CacheRevocationStore`](super::CacheRevocationStore)
    /// failed.
    #[error("the revocation cache failed")]
    Cache(#[source] rustango_cache::CacheError),
    /// The database behind a [`DbRevocationStore`](super::DbRevocationStore) failed.
    #[error("the revocation database failed")]
    Database(#[source] rustango_orm::Error),
    /// A store of the application's own failed.
    #[error("the revocation store failed")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Remembers revoked token ids (`jti`) and token families (`fam`) until the tokens
/// would have expired anyway.
///
/// Every entry carries an `until` time after which it may be forgotten: the store never
/// grows with tokens that can no longer be used. Implementations shared by several
/// processes (a database, Redis) make a revocation hold on every instance.
///
/// [`consume`](RevocationStore::consume) is the one operation that must be atomic
/// across every user of the store: refresh-token rotation relies on exactly one caller
/// winning it.
///
/// Ids handed to a store are at most 64 characters of `A-Z a-z 0-9 - _` (the lifecycle
/// refuses tokens whose ids are not), so they are safe in keys and URLs.
#[async_trait]
pub trait RevocationStore: Send + Sync + fmt::Debug {
    /// Marks the token `jti` revoked until `until`.
    async fn revoke(&self, jti: &str, until: DateTime<Utc>) -> Result<(), RevocationStoreError>;

    /// Whether the token `jti` is revoked (or consumed).
    async fn is_revoked(&self, jti: &str) -> Result<bool, RevocationStoreError>;

    /// Marks the whole token family `family` revoked until `until`.
    async fn revoke_family(
        &self,
        family: &str,
        until: DateTime<Utc>,
    ) -> Result<(), RevocationStoreError>;

    /// Whether the token family `family` is revoked.
    async fn is_family_revoked(&self, family: &str) -> Result<bool, RevocationStoreError>;

    /// Atomically marks the token `jti` used (revoked until `until`) if it was not
    /// already; `true` for the one caller that did.
    async fn consume(&self, jti: &str, until: DateTime<Utc>) -> Result<bool, RevocationStoreError>;

    /// Whether the token `jti` or its family `family` is revoked: what every verification
    /// asks. The default asks [`is_revoked`](RevocationStore::is_revoked) then
    /// [`is_family_revoked`](RevocationStore::is_family_revoked); stores that can answer
    /// both in one round trip override it.
    async fn is_token_revoked(
        &self,
        jti: &str,
        family: &str,
    ) -> Result<bool, RevocationStoreError> {
        Ok(self.is_revoked(jti).await? || self.is_family_revoked(family).await?)
    }
}

/// Revocations in this process's memory: the default store of a
/// [`JwtLifecycle`](super::JwtLifecycle).
///
/// Fast (one mutex, two hash lookups per verification) but local: other processes do not
/// see its revocations. Use [`CacheRevocationStore`](super::CacheRevocationStore) over
/// Redis or [`DbRevocationStore`](super::DbRevocationStore) when the application runs on
/// more than one instance.
///
/// Expired entries are pruned as new ones arrive (whenever the store has doubled since
/// the last sweep) and by [`purge_expired`](MemoryRevocationStore::purge_expired).
#[derive(Default)]
pub struct MemoryRevocationStore {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    tokens: HashMap<String, i64>,
    families: HashMap<String, i64>,
    next_sweep: usize,
}

/// Entries below which the memory store never sweeps.
const MIN_SWEEP: usize = 1024;

impl Entries {
    fn len(&self) -> usize {
        self.tokens.len() + self.families.len()
    }

    fn sweep(&mut self, now: i64) -> usize {
        let before = self.len();
        self.tokens.retain(|_, until| *until > now);
        self.families.retain(|_, until| *until > now);
        self.next_sweep = (self.len() * 2).max(MIN_SWEEP);
        before - self.len()
    }

    fn maybe_sweep(&mut self, now: i64) {
        if self.len() >= self.next_sweep.max(MIN_SWEEP) {
            self.sweep(now);
        }
    }
}

impl MemoryRevocationStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries (expired or not) the store holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every expired entry; returns how many.
    pub fn purge_expired(&self) -> usize {
        self.lock().sweep(Utc::now().timestamp())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The map stays consistent whatever a panicking holder did: keep using it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn live(map: &HashMap<String, i64>, key: &str, now: i64) -> bool {
        map.get(key).is_some_and(|until| *until > now)
    }

    fn insert(map: &mut HashMap<String, i64>, key: &str, until: i64) {
        let slot = map.entry(key.to_owned()).or_insert(until);
        *slot = (*slot).max(until);
    }
}

impl fmt::Debug for MemoryRevocationStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRevocationStore")
            .field("entries", &self.len())
            .finish()
    }
}

#[async_trait]
impl RevocationStore for MemoryRevocationStore {
    async fn revoke(&self, jti: &str, until: DateTime<Utc>) -> Result<(), RevocationStoreError> {
        let now = Utc::now().timestamp();
        let mut e = self.lock();
        e.maybe_sweep(now);
        Self::insert(&mut e.tokens, jti, until.timestamp());
        Ok(())
    }

    async fn is_revoked(&self, jti: &str) -> Result<bool, RevocationStoreError> {
        Ok(Self::live(&self.lock().tokens, jti, Utc::now().timestamp()))
    }

    async fn revoke_family(
        &self,
        family: &str,
        until: DateTime<Utc>,
    ) -> Result<(), RevocationStoreError> {
        let now = Utc::now().timestamp();
        let mut e = self.lock();
        e.maybe_sweep(now);
        Self::insert(&mut e.families, family, until.timestamp());
        Ok(())
    }

    async fn is_family_revoked(&self, family: &str) -> Result<bool, RevocationStoreError> {
        Ok(Self::live(
            &self.lock().families,
            family,
            Utc::now().timestamp(),
        ))
    }

    async fn consume(&self, jti: &str, until: DateTime<Utc>) -> Result<bool, RevocationStoreError> {
        let now = Utc::now().timestamp();
        let mut e = self.lock();
        if Self::live(&e.tokens, jti, now) {
            return Ok(false);
        }
        e.maybe_sweep(now);
        e.tokens.insert(jti.to_owned(), until.timestamp());
        Ok(true)
    }

    async fn is_token_revoked(
        &self,
        jti: &str,
        family: &str,
    ) -> Result<bool, RevocationStoreError> {
        let now = Utc::now().timestamp();
        let e = self.lock();
        Ok(Self::live(&e.tokens, jti, now) || Self::live(&e.families, family, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn expired_entries_are_ignored_and_swept() {
        let store = MemoryRevocationStore::new();
        let past = Utc::now() - chrono::Duration::seconds(5);
        let future = Utc::now() + chrono::Duration::seconds(60);
        store.revoke("old", past).await.unwrap();
        store.revoke("new", future).await.unwrap();
        assert!(!store.is_revoked("old").await.unwrap());
        assert!(store.is_revoked("new").await.unwrap());
        // An expired consumption does not block a new one.
        assert!(store.consume("old", future).await.unwrap());
        assert!(!store.consume("old", future).await.unwrap());
        store.revoke_family("f", past).await.unwrap();
        assert_eq!(store.purge_expired(), 1);
        assert_eq!(store.len(), 2);
        // Sweeping happens on insert once the store has grown enough.
        for i in 0..(MIN_SWEEP * 3) {
            store.revoke(&format!("x{i}"), past).await.unwrap();
        }
        assert!(store.len() <= MIN_SWEEP * 2, "{}", store.len());
    }

    #[tokio::test]
    async fn a_revocation_keeps_its_latest_expiry() {
        let store = MemoryRevocationStore::new();
        let later = Utc::now() + chrono::Duration::seconds(600);
        store.revoke_family("f", later).await.unwrap();
        store
            .revoke_family("f", Utc::now() - chrono::Duration::seconds(1))
            .await
            .unwrap();
        assert!(store.is_family_revoked("f").await.unwrap());
    }
}
