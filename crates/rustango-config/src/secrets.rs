//! The [`Secrets`] trait, a source of named secrets, with [`EnvSecrets`] and
//! [`InMemorySecrets`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::{ConfigError, Secret};

/// A source of named secrets: API keys, webhook signing keys, OAuth client secrets.
///
/// Object-safe and `Send + Sync`, so the server can hold an `Arc<dyn Secrets>` and swap
/// the process environment for a vault client without touching the code that asks.
/// Backends report their own failures as [`ConfigError::SecretSource`].
///
/// ```
/// use std::sync::Arc;
/// use rustango_config::{InMemorySecrets, Secrets};
/// let secrets: Arc<dyn Secrets> = Arc::new(InMemorySecrets::new().with("stripe", "sk_test_1"));
/// assert_eq!(secrets.require("stripe")?.expose(), "sk_test_1");
/// assert!(secrets.get("github")?.is_none());
/// # Ok::<(), rustango_config::ConfigError>(())
/// ```
pub trait Secrets: Send + Sync {
    /// The secret called `name`, or `None` if this source does not have it.
    fn get(&self, name: &str) -> Result<Option<Secret>, ConfigError>;

    /// Like [`Secrets::get`], but a missing secret is [`ConfigError::MissingSecret`].
    fn require(&self, name: &str) -> Result<Secret, ConfigError> {
        self.get(name)?.ok_or_else(|| ConfigError::MissingSecret {
            name: name.to_owned(),
        })
    }
}

impl<T: Secrets + ?Sized> Secrets for &T {
    fn get(&self, name: &str) -> Result<Option<Secret>, ConfigError> {
        (**self).get(name)
    }
}

impl<T: Secrets + ?Sized> Secrets for Box<T> {
    fn get(&self, name: &str) -> Result<Option<Secret>, ConfigError> {
        (**self).get(name)
    }
}

impl<T: Secrets + ?Sized> Secrets for Arc<T> {
    fn get(&self, name: &str) -> Result<Option<Secret>, ConfigError> {
        (**self).get(name)
    }
}

/// Secrets read from environment variables: the process environment, or a given map
/// (for tests), optionally under a prefix.
///
/// `get("STRIPE_KEY")` with prefix `APP_` reads `APP_STRIPE_KEY`; the name is used as
/// given, not upper-cased. An empty variable counts as unset, like everywhere else in
/// this crate. `Debug` shows the prefix and, for a map, the variable names only.
#[derive(Clone, Default)]
pub struct EnvSecrets {
    prefix: String,
    map: Option<BTreeMap<String, String>>,
}

impl EnvSecrets {
    /// Reads the process environment at each [`Secrets::get`] call.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads from `vars` instead of the process environment.
    pub fn from_map(vars: BTreeMap<String, String>) -> Self {
        Self {
            prefix: String::new(),
            map: Some(vars),
        }
    }

    /// Prepends `prefix` to every name looked up.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

impl Secrets for EnvSecrets {
    fn get(&self, name: &str) -> Result<Option<Secret>, ConfigError> {
        let var = format!("{}{name}", self.prefix);
        let value = match &self.map {
            Some(map) => map.get(&var).cloned(),
            // Such a name cannot be set, and some platforms' lookups reject it.
            None if var.is_empty() || var.contains(['=', '\0']) => None,
            None => match std::env::var_os(&var) {
                None => None,
                Some(value) => Some(
                    value
                        .into_string()
                        .map_err(|_| ConfigError::NotUnicode { name: var })?,
                ),
            },
        };
        Ok(value.filter(|v| !v.is_empty()).map(Secret::from))
    }
}

impl fmt::Debug for EnvSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("EnvSecrets");
        d.field("prefix", &self.prefix);
        match &self.map {
            Some(map) => d.field("vars", &map.keys().collect::<Vec<_>>()),
            None => d.field("vars", &"<process environment>"),
        };
        d.finish()
    }
}

