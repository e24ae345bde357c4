//! Behaviour tests of the cache backends. Each `cache_test!` body runs on the in-memory
//! cache and, with the `__test-redis` feature (`cargo xtask test-redis`), on Redis.

#[macro_use]
mod support;

mod behaviour;
#[cfg(feature = "__test-redis")]
mod redis_suite;
