//! What every backend must do. Timings: TTLs of 150–300 ms, sleeps well past them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustango_cache::{
    Cache, CacheError, KeyTtl, fixed_window, get_json, get_or_set, set_json, try_get_or_set,
};
use serde::{Deserialize, Serialize};

const SHORT: Duration = Duration::from_millis(200);
/// Comfortably past `SHORT`, even on a loaded two-core machine.
const PAST_SHORT: Duration = Duration::from_millis(600);
const MINUTE: Duration = Duration::from_secs(60);

async fn sleep(d: Duration) {
    tokio::time::sleep(d).await;
}

/// Whether less than `SHORT` passed since `start`: checks that a short-lived key is
/// still there only make sense then (a stalled test machine must not fail them).
fn still_short(start: Instant) -> bool {
    start.elapsed() < SHORT
}

fn expires_within(ttl: KeyTtl, max: Duration) -> bool {
    matches!(ttl, KeyTtl::ExpiresIn(d) if d > Duration::ZERO && d <= max)
}

cache_test! {
    async fn set_then_get(backend) {
        let cache = backend.cache().await;
        assert_eq!(cache.get("greeting").await?, None);
        cache.set("greeting", "hello", Some(MINUTE)).await?;
        assert_eq!(cache.get("greeting").await?.as_deref(), Some("hello"));
        cache.set("greeting", "bonjour", Some(MINUTE)).await?;
        assert_eq!(cache.get("greeting").await?.as_deref(), Some("bonjour"));
        cache.set("", "empty key", None).await?;
        cache.set("clé:🔑 with spaces", "", None).await?;
        assert_eq!(cache.get("").await?.as_deref(), Some("empty key"));
        assert_eq!(cache.get("clé:🔑 with spaces").await?.as_deref(), Some(""));
        Ok(())
    }
}

cache_test! {
    async fn bytes_round_trip(backend) {
        let cache = backend.cache().await;
        let bytes = [0u8, 0xff, 0xfe, b'\n', 0];
        cache.set_bytes("raw", &bytes, Some(MINUTE)).await?;
        assert_eq!(cache.get_bytes("raw").await?.as_deref(), Some(&bytes[..]));
        let err = cache.get("raw").await.unwrap_err();
        assert!(matches!(&err, CacheError::NotUtf8 { key } if key == "raw"), "{err:?}");
        let big = vec![7u8; 1 << 20];
        cache.set_bytes("big", &big, Some(MINUTE)).await?;
        assert_eq!(cache.get_bytes("big").await?, Some(big));
        Ok(())
    }
}

cache_test! {
    async fn delete_and_exists(backend) {
        let cache = backend.cache().await;
        assert!(!cache.exists("k").await?);
        assert!(!cache.delete("k").await?);
        cache.set("k", "v", None).await?;
        assert!(cache.exists("k").await?);
        assert!(cache.delete("k").await?);
        assert!(!cache.exists("k").await?);
        assert_eq!(cache.get("k").await?, None);
        Ok(())
    }
}

cache_test! {
    async fn ttl_reports_missing_persistent_and_expiring(backend) {
        let cache = backend.cache().await;
        assert_eq!(cache.ttl("k").await?, KeyTtl::Missing);
        cache.set("k", "v", None).await?;
        assert_eq!(cache.ttl("k").await?, KeyTtl::Persistent);
        cache.set("k", "v", Some(MINUTE)).await?;
        assert!(expires_within(cache.ttl("k").await?, MINUTE));
        // `set` replaces the expiry too.
        cache.set("k", "v", None).await?;
        assert_eq!(cache.ttl("k").await?, KeyTtl::Persistent);
        Ok(())
    }
}

cache_test! {
    async fn values_expire(backend) {
        let cache = backend.cache().await;
        let start = Instant::now();
        cache.set("k", "v", Some(SHORT)).await?;
        cache.set_bytes("b", b"v", Some(SHORT)).await?;
        cache.set("stays", "v", Some(MINUTE)).await?;
        let got = cache.get("k").await?;
        if still_short(start) {
            assert_eq!(got.as_deref(), Some("v"));
        }
        sleep(PAST_SHORT).await;
        assert_eq!(cache.get("k").await?, None);
        assert_eq!(cache.get_bytes("b").await?, None);
        assert!(!cache.exists("k").await?);
        assert_eq!(cache.ttl("k").await?, KeyTtl::Missing);
        assert!(!cache.delete("b").await?, "an expired key is not deleted, it is gone");
        assert_eq!(cache.get("stays").await?.as_deref(), Some("v"));
        Ok(())
    }
}

