//! Cross-checks against PyPI's `pyotp`, the reference most authenticator back ends
//! are tested against. Compiled only with the `__test-peers` feature; run by
//! `cargo xtask test-peers`, which installs pyotp first. Without pyotp this FAILS,
//! it never passes by skipping.
//!
//! One `python3 -c` run receives every case as JSON on stdin and answers as JSON on
//! stdout, in both directions: pyotp computes codes for our secrets and checks the
//! codes we computed, and parses our `otpauth://` URLs.

use std::io::Write as _;
use std::process::{Command, Stdio};

use rustango_crypto::totp::{self, Algorithm, Totp, TotpSecret};
use serde_json::{Value, json};

const PYTHON: &str = r#"
import hashlib, json, sys
import pyotp

digests = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
cases = json.load(sys.stdin)
out = {"totp": [], "hotp": [], "urls": []}
for c in cases["totp"]:
    t = pyotp.TOTP(c["secret"], digits=c["digits"], digest=digests[c["algorithm"]], interval=c["step"])
    out["totp"].append({
        "code": t.at(c["time"]),
        "accepts_ours": t.verify(c["ours"], for_time=c["time"]),
        "accepts_ours_next_step": t.verify(c["ours"], for_time=c["time"] + c["step"], valid_window=1),
    })
for c in cases["hotp"]:
    h = pyotp.HOTP(c["secret"], digits=c["digits"], digest=digests[c["algorithm"]])
    out["hotp"].append({"code": h.at(c["counter"]), "accepts_ours": h.verify(c["ours"], c["counter"])})
for url in cases["urls"]:
    p = pyotp.parse_uri(url)
    out["urls"].append({
        "secret": p.secret,
        "name": p.name,
        "issuer": p.issuer,
        "digits": p.digits,
        "interval": getattr(p, "interval", None),
        "digest": p.digest().name.upper(),
    })
json.dump(out, sys.stdout)
"#;

fn python_available() {
    let probe = Command::new("python3")
        .args(["-c", "import pyotp"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "pyotp is not importable by python3; run `pip install pyotp` (cargo xtask test-peers \
             does it). python3 said: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "python3 could not be started ({e}); install Python 3 and run `pip install pyotp`"
        ),
    }
}

fn run_python(cases: &Value) -> Value {
    let mut child = Command::new("python3")
        .args(["-c", PYTHON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(cases.to_string().as_bytes())
        .expect("cases written");
    let out = child.wait_with_output().expect("python3 finishes");
    assert!(
        out.status.success(),
        "the pyotp script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("pyotp answers JSON")
}

fn algorithms() -> [Algorithm; 3] {
    [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]
}

#[test]
fn totp_hotp_and_otpauth_urls_agree_with_pyotp() {
    python_available();

    let mut secrets = vec![
        TotpSecret::from_bytes(b"12345678901234567890").unwrap(),
        TotpSecret::from_bytes(b"12345678901234567890123456789012").unwrap(),
    ];
    secrets.extend((0..6).map(|_| TotpSecret::generate()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let times = [
        0,
        59,
        1_111_111_109,
        1_234_567_890,
        2_000_000_000,
        20_000_000_000,
        now,
    ];

    let mut totp_cases = Vec::new();
    for secret in &secrets {
        for algorithm in algorithms() {
            for (digits, step) in [(6, 30), (8, 30), (6, 60), (7, 15)] {
                for &time in &times {
                    let ours = Totp::new()
                        .with_algorithm(algorithm)
                        .with_digits(digits)
                        .with_step_secs(step)
                        .generate_at(secret, time)
                        .unwrap();
                    totp_cases.push((
                        secret.clone(),
                        Totp::new()
                            .with_algorithm(algorithm)
                            .with_digits(digits)
                            .with_step_secs(step),
                        time,
                        json!({
                            "secret": secret.to_base32(),
                            "algorithm": algorithm.as_str(),
                            "digits": digits,
                            "step": step,
                            "time": time,
                            "ours": ours,
                        }),
                    ));
                }
            }
        }
    }
    let mut hotp_cases = Vec::new();
    for secret in &secrets {
        for algorithm in algorithms() {
            for counter in [0u64, 1, 9, 1_000, u64::from(u32::MAX) + 7] {
                let ours = totp::hotp(secret, counter, 6, algorithm).unwrap();
                hotp_cases.push(json!({
                    "secret": secret.to_base32(),
                    "algorithm": algorithm.as_str(),
                    "digits": 6,
                    "counter": counter,
                    "ours": ours,
                }));
            }
        }
    }
    let url_secret = &secrets[2];
    let urls = vec![
        totp::otpauth_url("My App", "alice@example.com", url_secret),
        Totp::new()
            .with_algorithm(Algorithm::Sha512)
            .with_digits(8)
            .with_step_secs(60)
            .otpauth_url("Acme & Co", "bob smith", url_secret),
    ];

    let answers = run_python(&json!({
        "totp": totp_cases.iter().map(|c| c.3.clone()).collect::<Vec<_>>(),
        "hotp": hotp_cases,
        "urls": urls,
    }));

    let totp_answers = answers["totp"].as_array().expect("totp answers");
    assert_eq!(totp_answers.len(), totp_cases.len());
    for ((secret, params, time, case), answer) in totp_cases.iter().zip(totp_answers) {
        let theirs = answer["code"].as_str().expect("code");
        assert_eq!(
            case["ours"].as_str(),
            Some(theirs),
            "pyotp disagrees on {case}"
        );
        assert_eq!(
            answer["accepts_ours"],
            json!(true),
            "pyotp refuses ours: {case}"
        );
        assert_eq!(answer["accepts_ours_next_step"], json!(true), "{case}");
        // And we accept theirs, reporting the step it belongs to.
        assert_eq!(
            params.verify_step_at(secret, theirs, *time),
            Some(time / params.step_secs()),
            "we refuse pyotp's code: {case}"
        );
    }

    let hotp_answers = answers["hotp"].as_array().expect("hotp answers");
    assert_eq!(hotp_answers.len(), hotp_cases.len());
    for (case, answer) in hotp_cases.iter().zip(hotp_answers) {
        assert_eq!(
            case["ours"], answer["code"],
            "pyotp disagrees on HOTP {case}"
        );
        assert_eq!(
            answer["accepts_ours"],
            json!(true),
            "pyotp refuses our HOTP: {case}"
        );
    }

    let parsed = answers["urls"].as_array().expect("url answers");
    assert_eq!(parsed[0]["secret"], json!(url_secret.to_base32()));
    assert_eq!(parsed[0]["name"], json!("alice@example.com"));
    assert_eq!(parsed[0]["issuer"], json!("My App"));
    assert_eq!(parsed[0]["digits"], json!(6));
    assert_eq!(parsed[0]["interval"], json!(30));
    assert_eq!(parsed[0]["digest"], json!("SHA1"));
    assert_eq!(parsed[1]["name"], json!("bob smith"));
    assert_eq!(parsed[1]["issuer"], json!("Acme & Co"));
    assert_eq!(parsed[1]["digits"], json!(8));
    assert_eq!(parsed[1]["interval"], json!(60));
    assert_eq!(parsed[1]["digest"], json!("SHA512"));
}
