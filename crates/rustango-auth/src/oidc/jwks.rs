//! The provider's signing keys (JWKS): cached, refetched on an unknown `kid` (rate
//! limited) so that key rotation works, and the id_token checks that use them.

use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sha2::Digest as _;

use super::error::{Endpoint, OidcError};
use super::http;

/// The asymmetric algorithms accepted by default. `none` and the `HS*` family are
/// never accepted, whatever the configuration says: a provider's public key must not
/// become an HMAC secret.
pub(crate) const DEFAULT_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Whether `alg` is a public-key signature algorithm.
pub(crate) fn is_asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

struct Snapshot {
    keys: Arc<JwkSet>,
    /// The last successful fetch.
    fetched_at: Option<Instant>,
    /// The last fetch attempt, successful or not (for the rate limit).
    attempted_at: Option<Instant>,
    generation: u64,
}

/// The provider's JWKS, fetched lazily and kept for `max_age`; fetched again, at
/// most once per `min_refetch_interval`, when a token names a key it does not hold.
pub(crate) struct KeyCache {
    uri: String,
    snapshot: RwLock<Snapshot>,
    fetch_lock: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
    min_refetch_interval: Duration,
    max_age: Duration,
}

impl KeyCache {
    pub(crate) fn new(uri: String, min_refetch_interval: Duration, max_age: Duration) -> Self {
        KeyCache {
            uri,
            snapshot: RwLock::new(Snapshot {
                keys: Arc::new(JwkSet { keys: Vec::new() }),
                fetched_at: None,
                attempted_at: None,
                generation: 0,
            }),
            fetch_lock: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
            min_refetch_interval,
            max_age,
        }
    }

    /// How many times the JWKS was fetched.
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn current(&self) -> (Arc<JwkSet>, Option<Instant>, u64) {
        let s = self
            .snapshot
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (s.keys.clone(), s.fetched_at, s.generation)
    }

