//! The store contract on every store, plus each store's own guarantees.

use std::sync::Arc;

use rustango_auth::sessions::{
    CacheSessionStore, DbSessionStore, ExpiredDeletion, MemorySessionStore, SessionStore,
    StoredSession,
};
use rustango_cache::{BoxedCache, Cache, InMemoryCache};
use rustango_orm::create_tables;

use crate::support::{check_live, contract, record, seed_expired};

#[tokio::test]
async fn memory_store_contract() {
    let store = MemorySessionStore::new();
    contract(&store).await;
}

#[tokio::test]
async fn memory_store_deletes_expired_records() {
    let store = MemorySessionStore::new();
    let live = seed_expired(&store).await;
    assert_eq!(store.len(), 3);
    assert_eq!(store.delete_expired(), 2);
    assert_eq!(store.len(), 1);
    check_live(&store, &live).await;
    // the trait's method does the same
    seed_expired(&store).await;
    ExpiredDeletion::delete_expired(&store).await.unwrap();
    assert_eq!(store.len(), 2);
}

#[tokio::test]
async fn memory_store_forgets_an_expired_record_when_loading_it() {
    let store = MemorySessionStore::new();
    let expired = record(serde_json::json!({}), -time::Duration::seconds(1));
    store.save(&expired).await.unwrap();
    assert_eq!(store.len(), 1);
    assert!(store.load(&expired.id).await.unwrap().is_none());
    assert!(store.is_empty());
}

#[tokio::test]
async fn memory_store_debug_shows_no_data() {
    let store = MemorySessionStore::new();
    store
        .save(&record(
            serde_json::json!({"secret": "hunter2"}),
            time::Duration::minutes(1),
        ))
        .await
        .unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

#[tokio::test]
async fn cache_store_contract_on_the_in_memory_cache() {
    let cache: BoxedCache = Arc::new(InMemoryCache::new());
    let store = CacheSessionStore::new(cache.clone());
    contract(&store).await;
}

#[tokio::test]
async fn cache_store_keys_are_hashed_and_expire() {
    let cache: BoxedCache = Arc::new(InMemoryCache::new());
    let store = CacheSessionStore::new(cache.clone());
    let mut session = record(serde_json::json!({"a": 1}), time::Duration::minutes(5));
    store.create(&mut session).await.unwrap();

    let key = CacheSessionStore::key(&session.id);
    assert!(key.starts_with("session:"));
    assert!(!key.contains(&session.id.to_string()));
    assert_eq!(key.len(), "session:".len() + 64);
    match cache.ttl(&key).await.unwrap() {
        rustango_cache::KeyTtl::ExpiresIn(left) => {
            assert!(left <= std::time::Duration::from_secs(300) && left.as_secs() >= 298);
        }
        other => panic!("session key without expiry: {other:?}"),
    }

    // saving an expired record removes its key
    session.expiry_date = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    store.save(&session).await.unwrap();
    assert!(!cache.exists(&key).await.unwrap());
}

rustango_orm::backend_test! {
    async fn db_store_contract(pool) {
        create_tables(&pool, &[StoredSession::SCHEMA]).await?;
        let store = DbSessionStore::new(pool.clone());
        contract(&store).await;
        Ok(())
    }
}

rustango_orm::backend_test! {
    async fn db_store_deletes_expired_rows(pool) {
        create_tables(&pool, &[StoredSession::SCHEMA]).await?;
        let store = DbSessionStore::new(pool.clone());
        let live = seed_expired(&store).await;
        assert_eq!(StoredSession::objects().count(&pool).await?, 3);
        assert_eq!(store.delete_expired().await.unwrap(), 2);
        assert_eq!(StoredSession::objects().count(&pool).await?, 1);
        check_live(&store, &live).await;
        seed_expired(&store).await;
        ExpiredDeletion::delete_expired(&store).await.unwrap();
        assert_eq!(StoredSession::objects().count(&pool).await?, 2, "two live rows");
        Ok(())
    }
}

rustango_orm::backend_test! {
    async fn db_store_keeps_no_cookie_value(pool) {
        create_tables(&pool, &[StoredSession::SCHEMA]).await?;
        let store = DbSessionStore::new(pool.clone());
        let mut session = record(serde_json::json!({"user_id": 5}), time::Duration::minutes(5));
        store.create(&mut session).await.unwrap();
        let rows = StoredSession::objects().fetch(&pool).await?;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id.len(), 64);
        assert_ne!(rows[0].id, session.id.to_string());
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&rows[0].data).unwrap(),
            serde_json::json!({"user_id": 5})
        );
        assert!(!format!("{:?}", rows[0]).contains("user_id"));
        Ok(())
    }
}

rustango_orm::backend_test! {
    async fn db_store_cleanup_task_runs(pool) {
        create_tables(&pool, &[StoredSession::SCHEMA]).await?;
        let store = DbSessionStore::new(pool.clone());
        let live = seed_expired(&store).await;
        let task = rustango_auth::sessions::spawn_delete_expired(
            store.clone(),
            std::time::Duration::from_millis(100),
        );
        let mut left = 3;
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            left = StoredSession::objects().count(&pool).await?;
            if left == 1 {
                break;
            }
        }
        task.abort();
        assert_eq!(left, 1, "the task deleted the expired rows");
        check_live(&store, &live).await;
        Ok(())
    }
}

#[cfg(feature = "__test-redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_contract() {
    let redis = crate::support::redis_cache().await;
    let cache: BoxedCache = Arc::new(redis.clone());
    let store = CacheSessionStore::new(cache.clone());
    contract(&store).await;

    // Every key the store wrote and left has a TTL.
    let mut live = record(serde_json::json!({"a": 1}), time::Duration::minutes(5));
    store.create(&mut live).await.unwrap();
    store.save(&live).await.unwrap();
    let keys = crate::support::redis_keys_with_ttl(&redis).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    for (key, ttl) in &keys {
        assert!(key.contains("session:"), "{key}");
        assert!(*ttl > 0 && *ttl <= 300, "{key} has TTL {ttl}");
    }
    cache.clear().await.unwrap();
}
