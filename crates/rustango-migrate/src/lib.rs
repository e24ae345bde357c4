//! Migrations for rustango, as data: a [`SchemaSnapshot`] of every table, the
//! [`Operation`]s that move a database from one snapshot to the next, the
//! [`autodetect`]or that finds them by comparing the models with the last snapshot, and
//! the JSON [`Migration`] file that records both.
//!
//! This crate never touches a database; the runner that applies operations builds on
//! it.
//!
//! ```
//! use rustango_migrate::{SchemaSnapshot, autodetect};
//! let empty = SchemaSnapshot::default();
//! let detection = autodetect(&empty, &empty).unwrap();
//! assert!(detection.operations.is_empty());
//! ```
#![deny(missing_docs)]

mod autodetect;
mod error;
mod file;
mod ops;
mod snapshot;

pub use autodetect::{Detection, RenameHint, autodetect};
pub use error::Error;
pub use file::{FORMAT_VERSION, Migration};
pub use ops::Operation;
pub use snapshot::{
    CheckState, ColumnState, ForeignKeyState, IndexState, M2MState, SchemaSnapshot, TableState,
};
