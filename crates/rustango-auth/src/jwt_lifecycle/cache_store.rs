//! [`CacheRevocationStore`]: revocations in a `rustango-cache` cache (Redis for several
//! instances).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rustango_cache::{BoxedCache, KeyTtl};

use super::store::{RevocationStore, RevocationStoreError};

/// Revocations in a [`rustango_cache::Cache`]: with
/// `rustango_cache::redis_backend::RedisCache` (this crate's `redis` feature) every
/// instance sharing the Redis server sees every revocation.
///
/// Each entry is one key, `{prefix}jti:{id}` or `{prefix}fam:{id}` (prefix `jwt:` by
/// default), whose TTL is the time left until the revoked tokens would expire, so Redis
/// forgets them by itself (a second revocation may lengthen a TTL, never shorten it). [`consume`](RevocationStore::consume) is
/// [`Cache::set_if_absent`](rustango_cache::Cache::set_if_absent) (`SET NX PX` on Redis),
/// atomic across every client.
///
/// ```
/// use std::sync::Arc;
/// use rustango_auth::jwt_lifecycle::{CacheRevocationStore, JwtLifecycle};
/// use rustango_cache::{BoxedCache, InMemoryCache};
///
/// let cache: BoxedCache = Arc::new(InMemoryCache::default());
/// let jwt = JwtLifecycle::new(&[7; 32])
///     .with_store(Arc::new(CacheRevocationStore::new(cache).with_prefix("myapp:jwt:")));
/// ```
#[derive(Clone)]
pub struct CacheRevocationStore {
    cache: BoxedCache,
    prefix: String,
}

impl CacheRevocationStore {
    /// A store over `cache`, with keys under `jwt:`.
    pub fn new(cache: BoxedCache) -> Self {
        Self {
            cache,
            prefix: "jwt:".to_owned(),
        }
    }

    /// Puts the keys under `prefix` instead of `jwt:` (the cache may add its own prefix
    /// in front).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn token_key(&self, jti: &str) -> String {
        format!("{}jti:{jti}", self.prefix)
    }

    fn family_key(&self, family: &str) -> String {
        format!("{}fam:{family}", self.prefix)
    }

    /// The TTL that keeps an entry until `until`; `None` when that is already past.
    fn ttl(until: DateTime<Utc>) -> Option<Duration> {
        let left = (until - Utc::now()).num_milliseconds();
        // Round up to whole seconds so an entry never expires before its token.
        (left > 0).then(|| Duration::from_secs((left as u64).div_ceil(1000)))
    }
}

impl CacheRevocationStore {
    /// Stores `key` for `ttl`, or lengthens its TTL to `ttl`; never shortens it.
    async fn set_longer(&self, key: &str, ttl: Duration) -> Result<(), RevocationStoreError> {
        let cache = &self.cache;
        if cache
            .set_if_absent(key, "1", Some(ttl))
            .await
            .map_err(RevocationStoreError::Cache)?
        {
            return Ok(());
        }
        match cache.ttl(key).await.map_err(RevocationStoreError::Cache)? {
            KeyTtl::ExpiresIn(left) if left >= ttl => Ok(()),
            KeyTtl::Persistent => Ok(()),
            _ => cache
                .set(key, "1", Some(ttl))
                .await
                .map_err(RevocationStoreError::Cache),
        }
    }
}

impl fmt::Debug for CacheRevocationStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheRevocationStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl RevocationStore for CacheRevocationStore {
    async fn revoke(&self, jti: &str, until: DateTime<Utc>) -> Result<(), RevocationStoreError> {
        match Self::ttl(until) {
            Some(ttl) => self.set_longer(&self.token_key(jti), ttl).await,
            None => Ok(()),
        }
    }

    async fn is_revoked(&self, jti: &str) -> Result<bool, RevocationStoreError> {
        self.cache
            .exists(&self.token_key(jti))
            .await
            .map_err(RevocationStoreError::Cache)
    }

    async fn revoke_family(
        &self,
        family: &str,
        until: DateTime<Utc>,
    ) -> Result<(), RevocationStoreError> {
        match Self::ttl(until) {
            Some(ttl) => self.set_longer(&self.family_key(family), ttl).await,
            None => Ok(()),
        }
    }

    async fn is_family_revoked(&self, family: &str) -> Result<bool, RevocationStoreError> {
        self.cache
            .exists(&self.family_key(family))
            .await
            .map_err(RevocationStoreError::Cache)
    }

    async fn consume(&self, jti: &str, until: DateTime<Utc>) -> Result<bool, RevocationStoreError> {
        // A token past its `until` cannot be presented any more; one second keeps the
        // answer atomic all the same.
        let ttl = Self::ttl(until).unwrap_or(Duration::from_secs(1));
        self.cache
            .set_if_absent(&self.token_key(jti), "1", Some(ttl))
            .await
            .map_err(RevocationStoreError::Cache)
    }
}
