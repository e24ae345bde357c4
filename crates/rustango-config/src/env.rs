//! The deployment environment ([`Env`]) and the log output format ([`LogFormat`]).

use std::fmt;
use std::str::FromStr;

use crate::{ConfigError, Origin};

/// Which environment the process runs in, chosen by `RUSTANGO_ENV`.
///
/// It selects the per-environment settings file (`rustango.<env>.toml`), the default
/// [`LogFormat`] and how strict [`Settings::validate`](crate::Settings::validate) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Env {
    /// Local development (the default): lenient, human-readable logs.
    #[default]
    Dev,
    /// Automated tests.
    Test,
    /// Production: a strong `SECRET_KEY` is mandatory, logs are JSON.
    Prod,
}

impl Env {
    /// Every spelling [`Env::parse`] accepts (case-insensitive).
    pub const ACCEPTED: &'static [&'static str] =
        &["dev", "development", "test", "prod", "production"];

    /// Parses an environment name, case-insensitively and ignoring surrounding
    /// whitespace; `origin` says where the text came from, for the error message.
    pub fn parse(value: &str, origin: Origin) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "dev" | "development" => Ok(Self::Dev),
            "test" => Ok(Self::Test),
            "prod" | "production" => Ok(Self::Prod),
            _ => Err(ConfigError::UnknownEnv {
                value: value.to_owned(),
                origin,
            }),
        }
    }

    /// The canonical short name (`dev`, `test`, `prod`), also used in the
    /// per-environment file name `rustango.<name>.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Test => "test",
            Self::Prod => "prod",
        }
    }

    /// `true` for [`Env::Dev`].
    pub fn is_dev(self) -> bool {
        self == Self::Dev
    }

    /// `true` for [`Env::Test`].
    pub fn is_test(self) -> bool {
        self == Self::Test
    }

    /// `true` for [`Env::Prod`].
    pub fn is_prod(self) -> bool {
        self == Self::Prod
    }

    /// The per-environment settings file name, e.g. `rustango.prod.toml`.
    pub fn file_name(self) -> String {
        format!("rustango.{}.toml", self.as_str())
    }
}

impl fmt::Display for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Env {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, Origin::Code)
    }
}

/// How log lines are written: for people or for a log collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// Human-readable, multi-field lines (the default outside production).
    Pretty,
    /// One JSON object per line (the default in production).
    Json,
}

impl LogFormat {
    /// Every spelling [`LogFormat::parse`] accepts (case-insensitive).
    pub const ACCEPTED: &'static [&'static str] = &["pretty", "json"];

    /// The default for an environment: [`LogFormat::Json`] in production, otherwise
    /// [`LogFormat::Pretty`].
    pub fn default_for(env: Env) -> Self {
        if env.is_prod() {
            Self::Json
        } else {
            Self::Pretty
        }
    }

    /// Parses `pretty` or `json`, case-insensitively; `origin` is used in the error.
    pub fn parse(value: &str, origin: Origin) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            _ => Err(ConfigError::Invalid {
                key: "log_format".into(),
                origin,
                message: format!(
                    "`{value}` is not a log format; expected one of: {}",
                    Self::ACCEPTED.join(", ")
                ),
            }),
        }
    }

    /// The canonical name (`pretty` or `json`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pretty => "pretty",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogFormat {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, Origin::Code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_parses_every_accepted_spelling_case_insensitively() {
        for (text, env) in [
            ("dev", Env::Dev),
            ("Development", Env::Dev),
            ("TEST", Env::Test),
            ("prod", Env::Prod),
            (" Production ", Env::Prod),
        ] {
            assert_eq!(text.parse::<Env>().unwrap(), env, "{text}");
        }
    }

    #[test]
    fn env_rejects_unknown_names_with_a_typed_error() {
        let err = Env::parse("staging", Origin::EnvVar("RUSTANGO_ENV".into())).unwrap_err();
        match err {
            ConfigError::UnknownEnv { value, origin } => {
                assert_eq!(value, "staging");
                assert_eq!(origin, Origin::EnvVar("RUSTANGO_ENV".into()));
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!("".parse::<Env>().is_err());
    }

    #[test]
    fn env_predicates_names_and_default() {
        assert_eq!(Env::default(), Env::Dev);
        assert!(Env::Dev.is_dev() && !Env::Dev.is_test() && !Env::Dev.is_prod());
        assert!(Env::Test.is_test());
        assert!(Env::Prod.is_prod());
        assert_eq!(Env::Prod.to_string(), "prod");
        assert_eq!(Env::Test.file_name(), "rustango.test.toml");
        for env in [Env::Dev, Env::Test, Env::Prod] {
            assert_eq!(env.as_str().parse::<Env>().unwrap(), env);
        }
    }

    #[test]
    fn log_format_parses_and_defaults_by_env() {
        assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!("pretty".parse::<LogFormat>().unwrap(), LogFormat::Pretty);
        assert_eq!(LogFormat::default_for(Env::Dev), LogFormat::Pretty);
        assert_eq!(LogFormat::default_for(Env::Test), LogFormat::Pretty);
        assert_eq!(LogFormat::default_for(Env::Prod), LogFormat::Json);
        assert_eq!(LogFormat::Json.to_string(), "json");
        let err = "xml".parse::<LogFormat>().unwrap_err();
        assert!(
            matches!(err, ConfigError::Invalid { ref key, .. } if key == "log_format"),
            "{err:?}"
        );
    }
}
