//! One contract for every revocation store: memory, cache, database (SQLite and
//! PostgreSQL) and Redis, including two lifecycles ("instances") sharing one store.

use std::sync::Arc;

use chrono::{Duration, Utc};
use rustango_auth::jwt_lifecycle::{
    CacheRevocationStore, DbRevocationStore, JwtError, JwtLifecycle, JwtRevocation,
    MemoryRevocationStore, RevocationStore,
};
use rustango_cache::{BoxedCache, InMemoryCache};

use crate::assert_refused;
use crate::support::*;

/// The store operations themselves.
async fn store_contract(store: &dyn RevocationStore) {
    let id = || uuid::Uuid::new_v4().simple().to_string();
    let soon = Utc::now() + Duration::seconds(120);
    let past = Utc::now() - Duration::seconds(5);

    let (a, b) = (id(), id());
    assert!(!store.is_revoked(&a).await.unwrap());
    store.revoke(&a, soon).await.unwrap();
    assert!(store.is_revoked(&a).await.unwrap());
    assert!(!store.is_revoked(&b).await.unwrap());
    store.revoke(&a, soon).await.unwrap(); // idempotent
    assert!(store.is_token_revoked(&a, &id()).await.unwrap());

    let fam = id();
    assert!(!store.is_family_revoked(&fam).await.unwrap());
    assert!(!store.is_token_revoked(&b, &fam).await.unwrap());
    store.revoke_family(&fam, soon).await.unwrap();
    assert!(store.is_family_revoked(&fam).await.unwrap());
    assert!(store.is_token_revoked(&b, &fam).await.unwrap());
    // Token ids and family ids do not collide.
    assert!(!store.is_revoked(&fam).await.unwrap());
    assert!(!store.is_family_revoked(&a).await.unwrap());

    // Consuming: once.
    let c = id();
    assert!(store.consume(&c, soon).await.unwrap());
    assert!(!store.consume(&c, soon).await.unwrap());
    assert!(store.is_revoked(&c).await.unwrap());
    // A revoked id cannot be consumed either.
    assert!(!store.consume(&a, soon).await.unwrap());

    // Entries past their time do not count.
    let d = id();
    store.revoke(&d, past).await.unwrap();
    assert!(!store.is_revoked(&d).await.unwrap());
    assert!(
        store.consume(&d, soon).await.unwrap(),
        "an expired entry is free"
    );
    assert!(!store.consume(&d, soon).await.unwrap());
    let f2 = id();
    store.revoke_family(&f2, past).await.unwrap();
    assert!(!store.is_family_revoked(&f2).await.unwrap());
    // A revocation is not cut short by one that ends earlier.
    let f3 = id();
    store.revoke_family(&f3, soon).await.unwrap();
    store.revoke_family(&f3, past).await.unwrap();
    assert!(store.is_family_revoked(&f3).await.unwrap());
    store.revoke(&f3, soon).await.unwrap();
    store.revoke(&f3, past).await.unwrap();
    assert!(store.is_revoked(&f3).await.unwrap());
}

/// Many consumers race for one id: exactly one wins.
async fn consume_race(store: Arc<dyn RevocationStore>) {
    for _ in 0..5 {
        let jti = uuid::Uuid::new_v4().simple().to_string();
        let until = Utc::now() + Duration::seconds(60);
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let store = store.clone();
                let jti = jti.clone();
                tokio::spawn(async move { store.consume(&jti, until).await.unwrap() })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1, "exactly one consumer wins");
    }
}

/// Two lifecycles ("instances") on stores that share their data.
async fn instances_contract(one: JwtLifecycle, two: JwtLifecycle) {
    // A token issued on one instance verifies on the other.
    let pair = one.issue_pair(42).unwrap();
    two.verify_access_detailed(&pair.access).await.unwrap();

    // Revoked on one, refused on the other.
    one.revoke(&pair.access).await.unwrap();
    assert_refused!(verify(&two, &pair.access).await, JwtError::Revoked);

    // Refreshed on one, reused on the other: the family dies everywhere.
    let next = one.refresh_detailed(&pair.refresh).await.unwrap();
    two.verify_access_detailed(&next.access).await.unwrap();
    assert_refused!(two.refresh_detailed(&pair.refresh).await, JwtError::Reused);
    assert_refused!(verify(&one, &next.access).await, JwtError::Revoked);
    assert_refused!(one.refresh_detailed(&next.refresh).await, JwtError::Revoked);

    // Logout on one instance ends the family on the other.
    let pair = two.issue_pair(43).unwrap();
    two.revoke(&pair.refresh).await.unwrap();
    assert_refused!(verify(&one, &pair.access).await, JwtError::Revoked);

    // Both instances refresh the same token at once: exactly one succeeds, the other
    // sees the reuse (and the family, the winner's pair included, is revoked).
    for _ in 0..5 {
        let pair = one.issue_pair(44).unwrap();
        let (a, b) = (one.clone(), two.clone());
        let (ta, tb) = (pair.refresh.clone(), pair.refresh.clone());
        let first = tokio::spawn(async move { a.refresh_detailed(&ta).await });
        let second = tokio::spawn(async move { b.refresh_detailed(&tb).await });
        let results = [first.await.unwrap(), second.await.unwrap()];
        let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        assert!(
            results.iter().any(|r| matches!(r, Err(JwtError::Reused))),
            "{results:?}"
        );
        assert_refused!(verify(&one, &winners[0].access).await, JwtError::Revoked);
    }

    // A plain session keeps working on both.
    let pair = one.issue_pair(45).unwrap();
    let next = two.refresh_detailed(&pair.refresh).await.unwrap();
    let last = one.refresh_detailed(&next.refresh).await.unwrap();
    two.verify_access_detailed(&last.access).await.unwrap();
}

