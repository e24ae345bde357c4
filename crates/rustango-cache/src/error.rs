//! The crate's one error type.

/// A boxed third-party error kept as the `source` of a [`CacheError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`CacheError`] as the default error.
pub type Result<T, E = CacheError> = std::result::Result<T, E>;

/// Everything that can go wrong talking to a cache.
///
/// Messages name the cache key where one is involved, never the value. Keys therefore
/// end up in logs: hash secrets (session ids, tokens) before putting them in a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The Redis URL could not be parsed or describes an unusable configuration.
    #[error("invalid Redis URL")]
    InvalidUrl {
        /// Why the URL was refused.
        #[source]
        source: BoxError,
    },

    /// Redis could not be reached: connection refused or dropped, I/O error, timeout, or
    /// a failed handshake (authentication, database selection).
    #[error("cannot reach Redis")]
    Connection {
        /// The underlying client error.
        #[source]
        source: BoxError,
    },

    /// Redis answered a command with an error (for example `WRONGTYPE` when a key holds
    /// a list, or an out-of-memory refusal).
    #[error("Redis command {command} failed")]
    Redis {
        /// The command or script that failed (`GET`, `SET`, `incr script`, …).
        command: &'static str,
        /// The underlying client error.
        #[source]
        source: BoxError,
    },

    /// A value could not be encoded to or decoded from JSON.
    #[error("cannot convert the cached value of key `{key}` to or from JSON")]
    Serialization {
        /// The cache key.
        key: String,
        /// The `serde_json` error.
        #[source]
        source: BoxError,
    },

    /// [`Cache::get`](crate::Cache::get) found a value that is not UTF-8 text (it was
    /// stored with [`Cache::set_bytes`](crate::Cache::set_bytes)).
    #[error("the cached value of key `{key}` is not UTF-8 text")]
    NotUtf8 {
        /// The cache key.
        key: String,
    },

    /// [`Cache::incr`](crate::Cache::incr) found a value that is not a canonical decimal
    /// `i64`, or the addition would overflow. The stored value is left unchanged.
    #[error("the cached value of key `{key}` is not an integer, or adding to it overflows")]
    NotAnInteger {
        /// The cache key.
        key: String,
    },

    /// An [`InMemoryCache`](crate::InMemoryCache) with a
    /// [`max_bytes`](crate::InMemoryCache::max_bytes) limit had no room for a write,
    /// even after sweeping out expired entries; nothing was stored.
    #[error("the in-memory cache is full (limit {limit} bytes)")]
    Full {
        /// The limit, in bytes.
        limit: usize,
    },

    /// A TTL of zero was given (explicitly, or as the cache's default TTL). A key that
    /// expires at once is almost always a bug, so it is refused rather than ignored.
    #[error("a cache TTL must be longer than zero")]
    ZeroTtl,

    /// [`Cache::clear`](crate::Cache::clear) was called on a Redis cache without a key
    /// prefix: it would delete every key of the database, including other programs'.
    #[error("clearing a Redis cache needs a key prefix (it would empty the whole database)")]
    ClearWithoutPrefix,
}