    /// Fetches the JWKS unless another task did since `seen_generation`.
    async fn refresh(
        &self,
        client: &reqwest::Client,
        seen_generation: u64,
    ) -> Result<Arc<JwkSet>, OidcError> {
        let _guard = self.fetch_lock.lock().await;
        let (keys, _, generation) = self.current();
        if generation != seen_generation {
            return Ok(keys);
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        self.snapshot
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .attempted_at = Some(Instant::now());
        let set: JwkSet = http::get_json(client, Endpoint::Jwks, &self.uri).await?;
        let set = Arc::new(set);
        let mut s = self
            .snapshot
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.keys = set.clone();
        s.fetched_at = Some(Instant::now());
        s.generation = generation + 1;
        tracing::debug!(keys = set.keys.len(), "fetched the provider's JWKS");
        Ok(set)
    }

    /// Fetches the JWKS now (unless a fetch is already running).
    pub(crate) async fn force_refresh(&self, client: &reqwest::Client) -> Result<(), OidcError> {
        let (_, _, generation) = self.current();
        self.refresh(client, generation).await.map(drop)
    }

    /// The keys that may have signed a token with this `kid` and `alg`: from the
    /// cache, else (an unknown key: rotation) after one rate-limited refetch.
    pub(crate) async fn keys_for(
        &self,
        client: &reqwest::Client,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Vec<DecodingKey>, OidcError> {
        let (mut keys, fetched_at, generation) = self.current();
        let mut refetched = false;
        match fetched_at {
            None => {
                keys = self.refresh(client, generation).await?;
                refetched = true;
            }
            Some(at) if at.elapsed() >= self.max_age => {
                match self.refresh(client, generation).await {
                    Ok(fresh) => {
                        keys = fresh;
                        refetched = true;
                    }
                    // Keep verifying with the keys we have while the provider is down.
                    Err(e) => tracing::warn!(error = %e, "could not refresh the JWKS"),
                }
            }
            Some(_) => {}
        }
        let found = select(&keys, kid, alg);
        if !found.is_empty() || refetched {
            return if found.is_empty() {
                Err(unknown(kid))
            } else {
                Ok(found)
            };
        }
        let attempted_at = self
            .snapshot
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .attempted_at;
        if attempted_at.is_some_and(|at| at.elapsed() < self.min_refetch_interval) {
            // Another task may be fetching right now (or just did): use its keys.
            drop(self.fetch_lock.lock().await);
            let (latest, _, latest_generation) = self.current();
            let found = if latest_generation == generation {
                Vec::new()
            } else {
                select(&latest, kid, alg)
            };
            if found.is_empty() {
                tracing::info!(?kid, "unknown signing key, JWKS fetched too recently");
                return Err(unknown(kid));
            }
            return Ok(found);
        }
        tracing::info!(?kid, "unknown signing key: fetching the JWKS again");
        let keys = self.refresh(client, generation).await?;
        let found = select(&keys, kid, alg);
        if found.is_empty() {
            Err(unknown(kid))
        } else {
            Ok(found)
        }
    }
}

fn unknown(kid: Option<&str>) -> OidcError {
    OidcError::UnknownKey {
        kid: kid.map(str::to_owned),
    }
}

/// The keys of `set` usable to verify `alg` signatures, with `kid` if given.
pub(crate) fn select(set: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Vec<DecodingKey> {
    set.keys
        .iter()
        .filter(|jwk| kid.is_none_or(|kid| jwk.common.key_id.as_deref() == Some(kid)))
        .filter(|jwk| usable_for(jwk, alg))
        .filter_map(|jwk| match DecodingKey::from_jwk(jwk) {
            Ok(key) => Some(key),
            Err(e) => {
                tracing::warn!(kid = ?jwk.common.key_id, error = %e, "unusable JWK");
                None
            }
        })
        .collect()
}

/// Whether `jwk` is a public signature-verification key of the type `alg` needs.
fn usable_for(jwk: &Jwk, alg: Algorithm) -> bool {
    let common = &jwk.common;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return false;
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return false;
    }
    if common
        .key_algorithm
        .is_some_and(|a| a != KeyAlgorithm::from(alg))
    {
        return false;
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ),
        AlgorithmParameters::EllipticCurve(ec) => matches!(
            (&ec.curve, alg),
            (EllipticCurve::P256, Algorithm::ES256) | (EllipticCurve::P384, Algorithm::ES384)
        ),
        AlgorithmParameters::OctetKeyPair(okp) => {
            okp.curve == EllipticCurve::Ed25519 && alg == Algorithm::EdDSA
        }
        // Symmetric and unknown keys never verify an id_token.
        _ => false,
    }
}

/// What an id_token is checked against.
pub(crate) struct Expected<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) leeway: Duration,
    pub(crate) access_token: Option<&'a str>,
}

/// The header's `alg` and `kid`, read without trusting anything else in it.
pub(crate) fn header(token: &str) -> Result<(String, Option<String>), OidcError> {
    let malformed = |reason: &str| OidcError::MalformedIdToken {
        reason: reason.to_owned(),
    };
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => return Err(malformed("encrypted id_tokens (JWE) are not supported")),
        _ => return Err(malformed("not a JWS in compact form")),
    }
    let raw = URL_SAFE_NO_PAD
        .decode(parts[0])
        .map_err(|_| malformed("the header is not base64url"))?;
    let header: Map<String, Value> =
        serde_json::from_slice(&raw).map_err(|_| malformed("the header is not a JSON object"))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("the header has no `alg`"))?
        .to_owned();
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(malformed("the header's `kid` is not a string")),
    };
    Ok((alg, kid))
}

/// Checks the signature (with one of `keys`) and the claims of `token`; returns
/// the claims.
pub(crate) fn verify(
    token: &str,
    alg: Algorithm,
    keys: &[DecodingKey],
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, OidcError> {
    let mut validation = Validation::new(alg);
    validation.leeway = expected.leeway.as_secs();
    validation.validate_nbf = true;
    validation.validate_exp = true;
    validation.validate_aud = true;
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);

    let mut claims = None;
    for key in keys {
        match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
            Ok(data) => {
                claims = Some(data.claims);
                break;
            }
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature) => {}
            Err(e) => return Err(map_jwt_error(&e)),
        }
    }
    let claims = claims.ok_or(OidcError::InvalidSignature)?;
    check_claims(&claims, alg, expected)?;
    Ok(claims)
}

