//! [`Settings`]: the typed settings and how their layers are merged.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use crate::sources::VAR_PREFIX;
use crate::{ConfigError, Env, LogFormat, Origin, Secret, Sources, mask_url};

#[cfg(test)]
mod tests;

/// The database used when nothing else is configured: a SQLite file in the current
/// directory, created on first use. Fine for development, flagged by
/// [`Settings::deploy_problems`].
pub const DEFAULT_DATABASE_URL: &str = "sqlite://rustango.db?mode=rwc";

/// The default listen address: loopback only, port 8080.
pub const DEFAULT_BIND: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));

/// The default tracing filter.
pub const DEFAULT_LOG: &str = "info";

/// How long JSON log lines may wait in memory before they are written, unless the
/// settings say otherwise: 100 ms.
pub const DEFAULT_LOG_FLUSH_MS: u64 = 100;

/// Minimum `SECRET_KEY` length, in bytes, required in production.
pub const MIN_SECRET_KEY_LEN: usize = 32;

/// The base settings file, read from [`Sources::dir`].
pub const SETTINGS_FILE: &str = "rustango.toml";

/// Top-level keys that map to a typed field; every other key is an app section.
const BUILTIN_KEYS: &[&str] = &[
    "env",
    "database_url",
    "secret_key",
    "bind",
    "redis_url",
    "log",
    "log_format",
    "log_flush_ms",
    "trusted_proxies",
    "allowed_hosts",
];

/// The framework's typed settings, plus app-defined sections.
///
/// Loaded by [`Settings::from_env`] / [`Settings::load`] from four layers, each
/// overriding the one before:
///
/// 1. built-in defaults ([`Settings::defaults`]);
/// 2. `rustango.toml`;
/// 3. `rustango.<env>.toml` (`rustango.dev.toml`, `rustango.test.toml` or
///    `rustango.prod.toml`), where the environment comes from `RUSTANGO_ENV`, or from
///    `env = "…"` in `rustango.toml` when the variable is unset;
/// 4. environment variables:
///
/// | variable | field | file key |
/// |---|---|---|
/// | `RUSTANGO_ENV` | [`env`](Self::env) | `env` |
/// | `DATABASE_URL` | [`database_url`](Self::database_url) | `database_url` |
/// | `SECRET_KEY` | [`secret_key`](Self::secret_key) | `secret_key` |
/// | `REDIS_URL` | [`redis_url`](Self::redis_url) | `redis_url` |
/// | `RUSTANGO_BIND` | [`bind`](Self::bind) | `bind` |
/// | `RUSTANGO_LOG` | [`log`](Self::log) | `log` |
/// | `RUSTANGO_LOG_FORMAT` | [`log_format`](Self::log_format) | `log_format` |
/// | `RUSTANGO_LOG_FLUSH_MS` | [`log_flush_ms`](Self::log_flush_ms) | `log_flush_ms` |
/// | `RUSTANGO_TRUSTED_PROXIES` | [`trusted_proxies`](Self::trusted_proxies) (comma-separated) | `trusted_proxies` (array) |
/// | `RUSTANGO_ALLOWED_HOSTS` | [`allowed_hosts`](Self::allowed_hosts) (comma-separated) | `allowed_hosts` (array) |
/// | `RUSTANGO_<SECTION>__<KEY>` | app section, read with [`section`](Self::section) | `[section] key = …` |
///
/// An empty (or all-whitespace) variable counts as unset, because shells and container
/// tools often pass `NAME=` for "not configured".
///
/// In `RUSTANGO_<SECTION>__<KEY>`, double underscores separate path segments
/// (`RUSTANGO_MYAPP__SMTP__PORT=25` sets `myapp.smtp.port`), segments are lower-cased,
/// and the value is read as a TOML scalar when it parses as one (`25`, `true`, `1.5`,
/// `2024-01-01`, `"quoted"`), otherwise as a plain string. Quote a value to force a
/// string: `RUSTANGO_MYAPP__CODE='"007"'`. Note that `inf` and `nan` parse as floats.
/// Sections are merged table by table across the files and the variables.
///
/// `Debug` never shows secrets: the secret key prints as `Secret(***)`, passwords and
/// sensitive parameters in the database and Redis URLs are masked by [`mask_url`], and
/// app sections are listed by name only.
#[derive(Clone)]
#[non_exhaustive]
pub struct Settings {
    /// The deployment environment (default [`Env::Dev`]).
    pub env: Env,
    /// The database connection URL (default [`DEFAULT_DATABASE_URL`]). May contain a
    /// password: log it through [`mask_url`].
    pub database_url: String,
    /// The key for signing cookies and tokens. Required, and at least
    /// [`MIN_SECRET_KEY_LEN`] bytes, in production (see [`Settings::validate`]).
    pub secret_key: Option<Secret>,
    /// The address the server listens on (default [`DEFAULT_BIND`]). An IP address and
    /// port, not a host name: resolving names is the deployment's job.
    pub bind: SocketAddr,
    /// The Redis URL for the cache, sessions and jobs, if any. May contain a password.
    pub redis_url: Option<String>,
    /// The tracing filter, e.g. `info,sqlx=warn` (default [`DEFAULT_LOG`]).
    pub log: String,
    /// How logs are written (default: JSON in production, pretty otherwise).
    pub log_format: LogFormat,
    /// How long JSON log lines may wait in memory before they are written, in
    /// milliseconds (default [`DEFAULT_LOG_FLUSH_MS`]); `0` writes every line at once.
    pub log_flush_ms: u64,
    /// Proxies whose forwarding headers are trusted, as CIDR strings. Validated by the
    /// middleware that uses them, not here.
    pub trusted_proxies: Vec<String>,
    /// Host names this site answers to.
    pub allowed_hosts: Vec<String>,
    sections: Table,
    warnings: Vec<String>,
}

