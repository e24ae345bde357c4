//! Our tokens against a real peer, PyPI's PyJWT, in both directions: PyJWT decodes what
//! we issue (HS256, RS256, EdDSA) and we verify what PyJWT issues with our claims.
//!
//! Needs `python3` with `pyjwt[crypto]` (`pip install "pyjwt[crypto]"`, or run
//! `cargo xtask test-peers`, which installs it); fails, never skips, without it.
#![cfg(feature = "__test-peers")]

#[path = "jwt/keys.rs"]
mod keys;

use std::io::Write as _;
use std::process::{Command, Stdio};

use keys::*;
use rustango_auth::jwt_lifecycle::{Algorithm, JwtError, JwtKey, JwtLifecycle, KeySet};
use serde_json::{Value, json};

const SECRET: &[u8; 32] = b"peer-secret-peer-secret-peer-sec";
const ISSUER: &str = "https://auth.example";
const AUDIENCE: &str = "api";

/// Runs `script` with `input` as JSON on stdin and returns its JSON output.
fn python(script: &str, input: &Value) -> Value {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let prelude = r#"
import json, sys
try:
    import jwt
    from jwt.algorithms import has_crypto
except ImportError:
    sys.stderr.write("PyJWT is not installed\n")
    sys.exit(3)
if not has_crypto:
    sys.stderr.write("PyJWT lacks the `cryptography` extra\n")
    sys.exit(3)
req = json.load(sys.stdin)
def key_of(k):
    return bytes.fromhex(k["hex"]) if "hex" in k else k["pem"]
"#;
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(format!("{prelude}\n{script}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `{python}` ({e}): the peer suite needs Python 3 with pyjwt[crypto]")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        panic!(
            "{}: install it with `pip install \"pyjwt[crypto]\"` or run `cargo xtask test-peers`",
            stderr.trim()
        );
    }
    assert!(out.status.success(), "python failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "python printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Key material as the Python side takes it.
fn hex(bytes: &[u8]) -> Value {
    json!({ "hex": bytes.iter().map(|b| format!("{b:02x}")).collect::<String>() })
}

fn pem(text: &str) -> Value {
    json!({ "pem": text })
}

/// The three lifecycles of the suite, with the key PyJWT verifies with and signs with.
fn lifecycles() -> Vec<(&'static str, JwtLifecycle, Value, Value)> {
    let make = |key: JwtKey| {
        JwtLifecycle::with_keys(KeySet::new(key).unwrap())
            .with_issuer(ISSUER)
            .with_audience(AUDIENCE)
    };
    vec![
        (
            "HS256",
            make(JwtKey::hs256(SECRET).unwrap()),
            hex(SECRET),
            hex(SECRET),
        ),
        (
            "RS256",
            make(
                JwtKey::rs256_pem(RSA1_PRIVATE.as_bytes())
                    .unwrap()
                    .with_kid("rsa-1"),
            ),
            pem(RSA1_PUBLIC),
            pem(RSA1_PRIVATE),
        ),
        (
            "EdDSA",
            make(
                JwtKey::eddsa_pem(ED1_PRIVATE.as_bytes())
                    .unwrap()
                    .with_kid("ed-1"),
            ),
            pem(ED1_PUBLIC),
            pem(ED1_PRIVATE),
        ),
    ]
}

const DECODE: &str = r#"
out = []
for token in req["tokens"]:
    claims = jwt.decode(
        token, key_of(req["key"]), algorithms=[req["alg"]],
        audience=req["aud"], issuer=req["iss"],
        options={"require": ["exp", "iat", "nbf", "sub", "jti", "aud", "iss"]},
    )
    header = jwt.get_unverified_header(token)
    # A wrong audience and a wrong key must fail on the peer too.
    refused = []
    try:
        jwt.decode(token, key_of(req["key"]), algorithms=[req["alg"]], audience="other", issuer=req["iss"])
    except jwt.InvalidAudienceError:
        refused.append("aud")
    try:
        jwt.decode(token, key_of(req["wrong_key"]), algorithms=[req["alg"]], audience=req["aud"], issuer=req["iss"])
    except jwt.InvalidSignatureError:
        refused.append("key")
    except (ValueError, jwt.InvalidKeyError):
        refused.append("key")
    out.append({"claims": claims, "header": header, "refused": refused})
print(json.dumps(out))
"#;

#[tokio::test]
async fn pyjwt_decodes_our_tokens() {
    for (alg, jwt, verify_key, _) in lifecycles() {
        let custom = json!({"roles": ["admin"], "tenant": "acme"});
        let pair = jwt
            .issue_pair_with(42, custom.as_object().unwrap().clone())
            .unwrap();
        let next = jwt.refresh(&pair.refresh).await.unwrap();
        let wrong_key = match alg {
            "HS256" => hex(&[1; 32]),
            "RS256" => pem(RSA2_PUBLIC),
            _ => pem(ED2_PUBLIC),
        };
        let decoded = python(
            DECODE,
            &json!({
                "tokens": [pair.access, pair.refresh, next.access],
                "key": verify_key,
                "wrong_key": wrong_key,
                "alg": alg,
                "aud": AUDIENCE,
                "iss": ISSUER,
            }),
        );
        let decoded = decoded.as_array().unwrap();
        assert_eq!(decoded.len(), 3);
        for (i, d) in decoded.iter().enumerate() {
            let claims = &d["claims"];
            assert_eq!(claims["sub"], "42", "{alg}");
            assert_eq!(claims["roles"], json!(["admin"]), "{alg}");
            assert_eq!(claims["tenant"], "acme");
            assert_eq!(claims["aud"], AUDIENCE);
            assert_eq!(claims["iss"], ISSUER);
            assert_eq!(claims["typ"], if i == 1 { "refresh" } else { "access" });
            assert_eq!(d["header"]["alg"], alg);
            assert_eq!(d["refused"], json!(["aud", "key"]), "{alg}");
        }
        assert_eq!(decoded[0]["claims"]["fam"], decoded[2]["claims"]["fam"]);
        let ours = jwt.verify_access(&pair.access).await.unwrap();
        assert_eq!(decoded[0]["claims"]["jti"], json!(ours.jti()));
        assert_eq!(
            decoded[0]["claims"]["exp"],
            json!(ours.expires_at().timestamp())
        );
        if alg != "HS256" {
            assert!(decoded[0]["header"]["kid"].is_string(), "{alg}");
        }
    }
}

const ENCODE: &str = r#"
import time, uuid
now = int(time.time())
def claims(typ, **extra):
    c = {"sub": "7", "iat": now, "nbf": now, "exp": now + 600, "jti": uuid.uuid4().hex,
         "typ": typ, "fam": req["fam"], "iss": req["iss"], "aud": req["aud"], "roles": ["editor"]}
    c.update(extra)
    return c
key = key_of(req["key"])
headers = {"kid": req["kid"]} if req["kid"] else None
def enc(c, alg=req["alg"], k=key, h=headers):
    return jwt.encode(c, k, algorithm=alg, headers=h)
out = {
    "access": enc(claims("access")),
    "refresh": enc(claims("refresh")),
    "expired": enc(claims("access", iat=now - 7200, nbf=now - 7200, exp=now - 3600)),
    "future": enc(claims("access", nbf=now + 3600)),
    "other_aud": enc(claims("access", aud="billing")),
    "none": jwt.encode(claims("access"), None, algorithm="none", headers=headers),
}
# A token signed by PyJWT with a different key of the same algorithm.
out["wrong_key"] = enc(claims("access"), k=key_of(req["other_key"]))
print(json.dumps(out))
"#;

#[tokio::test]
async fn we_verify_tokens_pyjwt_issues() {
    for (alg, jwt, _, sign_key) in lifecycles() {
        let kid = jwt.keys().signing_key().kid().map(str::to_owned);
        let other_key = match alg {
            "HS256" => hex(&[2; 32]),
            "RS256" => pem(RSA2_PRIVATE),
            _ => pem(ED2_PRIVATE),
        };
        let tokens = python(
            ENCODE,
            &json!({
                "key": sign_key,
                "other_key": other_key,
                "alg": alg,
                "kid": kid,
                "fam": uuid::Uuid::new_v4().simple().to_string(),
                "aud": AUDIENCE,
                "iss": ISSUER,
            }),
        );
        let token = |name: &str| tokens[name].as_str().unwrap().to_owned();

        let claims = jwt
            .verify_access_detailed(&token("access"))
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        assert_eq!(claims.user_id(), "7");
        assert_eq!(
            claims.get_custom::<Vec<String>>("roles").unwrap(),
            ["editor"]
        );
        // A PyJWT refresh token rotates into one of ours, custom claims kept.
        let pair = jwt.refresh_detailed(&token("refresh")).await.unwrap();
        let claims = jwt.verify_access(&pair.access).await.unwrap();
        assert_eq!(
            claims.get_custom::<Vec<String>>("roles").unwrap(),
            ["editor"]
        );
        assert!(matches!(
            jwt.refresh_detailed(&token("refresh")).await,
            Err(JwtError::Reused)
        ));

        let refused = [
            ("expired", token("expired")),
            ("future", token("future")),
            ("other_aud", token("other_aud")),
            ("none", token("none")),
            ("wrong_key", token("wrong_key")),
        ];
        for (name, t) in refused {
            let result = jwt.verify_access_detailed(&t).await;
            let expected = matches!(
                (name, &result),
                ("expired", Err(JwtError::Expired))
                    | ("future", Err(JwtError::NotYetValid))
                    | ("other_aud", Err(JwtError::WrongAudience))
                    | ("none", Err(JwtError::WrongAlgorithm))
                    | ("wrong_key", Err(JwtError::BadSignature))
            );
            assert!(expected, "{alg} {name}: {result:?}");
        }
    }
}

const CONFUSE: &str = r#"
import base64, hashlib, hmac, time, uuid
# PyJWT refuses to use a PEM key as an HMAC secret; an attacker does it by hand.
def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
header = b64(json.dumps({"alg": "HS256", "kid": req["kid"]}).encode())
payload = b64(json.dumps({"sub": "1", "iat": now, "nbf": now, "exp": now + 600,
    "jti": uuid.uuid4().hex, "typ": "access", "fam": uuid.uuid4().hex,
    "iss": req["iss"], "aud": req["aud"]}).encode())
msg = f"{header}.{payload}".encode()
sig = b64(hmac.new(req["public_pem"].encode(), msg, hashlib.sha256).digest())
print(json.dumps({"token": f"{header}.{payload}.{sig}"}))
"#;

#[tokio::test]
async fn an_hmac_forged_with_the_public_key_by_python_is_refused() {
    let (_, jwt, _, _) = lifecycles().remove(1);
    let forged = python(
        CONFUSE,
        &json!({"kid": "rsa-1", "public_pem": RSA1_PUBLIC, "aud": AUDIENCE, "iss": ISSUER}),
    );
    let result = jwt
        .verify_access_detailed(forged["token"].as_str().unwrap())
        .await;
    assert!(
        matches!(result, Err(JwtError::WrongAlgorithm)),
        "{result:?}"
    );
    // The RS256 key of the lifecycle is the one Python forged against.
    assert_eq!(jwt.keys().signing_key().algorithm(), Algorithm::RS256);
}
