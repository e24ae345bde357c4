//! Typed helpers over any [`Cache`]: JSON values, get-or-compute, fixed-window counters.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Cache, CacheError, Result, checked_ttl};

/// The JSON value stored under `key`, decoded as `T`; `None` if the key is missing.
///
/// Fails with [`CacheError::Serialization`] if the stored value is not JSON for a `T`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rustango_cache::CacheError> {
/// use rustango_cache::{InMemoryCache, get_json, set_json};
///
/// let cache = InMemoryCache::new();
/// set_json(&cache, "ids", &[1, 2, 3], None).await?;
/// assert_eq!(get_json::<Vec<u32>>(&cache, "ids").await?, Some(vec![1, 2, 3]));
/// # Ok(())
/// # }
/// ```
pub async fn get_json<T: DeserializeOwned>(
    cache: &(impl Cache + ?Sized),
    key: &str,
) -> Result<Option<T>> {
    match cache.get_bytes(key).await? {
        None => Ok(None),
        Some(bytes) => decode(key, &bytes).map(Some),
    }
}

/// Stores `value` as JSON under `key` (`ttl: None` = the cache's default TTL).
pub async fn set_json<T: Serialize + ?Sized>(
    cache: &(impl Cache + ?Sized),
    key: &str,
    value: &T,
    ttl: Option<Duration>,
) -> Result<()> {
    let bytes = encode(key, value)?;
    cache.set_bytes(key, &bytes, ttl).await
}

/// The JSON value under `key`, or, on a miss, the value of `compute()`, which is
/// stored for `ttl` (`None` = the cache's default TTL) and returned.
///
/// A stored value that no longer decodes as a `T` (say, after the type changed in a
/// deploy) counts as a miss and is overwritten, with a warning naming the key. Errors
/// of the cache itself are returned, not hidden. Concurrent misses each compute the
/// value (no stampede protection); guard expensive computations with
/// [`Cache::try_lock`] if that matters. For a fallible `compute`, use
/// [`try_get_or_set`].
pub async fn get_or_set<T, F, Fut>(
    cache: &(impl Cache + ?Sized),
    key: &str,
    compute: F,
    ttl: Option<Duration>,
) -> Result<T>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
{
    try_get_or_set(cache, key, || async { Ok(compute().await) }, ttl).await
}

/// [`get_or_set`] for a fallible `compute`: its error is returned and nothing is
/// stored. The error type only needs `From<CacheError>`.
pub async fn try_get_or_set<T, E, F, Fut>(
    cache: &(impl Cache + ?Sized),
    key: &str,
    compute: F,
    ttl: Option<Duration>,
) -> Result<T, E>
where
    T: Serialize + DeserializeOwned,
    E: From<CacheError>,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    if let Some(bytes) = cache.get_bytes(key).await? {
        match decode(key, &bytes) {
            Ok(value) => return Ok(value),
            Err(err) => tracing::warn!(
                key,
                error = &err as &dyn std::error::Error,
                "cached value does not decode; recomputing it"
            ),
        }
    }
    let value = compute().await?;
    let bytes = encode(key, &value)?;
    cache.set_bytes(key, &bytes, ttl).await?;
    Ok(value)
}

fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|err| CacheError::Serialization {
        key: key.to_owned(),
        source: Box::new(err),
    })
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|err| CacheError::Serialization {
        key: key.to_owned(),
        source: Box::new(err),
    })
}

/// The outcome of one [`fixed_window`] hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FixedWindow {
    /// Hits counted in the current window, this one included.
    pub count: i64,
    /// The limit that was checked.
    pub limit: u64,
    /// Whether this hit is within the limit (`count <= limit`).
    pub allowed: bool,
    /// Time until the current window ends and the count starts again from zero (what a
    /// `Retry-After` header says).
    pub reset_after: Duration,
}

impl FixedWindow {
    /// Hits left in the current window after this one.
    pub fn remaining(&self) -> u64 {
        self.limit
            .saturating_sub(u64::try_from(self.count).unwrap_or(0))
    }
}

/// Counts one hit against `key` in a fixed window of length `window` and checks it
/// against `limit`: the simplest rate limiter, one atomic [`Cache::incr`] per hit.
///
/// Windows are aligned to the Unix epoch (`key:<window number>`), so every process
/// sharing a Redis agrees on them as far as their clocks agree; each window's counter
/// expires after `window`. Hits over the limit are still counted. A burst of up to
/// `2 * limit` can pass around a window boundary; a sliding window comes later.
///
/// Fails with [`CacheError::ZeroTtl`] for a zero `window`.
pub async fn fixed_window(
    cache: &(impl Cache + ?Sized),
    key: &str,
    limit: u64,
    window: Duration,
) -> Result<FixedWindow> {
    let window = checked_ttl(window)?;
    let window_ms = window.as_millis().max(1);
    // A clock before 1970 is treated as 1970: the windows still work, only misaligned.
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let index = now_ms / window_ms;
    let reset_ms = (index + 1) * window_ms - now_ms;
    let count = cache.incr(&format!("{key}:{index}"), 1, window).await?;
    Ok(FixedWindow {
        count,
        limit,
        allowed: count <= i64::try_from(limit).unwrap_or(i64::MAX),
        reset_after: Duration::from_millis(u64::try_from(reset_ms).unwrap_or(u64::MAX)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_never_underflows() {
        let hit = |count| FixedWindow {
            count,
            limit: 3,
            allowed: true,
            reset_after: Duration::ZERO,
        };
        assert_eq!(hit(1).remaining(), 2);
        assert_eq!(hit(3).remaining(), 0);
        assert_eq!(hit(9).remaining(), 0);
        assert_eq!(hit(-1).remaining(), 3);
    }
}
