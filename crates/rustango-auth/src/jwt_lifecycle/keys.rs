//! Signing and verification keys, each bound to one algorithm, and key sets for
//! rotation.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};

use super::error::JwtKeyError;

/// The smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;

/// One key with the one algorithm it is used with, and optionally its key id (`kid`).
///
/// The algorithm is part of the key: a token is verified with the algorithm of the key
/// its header names, never with the algorithm the header claims (a header saying `none`,
/// or `HS256` in front of an RSA key, is refused). Keys are checked when built: HMAC
/// secrets must be as long as their hash (32 bytes for HS256), RSA keys at least 2048
/// bits, and PEM keys must parse.
///
/// - [`JwtKey::hs256`] / [`JwtKey::hmac`]: a shared secret (signs and verifies);
/// - [`JwtKey::rs256_pem`], [`JwtKey::eddsa_pem`], [`JwtKey::from_private_pem`]: a private
///   key in PEM (signs and verifies; the public half is derived from it);
/// - [`JwtKey::from_public_pem`]: a public key in PEM (verifies only), for tokens another
///   service signs or a retired key.
///
/// ```
/// use rustango_auth::jwt_lifecycle::{Algorithm, JwtKey};
///
/// let key = JwtKey::hs256(&[42; 32]).unwrap().with_kid("2026-05");
/// assert_eq!(key.algorithm(), Algorithm::HS256);
/// assert_eq!(key.kid(), Some("2026-05"));
/// assert!(JwtKey::hs256(b"too short").is_err());
/// ```
#[derive(Clone)]
pub struct JwtKey {
    kid: Option<String>,
    alg: Algorithm,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    /// The public JWK of an asymmetric key (never set for secrets).
    public_jwk: Option<Jwk>,
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        _ => "an unknown algorithm",
    }
}

/// The first PEM label of `pem` (`PRIVATE KEY`, `RSA PUBLIC KEY`, …).
fn pem_label(pem: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    Some(&text[start..start + end])
}

impl JwtKey {
    /// An HS256 secret (at least 32 bytes: RFC 7518 §3.2). Use random bytes, not a
    /// password (`openssl rand -base64 32`).
    pub fn hs256(secret: &[u8]) -> Result<Self, JwtKeyError> {
        Self::hmac(Algorithm::HS256, secret)
    }

    /// An HMAC secret for `alg` (HS256, HS384 or HS512), at least as long as the hash:
    /// 32, 48 or 64 bytes.
    pub fn hmac(alg: Algorithm, secret: &[u8]) -> Result<Self, JwtKeyError> {
        let min = match alg {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            other => return Err(JwtKeyError::UnsupportedAlgorithm(alg_name(other))),
        };
        if secret.len() < min {
            return Err(JwtKeyError::WeakSecret {
                algorithm: alg_name(alg),
                min,
                len: secret.len(),
            });
        }
        Ok(Self {
            kid: None,
            alg,
            encoding: Some(EncodingKey::from_secret(secret)),
            decoding: DecodingKey::from_secret(secret),
            public_jwk: None,
        })
    }

    /// An RS256 key pair from its private key in PEM (PKCS#1 `RSA PRIVATE KEY` or
    /// PKCS#8 `PRIVATE KEY`, at least 2048 bits).
    pub fn rs256_pem(private_pem: &[u8]) -> Result<Self, JwtKeyError> {
        Self::from_private_pem(Algorithm::RS256, private_pem)
    }

    /// An EdDSA (Ed25519) key pair from its private key in PEM (PKCS#8 `PRIVATE KEY`,
    /// as `openssl genpkey -algorithm ed25519` writes).
    pub fn eddsa_pem(private_pem: &[u8]) -> Result<Self, JwtKeyError> {
        Self::from_private_pem(Algorithm::EdDSA, private_pem)
    }

