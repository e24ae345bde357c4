//! [`RedisCache`]: the Redis backend (cargo feature `redis`).
//!
//! Every operation is one round trip: plain commands (`GET`, `SET … PX`, `SET … NX`,
//! `PTTL`, `DEL`, `EXISTS`), or a Lua script where two steps must be atomic: counters
//! (`INCRBY` then `PEXPIRE` if the key has no expiry) and unlocking (compare the token,
//! then `DEL`). Scripts run with `EVALSHA`, loaded on first use (and again after a
//! server restart). Values are stored as plain Redis strings, so other clients can read
//! them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rustango_cache::CacheError> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use rustango_cache::{BoxedCache, Cache, redis_backend::RedisCache};
//!
//! let cache: BoxedCache = Arc::new(
//!     RedisCache::new("redis://127.0.0.1/")
//!         .await?
//!         .with_prefix("app:")
//!         .with_default_ttl(Duration::from_secs(300)),
//! );
//! cache.set("greeting", "hello", None).await?; // stored as `app:greeting`
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use futures_util::future::BoxFuture;
/// The `redis` crate this backend is built on, re-exported so callers of
/// [`RedisCache::connection`] and [`RedisCache::with_config`] use the same version.
pub use redis;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisError, Script, Value};

use crate::{Cache, CacheError, KeyTtl, LockGuard, Result, effective_ttl, ttl_millis};

/// `INCRBY` and, when the key has no expiry (new or persistent), `PEXPIRE`, atomically.
///
/// The new value is returned as the string `GET` reads, not as the Lua number `INCRBY`
/// gave: Lua numbers are doubles, exact only up to 2^53. Errors that mean "not an
/// integer" (or overflow, or a non-string key) return `false`, a nil reply, so they are
/// told apart without parsing server messages; other errors stay errors.
static INCR_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local result = redis.pcall('INCRBY', KEYS[1], ARGV[1])
if type(result) == 'table' and result.err then
  local err = result.err
  if string.find(err, 'not an integer', 1, true)
    or string.find(err, 'overflow', 1, true)
    or string.find(err, 'WRONGTYPE', 1, true) then
    return false
  end
  return redis.error_reply(err)
end
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('GET', KEYS[1])
",
    )
});

/// Deletes the lock only if it still holds the caller's token.
static UNLOCK_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// Keys removed per `UNLINK` (and asked for per `SCAN`) by [`Cache::clear`].
const CLEAR_BATCH: usize = 500;

/// A client for `url`, or [`CacheError::InvalidUrl`].
fn open(url: &str) -> Result<redis::Client> {
    redis::Client::open(url).map_err(|err| CacheError::InvalidUrl {
        source: Box::new(err),
    })
}

/// A failed first connection: a configuration the client refuses is a bad URL,
/// anything else an unreachable (or refusing) server.
fn connect_error(err: RedisError) -> CacheError {
    match err.kind() {
        redis::ErrorKind::InvalidClientConfig => CacheError::InvalidUrl {
            source: Box::new(err),
        },
        _ => CacheError::Connection {
            source: Box::new(err),
        },
    }
}

/// A [`Cache`] in Redis, shared by every process that uses the same server and prefix.
///
/// It holds a [`ConnectionManager`]: one multiplexed connection that reconnects after
/// failures (with exponential back-off) and is cheap to clone, so one `RedisCache`
/// serves any number of concurrent tasks. Commands time out after the manager's
/// response timeout (the `redis` crate's default: 500 ms); during an outage they fail
/// with [`CacheError::Connection`] rather than hang.
///
/// Values are never logged.
#[derive(Clone)]
pub struct RedisCache {
    manager: ConnectionManager,
    prefix: String,
    default_ttl: Option<Duration>,
}

