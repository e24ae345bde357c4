//! rustango's cache: one object-safe [`Cache`] trait and its backends, the one place
//! rustango talks to Redis. Page and query caching use it directly; rate limiting,
//! idempotency keys, sessions and jobs build on its atomic counters ([`Cache::incr`]),
//! [`Cache::set_if_absent`] and owner-checked locks ([`Cache::try_lock`]).
//!
//! Backends:
//! - [`InMemoryCache`]: a `HashMap` behind a mutex, for tests, development and single
//!   processes;
//! - [`NullCache`]: stores nothing (caching switched off);
//! - `redis_backend::RedisCache` (cargo feature `redis`): Redis through a reconnecting
//!   connection manager, with an optional key prefix.
//!
//! Values are strings or bytes; [`get_json`], [`set_json`] and [`get_or_set`] store
//! anything serde can handle as JSON. A `ttl` of `None` means the cache's default TTL
//! (which may be "never expires"); counters and locks always expire.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use rustango_cache::{BoxedCache, Cache, InMemoryCache, get_json, get_or_set, set_json};
//!
//! #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct User {
//!     id: u32,
//!     name: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), rustango_cache::CacheError> {
//! let cache: BoxedCache = Arc::new(InMemoryCache::with_default_ttl(Duration::from_secs(300)));
//!
//! cache.set("greeting", "hello", Some(Duration::from_secs(60))).await?;
//! let val: Option<String> = cache.get("greeting").await?;
//! assert_eq!(val.as_deref(), Some("hello"));
//!
//! let user = User { id: 1, name: "Ada".into() };
//! set_json(&*cache, "user:1", &user, None).await?;
//! let cached: Option<User> = get_json(&*cache, "user:1").await?;
//! assert_eq!(cached, Some(user));
//!
//! // Computed on a miss, then served from the cache.
//! let posts: Vec<String> = get_or_set(
//!     &*cache,
//!     "posts:recent",
//!     || async { vec!["Hello, world".to_owned()] },
//!     Some(Duration::from_secs(60)),
//! )
//! .await?;
//! assert_eq!(posts.len(), 1);
//!
//! // An atomic counter that always expires: the building block of rate limits.
//! let hits = cache.incr("hits:127.0.0.1", 1, Duration::from_secs(60)).await?;
//! assert_eq!(hits, 1);
//!
//! // A lock only its owner can release.
//! let lock = cache.try_lock("lock:report", Duration::from_secs(30)).await?;
//! let lock = lock.expect("nobody else holds it");
//! assert!(cache.try_lock("lock:report", Duration::from_secs(30)).await?.is_none());
//! assert!(cache.unlock(lock).await?);
//! # Ok(())
//! # }
//! ```
//!
//! With the `redis` feature, `redis_backend::RedisCache::new("redis://127.0.0.1/")`
//! connects to Redis; its module docs show the prefix and default-TTL options.
#![deny(missing_docs)]

mod error;
mod helpers;
mod memory;
mod null;
#[cfg(feature = "redis")]
pub mod redis_backend;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

pub use error::{BoxError, CacheError, Result};
pub use helpers::{FixedWindow, fixed_window, get_json, get_or_set, set_json, try_get_or_set};
pub use memory::InMemoryCache;
pub use null::NullCache;

/// A shared, type-erased cache: what applications pass around.
pub type BoxedCache = Arc<dyn Cache>;

/// The longest TTL a cache applies; longer ones are shortened to it (about 100 years,
/// which keeps every backend's expiry arithmetic far from overflowing).
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// A key-value cache with expiry, atomic counters, set-if-absent and locks.
///
/// The trait is object-safe (use it as [`BoxedCache`] = `Arc<dyn Cache>`): every method
/// returns a boxed future. Implementations must be cheap to share between tasks.
///
/// TTL rules, the same for every backend:
/// - `ttl: None` means the cache's default TTL; without one the key never expires;
/// - a zero TTL is refused with [`CacheError::ZeroTtl`];
/// - TTLs longer than [`MAX_TTL`] are shortened to it; Redis rounds up to whole
///   milliseconds;
/// - [`set`](Cache::set) replaces the value *and* the expiry of an existing key.
pub trait Cache: Send + Sync {
    /// The bytes stored under `key`, or `None` if it is missing or expired.
    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>>>;