impl Default for Settings {
    /// The defaults for [`Env::Dev`].
    fn default() -> Self {
        Self::defaults(Env::Dev)
    }
}

impl Settings {
    /// The built-in defaults for `env`, with no files or variables applied.
    pub fn defaults(env: Env) -> Self {
        Self {
            env,
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            secret_key: None,
            bind: DEFAULT_BIND,
            redis_url: None,
            log: DEFAULT_LOG.to_owned(),
            log_format: LogFormat::default_for(env),
            log_flush_ms: DEFAULT_LOG_FLUSH_MS,
            trusted_proxies: Vec::new(),
            allowed_hosts: Vec::new(),
            sections: Table::new(),
            warnings: Vec::new(),
        }
    }

    /// Loads settings from the files in the current directory and the process
    /// environment: `Settings::load(Sources::from_process()?)`.
    ///
    /// This does not call [`Settings::validate`]; the server does, before starting.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::load(Sources::from_process()?)
    }

    /// Loads settings from `sources` (see the layer table on [`Settings`]).
    ///
    /// Missing files are skipped. A file that cannot be read is [`ConfigError::Io`], one
    /// that is not valid TOML is [`ConfigError::File`] (with line and column), and a
    /// value of the wrong type or format is [`ConfigError::Invalid`], naming the key and
    /// the file or variable it came from.
    pub fn load(sources: Sources) -> Result<Self, ConfigError> {
        let Sources { dir, vars } = sources;

        let base_path = dir.join(SETTINGS_FILE);
        let base = read_table(&base_path)?;
        let env = choose_env(&vars, base.as_ref(), &base_path)?;
        let env_path = dir.join(env.file_name());
        let env_file = read_table(&env_path)?;

        let mut settings = Self::defaults(env);
        if let Some(table) = base {
            settings.apply_file(table, &base_path, false)?;
        }
        if let Some(table) = env_file {
            settings.apply_file(table, &env_path, true)?;
        }
        settings.apply_vars(&vars)?;
        Ok(settings)
    }

    /// Deserializes the app-defined section `name` (`[name]` in the files, plus
    /// `RUSTANGO_<NAME>__*` variables); `Ok(None)` if no layer defines it.
    ///
    /// Any top-level key that is not a built-in setting can be read this way, table or
    /// not. Errors are [`ConfigError::Section`], with string values masked.
    pub fn section<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ConfigError> {
        let Some(value) = self.sections.get(name) else {
            return Ok(None);
        };
        T::deserialize(value.clone())
            .map(Some)
            .map_err(|e| ConfigError::Section {
                section: name.to_owned(),
                message: mask_quoted(&e.to_string().trim_end().replace('\n', " ")),
            })
    }

    /// The merged TOML of every app-defined section (everything but the built-in keys).
    pub fn sections(&self) -> &Table {
        &self.sections
    }

    /// Non-fatal oddities found while loading, such as an unknown top-level key that
    /// is probably a typo (`databse_url = …`). Meant to be logged once tracing is set
    /// up, which needs these very settings first.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// What stands between these settings and a production deployment, for
    /// `manage check --deploy`. Empty means ready.
    ///
    /// Entries starting with `warning: ` are advice; the others are problems.
    pub fn deploy_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.env.is_prod() {
            problems.push(format!(
                "RUSTANGO_ENV is `{}`; set RUSTANGO_ENV=prod for a production deployment",
                self.env
            ));
        }
        match &self.secret_key {
            None => problems.push(format!(
                "SECRET_KEY is not set; set it to at least {MIN_SECRET_KEY_LEN} random bytes"
            )),
            Some(key) if key.len() < MIN_SECRET_KEY_LEN => problems.push(format!(
                "SECRET_KEY is only {} bytes long; use at least {MIN_SECRET_KEY_LEN} random bytes",
                key.len()
            )),
            Some(_) => {}
        }
        if self.database_url == DEFAULT_DATABASE_URL {
            problems.push(format!(
                "DATABASE_URL is not set; the default `{DEFAULT_DATABASE_URL}` is meant for development"
            ));
        }
        if is_sqlite(&self.database_url) {
            problems.push(
                "warning: DATABASE_URL points at SQLite; prefer PostgreSQL in production \
                 (concurrent writers, online backups)"
                    .to_owned(),
            );
        }
        if self.allowed_hosts.is_empty() {
            problems.push(
                "warning: RUSTANGO_ALLOWED_HOSTS is empty; list the host names this site serves"
                    .to_owned(),
            );
        }
        problems
    }

    /// Checks what must hold for the server to start: in production, `SECRET_KEY` is
    /// set and at least [`MIN_SECRET_KEY_LEN`] bytes long. Development and test
    /// environments accept a missing or short key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.env.is_prod() {
            return Ok(());
        }
        match &self.secret_key {
            None => Err(ConfigError::MissingSecretKey { env: self.env }),
            Some(key) if key.len() < MIN_SECRET_KEY_LEN => Err(ConfigError::ShortSecretKey {
                len: key.len(),
                min: MIN_SECRET_KEY_LEN,
                env: self.env,
            }),
            Some(_) => Ok(()),
        }
    }

    /// Applies one settings file. `is_env_file` forbids it from switching `env`.
    fn apply_file(
        &mut self,
        table: Table,
        path: &Path,
        is_env_file: bool,
    ) -> Result<(), ConfigError> {
        let origin = Origin::File(path.to_path_buf());
        for (key, value) in table {
            match key.as_str() {
                "env" => {
                    let env = Env::parse(&expect_string(value, &key, &origin)?, origin.clone())?;
                    if is_env_file && env != self.env {
                        return Err(ConfigError::Invalid {
                            key,
                            origin,
                            message: format!(
                                "this file is read for environment `{}` and cannot switch to `{env}`",
                                self.env
                            ),
                        });
                    }
                }
                "database_url" => {
                    let url = expect_string(value, &key, &origin)?;
                    if url.trim().is_empty() {
                        return Err(ConfigError::Invalid {
                            key,
                            origin,
                            message: "must not be empty".to_owned(),
                        });
                    }
                    self.database_url = url;
                }
                "secret_key" => {
                    let secret = Secret::from(expect_string(value, &key, &origin)?);
                    self.secret_key = (!secret.is_empty()).then_some(secret);
                }
                "bind" => {
                    self.bind = parse_bind(&expect_string(value, &key, &origin)?, origin.clone())?
                }
                "redis_url" => {
                    let url = expect_string(value, &key, &origin)?;
                    self.redis_url = (!url.trim().is_empty()).then_some(url);
                }
                "log" => self.log = expect_string(value, &key, &origin)?,
                "log_format" => {
                    self.log_format =
                        LogFormat::parse(&expect_string(value, &key, &origin)?, origin.clone())?;
                }
                "log_flush_ms" => self.log_flush_ms = expect_millis(value, &key, &origin)?,
                "trusted_proxies" => {
                    self.trusted_proxies = expect_string_list(value, &key, &origin)?
                }
                "allowed_hosts" => self.allowed_hosts = expect_string_list(value, &key, &origin)?,
                _ => {
                    if !value.is_table() {
                        self.warnings.push(format!(
                            "unknown setting `{key}` in {origin}; app settings belong in a [section]"
                        ));
                    }
                    merge(&mut self.sections, key, value);
                }
            }
        }
        Ok(())
    }

    /// Applies the environment-variable layer.
    fn apply_vars(&mut self, vars: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        let var = |name: &str| {
            vars.get(name)
                .map(String::as_str)
                .filter(|v| !v.trim().is_empty())
        };
        let origin = |name: &str| Origin::EnvVar(name.to_owned());

        if let Some(url) = var("DATABASE_URL") {
            self.database_url = url.to_owned();
        }
        if let Some(key) = var("SECRET_KEY") {
            self.secret_key = Some(Secret::from(key));
        }
        if let Some(url) = var("REDIS_URL") {
            self.redis_url = Some(url.to_owned());
        }
        if let Some(bind) = var("RUSTANGO_BIND") {
            self.bind = parse_bind(bind, origin("RUSTANGO_BIND"))?;
        }
        if let Some(log) = var("RUSTANGO_LOG") {
            self.log = log.to_owned();
        }
        if let Some(format) = var("RUSTANGO_LOG_FORMAT") {
            self.log_format = LogFormat::parse(format, origin("RUSTANGO_LOG_FORMAT"))?;
        }
        if let Some(ms) = var("RUSTANGO_LOG_FLUSH_MS") {
            self.log_flush_ms = ms.trim().parse().map_err(|_| ConfigError::Invalid {
                key: "log_flush_ms".to_owned(),
                origin: origin("RUSTANGO_LOG_FLUSH_MS"),
                message: format!("expected a whole number of milliseconds, found {ms:?}"),
            })?;
        }
        if let Some(list) = var("RUSTANGO_TRUSTED_PROXIES") {
            self.trusted_proxies = split_list(list);
        }
        if let Some(list) = var("RUSTANGO_ALLOWED_HOSTS") {
            self.allowed_hosts = split_list(list);
        }

        for (name, value) in vars {
            let Some(path) = name.strip_prefix(VAR_PREFIX) else {
                continue;
            };
            if path.contains("__") && !value.trim().is_empty() {
                self.apply_override(name, path, value)?;
            }
        }
        Ok(())
    }

    /// Applies one `RUSTANGO_<SECTION>__<KEY>` variable; `path` is the name without
    /// the prefix.
    fn apply_override(&mut self, name: &str, path: &str, raw: &str) -> Result<(), ConfigError> {
        let origin = Origin::EnvVar(name.to_owned());
        let segments: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        if segments.iter().any(String::is_empty) {
            return Err(ConfigError::Invalid {
                key: name.to_owned(),
                origin,
                message: "expected RUSTANGO_<SECTION>__<KEY>, with non-empty parts between double underscores"
                    .to_owned(),
            });
        }
        if BUILTIN_KEYS.contains(&segments[0].as_str()) {
            return Err(ConfigError::Invalid {
                key: segments.join("."),
                origin,
                message: format!(
                    "`{}` is a built-in setting, not a section; set it with its own variable",
                    segments[0]
                ),
            });
        }

        let Some((last, parents)) = segments.split_last() else {
            return Ok(());
        };
        let mut table = &mut self.sections;
        for (i, segment) in parents.iter().enumerate() {
            let entry = table
                .entry(segment.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            table = match entry {
                Value::Table(inner) => inner,
                other => {
                    return Err(ConfigError::Invalid {
                        key: segments[..=i].join("."),
                        origin,
                        message: format!(
                            "is a {} in the settings files, not a table",
                            other.type_str()
                        ),
                    });
                }
            };
        }
        table.insert(last.clone(), parse_scalar(raw));
        Ok(())
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("env", &self.env)
            .field("database_url", &mask_url(&self.database_url))
            .field("secret_key", &self.secret_key)
            .field("bind", &self.bind)
            .field("redis_url", &self.redis_url.as_deref().map(mask_url))
            .field("log", &self.log)
            .field("log_format", &self.log_format)
            .field("log_flush_ms", &self.log_flush_ms)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("sections", &self.sections.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Reads and parses a settings file; `Ok(None)` if it does not exist.
fn read_table(path: &Path) -> Result<Option<Table>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    text.parse::<Table>().map(Some).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |span| line_col(&text, span.start));
        // `message()` rather than `Display`: the latter quotes the offending line,
        // which may hold a secret.
        ConfigError::File {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim_end().to_owned(),
        }
    })
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// Picks the environment: `RUSTANGO_ENV`, else `env` in `rustango.toml`, else dev.
fn choose_env(
    vars: &BTreeMap<String, String>,
    base: Option<&Table>,
    base_path: &Path,
) -> Result<Env, ConfigError> {
    if let Some(value) = vars.get("RUSTANGO_ENV").filter(|v| !v.trim().is_empty()) {
        return Env::parse(value, Origin::EnvVar("RUSTANGO_ENV".to_owned()));
    }
    match base.and_then(|table| table.get("env")) {
        None => Ok(Env::Dev),
        Some(value) => {
            let origin = Origin::File(base_path.to_path_buf());
            Env::parse(&expect_string(value.clone(), "env", &origin)?, origin)
        }
    }
}

