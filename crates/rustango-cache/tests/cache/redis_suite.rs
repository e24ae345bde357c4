//! Redis-only guarantees, checked against the server itself (`PTTL`, raw keys) and
//! across several `RedisCache` instances (separate connections), as separate processes
//! would use them.

use std::time::Duration;

use rustango_cache::redis_backend::RedisCache;
use rustango_cache::redis_backend::redis::{self, aio::ConnectionManagerConfig};
use rustango_cache::{Cache, CacheError, LockGuard};

use crate::support::{Backend, redis_url, run};

const MINUTE: Duration = Duration::from_secs(60);

async fn raw<T: redis::FromRedisValue>(cache: &RedisCache, cmd: &redis::Cmd) -> T {
    cmd.query_async(&mut cache.connection())
        .await
        .expect("raw Redis command")
}

async fn pttl(cache: &RedisCache, key: &str) -> i64 {
    raw(cache, redis::cmd("PTTL").arg(cache.key(key))).await
}

/// Every Redis key under the cache's prefix.
async fn keys_under_prefix(cache: &RedisCache) -> Vec<String> {
    let pattern = format!("{}*", cache.prefix());
    raw(cache, redis::cmd("KEYS").arg(pattern)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_incr_never_leaves_a_key_without_expiry() {
    run(Backend::redis(), |backend| async move {
        let cache = backend.redis_cache().await;
        cache.incr("fresh", 1, MINUTE).await?;
        let ms = pttl(&cache, "fresh").await;
        assert!(ms > 0 && ms <= 60_000, "PTTL {ms}");

        cache.set("persistent", "1", None).await?;
        assert_eq!(pttl(&cache, "persistent").await, -1);
        cache.incr("persistent", 1, Duration::from_secs(5)).await?;
        let ms = pttl(&cache, "persistent").await;
        assert!(ms > 0 && ms <= 5_000, "PTTL {ms}");

        // Sub-millisecond TTLs round up instead of becoming "no expiry".
        cache.incr("tiny", 1, Duration::from_micros(10)).await?;
        assert_ne!(pttl(&cache, "tiny").await, -1);

        for i in 0..20 {
            cache.incr(&format!("many:{}", i % 5), i, MINUTE).await?;
        }
        let keys = keys_under_prefix(&cache).await;
        assert!(keys.len() >= 7, "{keys:?}");
        for key in keys {
            let ms: i64 = raw(&cache, redis::cmd("PTTL").arg(&key)).await;
            assert!(ms > 0 || ms == -2, "{key} has PTTL {ms}");
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_counters_are_atomic_across_instances() {
    run(Backend::redis(), |backend| async move {
        let a = backend.redis_cache().await;
        let b = backend.redis_cache().await;
        let per_instance = 150;
        let mut tasks = Vec::new();
        for i in 0..per_instance * 2 {
            let cache = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                cache.incr("shared", 1, MINUTE).await
            }));
        }
        let mut seen = Vec::new();
        for task in tasks {
            seen.push(task.await.expect("task")?);
        }
        seen.sort_unstable();
        let expected: Vec<i64> = (1..=per_instance * 2).collect();
        assert_eq!(seen, expected, "each increment saw a distinct value");
        assert_eq!(a.get("shared").await?, Some((per_instance * 2).to_string()));
        assert_eq!(b.get("shared").await?, Some((per_instance * 2).to_string()));
        assert!(pttl(&a, "shared").await > 0);
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_lock_ownership_across_instances() {
    run(Backend::redis(), |backend| async move {
        let a = backend.redis_cache().await;
        let b = backend.redis_cache().await;
        let lock = a.try_lock("lock:job", MINUTE).await?.expect("free lock");
        let stored: Option<String> = raw(&a, redis::cmd("GET").arg(a.key("lock:job"))).await;
        assert_eq!(
            stored.as_deref(),
            Some(lock.token()),
            "the token is the value"
        );
        let ms = pttl(&a, "lock:job").await;
        assert!(ms > 0 && ms <= 60_000, "locks always expire: PTTL {ms}");

        assert!(b.try_lock("lock:job", MINUTE).await?.is_none());
        assert!(
            !b.unlock(LockGuard::new("lock:job")).await?,
            "a forged guard"
        );
        assert!(b.exists("lock:job").await?);
        // The owner's guard works from any instance: ownership is the token.
        assert!(b.unlock(lock).await?);
        let taken = b.try_lock("lock:job", MINUTE).await?.expect("released");
        assert!(a.try_lock("lock:job", MINUTE).await?.is_none());
        assert!(b.unlock(taken).await?);
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_prefixes_isolate_and_clear_only_their_keys() {
    run(Backend::redis(), |backend| async move {
        let base = backend.redis_cache().await;
        let root = base.prefix().to_owned();
        let a = base.clone().with_prefix(format!("{root}a:"));
        let b = base.clone().with_prefix(format!("{root}b:"));
        a.set("k", "from a", None).await?;
        b.set("k", "from b", None).await?;
        assert_eq!(a.get("k").await?.as_deref(), Some("from a"));
        assert_eq!(b.get("k").await?.as_deref(), Some("from b"));
        a.clear().await?;
        assert_eq!(a.get("k").await?, None);
        assert_eq!(b.get("k").await?.as_deref(), Some("from b"));

        // Glob characters in a prefix match only themselves.
        let glob = base.clone().with_prefix(format!("{root}g*"));
        let plain = base.clone().with_prefix(format!("{root}g"));
        glob.set("k", "1", None).await?;
        plain.set("zz", "2", None).await?;
        glob.clear().await?;
        assert_eq!(glob.get("k").await?, None);
        assert_eq!(plain.get("zz").await?.as_deref(), Some("2"));
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_clear_without_prefix_is_refused() {
    run(Backend::redis(), |_backend| async move {
        let unprefixed = RedisCache::new(&redis_url()).await?;
        assert_eq!(unprefixed.prefix(), "");
        assert!(matches!(
            unprefixed.clear().await,
            Err(CacheError::ClearWithoutPrefix)
        ));
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_values_are_plain_strings_under_the_prefix() {
    run(Backend::redis(), |backend| async move {
        let cache = backend.redis_cache().await;
        cache.set("k", "hello", Some(MINUTE)).await?;
        let raw_value: Option<String> = raw(&cache, redis::cmd("GET").arg(cache.key("k"))).await;
        assert_eq!(raw_value.as_deref(), Some("hello"));
        assert!(cache.key("k").starts_with("rustango-test:"));
        let _: () = raw(
            &cache,
            redis::cmd("SET").arg(cache.key("ext")).arg("set elsewhere"),
        )
        .await;
        assert_eq!(cache.get("ext").await?.as_deref(), Some("set elsewhere"));
        let shown = format!("{cache:?}");
        assert!(
            shown.contains(cache.prefix()) && !shown.contains("redis://"),
            "{shown}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_wrong_types_are_typed_errors() {
    run(Backend::redis(), |backend| async move {
        let cache = backend.redis_cache().await;
        let _: i64 = raw(&cache, redis::cmd("RPUSH").arg(cache.key("list")).arg("x")).await;
        let err = cache.get("list").await.unwrap_err();
        assert!(
            matches!(err, CacheError::Redis { command: "GET", .. }),
            "{err:?}"
        );
        let err = cache.incr("list", 1, MINUTE).await.unwrap_err();
        assert!(matches!(err, CacheError::NotAnInteger { .. }), "{err:?}");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_scripts_reload_after_script_flush() {
    run(Backend::redis(), |backend| async move {
        let cache = backend.redis_cache().await;
        assert_eq!(cache.incr("n", 1, MINUTE).await?, 1);
        let lock = cache.try_lock("lock", MINUTE).await?.expect("free lock");
        let _: () = raw(&cache, redis::cmd("SCRIPT").arg("FLUSH")).await;
        assert_eq!(cache.incr("n", 1, MINUTE).await?, 2);
        assert!(cache.unlock(lock).await?);
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_unreachable_server_is_a_connection_error() {
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(0)
        .set_connection_timeout(Some(Duration::from_secs(1)));
    // Port 1 on loopback: nothing listens there.
    let err = RedisCache::with_config("redis://127.0.0.1:1/", config)
        .await
        .unwrap_err();
    assert!(matches!(err, CacheError::Connection { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_new_gives_up_on_an_unreachable_server_after_one_attempt() {
    // The default manager would retry six times with back-off (several seconds);
    // `new` tries once, within its startup timeout.
    let err = tokio::time::timeout(
        RedisCache::STARTUP_TIMEOUT + Duration::from_secs(3),
        RedisCache::new("redis://127.0.0.1:1/"),
    )
    .await
    .expect("one attempt, not the reconnection back-off")
    .unwrap_err();
    assert!(matches!(err, CacheError::Connection { .. }), "{err:?}");
    assert!(err.to_string().contains("Redis"), "{err}");
}

/// A `redis-server` of this test's own, asking for a password, stopped on drop.
struct PasswordRedis {
    child: std::process::Child,
    port: u16,
}

impl PasswordRedis {
    const PASSWORD: &'static str = "test-only-password";

    fn start() -> PasswordRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--requirepass",
                Self::PASSWORD,
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be on the PATH for the Redis suite");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server on port {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        PasswordRedis { child, port }
    }
}

impl Drop for PasswordRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_new_refuses_a_missing_or_wrong_password_at_once() {
    let server = PasswordRedis::start();
    let port = server.port;
    for url in [
        format!("redis://127.0.0.1:{port}/"),
        format!("redis://:not-the-password@127.0.0.1:{port}/"),
    ] {
        let err = RedisCache::new(&url).await.err().unwrap_or_else(|| {
            panic!("connected to a password-protected Redis without its password")
        });
        assert!(matches!(err, CacheError::Connection { .. }), "{err:?}");
        assert!(!format!("{err:?}").contains("not-the-password"), "{err:?}");
    }
    let url = format!("redis://:{}@127.0.0.1:{port}/", PasswordRedis::PASSWORD);
    let cache = RedisCache::new(&url).await.expect("the right password");
    let key = format!("rustango-test:{}", uuid::Uuid::new_v4().simple());
    assert_eq!(
        cache.incr(&key, 2, Duration::from_secs(60)).await.unwrap(),
        2
    );
}