cache_test! {
    async fn default_ttl_applies_when_none_is_given(backend) {
        let cache = backend.cache_with_default_ttl(SHORT).await;
        let start = Instant::now();
        cache.set("default", "v", None).await?;
        cache.set("explicit", "v", Some(MINUTE)).await?;
        assert!(cache.set_if_absent("absent", "v", None).await?);
        let ttls = (cache.ttl("default").await?, cache.ttl("absent").await?);
        if still_short(start) {
            assert!(expires_within(ttls.0, SHORT), "{ttls:?}");
            assert!(expires_within(ttls.1, SHORT), "{ttls:?}");
        }
        sleep(PAST_SHORT).await;
        assert_eq!(cache.get("default").await?, None);
        assert_eq!(cache.get("absent").await?, None);
        assert_eq!(cache.get("explicit").await?.as_deref(), Some("v"));
        Ok(())
    }
}

cache_test! {
    async fn zero_ttls_are_refused(backend) {
        let cache = backend.cache().await;
        let zero = Some(Duration::ZERO);
        assert!(matches!(cache.set("k", "v", zero).await, Err(CacheError::ZeroTtl)));
        assert!(matches!(cache.set_bytes("k", b"v", zero).await, Err(CacheError::ZeroTtl)));
        assert!(matches!(cache.set_if_absent("k", "v", zero).await, Err(CacheError::ZeroTtl)));
        assert!(matches!(cache.incr("k", 1, Duration::ZERO).await, Err(CacheError::ZeroTtl)));
        assert!(matches!(cache.try_lock("k", Duration::ZERO).await, Err(CacheError::ZeroTtl)));
        assert!(!cache.exists("k").await?, "nothing was written");
        let zero_default = backend.cache_with_default_ttl(Duration::ZERO).await;
        assert!(matches!(zero_default.set("k", "v", None).await, Err(CacheError::ZeroTtl)));
        zero_default.set("k", "v", Some(MINUTE)).await?;
        Ok(())
    }
}

cache_test! {
    async fn incr_counts_and_always_sets_an_expiry(backend) {
        let cache = backend.cache().await;
        assert_eq!(cache.incr("n", 1, MINUTE).await?, 1);
        assert_eq!(cache.incr("n", 5, MINUTE).await?, 6);
        assert_eq!(cache.incr("n", -10, MINUTE).await?, -4);
        assert_eq!(cache.get("n").await?.as_deref(), Some("-4"));
        assert!(expires_within(cache.ttl("n").await?, MINUTE));
        // A key that was stored without expiry gets one.
        cache.set("persistent", "41", None).await?;
        assert_eq!(cache.ttl("persistent").await?, KeyTtl::Persistent);
        assert_eq!(cache.incr("persistent", 1, MINUTE).await?, 42);
        assert!(expires_within(cache.ttl("persistent").await?, MINUTE));
        // Adding zero still creates the key, with its expiry.
        assert_eq!(cache.incr("zero", 0, MINUTE).await?, 0);
        assert!(expires_within(cache.ttl("zero").await?, MINUTE));
        Ok(())
    }
}

cache_test! {
    async fn incr_keeps_an_existing_expiry(backend) {
        let cache = backend.cache().await;
        let window = Duration::from_millis(400);
        let start = Instant::now();
        assert_eq!(cache.incr("n", 1, window).await?, 1);
        let second = cache.incr("n", 1, MINUTE).await?;
        let ttl = cache.ttl("n").await?;
        if start.elapsed() >= window {
            // The machine stalled past the window: the second incr may have started a
            // new one, and nothing below can be checked.
            return Ok(());
        }
        assert_eq!(second, 2);
        assert!(expires_within(ttl, window), "the window was not extended: {ttl:?}");
        sleep(Duration::from_millis(800)).await;
        assert_eq!(cache.get("n").await?, None);
        assert_eq!(cache.incr("n", 1, window).await?, 1, "a new window starts at 1");
        Ok(())
    }
}

cache_test! {
    async fn incr_refuses_non_integers_and_overflow(backend) {
        let cache = backend.cache().await;
        for bad in ["abc", "1.5", "05", "+5", " 5", ""] {
            cache.set("n", bad, None).await?;
            let err = cache.incr("n", 1, MINUTE).await.unwrap_err();
            assert!(matches!(&err, CacheError::NotAnInteger { key } if key == "n"), "{bad:?}: {err:?}");
            assert_eq!(cache.get("n").await?.as_deref(), Some(bad), "unchanged");
        }
        cache.set("max", &i64::MAX.to_string(), Some(MINUTE)).await?;
        assert!(matches!(cache.incr("max", 1, MINUTE).await, Err(CacheError::NotAnInteger { .. })));
        assert_eq!(cache.get("max").await?, Some(i64::MAX.to_string()));
        assert_eq!(cache.incr("max", -1, MINUTE).await?, i64::MAX - 1);
        cache.set("min", &i64::MIN.to_string(), Some(MINUTE)).await?;
        assert!(matches!(cache.incr("min", -1, MINUTE).await, Err(CacheError::NotAnInteger { .. })));
        Ok(())
    }
}