impl RedisCache {
    /// Connects to `url` (`redis://[:password@]host[:port][/db]`, `rediss://…` if the
    /// `redis` crate was built with TLS, or `redis+unix:///path`) with the default
    /// connection settings.
    ///
    /// Fails with [`CacheError::InvalidUrl`] for a malformed URL, and with
    /// [`CacheError::Connection`] if the server cannot be reached or refuses the
    /// handshake (a wrong or missing password included). The first connection is
    /// tried once, with a
    /// [`STARTUP_TIMEOUT`](Self::STARTUP_TIMEOUT): a wrong host, port or password
    /// fails at once instead of after the manager's back-off, which is meant for a
    /// server that went away after it was reached. Later reconnections retry as
    /// [`ConnectionManagerConfig::new`] says.
    pub async fn new(url: &str) -> Result<Self> {
        let client = open(url)?;
        let probe = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Self::STARTUP_TIMEOUT))
            .set_response_timeout(Some(Self::STARTUP_TIMEOUT));
        // The probe's connection is dropped: the manager makes its own (one more
        // handshake at startup, and no retries hidden behind a wrong URL). The PING
        // finds a missing password, which the connection itself does not ask about.
        let mut probe = client
            .get_multiplexed_async_connection_with_config(&probe)
            .await
            .map_err(connect_error)?;
        redis::cmd("PING")
            .query_async::<()>(&mut probe)
            .await
            .map_err(connect_error)?;
        Self::connect(client, ConnectionManagerConfig::new()).await
    }

    /// How long [`new`](Self::new) waits for the first connection (and its
    /// handshake) before it reports the server unreachable.
    pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(2);

    /// Like [`new`](Self::new) with explicit connection settings (timeouts, retries);
    /// the first connection is retried as `config` says too.
    pub async fn with_config(url: &str, config: ConnectionManagerConfig) -> Result<Self> {
        Self::connect(open(url)?, config).await
    }

    async fn connect(client: redis::Client, config: ConnectionManagerConfig) -> Result<Self> {
        let manager = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(connect_error)?;
        tracing::debug!("connected to Redis");
        Ok(Self::from_manager(manager))
    }

    /// A cache over an existing connection manager (to share one connection with other
    /// Redis users).
    pub fn from_manager(manager: ConnectionManager) -> Self {
        Self {
            manager,
            prefix: String::new(),
            default_ttl: None,
        }
    }

    /// Puts `prefix` in front of every key (e.g. `"app:"`), so several applications or
    /// test runs can share a database; [`Cache::clear`] then removes exactly the keys
    /// under the prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Makes keys written without a TTL expire after `ttl` (by default they never
    /// expire). A zero `ttl` makes such writes fail with [`CacheError::ZeroTtl`].
    pub fn with_default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// The key prefix (empty if none).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The TTL applied when none is given.
    pub fn default_ttl(&self) -> Option<Duration> {
        self.default_ttl
    }

    /// A handle on the underlying connection (clones share it), for Redis work this
    /// trait does not cover. Keys used through it are not prefixed: see
    /// [`key`](Self::key).
    pub fn connection(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// The Redis key that stores the cache key `key` (the prefix followed by `key`).
    pub fn key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + key.len());
        full.push_str(&self.prefix);
        full.push_str(key);
        full
    }

    async fn query<T: FromRedisValue>(&self, name: &'static str, cmd: &Cmd) -> Result<T> {
        let mut conn = self.manager.clone();
        cmd.query_async(&mut conn)
            .await
            .map_err(|err| command_error(name, err))
    }

    /// `SET key value [NX] [PX ms]`; `true` if the value was written.
    async fn set_with(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        only_if_absent: bool,
    ) -> Result<bool> {
        let ttl_ms = effective_ttl(ttl, self.default_ttl)?
            .map(ttl_millis)
            .transpose()?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value);
        if only_if_absent {
            cmd.arg("NX");
        }
        if let Some(ms) = ttl_ms {
            cmd.arg("PX").arg(ms);
        }
        // `OK` when written, nil when NX found the key.
        let reply: Value = self.query("SET", &cmd).await?;
        Ok(!matches!(reply, Value::Nil))
    }
}

/// A connection-level failure becomes [`CacheError::Connection`], anything else
/// (an error reply, an unexpected reply type) [`CacheError::Redis`].
fn command_error(command: &'static str, err: RedisError) -> CacheError {
    if err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.is_timeout()
    {
        CacheError::Connection {
            source: Box::new(err),
        }
    } else {
        CacheError::Redis {
            command,
            source: Box::new(err),
        }
    }
}

/// `prefix` as a `SCAN MATCH` pattern that matches only keys starting with it.
fn match_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    pattern
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .field("default_ttl", &self.default_ttl)
            .finish_non_exhaustive()
    }
}

