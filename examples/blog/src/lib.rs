//! The rustango quick-start example as a library: its models, and its migrations
//! compiled into the binary.

pub mod models;

/// The files of `migrations/`, embedded so `cargo run -p blog` (and a deployed binary)
/// can migrate without them beside it.
// ANCHOR: embedded
pub const MIGRATIONS: &[rustango::migrate::EmbeddedFile] =
    rustango::migrate::embed_migrations!("migrations");
// ANCHOR_END: embedded
