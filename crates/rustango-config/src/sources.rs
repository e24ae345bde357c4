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

    /// The current directory, the process environment and the directory's `.env`
    /// file (see [`dotenv`](crate::dotenv) for its format).
    ///
    /// Only the variables rustango reads are copied ([`KNOWN_VARS`] and those starting
    /// with [`VAR_PREFIX`]). One of those holding non-UTF-8 bytes is an error rather
    /// than being silently skipped or mangled; unrelated variables are ignored.
    ///
    /// A variable set in the process environment wins over the same one in `.env`, so
    /// a deployment's real environment is never overridden by a file left behind. The
    /// `.env` file only feeds these settings: it is not loaded into the process
    /// environment, so variables read by other libraries (`OTEL_*`, `RUST_LOG`) must be
    /// exported for real.
    pub fn from_process() -> Result<Self, ConfigError> {
        let dir = std::env::current_dir().map_err(|source| ConfigError::Io {
            path: PathBuf::from("."),
            source,
        })?;
        let mut sources = Self::from_vars_os(dir, std::env::vars_os())?;
        sources.add_dotenv()?;
        Ok(sources)
    }

    /// Adds the relevant variables of `<dir>/.env` that are not set already.
    fn add_dotenv(&mut self) -> Result<(), ConfigError> {
        let path = self.dir.join(crate::dotenv::DOTENV_FILE);
        let env = |name: &str| std::env::var(name).ok();
        for (name, value) in crate::dotenv::read(&path, &is_relevant, &env)?.unwrap_or_default() {
            self.vars.entry(name).or_insert(value);
        }
        Ok(())
    }

    fn from_vars_os(
        dir: PathBuf,
        vars_os: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    ) -> Result<Self, ConfigError> {
        let mut vars = BTreeMap::new();
        for (name, value) in vars_os {
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
    fn dotenv_fills_in_what_the_environment_does_not_set() {
        let dir = std::env::temp_dir().join(format!("rustango-sources-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(".env"),
            "DATABASE_URL=postgres://from-file/app\nSECRET_KEY='file-secret'\nHOME=/ignored\nRUSTANGO_ENV=test\n",
        )
        .unwrap();
        let process = [("DATABASE_URL", "sqlite://from-env.db"), ("PATH", "/bin")]
            .map(|(k, v)| (k.into(), v.into()));
        let mut s = Sources::from_vars_os(dir.clone(), process.into_iter()).unwrap();
        s.add_dotenv().unwrap();
        // The real environment wins; the file fills the gaps; unrelated names stay out.
        assert_eq!(s.vars["DATABASE_URL"], "sqlite://from-env.db");
        assert_eq!(s.vars["SECRET_KEY"], "file-secret");
        assert_eq!(s.vars["RUSTANGO_ENV"], "test");
        assert!(!s.vars.contains_key("HOME") && !s.vars.contains_key("PATH"));
        let settings = crate::Settings::load(s).unwrap();
        assert_eq!(settings.env, crate::Env::Test);

        std::fs::write(dir.join(".env"), "SECRET_KEY=\"unclosed\n").unwrap();
        let mut s = Sources::from_vars_os(dir.clone(), std::iter::empty()).unwrap();
        assert!(matches!(
            s.add_dotenv(),
            Err(ConfigError::File { line: 1, .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn from_process_reads_the_current_directory() {
        let s = Sources::from_process().unwrap();
        assert_eq!(s.dir, std::env::current_dir().unwrap());
        assert!(s.vars.keys().all(|k| is_relevant(k)));
    }
}