cache_test! {
    async fn concurrent_incr_is_atomic(backend) {
        let cache = backend.cache().await;
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.incr("n", 1, MINUTE).await })
            })
            .collect();
        let mut seen = Vec::new();
        for task in tasks {
            seen.push(task.await.expect("task")?);
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=100).collect::<Vec<i64>>(), "every increment saw its own value");
        assert_eq!(cache.get("n").await?.as_deref(), Some("100"));
        Ok(())
    }
}

cache_test! {
    async fn set_if_absent_writes_once(backend) {
        let cache = backend.cache().await;
        assert!(cache.set_if_absent("idem", "first", Some(MINUTE)).await?);
        assert!(!cache.set_if_absent("idem", "second", Some(MINUTE)).await?);
        assert_eq!(cache.get("idem").await?.as_deref(), Some("first"));
        assert!(expires_within(cache.ttl("idem").await?, MINUTE));
        cache.delete("idem").await?;
        assert!(cache.set_if_absent("idem", "third", None).await?);
        assert_eq!(cache.ttl("idem").await?, KeyTtl::Persistent);

        assert!(cache.set_if_absent("short", "1", Some(SHORT)).await?);
        sleep(PAST_SHORT).await;
        assert!(cache.set_if_absent("short", "2", Some(MINUTE)).await?, "expired keys are absent");
        assert_eq!(cache.get("short").await?.as_deref(), Some("2"));
        Ok(())
    }
}

cache_test! {
    async fn concurrent_set_if_absent_has_one_winner(backend) {
        let cache = backend.cache().await;
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let cache = cache.clone();
                tokio::spawn(async move {
                    cache.set_if_absent("idem", &i.to_string(), Some(MINUTE)).await
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.expect("task")?);
        }
        assert_eq!(winners, 1);
        Ok(())
    }
}

cache_test! {
    async fn locks_exclude_until_released_by_the_owner(backend) {
        let cache = backend.cache().await;
        let lock = cache.try_lock("lock:job", MINUTE).await?.expect("free lock");
        assert_eq!(lock.key(), "lock:job");
        assert!(cache.try_lock("lock:job", MINUTE).await?.is_none(), "held");
        assert!(expires_within(cache.ttl("lock:job").await?, MINUTE), "locks always expire");
        assert!(cache.unlock(lock.clone()).await?);
        assert!(!cache.unlock(lock).await?, "already released");
        let again = cache.try_lock("lock:job", MINUTE).await?.expect("free again");
        // A guard forged for the same key has another token: it cannot release the lock.
        let forged = rustango_cache::LockGuard::new("lock:job");
        assert!(!cache.unlock(forged).await?);
        assert!(cache.try_lock("lock:job", MINUTE).await?.is_none(), "still held");
        assert!(cache.unlock(again).await?);
        Ok(())
    }
}

cache_test! {
    async fn expired_locks_are_free_and_stale_guards_release_nothing(backend) {
        let cache = backend.cache().await;
        let stale = cache.try_lock("lock", SHORT).await?.expect("free lock");
        sleep(PAST_SHORT).await;
        let current = cache.try_lock("lock", MINUTE).await?.expect("the first lock expired");
        assert!(!cache.unlock(stale).await?, "the stale owner must not release it");
        assert!(cache.try_lock("lock", MINUTE).await?.is_none(), "the new owner still holds it");
        assert!(cache.unlock(current).await?);
        Ok(())
    }
}

cache_test! {
    async fn concurrent_try_lock_has_one_winner(backend) {
        let cache = backend.cache().await;
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.try_lock("lock", MINUTE).await })
            })
            .collect();
        let mut holders = Vec::new();
        for task in tasks {
            holders.extend(task.await.expect("task")?);
        }
        assert_eq!(holders.len(), 1);
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    tags: Vec<String>,
}

fn ada() -> User {
    User {
        id: 1,
        name: "Ada".into(),
        tags: vec!["admin".into()],
    }
}

cache_test! {
    async fn json_helpers_round_trip(backend) {
        let cache = backend.cache().await;
        set_json(&*cache, "user:1", &ada(), Some(MINUTE)).await?;
        assert_eq!(get_json::<User>(&*cache, "user:1").await?, Some(ada()));
        assert_eq!(get_json::<User>(&*cache, "user:2").await?, None);
        // Works through the `Arc` too, and unsized values serialize.
        set_json(&cache, "ids", &[1, 2, 3][..], None).await?;
        assert_eq!(get_json::<Vec<u8>>(&cache, "ids").await?, Some(vec![1, 2, 3]));
        cache.set("bad", "{not json", None).await?;
        let err = get_json::<User>(&*cache, "bad").await.unwrap_err();
        assert!(matches!(&err, CacheError::Serialization { key, .. } if key == "bad"), "{err:?}");
        Ok(())
    }
}

