//! Integration tests of rustango-crypto, one binary (one link) for all modules.
//! Each module compiles only with its feature, so `cargo test` without features
//! still builds and passes.

#[cfg(feature = "api_keys")]
mod api_keys;
#[cfg(feature = "passwords")]
mod passwords;
#[cfg(feature = "full")]
mod props;
#[cfg(feature = "signed_url")]
mod signed_url;
#[cfg(feature = "signing")]
mod signing;
#[cfg(feature = "totp")]
mod totp;
#[cfg(feature = "webhook")]
mod webhook;

#[test]
fn constant_time_eq_is_always_available() {
    assert!(rustango_crypto::constant_time_eq(b"abc", b"abc"));
    assert!(!rustango_crypto::constant_time_eq(b"abc", b"abd"));
    assert!(!rustango_crypto::constant_time_eq(b"abc", b"ab"));
}
