//! Tests for loading, layering, errors, masking and the deploy checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;

use super::*;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "rustango-config-test-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn sources(&self) -> Sources {
        Sources::new(&self.0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load(sources: Sources) -> Settings {
    Settings::load(sources).unwrap()
}

#[track_caller]
fn invalid(err: ConfigError) -> (String, Origin, String) {
    match err {
        ConfigError::Invalid {
            key,
            origin,
            message,
        } => (key, origin, message),
        other => panic!("expected ConfigError::Invalid, got {other:?}"),
    }
}

const STRONG_KEY: &str = "0123456789abcdef0123456789abcdef-strong";

// ---------------------------------------------------------------- layer 1: defaults

#[test]
fn defaults_apply_when_there_are_no_files_or_variables() {
    let dir = TempDir::new();
    let s = load(dir.sources());
    assert_eq!(s.env, Env::Dev);
    assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
    assert_eq!(s.database_url, "sqlite://rustango.db?mode=rwc");
    assert!(s.secret_key.is_none());
    assert_eq!(s.bind, "127.0.0.1:8080".parse().unwrap());
    assert!(s.redis_url.is_none());
    assert_eq!(s.log, "info");
    assert_eq!(s.log_format, LogFormat::Pretty);
    assert!(s.trusted_proxies.is_empty() && s.allowed_hosts.is_empty());
    assert!(s.sections().is_empty());
    assert!(s.warnings().is_empty());
}

#[test]
fn missing_directory_is_fine() {
    let s = load(Sources::new(
        std::env::temp_dir().join("rustango-config-test-does-not-exist"),
    ));
    assert_eq!(s.env, Env::Dev);
}

#[test]
fn default_impl_matches_dev_defaults_and_prod_logs_json() {
    let d = Settings::default();
    assert_eq!(d.env, Env::Dev);
    assert_eq!(d.log_format, LogFormat::Pretty);
    assert_eq!(Settings::defaults(Env::Prod).log_format, LogFormat::Json);
    assert_eq!(Settings::defaults(Env::Test).log_format, LogFormat::Pretty);
}

// ---------------------------------------------------------------- layer 2: rustango.toml

#[test]
fn base_file_overrides_every_default() {
    let dir = TempDir::new();
    dir.write(
        SETTINGS_FILE,
        r#"
database_url = "postgres://app@db/app"
secret_key = "from-file"
bind = "0.0.0.0:9000"
redis_url = "redis://cache:6379"
log = "debug,sqlx=warn"
log_format = "json"
log_flush_ms = 250
trusted_proxies = ["10.0.0.0/8", "192.168.0.0/16"]
allowed_hosts = ["example.com"]

[shop]
currency = "EUR"
"#,
    );
    let s = load(dir.sources());
    assert_eq!(s.env, Env::Dev);
    assert_eq!(s.database_url, "postgres://app@db/app");
    assert_eq!(s.secret_key.as_ref().unwrap().expose(), "from-file");
    assert_eq!(s.bind, "0.0.0.0:9000".parse().unwrap());
    assert_eq!(s.redis_url.as_deref(), Some("redis://cache:6379"));
    assert_eq!(s.log, "debug,sqlx=warn");
    assert_eq!(s.log_format, LogFormat::Json);
    assert_eq!(s.log_flush_ms, 250);
    assert_eq!(s.trusted_proxies, ["10.0.0.0/8", "192.168.0.0/16"]);
    assert_eq!(s.allowed_hosts, ["example.com"]);
    assert_eq!(s.sections()["shop"]["currency"].as_str(), Some("EUR"));
}

#[test]
fn empty_secret_key_and_redis_url_in_a_file_mean_unset() {
    let dir = TempDir::new();
    dir.write(SETTINGS_FILE, "secret_key = \"\"\nredis_url = \" \"\n");
    let s = load(dir.sources());
    assert!(s.secret_key.is_none());
    assert!(s.redis_url.is_none());
}

#[test]
fn env_key_in_base_file_selects_the_environment_and_its_file() {
    let dir = TempDir::new();
    dir.write(SETTINGS_FILE, "env = \"production\"\nlog = \"info\"\n");
    dir.write("rustango.prod.toml", "log = \"warn\"\n");
    dir.write("rustango.dev.toml", "log = \"trace\"\n");
    let s = load(dir.sources());
    assert_eq!(s.env, Env::Prod);
    assert_eq!(s.log, "warn");
    assert_eq!(s.log_format, LogFormat::Json, "prod default");
}

#[test]
fn rustango_env_variable_wins_over_env_key_in_file() {
    let dir = TempDir::new();
    dir.write(SETTINGS_FILE, "env = \"prod\"\n");
    dir.write("rustango.prod.toml", "log = \"warn\"\n");
    dir.write("rustango.test.toml", "log = \"debug\"\n");
    let s = load(dir.sources().var("RUSTANGO_ENV", "TEST"));
    assert_eq!(s.env, Env::Test);
    assert_eq!(s.log, "debug");
}

// ---------------------------------------------------------------- layer 3: rustango.<env>.toml

#[test]
fn env_file_overrides_base_file_and_merges_sections() {
    let dir = TempDir::new();
    dir.write(
        SETTINGS_FILE,
        r#"
database_url = "postgres://base@db/app"
log = "info"
allowed_hosts = ["a.example", "b.example"]

[shop]
currency = "EUR"
page_size = 20
[shop.smtp]
host = "localhost"
port = 25
"#,
    );
    dir.write(
        "rustango.prod.toml",
        r#"
env = "prod"
database_url = "postgres://prod@db/app"
allowed_hosts = ["prod.example"]

[shop]
page_size = 50
[shop.smtp]
host = "smtp.example"
"#,
    );
    let s = load(dir.sources().var("RUSTANGO_ENV", "prod"));
    assert_eq!(s.database_url, "postgres://prod@db/app");
    assert_eq!(s.log, "info", "kept from the base file");
    assert_eq!(
        s.allowed_hosts,
        ["prod.example"],
        "arrays replace, not append"
    );

    #[derive(Deserialize, Debug, PartialEq)]
    struct Smtp {
        host: String,
        port: u16,
    }
    #[derive(Deserialize, Debug, PartialEq)]
    struct Shop {
        currency: String,
        page_size: u32,
        smtp: Smtp,
    }
    let shop: Shop = s.section("shop").unwrap().unwrap();
    assert_eq!(
        shop,
        Shop {
            currency: "EUR".into(),
            page_size: 50,
            smtp: Smtp {
                host: "smtp.example".into(),
                port: 25
            },
        }
    );
}

#[test]
fn env_file_for_another_environment_is_not_read() {
    let dir = TempDir::new();
    dir.write("rustango.prod.toml", "log = \"warn\"\n");
    let s = load(dir.sources());
    assert_eq!(s.env, Env::Dev);
    assert_eq!(s.log, "info");
}

#[test]
fn env_file_cannot_switch_the_environment() {
    let dir = TempDir::new();
    let path = dir.write("rustango.dev.toml", "env = \"prod\"\n");
    let (key, origin, message) = invalid(Settings::load(dir.sources()).unwrap_err());
    assert_eq!(key, "env");
    assert_eq!(origin, Origin::File(path));
    assert!(message.contains("cannot switch to `prod`"), "{message}");
}

// ---------------------------------------------------------------- layer 4: environment variables

#[test]
fn environment_variables_override_files() {
    let dir = TempDir::new();
    dir.write(
        SETTINGS_FILE,
        r#"
database_url = "postgres://file@db/app"
secret_key = "file-key"
bind = "0.0.0.0:9000"
redis_url = "redis://file"
log = "debug"
log_format = "json"
trusted_proxies = ["10.0.0.0/8"]
allowed_hosts = ["file.example"]
"#,
    );
    let s = load(
        dir.sources()
            .var("DATABASE_URL", "postgres://env@db/app")
            .var("SECRET_KEY", "env-key")
            .var("REDIS_URL", "redis://env")
            .var("RUSTANGO_BIND", " [::1]:7000 ")
            .var("RUSTANGO_LOG", "warn")
            .var("RUSTANGO_LOG_FORMAT", "Pretty")
            .var("RUSTANGO_TRUSTED_PROXIES", "127.0.0.1/32, ::1/128,,")
            .var("RUSTANGO_ALLOWED_HOSTS", "a.example,b.example"),
    );
    assert_eq!(s.database_url, "postgres://env@db/app");
    assert_eq!(s.secret_key.as_ref().unwrap().expose(), "env-key");
    assert_eq!(s.redis_url.as_deref(), Some("redis://env"));
    assert_eq!(s.bind, "[::1]:7000".parse().unwrap());
    assert_eq!(s.log, "warn");
    assert_eq!(s.log_format, LogFormat::Pretty);
    assert_eq!(s.trusted_proxies, ["127.0.0.1/32", "::1/128"]);
    assert_eq!(s.allowed_hosts, ["a.example", "b.example"]);
}

#[test]
fn empty_environment_variables_count_as_unset() {
    let dir = TempDir::new();
    dir.write(
        SETTINGS_FILE,
        "database_url = \"postgres://file@db/app\"\nallowed_hosts = [\"file.example\"]\n",
    );
    let mut sources = dir.sources();
    for name in [
        "RUSTANGO_ENV",
        "DATABASE_URL",
        "SECRET_KEY",
        "REDIS_URL",
        "RUSTANGO_BIND",
        "RUSTANGO_LOG",
        "RUSTANGO_LOG_FORMAT",
        "RUSTANGO_ALLOWED_HOSTS",
        "RUSTANGO_SHOP__CURRENCY",
    ] {
        sources = sources.var(name, " ");
    }
    let s = load(sources);
    assert_eq!(s.env, Env::Dev);
    assert_eq!(s.database_url, "postgres://file@db/app");
    assert!(s.secret_key.is_none() && s.redis_url.is_none());
    assert_eq!(s.bind, DEFAULT_BIND);
    assert_eq!(s.allowed_hosts, ["file.example"]);
    assert!(s.sections().is_empty());
}

#[test]
fn generic_overrides_parse_toml_scalars_or_fall_back_to_strings() {
    let dir = TempDir::new();
    let s = load(
        dir.sources()
            .var("RUSTANGO_APP__INT", "42")
            .var("RUSTANGO_APP__FLOAT", "1.5")
            .var("RUSTANGO_APP__FLAG", "true")
            .var("RUSTANGO_APP__QUOTED", "\"007\"")
            .var("RUSTANGO_APP__LEADING_ZERO", "007")
            .var("RUSTANGO_APP__WORDS", "hello world")
            .var("RUSTANGO_APP__URL", "https://x.example/a?b=c")
            .var("RUSTANGO_APP__DAY", "2024-01-02")
            .var("RUSTANGO_APP__LIST", "[1, 2]")
            .var("RUSTANGO_APP__TABLE", "{ a = 1 }")
            .var("RUSTANGO_APP__SMTP__PORT", "2525")
            .var("RUSTANGO_UNRELATED", "no double underscore, ignored"),
    );
    let app = s.sections()["app"].as_table().unwrap();
    assert_eq!(app["int"].as_integer(), Some(42));
    assert_eq!(app["float"].as_float(), Some(1.5));
    assert_eq!(app["flag"].as_bool(), Some(true));
    assert_eq!(app["quoted"].as_str(), Some("007"));
    assert_eq!(app["leading_zero"].as_str(), Some("007"));
    assert_eq!(app["words"].as_str(), Some("hello world"));
    assert_eq!(app["url"].as_str(), Some("https://x.example/a?b=c"));
    assert!(app["day"].is_datetime());
    assert_eq!(
        app["list"].as_str(),
        Some("[1, 2]"),
        "only scalars are parsed"
    );
    assert_eq!(app["table"].as_str(), Some("{ a = 1 }"));
    assert_eq!(app["smtp"]["port"].as_integer(), Some(2525));
    assert_eq!(s.sections().len(), 1);
}

#[test]
fn generic_overrides_merge_into_file_sections() {
    let dir = TempDir::new();
    dir.write(
        SETTINGS_FILE,
        "[shop]\ncurrency = \"EUR\"\npage_size = 20\n",
    );
    let s = load(dir.sources().var("RUSTANGO_SHOP__PAGE_SIZE", "100"));
    #[derive(Deserialize)]
    struct Shop {
        currency: String,
        page_size: u32,
    }
    let shop: Shop = s.section("shop").unwrap().unwrap();
    assert_eq!(shop.currency, "EUR");
    assert_eq!(shop.page_size, 100);
}

#[test]
fn generic_override_with_empty_segment_is_an_error() {
    let dir = TempDir::new();
    for name in ["RUSTANGO___KEY", "RUSTANGO_SHOP__", "RUSTANGO_SHOP____KEY"] {
        let (key, origin, _) = invalid(Settings::load(dir.sources().var(name, "1")).unwrap_err());
        assert_eq!(key, name);
        assert_eq!(origin, Origin::EnvVar(name.to_owned()));
    }
}

#[test]
fn generic_override_into_a_builtin_setting_is_an_error() {
    let dir = TempDir::new();
    let (key, origin, message) =
        invalid(Settings::load(dir.sources().var("RUSTANGO_LOG__LEVEL", "debug")).unwrap_err());
    assert_eq!(key, "log.level");
    assert_eq!(origin, Origin::EnvVar("RUSTANGO_LOG__LEVEL".into()));
    assert!(message.contains("built-in"), "{message}");
}

#[test]
fn generic_override_through_a_non_table_is_an_error() {
    let dir = TempDir::new();
    dir.write(SETTINGS_FILE, "[shop]\nsmtp = \"plain\"\n");
    let (key, origin, message) =
        invalid(Settings::load(dir.sources().var("RUSTANGO_SHOP__SMTP__PORT", "25")).unwrap_err());
    assert_eq!(key, "shop.smtp");
    assert_eq!(origin, Origin::EnvVar("RUSTANGO_SHOP__SMTP__PORT".into()));
    assert!(message.contains("string"), "{message}");
}

// ---------------------------------------------------------------- file errors

#[test]
fn malformed_file_reports_path_line_and_column() {
    let dir = TempDir::new();
    let path = dir.write(
        SETTINGS_FILE,
        "log = \"info\"\nsecret_key = \"hunter2\" oops\n",
    );
    match Settings::load(dir.sources()).unwrap_err() {
        err @ ConfigError::File { .. } => {
            let text = err.to_string();
            assert!(!text.contains("hunter2"), "{text}");
            let ConfigError::File {
                path: p,
                line,
                column,
                message,
            } = err
            else {
                unreachable!()
            };
            assert_eq!(p, path);
            assert_eq!(line, 2);
            assert!(column > 1, "column {column}");
            assert!(!message.is_empty());
            assert!(
                text.starts_with(&format!("{}:2:", path.display())),
                "{text}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn malformed_env_file_is_reported_too() {
    let dir = TempDir::new();
    let path = dir.write("rustango.test.toml", "[shop\n");
    match Settings::load(dir.sources().var("RUSTANGO_ENV", "test")).unwrap_err() {
        ConfigError::File { path: p, line, .. } => {
            assert_eq!(p, path);
            assert_eq!(line, 1);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn duplicate_keys_are_a_file_error() {
    let dir = TempDir::new();
    dir.write(SETTINGS_FILE, "log = \"a\"\nlog = \"b\"\n");
    assert!(matches!(
        Settings::load(dir.sources()).unwrap_err(),
        ConfigError::File { line: 2, .. }
    ));
}

#[test]
fn unreadable_file_is_an_io_error() {
    let dir = TempDir::new();
    // A directory where the file should be.
    std::fs::create_dir(dir.path().join(SETTINGS_FILE)).unwrap();
    match Settings::load(dir.sources()).unwrap_err() {
        ConfigError::Io { path, .. } => assert_eq!(path, dir.path().join(SETTINGS_FILE)),
        other => panic!("unexpected {other:?}"),
    }

    let dir = TempDir::new();
    std::fs::write(dir.path().join(SETTINGS_FILE), [0xff, 0xfe, b'\n']).unwrap();
    assert!(matches!(
        Settings::load(dir.sources()).unwrap_err(),
        ConfigError::Io { .. }
    ));
}

#[test]
fn line_col_counts_characters() {
    assert_eq!(line_col("", 0), (1, 1));
    assert_eq!(line_col("ab\ncd", 4), (2, 2));
    assert_eq!(line_col("é = x", 3), (1, 3));
    assert_eq!(line_col("éa", 1), (1, 1), "inside a char: rounds down");
    assert_eq!(line_col("ab", 99), (1, 3), "past the end: clamps");
}

// ---------------------------------------------------------------- type errors

#[test]
fn wrong_types_in_files_name_the_key_and_the_file() {
    let cases: &[(&str, &str, &str)] = &[
        ("bind = 5", "bind", "expected a string, found integer"),
        (
            "bind = \"notanaddr\"",
            "bind",
            "`notanaddr` is not an IP address",
        ),
        ("bind = \"localhost:80\"", "bind", "not an IP address"),
        ("database_url = 1", "database_url", "found integer"),
        ("database_url = \"\"", "database_url", "must not be empty"),
        ("redis_url = true", "redis_url", "found boolean"),
        ("log = []", "log", "found array"),
        (
            "log_format = \"xml\"",
            "log_format",
            "`xml` is not a log format",
        ),
        ("log_format = 1", "log_format", "found integer"),
        (
            "trusted_proxies = \"10.0.0.0/8\"",
            "trusted_proxies",
            "expected an array of strings, found string",
        ),
        (
            "allowed_hosts = [\"a\", 2]",
            "allowed_hosts[1]",
            "found integer",
        ),
        ("env = 3", "env", "found integer"),
    ];
    for (text, expected_key, expected_message) in cases {
        let dir = TempDir::new();
        let path = dir.write(SETTINGS_FILE, text);
        let (key, origin, message) = invalid(Settings::load(dir.sources()).unwrap_err());
        assert_eq!(&key, expected_key, "{text}");
        assert_eq!(origin, Origin::File(path), "{text}");
        assert!(message.contains(expected_message), "{text}: {message}");
    }
}

#[test]
fn wrongly_typed_secret_key_is_not_echoed() {
    let dir = TempDir::new();
    dir.write(SETTINGS_FILE, "secret_key = 987654321987\n");
    let err = Settings::load(dir.sources()).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("987654321987"), "{text}");
    assert_eq!(invalid(err).0, "secret_key");
}

#[test]
fn wrong_values_in_variables_name_the_key_and_the_variable() {
    let dir = TempDir::new();
    let (key, origin, message) =
        invalid(Settings::load(dir.sources().var("RUSTANGO_BIND", "notanaddr")).unwrap_err());
    assert_eq!(key, "bind");
    assert_eq!(origin, Origin::EnvVar("RUSTANGO_BIND".into()));
    assert!(message.contains("notanaddr"), "{message}");

    let (key, origin, _) =
        invalid(Settings::load(dir.sources().var("RUSTANGO_LOG_FORMAT", "xml")).unwrap_err());
    assert_eq!(key, "log_format");
    assert_eq!(origin, Origin::EnvVar("RUSTANGO_LOG_FORMAT".into()));
}

#[test]
fn unknown_environment_names_value_and_source() {
    let dir = TempDir::new();
    match Settings::load(dir.sources().var("RUSTANGO_ENV", "staging")).unwrap_err() {
        ConfigError::UnknownEnv { value, origin } => {
            assert_eq!(value, "staging");
            assert_eq!(origin, Origin::EnvVar("RUSTANGO_ENV".into()));
        }
        other => panic!("unexpected {other:?}"),
    }

    let path = dir.write(SETTINGS_FILE, "env = \"qa\"\n");
    match Settings::load(dir.sources()).unwrap_err() {
        ConfigError::UnknownEnv { value, origin } => {
            assert_eq!(value, "qa");
            assert_eq!(origin, Origin::File(path));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn unknown_env_in_base_file_is_reported_even_when_the_variable_is_set() {
    let dir = TempDir::new();
    dir.write(SETTINGS_FILE, "env = \"qa\"\n");
    assert!(matches!(
        Settings::load(dir.sources().var("RUSTANGO_ENV", "dev")).unwrap_err(),
        ConfigError::UnknownEnv { .. }
    ));
}

// ---------------------------------------------------------------- sections and warnings

#[test]
fn section_returns_none_when_absent_and_errors_when_mistyped() {
    let dir = TempDir::new();
    dir.write(
        SETTINGS_FILE,
        "[shop]\ncurrency = \"EUR\"\npage_size = \"sk_live_very_secret\"\n",
    );
    let s = load(dir.sources());

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Shop {
        currency: String,
        page_size: u32,
    }
    assert!(s.section::<Shop>("blog").unwrap().is_none());
    match s.section::<Shop>("shop").unwrap_err() {
        err @ ConfigError::Section { .. } => {
            let text = err.to_string();
            assert!(text.contains("`shop`"), "{text}");
            assert!(!text.contains("sk_live_very_secret"), "{text}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn section_reads_secrets_and_top_level_scalars() {
    let dir = TempDir::new();
    dir.write(
        SETTINGS_FILE,
        "site_name = \"Shop\"\n[payments]\napi_key = \"sk_live_123\"\n",
    );
    let s = load(dir.sources());
    #[derive(Deserialize)]
    struct Payments {
        api_key: Secret,
    }
    let p: Payments = s.section("payments").unwrap().unwrap();
    assert_eq!(p.api_key.expose(), "sk_live_123");
    assert_eq!(
        s.section::<String>("site_name").unwrap().as_deref(),
        Some("Shop")
    );
}

#[test]
fn unknown_top_level_scalars_are_warned_about() {
    let dir = TempDir::new();
    dir.write(
        SETTINGS_FILE,
        "databse_url = \"postgres://typo\"\n[shop]\nx = 1\n",
    );
    let s = load(dir.sources());
    assert_eq!(s.warnings().len(), 1, "{:?}", s.warnings());
    assert!(s.warnings()[0].contains("`databse_url`"));
    assert!(!s.warnings()[0].contains("postgres://typo"));
}

#[test]
fn mask_quoted_hides_every_string() {
    assert_eq!(
        mask_quoted(r#"invalid type: string "hunter2", expected u32 for `port`"#),
        r#"invalid type: string "***", expected u32 for `port`"#
    );
    assert_eq!(mask_quoted(r#"a "b\"c" d "e"#), r#"a "***" d "***""#);
    assert_eq!(mask_quoted("no quotes"), "no quotes");
    // Other values are quoted with backticks, after their kind; names are kept.
    assert_eq!(
        mask_quoted("invalid type: integer `123456`, expected a string for key `sms.pin`"),
        "invalid type: integer `***`, expected a string for key `sms.pin`"
    );
    for kind in ["floating point `1.5`", "boolean `true`", "character `x`"] {
        let masked = mask_quoted(&format!("invalid type: {kind}, expected a string"));
        let shown = kind.split('`').next().unwrap();
        assert_eq!(
            masked,
            format!("invalid type: {shown}`***`, expected a string")
        );
    }
    assert_eq!(
        mask_quoted("unknown variant `sk_live`, expected one of `eur`, `usd`"),
        "unknown variant `***`, expected one of `eur`, `usd`"
    );
    assert_eq!(mask_quoted("missing field `pin`"), "missing field `pin`");
    // A value holding backticks is masked whole.
    assert_eq!(
        mask_quoted("unknown variant `sk`live`, expected one of `a`"),
        "unknown variant `***`, expected one of `a`"
    );
    assert_eq!(
        mask_quoted("invalid type: character ```"),
        "invalid type: character `***`"
    );
}

#[test]
fn section_errors_never_show_numbers_or_variants() {
    let dir = TempDir::new();
    dir.write(
        SETTINGS_FILE,
        "[sms]\npin = 987654\n[pay]\nmode = \"sk_live_mode\"\n",
    );
    let s = load(dir.sources());
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Sms {
        pin: String,
    }
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    enum Mode {
        Test,
        Live,
    }
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Pay {
        mode: Mode,
    }
    let text = s.section::<Sms>("sms").unwrap_err().to_string();
    assert!(!text.contains("987654") && text.contains("`sms`"), "{text}");
    let text = s.section::<Pay>("pay").unwrap_err().to_string();
    assert!(
        !text.contains("sk_live_mode") && text.contains("`pay`"),
        "{text}"
    );
}

// ---------------------------------------------------------------- Debug never leaks

#[test]
fn debug_never_contains_secret_values() {
    let dir = TempDir::new();
    dir.write(
        SETTINGS_FILE,
        "[payments]\napi_key = \"sk_live_section_secret\"\n",
    );
    let s = load(
        dir.sources()
            .var(
                "DATABASE_URL",
                "postgres://app:db_pass_1@db/app?sslmode=require&password=db_pass_2",
            )
            .var("SECRET_KEY", "the_secret_key_value_0123456789abcdef")
            .var("REDIS_URL", "rediss://default:redis_pass@cache:6380/0"),
    );
    for printed in [format!("{s:?}"), format!("{s:#?}")] {
        for secret in [
            "db_pass_1",
            "db_pass_2",
            "the_secret_key_value",
            "redis_pass",
            "sk_live_section_secret",
        ] {
            assert!(!printed.contains(secret), "{secret} leaked: {printed}");
        }
        assert!(printed.contains("Secret(***)"), "{printed}");
        assert!(printed.contains("postgres://app:***@db/app"), "{printed}");
        assert!(
            printed.contains("rediss://default:***@cache:6380/0"),
            "{printed}"
        );
        assert!(printed.contains("payments"), "{printed}");
    }
}

// ---------------------------------------------------------------- deploy checks and validation

fn prod_ready(dir: &TempDir) -> Sources {
    dir.sources()
        .var("RUSTANGO_ENV", "prod")
        .var("SECRET_KEY", STRONG_KEY)
        .var("DATABASE_URL", "postgres://app:pw@db/app")
        .var("RUSTANGO_ALLOWED_HOSTS", "example.com")
}

#[test]
fn deploy_problems_empty_when_ready() {
    let dir = TempDir::new();
    let s = load(prod_ready(&dir));
    assert_eq!(s.deploy_problems(), Vec::<String>::new());
    s.validate().unwrap();
}

#[test]
fn deploy_problems_list_everything_for_dev_defaults() {
    let problems = Settings::default().deploy_problems();
    let all = problems.join("\n");
    assert_eq!(problems.len(), 5, "{all}");
    assert!(problems[0].contains("RUSTANGO_ENV is `dev`"), "{all}");
    assert!(problems[1].contains("SECRET_KEY is not set"), "{all}");
    assert!(problems[2].contains("DATABASE_URL is not set"), "{all}");
    assert!(
        problems[3].starts_with("warning: ") && problems[3].contains("SQLite"),
        "{all}"
    );
    assert!(
        problems[4].starts_with("warning: ") && problems[4].contains("ALLOWED_HOSTS"),
        "{all}"
    );
}

#[test]
fn deploy_problems_flag_short_keys_and_explicit_sqlite() {
    let dir = TempDir::new();
    let s = load(
        prod_ready(&dir)
            .var("SECRET_KEY", "short-secret")
            .var("DATABASE_URL", "SQLite:///var/lib/app.db"),
    );
    let problems = s.deploy_problems();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("12 bytes"), "{problems:?}");
    assert!(!problems[0].contains("short-secret"), "{problems:?}");
    assert!(problems[1].starts_with("warning: "), "{problems:?}");
}

#[test]
fn validate_requires_a_strong_key_in_prod_only() {
    let dir = TempDir::new();
    let prod = |key: Option<&str>| {
        let mut sources = dir.sources().var("RUSTANGO_ENV", "prod");
        if let Some(key) = key {
            sources = sources.var("SECRET_KEY", key);
        }
        load(sources).validate()
    };
    assert!(matches!(
        prod(None).unwrap_err(),
        ConfigError::MissingSecretKey { env: Env::Prod }
    ));
    match prod(Some("too-short")).unwrap_err() {
        ConfigError::ShortSecretKey { len, min, env } => {
            assert_eq!((len, min, env), (9, MIN_SECRET_KEY_LEN, Env::Prod));
        }
        other => panic!("unexpected {other:?}"),
    }
    prod(Some(&"k".repeat(MIN_SECRET_KEY_LEN))).unwrap();

    Settings::defaults(Env::Dev).validate().unwrap();
    Settings::defaults(Env::Test).validate().unwrap();
    let dev = Settings {
        secret_key: Some(Secret::new("short")),
        ..Settings::default()
    };
    dev.validate().unwrap();
}

// ---------------------------------------------------------------- process entry point

#[test]
fn from_env_reads_the_process_without_panicking() {
    // The crate directory has no rustango.toml; the test only reads the environment.
    let result = Settings::from_env();
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn sources_vars_are_a_plain_map() {
    let vars = BTreeMap::from([("RUSTANGO_LOG".to_owned(), "trace".to_owned())]);
    let dir = TempDir::new();
    let s = load(Sources {
        dir: dir.path().to_path_buf(),
        vars,
    });
    assert_eq!(s.log, "trace");
}

#[test]
fn log_flush_ms_from_env_and_bad_values_are_typed_errors() {
    let dir = TempDir::new();
    assert_eq!(
        load(dir.sources()).log_flush_ms,
        crate::DEFAULT_LOG_FLUSH_MS
    );
    let s = load(dir.sources().var("RUSTANGO_LOG_FLUSH_MS", " 0 "));
    assert_eq!(s.log_flush_ms, 0);
    for bad in ["-1", "soon", "1.5"] {
        let err = Settings::load(dir.sources().var("RUSTANGO_LOG_FLUSH_MS", bad)).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { key, .. } if key == "log_flush_ms"),
            "{err}"
        );
    }
    dir.write(SETTINGS_FILE, "log_flush_ms = -5\n");
    let err = Settings::load(dir.sources()).unwrap_err();
    assert!(err.to_string().contains("-5"), "{err}");
    dir.write(SETTINGS_FILE, "log_flush_ms = \"fast\"\n");
    assert!(Settings::load(dir.sources()).is_err());
}
