//! [`InMemoryCache`]: a process-local cache.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use crate::{Cache, CacheError, KeyTtl, LockGuard, Result, checked_ttl, effective_ttl};

/// Writes between two sweeps of expired entries, at least (see [`State::maybe_purge`]).
const PURGE_MIN_WRITES: usize = 256;

/// A thread-safe cache in this process's memory: a `HashMap` behind a mutex.
///
/// Expired entries are never returned: expiry is checked on every read. They are also
/// swept out now and then during writes (after a number of writes proportional to the
/// map's size, so sweeping costs O(1) per write on average), or on demand with
/// [`purge_expired`](Self::purge_expired). There is no size limit unless one is set
/// with [`max_bytes`](Self::max_bytes): give entries a TTL (or a default TTL) when keys
/// are unbounded, and a limit when clients choose them.
///
/// Each instance is its own store: share one through a [`BoxedCache`](crate::BoxedCache).
/// Nothing is shared between processes; use Redis for that.
pub struct InMemoryCache {
    state: Mutex<State>,
    default_ttl: Option<Duration>,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    writes_since_purge: usize,
    /// The keys' and values' bytes, as [`max_bytes`](InMemoryCache::max_bytes) counts.
    bytes: usize,
    max_bytes: Option<usize>,
    /// When a full cache last swept for room: at most once per
    /// [`FULL_SWEEP_INTERVAL`], so writes refused in a row cost O(1), not a sweep each.
    full_swept_at: Option<Instant>,
}

/// How often a full cache sweeps expired entries to make room for a write.
const FULL_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// What an entry counts for against [`InMemoryCache::max_bytes`].
fn size(key: &str, value: &[u8]) -> usize {
    key.len().saturating_add(value.len())
}

struct Entry {
    value: Vec<u8>,
    expires_at: Option<Instant>,
}

impl Entry {
    fn is_live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// When a value stored at `now` for `ttl` (already checked) expires; `None` if the
/// clock cannot represent it, which only a TTL near [`crate::MAX_TTL`] could cause.
fn expiry(now: Instant, ttl: Option<Duration>) -> Option<Instant> {
    ttl.and_then(|ttl| now.checked_add(ttl))
}

impl State {
    /// The live entry under `key`; an expired one is removed.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.entries.get(key).is_some_and(|e| !e.is_live(now)) {
            self.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.bytes = self.bytes.saturating_sub(size(key, &entry.value));
        Some(entry)
    }

    /// Stores `value` under `key`, replacing what was there. Over the byte limit (after
    /// sweeping expired entries, at most once a second), nothing changes and the write
    /// fails with [`CacheError::Full`].
    fn insert(
        &mut self,
        key: &str,
        value: Vec<u8>,
        expires_at: Option<Instant>,
        now: Instant,
    ) -> Result<()> {
        let added = size(key, &value);
        if let Some(limit) = self.max_bytes
            && self.bytes_after(key, added) > limit
        {
            let swept_lately = self
                .full_swept_at
                .is_some_and(|at| now.saturating_duration_since(at) < FULL_SWEEP_INTERVAL);
            if !swept_lately {
                self.full_swept_at = Some(now);
                self.purge(now);
            }
            if self.bytes_after(key, added) > limit {
                return Err(CacheError::Full { limit });
            }
        }
        if let Some(old) = self
            .entries
            .insert(key.to_owned(), Entry { value, expires_at })
        {
            self.bytes = self.bytes.saturating_sub(size(key, &old.value));
        }
        self.bytes = self.bytes.saturating_add(added);
        self.maybe_purge(now);
        Ok(())
    }

    /// The bytes stored once `key` holds a value of `added` bytes (key included).
    fn bytes_after(&self, key: &str, added: usize) -> usize {
        let replaced = self.entries.get(key).map_or(0, |e| size(key, &e.value));
        self.bytes.saturating_sub(replaced).saturating_add(added)
    }

    /// Sweeps expired entries once enough writes happened since the last sweep.
    fn maybe_purge(&mut self, now: Instant) {
        self.writes_since_purge += 1;
        if self.writes_since_purge >= PURGE_MIN_WRITES.max(self.entries.len() / 2) {
            self.purge(now);
        }
    }