    /// Stores `value` under `key`, replacing any value and expiry it had.
    fn set_bytes<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<()>>;

    /// The text stored under `key`, or `None` if it is missing or expired.
    ///
    /// Fails with [`CacheError::NotUtf8`] if the value is bytes that are not UTF-8.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<String>>> {
        Box::pin(async move {
            match self.get_bytes(key).await? {
                None => Ok(None),
                Some(bytes) => {
                    String::from_utf8(bytes)
                        .map(Some)
                        .map_err(|_| CacheError::NotUtf8 {
                            key: key.to_owned(),
                        })
                }
            }
        })
    }

    /// Stores the text `value` under `key`, replacing any value and expiry it had.
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<()>> {
        self.set_bytes(key, value.as_bytes(), ttl)
    }

    /// Removes `key`; `true` if it existed.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>>;

    /// Whether `key` holds a value that has not expired.
    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>>;

    /// How long `key` has left to live.
    fn ttl<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<KeyTtl>>;

    /// Atomically adds `by` (which may be negative) to the integer stored under `key`
    /// and returns the new value. A missing key counts as 0.
    ///
    /// The key always ends up with an expiry: `ttl` is applied when the key is created,
    /// and also when an existing key has none; an existing expiry is kept (so a counter
    /// created at the start of a window expires at its end, however often it is
    /// incremented). On Redis this is one Lua script (`INCRBY` + `PEXPIRE`), atomic
    /// across every client.
    ///
    /// Fails with [`CacheError::NotAnInteger`] (leaving the value unchanged) if the
    /// value is not a canonical decimal `i64` or the sum would overflow.
    fn incr<'a>(&'a self, key: &'a str, by: i64, ttl: Duration) -> BoxFuture<'a, Result<i64>>;

    /// Stores `value` under `key` only if the key is missing (or expired); `true` if it
    /// was stored. This is what idempotency keys are made of.
    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<bool>>;

    /// Takes the lock `key` for at most `ttl`, or returns `None` if someone holds it.
    ///
    /// The lock is a key holding a random token; it always expires, so a crashed owner
    /// cannot block others for longer than `ttl`. Release it with
    /// [`unlock`](Cache::unlock) (dropping the guard does not release it).
    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<LockGuard>>>;

    /// Releases `lock` if it is still held by this guard's owner; `false` if it had
    /// expired (and possibly been taken by someone else, whose lock is left alone).
    fn unlock<'a>(&'a self, lock: LockGuard) -> BoxFuture<'a, Result<bool>>;

    /// Removes every key of this cache. For Redis, that is every key under the prefix
    /// (a `SCAN` of the database); without a prefix Redis refuses with
    /// [`CacheError::ClearWithoutPrefix`].
    fn clear(&self) -> BoxFuture<'_, Result<()>>;
}

/// How long a key has left to live, as reported by [`Cache::ttl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTtl {
    /// The key does not exist (or has expired).
    Missing,
    /// The key exists and never expires.
    Persistent,
    /// The key expires after this long.
    ExpiresIn(Duration),
}

/// Proof of holding a lock taken with [`Cache::try_lock`]; pass it to
/// [`Cache::unlock`] to release the lock.
///
/// Only the random token inside lets a caller release the lock, so one task cannot
/// release a lock another task took after this one's expired. Dropping the guard does
/// not release the lock (that would need an async drop): it expires after its TTL.
#[must_use = "the lock stays held until it expires or is passed to `Cache::unlock`"]
#[derive(Clone, PartialEq, Eq)]
pub struct LockGuard {
    key: String,
    token: String,
}