fn map_jwt_error(e: &jsonwebtoken::errors::Error) -> OidcError {
    use jsonwebtoken::errors::ErrorKind;
    let claim = |claim: &'static str, reason: &str| OidcError::InvalidClaim {
        claim,
        reason: reason.to_owned(),
    };
    match e.kind() {
        ErrorKind::InvalidSignature => OidcError::InvalidSignature,
        ErrorKind::ExpiredSignature => claim("exp", "the token has expired"),
        ErrorKind::ImmatureSignature => claim("nbf", "the token is not valid yet"),
        ErrorKind::InvalidIssuer => claim("iss", "another issuer"),
        ErrorKind::InvalidAudience => claim("aud", "the token is not for this client"),
        ErrorKind::InvalidSubject => claim("sub", "another subject"),
        ErrorKind::MissingRequiredClaim(c) => match c.as_str() {
            "exp" => claim("exp", "missing"),
            "iss" => claim("iss", "missing"),
            "aud" => claim("aud", "missing"),
            "sub" => claim("sub", "missing"),
            "nbf" => claim("nbf", "missing"),
            _ => OidcError::MalformedIdToken {
                reason: format!("missing claim `{c}`"),
            },
        },
        ErrorKind::InvalidAlgorithm => OidcError::UnsupportedAlgorithm {
            alg: "(mismatch)".to_owned(),
        },
        _ => OidcError::MalformedIdToken {
            reason: e.to_string(),
        },
    }
}

/// The OpenID Connect checks jsonwebtoken does not make (Core §3.1.3.7): `sub`,
/// `iat`, `azp` with several audiences, `nonce`, `at_hash`.
fn check_claims(
    claims: &Map<String, Value>,
    alg: Algorithm,
    expected: &Expected<'_>,
) -> Result<(), OidcError> {
    let invalid = |claim: &'static str, reason: &str| OidcError::InvalidClaim {
        claim,
        reason: reason.to_owned(),
    };
    match claims.get("sub").and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() && sub.len() <= 255 => {}
        _ => return Err(invalid("sub", "not a string of 1 to 255 characters")),
    }
    let now = jsonwebtoken::get_current_timestamp();
    match claims.get("iat").and_then(Value::as_f64) {
        // `as` is fine: a NaN or huge value fails the comparison either way.
        #[allow(clippy::cast_precision_loss)]
        Some(iat) if iat <= (now + expected.leeway.as_secs()) as f64 => {}
        Some(_) => return Err(invalid("iat", "issued in the future")),
        None => return Err(invalid("iat", "missing or not a number")),
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => return Err(invalid("aud", "missing")),
    };
    let azp = claims.get("azp").and_then(Value::as_str);
    if audiences.len() > 1 && azp.is_none() {
        return Err(invalid("azp", "required when there are several audiences"));
    }
    if azp.is_some_and(|azp| azp != expected.client_id) {
        return Err(invalid("azp", "the token was issued to another client"));
    }
    let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    if !rustango_crypto::constant_time_eq(nonce.as_bytes(), expected.nonce.as_bytes()) {
        return Err(OidcError::NonceMismatch);
    }
    if let (Some(at_hash), Some(access_token)) = (
        claims.get("at_hash").and_then(Value::as_str),
        expected.access_token,
    ) && let Some(computed) = left_half_hash(alg, access_token)
        && !rustango_crypto::constant_time_eq(at_hash.as_bytes(), computed.as_bytes())
    {
        return Err(invalid("at_hash", "does not match the access token"));
    }
    Ok(())
}

