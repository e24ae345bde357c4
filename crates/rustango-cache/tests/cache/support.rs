//! One test body, every backend: `cache_test!` expands a body into an in-memory test
//! and, with the `__test-redis` feature, a Redis test under a fresh key prefix that is
//! cleared afterwards (also when the body fails).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rustango_cache::{BoxedCache, CacheError, InMemoryCache};

/// Where a test's caches live.
#[derive(Clone)]
pub enum Backend {
    /// A fresh in-memory cache per test.
    Memory(Arc<InMemoryCache>),
    /// Redis at `REDIS_URL`, every key under `prefix`.
    #[cfg(feature = "__test-redis")]
    Redis { url: String, prefix: String },
}

impl Backend {
    pub fn memory() -> Self {
        Backend::Memory(Arc::new(InMemoryCache::new()))
    }

    /// Redis at `REDIS_URL`; panics (the suite must fail, not skip) when it is unset.
    #[cfg(feature = "__test-redis")]
    pub fn redis() -> Self {
        Backend::Redis {
            url: redis_url(),
            prefix: format!("rustango-test:{}:", uuid::Uuid::new_v4().simple()),
        }
    }

    /// The test's cache, without a default TTL. On Redis every call connects anew, so
    /// two calls give two independent clients of the same keys.
    pub async fn cache(&self) -> BoxedCache {
        match self {
            Backend::Memory(cache) => cache.clone(),
            #[cfg(feature = "__test-redis")]
            Backend::Redis { .. } => Arc::new(self.redis_cache().await),
        }
    }

    /// A cache with a default TTL. In memory it is a separate store: tests must not
    /// expect it to see the keys of [`cache`](Self::cache).
    pub async fn cache_with_default_ttl(&self, ttl: Duration) -> BoxedCache {
        match self {
            Backend::Memory(_) => Arc::new(InMemoryCache::with_default_ttl(ttl)),
            #[cfg(feature = "__test-redis")]
            Backend::Redis { .. } => Arc::new(self.redis_cache().await.with_default_ttl(ttl)),
        }
    }

    #[cfg(feature = "__test-redis")]
    pub async fn redis_cache(&self) -> rustango_cache::redis_backend::RedisCache {
        match self {
            Backend::Redis { url, prefix } => rustango_cache::redis_backend::RedisCache::new(url)
                .await
                .unwrap_or_else(|e| panic!("cannot connect to Redis at REDIS_URL: {e:?}"))
                .with_prefix(prefix.clone()),
            Backend::Memory(_) => panic!("not a Redis backend"),
        }
    }

    async fn cleanup(&self) {
        match self {
            Backend::Memory(_) => {}
            #[cfg(feature = "__test-redis")]
            Backend::Redis { .. } => {
                use rustango_cache::Cache as _;
                let cache = self.redis_cache().await;
                cache.clear().await.expect("clear the test's keys");
            }
        }
    }
}

#[cfg(feature = "__test-redis")]
pub fn redis_url() -> String {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("REDIS_URL is not set: the Redis suite needs a server; run it with `cargo xtask test-redis`")
    });
    assert!(
        url.starts_with("redis"),
        "REDIS_URL must be a redis:// URL for the Redis suite"
    );
    url
}

/// Runs `body`, then cleans up, then reports the body's failure or panic.
pub async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Backend) -> Fut,
    Fut: Future<Output = Result<(), CacheError>>,
{
    use futures_util::FutureExt as _;
    let outcome = std::panic::AssertUnwindSafe(body(backend.clone()))
        .catch_unwind()
        .await;
    backend.cleanup().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("test failed with error: {e} ({e:?})"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// `cache_test! { async fn name(backend) { ... Ok(()) } }` makes `name::memory` and,
/// with `__test-redis`, `name::redis`.
macro_rules! cache_test {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                $crate::support::run($crate::support::Backend::memory(), |$backend| async move {
                    $body
                })
                .await;
            }

            $(#[$meta])*
            #[cfg(feature = "__test-redis")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                $crate::support::run($crate::support::Backend::redis(), |$backend| async move {
                    $body
                })
                .await;
            }
        }
    };
}
