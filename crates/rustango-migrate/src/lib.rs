//! Migrations for rustango, as data and as a runner.
//!
//! - A [`SchemaSnapshot`] of every table; the [`Operation`]s that move a database from
//!   one snapshot to the next; the [`autodetect`]or that finds them by comparing the
//!   models with the migrations; the JSON [`Migration`] file that records both.
//! - [`plan`] writes each operation's SQL per dialect (SQLite's table rebuilds
//!   included); the [`Runner`] applies and unapplies a [`MigrationSet`] atomically per
//!   file, under a lock, recording checksums in `rustango_migrations`.
//! - [`make_migrations`], [`make_empty`] and [`add_data_op`] write files; the `manage`
//!   commands of `rustango-cli` are thin wrappers over them.
//!
//! ```
//! use rustango_migrate::{SchemaSnapshot, autodetect};
//! let empty = SchemaSnapshot::default();
//! let detection = autodetect(&empty, &empty).unwrap();
//! assert!(detection.operations.is_empty());
//! ```
#![deny(missing_docs)]

mod app;
mod autodetect;
mod error;
mod file;
mod introspect;
mod make;
mod ops;
mod plan;
mod runner;
mod snapshot;
mod source;
mod state;

pub use app::{App, PostMigrate};
pub use autodetect::{Detection, Rename, RenameHint, autodetect, autodetect_with};
pub use error::Error;
pub use file::{FORMAT_VERSION, Migration};
pub use introspect::{Drift, LiveColumn, LiveIndex, LiveSchema, LiveTable, drift, introspect};
pub use make::{Made, MakeOptions, add_data_op, app_label, make_empty, make_migrations};
pub use ops::Operation;
pub use plan::{PlannedOp, column_def, plan};
pub use runner::{
    APPLIED_TABLE, Direction, MigrationStatus, Progress, Runner, Step, Target, migrate,
};
pub use snapshot::{
    CheckState, ColumnState, ForeignKeyState, IndexState, M2MState, SchemaSnapshot, TableState,
};
pub use source::{EmbeddedFile, MigrationFile, MigrationSet};