cache_test! {
    async fn get_or_set_computes_once(backend) {
        let cache = backend.cache().await;
        let calls = AtomicUsize::new(0);
        for _ in 0..3 {
            let user: User = get_or_set(
                &*cache,
                "user:1",
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    ada()
                },
                Some(MINUTE),
            )
            .await?;
            assert_eq!(user, ada());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(expires_within(cache.ttl("user:1").await?, MINUTE));
        Ok(())
    }
}

cache_test! {
    async fn get_or_set_replaces_values_that_no_longer_decode(backend) {
        let cache = backend.cache().await;
        cache.set("user:1", r#"{"old":"shape"}"#, None).await?;
        let user: User = get_or_set(&*cache, "user:1", || async { ada() }, None).await?;
        assert_eq!(user, ada());
        assert_eq!(get_json::<User>(&*cache, "user:1").await?, Some(ada()));
        Ok(())
    }
}

#[derive(Debug)]
enum AppError {
    Cache,
    Compute,
}

impl From<CacheError> for AppError {
    fn from(_: CacheError) -> Self {
        AppError::Cache
    }
}

cache_test! {
    async fn try_get_or_set_stores_nothing_on_error(backend) {
        let cache = backend.cache().await;
        let failed: Result<u32, AppError> =
            try_get_or_set(&*cache, "n", || async { Err(AppError::Compute) }, None).await;
        assert!(matches!(failed, Err(AppError::Compute)));
        assert!(!cache.exists("n").await?);
        let ok: Result<u32, AppError> =
            try_get_or_set(&*cache, "n", || async { Ok(7) }, None).await;
        assert_eq!(ok.ok(), Some(7));
        let cached: Result<u32, AppError> =
            try_get_or_set(&*cache, "n", || async { Err(AppError::Compute) }, None).await;
        assert_eq!(cached.ok(), Some(7), "served from the cache, not recomputed");
        let zero_ttl: Result<u32, AppError> =
            try_get_or_set(&*cache, "m", || async { Ok(1) }, Some(Duration::ZERO)).await;
        assert!(matches!(zero_ttl, Err(AppError::Cache)));
        Ok(())
    }
}

cache_test! {
    async fn fixed_window_limits_hits(backend) {
        let cache = backend.cache().await;
        // A day-long window: crossing its boundary during the test is all but impossible.
        let day = Duration::from_secs(24 * 3600);
        for expected in 1..=3 {
            let hit = fixed_window(&*cache, "rl:ip", 3, day).await?;
            assert_eq!(hit.count, expected);
            assert!(hit.allowed);
            assert_eq!(hit.remaining(), 3 - expected as u64);
            assert!(hit.reset_after <= day);
        }
        let over = fixed_window(&*cache, "rl:ip", 3, day).await?;
        assert_eq!((over.count, over.allowed, over.remaining()), (4, false, 0));
        let other = fixed_window(&*cache, "rl:other", 3, day).await?;
        assert_eq!(other.count, 1, "keys are counted separately");
        assert!(matches!(
            fixed_window(&*cache, "rl:ip", 3, Duration::ZERO).await,
            Err(CacheError::ZeroTtl)
        ));
        Ok(())
    }
}

cache_test! {
    async fn fixed_window_starts_again_in_the_next_window(backend) {
        let cache = backend.cache().await;
        let window = Duration::from_millis(300);
        let first = fixed_window(&*cache, "rl", 1, window).await?;
        assert_eq!(first.count, 1);
        assert!(first.reset_after <= window);
        sleep(first.reset_after + Duration::from_millis(150)).await;
        let next = fixed_window(&*cache, "rl", 1, window).await?;
        assert_eq!(next.count, 1);
        assert!(next.allowed);
        Ok(())
    }
}

cache_test! {
    async fn clear_removes_every_key(backend) {
        let cache = backend.cache().await;
        cache.set("a", "1", None).await?;
        cache.set("b", "2", Some(MINUTE)).await?;
        cache.incr("c", 1, MINUTE).await?;
        for i in 0..1200 {
            cache.set(&format!("many:{i}"), "x", Some(MINUTE)).await?;
        }
        cache.clear().await?;
        for key in ["a", "b", "c", "many:0", "many:1199"] {
            assert!(!cache.exists(key).await?, "{key}");
        }
        cache.clear().await?;
        Ok(())
    }
}

#[allow(dead_code)]
fn assert_boxed_cache_is_usable_across_tasks(cache: rustango_cache::BoxedCache) {
    fn assert_send<T: Send + 'static>(_: T) {}
    assert_send(async move { cache.get("k").await });
    let _unused: Arc<dyn Cache> = Arc::new(rustango_cache::NullCache);
}
