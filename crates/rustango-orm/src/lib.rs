//! rustango's ORM: Django's query sets, saves, relations, transactions and signals over
//! PostgreSQL and SQLite, driven by the schema that `#[derive(Model)]` describes.
//!
//! Statements are built by `rustango-query` and bound, never interpolated; rows come
//! back as [`Value`]s and are turned into your structs by the derived code.
//!
//! ```
//! # async fn demo() -> Result<(), rustango_orm::Error> {
//! let pool = rustango_orm::Pool::connect("sqlite::memory:").await?;
//! assert_eq!(pool.backend(), rustango_orm::DialectKind::Sqlite);
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
//! ```
#![deny(missing_docs)]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("rustango-orm needs a backend: enable the `sqlite` and/or `postgres` feature");

mod ddl;
mod error;
mod exec;
mod fk;
mod m2m;
mod mutate;
mod pool;
mod prefetch;
mod queryset;
pub mod raw;
pub mod signals;
#[cfg(feature = "testing")]
pub mod testing;

pub use ddl::{create_statements, create_tables, drop_tables};
pub use error::Error;
pub use fk::{ForeignKey, ForeignKeyField, KeyType};
pub use m2m::ManyToMany;
pub use mutate::{bulk_insert, delete, restore, save, soft_delete, upsert};
pub use pool::{
    Conn, Executor, Pool, PoolOptions, PoolStats, Target, Tx, schema_transaction, transaction,
};
pub use prefetch::{PrefetchQuerySet, Prefetched};
pub use queryset::{Agg, Fetcher, GroupedQuery, QuerySet, UpdateQuery};
pub use rustango_core::{Auto, Column, Expr, Model, Q, Value};
pub use rustango_query::DialectKind;

/// Support for generated code. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::{
        Error, Executor, ForeignKey, ForeignKeyField, ManyToMany, QuerySet, bulk_insert, delete,
        restore, save, soft_delete, upsert,
    };
    pub use inventory;
    pub use rustango_core::registry::{ModelEntry, decode_erased};
    pub use rustango_core::{
        AdminOptions, AuditOptions, CheckSchema, Col, Error as CoreError, FieldSchema, FieldValue,
        Fieldset, IndexSchema, M2MSchema, Model, ModelSchema, OnDelete, RelatedTree, Relation,
        Value, ValueReader,
    };
}