fn instance(store: Arc<dyn RevocationStore>) -> JwtLifecycle {
    jwt().with_store(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store() {
    let store = Arc::new(MemoryRevocationStore::new());
    store_contract(&*store).await;
    consume_race(store.clone()).await;
    instances_contract(instance(store.clone()), instance(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_store_over_the_in_memory_cache() {
    let cache: BoxedCache = Arc::new(InMemoryCache::new());
    let store = Arc::new(CacheRevocationStore::new(cache.clone()));
    store_contract(&*store).await;
    consume_race(store.clone()).await;
    // Two stores over one cache, as two processes over one Redis.
    let other = Arc::new(CacheRevocationStore::new(cache.clone()));
    instances_contract(instance(store), instance(other)).await;
    // Entries carry a TTL: nothing stays forever.
    let probe = CacheRevocationStore::new(cache.clone()).with_prefix("probe:");
    probe
        .revoke("x", Utc::now() + Duration::seconds(30))
        .await
        .unwrap();
    let left = || async {
        match cache.ttl("probe:jti:x").await.unwrap() {
            rustango_cache::KeyTtl::ExpiresIn(left) => left.as_secs_f64(),
            other => panic!("{other:?}"),
        }
    };
    assert!((25.0..=31.0).contains(&left().await));
    // A later revocation lengthens the TTL, an earlier one leaves it.
    probe
        .revoke("x", Utc::now() + Duration::seconds(100))
        .await
        .unwrap();
    assert!((95.0..=101.0).contains(&left().await));
    probe
        .revoke("x", Utc::now() + Duration::seconds(2))
        .await
        .unwrap();
    assert!((95.0..=101.0).contains(&left().await));
}

rustango_orm::backend_test! {
    async fn db_store(pool) {
        rustango_orm::create_tables(&pool, &[JwtRevocation::SCHEMA]).await?;
        let store = Arc::new(DbRevocationStore::new(pool.clone()));
        store_contract(&*store).await;
        consume_race(store.clone()).await;
        let other = Arc::new(DbRevocationStore::new(pool.clone()));
        instances_contract(instance(store.clone()), instance(other)).await;

        // Expired rows are purged; live ones stay.
        store.revoke("old", Utc::now() - Duration::seconds(1)).await.unwrap();
        store.revoke("live", Utc::now() + Duration::seconds(60)).await.unwrap();
        let removed = store.purge_expired().await.unwrap();
        assert!(removed >= 1, "{removed}");
        assert_eq!(
            JwtRevocation::objects()
                .filter(rustango_orm::Column::lte(JwtRevocation::expires_at, Utc::now()))
                .count(&pool)
                .await?,
            0
        );
        assert!(store.is_revoked("live").await.unwrap());
        Ok(())
    }
}

#[cfg(feature = "__test-redis")]
mod redis {
    use rustango_cache::Cache as _;
    use rustango_cache::redis_backend::RedisCache;

    use super::*;

    /// A connection of its own (an "instance") under `prefix`.
    async fn connect(prefix: &str) -> RedisCache {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| {
            panic!("REDIS_URL is not set: the Redis suite needs a server; run it with `cargo xtask test-redis`")
        });
        RedisCache::new(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to Redis at REDIS_URL: {e}"))
            .with_prefix(prefix)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_store_is_shared_between_instances() {
        let prefix = format!("rustango-test:{}:", uuid::Uuid::new_v4().simple());
        let one: BoxedCache = Arc::new(connect(&prefix).await);
        let two: BoxedCache = Arc::new(connect(&prefix).await);
        let store = Arc::new(CacheRevocationStore::new(one.clone()));
        store_contract(&*store).await;
        consume_race(store.clone()).await;
        let other = Arc::new(CacheRevocationStore::new(two.clone()));
        instances_contract(instance(store.clone()), instance(other)).await;

        // Every key expires.
        let probe = connect(&prefix).await;
        let mut conn = probe.connection();
        let keys: Vec<String> = rustango_cache::redis_backend::redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(!keys.is_empty());
        for key in keys {
            let ttl: i64 = rustango_cache::redis_backend::redis::cmd("PTTL")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!(ttl > 0, "{key} has no expiry ({ttl})");
        }
        one.clear().await.unwrap();
    }
}
