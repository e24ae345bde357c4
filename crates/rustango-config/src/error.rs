//! The crate's error type and the [`Origin`] of a configuration value.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::Env;

/// Where a configuration value came from, so an error can point at the place to fix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// The built-in default.
    Default,
    /// A settings file (`rustango.toml` or `rustango.<env>.toml`).
    File(PathBuf),
    /// An environment variable, by name.
    EnvVar(String),
    /// A value handed over by code, e.g. `"prod".parse::<Env>()`.
    Code,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("the default"),
            Self::File(path) => write!(f, "file `{}`", path.display()),
            Self::EnvVar(name) => write!(f, "environment variable `{name}`"),
            Self::Code => f.write_str("code"),
        }
    }
}

/// Everything that can go wrong while loading or checking settings.
///
/// No variant ever carries a secret value: messages name keys, sources and lengths,
/// never the text of `SECRET_KEY`, passwords or app-section strings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A settings file exists but could not be read (permissions, not UTF-8, a directory…).
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A settings file is not valid TOML.
    ///
    /// `line` and `column` are 1-based; both are 0 when the parser gave no position.
    #[error("{}", file_message(path, *line, *column, message))]
    File {
        /// The malformed file.
        path: PathBuf,
        /// 1-based line of the error (0 if unknown).
        line: usize,
        /// 1-based column of the error, in characters (0 if unknown).
        column: usize,
        /// What the parser expected; never includes the file's text.
        message: String,
    },
    /// A setting has the wrong type or an unparsable value.
    #[error("invalid value for `{key}` from {origin}: {message}")]
    Invalid {
        /// The setting's key (`bind`, `log_format`, `myapp.port`…).
        key: String,
        /// Where the bad value came from.
        origin: Origin,
        /// What was wrong; contains the value only for non-secret settings.
        message: String,
    },
    /// `RUSTANGO_ENV` (or `env = "…"`) names no known environment.
    #[error(
        "unknown environment `{value}` from {origin}; expected one of: {}",
        Env::ACCEPTED.join(", ")
    )]
    UnknownEnv {
        /// The rejected value.
        value: String,
        /// Where it came from.
        origin: Origin,
    },
    /// An environment variable that rustango reads is not valid UTF-8.
    #[error("environment variable `{name}` is not valid UTF-8")]
    NotUnicode {
        /// The variable's name.
        name: String,
    },
    /// `SECRET_KEY` is required in this environment but was not set.
    #[error("SECRET_KEY must be set when the environment is `{env}`")]
    MissingSecretKey {
        /// The environment that requires it.
        env: Env,
    },
    /// `SECRET_KEY` is set but too short for this environment.
    #[error(
        "SECRET_KEY is {len} bytes long; at least {min} bytes are required when the environment is `{env}`"
    )]
    ShortSecretKey {
        /// Its length in bytes.
        len: usize,
        /// The required minimum.
        min: usize,
        /// The environment that requires it.
        env: Env,
    },
    /// An app-defined section does not deserialize into the requested type.
    ///
    /// Quoted strings in the message are replaced by `"***"` because app sections may
    /// hold secrets.
    #[error("cannot read settings section `{section}`: {message}")]
    Section {
        /// The section's name.
        section: String,
        /// The deserializer's message, with string values masked.
        message: String,
    },
    /// A secret that [`Secrets::require`](crate::Secrets::require) asked for is not set.
    #[error("secret `{name}` is not set")]
    MissingSecret {
        /// The secret's name.
        name: String,
    },
    /// A [`Secrets`](crate::Secrets) backend failed (network, permissions…).
    #[error("could not read secret `{name}`: {source}")]
    SecretSource {
        /// The secret's name.
        name: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

fn file_message(path: &Path, line: usize, column: usize, message: &str) -> String {
    if line == 0 {
        format!("{}: {message}", path.display())
    } else {
        format!("{}:{line}:{column}: {message}", path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_display_names_the_place() {
        assert_eq!(Origin::Default.to_string(), "the default");
        assert_eq!(
            Origin::EnvVar("RUSTANGO_BIND".into()).to_string(),
            "environment variable `RUSTANGO_BIND`"
        );
        assert_eq!(
            Origin::File(PathBuf::from("rustango.toml")).to_string(),
            "file `rustango.toml`"
        );
        assert_eq!(Origin::Code.to_string(), "code");
    }

    #[test]
    fn file_error_display_with_and_without_position() {
        let e = ConfigError::File {
            path: PathBuf::from("rustango.toml"),
            line: 3,
            column: 7,
            message: "expected `=`".into(),
        };
        assert_eq!(e.to_string(), "rustango.toml:3:7: expected `=`");
        let e = ConfigError::File {
            path: PathBuf::from("rustango.toml"),
            line: 0,
            column: 0,
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "rustango.toml: bad");
    }

    #[test]
    fn unknown_env_lists_accepted_values() {
        let e = ConfigError::UnknownEnv {
            value: "staging".into(),
            origin: Origin::EnvVar("RUSTANGO_ENV".into()),
        };
        let s = e.to_string();
        assert!(s.contains("`staging`"), "{s}");
        assert!(s.contains("RUSTANGO_ENV"), "{s}");
        assert!(
            s.contains("dev, development, test, prod, production"),
            "{s}"
        );
    }

    #[test]
    fn secret_key_errors_show_lengths_not_values() {
        let e = ConfigError::ShortSecretKey {
            len: 5,
            min: 32,
            env: Env::Prod,
        };
        assert_eq!(
            e.to_string(),
            "SECRET_KEY is 5 bytes long; at least 32 bytes are required when the environment is `prod`"
        );
        let e = ConfigError::MissingSecretKey { env: Env::Prod };
        assert_eq!(
            e.to_string(),
            "SECRET_KEY must be set when the environment is `prod`"
        );
    }

    #[test]
    fn secret_source_keeps_its_cause() {
        let cause = std::io::Error::other("vault unreachable");
        let e = ConfigError::SecretSource {
            name: "stripe".into(),
            source: Box::new(cause),
        };
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(
            e.to_string(),
            "could not read secret `stripe`: vault unreachable"
        );
    }
}