    /// A key pair for `alg` (RS*, PS*, ES256, ES384 or EdDSA) from its private key in
    /// PEM; the public half used to verify is derived from it.
    pub fn from_private_pem(alg: Algorithm, private_pem: &[u8]) -> Result<Self, JwtKeyError> {
        let name = alg_name(alg);
        let invalid = |reason: &str| JwtKeyError::InvalidKey {
            algorithm: name,
            reason: reason.to_owned(),
        };
        if !pem_label(private_pem).is_some_and(|l| l.ends_with("PRIVATE KEY")) {
            return Err(invalid("expected a PEM private key"));
        }
        let encoding = match alg.family() {
            AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(private_pem),
            AlgorithmFamily::Ec => EncodingKey::from_ec_pem(private_pem),
            AlgorithmFamily::Ed => EncodingKey::from_ed_pem(private_pem),
            AlgorithmFamily::Hmac => return Err(JwtKeyError::UnsupportedAlgorithm(name)),
        }
        .map_err(|e| invalid(&e.to_string()))?;
        let jwk = Jwk::from_encoding_key(&encoding, alg).map_err(|e| invalid(&e.to_string()))?;
        check_rsa_size(&jwk)?;
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| invalid(&e.to_string()))?;
        Ok(Self {
            kid: None,
            alg,
            encoding: Some(encoding),
            decoding,
            public_jwk: Some(jwk),
        })
    }

    /// A verification-only key for `alg` (RS*, PS*, ES256, ES384 or EdDSA) from its
    /// public key in PEM (`PUBLIC KEY`, or PKCS#1 `RSA PUBLIC KEY`).
    pub fn from_public_pem(alg: Algorithm, public_pem: &[u8]) -> Result<Self, JwtKeyError> {
        let name = alg_name(alg);
        let invalid = |reason: &str| JwtKeyError::InvalidKey {
            algorithm: name,
            reason: reason.to_owned(),
        };
        if !pem_label(public_pem).is_some_and(|l| l.ends_with("PUBLIC KEY")) {
            return Err(invalid("expected a PEM public key"));
        }
        let decoding = match alg.family() {
            AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(public_pem),
            AlgorithmFamily::Ec => DecodingKey::from_ec_pem(public_pem),
            AlgorithmFamily::Ed => DecodingKey::from_ed_pem(public_pem),
            AlgorithmFamily::Hmac => return Err(JwtKeyError::UnsupportedAlgorithm(name)),
        }
        .map_err(|e| invalid(&e.to_string()))?;
        // Building the JWK parses the key (RSA modulus and exponent, EC point, the 32
        // bytes of an Ed25519 key): a bad key fails here rather than on every token.
        let jwk =
            Jwk::from_decoding_key(&decoding, Some(alg)).map_err(|e| invalid(&e.to_string()))?;
        check_rsa_size(&jwk)?;
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| invalid(&e.to_string()))?;
        Ok(Self {
            kid: None,
            alg,
            encoding: None,
            decoding,
            public_jwk: Some(jwk),
        })
    }

    /// Sets the key id, written into the header of the tokens this key signs and used to
    /// pick the key that verifies a token.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key signs and verifies with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Whether the key can sign (it holds a secret or a private key).
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    pub(crate) fn encoding(&self) -> Option<&EncodingKey> {
        self.encoding.as_ref()
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    pub(crate) fn alg_name(&self) -> &'static str {
        alg_name(self.alg)
    }

    /// The public key as a JWK (RFC 7517) with `kid`, `alg` and `use: "sig"`; `None` for
    /// HMAC secrets, which are never published.
    pub fn public_jwk(&self) -> Option<serde_json::Value> {
        let mut jwk = self.public_jwk.clone()?;
        jwk.common.key_id = self.kid.clone();
        jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        serde_json::to_value(jwk).ok()
    }
}

/// Refuses RSA keys under [`MIN_RSA_BITS`].
fn check_rsa_size(jwk: &Jwk) -> Result<(), JwtKeyError> {
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return Ok(());
    };
    let n = URL_SAFE_NO_PAD
        .decode(rsa.n.trim_end_matches('='))
        .unwrap_or_default();
    let first = n.iter().position(|b| *b != 0).unwrap_or(n.len());
    let bits = match n.get(first) {
        Some(top) => (n.len() - first) * 8 - top.leading_zeros() as usize,
        None => 0,
    };
    if bits < MIN_RSA_BITS {
        return Err(JwtKeyError::WeakRsaKey { bits });
    }
    Ok(())
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("can_sign", &self.can_sign())
            .finish_non_exhaustive()
    }
}

/// The keys of a [`JwtLifecycle`](super::JwtLifecycle): one signing key and any number
/// of verification keys, for key rotation.
///
/// A token is verified with the key its header's `kid` names, with that key's
/// algorithm. With several keys every key needs a distinct `kid`, and a token without
/// `kid` is refused; with one key, a token without `kid` uses it.
///
/// Rotation: sign with the new key and keep the old one as a verification key until
/// the last token it signed has expired (the refresh TTL), then drop it: tokens signed
/// by a dropped key are refused.
///
/// ```
/// use rustango_auth::jwt_lifecycle::{JwtKey, JwtLifecycle, KeySet};
///
/// let keys = KeySet::new(JwtKey::hs256(&[2; 32]).unwrap().with_kid("2026-06"))
///     .unwrap()
///     .with_verification_key(JwtKey::hs256(&[1; 32]).unwrap().with_kid("2026-05"))
///     .unwrap();
/// let jwt = JwtLifecycle::with_keys(keys);
/// ```
#[derive(Clone, Debug)]
pub struct KeySet {
    /// The signing key first.
    keys: Vec<JwtKey>,
}

impl KeySet {
    /// A key set that signs (and verifies) with `signing`, which must be able to sign.
    pub fn new(signing: JwtKey) -> Result<Self, JwtKeyError> {
        if !signing.can_sign() {
            return Err(JwtKeyError::CannotSign);
        }
        Ok(Self {
            keys: vec![signing],
        })
    }

    /// Adds a key that only verifies (a previous signing key, or another service's
    /// public key). Every key needs a distinct `kid` once there are several.
    pub fn with_verification_key(mut self, key: JwtKey) -> Result<Self, JwtKeyError> {
        if let Some(kid) = key.kid()
            && self.keys.iter().any(|k| k.kid() == Some(kid))
        {
            return Err(JwtKeyError::DuplicateKid(kid.to_owned()));
        }
        self.keys.push(key);
        if self.keys.iter().any(|k| k.kid().is_none()) {
            return Err(JwtKeyError::MissingKid);
        }
        Ok(self)
    }

    /// The key new tokens are signed with.
    pub fn signing_key(&self) -> &JwtKey {
        &self.keys[0]
    }

    /// Every key, the signing key first.
    pub fn keys(&self) -> &[JwtKey] {
        &self.keys
    }

    /// The public keys as a JWK set (`{"keys": [...]}`, RFC 7517), to publish at
    /// `/.well-known/jwks.json` for other services. HMAC secrets are left out.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self.keys.iter().filter_map(JwtKey::public_jwk).collect();
        serde_json::json!({ "keys": keys })
    }

    /// The index of the key for a token whose header names `kid`.
    pub(crate) fn find(&self, kid: Option<&str>) -> Option<usize> {
        match kid {
            Some(kid) => self.keys.iter().position(|k| k.kid() == Some(kid)),
            None if self.keys.len() == 1 => Some(0),
            None => None,
        }
    }
}
