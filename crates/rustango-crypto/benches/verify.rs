//! Verification cost per request, each next to a hand-written baseline doing the
//! bare cryptography (raw SHA-256 / HMAC and a plain comparison) in the same run, so
//! the report shows what parsing and constant-time comparison add.
//!
//! Run with `cargo bench -p rustango-crypto --features full`. Target: API key
//! verification under 20 µs (it is well under 1 µs); the argon2 row shows what a
//! slow hash would cost per request instead.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{KeyInit as _, Mac as _};
use rustango_crypto::{api_keys, passwords, signed_url, webhook};
use sha2::{Digest as _, Sha256};

type HmacSha256 = hmac::Hmac<Sha256>;

const KEY: &[u8] = b"benchmark key, 32 bytes or more!!!";
const NOW: u64 = 1_700_000_000;

fn raw_hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn api_key_verify(c: &mut Criterion) {
    let (token, _, hash) = api_keys::generate_key().expect("rng");
    let (_, secret) = api_keys::split_token(&token).expect("own token");
    let secret = secret.to_owned();
    let expected: [u8; 32] = Sha256::digest(secret.as_bytes()).into();

    let mut group = c.benchmark_group("api_key_verify");
    group.bench_function("baseline_raw_sha256_eq", |b| {
        b.iter(|| {
            let d: [u8; 32] = Sha256::digest(black_box(secret.as_bytes())).into();
            d == black_box(expected)
        });
    });
    group.bench_function("split_token_and_verify_key", |b| {
        b.iter(|| {
            let (_, s) = api_keys::split_token(black_box(&token)).expect("valid");
            api_keys::verify_key(s, black_box(&hash)).expect("well-formed hash")
        });
    });
    // What the spec's argon2-hashed keys cost per request (OWASP parameters).
    let phc = passwords::hash_password(&secret).expect("hash");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("argon2id_phc_compat", |b| {
        b.iter(|| api_keys::verify_key(black_box(&secret), black_box(&phc)).expect("ok"));
    });
    group.finish();
}

fn signed_url_verify(c: &mut Criterion) {
    let url = signed_url::sign_at(
        "https://app.example.com/login?email=alice@example.com&next=/dashboard",
        KEY,
        Some(Duration::from_secs(3600)),
        NOW,
    );
    let mut group = c.benchmark_group("signed_url_verify");
    group.bench_function("baseline_raw_hmac_of_url", |b| {
        b.iter(|| raw_hmac(KEY, black_box(url.as_bytes())));
    });
    group.bench_function("verify_at", |b| {
        b.iter(|| signed_url::verify_at(black_box(&url), KEY, NOW).expect("valid"));
    });
    group.finish();
}

fn webhook_verify(c: &mut Criterion) {
    let payload = vec![b'x'; 1024];
    let header = webhook::sign(KEY, &payload);
    let timestamped = webhook::sign_timestamped(KEY, &payload, NOW);
    let expected = raw_hmac(KEY, &payload);

    let mut group = c.benchmark_group("webhook_verify_1KiB");
    group.bench_function("baseline_raw_hmac_eq", |b| {
        b.iter(|| raw_hmac(KEY, black_box(&payload)) == black_box(expected));
    });
    group.bench_function("verify_signature_hex", |b| {
        b.iter(|| webhook::verify_signature(KEY, black_box(&payload), black_box(&header)));
    });
    group.bench_function("verify_timestamped", |b| {
        b.iter(|| {
            webhook::verify_timestamped(
                KEY,
                black_box(&payload),
                black_box(&timestamped),
                webhook::DEFAULT_TOLERANCE,
                NOW,
            )
        });
    });
    group.finish();
}

criterion_group!(benches, api_key_verify, signed_url_verify, webhook_verify);
criterion_main!(benches);
