//! Sign-in throughput: `POST /auth/login` through the router (JSON parsing, throttle
//! counters, the user query, argon2id verification, session rotation, `last_login`
//! update) against argon2id verification alone, in the same run. The target is a
//! ratio of at least 0.9: the endpoint adds under 10% to the hash it cannot avoid.
//!
//! `cargo bench -p rustango-auth --bench login`

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use criterion::{Criterion, criterion_group, criterion_main};
use rustango_auth::flows::AuthRoutes;
use rustango_auth::sessions::{MemorySessionStore, SessionConfig};
use rustango_auth::{APP, users};
use rustango_http::test_client::TestClient;
use rustango_migrate::{MigrationSet, Runner, Target};

const PASSWORD: &str = "a benchmark passphrase 2026";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (client, hash, db) = rt.block_on(async {
        let db = rustango_orm::testing::TestDb::sqlite().await;
        let pool = db.pool.clone();
        let set = MigrationSet::default().with_apps(&[APP]).unwrap();
        Runner::new(&pool, &set)
            .migrate(&Target::Latest)
            .await
            .unwrap();
        let user = users::create_user(&pool, "bench", "", Some(PASSWORD))
            .await
            .unwrap();
        let routes = AuthRoutes::new(pool.clone(), Arc::new(rustango_cache::InMemoryCache::new()));
        let app: Router = Router::new()
            .nest("/auth", routes.router())
            .layer(SessionConfig::new(false).layer(MemorySessionStore::new()));
        (TestClient::new(app), user.password, db)
    });
    let body = serde_json::json!({"username": "bench", "password": PASSWORD});

    let mut group = c.benchmark_group("login");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(2));
    group.bench_function("argon2id_verify_baseline", |b| {
        b.iter(|| {
            assert!(rustango_crypto::passwords::verify_password(PASSWORD, &hash).unwrap());
        })
    });
    let pool = db.pool.clone();
    group.bench_function("users_authenticate", |b| {
        b.to_async(&rt).iter(|| async {
            assert!(
                users::authenticate(&pool, "bench", PASSWORD)
                    .await
                    .unwrap()
                    .is_some()
            );
        })
    });
    group.bench_function("record_login", |b| {
        b.to_async(&rt).iter(|| async {
            let mut u = users::get_by_username(&pool, "bench")
                .await
                .unwrap()
                .unwrap();
            users::record_login(&pool, &mut u).await.unwrap();
        })
    });
    group.bench_function("post_auth_login", |b| {
        b.to_async(&rt).iter(|| async {
            client.clear_cookies();
            let r = client.post("/auth/login").json(&body).send().await;
            assert_eq!(r.status, 200);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