fn expect_string(value: Value, key: &str, origin: &Origin) -> Result<String, ConfigError> {
    match value {
        Value::String(s) => Ok(s),
        // The value itself is not echoed: the key may be a secret.
        other => Err(ConfigError::Invalid {
            key: key.to_owned(),
            origin: origin.clone(),
            message: format!("expected a string, found {}", other.type_str()),
        }),
    }
}

fn expect_millis(value: Value, key: &str, origin: &Origin) -> Result<u64, ConfigError> {
    match value {
        Value::Integer(ms) if ms >= 0 => Ok(ms.unsigned_abs()),
        other => Err(ConfigError::Invalid {
            key: key.to_owned(),
            origin: origin.clone(),
            message: format!(
                "expected a whole number of milliseconds (0 or more), found {}",
                match other {
                    Value::Integer(ms) => ms.to_string(),
                    other => other.type_str().to_owned(),
                }
            ),
        }),
    }
}

fn expect_string_list(
    value: Value,
    key: &str,
    origin: &Origin,
) -> Result<Vec<String>, ConfigError> {
    let Value::Array(items) = value else {
        return Err(ConfigError::Invalid {
            key: key.to_owned(),
            origin: origin.clone(),
            message: format!("expected an array of strings, found {}", value.type_str()),
        });
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| expect_string(item, &format!("{key}[{i}]"), origin))
        .collect()
}