/// `at_hash`: base64url of the left half of the hash of `value`, with the hash of
/// the signature algorithm; `None` where that hash is not defined (EdDSA).
pub(crate) fn left_half_hash(alg: Algorithm, value: &str) -> Option<String> {
    let digest: Vec<u8> = match alg {
        Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 => {
            sha2::Sha256::digest(value.as_bytes()).to_vec()
        }
        Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => {
            sha2::Sha384::digest(value.as_bytes()).to_vec()
        }
        Algorithm::RS512 | Algorithm::PS512 => sha2::Sha512::digest(value.as_bytes()).to_vec(),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2]))
}

/// The algorithm named `alg`, if it is one of `allowed` (and never `none` or
/// `HS*`).
pub(crate) fn allowed_algorithm(alg: &str, allowed: &[Algorithm]) -> Result<Algorithm, OidcError> {
    let refused = || OidcError::UnsupportedAlgorithm {
        alg: alg.chars().take(32).collect(),
    };
    let parsed = Algorithm::from_str(alg).map_err(|_| refused())?;
    if is_asymmetric(parsed) && allowed.contains(&parsed) {
        Ok(parsed)
    } else {
        Err(refused())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_and_hmac_are_never_allowed() {
        let all = [Algorithm::HS256, Algorithm::RS256];
        for alg in ["none", "None", "HS256", "HS384", "HS512", "", "RS1"] {
            assert!(
                matches!(
                    allowed_algorithm(alg, &all),
                    Err(OidcError::UnsupportedAlgorithm { .. })
                ),
                "{alg} allowed"
            );
        }
        assert_eq!(allowed_algorithm("RS256", &all).unwrap(), Algorithm::RS256);
        assert!(allowed_algorithm("ES256", &all).is_err());
    }

    #[test]
    fn headers_are_read_strictly() {
        let enc = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let token = format!("{}.e30.sig", enc(r#"{"alg":"RS256","kid":"k1"}"#));
        assert_eq!(
            header(&token).unwrap(),
            ("RS256".to_owned(), Some("k1".to_owned()))
        );
        let token = format!("{}.e30.sig", enc(r#"{"alg":"none"}"#));
        assert_eq!(header(&token).unwrap(), ("none".to_owned(), None));
        for bad in [
            "a.b",
            "a.b.c.d.e",
            "!!.e30.sig",
            &format!("{}.e30.sig", enc("[]")),
            &format!("{}.e30.sig", enc(r#"{"kid":"k"}"#)),
            &format!("{}.e30.sig", enc(r#"{"alg":"RS256","kid":7}"#)),
        ] {
            assert!(
                matches!(header(bad), Err(OidcError::MalformedIdToken { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn at_hash_vector() {
        // OpenID Connect Core, Appendix A.3 (RS256).
        assert_eq!(
            left_half_hash(
                Algorithm::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            )
            .unwrap(),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(left_half_hash(Algorithm::EdDSA, "x"), None);
    }

    #[test]
    fn key_selection_follows_kid_type_and_use() {
        let set: JwkSet = serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec", "use": "sig", "alg": "ES256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "rsa", "alg": "RS256",
             "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
             "e": "AQAB"}
        ]}))
        .unwrap();
        assert_eq!(select(&set, Some("ec"), Algorithm::ES256).len(), 1);
        assert_eq!(
            select(&set, None, Algorithm::ES256).len(),
            1,
            "enc key skipped"
        );
        assert_eq!(select(&set, Some("ec"), Algorithm::ES384).len(), 0);
        assert_eq!(select(&set, Some("ec"), Algorithm::RS256).len(), 0);
        assert_eq!(select(&set, Some("hmac"), Algorithm::HS256).len(), 0);
        assert_eq!(select(&set, Some("rsa"), Algorithm::RS256).len(), 1);
        assert_eq!(
            select(&set, Some("rsa"), Algorithm::PS256).len(),
            0,
            "alg pinned"
        );
        assert_eq!(select(&set, Some("nope"), Algorithm::RS256).len(), 0);
    }
}
