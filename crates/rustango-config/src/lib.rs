//! Typed, layered settings for rustango, and secrets that never print.
//!
//! [`Settings`] gathers what the server, the `manage` commands and the middleware need
//! (environment, database and Redis URLs, secret key, listen address, logging, proxy
//! and host lists) from four layers: built-in defaults, `rustango.toml`,
//! `rustango.<env>.toml`, then environment variables (those of the process, then a
//! [`.env`](dotenv) file in the current directory for what the process does not
//! set). Apps add their own `[sections]`
//! and read them back with [`Settings::section`].
//!
//! Loading never panics: a malformed file, a value of the wrong type or an unknown
//! environment is a [`ConfigError`] that names the key and the file or variable it
//! came from. Secrets are wrapped in [`Secret`], whose `Debug` and `Display` print
//! `Secret(***)` and whose equality runs in constant time; URLs are shown through
//! [`mask_url`]. [`Secrets`] abstracts over where named secrets come from.
//!
//! This crate never performs network I/O and never touches a database; it only reads
//! three files and the environment.
//!
//! ```
//! use rustango_config::{Env, Settings, Sources};
//!
//! #[derive(serde::Deserialize)]
//! struct Shop {
//!     currency: String,
//!     page_size: u32,
//! }
//!
//! // Tests and examples pass variables explicitly instead of mutating the process
//! // environment; `Settings::from_env()` reads the real one.
//! let sources = Sources::new(std::env::temp_dir().join("rustango-config-doc-no-files"))
//!     .var("RUSTANGO_ENV", "production")
//!     .var("DATABASE_URL", "postgres://shop:hunter2@db/shop")
//!     .var("SECRET_KEY", "0123456789abcdef0123456789abcdef")
//!     .var("RUSTANGO_SHOP__CURRENCY", "EUR")
//!     .var("RUSTANGO_SHOP__PAGE_SIZE", "50");
//! let settings = Settings::load(sources)?;
//! settings.validate()?;
//!
//! assert_eq!(settings.env, Env::Prod);
//! let shop: Shop = settings.section("shop")?.expect("set above");
//! assert_eq!((shop.currency.as_str(), shop.page_size), ("EUR", 50));
//!
//! let printed = format!("{settings:?}");
//! assert!(printed.contains("postgres://shop:***@db/shop"));
//! assert!(!printed.contains("hunter2") && !printed.contains("0123456789abcdef"));
//! # Ok::<(), rustango_config::ConfigError>(())
//! ```
#![deny(missing_docs)]

pub mod dotenv;
mod env;
mod error;
mod mask;
mod secret;
mod secrets;
mod settings;
mod sources;

pub use env::{Env, LogFormat};
pub use error::{ConfigError, Origin};
pub use mask::mask_url;
pub use secret::{Secret, constant_time_eq};
pub use secrets::{EnvSecrets, InMemorySecrets, Secrets};
pub use settings::{
    DEFAULT_BIND, DEFAULT_DATABASE_URL, DEFAULT_LOG, DEFAULT_LOG_FLUSH_MS, MIN_SECRET_KEY_LEN,
    SETTINGS_FILE, Settings,
};
pub use sources::{KNOWN_VARS, Sources, VAR_PREFIX};
