//! SQL for rustango, as data: statements ([`Select`], [`Insert`], [`Update`], [`Delete`],
//! DDL) and a [`Dialect`] per backend that writes them with bound parameters.
//!
//! Every value becomes a placeholder; every identifier goes through [`quote_ident`], the
//! only function that quotes names. This crate never performs I/O: the ORM executes what
//! it renders.
//!
//! ```
//! use rustango_core::{Col, Column};
//! use rustango_query::{Postgres, Select, Sqlite};
//! struct Post;
//! const TITLE: Col<Post, String> = Col::new("title");
//!
//! let q = Select::new("posts").column("id").filter(TITLE.contains("50%")).limit(10);
//! let (sql, params) = q.clone().render(&Postgres);
//! assert_eq!(sql, r#"SELECT "id" FROM "posts" WHERE "title" LIKE $1 ESCAPE '!' LIMIT 10"#);
//! assert_eq!(params.len(), 1);
//! let (sql, _) = q.render(&Sqlite);
//! assert_eq!(sql, r#"SELECT "id" FROM "posts" WHERE "title" GLOB ? LIMIT 10"#);
//! ```
#![deny(missing_docs)]

pub mod ddl;
mod dialect;
mod stmt;
mod writer;

pub use dialect::{Dialect, DialectKind, MySql, Postgres, Sqlite, quote_ident};
pub use stmt::{AggFunc, Delete, Insert, Join, OnConflict, OrderBy, Select, SelectItem, Update};
pub use writer::SqlWriter;

/// `SAVEPOINT name`.
pub fn savepoint(dialect: &dyn Dialect, name: &str) -> String {
    let mut s = String::from("SAVEPOINT ");
    quote_ident(dialect, name, &mut s);
    s
}

/// `RELEASE SAVEPOINT name`.
pub fn release_savepoint(dialect: &dyn Dialect, name: &str) -> String {
    let mut s = String::from("RELEASE SAVEPOINT ");
    quote_ident(dialect, name, &mut s);
    s
}

/// `ROLLBACK TO SAVEPOINT name`.
pub fn rollback_to_savepoint(dialect: &dyn Dialect, name: &str) -> String {
    let mut s = String::from("ROLLBACK TO SAVEPOINT ");
    quote_ident(dialect, name, &mut s);
    s
}
