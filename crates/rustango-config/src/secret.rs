//! [`Secret`]: a string that never prints, and [`constant_time_eq`].

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Unexpected, Visitor};

/// A secret string (a key, a password, a token).
///
/// `Debug` and `Display` print `Secret(***)`, so a secret inside a logged struct or an
/// error never leaks. The value is reachable only through [`Secret::expose`], which
/// makes every use greppable. Equality runs in constant time (see [`constant_time_eq`]).
/// It implements `Deserialize` (from a string) but deliberately not `Serialize`.
///
/// On drop the buffer is overwritten with zeros. This is best effort: copies made
/// before the value was wrapped (the text of the file it was read from, the process
/// environment) are not tracked.
///
/// ```
/// use rustango_config::Secret;
/// let key = Secret::new("hunter2");
/// assert_eq!(format!("{key:?} {key}"), "Secret(***) Secret(***)");
/// assert_eq!(key.expose(), "hunter2");
/// assert_eq!(key, Secret::from("hunter2"));
/// ```
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret's text. Call it only where the value is actually needed.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes (safe to report: it says nothing about the content).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `true` if the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares with a candidate (a submitted token, say) in constant time.
    pub fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate.as_bytes())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.iter_mut().for_each(|b| *b = 0);
        // Keep the optimizer from eliding the writes to a buffer about to be freed.
        std::hint::black_box(&bytes);
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_string(SecretVisitor)
    }
}

/// Accepts strings only. Every non-string value is rejected *without* echoing it,
/// unlike serde's default messages (`invalid type: integer `1234``), because the
/// value of a mistyped secret is still a secret.
struct SecretVisitor;

impl SecretVisitor {
    fn reject<E: de::Error>(&self) -> Result<Secret, E> {
        Err(E::invalid_type(
            Unexpected::Other("a non-string value"),
            self,
        ))
    }
}

impl Visitor<'_> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a secret string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret::from(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Secret, E> {
        Ok(Secret(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
        self.reject()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Secret, E> {
        self.reject()
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Secret, E> {
        self.reject()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Secret, E> {
        self.reject()
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Secret, E> {
        self.reject()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
        self.reject()
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Secret, E> {
        self.reject()
    }
}

/// Compares two byte strings in time that depends only on their lengths (`subtle`'s
/// constant-time equality).
///
/// A length mismatch returns `false` immediately: the length of a secret is not
/// treated as secret (compare fixed-length digests if it must be).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("correct horse battery staple");
        let printed = format!("{s:?} {s} {:?} {:#?}", Some(&s), vec![s.clone()]);
        assert!(!printed.contains("horse"), "{printed}");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "Secret(***)");
    }

    #[test]
    fn expose_len_and_is_empty() {
        let s = Secret::from(String::from("abc"));
        assert_eq!(s.expose(), "abc");
        assert_eq!(s.len(), 3);
        assert!(!s.is_empty());
        assert!(Secret::default().is_empty());
    }

    #[test]
    fn equality_and_matches() {
        assert_eq!(Secret::new("abc"), Secret::new("abc"));
        assert_ne!(Secret::new("abc"), Secret::new("abd"));
        assert_ne!(Secret::new("abc"), Secret::new("abcd"));
        assert!(Secret::new("tok").matches("tok"));
        assert!(!Secret::new("tok").matches("to"));
    }

    #[test]
    fn constant_time_eq_cases() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"samf"));
        assert!(!constant_time_eq(b"same", b"sam"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(!constant_time_eq(&[0x80], &[0x00]));
    }

    #[test]
    fn deserializes_from_a_string_only_and_never_echoes_other_values() {
        #[derive(serde::Deserialize)]
        struct Holder {
            key: Secret,
        }
        // Deserialize from a parsed table, as `Settings::section` does, so the error
        // text is serde's message alone (toml's own parse errors quote the input line).
        let from = |text: &str| Holder::deserialize(text.parse::<toml::Table>().unwrap());
        let h = from("key = \"s3cr3t\"").unwrap();
        assert_eq!(h.key.expose(), "s3cr3t");

        for (text, value) in [
            ("key = 987654321", "987654321"),
            ("key = 1.25", "1.25"),
            ("key = true", "true"),
        ] {
            let err = from(text).err().unwrap().to_string();
            assert!(!err.contains(value), "{err}");
            assert!(err.contains("a secret string"), "{err}");
        }
        assert!(from("key = [1]").is_err());
    }
}
