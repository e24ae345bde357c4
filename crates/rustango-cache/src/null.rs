//! [`NullCache`]: caching switched off.

use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::{Cache, KeyTtl, LockGuard, Result, checked_ttl, effective_ttl};

/// A cache that stores nothing: every read misses, every write succeeds and is
/// forgotten. Use it to switch caching off without changing the code that uses it.
///
/// Its answers are those of a cache whose keys expire at once: [`Cache::incr`] returns
/// `by` (every counter starts afresh, so a rate limit never trips),
/// [`Cache::set_if_absent`] returns `true` (no idempotency key is ever seen twice) and
/// [`Cache::try_lock`] always succeeds. It therefore provides **no mutual exclusion**:
/// do not use it where locks or idempotency must hold. Invalid TTLs are still refused,
/// so switching backends does not hide bugs.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullCache;

impl Cache for NullCache {
    fn get_bytes<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        Box::pin(async { Ok(None) })
    }

    fn set_bytes<'a>(
        &'a self,
        _key: &'a str,
        _value: &'a [u8],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { effective_ttl(ttl, None).map(drop) })
    }

    fn delete<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async { Ok(false) })
    }

    fn exists<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async { Ok(false) })
    }

    fn ttl<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<KeyTtl>> {
        Box::pin(async { Ok(KeyTtl::Missing) })
    }

    fn incr<'a>(&'a self, _key: &'a str, by: i64, ttl: Duration) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move { checked_ttl(ttl).map(|_| by) })
    }

    fn set_if_absent<'a>(
        &'a self,
        _key: &'a str,
        _value: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move { effective_ttl(ttl, None).map(|_| true) })
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<LockGuard>>> {
        Box::pin(async move { checked_ttl(ttl).map(|_| Some(LockGuard::new(key))) })
    }

    fn unlock<'a>(&'a self, _lock: LockGuard) -> BoxFuture<'a, Result<bool>> {
        // The lock "expired" at once: there is nothing left to release.
        Box::pin(async { Ok(false) })
    }

    fn clear(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BoxedCache, CacheError, get_json, get_or_set, set_json};
    use std::sync::Arc;

    #[tokio::test]
    async fn stores_nothing() {
        let cache: BoxedCache = Arc::new(NullCache);
        cache.set("k", "v", None).await.unwrap();
        cache.set_bytes("b", b"\xff", None).await.unwrap();
        assert_eq!(cache.get("k").await.unwrap(), None);
        assert_eq!(cache.get_bytes("b").await.unwrap(), None);
        assert!(!cache.exists("k").await.unwrap());
        assert!(!cache.delete("k").await.unwrap());
        assert_eq!(cache.ttl("k").await.unwrap(), KeyTtl::Missing);
        cache.clear().await.unwrap();
    }

    #[tokio::test]
    async fn counters_locks_and_idempotency_never_hold() {
        let cache = NullCache;
        let minute = Duration::from_secs(60);
        assert_eq!(cache.incr("n", 5, minute).await.unwrap(), 5);
        assert_eq!(cache.incr("n", 5, minute).await.unwrap(), 5);
        assert!(cache.set_if_absent("idem", "1", None).await.unwrap());
        assert!(cache.set_if_absent("idem", "1", None).await.unwrap());
        let first = cache.try_lock("lock", minute).await.unwrap().unwrap();
        let second = cache.try_lock("lock", minute).await.unwrap().unwrap();
        assert_eq!(first.key(), "lock");
        assert!(!cache.unlock(first).await.unwrap());
        assert!(!cache.unlock(second).await.unwrap());
    }

    #[tokio::test]
    async fn refuses_zero_ttls_like_real_backends() {
        let cache = NullCache;
        assert!(matches!(
            cache.set("k", "v", Some(Duration::ZERO)).await,
            Err(CacheError::ZeroTtl)
        ));
        assert!(matches!(
            cache.incr("n", 1, Duration::ZERO).await,
            Err(CacheError::ZeroTtl)
        ));
        assert!(matches!(
            cache.set_if_absent("k", "v", Some(Duration::ZERO)).await,
            Err(CacheError::ZeroTtl)
        ));
        assert!(matches!(
            cache.try_lock("l", Duration::ZERO).await,
            Err(CacheError::ZeroTtl)
        ));
    }

    #[tokio::test]
    async fn helpers_always_compute() {
        let cache = NullCache;
        set_json(&cache, "k", &[1, 2, 3], None).await.unwrap();
        assert_eq!(get_json::<Vec<i32>>(&cache, "k").await.unwrap(), None);
        let mut calls = 0;
        for _ in 0..2 {
            let v: u32 = get_or_set(
                &cache,
                "k",
                || {
                    calls += 1;
                    async { 7 }
                },
                None,
            )
            .await
            .unwrap();
            assert_eq!(v, 7);
        }
        assert_eq!(calls, 2);
    }
}
