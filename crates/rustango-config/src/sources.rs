//! [`Sources`]: the directory and the environment variables settings are read from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::ConfigError;

/// Environment variables with fixed names that [`Settings`](crate::Settings) reads, in
/// addition to every variable starting with [`VAR_PREFIX`].
pub const KNOWN_VARS: &[&str] = &["DATABASE_URL", "SECRET_KEY", "REDIS_URL"];

/// Prefix of rustango's own environment variables (`RUSTANGO_ENV`, `RUSTANGO_BIND`,
/// `RUSTANGO_<SECTION>__<KEY>`…).
pub const VAR_PREFIX: &str = "RUSTANGO_";

/// Where [`Settings::load`](crate::Settings::load) looks: a directory holding
/// `rustango.toml` / `rustango.<env>.toml`, and a map of environment variables.
///
/// Tests build one by hand instead of mutating the process environment:
///
/// ```
/// use rustango_config::Sources;
/// let sources = Sources::new("/nonexistent").var("RUSTANGO_ENV", "test");
/// assert_eq!(sources.vars["RUSTANGO_ENV"], "test");
/// ```
///
/// `Debug` lists variable names only: values may be secrets.
#[derive(Clone, Default)]
pub struct Sources {
    /// Directory searched for the settings files (missing files are fine).
    pub dir: PathBuf,
    /// Environment variables, by name.
    pub vars: BTreeMap<String, String>,
}

impl Sources {
    /// Files from `dir`, no environment variables.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            vars: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) one environment variable.
    #[must_use]
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// The current directory and the process environment.
    ///
    /// Only the variables rustango reads are copied ([`KNOWN_VARS`] and those starting
    /// with [`VAR_PREFIX`]). One of those holding non-UTF-8 bytes is an error rather
    /// than being silently skipped or mangled; unrelated variables are ignored.
    pub fn from_process() -> Result<Self, ConfigError> {
        let dir = std::env::current_dir().map_err(|source| ConfigError::Io {
            path: PathBuf::from("."),
            source,
        })?;
        let mut vars = BTreeMap::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            if !is_relevant(name) {
                continue;
            }
            let value = value.into_string().map_err(|_| ConfigError::NotUnicode {
                name: name.to_owned(),
            })?;
            vars.insert(name.to_owned(), value);
        }
        Ok(Self { dir, vars })
    }
}

/// Whether `name` is a variable [`Sources::from_process`] copies.
fn is_relevant(name: &str) -> bool {
    KNOWN_VARS.contains(&name) || name.starts_with(VAR_PREFIX)
}

impl fmt::Debug for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sources")
            .field("dir", &self.dir)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_names_not_values() {
        let s = Sources::new("/tmp/x").var("SECRET_KEY", "do-not-print-me");
        let printed = format!("{s:?}");
        assert!(printed.contains("SECRET_KEY"), "{printed}");
        assert!(!printed.contains("do-not-print-me"), "{printed}");
    }

    #[test]
    fn relevance_filter() {
        assert!(is_relevant("DATABASE_URL"));
        assert!(is_relevant("RUSTANGO_MYAPP__KEY"));
        assert!(!is_relevant("HOME"));
        assert!(!is_relevant("database_url"));
    }

    #[test]
    fn from_process_reads_the_current_directory() {
        let s = Sources::from_process().unwrap();
        assert_eq!(s.dir, std::env::current_dir().unwrap());
        assert!(s.vars.keys().all(|k| is_relevant(k)));
    }
}