impl LockGuard {
    /// A guard for `key` with a fresh random token (for [`Cache`] implementations:
    /// store the token under the key when the lock is free).
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            token: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// The lock's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The random token that proves ownership (for [`Cache`] implementations). Treat it
    /// as a secret: whoever has it can release the lock.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("key", &self.key)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The TTL to apply: the explicit one, else the cache default; checked and clamped.
/// `Ok(None)` means "never expires".
pub(crate) fn effective_ttl(
    ttl: Option<Duration>,
    default: Option<Duration>,
) -> Result<Option<Duration>> {
    ttl.or(default).map(checked_ttl).transpose()
}

/// Refuses a zero TTL and shortens one longer than [`MAX_TTL`].
pub(crate) fn checked_ttl(ttl: Duration) -> Result<Duration> {
    if ttl.is_zero() {
        Err(CacheError::ZeroTtl)
    } else {
        Ok(ttl.min(MAX_TTL))
    }
}

/// A checked TTL in whole milliseconds, rounded up (so 1 ns becomes 1 ms, not 0).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn ttl_millis(ttl: Duration) -> Result<u64> {
    let ttl = checked_ttl(ttl)?;
    // At most MAX_TTL, about 3.2e12 ms: no overflow.
    Ok(u64::try_from(ttl.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX))
}

/// Forwards every method, so `&Arc<InMemoryCache>` or `&BoxedCache` work where a
/// `&impl Cache` is expected.
impl<C: Cache + ?Sized> Cache for Arc<C> {
    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        (**self).get_bytes(key)
    }

    fn set_bytes<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<()>> {
        (**self).set_bytes(key, value, ttl)
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<String>>> {
        (**self).get(key)
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<()>> {
        (**self).set(key, value, ttl)
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        (**self).delete(key)
    }

    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        (**self).exists(key)
    }

    fn ttl<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<KeyTtl>> {
        (**self).ttl(key)
    }

    fn incr<'a>(&'a self, key: &'a str, by: i64, ttl: Duration) -> BoxFuture<'a, Result<i64>> {
        (**self).incr(key, by, ttl)
    }

    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<bool>> {
        (**self).set_if_absent(key, value, ttl)
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<LockGuard>>> {
        (**self).try_lock(key, ttl)
    }

    fn unlock<'a>(&'a self, lock: LockGuard) -> BoxFuture<'a, Result<bool>> {
        (**self).unlock(lock)
    }

    fn clear(&self) -> BoxFuture<'_, Result<()>> {
        (**self).clear()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rules() {
        assert!(matches!(
            checked_ttl(Duration::ZERO),
            Err(CacheError::ZeroTtl)
        ));
        assert_eq!(checked_ttl(Duration::MAX).unwrap(), MAX_TTL);
        assert_eq!(ttl_millis(Duration::from_nanos(1)).unwrap(), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)).unwrap(), 2);
        assert_eq!(ttl_millis(Duration::from_secs(2)).unwrap(), 2000);
        assert_eq!(ttl_millis(Duration::MAX).unwrap(), 3_153_600_000_000);
        assert!(matches!(
            ttl_millis(Duration::ZERO),
            Err(CacheError::ZeroTtl)
        ));
        assert_eq!(effective_ttl(None, None).unwrap(), None);
        let minute = Duration::from_secs(60);
        assert_eq!(effective_ttl(None, Some(minute)).unwrap(), Some(minute));
        assert_eq!(
            effective_ttl(Some(Duration::from_secs(1)), Some(minute)).unwrap(),
            Some(Duration::from_secs(1))
        );
        assert!(matches!(
            effective_ttl(None, Some(Duration::ZERO)),
            Err(CacheError::ZeroTtl)
        ));
    }

    #[test]
    fn lock_guard_debug_hides_the_token() {
        let guard = LockGuard::new("lock:a");
        let shown = format!("{guard:?}");
        assert!(shown.contains("lock:a"));
        assert!(!shown.contains(guard.token()));
        assert_ne!(guard.token(), LockGuard::new("lock:a").token());
    }

    #[test]
    fn cache_is_object_safe_and_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<BoxedCache>();
        let _cache: BoxedCache = Arc::new(NullCache);
    }
}