/// Secrets held in memory, for tests and for wiring values obtained elsewhere.
///
/// ```
/// use rustango_config::{InMemorySecrets, Secrets};
/// let secrets = InMemorySecrets::new().with("webhook", "whsec_1");
/// assert!(secrets.get("webhook")?.unwrap().matches("whsec_1"));
/// assert_eq!(format!("{secrets:?}"), r#"InMemorySecrets { values: {"webhook": Secret(***)} }"#);
/// # Ok::<(), rustango_config::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct InMemorySecrets {
    values: BTreeMap<String, Secret>,
}

impl InMemorySecrets {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a secret, builder style.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Secret>) -> Self {
        self.insert(name, value);
        self
    }

    /// Adds (or replaces) a secret.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Secret>) {
        self.values.insert(name.into(), value.into());
    }
}

impl Secrets for InMemorySecrets {
    fn get(&self, name: &str) -> Result<Option<Secret>, ConfigError> {
        Ok(self.values.get(name).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + ?Sized>() {}

    #[test]
    fn trait_is_object_safe_send_and_sync() {
        assert_send_sync::<dyn Secrets>();
        let boxed: Box<dyn Secrets> = Box::new(InMemorySecrets::new().with("a", "1"));
        let shared: Arc<dyn Secrets> = Arc::new(EnvSecrets::from_map(BTreeMap::from([(
            "a".to_owned(),
            "2".to_owned(),
        )])));
        assert_eq!(boxed.require("a").unwrap().expose(), "1");
        assert_eq!(shared.require("a").unwrap().expose(), "2");
        fn first<S: Secrets>(secrets: S) -> Option<Secret> {
            secrets.get("a").unwrap()
        }
        let memory = InMemorySecrets::new().with("a", "3");
        assert_eq!(first(&memory).unwrap().expose(), "3");
        assert_eq!(first(&boxed).unwrap().expose(), "1");
    }

    #[test]
    fn in_memory_get_require_and_insert() {
        let mut s = InMemorySecrets::new().with("a", "1");
        s.insert("b", String::from("2"));
        assert_eq!(s.get("a").unwrap().unwrap().expose(), "1");
        assert_eq!(s.get("b").unwrap().unwrap().expose(), "2");
        assert!(s.get("c").unwrap().is_none());
        match s.require("c").unwrap_err() {
            ConfigError::MissingSecret { name } => assert_eq!(name, "c"),
            other => panic!("unexpected {other:?}"),
        }
        let printed = format!("{s:?}");
        assert!(
            !printed.contains('1') && !printed.contains('2'),
            "{printed}"
        );
    }

    #[test]
    fn env_map_with_prefix_and_empty_values() {
        let vars = BTreeMap::from([
            ("APP_STRIPE".to_owned(), "sk_live_x".to_owned()),
            ("APP_EMPTY".to_owned(), String::new()),
            ("STRIPE".to_owned(), "unprefixed".to_owned()),
        ]);
        let s = EnvSecrets::from_map(vars).with_prefix("APP_");
        assert_eq!(s.get("STRIPE").unwrap().unwrap().expose(), "sk_live_x");
        assert!(s.get("EMPTY").unwrap().is_none());
        assert!(s.get("MISSING").unwrap().is_none());
        let printed = format!("{s:?}");
        assert!(printed.contains("APP_STRIPE"), "{printed}");
        assert!(!printed.contains("sk_live_x"), "{printed}");
    }

    #[test]
    fn env_process_reads_the_real_environment() {
        // Read-only: the test never mutates the process environment.
        let expected = std::env::var("PATH").ok().filter(|v| !v.is_empty());
        let got = EnvSecrets::new().with_prefix("PA").get("TH").unwrap();
        assert_eq!(got.map(|s| s.expose().to_owned()), expected);
        assert!(format!("{:?}", EnvSecrets::new()).contains("process environment"));
    }

    #[test]
    fn env_process_rejects_impossible_names_without_panicking() {
        let s = EnvSecrets::new();
        assert!(s.get("").unwrap().is_none());
        assert!(s.get("A=B").unwrap().is_none());
        assert!(s.get("A\0B").unwrap().is_none());
    }
}