impl Cache for RedisCache {
    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            self.query("GET", redis::cmd("GET").arg(self.key(key)))
                .await
        })
    }

    fn set_bytes<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.set_with(key, value, ttl, false).await.map(drop) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let removed: i64 = self
                .query("DEL", redis::cmd("DEL").arg(self.key(key)))
                .await?;
            Ok(removed > 0)
        })
    }

    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let found: i64 = self
                .query("EXISTS", redis::cmd("EXISTS").arg(self.key(key)))
                .await?;
            Ok(found > 0)
        })
    }

    fn ttl<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<KeyTtl>> {
        Box::pin(async move {
            let ms: i64 = self
                .query("PTTL", redis::cmd("PTTL").arg(self.key(key)))
                .await?;
            Ok(match ms {
                -1 => KeyTtl::Persistent,
                ms => match u64::try_from(ms) {
                    Ok(ms) => KeyTtl::ExpiresIn(Duration::from_millis(ms)),
                    Err(_) => KeyTtl::Missing, // -2
                },
            })
        })
    }

    fn incr<'a>(&'a self, key: &'a str, by: i64, ttl: Duration) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            let ttl_ms = ttl_millis(ttl)?;
            let mut conn = self.manager.clone();
            let reply: Value = INCR_SCRIPT
                .key(self.key(key))
                .arg(by)
                .arg(ttl_ms)
                .invoke_async(&mut conn)
                .await
                .map_err(|err| command_error("incr script (INCRBY + PEXPIRE)", err))?;
            let not_an_integer = || CacheError::NotAnInteger {
                key: key.to_owned(),
            };
            match reply {
                Value::BulkString(bytes) => std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|text| text.parse().ok())
                    .ok_or_else(not_an_integer),
                Value::Nil => Err(not_an_integer()),
                _ => Err(CacheError::Redis {
                    command: "incr script (INCRBY + PEXPIRE)",
                    source: "unexpected reply type".into(),
                }),
            }
        })
    }

    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move { self.set_with(key, value.as_bytes(), ttl, true).await })
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<LockGuard>>> {
        Box::pin(async move {
            let guard = LockGuard::new(key);
            let taken = self
                .set_with(key, guard.token().as_bytes(), Some(ttl), true)
                .await?;
            Ok(taken.then_some(guard))
        })
    }

    fn unlock<'a>(&'a self, lock: LockGuard) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let mut conn = self.manager.clone();
            let removed: i64 = UNLOCK_SCRIPT
                .key(self.key(lock.key()))
                .arg(lock.token())
                .invoke_async(&mut conn)
                .await
                .map_err(|err| command_error("unlock script (GET + DEL)", err))?;
            Ok(removed > 0)
        })
    }

    fn clear(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            if self.prefix.is_empty() {
                return Err(CacheError::ClearWithoutPrefix);
            }
            let pattern = match_pattern(&self.prefix);
            let mut cursor: u64 = 0;
            loop {
                let (next, keys): (u64, Vec<Vec<u8>>) = self
                    .query(
                        "SCAN",
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&pattern)
                            .arg("COUNT")
                            .arg(CLEAR_BATCH),
                    )
                    .await?;
                for batch in keys.chunks(CLEAR_BATCH) {
                    let _: i64 = self
                        .query("UNLINK", redis::cmd("UNLINK").arg(batch))
                        .await?;
                }
                if next == 0 {
                    return Ok(());
                }
                cursor = next;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_patterns_escape_glob_characters() {
        assert_eq!(match_pattern("app:"), "app:*");
        assert_eq!(match_pattern("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:*");
    }

    #[tokio::test]
    async fn malformed_urls_are_typed_errors() {
        for url in ["not a url", "http://127.0.0.1/", "redis://127.0.0.1/notadb"] {
            let err = RedisCache::new(url).await.unwrap_err();
            assert!(
                matches!(err, CacheError::InvalidUrl { .. }),
                "{url}: {err:?}"
            );
        }
    }

    #[tokio::test]
    async fn url_errors_do_not_echo_passwords() {
        let err = RedisCache::new("redis://user:s3cret@[::1:6379/")
            .await
            .unwrap_err();
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            text.push_str(&s.to_string());
            source = s.source();
        }
        assert!(!text.contains("s3cret"), "{text}");
    }
}