fn parse_bind(text: &str, origin: Origin) -> Result<SocketAddr, ConfigError> {
    text.trim().parse().map_err(|_| ConfigError::Invalid {
        key: "bind".to_owned(),
        origin,
        message: format!(
            "`{text}` is not an IP address and port such as 127.0.0.1:8080 or [::]:8080"
        ),
    })
}

/// Splits a comma-separated list, trimming items and dropping empty ones.
fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Reads an environment value as a TOML scalar if it is one, else as a string.
fn parse_scalar(raw: &str) -> Value {
    match raw.parse::<Value>() {
        Ok(
            value @ (Value::String(_)
            | Value::Integer(_)
            | Value::Float(_)
            | Value::Boolean(_)
            | Value::Datetime(_)),
        ) => value,
        _ => Value::String(raw.to_owned()),
    }
}

/// Merges `value` into `table[key]`: tables merge key by key, anything else replaces.
fn merge(table: &mut Table, key: String, value: Value) {
    match value {
        Value::Table(incoming) => {
            if let Some(Value::Table(existing)) = table.get_mut(&key) {
                for (k, v) in incoming {
                    merge(existing, k, v);
                }
            } else {
                table.insert(key, Value::Table(incoming));
            }
        }
        other => {
            table.insert(key, other);
        }
    }
}

