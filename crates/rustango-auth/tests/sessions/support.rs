//! What the store and flow tests share.

use std::collections::HashMap;

use rustango_auth::sessions::{Id, Record, SessionStore};
use time::{Duration, OffsetDateTime};

/// A new record holding `data` (a JSON object) that expires in `ttl`.
pub fn record(data: serde_json::Value, ttl: Duration) -> Record {
    let data: HashMap<String, serde_json::Value> =
        serde_json::from_value(data).expect("data is a JSON object");
    Record {
        id: Id::default(),
        data,
        expiry_date: OffsetDateTime::now_utc() + ttl,
    }
}

/// `loaded` is `expected`, with the expiry equal to the database's precision
/// (PostgreSQL keeps microseconds).
#[track_caller]
pub fn assert_same(loaded: &Record, expected: &Record) {
    assert_eq!(loaded.id, expected.id);
    assert_eq!(loaded.data, expected.data);
    let drift = (loaded.expiry_date - expected.expiry_date).abs();
    assert!(
        drift < Duration::milliseconds(1),
        "expiry {} differs from {} by {drift}",
        loaded.expiry_date,
        expected.expiry_date
    );
}

async fn load<S: SessionStore>(store: &S, id: &Id) -> Option<Record> {
    store.load(id).await.expect("load")
}

/// The `SessionStore` contract, one body for every store.
pub async fn contract<S: SessionStore>(store: &S) {
    // create, then load
    let mut first = record(serde_json::json!({"user_id": 1}), Duration::minutes(5));
    store.create(&mut first).await.expect("create");
    assert_same(
        &load(store, &first.id).await.expect("created record"),
        &first,
    );

    // save replaces the data and the expiry
    first
        .data
        .insert("cart".into(), serde_json::json!([1, 2, 3]));
    first.expiry_date += Duration::minutes(10);
    store.save(&first).await.expect("save");
    assert_same(&load(store, &first.id).await.expect("saved record"), &first);

    // save of a record that was never created stores it too (tower-sessions saves
    // a session whose id it already knows)
    let unsaved = record(serde_json::json!({"n": 7}), Duration::minutes(5));
    store.save(&unsaved).await.expect("save new");
    assert_same(&load(store, &unsaved.id).await.expect("saved"), &unsaved);

    // an unknown id loads nothing
    assert!(load(store, &Id::default()).await.is_none());

    // collisions: creating with a taken id takes a fresh one and leaves the other alone
    let mut second = record(serde_json::json!({"user_id": 2}), Duration::minutes(5));
    second.id = first.id;
    store
        .create(&mut second)
        .await
        .expect("create on collision");
    assert_ne!(
        second.id, first.id,
        "a colliding create must take a fresh id"
    );
    assert_same(&load(store, &first.id).await.expect("first kept"), &first);
    assert_same(
        &load(store, &second.id).await.expect("second stored"),
        &second,
    );

    // delete, idempotently
    store.delete(&first.id).await.expect("delete");
    assert!(load(store, &first.id).await.is_none());
    store.delete(&first.id).await.expect("delete again");
    assert_same(
        &load(store, &second.id).await.expect("second kept"),
        &second,
    );
    store.delete(&second.id).await.expect("delete");
    store.delete(&unsaved.id).await.expect("delete");

    // expiry: an expired record is not loaded, whether saved or created
    let expired = record(serde_json::json!({"old": true}), -Duration::seconds(1));
    store.save(&expired).await.expect("save expired");
    assert!(load(store, &expired.id).await.is_none());
    let mut expired = record(serde_json::json!({"old": true}), -Duration::seconds(1));
    store.create(&mut expired).await.expect("create expired");
    assert!(load(store, &expired.id).await.is_none());

    // ...nor one that expires while stored
    let mut brief = record(serde_json::json!({"brief": 1}), Duration::milliseconds(400));
    store.create(&mut brief).await.expect("create brief");
    assert!(load(store, &brief.id).await.is_some());
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert!(load(store, &brief.id).await.is_none());

    // creating over an expired record's id takes a fresh id or reuses it, never fails
    let mut again = record(serde_json::json!({"again": 1}), Duration::minutes(5));
    again.id = brief.id;
    store.create(&mut again).await.expect("create over expired");
    assert_same(&load(store, &again.id).await.expect("stored"), &again);
    store.delete(&again.id).await.expect("delete");
}

/// Saves two expired records and a live one; the caller deletes expired records and
/// checks that two went; then [`check_live`] checks the live one stayed.
pub async fn seed_expired<S: SessionStore>(store: &S) -> Record {
    for _ in 0..2 {
        let expired = record(serde_json::json!({"old": true}), -Duration::seconds(5));
        store.save(&expired).await.expect("save expired");
    }
    let live = record(serde_json::json!({"live": true}), Duration::minutes(5));
    store.save(&live).await.expect("save live");
    live
}

/// The live record of [`seed_expired`] survived.
pub async fn check_live<S: SessionStore>(store: &S, live: &Record) {
    assert_same(
        &load(store, &live.id).await.expect("live record kept"),
        live,
    );
}

/// A Redis cache under a prefix of its own, for one test.
///
/// # Panics
/// When `REDIS_URL` is unset or Redis cannot be reached: the suite never passes by
/// skipping.
#[cfg(feature = "__test-redis")]
pub async fn redis_cache() -> rustango_cache::redis_backend::RedisCache {
    let url = std::env::var("REDIS_URL").expect(
        "REDIS_URL is not set: the Redis suite needs a server \
         (REDIS_URL=redis://127.0.0.1:6379/, or run `cargo xtask test-redis`)",
    );
    rustango_cache::redis_backend::RedisCache::new(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to Redis at REDIS_URL: {e}"))
        .with_prefix(format!("rustango-test-{}:", uuid::Uuid::new_v4().simple()))
}

/// Every Redis key under the cache's prefix, with its TTL in seconds (`TTL`: -1 for
/// none, -2 if it vanished in between).
#[cfg(feature = "__test-redis")]
pub async fn redis_keys_with_ttl(
    cache: &rustango_cache::redis_backend::RedisCache,
) -> Vec<(String, i64)> {
    use rustango_cache::redis_backend::redis;
    let mut conn = cache.connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", cache.prefix()))
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let ttl: i64 = redis::cmd("TTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .expect("TTL");
        out.push((key, ttl));
    }
    out
}