    fn purge(&mut self, now: Instant) -> usize {
        self.writes_since_purge = 0;
        let before = self.entries.len();
        let mut freed = 0usize;
        self.entries.retain(|key, e| {
            let live = e.is_live(now);
            if !live {
                freed = freed.saturating_add(size(key, &e.value));
            }
            live
        });
        self.bytes = self.bytes.saturating_sub(freed);
        before - self.entries.len()
    }
}

/// Parses `text` as Redis does for `INCRBY`: a canonical decimal `i64` (no sign `+`, no
/// leading zeros, no spaces, no `-0`).
fn parse_counter(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let n: i64 = text.parse().ok()?;
    (n.to_string() == text).then_some(n)
}

impl InMemoryCache {
    /// An empty cache whose keys never expire unless a TTL is given.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            default_ttl: None,
        }
    }

    /// An empty cache whose keys expire after `ttl` unless another TTL is given. A zero
    /// `ttl` makes writes without an explicit TTL fail with [`CacheError::ZeroTtl`].
    pub fn with_default_ttl(ttl: Duration) -> Self {
        Self {
            state: Mutex::new(State::default()),
            default_ttl: Some(ttl),
        }
    }

    /// The TTL applied when none is given.
    pub fn default_ttl(&self) -> Option<Duration> {
        self.default_ttl
    }

    /// Caps the bytes of the keys and values at `limit` (like Redis's `maxmemory` with
    /// `noeviction`): a write that would go over it, once expired entries are swept out
    /// (at most once a second while the cache stays full), fails with
    /// [`CacheError::Full`] and stores nothing. Entries are never
    /// evicted to make room: a lock or a stored answer stays until it expires or is
    /// deleted. (An [`incr`](Cache::incr) of an existing counter is not refused: its
    /// text grows by a digit at most.)
    #[must_use]
    pub fn max_bytes(self, limit: usize) -> Self {
        self.lock().max_bytes = Some(limit);
        self
    }

    /// The bytes of the keys and values stored, as [`max_bytes`](Self::max_bytes)
    /// counts them (expired entries not yet swept out included).
    pub fn stored_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// The number of keys that have not expired.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock()
            .entries
            .values()
            .filter(|e| e.is_live(now))
            .count()
    }

    /// Whether no key is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes expired entries now; returns how many were removed.
    pub fn purge_expired(&self) -> usize {
        self.lock().purge(Instant::now())
    }

    /// The state; a poisoned mutex is recovered (no operation leaves the map
    /// half-updated, so a panic elsewhere while holding it cannot corrupt it).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for InMemoryCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for InMemoryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryCache")
            .field("entries", &self.lock().entries.len())
            .field("default_ttl", &self.default_ttl)
            .finish_non_exhaustive()
    }
}