fn is_sqlite(url: &str) -> bool {
    url.trim_start().to_ascii_lowercase().starts_with("sqlite:")
}

/// Hides the values a deserializer message quotes, keeping the names: every
/// double-quoted string becomes `"***"` (serde quotes string values with `Debug`:
/// `invalid type: string "hunter2"`), and so does the backtick-quoted text after
/// `integer`, `floating point`, `boolean`, `character` or `variant` (`invalid type:
/// integer `123456``, `unknown variant `x``). Other backtick-quoted text is a field
/// or variant name (`missing field `pin``, `expected one of `a`, `b``) and is kept.
fn mask_quoted(message: &str) -> String {
    const VALUE_KINDS: [&str; 5] = [
        "integer ",
        "floating point ",
        "boolean ",
        "character ",
        "variant ",
    ];
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(c) = rest.chars().next() {
        let value_follows = c == '`' && VALUE_KINDS.iter().any(|kind| out.ends_with(kind));
        out.push(c);
        rest = &rest[c.len_utf8()..];
        let end = match c {
            // A Rust string literal: up to the first unescaped quote.
            '"' => {
                let mut escaped = false;
                rest.char_indices()
                    .find(|&(_, c)| match c {
                        _ if escaped => {
                            escaped = false;
                            false
                        }
                        '\\' => {
                            escaped = true;
                            false
                        }
                        c => c == '"',
                    })
                    .map(|(i, _)| i)
            }
            // A value may hold backticks itself: it ends at the backtick before
            // `, expected`, or else at the message's last backtick.
            '`' if value_follows => rest.find("`, expected").or_else(|| rest.rfind('`')),
            _ => continue,
        };
        out.push_str("***");
        out.push(c);
        rest = match end {
            Some(i) => &rest[i + 1..],
            None => "",
        };
    }
    out
}
