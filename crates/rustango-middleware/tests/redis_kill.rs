//! An app instance killed (SIGKILL) in the middle of a request leaves no Redis key
//! without an expiry: the idempotency claim and the rate-limit counter it made both
//! expire on their own. The instance is a child process (this test binary, re-run),
//! killed while its handler is running.
#![cfg(feature = "__test-redis")]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use redis::AsyncCommands as _;
use rustango_cache::redis_backend::RedisCache;
use rustango_http::test_client::TestClient;
use rustango_middleware::idempotency::IdempotencyLayer;
use rustango_middleware::prelude::*;
use rustango_middleware::rate_limit::RateLimitLayer;

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("REDIS_URL is not set: the Redis tests need a server (run `cargo xtask test-redis`)")
    })
}

#[test]
fn redis_keys_of_a_killed_instance_all_expire() {
    // Re-run by itself as the app instance (see below): be that instance.
    if let Ok(prefix) = std::env::var("RUSTANGO_KILL_PREFIX") {
        return redis_kill_child(prefix);
    }
    let prefix = format!("rustango-test:kill:{}:", uuid::Uuid::new_v4().simple());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "redis_keys_of_a_killed_instance_all_expire",
            "--nocapture",
        ])
        .env("RUSTANGO_KILL_PREFIX", &prefix)
        .env("REDIS_URL", redis_url())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the child's handler runs, then kill it: no code of its runs after.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l == "IN-FLIGHT");
    assert!(ready, "the child never reached its handler");
    child.kill().unwrap();
    let _ = child.wait();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = redis::Client::open(redis_url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = conn.keys(format!("{prefix}*")).await.unwrap();
        assert!(
            keys.len() >= 2,
            "expected the idempotency claim and the rate-limit counter, found {keys:?}"
        );
        for key in &keys {
            let ttl: i64 = redis::cmd("PTTL")
                .arg(key)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!(ttl > 0, "{key} has no expiry (PTTL {ttl})");
        }
        let _: () = conn.del(&keys).await.unwrap();
    });
}

/// The instance of [`redis_keys_of_a_killed_instance_all_expire`]: this test binary
/// run again with `RUSTANGO_KILL_PREFIX` set, killed while its handler runs.
fn redis_kill_child(prefix: String) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let cache: rustango_cache::BoxedCache =
                Arc::new(RedisCache::new(&redis_url()).await.unwrap());
            let app = Router::new()
                .route(
                    "/charges",
                    post(|| async {
                        println!("IN-FLIGHT");
                        tokio::time::sleep(Duration::from_secs(600)).await;
                        "never"
                    }),
                )
                .idempotency(
                    IdempotencyLayer::new(cache.clone())
                        .key_prefix(format!("{prefix}idem:"))
                        .lock_ttl(Duration::from_secs(30)),
                )
                .rate_limit(
                    RateLimitLayer::per_ip(100, Duration::from_secs(60))
                        .store(cache)
                        .key_prefix(format!("{prefix}rl:")),
                );
            let client = TestClient::new(app);
            client
                .post("/charges")
                .header("idempotency-key", "k1")
                .body("10 EUR")
                .send()
                .await;
        });
}