impl Cache for InMemoryCache {
    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            let now = Instant::now();
            Ok(self.lock().live(key, now).map(|e| e.value.clone()))
        })
    }

    fn set_bytes<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let ttl = effective_ttl(ttl, self.default_ttl)?;
            let now = Instant::now();
            self.lock()
                .insert(key, value.to_vec(), expiry(now, ttl), now)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let now = Instant::now();
            Ok(self.lock().remove(key).is_some_and(|e| e.is_live(now)))
        })
    }

    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let now = Instant::now();
            Ok(self.lock().live(key, now).is_some())
        })
    }

    fn ttl<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<KeyTtl>> {
        Box::pin(async move {
            let now = Instant::now();
            Ok(match self.lock().live(key, now) {
                None => KeyTtl::Missing,
                Some(Entry {
                    expires_at: None, ..
                }) => KeyTtl::Persistent,
                Some(Entry {
                    expires_at: Some(at),
                    ..
                }) => KeyTtl::ExpiresIn(at.saturating_duration_since(now)),
            })
        })
    }

    fn incr<'a>(&'a self, key: &'a str, by: i64, ttl: Duration) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            let ttl = checked_ttl(ttl)?;
            let now = Instant::now();
            let mut state = self.lock();
            let not_an_integer = || CacheError::NotAnInteger {
                key: key.to_owned(),
            };
            match state.live(key, now) {
                Some(entry) => {
                    let current = parse_counter(&entry.value).ok_or_else(not_an_integer)?;
                    let next = current.checked_add(by).ok_or_else(not_an_integer)?;
                    let (old_len, value) = (entry.value.len(), next.to_string().into_bytes());
                    let new_len = value.len();
                    entry.value = value;
                    if entry.expires_at.is_none() {
                        entry.expires_at = expiry(now, Some(ttl));
                    }
                    // A counter's text grows by a few digits at most: counted, not refused.
                    state.bytes = state.bytes.saturating_sub(old_len).saturating_add(new_len);
                    Ok(next)
                }
                None => {
                    state.insert(
                        key,
                        by.to_string().into_bytes(),
                        expiry(now, Some(ttl)),
                        now,
                    )?;
                    Ok(by)
                }
            }
        })
    }

    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let ttl = effective_ttl(ttl, self.default_ttl)?;
            let now = Instant::now();
            let mut state = self.lock();
            if state.live(key, now).is_some() {
                return Ok(false);
            }
            state.insert(key, value.as_bytes().to_vec(), expiry(now, ttl), now)?;
            Ok(true)
        })
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<LockGuard>>> {
        Box::pin(async move {
            let ttl = checked_ttl(ttl)?;
            let now = Instant::now();
            let mut state = self.lock();
            if state.live(key, now).is_some() {
                return Ok(None);
            }
            let guard = LockGuard::new(key);
            let token = guard.token().as_bytes().to_vec();
            state.insert(key, token, expiry(now, Some(ttl)), now)?;
            Ok(Some(guard))
        })
    }

    fn unlock<'a>(&'a self, lock: LockGuard) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut state = self.lock();
            let owned = state
                .live(lock.key(), now)
                .is_some_and(|e| e.value == lock.token().as_bytes());
            if owned {
                state.remove(lock.key());
            }
            Ok(owned)
        })
    }

    fn clear(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let mut state = self.lock();
            state.entries.clear();
            state.writes_since_purge = 0;
            state.bytes = 0;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(cache: &InMemoryCache) -> usize {
        cache.lock().entries.len()
    }

    #[test]
    fn counters_parse_like_redis() {
        assert_eq!(parse_counter(b"0"), Some(0));
        assert_eq!(parse_counter(b"-42"), Some(-42));
        assert_eq!(parse_counter(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"+5",
            b"05",
            b"-0",
            b" 5",
            b"5 ",
            b"1.0",
            b"abc",
            b"9223372036854775808",
            b"\xff",
        ] {
            assert_eq!(parse_counter(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn writes_sweep_expired_entries() {
        let cache = InMemoryCache::new();
        for i in 0..100 {
            cache
                .set(&format!("short:{i}"), "x", Some(Duration::from_millis(50)))
                .await
                .unwrap();
        }
        assert_eq!(cache.len(), 100);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(cache.len(), 0, "expired entries are not live");
        assert_eq!(stored(&cache), 100, "but are only removed by a sweep");
        for i in 0..PURGE_MIN_WRITES {
            cache.set(&format!("long:{i}"), "x", None).await.unwrap();
        }
        assert_eq!(stored(&cache), PURGE_MIN_WRITES, "the sweep removed them");
        assert_eq!(cache.purge_expired(), 0);
    }

    #[tokio::test]
    async fn a_byte_limit_refuses_writes_without_evicting() {
        // Keys and values count: "a" + 9 bytes = 10 per entry.
        let cache = InMemoryCache::new().max_bytes(21);
        cache.set("a", "123456789", None).await.unwrap();
        cache.set("b", "123456789", None).await.unwrap();
        assert_eq!(cache.stored_bytes(), 20);
        let full = cache.set("c", "123456789", None).await.unwrap_err();
        assert!(matches!(full, CacheError::Full { limit: 21 }), "{full:?}");
        assert!(full.to_string().contains("21 bytes"), "{full}");
        // Nothing was stored, nothing was evicted.
        assert_eq!(cache.get("c").await.unwrap(), None);
        assert_eq!(cache.len(), 2);
        // Every way of writing is refused alike; none panics.
        assert!(matches!(
            cache.incr("n", 1, Duration::from_secs(1)).await,
            Err(CacheError::Full { .. })
        ));
        assert!(matches!(
            cache.set_if_absent("c", "123456789", None).await,
            Err(CacheError::Full { .. })
        ));
        assert!(matches!(
            cache.try_lock("lock:c", Duration::from_secs(1)).await,
            Err(CacheError::Full { .. })
        ));
        // Replacing a value counts the difference only.
        cache.set("a", "12345", None).await.unwrap();
        assert_eq!(cache.stored_bytes(), 16);
        // Deleting frees room.
        assert!(cache.delete("b").await.unwrap());
        cache.set("c", "123456789", None).await.unwrap();
        assert_eq!(cache.stored_bytes(), 16);
        cache.clear().await.unwrap();
        assert_eq!(cache.stored_bytes(), 0);
    }

    #[tokio::test]
    async fn a_full_cache_sweeps_expired_entries_before_refusing() {
        let cache = InMemoryCache::new().max_bytes(20);
        cache
            .set("a", "123456789", Some(Duration::from_millis(50)))
            .await
            .unwrap();
        cache.set("b", "123456789", None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        // "a" expired: its room is taken back for "c".
        cache.set("c", "123456789", None).await.unwrap();
        assert_eq!(cache.stored_bytes(), 20);
        assert_eq!(stored(&cache), 2);
    }

    #[tokio::test]
    async fn a_full_cache_sweeps_at_most_once_a_second() {
        let cache = InMemoryCache::new().max_bytes(20);
        cache.set("b", "123456789", None).await.unwrap();
        cache
            .set("a", "123456789", Some(Duration::from_millis(100)))
            .await
            .unwrap();
        // Refused: nothing has expired yet (this write swept).
        assert!(cache.set("c", "123456789", None).await.is_err());
        tokio::time::sleep(Duration::from_millis(250)).await;
        // "a" has expired, but a write refused in a row does not sweep again...
        assert!(cache.set("c", "123456789", None).await.is_err());
        assert_eq!(stored(&cache), 2);
        // ...until a second has passed since the last sweep.
        tokio::time::sleep(FULL_SWEEP_INTERVAL).await;
        cache.set("c", "123456789", None).await.unwrap();
        assert_eq!(stored(&cache), 2);
    }

    #[tokio::test]
    async fn reading_an_expired_key_removes_it() {
        let cache = InMemoryCache::new();
        cache
            .set("k", "v", Some(Duration::from_millis(50)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(stored(&cache), 1);
        assert_eq!(cache.get("k").await.unwrap(), None);
        assert_eq!(stored(&cache), 0);
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn purge_expired_on_demand() {
        let cache = InMemoryCache::with_default_ttl(Duration::from_millis(50));
        cache.set("a", "1", None).await.unwrap();
        cache
            .set("b", "2", Some(Duration::from_secs(60)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(cache.purge_expired(), 1);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.default_ttl(), Some(Duration::from_millis(50)));
    }

    #[tokio::test]
    async fn survives_a_poisoned_mutex() {
        let cache = std::sync::Arc::new(InMemoryCache::new());
        cache.set("k", "v", None).await.unwrap();
        let poisoner = std::sync::Arc::clone(&cache);
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.state.lock();
            panic!("poison the mutex");
        })
        .join();
        assert!(cache.state.is_poisoned());
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some("v"));
    }

    #[tokio::test]
    async fn huge_ttls_are_clamped_not_panicking() {
        let cache = InMemoryCache::new();
        cache.set("k", "v", Some(Duration::MAX)).await.unwrap();
        assert_eq!(cache.incr("n", 1, Duration::MAX).await.unwrap(), 1);
        assert!(matches!(
            cache.ttl("k").await.unwrap(),
            KeyTtl::ExpiresIn(d) if d > Duration::from_secs(99 * 365 * 24 * 3600)
        ));
    }
}
