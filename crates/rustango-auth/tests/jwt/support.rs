//! Helpers: hand-made tokens and assertions.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use rustango_auth::jwt_lifecycle::{JwtError, JwtLifecycle};
use serde_json::{Value, json};

/// The HS256 secret of most tests.
pub const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

/// A lifecycle on [`SECRET`] with an in-memory store.
pub fn jwt() -> JwtLifecycle {
    JwtLifecycle::new(SECRET)
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The claims of a valid token of type `typ`, as the lifecycle writes them.
pub fn payload(typ: &str) -> Value {
    let now = now();
    json!({
        "sub": "42",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid::Uuid::new_v4().simple().to_string(),
        "typ": typ,
        "fam": uuid::Uuid::new_v4().simple().to_string(),
    })
}

/// `payload(typ)` with `changes` merged in (a `null` removes the claim).
pub fn payload_with(typ: &str, changes: Value) -> Value {
    let mut p = payload(typ);
    let obj = p.as_object_mut().unwrap();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            obj.remove(k);
        } else {
            obj.insert(k.clone(), v.clone());
        }
    }
    p
}

/// A token with exactly this header and payload text, signed with `key` as `alg`.
pub fn sign_raw(header: &str, payload: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

/// A token with `header` and `payload` (JSON), signed with `key` as `alg`.
pub fn sign(header: &Value, payload: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    sign_raw(&header.to_string(), &payload.to_string(), key, alg)
}

/// An HS256 token on [`SECRET`].
pub fn hs256(payload: &Value) -> String {
    sign(
        &json!({"alg": "HS256", "typ": "JWT"}),
        payload,
        &EncodingKey::from_secret(SECRET),
        Algorithm::HS256,
    )
}

/// The three parts of a token.
pub fn parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.');
    let (h, p, s) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    (h.to_owned(), p.to_owned(), s.to_owned())
}

/// The decoded payload of a token.
pub fn decode_payload(token: &str) -> Value {
    let (_, p, _) = parts(token);
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

/// The decoded header of a token.
pub fn decode_header(token: &str) -> Value {
    let (h, _, _) = parts(token);
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
}

/// Asserts that `result` is an error matching `pattern`.
#[macro_export]
macro_rules! assert_refused {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err(e) if matches!(e, $pattern) => {}
            Err(e) => panic!("expected {}, got the error {e:?}", stringify!($pattern)),
            Ok(_) => panic!("expected {}, but it was accepted", stringify!($pattern)),
        }
    };
}

/// Verifies `token` as an access token on `jwt`.
pub async fn verify(jwt: &JwtLifecycle, token: &str) -> Result<(), JwtError> {
    jwt.verify_access_detailed(token).await.map(|_| ())
}
