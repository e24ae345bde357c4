//! Access-token verification per request: `JwtLifecycle::verify_access` (memory
//! revocation store) against a bare `jsonwebtoken::decode` of the same token with the
//! same key, in the same run, for HS256, RS256 and EdDSA.
//!
//! `cargo bench -p rustango-auth --bench jwt`. After the criterion output it prints µs
//! per verification and the ratio lifecycle/bare (target: under 20 µs for HS256).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use jsonwebtoken::{DecodingKey, Validation};
use rustango_auth::jwt_lifecycle::{JwtKey, JwtLifecycle, KeySet};
use serde_json::json;

#[path = "../tests/jwt/keys.rs"]
mod keys;

/// One algorithm: the lifecycle, a token it issued, and the bare decoding setup.
struct Case {
    name: &'static str,
    jwt: JwtLifecycle,
    token: String,
    key: DecodingKey,
    validation: Validation,
}

fn cases() -> Vec<Case> {
    let secret = [7u8; 32];
    let setups = [
        (
            "HS256",
            JwtKey::hs256(&secret).unwrap(),
            DecodingKey::from_secret(&secret),
        ),
        (
            "RS256",
            JwtKey::rs256_pem(keys::RSA1_PRIVATE.as_bytes())
                .unwrap()
                .with_kid("r"),
            DecodingKey::from_rsa_pem(keys::RSA1_PUBLIC.as_bytes()).unwrap(),
        ),
        (
            "EdDSA",
            JwtKey::eddsa_pem(keys::ED1_PRIVATE.as_bytes())
                .unwrap()
                .with_kid("e"),
            DecodingKey::from_ed_pem(keys::ED1_PUBLIC.as_bytes()).unwrap(),
        ),
    ];
    setups
        .into_iter()
        .map(|(name, key, decoding)| {
            let alg = key.algorithm();
            let jwt = JwtLifecycle::with_keys(KeySet::new(key).unwrap());
            // A realistic payload: roles, tenant and scope as custom claims.
            let custom = json!({
                "roles": ["admin", "editor"],
                "tenant": "acme",
                "scope": "read:posts write:posts",
            });
            let token = jwt
                .issue_pair_with(42, custom.as_object().unwrap().clone())
                .unwrap()
                .access;
            let mut validation = Validation::new(alg);
            validation.validate_nbf = true;
            Case {
                name,
                jwt,
                token,
                key: decoding,
                validation,
            }
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    for case in cases() {
        let mut group = c.benchmark_group(format!("verify_access/{}", case.name));
        group.bench_function("rustango", |b| {
            b.to_async(&rt).iter(|| async {
                black_box(case.jwt.verify_access(black_box(&case.token)).await).unwrap();
            });
        });
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<serde_json::Value>(
                    black_box(&case.token),
                    &case.key,
                    &case.validation,
                )
                .unwrap()
            });
        });
        group.finish();
    }
}

/// Mean time per call of `f` over `iters` calls, after a warm-up.
fn mean(iters: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..iters / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed() / iters
}

/// µs per verification and the ratio to the bare decode, one line per algorithm.
fn summary() {
    let rt = runtime();
    println!("\nverify_access per request (memory store) vs bare jsonwebtoken::decode:");
    for case in cases() {
        let iters = if case.name == "HS256" { 50_000 } else { 5_000 };
        let ours = rt.block_on(async {
            // Timed inside one runtime entry, as a request handler runs.
            for _ in 0..iters / 10 {
                black_box(case.jwt.verify_access(&case.token).await).unwrap();
            }
            let start = Instant::now();
            for _ in 0..iters {
                black_box(case.jwt.verify_access(black_box(&case.token)).await).unwrap();
            }
            start.elapsed() / iters
        });
        let bare = mean(iters, || {
            black_box(
                jsonwebtoken::decode::<serde_json::Value>(
                    black_box(&case.token),
                    &case.key,
                    &case.validation,
                )
                .unwrap(),
            );
        });
        println!(
            "  {:<6} rustango {:>8.2} µs   jsonwebtoken {:>8.2} µs   ratio {:.2}",
            case.name,
            ours.as_secs_f64() * 1e6,
            bare.as_secs_f64() * 1e6,
            ours.as_secs_f64() / bare.as_secs_f64()
        );
    }
}

criterion_group!(jwt_benches, benches);

fn main() {
    jwt_benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
